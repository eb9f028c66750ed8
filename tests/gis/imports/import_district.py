"""The district the import tests check rows against, and the files they write.

Reference data (a district 370705 of lon 119.10-119.25 / lat 36.62-36.80, its
subdistrict 370705001 covering all of it, two communities and two grids, two
facility types) is inserted in each test's rolled-back transaction by the
``ref`` fixture (conftest.py); the files are written to tmp_path.

    C1 370705001001 = lon 119.100-119.175, lat 36.62-36.75; grid ...001001 covers it
    C2 370705001002 = lon 119.175-119.250, lat 36.62-36.75; grid ...002001 covers
                      lat 36.62-36.70 only, so lat 36.70-36.75 there is in no grid
    FREE            = lat 36.75-36.80: in the subdistrict, in no community yet

Areas are 0.01° squares (about 890 m x 1110 m, 0.99 km²) unless said otherwise.
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Point, Polygon, box
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import ImportRejectedError
from gis.geo.datum import WGS84, Datum
from gis.imports.importer import import_file

DISTRICT = box(119.10, 36.62, 119.25, 36.80)
C1 = box(119.100, 36.62, 119.175, 36.75)
C2 = box(119.175, 36.62, 119.250, 36.75)
G1 = C1
G2 = box(119.175, 36.62, 119.250, 36.70)
NO_GRID = (119.21, 36.72)  # in C2 and the district, in no grid
OUTSIDE = (119.40, 36.60)
BOWTIE = Polygon([(119.11, 36.70), (119.12, 36.71), (119.12, 36.70), (119.11, 36.71)])
WEST = box(118.95, 36.62, 119.10, 36.80)  # a neighbouring district, 370702


def insert_area(db: Session, code: str, level: str, parent: int | None, geom: Polygon) -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO admin_area (code, name, level, parent_id, geom, households,"
                " population, floating_population)"
                " VALUES (:c, :n, :l, :p, ST_Multi(ST_GeomFromText(:w, 4326)), 0, 0, 0)"
                " RETURNING id"
            ),
            {"c": code, "n": f"area {code}", "l": level, "p": parent, "w": geom.wkt},
        ).scalar_one()
    )


def insert_grid(db: Session, code: str, community: int, geom: Polygon) -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO grid (code, name, community_id, geom, households, population)"
                " VALUES (:c, :n, :k, ST_Multi(ST_GeomFromText(:w, 4326)), 0, 0) RETURNING id"
            ),
            {"c": code, "n": f"grid {code}", "k": community, "w": geom.wkt},
        ).scalar_one()
    )


def count_rows(db: Session, table: str) -> int:
    return int(db.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def write_geojson(
    path: Path, features: list[tuple[dict[str, Any], Any]], crs: str | None = None
) -> Path:
    """A GeoJSON file; geometry given as a shapely geometry, a raw dict or None."""
    doc: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": props,
                "geometry": shapely.geometry.mapping(geom)
                if isinstance(geom, shapely.Geometry)
                else geom,
            }
            for props, geom in features
        ],
    }
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def write_gis_file(
    path: Path, rows: list[dict[str, Any]], geoms: list[Any], crs: int | None, **kw: Any
) -> Path:
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=f"EPSG:{crs}" if crs else None)
    with warnings.catch_warnings():  # Shapefile truncates long column names, and says so
        warnings.simplefilter("ignore")
        frame.to_file(path, **kw)
    return path


def write_csv(path: Path, rows: list[dict[str, Any]], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def rejected(
    db: Session, layer: str, path: Path, datum: Datum = WGS84, **kw: Any
) -> ImportRejectedError:
    with pytest.raises(ImportRejectedError) as info:
        import_file(db, layer, path, datum, **kw)
    return info.value


def reasons(err: ImportRejectedError, row: int) -> str:
    return " | ".join(r.reason for r in err.rejected if r.row == row)


def buildings_file(
    tmp_path: Path, points: list[tuple[float, float]], name: str = "b.geojson"
) -> Path:
    return write_geojson(
        tmp_path / name,
        [({"ext_id": f"B{i}", "households": 10}, Point(p)) for i, p in enumerate(points, 1)],
    )


def square(x: float, y: float, size: float = 0.01) -> Polygon:
    return box(x, y, x + size, y + size)


def admin_rows(db: Session, level: str) -> list[Any]:
    return list(
        db.execute(
            text(
                "SELECT a.code, a.name, p.code AS parent, a.households, a.population,"
                " a.floating_population, GeometryType(a.geom) AS gt FROM admin_area a"
                " LEFT JOIN admin_area p ON p.id = a.parent_id"
                " WHERE a.level = CAST(:level AS area_level) ORDER BY a.code"
            ),
            {"level": level},
        ).all()
    )


def deployment_files(tmp_path: Path) -> dict[str, Path]:
    """A whole district from scratch: 2 subdistricts, 20 communities in the first, 1,000 grids.

    Edges come from one linspace per level, so neighbours share exact coordinates.
    """
    west, south, north = 119.10, 36.62, 36.80
    mid, east = 119.175, 119.25
    files = {
        "districts": write_geojson(
            tmp_path / "district.geojson",
            [({"code": "370705", "name": "奎文区", "population": 420000}, DISTRICT)],
        ),
        "subdistricts": write_geojson(
            tmp_path / "subdistricts.geojson",
            [
                ({"code": "370705001", "name": "东关街道"}, box(west, south, mid, north)),
                (
                    {"code": "370705002", "name": "大虞街道", "parent_code": "370705"},
                    box(mid, south, east, north),
                ),
            ],
        ),
    }
    xs, ys = np.linspace(west, mid, 5), np.linspace(south, north, 6)
    communities: list[tuple[dict[str, Any], Polygon]] = []
    grids: list[tuple[dict[str, Any], Polygon]] = []
    for c, (col, row) in enumerate(((c, r) for r in range(5) for c in range(4)), start=1):
        code = f"370705001{c:03d}"
        cx, cy = xs[col], ys[row]
        communities.append(
            (
                {
                    "code": code,
                    "name": f"社区{c}",
                    "parent_code": "370705001",
                    "households": 3000,
                    "population": 8000,
                },
                box(cx, cy, xs[col + 1], ys[row + 1]),
            )
        )
        gx, gy = np.linspace(cx, xs[col + 1], 6), np.linspace(cy, ys[row + 1], 11)
        for g in range(50):
            i, j = g % 5, g // 5
            grids.append(
                (
                    {"code": f"{code}{g + 1:03d}", "name": f"网格{g + 1}"},
                    box(gx[i], gy[j], gx[i + 1], gy[j + 1]),
                )
            )
    files["communities"] = write_geojson(tmp_path / "communities.geojson", communities)
    files["grids"] = write_geojson(tmp_path / "grids.geojson", grids)
    return files
