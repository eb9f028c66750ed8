"""Coverage endpoints and facility writes: shapes, values, errors, and currency.

Three districts: the small hand-made one of ``conftest`` (rolled back after
each test: values checked by hand), the demo district (read only: totals and
consistency at scale) and a committed lattice district of its own
(``tests.coverage_district``) for writes that must reach the coverage caches
through NOTIFY, which fires only on commit.

Small district distances (true metres): the health station at (119.12, 36.73)
is 1,110 m from the building of 80 households at (119.12, 36.74) and 1,425 m
from the one of 120 at (119.11, 36.72); the kindergarten at (119.17, 36.72) is
1,110 m from the building of 200 at (119.17, 36.73).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from pyproj import Geod
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import create_app
from api.dependencies import get_session
from gis.coverage.live import snapshot
from gis.coverage.store import build_coverage
from gis.geo.datum import GCJ02, from_wgs84
from gis.settings import ServerSettings
from tests.accounts import committed_headers, login_headers
from tests.coverage_district import (
    GRIDS,
    KINDERGARTENS,
    LatticeDistrict,
    drop_database,
    fresh_coverage_database,
)
from tests.http_checks import assert_error, ok

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

GEOD = Geod(ellps="GRS80")
ROW_KEYS = {
    "code",
    "name",
    "households",
    "households_covered",
    "households_uncovered",
    "buildings",
    "buildings_covered",
    "coverage_rate",
    "mean_distance_m",
    "p90_distance_m",
}
SMALL_GRIDS = ["370705001001001", "370705001001002", "370705001002001"]
ANY_VERSION = {"If-Match": "*"}
"""Overwrite whatever is stored: for tests about something other than versions."""


def stats(client: TestClient, query: str) -> dict[str, Any]:
    body: dict[str, Any] = ok(client.get(f"/api/v1/coverage?{query}"))
    return body


# --------------------------------------------------------------------------- small district


def test_statistics_per_grid_by_hand(client: TestClient) -> None:
    body = stats(client, "facility_type=health_station&radius_m=1200&by=grid")
    assert (body["facility_type"], body["radius_m"], body["by"]) == ("health_station", 1200, "grid")
    assert body["facility_type_name"] == "社康中心"
    rows = {r["code"]: r for r in body["rows"]}
    assert list(rows) == SMALL_GRIDS
    assert all(set(r) == ROW_KEYS for r in body["rows"])
    west = rows["370705001001001"]
    assert (west["households"], west["households_covered"], west["households_uncovered"]) == (
        200,
        80,
        120,
    )
    assert (west["buildings"], west["buildings_covered"]) == (2, 1)
    assert west["coverage_rate"] == pytest.approx(0.4)
    # Household-weighted: (80 × 1110 + 120 × 1425) / 200.
    assert west["mean_distance_m"] == pytest.approx((80 * 1110.2 + 120 * 1424.6) / 200, abs=2)
    empty = rows["370705001001002"]
    assert empty["households"] == 0
    assert empty["coverage_rate"] is None and empty["mean_distance_m"] is None
    assert body["total"]["code"] == "370705"
    assert body["total"]["households"] == 400
    assert body["total"]["households_covered"] == 80
    assert body["total"]["coverage_rate"] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("by", "codes"),
    [
        ("community", ["370705001001", "370705001002"]),
        ("subdistrict", ["370705001"]),
        ("district", ["370705"]),
    ],
)
def test_statistics_per_level(client: TestClient, by: str, codes: list[str]) -> None:
    body = stats(client, f"facility_type=health_station&radius_m=1500&by={by}")
    assert [r["code"] for r in body["rows"]] == codes
    assert sum(r["households"] for r in body["rows"]) == 400
    assert sum(r["households_covered"] for r in body["rows"]) == 200


def test_default_radius_is_the_catalogue_radius(client: TestClient) -> None:
    body = stats(client, "facility_type=health_station")
    assert body["radius_m"] == 1000
    assert body["total"]["households_covered"] == 0


def test_rings_answer_one_block_per_radius(client: TestClient) -> None:
    body = stats(client, "facility_type=health_station&radius_m=1500,1000,1200&by=community")
    assert body["radii_m"] == [1000, 1200, 1500]
    assert [b["radius_m"] for b in body["rings"]] == [1000, 1200, 1500]
    assert [b["total"]["households_covered"] for b in body["rings"]] == [0, 80, 200]
    for block in body["rings"]:
        single = stats(
            client, f"facility_type=health_station&radius_m={block['radius_m']}&by=community"
        )
        assert block["rows"] == single["rows"]
        assert block["total"] == single["total"]


@pytest.mark.parametrize(
    ("query", "fragments"),
    [
        ("facility_type=zoo", ["未知的设施类型 'zoo'", "health_station", "kindergarten"]),
        ("", ["facility_type"]),
        ("facility_type=kindergarten&radius_m=0", ["outside 1-50,000 metres"]),
        ("facility_type=kindergarten&radius_m=50001", ["outside 1-50,000 metres"]),
        ("facility_type=kindergarten&radius_m=abc", ["not a number of metres"]),
        ("facility_type=kindergarten&radius_m=nan", ["outside"]),
        ("facility_type=kindergarten&by=street", ["by"]),
        (
            "facility_type=kindergarten&radius_m=" + ",".join(map(str, range(100, 1200, 100))),
            ["at most 10"],
        ),
    ],
)
def test_bad_parameters_are_400(client: TestClient, query: str, fragments: list[str]) -> None:
    assert_error(client.get(f"/api/v1/coverage?{query}"), 400, *fragments)


@pytest.mark.parametrize("path", ["buildings", "circles", "blind-spots"])
def test_single_radius_endpoints_refuse_rings(client: TestClient, path: str) -> None:
    response = client.get(f"/api/v1/coverage/{path}?facility_type=kindergarten&radius_m=300,500")
    assert_error(response, 400, "one radius at a time")


def test_buildings_with_nearest_facility_and_redundancy(client: TestClient) -> None:
    body = ok(client.get("/api/v1/coverage/buildings?facility_type=health_station&radius_m=1200"))
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == body["numberReturned"] == 3
    by_hh = {f["properties"]["households"]: f for f in body["features"]}
    covered = by_hh[80]["properties"]
    assert set(covered) == {
        "id",
        "grid_code",
        "households",
        "nearest_m",
        "nearest_facility_id",
        "facilities_within",
        "covered",
    }
    assert covered["covered"] is True and covered["facilities_within"] == 1
    assert covered["nearest_m"] == pytest.approx(1110.2, abs=1)
    assert covered["grid_code"] == "370705001001001"
    assert by_hh[120]["properties"]["covered"] is False
    assert by_hh[120]["properties"]["facilities_within"] == 0
    assert by_hh[80]["geometry"] == {"type": "Point", "coordinates": [119.12, 36.74]}
    facility = ok(client.get("/api/v1/facilities?type=health_station"))["features"][0]
    assert covered["nearest_facility_id"] == facility["id"]


def test_buildings_filters_and_paging(client: TestClient) -> None:
    base = "/api/v1/coverage/buildings?facility_type=health_station&radius_m=1200"
    uncovered = ok(client.get(f"{base}&covered=false"))
    assert sorted(f["properties"]["households"] for f in uncovered["features"]) == [120, 200]
    assert ok(client.get(f"{base}&covered=true"))["numberMatched"] == 1
    grid = ok(client.get(f"{base}&grid=370705001002001"))
    assert [f["properties"]["households"] for f in grid["features"]] == [200]
    boxed = ok(client.get(f"{base}&bbox=119.10,36.70,119.115,36.76"))
    assert [f["properties"]["households"] for f in boxed["features"]] == [120]
    first = ok(client.get(f"{base}&limit=2"))
    assert (first["numberMatched"], first["numberReturned"]) == (3, 2)
    assert any(link["rel"] == "next" for link in first["links"])
    second = ok(client.get(f"{base}&limit=2&offset=2"))
    ids = [f["id"] for f in first["features"] + second["features"]]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert ok(client.get(f"{base}&grid=370705009009009"))["numberMatched"] == 0
    assert_error(client.get(f"{base}&grid=12"), 400, "grid")
    assert_error(client.get(f"{base}&limit=51"), 400, "maximum page size")


def test_circles_are_true_metre_circles(client: TestClient) -> None:
    body = ok(client.get("/api/v1/coverage/circles?facility_type=kindergarten&radius_m=300"))
    assert body["numberMatched"] == 1 and body["radius_m"] == 300
    circle = body["features"][0]
    assert circle["geometry"]["type"] == "Polygon"
    assert circle["properties"]["name"] == "新华幼儿园"
    assert circle["properties"]["radius_m"] == 300
    ring = np.array(circle["geometry"]["coordinates"][0])
    _, _, d = GEOD.inv(
        np.full(len(ring), 119.17), np.full(len(ring), 36.72), ring[:, 0], ring[:, 1]
    )
    # Vertices on the circle to within a few centimetres, in every direction.
    assert d.max() <= 300.02 and d.min() >= 299.9
    east_west = (ring[:, 0].max() - ring[:, 0].min()) / (ring[:, 1].max() - ring[:, 1].min())
    assert east_west == pytest.approx(1 / np.cos(np.radians(36.72)), rel=0.01)


def test_blind_spots_hold_the_uncovered_households(client: TestClient) -> None:
    body = ok(client.get("/api/v1/coverage/blind-spots?facility_type=health_station&radius_m=1200"))
    assert body["type"] == "FeatureCollection"
    props = [f["properties"] for f in body["features"]]
    assert sum(p["households"] for p in props) == 320
    assert {p["community_code"] for p in props} == {"370705001001", "370705001002"}
    assert all(f["geometry"]["type"] == "Polygon" for f in body["features"])


def test_style_and_status(client: TestClient) -> None:
    style = ok(client.get("/api/v1/coverage/style"))
    assert style["ramp"]["classes"][0][0] == 0.0
    assert style["ramp"]["legend"][0]["label"] == "<50%"
    stats(client, "facility_type=kindergarten")
    status = ok(client.get("/api/v1/coverage/status"))
    assert status["listening"] is True
    assert "kindergarten@300" in status["models"]


# --------------------------------------------------------------------------- what-if


def test_what_if_equals_opening_the_facility(client: TestClient) -> None:
    question = {"facility_type": "kindergarten", "open": [{"lon": 119.171, "lat": 36.731}]}
    answer = ok(client.post("/api/v1/coverage/what-if", json=question))
    assert answer["households_gained"] == 200 and answer["households_lost"] == 0
    assert answer["net_households"] == 200
    assert answer["by_grid"] == [
        {"code": "370705001002001", "name": "新华网格", "net_households": 200}
    ]
    assert answer["coverage_rate_before"] == 0.0 and answer["coverage_rate_after"] == 0.5
    assert answer["radius_m"] == 300 and answer["facility_type_name"] == "幼儿园"

    before = stats(client, "facility_type=kindergarten")["total"]["households_covered"]
    created = ok(
        client.post(
            "/api/v1/facilities",
            json={"type": "kindergarten", "name": "新园", "lon": 119.171, "lat": 36.731},
        ),
        201,
    )
    assert created["id"]
    client.app.state.coverage.refresh()  # type: ignore[attr-defined]  # no NOTIFY here: rolled back
    after = stats(client, "facility_type=kindergarten")["total"]["households_covered"]
    assert after - before == answer["net_households"]


def test_what_if_equals_closing_the_facility(client: TestClient) -> None:
    kg = ok(client.get("/api/v1/facilities?type=kindergarten"))["features"][0]["id"]
    question = {"facility_type": "kindergarten", "radius_m": 1200, "close": [kg]}
    answer = ok(client.post("/api/v1/coverage/what-if", json=question))
    assert (answer["households_lost"], answer["net_households"]) == (200, -200)
    assert answer["coverage_rate_after"] == 0.0
    before = stats(client, "facility_type=kindergarten&radius_m=1200")["total"]
    assert before["households_covered"] == 200
    assert client.delete(f"/api/v1/facilities/{kg}", headers=ANY_VERSION).status_code == 204
    client.app.state.coverage.refresh()  # type: ignore[attr-defined]
    after = stats(client, "facility_type=kindergarten&radius_m=1200")["total"]
    assert after["households_covered"] - before["households_covered"] == answer["net_households"]


def test_what_if_accepts_gcj02_points(client: TestClient) -> None:
    lon, lat = from_wgs84([119.171], [36.731], GCJ02)
    question = {
        "facility_type": "kindergarten",
        "open": [{"lon": float(lon[0]), "lat": float(lat[0]), "datum": "gcj02"}],
    }
    assert ok(client.post("/api/v1/coverage/what-if", json=question))["net_households"] == 200
    # The same numbers read as WGS84 lie ~500 m off: nothing is gained.
    question["open"][0]["datum"] = "wgs84"
    assert ok(client.post("/api/v1/coverage/what-if", json=question))["net_households"] == 0


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"facility_type": "zoo"}, 422, "未知的设施类型 'zoo'"),
        ({"facility_type": "kindergarten", "close": [999999]}, 422, "not an open facility"),
        ({"facility_type": "kindergarten", "open": [{"lon": 119.1}]}, 422, "lat"),
        ({"facility_type": "kindergarten", "open": [{"lon": 36.7, "lat": 119.1}]}, 422, "swapped"),
        ({"facility_type": "kindergarten", "radius_m": -5}, 422, "radius_m"),
        ({"facility_type": "kindergarten", "opn": []}, 422, "opn"),
        (
            {"facility_type": "kindergarten", "open": [{"lon": 1, "lat": 1, "datum": "xy"}]},
            422,
            "datum",
        ),
    ],
)
def test_bad_what_if_questions_are_422(
    client: TestClient, body: dict[str, Any], status: int, fragment: str
) -> None:
    assert_error(client.post("/api/v1/coverage/what-if", json=body), status, fragment)


def test_closing_a_facility_of_another_type_is_refused(client: TestClient) -> None:
    health = ok(client.get("/api/v1/facilities?type=health_station"))["features"][0]["id"]
    response = client.post(
        "/api/v1/coverage/what-if", json={"facility_type": "kindergarten", "close": [health]}
    )
    assert_error(response, 422, f"facility {health} is not an open facility of type kindergarten")


# --------------------------------------------------------------------------- facility writes


def test_post_a_facility_as_json(client: TestClient) -> None:
    response = client.post(
        "/api/v1/facilities",
        json={
            "type": "kindergarten",
            "name": "东苑幼儿园",
            "lon": 119.11,
            "lat": 36.71,
            "capacity": 180,
            "floor_area_m2": 1200.5,
            "opening_hours": "07:30-17:30",
            "ext_id": "EXT-1",
        },
    )
    created = ok(response, 201)
    assert response.headers["location"] == f"/api/v1/facilities/{created['id']}"
    assert created["geometry"] == {"type": "Point", "coordinates": [119.11, 36.71]}
    props = created["properties"]
    assert props["community_code"] == "370705001001"
    assert (props["type"], props["type_name_zh"], props["radius_m"]) == (
        "kindergarten",
        "幼儿园",
        300,
    )
    assert (props["capacity"], props["floor_area_m2"], props["ext_id"]) == (180, 1200.5, "EXT-1")
    assert ok(client.get(f"/api/v1/facilities/{created['id']}")) == created
    listed = ok(client.get("/api/v1/facilities?type=kindergarten"))
    assert created["id"] in [f["id"] for f in listed["features"]]


def test_post_a_geojson_feature_in_gcj02(client: TestClient, db: Session) -> None:
    lon, lat = from_wgs84([119.16], [36.75], GCJ02)
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [float(lon[0]), float(lat[0])]},
        "properties": {"type": "health_station", "name": "新华社康", "datum": "gcj02"},
    }
    created = ok(client.post("/api/v1/facilities", json=feature), 201)
    stored = created["geometry"]["coordinates"]
    _, _, offset = GEOD.inv(stored[0], stored[1], 119.16, 36.75)
    assert offset < 0.05  # metres: converted back to WGS84
    assert created["properties"]["community_code"] == "370705001002"
    # The feature as GET answers it can be sent back (read-only properties are ignored),
    # with the ETag it came with.
    again = {**created, "properties": {**created["properties"], "name": "新华社康二站"}}
    moved = ok(
        client.patch(
            f"/api/v1/facilities/{created['id']}",
            json=again,
            headers={"If-Match": f'"{created["id"]}-1"'},
        )
    )
    assert moved["properties"]["name"] == "新华社康二站"
    assert moved["properties"]["version"] == 2
    assert moved["geometry"] == created["geometry"]


def test_patch_moves_renames_and_clears(client: TestClient) -> None:
    kg = ok(client.get("/api/v1/facilities?type=kindergarten"))["features"][0]
    assert kg["properties"]["community_code"] == "370705001002"
    moved = ok(
        client.patch(
            f"/api/v1/facilities/{kg['id']}",
            json={
                "lon": 119.12,
                "lat": 36.75,
                "name": "搬迁后",
                "capacity": None,
                "expected_version": kg["properties"]["version"],
            },
        )
    )
    assert moved["geometry"]["coordinates"] == [119.12, 36.75]
    assert moved["properties"]["community_code"] == "370705001001"
    assert moved["properties"]["name"] == "搬迁后"
    assert moved["properties"]["capacity"] is None
    retyped = ok(
        client.patch(
            f"/api/v1/facilities/{kg['id']}", json={"type": "health_station"}, headers=ANY_VERSION
        )
    )
    assert retyped["properties"]["type"] == "health_station"
    assert retyped["geometry"] == moved["geometry"]


def test_delete_removes_the_facility(client: TestClient) -> None:
    kg = ok(client.get("/api/v1/facilities?type=kindergarten"))["features"][0]["id"]
    etag = client.get(f"/api/v1/facilities/{kg}").headers["etag"]
    response = client.delete(f"/api/v1/facilities/{kg}", headers={"If-Match": etag})
    assert response.status_code == 204 and response.content == b""
    assert_error(client.get(f"/api/v1/facilities/{kg}"), 404, f"no facility has id {kg}")
    assert_error(client.delete(f"/api/v1/facilities/{kg}", headers=ANY_VERSION), 404, "no facility")


GOOD = {"type": "kindergarten", "name": "园", "lon": 119.11, "lat": 36.71}


@pytest.mark.parametrize(
    ("change", "code", "fragment"),
    [
        ({"lon": 119.30}, "OutsideDistrict", "outside the district 奎文区 (370705)"),
        ({"lon": 36.71, "lat": 119.11}, "InvalidFeature", "swapped"),
        ({"type": "zoo"}, "InvalidFeature", "已有类型：health_station (社康中心)"),
        ({"name": "   "}, "InvalidFeature", "name must be a non-empty text"),
        ({"name": ""}, "InvalidBody", "name"),
        ({"capacity": -1}, "InvalidBody", "capacity"),
        ({"capacity": 1.5}, "InvalidBody", "capacity"),
        ({"floor_area_m2": 0}, "InvalidBody", "floor_area_m2"),
        ({"lng": 119.11}, "InvalidBody", "lng"),
        ({"datum": "baidu"}, "InvalidBody", "unknown datum 'baidu'"),
        ({"datum": "EPSG:4549"}, "InvalidBody", "projected"),
    ],
)
def test_bad_facilities_are_422_with_a_reason(
    client: TestClient, change: dict[str, Any], code: str, fragment: str
) -> None:
    body = assert_error(client.post("/api/v1/facilities", json={**GOOD, **change}), 422, fragment)
    assert body["code"] == code


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[1, 2]",
        b"{not json",
        b'{"type": "Feature", "geometry": {"type": "LineString", "coordinates": []}}',
    ],
)
def test_malformed_bodies_are_422(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/api/v1/facilities", content=body, headers={"content-type": "application/json"}
    )
    assert assert_error(response, 422)["code"] == "InvalidBody"


def test_patch_errors(client: TestClient) -> None:
    assert_error(client.patch("/api/v1/facilities/999999", json={"name": "x"}), 404, "no facility")
    kg = ok(client.get("/api/v1/facilities?type=kindergarten"))["features"][0]["id"]

    def patch(body: dict[str, Any]) -> Any:
        return client.patch(f"/api/v1/facilities/{kg}", json=body, headers=ANY_VERSION)

    assert_error(patch({"lon": 119.11}), 422, "both lon and lat")
    assert_error(patch({"name": None}), 422, "cannot be cleared")
    assert_error(patch({"type": None}), 422, "type cannot be")
    assert_error(client.patch("/api/v1/facilities/abc", json={}), 400, "facility_id")


def test_duplicate_ext_id_is_409(client: TestClient) -> None:
    ok(client.post("/api/v1/facilities", json={**GOOD, "ext_id": "DUP"}), 201)
    assert_error(client.post("/api/v1/facilities", json={**GOOD, "ext_id": "DUP"}), 409, "ext_id")


@pytest.fixture
def small_limit_client(engine: Engine, db: Session, small_district: Any) -> Iterator[TestClient]:
    settings = ServerSettings.model_validate({"GRIDMAP_MAX_UPLOAD_BYTES": 300})
    app = create_app(settings, engine=engine)
    app.dependency_overrides[get_session] = lambda: db
    with TestClient(app, headers=login_headers(db, "planner-413", "planner")) as test_client:
        yield test_client


def test_oversized_bodies_are_413(client: TestClient, small_limit_client: TestClient) -> None:
    padded = {**GOOD, "address": "长" * 200}
    body = assert_error(
        small_limit_client.post("/api/v1/facilities", json=padded), 413, "300 bytes"
    )
    assert body["code"] == "PayloadTooLarge"
    ok(small_limit_client.post("/api/v1/facilities", json=GOOD), 201)
    huge = b'{"name": "' + b"x" * 70_000 + b'"}'
    for path, method in (("/api/v1/facilities", "POST"), ("/api/v1/coverage/what-if", "POST")):
        response = client.request(
            method, path, content=huge, headers={"content-type": "application/json"}
        )
        assert_error(response, 413, "65,536 bytes")
    chunks = (b"x" * 10_000 for _ in range(10))  # streamed, no Content-Length
    response = client.post(
        "/api/v1/facilities", content=chunks, headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "65,536 bytes")


def test_openapi_documents_the_write_and_coverage_endpoints(client: TestClient) -> None:
    paths = ok(client.get("/openapi.json"))["paths"]
    for path in (
        "/api/v1/coverage",
        "/api/v1/coverage/buildings",
        "/api/v1/coverage/circles",
        "/api/v1/coverage/blind-spots",
        "/api/v1/coverage/what-if",
    ):
        assert path in paths
    post = paths["/api/v1/facilities"]["post"]
    schemas = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert {"type", "name", "lon", "lat"} <= set(schemas[0]["properties"])
    assert set(paths["/api/v1/facilities/{facility_id}"]) == {"get", "patch", "delete"}
    assert "/coverage" not in paths


# --------------------------------------------------------------------------- demo district


@pytest.fixture(scope="module")
def demo_client(demo_engine: Engine) -> Iterator[TestClient]:
    app = create_app(ServerSettings(), engine=demo_engine)
    with TestClient(app, headers=committed_headers(demo_engine, "planner")) as test_client:
        yield test_client


def test_demo_statistics_add_up(demo_client: TestClient, demo_engine: Engine) -> None:
    body = stats(demo_client, "facility_type=kindergarten&by=grid")
    total = body["total"]
    with demo_engine.connect() as conn:
        grids = conn.execute(text("SELECT count(*) FROM grid WHERE valid_to IS NULL")).scalar()
        model = build_coverage(conn, "kindergarten", 300)
    assert len(body["rows"]) == grids
    assert sum(r["households"] for r in body["rows"]) == total["households"]
    assert sum(r["households_covered"] for r in body["rows"]) == total["households_covered"]
    assert total["households_covered"] == int(model.index.hh_covered.sum())
    for row in body["rows"]:
        if row["households"]:
            assert row["coverage_rate"] == pytest.approx(
                row["households_covered"] / row["households"]
            )
    for by in ("community", "subdistrict", "district"):
        level = stats(demo_client, f"facility_type=kindergarten&by={by}")
        assert sum(r["households_covered"] for r in level["rows"]) == total["households_covered"]


def test_demo_uncovered_buildings_match_the_statistics(demo_client: TestClient) -> None:
    total = stats(demo_client, "facility_type=kindergarten")["total"]
    query = "facility_type=kindergarten&covered=false&limit=5000"
    features: list[dict[str, Any]] = []
    url: str | None = f"/api/v1/coverage/buildings?{query}"
    while url:
        page = ok(demo_client.get(url))
        features += page["features"]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert len(features) == page["numberMatched"]
    assert len(features) == total["buildings"] - total["buildings_covered"]
    assert sum(f["properties"]["households"] for f in features) == total["households_uncovered"]
    assert all(f["properties"]["nearest_m"] > 300 for f in features)
    assert all(f["properties"]["facilities_within"] == 0 for f in features)


def test_demo_circles_one_per_facility(demo_client: TestClient) -> None:
    circles = ok(demo_client.get("/api/v1/coverage/circles?facility_type=kindergarten"))
    facilities = ok(demo_client.get("/api/v1/facilities?type=kindergarten&limit=5000"))
    assert sorted(c["properties"]["facility_id"] for c in circles["features"]) == sorted(
        f["id"] for f in facilities["features"]
    )


def test_demo_what_if_equals_applying_the_change(demo_client: TestClient) -> None:
    service = demo_client.app.state.coverage  # type: ignore[attr-defined]
    points = [(119.150, 36.710), (119.120, 36.735)]
    facilities = ok(demo_client.get("/api/v1/facilities?type=kindergarten&limit=3"))["features"]
    closing = [f["id"] for f in facilities[:2]]
    question = {
        "facility_type": "kindergarten",
        "radius_m": 500,
        "open": [{"lon": lon, "lat": lat} for lon, lat in points],
        "close": closing,
    }
    answer = ok(demo_client.post("/api/v1/coverage/what-if", json=question))
    with service.view("kindergarten", 500) as model:
        applied = snapshot(model)
    before = applied.index.hh_covered.copy()
    for facility_id in closing:
        applied.index.remove_facility(facility_id)
    for n, (lon, lat) in enumerate(points):
        applied.index.add_facility(-1 - n, applied.plane.to_plane([lon], [lat])[0])
    change = applied.index.hh_covered - before
    assert answer["net_households"] == int(change.sum())
    expected = {applied.areas.grid_codes[g]: int(v) for g, v in enumerate(change) if v}
    assert {g["code"]: g["net_households"] for g in answer["by_grid"]} == expected
    assert answer["households_gained"] > 0 and answer["households_lost"] > 0
    assert answer["coverage_rate_after"] == pytest.approx(
        (answer["households_covered_before"] + answer["net_households"]) / answer["households"],
        abs=1e-4,
    )


def test_demo_blind_spots_hold_every_uncovered_household(demo_client: TestClient) -> None:
    total = stats(demo_client, "facility_type=community_health_station")["total"]
    spots = ok(
        demo_client.get("/api/v1/coverage/blind-spots?facility_type=community_health_station")
    )
    assert spots["numberMatched"] == len(spots["features"]) > 0
    households = sum(f["properties"]["households"] for f in spots["features"])
    assert households == total["households_uncovered"]


# --------------------------------------------------------------------------- through NOTIFY


@pytest.fixture(scope="module")
def lattice(server_url: str) -> Iterator[LatticeDistrict]:
    made = fresh_coverage_database(server_url, "gridmap_coverage_api_test")
    yield made
    drop_database(server_url, made)


@pytest.fixture(scope="module")
def lattice_client(lattice: LatticeDistrict) -> Iterator[TestClient]:
    app = create_app(ServerSettings(), engine=lattice.engine)
    with TestClient(app, headers=committed_headers(lattice.engine)) as test_client:
        yield test_client


def _per_grid(client: TestClient) -> dict[str, int]:
    body = stats(client, "facility_type=kindergarten&by=grid")
    return {r["code"]: r["households_covered"] for r in body["rows"]}


def _fresh_total(lattice: LatticeDistrict) -> int:
    with lattice.engine.connect() as conn:
        return int(build_coverage(conn, "kindergarten", 300).index.hh_covered.sum())


def test_writes_reach_coverage_incrementally_through_notify(
    lattice_client: TestClient, lattice: LatticeDistrict
) -> None:
    client = lattice_client
    before = _per_grid(client)
    status = ok(client.get("/api/v1/coverage/status"))
    assert status["listening"] and "kindergarten@300" in status["models"]
    builds = status["builds"]

    where = {"lon": 119.131, "lat": 36.749}
    answer = ok(
        client.post(
            "/api/v1/coverage/what-if", json={"facility_type": "kindergarten", "open": [where]}
        )
    )
    assert answer["net_households"] > 0
    created = ok(
        client.post("/api/v1/facilities", json={"type": "kindergarten", "name": "新园", **where}),
        201,
    )
    facility = created["id"]
    created_etag = f'"{facility}-1"'
    try:
        after = _per_grid(client)  # the very next request sees the new facility
        assert {g: after[g] - before[g] for g in GRIDS if after[g] != before[g]} == {
            g["code"]: g["net_households"] for g in answer["by_grid"]
        }
        assert sum(after.values()) == _fresh_total(lattice)
        status = ok(client.get("/api/v1/coverage/status"))
        assert status["builds"] == builds, "the POST caused a rebuild"
        assert status["last_change"]["mode"] == "incremental"
        assert (status["last_change"]["op"], status["last_change"]["id"]) == ("insert", facility)
        assert status["last_change"]["lag_ms"] >= 0
        incremental = status["incremental_updates"]

        moved = ok(
            client.patch(
                f"/api/v1/facilities/{facility}",
                json={"lon": 119.187, "lat": 36.702},
                headers={"If-Match": created_etag},
            )
        )
        assert moved["properties"]["community_code"] == "370705001002"
        assert sum(_per_grid(client).values()) == _fresh_total(lattice)
        status = ok(client.get("/api/v1/coverage/status"))
        assert status["incremental_updates"] == incremental + 1
        assert status["last_change"]["op"] == "update"

        renamed = ok(
            client.patch(
                f"/api/v1/facilities/{facility}",
                json={"name": "改名", "expected_version": moved["properties"]["version"]},
            )
        )
        assert renamed["properties"]["name"] == "改名"
        # A rename notifies since migration 0011 (tiles show names); coverage reads the
        # facility back, finds nothing it uses changed, and neither updates nor rebuilds.
        after_rename = ok(client.get("/api/v1/coverage/status"))
        assert after_rename["incremental_updates"] == status["incremental_updates"]
        assert after_rename["builds"] == status["builds"]
        assert after_rename["last_change"]["mode"] == "none"
    finally:
        deleted = client.delete(f"/api/v1/facilities/{facility}", headers=ANY_VERSION)
        assert deleted.status_code == 204
    assert _per_grid(client) == before
    status = ok(client.get("/api/v1/coverage/status"))
    assert status["builds"] == builds
    assert status["last_change"]["op"] == "delete"


def test_an_outside_write_reaches_the_api_too(
    lattice_client: TestClient, lattice: LatticeDistrict
) -> None:
    """Another system writing straight to the database is seen without a rebuild."""
    client = lattice_client
    before = stats(client, "facility_type=kindergarten")["total"]["households_covered"]
    builds = ok(client.get("/api/v1/coverage/status"))["builds"]
    lon, lat = KINDERGARTENS[0]
    with lattice.engine.begin() as conn:
        facility = conn.execute(
            text(
                "DELETE FROM facility WHERE type_code = 'kindergarten'"
                " AND ST_Equals(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
                " RETURNING id, name, geom"
            ),
            {"lon": lon, "lat": lat},
        ).one()
    try:
        assert client.app.state.coverage.sync()  # type: ignore[attr-defined]
        after = stats(client, "facility_type=kindergarten")["total"]["households_covered"]
        assert after < before
        assert after == _fresh_total(lattice)
        assert ok(client.get("/api/v1/coverage/status"))["builds"] == builds
    finally:
        with lattice.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO facility (id, type_code, name, geom)"
                    " VALUES (:i, 'kindergarten', :n, :g)"
                ),
                {"i": facility.id, "n": facility.name, "g": facility.geom},
            )
        assert client.app.state.coverage.sync()  # type: ignore[attr-defined]
    assert stats(client, "facility_type=kindergarten")["total"]["households_covered"] == before


def test_coverage_page_and_the_link_from_the_district_map(client: TestClient) -> None:
    page = client.get("/coverage")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for asset in ("/static/vendor/leaflet/leaflet.js", "/static/js/coverage.js"):
        assert asset in page.text
        assert client.get(asset).status_code == 200
    assert "window.GRIDMAP_COVERAGE = " in page.text and "http" not in page.text.split("<body>")[1]
    assert 'href="/coverage"' in client.get("/").text


# --------------------------------------------------------------------------- facility versions


def _etag(facility: dict[str, Any]) -> str:
    return f'"{facility["id"]}-{facility["properties"]["version"]}"'


def test_versions_rise_and_etags_round_trip(client: TestClient) -> None:
    response = client.post("/api/v1/facilities", json=GOOD)
    created = ok(response, 201)
    facility = created["id"]
    assert created["properties"]["version"] == 1
    assert response.headers["etag"] == f'"{facility}-1"'
    read = client.get(f"/api/v1/facilities/{facility}")
    assert read.headers["etag"] == f'"{facility}-1"' and ok(read) == created
    etag = read.headers["etag"]
    for n, name in enumerate(["一", "二", "三"], start=2):
        response = client.patch(
            f"/api/v1/facilities/{facility}", json={"name": name}, headers={"If-Match": etag}
        )
        changed = ok(response)
        assert changed["properties"]["version"] == n and changed["properties"]["name"] == name
        assert response.headers["etag"] == f'"{facility}-{n}"' == _etag(changed)
        etag = response.headers["etag"]
    # A change with nothing to set changes nothing, not even the version.
    same = client.patch(f"/api/v1/facilities/{facility}", json={}, headers={"If-Match": etag})
    assert ok(same)["properties"]["version"] == 4 and same.headers["etag"] == etag
    listed = ok(client.get("/api/v1/facilities?type=kindergarten&limit=50"))["features"]
    assert {f["id"]: f["properties"]["version"] for f in listed}[facility] == 4


def test_a_stale_if_match_is_412_and_changes_nothing(client: TestClient) -> None:
    kg = ok(client.get("/api/v1/facilities?type=kindergarten"))["features"][0]
    first = client.patch(
        f"/api/v1/facilities/{kg['id']}", json={"name": "甲改"}, headers={"If-Match": _etag(kg)}
    )
    ok(first)
    for stale in (_etag(kg), f'W/"{kg["id"]}-2"', f'"{kg["id"] + 1}-2"', '"something-else"'):
        response = client.patch(
            f"/api/v1/facilities/{kg['id']}", json={"name": "乙改"}, headers={"If-Match": stale}
        )
        body = assert_error(response, 412, "If-Match 与设施", "第 2 版")
        assert body["code"] == "PreconditionFailed"
        assert (body["current_version"], body["etag"]) == (2, first.headers["etag"])
    assert ok(client.get(f"/api/v1/facilities/{kg['id']}"))["properties"]["name"] == "甲改"


def test_a_stale_expected_version_is_409_like_incidents(client: TestClient) -> None:
    kg = ok(client.get("/api/v1/facilities?type=kindergarten"))["features"][0]
    url = f"/api/v1/facilities/{kg['id']}"
    ok(client.patch(url, json={"capacity": 10, "expected_version": 1}))
    body = assert_error(
        client.patch(url, json={"capacity": 20, "expected_version": 1}),
        409,
        f"设施 {kg['id']} 已是第 2 版，不是第 1 版",
    )
    assert (body["code"], body["current_version"]) == ("StaleVersion", 2)
    assert body["etag"] == f'"{kg["id"]}-2"'
    # Inside a Feature the version goes with the properties.
    feature = {"type": "Feature", "properties": {"capacity": 30, "expected_version": 1}}
    assert_error(client.patch(url, json=feature), 409, "不是第 1 版")
    feature["properties"]["expected_version"] = 2
    assert ok(client.patch(url, json=feature))["properties"]["capacity"] == 30
    assert ok(client.get(url))["properties"]["version"] == 3


def test_a_write_without_a_version_is_428(client: TestClient) -> None:
    kg = ok(client.get("/api/v1/facilities?type=kindergarten"))["features"][0]
    url = f"/api/v1/facilities/{kg['id']}"
    body = assert_error(client.patch(url, json={"name": "盲写"}), 428, "If-Match", "If-Match: *")
    assert body["code"] == "PreconditionRequired"
    assert_error(client.delete(url), 428, "expected_version")
    assert ok(client.get(url)) == kg
    # Naming no version on purpose overwrites whatever is stored.
    assert ok(client.patch(url, json={"name": "覆盖"}, headers=ANY_VERSION))["properties"][
        "version"
    ] == (kg["properties"]["version"] + 1)


@pytest.mark.parametrize(
    ("if_match", "body", "status", "fragment"),
    [
        ("17-1", {}, 400, "is not an entity tag"),
        ('"1-1", "1-2"', {}, 400, "one entity tag"),
        ('"{id}-1"', {"expected_version": 2}, 400, "different versions"),
        ("*", {"expected_version": 5}, 409, "不是第 5 版"),
    ],
)
def test_malformed_or_contradicting_preconditions(
    client: TestClient, if_match: str, body: dict[str, Any], status: int, fragment: str
) -> None:
    kg = ok(client.get("/api/v1/facilities?type=kindergarten"))["features"][0]
    response = client.patch(
        f"/api/v1/facilities/{kg['id']}",
        json={"name": "x", **body},
        headers={"If-Match": if_match.replace("{id}", str(kg["id"]))},
    )
    assert_error(response, status, fragment)


def test_delete_honours_if_match_and_expected_version(client: TestClient) -> None:
    kg = ok(client.get("/api/v1/facilities?type=kindergarten"))["features"][0]
    url = f"/api/v1/facilities/{kg['id']}"
    ok(client.patch(url, json={"name": "改"}, headers={"If-Match": _etag(kg)}))
    assert_error(client.delete(url, headers={"If-Match": _etag(kg)}), 412, "第 2 版")
    assert_error(client.delete(f"{url}?expected_version=1"), 409, "不是第 1 版")
    assert ok(client.get(url))["properties"]["name"] == "改"
    assert client.delete(f"{url}?expected_version=2").status_code == 204
    assert_error(client.get(url), 404)


def test_any_writer_raises_the_version(client: TestClient, db: Session) -> None:
    """A DBA in psql or another system moves the ETag too, and cannot set the version."""
    kg = ok(client.get("/api/v1/facilities?type=kindergarten"))["features"][0]
    db.execute(
        text("UPDATE facility SET version = 1, address = 'x' WHERE id = :i"), {"i": kg["id"]}
    )
    after = client.get(f"/api/v1/facilities/{kg['id']}")
    assert ok(after)["properties"]["version"] == kg["properties"]["version"] + 1
    assert after.headers["etag"] != _etag(kg)


def test_openapi_documents_the_preconditions(client: TestClient) -> None:
    paths = ok(client.get("/openapi.json"))["paths"]["/api/v1/facilities/{facility_id}"]
    for method in ("patch", "delete"):
        assert {"412", "428", "409"} <= set(paths[method]["responses"])
        assert "If-Match" in {p["name"] for p in paths[method]["parameters"]}
    assert "ETag" in paths["get"]["responses"]["200"]["headers"]
    assert "expected_version" in str(paths["patch"]["requestBody"])


def test_concurrent_patches_with_one_etag_have_one_winner(
    lattice_client: TestClient, lattice: LatticeDistrict
) -> None:
    """32 planners read the same version and move the facility at once: one move is
    stored, 31 are told to reload, and coverage follows the one stored."""
    client = lattice_client
    where = {"lon": 119.131, "lat": 36.749}
    created = client.post(
        "/api/v1/facilities", json={"type": "kindergarten", "name": "争抢园", **where}
    )
    facility, etag = ok(created, 201)["id"], created.headers["etag"]
    moves = [(round(119.105 + 0.002 * i, 3), round(36.705 + 0.001 * i, 3)) for i in range(32)]
    barrier = threading.Barrier(len(moves))

    def move(lon_lat: tuple[float, float]) -> Any:
        barrier.wait()
        lon, lat = lon_lat
        return client.patch(
            f"/api/v1/facilities/{facility}",
            json={"lon": lon, "lat": lat},
            headers={"If-Match": etag},
        )

    try:
        with ThreadPoolExecutor(len(moves)) as pool:
            responses = list(pool.map(move, moves))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [412] * 31, statuses
        won = next(r for r in responses if r.status_code == 200)
        assert won.headers["etag"] == f'"{facility}-2"'
        for lost in (r for r in responses if r.status_code == 412):
            assert (lost.json()["current_version"], lost.json()["etag"]) == (2, won.headers["etag"])
        stored = ok(client.get(f"/api/v1/facilities/{facility}"))
        assert stored["properties"]["version"] == 2
        assert stored["geometry"] == won.json()["geometry"]
        assert tuple(stored["geometry"]["coordinates"]) in moves
        # The coverage cache follows the one stored move, as a fresh build does.
        assert sum(_per_grid(client).values()) == _fresh_total(lattice)
    finally:
        deleted = client.delete(f"/api/v1/facilities/{facility}", headers=ANY_VERSION)
        assert deleted.status_code == 204
