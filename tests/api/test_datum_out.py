"""``datum=`` on every answer that carries coordinates, found by walking the app.

Which operations carry coordinates is read from /openapi.json: an answer whose schema
reaches a ``geometry``, ``coordinates``, ``lon``/``lat`` (or Open311's ``long``) carries
them, and must declare the ``datum`` query parameter. Every GET under /api/v1 that
declares it is then called on the demo district twice, in WGS84 and in GCJ-02, and
every position of the GCJ-02 answer (geometries, ``bbox``, ``lon``/``lat`` fields,
label points, CSV columns, GeoPackage layers) must be the WGS84 one moved by the
GCJ-02 offset; ETag'd answers must change their ETag. A GET route that declares
``datum`` without a sample request here fails the walk, so a new one is not left out.

On the small district: a facility opened and moved, an incident reported and a
photo's position read back in GCJ-02 or BD-09 land within a centimetre of where they
were sent; an unknown datum is a 400 in Chinese and English; a client following the
``Link`` headers of a paged answer gets every item exactly once (on the demo: all
its buildings).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyogrio
import pytest
import shapely
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import create_app
from api.responses import frame_out, table_out
from gis.accounts import audit
from gis.geo.datum import BD09, CGCS2000, GCJ02, Datum, from_wgs84
from gis.settings import ServerSettings
from tests.accounts import demo_login as login
from tests.accounts import login_headers
from tests.photo_files import SPOT, phone_jpeg

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

COORDINATE_NAMES = frozenset({"geometry", "coordinates", "lon", "lat", "long"})
# ---- which operations carry coordinates (the document, no database) --------------------


def document() -> dict[str, Any]:
    doc: dict[str, Any] = create_app().openapi()
    return doc


def reaches_coordinates(
    schema: Any, doc: dict[str, Any], seen: frozenset[str] = frozenset()
) -> bool:
    """Whether a schema (or any it refers to) has a field that holds a position."""
    if isinstance(schema, list):
        return any(reaches_coordinates(s, doc, seen) for s in schema)
    if not isinstance(schema, dict):
        return False
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return False
        return reaches_coordinates(doc["components"]["schemas"][name], doc, seen | {name})
    for name, inner in (schema.get("properties") or {}).items():
        if name in COORDINATE_NAMES and inner.get("type") != "null":
            return True
        if reaches_coordinates(inner, doc, seen):
            return True
    return any(
        reaches_coordinates(schema.get(key), doc, seen)
        for key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties")
    )


def coordinate_operations(doc: dict[str, Any]) -> dict[tuple[str, str], bool]:
    """(method, path) of every operation with coordinates in a success → declares datum."""
    found = {}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            schemas = [
                entry.get("schema")
                for status, response in operation["responses"].items()
                if status.startswith("2")
                for entry in (response.get("content") or {}).values()
            ]
            if reaches_coordinates(schemas, doc):
                names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
                found[(method.upper(), path)] = "datum" in names
    return found


def test_every_operation_answering_coordinates_declares_datum() -> None:
    found = coordinate_operations(document())
    missing = sorted(f"{m} {p}" for (m, p), declared in found.items() if not declared)
    assert missing == []
    declared = {op for op, yes in found.items() if yes}
    assert {
        ("GET", "/open311/v2/requests.{format}"),
        ("GET", "/open311/v2/requests/{service_request_id}.{format}"),
        ("GET", "/api/v1/buildings"),
        ("GET", "/api/v1/map/outlines"),
        ("POST", "/api/v1/facilities"),
        ("PATCH", "/api/v1/facilities/{facility_id}"),
        ("POST", "/api/v1/incidents"),
        ("GET", "/api/v1/search"),
        ("GET", "/api/v1/inbox"),
        ("GET", "/api/v1/incidents/{incident_id}/photos"),
    } <= declared
    assert len(declared) >= 25


def test_the_walk_sees_coordinates_where_they_are() -> None:
    doc = {
        "components": {
            "schemas": {
                "P": {"properties": {"lon": {"type": "number"}}},
                "N": {"properties": {"geometry": {"type": "null"}, "name": {"type": "string"}}},
                "L": {
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/P"}}
                    }
                },
            }
        }
    }
    assert reaches_coordinates({"$ref": "#/components/schemas/L"}, doc)
    assert not reaches_coordinates({"$ref": "#/components/schemas/N"}, doc)


# ---- positions of an answer ---------------------------------------------------------------

GEOMETRY_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}


def positions(value: Any) -> list[tuple[float, float]]:
    """Every position in a JSON answer, in a fixed order: geometries, ``bbox`` corners,
    ``lon``/``lat`` fields and ``label`` points."""
    out: list[tuple[float, float]] = []

    def flat(coords: Any) -> None:
        if coords and isinstance(coords[0], (int, float)):
            out.append((float(coords[0]), float(coords[1])))
        else:
            for c in coords:
                flat(c)

    def walk(v: Any) -> None:
        if isinstance(v, list):
            for item in v:
                walk(item)
            return
        if not isinstance(v, dict):
            return
        if v.get("type") in GEOMETRY_TYPES and "coordinates" in v:
            flat(v["coordinates"])
            return
        if isinstance(v.get("lon"), (int, float)) and isinstance(v.get("lat"), (int, float)):
            out.append((float(v["lon"]), float(v["lat"])))
        for key, item in v.items():
            if key in ("bbox", "label") and isinstance(item, list) and len(item) in (2, 4):
                flat([item[:2], *([item[2:]] if len(item) == 4 else [])])
            elif key not in ("lon", "lat"):
                walk(item)

    walk(value)
    return out


def csv_positions(data: bytes) -> list[tuple[float, float]]:
    rows = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    return [(float(r["lon"]), float(r["lat"])) for r in rows if r["lon"] and r["lat"]]


def gpkg_file(data: bytes) -> str:
    """The bytes as a .gpkg file of its own (GDAL warns about one without the extension)."""
    handle, name = tempfile.mkstemp(suffix=".gpkg", prefix="gridmap-datum-test-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    return name


def gpkg_positions(data: bytes) -> list[tuple[float, float]]:
    path = gpkg_file(data)
    out: list[tuple[float, float]] = []
    try:
        for layer, _ in pyogrio.list_layers(path):
            frame = pyogrio.read_dataframe(path, layer=layer)
            xy = shapely.get_coordinates(np.asarray(frame.geometry.values))
            out.extend((float(x), float(y)) for x, y in xy)
            if "lon" in frame:
                out.extend(zip(frame["lon"].astype(float), frame["lat"].astype(float), strict=True))
    finally:
        os.unlink(path)
    return out


def answer_positions(response: Any) -> list[tuple[float, float]]:
    kind = response.headers["content-type"]
    if kind.startswith("text/csv"):
        return csv_positions(response.content)
    if kind.startswith("application/geopackage"):
        return gpkg_positions(response.content)
    return positions(response.json())


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance between two nearby lon/lat points (equirectangular, good to 0.1% here)."""
    lat = math.radians((a[1] + b[1]) / 2)
    return math.hypot((a[0] - b[0]) * 111_320 * math.cos(lat), (a[1] - b[1]) * 110_574)


def assert_moved_by(
    datum: Datum, wgs: list[tuple[float, float]], out: list[tuple[float, float]], tolerance_m: float
) -> None:
    assert len(out) == len(wgs) > 0
    x, y = from_wgs84([p[0] for p in wgs], [p[1] for p in wgs], datum)
    expected = list(zip(x.tolist(), y.tolist(), strict=True))
    worst = max(metres(e, o) for e, o in zip(expected, out, strict=True))
    assert worst <= tolerance_m
    moved = min(metres(w, o) for w, o in zip(wgs, out, strict=True))
    assert moved > 100  # the GCJ-02 offset here is some 500 m


# ---- the demo district: every GET route with datum, in WGS84 and GCJ-02 ---------------------


@pytest.fixture(scope="module")
def demo(demo_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(ServerSettings(), engine=demo_engine)) as client:
        yield client


@pytest.fixture(scope="module")
def facts(demo_engine: Engine) -> dict[str, Any]:
    with demo_engine.connect() as conn:
        busy = conn.execute(
            text(
                """SELECT g.code, g.name FROM incident i JOIN grid g ON g.id = i.grid_id
                   WHERE i.status NOT IN ('closed', 'cancelled', 'evaluated')
                     AND EXISTS (SELECT 1 FROM account a WHERE a.username = 'grid-' || g.code)
                   GROUP BY g.code, g.name ORDER BY count(*) DESC, g.code LIMIT 1"""
            )
        ).one()
        incident = conn.scalar(text("SELECT min(id) FROM incident WHERE grid_id IS NOT NULL"))
        facility = conn.scalar(text("SELECT min(id) FROM facility"))
        facility_type = conn.scalar(
            text("SELECT type_code FROM facility GROUP BY type_code ORDER BY count(*) DESC LIMIT 1")
        )
        buildings = conn.scalar(text("SELECT count(*) FROM building"))
        item = conn.scalar(text("SELECT min(id) FROM participation_item"))
    return {
        "item": item,
        "grid": busy.code,
        "grid_name": busy.name,
        "incident": incident,
        "facility": facility,
        "facility_type": facility_type,
        "buildings": buildings,
    }


VIEW = "119.11,36.70,119.14,36.72"
"""A view of the demo's old town."""


def samples(f: dict[str, Any]) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    """Per GET path declaring datum: (caller, URL, query) requests that answer positions."""
    grid_manager = f"grid-{f['grid']}"
    kind = {"facility_type": f["facility_type"]}
    return {
        "/api/v1/areas": [("admin", "/api/v1/areas", {"limit": 5})],
        "/api/v1/grids": [("admin", "/api/v1/grids", {"limit": 5})],
        "/api/v1/grids/{code}": [("admin", f"/api/v1/grids/{f['grid']}", {})],
        "/api/v1/buildings": [
            ("admin", "/api/v1/buildings", {"limit": 5}),
            ("admin", "/api/v1/buildings", {"limit": 5, "geometry": "footprint"}),
        ],
        "/api/v1/facilities": [("admin", "/api/v1/facilities", {"limit": 5})],
        "/api/v1/facilities/{facility_id}": [("admin", f"/api/v1/facilities/{f['facility']}", {})],
        "/api/v1/incidents": [
            ("admin", "/api/v1/incidents", {"limit": 5}),
            ("admin", "/api/v1/incidents", {"limit": 5, "format": "csv"}),
        ],
        "/api/v1/incidents/{incident_id}": [("admin", f"/api/v1/incidents/{f['incident']}", {})],
        "/api/v1/incidents/hot-spots": [
            ("admin", "/api/v1/incidents/hot-spots", {"start": "2000-01-01", "end": "2100-01-01"})
        ],
        "/api/v1/inbox": [(f"community-{f['grid'][:12]}", "/api/v1/inbox", {"limit": 5})],
        "/api/v1/worklists/{grid_code}": [(grid_manager, f"/api/v1/worklists/{f['grid']}", {})],
        "/api/v1/map/outlines": [("admin", "/api/v1/map/outlines", {})],
        "/api/v1/map/facilities": [("admin", "/api/v1/map/facilities", {})],
        "/api/v1/basemap/streets": [
            ("admin", "/api/v1/basemap/streets", {"bbox": VIEW, "zoom": 16})
        ],
        "/api/v1/basemap/places": [("admin", "/api/v1/basemap/places", {"bbox": VIEW, "zoom": 16})],
        "/api/v1/search": [("admin", "/api/v1/search", {"q": f["grid_name"]})],
        "/api/v1/coverage/buildings": [
            ("admin", "/api/v1/coverage/buildings", {**kind, "limit": 5})
        ],
        "/api/v1/coverage/circles": [("admin", "/api/v1/coverage/circles", kind)],
        "/api/v1/coverage/blind-spots": [("admin", "/api/v1/coverage/blind-spots", kind)],
        "/api/v1/coverage/compare/buildings": [
            ("admin", "/api/v1/coverage/compare/buildings", {**kind, "limit": 5})
        ],
        "/api/v1/coverage/service-areas": [("admin", "/api/v1/coverage/service-areas", kind)],
        "/api/v1/coverage/export": [
            ("admin", "/api/v1/coverage/export", {**kind, "bbox": VIEW, "format": "csv"}),
            ("admin", "/api/v1/coverage/export", {**kind, "bbox": VIEW, "format": "gpkg"}),
        ],
        "/api/v1/participation/items": [
            ("admin", "/api/v1/participation/items", {"limit": 5}),
            ("admin", "/api/v1/participation/items", {"limit": 5, "format": "geojson"}),
            ("admin", "/api/v1/participation/items", {"limit": 5, "format": "csv"}),
        ],
        "/api/v1/participation/items/{item_id}": [
            ("admin", f"/api/v1/participation/items/{f['item']}", {})
        ],
    }


ELSEWHERE = {
    "/api/v1/incidents/{incident_id}/photos": "test_photo_positions_come_back_in_the_datum_asked",
    **dict.fromkeys(
        (
            "/api/v1/people/{person_id}/position",
            "/api/v1/people/{person_id}/track",
            "/api/v1/people/{person_id}/alarms",
            "/api/v1/care/workers",
            "/api/v1/care/calls/{call_id}",
        ),
        "tests/api/test_care.py::test_positions_come_back_in_the_datum_asked",
    ),
}
"""GET routes with datum whose positions the demo lacks, checked by the test named."""


def test_every_get_route_with_datum_moves_its_positions_by_the_gcj02_offset(
    demo: TestClient, facts: dict[str, Any]
) -> None:
    doc = document()
    routes = sorted(
        path
        for (method, path), declared in coordinate_operations(doc).items()
        if declared and method == "GET" and path.startswith("/api/v1/")
    )
    table = samples(facts)
    assert [p for p in routes if p not in table and p not in ELSEWHERE] == []
    headers = {
        name: login(demo, name) for name in {c for reqs in table.values() for c, _, _ in reqs}
    }
    checked = []
    failed = []
    for path in routes:
        for caller, url, query in table.get(path, []):
            try:
                check_datum_out(demo, url, query, headers[caller])
            except AssertionError as exc:
                failed.append(f"{url} {query}: {exc}")
            checked.append(url)
    assert failed == []
    assert len(checked) >= 21


def check_datum_out(
    demo: TestClient, url: str, query: dict[str, Any], headers: dict[str, str]
) -> None:
    """The GCJ-02 answer is the WGS84 one moved by the offset, under another ETag."""
    wgs = demo.get(url, params=query, headers=headers)
    gcj = demo.get(url, params={**query, "datum": "gcj02"}, headers=headers)
    assert wgs.status_code == gcj.status_code == 200, (wgs.text[:300], gcj.text[:300])
    tolerance = 1.2 if url.startswith("/api/v1/map/") else 0.15  # 5 decimals there
    assert_moved_by(GCJ02, answer_positions(wgs), answer_positions(gcj), tolerance)
    if "etag" in wgs.headers:
        assert gcj.headers["etag"] != wgs.headers["etag"]
        again = demo.get(
            url,
            params={**query, "datum": "gcj02"},
            headers={**headers, "If-None-Match": wgs.headers["etag"]},
        )
        assert again.status_code == 200


def test_a_client_following_link_headers_reads_every_demo_building_once(
    demo: TestClient, facts: dict[str, Any]
) -> None:
    headers = login(demo, "admin")
    url: str | None = "/api/v1/buildings?limit=5000"
    seen: list[int] = []
    pages = 0
    while url is not None:
        answer = demo.get(url, headers=headers)
        assert answer.status_code == 200
        assert int(answer.headers["x-total-count"]) == facts["buildings"]
        body = answer.json()
        assert body["numberMatched"] == facts["buildings"]
        seen.extend(f["id"] for f in body["features"])
        url = link(answer.headers.get("link"), "next")
        pages += 1
    assert len(seen) == len(set(seen)) == facts["buildings"] > 20_000
    assert pages == math.ceil(facts["buildings"] / 5000)


def link(header: str | None, rel: str) -> str | None:
    """The URL of ``rel`` in an RFC 8288 Link header."""
    for href, found in re.findall(r'<([^>]*)>\s*;\s*rel="([^"]+)"', header or ""):
        if found == rel:
            return href
    return None


# ---- the small district: round trips, errors, paging ------------------------------------------


def staff_id(db: Session, name: str) -> int:
    return int(db.execute(text("SELECT id FROM staff WHERE name = :n"), {"n": name}).scalar_one())


def sent_in(datum: Datum, lon: float, lat: float) -> tuple[float, float]:
    x, y = from_wgs84([lon], [lat], datum)
    return round(float(x[0]), 7), round(float(y[0]), 7)


@pytest.mark.parametrize("datum", [GCJ02, BD09], ids=["gcj02", "bd09"])
def test_a_facility_opened_and_moved_in_a_datum_comes_back_where_it_was_sent(
    client: TestClient, datum: Datum
) -> None:
    label = datum.label
    lon, lat = sent_in(datum, 119.1234567, 36.7312345)
    made = client.post(
        "/api/v1/facilities",
        params={"datum": label},
        json={"type": "kindergarten", "name": "测试幼儿园", "lon": lon, "lat": lat, "datum": label},
    )
    assert made.status_code == 201, made.text
    assert metres(tuple(made.json()["geometry"]["coordinates"]), (lon, lat)) < 0.01
    url = made.headers["location"]
    stored = client.get(url).json()["geometry"]["coordinates"]
    assert metres(tuple(stored), (119.1234567, 36.7312345)) < 0.01
    read = client.get(url, params={"datum": label})
    assert metres(tuple(read.json()["geometry"]["coordinates"]), (lon, lat)) < 0.01
    assert read.headers["etag"] != client.get(url).headers["etag"]

    to = sent_in(datum, 119.1301234, 36.7401234)
    moved = client.patch(
        url,
        params={"datum": label},
        headers={"If-Match": read.headers["etag"]},  # the tag of the answer in this datum
        json={
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": list(to)},
            "properties": {"datum": label},
        },
    )
    assert moved.status_code == 200, moved.text
    assert metres(tuple(moved.json()["geometry"]["coordinates"]), to) < 0.01
    again = client.get(url, params={"datum": label}).json()
    assert metres(tuple(again["geometry"]["coordinates"]), to) < 0.01
    listed = client.get(
        "/api/v1/facilities", params={"datum": label, "type": "kindergarten"}
    ).json()
    mine = [f for f in listed["features"] if f["id"] == again["id"]]
    assert metres(tuple(mine[0]["geometry"]["coordinates"]), to) < 0.01


@pytest.mark.parametrize("datum", [GCJ02, BD09], ids=["gcj02", "bd09"])
def test_an_incident_reported_in_a_datum_comes_back_where_it_was_sent(
    client: TestClient, datum: Datum
) -> None:
    label = datum.label
    lon, lat = sent_in(datum, 119.1123456, 36.7234567)
    made = client.post(
        "/api/v1/incidents",
        params={"datum": label},
        json={"category": "city_appearance", "lon": lon, "lat": lat, "datum": label},
    )
    assert made.status_code == 201, made.text
    assert metres((made.json()["lon"], made.json()["lat"]), (lon, lat)) < 0.01
    url = made.headers["location"]
    case = client.get(url, params={"datum": label}).json()
    assert metres((case["lon"], case["lat"]), (lon, lat)) < 0.01
    plain = client.get(url).json()
    assert metres((plain["lon"], plain["lat"]), (119.1123456, 36.7234567)) < 0.01
    page = client.get("/api/v1/incidents", params={"datum": label, "limit": 50}).json()
    feature = next(f for f in page["features"] if f["id"] == case["id"])
    assert metres(tuple(feature["geometry"]["coordinates"]), (lon, lat)) < 0.01
    table = client.get("/api/v1/incidents", params={"datum": label, "limit": 50, "format": "csv"})
    row = next(
        r
        for r in csv.DictReader(io.StringIO(table.content.decode("utf-8-sig")))
        if r["id"] == str(case["id"])
    )
    assert metres((float(row["lon"]), float(row["lat"])), (lon, lat)) < 0.01


def test_photo_positions_come_back_in_the_datum_asked(client: TestClient, db: Session) -> None:
    manager = login_headers(db, "zhangwei", "grid_manager", staff_id=staff_id(db, "张伟"))
    made = client.post(
        "/api/v1/incidents",
        json={"category": "exposed_garbage", "lon": SPOT[0], "lat": SPOT[1]},
        headers=manager,
    )
    case = made.json()["id"]
    added = client.post(
        f"/api/v1/incidents/{case}/photos",
        params={"datum": "gcj02"},
        data={"stage": "intake"},
        files={"file": ("p.jpg", phone_jpeg(), "image/jpeg")},
        headers=manager,
    )
    assert added.status_code == 201, added.text
    url = f"/api/v1/incidents/{case}/photos"
    wgs = client.get(url, headers=manager).json()
    gcj = client.get(url, params={"datum": "gcj02"}, headers=manager).json()
    assert len(positions(wgs)) == 1
    assert_moved_by(GCJ02, positions(wgs), positions(gcj), 0.02)
    assert_moved_by(GCJ02, positions(wgs), positions(added.json()), 0.02)
    one = client.get(f"/api/v1/incidents/{case}", params={"datum": "gcj02"}, headers=manager)
    plain = client.get(f"/api/v1/incidents/{case}", headers=manager).json()
    assert len(positions(plain)) == 2  # the case and its photo
    assert_moved_by(GCJ02, positions(plain), positions(one.json()), 0.02)


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", "is not one coordinates can be answered in"), ("zh", "无法用于输出")],
)
@pytest.mark.parametrize(
    "path", ["/api/v1/buildings", "/api/v1/map/outlines", "/api/v1/search?q=东苑"]
)
def test_an_unknown_datum_is_a_400_in_both_languages(
    client: TestClient, language: str, words: str, path: str
) -> None:
    answer = client.get(path, params={"datum": "gcj-03"}, headers={"Accept-Language": language})
    assert answer.status_code == 400
    assert words in answer.json()["description"]
    assert client.get(path, params={"datum": "EPSG:3857"}).status_code == 400


def test_cgcs2000_answers_the_stored_numbers(client: TestClient) -> None:
    plain = client.get("/api/v1/buildings").json()
    cgcs = client.get("/api/v1/buildings", params={"datum": "cgcs2000"}).json()
    assert positions(cgcs) == positions(plain) != []


def test_link_headers_page_through_every_building_exactly_once(client: TestClient) -> None:
    url: str | None = "/api/v1/buildings?limit=1"
    seen = []
    while url is not None:
        answer = client.get(url)
        body = answer.json()
        assert answer.headers["x-total-count"] == str(body["numberMatched"]) == "3"
        links = {item["rel"]: item["href"] for item in body["links"]}
        assert link(answer.headers.get("link"), "next") == links.get("next")
        assert link(answer.headers.get("link"), "prev") == links.get("prev")
        seen.extend(f["id"] for f in body["features"])
        url = link(answer.headers.get("link"), "next")
    assert len(seen) == len(set(seen)) == 3


def test_a_csv_page_of_incidents_says_there_is_more(client: TestClient) -> None:
    first = client.get("/api/v1/incidents", params={"format": "csv", "limit": 1})
    assert first.headers["x-total-count"] == "2"
    rows = list(csv.DictReader(io.StringIO(first.content.decode("utf-8-sig"))))
    nxt = link(first.headers["link"], "next")
    assert nxt is not None and "format=csv" in nxt and "offset=1" in nxt
    second = client.get(nxt)
    rows += list(csv.DictReader(io.StringIO(second.content.decode("utf-8-sig"))))
    assert link(second.headers["link"], "next") is None
    assert link(second.headers["link"], "prev") is not None
    assert sorted(r["id"] for r in rows) == sorted({r["id"] for r in rows}) and len(rows) == 2


def test_a_single_page_has_a_total_and_no_link(client: TestClient) -> None:
    answer = client.get("/api/v1/buildings")
    assert answer.headers["x-total-count"] == "3" and "link" not in answer.headers


def test_the_audit_trail_says_how_much_there_is_and_links_the_next_page(
    client: TestClient, db: Session
) -> None:
    for i in range(3):
        audit.record(db, "paging-test", "test.paging", detail={"i": i})
    db.flush()
    url: str | None = "/api/v1/audit?limit=1&action=test.paging"  # reading adds audit.read
    seen = []
    while url is not None:
        answer = client.get(url)
        body = answer.json()
        assert answer.headers["x-total-count"] == str(body["numberMatched"]) == "3"
        assert body["numberReturned"] == 1
        seen.extend(e["detail"]["i"] for e in body["entries"])
        url = link(answer.headers.get("link"), "next")
        assert len(seen) <= 3
    assert seen == [2, 1, 0]  # newest first, each once


def test_tables_and_frames_move_their_lon_lat_columns_and_geometries() -> None:
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import Point

    table = pd.DataFrame(
        {"id": [1, 2, 3], "lon": [119.11, None, 119.12], "lat": [36.72, None, 36.73]}
    )
    moved = table_out(table, GCJ02)
    assert table["lon"].tolist()[0] == 119.11  # the original is left alone
    assert moved["lon"].isna().tolist() == [False, True, False]
    assert_moved_by(
        GCJ02,
        [(119.11, 36.72), (119.12, 36.73)],
        list(zip(moved["lon"].dropna(), moved["lat"].dropna(), strict=True)),
        0.01,
    )
    frame = gpd.GeoDataFrame(
        table, geometry=[Point(119.11, 36.72), None, Point(119.12, 36.73)], crs=4326
    )
    out = frame_out(frame, BD09)
    assert out.crs is None and frame.crs is not None
    assert_moved_by(
        BD09, [(119.11, 36.72), (119.12, 36.73)], [(g.x, g.y) for g in out.geometry if g], 0.01
    )
    assert frame_out(frame, CGCS2000).crs.to_epsg() == 4490


@pytest.mark.parametrize("datum", ["gcj02", "bd09", "cgcs2000"])
def test_a_geopackage_export_in_a_datum_opens_with_the_crs_it_has(
    client: TestClient, datum: str
) -> None:
    query = {"facility_type": "kindergarten", "format": "gpkg"}
    plain = client.get("/api/v1/coverage/export", params=query)
    moved = client.get("/api/v1/coverage/export", params={**query, "datum": datum})
    assert moved.status_code == 200, moved.text
    assert datum in moved.headers["content-disposition"]
    path = gpkg_file(moved.content)
    try:
        crs = pyogrio.read_info(path, layer="buildings")["crs"]
    finally:
        os.unlink(path)
    assert crs == ("EPSG:4490" if datum == "cgcs2000" else None)
    if datum != "cgcs2000":
        as_datum = GCJ02 if datum == "gcj02" else BD09
        assert_moved_by(
            as_datum, gpkg_positions(plain.content), gpkg_positions(moved.content), 0.02
        )
