"""Councils and items in the small district of ``tests.gis.incidents.incident_district``.

West community (grids A and B; one building of 40 households in B, and 20 more in
A here) has a council and three items; the east community (grid C, 60 households)
has none. Hand-made so the statistics can be checked by hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.participation import councils, items
from gis.participation.councils import NewCouncil
from gis.participation.items import NewItem
from gis.principal import Principal, Role
from tests.gis.incidents.incident_district import District, insert_district

A, B, C = "370705001001001", "370705001001002", "370705001002001"
WEST, EAST = "370705001001", "370705001002"
ADMIN = Principal("person", "管理员", role=Role.ADMIN, ref="account:1", username="admin")
WEST_COMMUNITY = Principal(
    "person", "西社区", role=Role.COMMUNITY, areas=(WEST,), ref="account:2", username="west"
)
PLANNER = Principal("person", "规划", role=Role.PLANNER, ref="account:3", username="planner")
D = dt.date


@dataclass(frozen=True)
class Participation:
    district: District
    council: int
    bench: int
    lights: int
    garden: int


def building(db: Session, grid_id: int, lon: float, households: int) -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO building (grid_id, location, households)"
                " VALUES (:g, ST_SetSRID(ST_MakePoint(:x, 36.73), 4326), :h) RETURNING id"
            ),
            {"g": grid_id, "x": lon, "h": households},
        ).scalar_one()
    )


def insert_participation(db: Session) -> Participation:
    """The small district, 20 households more in A and 60 in C, one council and three
    items in the west community (uncommitted)."""
    d = insert_district(db)
    building(db, d.grid_a, 119.11, 20)
    building(db, d.grid_c, 119.17, 60)
    council = councils.create_council(
        db, ADMIN, NewCouncil(WEST, "西社区居民议事会", 15, "党组织、居委会、物业、居民代表")
    ).id
    bench = items.create_item(
        db,
        ADMIN,
        NewItem(
            "micro_project",
            "小区加装休闲座椅",
            WEST,
            {"proposed_on": D(2026, 3, 1), "discussed_on": D(2026, 3, 10)},
            status="discussed",
            grid_code=B,
            budget_cny=30_000,
            place=(119.13, 36.731),
            council_id=council,
        ),
    ).id
    lights = items.create_item(
        db,
        ADMIN,
        NewItem(
            "micro_project",
            "楼道照明改造",
            WEST,
            {
                "proposed_on": D(2026, 2, 1),
                "discussed_on": D(2026, 2, 5),
                "decided_on": D(2026, 2, 20),
                "carried_out_on": D(2026, 4, 1),
            },
            status="carried_out",
            budget_cny=50_000,
            spent_cny=48_500.5,
            council_id=council,
        ),
    ).id
    garden = items.create_item(
        db,
        ADMIN,
        NewItem(
            "people_decide",
            "口袋花园",
            WEST,
            {"proposed_on": D(2025, 6, 1), "ended_on": D(2025, 6, 30)},
            status="withdrawn",
            budget_cny=10_000,
        ),
    ).id
    return Participation(d, council, bench, lights, garden)
