"""A small district for incident tests, built inside the rolled-back ``db`` session.

* district 370705 over 119.10-119.20 E, 36.70-36.76 N with one subdistrict;
* community 001 (west) with grid A (119.10-119.1248) and grid B
  (119.1252-119.15), a boundary road about 36 m wide between them;
* community 002 (east) with grid C (119.15-119.19); the strip 119.19-119.20
  is a park inside the district that no grid covers (about 900 m wide);
* grid A has a primary grid manager (王网格员) and a community worker (also
  marked primary, but not a grid manager); grid B has a primary grid manager
  (李网格员) and one building at 119.13 E, 36.73 N; grid C has nobody;
* staff in no grid: a community worker 赵处置员 and two namesakes 张同名
  (for handlers given by name in imports).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.coverage_district import box


@dataclass(frozen=True)
class District:
    """Database ids of the areas, grids, staff and building of the small district."""

    subdistrict: int
    west: int
    east: int
    grid_a: int
    grid_b: int
    grid_c: int
    manager_a: int
    worker_a: int
    manager_b: int
    building_b: int
    handler: int
    """赵处置员, in no grid: a handler chosen by name."""


def insert_district(db: Session) -> District:
    """Insert the small district (module docstring) into ``db``, uncommitted."""

    def area(code: str, level: str, parent: int | None, geom: str) -> int:
        return int(
            db.execute(
                text(
                    "INSERT INTO admin_area (code, name, level, parent_id, geom, households,"
                    " population, floating_population)"
                    " VALUES (:c, :n, :l, :p, ST_GeomFromEWKT(:g), 0, 0, 0) RETURNING id"
                ),
                {"c": code, "n": f"area {code}", "l": level, "p": parent, "g": geom},
            ).scalar_one()
        )

    def grid(code: str, community: int, x0: float, x1: float) -> int:
        return int(
            db.execute(
                text(
                    "INSERT INTO grid (code, name, community_id, geom, households, population)"
                    " VALUES (:c, :n, :k, ST_GeomFromEWKT(:g), 0, 0) RETURNING id"
                ),
                {"c": code, "n": f"grid {code}", "k": community, "g": box(x0, 36.70, x1, 36.76)},
            ).scalar_one()
        )

    def staff(name: str, role: str, grid_id: int | None) -> int:
        sid = int(
            db.execute(
                text("INSERT INTO staff (name, role) VALUES (:n, :r) RETURNING id"),
                {"n": name, "r": role},
            ).scalar_one()
        )
        if grid_id is not None:
            db.execute(
                text(
                    "INSERT INTO staff_grid (staff_id, grid_id, is_primary) VALUES (:s, :g, true)"
                ),
                {"s": sid, "g": grid_id},
            )
        return sid

    whole = box(119.10, 36.70, 119.20, 36.76)
    d = area("370705", "district", None, whole)
    sub = area("370705001", "subdistrict", d, whole)
    west = area("370705001001", "community", sub, box(119.10, 36.70, 119.15, 36.76))
    east = area("370705001002", "community", sub, box(119.15, 36.70, 119.20, 36.76))
    a = grid("370705001001001", west, 119.10, 119.1248)
    b = grid("370705001001002", west, 119.1252, 119.15)
    c = grid("370705001002001", east, 119.15, 119.19)
    worker_a = staff("社区工作者", "community_worker", a)
    manager_a = staff("王网格员", "grid_manager", a)
    manager_b = staff("李网格员", "grid_manager", b)
    handler = staff("赵处置员", "community_worker", None)
    staff("张同名", "community_worker", None)
    staff("张同名", "community_worker", None)
    building = int(
        db.execute(
            text(
                "INSERT INTO building (grid_id, location, households)"
                " VALUES (:g, ST_SetSRID(ST_MakePoint(119.13, 36.73), 4326), 40) RETURNING id"
            ),
            {"g": b},
        ).scalar_one()
    )
    return District(sub, west, east, a, b, c, manager_a, worker_a, manager_b, building, handler)
