"""/api/v1/participation: everyone reads, a community writes only its own items, steps go
one at a time against a version, and bad input is a 4xx with the reason."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.db.models import Staff
from gis.geo.datum import GCJ02, from_wgs84
from tests.accounts import key_headers, login_headers

WEST, EAST = "370705001001", "370705001002"
WEST_GRID, EAST_GRID = "370705001001001", "370705001002001"
ITEMS = "/api/v1/participation/items"


def _item(**change: Any) -> dict[str, Any]:
    return {
        "kind": "micro_project",
        "title": "楼道照明改造",
        "community_code": WEST,
        "grid_code": WEST_GRID,
        "proposed_on": "2026-03-01",
        "budget_cny": 36000,
        "lon": 119.11,
        "lat": 36.73,
        **change,
    }


@pytest.fixture
def callers(db: Session) -> dict[str, dict[str, str]]:
    staff = db.execute(select(Staff.id).order_by(Staff.id)).scalars().first()
    return {
        "admin": login_headers(db, "pa-admin", "admin"),
        "west": login_headers(db, "pa-west", "community", area_code=WEST),
        "east": login_headers(db, "pa-east", "community", area_code=EAST),
        "planner": login_headers(db, "pa-planner", "planner"),
        "grid_manager": login_headers(db, "pa-grid", "grid_manager", staff_id=staff),
        "key": key_headers(db, "pa-key", ("features:read",)),
    }


def test_a_community_records_and_advances_its_item_and_everyone_reads_it(
    anonymous: TestClient, callers: dict[str, dict[str, str]]
) -> None:
    created = anonymous.post(ITEMS, json=_item(), headers=callers["west"])
    assert created.status_code == 201, created.text
    item = created.json()
    assert (item["status"], item["located"], item["allowed_next"][0]) == (
        "proposed",
        "place",
        "discussed",
    )
    assert created.headers["Location"] == f"{ITEMS}/{item['id']}"
    etag = created.headers["ETag"]
    url = f"{ITEMS}/{item['id']}"
    step = anonymous.post(
        f"{url}/advance",
        json={"to": "discussed", "on": "2026-03-10"},
        headers={**callers["west"], "If-Match": etag},
    )
    assert step.status_code == 200, step.text
    assert (step.json()["status"], step.json()["discussed_on"]) == ("discussed", "2026-03-10")
    for who in ("planner", "grid_manager", "key", "east"):
        read = anonymous.get(url, headers=callers[who])
        assert read.status_code == 200 and read.json()["version"] == 2, who
    # Stale If-Match: 412; stale body version: 409; no version at all: 428.
    stale = anonymous.post(
        f"{url}/advance", json={"to": "decided"}, headers={**callers["west"], "If-Match": etag}
    )
    assert stale.status_code == 412, stale.text
    body_stale = anonymous.post(
        f"{url}/advance",
        json={"to": "decided", "expected_version": 1},
        headers=callers["west"],
    )
    assert body_stale.status_code == 409
    assert (
        anonymous.post(
            f"{url}/advance", json={"to": "decided"}, headers=callers["west"]
        ).status_code
        == 428
    )
    # A skipped step: 409 naming what is allowed.
    skip = anonymous.post(
        f"{url}/advance",
        json={"to": "evaluated", "expected_version": 2},
        headers=callers["west"],
    )
    assert skip.status_code == 409
    assert skip.json()["allowed"] == ["decided", "rejected", "withdrawn"]


def test_who_may_write_where(anonymous: TestClient, callers: dict[str, dict[str, str]]) -> None:
    assert anonymous.post(ITEMS, json=_item(), headers=callers["east"]).status_code == 403
    assert anonymous.post(ITEMS, json=_item(), headers=callers["planner"]).status_code == 403
    assert anonymous.post(ITEMS, json=_item(), headers=callers["key"]).status_code == 403
    assert anonymous.get(ITEMS).status_code == 401
    made = anonymous.post(ITEMS, json=_item(), headers=callers["admin"]).json()
    patch = anonymous.patch(
        f"{ITEMS}/{made['id']}",
        json={"spent_cny": 100, "expected_version": 1},
        headers=callers["east"],
    )
    assert patch.status_code == 403
    own = anonymous.patch(
        f"{ITEMS}/{made['id']}",
        json={"spent_cny": 35500, "expected_version": 1},
        headers=callers["west"],
    )
    assert own.status_code == 200 and own.json()["spent_cny"] == 35500


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"grid_code": EAST_GRID}, 400, "does not lie in community"),
        ({"community_code": "370705001009"}, 400, "no current community"),
        ({"budget_cny": -1}, 422, "budget_cny"),
        ({"kind": "party"}, 400, "unknown kind"),
        ({"lon": None}, 400, "lon and lat together"),
        ({"facility_id": 999999}, 400, "no facility"),
        ({"lon": 119.17}, 400, "datum=gcj02"),
    ],
)
def test_bad_items_are_refused_with_the_reason(
    anonymous: TestClient,
    callers: dict[str, dict[str, str]],
    change: dict[str, Any],
    status: int,
    words: str,
) -> None:
    answer = anonymous.post(
        ITEMS, json=_item(**change), headers={**callers["admin"], "Accept-Language": "en"}
    )
    assert answer.status_code == status, answer.text
    assert words in answer.text


def test_unknown_items_are_404(anonymous: TestClient, callers: dict[str, dict[str, str]]) -> None:
    assert anonymous.get(f"{ITEMS}/987654", headers=callers["planner"]).status_code == 404
    missing = anonymous.post(
        f"{ITEMS}/987654/advance",
        json={"to": "discussed", "expected_version": 1},
        headers=callers["admin"],
    )
    assert missing.status_code == 404


def test_lists_filters_geojson_csv_and_datum(
    anonymous: TestClient, callers: dict[str, dict[str, str]]
) -> None:
    admin = callers["admin"]
    anonymous.post(ITEMS, json=_item(), headers=admin)
    anonymous.post(
        ITEMS,
        json=_item(kind="people_decide", community_code=EAST, grid_code=None, lon=None, lat=None),
        headers=admin,
    )
    planner = callers["planner"]
    page = anonymous.get(ITEMS, params={"limit": 1}, headers=planner)
    assert page.json()["numberMatched"] == 2 and page.headers["X-Total-Count"] == "2"
    assert 'rel="next"' in page.headers["Link"]
    east = anonymous.get(ITEMS, params={"community": EAST}, headers=planner).json()
    assert [i["kind"] for i in east["items"]] == ["people_decide"]
    assert east["items"][0]["located"] == "community"
    assert anonymous.get(ITEMS, params={"year": 2025}, headers=planner).json()["numberMatched"] == 0
    gj = anonymous.get(
        ITEMS,
        params={"format": "geojson", "kind": "micro_project", "datum": "gcj02"},
        headers=planner,
    )
    assert gj.headers["content-type"].startswith("application/geo+json")
    lon, lat = from_wgs84([119.11], [36.73], GCJ02)
    assert gj.json()["features"][0]["geometry"]["coordinates"] == pytest.approx(
        [lon[0], lat[0]], abs=1e-6
    )
    table = anonymous.get(ITEMS, params={"format": "csv"}, headers=planner)
    rows = list(csv.DictReader(io.StringIO(table.content.decode("utf-8-sig"))))
    assert len(rows) == 2 and rows[0]["title"] == "楼道照明改造"
    assert anonymous.get(ITEMS, params={"datum": "mars"}, headers=planner).status_code == 400


def test_councils_and_statistics(anonymous: TestClient, callers: dict[str, dict[str, str]]) -> None:
    council = anonymous.post(
        "/api/v1/participation/councils",
        json={"community_code": WEST, "name": "东苑社区居民议事会", "members": 15},
        headers=callers["west"],
    )
    assert council.status_code == 201, council.text
    again = anonymous.post(
        "/api/v1/participation/councils",
        json={"community_code": WEST, "name": "东苑社区居民议事会"},
        headers=callers["admin"],
    )
    assert again.status_code == 409
    anonymous.post(ITEMS, json=_item(council_id=council.json()["id"]), headers=callers["west"])
    anonymous.post(ITEMS, json=_item(budget_cny=4000), headers=callers["west"])
    listed = anonymous.get("/api/v1/participation/councils", headers=callers["planner"]).json()
    assert [c["name"] for c in listed["councils"]] == ["东苑社区居民议事会"]
    stats = anonymous.get("/api/v1/participation/statistics", headers=callers["planner"]).json()
    west = next(r for r in stats["rows"] if r["code"] == WEST)
    assert (west["councils"], west["items"], west["micro_project"], west["budget_cny"]) == (
        1,
        2,
        2,
        40000.0,
    )
    assert stats["total"]["items"] == 2
    text = anonymous.get(
        "/api/v1/participation/statistics",
        params={"format": "csv", "level": "subdistrict"},
        headers=callers["planner"],
    ).content.decode("utf-8-sig")
    assert text.startswith("code,name,households") and "370705001," in text


def test_an_upload_is_imported_whole_or_refused_with_its_rows(
    anonymous: TestClient, callers: dict[str, dict[str, str]]
) -> None:
    header = "id,kind,title,community,status,proposed_on,budget_cny\n"
    good = header + f"U1,micro_project,座椅,{WEST},proposed,2026-04-01,5000\n"
    bad = good + f"U2,micro_project,东边,{EAST},proposed,2026-04-01,-1\n"
    url = "/api/v1/participation/import"
    refused = anonymous.post(
        url,
        files={"file": ("items.csv", bad.encode(), "text/csv")},
        headers={**callers["west"], "Accept-Language": "en"},
    )
    assert refused.status_code == 422, refused.text
    (row,) = refused.json()["rejected"]
    assert row["row"] == 2 and "do not answer" in row["reason"] and "negative" in row["reason"]
    listed = anonymous.get(ITEMS, headers=callers["west"]).json()
    assert listed["numberMatched"] == 0
    stored = anonymous.post(
        url, files={"file": ("items.csv", good.encode(), "text/csv")}, headers=callers["west"]
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["rows"] == 1
    assert anonymous.get(ITEMS, headers=callers["west"]).json()["numberMatched"] == 1
    planner = anonymous.post(
        url, files={"file": ("items.csv", good.encode(), "text/csv")}, headers=callers["planner"]
    )
    assert planner.status_code == 403
    odd = anonymous.post(
        url,
        files={"file": ("items.xlsx", b"PK", "application/octet-stream")},
        headers=callers["admin"],
    )
    assert odd.status_code == 400
