"""OGC API - Tiles as a client reads it: tiles decoded with mapbox-vector-tile.

On the small district of ``conftest`` (features placed by hand, so positions and
ids can be checked exactly) and on the demo district (counts at scale). Each
tile is compared with what the REST list or the Features API returns for the
same box and the same caller: the same ids, the same masking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import create_app
from api.routes.tiles import CONFORMANCE, collection_links
from gis.db.models import Grid, Incident
from gis.geo.datum import BD09, GCJ02, from_wgs84
from gis.settings import ServerSettings
from layers.catalogue import GRIDS as GRID_LAYER
from tests.accounts import DEMO_PASSWORD, key_headers, login_headers
from tests.api.conftest import point
from tests.http_checks import assert_error, ok
from tests.tile_checks import (
    EXTENT,
    bbox_of,
    decode,
    features,
    inside,
    lonlat,
    point_of,
    tile_of,
)

WMQ = "/ogc/collections/{cid}/tiles/WebMercatorQuad"
MVT = "application/vnd.mapbox-vector-tile"


def tile_url(cid: str, z: int, y: int, x: int) -> str:
    return f"{WMQ.format(cid=cid)}/{z}/{y}/{x}"


def get_tile(client: TestClient, url: str, **kwargs: Any) -> bytes:
    answer = client.get(url, **kwargs)
    assert answer.status_code in (200, 204), answer.text
    if answer.status_code == 204:
        return b""
    assert answer.headers["content-type"] == MVT
    return answer.content


# ---- metadata --------------------------------------------------------------------------


def test_the_tile_matrix_set_is_web_mercator_quad(client: TestClient) -> None:
    listed = ok(client.get("/ogc/tileMatrixSets"))
    assert [t["id"] for t in listed["tileMatrixSets"]] == ["WebMercatorQuad"]
    tms = ok(client.get(listed["tileMatrixSets"][0]["links"][0]["href"]))
    assert tms["id"] == "WebMercatorQuad"
    assert len(tms["tileMatrices"]) == 25
    assert tms["tileMatrices"][14]["matrixWidth"] == 2**14
    assert_error(client.get("/ogc/tileMatrixSets/WorldCRS84Quad"), 404, "WebMercatorQuad")


def test_a_collections_tile_sets_lead_to_its_tiles(client: TestClient) -> None:
    sets = ok(client.get("/ogc/collections/buildings/tiles"))["tilesets"]
    assert len(sets) == 1 and sets[0]["dataType"] == "vector"
    tileset = ok(client.get(sets[0]["links"][0]["href"]))
    limits = {int(m["tileMatrix"]) for m in tileset["tileMatrixSetLimits"]}
    assert limits == set(range(13, 19))
    assert tileset["layers"][0]["id"] == "buildings"
    assert "households" in tileset["layers"][0]["propertiesSchema"]["properties"]
    template = next(link["href"] for link in tileset["links"] if link["rel"] == "item")
    z, y, x = tile_of(119.11, 36.72, 14)
    url = template.format(tileMatrix=z, tileRow=y, tileCol=x).removeprefix("http://testserver")
    assert [f["id"] for f in features(get_tile(client, url), "buildings")] != []


def test_tilejson_names_the_layers_fields_zooms_and_bounds(client: TestClient) -> None:
    doc = ok(client.get(f"{WMQ.format(cid='incidents')}/tilejson.json"))
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"] == [
        "http://testserver/ogc/collections/incidents/tiles/WebMercatorQuad/{z}/{y}/{x}"
    ]
    assert (doc["minzoom"], doc["maxzoom"]) == (10, 18)
    (layer,) = doc["vector_layers"]
    assert layer["id"] == "incidents"
    assert layer["fields"]["masked"] == "Boolean" and layer["fields"]["status"] == "String"
    assert "description" not in layer["fields"]
    west, south, east, north = doc["bounds"]
    assert (west, south, east, north) == pytest.approx((119.10, 36.70, 119.20, 36.76), abs=1e-6)
    shifted = ok(client.get("/ogc/tiles/WebMercatorQuad/tilejson.json?datum=gcj02"))
    assert shifted["tiles"][0].endswith("/{z}/{y}/{x}?datum=gcj02")
    assert [v["id"] for v in shifted["vector_layers"]] == [
        "grids",
        "buildings",
        "facilities",
        "incidents",
    ]
    lon, lat = from_wgs84([119.10], [36.70], GCJ02)
    assert shifted["bounds"][:2] == pytest.approx([float(lon[0]), float(lat[0])], abs=1e-5)


def test_the_style_draws_the_dataset_layers_in_the_maps_colours(client: TestClient) -> None:
    style = ok(client.get("/ogc/styles/default"))
    assert style["version"] == 8
    source = style["sources"]["gridmap"]
    assert source["url"] == "http://testserver/ogc/tiles/WebMercatorQuad/tilejson.json"
    tilejson = ok(client.get(source["url"]))
    known = {v["id"] for v in tilejson["vector_layers"]}
    assert {layer["source-layer"] for layer in style["layers"]} <= known
    grids = next(layer for layer in style["layers"] if layer["id"] == "grids-line")
    assert grids["paint"]["line-color"] == GRID_LAYER.style.color
    listed = ok(client.get("/ogc/styles"))["styles"]
    assert [s["id"] for s in listed] == ["default"]
    assert_error(client.get("/ogc/styles/dark"), 404, "/ogc/styles")


def test_conformance_and_collection_links_for_the_landing_page() -> None:
    assert all(
        c.startswith("http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/") for c in CONFORMANCE
    )
    assert {c.rsplit("/", 1)[1] for c in CONFORMANCE} >= {"core", "tileset", "mvt"}
    links = collection_links("buildings", "http://h")
    assert links[0]["href"] == "http://h/ogc/collections/buildings/tiles"
    assert links[0]["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"


# ---- what a tile holds ------------------------------------------------------------------


def test_a_building_tile_holds_the_buildings_the_list_has_in_its_box(client: TestClient) -> None:
    z, y, x = tile_of(119.11, 36.72, 13)
    found = features(get_tile(client, tile_url("buildings", z, y, x)), "buildings")
    listed = ok(client.get("/api/v1/buildings", params={"bbox": bbox_of(z, y, x)}))["features"]
    assert sorted(f["id"] for f in found if inside(f)) == sorted(f["id"] for f in listed)
    assert len(listed) == 1  # (119.12, 36.74) is in the tile to the north
    by_id = {f["id"]: f for f in found}
    for building in listed:
        lon, lat = building["geometry"]["coordinates"]
        gx, gy = point_of(by_id[building["id"]])
        assert lonlat(z, y, x, gx, gy) == pytest.approx((lon, lat), abs=2e-5)
        assert (
            by_id[building["id"]]["properties"]["households"]
            == building["properties"]["households"]
        )


def test_grids_are_polygons_of_the_versions_in_force(client: TestClient) -> None:
    z, y, x = tile_of(119.15, 36.73, 10)
    grids = features(get_tile(client, tile_url("grids", z, y, x)), "grids")
    assert sorted(f["properties"]["code"] for f in grids) == [
        "370705001001001",
        "370705001001002",
        "370705001002001",
    ]
    assert {f["geometry"]["type"] for f in grids} == {"Polygon"}
    assert "新华网格(旧)" not in {f["properties"]["name"] for f in grids}


def _personal_case(db: Session) -> Incident:
    grid = db.query(Grid).filter(Grid.code == "370705001001001").one()
    case = Incident(
        category="dispute",
        reported_at=dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC),
        status="reported",
        geom=point(119.112, 36.735),
        grid_id=grid.id,
        description="张三与邻居因噪音纠纷",
        address="东苑小区3号楼201",
    )
    db.add(case)
    db.flush()
    return case


def test_incidents_in_tiles_are_masked_as_in_the_incident_list(
    client: TestClient, db: Session
) -> None:
    case = _personal_case(db)
    planner = login_headers(db, "tile-planner", "planner")
    z, y, x = 12, *tile_of(119.15, 36.73, 12)[1:]
    for headers, masked in ((planner, True), (client.headers, False)):
        data = get_tile(client, tile_url("incidents", z, y, x), headers=dict(headers))
        found = {f["id"]: f for f in features(data, "incidents")}
        listed = ok(
            client.get(
                "/api/v1/incidents", params={"bbox": bbox_of(z, y, x)}, headers=dict(headers)
            )
        )["features"]
        assert sorted(found) == sorted(f["id"] for f in listed)
        for item in listed:
            tiled = found[item["id"]]
            assert tiled["properties"]["masked"] == item["properties"]["masked"]
            lon, lat = item["geometry"]["coordinates"]
            assert lonlat(z, y, x, *point_of(tiled)) == pytest.approx((lon, lat), abs=1e-4)
            assert "description" not in tiled["properties"]
            assert not any("张三" in str(v) for v in tiled["properties"].values())
        assert found[case.id]["properties"]["masked"] is masked
    # Masked: at the grid's representative point, not near where the person lives.
    data = get_tile(client, tile_url("incidents", z, y, x), headers=planner)
    lon, lat = lonlat(
        z, y, x, *point_of({f["id"]: f for f in features(data, "incidents")}[case.id])
    )
    assert abs(lat - 36.735) > 0.004


def test_a_tile_showing_personal_cases_in_full_is_audited_once_per_person(
    client: TestClient, db: Session
) -> None:
    case = _personal_case(db)
    z, y, x = tile_of(119.112, 36.735, 12)
    url = tile_url("incidents", z, y, x)

    def reads() -> list[Any]:
        rows = db.execute(
            text("SELECT object, detail FROM audit_log WHERE action = 'personal.read'")
        ).all()
        return [r for r in rows if r.object == f"tile:incidents/{z}/{y}/{x}"]

    get_tile(client, url)
    get_tile(client, url)  # the same person again: from the cache, already recorded
    (read,) = reads()
    assert case.id in read.detail["incidents"]
    planner = login_headers(db, "tile-planner", "planner")
    get_tile(client, url, headers=planner)  # masked for them: nothing to record
    assert len(reads()) == 1
    district = login_headers(db, "tile-district", "district", area_code="370705")
    get_tile(client, url, headers=district)  # another person who sees it in full
    assert len(reads()) == 2


def test_a_box_finds_a_masked_case_only_where_it_is_shown(client: TestClient, db: Session) -> None:
    """The tile around the real point of a masked case does not hold it."""
    case = _personal_case(db)
    planner = login_headers(db, "tile-planner", "planner")
    z, y, x = tile_of(119.112, 36.735, 16)
    assert case.id not in {
        f["id"]
        for f in features(
            get_tile(client, tile_url("incidents", z, y, x), headers=planner), "incidents"
        )
    }
    assert case.id in {
        f["id"] for f in features(get_tile(client, tile_url("incidents", z, y, x)), "incidents")
    }


def test_incident_tiles_need_what_the_incident_list_needs(
    client: TestClient, anonymous: TestClient, db: Session
) -> None:
    z, y, x = tile_of(119.11, 36.71, 12)
    # The client logs in as the admin: a key is sent instead of that login.
    map_key = {**key_headers(db, "tile-map", ("features:read",)), "Authorization": ""}
    both = {
        **key_headers(db, "tile-both", ("features:read", "incidents:read")),
        "Authorization": "",
    }
    assert_error(client.get(tile_url("incidents", z, y, x), headers=map_key), 403)
    assert_error(anonymous.get(tile_url("incidents", z, y, x)), 401)
    assert features(get_tile(client, tile_url("incidents", z, y, x), headers=both), "incidents")
    # The dataset tile leaves incidents out for a reader who may not see them.
    layers = decode(get_tile(client, f"/ogc/tiles/WebMercatorQuad/{z}/{y}/{x}", headers=map_key))
    assert "incidents" not in layers and "buildings" not in layers  # z12: below buildings
    assert {"grids", "facilities"} <= set(layers)
    layers = decode(get_tile(client, f"/ogc/tiles/WebMercatorQuad/{z}/{y}/{x}", headers=both))
    assert {"grids", "facilities", "incidents"} <= set(layers)


def test_an_anonymous_reader_gets_only_the_layers_opened_to_the_public(
    engine: Engine, db: Session, small_district: Any
) -> None:
    from api.dependencies import get_session

    settings = ServerSettings.model_validate({"GRIDMAP_PUBLIC_LAYERS": "map"})
    app = create_app(settings, engine=engine)
    app.dependency_overrides[get_session] = lambda: db
    z, y, x = tile_of(119.11, 36.72, 13)
    with TestClient(app) as public:
        assert features(get_tile(public, tile_url("buildings", z, y, x)), "buildings")
        assert_error(public.get(tile_url("facilities", z, y, x)), 401)
        assert_error(public.get(tile_url("incidents", z, y, x)), 401)
        assert_error(public.get(tile_url("coverage-kindergarten-grids", z, y, x)), 401)
        layers = decode(get_tile(public, f"/ogc/tiles/WebMercatorQuad/{z}/{y}/{x}"))
        assert set(layers) == {"grids", "buildings"}


def test_a_key_of_an_area_sees_only_its_incidents_in_tiles(client: TestClient, db: Session) -> None:
    z, y, x = tile_of(119.15, 36.73, 10)
    scopes = ("features:read", "incidents:read")
    west = {**key_headers(db, "tile-west", scopes, "370705001001"), "Authorization": ""}
    tiled = features(get_tile(client, tile_url("incidents", z, y, x), headers=west), "incidents")
    listed = ok(client.get("/api/v1/incidents", headers=west))["features"]
    assert sorted(f["id"] for f in tiled) == sorted(f["id"] for f in listed)
    assert {f["properties"]["grid_code"] for f in tiled} == {"370705001001001"}


@pytest.mark.parametrize(("datum", "tolerance"), [(GCJ02, 1.5), (BD09, 1.5)])
def test_consumer_datum_tiles_line_up_on_their_base_maps(
    client: TestClient, datum: Any, tolerance: float
) -> None:
    """A facility in a GCJ-02 (BD-09) tile lies where GCJ-02 (BD-09) puts it: the WGS84
    point converted, hundreds of metres from where the WGS84 tile has it."""
    lon0, lat0 = 119.17, 36.72
    lon1, lat1 = (float(v[0]) for v in from_wgs84([lon0], [lat0], datum))
    z, y, x = tile_of(lon1, lat1, 16)
    shifted = features(
        get_tile(client, tile_url("facilities", z, y, x) + f"?datum={datum.label}"), "facilities"
    )
    (kindergarten,) = [f for f in shifted if f["properties"]["name"] == "新华幼儿园"]
    gx, gy = point_of(kindergarten)
    metres_per_unit = 40075016.7 * 0.8 / 2**16 / EXTENT  # cos(36.7°) ≈ 0.8
    lon, lat = lonlat(z, y, x, gx, gy)
    assert lon == pytest.approx(lon1, abs=tolerance * metres_per_unit / 1e5)
    assert lat == pytest.approx(lat1, abs=tolerance * metres_per_unit / 1e5)
    plain = features(get_tile(client, tile_url("facilities", z, y, x)), "facilities")
    assert "新华幼儿园" not in {f["properties"]["name"] for f in plain}
    assert abs(lon1 - lon0) > 0.003


def test_cgcs2000_tiles_are_the_wgs84_tiles(client: TestClient) -> None:
    z, y, x = tile_of(119.11, 36.72, 14)
    plain = client.get(tile_url("buildings", z, y, x))
    same = client.get(tile_url("buildings", z, y, x) + "?datum=cgcs2000")
    assert plain.content == same.content and plain.headers["etag"] == same.headers["etag"]


# ---- HTTP --------------------------------------------------------------------------------


def test_etag_and_if_none_match(client: TestClient) -> None:
    z, y, x = tile_of(119.11, 36.72, 14)
    first = client.get(tile_url("buildings", z, y, x))
    assert first.status_code == 200
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = client.get(tile_url("buildings", z, y, x), headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == tag
    other = client.get(tile_url("buildings", z, y, x), headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200 and other.content == first.content


def test_an_empty_tile_is_204(client: TestClient) -> None:
    answer = client.get(tile_url("buildings", 14, 0, 0))
    assert answer.status_code == 204 and answer.content == b""
    assert answer.headers["etag"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("14/-1/5", 404),
        ("14/5/-1", 404),
        ("-3/0/0", 404),
        ("30/0/0", 404),
        ("25/0/0", 404),
        ("12/0/0", 404),  # buildings start at 13
        ("19/0/0", 404),  # and stop at 18
        ("14/16384/0", 404),
        ("14/0/99999999999999999999999999", 404),
        ("14/a/0", 400),
        ("14/0/1.5", 400),
        ("z/0/0", 400),
        ("14/0/0%00", 400),
    ],
)
def test_hostile_tile_addresses(client: TestClient, path: str, status: int) -> None:
    assert_error(client.get(f"{WMQ.format(cid='buildings')}/{path}"), status)


@pytest.mark.parametrize(
    "url",
    [
        "/ogc/collections/nothing/tiles",
        "/ogc/collections/facilities-nothing/tiles/WebMercatorQuad/14/0/0",
        "/ogc/collections/buildings/tiles/WorldCRS84Quad/14/0/0",
        "/ogc/tiles/WorldCRS84Quad/tilejson.json",
    ],
)
def test_unknown_collections_and_matrix_sets_are_404(client: TestClient, url: str) -> None:
    assert_error(client.get(url), 404)


def test_a_bad_datum_is_400(client: TestClient) -> None:
    assert_error(client.get(tile_url("buildings", 14, 0, 0) + "?datum=wgs85"), 400, "wgs84")


def test_a_facility_type_collection_holds_only_its_type(client: TestClient) -> None:
    z, y, x = tile_of(119.15, 36.73, 10)
    kg = features(
        get_tile(client, tile_url("facilities-kindergarten", z, y, x)), "facilities-kindergarten"
    )
    assert [f["properties"]["name"] for f in kg] == ["新华幼儿园"]


# ---- the demo district: at scale -----------------------------------------------------------


@pytest.fixture(scope="module")
def demo(demo_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(ServerSettings(), engine=demo_engine)) as c:
        token = c.post(
            "/api/v1/auth/token", data={"username": "planner", "password": DEMO_PASSWORD}
        ).json()["access_token"]
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def test_demo_building_tiles_match_the_building_list(demo: TestClient) -> None:
    z, y, x = 14, 6394, 13616
    found = features(get_tile(demo, tile_url("buildings", z, y, x)), "buildings")
    inner = ok(
        demo.get("/api/v1/buildings", params={"bbox": bbox_of(z, y, x, 0.001), "limit": 5000})
    )
    whole = ok(demo.get("/api/v1/buildings", params={"bbox": bbox_of(z, y, x), "limit": 5000}))
    tiled_inside = {f["id"] for f in found if inside(f)}
    assert {f["id"] for f in inner["features"]} <= tiled_inside
    assert tiled_inside <= {f["id"] for f in whole["features"]}
    assert whole["numberMatched"] > 1000


def test_demo_incident_tiles_match_the_incident_list_for_a_planner(demo: TestClient) -> None:
    z, y, x = 12, 1598, 3404
    found = {
        f["id"]: f for f in features(get_tile(demo, tile_url("incidents", z, y, x)), "incidents")
    }
    listed = ok(demo.get("/api/v1/incidents", params={"bbox": bbox_of(z, y, x), "limit": 5000}))
    inner = {f["id"] for f in found.values() if inside(f, 1)}
    listed_ids = {f["id"] for f in listed["features"]}
    assert inner <= listed_ids <= set(found)
    masked = [f for f in listed["features"] if f["properties"]["masked"]]
    assert masked, "the demo has personal cases a planner sees masked"
    assert all(found[f["id"]]["properties"]["masked"] for f in masked)


def test_tiles_are_gzipped_for_clients_that_accept_it(demo: TestClient) -> None:
    url = tile_url("buildings", 14, 6394, 13616)
    zipped = demo.get(url, headers={"Accept-Encoding": "gzip"})
    plain = demo.get(url, headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.content == plain.content  # decoded by the client
    assert int(zipped.headers["content-length"]) < len(plain.content) * 0.8
    assert zipped.headers["etag"] == plain.headers["etag"]


@pytest.mark.parametrize(
    ("cid", "z", "y", "x"),
    [("buildings", 14, 6394, 13616), ("facilities", 12, 1598, 3404), ("incidents", 12, 1598, 3404)],
)
def test_demo_tiles_match_the_features_api_for_the_same_box(
    demo: TestClient, cid: str, z: int, y: int, x: int
) -> None:
    """The ids a tile holds inside its edges are the ids OGC API Features gives for the
    tile's box (minus a hair at the edges, where rounding to tile units decides)."""
    tiled = features(get_tile(demo, tile_url(cid, z, y, x)), cid)
    items = f"/ogc/collections/{cid}/items"
    whole = ok(demo.get(items, params={"bbox": bbox_of(z, y, x), "limit": 10000}))
    inner = ok(demo.get(items, params={"bbox": bbox_of(z, y, x, 0.001), "limit": 10000}))
    assert whole["numberMatched"] == whole["numberReturned"] > 10
    tiled_inside = {f["id"] for f in tiled if inside(f)}
    assert {f["id"] for f in inner["features"]} <= tiled_inside
    assert tiled_inside <= {f["id"] for f in whole["features"]}
    if cid == "incidents":
        masked = {f["id"] for f in whole["features"] if f["properties"]["masked"]}
        assert masked == {f["id"] for f in tiled if f["properties"]["masked"]} & {
            f["id"] for f in whole["features"]
        }
