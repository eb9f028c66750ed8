"""OGC API - Features at /ogc on the demo district: as the standard's clients use it.

The app reads the demo database (read-only; the accounts and keys made here are
committed and the keys removed afterwards). Real clients: GDAL's ``OAPIF`` driver
(``ogrinfo``/``ogr2ogr`` from Debian's gdal-bin, against a live uvicorn server) and
OWSLib's ``Features``; the rest through the test client. Masking is checked the
way an outsider would try to get round it: a filter on a hidden description, a
bbox smaller than a grid.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import create_app
from gis.accounts import keys
from gis.features import crs as crs_
from gis.geo.datum import GCJ02, from_wgs84, to_wgs84
from gis.settings import ServerSettings
from tests.accounts import DEMO_PASSWORD
from tests.http_checks import assert_error, ok
from tests.servers import served

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

GEOJSON = "application/geo+json"
EPSG_4326 = crs_.EPSG_4326
PERSONAL = "('dispute', 'petition', 'help_request')"
ANALYSIS = ("coverage-", "blind-spots-")


@pytest.fixture(scope="module")
def app(demo_engine: Engine) -> Any:
    return create_app(ServerSettings(), engine=demo_engine)


@pytest.fixture(scope="module")
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, headers={"Accept-Language": "en"}) as test_client:
        yield test_client


def login(client: TestClient, username: str) -> dict[str, str]:
    answer = client.post(
        "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture(scope="module")
def admin(client: TestClient) -> dict[str, str]:
    return login(client, "admin")


@pytest.fixture(scope="module")
def planner(client: TestClient) -> dict[str, str]:
    """Sees every case, responsible for none: every personal case comes masked."""
    return login(client, "planner")


def _key(engine: Engine, scopes: tuple[str, ...]) -> Iterator[str]:
    name = f"ogc-test-{secrets.token_hex(4)}"
    with Session(engine) as session:
        _, key = keys.create_key(session, name, scopes)
        session.commit()
    yield key
    with Session(engine) as session:
        session.execute(text("DELETE FROM api_key WHERE name = :n"), {"n": name})
        session.commit()


@pytest.fixture(scope="module")
def full_key(demo_engine: Engine) -> Iterator[str]:
    yield from _key(demo_engine, ("features:read", "incidents:read"))


@pytest.fixture(scope="module")
def map_key(demo_engine: Engine) -> Iterator[str]:
    yield from _key(demo_engine, ("features:read",))


def items(client: TestClient, headers: dict[str, str], cid: str, **params: Any) -> Any:
    answer = client.get(f"/ogc/collections/{cid}/items", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == GEOJSON
    return answer.json()


def count_sql(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


# ---- Part 1 core ----------------------------------------------------------------------


def test_landing_and_conformance_are_public_and_link_everything(client: TestClient) -> None:
    landing = ok(client.get("/ogc"))
    rels = {link["rel"]: link["href"] for link in landing["links"]}
    assert set(rels) >= {"self", "service-desc", "service-doc", "conformance", "data"}
    assert rels["service-desc"].endswith("/openapi.json")
    assert rels["service-doc"].endswith("/docs")
    classes = ok(client.get("/ogc/conformance"))["conformsTo"]
    for part in ("features-1/1.0/conf/core", "features-2/1.0/conf/crs", "cql2/1.0/conf/cql2-text"):
        assert any(part in c for c in classes), part
    assert client.get("/ogc/collections").status_code == 401


def test_collections_list_every_layer_with_extent_and_crs(
    client: TestClient, admin: dict[str, str], demo_engine: Engine
) -> None:
    body = ok(client.get("/ogc/collections", headers=admin))
    ids = [c["id"] for c in body["collections"]]
    types = count_sql(demo_engine, "SELECT count(*) FROM facility_type")
    assert ids[:7] == [
        "districts",
        "subdistricts",
        "communities",
        "grids",
        "buildings",
        "facilities",
        "incidents",
    ]
    assert len([i for i in ids if i.startswith("facilities-")]) == types
    one = next(c for c in body["collections"] if c["id"] == "incidents")
    assert one["itemType"] == "feature"
    assert one["storageCrs"] == crs_.CRS84
    assert EPSG_4326 in one["crs"] and any(c.endswith("/ogc/crs/gcj02") for c in one["crs"])
    west, south, east, north = one["extent"]["spatial"]["bbox"][0]
    assert 119.0 < west < east < 119.4 and 36.5 < south < north < 36.8
    start, end = one["extent"]["temporal"]["interval"][0]
    assert start < end
    grids = ok(client.get("/ogc/collections/grids", headers=admin))
    assert grids["extent"]["temporal"]["interval"][0][1] is None  # in force: open end
    assert_error(client.get("/ogc/collections/nope", headers=admin), 404, "/ogc/collections")


def test_paging_with_next_links_reads_every_building_once(
    client: TestClient, admin: dict[str, str], demo_engine: Engine
) -> None:
    total = count_sql(demo_engine, "SELECT count(*) FROM building")
    url: str | None = "/ogc/collections/buildings/items?limit=5000"
    seen: list[int] = []
    pages = 0
    while url:
        answer = client.get(url, headers=admin)
        body = ok(answer)
        assert body["numberMatched"] == total
        assert body["numberReturned"] == len(body["features"])
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0] if nxt else None
        pages += 1
        if url:
            assert f'<{url}>; rel="next"' in answer.headers["link"]
    assert pages == -(-total // 5000)
    assert len(seen) == total == len(set(seen))
    assert seen == sorted(seen)
    # prev goes back exactly one page
    second = items(client, admin, "buildings", limit=10, after=seen[9])
    assert [f["id"] for f in second["features"]] == seen[10:20]
    prev = next(link["href"] for link in second["links"] if link["rel"] == "prev")
    back = ok(client.get(prev, headers=admin))
    assert [f["id"] for f in back["features"]] == seen[:10]
    assert not [link for link in back["links"] if link["rel"] == "prev"]


def test_limit_above_the_maximum_is_the_maximum_with_a_next_link(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = items(client, admin, "buildings", limit=10**9)
    assert body["numberReturned"] == ServerSettings().max_page_size
    assert any(link["rel"] == "next" for link in body["links"])


def test_one_item_and_its_absence(client: TestClient, admin: dict[str, str]) -> None:
    first = items(client, admin, "facilities", limit=1)["features"][0]
    answer = client.get(f"/ogc/collections/facilities/items/{first['id']}", headers=admin)
    body = ok(answer)
    assert answer.headers["content-type"] == GEOJSON
    assert body["properties"] == first["properties"]
    assert body["geometry"] == first["geometry"]
    assert_error(client.get("/ogc/collections/facilities/items/999999999", headers=admin), 404)


def test_bbox_and_datetime(client: TestClient, admin: dict[str, str], demo_engine: Engine) -> None:
    box = (119.15, 36.70, 119.17, 36.72)
    expected = count_sql(
        demo_engine,
        "SELECT count(*) FROM building WHERE ST_Intersects(location, "
        f"ST_MakeEnvelope({','.join(map(str, box))}, 4326))",
    )
    body = items(client, admin, "buildings", bbox=",".join(map(str, box)))
    assert body["numberMatched"] == expected > 0
    # the same box in EPSG:4326 axis order (lat/lon)
    latlon = f"{box[1]},{box[0]},{box[3]},{box[2]}"
    same = items(client, admin, "buildings", bbox=latlon, **{"bbox-crs": EPSG_4326})
    assert same["numberMatched"] == expected
    month = count_sql(
        demo_engine,
        "SELECT count(*) FROM incident WHERE reported_at >= '2026-03-01T00:00:00Z' "
        "AND reported_at <= '2026-03-31T00:00:00Z'",
    )
    body = items(
        client, admin, "incidents", datetime="2026-03-01T00:00:00Z/2026-03-31T00:00:00Z", limit=1
    )
    assert body["numberMatched"] == month > 0
    open_end = items(client, admin, "incidents", datetime="2026-03-01T00:00:00Z/..", limit=1)
    assert open_end["numberMatched"] >= month
    assert_error(
        client.get("/ogc/collections/buildings/items?datetime=2024-01-01", headers=admin),
        400,
        "no time",
    )


def test_boundaries_in_force_on_a_date(client: TestClient, admin: dict[str, str]) -> None:
    now = items(client, admin, "grids", limit=1)["numberMatched"]
    then = items(client, admin, "grids", limit=1, datetime="2001-01-01")["numberMatched"]
    assert now > 0 and then > 0
    assert items(client, admin, "grids", limit=1, datetime="1990-01-01")["numberMatched"] == 0


# ---- Part 3 filters -------------------------------------------------------------------


def test_queryables_are_a_json_schema(client: TestClient, admin: dict[str, str]) -> None:
    answer = client.get("/ogc/collections/buildings/queryables", headers=admin)
    body = ok(answer)
    assert answer.headers["content-type"] == "application/schema+json"
    assert body["$schema"].startswith("https://json-schema.org/")
    assert body["$id"].endswith("/ogc/collections/buildings/queryables")
    assert body["properties"]["floors"]["type"] == "integer"
    assert body["properties"]["address"]["type"] == "string"
    assert body["properties"]["geometry"]["format"] == "geometry-point"
    incidents = ok(client.get("/ogc/collections/incidents/queryables", headers=admin))
    assert incidents["properties"]["reported_at"] == {
        "title": "reported at",
        "description": "上报时间",
        "type": "string",
        "format": "date-time",
        "x-ogc-role": "primary-instant",
    }


@pytest.mark.parametrize(
    ("cql", "sql"),
    [
        ("floors > 10", "floors > 10"),
        (
            "floors BETWEEN 5 AND 7 AND households >= 20",
            "floors BETWEEN 5 AND 7 AND households >= 20",
        ),
        ("name LIKE '1%楼'", "name LIKE '1%楼'"),
        ("name IS NULL", "name IS NULL"),
        ("floors IN (2, 3)", "floors IN (2, 3)"),
        ("NOT floors < 3", "NOT floors < 3"),
        (
            "S_INTERSECTS(geometry, POLYGON((119.15 36.70,119.17 36.70,119.17 36.72,"
            "119.15 36.72,119.15 36.70)))",
            "ST_Intersects(location, ST_MakeEnvelope(119.15, 36.70, 119.17, 36.72, 4326))",
        ),
        (
            "BBOX(geometry, 119.15, 36.70, 119.17, 36.72)",
            "ST_Intersects(location, ST_MakeEnvelope(119.15, 36.70, 119.17, 36.72, 4326))",
        ),
    ],
)
def test_cql2_filters_select_what_sql_does(
    client: TestClient, admin: dict[str, str], demo_engine: Engine, cql: str, sql: str
) -> None:
    expected = count_sql(demo_engine, f"SELECT count(*) FROM building WHERE {sql}")
    body = items(client, admin, "buildings", filter=cql, limit=1)
    assert body["numberMatched"] == expected


def test_cql2_json_and_query_parameters(
    client: TestClient, admin: dict[str, str], demo_engine: Engine
) -> None:
    expected = count_sql(demo_engine, "SELECT count(*) FROM building WHERE floors = 6")
    as_json = json.dumps({"op": "=", "args": [{"property": "floors"}, 6]})
    body = items(
        client, admin, "buildings", filter=as_json, limit=1, **{"filter-lang": "cql2-json"}
    )
    assert body["numberMatched"] == expected
    assert items(client, admin, "buildings", floors=6, limit=1)["numberMatched"] == expected
    assert_error(client.get("/ogc/collections/buildings/items?floors=six", headers=admin), 400)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"filter": "floors >"}, "CQL2"),
        ({"filter": "nosuch = 1"}, "nosuch"),
        ({"filter": "floors = 'six'"}, "floors"),
        ({"filter": "name LIKE 5"}, "name"),
        ({"filter": "floors = 1; DROP TABLE building"}, "CQL2"),
        ({"filter": "name = '' OR 1=1 --'"}, "CQL2"),
        ({"filter": "name = 'x\x00'"}, ""),
        ({"filter": "S_INTERSECTS(floors, POINT(1 2))"}, "geometry"),
        ({"filter": "BBOX(geometry, 1, 2, 3)"}, "CQL2"),
        ({"filter": '{"op": "="', "filter-lang": "cql2-json"}, "JSON"),
        ({"filter": "floors = 1", "filter-lang": "sql"}, ""),
        ({"bbox": "nan,36.7,119.2,36.8"}, "finite"),
        ({"bbox": "119.1,36.7,119.2"}, "4"),
        ({"bbox": "119.2,36.7,119.1,36.8"}, "below"),
        ({"crs": "EPSG:3857"}, "CRS"),
        ({"crs": "http://www.opengis.net/def/crs/EPSG/0/4326\x00"}, ""),
        ({"bbox-crs": "urn:nothing", "bbox": "1,2,3,4"}, "bbox-crs"),
        ({"datetime": "yesterday"}, "datetime"),
        ({"datetime": "2024-02-01/2024-01-01"}, "start"),
        ({"datum": "mars"}, "datum"),
        ({"datum": "gcj02", "crs": EPSG_4326}, "disagree"),
        ({"limit": "0"}, ""),
        ({"limit": "-1"}, ""),
        ({"after": "x"}, ""),
        ({"f": "html"}, ""),
    ],
)
def test_hostile_parameters_are_clean_400s(
    client: TestClient, admin: dict[str, str], params: dict[str, str], fragment: str
) -> None:
    answer = client.get("/ogc/collections/buildings/items", params=params, headers=admin)
    assert_error(answer, 400, fragment)


def test_errors_name_the_problem_in_chinese_too(client: TestClient, admin: dict[str, str]) -> None:
    answer = client.get(
        "/ogc/collections/buildings/items",
        params={"filter": "nosuch = 1"},
        headers={**admin, "Accept-Language": "zh-CN"},
    )
    assert_error(answer, 400, "没有可查询属性", "nosuch")


# ---- Part 2 CRS and datums --------------------------------------------------------------


def test_epsg_4326_answers_lat_lon_and_says_so(client: TestClient, admin: dict[str, str]) -> None:
    plain = items(client, admin, "facilities", limit=1)
    answer = client.get(
        "/ogc/collections/facilities/items", params={"limit": 1, "crs": EPSG_4326}, headers=admin
    )
    assert answer.headers["content-crs"] == f"<{EPSG_4326}>"
    lon, lat = plain["features"][0]["geometry"]["coordinates"]
    assert answer.json()["features"][0]["geometry"]["coordinates"] == [lat, lon]
    cgcs = client.get(
        "/ogc/collections/facilities/items",
        params={"limit": 1, "crs": crs_.EPSG_4490},
        headers=admin,
    )
    assert cgcs.json()["features"][0]["geometry"]["coordinates"] == [lat, lon]
    default = client.get("/ogc/collections/facilities/items?limit=1", headers=admin)
    assert default.headers["content-crs"] == f"<{crs_.CRS84}>"


def test_gcj02_round_trip_within_centimetres(client: TestClient, admin: dict[str, str]) -> None:
    plain = items(client, admin, "facilities", limit=20)
    base = str(client.base_url).rstrip("/")
    for params in ({"crs": f"{base}/ogc/crs/gcj02"}, {"datum": "gcj02"}):
        answer = client.get(
            "/ogc/collections/facilities/items", params={"limit": 20, **params}, headers=admin
        )
        assert answer.headers["content-crs"] == f"<{base}/ogc/crs/gcj02>"
        shifted = answer.json()["features"]
        for before, after in zip(plain["features"], shifted, strict=True):
            lon, lat = before["geometry"]["coordinates"]
            glon, glat = after["geometry"]["coordinates"]
            elon, elat = from_wgs84(lon, lat, GCJ02)
            assert abs(glon - float(elon)) < 1e-7 and abs(glat - float(elat)) < 1e-7
            assert 50 < abs(glon - lon) * 90_000 + abs(glat - lat) * 111_000 < 1500
            blon, blat = to_wgs84(glon, glat, GCJ02)
            assert (
                abs(float(blon) - lon) * 90_000 < 0.02 and abs(float(blat) - lat) * 111_000 < 0.02
            )
    # a GCJ-02 bbox finds what the WGS84 box around the same ground finds
    lon, lat = plain["features"][0]["geometry"]["coordinates"]
    glon, glat = (float(v) for v in from_wgs84(lon, lat, GCJ02))
    box = f"{glon - 1e-4},{glat - 1e-4},{glon + 1e-4},{glat + 1e-4}"
    found = items(client, admin, "facilities", bbox=box, **{"bbox-crs": f"{base}/ogc/crs/gcj02"})
    assert plain["features"][0]["id"] in [f["id"] for f in found["features"]]
    doc = ok(client.get("/ogc/crs/gcj02"))
    assert doc["name"] == "GCJ-02" and doc["uri"].endswith("/ogc/crs/gcj02")


# ---- who sees what ------------------------------------------------------------------------


def test_masked_cases_cannot_be_found_by_what_is_hidden(
    client: TestClient, planner: dict[str, str], admin: dict[str, str], demo_engine: Engine
) -> None:
    with demo_engine.connect() as conn:
        case = conn.execute(
            text(
                f"SELECT i.id, i.description, ST_X(i.geom), ST_Y(i.geom), "
                f"ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom)) "
                f"FROM incident i JOIN grid g ON g.id = i.grid_id "
                f"WHERE i.category IN {PERSONAL} AND length(i.description) > 4 "
                "ORDER BY i.id LIMIT 1"
            )
        ).one()
    cid, description, lon, lat, glon, glat = case
    words = description[:4].replace("'", "''")
    secret = f"description LIKE '%{words}%' AND id = {cid}"
    assert items(client, admin, "incidents", filter=secret)["numberMatched"] == 1
    assert items(client, planner, "incidents", filter=secret)["numberMatched"] == 0
    shown = ok(client.get(f"/ogc/collections/incidents/items/{cid}", headers=planner))
    assert shown["properties"]["masked"] is True
    assert shown["properties"]["description"] == "已隐藏"
    assert shown["geometry"]["coordinates"] == pytest.approx([glon, glat], abs=1e-6)
    tight = f"{lon - 1e-5},{lat - 1e-5},{lon + 1e-5},{lat + 1e-5}"
    if abs(lon - glon) > 1e-4 or abs(lat - glat) > 1e-4:
        found = items(client, planner, "incidents", bbox=tight, filter=f"id = {cid}")
        assert found["numberMatched"] == 0
        near = f"POINT({lon} {lat})"
        hidden = items(
            client, planner, "incidents", filter=f"S_INTERSECTS(geometry, {near}) AND id = {cid}"
        )
        assert hidden["numberMatched"] == 0
    assert items(client, admin, "incidents", bbox=tight, filter=f"id = {cid}")["numberMatched"] == 1
    masked = items(client, planner, "incidents", filter="masked = true", limit=1)
    assert masked["numberMatched"] == count_sql(
        demo_engine, f"SELECT count(*) FROM incident WHERE category IN {PERSONAL}"
    )


def test_keys_need_features_read_and_incidents_need_incidents_read(
    client: TestClient, map_key: str, full_key: str
) -> None:
    mine = {"X-API-Key": map_key}
    listed = [c["id"] for c in ok(client.get("/ogc/collections", headers=mine))["collections"]]
    assert "buildings" in listed and "incidents" not in listed
    assert_error(
        client.get("/ogc/collections/incidents/items", headers=mine), 403, "incidents:read"
    )
    both = {"X-API-Key": full_key}
    body = items(client, both, "incidents", limit=5)
    assert body["numberReturned"] == 5
    personal = [f for f in body["features"] if f["properties"]["category"] in PERSONAL]
    assert all(f["properties"]["masked"] for f in personal)


# ---- real clients -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(app: Any) -> Iterator[str]:
    with served(app) as url:
        yield url


def gdal(args: list[str], key: str, tmp: Path, **config: str) -> str:
    """Run a GDAL command with the API key in a header file; its stdout (and with
    ``CPL_DEBUG=ON`` the URLs it fetched, from stderr)."""
    header_file = tmp / "headers.txt"
    header_file.write_text(f"X-API-Key: {key}\n")
    env = {
        "GDAL_HTTP_HEADER_FILE": str(header_file),
        "GDAL_HTTP_TIMEOUT": "60",
        "PATH": "/usr/bin:/bin",
        **config,
    }
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout + done.stderr


needs_gdal = pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="gdal-bin missing")


@needs_gdal
def test_gdal_lists_and_reads_every_collection_through_its_pages(
    live: str, full_key: str, tmp_path: Path, demo_engine: Engine, client: TestClient
) -> None:
    listing = gdal(["ogrinfo", "-ro", "-q", f"OAPIF:{live}/ogc"], full_key, tmp_path)
    layers = [
        line.split(":", 1)[1].split("(")[0].strip() for line in listing.splitlines() if ":" in line
    ]
    ids = [
        c["id"]
        for c in ok(client.get("/ogc/collections", headers={"X-API-Key": full_key}))["collections"]
    ]
    assert sorted(layers) == sorted(ids)
    # Coverage is read for one type: every type's collections come from the same selects
    # (gis.coverage.tables), and each costs the district's coverage computed again.
    for cid in [i for i in ids if not i.startswith(ANALYSIS) or "-kindergarten" in i]:
        out = tmp_path / f"{cid}.geojson"
        gdal(
            [
                "ogr2ogr",
                "-f",
                "GeoJSON",
                str(out),
                f"OAPIF:{live}/ogc",
                cid,
                "-oo",
                "PAGE_SIZE=5000",
            ],
            full_key,
            tmp_path,
        )
        got = json.loads(out.read_text())["features"]
        expected = ok(
            client.get(f"/ogc/collections/{cid}/items?limit=1", headers={"X-API-Key": full_key})
        )["numberMatched"]
        assert len(got) == expected, cid
    buildings = json.loads((tmp_path / "buildings.geojson").read_text())["features"]
    assert len(buildings) == count_sql(demo_engine, "SELECT count(*) FROM building") > 2000


@needs_gdal
def test_gdal_sends_its_where_as_a_cql_filter(
    live: str, full_key: str, tmp_path: Path, demo_engine: Engine
) -> None:
    """GDAL 3.6 sends a -where to the server as CQL text (its draft's ``cql-text``) only when
    told to (``OGR_OAPIF_ALLOW_CQL_TEXT``: it finds no filter support in an OpenAPI document
    whose paths are under /ogc), for the fields the queryables list names."""
    expected = count_sql(
        demo_engine, "SELECT count(*) FROM building WHERE floors > 10 AND households >= 40"
    )
    out = gdal(
        [
            "ogrinfo",
            "-ro",
            "-al",
            "-geom=NO",
            "-where",
            "floors > 10 AND households >= 40",
            "-oo",
            "PAGE_SIZE=1000",
            f"OAPIF:{live}/ogc",
            "buildings",
        ],
        full_key,
        tmp_path,
        OGR_OAPIF_ALLOW_CQL_TEXT="YES",
        CPL_DEBUG="ON",
    )
    fetched = [line for line in out.splitlines() if "Fetch(" in line and "/items" in line]
    assert fetched and all("filter=" in line for line in fetched[1:]), fetched
    assert "client side" not in out
    assert out.count("OGRFeature(buildings)") == expected > 0
    # the same where on masked cases: what is hidden cannot be matched
    with demo_engine.connect() as conn:
        words = conn.execute(
            text(
                f"SELECT substr(description, 1, 4) FROM incident WHERE category IN {PERSONAL} "
                "AND length(description) > 4 ORDER BY id LIMIT 1"
            )
        ).scalar_one()
    where = f"description LIKE '%{words}%'"
    hidden = gdal(
        ["ogrinfo", "-ro", "-al", "-geom=NO", "-where", where, f"OAPIF:{live}/ogc", "incidents"],
        full_key,
        tmp_path,
        OGR_OAPIF_ALLOW_CQL_TEXT="YES",
    )
    leaked = [line for line in hidden.splitlines() if "description" in line and words in line]
    assert leaked == []


@pytest.fixture(scope="module")
def owslib_features(live: str, full_key: str) -> Any:
    from owslib.ogcapi.features import Features

    return Features(live + "/ogc", headers={"X-API-Key": full_key})


def test_owslib_lists_collections_and_queryables(owslib_features: Any) -> None:
    ids = [c["id"] for c in owslib_features.collections()["collections"]]
    assert "buildings" in ids and "incidents" in ids
    queryables = owslib_features.collection_queryables("buildings")
    assert queryables["properties"]["floors"]["type"] == "integer"
    assert "conformsTo" in owslib_features.conformance()


def test_owslib_reads_items_with_bbox_limit_filter_and_crs(
    owslib_features: Any, demo_engine: Engine, live: str
) -> None:
    box = [119.15, 36.70, 119.17, 36.72]
    page = owslib_features.collection_items("buildings", bbox=box, limit=7)
    assert page["numberReturned"] == 7
    expected = count_sql(
        demo_engine,
        "SELECT count(*) FROM building WHERE ST_Intersects(location, "
        "ST_MakeEnvelope(119.15, 36.70, 119.17, 36.72, 4326)) AND floors > 5",
    )
    filtered = owslib_features.collection_items("buildings", bbox=box, filter="floors > 5", limit=1)
    assert filtered["numberMatched"] == expected
    latlon = owslib_features.collection_items("facilities", limit=1, crs=EPSG_4326)
    plain = owslib_features.collection_items("facilities", limit=1)
    lon, lat = plain["features"][0]["geometry"]["coordinates"]
    assert latlon["features"][0]["geometry"]["coordinates"] == [lat, lon]


def test_owslib_reads_every_collection_through_its_pages_in_cgcs2000(
    owslib_features: Any, client: TestClient, full_key: str
) -> None:
    """OWSLib as a client pages: it follows each answer's ``next`` link by passing that
    link's parameters back (the keyset ``after``), asking CGCS2000 (EPSG:4490) throughout."""
    ids = [c["id"] for c in owslib_features.collections()["collections"]]
    for cid in [i for i in ids if not i.startswith(ANALYSIS) or "-kindergarten" in i]:
        params: dict[str, Any] = {"limit": 5000, "crs": crs_.EPSG_4490}
        seen: set[Any] = set()
        pages = 0
        while True:
            page = owslib_features.collection_items(cid, **params)
            pages += 1
            seen |= {f["id"] for f in page["features"]}
            following = [link["href"] for link in page["links"] if link["rel"] == "next"]
            if not following:
                break
            params = dict(parse_qsl(urlsplit(following[0]).query))
        expected = ok(
            client.get(f"/ogc/collections/{cid}/items?limit=1", headers={"X-API-Key": full_key})
        )["numberMatched"]
        assert len(seen) == expected == page["numberMatched"], cid
        if expected > 5000:
            assert pages > 1, cid
    # Latitude first in EPSG:4490, as the CRS defines it.
    first = owslib_features.collection_items("facilities", limit=1, crs=crs_.EPSG_4490)
    lat, lon = first["features"][0]["geometry"]["coordinates"]
    assert 36 < lat < 37.5 and 118.5 < lon < 119.8


# ---- coverage collections --------------------------------------------------------------


def test_coverage_per_grid_per_building_and_blind_spots(
    client: TestClient, admin: dict[str, str], demo_engine: Engine
) -> None:
    grids = items(client, admin, "coverage-kindergarten-grids", limit=500)
    assert grids["numberMatched"] == count_sql(
        demo_engine, "SELECT count(*) FROM grid WHERE valid_to IS NULL"
    )
    rates = [f["properties"]["coverage_rate"] for f in grids["features"]]
    assert all(r is None or 0 <= r <= 1 for r in rates) and any(r and r > 0 for r in rates)
    covered = items(
        client, admin, "coverage-kindergarten-buildings", filter="covered = true", limit=1
    )
    outside = items(
        client, admin, "coverage-kindergarten-buildings", filter="covered = false", limit=1
    )
    assert covered["numberMatched"] + outside["numberMatched"] == count_sql(
        demo_engine,
        "SELECT count(*) FROM building b JOIN grid g ON g.id = b.grid_id AND g.valid_to IS NULL",
    )
    near = items(client, admin, "coverage-kindergarten-buildings", filter="nearest_m <= 300")
    assert near["numberMatched"] == covered["numberMatched"]  # kindergarten radius: 300 m
    spots = items(client, admin, "blind-spots-kindergarten", limit=3)
    assert spots["numberMatched"] > 3
    first = spots["features"][0]
    assert isinstance(first["id"], str) and first["id"].endswith("-1")
    one = ok(
        client.get(f"/ogc/collections/blind-spots-kindergarten/items/{first['id']}", headers=admin)
    )
    assert one["properties"] == first["properties"]
    nxt = next(link["href"] for link in spots["links"] if link["rel"] == "next")
    following = ok(client.get(nxt, headers=admin))
    assert following["features"][0]["id"] > spots["features"][-1]["id"]
    assert_error(client.get("/ogc/collections/coverage-nosuch-grids/items", headers=admin), 404)
