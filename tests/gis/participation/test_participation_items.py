"""Items move one step at a time against a version; communities write only their own."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from gis.errors import ForbiddenError, InvalidParameterError, StaleVersionError
from gis.participation import councils, items, kinds
from gis.participation.items import ItemFilter, NewItem
from gis.participation.kinds import StepNotAllowedError
from tests.gis.participation.participation_district import (
    ADMIN,
    EAST,
    PLANNER,
    WEST,
    WEST_COMMUNITY,
    B,
    C,
    insert_participation,
)

D = dt.date


def test_the_moves_allowed_from_each_status() -> None:
    assert kinds.allowed_moves("proposed") == ("discussed", "rejected", "withdrawn")
    assert kinds.allowed_moves("decided") == ("carried_out", "rejected", "withdrawn")
    assert kinds.allowed_moves("carried_out") == ("evaluated",)
    assert kinds.allowed_moves("evaluated") == ()
    assert kinds.allowed_moves("rejected") == ()


def test_an_item_moves_forward_one_step_at_a_time(db: Session) -> None:
    p = insert_participation(db)
    bench = items.get_item(db, p.bench)
    assert (bench.status, bench.located, bench.grid_code) == ("discussed", "place", B)
    with pytest.raises(StepNotAllowedError) as skipped:
        items.advance(db, ADMIN, p.bench, "carried_out", expected_version=bench.version)
    assert skipped.value.allowed == ("decided", "rejected", "withdrawn")
    with pytest.raises(StepNotAllowedError):
        items.advance(db, ADMIN, p.bench, "proposed", expected_version=bench.version)
    decided = items.advance(
        db, ADMIN, p.bench, "decided", on=D(2026, 3, 20), expected_version=bench.version
    )
    assert (decided.status, decided.decided_on, decided.version) == (
        "decided",
        D(2026, 3, 20),
        bench.version + 1,
    )
    with pytest.raises(StaleVersionError):
        items.advance(db, ADMIN, p.bench, "carried_out", expected_version=bench.version)
    with pytest.raises(InvalidParameterError, match="before"):
        items.advance(
            db, ADMIN, p.bench, "carried_out", on=D(2026, 3, 1), expected_version=decided.version
        )
    withdrawn = items.get_item(db, p.garden)
    with pytest.raises(StepNotAllowedError):
        items.advance(db, ADMIN, p.garden, "discussed", expected_version=withdrawn.version)


def test_a_community_writes_only_for_itself_and_a_planner_not_at_all(db: Session) -> None:
    p = insert_participation(db)
    new = NewItem("people_decide", "东社区停车", EAST, {"proposed_on": D(2026, 5, 1)})
    with pytest.raises(ForbiddenError):
        items.create_item(db, WEST_COMMUNITY, new)
    with pytest.raises(ForbiddenError):
        items.create_item(db, PLANNER, new)
    own = items.create_item(
        db,
        WEST_COMMUNITY,
        NewItem("people_decide", "西社区停车", WEST, {"proposed_on": D(2026, 5, 1)}),
    )
    assert (own.community_code, own.located, own.status) == (WEST, "community", "proposed")
    east = items.create_item(db, ADMIN, new)
    with pytest.raises(ForbiddenError):
        items.update_item(db, WEST_COMMUNITY, east.id, {"title": "x"}, expected_version=1)
    changed = items.update_item(
        db, WEST_COMMUNITY, p.lights, {"spent_cny": 49_000, "grid_code": None}, expected_version=1
    )
    assert (changed.spent_cny, changed.version) == (49_000.0, 2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"grid_code": C}, "does not lie in community"),
        ({"community_code": "370705001009"}, "no current community"),
        ({"budget_cny": -5.0}, "must not be negative"),
        ({"status": "decided"}, "needs the date"),
        ({"kind": "party"}, "unknown kind"),
        ({"title": "  "}, "must not be empty"),
    ],
)
def test_what_an_item_may_not_be(db: Session, change: dict[str, object], message: str) -> None:
    insert_participation(db)
    values: dict[str, object] = {
        "kind": "micro_project",
        "title": "座椅",
        "community_code": WEST,
        "dates": {"proposed_on": D(2026, 1, 1)},
        **change,
    }
    with pytest.raises(InvalidParameterError, match=message):
        items.create_item(db, ADMIN, NewItem(**values))  # type: ignore[arg-type]


def test_lists_filter_by_area_kind_status_and_year(db: Session) -> None:
    p = insert_participation(db)
    everything, total = items.list_items(db)
    assert total == 3 and [i.id for i in everything] == [p.bench, p.lights, p.garden]
    assert items.list_items(db, ItemFilter(year=2025))[1] == 1
    assert items.list_items(db, ItemFilter(kind="micro_project", status="carried_out"))[1] == 1
    assert items.list_items(db, ItemFilter(area=EAST))[1] == 0
    page, total = items.list_items(db, ItemFilter(area="370705"), limit=1, offset=1)
    assert total == 3 and [i.id for i in page] == [p.lights]
    (council,) = councils.list_councils(db, WEST)
    assert (council.members, council.items_decided) == (15, 1)
