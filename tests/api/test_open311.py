"""Open311 GeoReport v2 under /open311/v2: services, filing, reading, errors in the spec's shape.

Writes run on a committed database of their own (``tests.coverage_district``'s
lattice district: grids 001 and 002 in the west community, 001 in the east
one) with a primary grid manager on the west grid 001 and one building with a
known address; the handlers commit, which the read-only demo database must
not see. The client is the city hotline: an API key with the ``open311`` and
``incidents:read`` scopes, sent as X-API-Key (or as the spec's ``api_key``
form field); steps of the closed loop and full reads are an admin's. Each
test files at its own point and lists with a small ``bbox`` around it, so
one test's requests never show up in another's list.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import create_app
from gis.accounts import keys
from gis.geo.datum import BD09, GCJ02, Datum, from_wgs84
from gis.incidents.catalogue import CATEGORIES, PERSONAL_CATEGORIES
from gis.settings import ServerSettings
from tests.accounts import committed_headers
from tests.coverage_district import GRIDS, LatticeDistrict, add_grid_manager, committed_lattice
from tests.http_checks import assert_error, ok

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

V2 = "/open311/v2"
MANAGER = "赵网格员"
ADDRESS = "东苑小区7号楼"
HOTLINE = "热线"


@pytest.fixture(scope="module")
def district(server_url: str) -> Iterator[LatticeDistrict]:
    with committed_lattice(server_url, "gridmap_open311_api_test") as made:
        add_grid_manager(made.engine, MANAGER, GRIDS[0])
        yield made


@pytest.fixture(scope="module")
def building(district: LatticeDistrict) -> dict[str, Any]:
    """The one building with an address: its id and WGS84 point."""
    with district.engine.begin() as conn:
        row = conn.execute(
            text(
                "UPDATE building SET address = :a WHERE id = (SELECT min(id) FROM building)"
                " RETURNING id, ST_X(location) AS lon, ST_Y(location) AS lat"
            ),
            {"a": ADDRESS},
        ).one()
    return {"id": int(row.id), "lon": float(row.lon), "lat": float(row.lat)}


@pytest.fixture(scope="module")
def hotline_key(district: LatticeDistrict) -> str:
    """The city hotline's key (committed): files requests and reads their status."""
    with Session(district.engine) as session:
        _, key = keys.create_key(session, HOTLINE, ("open311", "incidents:read"))
        session.commit()
    return key


@pytest.fixture(scope="module")
def admin(district: LatticeDistrict) -> dict[str, str]:
    return committed_headers(district.engine)


@pytest.fixture(scope="module")
def client(district: LatticeDistrict, hotline_key: str) -> Iterator[TestClient]:
    app = create_app(ServerSettings(), engine=district.engine)
    with TestClient(app, headers={"X-API-Key": hotline_key}) as test_client:
        yield test_client


def open311_error(response: Any, status: int, *fragments: str) -> str:
    """The description of an error that must have ``status`` and GeoReport's JSON shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, list) and len(body) == 1, body
    assert set(body[0]) == {"code", "description"} and body[0]["code"] == status
    description = str(body[0]["description"])
    for fragment in fragments:
        assert fragment in description, description
    return description


def file(client: TestClient, lon: float, lat: float, **fields: str) -> Any:
    form = {"service_code": "exposed_garbage", "lat": str(lat), "long": str(lon), **fields}
    return client.post(f"{V2}/requests.json", data=form)


def filed_id(client: TestClient, lon: float, lat: float, **fields: str) -> str:
    [answer] = ok(file(client, lon, lat, **fields))
    return str(answer["service_request_id"])


def one(client: TestClient, request_id: str) -> dict[str, Any]:
    [record] = ok(client.get(f"{V2}/requests/{request_id}.json"))
    return dict(record)


def near(lon: float, lat: float, d: float = 0.0005) -> str:
    return f"{lon - d},{lat - d},{lon + d},{lat + d}"


def incident(client: TestClient, request_id: str, headers: dict[str, str]) -> dict[str, Any]:
    return dict(ok(client.get(f"/api/v1/incidents/{request_id}", headers=headers)))


# --------------------------------------------------------------------------- services


def test_every_category_is_a_service(client: TestClient) -> None:
    services = ok(client.get(f"{V2}/services.json"))
    assert [s["service_code"] for s in services] == [c.code for c in CATEGORIES]
    garbage = next(s for s in services if s["service_code"] == "exposed_garbage")
    assert garbage["service_name"] == "暴露垃圾"
    assert garbage["group"] == "市容环境"
    assert (garbage["metadata"], garbage["type"]) == (True, "realtime")
    assert "暴露垃圾" in garbage["keywords"].split(",")
    assert "4个工作小时" in garbage["description"]
    top = next(s for s in services if s["service_code"] == "city_appearance")
    assert top["group"] == "市容环境" and "exposed_garbage" in top["description"]


def test_service_definition_offers_the_datum_and_source(client: TestClient) -> None:
    definition = ok(client.get(f"{V2}/services/exposed_garbage.json"))
    assert definition["service_code"] == "exposed_garbage"
    by_code = {a["code"]: a for a in definition["attributes"]}
    assert set(by_code) == {"datum", "source"}
    datum = by_code["datum"]
    assert (datum["datatype"], datum["required"], datum["variable"]) == (
        "singlevaluelist",
        False,
        True,
    )
    assert [v["key"] for v in datum["values"]] == ["wgs84", "cgcs2000", "gcj02", "bd09"]
    assert "hotline" in [v["key"] for v in by_code["source"]["values"]]
    assert [a["order"] for a in definition["attributes"]] == [1, 2]


def test_unknown_service_definition_is_404(client: TestClient) -> None:
    open311_error(client.get(f"{V2}/services/potholes.json"), 404, "potholes", "services.json")


# --------------------------------------------------------------------------- a client's flow


def test_a_client_lists_services_files_a_request_and_reads_it_back(
    client: TestClient, hotline_key: str, admin: dict[str, str]
) -> None:
    services = ok(client.get(f"{V2}/services.json"))
    code = next(s["service_code"] for s in services if s["service_name"] == "暴露垃圾")
    attributes = ok(client.get(f"{V2}/services/{code}.json"))["attributes"]
    assert "datum" in [a["code"] for a in attributes]
    response = client.post(
        f"{V2}/requests.json",
        headers={"X-API-Key": ""},  # the spec's api_key field alone
        data={
            "service_code": code,
            "lat": "36.745",
            "long": "119.105",
            "address_string": "东苑小区北门",
            "description": "北门垃圾堆放两天未清",
            "media_url": "https://img.example.cn/a/1.jpg",
            "email": "resident@example.cn",
            "phone": "13912345678",
            "first_name": "明",
            "last_name": "李",
            "device_id": "dev-42",
            "api_key": hotline_key,
            "jurisdiction_id": "370705",
        },
    )
    [answer] = ok(response)
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    assert isinstance(answer["service_request_id"], str) and answer["account_id"] is None
    assert "4个工作小时" in answer["service_notice"]
    request_id = answer["service_request_id"]
    assert response.headers["location"] == f"{V2}/requests/{request_id}.json"

    record = one(client, request_id)
    assert (record["service_request_id"], record["status"]) == (request_id, "open")
    assert (record["service_code"], record["service_name"]) == ("exposed_garbage", "暴露垃圾")
    assert record["description"] == "北门垃圾堆放两天未清"
    assert record["address"] == "东苑小区北门" and record["address_id"] is None
    assert (record["long"], record["lat"]) == pytest.approx((119.105, 36.745))
    assert record["agency_responsible"] == "网格001"  # the west grid 001, at grid level
    assert record["media_url"] == "https://img.example.cn/a/1.jpg"
    assert record["status_notes"] is None and record["expected_datetime"] is None
    requested = dt.datetime.fromisoformat(record["requested_datetime"])
    assert record["requested_datetime"].endswith("+08:00")
    assert abs(dt.datetime.now(dt.UTC) - requested) < dt.timedelta(minutes=5)
    assert record["updated_datetime"] == record["requested_datetime"]

    # It is an incident like any other: routed to the grid and its manager.
    stored = incident(client, request_id, admin)
    assert (stored["grid_code"], stored["handler"]["name"]) == (GRIDS[0], MANAGER)
    assert (stored["source"], stored["status"]) == ("app", "reported")
    # Contact fields and the api_key itself are kept nowhere a GET can reach.
    history = client.get(f"/api/v1/incidents/{request_id}/history", headers=admin).text
    everything = " ".join(
        [str(record), str(stored), history, client.get(f"{V2}/requests/{request_id}.xml").text]
    )
    for secret in ("resident@example.cn", "13912345678", "dev-42", hotline_key, "李"):
        assert secret not in everything
    [first] = ok(client.get(f"/api/v1/incidents/{request_id}/history"))["history"]
    assert first["actor"] == f"key:{HOTLINE}"


def test_filing_needs_an_open311_key(
    client: TestClient, district: LatticeDistrict, admin: dict[str, str]
) -> None:
    form = {"service_code": "exposed_garbage", "lat": "36.7425", "long": "119.105"}
    nobody = client.post(f"{V2}/requests.json", headers={"X-API-Key": ""}, data=form)
    open311_error(nobody, 401, "API 密钥")
    wrong = client.post(
        f"{V2}/requests.json", headers={"X-API-Key": ""}, data={**form, "api_key": "gm_x_y"}
    )
    open311_error(wrong, 401, "不存在、已过期或已吊销")
    with Session(district.engine) as session:
        _, reader = keys.create_key(session, "大数据中心", ("incidents:read",))
        session.commit()
    not_scoped = client.post(f"{V2}/requests.json", headers={"X-API-Key": reader}, data=form)
    open311_error(not_scoped, 403, "open311")
    people = client.post(f"{V2}/requests.json", headers={"X-API-Key": "", **admin}, data=form)
    open311_error(people, 403, "admin 角色不能使用此功能")
    request_id = filed_id(client, 119.105, 36.7425, **{"attribute[source]": "hotline"})
    assert incident(client, request_id, admin)["source"] == "hotline"


def test_gcj02_lands_in_the_same_grid_as_its_wgs84_truth(
    client: TestClient, admin: dict[str, str]
) -> None:
    truth = (119.1235, 36.708)  # west grid 001, 150 m west of the 119.125 boundary
    x, y = from_wgs84([truth[0]], [truth[1]], GCJ02)
    gcj = (float(x[0]), float(y[0]))
    assert gcj[0] > 119.125  # read as WGS84 it would lie in grid 002
    wgs_id = filed_id(client, *truth)
    gcj_id = filed_id(client, gcj[0], gcj[1], **{"attribute[datum]": "gcj02"})
    assert incident(client, wgs_id, admin)["grid_code"] == GRIDS[0]
    assert incident(client, gcj_id, admin)["grid_code"] == GRIDS[0]
    assert incident(client, gcj_id, admin)["location_datum"] == "gcj02"
    record = one(client, gcj_id)
    assert (record["long"], record["lat"]) == pytest.approx(truth, abs=1e-6)  # WGS84 out
    # The same point sent without its datum is routed where WGS84 puts it.
    assert incident(client, filed_id(client, *gcj), admin)["grid_code"] == GRIDS[1]


def _metres_apart(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Ground distance of two nearby lon/lat points (metres; fine within a few km)."""
    dx = (a[0] - b[0]) * 111_320.0 * math.cos(math.radians(a[1]))
    return math.hypot(dx, (a[1] - b[1]) * 110_574.0)


@pytest.mark.parametrize(
    ("datum", "truth"), [(GCJ02, (119.1135, 36.7185)), (BD09, (119.1615, 36.7275))]
)
def test_lat_long_read_back_in_the_datum_they_were_sent_in(
    client: TestClient, datum: Datum, truth: tuple[float, float]
) -> None:
    x, y = from_wgs84([truth[0]], [truth[1]], datum)
    sent = (round(float(x[0]), 7), round(float(y[0]), 7))  # what a phone map app hands over
    assert _metres_apart(sent, truth) > 100  # far enough that a mix-up would show
    request_id = filed_id(client, *sent, **{"attribute[datum]": datum.label})
    # JSON, one request and the list (whose bbox stays WGS84 whatever datum=).
    [record] = ok(client.get(f"{V2}/requests/{request_id}.json", params={"datum": datum.label}))
    assert _metres_apart((record["long"], record["lat"]), sent) < 0.01
    listed = ok(
        client.get(f"{V2}/requests.json", params={"bbox": near(*truth), "datum": datum.label})
    )
    [mine] = [r for r in listed if r["service_request_id"] == request_id]
    assert (mine["long"], mine["lat"]) == (record["long"], record["lat"])
    # XML says the same.
    xml = ET.fromstring(
        client.get(f"{V2}/requests/{request_id}.xml", params={"datum": datum.label}).content
    )
    from_xml = (
        float(xml.findtext("request/long") or "nan"),
        float(xml.findtext("request/lat") or "nan"),
    )
    assert from_xml == (record["long"], record["lat"])
    # Without datum= (or in CGCS2000) the stored WGS84 point, the same numbers.
    wgs = one(client, request_id)
    assert _metres_apart((wgs["long"], wgs["lat"]), truth) < 0.01
    [cgcs] = ok(client.get(f"{V2}/requests/{request_id}.json", params={"datum": "cgcs2000"}))
    assert (cgcs["long"], cgcs["lat"]) == (wgs["long"], wgs["lat"])


def test_an_unknown_datum_is_a_400_in_open311_shape(client: TestClient) -> None:
    request_id = filed_id(client, 119.1165, 36.7215)
    for url in (f"{V2}/requests/{request_id}.json", f"{V2}/requests.json"):
        open311_error(client.get(url, params={"datum": "mars"}), 400, "mars", "gcj02")
    error = client.get(f"{V2}/requests/{request_id}.xml", params={"datum": "mars"})
    assert error.status_code == 400 and error.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(error.content)
    assert root.tag == "errors" and root.findtext("error/code") == "400"
    chinese = client.get(
        f"{V2}/requests.json", params={"datum": "mars"}, headers={"Accept-Language": "zh-CN"}
    )
    assert "无法用于输出" in open311_error(chinese, 400)


def test_multipart_is_accepted_too(client: TestClient) -> None:
    fields = {"service_code": "illegal_parking", "lat": "36.7415", "long": "119.105"}
    response = client.post(f"{V2}/requests.json", files={"x": (None, "")}, data=fields)
    assert response.request.headers["content-type"].startswith("multipart/form-data")
    [answer] = ok(response)
    assert one(client, answer["service_request_id"])["service_code"] == "illegal_parking"


def test_address_string_and_address_id_locate_a_known_building(
    client: TestClient, building: dict[str, Any]
) -> None:
    by_string = client.post(
        f"{V2}/requests.json", data={"service_code": "safety_hazard", "address_string": ADDRESS}
    )
    record = one(client, ok(by_string)[0]["service_request_id"])
    assert (record["long"], record["lat"]) == pytest.approx((building["lon"], building["lat"]))
    assert (record["address"], record["address_id"]) == (ADDRESS, str(building["id"]))
    by_id = client.post(
        f"{V2}/requests.json", data={"service_code": "safety_hazard", "address_id": building["id"]}
    )
    record = one(client, ok(by_id)[0]["service_request_id"])
    assert (record["address"], record["address_id"]) == (ADDRESS, str(building["id"]))
    unknown = client.post(
        f"{V2}/requests.json", data={"service_code": "safety_hazard", "address_string": "人民路1号"}
    )
    open311_error(unknown, 400, "人民路1号", "lat and long")
    bad_id = client.post(
        f"{V2}/requests.json", data={"service_code": "safety_hazard", "address_id": "99999999"}
    )
    open311_error(bad_id, 400, "address_id", "not a building")


# --------------------------------------------------------------------------- refusals


def test_a_point_outside_the_district_is_400_saying_how_far(client: TestClient) -> None:
    open311_error(file(client, 119.30, 36.72), 400, "outside the district", "奎文区", "gcj02")


def test_unknown_or_missing_service_code_is_400(client: TestClient) -> None:
    response = client.post(
        f"{V2}/requests.json", data={"service_code": "potholes", "lat": "36.72", "long": "119.11"}
    )
    open311_error(response, 400, "potholes", "services.json")
    open311_error(
        client.post(f"{V2}/requests.json", data={"lat": "36.72", "long": "119.11"}),
        400,
        "必须填写 service_code",
    )


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"service_code": "exposed_garbage"}, "a location is required"),
        ({"service_code": "exposed_garbage", "lat": "36.72"}, "both lat and long"),
        ({"service_code": "exposed_garbage", "lat": "north", "long": "119.1"}, "not a number"),
        ({"attribute[datum]": "utm"}, "gcj02"),
        ({"attribute[datun]": "gcj02"}, "attribute[datum]"),
        ({"attribute[source]": "fax"}, "hotline"),
        ({"media_url": "file:///etc/passwd"}, "http(s)"),
        ({"description": "x" * 4001}, "at most 4000"),
        ({"jurisdiction_id": "110101"}, "370705"),
    ],
)
def test_bad_fields_are_refused_in_open311_shape(
    client: TestClient, fields: dict[str, str], fragment: str
) -> None:
    form = {"service_code": "exposed_garbage", "lat": "36.7405", "long": "119.1"}
    if "service_code" in fields:
        form = fields
    else:
        form.update(fields)
    response = client.post(f"{V2}/requests.json", data=form)
    status = 404 if "jurisdiction_id" in fields else 400
    open311_error(response, status, fragment)


def test_json_bodies_are_refused_with_a_hint(client: TestClient) -> None:
    response = client.post(f"{V2}/requests.json", json={"service_code": "exposed_garbage"})
    open311_error(response, 400, "form-encoded")


def test_oversized_body_is_413(client: TestClient) -> None:
    form = {"service_code": "exposed_garbage", "description": "x" * 70_000}
    open311_error(client.post(f"{V2}/requests.json", data=form), 413, "65,536 bytes", "media_url")


def test_unknown_ids_and_jurisdictions_are_404(client: TestClient) -> None:
    open311_error(client.get(f"{V2}/requests/99999999.json"), 404, "99999999")
    open311_error(client.get(f"{V2}/requests/abc.json"), 404, "abc")
    open311_error(client.get(f"{V2}/services.json?jurisdiction_id=110101"), 404, "110101", "370705")
    assert ok(client.get(f"{V2}/services.json?jurisdiction_id=370705"))
    assert ok(client.get(f"{V2}/services.json?jurisdiction_id="))  # FixMyStreet sends it empty
    open311_error(client.get(f"{V2}/nothing.json"), 404)
    form = {"service_code": "exposed_garbage", "lat": "36.7405", "long": "119.1"}
    in_query = client.post(f"{V2}/requests.json?jurisdiction_id=110101", data=form)
    open311_error(in_query, 404, "110101")


def test_fastapi_validation_and_formats_answer_in_open311_shape(
    client: TestClient, admin: dict[str, str]
) -> None:
    open311_error(client.get(f"{V2}/requests.json?page=0"), 400, "page")
    open311_error(client.get(f"{V2}/requests.json?page_size=5000"), 400, "page_size")
    open311_error(client.get(f"{V2}/services.csv"), 400, ".json or .xml")
    open311_error(client.delete(f"{V2}/services.json"), 405)
    # The rest of the API keeps its own error shape.
    assert_error(client.get("/api/v1/incidents/99999999", headers=admin), 404)
    assert_error(client.get("/api/v1/incidents?limit=0", headers=admin), 400)


# --------------------------------------------------------------------------- GET requests


def test_status_maps_open_and_closed_and_notes_follow_the_last_step(
    client: TestClient, admin: dict[str, str]
) -> None:
    lon, lat = 119.135, 36.745
    kept, cancelled = filed_id(client, lon, lat), filed_id(client, lon + 0.0001, lat)
    body = {"action": "cancel", "expected_version": 1, "note": "重复上报"}
    ok(client.post(f"/api/v1/incidents/{cancelled}/transitions", json=body, headers=admin))
    record = one(client, cancelled)
    assert (record["status"], record["status_notes"]) == ("closed", "重复上报")
    steps = ok(client.get(f"/api/v1/incidents/{cancelled}/history"))["history"]
    cancelled_at = dt.datetime.fromisoformat(steps[-1]["at"]).replace(microsecond=0)
    assert dt.datetime.fromisoformat(record["updated_datetime"]) == cancelled_at
    assert one(client, kept)["status"] == "open"
    box = near(lon, lat)

    def listed(**params: str) -> list[str]:
        query = {"bbox": box, **params}
        return [
            r["service_request_id"] for r in ok(client.get(f"{V2}/requests.json", params=query))
        ]

    assert listed() == [cancelled, kept]  # newest first
    assert listed(status="closed") == [cancelled]
    assert listed(status="open") == [kept]
    assert listed(status="open,closed") == [cancelled, kept]
    open311_error(client.get(f"{V2}/requests.json?status=cancelled"), 400, "open or closed")

    # A case dispatched and closed through the loop: expected_datetime is its deadline.
    version = 1
    for action in ("accept", "dispatch"):
        step = {"action": action, "expected_version": version}
        moved = client.post(f"/api/v1/incidents/{kept}/transitions", json=step, headers=admin)
        version = ok(moved)["version"]
    record = one(client, kept)
    deadline = incident(client, kept, admin)["deadline_at"]
    assert record["status"] == "open" and record["expected_datetime"] is not None
    # Open311 times are whole seconds; a deadline computed in working hours has microseconds
    # (outside them it starts at a round hour, which is why this held at night).
    assert dt.datetime.fromisoformat(record["expected_datetime"]) == dt.datetime.fromisoformat(
        deadline
    ).replace(microsecond=0)


def test_personal_requests_are_never_listed_and_show_only_their_status(
    client: TestClient, district: LatticeDistrict, admin: dict[str, str]
) -> None:
    """A help request maps where a person in need lives: not for a public interface. The key
    sees it by id at its grid's representative point; the admin, responsible, in full."""
    lon, lat = 119.111, 36.711
    private = filed_id(
        client,
        lon,
        lat,
        service_code="help_request",
        description="独居老人张某行动不便，需上门",
        address_string="东苑小区3号楼",
        media_url="https://img.example.cn/p.jpg",
    )
    public = filed_id(client, lon, lat, description="垃圾满溢")
    listed = ok(client.get(f"{V2}/requests.json"))
    assert public in [r["service_request_id"] for r in listed]
    assert private not in [r["service_request_id"] for r in listed]
    assert ok(client.get(f"{V2}/requests.json", params={"service_code": "help_request"})) == []
    record = one(client, private)
    assert (record["status"], record["service_code"]) == ("open", "help_request")
    assert record["agency_responsible"] and record["requested_datetime"]
    for hidden in ("description", "address", "address_id", "media_url", "status_notes"):
        assert record[hidden] is None, hidden
    with district.engine.connect() as conn:
        grid_point = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid"
                " WHERE code = :c AND valid_to IS NULL) s"
            ),
            {"c": GRIDS[0]},
        ).one()
    assert (record["long"], record["lat"]) == pytest.approx(tuple(grid_point), abs=1e-6)
    assert (record["long"], record["lat"]) != pytest.approx((lon, lat), abs=1e-6)
    # The case itself keeps everything for the people who handle it.
    [full] = ok(client.get(f"{V2}/requests/{private}.json", headers=admin))
    assert full["description"] == "独居老人张某行动不便，需上门"
    assert (full["long"], full["lat"]) == pytest.approx((lon, lat))
    stored = incident(client, private, admin)
    assert stored["description"] == "独居老人张某行动不便，需上门"
    assert stored["media_url"] == "https://img.example.cn/p.jpg"
    [service] = ok(client.get(f"{V2}/services.json"))[-1:]
    assert (
        service["service_code"] == "help_request"
        and "只列给负责的工作人员" in service["description"]
    )


def test_filters_by_code_dates_ids_and_pages(client: TestClient) -> None:
    lon, lat = 119.185, 36.705
    garbage = filed_id(client, lon, lat)
    parking = filed_id(client, lon + 0.0001, lat, service_code="illegal_parking")
    box = near(lon, lat)

    def listed(**params: str) -> list[str]:
        query = {"bbox": box, **params}
        return [
            r["service_request_id"] for r in ok(client.get(f"{V2}/requests.json", params=query))
        ]

    assert listed(service_code="illegal_parking") == [parking]
    assert listed(service_code="exposed_garbage,illegal_parking") == [parking, garbage]
    open311_error(client.get(f"{V2}/requests.json?service_code=potholes"), 400, "potholes")
    today = dt.datetime.now(dt.UTC).date()
    assert listed(start_date=str(today - dt.timedelta(days=1))) == [parking, garbage]
    assert listed(end_date=str(today - dt.timedelta(days=1))) == []
    # An unescaped '+' arrives as a space; it is read as the offset it was.
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).astimezone(
        dt.timezone(dt.timedelta(hours=8))
    )
    assert listed(start_date=since.isoformat(timespec="seconds").replace("+", " ")) == [
        parking,
        garbage,
    ]
    long_range = {"start_date": "2026-01-01", "end_date": "2026-06-01"}
    open311_error(client.get(f"{V2}/requests.json", params=long_range), 400, "90")
    open311_error(client.get(f"{V2}/requests.json?start_date=yesterday"), 400, "W3C")
    assert listed(page_size="1") == [parking]
    assert listed(page_size="1", page="2") == [garbage]
    assert (
        listed(updated_after=(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat()) == []
    )
    # service_request_id wins over every other filter (GeoReport v2).
    ids = f"{garbage},{parking},99999999"
    found = ok(
        client.get(f"{V2}/requests.json", params={"service_request_id": ids, "status": "closed"})
    )
    assert [r["service_request_id"] for r in found] == [garbage, parking]
    open311_error(client.get(f"{V2}/requests.json?service_request_id=1,x"), 400, "'x'")


# --------------------------------------------------------------------------- XML and discovery


def test_xml_documents_follow_the_spec(client: TestClient) -> None:
    services = ET.fromstring(client.get(f"{V2}/services.xml").content)
    assert services.tag == "services" and len(services.findall("service")) == len(CATEGORIES)
    assert services.find("service/metadata").text == "true"  # type: ignore[union-attr]
    definition = ET.fromstring(client.get(f"{V2}/services/exposed_garbage.xml").content)
    keys = [v.text for v in definition.findall("attributes/attribute/values/value/key")]
    assert keys[:4] == ["wgs84", "cgcs2000", "gcj02", "bd09"]
    form = {"service_code": "road_collapse", "lat": "36.7395", "long": "119.105"}
    response = client.post(f"{V2}/requests.xml", data=form)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    posted = ET.fromstring(response.content)
    request_id = posted.findtext("request/service_request_id")
    assert posted.tag == "service_requests" and request_id
    fetched = ET.fromstring(client.get(f"{V2}/requests/{request_id}.xml").content)
    assert fetched.findtext("request/service_code") == "road_collapse"
    assert fetched.findtext("request/status") == "open"
    error = client.get(f"{V2}/requests/99999999.xml")
    assert error.status_code == 404 and error.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(error.content)
    assert root.tag == "errors" and root.findtext("error/code") == "404"


def test_discovery_points_at_the_v2_endpoint(client: TestClient) -> None:
    found = ok(client.get("/open311/discovery.json"))
    [endpoint] = found["endpoints"]
    assert endpoint["url"].endswith("/open311/v2")
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert "text/xml" in endpoint["formats"]


def test_openapi_documents_the_open311_endpoints(client: TestClient) -> None:
    paths = ok(client.get("/openapi.json"))["paths"]
    post = paths[f"{V2}/requests.{{format}}"]["post"]
    assert "application/x-www-form-urlencoded" in post["requestBody"]["content"]
    assert f"{V2}/requests/{{service_request_id}}.{{format}}" in paths


# --------------------------------------------------------------------------- the demo year


@pytest.fixture(scope="module")
def demo_client(demo_engine: Engine) -> Iterator[TestClient]:
    """The demo's planner: every request of the district, none of personal categories."""
    app = create_app(ServerSettings(), engine=demo_engine)
    with TestClient(app, headers=committed_headers(demo_engine, "planner")) as test_client:
        yield test_client


def test_the_demo_quarter_lists_as_open311_counts_it(
    demo_client: TestClient, demo_engine: Engine
) -> None:
    window = {"start_date": "2026-08-02T00:00:00+08:00", "end_date": "2026-10-31T00:00:00+08:00"}
    with demo_engine.connect() as conn:
        closed, total = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE status IN ('closed', 'evaluated', 'cancelled')),"
                " count(*) FROM incident WHERE reported_at BETWEEN :s AND :e"
                " AND category <> ALL(:personal)"  # disputes, petitions, help: never listed
            ),
            {
                "s": window["start_date"],
                "e": window["end_date"],
                "personal": sorted(PERSONAL_CATEGORIES),
            },
        ).one()
    assert 0 < closed < total
    listed = ok(demo_client.get(f"{V2}/requests.json", params={**window, "status": "closed"}))
    assert len(listed) == min(closed, 1000)
    assert {r["status"] for r in listed} == {"closed"}
    everything = ok(demo_client.get(f"{V2}/requests.json", params=window))
    assert len(everything) == min(total, 1000)
    times = [r["requested_datetime"] for r in everything]
    assert times == sorted(times, reverse=True)
    assert all(r["agency_responsible"] for r in everything)


# --------------------------------------------------------------------------- language

EN = {"Accept-Language": "en-GB,en;q=0.9"}


def test_names_and_notices_are_chinese_by_default_and_english_when_asked(
    client: TestClient,
) -> None:
    zh = client.get(f"{V2}/services.json")
    garbage = next(s for s in ok(zh) if s["service_code"] == "exposed_garbage")
    assert (garbage["service_name"], garbage["group"]) == ("暴露垃圾", "市容环境")
    assert "处理时限" in garbage["description"] and "working" not in garbage["description"]
    assert zh.headers["Content-Language"] == "zh-CN" and "Accept-Language" in zh.headers["Vary"]
    en = client.get(f"{V2}/services.json", headers=EN)
    english = next(s for s in ok(en) if s["service_code"] == "exposed_garbage")
    assert english["service_name"] == "Exposed garbage" and english["group"] != "市容环境"
    assert "4 working hours" in english["description"]
    assert en.headers["Content-Language"] == "en"
    assert {s["service_code"] for s in ok(en)} == {s["service_code"] for s in ok(zh)}
    # the keywords carry both, whichever language is asked (clients search them)
    assert "暴露垃圾" in english["keywords"] and "exposed garbage" in garbage["keywords"]

    definition = ok(client.get(f"{V2}/services/exposed_garbage.json", headers=EN))
    [datum, source] = definition["attributes"]
    assert source["values"][1]["name"] == "hotline (12345)"
    assert datum["description"] == "Coordinate datum of lat and long"
    assert {v["key"] for v in datum["values"]} == {"wgs84", "cgcs2000", "gcj02", "bd09"}
    definition = ok(client.get(f"{V2}/services/exposed_garbage.json"))
    assert definition["attributes"][1]["description"] == "上报来源"

    [filed] = ok(file(client, 119.131, 36.741))
    assert filed["service_notice"] == "暴露垃圾：派遣后 4个工作小时内处理"
    [filed_en] = ok(
        client.post(
            f"{V2}/requests.json",
            data={"service_code": "exposed_garbage", "lat": "36.741", "long": "119.1312"},
            headers=EN,
        )
    )
    assert "handled within 4 working hours" in filed_en["service_notice"]
    assert one(client, filed["service_request_id"])["service_name"] == "暴露垃圾"
    [record] = ok(client.get(f"{V2}/requests/{filed['service_request_id']}.json", headers=EN))
    assert record["service_name"] == "Exposed garbage"
    assert record["service_notice"].startswith("Exposed garbage: handled within")

    xml = client.get(f"{V2}/services.xml", headers=EN)
    assert xml.headers["Content-Language"] == "en" and b"Exposed garbage" in xml.content


@pytest.mark.parametrize(
    ("asked", "lang"),
    [
        ({}, "zh"),
        ({"Accept-Language": "en"}, "en"),
        ({"Accept-Language": "en-US,en;q=0.9,zh-CN;q=0.8"}, "en"),
        ({"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}, "zh"),
        ({"Accept-Language": "fr-FR, en;q=0.5, zh;q=0.6"}, "zh"),
        ({"Accept-Language": "zh;q=0, en;q=0.1"}, "en"),
        ({"Accept-Language": "fr, *"}, "zh"),
        ({"Accept-Language": "en;q=x, zh;q=0.5"}, "en"),
        ({"Cookie": "gm_lang=en"}, "en"),
        ({"Cookie": "gm_lang=zh", "Accept-Language": "en"}, "zh"),
    ],
)
def test_the_language_asked_for(client: TestClient, asked: dict[str, str], lang: str) -> None:
    response = client.get(f"{V2}/services.json", headers=asked)
    garbage = next(s for s in ok(response) if s["service_code"] == "exposed_garbage")
    assert garbage["service_name"] == ("暴露垃圾" if lang == "zh" else "Exposed garbage")
    assert response.headers["Content-Language"] == ("zh-CN" if lang == "zh" else "en")


def test_an_automatic_escalation_is_noted_in_both_languages(
    client: TestClient, admin: dict[str, str], district: LatticeDistrict
) -> None:
    from gis.incidents.transitions import transition
    from gis.incidents.workflow import Action
    from gis.localtime import utc_now
    from gis.principal import SYSTEM

    request_id = filed_id(client, 119.1335, 36.7435)
    version = 1
    for action in ("accept", "dispatch"):
        step = {"action": action, "expected_version": version}
        moved = client.post(f"/api/v1/incidents/{request_id}/transitions", json=step, headers=admin)
        version = ok(moved)["version"]
    with Session(district.engine) as session:
        transition(
            session,
            int(request_id),
            Action.ESCALATE,
            principal=SYSTEM,
            expected_version=version,
            note="deadline 2025-03-10T03:00:00+00:00 passed 1.0 h ago",
            at=utc_now(),
        )
        session.commit()
    assert one(client, request_id)["status_notes"] == "已超过处理时限，系统自动上报至社区级"
    [record] = ok(client.get(f"{V2}/requests/{request_id}.json", headers=EN))
    assert record["status_notes"] == "past its deadline: raised to community level automatically"


def test_errors_in_open311_shape_follow_the_language(district: LatticeDistrict) -> None:
    app = create_app(ServerSettings(), engine=district.engine)
    with TestClient(app) as anonymous:
        form = {"service_code": "exposed_garbage", "lat": "36.74", "long": "119.13"}
        zh = anonymous.post(f"{V2}/requests.json", data=form)
        open311_error(zh, 401, "请先登录")
        en = anonymous.post(f"{V2}/requests.json", data=form, headers=EN)
        description = open311_error(en, 401, "log in first")
        assert not any("\u4e00" <= c <= "\u9fff" for c in description)
        assert en.headers["Content-Language"] == "en"
