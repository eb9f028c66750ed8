"""GET /api/v1/grids/{code}: one grid with its community, staff and counts."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_grid_with_community_managers_and_counts(client: TestClient) -> None:
    response = client.get("/api/v1/grids/370705001001001")
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


def test_full_phone_numbers_never_leave_the_api(client: TestClient) -> None:
    text = client.get("/api/v1/grids/370705001001001").text
    assert "17012341234" not in text
    assert "13800001111" not in text


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
