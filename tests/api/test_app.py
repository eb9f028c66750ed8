"""The app as deployed: its own engine (as the role gridmap_app), OpenAPI, the map page."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from gis.db import schema
from gis.db.embedded import EmbeddedPostgres
from gis.db.engine import drop_database as drop_named_database
from gis.db.engine import make_engine, recreate_database
from gis.db.roles import APP_ROLE, connected_role, enable_app_login
from gis.settings import DatabaseSettings, ServerSettings
from tests.accounts import PASSWORD, committed_headers
from tests.coverage_district import committed_lattice, drop_database, fresh_coverage_database
from tests.http_checks import ok
from tests.incident_cases import dispatched_case

ENDPOINTS = {
    "/healthz",
    "/api/v1/areas",
    "/api/v1/grids",
    "/api/v1/grids/{code}",
    "/api/v1/buildings",
    "/api/v1/facilities",
    "/api/v1/facility-types",
    "/api/v1/incidents",
}


@pytest.fixture
def empty_database(server_url: str) -> Iterator[Engine]:
    """A migrated database of its own, holding nothing but what a test commits."""
    engine = make_engine(recreate_database(server_url, "gridmap_app_empty"))
    schema.upgrade(engine)
    yield engine
    engine.dispose()
    drop_named_database(server_url, "gridmap_app_empty")


def test_app_connects_from_database_url_and_serves_an_empty_database(
    empty_database: Engine,
) -> None:
    url = empty_database.url.render_as_string(hide_password=False)
    database = DatabaseSettings.model_validate({"DATABASE_URL": url})
    headers = committed_headers(empty_database)
    app = create_app(ServerSettings(), database=database)
    with TestClient(app) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        assert client.get("/api/v1/grids").status_code == 401
        body = client.get("/api/v1/grids", headers=headers).json()
        assert (body["numberMatched"], body["features"]) == (0, [])
        page = client.get("/", headers=headers)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "暂无数据" in page.text
        # Without GRIDMAP_APP_DATABASE_URL, the app connects with DATABASE_URL as it is.
        assert connected_role(client.app.state.engine) == empty_database.url.username  # type: ignore[attr-defined]


def test_the_app_serves_as_gridmap_app_from_its_setting(server_url: str, tmp_path: Path) -> None:
    """Logging in, reporting, taking a step, adding a facility and reading the audit trail
    need no right the application's role lacks."""
    with committed_lattice(server_url, "gridmap_app_role") as district:
        owner = district.engine
        app_url = enable_app_login(owner, tmp_path / "app_password")
        committed_headers(owner, "role-admin", "admin")  # the account; logged in over HTTP below
        database = DatabaseSettings.model_validate(
            {
                "DATABASE_URL": owner.url.render_as_string(hide_password=False),
                "GRIDMAP_APP_DATABASE_URL": app_url,
            }
        )
        app = create_app(ServerSettings(), database=database, escalate=False)
        with TestClient(app) as client:
            assert connected_role(client.app.state.engine) == APP_ROLE  # type: ignore[attr-defined]
            token = ok(
                client.post(
                    "/api/v1/auth/token", data={"username": "role-admin", "password": PASSWORD}
                )
            )["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            report = {
                "category": "exposed_garbage",
                "description": "暴露垃圾",
                "source": "patrol",
                "lon": 119.11,
                "lat": 36.72,
            }
            case = ok(client.post("/api/v1/incidents", json=report, headers=headers), 201)
            step = {"action": "accept", "expected_version": case["version"]}
            url = f"/api/v1/incidents/{case['id']}/transitions"
            accepted = ok(client.post(url, json=step, headers=headers))
            assert accepted["status"] != case["status"]
            facility = {"type": "kindergarten", "name": "角色幼儿园", "lon": 119.11, "lat": 36.71}
            ok(client.post("/api/v1/facilities", json=facility, headers=headers), 201)
            trail = ok(client.get("/api/v1/audit", params={"user": "role-admin"}, headers=headers))
            assert "login" in {e["action"] for e in trail["entries"]}  # written as gridmap_app


def test_on_its_own_cluster_the_app_migrates_as_owner_and_serves_as_gridmap_app(
    cluster_dir: Path,
) -> None:
    database = DatabaseSettings.model_validate(
        {"DATABASE_URL": None, "GRIDMAP_DATA_DIR": cluster_dir, "GRIDMAP_DB_NAME": "own"}
    )
    app = create_app(ServerSettings(), database=database, escalate=False)
    with TestClient(app) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        assert connected_role(client.app.state.engine) == APP_ROLE  # type: ignore[attr-defined]
        assert client.get("/api/v1/grids").status_code == 401  # migrated: accounts exist
    kept = cluster_dir / "app_password"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert EmbeddedPostgres(cluster_dir).running_port() is None  # stopped by who started it


def test_openapi_lists_every_endpoint(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) >= ENDPOINTS
    grids = schema["paths"]["/api/v1/grids"]["get"]
    assert {p["name"] for p in grids["parameters"]} >= {"bbox", "limit", "offset", "community"}
    assert "application/geo+json" in grids["responses"]["200"]["content"]


def test_docs_page_uses_only_local_assets(client: TestClient) -> None:
    html = client.get("/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "/static/vendor/swagger-ui/swagger-ui.css" in html
    assert "cdn.jsdelivr.net" not in html
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_map_page_on_the_small_district(client: TestClient) -> None:
    """A light page: its title, assets and configuration; the areas come from the API."""
    response = client.get("/")
    assert response.status_code == 200
    page = response.text
    assert len(response.content) < 20_000
    assert "<title>奎文区 网格化管理地图</title>" in page
    assert "暂无数据" not in page
    assert "东苑社区" not in page  # names and shapes are the API's, not the page's
    assert '"outlines": "/api/v1/map/outlines"' in page
    for asset in ("vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css", "js/district.js"):
        assert f"/static/{asset}" in page
        assert client.get(f"/static/{asset}").status_code == 200
    assert "jquery" not in page and "folium" not in page


def test_map_page_draws_buildings_from_vector_tiles_instead_of_embedding_them(
    client: TestClient,
) -> None:
    page = client.get("/").text
    assert "/static/js/vector-tiles.js" in page
    assert client.get("/static/js/vector-tiles.js").status_code == 200
    assert '"style": "/ogc/styles/' in page
    library = "/static/vendor/protomaps-leaflet/protomaps-leaflet.js"
    assert f'"library": "{library}"' in page  # loaded by the page once it is usable
    assert client.get(library).status_code == 200
    assert "/api/v1/buildings?geometry=footprint" not in page  # no list of the view's
    assert "has_footprint" not in page  # no building feature is in the page


def _served_level(
    engine: Engine, incident_id: int, seconds: float, app_args: dict[str, Any]
) -> str:
    """The case's level after the app made with ``app_args`` has served for ``seconds``
    (sweeping every 0.05 s when it sweeps)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRIDMAP_ESCALATION_INTERVAL_S", str(app_args.pop("interval", "0.05")))
        headers = committed_headers(engine)
        app = create_app(ServerSettings(), **app_args)
        with TestClient(app) as client:
            deadline = time.monotonic() + seconds
            while True:
                response = client.get(f"/api/v1/incidents/{incident_id}", headers=headers)
                level: str = ok(response)["handling_level"]
                if level != "grid" or time.monotonic() > deadline:
                    return level
                time.sleep(0.05)


def test_the_served_app_escalates_overdue_cases_unless_turned_off(server_url: str) -> None:
    district = fresh_coverage_database(server_url, "gridmap_app_escalation")
    try:
        case = dispatched_case(district.engine)  # due in March 2025: long overdue
        url = district.engine.url.render_as_string(hide_password=False)
        owned = {"database": DatabaseSettings.model_validate({"DATABASE_URL": url})}
        given = {"engine": district.engine}
        # Not when turned off, nor by default on an engine handed in (tests, read-only demo).
        assert _served_level(district.engine, case.id, 1.0, {**owned, "interval": "0"}) == "grid"
        assert _served_level(district.engine, case.id, 1.0, {**owned, "escalate": False}) == "grid"
        assert _served_level(district.engine, case.id, 1.0, {**given}) == "grid"
        # gridmap serve and gridmap demo hand in their engine and ask for it. Every level's
        # limit since March 2025 has passed too: one sweep raises it to district.
        assert _served_level(district.engine, case.id, 10.0, {**given, "escalate": True}) == (
            "district"
        )
    finally:
        drop_database(server_url, district)


def test_an_app_owning_its_engine_escalates_by_default(server_url: str) -> None:
    district = fresh_coverage_database(server_url, "gridmap_app_escalation_owned")
    try:
        case = dispatched_case(district.engine)
        url = district.engine.url.render_as_string(hide_password=False)
        owned = {"database": DatabaseSettings.model_validate({"DATABASE_URL": url})}
        assert _served_level(district.engine, case.id, 10.0, owned) == "district"
    finally:
        drop_database(server_url, district)
