"""Incident endpoints: intake and routing, the closed loop over HTTP, statistics, hot spots.

Writes run on a committed database of their own (``tests.coverage_district``'s
lattice district, grids 001 and 002 in the west community and 001 in the
east one) with a primary grid manager on the west grid 001 and nobody on 002;
the handlers commit, which the read-only demo database must not see. Each
test reports at its own point, so the duplicate suggestions (50 m, 72 h) of
one test never see another's incidents. Statistics and hot spots read the
demo district.

The ``client`` is logged in as an admin, who may take any step but verify or
close what they handled; the steps of the grid's work are taken by the grid
manager (``MANAGER``, an account on their staff record) and the community's
account, as they would be (``tests/api/test_workflow_people.py`` checks who may
do what).
"""

from __future__ import annotations

import datetime as dt
import io
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from api.app import create_app
from gis.geo.datum import GCJ02, from_wgs84
from gis.incidents.hotspots import HOT_SPOT_CLASSES
from gis.incidents.stats import HOURS_COLUMNS, RATE_COLUMNS, incident_counts
from gis.settings import ServerSettings
from layers.incidents import is_measure_column, measure_classes, quantile_breaks
from tests.accounts import committed_headers
from tests.coverage_district import GRIDS, LatticeDistrict, add_grid_manager, committed_lattice
from tests.http_checks import assert_error, ok

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

MANAGER = "王网格员"
WEST_COMMUNITY = "370705001001"
YEAR = ("2025-11-01", "2026-11-01")  # the demo's year, half-open


@pytest.fixture(scope="module")
def district(server_url: str) -> Iterator[LatticeDistrict]:
    with committed_lattice(server_url, "gridmap_incidents_api_test") as made:
        yield made


@pytest.fixture(scope="module")
def manager_staff(district: LatticeDistrict) -> int:
    """The staff id of grid 001's primary grid manager."""
    return add_grid_manager(district.engine, MANAGER, GRIDS[0])


@pytest.fixture(scope="module")
def manager(district: LatticeDistrict, manager_staff: int) -> dict[str, str]:
    """Headers of the grid manager's login (their account covers grid 001)."""
    return committed_headers(district.engine, "wang", "grid_manager", staff_id=manager_staff)


@pytest.fixture(scope="module")
def community(district: LatticeDistrict) -> dict[str, str]:
    """Headers of the west community's account (grids 001 and 002)."""
    return committed_headers(district.engine, "west", "community", area_code=WEST_COMMUNITY)


@pytest.fixture(scope="module")
def client(district: LatticeDistrict, manager_staff: int) -> Iterator[TestClient]:
    app = create_app(ServerSettings(), engine=district.engine)
    with TestClient(app, headers=committed_headers(district.engine)) as test_client:
        yield test_client


def post_report(client: TestClient, lon: float, lat: float, **kw: Any) -> Any:
    body = {
        "category": "exposed_garbage",
        "description": "暴露垃圾",
        "source": "patrol",
        "lon": lon,
        "lat": lat,
        **kw,
    }
    return client.post("/api/v1/incidents", json=body)


def report(client: TestClient, lon: float, lat: float, **kw: Any) -> Any:
    return ok(post_report(client, lon, lat, **kw), 201)


def step(
    client: TestClient,
    incident_id: int,
    action: str,
    version: int,
    *,
    by: dict[str, str] | None = None,
    **kw: Any,
) -> Any:
    """Take ``action`` as the client's admin, or as the login whose headers are ``by``."""
    body = {"action": action, "expected_version": version, **kw}
    return client.post(f"/api/v1/incidents/{incident_id}/transitions", json=body, headers=by)


# --------------------------------------------------------------------------- intake


def test_create_routes_to_the_grid_and_its_manager(client: TestClient) -> None:
    inc = report(client, 119.11, 36.72, address="东苑小区3号楼")
    assert inc["grid_code"] == GRIDS[0] and inc["community_code"] == "370705001001"
    assert inc["subdistrict_code"] == "370705001"
    assert inc["handler"]["name"] == MANAGER
    assert (inc["status"], inc["version"], inc["handling_level"]) == ("reported", 1, "grid")
    assert inc["snapped_m"] is None and inc["deadline_at"] is None
    assert inc["category"] == "exposed_garbage" and inc["location_datum"] == "wgs84"
    assert inc["possible_duplicates"] == []
    assert (inc["lon"], inc["lat"]) == pytest.approx((119.11, 36.72))
    again = ok(client.get(f"/api/v1/incidents/{inc['id']}"))
    assert again["id"] == inc["id"] and again["address"] == "东苑小区3号楼"
    assert "possible_duplicates" not in again
    # The list route still answers, and holds the new incident.
    listed = ok(client.get(f"/api/v1/incidents?grid={GRIDS[0]}&limit=1000"))
    assert inc["id"] in [f["id"] for f in listed["features"]]


def test_the_intake_answer_is_the_incident_as_stored(client: TestClient) -> None:
    """The POST answers from its one intake statement; GET reads the stored row."""
    for lon, lat in ((119.115, 36.715), (119.1, 36.735)):  # inside grid 001; on its west edge
        posted = report(client, lon, lat, address="东关街2号", datum="wgs84")
        got = ok(client.get(f"/api/v1/incidents/{posted['id']}"))
        assert posted.pop("possible_duplicates") == []
        assert got.pop("masked") is False  # a read says whether it hid anything
        assert got.pop("photos") == []  # and, to those responsible, the case's photos
        assert posted == got
        assert got["grid_code"] == GRIDS[0] and got["handler"]["name"] == MANAGER


def test_dispatch_to_an_unknown_person_is_422_and_changes_nothing(client: TestClient) -> None:
    inc = report(client, 119.112, 36.714)
    ok(step(client, inc["id"], "accept", 1))
    refused = step(client, inc["id"], "dispatch", 2, handler_staff_id=999_999)
    assert_error(refused, 422, "no staff member has id 999999")
    after = ok(client.get(f"/api/v1/incidents/{inc['id']}"))
    assert (after["status"], after["version"]) == ("accepted", 2)


def test_a_photo_link_is_kept_and_anything_else_refused(client: TestClient) -> None:
    photo = "https://img.example.cn/2026/11/23/a.jpg"
    inc = report(client, 119.113, 36.713, media_url=photo)
    assert ok(client.get(f"/api/v1/incidents/{inc['id']}"))["media_url"] == photo
    assert report(client, 119.114, 36.713)["media_url"] is None
    assert_error(post_report(client, 119.113, 36.713, media_url="file:///etc/passwd"), 422, "http")


def test_every_request_gives_its_connection_back(
    client: TestClient, district: LatticeDistrict
) -> None:
    """The session dependency closes in the event loop after a commit and in the
    threadpool after a read (its transaction is rolled back): no connection leaks."""
    inc = report(client, 119.112, 36.712)
    ok(client.get(f"/api/v1/incidents/{inc['id']}"))
    assert_error(post_report(client, 119.30, 36.72), 422, "m outside")  # failed mid-transaction
    pool = district.engine.pool
    deadline = time.monotonic() + 2
    while pool.checkedout() and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.01)
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    with district.engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM incident WHERE id = :i"), {"i": inc["id"]}
            ).scalar_one()
            == 1
        )


def test_a_grid_without_a_manager_leaves_the_handler_empty(client: TestClient) -> None:
    inc = report(client, 119.14, 36.75)
    assert inc["grid_code"] == GRIDS[1] and inc["handler"] is None


def test_gcj02_input_lands_in_the_grid_of_its_wgs84_truth(client: TestClient) -> None:
    truth = (119.12, 36.705)  # west grid 001, just west of the 119.125 boundary
    x, y = from_wgs84([truth[0]], [truth[1]], GCJ02)
    gcj = (float(x[0]), float(y[0]))
    assert gcj[0] > 119.125  # taken for WGS84 it would fall in grid 002
    inc = report(client, *gcj, datum="gcj02")
    assert inc["grid_code"] == GRIDS[0] and inc["location_datum"] == "gcj02"
    assert (inc["lon"], inc["lat"]) == pytest.approx(truth, abs=1e-6)


def test_outside_the_district_is_422_with_the_distance(client: TestClient) -> None:
    body = assert_error(post_report(client, 119.30, 36.72), 422, "m outside", "370705", "gcj02")
    assert body["code"] == "OutsideDistrict"


def test_bad_reports_are_422(client: TestClient) -> None:
    body = assert_error(post_report(client, 119.11, 36.72, category="potholes"), 422)
    assert "exposed_garbage" not in body["description"]  # only top-level codes are listed
    assert "city_appearance" in body["description"] and "dispute" in body["description"]
    assert_error(post_report(client, 119.11, 36.72, actor=MANAGER), 422, "actor")
    assert_error(post_report(client, 119.11, 36.72, datum="mars"), 422)
    assert_error(post_report(client, 119.11, 36.72, reported_at="2025-03-07T09:00"), 422, "zone")
    json_type = {"content-type": "application/json"}
    assert_error(client.post("/api/v1/incidents", content=b"{", headers=json_type), 422)
    # Not declared JSON: refused before it is read (api.bodies; tests/api/test_hardening.py).
    assert_error(client.post("/api/v1/incidents", content=b"{", headers={"content-type": "x"}), 415)


def test_oversized_body_is_413(client: TestClient) -> None:
    huge = b'{"description": "' + b"x" * 70_000 + b'"}'
    response = client.post(
        "/api/v1/incidents", content=huge, headers={"content-type": "application/json"}
    )
    assert assert_error(response, 413, "65,536 bytes")["code"] == "PayloadTooLarge"


def test_missing_incident_is_404(client: TestClient) -> None:
    assert_error(client.get("/api/v1/incidents/999999"), 404, "999999")
    assert_error(client.get("/api/v1/incidents/999999/history"), 404)
    assert_error(step(client, 999999, "accept", 1), 404)


# --------------------------------------------------------------------------- the closed loop


def test_full_workflow_over_http_and_its_history(
    client: TestClient, manager: dict[str, str], community: dict[str, str], manager_staff: int
) -> None:
    inc = report(client, 119.105, 36.745)
    version = inc["version"]
    for action, by, status in (
        ("accept", manager, "accepted"),
        ("dispatch", community, "dispatched"),
        ("handle", manager, "handled"),
        ("feedback", manager, "feedback"),
        ("verify", community, "closed"),
        ("evaluate", community, "evaluated"),
    ):
        handler: dict[str, Any] = (
            {"handler_staff_id": manager_staff} if action == "dispatch" else {}
        )
        if action == "evaluate":
            handler["rating"] = "satisfied"
        after = ok(step(client, inc["id"], action, version, by=by, note=f"{action} ok", **handler))
        assert after["status"] == status and after["version"] == version + 1
        if action == "dispatch":
            assert after["deadline_at"] is not None and after["clock_started_at"] is not None
        version = after["version"]
    assert after["closed_at"] is not None
    steps = ok(client.get(f"/api/v1/incidents/{inc['id']}/history"))["history"]
    assert [s["action"] for s in steps] == [
        "reported",
        "accept",
        "dispatch",
        "handle",
        "feedback",
        "verify",
        "evaluate",
    ]
    assert [s["to_state"] for s in steps][-1] == "evaluated"
    times = [dt.datetime.fromisoformat(s["at"]) for s in steps]
    assert times == sorted(times)
    assert steps[1]["note"] == "accept ok" and steps[1]["actor"] == MANAGER
    assert [s["actor"] for s in steps[2:]] == ["west", MANAGER, MANAGER, "west", "west"]


def test_a_disallowed_action_is_409_listing_the_allowed(client: TestClient) -> None:
    inc = report(client, 119.105, 36.735)
    body = assert_error(step(client, inc["id"], "verify", 1), 409, "可以进行")
    assert (body["code"], body["state"], body["allowed"]) == (
        "TransitionNotAllowed",
        "reported",
        ["accept", "cancel", "settle", "escalate", "urge"],
    )
    assert assert_error(step(client, inc["id"], "fly", 1), 409)["allowed"] == [
        "accept",
        "cancel",
        "settle",
        "escalate",
        "urge",
    ]
    assert ok(client.get(f"/api/v1/incidents/{inc['id']}"))["version"] == 1


def test_a_stale_version_is_409_with_the_current_one(client: TestClient) -> None:
    inc = report(client, 119.105, 36.725)
    ok(step(client, inc["id"], "accept", 1))
    body = assert_error(step(client, inc["id"], "dispatch", 1), 409, "第 2 版，不是第 1 版")
    assert (body["code"], body["current_version"]) == ("StaleVersion", 2)
    assert ok(step(client, inc["id"], "dispatch", 2))["status"] == "dispatched"


def test_cancel_without_a_note_is_400(client: TestClient) -> None:
    inc = report(client, 119.105, 36.715)
    body = assert_error(step(client, inc["id"], "cancel", 1), 400, "须填写说明")
    assert body["code"] == "NoteRequired"
    assert ok(step(client, inc["id"], "cancel", 1, note="重复上报"))["status"] == "cancelled"


def test_bad_transition_bodies_are_422(client: TestClient) -> None:
    inc = report(client, 119.105, 36.705)
    response = client.post(f"/api/v1/incidents/{inc['id']}/transitions", json={"action": "accept"})
    assert assert_error(response, 422, "expected_version")["errors"][0]["location"] == "body"
    with_actor = {"action": "accept", "expected_version": 1, "actor": MANAGER}
    response = client.post(f"/api/v1/incidents/{inc['id']}/transitions", json=with_actor)
    assert assert_error(response, 422, "actor")["errors"][0]["parameter"] == "actor"


def test_duplicates_are_suggested_and_merged(client: TestClient) -> None:
    first = report(client, 119.17, 36.74)
    second = report(client, 119.1701, 36.7401)
    [candidate] = second["possible_duplicates"]
    assert candidate["id"] == first["id"] and candidate["distance_m"] < 20
    assert candidate["status"] == "reported"
    merged = ok(
        client.post(
            f"/api/v1/incidents/{second['id']}/merge",
            json={"into": first["id"], "note": "同一处垃圾"},
        )
    )
    assert (merged["status"], merged["duplicate_of"], merged["version"]) == (
        "cancelled",
        first["id"],
        2,
    )
    assert (
        ok(client.get(f"/api/v1/incidents/{second['id']}/history"))["history"][-1]["action"]
        == "merge"
    )
    third = report(client, 119.1701, 36.7401)
    assert [d["id"] for d in third["possible_duplicates"]] == [first["id"]]
    self_merge = {"into": first["id"]}
    assert_error(
        client.post(f"/api/v1/incidents/{first['id']}/merge", json=self_merge), 422, "itself"
    )
    assert_error(client.post(f"/api/v1/incidents/{second['id']}/merge", json=self_merge), 409)


def test_if_match_is_honoured_like_expected_version(client: TestClient) -> None:
    inc = report(client, 119.135, 36.755)
    read = client.get(f"/api/v1/incidents/{inc['id']}")
    assert read.headers["etag"] == f'"{inc["id"]}-1"'
    url = f"/api/v1/incidents/{inc['id']}/transitions"
    body = {"action": "accept", "expected_version": 1}
    accepted = client.post(url, json=body, headers={"If-Match": read.headers["etag"]})
    assert ok(accepted)["version"] == 2 and accepted.headers["etag"] == f'"{inc["id"]}-2"'
    # The same step again, with the ETag read before it: stale.
    stale = assert_error(
        client.post(url, json=body, headers={"If-Match": read.headers["etag"]}), 412, "第 2 版"
    )
    assert (stale["code"], stale["current_version"]) == ("PreconditionFailed", 2)
    assert stale["etag"] == accepted.headers["etag"]
    # Without If-Match the body's version decides, as always (409).
    assert assert_error(client.post(url, json=body), 409)["etag"] == accepted.headers["etag"]
    contradicting = {**body, "expected_version": 2}
    assert_error(
        client.post(url, json=contradicting, headers={"If-Match": read.headers["etag"]}),
        400,
        "different versions",
    )
    assert ok(client.get(f"/api/v1/incidents/{inc['id']}"))["version"] == 2


def test_merge_honours_if_match(client: TestClient) -> None:
    first = report(client, 119.137, 36.757)
    second = report(client, 119.1371, 36.7571)
    url = f"/api/v1/incidents/{second['id']}/merge"
    merge = {"into": first["id"]}
    ok(step(client, second["id"], "accept", 1))
    assert_error(
        client.post(url, json=merge, headers={"If-Match": f'"{second["id"]}-1"'}), 412, "第 2 版"
    )
    merged = client.post(url, json=merge, headers={"If-Match": f'"{second["id"]}-2"'})
    assert ok(merged)["duplicate_of"] == first["id"]
    assert merged.headers["etag"] == f'"{second["id"]}-3"'


def test_openapi_documents_the_incident_endpoints(client: TestClient) -> None:
    paths = ok(client.get("/openapi.json"))["paths"]
    assert set(paths["/api/v1/incidents"]) == {"get", "post"}
    for path in (
        "/api/v1/incidents/{incident_id}",
        "/api/v1/incidents/{incident_id}/history",
        "/api/v1/incidents/{incident_id}/transitions",
        "/api/v1/incidents/{incident_id}/merge",
        "/api/v1/incidents/statistics",
        "/api/v1/incidents/hot-spots",
    ):
        assert path in paths
    post = paths["/api/v1/incidents"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert {"category", "lon", "lat", "datum"} <= set(schema["properties"])
    assert "actor" not in schema["properties"]  # who acts is who logged in


# --------------------------------------------------------------------------- demo district


@pytest.fixture(scope="module")
def demo_client(demo_engine: Engine) -> Iterator[TestClient]:
    app = create_app(ServerSettings(), engine=demo_engine)
    with TestClient(app, headers=committed_headers(demo_engine, "admin")) as test_client:
        yield test_client


def _year_count(demo_engine: Engine, where: str = "true") -> int:
    with demo_engine.connect() as conn:
        n: int = conn.execute(
            text(
                "SELECT count(*) FROM incident WHERE reported_at >= '2025-11-01 00:00+08'"
                f" AND reported_at < '2026-11-01 00:00+08' AND {where}"
            )
        ).scalar_one()
    return n


def test_statistics_totals_equal_a_sql_count(demo_client: TestClient, demo_engine: Engine) -> None:
    n = _year_count(demo_engine)
    assert n > 3000
    query = f"start={YEAR[0]}&end={YEAR[1]}"
    district = ok(demo_client.get(f"/api/v1/incidents/statistics?{query}&level=district"))
    [row] = district["rows"]
    assert (row["code"], row["received"], district["level"]) == ("370705", n, "district")
    assert district["start"] == "2025-11-01T00:00:00+08:00"
    grids = ok(demo_client.get(f"/api/v1/incidents/statistics?{query}"))
    assert len(grids["rows"]) == 400
    assert sum(r["received"] for r in grids["rows"]) + grids["incidents_without_grid"] == n
    assert all(
        r["per_1000_households"] == pytest.approx(r["received"] * 1000 / r["households"])
        for r in grids["rows"]
        if r["households"]
    )
    disputes = ok(
        demo_client.get(f"/api/v1/incidents/statistics?{query}&level=community&category=dispute")
    )
    assert sum(r["received"] for r in disputes["rows"]) == _year_count(
        demo_engine, "category = 'dispute'"
    )


def test_statistics_as_csv_has_a_bom_and_a_header(demo_client: TestClient) -> None:
    response = demo_client.get(
        f"/api/v1/incidents/statistics?start={YEAR[0]}&end={YEAR[1]}&level=community&format=csv"
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("level,code,name,households,received,closed,cancelled,open,")
    assert ",on_time_rate," in lines[0] and ",hours_dispatched_handled," in lines[0]
    assert lines[1].startswith("community,3707")


def test_statistics_carry_the_closed_loop_rates(
    demo_client: TestClient, demo_engine: Engine
) -> None:
    query = f"start={YEAR[0]}&end={YEAR[1]}"
    [row] = ok(demo_client.get(f"/api/v1/incidents/statistics?{query}&level=district"))["rows"]
    with demo_engine.connect() as conn:
        year = (dt.date(2025, 11, 1), dt.date(2026, 11, 1))
        expected = incident_counts(conn, *year, level="district").iloc[0]
    for column in (*RATE_COLUMNS, *HOURS_COLUMNS, "due", "due_on_time", "escalations"):
        assert row[column] == pytest.approx(expected[column]), column
    assert row["on_time_rate"] == pytest.approx(row["due_on_time"] / row["due"])
    assert 0 < row["on_time_rate"] < row["closure_rate"] <= 1
    subdistricts = ok(demo_client.get(f"/api/v1/incidents/statistics?{query}&level=subdistrict"))
    assert sum(r["due"] for r in subdistricts["rows"]) == row["due"]
    # A period without cases: counts 0, rates and means null (no denominator), not NaN.
    empty = ok(
        demo_client.get(
            "/api/v1/incidents/statistics?start=2030-01-01&end=2030-02-01&level=district"
        )
    )["rows"][0]
    assert empty["due"] == 0 and empty["on_time_rate"] is None
    assert empty["hours_reported_accepted"] is None


def test_statistics_carry_the_map_classes_of_each_measure(demo_client: TestClient) -> None:
    query = f"start={YEAR[0]}&end={YEAR[1]}"
    body = ok(demo_client.get(f"/api/v1/incidents/statistics?{query}&level=grid"))
    rows, classes = body["rows"], body["classes"]
    assert list(classes) == [c for c in rows[0] if is_measure_column(c)]
    assert {"per_1000_households", *RATE_COLUMNS} <= set(classes)
    assert classes == measure_classes(rows)
    per_1000 = classes["per_1000_households"]
    assert per_1000["method"] == "quantile"
    assert per_1000["breaks"] == quantile_breaks(r["per_1000_households"] for r in rows)
    assert len(per_1000["breaks"]) == len(per_1000["colours"]) == len(per_1000["legend"]) - 1 >= 4
    assert per_1000["legend"][-1]["label"] == "无数据"
    assert classes["on_time_rate"]["method"] == "fixed"
    assert classes["on_time_rate"]["measure"]["label_zh"] == "按期结案率"
    # Cut over the rows of the level and category asked for.
    community = ok(
        demo_client.get(f"/api/v1/incidents/statistics?{query}&level=community&category=dispute")
    )
    assert community["classes"] == measure_classes(community["rows"])
    assert community["classes"]["per_1000_households"] != per_1000
    doc = ok(demo_client.get("/openapi.json"))["paths"]["/api/v1/incidents/statistics"]["get"]
    assert "``classes``" in doc["description"] and "class minimums" in doc["description"]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("", "start"),
        (f"start={YEAR[1]}&end={YEAR[0]}", "end must be after start"),
        (f"start={YEAR[0]}&end={YEAR[1]}&level=street", "level"),
        (f"start={YEAR[0]}&end={YEAR[1]}&category=potholes", "potholes"),
        (f"start={YEAR[0]}&end={YEAR[1]}&format=xlsx", "format"),
    ],
)
def test_bad_statistics_parameters_are_400(
    demo_client: TestClient, query: str, fragment: str
) -> None:
    assert_error(demo_client.get(f"/api/v1/incidents/statistics?{query}"), 400, fragment)


def test_hot_spots_are_geojson_grids(demo_client: TestClient) -> None:
    response = demo_client.get(f"/api/v1/incidents/hot-spots?start={YEAR[0]}&end={YEAR[1]}")
    body = ok(response)
    assert response.headers["content-type"].startswith("application/geo+json")
    assert body["type"] == "FeatureCollection"
    assert body["numberReturned"] == len(body["features"]) == 400
    assert body["classes"] == list(HOT_SPOT_CLASSES)
    for feature in body["features"]:
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        props = feature["properties"]
        assert feature["id"] == props["code"] and len(props["code"]) == 15
        assert {"rate", "gi_z", "class", "received", "households"} <= set(props)
        assert props["class"] in HOT_SPOT_CLASSES
    hot = [f for f in body["features"] if f["properties"]["class"].startswith("hot")]
    assert hot and all(f["properties"]["gi_z"] > 0 for f in hot)


def test_hot_spots_export_as_the_same_table_in_csv(demo_client: TestClient) -> None:
    query = f"start={YEAR[0]}&end={YEAR[1]}"
    geojson = ok(demo_client.get(f"/api/v1/incidents/hot-spots?{query}"))
    response = demo_client.get(f"/api/v1/incidents/hot-spots?{query}&format=csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "incident-hot-spots.csv" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(io.BytesIO(response.content), encoding="utf-8-sig", dtype={"code": str})
    assert len(table) == 400 and {"code", "name", "hot_spot", "gi_z"} <= set(table.columns)
    by_code = dict(zip(table["code"], table["hot_spot"], strict=True))
    assert by_code == {f["id"]: f["properties"]["class"] for f in geojson["features"]}
