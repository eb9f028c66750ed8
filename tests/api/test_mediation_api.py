"""/api/v1/mediation-units and the 交办 / 当场办结 steps over HTTP (seed 003): who writes
units, versions (409/412/428), unknown units (404/400), who may hand over (403), the
head's inbox, and the on-the-spot rate in the statistics and their CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.db.models import Staff, StaffRole
from tests.accounts import login_headers

WEST_GRID = "370705001001001"
WEST = "370705001001"
DISPUTE = {"category": "dispute", "lon": 119.11, "lat": 36.73, "source": "visit"}


def _staff(db: Session, name: str) -> int:
    row = Staff(name=name, role=StaffRole.MEDIATOR)
    db.add(row)
    db.flush()
    return row.id


@pytest.fixture
def world(anonymous: TestClient, db: Session) -> dict[str, Any]:
    """A unit of the west community headed by 刘主任, and a caller of each kind."""
    head = _staff(db, "刘主任")
    zhang = db.execute(select(Staff.id).where(Staff.name == "张伟")).scalar_one()
    callers = {
        "admin": login_headers(db, "m-admin", "admin"),
        "district": login_headers(db, "m-district", "district", area_code="370705"),
        "community": login_headers(db, "m-community", "community", area_code=WEST),
        "grid_manager": login_headers(db, "m-grid", "grid_manager", staff_id=zhang),
        "head": login_headers(db, "m-head", "mediator", area_code=WEST, staff_id=head),
        "planner": login_headers(db, "m-planner", "planner"),
    }
    body = {
        "name_zh": "东苑社区矛盾调处室",
        "name_en": "Dongyuan mediation office",
        "area_code": WEST,
        "categories": ["dispute"],
        "head_staff_id": head,
    }
    answer = anonymous.post("/api/v1/mediation-units", json=body, headers=callers["admin"])
    assert answer.status_code == 201, answer.text
    assert answer.headers["Location"] == f"/api/v1/mediation-units/{answer.json()['id']}"
    return {"unit": answer.json(), "etag": answer.headers["ETag"], "head_id": head, **callers}


def _step(client: TestClient, case: dict[str, Any], headers: dict[str, str], **body: Any) -> Any:
    return client.post(
        f"/api/v1/incidents/{case['id']}/transitions",
        json={"expected_version": case["version"], **body},
        headers=headers,
    )


def test_units_are_read_by_staff_and_written_by_admin_and_district(
    anonymous: TestClient, world: dict[str, Any]
) -> None:
    unit = world["unit"]
    assert (unit["head_name"], unit["area_name"], unit["version"]) == ("刘主任", "东苑社区", 1)
    listed = anonymous.get(
        "/api/v1/mediation-units", params={"area": WEST_GRID}, headers=world["planner"]
    )
    assert listed.status_code == 200 and [u["id"] for u in listed.json()["units"]] == [unit["id"]]
    assert anonymous.get("/api/v1/mediation-units").status_code == 401
    body = {"name_zh": "另一单位", "area_code": WEST}
    for caller in ("community", "grid_manager", "head", "planner"):
        refused = anonymous.post("/api/v1/mediation-units", json=body, headers=world[caller])
        assert refused.status_code == 403, caller
    made = anonymous.post("/api/v1/mediation-units", json=body, headers=world["district"])
    assert made.status_code == 201
    again = anonymous.post("/api/v1/mediation-units", json=body, headers=world["district"])
    assert again.status_code == 409  # the name is taken
    for bad in (
        {"name_zh": "x", "area_code": "370705999"},  # no such area
        {"name_zh": "y", "area_code": WEST, "categories": ["teleport"]},
        {"name_zh": "z", "area_code": WEST, "head_staff_id": 99_999_999},
    ):
        answer = anonymous.post("/api/v1/mediation-units", json=bad, headers=world["admin"])
        assert answer.status_code == 400, (bad, answer.text)
    assert anonymous.get("/api/v1/mediation-units/99999", headers=world["admin"]).status_code == 404


def test_a_change_names_the_version_it_is_based_on(
    anonymous: TestClient, world: dict[str, Any]
) -> None:
    url = f"/api/v1/mediation-units/{world['unit']['id']}"
    admin = world["admin"]
    assert anonymous.patch(url, json={"name_en": "a"}, headers=admin).status_code == 428
    changed = anonymous.patch(
        url, json={"name_en": "Dongyuan office"}, headers={**admin, "If-Match": world["etag"]}
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    stale = anonymous.patch(
        url, json={"name_en": "b"}, headers={**admin, "If-Match": world["etag"]}
    )
    assert stale.status_code == 412
    body = {"name_en": "c", "expected_version": 1}
    assert anonymous.patch(url, json=body, headers=admin).status_code == 409
    assert anonymous.patch(url + "0", json=body, headers=admin).status_code == 404
    assert anonymous.get(url, headers=admin).json()["name_en"] == "Dongyuan office"


def test_hand_over_to_the_head_and_settle_on_the_spot_over_http(
    anonymous: TestClient, world: dict[str, Any]
) -> None:
    community, head = world["community"], world["head"]
    case = anonymous.post("/api/v1/incidents", json=DISPUTE, headers=community).json()
    case = _step(anonymous, case, community, action="accept").json()
    unit_id = world["unit"]["id"]
    refused = _step(anonymous, case, world["grid_manager"], action="hand_over", unit_id=unit_id)
    assert refused.status_code in (403, 404)  # a grid manager neither hands over nor sees disputes
    assert _step(anonymous, case, community, action="hand_over").status_code == 400
    unknown = _step(anonymous, case, community, action="hand_over", unit_id=99_999)
    assert unknown.status_code == 400 and "99999" in unknown.json()["description"]
    stale = _step(anonymous, {**case, "version": 1}, community, action="hand_over", unit_id=unit_id)
    assert stale.status_code == 409
    handed = _step(anonymous, case, community, action="hand_over", unit_id=unit_id)
    assert handed.status_code == 200, handed.text
    body = handed.json()
    assert body["unit"] == {"id": unit_id, "name": "东苑社区矛盾调处室"}
    assert body["handler"] == {"id": world["head_id"], "name": "刘主任"}
    history = anonymous.get(f"/api/v1/incidents/{case['id']}/history", headers=community).json()
    assert history["history"][-1]["handed_to_zh"] == "交办至 东苑社区矛盾调处室 刘主任"
    urged = _step(anonymous, body, community, action="urge", note="请今日调处")
    assert urged.status_code == 200
    box = anonymous.get("/api/v1/inbox", headers=head).json()
    [item] = [i for i in box["items"] if i["id"] == case["id"]]
    assert (item["unit_name"], item["urge"]["note"], item["allowed"]) == (
        "东苑社区矛盾调处室",
        "请今日调处",
        ["handle"],
    )

    # 当场办结: settled at the visit, then verified by someone else; counted on the spot.
    visit = anonymous.post("/api/v1/incidents", json=DISPUTE, headers=community).json()
    settled = _step(anonymous, visit, head, action="settle", note="当场达成协议")
    assert settled.status_code == 200 and settled.json()["on_the_spot"] is True
    visit = _step(anonymous, settled.json(), head, action="feedback").json()
    assert _step(anonymous, visit, community, action="verify").status_code == 200
    params = {"start": "2000-01-01", "end": "2100-01-01", "level": "community", "area": WEST}
    stats = anonymous.get("/api/v1/incidents/statistics", params=params, headers=community)
    [row] = stats.json()["rows"]
    assert (row["on_the_spot"], row["closed"], row["on_the_spot_rate"]) == (1, 1, 1.0)
    assert "on_the_spot_rate" in stats.json()["classes"]
    table = anonymous.get(
        "/api/v1/incidents/statistics", params={**params, "format": "csv"}, headers=community
    )
    [line] = list(csv.DictReader(io.StringIO(table.text.lstrip("\ufeff"))))
    assert (line["on_the_spot"], line["on_the_spot_rate"]) == ("1", "1.0")
