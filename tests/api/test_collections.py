"""The GeoJSON collections: shape, property names, totals, paging and filters."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from geoalchemy2 import WKTElement
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.db.models import Building, Grid

WEST_HALF = "119.10,36.70,119.12,36.76"  # only grid 001 of community 001
EAST_PART = "119.16,36.71,119.19,36.75"  # only community 002 and its grid

COLLECTIONS = [
    "/api/v1/areas",
    "/api/v1/grids",
    "/api/v1/buildings",
    "/api/v1/facilities",
    "/api/v1/facility-types",
    "/api/v1/incidents",
]


def get_collection(client: TestClient, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [f["properties"]["code"] for f in body["features"]]


@pytest.mark.parametrize("url", COLLECTIONS)
def test_every_collection_is_a_feature_collection_with_totals(client: TestClient, url: str) -> None:
    body = get_collection(client, url)
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == len(body["features"]) == body["numberReturned"] > 0
    assert {"rel": "self", "href": f"http://testserver{url}", "type": "application/geo+json"} in (
        body["links"]
    )
    for feature in body["features"]:
        assert feature["type"] == "Feature"
        assert set(feature) == {"type", "id", "geometry", "properties"}
        assert feature["id"] is not None


@pytest.mark.parametrize(
    ("url", "properties", "geometry"),
    [
        ("/api/v1/areas", {"code", "name", "households", "level", "parent_code"}, "MultiPolygon"),
        ("/api/v1/grids", {"code", "name", "households", "community_code"}, "MultiPolygon"),
        ("/api/v1/buildings", {"id", "households", "grid_code"}, "Point"),
        ("/api/v1/facilities", {"id", "type", "name", "capacity"}, "Point"),
        ("/api/v1/facility-types", {"code", "name_zh", "name_en", "radius_m"}, None),
        ("/api/v1/incidents", {"id", "grid_code", "status", "category"}, "Point"),
    ],
)
def test_property_names_other_systems_rely_on(
    client: TestClient, url: str, properties: set[str], geometry: str | None
) -> None:
    for feature in get_collection(client, url)["features"]:
        assert properties <= set(feature["properties"])
        if geometry is None:
            assert feature["geometry"] is None
        else:
            assert feature["geometry"]["type"] == geometry
        key = "code" if "code" in properties else "id"
        assert feature["id"] == feature["properties"][key]


def test_areas_by_level(client: TestClient) -> None:
    assert codes(get_collection(client, "/api/v1/areas?level=district")) == ["370705"]
    assert codes(get_collection(client, "/api/v1/areas?level=subdistrict")) == ["370705001"]
    communities = get_collection(client, "/api/v1/areas?level=community")
    assert codes(communities) == ["370705001001", "370705001002"]
    assert [f["properties"]["name"] for f in communities["features"]] == ["东苑社区", "新华社区"]
    assert [f["properties"]["households"] for f in communities["features"]] == [400, 200]
    assert {f["properties"]["parent_code"] for f in communities["features"]} == {"370705001"}
    assert get_collection(client, "/api/v1/areas")["numberMatched"] == 4


def test_areas_children_of_a_parent(client: TestClient) -> None:
    body = get_collection(client, "/api/v1/areas?parent=370705001")
    assert codes(body) == ["370705001001", "370705001002"]


def test_grids_are_current_versions_unless_a_date_is_given(client: TestClient) -> None:
    now = get_collection(client, "/api/v1/grids")
    assert codes(now) == ["370705001001001", "370705001001002", "370705001002001"]
    assert now["features"][2]["properties"]["name"] == "新华网格"
    assert now["features"][2]["properties"]["valid_to"] is None

    then = get_collection(client, "/api/v1/grids?at=2010-06-01")
    assert codes(then) == codes(now)
    old = then["features"][2]["properties"]
    assert (old["name"], old["valid_from"], old["valid_to"]) == (
        "新华网格(旧)",
        "2000-01-01",
        "2020-01-01",
    )


def test_grid_households_are_the_sum_of_their_buildings(client: TestClient) -> None:
    body = get_collection(client, "/api/v1/grids")
    households = {f["properties"]["code"]: f["properties"]["households"] for f in body["features"]}
    assert households == {"370705001001001": 200, "370705001001002": 0, "370705001002001": 200}


def test_paging_walks_every_feature_once_in_code_order(client: TestClient) -> None:
    first = get_collection(client, "/api/v1/grids?limit=2")
    assert first["numberMatched"] == 3
    assert first["numberReturned"] == 2
    links = {link["rel"]: link["href"] for link in first["links"]}
    assert "prev" not in links
    assert links["next"] == "http://testserver/api/v1/grids?limit=2&offset=2"

    second = get_collection(client, links["next"].removeprefix("http://testserver"))
    assert second["numberMatched"] == 3
    assert codes(second) == ["370705001002001"]
    second_links = {link["rel"]: link["href"] for link in second["links"]}
    assert "next" not in second_links
    assert second_links["prev"] == "http://testserver/api/v1/grids?limit=2&offset=0"

    everything = codes(first) + codes(second)
    assert everything == sorted(everything)
    assert len(set(everything)) == 3


def test_offset_beyond_the_end_is_an_empty_page_with_the_same_total(client: TestClient) -> None:
    body = get_collection(client, "/api/v1/grids?offset=10")
    assert body["features"] == []
    assert body["numberReturned"] == 0
    assert body["numberMatched"] == 3


def test_paging_keeps_the_other_filters(client: TestClient) -> None:
    body = get_collection(client, "/api/v1/areas?level=community&limit=1")
    next_link = next(link["href"] for link in body["links"] if link["rel"] == "next")
    assert "level=community" in next_link
    assert codes(get_collection(client, next_link.removeprefix("http://testserver"))) == [
        "370705001002"
    ]


def test_default_page_is_capped_by_the_maximum_page_size(client: TestClient) -> None:
    body = get_collection(client, "/api/v1/grids?limit=50")  # MAX_PAGE_SIZE in conftest
    assert body["numberReturned"] == 3


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"/api/v1/grids?bbox={WEST_HALF}", ["370705001001001"]),
        (f"/api/v1/grids?bbox={EAST_PART}", ["370705001002001"]),
        (f"/api/v1/areas?level=community&bbox={EAST_PART}", ["370705001002"]),
        (f"/api/v1/facility-types?bbox={EAST_PART}", ["kindergarten"]),
        ("/api/v1/grids?bbox=120.0,37.0,120.1,37.1", []),
    ],
)
def test_bbox_filters_by_intersection(client: TestClient, url: str, expected: list[str]) -> None:
    body = get_collection(client, url)
    assert codes(body) == expected
    assert body["numberMatched"] == len(expected)


def test_bbox_filters_points(client: TestClient) -> None:
    buildings = get_collection(client, f"/api/v1/buildings?bbox={WEST_HALF}")
    assert buildings["numberMatched"] == 2
    assert {f["properties"]["grid_code"] for f in buildings["features"]} == {"370705001001001"}
    facilities = get_collection(client, f"/api/v1/facilities?bbox={EAST_PART}")
    assert [f["properties"]["name"] for f in facilities["features"]] == ["新华幼儿园"]


def test_facilities_carry_their_type(client: TestClient) -> None:
    body = get_collection(client, "/api/v1/facilities")
    by_name = {f["properties"]["name"]: f["properties"] for f in body["features"]}
    assert by_name["东苑社康中心"]["type"] == "health_station"
    assert by_name["东苑社康中心"]["type_name_zh"] == "社康中心"
    assert by_name["东苑社康中心"]["capacity"] is None
    assert by_name["新华幼儿园"]["type"] == "kindergarten"
    assert by_name["新华幼儿园"]["capacity"] == 180
    assert by_name["新华幼儿园"]["radius_m"] == 300
    only = get_collection(client, "/api/v1/facilities?type=kindergarten")
    assert [f["properties"]["name"] for f in only["features"]] == ["新华幼儿园"]


def test_facility_types_catalogue(client: TestClient) -> None:
    body = get_collection(client, "/api/v1/facility-types")
    props = {f["properties"]["code"]: f["properties"] for f in body["features"]}
    assert props["health_station"]["name_zh"] == "社康中心"
    assert props["health_station"]["name_en"] == "Community health station"
    assert props["health_station"]["radius_m"] == 1000
    assert props["kindergarten"]["radius_m"] == 300
    assert props["kindergarten"]["facilities"] == 1


CITY = ("city_appearance", "reported", "370705001001001")
STREET = ("street_order", "closed", "370705001002001")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=closed", [STREET]),
        ("status=open", [CITY]),
        ("status=reported,closed", [CITY, STREET]),
        ("category=city_appearance", [CITY]),
        ("category=市容环境", [CITY]),  # the Chinese name of the class
        ("grid=370705001001001", [CITY]),
        ("grid=370705001001002", []),
        ("status=reported&category=street_order", []),
        ("start=2026-04-01", [STREET]),
        ("end=2026-04-01", [CITY]),
        ("start=2026-03-01T17:00:00&end=2026-03-01T17:00:01", [CITY]),  # 09:00 UTC, Beijing time
        ("start=2026-03-01T09:00:00Z&end=2026-05-01T09:00:00Z", [CITY]),  # end excluded
        ("order=-reported_at", [STREET, CITY]),
        ("order=deadline", [CITY, STREET]),  # no deadline: last
        ("personal=false", [CITY, STREET]),
        ("personal=true", []),
    ],
)
def test_incident_filters(
    client: TestClient, query: str, expected: list[tuple[str, str, str]]
) -> None:
    body = get_collection(client, f"/api/v1/incidents?{query}")
    found = [
        (f["properties"]["category"], f["properties"]["status"], f["properties"]["grid_code"])
        for f in body["features"]
    ]
    assert found == expected
    assert body["numberMatched"] == len(expected)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("status=handling", "unknown status 'handling'"),
        ("category=noise", "unknown incident category 'noise'"),
        ("start=2026-05-01&end=2026-04-01", "end must be after start"),
        ("start=yesterday", "start"),
        ("order=grid", "order"),
    ],
)
def test_incident_filters_refuse_what_they_cannot_apply(
    client: TestClient, query: str, words: str
) -> None:
    response = client.get(f"/api/v1/incidents?{query}")
    assert response.status_code == 400, response.text
    assert words in response.json()["description"]


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def _add_building_with_footprint(db: Session) -> int:
    grid_id = db.execute(select(Grid.id).where(Grid.code == "370705001001002")).scalar_one()
    building = Building(
        grid_id=grid_id,
        location=WKTElement("POINT(119.13 36.72)", srid=4326),
        footprint=WKTElement(
            "MULTIPOLYGON(((119.1299 36.7199,119.1301 36.7199,119.1301 36.7201,"
            "119.1299 36.7201,119.1299 36.7199)))",
            srid=4326,
        ),
        households=42,
        floors=11,
        address="东苑路1号",
    )
    db.add(building)
    db.flush()
    return building.id


def test_buildings_as_footprints_where_known(client: TestClient, db: Session) -> None:
    with_footprint = _add_building_with_footprint(db)
    points = get_collection(client, "/api/v1/buildings")
    assert {f["geometry"]["type"] for f in points["features"]} == {"Point"}

    body = get_collection(client, "/api/v1/buildings?geometry=footprint")
    assert body["numberMatched"] == points["numberMatched"] == 4
    shapes = {f["id"]: f["geometry"]["type"] for f in body["features"]}
    assert shapes.pop(with_footprint) == "MultiPolygon"
    assert set(shapes.values()) == {"Point"}  # the others have no footprint
    feature = next(f for f in body["features"] if f["id"] == with_footprint)
    props = feature["properties"]
    assert (props["id"], props["households"], props["floors"]) == (with_footprint, 42, 11)
    assert (props["address"], props["grid_code"], props["has_footprint"]) == (
        "东苑路1号",
        "370705001001002",
        True,
    )


def test_building_footprints_are_selected_by_their_point(client: TestClient, db: Session) -> None:
    _add_building_with_footprint(db)
    # The box touches the footprint's west edge but not the building's point.
    edge = "119.125,36.71,119.12995,36.73"
    for form in ("point", "footprint"):
        body = get_collection(client, f"/api/v1/buildings?geometry={form}&bbox={edge}")
        assert body["numberMatched"] == 0
    inside = get_collection(
        client, "/api/v1/buildings?geometry=footprint&bbox=119.125,36.71,119.14,36.73"
    )
    assert [f["properties"]["households"] for f in inside["features"]] == [42]


def test_building_page_limit_reports_what_was_left_out(client: TestClient) -> None:
    body = get_collection(client, f"/api/v1/buildings?geometry=footprint&bbox={WEST_HALF}&limit=1")
    assert (body["numberMatched"], body["numberReturned"]) == (2, 1)
    assert any(link["rel"] == "next" for link in body["links"])


def test_incidents_export_as_csv_with_lon_lat(client: TestClient) -> None:
    response = client.get("/api/v1/incidents?format=csv&order=-reported_at")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    lines = response.content.decode("utf-8-sig").splitlines()
    header = lines[0].split(",")
    assert header[:3] == ["lon", "lat", "id"] and "deadline_at" in header
    rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    assert [(r["category"], r["grid_code"]) for r in rows] == [
        ("street_order", "370705001002001"),
        ("city_appearance", "370705001001001"),
    ]
    assert (float(rows[0]["lon"]), float(rows[0]["lat"])) == (119.18, 36.75)
