"""Whom a grid's cases can be dispatched to (gis.incidents.worklists.grid_handlers)."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import NotFoundError
from gis.incidents.worklists import HandlerChoice, grid_handlers, grid_worklist
from tests.gis.incidents.incident_district import District, insert_district

GRID_A = "370705001001001"


def _staff(
    db: Session,
    name: str,
    role: str,
    *,
    community: int | None = None,
    grid: int | None = None,
    primary: bool = False,
) -> int:
    sid = int(
        db.execute(
            text(
                "INSERT INTO staff (name, phone, role, community_id)"
                " VALUES (:n, '13700009999', :r, :k) RETURNING id"
            ),
            {"n": name, "r": role, "k": community},
        ).scalar_one()
    )
    if grid is not None:
        db.execute(
            text("INSERT INTO staff_grid (staff_id, grid_id, is_primary) VALUES (:s, :g, :p)"),
            {"s": sid, "g": grid, "p": primary},
        )
    return sid


@pytest.fixture
def district(db: Session) -> District:
    return insert_district(db)


def test_grid_handlers_are_the_grids_staff_then_the_communitys(
    db: Session, district: District
) -> None:
    mediator = _staff(db, "调解员甲", "mediator", community=district.west)
    b_post = _staff(db, "B岗社工", "community_worker", grid=district.grid_b)  # west, via grid B
    _staff(db, "东社工", "community_worker", community=district.east)  # another community
    _staff(db, "西网格员", "grid_manager", community=district.west)  # no grid of its own here
    second = _staff(db, "副网格员", "grid_manager", grid=district.grid_a)  # not primary

    handlers = grid_handlers(db, GRID_A)

    assert [(h.id, h.name, h.role, h.in_grid, h.primary_manager) for h in handlers] == [
        (district.manager_a, "王网格员", "网格员", True, True),
        (second, "副网格员", "网格员", True, False),
        # Marked primary on grid A, but a community worker is not its grid manager.
        (district.worker_a, "社区工作者", "社区工作者", True, False),
        (b_post, "B岗社工", "社区工作者", False, False),
        (mediator, "调解员甲", "人民调解员", False, False),
    ]
    # Grid B's manager, the east community's worker and handlers in no grid are not offered.
    names = {h.name for h in handlers}
    assert not names & {"李网格员", "东社工", "西网格员", "赵处置员", "张同名"}
    assert handlers[0].role_code == "grid_manager" and handlers[-1].role_code == "mediator"
    assert "phone" not in {f.name for f in dataclasses.fields(HandlerChoice)}
    assert "13700009999" not in repr(handlers)

    worklist = grid_worklist(db, GRID_A)
    assert worklist.handlers == handlers
    assert worklist.manager is not None and worklist.manager.id == handlers[0].id


def test_grid_handlers_of_an_unknown_grid(db: Session, district: District) -> None:
    with pytest.raises(NotFoundError):
        grid_handlers(db, "370705001009009")
    assert grid_handlers(db, "370705001002001") == []  # grid C: nobody, no community staff
