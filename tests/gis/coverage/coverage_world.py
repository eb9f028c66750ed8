"""A small hand-made district whose coverage figures are known exactly.

Two communities side by side (C1 west, C2 east, 3 km square each), one grid
each, one kindergarten in the middle of each community, and five buildings at
true (geodesic) distances chosen so that every roll-up can be worked out by
hand:

=====  ====  ==========  ==========  ============================
bldg   grid  households  nearest     where
=====  ====  ==========  ==========  ============================
b1     G1    10          F1, 100 m   north of F1
b2     G1    20          F1, 250 m   east of F1
b3     G1    30          F1, 450 m   south of F1
b4     G2    40          F2, 200 m   north of F2
b5     G2    50          F2, 600 m   east of F2
=====  ====  ==========  ==========  ============================

At 300 m: G1 covers 30 of 60 households, G2 40 of 90.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry import Polygon, box
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.coverage.catalogue import seed_facility_types
from gis.geo.metric import MetricPlane

GEOD = Geod(ellps="GRS80")
PLANE = MetricPlane(4549)
ORIGIN = (440_000.0, 4_060_000.0)  # plane metres near Kuiwen (119.3°E, 36.7°N)
SIDE = 3000.0
FOOTPRINT_M = 20.0


DISTRICT, SUBDISTRICT = "370705", "370705001"
C1, C2 = "370705001001", "370705001002"
G1, G2 = "370705001001001", "370705001002001"

#: name: (facility, azimuth°, true metres, households, grid code)
BUILDINGS = {
    "b1": ("F1", 0.0, 100.0, 10, G1),
    "b2": ("F1", 90.0, 250.0, 20, G1),
    "b3": ("F1", 180.0, 450.0, 30, G1),
    "b4": ("F2", 0.0, 200.0, 40, G2),
    "b5": ("F2", 90.0, 600.0, 50, G2),
}


def lonlat_polygon(minx: float, miny: float, maxx: float, maxy: float) -> Polygon:
    """A plane rectangle (metres from ORIGIN), densified, as a lon/lat polygon."""
    rect = shapely.segmentize(
        box(ORIGIN[0] + minx, ORIGIN[1] + miny, ORIGIN[0] + maxx, ORIGIN[1] + maxy), 50
    )
    return shapely.transform(rect, lambda xy: np.column_stack(PLANE.to_lonlat(xy)))


def lonlat_of(x: float, y: float) -> tuple[float, float]:
    lon, lat = PLANE.to_lonlat([[ORIGIN[0] + x, ORIGIN[1] + y]])
    return float(lon[0]), float(lat[0])


def footprint_at(lon: float, lat: float, side: float = FOOTPRINT_M) -> Polygon:
    """A square footprint of ``side`` plane metres centred on the point."""
    x, y = PLANE.to_plane(lon, lat)[0]
    sq = box(x - side / 2, y - side / 2, x + side / 2, y + side / 2)
    return shapely.transform(sq, lambda xy: np.column_stack(PLANE.to_lonlat(xy)))


@dataclass
class World:
    area_ids: dict[str, int] = field(default_factory=dict)
    facility_ids: dict[str, int] = field(default_factory=dict)
    building_ids: dict[str, int] = field(default_factory=dict)
    facility_lonlat: dict[str, tuple[float, float]] = field(default_factory=dict)
    building_lonlat: dict[str, tuple[float, float]] = field(default_factory=dict)


def area(db: Session, code: str, level: str, parent: int | None, geom: Polygon, name: str) -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO admin_area (code, name, level, parent_id, geom, households,"
                " population, floating_population)"
                " VALUES (:c, :n, :l, :p, ST_Multi(ST_GeomFromText(:w, 4326)), 0, 0, 0)"
                " RETURNING id"
            ),
            {"c": code, "n": name, "l": level, "p": parent, "w": geom.wkt},
        ).scalar_one()
    )


def grid(db: Session, code: str, community: int, geom: Polygon) -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO grid (code, name, community_id, geom, households, population)"
                " VALUES (:c, :n, :k, ST_Multi(ST_GeomFromText(:w, 4326)), 0, 0) RETURNING id"
            ),
            {"c": code, "n": f"网格{code[-3:]}", "k": community, "w": geom.wkt},
        ).scalar_one()
    )


def facility(
    db: Session,
    type_code: str,
    name: str,
    lonlat: tuple[float, float],
    floor_area_m2: float | None = None,
) -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO facility (type_code, name, geom, floor_area_m2)"
                " VALUES (:t, :n, ST_SetSRID(ST_MakePoint(:x, :y), 4326), :a) RETURNING id"
            ),
            {"t": type_code, "n": name, "x": lonlat[0], "y": lonlat[1], "a": floor_area_m2},
        ).scalar_one()
    )


def building(
    db: Session,
    grid_id: int,
    lonlat: tuple[float, float],
    households: int,
    address: str,
    with_footprint: bool = True,
) -> int:
    fp = footprint_at(*lonlat).wkt if with_footprint else None
    return int(
        db.execute(
            text(
                "INSERT INTO building (grid_id, location, footprint, households, address)"
                " VALUES (:g, ST_SetSRID(ST_MakePoint(:x, :y), 4326),"
                " ST_Multi(ST_GeomFromText(:f, 4326)), :h, :a) RETURNING id"
            ),
            {"g": grid_id, "x": lonlat[0], "y": lonlat[1], "f": fp, "h": households, "a": address},
        ).scalar_one()
    )


def staff(db: Session, role: str, community: int, grids: list[int]) -> int:
    sid = int(
        db.execute(
            text(
                "INSERT INTO staff (name, role, community_id) VALUES ('张三', :r, :c) RETURNING id"
            ),
            {"r": role, "c": community},
        ).scalar_one()
    )
    for g in grids:
        db.execute(
            text("INSERT INTO staff_grid (staff_id, grid_id, is_primary) VALUES (:s, :g, true)"),
            {"s": sid, "g": g},
        )
    return sid


def build_world(db: Session, subdistricts: bool = True) -> World:
    """Areas, the catalogue, two kindergartens and the five buildings of the table above.

    Without ``subdistricts`` the communities hang off the district directly
    (the two-level hierarchy of Tongguanshan, seed 002).
    """
    w = World()
    seed_facility_types(db)
    ids = w.area_ids
    whole = lonlat_polygon(0, 0, 2 * SIDE, SIDE)
    ids[DISTRICT] = area(db, DISTRICT, "district", None, whole, "奎文区")
    parent = ids[DISTRICT]
    if subdistricts:
        ids[SUBDISTRICT] = area(db, SUBDISTRICT, "subdistrict", parent, whole, "东关街道")
        parent = ids[SUBDISTRICT]
    ids[C1] = area(db, C1, "community", parent, lonlat_polygon(0, 0, SIDE, SIDE), "西社区")
    ids[C2] = area(db, C2, "community", parent, lonlat_polygon(SIDE, 0, 2 * SIDE, SIDE), "东社区")
    ids[G1] = grid(db, G1, ids[C1], lonlat_polygon(0, 0, SIDE, SIDE))
    ids[G2] = grid(db, G2, ids[C2], lonlat_polygon(SIDE, 0, 2 * SIDE, SIDE))
    w.facility_lonlat = {"F1": lonlat_of(SIDE / 2, SIDE / 2), "F2": lonlat_of(1.5 * SIDE, SIDE / 2)}
    for key, ll in w.facility_lonlat.items():
        w.facility_ids[key] = facility(db, "kindergarten", f"幼儿园{key}", ll)
    for key, (f, az, dist, hh, g) in BUILDINGS.items():
        lon, lat, _ = GEOD.fwd(*w.facility_lonlat[f], az, dist)
        w.building_lonlat[key] = (float(lon), float(lat))
        w.building_ids[key] = building(db, ids[g], w.building_lonlat[key], hh, f"{key}号楼")
    db.flush()
    return w
