"""The role × route matrix: every route of the app, requested as every kind of caller.

For each role (with an area in the small district of ``tests/api/conftest.py``),
an API key of each scope and an anonymous visitor, every route is requested
with a valid request, and the answer must be what the route's ``Rule`` says:
401 without credentials (a page may send the browser to the login page
instead), 403 for a role or scope the rule does not name, neither where it
does. Lists are narrowed: an area-bound caller's incident list holds only
cases of their areas.

``docs/access.md`` is the same matrix written from the rules alone; it is
checked here, and rewritten with::

    python -m tests.api.test_access_matrix > docs/access.md
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.access import Rule
from gis.db.models import Facility, Grid, Incident, Staff
from gis.principal import Role
from tests.accounts import PASSWORD, key_headers, login_headers, make_account
from tests.api.conftest import SmallDistrict
from tests.api.test_access import all_routes, rules_of
from tests.photo_files import png

DOC = Path(__file__).resolve().parents[2] / "docs" / "access.md"
REGENERATE = "python -m tests.api.test_access_matrix > docs/access.md"
WEST_GRID = "370705001001001"
SCOPES = ("incidents:read", "incidents:write", "features:read", "open311", "devices:write")


@dataclass(frozen=True)
class Caller:
    """One column of the matrix: a role with its area, a key with one scope, or nobody."""

    name: str
    role: Role | None = None
    scope: str | None = None
    area: str | None = None

    def allowed(self, rule: Rule) -> bool:
        if rule.public:
            return True
        if self.role is not None:
            return self.role in rule.roles
        if self.scope is not None:
            return self.scope in rule.scopes
        return False

    def headers(self, db: Session) -> dict[str, str]:
        if self.scope is not None:
            return key_headers(db, f"key-{self.scope}", (self.scope,))
        if self.role is None:
            return {}
        if self.role is Role.GRID_MANAGER:
            staff = db.execute(select(Staff.id).where(Staff.name == "张伟")).scalar_one()
            return login_headers(db, "matrix-grid", "grid_manager", staff_id=staff)
        return login_headers(db, f"matrix-{self.role}", self.role, area_code=self.area)


CALLERS: tuple[Caller, ...] = (
    Caller("admin", Role.ADMIN),
    Caller("district", Role.DISTRICT, area="370705"),
    Caller("subdistrict", Role.SUBDISTRICT, area="370705001"),
    Caller("community", Role.COMMUNITY, area="370705001001"),
    Caller("grid_manager", Role.GRID_MANAGER, area=WEST_GRID),
    Caller("mediator", Role.MEDIATOR, area="370705001001"),
    Caller("planner", Role.PLANNER),
    *(Caller(f"key {scope}", scope=scope) for scope in SCOPES),
    Caller("anonymous"),
)


def route_rules() -> list[tuple[str, str, Rule]]:
    """(method, path, rule) of every route, in the app's order, logout last (it ends the
    caller's login)."""
    rows = []
    for route in all_routes():
        if not isinstance(route, APIRoute):
            continue
        [rule] = rules_of(route)
        for method in sorted(route.methods):
            rows.append((method, route.path, rule))
    return sorted(rows, key=lambda row: row[1] == "/api/v1/auth/logout")


# ---- the matrix from the rules (docs/access.md) ----------------------------------------


def counts() -> dict[str, tuple[int, int]]:
    """Per caller: routes allowed and refused by the rules."""
    rows = route_rules()
    return {
        c.name: (
            sum(c.allowed(rule) for _, _, rule in rows),
            sum(not c.allowed(rule) for _, _, rule in rows),
        )
        for c in CALLERS
    }


def markdown() -> str:
    """docs/access.md: who may call each route, generated from the rules."""
    rows = route_rules()
    names = [c.name for c in CALLERS]
    lines = [
        "# Who may call what",
        "",
        "Generated from the rules of `api/access.py` by `tests/api/test_access_matrix.py`",
        f"(regenerate: `{REGENERATE}`); the test fails when this file and the rules",
        "disagree, and requests every route as every caller to check that the app",
        "answers as written here: ✓ allowed, ✗ refused (403 with credentials, 401",
        "without), · public. Roles have an area; what an allowed caller then sees",
        "(their area, personal data in full or masked) is `gis/incidents/visibility.py`",
        "(people served: `gis/people/visibility.py`) and the rule's narrowing.",
        "",
        "| route | rule | narrowing | " + " | ".join(names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for method, path, rule in rows:
        marks = ["·" if rule.public else ("✓" if c.allowed(rule) else "✗") for c in CALLERS]
        route = f"`{method} {path}`"
        lines.append(f"| {route} | {rule.name} | {rule.narrowing} | " + " | ".join(marks) + " |")
    lines += ["", "## Routes allowed and refused per caller", "", "| caller | allowed | refused |"]
    lines.append("|---|---|---|")
    for name, (allowed, refused) in counts().items():
        lines.append(f"| {name} | {allowed} | {refused} |")
    return "\n".join(lines) + "\n"


def test_docs_access_md_is_the_matrix_of_the_rules() -> None:
    written = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert written == markdown(), (
        f"docs/access.md and the rules of api/access.py disagree; regenerate it: {REGENERATE}"
    )


# ---- the matrix as the app answers it ---------------------------------------------------


@dataclass(frozen=True)
class Ids:
    incident: int
    facility: int


PATH_VALUES: dict[str, Callable[[Ids], str]] = {
    "code": lambda ids: WEST_GRID,
    "grid_code": lambda ids: WEST_GRID,
    "incident_id": lambda ids: str(ids.incident),
    "facility_id": lambda ids: str(ids.facility),
    "service_request_id": lambda ids: str(ids.incident),
    "service_code": lambda ids: "exposed_garbage",
    "format": lambda ids: "json",
    "photo_id": lambda ids: "99999999",
    "cid": lambda ids: "buildings",
    "tms": lambda ids: "WebMercatorQuad",
    "z": lambda ids: "14",
    "y": lambda ids: "6394",
    "x": lambda ids: "13616",
    "style_id": lambda ids: "default",
    "fid": lambda ids: "1",
    "name": lambda ids: "gcj02",
    "person_id": lambda ids: "99999999",
    "worker_id": lambda ids: "99999999",
    "call_id": lambda ids: "99999999",
    "device_id": lambda ids: "NO-SUCH-DEVICE",
    "unit_id": lambda ids: "99999999",
    "item_id": lambda ids: "99999999",
}
"""Path parameters by name: objects of the small district, inside every area of CALLERS."""

QUERY_VALUES = {
    "start": "2026-01-01",
    "end": "2027-01-01",
    "facility_type": "kindergarten",
    "zoom": "15",
    "q": "中学街",
}
"""Required query parameters by name."""

NO_SUCH_INCIDENT = 99_999_999
STEPS = {"/api/v1/incidents/{incident_id}/transitions", "/api/v1/incidents/{incident_id}/merge"}
"""Steps are asked of a case that does not exist (404 for everyone the rule lets in): which
step each role may take on which case is the workflow's own rule, tested with it."""

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/auth/token"): {"data": {"username": "matrix-login", "password": PASSWORD}},
    ("POST", "/login"): {"data": {"username": "matrix-login", "password": PASSWORD}},
    ("POST", "/api/v1/facilities"): {
        "json": {"type": "kindergarten", "name": "矩阵园", "lon": 119.11, "lat": 36.71}
    },
    ("PATCH", "/api/v1/facilities/{facility_id}"): {"json": {"name": "改名"}},
    ("POST", "/api/v1/incidents"): {
        "json": {"category": "exposed_garbage", "lon": 119.111, "lat": 36.711}
    },
    ("POST", "/api/v1/incidents/{incident_id}/transitions"): {
        "json": {"action": "accept", "expected_version": 1}
    },
    ("POST", "/api/v1/incidents/{incident_id}/merge"): {"json": {"into": 1}},
    ("POST", "/api/v1/coverage/what-if"): {
        "json": {"facility_type": "kindergarten", "open": [{"lon": 119.171, "lat": 36.731}]}
    },
    ("POST", "/api/v1/incidents/{incident_id}/photos"): {
        "files": [("file", ("matrix.png", png((40, 30)), "image/png"))],
        "data": {"stage": "intake"},
    },
    ("POST", "/api/v1/people"): {
        "json": {
            "category": "elderly",
            "name": "矩阵",
            "building_id": 99999999,
            "consent": {"given_by": "本人", "at": "2026-11-01T09:00:00+08:00", "scope": "定位"},
        }
    },
    ("PATCH", "/api/v1/people/{person_id}"): {"json": {"phone": "1", "expected_version": 1}},
    ("PUT", "/api/v1/people/{person_id}/device"): {"json": {"device_id": "M-1"}},
    ("POST", "/api/v1/devices/positions"): {
        "json": {
            "reports": [
                {"device_id": "M-1", "at": "2026-12-06T08:00:00Z", "lon": 119.11, "lat": 36.71}
            ]
        }
    },
    ("POST", "/api/v1/devices/emergency"): {
        "json": {"device_id": "M-1", "lon": 119.11, "lat": 36.71}
    },
    ("POST", "/api/v1/care/workers"): {
        "json": {"name": "矩阵护理", "community_code": "370705001001"}
    },
    ("PATCH", "/api/v1/care/workers/{worker_id}"): {"json": {"available": True}},
    ("POST", "/api/v1/care/calls/{call_id}/arrived"): {},
    ("POST", "/api/v1/care/calls/{call_id}/close"): {},
    ("PUT", "/api/v1/care/workers/{worker_id}/device"): {"json": {"device_id": "M-2"}},
    ("POST", "/api/v1/mediation-units"): {
        "json": {"name_zh": "矩阵调处室", "area_code": "370705001001"}
    },
    ("PATCH", "/api/v1/mediation-units/{unit_id}"): {
        "json": {"name_en": "x", "expected_version": 1}
    },
    ("POST", "/api/v1/participation/items"): {
        "json": {"kind": "micro_project", "title": "矩阵", "community_code": "370705009999"}
    },
    ("PATCH", "/api/v1/participation/items/{item_id}"): {
        "json": {"title": "矩阵", "expected_version": 1}
    },
    ("POST", "/api/v1/participation/items/{item_id}/advance"): {
        "json": {"to": "discussed", "expected_version": 1}
    },
    ("POST", "/api/v1/participation/import"): {
        "files": {"file": ("m.csv", b"id,kind,title,community\n", "text/csv")}
    },
    ("POST", "/api/v1/participation/councils"): {
        "json": {"community_code": "370705009999", "name": "矩阵"}
    },
    ("POST", "/open311/v2/requests.{format}"): {
        "data": {"service_code": "exposed_garbage", "lat": "36.712", "long": "119.112"}
    },
}
"""Valid bodies of the routes that take one (a write route missing here is refused below)."""


def request_of(route: APIRoute, method: str, ids: Ids) -> tuple[str, dict[str, Any]]:
    values = {}
    for param in route.dependant.path_params:
        if param.name not in PATH_VALUES:
            pytest.fail(f"add a value for path parameter {param.name!r} of {route.path}")
        values[param.name] = PATH_VALUES[param.name](ids)
    if route.path in STEPS:
        values["incident_id"] = str(NO_SUCH_INCIDENT)
    path = route.path.format(**values)
    query = {}
    for param in _all_query_params(route):
        if param.field_info.is_required():
            if param.name not in QUERY_VALUES:
                pytest.fail(f"add a value for query parameter {param.name!r} of {route.path}")
            query[param.name] = QUERY_VALUES[param.name]
    kwargs: dict[str, Any] = {"params": query, "follow_redirects": False}
    if method in ("POST", "PUT", "PATCH"):
        body = BODIES.get((method, route.path))
        if body is None and route.path not in ("/api/v1/auth/logout", "/logout"):
            pytest.fail(f"add a valid body for {method} {route.path} to BODIES")
        kwargs.update(body or {})
    return path, kwargs


def _all_query_params(route: APIRoute) -> list[Any]:
    found, stack = [], [route.dependant]
    while stack:
        dependant = stack.pop()
        found.extend(dependant.query_params)
        stack.extend(dependant.dependencies)
    return found


def refused_as_expected(caller: Caller, rule: Rule, answer: Any) -> bool:
    if caller.role is None and caller.scope is None:
        if answer.status_code == 401:
            return True
        to_login = answer.status_code in (302, 303, 307) and "login" in answer.headers.get(
            "location", ""
        )
        return rule.page and to_login
    return bool(answer.status_code == 403)


@pytest.fixture
def ids(db: Session, small_district: SmallDistrict) -> Ids:
    west = db.execute(select(Grid.id).where(Grid.code == WEST_GRID)).scalar_one()
    incident = db.execute(
        select(Incident.id).where(Incident.grid_id == west).order_by(Incident.id)
    ).scalar_one()
    facility = db.execute(select(Facility.id).order_by(Facility.id)).scalars().first()
    assert facility is not None
    make_account(db, "matrix-login", "planner")
    return Ids(incident, facility)


def test_every_route_answers_every_caller_as_its_rule_says(
    anonymous: TestClient, db: Session, ids: Ids
) -> None:
    routes = {(sorted(r.methods)[0], r.path): r for r in all_routes() if isinstance(r, APIRoute)}
    wrong: list[str] = []
    seen: dict[str, list[int]] = {c.name: [0, 0] for c in CALLERS}
    for caller in CALLERS:
        headers = caller.headers(db)
        for method, path, rule in route_rules():
            route = routes.get((method, path)) or next(
                r for r in routes.values() if r.path == path and method in r.methods
            )
            url, kwargs = request_of(route, method, ids)
            anonymous.cookies.clear()  # POST /login's cookie must not speak for the next caller
            answer = anonymous.request(method, url, headers=headers, **kwargs)
            if caller.allowed(rule):
                seen[caller.name][0] += 1
                if answer.status_code in (401, 403):
                    wrong.append(f"{caller.name} {method} {path}: {answer.status_code}, allowed")
            else:
                seen[caller.name][1] += 1
                if not refused_as_expected(caller, rule, answer):
                    wrong.append(f"{caller.name} {method} {path}: {answer.status_code}, refused")
            if (method, path) == ("GET", "/api/v1/incidents") and caller.allowed(rule):
                grids = {f["properties"]["grid_code"] for f in answer.json()["features"]}
                if caller.area is not None and caller.role is not Role.DISTRICT:
                    outside = {g for g in grids if not g.startswith(caller.area)}
                    if outside:
                        wrong.append(f"{caller.name}'s incident list holds {sorted(outside)}")
    assert wrong == [], "\n".join(wrong)
    assert {name: tuple(n) for name, n in seen.items()} == counts()


def test_the_matrix_narrows_lists_to_the_callers_grids(
    anonymous: TestClient, db: Session, ids: Ids
) -> None:
    manager = next(c for c in CALLERS if c.role is Role.GRID_MANAGER)
    mediator = next(c for c in CALLERS if c.role is Role.MEDIATOR)
    planner = next(c for c in CALLERS if c.role is Role.PLANNER)

    def grids(caller: Caller) -> list[str]:
        body = anonymous.get("/api/v1/incidents", headers=caller.headers(db)).json()
        return sorted(f["properties"]["grid_code"] for f in body["features"])

    assert grids(manager) == [WEST_GRID]
    assert grids(mediator) == []  # no disputes in the small district
    assert grids(planner) == [WEST_GRID, "370705001002001"]


if __name__ == "__main__":
    sys.stdout.write(markdown())
