"""/api/v1/people: each role sees exactly the people it looks after, every read is audited,
counts carry no names, and hostile input is a 4xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gis.db.models import Building, Grid, Staff, StaffGrid, StaffRole
from tests.accounts import key_headers, login_headers

WEST = "370705001001001"
WEST2 = "370705001001002"
EAST = "370705001002001"
CONSENT = {"given_by": "本人", "at": "2026-11-01T09:00:00+08:00", "scope": "定位、紧急救助"}


def _building(db: Session, grid: str) -> int:
    return int(
        db.execute(select(Building.id).join(Grid).where(Grid.code == grid).order_by(Building.id))
        .scalars()
        .first()
    )


def _staff(db: Session, name: str, grid: str | None = None) -> int:
    staff = Staff(name=name, role=StaffRole.GRID_MANAGER if grid else StaffRole.COMMUNITY_WORKER)
    db.add(staff)
    db.flush()
    if grid is not None:
        gid = db.execute(
            select(Grid.id).where(Grid.code == grid, Grid.valid_to.is_(None))
        ).scalar_one()
        db.add(StaffGrid(staff_id=staff.id, grid_id=gid, is_primary=True))
        db.flush()
    return staff.id


@pytest.fixture
def world(anonymous: TestClient, db: Session) -> dict[str, Any]:
    """Two people (west grid, looked after by 陈护理; east grid) and a caller of each kind."""
    nurse = _staff(db, "陈护理")
    zhang = db.execute(select(Staff.id).where(Staff.name == "张伟")).scalar_one()
    other_manager = _staff(db, "赵网格员", WEST2)
    admin = login_headers(db, "p-admin", "admin")

    def register(grid: str, name: str, staff: int | None) -> dict[str, Any]:
        body = {
            "category": "elderly_alone",
            "name": name,
            "building_id": _building(db, grid),
            "household": "2单元301",
            "phone": "13800000000",
            "responsible_staff_id": staff,
            "consent": CONSENT,
        }
        answer = anonymous.post("/api/v1/people", json=body, headers=admin)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    west = register(WEST, "张奶奶", nurse)
    east = register(EAST, "刘阿姨", None)
    callers = {
        "admin": admin,
        "west_community": login_headers(db, "p-west", "community", area_code=WEST[:12]),
        "east_community": login_headers(db, "p-east", "community", area_code=EAST[:12]),
        "grid_manager": login_headers(db, "p-grid", "grid_manager", staff_id=zhang),
        "other_grid_manager": login_headers(db, "p-other", "grid_manager", staff_id=other_manager),
        "nurse": login_headers(db, "p-nurse", "community", area_code=EAST[:12], staff_id=nurse),
        "subdistrict": login_headers(db, "p-sub", "subdistrict", area_code="370705001"),
        "district": login_headers(db, "p-district", "district", area_code="370705"),
        "planner": login_headers(db, "p-planner", "planner"),
        "mediator": login_headers(db, "p-mediator", "mediator", area_code=WEST[:12]),
        "key": key_headers(db, "p-key", ("features:read",)),
    }
    return {"west": west, "east": east, "callers": callers}


def test_a_registration_answers_the_person_in_their_buildings_grid(world: dict[str, Any]) -> None:
    west = world["west"]
    assert west["grid_code"] == WEST and west["community_code"] == WEST[:12]
    assert west["category_name"] == "独居老人" and west["version"] == 1
    assert west["consent"]["given_by"] == "本人" and west["safe_radius_m"] == 300
    assert west["responsible_staff_name"] == "陈护理"


def test_each_role_sees_exactly_the_people_it_looks_after(
    anonymous: TestClient, world: dict[str, Any]
) -> None:
    west, east = world["west"]["id"], world["east"]["id"]
    expected = {
        "admin": {west, east},
        "west_community": {west},
        "east_community": {east},
        "grid_manager": {west},
        "other_grid_manager": set(),
        "nurse": {west, east},  # west as their responsible worker, east by area
    }
    for name, seen in expected.items():
        headers = world["callers"][name]
        listed = anonymous.get("/api/v1/people", headers=headers)
        assert listed.status_code == 200, name
        body = listed.json()
        assert {p["id"] for p in body["people"]} == seen, name
        assert body["numberMatched"] == len(seen), name
        for ident in (west, east):
            one = anonymous.get(f"/api/v1/people/{ident}", headers=headers)
            assert one.status_code == (200 if ident in seen else 404), (name, ident)
    # Those who plan see no individual person: the route is not theirs at all.
    for name in ("subdistrict", "district", "planner", "mediator", "key"):
        headers = world["callers"][name]
        assert anonymous.get("/api/v1/people", headers=headers).status_code == 403, name
        assert anonymous.get(f"/api/v1/people/{west}", headers=headers).status_code == 403, name


def test_a_missing_person_and_one_out_of_sight_answer_alike(
    anonymous: TestClient, world: dict[str, Any]
) -> None:
    headers = world["callers"]["other_grid_manager"]
    hidden = anonymous.get(f"/api/v1/people/{world['west']['id']}", headers=headers)
    missing = anonymous.get("/api/v1/people/99999999", headers=headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["code"] == missing.json()["code"]
    assert "张奶奶" not in hidden.text


def test_reads_are_audited_without_names(
    anonymous: TestClient, db: Session, world: dict[str, Any]
) -> None:
    west = world["west"]["id"]
    headers = world["callers"]["grid_manager"]
    anonymous.get(f"/api/v1/people/{west}", headers=headers)
    anonymous.get("/api/v1/people", headers=headers)
    rows = db.execute(
        text(
            "SELECT object, area, detail::text FROM audit_log"
            " WHERE principal = 'p-grid' AND action = 'personal.read' ORDER BY id"
        )
    ).all()
    assert [(r[0], r[1]) for r in rows] == [(f"person:{west}", WEST), ("people", None)]
    assert str(west) in rows[1][2]
    everything = db.execute(
        text("SELECT string_agg(coalesce(detail::text, ''), ' ') FROM audit_log")
    )
    assert "张奶奶" not in (everything.scalar_one() or "")
    # An empty list shows nobody, so nobody was read.
    anonymous.get("/api/v1/people", headers=world["callers"]["other_grid_manager"])
    none = db.execute(
        text(
            "SELECT count(*) FROM audit_log"
            " WHERE principal = 'p-other' AND action = 'personal.read'"
        )
    )
    assert none.scalar_one() == 0


def test_counts_for_a_planner_carry_no_names(anonymous: TestClient, world: dict[str, Any]) -> None:
    for name in ("planner", "district", "subdistrict", "key"):
        answer = anonymous.get("/api/v1/people/counts", headers=world["callers"][name])
        assert answer.status_code == 200, name
        body = answer.json()
        assert {r["code"]: r["total"] for r in body["rows"]} == {WEST: 1, EAST: 1}, name
        assert body["total"]["elderly_alone"] == 2
        assert "张奶奶" not in answer.text and "13800000000" not in answer.text
    by_community = anonymous.get(
        "/api/v1/people/counts",
        params={"by": "community"},
        headers=world["callers"]["east_community"],
    ).json()
    assert [r["code"] for r in by_community["rows"]] == [EAST[:12]]


def test_changes_name_their_version(anonymous: TestClient, world: dict[str, Any]) -> None:
    west = world["west"]["id"]
    headers = world["callers"]["grid_manager"]
    url = f"/api/v1/people/{west}"
    assert anonymous.patch(url, json={"phone": "1"}, headers=headers).status_code == 428
    changed = anonymous.patch(url, json={"phone": "139", "expected_version": 1}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2 and changed.headers["ETag"] == f'"{west}-2"'
    stale = anonymous.patch(
        url, json={"phone": "1"}, headers={**headers, "If-Match": f'"{west}-1"'}
    )
    assert stale.status_code == 412
    stale_body = anonymous.patch(url, json={"phone": "1", "expected_version": 1}, headers=headers)
    assert stale_body.status_code == 409
    other = world["callers"]["other_grid_manager"]
    assert (
        anonymous.patch(url, json={"phone": "1", "expected_version": 2}, headers=other).status_code
        == 404
    )


def test_removal_on_request(anonymous: TestClient, db: Session, world: dict[str, Any]) -> None:
    west = world["west"]["id"]
    url = f"/api/v1/people/{west}"
    callers = world["callers"]
    assert anonymous.delete(url, headers=callers["grid_manager"]).status_code == 403
    assert anonymous.delete(url, headers=callers["east_community"]).status_code == 404
    assert anonymous.delete(url, headers=callers["west_community"]).status_code == 204
    assert anonymous.get(url, headers=callers["admin"]).status_code == 404
    row = db.execute(
        text("SELECT area, detail::text FROM audit_log WHERE action = 'person.remove'")
    ).one()
    assert row[0] == WEST and "elderly_alone" in row[1] and "张奶奶" not in row[1]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"name": "张\u0000奶奶"}, 422),
        ({"name": "张" * 101}, 422),
        ({"household": "x" * 101}, 422),
        ({"building_id": 99999999}, 400),
        ({"category": "child"}, 400),
        ({"consent": None}, 400),
        ({"consent": {**CONSENT, "given_by": " "}}, 400),
        ({"consent": {**CONSENT, "scope": "\ud800"}}, 422),
        ({"grid_id": 1}, 422),
        ({"safe_radius_m": 0}, 422),
    ],
)
def test_hostile_registrations_are_refused(
    anonymous: TestClient, db: Session, change: dict[str, Any], status: int
) -> None:
    body = {
        "category": "elderly",
        "name": "孙爷爷",
        "building_id": _building(db, WEST),
        "consent": CONSENT,
        **change,
    }
    headers = {**login_headers(db, "p-hostile", "admin"), "Content-Type": "application/json"}
    # ASCII JSON: a lone surrogate travels as the escape \ud800, as a hostile client sends it.
    answer = anonymous.post("/api/v1/people", content=json.dumps(body), headers=headers)
    assert answer.status_code == status, answer.text
    count = db.execute(text("SELECT count(*) FROM person WHERE name LIKE '孙%'")).scalar_one()
    assert count == 0


def test_no_consent_is_refused_in_both_languages(anonymous: TestClient, db: Session) -> None:
    body = {"category": "elderly", "name": "孙爷爷", "building_id": _building(db, WEST)}
    headers = login_headers(db, "p-lang", "admin")
    zh = anonymous.post("/api/v1/people", json=body, headers={**headers, "Accept-Language": "zh"})
    en = anonymous.post("/api/v1/people", json=body, headers={**headers, "Accept-Language": "en"})
    assert zh.status_code == en.status_code == 400
    assert "同意" in zh.json()["description"]
    assert "consent" in en.json()["description"]


def test_a_grid_manager_registers_only_in_their_grid(anonymous: TestClient, db: Session) -> None:
    zhang = db.execute(select(Staff.id).where(Staff.name == "张伟")).scalar_one()
    headers = login_headers(db, "p-grid2", "grid_manager", staff_id=zhang)
    body = {"category": "disabled", "name": "孙爷爷", "consent": CONSENT}
    east = anonymous.post(
        "/api/v1/people", json={**body, "building_id": _building(db, EAST)}, headers=headers
    )
    assert east.status_code == 403
    west = anonymous.post(
        "/api/v1/people", json={**body, "building_id": _building(db, WEST)}, headers=headers
    )
    assert west.status_code == 201 and west.json()["grid_code"] == WEST
