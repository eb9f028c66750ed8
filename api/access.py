"""Who may call what: every route declares a ``Rule``, and the rule finds who is calling.

A caller proves who they are with one of

- a bearer token from ``POST /api/v1/auth/token`` (``Authorization: Bearer …``);
- the browser's login cookie (``gridmap_session``), and on a state-changing
  request the CSRF token of the page (``X-CSRF-Token`` header; the logout form
  sends it as the field ``csrf_token``), which another site's page cannot know;
- an API key of another system (``X-API-Key`` header, ``Authorization: Bearer
  gm_…``, or Open311's ``api_key`` parameter).

A route's rule names the roles (people) and scopes (systems) that may use it
and how its answers are narrowed to the caller (``Narrowing``). With no
credentials the answer is 401, unless the rule is public or names a layer
that ``GRIDMAP_PUBLIC_LAYERS`` opens to anonymous reads; with credentials of
the wrong role or scope it is 403. What a principal then sees of each object
(their area, personal data masked or not) is decided by ``gis`` from the
principal the rule hands the handler.

``tests/api/test_access.py`` walks the app's route table and fails on a route
without a rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.dependencies import SessionDep, get_settings
from api.routing import SAFE_METHODS
from gis.accounts import tokens
from gis.accounts.keys import KEY_PREFIX, key_principal
from gis.accounts.logins import LoginKind, login_principal
from gis.accounts.remembered import RememberedCredentials
from gis.errors import ForbiddenError, NotAuthenticatedError
from gis.features.collections import Access
from gis.lang import Texts
from gis.people import visibility as people_visibility
from gis.principal import ANONYMOUS, Principal, Role

COOKIE = "gridmap_session"
"""The browser login's cookie (HttpOnly, SameSite=Lax)."""
CSRF_HEADER = "X-CSRF-Token"
KEY_HEADER = "X-API-Key"
TOKEN_URL = "/api/v1/auth/token"

_bearer_doc = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    description="A login: POST username and password to /api/v1/auth/token.",
)
_key_doc = APIKeyHeader(
    name=KEY_HEADER, auto_error=False, description="Another system's API key (gm_…)."
)
"""Declared for the OpenAPI document (and /docs' Authorize button); ``identify`` reads the
credentials itself, the browser cookie and Open311's api_key included."""


class Narrowing(StrEnum):
    """How a route's answers depend on who asks."""

    NONE = "none"
    """No data of any area: health, documentation, catalogues, login."""
    DISTRICT = "district"
    """The same non-personal data of the whole district for everyone allowed (map layers)."""
    AREA = "area"
    """Lists hold only what the caller's areas hold; an object outside them is 404; personal
    data in full only where the caller is responsible, masked elsewhere."""
    MASKED = "masked"
    """The whole district for everyone allowed, personal data masked (snapped, hidden)
    except where the caller is responsible for it."""
    OWN = "own"
    """Only the caller's own record (who am I, my logins)."""


STAFF = frozenset({Role.ADMIN, Role.DISTRICT, Role.SUBDISTRICT, Role.COMMUNITY, Role.GRID_MANAGER})
"""People who handle cases in an area."""
EVERYONE = frozenset(Role)


@dataclass(frozen=True, eq=False)
class Rule:
    """Who may use a route, and how its answers are narrowed to them.

    ``roles`` people allowed; ``scopes`` systems allowed (any one of them);
    ``narrowing`` how answers depend on the caller; ``public`` open to anyone
    (no data of any area behind it); ``public_layer`` the layer name that
    ``GRIDMAP_PUBLIC_LAYERS`` may open to anonymous reads; ``page`` an HTML page
    (an anonymous visitor is sent to the login page instead of a 401); ``remember``
    who holds a credential is remembered briefly (``gis.accounts.remembered``, vector
    tiles: a cached tile then costs no query).
    """

    name: str
    roles: frozenset[Role] = frozenset()
    scopes: frozenset[str] = frozenset()
    narrowing: Narrowing = Narrowing.NONE
    public: bool = False
    public_layer: str | None = None
    page: bool = False
    remember: bool = False
    description: str = field(default="", compare=False)

    async def __call__(
        self,
        request: Request,
        session: SessionDep,
        _bearer: Annotated[str | None, Depends(_bearer_doc)] = None,
        _key: Annotated[str | None, Depends(_key_doc)] = None,
    ) -> Principal:
        remembered = _remembered(request) if self.remember else None
        principal = await identify(request, session, remembered)
        if principal is None:
            layer_open = (
                self.public_layer is not None
                and request.method in SAFE_METHODS
                and self.public_layer in get_settings(request).public_layer_names
            )
            if layer_open:
                return ANONYMOUS
            raise LoginRequiredError(
                "log in first: POST /api/v1/auth/token for a bearer token, or send an API key",
                page=self.page,
                zh="请先登录：POST /api/v1/auth/token 取得令牌，或发送 API 密钥",
            )
        self.check(principal)
        if request.method not in SAFE_METHODS and request.state.auth_kind == "cookie":
            await _check_csrf(request)
        return principal

    def allows(self, principal: Principal) -> bool:
        if principal.kind == "system":
            return bool(self.scopes & principal.scopes)
        return principal.role in self.roles

    def check(self, principal: Principal) -> None:
        if self.allows(principal):
            return
        if principal.kind == "system":
            wanted = ", ".join(sorted(self.scopes)) or "none: people only"
            raise ForbiddenError(
                f"this key may not do this (scopes allowed here: {wanted}); ask for a key "
                "with one of them",
                zh=f"此密钥无权执行此操作（此处允许的权限：{wanted}）；请申请具有其中之一的密钥",
            )
        raise ForbiddenError(
            f"the {principal.role} role may not use this",
            zh=f"无权访问：{principal.role} 角色不能使用此功能",
        )


class LoginRequiredError(NotAuthenticatedError):
    """No credentials; a page sends the browser to the login page instead."""

    def __init__(self, message: str, *, page: bool = False, zh: str | None = None) -> None:
        super().__init__(message, zh=zh)
        self.page = page


@dataclass(frozen=True, eq=False)
class PublicRule(Rule):
    """A rule open to anyone: no session, no credentials read, nothing looked up.

    Its own ``__call__`` (FastAPI reads a dependency's signature) takes neither a
    database session nor the credential schemes, so that /healthz and the login
    page cost no more than before accounts existed.
    """

    async def __call__(self) -> Principal:  # type: ignore[override]
        return ANONYMOUS


def rule(
    name: str,
    *,
    roles: Iterable[Role] = (),
    scopes: Iterable[str] = (),
    narrowing: Narrowing = Narrowing.NONE,
    public: bool = False,
    public_layer: str | None = None,
    page: bool = False,
    remember: bool = False,
) -> Rule:
    return (PublicRule if public else Rule)(
        name,
        roles=frozenset(roles),
        scopes=frozenset(scopes),
        narrowing=narrowing,
        public=public,
        public_layer=public_layer,
        page=page,
        remember=remember,
    )


def _remembered(request: Request) -> RememberedCredentials | None:
    service = getattr(request.app.state, "tiles", None)
    return None if service is None else service.credentials


async def identify(
    request: Request, session: Session, remembered: RememberedCredentials | None = None
) -> Principal | None:
    """Who sent ``request`` (cached on it), None without credentials.

    Credentials that are there but not valid (an expired login, a revoked key) are
    a 401 saying so, never taken for anonymous. With ``remembered``, a credential
    looked up moments ago is taken from there without a query (and one looked up
    now is remembered), until a notification says logins or keys changed.
    """
    if hasattr(request.state, "auth_kind"):
        cached: Principal | None = request.state.principal
        return cached
    kind, secret = credentials(request)
    principal: Principal | None = None
    if kind is None:
        request.state.auth_kind = None
        request.state.principal = None
        return None
    generation = remembered.generation() if remembered is not None else 0
    principal = remembered.lookup(kind, secret) if remembered is not None else None
    if principal is not None:
        problem = Texts("", "")
    elif kind == "key":
        principal = await run_in_threadpool(key_principal, session, secret)
        problem = Texts(
            "此 API 密钥不存在、已过期或已吊销：请申请新的密钥",
            "this API key is unknown, expired or revoked: ask for a new one",
        )
    else:
        login_kind: LoginKind = "cookie" if kind == "cookie" else "bearer"
        principal = await run_in_threadpool(login_principal, session, secret, login_kind)
        problem = Texts(
            "登录已过期或已结束，请重新登录", "your login has expired or ended: log in again"
        )
    if principal is None:
        raise LoginRequiredError(problem.en, page=kind == "cookie", zh=problem.zh)
    if remembered is not None:
        remembered.remember(kind, secret, principal, generation)
    request.state.auth_kind = kind
    request.state.auth_secret = secret
    request.state.principal = principal
    return principal


def credentials(request: Request) -> tuple[str | None, str]:
    """The kind of credential a request carries (``key``, ``bearer``, ``cookie``; None: none)
    and its secret."""
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return ("key" if value.startswith(KEY_PREFIX) else "bearer"), value
    key = request.headers.get(KEY_HEADER)
    if key:
        return "key", key.strip()
    query_key = request.query_params.get("api_key")
    if query_key and request.url.path.startswith("/open311/"):
        return "key", query_key.strip()
    form_key = getattr(request.state, "form_api_key", None)
    if form_key:
        return "key", form_key
    cookie = request.cookies.get(COOKIE)
    if cookie:
        return "cookie", cookie
    return None, ""


class CsrfRefusedError(ForbiddenError):
    """The page's CSRF token is not the current login's: the page was served to another
    login (its person logged out, or someone else logged in on the same phone).

    Its own code (``CsrfRefused``) lets the field app's outbox keep what it was sending
    for its author instead of marking it failed.
    """


def csrf_matches(sent: str | None, cookie: str) -> bool:
    """Whether ``sent`` is the CSRF token of the browser login ``cookie``."""
    return bool(sent) and tokens.same(sent or "", tokens.csrf_token(cookie))


async def _check_csrf(request: Request) -> None:
    """A state-changing request made with the login cookie carries the page's CSRF token
    (the ``X-CSRF-Token`` header the pages' scripts send)."""
    if not csrf_matches(request.headers.get(CSRF_HEADER), request.state.auth_secret):
        raise CsrfRefusedError(
            "the page's CSRF token is missing or wrong: reload the page and try again",
            zh="CSRF 校验失败：请刷新页面后重试",
        )


def csrf_for(request: Request) -> str | None:
    """The CSRF token a page served to a cookie login embeds (None for other callers)."""
    if getattr(request.state, "auth_kind", None) != "cookie":
        return None
    return tokens.csrf_token(request.state.auth_secret)


def clear_login_cookie(response: Response, request: Request) -> None:
    """Tell the browser to forget the login cookie (the attributes it was set with)."""
    response.delete_cookie(
        COOKIE,
        path="/",
        secure=request.app.state.settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def principal_of(request: Request) -> Principal:
    """The principal the route's rule found (for code outside the handler's arguments)."""
    found: Principal | None = getattr(request.state, "principal", None)
    return found or ANONYMOUS


# ---- the rules, one per kind of route -------------------------------------------------

PUBLIC = rule("public", public=True)
"""Health, documentation, the OpenAPI document, the login page, catalogues of codes."""

SIGNED_IN = rule(
    "signed_in",
    roles=EVERYONE,
    scopes={"incidents:read", "incidents:write", "features:read", "open311", "devices:write"},
    narrowing=Narrowing.OWN,
)
"""Anyone with valid credentials, about themselves (GET /api/v1/me)."""

MAP_LAYER = rule(
    "map_layer",
    roles=EVERYONE,
    scopes={"features:read"},
    narrowing=Narrowing.DISTRICT,
    public_layer="map",
)
"""Areas, grids, buildings, facilities, coverage: no personal data."""

FACILITY_LAYER = rule(
    "facility_layer",
    roles=EVERYONE,
    scopes={"features:read"},
    narrowing=Narrowing.DISTRICT,
    public_layer="facilities",
)
"""The facility list and one facility: a public facility map may open it."""

GRID_DETAIL = rule(
    "grid_detail",
    roles=EVERYONE,
    scopes={"features:read"},
    narrowing=Narrowing.MASKED,
)
"""One grid with its staff: phone numbers only for those responsible for the grid."""

FACILITY_EDIT = rule(
    "facility_edit", roles={Role.ADMIN, Role.PLANNER, Role.DISTRICT}, narrowing=Narrowing.DISTRICT
)
"""Creating, moving, changing and closing facilities."""

ANALYSIS = rule(
    "analysis",
    roles=EVERYONE,
    scopes={"features:read"},
    narrowing=Narrowing.DISTRICT,
    public_layer="coverage",
)
"""Coverage figures, circles, blind spots: aggregates without personal data."""

WHAT_IF = rule(
    "what_if",
    roles={Role.ADMIN, Role.PLANNER, Role.DISTRICT, Role.SUBDISTRICT, Role.COMMUNITY},
    narrowing=Narrowing.DISTRICT,
)
"""Trying facilities that do not exist yet: planning work."""

INCIDENT_READ = rule(
    "incident_read",
    roles=EVERYONE,
    scopes={"incidents:read"},
    narrowing=Narrowing.AREA,
)
"""Incident lists and records: narrowed to the caller's areas (planner and district-wide
roles see every case, masked where they are not responsible)."""

INCIDENT_REPORT = rule(
    "incident_report",
    roles=STAFF | {Role.MEDIATOR},
    scopes={"incidents:write"},
    narrowing=Narrowing.AREA,
)
"""Filing a new report."""

INCIDENT_ACT = rule(
    "incident_act",
    roles=STAFF | {Role.MEDIATOR},
    narrowing=Narrowing.AREA,
)
"""Steps of the closed loop and merges: people only; which step each role may take where is
``gis.incidents``' rule."""

INCIDENT_STATISTICS = rule(
    "incident_statistics",
    roles=EVERYONE,
    scopes={"incidents:read"},
    narrowing=Narrowing.AREA,
)
"""Counts and rates: only for areas the caller covers."""

WORKLIST = rule(
    "worklist",
    roles=STAFF | {Role.MEDIATOR},
    narrowing=Narrowing.AREA,
)
"""A grid's worklist: only the grids the caller covers."""

OPEN311_READ = rule(
    "open311_read",
    roles=EVERYONE,
    scopes={"open311", "incidents:read"},
    narrowing=Narrowing.AREA,
)
"""Open311 service requests of the caller's areas: personal categories never listed, and
shown masked by id to all but those responsible."""

OPEN311_POST = rule("open311_post", scopes={"open311"}, narrowing=Narrowing.MASKED)
"""Filing an Open311 service request: a key with the ``open311`` scope (the spec's api_key)."""

ADMIN = rule("admin", roles={Role.ADMIN}, narrowing=Narrowing.DISTRICT)
"""The audit trail and accounts."""

DISTRICT_PAGE = rule(
    "district_page", roles=EVERYONE, narrowing=Narrowing.DISTRICT, public_layer="map", page=True
)
"""The district map and the coverage page."""

NORMS_PAGE = rule(
    "norms_page",
    roles={Role.ADMIN, Role.PLANNER, Role.DISTRICT, Role.SUBDISTRICT, Role.COMMUNITY},
    narrowing=Narrowing.DISTRICT,
    page=True,
)
"""The norms page (floor area, staff, funds due per community): for those who plan and fund
communities; a grid manager or mediator is shown a refusal, an anonymous visitor the login."""

INCIDENT_PAGE = rule("incident_page", roles=EVERYONE, narrowing=Narrowing.AREA, page=True)
"""The incident map and the grid picker."""

# ---- issue 11, loop: every level's inbox and a grid's month --------------------------

INBOX = rule("inbox", roles=STAFF | {Role.MEDIATOR}, narrowing=Narrowing.AREA)
"""A person's inbox: the cases of their areas they act on first (``gis.incidents.inbox``)."""

GRID_MONTH = rule("grid_month", roles=STAFF | {Role.MEDIATOR}, narrowing=Narrowing.AREA)
"""A grid's month figures beside its community's average: those who may see its worklist
(only the grids the caller covers)."""

# ---- issue 14: mediation units (交办) ----------------------------------------------------

UNITS_READ = rule("units_read", roles=EVERYONE, narrowing=Narrowing.DISTRICT)
"""Mediation units and their heads' names (no phone numbers): every person, to hand cases
over to them and to see who was handed what; no keys."""

UNITS_WRITE = rule("units_write", roles={Role.ADMIN, Role.DISTRICT}, narrowing=Narrowing.DISTRICT)
"""Creating and changing mediation units: admin and district staff (the district's
mediation centre sets up its responsible units)."""

# ---- basemap (issue 11) ----------------------------------------------------------------

BASEMAP = rule(
    "basemap",
    roles=EVERYONE,
    scopes={"features:read"},
    narrowing=Narrowing.DISTRICT,
    public_layer="map",
)
"""The base map's configuration, streets and place names: no personal data, for anyone
logged in (and anonymous readers where ``GRIDMAP_PUBLIC_LAYERS`` opens the map)."""

SEARCH = rule(
    "search",
    roles=EVERYONE,
    scopes={"features:read", "incidents:read"},
    narrowing=Narrowing.AREA,
)
"""Search: places for everyone logged in; cases only within the caller's reach (a key
finds cases only with ``incidents:read``), as ``gis.incidents.visibility`` decides."""

BASEMAP_PAGE = rule(
    "basemap_page", roles=EVERYONE, narrowing=Narrowing.DISTRICT, public_layer="map", page=True
)
"""The base map page with the search box (/basemap)."""

# ---- photos (issue 11) ------------------------------------------------------------------

PHOTO_ADD = rule("photo_add", roles=STAFF | {Role.MEDIATOR}, narrowing=Narrowing.AREA)
"""Adding evidence photos to a case: people who handle cases; which stage each may add on
which case is ``gis.incidents.permissions.check_photo``."""

PHOTO_READ = rule("photo_read", roles=STAFF | {Role.MEDIATOR}, narrowing=Narrowing.AREA)
"""A case's photos and the images: only those responsible for the case
(``gis.incidents.visibility.sees_photos``; 404 elsewhere). Planners and keys never: a photo
shows faces, number plates and where the photographer stood."""

# ---- planner (issue 11): exports and printed maps of the coverage map ------------------

COVERAGE_EXPORT = rule(
    "coverage_export",
    roles={Role.ADMIN, Role.PLANNER, Role.DISTRICT, Role.SUBDISTRICT, Role.COMMUNITY},
    scopes={"features:read"},
    narrowing=Narrowing.DISTRICT,
)
"""Taking the coverage of a box away (GeoPackage, CSV, a printed PNG/PDF map): buildings
with addresses and households in bulk, no personal data, for the staff who plan."""

# ---- field app (issue 11) ----------------------------------------------------------------

FIELD_HOME = rule("field_home", roles=EVERYONE, narrowing=Narrowing.OWN, page=True)
"""/my: sends each person on to their own start page (a grid manager's grid, else the inbox)."""

FIELD_PAGE = rule("field_page", roles=STAFF | {Role.MEDIATOR}, narrowing=Narrowing.AREA, page=True)
"""The field app's pages: my grid, the inbox, a case, a new report; each reads only what the
API gives the person (the grid page and a case out of their reach are 404 pages)."""

APP_SHELL = rule("app_shell", public=True)
"""The web app manifest and the service worker: code and icons, no data of any area."""

# ---- OGC API - Features (issue 12, features) --------------------------------------------

OGC_FEATURES = rule(
    "ogc_features",
    roles=EVERYONE,
    scopes={"features:read"},
    narrowing=Narrowing.AREA,
)
"""/ogc/collections and their items and queryables: any person, keys with ``features:read``.
Each collection then follows the rule of its REST layer (:func:`collection_rule`): a key
reads incidents only with ``incidents:read`` too, and they come narrowed and masked as
GET /api/v1/incidents answers them."""


# ---- people served (issue 14) -----------------------------------------------------------

PEOPLE_READ = rule("people_read", roles=people_visibility.LOOKS_AFTER, narrowing=Narrowing.AREA)
"""The registry of people served, a list or one person: only the roles that look after people
(admin, community, grid manager); within them ``gis.people.visibility`` shows the people
of the caller's areas and those they are the responsible worker of, 404 for anyone else.
Every answer showing a person is audited (``personal.read``)."""

PEOPLE_WRITE = rule("people_write", roles=people_visibility.LOOKS_AFTER, narrowing=Narrowing.AREA)
"""Registering a person (admin, the grid's community or grid manager:
``visibility.may_register``) and changing one (those who see them)."""

PEOPLE_REMOVE = rule("people_remove", roles={Role.ADMIN, Role.COMMUNITY}, narrowing=Narrowing.AREA)
"""Removing a person on request: admin and the person's community (``visibility.may_remove``)."""

PEOPLE_COUNTS = rule(
    "people_counts", roles=EVERYONE, scopes={"features:read"}, narrowing=Narrowing.AREA
)
"""People served per grid or community and category, for the areas the caller covers: every
staff role (district, subdistrict and planner plan with these) and keys with
``features:read``; no names, no ids."""


# ---- devices, geofences, emergency calls (issue 14) ----------------------------------------

DEVICES_WRITE = rule("devices_write", scopes={"devices:write"}, narrowing=Narrowing.AREA)
"""Position batches and emergency calls: the device platform's key (``devices:write``),
for the devices of its area only. No person sends these: a phone's login is not a device."""

CARE_WORKERS = rule("care_workers", roles={Role.ADMIN, Role.COMMUNITY}, narrowing=Narrowing.AREA)
"""Home-care workers (names, phones, positions): admin and the community that runs the
service (``gis.care.workers.sees``); audited as ``personal.read``."""

CARE_CALLS = rule(
    "care_calls",
    roles=people_visibility.LOOKS_AFTER,
    scopes={"devices:write"},
    narrowing=Narrowing.AREA,
)
"""An emergency call, its arrival and its end: those who see the person (admin, community,
grid manager of the grid, the responsible worker) and the device platform's key."""
# ---- residents who decide (issue 14) -----------------------------------------------------

PARTICIPATION_READ = rule(
    "participation_read", roles=EVERYONE, scopes={"features:read"}, narrowing=Narrowing.DISTRICT
)
"""Councils, micro-projects, 由民做主 items and their statistics: every person logged in (planners,
district and subdistrict staff plan with them) and keys with ``features:read``; the records
carry no personal data."""

PARTICIPATION_WRITE = rule(
    "participation_write", roles={Role.ADMIN, Role.COMMUNITY}, narrowing=Narrowing.AREA
)
"""Recording, changing and advancing items and councils: admin, and a community's accounts
for their own community (``gis.participation.items.may_write``; 403 elsewhere)."""


def collection_rule(access: Access) -> Rule:
    """The REST layer's rule an OGC collection of ``access`` follows besides OGC_FEATURES."""
    return {
        Access.MAP: MAP_LAYER,
        Access.FACILITIES: FACILITY_LAYER,
        Access.INCIDENTS: INCIDENT_READ,
        Access.ANALYSIS: ANALYSIS,
        Access.PARTICIPATION: PARTICIPATION_READ,
    }[access]


# ---- vector tiles (issue 12, tiles) ------------------------------------------------------

TILES = rule(
    "tiles",
    roles=EVERYONE,
    scopes={"features:read"},
    narrowing=Narrowing.MASKED,
    public_layer="map",
    remember=True,
)
"""Vector tiles, their tile sets, TileJSON and styles: anyone logged in, keys with
``features:read``. Each layer further follows its REST layer's rule (``TILE_LAYER_RULES``):
incidents need what ``INCIDENT_READ`` needs (a person, or a key with ``incidents:read`` too)
and come narrowed and masked as the incident list; the dataset tiles leave out a layer the
caller may not read. Who holds a credential is remembered briefly
(``gis.accounts.remembered``) so a cached tile costs no query."""

TILE_MATRIX_SETS = rule("tile_matrix_sets", public=True)
"""The definitions of the tile grids (WebMercatorQuad): no data of any area."""


TILE_LAYER_RULES: dict[str, Rule] = {
    "grids": MAP_LAYER,
    "buildings": MAP_LAYER,
    "facilities": FACILITY_LAYER,
    "incidents": INCIDENT_READ,
    "coverage-buildings": ANALYSIS,
    "coverage-grids": ANALYSIS,
}
"""The REST rule each kind of tile layer follows besides ``TILES`` (``TileLayer.kind``)."""


def may_read_layer(principal: Principal, kind: str, public_layers: frozenset[str]) -> bool:
    """Whether ``principal`` may see a tile layer of ``kind``: as its REST layer's rule
    says (an anonymous reader only where ``GRIDMAP_PUBLIC_LAYERS`` opens that layer)."""
    layer_rule = TILE_LAYER_RULES[kind]
    if principal is ANONYMOUS:
        return layer_rule.public_layer is not None and layer_rule.public_layer in public_layers
    return layer_rule.allows(principal)


def check_layer(principal: Principal, kind: str, public_layers: frozenset[str]) -> None:
    """401 for an anonymous reader of a layer not open to them, 403 for a caller its REST
    rule refuses (a key without ``incidents:read`` asking for incidents)."""
    if may_read_layer(principal, kind, public_layers):
        return
    if principal is ANONYMOUS:
        raise LoginRequiredError(
            "log in first: this layer is not public; POST /api/v1/auth/token for a bearer "
            "token, or send an API key",
            zh="请先登录：此图层不公开；POST /api/v1/auth/token 取得令牌，或发送 API 密钥",
        )
    TILE_LAYER_RULES[kind].check(principal)
