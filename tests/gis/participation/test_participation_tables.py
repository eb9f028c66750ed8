"""Migration 0016's tables refuse what the rules refuse, whoever writes to them."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tests.gis.participation.participation_district import insert_participation

_INSERT = text(
    "INSERT INTO participation_item (kind, title, community_id, grid_id, status, proposed_on,"
    " discussed_on, budget_cny) VALUES (:kind, 'x', :community, :grid, :status, '2026-01-01',"
    " :discussed, :budget)"
)


@pytest.mark.parametrize(
    ("change", "constraint"),
    [
        ({"kind": "party"}, "kind_known"),
        ({"status": "done"}, "status_(known|dates)"),
        ({"status": "discussed", "discussed": None}, "status_dates"),
        ({"status": "proposed", "discussed": "2026-01-02"}, "status_dates"),
        ({"status": "discussed", "discussed": "2025-12-01"}, "dates_in_order"),
        ({"budget": -1}, "budget_nonnegative"),
    ],
)
def test_the_database_refuses_bad_kinds_statuses_dates_and_budgets(
    db: Session, change: dict[str, object], constraint: str
) -> None:
    p = insert_participation(db)
    params = {
        "kind": "micro_project",
        "community": p.district.west,
        "grid": None,
        "status": "proposed",
        "discussed": None,
        "budget": 100,
        **change,
    }
    with pytest.raises(DBAPIError, match=constraint), db.begin_nested():
        db.execute(_INSERT, params)


def test_a_grid_of_another_community_or_a_subdistrict_is_refused(db: Session) -> None:
    p = insert_participation(db)
    base = {"kind": "micro_project", "status": "proposed", "discussed": None, "budget": None}
    with pytest.raises(DBAPIError, match="does not lie in community"), db.begin_nested():
        db.execute(_INSERT, {**base, "community": p.district.west, "grid": p.district.grid_c})
    with pytest.raises(DBAPIError, match="is not a community"), db.begin_nested():
        db.execute(_INSERT, {**base, "community": p.district.subdistrict, "grid": None})
    with pytest.raises(DBAPIError, match="is not community"), db.begin_nested():
        db.execute(
            text("UPDATE participation_item SET council_id = :c WHERE id = :i"),
            {"c": p.council, "i": p.garden},
        )
        db.execute(
            text("UPDATE participation_item SET community_id = :e, council_id = :c WHERE id = :i"),
            {"e": p.district.east, "c": p.council, "i": p.garden},
        )


def test_every_update_raises_the_version(db: Session) -> None:
    p = insert_participation(db)
    version = text("SELECT version FROM participation_item WHERE id = :i")
    db.execute(text("UPDATE participation_item SET title = 'y' WHERE id = :i"), {"i": p.bench})
    assert db.execute(version, {"i": p.bench}).scalar_one() == 2
    db.execute(text("UPDATE participation_item SET version = 1 WHERE id = :i"), {"i": p.bench})
    assert db.execute(version, {"i": p.bench}).scalar_one() == 3


def test_a_change_notifies_gridmap_changes(db: Session) -> None:
    triggers = db.execute(
        text(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'participation_item'::regclass"
            " AND NOT tgisinternal ORDER BY tgname"
        )
    ).scalars()
    assert list(triggers) == [
        "participation_item_areas",
        "participation_item_notify",
        "participation_item_version",
    ]
