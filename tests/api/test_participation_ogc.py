"""The ``participation`` collection of OGC API - Features on the demo district, read as
tests/api/test_ogc_features.py reads the others: listed, paged, filtered, each item at
its place, facility or community label point, for people and keys with features:read."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from api.app import create_app
from gis.settings import ServerSettings
from tests.api.test_ogc_features import _key, count_sql, items, login
from tests.http_checks import ok

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def client(demo_engine: Engine) -> Iterator[TestClient]:
    app = create_app(ServerSettings(), engine=demo_engine)
    with TestClient(app, headers={"Accept-Language": "en"}) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def map_key(demo_engine: Engine) -> Iterator[str]:
    yield from _key(demo_engine, ("features:read",))


def test_listed_and_read_through_its_pages(
    client: TestClient, demo_engine: Engine, map_key: str
) -> None:
    planner = login(client, "planner")
    listed = ok(client.get("/ogc/collections", headers=planner))["collections"]
    one = next(c for c in listed if c["id"] == "participation")
    west, south, east, north = one["extent"]["spatial"]["bbox"][0]
    assert 119.0 < west < east < 119.4 and 36.5 < south < north < 36.8
    total = count_sql(demo_engine, "SELECT count(*) FROM participation_item")
    seen: set[int] = set()
    page: dict[str, Any] = items(client, planner, "participation", limit=500)
    assert page["numberMatched"] == total > 500
    while True:
        seen |= {f["id"] for f in page["features"]}
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            break
        answer = client.get(nxt[0], headers=planner)
        page = ok(answer)
    assert len(seen) == total
    keyed = items(client, {"X-API-Key": map_key}, "participation", limit=1)
    assert keyed["numberReturned"] == 1
    assert client.get("/ogc/collections/participation/items").status_code == 401


def test_filters_and_where_each_item_stands(client: TestClient, demo_engine: Engine) -> None:
    admin = login(client, "admin")
    micro = count_sql(
        demo_engine, "SELECT count(*) FROM participation_item WHERE kind = 'micro_project'"
    )
    body = items(client, admin, "participation", filter="kind = 'micro_project'", limit=1)
    assert body["numberMatched"] == micro
    with demo_engine.connect() as conn:
        at_facility, lon, lat = conn.execute(
            text(
                "SELECT i.id, ST_X(f.geom), ST_Y(f.geom) FROM participation_item i"
                " JOIN facility f ON f.id = i.facility_id"
                " WHERE i.place IS NULL ORDER BY i.id LIMIT 1"
            )
        ).one()
        in_community = conn.execute(
            text(
                "SELECT min(id) FROM participation_item WHERE place IS NULL AND facility_id IS NULL"
            )
        ).scalar_one()
    one = ok(client.get(f"/ogc/collections/participation/items/{at_facility}", headers=admin))
    assert one["properties"]["located"] == "facility"
    assert one["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-6)
    label = ok(client.get(f"/ogc/collections/participation/items/{in_community}", headers=admin))
    assert label["properties"]["located"] == "community"
    with demo_engine.connect() as conn:
        inside = conn.execute(
            text(
                "SELECT ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) FROM admin_area"
                " WHERE code = :c AND valid_to IS NULL"
            ),
            {
                "x": label["geometry"]["coordinates"][0],
                "y": label["geometry"]["coordinates"][1],
                "c": label["properties"]["community_code"],
            },
        ).scalar_one()
    assert inside
