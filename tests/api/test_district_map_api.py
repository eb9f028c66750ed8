"""The light answers of the district map: /api/v1/map/outlines and /api/v1/map/facilities.

On the small district of ``conftest`` (shapes by hand) and the demo district
(bytes at scale: the reason these answers exist).
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from shapely.geometry import shape
from sqlalchemy import Engine

from api.app import create_app
from gis.settings import ServerSettings
from tests.accounts import DEMO_PASSWORD
from tests.http_checks import assert_error, ok


def test_outlines_of_every_level_with_labels(client: Any) -> None:
    answer = client.get("/api/v1/map/outlines")
    body = ok(answer)
    assert answer.headers["content-type"].startswith("application/json")
    assert body["decimals"] == 5 and body["tolerance_m"] == 1.0
    assert [f["properties"]["code"] for f in body["district"]["features"]] == ["370705"]
    assert [f["properties"]["name"] for f in body["communities"]["features"]] == [
        "东苑社区",
        "新华社区",
    ]
    grids = body["grids"]["features"]
    # Only the versions in force: 新华网格, not 新华网格(旧).
    assert [f["properties"]["name"] for f in grids] == ["东苑第一网格", "东苑第二网格", "新华网格"]
    first = grids[0]["properties"]
    assert first["parent_code"] == "370705001001" and first["parent_name"] == "东苑社区"
    label = shape({"type": "Point", "coordinates": first["label"]})
    assert shape(grids[0]["geometry"]).contains(label)
    community = body["communities"]["features"][0]["properties"]
    assert community["parent_name"] == "东关街道" and community["households"] == 400


def test_outlines_revalidate_with_their_etag(client: Any) -> None:
    first = client.get("/api/v1/map/outlines")
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = client.get("/api/v1/map/outlines", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    other = client.get("/api/v1/map/outlines", params={"tolerance_m": "0"})
    assert other.headers["etag"] != tag


@pytest.mark.parametrize("value", ["-1", "51", "nan", "x"])
def test_a_bad_tolerance_is_400(client: Any, value: str) -> None:
    assert_error(client.get("/api/v1/map/outlines", params={"tolerance_m": value}), 400)


def test_facilities_light(client: Any) -> None:
    body = ok(client.get("/api/v1/map/facilities"))
    assert body["type"] == "FeatureCollection"
    props = sorted((f["properties"]["type"], f["properties"]["name"]) for f in body["features"])
    assert props == [("health_station", "东苑社康中心"), ("kindergarten", "新华幼儿园")]
    assert set(body["features"][0]["properties"]) == {"id", "type", "name"}


def test_the_demo_district_in_a_tenth_of_the_bytes(demo_engine: Engine) -> None:
    """All areas and grids of the demo district: under 60 kB gzipped, against ~430 kB for
    the full collections; no vertex moved by more than the tolerance (and the rounding)."""
    from fastapi.testclient import TestClient

    app = create_app(ServerSettings(), engine=demo_engine)
    with TestClient(app) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": "district", "password": DEMO_PASSWORD}
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        light = client.get("/api/v1/map/outlines")
        exact = client.get("/api/v1/grids?limit=1000")
        areas = client.get("/api/v1/areas?limit=1000")
    assert light.status_code == 200
    zipped = len(gzip.compress(light.content, 6))
    full = sum(len(gzip.compress(a.content, 6)) for a in (exact, areas))
    assert zipped < 60_000 and zipped * 5 < full, (zipped, full)
    body = json.loads(light.content)
    grids = {f["id"]: shape(f["geometry"]) for f in body["grids"]["features"]}
    assert len(grids) == 400
    for feature in exact.json()["features"][:50]:
        simple = grids[feature["properties"]["code"]]
        # 1 m plus 1e-5° rounding (~1.1 m): within 3e-5° everywhere.
        assert shape(feature["geometry"]).hausdorff_distance(simple) < 3e-5
