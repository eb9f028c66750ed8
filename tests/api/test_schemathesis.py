"""The API as a client written by no one here sees it: schemathesis against /openapi.json.

Every operation the app documents is called with requests generated from its
own OpenAPI document, against the real app on a real PostGIS holding the demo
district (a database of this module's own, since POST/PATCH/DELETE write), and
each response is checked: no 5xx, a status code the operation documents, a
content type it documents, and a body that matches the documented schema.

Each request is sent as one of several callers (``CALLERS``): the admin, the
planner, a community, one of its grid managers, a system key with
incidents:write + incidents:read + features:read, a hotline key (open311),
or nobody; mostly as one the route's rule lets in, so that the answers past
the 401 and 403 are checked too. Generated bodies alone stop at validation
(a random category, a point in the ocean), so part of the requests of the write
operations are steered into the demo (``steer``): a real category or facility
type at a building's point, a facility or open incident that exists, an action
the case's state allows at the version it has now. The figures (requests, 5xx,
schema mismatches, successful writes) are printed at the end of the module,
and ``test_writes_reach_success`` fails when the writes stop succeeding.
"""

from __future__ import annotations

import random
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from starlette.types import Receive, Scope, Send

from api.access import Rule
from api.app import create_app
from api.error_docs import rules_by_operation
from gis.accounts import keys
from gis.accounts.accounts import get_account
from gis.db import schema as db_schema
from gis.db.engine import drop_database, make_engine, recreate_database
from gis.demo.load import load_demo
from gis.incidents import workflow
from gis.incidents.catalogue import CATEGORIES
from gis.principal import Principal
from gis.settings import ServerSettings
from tests.accounts import DEMO_PASSWORD, committed_headers
from tests.photo_files import png

DATABASE = "gridmap_schemathesis_test"

CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

CALLERS = ("admin", "planner", "community", "grid_manager", "system", "hotline", "anonymous")
WRITES = {
    ("POST", "/api/v1/incidents"),
    ("POST", "/api/v1/facilities"),
    ("PATCH", "/api/v1/facilities/{facility_id}"),
    ("DELETE", "/api/v1/facilities/{facility_id}"),
    ("POST", "/api/v1/incidents/{incident_id}/transitions"),
    ("POST", "/api/v1/incidents/{incident_id}/merge"),
    ("POST", "/open311/v2/requests.{format}"),
    ("POST", "/api/v1/incidents/{incident_id}/photos"),
}
MUST_SUCCEED = WRITES - {("POST", "/api/v1/incidents/{incident_id}/merge")}
"""Writes that some steered requests must get through (a merge only fits a fresh duplicate)."""


@dataclass
class Demo:
    """What steering draws from: the demo's callers, points and objects."""

    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    usernames: dict[str, str] = field(default_factory=dict)
    principals: dict[str, Principal] = field(default_factory=dict)
    rules: dict[tuple[str, str], Rule] = field(default_factory=dict)
    points: list[tuple[float, float]] = field(default_factory=list)
    facility_types: list[str] = field(default_factory=list)
    facilities: list[int] = field(default_factory=list)
    open_incidents: list[int] = field(default_factory=list)
    own_incidents: list[int] = field(default_factory=list)
    engine: Engine | None = None


@dataclass
class Figures:
    requests: int = 0
    server_errors: int = 0
    mismatches: int = 0
    operations: set[tuple[str, str]] = field(default_factory=set)
    statuses: Counter[tuple[str, str, int]] = field(default_factory=Counter)


DEMO = Demo()
FIGURES = Figures()


@pytest.fixture(scope="module")
def demo_copy(server_url: str) -> Iterator[Engine]:
    """The demo district in a database of this module's own, dropped afterwards."""
    engine = make_engine(recreate_database(server_url, DATABASE))
    db_schema.upgrade(engine)
    load_demo(engine, password=DEMO_PASSWORD)
    try:
        yield engine
    finally:
        engine.dispose()
        drop_database(server_url, DATABASE)


def _load_demo_facts(engine: Engine, app: FastAPI) -> None:
    """The callers (logged in) and the objects steering draws from."""
    with engine.connect() as conn:
        community, grid = conn.execute(
            text(
                """SELECT c.code, g.code FROM grid g
                   JOIN admin_area c ON c.id = g.community_id
                   JOIN account ac ON ac.username = 'community-' || c.code
                   JOIN account ag ON ag.username = 'grid-' || g.code
                   JOIN incident i ON i.grid_id = g.id AND i.status NOT IN ('closed', 'cancelled')
                   GROUP BY c.code, g.code ORDER BY count(*) DESC, g.code LIMIT 1"""
            )
        ).one()
        DEMO.points = [
            (float(x), float(y))
            for x, y in conn.execute(
                text("SELECT ST_X(location), ST_Y(location) FROM building WHERE id % 97 = 0")
            )
        ]
        DEMO.facility_types = list(conn.scalars(text("SELECT code FROM facility_type")))
        DEMO.facilities = list(conn.scalars(text("SELECT id FROM facility ORDER BY id")))
        open_cases = "status NOT IN ('closed', 'cancelled', 'evaluated')"
        DEMO.open_incidents = list(
            conn.scalars(text(f"SELECT id FROM incident WHERE {open_cases} ORDER BY id"))
        )
        DEMO.own_incidents = list(
            conn.scalars(
                text(
                    f"""SELECT i.id FROM incident i JOIN grid g ON g.id = i.grid_id
                        WHERE g.code LIKE :community AND {open_cases} ORDER BY i.id"""
                ),
                {"community": f"{community}%"},
            )
        )
    people = {
        "admin": "admin",
        "planner": "planner",
        "community": f"community-{community}",
        "grid_manager": f"grid-{grid}",
    }
    with Session(engine) as session:
        for caller, username in people.items():
            DEMO.headers[caller] = committed_headers(engine, username)
            DEMO.usernames[caller] = username
            DEMO.principals[caller] = get_account(session, username).principal()
        for caller, scopes in (
            ("system", ("incidents:write", "incidents:read", "features:read")),
            ("hotline", ("open311",)),
        ):
            _, secret = keys.create_key(session, f"schemathesis-{caller}", scopes)
            principal = keys.key_principal(session, secret)
            assert principal is not None
            DEMO.headers[caller] = {"X-API-Key": secret}
            DEMO.principals[caller] = principal
        session.commit()
    DEMO.headers["anonymous"] = {}
    DEMO.rules = rules_by_operation(app)
    DEMO.engine = engine


class AppUnderTest:
    """The ASGI app schemathesis calls, given its database by a fixture at run time.

    The schema must exist when pytest collects (one test per operation), the
    database only once the tests run; this stands in between. (schemathesis's
    own ``pytest.from_fixture`` fails under pytest 9: it sets ``node._nodeid``.)
    """

    def __init__(self) -> None:
        self.app: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the api fixture has not attached the app"
        await self.app(scope, receive, send)


def served_openapi() -> dict[str, Any]:
    """The document the app serves at /openapi.json (no database needed, no lifespan run)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from fastapi.testclient import TestClient

    response = TestClient(create_app()).get("/openapi.json")
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


APP = AppUnderTest()
schema = schemathesis.openapi.from_dict(served_openapi())
schema.app = APP


@pytest.fixture(scope="module")
def api(demo_copy: Engine) -> Iterator[None]:
    APP.app = create_app(ServerSettings(), engine=demo_copy)
    _load_demo_facts(demo_copy, APP.app)
    yield
    # schemathesis keeps the app's lifespan (the coverage listener) running until the
    # process exits; end it here, before the database under it is dropped.
    shutdown_lifespans()
    APP.app = None


def _report(config: pytest.Config) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    writes = {
        f"{method} {path}": (
            sum(n for (m, p, s), n in FIGURES.statuses.items() if (m, p) == (method, path)),
            sum(
                n
                for (m, p, s), n in FIGURES.statuses.items()
                if (m, p) == (method, path) and 200 <= s < 300
            ),
        )
        for method, path in sorted(WRITES)
    }
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_line(
            f"schemathesis: {len(FIGURES.operations)} operations, {FIGURES.requests} requests, "
            f"{FIGURES.server_errors} 5xx, {FIGURES.mismatches} answers failing a check "
            "(schema, status, content type, headers)"
        )
        for name, (sent, succeeded) in writes.items():
            reporter.write_line(f"  {name}: {succeeded} of {sent} answered 2xx")


def choices_for(case: schemathesis.Case) -> random.Random:
    """The choices of caller and steering, drawn from the generated request itself.

    (Schemathesis refuses ``@schema.given`` next to the schema's examples; a seed
    taken from the case keeps every run and every reproduction of a case the same.)
    """
    seen = (case.operation.method, case.operation.path, case.path_parameters, case.query)
    return random.Random(zlib.crc32(repr((seen, case.body, case.headers)).encode()))


def _caller(rng: random.Random, method: str, path: str) -> str:
    """Three times in four a caller the route's rule lets in, else anyone."""
    rule = DEMO.rules.get((path, method.lower()))
    allowed = [
        c
        for c in CALLERS
        if c != "anonymous" and (rule is None or rule.public or rule.allows(DEMO.principals[c]))
    ]
    return rng.choice(allowed if allowed and rng.random() < 0.75 else CALLERS)


def _point(rng: random.Random) -> tuple[float, float]:
    """A building's point, moved a few metres: inside the district, in some grid."""
    x, y = rng.choice(DEMO.points)
    return round(x + rng.uniform(-2e-4, 2e-4), 7), round(y + rng.uniform(-2e-4, 2e-4), 7)


def steer(case: schemathesis.Case, rng: random.Random) -> None:
    """Make a write's generated request one that the demo can accept (half the time)."""
    method, path = case.operation.method.upper(), case.operation.path
    if (method, path) not in WRITES or rng.random() < 0.4:
        return
    generated = case.body if isinstance(case.body, dict) else {}
    lon, lat = _point(rng)
    if path == "/api/v1/incidents":
        case.body = {
            **{k: v for k, v in generated.items() if k in ("description", "source", "address")},
            "category": rng.choice(CATEGORIES).code,
            "lon": lon,
            "lat": lat,
        }
    elif path == "/api/v1/facilities":
        case.body = {
            "type": rng.choice(DEMO.facility_types),
            "name": f"测试设施{rng.randrange(10_000)}",
            "lon": lon,
            "lat": lat,
        }
    elif path.startswith("/api/v1/facilities/"):
        case.path_parameters = {"facility_id": rng.choice(DEMO.facilities)}
        case.headers = {**(case.headers or {}), "If-Match": "*"}
        if method == "PATCH":
            moved = {"lon": lon, "lat": lat} if rng.random() < 0.5 else {}
            kept = ("name", "capacity", "opening_hours", "address")
            case.body = {k: v for k, v in generated.items() if k in kept} | moved
        else:
            case.query = {}
    elif path.endswith("/photos"):
        incident = rng.choice(DEMO.open_incidents)
        case.path_parameters = {"incident_id": incident}
        case.body = {"file": [PHOTO], "stage": _photo_stage(incident)}
    elif path.startswith("/api/v1/incidents/"):
        mine = DEMO.own_incidents if rng.random() < 0.6 else []
        incident = rng.choice(mine or DEMO.open_incidents)
        case.path_parameters = {"incident_id": incident}
        case.headers = {k: v for k, v in (case.headers or {}).items() if k != "If-Match"}
        if path.endswith("/transitions"):
            case.body = _step(incident, rng)
        else:
            case.body = {"into": rng.choice(DEMO.open_incidents)}
    else:  # Open311 POST
        case.path_parameters = {"format": rng.choice(["json", "xml"])}
        case.query = {}  # a generated jurisdiction_id is another district's: 404
        case.body = {
            "service_code": rng.choice(CATEGORIES).code,
            "long": str(lon),
            "lat": str(lat),
        }


PHOTO = png((64, 48))
"""A real photo file for steered uploads."""
STAGE_OF = {"reported": "intake", "accepted": "intake", "feedback": "verification"}


def _photo_stage(incident: int) -> str:
    """The stage of photos the incident takes in its state now."""
    assert DEMO.engine is not None
    with DEMO.engine.connect() as conn:
        status = conn.execute(
            text("SELECT status FROM incident WHERE id = :i"), {"i": incident}
        ).scalar_one()
    return STAGE_OF.get(status, "handling")


def _step(incident: int, rng: random.Random) -> dict[str, Any]:
    """An action the incident's state allows, quoting the version it has now."""
    assert DEMO.engine is not None
    with DEMO.engine.connect() as conn:
        status, version, handler = conn.execute(
            text("SELECT status, version, handler_staff_id FROM incident WHERE id = :i"),
            {"i": incident},
        ).one()
    actions = workflow.allowed(status) or list(workflow.Action)
    body: dict[str, Any] = {
        "action": str(rng.choice(actions)),
        "expected_version": version,
        "note": "schemathesis",
    }
    if body["action"] == "hand_over":  # 交办: to a unit that takes the case, not a person
        with DEMO.engine.connect() as conn:
            unit = conn.execute(
                text(
                    "SELECT u.id FROM incident i JOIN grid g ON g.id = i.grid_id"
                    " JOIN mediation_unit u ON g.code LIKE u.area_code || '%'"
                    " WHERE i.id = :i ORDER BY u.id LIMIT 1"
                ),
                {"i": incident},
            ).scalar()
        if unit is not None:
            body["unit_id"] = unit
    elif handler is not None:
        body["handler_staff_id"] = handler
    return body


@schema.parametrize()
@settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(api: None, case: schemathesis.Case) -> None:
    method, path = case.operation.method.upper(), case.operation.path
    rng = choices_for(case)
    caller = _caller(rng, method, path)
    steer(case, rng)
    headers = dict(DEMO.headers[caller])
    if path == "/api/v1/auth/logout" and caller in DEMO.usernames:  # a login of its own
        assert DEMO.engine is not None
        headers = committed_headers(DEMO.engine, DEMO.usernames[caller])
    case.headers = {
        k: v
        for k, v in (case.headers or {}).items()
        if k.lower() not in ("authorization", "x-api-key")
    }
    response = case.call(headers=headers)
    FIGURES.requests += 1
    FIGURES.operations.add((method, path))
    FIGURES.statuses[(method, path, response.status_code)] += 1
    FIGURES.server_errors += response.status_code >= 500
    try:
        case.validate_response(response, checks=CHECKS)
    except BaseException:  # schemathesis' FailureGroup is a BaseExceptionGroup
        FIGURES.mismatches += 1
        raise


def test_writes_reach_success(request: pytest.FixtureRequest) -> None:
    """Steered writes get through: the write paths are exercised, not only validation."""
    if not FIGURES.requests:
        pytest.skip("runs after test_every_operation_answers_as_documented, in the same module")
    _report(request.config)
    succeeded = {
        (method, path)
        for (method, path, status), n in FIGURES.statuses.items()
        if 200 <= status < 300 and n > 0
    }
    assert MUST_SUCCEED - succeeded == set()
    assert FIGURES.server_errors == 0
    assert FIGURES.mismatches == 0
    assert len(FIGURES.operations) >= 37
