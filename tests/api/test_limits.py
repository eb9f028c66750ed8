"""Bounded work (api.limits): statement timeouts per kind of request, the heavy-request cap.

Timeouts are checked on routes a test adds to the real app (the real session
dependency, ``pg_sleep`` for a statement of known length) and on the demo's
statistics; the cap on a heavy route that sleeps, served by the app in this
event loop so that the requests really overlap.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Engine, text

import api.routes
from api.app import create_app
from api.dependencies import SessionDep
from api.limits import HEAVY
from gis.db.engine import make_engine
from gis.settings import ServerSettings
from tests.accounts import committed_headers
from tests.http_checks import assert_error, ok

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

LONG_PERIOD = "start=2000-01-01&end=2030-01-01"


@pytest.fixture(scope="module")
def one_connection(engine: Engine) -> Iterator[Engine]:
    """An engine of one pooled connection, so every request reuses the same one."""
    eng = make_engine(engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    yield eng
    eng.dispose()


def sleepy_app(engine: Engine, **limits: Any) -> FastAPI:
    """The real app plus routes whose one statement sleeps ``seconds`` (light, heavy, write)."""
    app = create_app(ServerSettings(**limits), engine=engine)

    @app.get("/test/light")
    def light(session: SessionDep, seconds: float) -> dict[str, Any]:
        session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
        return {"timeout": session.execute(text("SHOW statement_timeout")).scalar_one()}

    @app.get("/test/heavy", dependencies=[HEAVY])
    def heavy(session: SessionDep, seconds: float) -> dict[str, Any]:
        session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
        return {"timeout": session.execute(text("SHOW statement_timeout")).scalar_one()}

    @app.post("/test/write")
    def write(session: SessionDep, seconds: float) -> dict[str, Any]:
        session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
        session.commit()
        return {}

    return app


def test_each_kind_of_request_runs_under_its_own_timeout(one_connection: Engine) -> None:
    app = sleepy_app(one_connection, light_timeout_s=2, heavy_timeout_s=0.3, write_timeout_s=0.2)
    with TestClient(app) as client:
        assert ok(client.get("/test/light?seconds=0"))["timeout"] == "2s"
        assert ok(client.get("/test/heavy?seconds=0"))["timeout"] == "300ms"
        # A light read may take longer than a heavy one is allowed to.
        ok(client.get("/test/light?seconds=0.5"))
        response = client.get("/test/heavy?seconds=0.5")
        body = assert_error(response, 503, "0.3 秒", "GRIDMAP_HEAVY_TIMEOUT_S", "缩短时间段")
        assert body["code"] == "QueryTimeout"
        assert response.headers["Retry-After"] == "1"
        written = client.post("/test/write?seconds=0.5")
        assert_error(written, 503, "GRIDMAP_WRITE_TIMEOUT_S", "已回滚")
        # The same keep-alive client goes on, and the limit did not stay on the connection.
        ok(client.get("/test/light?seconds=0"))
    with one_connection.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "0"


def test_a_timeout_of_zero_leaves_the_servers_own(one_connection: Engine) -> None:
    with TestClient(sleepy_app(one_connection, heavy_timeout_s=0)) as client:
        assert ok(client.get("/test/heavy?seconds=0"))["timeout"] == "0"


@pytest.fixture(scope="module")
def demo_admin(demo_engine: Engine) -> dict[str, str]:
    return committed_headers(demo_engine, "admin")


@pytest.fixture
def committed_admin(engine: Engine) -> Iterator[dict[str, str]]:
    """An admin's login committed to the shared test database, and removed again (its
    logins with it) so that no other test sees the account."""
    headers = committed_headers(engine, "limits-admin", "admin")
    try:
        yield headers
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM account WHERE username = 'limits-admin'"))


def test_demo_statistics_past_the_heavy_timeout_say_to_ask_for_less(
    demo_engine: Engine, demo_admin: dict[str, str]
) -> None:
    app = create_app(ServerSettings(heavy_timeout_s=0.001), engine=demo_engine)
    with TestClient(app, headers=demo_admin) as client:
        for path in (
            f"/api/v1/incidents/statistics?{LONG_PERIOD}",
            f"/api/v1/incidents/hot-spots?{LONG_PERIOD}",
        ):
            response = client.get(path)
            body = assert_error(response, 503, "查询超过", "缩短时间段")
            assert body["code"] == "QueryTimeout"
            assert int(response.headers["Retry-After"]) >= 1
        # Light reads keep their own, longer, timeout.
        ok(client.get("/api/v1/facility-types"))


def test_a_page_past_its_timeout_is_a_query_timeout(
    demo_engine: Engine, demo_admin: dict[str, str]
) -> None:
    """The paged reads of gis.db.select answer a cancelled statement like any other path."""
    app = create_app(ServerSettings(light_timeout_s=0.001), engine=demo_engine)
    with TestClient(app, headers=demo_admin) as client:
        response = client.get("/api/v1/buildings?limit=5000")
        body = assert_error(response, 503, "GRIDMAP_LIGHT_TIMEOUT_S", "减少每页条数")
        assert body["code"] == "QueryTimeout"


def test_a_report_past_the_write_timeout_is_a_query_timeout(
    engine: Engine, committed_admin: dict[str, str]
) -> None:
    """The report opens its own session (api.dependencies.request_session): its statement
    is bounded too. Another transaction holds the incident table, so the intake waits for
    the lock until the write timeout cancels it; nothing is stored."""
    app = create_app(ServerSettings(write_timeout_s=0.3), engine=engine)
    report = {"category": "exposed_garbage", "lon": 119.16, "lat": 36.71}
    with TestClient(app, headers=committed_admin) as client, engine.connect() as holder:
        holder.execute(text("LOCK TABLE incident IN ACCESS EXCLUSIVE MODE"))
        response = client.post("/api/v1/incidents", json=report)
        body = assert_error(response, 503, "GRIDMAP_WRITE_TIMEOUT_S", "已回滚")
        assert body["code"] == "QueryTimeout"
        holder.rollback()


async def _overlapping(app: FastAPI, paths: list[str]) -> list[tuple[httpx.Response, float]]:
    """Each path requested at once against ``app`` in this event loop, with its seconds."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        async def timed(path: str) -> tuple[httpx.Response, float]:
            started = time.perf_counter()
            response = await client.get(path)
            return response, time.perf_counter() - started

        return list(await asyncio.gather(*(timed(p) for p in paths)))


def test_heavy_requests_beyond_the_cap_are_refused_with_retry_after(engine: Engine) -> None:
    app = sleepy_app(engine, heavy_concurrency=2, heavy_wait_s=0.3)
    answers = asyncio.run(_overlapping(app, ["/test/heavy?seconds=1.5"] * 5))
    served = [r for r, _ in answers if r.status_code == 200]
    refused = [(r, s) for r, s in answers if r.status_code == 503]
    assert (len(served), len(refused)) == (2, 3), [r.text for r, _ in answers]
    for response, seconds in refused:
        body = assert_error(response, 503, "服务器繁忙", "GRIDMAP_HEAVY_CONCURRENCY")
        assert body["code"] == "ServerBusy"
        assert response.headers["Retry-After"] == "1"
        assert 0.3 <= seconds < 1.2  # refused after the short wait, not after the sleep
    assert app.state.heavy_cap.running == 0  # every slot was given back


def test_a_heavy_request_waits_briefly_for_a_slot(engine: Engine) -> None:
    app = sleepy_app(engine, heavy_concurrency=1, heavy_wait_s=3)
    answers = asyncio.run(_overlapping(app, ["/test/heavy?seconds=0.4"] * 3))
    assert [r.status_code for r, _ in answers] == [200, 200, 200]
    assert max(s for _, s in answers) >= 1.2  # one after the other


def test_light_reads_are_not_queued_behind_waiting_heavy_requests(engine: Engine) -> None:
    """60 heavy requests (more than the 40 threads of the threadpool) hold one slot and
    no thread while they wait: a light read beside them is answered at once."""
    app = sleepy_app(engine, heavy_concurrency=1, heavy_wait_s=5)

    async def burst() -> tuple[list[int], float]:
        heavy = asyncio.ensure_future(_overlapping(app, ["/test/heavy?seconds=0.5"] * 60))
        await asyncio.sleep(0.3)
        [(light, seconds)] = await _overlapping(app, ["/test/light?seconds=0"])
        assert light.status_code == 200, light.text
        return [r.status_code for r, _ in await heavy], seconds

    statuses, light_seconds = asyncio.run(burst())
    assert light_seconds < 0.3
    assert statuses.count(200) >= 5 and set(statuses) <= {200, 503}


def test_the_analyses_are_the_heavy_routes() -> None:
    """Every route that reads a period or the whole district, or may build a coverage
    model, holds a slot; pages, records and the writes of the workflow do not."""
    routers = [
        importlib.import_module(f"api.routes.{module.name}").router
        for module in pkgutil.iter_modules(api.routes.__path__)
    ]
    heavy = {
        (method, route.path)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and HEAVY in route.dependencies
        for method in route.methods or ()
    }
    assert heavy == {
        ("GET", "/api/v1/incidents/statistics"),
        ("GET", "/api/v1/incidents/hot-spots"),
        ("GET", "/api/v1/coverage"),
        ("GET", "/api/v1/coverage/buildings"),
        ("GET", "/api/v1/coverage/circles"),
        ("GET", "/api/v1/coverage/blind-spots"),
        ("POST", "/api/v1/coverage/what-if"),
        ("GET", "/api/v1/coverage/worst"),
        ("GET", "/api/v1/coverage/compare"),
        ("GET", "/api/v1/coverage/compare/buildings"),
        ("GET", "/api/v1/coverage/service-areas"),
        ("GET", "/api/v1/coverage/export"),
        ("GET", "/api/v1/coverage/print"),
        ("GET", "/ogc/collections/{cid}/export"),
    }
