"""/api/v1/basemap, its streets and places (cached with an ETag), and /api/v1/search."""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import create_app
from gis.accounts import keys
from gis.errors import ConfigurationError
from gis.settings import BasemapSettings, ServerSettings
from tests.accounts import DEMO_PASSWORD

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

VIEW = "119.11,36.70,119.14,36.72"


@pytest.fixture(scope="module")
def client(demo_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(ServerSettings(), engine=demo_engine)) as c:
        yield c


def login(client: TestClient, username: str) -> dict[str, str]:
    answer = client.post(
        "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture(scope="module")
def district(client: TestClient) -> dict[str, str]:
    return login(client, "district")


@pytest.fixture(scope="module")
def map_key(demo_engine: Engine) -> Iterator[dict[str, str]]:
    """A key that may read the map but not cases (committed, removed afterwards)."""
    name = f"basemap-test-{secrets.token_hex(4)}"
    with Session(demo_engine) as session:
        _, key = keys.create_key(session, name, ("features:read",))
        session.commit()
    yield {"X-API-Key": key}
    with Session(demo_engine) as session:
        session.execute(text("DELETE FROM api_key WHERE name = :n"), {"n": name})
        session.commit()


def test_the_offline_base_map_is_the_default(client: TestClient, district: dict[str, str]) -> None:
    answer = client.get("/api/v1/basemap", headers=district)
    assert answer.status_code == 200
    assert answer.json() == {
        "source": "offline",
        "datum": "wgs84",
        "display": "wgs84",
        "tiles": [],
        "labels": True,
        "streets_url": "/api/v1/basemap/streets",
        "places_url": "/api/v1/basemap/places",
    }
    assert client.get("/api/v1/basemap").status_code == 401


def test_streets_are_geojson_with_an_etag_and_answer_304_when_unchanged(
    client: TestClient, map_key: dict[str, str]
) -> None:
    answer = client.get(f"/api/v1/basemap/streets?bbox={VIEW}&zoom=16", headers=map_key)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/geo+json")
    assert answer.headers["cache-control"] == "private, max-age=3600"
    body = answer.json()
    assert body["type"] == "FeatureCollection" and body["kinds"] == ["main", "secondary", "local"]
    assert body["features"] and {"name", "kind", "length_m"} <= set(
        body["features"][0]["properties"]
    )
    tag = answer.headers["etag"]
    again = client.get(
        f"/api/v1/basemap/streets?bbox={VIEW}&zoom=16",
        headers={**map_key, "If-None-Match": tag},
    )
    assert again.status_code == 304 and again.headers["etag"] == tag and not again.content
    other = client.get(
        f"/api/v1/basemap/streets?bbox={VIEW}&zoom=12", headers={**map_key, "If-None-Match": tag}
    )
    assert other.status_code == 200 and other.headers["etag"] != tag
    assert {f["properties"]["kind"] for f in other.json()["features"]} == {"main"}


def test_places_name_the_areas_of_the_zoom(client: TestClient, district: dict[str, str]) -> None:
    answer = client.get(f"/api/v1/basemap/places?bbox={VIEW}&zoom=14", headers=district)
    assert answer.status_code == 200 and answer.headers["etag"]
    features = answer.json()["features"]
    assert features and {f["properties"]["level"] for f in features} == {"community"}
    assert all(f["geometry"]["type"] == "Point" for f in features)


@pytest.mark.parametrize("query", ["zoom=23", "zoom=-1", "zoom=x", "", "zoom=15&bbox=1,2,3"])
def test_a_bad_zoom_or_bbox_is_a_client_error(
    client: TestClient, district: dict[str, str], query: str
) -> None:
    answer = client.get(f"/api/v1/basemap/streets?{query}", headers=district)
    assert answer.status_code in (400, 422), answer.text
    assert answer.json()["description"]


def test_search_finds_places_and_cases_within_reach(
    client: TestClient, demo_engine: Engine, district: dict[str, str], map_key: dict[str, str]
) -> None:
    with demo_engine.connect() as conn:
        case = conn.execute(
            text(
                """SELECT i.id, i.ext_id, g.code FROM incident i JOIN grid g ON g.id = i.grid_id
                   ORDER BY i.id LIMIT 1"""
            )
        ).one()
        other = conn.execute(
            text(
                """SELECT a.username FROM account a JOIN staff_grid sg ON sg.staff_id = a.staff_id
                   JOIN grid g ON g.id = sg.grid_id
                   WHERE a.role = 'grid_manager' AND g.code NOT LIKE :c
                   ORDER BY a.username LIMIT 1"""
            ),
            {"c": case.code[:12] + "%"},
        ).scalar_one()
    found = client.get(f"/api/v1/search?q={case.ext_id}", headers=district)
    assert found.status_code == 200
    item = found.json()["items"][0]
    assert (
        item["kind"] == "incident" and item["id"] == case.id and item["url"] == f"/cases/{case.id}"
    )
    for headers in (login(client, other), map_key):  # out of the manager's area; no case scope
        items = client.get(f"/api/v1/search?q={case.ext_id}", headers=headers).json()["items"]
        assert [i for i in items if i["kind"] == "incident"] == []
    grid = client.get(f"/api/v1/search?q={case.code}", headers=map_key).json()["items"][0]
    assert grid["kind"] == "grid" and grid["code"] == case.code and len(grid["bbox"]) == 4


@pytest.mark.parametrize("q", ["", "%00", "x" * 101])
def test_search_refuses_what_it_cannot_search(
    client: TestClient, district: dict[str, str], q: str
) -> None:
    answer = client.get(f"/api/v1/search?q={q}", headers=district)
    assert answer.status_code in (400, 422), answer.text


def test_a_tile_source_without_its_datum_refuses_to_start() -> None:
    with pytest.raises(ConfigurationError, match="GRIDMAP_BASEMAP_DATUM"):
        create_app(
            ServerSettings(),
            basemap_settings=BasemapSettings.model_validate(
                {"GRIDMAP_BASEMAP": "xyz", "GRIDMAP_BASEMAP_URL": "https://t.example/{z}/{x}/{y}"}
            ),
        )


def test_a_tile_source_is_announced_and_allowed_as_an_image_source(
    demo_engine: Engine, district: dict[str, str]
) -> None:
    settings = BasemapSettings.model_validate(
        {"GRIDMAP_BASEMAP": "tianditu", "GRIDMAP_TIANDITU_KEY": "0123456789abcdef0123456789abcdef"}
    )
    app = create_app(ServerSettings(), engine=demo_engine, basemap_settings=settings)
    with TestClient(app) as c:
        answer = c.get("/api/v1/basemap", headers=district)
    body = answer.json()
    assert body["source"] == "tianditu" and body["datum"] == "cgcs2000"
    assert body["display"] == "wgs84" and len(body["tiles"]) == 2 and not body["labels"]
    policy = answer.headers["content-security-policy"]
    assert "img-src 'self' data: blob: https://*.tianditu.gov.cn;" in policy
    assert "connect-src 'self'" in policy
