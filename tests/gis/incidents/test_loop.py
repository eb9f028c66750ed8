"""The loop keeps moving: supervision limits per level, the intake limit, urging, ratings,
every level's inbox, Chinese history labels and a grid's month figures.

On the small district of ``incident_district.py`` (west community: grids A and B;
east community: grid C; one subdistrict), in the rolled-back ``db`` session. Times
are Asia/Shanghai; office hours 08:30-12:00 and 13:30-17:30 on working days.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.accounts import audit
from gis.areas.codes import Level
from gis.errors import ForbiddenError, NotFoundError
from gis.incidents.escalation import escalate_overdue, fill_supervise_due
from gis.incidents.inbox import inbox
from gis.incidents.intake import Report, create_incident
from gis.incidents.monthly import grid_month
from gis.incidents.records import IncidentRecord, get_incident, history, history_for
from gis.incidents.transitions import transition
from gis.incidents.workflow import NoteRequiredError, RatingRequiredError, State
from gis.principal import Principal, Role
from tests.gis.incidents.incident_district import District, insert_district
from tests.incident_cases import CST, staff

GRID_A = "370705001001001"
GRID_B = "370705001001002"
GRID_C = "370705001002001"
WEST = "370705001001"
EAST = "370705001002"
SUB = "370705001"
FRIDAY_9 = dt.datetime(2025, 3, 7, 9, 0, tzinfo=CST)
IN_A = (119.11, 36.73)


@pytest.fixture
def district(db: Session) -> District:
    return insert_district(db)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment of March 2025 (7th a Friday, 10th a Monday)."""
    return dt.datetime(2025, 3, day, hour, minute, tzinfo=CST)


def new_case(
    db: Session,
    category: str = "exposed_garbage",
    point: tuple[float, float] = IN_A,
    reported_at: dt.datetime = FRIDAY_9,
) -> IncidentRecord:
    return create_incident(
        db,
        Report(category=category, lon=point[0], lat=point[1], reported_at=reported_at),
        Principal.claimed("王网格员"),
    )


def step(
    db: Session, case_id: int, action: str, who: Principal, when: dt.datetime, **kw: Any
) -> IncidentRecord:
    version = get_incident(db, case_id).version
    return transition(db, case_id, action, principal=who, expected_version=version, at=when, **kw)


BOSS = staff("区指挥中心")


def dispatched(db: Session, **kw: Any) -> IncidentRecord:
    """Exposed garbage (4 working hours) accepted 9:30 and dispatched 10:00 on Friday: due
    15:30 (10:00-12:00 and 13:30-15:30)."""
    case = new_case(db, **kw)
    step(db, case.id, "accept", BOSS, at(7, 9, 30))
    return step(db, case.id, "dispatch", BOSS, at(7, 10))


def sweep(db: Session, when: dt.datetime) -> list[int]:
    return escalate_overdue(db, when, audit=audit.record)


# ---- the sweep -------------------------------------------------------------------------


def test_a_case_goes_up_again_each_time_its_levels_limit_passes(
    db: Session, district: District
) -> None:
    case = dispatched(db)
    assert case.deadline_at == at(7, 15, 30) and case.supervise_due_at == at(7, 15, 30)
    assert sweep(db, at(7, 15)) == []
    assert sweep(db, at(7, 16)) == [case.id]
    up = get_incident(db, case.id)
    assert up.handling_level is Level.COMMUNITY and up.status is State.DISPATCHED
    # the community's limit: 2 working days from the moment it came up (Friday 15:30)
    assert up.supervise_due_at == at(11, 15, 30)
    assert sweep(db, at(10, 12)) == []  # Monday: the community still has time
    assert sweep(db, at(11, 16)) == [case.id]
    up = get_incident(db, case.id)
    assert up.handling_level is Level.SUBDISTRICT
    assert up.supervise_due_at == at(14, 15, 30)  # 3 working days
    raises = [
        (h.at, h.from_level, h.to_level) for h in history(db, case.id) if h.action == "escalate"
    ]
    assert raises == [
        (at(7, 15, 30), "grid", "community"),  # recorded when the limit passed
        (at(11, 15, 30), "community", "subdistrict"),
    ]
    # Long after: district, and never above it however long it waits.
    assert sweep(db, at(31, 12)) == [case.id]
    assert get_incident(db, case.id).handling_level is Level.DISTRICT
    assert sweep(db, dt.datetime(2026, 1, 1, tzinfo=CST)) == []
    entries = audit.entries(db, action="incident.escalate")
    assert len(entries) == 3 and all(e.principal == "system" for e in entries)


def test_a_sweep_that_ran_late_catches_up_one_raise_per_passing(
    db: Session, district: District
) -> None:
    case = dispatched(db)
    assert sweep(db, at(31, 12)) == [case.id, case.id, case.id]
    steps = [(h.at, h.to_level) for h in history(db, case.id) if h.action == "escalate"]
    assert steps == [
        (at(7, 15, 30), "community"),
        (at(11, 15, 30), "subdistrict"),
        (at(14, 15, 30), "district"),
    ]


def test_a_case_reported_and_never_accepted_goes_up_at_its_intake_limit(
    db: Session, district: District
) -> None:
    case = new_case(db)
    assert case.supervise_due_at == at(7, 11)  # 2 working hours from 09:00
    assert sweep(db, at(7, 10, 59)) == []
    assert sweep(db, at(7, 11, 30)) == [case.id]
    up = get_incident(db, case.id)
    assert up.status is State.REPORTED and up.handling_level is Level.COMMUNITY
    last = history(db, case.id)[-1]
    assert (last.action_zh, last.actor_label, last.level_zh) == ("上报升级", "系统自动", "社区")
    assert last.note == "超过受理时限（2025-03-07 11:00），系统自动上报升级"
    # Accepting it does not stop the community's clock; dispatching restarts it.
    community = staff("西社区", Role.COMMUNITY, (WEST,))
    step(db, case.id, "accept", community, at(7, 14))
    after = step(db, case.id, "dispatch", community, at(7, 15))
    assert after.supervise_due_at == at(11, 15)  # the community's 2 working days


def test_emergencies_run_on_the_calendar(db: Session, district: District) -> None:
    case = new_case(db, category="gas_leak", reported_at=at(8, 22))  # Saturday night
    assert case.supervise_due_at == at(8, 22, 15)  # 15 minutes, day or night
    assert sweep(db, at(8, 23)) == [case.id]
    assert get_incident(db, case.id).supervise_due_at == at(9, 0, 15)  # community: 2 hours


def test_rows_without_a_supervision_clock_get_one_from_their_history(
    db: Session, district: District
) -> None:
    case = dispatched(db)
    step(db, case.id, "escalate", BOSS, at(7, 11), note="需社区协调")
    db.execute(text("UPDATE incident SET supervise_due_at = NULL WHERE id = :i"), {"i": case.id})
    assert fill_supervise_due(db) == 1
    # community's 2 working days from the escalation, not before the handling deadline
    assert get_incident(db, case.id).supervise_due_at == at(11, 11)


# ---- urging and rating -----------------------------------------------------------------


def test_who_may_urge_a_grid_level_case(db: Session, district: District) -> None:
    case = dispatched(db)
    manager = staff("王网格员", Role.GRID_MANAGER, (GRID_A,), district.manager_a)
    community = staff("西社区", Role.COMMUNITY, (WEST,))
    east = staff("东社区", Role.COMMUNITY, (EAST,))
    subdistrict = staff("街道", Role.SUBDISTRICT, (SUB,))
    mediator = staff("调解员", Role.MEDIATOR, (WEST,))
    when = at(7, 14)
    with pytest.raises(ForbiddenError, match="may not urge"):
        step(db, case.id, "urge", manager, when, note="快点")  # the grid manager is its level
    with pytest.raises(NotFoundError):
        step(db, case.id, "urge", east, when, note="快点")  # not their area
    with pytest.raises(NotFoundError):
        step(db, case.id, "urge", mediator, when, note="快点")  # not a dispute: out of reach
    with pytest.raises(NoteRequiredError):
        step(db, case.id, "urge", community, when)
    after = step(db, case.id, "urge", community, when, note="居民再次来电，请今天处理")
    assert (after.status, after.handling_level, after.version) == (
        case.status,
        case.handling_level,
        case.version,  # the handler's screen is not made stale
    )
    step(db, case.id, "urge", subdistrict, at(7, 14, 30), note="街道督办")
    step(db, case.id, "urge", BOSS, at(7, 14, 45), note="区级督办")
    urges = [(h.action_zh, h.note) for h in history(db, case.id) if h.action == "urge"]
    assert urges == [
        ("督办", "居民再次来电，请今天处理"),
        ("督办", "街道督办"),
        ("督办", "区级督办"),
    ]


def test_a_level_urges_only_cases_below_it_and_the_district_its_own(
    db: Session, district: District
) -> None:
    case = dispatched(db)
    step(db, case.id, "escalate", BOSS, at(7, 11), note="需社区协调")
    community = staff("西社区", Role.COMMUNITY, (WEST,))
    with pytest.raises(ForbiddenError):
        step(db, case.id, "urge", community, at(7, 12), note="催办")  # its own level
    step(db, case.id, "urge", staff("街道", Role.SUBDISTRICT, (SUB,)), at(7, 12), note="催办")
    for _ in range(2):
        step(db, case.id, "escalate", BOSS, at(7, 13), note="上报")
    assert get_incident(db, case.id).handling_level is Level.DISTRICT
    with pytest.raises(ForbiddenError):
        step(db, case.id, "urge", staff("街道", Role.SUBDISTRICT, (SUB,)), at(7, 14), note="x")
    step(db, case.id, "urge", BOSS, at(7, 14), note="区指挥中心督办区职能部门")


def closed_case(db: Session) -> IncidentRecord:
    case = dispatched(db)
    worker = staff("处置员", Role.GRID_MANAGER, (GRID_A,))
    step(db, case.id, "handle", worker, at(7, 11))
    step(db, case.id, "feedback", worker, at(7, 11, 30))
    return step(db, case.id, "verify", BOSS, at(7, 14))


def test_an_evaluation_takes_a_rating_and_stores_it(db: Session, district: District) -> None:
    case = closed_case(db)
    community = staff("西社区", Role.COMMUNITY, (WEST,))
    with pytest.raises(RatingRequiredError, match="satisfied"):
        step(db, case.id, "evaluate", community, at(10, 9))
    with pytest.raises(RatingRequiredError):
        step(db, case.id, "evaluate", community, at(10, 9), rating="great")
    with pytest.raises(RatingRequiredError, match="only evaluate"):
        step(db, dispatched(db).id, "handle", community, at(10, 9), rating="satisfied")
    done = step(db, case.id, "evaluate", community, at(10, 9), rating="basically_satisfied")
    assert done.status is State.EVALUATED
    last = history(db, case.id)[-1]
    assert (last.action_zh, last.rating, last.rating_zh) == (
        "评价",
        "basically_satisfied",
        "基本满意",
    )


# ---- the inbox -------------------------------------------------------------------------


def test_each_level_sees_the_cases_it_acts_on_first(db: Session, district: District) -> None:
    now = at(12, 10)  # Wednesday
    waiting = new_case(db, reported_at=at(12, 9))  # grid A, reported, due 11:00
    going = dispatched(db)  # grid A, raised to community by the sweep
    sweep(db, at(7, 16))
    up_twice = dispatched(db, point=(119.16, 36.73))  # grid C (east)
    sweep(db, at(11, 16))  # going: community → subdistrict (its 2 days passed too)
    community_case = dispatched(db, point=(119.13, 36.73))  # grid B
    step(db, community_case.id, "escalate", BOSS, at(10, 9), note="需社区协调")
    step(
        db,
        community_case.id,
        "urge",
        staff("街道", Role.SUBDISTRICT, (SUB,)),
        at(10, 10),
        note="尽快",
    )
    dispute = new_case(db, category="dispute", reported_at=at(12, 8, 45))
    closed = closed_case(db)

    def ids(who: Principal, **kw: Any) -> list[int]:
        return [i.id for i in inbox(db, who, now=now, **kw).items]

    manager = staff("王网格员", Role.GRID_MANAGER, (GRID_A,), district.manager_a)
    assert ids(manager) == [waiting.id, dispute.id]  # grid A at grid level, by due time
    west = staff("西社区", Role.COMMUNITY, (WEST,))
    west_box = inbox(db, west, now=now)
    # its own level's case (overdue: its 2 days ran out at 9:00), then one to evaluate; not
    # the grid-level cases the grid manager has in hand
    assert [i.id for i in west_box.items] == [community_case.id, closed.id]
    by_id = {i.id: i for i in west_box.items}
    urged = by_id[community_case.id]
    assert urged.escalated and urged.urge is not None and urged.urge.note == "尽快"
    assert urged.urge.by_label == "街道" and urged.urge.at_local == "2025-03-10 10:00"
    assert "urge" not in urged.allowed and "dispatch" not in urged.allowed
    assert by_id[closed.id].allowed == ["evaluate"]
    assert west_box.counts.urged == 1 and west_box.counts.escalated == 1
    subdistrict = staff("街道", Role.SUBDISTRICT, (SUB,))
    sub_box = inbox(db, subdistrict, now=now)
    assert [i.id for i in sub_box.items] == [going.id, up_twice.id]
    assert all(i.escalated and i.handling_level == "subdistrict" for i in sub_box.items)
    assert sub_box.items[0].overdue  # its handling deadline passed long ago
    assert "urge" not in sub_box.items[0].allowed  # its own level: the district urges
    assert ids(BOSS) == []  # nothing has reached the district yet
    assert ids(subdistrict, grid=GRID_C) == [up_twice.id]
    assert ids(subdistrict, community=WEST) == [going.id]
    assert ids(west, status="closed") == [closed.id]
    mediator = staff("调解员", Role.MEDIATOR, (WEST,))
    assert ids(mediator) == [dispute.id]
    assert ids(staff("规划", Role.PLANNER)) == []


def test_a_case_dispatched_to_someone_is_in_their_inbox_at_any_level(
    db: Session, district: District
) -> None:
    case = dispatched(db)
    step(db, case.id, "escalate", BOSS, at(7, 11), note="需社区协调")
    community = staff("西社区", Role.COMMUNITY, (WEST,))
    step(
        db,
        case.id,
        "redispatch",
        community,
        at(7, 12),
        note="交社区工作者",
        handler_staff_id=district.worker_a,
    )
    worker = staff("社区工作者", Role.GRID_MANAGER, (GRID_A,), district.worker_a)
    [item] = inbox(db, worker, now=at(7, 13)).items
    assert item.id == case.id and item.allowed == ["handle"]


# ---- history labels --------------------------------------------------------------------


_RAW = re.compile(r"\b(system|visit|reported|deadline|passed)\b|\d{4}-\d\d-\d\dT")


def test_history_labels_are_chinese(db: Session, district: District) -> None:
    case = closed_case(db)
    step(
        db,
        case.id,
        "evaluate",
        staff("西社区", Role.COMMUNITY, (WEST,)),
        at(10, 9),
        rating="satisfied",
    )
    other = dispatched(db)
    sweep(db, at(7, 16))
    # an escalation note as earlier versions and imports wrote it
    db.execute(
        text(
            "UPDATE incident_transition SET note = 'deadline 2025-03-07T15:30:00+08:00 passed "
            "0.5 h ago' WHERE incident_id = :i AND action = 'escalate'"
        ),
        {"i": other.id},
    )
    for incident_id in (case.id, other.id):
        _, steps = history_for(db, incident_id, BOSS)
        for s in steps:
            shown = " ".join(
                x or ""
                for x in (
                    s.action_zh,
                    s.actor_label,
                    s.at_local,
                    s.level_zh,
                    s.rating_zh,
                    s.note_zh,
                )
            )
            assert not _RAW.search(shown), shown
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", s.at_local)
    _, steps = history_for(db, other.id, BOSS)
    assert [s.action_zh for s in steps] == ["上报", "立案", "派遣", "上报升级"]
    assert steps[-1].actor_label == "系统自动" and steps[-1].level_zh == "社区"
    assert steps[-1].note_zh == "超过处置时限（2025-03-07 15:30）0.5 小时，系统自动上报升级"
    _, steps = history_for(db, case.id, BOSS)
    assert steps[-1].rating_zh == "满意"


# ---- month figures ---------------------------------------------------------------------


def test_month_figures_against_the_community_average(db: Session, district: District) -> None:
    # Grid A: three reported in March; two closed in March, one of them late.
    on_time = closed_case(db)  # due 7th 15:30, closed 14:00
    late = dispatched(db)
    worker = staff("处置员", Role.GRID_MANAGER, (GRID_A,))
    step(db, late.id, "handle", worker, at(7, 16))
    step(db, late.id, "feedback", worker, at(7, 16, 30))
    step(db, late.id, "verify", BOSS, at(10, 9))
    still_open = dispatched(db)  # overdue from 15:30 on
    new_case(db, reported_at=dt.datetime(2025, 2, 27, 10, tzinfo=CST))  # February, open
    # Grid B: one reported in March, open, not overdue at "now".
    new_case(db, point=(119.13, 36.73), reported_at=at(20, 9))
    # Grid C (east community) does not count in the west's average.
    new_case(db, point=(119.16, 36.73), reported_at=at(20, 9))
    now = at(20, 10)
    month = grid_month(db, GRID_A, "2025-03", now=now)
    g = month.grid
    assert (g.received, g.closed, g.closed_on_time, g.on_time_rate) == (3, 2, 1, 0.5)
    assert (g.open_now, g.overdue_now) == (2, 2)  # still_open and February's (intake passed)
    assert month.community_grids == 2
    avg = month.community_average
    assert (avg.received, avg.closed, avg.closed_on_time, avg.on_time_rate) == (2, 1, 0.5, 0.5)
    assert (avg.open_now, avg.overdue_now) == (1.5, 1)
    assert month.start == dt.datetime(2025, 3, 1, tzinfo=CST)
    assert month.end == dt.datetime(2025, 4, 1, tzinfo=CST)
    assert still_open.id and on_time.id
