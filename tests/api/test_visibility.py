"""What each caller sees of one petition case: in full, masked, or nothing (404).

The case is a petition (信访, a personal category) in the west grid 001 of the
small district, with a description, an address, a photo link and a history
note naming the petitioner. Responsible for it: the grid's own manager, its
community, subdistrict, district and the admin. A planner and API keys see it
masked (at the grid's representative point, text 已隐藏); another grid's
manager and a mediator (petitions are not disputes) do not see it at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gis.accounts import audit
from gis.db.models import Grid, Incident, IncidentTransition, Staff, StaffGrid, StaffRole
from gis.incidents.visibility import HIDDEN
from tests.accounts import key_headers, login_headers
from tests.api.conftest import SmallDistrict, point

WEST = "370705001001001"
EAST = "370705001002001"
PETITIONER = "王某某反映拆迁补偿未到位"
ADDRESS = "东苑小区5号楼2单元301"
NOTE = "王某某情绪激动，已电话安抚 13912345678"
SPOT = (119.1103, 36.7151)


@dataclass
class Case:
    id: int
    grid_point: tuple[float, float]


@pytest.fixture
def petition(db: Session, small_district: SmallDistrict) -> Case:
    west = db.execute(select(Grid).where(Grid.code == WEST)).scalar_one()
    case = Incident(
        category="petition",
        reported_at=dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC),
        status="accepted",
        geom=point(*SPOT),
        grid_id=west.id,
        description=PETITIONER,
        address=ADDRESS,
        media_url="https://img.example.cn/petition.jpg",
        source="hotline",
    )
    db.add(case)
    db.flush()
    db.add_all(
        [
            IncidentTransition(
                incident_id=case.id,
                action="reported",
                to_state="reported",
                actor="热线",
                at=case.reported_at,
                note="reported",
                to_level="grid",
            ),
            IncidentTransition(
                incident_id=case.id,
                action="accept",
                from_state="reported",
                to_state="accepted",
                actor="张伟",
                at=case.reported_at + dt.timedelta(hours=1),
                note=NOTE,
                from_level="grid",
                to_level="grid",
            ),
        ]
    )
    db.flush()
    x, y = db.execute(
        text(
            "SELECT ST_X(p), ST_Y(p)"
            " FROM (SELECT ST_PointOnSurface(geom) p FROM grid WHERE id = :g) s"
        ),
        {"g": west.id},
    ).one()
    return Case(case.id, (float(x), float(y)))


def grid_manager(db: Session, name: str, grid_code: str) -> dict[str, str]:
    """A grid manager's login: the west grid's 张伟, or a new manager of ``grid_code``."""
    staff = db.execute(select(Staff).where(Staff.name == name)).scalar_one_or_none()
    if staff is None:
        staff = Staff(name=name, phone="17000000000", role=StaffRole.GRID_MANAGER)
        db.add(staff)
        db.flush()
        grid = db.execute(
            select(Grid).where(Grid.code == grid_code, Grid.valid_to.is_(None))
        ).scalar_one()
        db.add(StaffGrid(staff_id=staff.id, grid_id=grid.id, is_primary=True))
        db.flush()
    return login_headers(db, f"grid-{name}", "grid_manager", staff_id=staff.id)


def callers(db: Session) -> dict[str, dict[str, str]]:
    return {
        "planner": login_headers(db, "planner1", "planner"),
        "own_manager": grid_manager(db, "张伟", WEST),
        "other_manager": grid_manager(db, "刘强", EAST),
        "community": login_headers(db, "dongyuan", "community", area_code="370705001001"),
        "mediator": login_headers(db, "tiaojie", "mediator", area_code="370705001001"),
        "reader_key": key_headers(db, "bigdata", ("incidents:read",)),
        "open311_key": key_headers(db, "hotline", ("open311",)),
    }


def listed(client: TestClient, headers: dict[str, str], case: Case) -> dict[str, Any] | None:
    answer = client.get("/api/v1/incidents", headers=headers)
    if answer.status_code != 200:
        return {"status": answer.status_code}
    found = [f for f in answer.json()["features"] if f["id"] == case.id]
    return found[0] if found else None


def csv_row(client: TestClient, headers: dict[str, str], case: Case) -> dict[str, str] | None:
    answer = client.get("/api/v1/incidents?format=csv", headers=headers)
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    found = [r for r in rows if r["id"] == str(case.id)]
    return found[0] if found else None


def full_reads(db: Session) -> list[tuple[str, str | None]]:
    return sorted((e.principal, e.object) for e in audit.entries(db, action="personal.read"))


def test_those_responsible_see_the_petition_in_full_and_it_is_audited(
    anonymous: TestClient, db: Session, petition: Case
) -> None:
    who = callers(db)
    for name in ("own_manager", "community"):
        headers = who[name]
        item = listed(anonymous, headers, petition)
        assert item is not None and item["properties"]["masked"] is False, name
        assert item["properties"]["description"] == PETITIONER
        assert item["geometry"]["coordinates"] == pytest.approx(list(SPOT))
        detail = anonymous.get(f"/api/v1/incidents/{petition.id}", headers=headers).json()
        assert (detail["description"], detail["address"]) == (PETITIONER, ADDRESS)
        assert (detail["lon"], detail["lat"]) == pytest.approx(SPOT)
        assert detail["masked"] is False and detail["media_url"]
        steps = anonymous.get(f"/api/v1/incidents/{petition.id}/history", headers=headers).json()
        assert steps["history"][-1]["note"] == NOTE
        row = csv_row(anonymous, headers, petition)
        assert row is not None and row["description"] == PETITIONER
        assert (float(row["lon"]), float(row["lat"])) == pytest.approx(SPOT)
    ref = f"incident:{petition.id}"
    manager, community = "grid-张伟", "dongyuan"
    assert full_reads(db) == sorted(
        [
            (community, "export:incidents"),
            (community, "list:incidents"),
            (community, ref),
            (community, ref),
            (manager, "export:incidents"),
            (manager, "list:incidents"),
            (manager, ref),
            (manager, ref),
        ]
    )
    [entry, *_] = audit.entries(db, action="personal.read", user=manager)
    assert entry.area in (None, WEST) and entry.role == "grid_manager"


@pytest.mark.parametrize("name", ["planner", "reader_key"])
def test_a_planner_and_a_key_see_it_masked_everywhere(
    anonymous: TestClient, db: Session, petition: Case, name: str
) -> None:
    headers = callers(db)[name]
    item = listed(anonymous, headers, petition)
    assert item is not None and item["properties"]["masked"] is True
    assert item["properties"]["description"] == HIDDEN
    assert item["geometry"]["coordinates"] == pytest.approx(list(petition.grid_point), abs=1e-6)
    detail = anonymous.get(f"/api/v1/incidents/{petition.id}", headers=headers)
    body = detail.json()
    assert body["masked"] is True
    assert (body["description"], body["address"], body["media_url"]) == (HIDDEN, HIDDEN, None)
    assert (body["lon"], body["lat"]) == pytest.approx(petition.grid_point, abs=1e-6)
    history = anonymous.get(f"/api/v1/incidents/{petition.id}/history", headers=headers)
    assert [s["note"] for s in history.json()["history"]] == [HIDDEN, HIDDEN]
    row = csv_row(anonymous, headers, petition)
    assert row is not None and row["description"] == HIDDEN
    assert (float(row["lon"]), float(row["lat"])) == pytest.approx(petition.grid_point, abs=1e-6)
    everything = " ".join(
        [detail.text, history.text, anonymous.get("/api/v1/incidents", headers=headers).text]
    )
    for secret in (PETITIONER, ADDRESS, "13912345678", "petition.jpg"):
        assert secret not in everything
    # A box around the true spot finds nothing: the masked point is elsewhere.
    box = f"{SPOT[0] - 0.0005},{SPOT[1] - 0.0005},{SPOT[0] + 0.0005},{SPOT[1] + 0.0005}"
    boxed = anonymous.get(f"/api/v1/incidents?bbox={box}", headers=headers).json()
    assert petition.id not in [f["id"] for f in boxed["features"]]
    assert full_reads(db) == []


@pytest.mark.parametrize("name", ["other_manager", "mediator"])
def test_outside_their_reach_it_does_not_exist(
    anonymous: TestClient, db: Session, petition: Case, name: str
) -> None:
    headers = callers(db)[name]
    assert listed(anonymous, headers, petition) is None
    missing = anonymous.get("/api/v1/incidents/99999999", headers=headers).json()
    for path in (f"/api/v1/incidents/{petition.id}", f"/api/v1/incidents/{petition.id}/history"):
        answer = anonymous.get(path, headers=headers)
        assert answer.status_code == 404
        assert answer.json()["description"] == missing["description"].replace(
            "99999999", str(petition.id)
        )
    assert csv_row(anonymous, headers, petition) is None


def test_a_grid_managers_list_holds_only_their_grids(
    anonymous: TestClient, db: Session, petition: Case
) -> None:
    who = callers(db)
    own = anonymous.get("/api/v1/incidents", headers=who["own_manager"]).json()["features"]
    other = anonymous.get("/api/v1/incidents", headers=who["other_manager"]).json()["features"]
    assert {f["properties"]["grid_code"] for f in own} == {WEST}
    assert {f["properties"]["grid_code"] for f in other} == {EAST}
    assert len(own) == 2 and len(other) == 1
    everything = anonymous.get("/api/v1/incidents", headers=who["planner"]).json()
    assert everything["numberMatched"] == 3


def test_open311_shows_the_petition_masked_to_keys_and_in_full_to_its_grid(
    anonymous: TestClient, db: Session, petition: Case
) -> None:
    who = callers(db)
    path = f"/open311/v2/requests/{petition.id}.json"
    [masked] = anonymous.get(path, headers=who["open311_key"]).json()
    assert masked["description"] is None and masked["status_notes"] is None
    assert (masked["long"], masked["lat"]) == pytest.approx(petition.grid_point, abs=1e-6)
    window = "start_date=2026-02-01T00:00:00%2B08:00&end_date=2026-04-01T00:00:00%2B08:00"
    listing = anonymous.get(f"/open311/v2/requests.json?{window}", headers=who["open311_key"])
    assert str(petition.id) not in [r["service_request_id"] for r in listing.json()]
    assert anonymous.get("/api/v1/incidents", headers=who["open311_key"]).status_code == 403
    [full] = anonymous.get(path, headers=who["own_manager"]).json()
    assert full["description"] == PETITIONER
    assert (full["long"], full["lat"]) == pytest.approx(SPOT)
    own_list = anonymous.get(f"/open311/v2/requests.json?{window}", headers=who["own_manager"])
    assert str(petition.id) in [r["service_request_id"] for r in own_list.json()]
    assert anonymous.get(path, headers=who["other_manager"]).status_code == 404
    east_key = key_headers(db, "east-app", ("open311",), area_code="370705001002")
    assert anonymous.get(path, headers=east_key).status_code == 404
    assert ("grid-张伟", f"incident:{petition.id}") in full_reads(db)


def test_statistics_only_for_areas_the_caller_covers(
    anonymous: TestClient, db: Session, petition: Case
) -> None:
    who = callers(db)
    period = "start=2026-01-01&end=2026-12-31"
    refused = anonymous.get(
        f"/api/v1/incidents/statistics?{period}&area=370705001002", headers=who["own_manager"]
    )
    assert refused.status_code == 403 and "370705001002" in refused.json()["description"]
    hot = anonymous.get(
        f"/api/v1/incidents/hot-spots?{period}&area=370705001002", headers=who["community"]
    )
    assert hot.status_code == 403
    own = anonymous.get(f"/api/v1/incidents/statistics?{period}", headers=who["own_manager"])
    assert [r["code"] for r in own.json()["rows"]] == [WEST]
    assert own.json()["rows"][0]["received"] == 2
    community = anonymous.get(
        f"/api/v1/incidents/statistics?{period}&area=370705001001&level=grid",
        headers=who["community"],
    ).json()
    assert [r["code"] for r in community["rows"]] == [WEST, "370705001001002"]
    everything = anonymous.get(
        f"/api/v1/incidents/statistics?{period}&level=community", headers=who["planner"]
    ).json()
    assert [r["code"] for r in everything["rows"]] == ["370705001001", "370705001002"]
    spots = anonymous.get(f"/api/v1/incidents/hot-spots?{period}", headers=who["other_manager"])
    assert [f["id"] for f in spots.json()["features"]] == [EAST]
