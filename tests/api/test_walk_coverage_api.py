"""Coverage by walking distance through the API: method=network, minutes=, circle vs walk,
service areas, on the demo district (read only) and the small hand-made one (no network)."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import Engine

from api.app import create_app
from gis.coverage.live import snapshot
from gis.coverage.store import build_coverage
from gis.settings import ServerSettings
from tests.accounts import committed_headers
from tests.http_checks import assert_error, ok

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

KG = "facility_type=kindergarten"


@pytest.fixture(scope="module")
def demo_client(demo_engine: Engine) -> Iterator[TestClient]:
    app = create_app(ServerSettings(), engine=demo_engine)
    with TestClient(app, headers=committed_headers(demo_engine, "planner")) as test_client:
        yield test_client


def total(client: TestClient, query: str) -> dict[str, Any]:
    return ok(client.get(f"/api/v1/coverage?{query}&by=district"))["total"]


def test_walking_coverage_is_the_walking_model_and_below_the_circle(
    demo_client: TestClient, demo_engine: Engine
) -> None:
    walk = total(demo_client, f"{KG}&method=network")
    circle = total(demo_client, KG)
    with demo_engine.connect() as conn:
        model = build_coverage(conn, "kindergarten", 300, method="network")
    assert walk["households_covered"] == int(model.index.hh_covered.sum())
    assert walk["households"] == circle["households"]
    assert walk["households_covered"] < circle["households_covered"]
    assert walk["mean_distance_m"] > circle["mean_distance_m"]
    body = ok(demo_client.get(f"/api/v1/coverage?{KG}&method=network"))
    assert body["method"] == "network"


def test_minutes_are_metres_at_the_walking_speed(demo_client: TestClient) -> None:
    by_minutes = ok(demo_client.get(f"/api/v1/coverage?{KG}&method=network&minutes=5,10"))
    assert by_minutes["radii_m"] == [300, 600]
    by_metres = ok(demo_client.get(f"/api/v1/coverage?{KG}&method=network&radius_m=300,600"))
    assert by_minutes["rings"] == by_metres["rings"]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("radius_m=300&minutes=5", "not both"),
        ("minutes=0", "positive"),
        ("minutes=abc", "not a number"),
        ("minutes=5000", "outside"),
        ("method=walk", "method"),
    ],
)
def test_bad_walking_questions_are_400_or_422(
    demo_client: TestClient, query: str, fragment: str
) -> None:
    answer = demo_client.get(f"/api/v1/coverage?{KG}&{query}", headers={"Accept-Language": "en"})
    assert answer.status_code in (400, 422), answer.text
    assert fragment in answer.text


def test_circle_vs_walk_adds_up_and_matches_the_documented_demo_figures(
    demo_client: TestClient,
) -> None:
    body = ok(demo_client.get(f"/api/v1/coverage/compare?{KG}&by=grid"))
    district = body["total"]
    circle, walk = total(demo_client, KG), total(demo_client, f"{KG}&method=network")
    assert district["households_circle"] == circle["households_covered"]
    assert district["households_walk"] == walk["households_covered"]
    assert (
        district["households_overstated"]
        == circle["households_covered"] - walk["households_covered"]
    )
    assert (
        sum(r["households_overstated"] for r in body["rows"]) == district["households_overstated"]
    )
    # docs/network.md: kindergartens at 300 m, 13,492 households by circle, 3,938 by walk.
    assert (district["households_circle"], district["households_walk"]) == (13_492, 3_938)

    features: list[dict[str, Any]] = []
    url: str | None = f"/api/v1/coverage/compare/buildings?{KG}&limit=2000"
    while url:
        page = ok(demo_client.get(url))
        features += page["features"]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert len(features) == page["numberMatched"] == district["buildings_overstated"]
    assert sum(f["properties"]["households"] for f in features) == district["households_overstated"]
    for f in features:
        p = f["properties"]
        assert p["circle_m"] <= 300 and (p["walk_m"] is None or p["walk_m"] > 300)


def test_service_areas_nest_and_hold_the_covered_buildings(demo_client: TestClient) -> None:
    body = ok(demo_client.get(f"/api/v1/coverage/service-areas?{KG}&radius_m=300,500,1000"))
    assert body["radii_m"] == [300, 500, 1000]
    areas = [shape(f["geometry"]) for f in body["features"]]
    assert [f["properties"]["cutoff_m"] for f in body["features"]] == [300, 500, 1000]
    sizes = [f["properties"]["area_m2"] for f in body["features"]]
    assert sizes == sorted(sizes) and sizes[0] > 0
    for small, large in itertools.pairwise(areas):
        # Traced outlines stand within a raster cell (5 m or so) of the exact band.
        assert small.difference(large.buffer(0.0001)).area < 1e-3 * small.area
    # Where each building covered by walk at 300 m steps onto the network lies in the area.
    service = demo_client.app.state.coverage  # type: ignore[attr-defined]
    with service.view("kindergarten", 300, method="network") as model:
        rows = np.flatnonzero(model.index.covered)
        joined = model.walk.buildings.take(rows)
        at = shapely.line_interpolate_point(
            model.walk.network.geoms[joined.edge], joined.fraction, normalized=True
        )
        lon, lat = model.plane.to_lonlat(shapely.get_coordinates(at))
    inside = shapely.dwithin(areas[0], shapely.points(lon, lat), 0.00005)  # ~5 m: a cell
    assert len(rows) > 100 and inside.all()
    # One facility's own areas lie within the merged ones.
    first = ok(demo_client.get("/api/v1/facilities?type=kindergarten&limit=1"))["features"][0]
    own = ok(
        demo_client.get(
            f"/api/v1/coverage/service-areas?{KG}&radius_m=300,1000&facility_id={first['id']}"
        )
    )
    assert own["facility_id"] == first["id"]
    assert [f["properties"]["facilities"] for f in own["features"]] == [1, 1]
    mine = [shape(f["geometry"]) for f in own["features"]]
    assert mine[0].area < mine[1].area
    assert mine[1].difference(areas[2].buffer(0.0001)).area < 1e-3 * mine[1].area
    missing = demo_client.get(
        f"/api/v1/coverage/service-areas?{KG}&facility_id=999999",
        headers={"Accept-Language": "en"},
    )
    assert_error(missing, 404, "not an open facility of type kindergarten")
    by_minutes = ok(demo_client.get(f"/api/v1/coverage/service-areas?{KG}&minutes=5"))
    assert by_minutes["features"][0]["properties"]["cutoff_m"] == 300


def test_walking_circles_are_service_areas_one_per_facility(demo_client: TestClient) -> None:
    circles = ok(demo_client.get(f"/api/v1/coverage/circles?{KG}"))
    walks = ok(demo_client.get(f"/api/v1/coverage/circles?{KG}&method=network"))
    assert walks["method"] == "network"
    by_id = {f["id"]: shape(f["geometry"]) for f in circles["features"]}
    assert {f["id"] for f in walks["features"]} == set(by_id)
    smaller = [shape(f["geometry"]).area < by_id[f["id"]].area for f in walks["features"]]
    assert all(smaller)


def test_walking_blind_spots_hold_every_household_uncovered_by_walk(
    demo_client: TestClient,
) -> None:
    walk = total(demo_client, f"{KG}&method=network")
    spots = ok(demo_client.get(f"/api/v1/coverage/blind-spots?{KG}&method=network"))
    households = sum(f["properties"]["households"] for f in spots["features"])
    assert households == walk["households_uncovered"]


def test_walking_what_if_equals_applying_the_change(demo_client: TestClient) -> None:
    service = demo_client.app.state.coverage  # type: ignore[attr-defined]
    where = (119.150, 36.710)
    facilities = ok(demo_client.get("/api/v1/facilities?type=kindergarten&limit=2"))["features"]
    closing = [f["id"] for f in facilities]
    question = {
        "facility_type": "kindergarten",
        "method": "network",
        "minutes": 10,
        "open": [{"lon": where[0], "lat": where[1]}],
        "close": closing,
    }
    answer = ok(demo_client.post("/api/v1/coverage/what-if", json=question))
    assert answer["method"] == "network" and answer["radius_m"] == 600
    with service.view("kindergarten", 600, method="network") as model:
        applied = snapshot(model)
    before = applied.index.hh_covered.copy()
    for facility_id in closing:
        applied.index.remove_facility(facility_id)
    applied.index.add_facility(-1, applied.plane.to_plane([where[0]], [where[1]])[0])
    assert answer["net_households"] == int((applied.index.hh_covered - before).sum())


def test_without_a_network_walking_questions_say_how_to_import_one(client: TestClient) -> None:
    for path in (
        "/api/v1/coverage?facility_type=kindergarten&method=network",
        "/api/v1/coverage/compare?facility_type=kindergarten",
        "/api/v1/coverage/service-areas?facility_type=kindergarten",
    ):
        assert_error(
            client.get(path, headers={"Accept-Language": "en"}), 404, "gridmap network import"
        )
        answer = client.get(path, headers={"Accept-Language": "zh-CN"})
        assert answer.status_code == 404 and "步行路网" in answer.json()["description"]
    # The circles still answer, and the connection is fine for the next request.
    ok(client.get("/api/v1/coverage?facility_type=kindergarten"))


def test_walking_coverage_is_a_features_collection_per_grid_and_per_building(
    demo_client: TestClient,
) -> None:
    listed = {c["id"] for c in ok(demo_client.get("/ogc/collections"))["collections"]}
    assert {"coverage-walk-kindergarten-grids", "coverage-walk-kindergarten-buildings"} <= listed
    walk = total(demo_client, f"{KG}&method=network")
    grids = ok(
        demo_client.get("/ogc/collections/coverage-walk-kindergarten-grids/items?limit=5000")
    )
    assert (
        sum(f["properties"]["covered_households"] for f in grids["features"])
        == walk["households_covered"]
    )
    url = "/ogc/collections/coverage-walk-kindergarten-buildings/items"
    covered = ok(demo_client.get(f"{url}?filter=covered%20%3D%20true&limit=5000"))
    assert covered["numberMatched"] == walk["buildings_covered"]
    assert (
        sum(f["properties"]["households"] for f in covered["features"])
        == walk["households_covered"]
    )
    assert all(f["properties"]["nearest_m"] <= 300 for f in covered["features"])
    everything = ok(demo_client.get(f"{url}?limit=1"))
    assert everything["numberMatched"] == walk["buildings"]


def test_without_a_network_no_walking_collection_is_listed(client: TestClient) -> None:
    listed = {c["id"] for c in ok(client.get("/ogc/collections"))["collections"]}
    assert "coverage-kindergarten-grids" in listed
    assert not any(cid.startswith("coverage-walk-") for cid in listed)
    answer = client.get(
        "/ogc/collections/coverage-walk-kindergarten-grids/items",
        headers={"Accept-Language": "en"},
    )
    assert_error(answer, 404, "gridmap network import")
