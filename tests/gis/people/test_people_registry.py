"""gis.people.registry: consent, the grid from the building, versions, removal."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import ForbiddenError, InvalidParameterError, NotFoundError, StaleVersionError
from gis.lang import Lang
from gis.people import registry
from gis.people.registry import Consent, ConsentRequiredError, NewPerson
from gis.principal import Role
from tests.gis.people.people_district import (
    ADMIN,
    CONSENT,
    WEST,
    B,
    C,
    insert_people,
    staffed,
)


def test_the_grid_comes_from_the_home_building(db: Session) -> None:
    people = insert_people(db)
    zhang = registry.get_person(db, ADMIN, people.zhang)
    assert (zhang.grid_code, zhang.community_code) == (B, WEST)
    assert zhang.version == 1 and zhang.category_name == "独居老人"
    liu = registry.get_person(db, ADMIN, people.liu)
    assert liu.grid_code == C and liu.responsible_staff_id is None
    assert liu.safe_radius_m == 300


@pytest.mark.parametrize(
    "consent",
    [
        None,
        Consent("", CONSENT.at, "定位"),
        Consent("  ", CONSENT.at, "定位"),
        Consent("本人", CONSENT.at, ""),
        Consent("本人", None, "定位"),  # type: ignore[arg-type]
    ],
)
def test_no_registration_without_consent(db: Session, consent: Consent | None) -> None:
    people = insert_people(db)
    new = NewPerson("elderly", "孙爷爷", people.building_a, consent)
    with pytest.raises(ConsentRequiredError) as refused:
        registry.register(db, ADMIN, new)
    assert "consent" in str(refused.value)
    assert "同意" in refused.value.text(Lang.ZH)
    count = db.execute(text("SELECT count(*) FROM person WHERE name = '孙爷爷'")).scalar_one()
    assert count == 0


def test_a_consent_in_the_future_or_without_zone_is_refused(db: Session) -> None:
    people = insert_people(db)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    for at in (later, dt.datetime(2026, 11, 1, 9, 0)):
        new = NewPerson("elderly", "孙爷爷", people.building_a, Consent("本人", at, "定位"))
        with pytest.raises(InvalidParameterError):
            registry.register(db, ADMIN, new)


def test_an_unknown_building_or_category_is_refused(db: Session) -> None:
    people = insert_people(db)
    with pytest.raises(InvalidParameterError, match="no building"):
        registry.register(db, ADMIN, NewPerson("elderly", "孙爷爷", 10**9, CONSENT))
    with pytest.raises(InvalidParameterError, match="unknown category"):
        registry.register(db, ADMIN, NewPerson("child", "孙爷爷", people.building_a, CONSENT))


def test_who_may_register_where(db: Session) -> None:
    people = insert_people(db)
    d = people.district
    new = NewPerson("elderly", "孙爷爷", d.building_b, CONSENT)  # grid B
    for refused in (
        staffed(Role.GRID_MANAGER, ("370705001001001",), d.manager_a),  # grid A's manager
        staffed(Role.COMMUNITY, ("370705001002",)),  # the east community
        staffed(Role.DISTRICT, ("370705",)),
        staffed(Role.PLANNER, None),
    ):
        with pytest.raises(ForbiddenError):
            registry.register(db, refused, new)
    manager_b = staffed(Role.GRID_MANAGER, (B,), d.manager_b)
    assert registry.register(db, manager_b, new).grid_code == B
    assert registry.register(db, staffed(Role.COMMUNITY, (WEST,)), new).grid_code == B


def test_a_change_names_its_version_and_a_stale_one_changes_nothing(db: Session) -> None:
    people = insert_people(db)
    changed = registry.update(db, ADMIN, people.zhang, {"phone": "13900000000"}, expected_version=1)
    assert (changed.phone, changed.version) == ("13900000000", 2)
    with pytest.raises(StaleVersionError) as stale:
        registry.update(db, ADMIN, people.zhang, {"phone": "1"}, expected_version=1)
    assert stale.value.current == 2
    assert registry.get_person(db, ADMIN, people.zhang).phone == "13900000000"


def test_a_new_building_moves_the_person_to_its_grid(db: Session) -> None:
    people = insert_people(db)
    moved = registry.update(
        db, ADMIN, people.zhang, {"building_id": people.building_c}, expected_version=None
    )
    assert moved.grid_code == C
    # The grid cannot be set by a caller.
    with pytest.raises(InvalidParameterError, match="cannot be changed"):
        registry.update(db, ADMIN, people.zhang, {"grid_id": 1}, expected_version=None)


def test_removal_deletes_the_person_and_says_nothing_personal(db: Session) -> None:
    people = insert_people(db)
    d = people.district
    manager_b = staffed(Role.GRID_MANAGER, (B,), d.manager_b)
    with pytest.raises(ForbiddenError):  # sees them, but removal is the community's
        registry.remove(db, manager_b, people.zhang)
    with pytest.raises(NotFoundError):  # another community: as if missing
        registry.remove(db, staffed(Role.COMMUNITY, ("370705001002",)), people.zhang)
    removed = registry.remove(db, staffed(Role.COMMUNITY, (WEST,)), people.zhang)
    assert removed == registry.Removed(people.zhang, B, "elderly_alone")
    gone = db.execute(text("SELECT count(*) FROM person WHERE id = :i"), {"i": people.zhang})
    assert gone.scalar_one() == 0
    with pytest.raises(NotFoundError):
        registry.get_person(db, ADMIN, people.zhang)


def test_counts_per_area_and_category_for_a_planner(db: Session) -> None:
    people = insert_people(db)
    planner = staffed(Role.PLANNER, None)
    grids = {c.code: c for c in registry.counts(db, planner, "grid")}
    assert grids[B].counts["elderly_alone"] == 1 and grids[B].total == 1
    assert grids[C].counts == {"elderly_alone": 0, "elderly": 1, "disabled": 0, "other": 0}
    communities = {c.code: c.total for c in registry.counts(db, planner, "community")}
    assert communities == {WEST: 2, "370705001002": 1}
    east = staffed(Role.SUBDISTRICT, ("370705001002",))
    assert [c.code for c in registry.counts(db, east, "grid")] == [C]
    assert people.wang  # all three counted above
