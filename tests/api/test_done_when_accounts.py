"""Issue 10's "done when", end to end over HTTP on the small district.

A grid manager logs in with a password and works their own grid; another
grid's worklist, incident and export are refused; a hotline system files an
Open311 request with its api_key but cannot close it; the audit trail, read by
an admin, shows the grid manager's login and the hotline's filing.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.accounts import PASSWORD, key_headers, make_account

WEST_GRID = "370705001001001"
EAST_GRID = "370705001002001"


def bearer(anonymous: Any, username: str) -> dict[str, str]:
    answer = anonymous.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_a_grid_manager_and_a_hotline_key_each_stay_in_their_place(
    anonymous: Any, db: Session, small_district: Any
) -> None:
    manager_staff = db.execute(text("SELECT id FROM staff WHERE name = '张伟'")).scalar_one()
    make_account(db, "zhangwei", "grid_manager", staff_id=manager_staff)
    make_account(db, "root", "admin")
    hotline = key_headers(db, "12345热线", ("open311", "incidents:read"))

    manager = bearer(anonymous, "zhangwei")
    me = anonymous.get("/api/v1/me", headers=manager).json()
    assert (me["role"], me["areas"]) == ("grid_manager", [WEST_GRID])

    # Their own grid's worklist; another grid's worklist, case and export are refused.
    assert anonymous.get(f"/api/v1/worklists/{WEST_GRID}", headers=manager).status_code == 200
    assert anonymous.get(f"/api/v1/worklists/{EAST_GRID}", headers=manager).status_code == 404
    east_case = db.execute(
        text(
            "SELECT i.id FROM incident i JOIN grid g ON g.id = i.grid_id "
            "WHERE g.code = :code ORDER BY i.id LIMIT 1"
        ),
        {"code": EAST_GRID},
    ).scalar_one()
    assert anonymous.get(f"/api/v1/incidents/{east_case}", headers=manager).status_code == 404
    export = anonymous.get("/api/v1/incidents?format=csv", headers=manager)
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows and {r["grid_code"] for r in rows} == {WEST_GRID}
    asked = anonymous.get(f"/api/v1/incidents?grid={EAST_GRID}&format=csv", headers=manager)
    assert list(csv.DictReader(io.StringIO(asked.content.decode("utf-8-sig")))) == []

    # The hotline files an Open311 request with the spec's api_key, then may not close it.
    filed = anonymous.post(
        "/open311/v2/requests.json",
        data={
            "api_key": hotline["X-API-Key"],
            "service_code": "exposed_garbage",
            "lat": "36.712",
            "long": "119.112",
            "description": "路边垃圾堆积",
        },
    )
    assert filed.status_code == 200, filed.text
    case_id = int(filed.json()[0]["service_request_id"])
    assert anonymous.get(f"/open311/v2/requests/{case_id}.json", headers=hotline).status_code == 200
    for action in ("accept", "cancel", "verify", "evaluate"):
        attempt = anonymous.post(
            f"/api/v1/incidents/{case_id}/transitions",
            json={"action": action, "expected_version": 1, "note": "关闭"},
            headers=hotline,
        )
        assert attempt.status_code == 403, (action, attempt.text)
    status = db.execute(text("SELECT status FROM incident WHERE id = :i"), {"i": case_id}).scalar()
    assert status == "reported"

    # The audit shows both.
    trail = anonymous.get("/api/v1/audit", headers=bearer(anonymous, "root")).json()["entries"]
    seen = {(e["principal"], e["action"], e["object"]) for e in trail}
    assert ("zhangwei", "login", None) in seen
    assert ("key:12345热线", "incident.report", f"incident:{case_id}") in seen
    assert anonymous.get("/api/v1/audit", headers=manager).status_code == 403
