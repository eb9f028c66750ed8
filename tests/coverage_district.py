"""A small committed district for coverage tests that need the database's notifications.

NOTIFY only fires when a transaction commits, so tests of the change
listener cannot run in the rolled-back ``db`` session; they get a database of
their own (``fresh_coverage_database``) holding this district:

* district 370705 over 119.10-119.20 E, 36.70-36.76 N, one subdistrict;
* community 001 (west half) with grids 001 (119.10-119.125) and 002
  (119.125-119.15), community 002 (east half) with grid 001;
* a lattice of buildings every 0.004° east and 0.003° north (about 360 m by
  330 m), 25 × 20 = 500 buildings with 5-44 households each;
* the full facility-type catalogue, three kindergartens (300 m) and two
  community health stations (1000 m).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.coverage.catalogue import seed_facility_types
from gis.db import schema
from gis.db.engine import drop_database as gis_drop_database
from gis.db.engine import make_engine, recreate_database

WEST, SOUTH, EAST, NORTH = 119.10, 36.70, 119.20, 36.76
STEP_LON, STEP_LAT = 0.004, 0.003
COLUMNS, ROWS = 25, 20
KINDERGARTENS = [(119.11, 36.71), (119.15, 36.73), (119.19, 36.75)]
HEALTH_STATIONS = [(119.12, 36.72), (119.18, 36.74)]
GRIDS = ("370705001001001", "370705001001002", "370705001002001")


@dataclass(frozen=True)
class LatticeDistrict:
    engine: Engine
    buildings: int
    households: int


def box(x0: float, y0: float, x1: float, y1: float) -> str:
    """EWKT of a WGS84 rectangle (degrees) as a one-part multipolygon."""
    return f"SRID=4326;MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


def building_households(i: int) -> int:
    return 5 + (i * 7) % 40


def fresh_coverage_database(server_url: str, name: str) -> LatticeDistrict:
    """A new migrated database named ``name`` holding the lattice district, committed."""
    engine = make_engine(recreate_database(server_url, name))
    schema.upgrade(engine)
    households = 0
    with engine.begin() as conn:

        def area(code: str, name: str, level: str, parent: int | None, geom: str) -> int:
            return int(
                conn.execute(
                    text(
                        "INSERT INTO admin_area (code, name, level, parent_id, geom, households,"
                        " population, floating_population)"
                        " VALUES (:c, :n, :l, :p, ST_GeomFromEWKT(:g), 0, 0, 0) RETURNING id"
                    ),
                    {"c": code, "n": name, "l": level, "p": parent, "g": geom},
                ).scalar_one()
            )

        district = area("370705", "奎文区", "district", None, box(WEST, SOUTH, EAST, NORTH))
        sub = area("370705001", "东关街道", "subdistrict", district, box(WEST, SOUTH, EAST, NORTH))
        west = area("370705001001", "东苑社区", "community", sub, box(WEST, SOUTH, 119.15, NORTH))
        east = area("370705001002", "新华社区", "community", sub, box(119.15, SOUTH, EAST, NORTH))
        grid_ids = []
        for code, community, x0, x1 in (
            (GRIDS[0], west, WEST, 119.125),
            (GRIDS[1], west, 119.125, 119.15),
            (GRIDS[2], east, 119.15, EAST),
        ):
            grid_ids.append(
                conn.execute(
                    text(
                        "INSERT INTO grid (code, name, community_id, geom, households, population)"
                        " VALUES (:c, :n, :k, ST_GeomFromEWKT(:g), 0, 0) RETURNING id"
                    ),
                    {
                        "c": code,
                        "n": f"网格{code[-3:]}",
                        "k": community,
                        "g": box(x0, SOUTH, x1, NORTH),
                    },
                ).scalar_one()
            )
        rows = []
        for i in range(COLUMNS * ROWS):
            lon = WEST + STEP_LON / 2 + (i % COLUMNS) * STEP_LON
            lat = SOUTH + STEP_LAT / 2 + (i // COLUMNS) * STEP_LAT
            grid = grid_ids[0] if lon < 119.125 else grid_ids[1] if lon < 119.15 else grid_ids[2]
            hh = building_households(i)
            households += hh
            rows.append({"g": grid, "lon": lon, "lat": lat, "hh": hh})
        conn.execute(
            text(
                "INSERT INTO building (grid_id, location, households)"
                " VALUES (:g, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :hh)"
            ),
            rows,
        )
    with Session(engine) as session:
        seed_facility_types(session)
        session.commit()
    with engine.begin() as conn:
        for type_code, points in (
            ("kindergarten", KINDERGARTENS),
            ("community_health_station", HEALTH_STATIONS),
        ):
            for n, (lon, lat) in enumerate(points, start=1):
                conn.execute(
                    text(
                        "INSERT INTO facility (type_code, name, geom, community_id)"
                        " VALUES (:t, :n, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),"
                        " (SELECT id FROM admin_area WHERE level = 'community'"
                        "  AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
                        "  ORDER BY code LIMIT 1))"
                    ),
                    {"t": type_code, "n": f"{type_code} {n}", "lon": lon, "lat": lat},
                )
    return LatticeDistrict(engine, COLUMNS * ROWS, households)


def drop_database(server_url: str, district: LatticeDistrict) -> None:
    name = district.engine.url.database
    district.engine.dispose()
    assert name is not None
    gis_drop_database(server_url, name)


@contextmanager
def committed_lattice(server_url: str, name: str) -> Iterator[LatticeDistrict]:
    """``fresh_coverage_database(server_url, name)``, dropped again when the block ends."""
    district = fresh_coverage_database(server_url, name)
    try:
        yield district
    finally:
        drop_database(server_url, district)


def add_grid_manager(
    engine: Engine,
    name: str,
    grid_code: str = GRIDS[0],
    *,
    phone: str | None = None,
    in_community: bool = False,
) -> int:
    """Commit a grid manager as the primary one of grid ``grid_code``; their staff id.

    ``in_community`` also files them under the grid's community
    (``staff.community_id``), as the worklist pages show it.
    """
    with engine.begin() as conn:
        community = (
            conn.execute(
                text("SELECT community_id FROM grid WHERE code = :g"), {"g": grid_code}
            ).scalar_one()
            if in_community
            else None
        )
        staff = int(
            conn.execute(
                text(
                    "INSERT INTO staff (name, phone, role, community_id)"
                    " VALUES (:n, :p, 'grid_manager', :k) RETURNING id"
                ),
                {"n": name, "p": phone, "k": community},
            ).scalar_one()
        )
        conn.execute(
            text(
                "INSERT INTO staff_grid (staff_id, grid_id, is_primary)"
                " SELECT :s, id, true FROM grid WHERE code = :g"
            ),
            {"s": staff, "g": grid_code},
        )
    return staff


RIVER_LON = 119.151
"""A river runs north-south here (between two streets); only the street at BRIDGE_LAT crosses."""
BRIDGE_LAT = 36.73
WALK_STEP = 0.002


def add_walk_network(engine: Engine, *, bridges: tuple[float, ...] = (BRIDGE_LAT,)) -> int:
    """Commit a street lattice every 0.002° (about 180 m by 220 m) over the district as
    its walking network, cut by a river along ``RIVER_LON`` with ``bridges``; edges written."""
    import itertools

    import geopandas as gpd
    import numpy as np
    import shapely

    from gis.network.store import replace_network

    lons = np.round(np.arange(WEST, EAST + 1e-9, WALK_STEP), 6)
    lats = np.round(np.arange(SOUTH, NORTH + 1e-9, WALK_STEP), 6)
    lines = []
    for lat in lats:
        for a, b in itertools.pairwise(lons):
            crosses = a < RIVER_LON < b
            if not crosses or any(abs(lat - y) < 1e-9 for y in bridges):
                lines.append(shapely.LineString([(a, lat), (b, lat)]))
    for lon in lons:
        for a, b in itertools.pairwise(lats):
            lines.append(shapely.LineString([(lon, a), (lon, b)]))
    edges = gpd.GeoDataFrame(geometry=lines, crs=4326)
    river = gpd.GeoDataFrame(
        {"kind": ["river"], "name": ["测试河"]},
        geometry=[shapely.LineString([(RIVER_LON, SOUTH - 0.01), (RIVER_LON, NORTH + 0.01)])],
        crs=4326,
    )
    with engine.begin() as conn:
        replace_network(conn, edges, river, "test:lattice")
    return len(lines)
