"""The field app: a grid manager's phone and every level's inbox, installable, usable offline.

Pages (Jinja templates + plain scripts in api/static/js/field-*.js, Leaflet vendored):

- ``/my`` sends each person to their start: a grid manager to their grid, other staff to
  their inbox, others to the page of their role (``api.pages.landing``);
- ``/grid/{code}`` my grid: boundary, buildings with households, facilities nearby, open
  cases by deadline coloured by state and time left, the month's figures;
- ``/inbox`` the cases the person may act on now (``GET /api/v1/inbox``);
- ``/cases/{id}`` one case: details, photos, history, the steps the person may take now
  (``gis.incidents.next_steps``), each a large button with a note;
- ``/report`` a new report: a tap on the map or the phone's position, category, description,
  photos from the camera.

The old worklist address ``/incidents/grid/{code}`` redirects to ``/grid/{code}``.
``/manifest.webmanifest`` and ``/sw.js`` (the service worker, scope ``/``) make it an app:
the worker keeps the app's shell and the last answers of the pages' reads, and the pages
queue reports and steps made without signal in IndexedDB (``field.js``). Chinese by
default; ``?lang=en`` (kept in the cookie ``gm_lang``) switches to English
(``api.field_text``).
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from api import access
from api.dependencies import GridCodePath, SessionDep
from api.field_text import Lang, keep_lang, lang_of, strings
from api.fields import INT8_MAX
from api.pages import error_page, render_page, script_json
from api.routing import ReadRetryRoute
from gis.areas import queries
from gis.areas.codes import Level, level_of
from gis.errors import NotFoundError
from gis.incidents import worklists
from gis.incidents.catalogue import subclasses, top_level
from gis.incidents.next_steps import next_steps
from gis.incidents.records import incident_for
from gis.incidents.units import list_units
from gis.incidents.workflow import NOTE_REQUIRED
from gis.principal import Principal, Role
from layers.incidents import worklist_style

router = APIRouter(route_class=ReadRetryRoute, include_in_schema=False)

HomeDep = Annotated[Principal, Depends(access.FIELD_HOME)]
FieldDep = Annotated[Principal, Depends(access.FIELD_PAGE)]
ShellDep = Annotated[Principal, Depends(access.APP_SHELL)]
CaseId = Annotated[int, Path(ge=1, le=INT8_MAX, description="The incident's id.")]

SERVICE_WORKER = FilePath(__file__).resolve().parent.parent / "static" / "js" / "field-sw.js"
"""The service worker's source; served at /sw.js, not under /static, for its scope."""
ICONS = (192, 512)
THEME = "#08519c"


def home(principal: Principal) -> str:
    """The start page of ``principal``: a grid manager's (first) grid, other staff and
    mediators their inbox, a planner the coverage map, anyone else the district map."""
    if principal.role is Role.GRID_MANAGER:
        return f"/grid/{principal.areas[0]}" if principal.areas else "/inbox"
    if principal.role in (Role.COMMUNITY, Role.SUBDISTRICT, Role.DISTRICT, Role.ADMIN):
        return "/inbox"
    if principal.role is Role.MEDIATOR:
        return "/inbox"
    if principal.role is Role.PLANNER:
        return "/coverage"
    return "/"


def categories(lang: Lang) -> list[dict[str, Any]]:
    """Top-level categories with their subclasses, for the two-level picker."""

    def name(c: Any) -> str:
        return str(c.code).replace("_", " ") if lang == "en" else str(c.name_zh)

    return [
        {
            "code": top.code,
            "name": name(top),
            "subclasses": [{"code": s.code, "name": name(s)} for s in subclasses(top.code)],
        }
        for top in top_level()
    ]


def category_names(lang: Lang) -> dict[str, str]:
    out: dict[str, str] = {}
    for top in categories(lang):
        out[top["code"]] = top["name"]
        out.update({s["code"]: s["name"] for s in top["subclasses"]})
    return out


def _config(request: Request, principal: Principal, **extra: Any) -> dict[str, Any]:
    lang = lang_of(request)
    style = worklist_style()
    return {
        "api": "/api/v1",
        "lang": lang,
        "t": strings(lang),
        "colours": {k: v["colour"] for k, v in style["states"].items()},
        "openStates": [k for k, v in style["states"].items() if v["open"]],
        "overdueColour": style["overdue"],
        "gridStyle": style["grid"],
        "needsNote": sorted(a.value for a in NOTE_REQUIRED),
        "categories": category_names(lang),
        "home": home(principal),
        "role": principal.role.value if principal.role else None,
        "me": principal.name,
        "owner": principal.ref,
        **extra,
    }


def _page(
    request: Request, template: str, title: str, config: dict[str, Any], **context: Any
) -> HTMLResponse:
    lang = config["lang"]
    html = render_page(
        template,
        request,
        title=title,
        t=config["t"],
        lang=config["t"]["html_lang"],
        other_lang="zh" if lang == "en" else "en",
        config=script_json(config),
        config_role=config["role"],
        **context,
    )
    response = HTMLResponse(html, headers={"Cache-Control": "no-cache"})
    keep_lang(request, response)
    return response


def _not_found(request: Request, principal: Principal, heading: str, message: str) -> HTMLResponse:
    html = error_page(request, 404, heading, message, home(principal))
    return HTMLResponse(html, status_code=404)


@router.get("/my")
def my_page(request: Request, principal: HomeDep) -> RedirectResponse:
    """Where the person starts (see :func:`home`), keeping ``?lang=``."""
    target = home(principal)
    lang = request.query_params.get("lang")
    if lang in ("en", "zh"):
        target += f"?lang={lang}"
    return RedirectResponse(target, status_code=303)


@router.get("/incidents/grid/{grid_code}")
def old_worklist(grid_code: GridCodePath, principal: FieldDep) -> RedirectResponse:
    """The grid manager's worklist moved into the field app."""
    return RedirectResponse(f"/grid/{grid_code}", status_code=301)


@router.get("/grid/{grid_code}", response_class=HTMLResponse)
def grid_page(
    request: Request, session: SessionDep, grid_code: GridCodePath, principal: FieldDep
) -> HTMLResponse:
    """My grid: its data comes from GET /api/v1/worklists/{code}, /buildings, /facilities and
    /grids/{code}/month. Another's grid is a 404 page, as an unknown one."""
    t = strings(lang_of(request))
    try:
        if not principal.covers(grid_code):
            raise NotFoundError(grid_code)
        worklist = worklists.grid_worklist(session, grid_code)
    except NotFoundError:
        return _not_found(request, principal, t["grid_not_found"], f"{grid_code}: {t['not_found']}")
    config = _config(request, principal, view="grid", gridCode=grid_code)
    title = f"{worklist.grid_name} · {t['app_name']}"
    return _page(request, "field_list.html", title, config, grid=worklist, view="grid")


@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(request: Request, principal: FieldDep) -> HTMLResponse:
    """The cases the person may act on now, soonest deadline first (GET /api/v1/inbox)."""
    config = _config(request, principal, view="inbox")
    t = config["t"]
    return _page(
        request, "field_list.html", f"{t['inbox_title']} · {t['app_name']}", config, view="inbox"
    )


@router.get("/cases/{incident_id}", response_class=HTMLResponse)
def case_page(
    request: Request, session: SessionDep, incident_id: CaseId, principal: FieldDep
) -> HTMLResponse:
    """One case; what it shows comes from the API (GET /api/v1/incidents/{id}, its
    history and photos), the buttons from ``gis.incidents.next_steps``."""
    t = strings(lang_of(request))
    try:
        seen = incident_for(session, incident_id, principal)
    except NotFoundError:
        return _not_found(request, principal, f"{t['case']} #{incident_id}", t["not_found"])
    record = seen.record
    allowed = next_steps(session, record, principal)
    handlers: list[dict[str, Any]] = []
    if {"dispatch", "redispatch"} & set(allowed) and record.grid_code is not None:
        worklist = worklists.grid_worklist(session, record.grid_code)
        handlers = [
            {"id": h.id, "name": h.name, "role": h.role, "primary": h.primary_manager}
            for h in worklist.handlers
        ]
    units: list[dict[str, Any]] = []
    if "hand_over" in allowed:
        units = [
            {"id": u.id, "name": u.name_zh, "head": u.head_name}
            for u in list_units(session, area=record.grid_code, category=record.category)
            if u.head_staff_id is not None and u.covers(record.grid_code)
        ]
        if not units:
            allowed = [a for a in allowed if a != "hand_over"]  # no unit takes it: no button
    config = _config(
        request,
        principal,
        view="case",
        caseId=incident_id,
        allowed=allowed,
        handlers=handlers,
        units=units,
        handlerId=record.handler_staff_id,
    )
    title = f"#{incident_id} · {t['app_name']}"
    return _page(request, "field_case.html", title, config, case_id=incident_id)


def _outlines(session: Any, principal: Principal) -> list[dict[str, Any]]:
    """GeoJSON geometries of the areas ``principal`` covers (grids of a grid manager)."""
    codes = list(principal.areas or ())
    grids = [c for c in codes if len(c) == 15]
    out = list(queries.current_grid_geometries(session, grids).values()) if grids else []
    for code in codes:
        if len(code) == 15:
            continue
        level = level_of(code)
        parent = None if level is Level.DISTRICT else code[: {9: 6, 12: 9}[len(code)]]
        page = queries.list_areas(session, level=level.value, parent_code=parent, limit=1000)
        out.extend(f["geometry"] for f in page.features if f["properties"]["code"] == code)
    if not codes:  # the whole district
        page = queries.list_areas(session, level="district", limit=10)
        out.extend(f["geometry"] for f in page.features)
    return out


@router.get("/report", response_class=HTMLResponse)
def report_page(request: Request, session: SessionDep, principal: FieldDep) -> HTMLResponse:
    """A new report: a tap on the map or the phone's position (WGS84), category,
    description, photos; posted to POST /api/v1/incidents with an Idempotency-Key, queued
    when there is no signal."""
    lang = lang_of(request)
    config = _config(
        request,
        principal,
        view="report",
        tree=categories(lang),
        outlines=_outlines(session, principal),
    )
    t = config["t"]
    return _page(request, "field_report.html", f"{t['report_title']} · {t['app_name']}", config)


@router.get("/manifest.webmanifest")
def manifest(request: Request, _shell: ShellDep) -> JSONResponse:
    """The web app manifest: the app installs to the home screen and opens at /my."""
    t = strings(lang_of(request))
    body = {
        "name": f"{t['app_name']} · gridmap",
        "short_name": t["app_name"],
        "start_url": "/my",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME,
        "lang": t["html_lang"],
        "icons": [
            {"src": f"/static/icons/icon-{n}.png", "sizes": f"{n}x{n}", "type": "image/png"}
            for n in ICONS
        ]
        + [
            {
                "src": "/static/icons/icon-maskable-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            }
        ],
    }
    return JSONResponse(body, media_type="application/manifest+json")


@router.get("/sw.js")
def service_worker(_shell: ShellDep) -> Response:
    """The service worker, served from the root so that its scope is the whole app."""
    script = SERVICE_WORKER.read_text(encoding="utf-8")
    return Response(
        script,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )
