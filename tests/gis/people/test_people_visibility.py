"""gis.people.visibility: who sees a person, and the SQL agreeing with the rule for every role."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.db.models import Grid, Person
from gis.errors import NotFoundError
from gis.people import registry, visibility
from gis.principal import ANONYMOUS, SYSTEM, Principal, Role
from tests.gis.people.people_district import ADMIN, EAST, WEST, A, B, C, insert_people, staffed


def _principals(manager_a: int, manager_b: int, handler: int) -> dict[str, Principal]:
    return {
        "admin": ADMIN,
        "district": staffed(Role.DISTRICT, ("370705",)),
        "subdistrict": staffed(Role.SUBDISTRICT, ("370705001",)),
        "west_community": staffed(Role.COMMUNITY, (WEST,)),
        "east_community": staffed(Role.COMMUNITY, (EAST,)),
        "manager_a": staffed(Role.GRID_MANAGER, (A,), manager_a),
        "manager_b": staffed(Role.GRID_MANAGER, (B,), manager_b),
        "handler": staffed(Role.COMMUNITY, (EAST,), handler),  # responsible for 王大爷
        "mediator": staffed(Role.MEDIATOR, (WEST,)),
        "district_worker": staffed(Role.DISTRICT, ("370705",), handler),  # counts only
        "planner": staffed(Role.PLANNER, None),
        "key": Principal.system("key:app", ("incidents:read",)),
        "system": SYSTEM,
        "anonymous": ANONYMOUS,
    }


def test_each_role_sees_exactly_the_people_it_looks_after(db: Session) -> None:
    people = insert_people(db)
    d = people.district
    names = {people.zhang: "张奶奶", people.wang: "王大爷", people.liu: "刘阿姨"}
    expected = {
        "admin": {"张奶奶", "王大爷", "刘阿姨"},
        "district": set(),
        "subdistrict": set(),
        "west_community": {"张奶奶", "王大爷"},
        "east_community": {"刘阿姨"},
        "manager_a": {"王大爷"},
        "manager_b": {"张奶奶"},
        "handler": {"王大爷", "刘阿姨"},
        "mediator": set(),
        "district_worker": set(),
        "planner": set(),
        "key": set(),
        "system": set(),
        "anonymous": set(),
    }
    rows = db.execute(select(Person.id, Grid.code, Person.responsible_staff_id).join(Grid)).all()
    for label, principal in _principals(d.manager_a, d.manager_b, d.handler).items():
        by_rule = {names[i] for i, grid, staff in rows if visibility.sees(principal, grid, staff)}
        scope = visibility.PersonScope.of(principal)
        by_sql = set(
            db.execute(
                select(Person.name)
                .join(Grid, Grid.id == Person.grid_id)
                .where(scope.where(Grid.code, Person.responsible_staff_id))
            ).scalars()
        )
        listed, total = registry.list_people(db, principal)
        assert by_rule == by_sql == expected[label], label
        assert {p.name for p in listed} == by_rule and total == len(by_rule), label
        for ident, name in names.items():
            if name in by_rule:
                assert registry.get_person(db, principal, ident).name == name
            else:
                with pytest.raises(NotFoundError, match=f"no person served has id {ident}"):
                    registry.get_person(db, principal, ident)


def test_a_list_filters_by_grid_and_category(db: Session) -> None:
    insert_people(db)
    assert [p.name for p in registry.list_people(db, ADMIN, grid=WEST)[0]] == ["张奶奶", "王大爷"]
    assert [p.name for p in registry.list_people(db, ADMIN, category="elderly")[0]] == ["刘阿姨"]
    page, total = registry.list_people(db, ADMIN, limit=1, offset=1)
    assert total == 3 and len(page) == 1
    assert registry.list_people(db, ADMIN, grid=C + "%")[1] == 0  # a wildcard is text
