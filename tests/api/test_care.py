"""/api/v1/devices, /care and a person's position: the device platform's key reports, a
geofence exit files a case in the right grid, the button sends the nearest free worker,
and only those who look after a person see where they are (audited)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gis.db.models import Staff
from gis.geo.datum import GCJ02, from_wgs84
from tests.accounts import key_headers, login_headers

WEST = "370705001001001"
WEST2 = "370705001001002"
EAST = "370705001002001"
CONSENT = {"given_by": "本人", "at": "2026-11-01T09:00:00+08:00", "scope": "定位、紧急救助"}
M_PER_DEG_LON = 89_290.0


def _home(db: Session, grid: str) -> tuple[int, float, float]:
    row = db.execute(
        text(
            "SELECT b.id, ST_X(b.location), ST_Y(b.location) FROM building b"
            " JOIN grid g ON g.id = b.grid_id WHERE g.code = :g ORDER BY b.id LIMIT 1"
        ),
        {"g": grid},
    ).one()
    return int(row[0]), float(row[1]), float(row[2])


@pytest.fixture
def world(anonymous: TestClient, db: Session) -> dict[str, Any]:
    admin = login_headers(db, "c-admin", "admin")
    building, lon, lat = _home(db, WEST)
    body = {
        "category": "elderly_alone",
        "name": "张奶奶",
        "building_id": building,
        "consent": CONSENT,
    }
    person = anonymous.post("/api/v1/people", json=body, headers=admin)
    assert person.status_code == 201, person.text
    pid = person.json()["id"]
    given = anonymous.put(
        f"/api/v1/people/{pid}/device", json={"device_id": "YDT-1"}, headers=admin
    )
    assert given.status_code == 200, given.text
    worker = anonymous.post(
        "/api/v1/care/workers",
        json={"name": "陈护理", "community_code": WEST[:12], "phone": "13900000001"},
        headers=admin,
    )
    assert worker.status_code == 201, worker.text
    wid = worker.json()["id"]
    wdev = anonymous.put(
        f"/api/v1/care/workers/{wid}/device", json={"device_id": "W-1"}, headers=admin
    )
    assert wdev.status_code == 200, wdev.text
    manager = db.execute(select(Staff.id).where(Staff.name == "张伟")).scalar_one()
    return {
        "person": pid,
        "worker": wid,
        "home": (lon, lat),
        "admin": admin,
        "device_key": key_headers(db, "c-devices", ("devices:write",)),
        "read_key": key_headers(db, "c-read", ("features:read", "incidents:read")),
        "grid_manager": login_headers(db, "c-grid", "grid_manager", staff_id=manager),
        "other_community": login_headers(db, "c-east", "community", area_code=EAST[:12]),
        "planner": login_headers(db, "c-planner", "planner"),
    }


def _east(home: tuple[float, float], metres: float) -> tuple[float, float]:
    return home[0] + metres / M_PER_DEG_LON, home[1]


def _report(device: str, minute: int, where: tuple[float, float]) -> dict[str, Any]:
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=60 - minute)
    return {"device_id": device, "at": at.isoformat(), "lon": where[0], "lat": where[1]}


def test_a_device_leaving_its_fence_files_a_case_in_its_grid_within_one_batch(
    anonymous: TestClient, db: Session, world: dict[str, Any]
) -> None:
    far = _east(world["home"], 1_200)
    batch = {
        "reports": [
            _report("YDT-1", 1, world["home"]),
            _report("YDT-1", 2, far),
            _report("YDT-1", 3, far),
            _report("NOBODY", 3, far),
        ]
    }
    answer = anonymous.post("/api/v1/devices/positions", json=batch, headers=world["device_key"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["received"], body["stored"], body["repeated"]) == (4, 3, 0)
    assert body["rejected"][0]["index"] == 3 and "请先登记" in body["rejected"][0]["reason"]
    [alarm] = body["alarms"]
    assert alarm["person_id"] == world["person"] and alarm["grid_code"] == WEST
    case = anonymous.get(f"/api/v1/incidents/{alarm['incident_id']}", headers=world["admin"])
    assert case.status_code == 200 and case.json()["category"] == "help_request"
    # Sent again (the answer was lost): nothing twice.
    again = anonymous.post("/api/v1/devices/positions", json=batch, headers=world["device_key"])
    assert again.json()["repeated"] == 3 and again.json()["alarms"] == []
    english = anonymous.post(
        "/api/v1/devices/positions",
        json={"reports": [_report("NOBODY", 9, far)]},
        headers={**world["device_key"], "Accept-Language": "en"},
    )
    assert "register it first" in english.json()["rejected"][0]["reason"]


def test_only_those_who_look_after_the_person_see_where_they_are(
    anonymous: TestClient, db: Session, world: dict[str, Any]
) -> None:
    batch = {"reports": [_report("YDT-1", 5, world["home"])]}
    assert (
        anonymous.post(
            "/api/v1/devices/positions", json=batch, headers=world["device_key"]
        ).status_code
        == 200
    )
    pid = world["person"]
    before = db.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    for who, status in (
        ("admin", 200),
        ("grid_manager", 200),
        ("other_community", 404),
        ("planner", 403),
        ("read_key", 403),
        ("device_key", 403),
    ):
        for what in ("position", "track", "alarms"):
            got = anonymous.get(f"/api/v1/people/{pid}/{what}", headers=world[who])
            assert got.status_code == status, (who, what, got.text)
    position = anonymous.get(f"/api/v1/people/{pid}/position", headers=world["admin"]).json()
    assert position["device_id"] == "YDT-1" and position["fence_state"] == "inside"
    assert abs(position["lon"] - world["home"][0]) < 1e-6
    gcj = anonymous.get(f"/api/v1/people/{pid}/position?datum=gcj02", headers=world["admin"]).json()
    assert abs(gcj["lon"] - world["home"][0]) > 0.001  # hundreds of metres of offset
    track = anonymous.get(f"/api/v1/people/{pid}/track", headers=world["admin"]).json()
    assert len(track["positions"]) == 1 and track["truncated"] is False
    naive = anonymous.get(
        f"/api/v1/people/{pid}/track?since=2026-12-06T00:00:00", headers=world["admin"]
    )
    assert naive.status_code == 400  # a time without its offset is refused, not guessed
    after = db.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    assert after - before == 3 * 2 + 3  # every successful read audited (not the 400)
    # A person's login is not a device.
    refused = anonymous.post("/api/v1/devices/positions", json=batch, headers=world["admin"])
    assert refused.status_code == 403


def test_the_button_sends_the_nearest_free_worker_and_records_arrival(
    anonymous: TestClient, db: Session, world: dict[str, Any]
) -> None:
    near = _east(world["home"], 300)
    placed = anonymous.post(
        "/api/v1/devices/positions",
        json={"reports": [_report("W-1", 50, near)]},
        headers=world["device_key"],
    )
    assert placed.json()["stored"] == 1
    press = {"device_id": "YDT-1", "lon": world["home"][0], "lat": world["home"][1]}
    call = anonymous.post("/api/v1/devices/emergency", json=press, headers=world["device_key"])
    assert call.status_code == 201, call.text
    body = call.json()
    assert body["worker"]["id"] == world["worker"] and body["worker"]["method"] == "line"
    assert 250 < body["worker"]["distance_m"] < 350 and body["worker"]["minutes"] > 4
    assert body["dispatched_at"] and body["arrived_at"] is None
    cid = body["id"]
    # Nobody else is free now.
    second = anonymous.post("/api/v1/devices/emergency", json=press, headers=world["device_key"])
    assert second.status_code == 201 and second.json()["worker"] is None
    assert (
        anonymous.get(f"/api/v1/care/calls/{cid}", headers=world["grid_manager"]).status_code == 200
    )
    assert (
        anonymous.get(f"/api/v1/care/calls/{cid}", headers=world["other_community"]).status_code
        == 404
    )
    arrived = anonymous.post(f"/api/v1/care/calls/{cid}/arrived", headers=world["device_key"])
    assert arrived.status_code == 200 and arrived.json()["arrived_at"]
    closed = anonymous.post(f"/api/v1/care/calls/{cid}/close", headers=world["admin"])
    assert closed.status_code == 200 and closed.json()["closed_at"]
    listed = anonymous.get("/api/v1/care/workers", headers=world["admin"]).json()["workers"]
    assert [w["available"] for w in listed] == [True]
    assert anonymous.get("/api/v1/care/workers", headers=world["grid_manager"]).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"reports": []},
        {"reports": [{"device_id": "YDT-1", "at": "yesterday", "lon": 119.1, "lat": 36.7}]},
        {
            "reports": [
                {"device_id": "YDT\u00001", "at": "2026-12-06T08:00:00Z", "lon": 1, "lat": 2}
            ]
        },
        {"reports": [{"device_id": "YDT-1", "at": "2026-12-06T08:00:00Z", "lon": "x", "lat": 2}]},
        {
            "datum": "mars",
            "reports": [{"device_id": "Y", "at": "2026-12-06T08:00:00Z", "lon": 1, "lat": 2}],
        },
        {"reports": [{"device_id": "Y", "at": "2026-12-06T08:00:00Z", "lon": 1, "lat": 2, "x": 1}]},
    ],
)
def test_malformed_batches_are_refused_whole(
    anonymous: TestClient, world: dict[str, Any], body: dict[str, Any]
) -> None:
    answer = anonymous.post("/api/v1/devices/positions", json=body, headers=world["device_key"])
    assert answer.status_code == 422, answer.text


def test_a_batch_over_the_limit_is_a_413(anonymous: TestClient, world: dict[str, Any]) -> None:
    one = {"device_id": "Y", "at": "2026-12-06T08:00:00Z", "lon": 119.1, "lat": 36.7}
    answer = anonymous.post(
        "/api/v1/devices/positions", json={"reports": [one] * 5_001}, headers=world["device_key"]
    )
    assert answer.status_code == 413
    assert "5,000" in answer.json()["description"]


def test_removing_the_person_removes_their_track(
    anonymous: TestClient, db: Session, world: dict[str, Any]
) -> None:
    anonymous.post(
        "/api/v1/devices/positions",
        json={"reports": [_report("YDT-1", 5, world["home"])]},
        headers=world["device_key"],
    )
    gone = anonymous.delete(f"/api/v1/people/{world['person']}", headers=world["admin"])
    assert gone.status_code == 204
    left = db.execute(text("SELECT count(*) FROM position_report")).scalar_one()
    assert left == 0


def test_positions_come_back_in_the_datum_asked(
    anonymous: TestClient, world: dict[str, Any]
) -> None:
    """Every GET of a care answer with positions, in WGS84 and GCJ-02: the GCJ-02 one is
    the WGS84 one moved by the offset (tests/api/test_datum_out.py names this test)."""
    far = _east(world["home"], 1_200)
    anonymous.post(
        "/api/v1/devices/positions",
        json={
            "reports": [
                _report("YDT-1", 1, far),
                _report("YDT-1", 2, far),
                _report("W-1", 2, _east(world["home"], 200)),
            ]
        },
        headers=world["device_key"],
    )
    press = {"device_id": "YDT-1", "lon": far[0], "lat": far[1]}
    call = anonymous.post("/api/v1/devices/emergency", json=press, headers=world["device_key"])
    pid = world["person"]
    urls = [
        f"/api/v1/people/{pid}/position",
        f"/api/v1/people/{pid}/track",
        f"/api/v1/people/{pid}/alarms",
        "/api/v1/care/workers",
        f"/api/v1/care/calls/{call.json()['id']}",
    ]
    for url in urls:
        wgs = anonymous.get(url, headers=world["admin"]).json()
        gcj = anonymous.get(url, params={"datum": "gcj02"}, headers=world["admin"]).json()
        before, after = _lonlats(wgs), _lonlats(gcj)
        assert before and len(before) == len(after), url
        x, y = from_wgs84([p[0] for p in before], [p[1] for p in before], GCJ02)
        for (ax, ay), ex, ey in zip(after, x, y, strict=True):
            assert abs(ax - ex) < 1e-6 and abs(ay - ey) < 1e-6, url


def _lonlats(value: Any) -> list[tuple[float, float]]:
    found: list[tuple[float, float]] = []
    if isinstance(value, list):
        for item in value:
            found += _lonlats(item)
    elif isinstance(value, dict):
        if isinstance(value.get("lon"), float) and isinstance(value.get("lat"), float):
            found.append((value["lon"], value["lat"]))
        for key, item in value.items():
            if key not in ("lon", "lat"):
                found += _lonlats(item)
    return found
