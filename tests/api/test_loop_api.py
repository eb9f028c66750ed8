"""The loop over HTTP: idempotent reports, conflicts that show the case, urging, ratings,
every level's inbox, a grid's month and where each person lands.

On the small district of ``tests/api/conftest.py`` (grid 370705001001001 in the west
community has the primary grid manager 张伟), with the people of
``test_workflow_people.people``.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db.models import Grid, StaffGrid
from gis.incidents.intake import replayed, report_digest
from gis.principal import Principal
from tests.accounts import bearer
from tests.api.test_workflow_people import (
    GRID,
    IN_GRID,
    OTHER_GRID,
    WEST,
    Headers,
    history,
    people,
    staff_id,
    step,
    took,
)
from tests.http_checks import assert_error, ok

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

__all__ = ["people"]  # the fixture, imported to be used here

BODY = {"category": "exposed_garbage", "lon": IN_GRID[0], "lat": IN_GRID[1], "source": "patrol"}


def post(client: TestClient, by: Headers, key: str | None, body: dict[str, Any] = BODY) -> Any:
    headers = {**by, **({"Idempotency-Key": key} if key else {})}
    return client.post("/api/v1/incidents", json=body, headers=headers)


def test_a_repeated_report_answers_the_first_case(
    client: TestClient, db: Session, people: dict[str, Headers]
) -> None:
    first = post(client, people["manager"], "q-0001")
    assert first.status_code == 201, first.text
    case = first.json()
    again = post(client, people["manager"], "q-0001")
    assert again.status_code == 200, again.text
    assert again.json()["id"] == case["id"] and again.json()["possible_duplicates"] == []
    assert again.headers["Location"] == f"/api/v1/incidents/{case['id']}"
    # a new login of the same person (the phone logged in again) replays too
    account = db.execute(text("SELECT id FROM account WHERE username = 'zhangwei'")).scalar_one()
    from gis.accounts.accounts import get_account

    fresh = bearer(db, get_account(db, int(account)))
    assert ok(post(client, fresh, "q-0001"))["id"] == case["id"]
    # the key is stored with the case: a new database session finds it
    with Session(bind=db.connection()) as other:
        me = Principal("person", "张伟", ref=f"account:{account}")
        found = replayed(other, me, "q-0001", report_digest(BODY | {"datum": "wgs84"}))
        assert found is not None and found.id == case["id"]
    # the same key with another report: refused, nothing stored
    other_body = BODY | {"description": "另一件事"}
    assert_error(post(client, people["manager"], "q-0001", other_body), 422, "different report")
    # the same key from someone else is their own
    theirs = post(client, people["community"], "q-0001")
    assert theirs.status_code == 201 and theirs.json()["id"] != case["id"]
    count = db.execute(text("SELECT count(*) FROM incident WHERE idempotency_key = 'q-0001'"))
    assert count.scalar_one() == 2
    assert_error(post(client, people["manager"], "x" * 65), 400, "Idempotency-Key")
    # without a key, two reports are two cases
    assert post(client, people["manager"], None).json()["id"] != case["id"]


def test_a_stale_step_answers_the_case_as_it_stands(
    client: TestClient, people: dict[str, Headers]
) -> None:
    case = ok(post(client, people["manager"], None), 201)
    took(client, people["manager"], case, "accept")
    body = assert_error(step(client, people["community"], case, "cancel", note="重复"), 409)
    assert body["current_version"] == 2
    current = body["current"]
    assert (current["status"], current["version"], current["handling_level"]) == (
        "accepted",
        2,
        "grid",
    )
    assert current["last_step"]["action"] == "accept"
    assert current["last_step"]["actor"] == "张伟" or current["last_step"]["actor"]
    answer = client.post(
        f"/api/v1/incidents/{case['id']}/transitions",
        json={"action": "cancel", "note": "重复", "expected_version": 1},
        headers={**people["community"], "If-Match": f'"{case["id"]}-1"'},
    )
    body = assert_error(answer, 412)
    assert body["current"]["status"] == "accepted"


def test_urging_over_http(client: TestClient, people: dict[str, Headers]) -> None:
    case = ok(post(client, people["manager"], None), 201)
    assert_error(step(client, people["manager"], case, "urge", note="快"), 403, "督办")
    assert_error(step(client, people["community"], case, "urge"), 400, "须填写说明")
    after = took(client, people["subdistrict"], case, "urge", note="今天之内处理")
    assert after["version"] == case["version"] and after["status"] == "reported"
    last = history(client, case["id"])[-1]
    assert (last["action"], last["action_zh"], last["note"]) == ("urge", "督办", "今天之内处理")
    assert last["actor_label"].endswith("（街道）")
    box = ok(client.get("/api/v1/inbox", headers=people["manager"]))
    [item] = [i for i in box["items"] if i["id"] == case["id"]]
    assert item["urge"]["note"] == "今天之内处理" and item["urge"]["by_label"].endswith("（街道）")
    assert box["counts"]["urged"] == 1


def test_an_evaluation_needs_a_rating(client: TestClient, people: dict[str, Headers]) -> None:
    case = ok(post(client, people["manager"], None), 201)
    for by, action in (
        ("manager", "accept"),
        ("community", "dispatch"),
        ("manager", "handle"),
        ("manager", "feedback"),
        ("community", "verify"),
    ):
        case = took(client, people[by], case, action)
    assert_error(step(client, people["community"], case, "evaluate"), 400, "rating")
    assert_error(step(client, people["community"], case, "evaluate", rating="great"), 422)
    done = took(client, people["community"], case, "evaluate", rating="unsatisfied")
    assert done["status"] == "evaluated"
    last = history(client, case["id"])[-1]
    assert (last["rating"], last["rating_zh"]) == ("unsatisfied", "不满意")


def test_each_role_has_its_inbox(client: TestClient, people: dict[str, Headers]) -> None:
    reported = ok(post(client, people["manager"], None), 201)
    accepted = took(
        client, people["manager"], ok(post(client, people["manager"], None), 201), "accept"
    )
    raised = took(
        client,
        people["manager"],
        ok(post(client, people["manager"], None), 201),
        "escalate",
        note="需社区协调",
    )
    dispute = ok(post(client, people["manager"], None, BODY | {"category": "dispute"}), 201)

    def inbox(who: str, query: str = "") -> dict[str, Any]:
        box: dict[str, Any] = ok(client.get(f"/api/v1/inbox{query}", headers=people[who]))
        return box

    mine = {reported["id"], accepted["id"], raised["id"], dispute["id"]}

    def ids(box: dict[str, Any]) -> set[int]:
        """Of the cases made here (the district has a few seeded ones too)."""
        return {i["id"] for i in box["items"]} & mine

    manager = inbox("manager")
    assert ids(manager) == {reported["id"], accepted["id"], dispute["id"]}
    by_id = {i["id"]: i for i in manager["items"]}
    # dispatch and hand_over (交办) are the community's; settling on the spot is the manager's
    assert by_id[accepted["id"]]["allowed"] == ["cancel", "settle", "escalate"]
    assert by_id[reported["id"]]["grid_code"] == GRID and by_id[reported["id"]]["grid_name"]
    assert by_id[reported["id"]]["supervise_due_at"] is not None
    community = inbox("community")
    assert ids(community) == {accepted["id"], raised["id"]}
    by_id = {i["id"]: i for i in community["items"]}
    assert by_id[raised["id"]]["escalated"] is True and by_id[accepted["id"]]["escalated"] is False
    assert "dispatch" in by_id[accepted["id"]]["allowed"]
    assert community["counts"]["escalated"] == 1
    assert ids(inbox("subdistrict")) == set()
    assert ids(inbox("mediator")) == {dispute["id"]}
    assert ids(inbox("neighbour")) == set()
    assert ids(inbox("manager", "?status=accepted")) == {accepted["id"]}
    assert ids(inbox("manager", f"?grid={OTHER_GRID}")) == set()
    assert ids(inbox("community", "?overdue=true")) == set()
    assert inbox("manager", "?limit=1")["counts"]["total"] == manager["counts"]["total"]
    assert len(inbox("manager", "?limit=1")["items"]) == 1
    assert_error(client.get("/api/v1/inbox?grid=12", headers=people["manager"]), 400)
    assert_error(client.get("/api/v1/inbox", headers=people["planner"]), 403)
    assert_error(client.get("/api/v1/inbox", headers=people["hotline"]), 403)
    # the worklist's buttons are the caller's too
    work = ok(client.get(f"/api/v1/worklists/{GRID}", headers=people["manager"]))
    [item] = [i for i in work["incidents"] if i["id"] == accepted["id"]]
    assert item["allowed"] == ["cancel", "settle", "escalate"]
    work = ok(client.get(f"/api/v1/worklists/{GRID}", headers=people["community"]))
    [item] = [i for i in work["incidents"] if i["id"] == accepted["id"]]
    assert item["allowed"] == ["dispatch", "cancel", "hand_over", "settle", "escalate", "urge"]


def test_history_has_no_raw_codes_or_iso_times(
    client: TestClient, people: dict[str, Headers]
) -> None:
    case = ok(post(client, people["manager"], None), 201)
    took(client, people["manager"], case, "escalate", note="需社区协调")
    for entry in history(client, case["id"]):
        shown = " ".join(
            str(entry[k] or "")
            for k in ("action_zh", "actor_label", "at_local", "level_zh", "rating_zh", "note_zh")
        )
        assert not re.search(r"[A-Za-z]{3,}|\d{4}-\d\d-\d\dT", shown), shown
    last = history(client, case["id"])[-1]
    assert (last["action_zh"], last["level_zh"], last["actor_label"]) == (
        "上报升级",
        "社区",
        "张伟（网格员）",
    )
    by_key = ok(post(client, people["hotline"], None, BODY | {"source": "hotline"}), 201)
    first = history(client, by_key["id"])[0]
    assert (first["action_zh"], first["actor_label"], first["note_zh"]) == ("上报", "热线", "上报")
    assert by_key["source_zh"] == "12345热线"


def test_a_grids_month_beside_its_communitys_average(
    client: TestClient, people: dict[str, Headers]
) -> None:
    ok(post(client, people["manager"], None), 201)
    month = ok(client.get(f"/api/v1/grids/{GRID}/month", headers=people["manager"]))
    assert month["grid_code"] == GRID and month["community_code"] == WEST
    assert month["grid"]["received"] >= 1 and month["community_grids"] == 2
    assert set(month["community_average"]) == set(month["grid"])
    assert_error(client.get(f"/api/v1/grids/{OTHER_GRID}/month", headers=people["manager"]), 404)
    assert ok(client.get(f"/api/v1/grids/{OTHER_GRID}/month", headers=people["community"]))
    assert_error(
        client.get(f"/api/v1/grids/{GRID}/month?month=2026-13", headers=people["manager"]), 400
    )
    past = ok(client.get(f"/api/v1/grids/{GRID}/month?month=2020-01", headers=people["manager"]))
    assert past["grid"]["received"] == 0 and past["grid"]["on_time_rate"] is None


def test_me_says_where_each_person_lands(
    client: TestClient, db: Session, people: dict[str, Headers]
) -> None:
    # 张伟 also stands in (B post) for the neighbouring grid
    b_grid = db.query(Grid).filter(Grid.code == OTHER_GRID, Grid.valid_to.is_(None)).one()
    db.add(StaffGrid(staff_id=staff_id(db, "张伟"), grid_id=b_grid.id, is_primary=False))
    db.flush()
    me = ok(client.get("/api/v1/me", headers=people["manager"]))
    assert me["home"]["kind"] == "grid" and me["home"]["grid_code"] == GRID
    assert me["home"]["url"] == f"/grid/{GRID}"
    assert [(g["code"], g["primary"]) for g in me["home_grids"]] == [
        (GRID, True),
        (OTHER_GRID, False),
    ]
    assert ok(client.get("/api/v1/me", headers=people["community"]))["home"]["url"] == "/inbox"
    assert ok(client.get("/api/v1/me", headers=people["planner"]))["home"]["kind"] == "map"
    assert ok(client.get("/api/v1/me", headers=people["hotline"]))["home"] is None


@pytest.mark.parametrize("key", ["", "a b"])
def test_a_malformed_idempotency_key_is_refused(
    client: TestClient, people: dict[str, Headers], key: str
) -> None:
    answer = client.post(
        "/api/v1/incidents", json=BODY, headers={**people["manager"], "Idempotency-Key": key}
    )
    assert answer.status_code in (400, 422), answer.text
