"""Issue 14 on the demo district: a device leaving its geofence raises a case in the right
grid within one batch, the button reaches the nearest available worker, and a grid
manager of another grid sees none of the people; the demo's own day of positions."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import create_app
from api.dependencies import get_session
from gis.settings import ServerSettings
from tests.accounts import demo_login as login
from tests.accounts import key_headers
from tests.conftest import rolled_back

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

M_PER_DEG_LON = 89_290.0


@pytest.fixture
def tx(demo_engine: Engine) -> Iterator[Session]:
    """A session on the demo whose work, commits included, is rolled back afterwards: the
    demo stays as other tests expect it."""
    with rolled_back(demo_engine) as session:
        yield session


@pytest.fixture
def demo(demo_engine: Engine, tx: Session) -> Iterator[TestClient]:
    app = create_app(ServerSettings(), engine=demo_engine)
    app.dependency_overrides[get_session] = lambda: tx
    with TestClient(app) as client:
        yield client


def _one(session: Session | Engine, sql: str, **params: Any) -> Any:
    if isinstance(session, Session):
        return session.execute(text(sql), params).one()
    with session.connect() as conn:
        return conn.execute(text(sql), params).one()


def test_the_demo_has_its_people_workers_and_a_day_of_positions(demo_engine: Engine) -> None:
    row = _one(
        demo_engine,
        """SELECT (SELECT count(*) FROM person), (SELECT count(*) FROM care_worker),
                  (SELECT count(*) FROM admin_area WHERE level = 'community'
                     AND valid_to IS NULL),
                  (SELECT count(*) FROM position_report),
                  (SELECT min(at) FROM position_report), (SELECT max(at) FROM position_report),
                  (SELECT count(*) FROM geofence_alarm),
                  (SELECT count(*) FROM incident WHERE source = 'device')""",
    )
    people, workers, communities, positions, first, last, alarms, cases = row
    assert people == 300 and workers == communities > 100
    assert positions >= 300 * 90
    assert last - first >= dt.timedelta(hours=23)
    # Nobody leaves home in the demo's own day: an alarm would file a case today, outside
    # the demo year the incident pages are drawn for.
    assert alarms == 0 and cases == 0


def test_a_device_leaving_its_fence_raises_a_case_in_its_grid_in_one_batch(
    demo: TestClient, tx: Session
) -> None:
    person, device, grid, lon, lat = _one(
        tx,
        """SELECT p.id, d.id, g.code, ST_X(b.location), ST_Y(b.location) FROM person p
           JOIN device d ON d.person_id = p.id JOIN grid g ON g.id = p.grid_id
           JOIN building b ON b.id = p.building_id
           WHERE d.fence_state = 'inside' ORDER BY p.id DESC LIMIT 1""",
    )
    key = key_headers(tx, "care-demo-devices", ("devices:write",))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    far = lon + 900 / M_PER_DEG_LON
    batch = {
        "reports": [
            {
                "device_id": device,
                "at": (now + dt.timedelta(seconds=s)).isoformat(),
                "lon": far,
                "lat": lat,
            }
            for s in (1, 31)
        ]
    }
    answer = demo.post("/api/v1/devices/positions", json=batch, headers=key)
    assert answer.status_code == 200, answer.text
    [alarm] = answer.json()["alarms"]
    assert alarm["person_id"] == person and alarm["grid_code"] == grid
    case_grid = _one(
        tx,
        "SELECT g.code FROM incident i JOIN grid g ON g.id = i.grid_id WHERE i.id = :i",
        i=alarm["incident_id"],
    )[0]
    assert case_grid == grid


def test_the_button_reaches_the_nearest_available_worker(demo: TestClient, tx: Session) -> None:
    device, lon, lat = _one(
        tx,
        """SELECT d.id, ST_X(b.location), ST_Y(b.location) FROM person p
           JOIN device d ON d.person_id = p.id JOIN building b ON b.id = p.building_id
           ORDER BY p.id LIMIT 1 OFFSET 7""",
    )
    nearest = _one(
        tx,
        """SELECT w.id FROM care_worker w JOIN device d ON d.worker_id = w.id
           WHERE w.available ORDER BY d.last_geom <-> ST_SetSRID(ST_MakePoint(:x, :y), 4326)
           LIMIT 1""",
        x=lon,
        y=lat,
    )[0]
    key = key_headers(tx, "care-demo-button", ("devices:write",))
    press = {"device_id": device, "lon": lon, "lat": lat}
    answer = demo.post("/api/v1/devices/emergency", json=press, headers=key)
    assert answer.status_code == 201, answer.text
    sent = answer.json()["worker"]
    assert sent is not None and sent["method"] in ("walk", "line")
    if sent["method"] == "line":
        assert sent["id"] == nearest
    closed = demo.post(f"/api/v1/care/calls/{answer.json()['id']}/close", headers=key)
    assert closed.status_code == 200 and closed.json()["closed_at"]


def test_a_grid_manager_of_another_grid_sees_none_of_the_people(
    demo: TestClient, tx: Session
) -> None:
    grid, person = _one(
        tx,
        """SELECT g.code, p.id FROM person p JOIN grid g ON g.id = p.grid_id
           ORDER BY p.id LIMIT 1""",
    )
    other = _one(
        tx,
        """SELECT a.username FROM account a JOIN staff_grid sg ON sg.staff_id = a.staff_id
           JOIN grid g ON g.id = sg.grid_id
           WHERE a.role = 'grid_manager' AND g.code <> :g
             AND NOT EXISTS (SELECT FROM person p WHERE p.grid_id = g.id)
             AND NOT EXISTS (SELECT FROM person p WHERE p.responsible_staff_id = a.staff_id)
           ORDER BY a.username LIMIT 1""",
        g=grid,
    )[0]
    headers = login(demo, other)
    listed = demo.get("/api/v1/people", headers=headers).json()
    assert listed["numberMatched"] == 0 and listed["people"] == []
    for path in ("", "/position", "/track", "/alarms"):
        assert demo.get(f"/api/v1/people/{person}{path}", headers=headers).status_code == 404
    own = login(demo, f"grid-{grid}")
    assert demo.get(f"/api/v1/people/{person}/position", headers=own).status_code == 200
    planner = login(demo, "planner")
    assert demo.get(f"/api/v1/people/{person}", headers=planner).status_code == 403
    counts = demo.get("/api/v1/people/counts?by=community", headers=planner).json()
    assert sum(r["total"] for r in counts["rows"]) == 300
