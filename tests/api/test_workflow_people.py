"""The workflow follows people, over HTTP: who logged in acts, each role takes its own steps,
and every write leaves its audit row.

On the small district of ``tests/api/conftest.py``: grid 370705001001001 (west
community 370705001001) has the primary grid manager 张伟 and the community
worker 李娜; the accounts are made in the test's rolled-back session and logged
in with bearer tokens (``tests.accounts``).
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.accounts import audit
from gis.db.models import Grid, Staff, StaffGrid, StaffRole
from tests.accounts import key_headers, login_headers
from tests.api.conftest import SmallDistrict
from tests.http_checks import assert_error, ok

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

GRID = "370705001001001"
OTHER_GRID = "370705001001002"
WEST = "370705001001"
EAST = "370705001002"
IN_GRID = (119.11, 36.73)
"""A point in grid 001 (west community), where no building or seeded case lies close."""

Headers = dict[str, str]


def key_login(db: Session, name: str, scopes: tuple[str, ...]) -> Headers:
    """A new key sent as a bearer token (so it replaces the ``client``'s admin login)."""
    return {"Authorization": f"Bearer {key_headers(db, name, scopes)['X-API-Key']}"}


def staff_id(db: Session, name: str) -> int:
    return int(db.execute(text("SELECT id FROM staff WHERE name = :n"), {"n": name}).scalar_one())


@pytest.fixture
def people(db: Session, small_district: SmallDistrict) -> dict[str, Headers]:
    """Logins of the people of the west community, and of a second grid's manager."""
    grid_002 = db.query(Grid).filter(Grid.code == OTHER_GRID).one()
    neighbour = Staff(name="王芳", phone="13900002222", role=StaffRole.GRID_MANAGER)
    db.add(neighbour)
    db.flush()
    db.add(StaffGrid(staff_id=neighbour.id, grid_id=grid_002.id, is_primary=True))
    db.flush()
    return {
        "manager": login_headers(db, "zhangwei", "grid_manager", staff_id=staff_id(db, "张伟")),
        "neighbour": login_headers(db, "wangfang", "grid_manager", staff_id=neighbour.id),
        "community": login_headers(db, "west", "community", area_code=WEST),
        "east": login_headers(db, "east", "community", area_code=EAST),
        "subdistrict": login_headers(db, "sub", "subdistrict", area_code="370705001"),
        "planner": login_headers(db, "planner", "planner"),
        "mediator": login_headers(db, "mediator", "mediator", area_code=WEST),
        "hotline": key_login(db, "热线", ("incidents:write", "incidents:read")),
    }


def report(client: TestClient, by: Headers | None = None, **kw: Any) -> Any:
    body = {"category": "exposed_garbage", "lon": IN_GRID[0], "lat": IN_GRID[1], **kw}
    return ok(client.post("/api/v1/incidents", json=body, headers=by), 201)


def step(client: TestClient, by: Headers, incident: dict[str, Any], action: str, **kw: Any) -> Any:
    """POST the step quoting the incident's version; the response (not checked)."""
    body = {"action": action, "expected_version": incident["version"], **kw}
    return client.post(f"/api/v1/incidents/{incident['id']}/transitions", json=body, headers=by)


def took(client: TestClient, by: Headers, incident: dict[str, Any], action: str, **kw: Any) -> Any:
    """The incident after ``by`` took ``action`` (which must succeed)."""
    return ok(step(client, by, incident, action, **kw))


def history(client: TestClient, incident_id: int) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = ok(client.get(f"/api/v1/incidents/{incident_id}/history"))[
        "history"
    ]
    return steps


def refs(db: Session, incident_id: int) -> list[str | None]:
    return list(
        db.execute(
            text("SELECT actor_ref FROM incident_transition WHERE incident_id = :i ORDER BY id"),
            {"i": incident_id},
        ).scalars()
    )


# ------------------------------------------------------------------------- who acts


def test_the_actor_is_whoever_logged_in(
    client: TestClient, db: Session, people: dict[str, Headers]
) -> None:
    inc = report(client, people["manager"])
    inc = took(client, people["manager"], inc, "accept", note="现场确认")
    steps = history(client, inc["id"])
    assert [(s["action"], s["actor"]) for s in steps] == [("reported", "张伟"), ("accept", "张伟")]
    account = db.execute(text("SELECT id FROM account WHERE username = 'zhangwei'")).scalar_one()
    assert refs(db, inc["id"]) == [f"account:{account}"] * 2


def test_an_actor_in_the_body_is_refused(client: TestClient, people: dict[str, Headers]) -> None:
    body = {"category": "exposed_garbage", "lon": IN_GRID[0], "lat": IN_GRID[1], "actor": "x"}
    refused = client.post("/api/v1/incidents", json=body, headers=people["manager"])
    assert assert_error(refused, 422, "actor")["errors"][0]["parameter"] == "actor"
    inc = report(client, people["manager"])
    refused = step(client, people["manager"], inc, "accept", actor="区长")
    assert_error(refused, 422, "actor", "Extra inputs are not permitted")
    merge = {"into": inc["id"], "actor": "区长"}
    other = report(client, people["manager"])
    refused = client.post(
        f"/api/v1/incidents/{other['id']}/merge", json=merge, headers=people["manager"]
    )
    assert_error(refused, 422, "actor")
    assert [s["actor"] for s in history(client, inc["id"])] == ["张伟"]


# ------------------------------------------------------------------------- who may do what


def test_a_community_dispatches_and_the_grid_manager_handles(
    client: TestClient, db: Session, people: dict[str, Headers]
) -> None:
    inc = took(client, people["manager"], report(client), "accept")
    refused = step(client, people["manager"], inc, "dispatch", handler_staff_id=1)
    body = assert_error(refused, 403, "社区及以上")
    assert body["code"] == "Forbidden"
    assert_error(step(client, people["east"], inc, "dispatch"), 404, "没有编号为")
    handler = staff_id(db, "李娜")
    inc = took(client, people["community"], inc, "dispatch", handler_staff_id=handler)
    assert inc["handler"]["name"] == "李娜"
    # The grid's manager may record the work of the worker the case went to.
    inc = took(client, people["manager"], inc, "handle")
    inc = took(client, people["manager"], inc, "feedback")
    assert inc["status"] == "feedback"


def test_a_grid_manager_verifies_in_their_own_grid_but_not_another(
    client: TestClient, people: dict[str, Headers]
) -> None:
    inc = took(client, people["community"], report(client), "accept")
    inc = took(client, people["community"], inc, "dispatch")
    inc = took(client, people["community"], inc, "handle")
    inc = took(client, people["community"], inc, "feedback")
    refused = step(client, people["neighbour"], inc, "verify")
    assert_error(refused, 404, f"没有编号为 {inc['id']} 的案件")  # not theirs to see
    closed = took(client, people["manager"], inc, "verify", note="现场核查")
    assert closed["status"] == "closed"
    assert history(client, inc["id"])[-1]["actor"] == "张伟"


def test_whoever_handled_a_case_cannot_verify_or_close_it(
    client: TestClient, people: dict[str, Headers]
) -> None:
    inc = took(client, people["manager"], report(client), "accept")
    inc = took(client, people["community"], inc, "dispatch")
    inc = took(client, people["manager"], inc, "handle")
    inc = took(client, people["manager"], inc, "feedback")
    refused = step(client, people["manager"], inc, "verify")
    assert_error(refused, 403, "您处理过此案件")
    in_english = {**people["manager"], "Accept-Language": "en"}
    assert_error(step(client, in_english, inc, "verify"), 403, "you handled this case")
    assert_error(step(client, people["manager"], inc, "rework", note="再看看"), 403, "您处理过")
    inc = took(client, people["community"], inc, "verify")
    assert inc["status"] == "closed"
    # The community closes (evaluates) what others handled; a handler from the community may not.
    second = took(client, people["community"], report(client, lon=119.115), "accept")
    second = took(client, people["community"], second, "dispatch")
    second = took(client, people["community"], second, "handle")
    second = took(client, people["community"], second, "feedback")
    assert_error(step(client, people["community"], second, "verify"), 403, "您处理过此案件")
    second = took(client, people["manager"], second, "verify")
    rated = {"rating": "satisfied"}
    assert_error(
        step(client, people["community"], second, "evaluate", **rated), 403, "您处理过此案件"
    )
    assert_error(
        step(client, people["manager"], second, "evaluate", **rated), 403, "评价由社区及以上负责"
    )
    assert took(client, people["subdistrict"], second, "evaluate", **rated)["status"] == "evaluated"


def test_an_escalated_case_is_acted_on_by_the_level_it_reached(
    client: TestClient, people: dict[str, Headers]
) -> None:
    inc = took(client, people["manager"], report(client), "accept")
    inc = took(client, people["manager"], inc, "escalate", note="网格内无法处理")
    assert inc["handling_level"] == "community"
    refused = step(client, people["manager"], inc, "cancel", note="x")
    assert_error(refused, 403, "已升级至社区级")
    inc = took(client, people["community"], inc, "escalate", note="社区无法处理")
    assert inc["handling_level"] == "subdistrict"
    assert_error(step(client, people["community"], inc, "dispatch"), 403, "街道级")
    assert took(client, people["subdistrict"], inc, "dispatch")["status"] == "dispatched"


def test_a_mediator_takes_the_disputes_of_their_area(
    client: TestClient, people: dict[str, Headers]
) -> None:
    dispute = report(client, category="dispute", description="邻里噪音纠纷")
    dispute = took(client, people["mediator"], dispute, "accept")
    assert_error(step(client, people["mediator"], dispute, "dispatch"), 403, "调解员不能")
    garbage = report(client)
    assert_error(step(client, people["mediator"], garbage, "accept"), 404)


def test_a_planner_takes_no_step(client: TestClient, people: dict[str, Headers]) -> None:
    inc = report(client)
    assert_error(step(client, people["planner"], inc, "accept"), 403, "planner")


def test_a_hotline_key_reports_and_reads_but_takes_no_step(
    client: TestClient, db: Session, people: dict[str, Headers]
) -> None:
    hotline = people["hotline"]
    inc = report(client, hotline, source="hotline")
    assert history(client, inc["id"])[0]["actor"] == "key:热线"
    assert ok(client.get(f"/api/v1/incidents/{inc['id']}", headers=hotline))["id"] == inc["id"]
    for action in ("accept", "cancel", "verify"):
        refused = step(client, hotline, inc, action, note="x")
        assert refused.status_code == 403, refused.text
    merged = client.post(
        f"/api/v1/incidents/{inc['id']}/merge", json={"into": inc["id"]}, headers=hotline
    )
    assert merged.status_code == 403
    assert ok(client.get(f"/api/v1/incidents/{inc['id']}", headers=hotline))["version"] == 1
    [entry] = audit.entries(db, action="incident.report", user="key:热线")
    assert (entry.role, entry.object, entry.area) == ("system", f"incident:{inc['id']}", GRID)


# ------------------------------------------------------------------------- the audit


def test_every_incident_write_is_audited(
    client: TestClient, db: Session, people: dict[str, Headers]
) -> None:
    inc = report(client, people["manager"])
    inc = took(client, people["manager"], inc, "accept")
    duplicate = report(client, people["community"])
    ok(
        client.post(
            f"/api/v1/incidents/{duplicate['id']}/merge",
            json={"into": inc["id"], "note": "同一处"},
            headers=people["community"],
        )
    )
    refused = step(client, people["planner"], inc, "cancel", note="x")
    assert refused.status_code == 403
    rows = [
        (e.principal, e.role, e.action, e.object, e.area, e.client)
        for e in reversed(audit.entries(db, action="incident."))
    ]
    assert rows == [
        (
            "zhangwei",
            "grid_manager",
            "incident.report",
            f"incident:{inc['id']}",
            GRID,
            "testclient",
        ),
        (
            "zhangwei",
            "grid_manager",
            "incident.accept",
            f"incident:{inc['id']}",
            GRID,
            "testclient",
        ),
        ("west", "community", "incident.report", f"incident:{duplicate['id']}", GRID, "testclient"),
        ("west", "community", "incident.merge", f"incident:{duplicate['id']}", GRID, "testclient"),
    ]  # a refused step writes nothing
    [merge] = audit.entries(db, action="incident.merge")
    assert merge.detail == {"into": inc["id"], "version": 2}


def test_facility_writes_are_audited_with_their_community(
    client: TestClient, db: Session, people: dict[str, Headers]
) -> None:
    planner = people["planner"]
    created = ok(
        client.post(
            "/api/v1/facilities",
            json={"type": "kindergarten", "name": "东苑幼儿园", "lon": 119.12, "lat": 36.72},
            headers=planner,
        ),
        201,
    )
    facility = f"/api/v1/facilities/{created['id']}"
    etag = client.get(facility).headers["etag"]
    changed = client.patch(facility, json={"capacity": 120}, headers={**planner, "If-Match": etag})
    ok(changed)
    moved = client.patch(
        facility,
        json={"lon": 119.17, "lat": 36.72},
        headers={**planner, "If-Match": changed.headers["etag"]},
    )
    ok(moved)
    deleted = client.delete(facility, headers={**planner, "If-Match": moved.headers["etag"]})
    assert deleted.status_code == 204
    rows = [
        (e.principal, e.action, e.object, e.area, e.detail)
        for e in reversed(audit.entries(db, action="facility."))
    ]
    common = {"type": "kindergarten", "name": "东苑幼儿园"}
    assert rows == [
        ("planner", "facility.create", f"facility:{created['id']}", WEST, common),
        (
            "planner",
            "facility.update",
            f"facility:{created['id']}",
            WEST,
            {**common, "fields": ["capacity"], "moved": False},
        ),
        (
            "planner",
            "facility.update",
            f"facility:{created['id']}",
            EAST,  # moved into the east community
            {**common, "fields": [], "moved": True},
        ),
        ("planner", "facility.delete", f"facility:{created['id']}", EAST, common),
    ]


def test_a_refused_facility_write_leaves_no_audit_row(
    client: TestClient, db: Session, people: dict[str, Headers]
) -> None:
    body = {"type": "kindergarten", "name": "x", "lon": 119.12, "lat": 36.72}
    refused = client.post("/api/v1/facilities", json=body, headers=people["manager"])
    assert refused.status_code == 403
    outside = client.post(
        "/api/v1/facilities", json={**body, "lon": 119.3}, headers=people["planner"]
    )
    assert outside.status_code == 422
    assert audit.entries(db, action="facility.") == []


def test_an_open311_request_is_audited_as_the_key_that_filed_it(
    client: TestClient, db: Session, small_district: SmallDistrict
) -> None:
    key = key_login(db, "政务热线", ("open311",))
    form = {"service_code": "exposed_garbage", "lat": "36.73", "long": "119.11"}
    filed = client.post("/open311/v2/requests.json", data=form, headers=key)
    assert filed.status_code == 200, filed.text
    request_id = filed.json()[0]["service_request_id"]
    [entry] = audit.entries(db, action="incident.report")
    assert (entry.principal, entry.role, entry.object, entry.area, entry.client) == (
        "key:政务热线",
        "system",
        f"incident:{request_id}",
        GRID,
        "testclient",
    )
