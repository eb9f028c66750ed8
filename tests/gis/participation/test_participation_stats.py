"""Statistics per community, subdistrict and district on hand-made figures."""

from __future__ import annotations

from sqlalchemy.orm import Session

from gis.participation.stats import statistics
from tests.gis.participation.participation_district import EAST, WEST, insert_participation


def test_per_community_counts_budgets_and_per_1000_households(db: Session) -> None:
    insert_participation(db)
    table = statistics(db.connection(), "community").set_index("code")
    west, east = table.loc[WEST], table.loc[EAST]
    # West: 40 households in B and 20 in A; east: 60 in C.
    assert (west["households"], east["households"]) == (60, 60)
    assert (west["councils"], west["items"], west["micro_project"], west["people_decide"]) == (
        1,
        3,
        2,
        1,
    )
    assert (west["discussed"], west["carried_out"], west["withdrawn"]) == (1, 1, 1)
    # The withdrawn item's 10,000 is not in the budget; spent only where recorded.
    assert (west["budget_cny"], west["spent_cny"]) == (80_000.0, 48_500.5)
    assert west["items_per_1000_households"] == 50.0
    assert west["budget_per_1000_households_cny"] == round(80_000 / 60 * 1000)
    assert (east["items"], east["budget_cny"], east["items_per_1000_households"]) == (0, 0.0, 0.0)


def test_a_year_and_the_roll_up_to_subdistrict_and_district(db: Session) -> None:
    insert_participation(db)
    (row,) = statistics(db.connection(), "subdistrict", year=2026).to_dict("records")
    assert (row["code"], row["households"], row["items"], row["budget_cny"]) == (
        "370705001",
        120,
        2,
        80_000.0,
    )
    assert row["items_per_1000_households"] == round(2 / 120 * 1000, 2)
    (district,) = statistics(db.connection(), "district").to_dict("records")
    assert (district["code"], district["items"], district["councils"]) == ("370705", 3, 1)
