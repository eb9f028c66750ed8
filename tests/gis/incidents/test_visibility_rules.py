"""gis.incidents.visibility: the rules, and their SQL agreeing with them case by case."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gis.db.models import Grid, Incident
from gis.errors import ForbiddenError, InvalidParameterError, NotFoundError
from gis.incidents import visibility
from gis.incidents.visibility import Scope
from gis.principal import ANONYMOUS, SYSTEM, Principal, Role
from tests.api.conftest import load_small_district, point

WEST, WEST2, EAST = "370705001001001", "370705001001002", "370705001002001"


def person(role: Role, *areas: str) -> Principal:
    return Principal("person", f"a {role}", role=role, areas=areas or None)


def key(*areas: str) -> Principal:
    return Principal.system("key:app", ("incidents:read",), areas=areas or None)


PRINCIPALS = {
    "admin": person(Role.ADMIN),
    "district": person(Role.DISTRICT, "370705"),
    "subdistrict": person(Role.SUBDISTRICT, "370705001"),
    "community": person(Role.COMMUNITY, "370705001001"),
    "grid_manager": person(Role.GRID_MANAGER, WEST),
    "two_grids": person(Role.GRID_MANAGER, WEST, EAST),
    "mediator": person(Role.MEDIATOR, "370705001001"),
    "planner": person(Role.PLANNER),
    "key": key(),
    "east_key": key("370705001002"),
    "system": SYSTEM,
    "anonymous": ANONYMOUS,
}


def test_the_rules_for_a_petition_in_the_west_grid() -> None:
    def seen(p: Principal) -> tuple[bool, bool]:
        return visibility.reaches(p, WEST, "petition"), visibility.in_full(p, WEST, "petition")

    assert seen(PRINCIPALS["admin"]) == (True, True)
    assert seen(PRINCIPALS["grid_manager"]) == (True, True)
    assert seen(PRINCIPALS["community"]) == (True, True)
    assert seen(PRINCIPALS["planner"]) == (True, False)
    assert seen(PRINCIPALS["key"]) == (True, False)
    assert seen(PRINCIPALS["mediator"])[0] is False  # not a dispute
    assert seen(PRINCIPALS["east_key"])[0] is False
    assert visibility.in_full(PRINCIPALS["mediator"], WEST, "dispute")
    assert not visibility.in_full(PRINCIPALS["mediator"], EAST, "dispute")
    # Cases without personal data are shown in full to everyone who reaches them.
    assert visibility.in_full(PRINCIPALS["planner"], WEST, "exposed_garbage")


def test_phones_and_statistics_follow_the_callers_area() -> None:
    assert visibility.responsible_for_grid(PRINCIPALS["community"], WEST)
    assert not visibility.responsible_for_grid(PRINCIPALS["community"], EAST)
    for name in ("planner", "mediator", "key"):
        assert not visibility.responsible_for_grid(PRINCIPALS[name], WEST), name
    assert visibility.statistics_areas(PRINCIPALS["planner"], None) is None
    assert visibility.statistics_areas(PRINCIPALS["community"], None) == ("370705001001",)
    assert visibility.statistics_areas(PRINCIPALS["community"], WEST) == (WEST,)
    with pytest.raises(ForbiddenError, match="370705001002"):
        visibility.statistics_areas(PRINCIPALS["community"], "370705001002")
    with pytest.raises(InvalidParameterError):
        visibility.statistics_areas(PRINCIPALS["admin"], "1234")
    with pytest.raises(NotFoundError, match="no incident has id 7"):
        visibility.check_reach(PRINCIPALS["east_key"], 7, WEST, "exposed_garbage")


CASES = [
    (grid, category)
    for grid in (WEST, WEST2, EAST, None)
    for category in ("exposed_garbage", "dispute", "petition", "help_request")
]


@pytest.mark.parametrize("name", sorted(PRINCIPALS))
def test_the_sql_agrees_with_the_rules(db: Session, name: str) -> None:
    load_small_district(db)
    grid_ids = {code: gid for gid, code in db.execute(select(Grid.id, Grid.code)).all()}
    made = {}
    for grid, category in CASES:
        case = Incident(
            category=category,
            reported_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
            status="reported",
            geom=point(119.11, 36.71),
            grid_id=None if grid is None else grid_ids[grid],
        )
        db.add(case)
        db.flush()
        made[case.id] = (grid, category)
    principal = PRINCIPALS[name]
    scope = Scope.of(principal)
    reach = scope.reach(Grid.code, Incident.category)
    stmt = (
        select(Incident.id, scope.full(Grid.code, Incident.category))
        .outerjoin(Grid, Grid.id == Incident.grid_id)
        .where(Incident.id.in_(made))
    )
    if reach is not None:
        stmt = stmt.where(reach)
    core = {int(i): bool(full) for i, full in db.execute(stmt).all()}
    sql = text(
        "SELECT i.id, "
        + scope.full_sql("g.code", "i.category")
        + " AS full FROM incident i LEFT JOIN grid g ON g.id = i.grid_id"
        " WHERE i.id = ANY(:ids) AND " + scope.reach_sql("g.code", "i.category")
    )
    raw = {int(r.id): bool(r.full) for r in db.execute(sql, {**scope.params(), "ids": list(made)})}
    expected = {
        i: visibility.in_full(principal, grid, category)
        for i, (grid, category) in made.items()
        if visibility.reaches(principal, grid, category)
    }
    assert core == expected
    assert raw == expected
