"""Mediation like Kaifu's (seed 003): units with heads, cases handed to a head (交办) and
urged (督办), cases settled on the spot (当场办结), and the on-the-spot rate beside the
handling rate.

On the small district of ``incident_district.py`` (west community: grids A and B;
east community: grid C; one subdistrict), in the rolled-back ``db`` session.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.areas.codes import Level
from gis.errors import ForbiddenError, InvalidParameterError, StaleVersionError
from gis.incidents import units
from gis.incidents.inbox import inbox
from gis.incidents.intake import Report, create_incident
from gis.incidents.records import IncidentRecord, get_incident, history
from gis.incidents.stats import incident_counts
from gis.incidents.transitions import transition
from gis.incidents.workflow import State
from gis.principal import Principal, Role
from tests.gis.incidents.incident_district import District, insert_district
from tests.incident_cases import CST, staff

GRID_A = "370705001001001"
GRID_C = "370705001002001"
WEST = "370705001001"
EAST = "370705001002"
SUB = "370705001"
IN_A = (119.11, 36.73)
IN_C = (119.17, 36.73)
BOSS = staff("区指挥中心")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment of March 2025 (7th a Friday, 10th a Monday)."""
    return dt.datetime(2025, 3, day, hour, minute, tzinfo=CST)


def new_case(
    db: Session, category: str = "dispute", point: tuple[float, float] = IN_A
) -> IncidentRecord:
    return create_incident(
        db,
        Report(category=category, lon=point[0], lat=point[1], reported_at=at(7, 9)),
        Principal.claimed("来访登记"),
    )


def step(
    db: Session, case_id: int, action: str, who: Principal, when: dt.datetime, **kw: Any
) -> IncidentRecord:
    version = get_incident(db, case_id).version
    return transition(db, case_id, action, principal=who, expected_version=version, at=when, **kw)


def new_staff(db: Session, name: str, role: str = "mediator") -> int:
    return int(
        db.execute(
            text("INSERT INTO staff (name, role) VALUES (:n, :r) RETURNING id"),
            {"n": name, "r": role},
        ).scalar_one()
    )


@pytest.fixture
def district(db: Session) -> District:
    return insert_district(db)


@pytest.fixture
def west_unit(db: Session, district: District) -> tuple[units.UnitRecord, int, int]:
    """The west community's mediation office: head 刘主任, member 陈调解 (both mediators)."""
    head = new_staff(db, "刘主任")
    member = new_staff(db, "陈调解")
    unit = units.create_unit(
        db,
        units.NewUnit(
            name_zh="西社区矛盾调处室",
            name_en="West community mediation office",
            area_code=WEST,
            categories=["dispute"],
            head_staff_id=head,
            staff=[member],
        ),
    )
    return unit, head, member


# ---- the units -------------------------------------------------------------------------


def test_a_unit_is_stored_with_its_head_and_changed_against_its_version(
    db: Session, west_unit: tuple[units.UnitRecord, int, int]
) -> None:
    unit, head, member = west_unit
    assert (unit.head_name, unit.area_name, unit.categories) == (
        "刘主任",
        f"area {WEST}",
        ["dispute"],
    )
    assert [s["name"] for s in unit.staff] == ["陈调解"] and unit.version == 1
    assert [u.id for u in units.list_units(db, area=GRID_A, category="dispute")] == [unit.id]
    assert units.list_units(db, area=GRID_C) == []  # the east grid is not its area
    assert units.list_units(db, category="exposed_garbage") == []
    changed = units.update_unit(
        db, unit.id, {"head_staff_id": member, "staff": [head]}, expected_version=1
    )
    assert (changed.head_name, changed.version) == ("陈调解", 2)
    with pytest.raises(StaleVersionError):
        units.update_unit(db, unit.id, {"name_en": "x"}, expected_version=1)
    for bad in ({"area_code": "370705009"}, {"categories": ["teleport"]}, {"name_zh": " "}):
        with pytest.raises(InvalidParameterError):
            units.update_unit(db, unit.id, bad, expected_version=2)


# ---- 交办: handing a case to a unit's head --------------------------------------------------


def test_a_case_handed_over_goes_to_the_units_head_and_its_history_says_so(
    db: Session, west_unit: tuple[units.UnitRecord, int, int]
) -> None:
    unit, head, member = west_unit
    case = new_case(db)
    step(db, case.id, "accept", BOSS, at(7, 9, 10))
    community = staff("西社区", Role.COMMUNITY, (WEST,))
    handed = step(db, case.id, "hand_over", community, at(7, 9, 20), unit_id=unit.id)
    assert (handed.status, handed.unit_id, handed.handler_staff_id) == (
        State.DISPATCHED,
        unit.id,
        head,
    )
    assert handed.deadline_at is not None  # the clock runs from the hand-over
    last = history(db, case.id)[-1]
    assert (last.action_zh, last.handed_to_zh, last.at_local) == (
        "交办",
        "交办至 西社区矛盾调处室 刘主任",
        "2025-03-07 09:20",
    )
    assert units.get_unit(db, unit.id).open_cases == 1

    # In the head's inbox (and the member's), with the urge the community sends.
    step(db, case.id, "urge", community, at(7, 10), note="当事人再次来访，请今日调处")
    head_p = staff("刘主任", Role.MEDIATOR, (WEST,), head)
    member_p = staff("陈调解", Role.MEDIATOR, (WEST,), member)
    for who in (head_p, member_p):
        [item] = inbox(db, who, now=at(7, 10, 30)).items
        assert (item.id, item.unit_name) == (case.id, "西社区矛盾调处室")
        assert item.urge is not None and item.urge.note == "当事人再次来访，请今日调处"
        assert item.allowed == ["handle"]
    # A member of the unit handles it; the head does not verify what the unit reported back.
    step(db, case.id, "handle", member_p, at(7, 11))
    step(db, case.id, "feedback", head_p, at(7, 11, 30))
    closed = step(db, case.id, "verify", community, at(7, 14))
    assert closed.status is State.CLOSED and closed.unit_id == unit.id


def test_who_may_hand_over_and_to_which_unit(
    db: Session, district: District, west_unit: tuple[units.UnitRecord, int, int]
) -> None:
    unit, head, _ = west_unit
    case = new_case(db)
    step(db, case.id, "accept", BOSS, at(7, 9, 10))
    manager = staff("王网格员", Role.GRID_MANAGER, (GRID_A,), district.manager_a)
    with pytest.raises(ForbiddenError, match="hand_over"):
        step(db, case.id, "hand_over", manager, at(7, 9, 20), unit_id=unit.id)
    with pytest.raises(InvalidParameterError, match="needs unit_id"):
        step(db, case.id, "hand_over", BOSS, at(7, 9, 20))
    with pytest.raises(InvalidParameterError, match="no mediation unit"):
        step(db, case.id, "hand_over", BOSS, at(7, 9, 20), unit_id=987654)
    with pytest.raises(InvalidParameterError, match="only hand_over"):
        step(db, case.id, "dispatch", BOSS, at(7, 9, 20), unit_id=unit.id)
    headless = units.create_unit(db, units.NewUnit(name_zh="无人单位", area_code=SUB))
    with pytest.raises(InvalidParameterError, match="no head"):
        step(db, case.id, "hand_over", BOSS, at(7, 9, 20), unit_id=headless.id)
    east_case = new_case(db, point=IN_C)
    step(db, east_case.id, "accept", BOSS, at(7, 9, 10))
    with pytest.raises(InvalidParameterError, match="takes cases of area"):
        step(db, east_case.id, "hand_over", BOSS, at(7, 9, 20), unit_id=unit.id)
    garbage = new_case(db, category="exposed_garbage")
    step(db, garbage.id, "accept", BOSS, at(7, 9, 10))
    with pytest.raises(InvalidParameterError, match="does not take"):
        step(db, garbage.id, "hand_over", BOSS, at(7, 9, 20), unit_id=unit.id)
    # The subdistrict hands over too (it dispatches), and a redispatch takes the case back.
    sub = staff("街道", Role.SUBDISTRICT, (SUB,))
    handed = step(db, case.id, "hand_over", sub, at(7, 9, 30), unit_id=unit.id)
    assert handed.handler_staff_id == head
    back = step(
        db, case.id, "redispatch", sub, at(7, 9, 40), handler_staff_id=district.handler, note="改派"
    )
    assert (back.unit_id, back.handler_staff_id) == (None, district.handler)


def test_an_escalated_handed_case_leaves_the_unit(
    db: Session, west_unit: tuple[units.UnitRecord, int, int]
) -> None:
    unit, head, _ = west_unit
    case = new_case(db)
    step(db, case.id, "accept", BOSS, at(7, 9, 10))
    step(db, case.id, "hand_over", BOSS, at(7, 9, 20), unit_id=unit.id)
    up = step(db, case.id, "escalate", BOSS, at(7, 10), note="调处不成")
    assert (up.handling_level, up.unit_id, up.handler_staff_id) == (Level.COMMUNITY, None, None)
    assert inbox(db, staff("刘主任", Role.MEDIATOR, (WEST,), head), now=at(7, 11)).items == []


# ---- 当场办结: settled on the spot ---------------------------------------------------------


def test_a_case_settled_on_the_spot_is_marked_and_verified_by_someone_else(
    db: Session, district: District
) -> None:
    mediator = staff("调解员", Role.MEDIATOR, (WEST,))
    case = new_case(db)
    settled = step(db, case.id, "settle", mediator, at(7, 9, 5), note="双方当场达成协议")
    assert (settled.status, settled.on_the_spot, settled.deadline_at) == (
        State.HANDLED,
        True,
        None,
    )
    assert history(db, case.id)[-1].action_zh == "当场办结"
    step(db, case.id, "feedback", mediator, at(7, 9, 10))
    back = step(db, case.id, "rework", BOSS, at(7, 10), note="协议未履行")
    assert (back.status, back.on_the_spot) == (State.DISPATCHED, False)
    # A grid manager settles too (as they accept), and does not verify what they settled.
    manager = staff("王网格员", Role.GRID_MANAGER, (GRID_A,), district.manager_a)
    other = new_case(db, category="exposed_garbage")
    assert step(db, other.id, "settle", manager, at(7, 9, 30)).on_the_spot
    step(db, other.id, "feedback", manager, at(7, 9, 40))
    with pytest.raises(ForbiddenError, match="handled this case"):
        step(db, other.id, "verify", manager, at(7, 10))
    assert step(db, other.id, "verify", BOSS, at(7, 10)).status is State.CLOSED
    # An API key never settles.
    key = Principal("system", "key:热线", scopes=frozenset({"incidents:write"}), ref="key:1")
    with pytest.raises(ForbiddenError):
        step(db, new_case(db).id, "settle", key, at(7, 9, 30))


# ---- statistics --------------------------------------------------------------------------


def _bulk(db: Session, grid_id: int, n: int, status: str, on_the_spot: bool = False) -> None:
    db.execute(
        text(
            "INSERT INTO incident (category, geom, reported_at, status, grid_id, on_the_spot)"
            " SELECT 'dispute', ST_SetSRID(ST_MakePoint(119.11, 36.73), 4326),"
            " :t + make_interval(mins => k), :s, :g, :o FROM generate_series(1, :n) k"
        ),
        {"t": at(3, 9), "s": status, "g": grid_id, "n": n, "o": on_the_spot},
    )


def _rows(db: Session, level: str) -> dict[str, dict[str, Any]]:
    df = incident_counts(db.connection(), at(1, 0), at(31, 0), level=level)
    return {str(r["code"]): r for r in df.to_dict("records")}


def test_kaifus_figures_handling_rate_and_on_the_spot_rate(db: Session, district: District) -> None:
    """Seed 003: 778 batches received, 639 handled (调处) = 82.13 %, 542 of them settled on
    the spot (当场调处) = 84.82 %; rates from the summed counts at every level."""
    _bulk(db, district.grid_a, 500, "closed", on_the_spot=True)
    _bulk(db, district.grid_a, 60, "evaluated")
    _bulk(db, district.grid_a, 80, "dispatched")
    _bulk(db, district.grid_b, 42, "evaluated", on_the_spot=True)
    _bulk(db, district.grid_b, 37, "closed")
    _bulk(db, district.grid_b, 59, "handled")
    for level, code in (("district", "370705"), ("subdistrict", SUB), ("community", WEST)):
        row = _rows(db, level)[code]
        assert (row["received"], row["closed"], row["on_the_spot"]) == (778, 639, 542)
        assert round(row["handling_rate"] * 100, 2) == 82.13
        assert round(row["on_the_spot_rate"] * 100, 2) == 84.82
    grids = _rows(db, "grid")
    assert [grids[g]["on_the_spot"] for g in (GRID_A, "370705001001002")] == [500, 42]
    assert grids[GRID_A]["on_the_spot_rate"] == pytest.approx(500 / 560)
    assert math.isnan(grids[GRID_C]["on_the_spot_rate"])  # nothing closed: no rate
    assert math.isnan(_rows(db, "community")[EAST]["handling_rate"])
    # Settled on the spot but not yet closed: received, not yet counted on the spot.
    _bulk(db, district.grid_c, 1, "handled", on_the_spot=True)
    row = _rows(db, "district")["370705"]
    assert (row["received"], row["closed"], row["on_the_spot"]) == (779, 639, 542)
