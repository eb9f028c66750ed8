"""The app as deployed: its own engine from DATABASE_URL, OpenAPI, the map page."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from gis.settings import DatabaseSettings, ServerSettings
from tests.coverage_district import drop_database, fresh_coverage_database
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


def test_app_connects_from_database_url_and_serves_an_empty_database(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    database = DatabaseSettings.model_validate({"DATABASE_URL": url})
    app = create_app(ServerSettings(), database=database)
    with TestClient(app) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        body = client.get("/api/v1/grids").json()
        assert (body["numberMatched"], body["features"]) == (0, [])
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "暂无数据" in page.text


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
    response = client.get("/")
    assert response.status_code == 200
    assert response.text.count("gm-label gm-label-communities") == 2
    assert "暂无数据" not in response.text
    for asset in ("leaflet/leaflet.js", "leaflet/leaflet.css", "jquery/jquery.min.js"):
        assert f"/static/vendor/{asset}" in response.text
        assert client.get(f"/static/vendor/{asset}").status_code == 200


def test_map_page_fetches_buildings_instead_of_embedding_them(client: TestClient) -> None:
    page = client.get("/").text
    assert "/static/js/viewport-layer.js" in page
    assert client.get("/static/js/viewport-layer.js").status_code == 200
    assert '"url": "/api/v1/buildings?geometry=footprint"' in page
    assert "has_footprint" not in page  # no building feature is in the page
    # The page asks for no more than the server's page limit (small in these tests).
    maximum = client.app.state.settings.max_page_size  # type: ignore[attr-defined]
    assert maximum < 2000
    assert f'"limit": {maximum},' in page


def _served_level(
    engine: Engine, incident_id: int, seconds: float, app_args: dict[str, Any]
) -> str:
    """The case's level after the app made with ``app_args`` has served for ``seconds``
    (sweeping every 0.05 s when it sweeps)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRIDMAP_ESCALATION_INTERVAL_S", str(app_args.pop("interval", "0.05")))
        app = create_app(ServerSettings(), **app_args)
        with TestClient(app) as client:
            deadline = time.monotonic() + seconds
            while True:
                level: str = client.get(f"/api/v1/incidents/{incident_id}").json()["handling_level"]
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
        # gridmap serve and gridmap demo hand in their engine and ask for it.
        assert _served_level(district.engine, case.id, 10.0, {**given, "escalate": True}) == (
            "community"
        )
    finally:
        drop_database(server_url, district)


def test_an_app_owning_its_engine_escalates_by_default(server_url: str) -> None:
    district = fresh_coverage_database(server_url, "gridmap_app_escalation_owned")
    try:
        case = dispatched_case(district.engine)
        url = district.engine.url.render_as_string(hide_password=False)
        owned = {"database": DatabaseSettings.model_validate({"DATABASE_URL": url})}
        assert _served_level(district.engine, case.id, 10.0, owned) == "community"
    finally:
        drop_database(server_url, district)
