"""A dropped database connection: reads retried once, writes 503, /healthz on its own.

A backend is dropped with ``pg_terminate_backend`` on the suite's server: the
client sees exactly what a restarting server sends (57P01 AdminShutdown), and
no other test's connection is touched. Killing the server itself is in
tests/faults/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from api.app import create_app
from api.dependencies import _close
from api.routing import ReadRetryRoute
from gis.db.engine import is_unreachable, make_engine
from gis.settings import ServerSettings


@pytest.fixture
def own_engine(engine: Engine) -> Iterator[Engine]:
    """An engine of this test's own on the suite's test database (small pool)."""
    own = make_engine(engine.url.render_as_string(hide_password=False), pool_size=2)
    yield own
    own.dispose()


def terminate(engine: Engine, pid: int) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        conn.commit()


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # FastAPI keeps included routers
        if included is not None:
            yield from _api_routes(included.routes)


def test_every_route_is_retried_on_a_broken_connection(engine: Engine) -> None:
    routes = list(_api_routes(create_app(ServerSettings(), engine=engine).routes))
    assert len(routes) > 20
    assert [r.path for r in routes if not isinstance(r, ReadRetryRoute)] == []


def test_a_read_whose_connection_dies_is_answered_from_a_second_try(
    engine: Engine, own_engine: Engine
) -> None:
    killed: list[int] = []

    def drop_first_connection(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if not killed and "facility_type" in statement:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            killed.append(pid)
            terminate(engine, pid)

    event.listen(own_engine, "before_cursor_execute", drop_first_connection)
    try:
        with TestClient(create_app(ServerSettings(), engine=own_engine)) as client:
            r = client.get("/api/v1/facility-types")
    finally:
        event.remove(own_engine, "before_cursor_execute", drop_first_connection)
    assert killed, "the route read no facility_type: the test dropped nothing"
    assert r.status_code == 200, r.text
    assert r.json()


def test_closing_a_session_whose_server_went_away_does_not_raise(
    engine: Engine, own_engine: Engine
) -> None:
    """Else the error escapes after the response and the server hangs up on the
    client's next request on that keep-alive connection."""
    session = Session(own_engine)
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    terminate(engine, pid)
    with pytest.raises(OperationalError):  # what the close did before
        session.close()
    session = Session(own_engine)
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    terminate(engine, pid)
    _close(session)  # no error
    with own_engine.connect() as conn:  # and the pool hands out a live connection
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_healthz_reconnects_by_itself(engine: Engine, own_engine: Engine) -> None:
    with TestClient(create_app(ServerSettings(), engine=own_engine)) as client:
        assert client.get("/healthz").status_code == 200
        with engine.connect() as conn:
            pids = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'gridmap-healthz'"
                    " AND datname = current_database()"
                )
            ).scalars()
            dropped = [
                conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": p}).scalar_one()
                for p in pids
            ]
            conn.commit()
        assert dropped, "the probe had no connection of its own"
        r = client.get("/healthz")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok" and r.json()["database"].startswith("PostgreSQL ")


def test_what_counts_as_unreachable(engine: Engine) -> None:
    refused = make_engine("postgresql+psycopg://nobody:nothing@127.0.0.1:1/none")
    with pytest.raises(OperationalError) as down:
        refused.connect()
    refused.dispose()
    assert is_unreachable(down.value)
    with engine.connect() as conn, pytest.raises(OperationalError) as cancelled:
        conn.execute(text("SET LOCAL statement_timeout = 10"))
        conn.execute(text("SELECT pg_sleep(1)"))
    assert not is_unreachable(cancelled.value)  # the server answered: a timeout, not an outage
