"""Migration 0013's table refuses what the registry refuses, whoever writes to it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tests.gis.people.people_district import insert_people

_INSERT = text(
    "INSERT INTO person (category, name, building_id, grid_id, consent_given_by, consent_at,"
    " consent_scope) SELECT :category, 'x', b.id, b.grid_id, :by, now(), :scope"
    " FROM building b WHERE b.id = :building"
)


@pytest.mark.parametrize(
    ("category", "by", "scope", "constraint"),
    [
        ("elderly", "  ", "定位", "consent_given_by"),
        ("elderly", "本人", "", "consent_scope"),
        ("child", "本人", "定位", "category"),
    ],
)
def test_the_database_refuses_a_row_without_consent_or_a_known_category(
    db: Session, category: str, by: str, scope: str, constraint: str
) -> None:
    people = insert_people(db)
    params = {"category": category, "by": by, "scope": scope, "building": people.building_a}
    with pytest.raises(DBAPIError, match=constraint), db.begin_nested():
        db.execute(_INSERT, params)


def test_every_update_raises_the_version_whatever_it_says(db: Session) -> None:
    people = insert_people(db)
    version = text("SELECT version FROM person WHERE id = :i")
    db.execute(text("UPDATE person SET phone = '1' WHERE id = :i"), {"i": people.zhang})
    assert db.execute(version, {"i": people.zhang}).scalar_one() == 2
    db.execute(text("UPDATE person SET version = 1 WHERE id = :i"), {"i": people.zhang})
    assert db.execute(version, {"i": people.zhang}).scalar_one() == 3


def test_a_home_building_cannot_be_deleted_under_a_person(db: Session) -> None:
    people = insert_people(db)
    with pytest.raises(DBAPIError, match="person"), db.begin_nested():
        db.execute(text("DELETE FROM building WHERE id = :b"), {"b": people.building_c})
