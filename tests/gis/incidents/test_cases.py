"""Incident intake, routing and the stored closed loop, on a real PostGIS.

Most tests build the small district of ``tests.gis.incidents.incident_district`` inside
the rolled-back ``db`` session: grids A and B in the west community with a
boundary road about 36 m wide between them, grid C in the east one, a park
no grid covers; grid A has a primary grid manager and a community worker
(also marked primary, but not a grid manager); grid C has nobody.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pyproj import Geod
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from gis.accounts import audit
from gis.db import schema
from gis.db.engine import drop_database as drop_database_named
from gis.db.engine import make_engine, recreate_database
from gis.db.models import INCIDENT_STATES
from gis.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    OutsideDistrictError,
    StaleVersionError,
    UnroutableLocationError,
)
from gis.geo.datum import GCJ02, from_wgs84
from gis.incidents.catalogue import UnknownCategoryError
from gis.incidents.duplicates import suggest_duplicates
from gis.incidents.escalation import escalate_overdue
from gis.incidents.intake import Report, create_incident, report_incident
from gis.incidents.records import IncidentRecord, get_incident, history
from gis.incidents.transitions import merge_duplicate, transition
from gis.incidents.workflow import (
    EscalationLimitError,
    Level,
    State,
    TransitionNotAllowedError,
)
from gis.principal import Principal, Role
from tests.coverage_district import committed_lattice
from tests.gis.incidents.incident_district import District, insert_district
from tests.incident_cases import staff

CST = ZoneInfo("Asia/Shanghai")
FRIDAY = dt.date(2025, 3, 7)
GRID_A = "370705001001001"
GRID_B = "370705001001002"
M_PER_DEG_LON = 89_240.0
"""Metres per degree of longitude at 36.72° N (approximate, for placing test points)."""


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), CST)


MONDAY = FRIDAY + dt.timedelta(days=3)


@pytest.fixture
def district(db: Session) -> District:
    return insert_district(db)


def report(
    db: Session,
    lon: float = 119.11,
    lat: float = 36.72,
    *,
    actor: str = "王网格员",
    snap_tolerance_m: float | None = None,
    **kw: Any,
) -> IncidentRecord:
    fields: dict[str, Any] = {
        "category": "exposed_garbage",
        "lon": lon,
        "lat": lat,
        "description": "暴露垃圾",
        "source": "patrol",
        "reported_at": at(FRIDAY, 9),
    }
    fields.update(kw)
    return create_incident(
        db, Report(**fields), Principal.claimed(actor), snap_tolerance_m=snap_tolerance_m
    )


def step(
    session: Session, incident_id: int, action: str, version: int, *, by: str = "a", **kw: Any
) -> IncidentRecord:
    """``transition`` by the district staff member ``by``, quoting ``version``."""
    return transition(
        session,
        incident_id,
        action,
        principal=staff(by),
        expected_version=version,
        **kw,
    )


# ---------------------------------------------------------------------- intake and routing


def test_a_report_is_routed_to_its_grid_community_subdistrict_and_manager(
    db: Session, district: District
) -> None:
    inc = report(db)
    assert inc.grid_id == district.grid_a and inc.grid_code == "370705001001001"
    assert inc.community_id == district.west and inc.subdistrict_id == district.subdistrict
    assert inc.handler_staff_id == district.manager_a  # not the community worker
    assert inc.status is State.REPORTED and inc.handling_level is Level.GRID
    assert inc.version == 1 and inc.rework_count == 0 and inc.snapped_m is None
    assert inc.location_datum == "wgs84"
    (first,) = history(db, inc.id)
    assert (first.action, first.from_state, first.to_state, first.actor) == (
        "reported",
        None,
        "reported",
        "王网格员",
    )
    east = report(db, 119.17, 36.73)
    assert east.grid_id == district.grid_c and east.community_id == district.east
    assert east.handler_staff_id is None  # grid C has no grid manager


def test_a_building_gives_the_location(db: Session, district: District) -> None:
    inc = report(db, None, None, building_id=district.building_b, address="东关街1号")  # type: ignore[arg-type]
    assert inc.grid_id == district.grid_b and inc.handler_staff_id == district.manager_b
    assert (inc.lon, inc.lat) == pytest.approx((119.13, 36.73))
    assert inc.address == "东关街1号"


def test_unknown_category_lists_the_codes(db: Session, district: District) -> None:
    with pytest.raises(UnknownCategoryError, match=r"city_appearance.*street_order"):
        report(db, category="rubbish")


def test_a_point_on_the_road_between_grids_snaps_to_the_nearest(
    db: Session, district: District
) -> None:
    inc = report(db, 119.1249, 36.72)  # 0.0001° (about 9 m) east of grid A
    assert inc.grid_id == district.grid_a
    assert inc.snapped_m == pytest.approx(0.0001 * M_PER_DEG_LON, abs=0.5)
    assert "snapped 8.9 m" in (history(db, inc.id)[0].note or "")
    # Just outside the district's western edge (a boundary road) but within 30 m.
    edge = report(db, 119.10 - 20 / M_PER_DEG_LON, 36.72)
    assert edge.grid_id == district.grid_a and edge.snapped_m == pytest.approx(20, abs=0.5)


def test_a_point_beyond_the_snap_tolerance_is_refused(db: Session, district: District) -> None:
    with pytest.raises(UnroutableLocationError, match=r"44\d m from the nearest grid.* 30 m"):
        report(db, 119.195, 36.72)  # in the park, 0.005° from grid C
    with pytest.raises(UnroutableLocationError, match="than the snap tolerance of 5 m"):
        report(db, 119.1249, 36.72, snap_tolerance_m=5)
    # The setting widens it.
    assert report(db, 119.195, 36.72, snap_tolerance_m=500).grid_id == district.grid_c


def test_a_point_outside_the_district_is_refused_with_its_distance(
    db: Session, district: District
) -> None:
    with pytest.raises(OutsideDistrictError) as caught:
        report(db, 119.25, 36.72)
    message = str(caught.value)
    metres = float(re.search(r"lies ([\d,]+) m outside", message).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert metres == pytest.approx(0.05 * M_PER_DEG_LON, rel=0.01)
    assert "datum=gcj02" in message and "370705" in message
    assert db.execute(text("SELECT count(*) FROM incident")).scalar_one() == 0


def test_gcj02_input_lands_in_the_grid_of_its_wgs84_truth(db: Session, district: District) -> None:
    truth = (119.12, 36.73)  # grid A
    x, y = from_wgs84([truth[0]], [truth[1]], GCJ02)
    gcj = (float(x[0]), float(y[0]))
    assert gcj[0] > 119.1252  # taken for WGS84 it would fall in grid B
    inc = report(db, *gcj, datum=GCJ02)
    assert inc.grid_id == district.grid_a and inc.location_datum == "gcj02"
    assert (inc.lon, inc.lat) == pytest.approx(truth, abs=1e-6)
    assert report(db, *gcj).grid_id == district.grid_b


# ---------------------------------------------------------------------- the closed loop


def test_the_seven_steps_with_a_deadline_in_working_time(db: Session, district: District) -> None:
    inc = report(db)
    steps = [
        ("accept", at(FRIDAY, 15), State.ACCEPTED),
        ("dispatch", at(FRIDAY, 16), State.DISPATCHED),
        ("handle", at(MONDAY, 9), State.HANDLED),
        ("feedback", at(MONDAY, 9, 30), State.FEEDBACK),
        ("verify", at(MONDAY, 10), State.CLOSED),
        ("evaluate", at(MONDAY, 10, 30), State.EVALUATED),
    ]
    for n, (action, when, state) in enumerate(steps, start=1):
        inc = step(
            db,
            inc.id,
            action,
            n,
            by="王网格员" if action in ("handle", "feedback") else "指挥中心",
            at=when,
            handler_staff_id=district.manager_a if action == "dispatch" else None,
            rating="satisfied" if action == "evaluate" else None,
        )
        assert inc.status is state and inc.version == n + 1
        if action == "dispatch":
            # exposed garbage: 4 working hours; Friday 16:00-17:30 is 1.5 h, Monday 08:30 + 2.5 h.
            assert inc.deadline_at == at(MONDAY, 11)
            assert inc.clock_started_at == at(FRIDAY, 16)
    assert inc.closed_at == at(MONDAY, 10)
    assert inc.handler_staff_id == district.manager_a
    assert [h.action for h in history(db, inc.id)] == [
        "reported",
        "accept",
        "dispatch",
        "handle",
        "feedback",
        "verify",
        "evaluate",
    ]


def test_a_disallowed_action_lists_the_allowed_ones(db: Session, district: District) -> None:
    inc = report(db)
    with pytest.raises(TransitionNotAllowedError, match="allowed actions: accept, cancel"):
        step(db, inc.id, "verify", 1, by="x", at=at(FRIDAY, 10))
    with pytest.raises(TransitionNotAllowedError, match="allowed actions: accept, cancel"):
        step(db, inc.id, "teleport", 1, by="x", at=at(FRIDAY, 10))
    after = get_incident(db, inc.id)
    assert after.status is State.REPORTED and after.version == 1
    assert len(history(db, inc.id)) == 1


def test_a_stale_version_is_refused(db: Session, district: District) -> None:
    inc = report(db)
    step(db, inc.id, "accept", 1, at=at(FRIDAY, 10))
    with pytest.raises(StaleVersionError, match="at version 2, not 1") as caught:
        step(db, inc.id, "cancel", 1, by="b", note="重复")
    assert isinstance(caught.value, ConflictError)
    assert get_incident(db, inc.id).status is State.ACCEPTED


def test_rework_raises_the_counter_and_restarts_the_clock(db: Session, district: District) -> None:
    inc = report(db)
    for n, (action, when) in enumerate(
        [
            ("accept", at(FRIDAY, 10)),
            ("dispatch", at(FRIDAY, 10)),
            ("handle", at(FRIDAY, 11)),
            ("feedback", at(FRIDAY, 11)),
        ],
        start=1,
    ):
        inc = step(db, inc.id, action, n, at=when)
    assert inc.deadline_at == at(FRIDAY, 15, 30)  # 10:00-12:00 + 13:30-15:30
    inc = step(db, inc.id, "rework", 5, by="核查员", note="垃圾未清完", at=at(MONDAY, 9))
    assert inc.status is State.DISPATCHED and inc.rework_count == 1
    assert inc.deadline_at == at(MONDAY, 14, 30)  # 09:00-12:00 is 3 h, then 1 h after 13:30
    with pytest.raises(Exception, match="needs a note"):
        step(db, inc.id, "redispatch", 6, at=at(MONDAY, 10))


def test_escalation_goes_up_four_levels_and_no_further(db: Session, district: District) -> None:
    inc = report(db)
    inc = step(db, inc.id, "accept", 1, at=at(FRIDAY, 10), handler_staff_id=district.manager_a)
    levels = []
    for n in range(3):
        inc = step(
            db,
            inc.id,
            "escalate",
            2 + n,
            by="社区主任",
            note="网格内无法调解",
            at=at(FRIDAY, 11 + n),
        )
        levels.append(inc.handling_level)
        assert inc.handler_staff_id is None and inc.status is State.ACCEPTED
    assert levels == [Level.COMMUNITY, Level.SUBDISTRICT, Level.DISTRICT]
    with pytest.raises(EscalationLimitError, match="district level"):
        step(db, inc.id, "escalate", 5, note="再上报")
    steps = [(h.from_level, h.to_level) for h in history(db, inc.id) if h.action == "escalate"]
    assert steps == [
        ("grid", "community"),
        ("community", "subdistrict"),
        ("subdistrict", "district"),
    ]


def test_escalate_overdue_raises_each_missed_deadline_once(db: Session, district: District) -> None:
    late = report(db)
    done = report(db, 119.12, 36.72)
    for inc in (late, done):
        step(db, inc.id, "accept", 1, at=at(FRIDAY, 15))
        step(db, inc.id, "dispatch", 2, at=at(FRIDAY, 16))
    for n, action in enumerate(["handle", "feedback", "verify"], start=3):
        step(db, done.id, action, n, at=at(MONDAY, 9), by="核查员" if action == "verify" else "a")
    assert escalate_overdue(db, at(MONDAY, 10, 59), audit=audit.record) == []
    assert escalate_overdue(db, at(MONDAY, 12), audit=audit.record) == [late.id]
    after = get_incident(db, late.id)
    assert after.handling_level is Level.COMMUNITY and after.handler_staff_id is None
    last = history(db, late.id)[-1]
    # recorded when the deadline passed (Monday 11:00), the sweep's own note in Chinese
    assert last.actor == "system" and last.at == at(MONDAY, 11)
    assert last.note == "超过处置时限（2025-03-10 11:00），系统自动上报升级"
    [entry] = audit.entries(db, action="incident.escalate")
    assert (entry.principal, entry.object, entry.area) == ("system", f"incident:{late.id}", GRID_A)
    assert entry.detail is not None and entry.detail["to_level"] == "community"
    assert escalate_overdue(db, at(MONDAY, 15), audit=audit.record) == []
    assert get_incident(db, done.id).handling_level is Level.GRID


# ---------------------------------------------------------------------- who takes the steps


def test_each_step_stores_who_took_it(db: Session, district: District) -> None:
    inc = create_incident(db, Report("exposed_garbage", 119.11, 36.72), staff("接线员"))
    step(db, inc.id, "accept", 1, by="指挥中心")
    assert [(h.actor, h.actor_ref) for h in _steps(db, inc.id)] == [
        ("接线员", "test:接线员"),
        ("指挥中心", "test:指挥中心"),
    ]


def _steps(db: Session, incident_id: int) -> list[Any]:
    return list(
        db.execute(
            text(
                "SELECT actor, actor_ref FROM incident_transition WHERE incident_id = :i"
                " ORDER BY at, id"
            ),
            {"i": incident_id},
        )
    )


def test_whoever_handled_the_case_cannot_verify_it(db: Session, district: District) -> None:
    """The rule reads who handled the case from its stored steps, on the locked row."""
    manager = staff("王网格员", Role.GRID_MANAGER, (GRID_A,), staff_id=district.manager_a)
    community = staff("社区主任", Role.COMMUNITY, ("370705001001",))
    inc = report(db)
    step(db, inc.id, "accept", 1)
    step(db, inc.id, "dispatch", 2, handler_staff_id=district.manager_a)
    for n, action in ((3, "handle"), (4, "feedback")):
        transition(db, inc.id, action, principal=manager, expected_version=n)
    with pytest.raises(ForbiddenError, match="you handled this case"):
        transition(db, inc.id, "verify", principal=manager, expected_version=5)
    assert get_incident(db, inc.id).status is State.FEEDBACK
    closed = transition(db, inc.id, "verify", principal=community, expected_version=5)
    assert closed.status is State.CLOSED


def test_another_grids_manager_is_told_the_case_does_not_exist(
    db: Session, district: District
) -> None:
    neighbour = staff("李网格员", Role.GRID_MANAGER, (GRID_B,), staff_id=district.manager_b)
    inc = report(db)
    with pytest.raises(NotFoundError, match=f"no incident has id {inc.id}"):
        transition(db, inc.id, "accept", principal=neighbour, expected_version=1)
    with pytest.raises(NotFoundError):  # before the version is even looked at
        transition(db, inc.id, "accept", principal=neighbour, expected_version=99)
    other = report(db, 119.14, 36.75)
    assert other.grid_code == GRID_B
    with pytest.raises(NotFoundError, match=f"no incident has id {inc.id}"):
        merge_duplicate(db, other.id, inc.id, principal=neighbour)


def test_a_system_cannot_take_a_step_whatever_calls_gis(db: Session, district: District) -> None:
    inc = report(db)
    hotline = Principal.system("key:热线", scopes=("incidents:write", "incidents:read"))
    for action in ("accept", "cancel"):
        with pytest.raises(ForbiddenError, match="API"):
            transition(db, inc.id, action, principal=hotline, expected_version=1, note="x")
    with pytest.raises(ForbiddenError):
        transition(
            db, inc.id, "accept", principal=Principal.claimed("王网格员"), expected_version=1
        )
    assert get_incident(db, inc.id).version == 1 and len(history(db, inc.id)) == 1


def test_an_escalated_case_leaves_the_grid_manager(db: Session, district: District) -> None:
    manager = staff("王网格员", Role.GRID_MANAGER, (GRID_A,), staff_id=district.manager_a)
    inc = report(db)
    transition(db, inc.id, "accept", principal=manager, expected_version=1)
    transition(db, inc.id, "escalate", principal=manager, expected_version=2, note="调解不成")
    with pytest.raises(ForbiddenError, match="escalated to community level"):
        transition(db, inc.id, "cancel", principal=manager, expected_version=3, note="x")
    community = staff("社区主任", Role.COMMUNITY, ("370705001001",))
    redispatched = transition(
        db,
        inc.id,
        "dispatch",
        principal=community,
        expected_version=3,
        handler_staff_id=district.manager_a,
    )
    assert redispatched.handling_level is Level.COMMUNITY
    handled = transition(db, inc.id, "handle", principal=manager, expected_version=4)
    assert handled.status is State.HANDLED  # the handler again


# ---------------------------------------------------------------------- duplicates


def test_duplicates_are_suggested_within_50_m_and_72_h_and_merged(
    db: Session, district: District
) -> None:
    lon, lat = 119.11, 36.72
    first = report(db, lon, lat)
    near = report(db, lon + 30 / M_PER_DEG_LON, lat, reported_at=at(FRIDAY, 19))
    far = report(db, lon - 80 / M_PER_DEG_LON, lat)
    other = report(db, lon, lat, category="illegal_parking")
    later = report(db, lon, lat, reported_at=at(FRIDAY, 9) + dt.timedelta(hours=100))

    found = suggest_duplicates(db, category="exposed_garbage", lon=lon, lat=lat, at=at(FRIDAY, 10))
    assert [c.id for c in found] == [first.id, near.id]
    assert found[1].distance_m == pytest.approx(30, abs=0.5)
    assert [c.id for c in suggest_duplicates(db, near.id)] == [first.id]
    assert far.id not in [c.id for c in suggest_duplicates(db, first.id)]
    assert other.id not in [c.id for c in suggest_duplicates(db, first.id)]
    assert later.id not in [c.id for c in suggest_duplicates(db, first.id)]

    merged = merge_duplicate(db, near.id, first.id, principal=staff("指挥中心"), note="同一堆垃圾")
    assert merged.duplicate_of == first.id and merged.status is State.CANCELLED
    assert merged.version == 2
    kept = get_incident(db, first.id)
    assert kept.status is State.REPORTED and kept.duplicate_of is None
    last = history(db, near.id)[-1]
    assert last.action == "merge" and f"duplicate of incident {first.id}" in (last.note or "")
    assert suggest_duplicates(db, first.id) == []
    with pytest.raises(ConflictError, match="itself a duplicate"):
        merge_duplicate(db, first.id, near.id, principal=staff("a"))


# ---------------------------------------------------------------------- concurrency


@pytest.fixture
def committed_district(server_url: str) -> Iterator[Engine]:
    with committed_lattice(server_url, "gridmap_incident_concurrency") as district:
        yield district.engine


def test_two_concurrent_updaters_exactly_one_wins(committed_district: Engine) -> None:
    with Session(committed_district) as session:
        inc = report(session)
        session.commit()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def act(actor: str) -> None:
        with Session(committed_district) as session:
            barrier.wait()
            try:
                step(session, inc.id, "accept", 1, by=actor, at=at(FRIDAY, 10))
                threading.Event().wait(0.3)  # hold the row lock while the other one tries
                session.commit()
                result = "won"
            except StaleVersionError as exc:
                session.rollback()
                result = f"stale {exc.current}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=act, args=(name,)) for name in ("甲", "乙")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(outcomes) == ["stale 2", "won"]
    with Session(committed_district) as session:
        final = get_incident(session, inc.id)
        assert final.version == 2 and final.status is State.ACCEPTED
        assert [h.action for h in history(session, inc.id)] == ["reported", "accept"]


# ---------------------------------------------------------------------- schema and migration


def test_status_values_match_the_workflow(db: Session) -> None:
    assert set(INCIDENT_STATES) == {s.value for s in State}
    assert set(Level) == {Level(v) for v in ("grid", "community", "subdistrict", "district")}
    with pytest.raises(Exception, match="ck_incident_status"), db.begin_nested():
        db.execute(
            text(
                "INSERT INTO incident (category, geom, status)"
                " VALUES ('dispute', ST_SetSRID(ST_MakePoint(119.1, 36.7), 4326), 'lost')"
            )
        )


def test_areas_given_with_the_grid_must_be_the_grids_own(db: Session, district: District) -> None:
    insert = text(
        "INSERT INTO incident (category, status, geom, grid_id, community_id, subdistrict_id)"
        " VALUES ('dispute', 'reported', ST_SetSRID(ST_MakePoint(119.11, 36.72), 4326),"
        " :g, :c, :s)"
        " RETURNING community_id, subdistrict_id"
    )
    # Left empty, they follow the grid (the row trigger); given right, they are kept.
    derived = db.execute(insert, {"g": district.grid_a, "c": None, "s": None}).one()
    assert tuple(derived) == (district.west, district.subdistrict)
    given = db.execute(
        insert, {"g": district.grid_a, "c": district.west, "s": district.subdistrict}
    ).one()
    assert tuple(given) == (district.west, district.subdistrict)
    for community, subdistrict in ((district.east, district.subdistrict), (district.west, None)):
        with (
            pytest.raises(Exception, match="other than those of its grid"),
            db.begin_nested(),
        ):
            db.execute(insert, {"g": district.grid_a, "c": community, "s": subdistrict})
    # An update cannot make them drift: touching a copy re-derives both from the grid.
    moved = db.execute(
        text(
            "UPDATE incident SET community_id = :c WHERE id = (SELECT max(id) FROM incident)"
            " RETURNING community_id, subdistrict_id"
        ),
        {"c": district.east},
    ).one()
    assert tuple(moved) == (district.west, district.subdistrict)


def test_the_demo_loads_onto_the_new_schema(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        statuses = set(conn.execute(text("SELECT DISTINCT status FROM incident")).scalars())
        unrouted = conn.execute(
            text(
                "SELECT count(*) FROM incident WHERE grid_id IS NOT NULL"
                " AND (community_id IS NULL OR subdistrict_id IS NULL)"
            )
        ).scalar_one()
    assert statuses <= set(INCIDENT_STATES) and "dispatched" in statuses
    assert unrouted == 0


def test_migration_0003_upgrades_a_database_holding_the_demo(server_url: str) -> None:
    from gis.demo.load import load_demo

    name = "gridmap_incident_migration"
    engine = make_engine(recreate_database(server_url, name))
    try:
        # The demo as a database from before 0003 held it: the loader writes today's
        # columns, so load at head and go back (the rows and their statuses stay).
        schema.upgrade(engine)
        load_demo(engine)
        _downgrade(engine, "0002")
        count_by_status = "SELECT status, count(*) FROM incident GROUP BY status"
        with engine.begin() as conn:
            # Databases from before 0003 also said "processing" for "with the unit".
            conn.execute(
                text(
                    "UPDATE incident SET status = 'processing' WHERE id IN"
                    " (SELECT id FROM incident WHERE status = 'dispatched' LIMIT 25)"
                )
            )
            before = {s: n for s, n in conn.execute(text(count_by_status))}
        assert before.get("processing", 0) == 25  # the legacy vocabulary is there to map

        schema.upgrade(engine)
        with engine.connect() as conn:
            after = {s: n for s, n in conn.execute(text(count_by_status))}
            row = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE version = 1 AND rework_count = 0"
                    "   AND handling_level = 'grid') AS fresh,"
                    " count(*) FILTER (WHERE i.grid_id IS NOT NULL AND i.community_id IS NULL)"
                    "   AS no_community,"
                    " count(*) FILTER (WHERE i.community_id IS DISTINCT FROM g.community_id"
                    "   AND i.grid_id IS NOT NULL) AS wrong_community,"
                    " count(*) FILTER (WHERE subdistrict_id IS NOT NULL) AS with_subdistrict,"
                    " count(*) AS total"
                    " FROM incident i LEFT JOIN grid g ON g.id = i.grid_id"
                )
            ).one()
        expected = dict(before)
        expected["dispatched"] = expected.get("dispatched", 0) + expected.pop("processing")
        assert after == expected
        assert row.fresh == row.total == sum(before.values())
        assert row.no_community == 0 and row.wrong_community == 0
        assert row.with_subdistrict > 0

        _downgrade(engine, "0002")
        with engine.connect() as conn:
            columns = set(
                conn.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns"
                        " WHERE table_name = 'incident'"
                    )
                ).scalars()
            )
            tables = conn.execute(
                text("SELECT to_regclass('incident_transition') IS NULL")
            ).scalar_one()
            total = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
        assert "version" not in columns and "deadline_at" not in columns
        assert tables and total == sum(before.values())
    finally:
        engine.dispose()
        drop_database_named(server_url, name)


def _downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    cfg = schema.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


# ---------------------------------------------------------------------- intake in one round trip


def _statements(db: Session) -> list[str]:
    """SQL statements the session's connection sends from now on (a live list)."""
    sent: list[str] = []
    conn = db.connection()

    @event.listens_for(conn, "before_cursor_execute")
    def record(*args: object) -> None:
        sent.append(str(args[2]))

    return sent


def test_intake_is_one_statement_that_stores_the_case_and_its_first_step(
    db: Session, district: District
) -> None:
    sent = _statements(db)
    inc = report(db, 119.1249, 36.72)  # snapped to grid A
    assert len(sent) == 1
    stored = get_incident(db, inc.id)
    assert stored == inc  # the answer is the row as stored, field for field
    (first,) = history(db, inc.id)
    assert first.at == inc.reported_at and first.to_level == "grid"
    assert (
        first.note
        == f"reported; outside every grid, snapped {inc.snapped_m:g} m to the nearest grid"
    )
    sent.clear()
    with pytest.raises(OutsideDistrictError):
        report(db, 119.25, 36.72)
    assert len(sent) == 1
    counts = db.execute(
        text("SELECT (SELECT count(*) FROM incident), (SELECT count(*) FROM incident_transition)")
    ).one()
    assert tuple(counts) == (1, 1)  # the refused report left nothing behind


def test_report_incident_answers_the_place_and_the_duplicates(
    db: Session, district: District
) -> None:
    first = report(db, 119.11, 36.72)
    near = report(db, 119.11 + 30 / M_PER_DEG_LON, 36.72, reported_at=at(FRIDAY, 19))
    sent = _statements(db)
    intake = report_incident(
        db,
        Report(
            category="exposed_garbage",
            lon=119.11 + 10 / M_PER_DEG_LON,
            lat=36.72,
            description="又一堆",
            source="hotline",
            reported_at=at(FRIDAY, 11),
        ),
        Principal.claimed("接线员"),
    )
    assert len(sent) == 1
    assert (intake.community_code, intake.subdistrict_code) == ("370705001001", "370705001")
    assert intake.handler_name == "王网格员"
    assert intake.record == get_incident(db, intake.record.id)
    assert [d.id for d in intake.possible_duplicates] == [first.id, near.id]
    assert intake.possible_duplicates == suggest_duplicates(db, intake.record.id)
    assert intake.possible_duplicates[0].distance_m == pytest.approx(10, abs=0.5)
    assert intake.possible_duplicates[1].hours_apart == pytest.approx(8)


@pytest.mark.parametrize("bearing", [0, 45, 90, 135, 180, 225, 270, 315])
def test_the_index_box_never_drops_a_duplicate_inside_50_m(
    db: Session, district: District, bearing: int
) -> None:
    geod = Geod(ellps="WGS84")
    lon, lat = 119.14, 36.73  # grid B
    inside = geod.fwd(lon, lat, bearing, 49.9)[:2]
    outside = geod.fwd(lon, lat, bearing, 50.1)[:2]
    near = report(db, *inside)
    report(db, *outside)
    found = suggest_duplicates(db, category="exposed_garbage", lon=lon, lat=lat, at=at(FRIDAY, 9))
    assert [c.id for c in found] == [near.id]
    assert found[0].distance_m == pytest.approx(49.9, abs=0.05)
