"""GET /api/v1/grids/{code}: one grid with its community, staff and counts; staff phones
in full only for those responsible for the grid."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gis.accounts import audit
from tests.accounts import key_headers, login_headers

GRID = "370705001001001"


def test_grid_with_community_managers_and_counts(anonymous: TestClient, db: Session) -> None:
    planner = login_headers(db, "planner1", "planner")
    response = anonymous.get(f"/api/v1/grids/{GRID}", headers=planner)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    feature = response.json()
    assert feature["type"] == "Feature"
    assert feature["id"] == "370705001001001"
    assert feature["geometry"]["type"] == "MultiPolygon"
    props = feature["properties"]
    assert props["code"] == "370705001001001"
    assert props["name"] == "东苑第一网格"
    assert props["community"] == {"code": "370705001001", "name": "东苑社区"}
    assert props["subdistrict"] == {"code": "370705001", "name": "东关街道"}
    assert props["households"] == 200
    assert props["buildings_count"] == 2
    assert props["managers"] == [
        {
            "name": "张伟",
            "role": "grid_manager",
            "specialist_duty": None,
            "is_primary": True,
            "phone": "170****1234",
        },
        {
            "name": "李娜",
            "role": "community_worker",
            "specialist_duty": "民政",
            "is_primary": False,
            "phone": "138****1111",
        },
    ]


def phones(client: TestClient, headers: dict[str, str]) -> list[Any]:
    answer = client.get(f"/api/v1/grids/{GRID}", headers=headers)
    assert answer.status_code == 200, answer.text
    return [m["phone"] for m in answer.json()["properties"]["managers"]]


def test_full_phone_numbers_only_for_those_responsible_for_the_grid(
    anonymous: TestClient, db: Session
) -> None:
    masked = ["170****1234", "138****1111"]
    full = ["17012341234", "13800001111"]
    assert phones(anonymous, login_headers(db, "planner1", "planner")) == masked
    assert phones(anonymous, key_headers(db, "bigdata", ("features:read",))) == masked
    east = login_headers(db, "xinhua", "community", area_code="370705001002")
    assert phones(anonymous, east) == masked
    assert audit.entries(db, action="personal.read") == []
    west = login_headers(db, "dongyuan", "community", area_code="370705001001")
    assert phones(anonymous, west) == full
    assert phones(anonymous, login_headers(db, "sub", "subdistrict", area_code="370705001")) == full
    [read, first] = audit.entries(db, action="personal.read")
    assert (first.principal, first.object, first.area) == ("dongyuan", f"grid:{GRID}", GRID)
    assert read.principal == "sub" and read.role == "subdistrict"


def test_the_mediator_sees_phones_masked(anonymous: TestClient, db: Session) -> None:
    mediator = login_headers(db, "mediator1", "mediator", area_code="370705001001")
    assert phones(anonymous, mediator) == ["170****1234", "138****1111"]


def test_grid_without_staff_or_buildings(client: TestClient) -> None:
    props = client.get("/api/v1/grids/370705001001002").json()["properties"]
    assert props["managers"] == []
    assert props["households"] == 0
    assert props["buildings_count"] == 0


def test_grid_as_it_was_on_a_date(client: TestClient) -> None:
    now = client.get("/api/v1/grids/370705001002001").json()["properties"]
    then = client.get("/api/v1/grids/370705001002001?at=2015-03-01").json()["properties"]
    assert now["name"] == "新华网格"
    assert then["name"] == "新华网格(旧)"
    assert now["buildings_count"] == 1
