"""The API as a client written by no one here sees it: schemathesis against /openapi.json.

Every operation the app documents is called with requests generated from its
own OpenAPI document, against the real app on a real PostGIS holding the demo
district (a database of this module's own, since POST/PATCH/DELETE write), and
each response is checked: no 5xx, a status code the operation documents, a
content type it documents, and a body that matches the documented schema.

Every check applies to every operation: GeoJSON (``application/geo+json``)
bodies are validated as JSON, Open311's XML is documented as text, CSV is
only a documented content type. Requests come from both generation modes
(valid and invalid input), plus the body examples of the create routes, so
that some writes succeed and their 201 bodies are checked too. Deliberately
breaking a route (a 500, or ``numberMatched`` as text) fails this module.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
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
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from api.app import create_app
from gis.db import schema as db_schema
from gis.db.engine import drop_database, make_engine, recreate_database
from gis.demo.load import load_demo
from gis.settings import ServerSettings

DATABASE = "gridmap_schemathesis_test"

CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def demo_copy(server_url: str) -> Iterator[Engine]:
    """The demo district in a database of this module's own, dropped afterwards."""
    engine = make_engine(recreate_database(server_url, DATABASE))
    db_schema.upgrade(engine)
    load_demo(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        drop_database(server_url, DATABASE)


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
    yield
    # schemathesis keeps the app's lifespan (the coverage listener) running until the
    # process exits; end it here, before the database under it is dropped.
    shutdown_lifespans()
    APP.app = None


@schema.parametrize()
@settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_documented(api: None, case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)
