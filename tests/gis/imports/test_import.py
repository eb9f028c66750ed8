"""`gridmap import`: every format, every rejection reason, datums, all-or-nothing.

Reference data (a district 370705 of lon 119.10-119.25 / lat 36.62-36.80, its
subdistrict 370705001 covering all of it, two communities and two grids, two
facility types) is inserted in each test's rolled-back transaction; fixture
files are written to tmp_path.

    C1 370705001001 = lon 119.100-119.175, lat 36.62-36.75; grid ...001001 covers it
    C2 370705001002 = lon 119.175-119.250, lat 36.62-36.75; grid ...002001 covers
                      lat 36.62-36.70 only, so lat 36.70-36.75 there is in no grid
    FREE            = lat 36.75-36.80: in the subdistrict, in no community yet

Areas are 0.01° squares (about 890 m x 1110 m, 0.99 km²) unless said otherwise.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import re
import time
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from rich.console import Console
from shapely.geometry import Point, Polygon, box
from sqlalchemy import text
from sqlalchemy.orm import Session

import gis.errors
from cli.progress import progress_bars
from gis.errors import (
    ConflictError,
    DatumMismatchError,
    ImportFileError,
    ImportRejectedError,
    InvalidParameterError,
    NoDistrictError,
    NotFoundError,
    PayloadTooLargeError,
)
from gis.geo.datum import (
    BD09,
    CGCS2000,
    GCJ02,
    WGS84,
    Datum,
    UnknownDatumError,
    from_wgs84,
    parse_datum,
)
from gis.imports._reference import Area, ReferenceData
from gis.imports._tiling import coverage_notes
from gis.imports.importer import export_rejections_csv, import_file
from gis.settings import ImportSettings

DISTRICT = box(119.10, 36.62, 119.25, 36.80)
C1 = box(119.100, 36.62, 119.175, 36.75)
C2 = box(119.175, 36.62, 119.250, 36.75)
G1 = C1
G2 = box(119.175, 36.62, 119.250, 36.70)
NO_GRID = (119.21, 36.72)  # in C2 and the district, in no grid
OUTSIDE = (119.40, 36.60)
BOWTIE = Polygon([(119.11, 36.70), (119.12, 36.71), (119.12, 36.70), (119.11, 36.71)])


# ---------------------------------------------------------------- fixtures


def _area(db: Session, code: str, level: str, parent: int | None, geom: Polygon) -> int:
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


def _grid(db: Session, code: str, community: int, geom: Polygon) -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO grid (code, name, community_id, geom, households, population)"
                " VALUES (:c, :n, :k, ST_Multi(ST_GeomFromText(:w, 4326)), 0, 0) RETURNING id"
            ),
            {"c": code, "n": f"grid {code}", "k": community, "w": geom.wkt},
        ).scalar_one()
    )


@pytest.fixture
def ref(db: Session) -> dict[str, int]:
    """The minimal district the importer checks rows against; ids by code."""
    ids: dict[str, int] = {}
    ids["370705"] = _area(db, "370705", "district", None, DISTRICT)
    ids["370705001"] = _area(db, "370705001", "subdistrict", ids["370705"], DISTRICT)
    ids["370705001001"] = _area(db, "370705001001", "community", ids["370705001"], C1)
    ids["370705001002"] = _area(db, "370705001002", "community", ids["370705001"], C2)
    ids["370705001001001"] = _grid(db, "370705001001001", ids["370705001001"], G1)
    ids["370705001002001"] = _grid(db, "370705001002001", ids["370705001002"], G2)
    db.execute(
        text(
            "INSERT INTO facility_type (code, name_zh, name_en, radius_m, life_circle,"
            " norm_source) VALUES"
            " ('health_station', '社区卫生服务站', 'community health station', 1000, '15min',"
            "  'GB 50180-2018'),"
            " ('kindergarten', '幼儿园', 'kindergarten', 300, '5min', 'GB 50180-2018')"
        )
    )
    return ids


def _count(db: Session, table: str) -> int:
    return int(db.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _geojson(
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


def _gis_file(
    path: Path, rows: list[dict[str, Any]], geoms: list[Any], crs: int | None, **kw: Any
) -> Path:
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=f"EPSG:{crs}" if crs else None)
    with warnings.catch_warnings():  # Shapefile truncates long column names, and says so
        warnings.simplefilter("ignore")
        frame.to_file(path, **kw)
    return path


def _csv(path: Path, rows: list[dict[str, Any]], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _rejected(
    db: Session, layer: str, path: Path, datum: Datum = WGS84, **kw: Any
) -> ImportRejectedError:
    with pytest.raises(ImportRejectedError) as info:
        import_file(db, layer, path, datum, **kw)
    return info.value


def _reasons(err: ImportRejectedError, row: int) -> str:
    return " | ".join(r.reason for r in err.rejected if r.row == row)


def _buildings(tmp_path: Path, points: list[tuple[float, float]], name: str = "b.geojson") -> Path:
    return _geojson(
        tmp_path / name,
        [({"ext_id": f"B{i}", "households": 10}, Point(p)) for i, p in enumerate(points, 1)],
    )


# ---------------------------------------------------------------- each format imports


def test_geojson_buildings_import_with_grid_and_footprint(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    footprint = box(119.180, 36.650, 119.181, 36.651)
    path = _geojson(
        tmp_path / "buildings.geojson",
        [
            (
                {"ext_id": "B1", "households": 120, "floors": 18, "address": "胜利街 1 号"},
                Point(119.12, 36.70),
            ),
            ({"ext_id": "B2", "households": 80, "name": "2 号楼"}, footprint),
            ({"ext_id": 3, "households": "40"}, Point(119.13, 36.66)),
        ],
    )
    report = import_file(db, "buildings", path, WGS84)
    assert (report.rows_read, report.rows_imported, report.datum) == (3, 3, "wgs84")
    rows = db.execute(
        text(
            "SELECT b.ext_id, g.code, b.households, b.floors, b.address, b.name,"
            " ST_AsText(b.location) AS loc, b.footprint IS NOT NULL AS has_fp,"
            " ST_Equals(b.location, ST_PointOnSurface(b.footprint)) AS pos"
            " FROM building b JOIN grid g ON g.id = b.grid_id ORDER BY b.ext_id"
        )
    ).all()
    assert [(r.ext_id, r.code, r.households) for r in rows] == [
        ("3", "370705001001001", 40),
        ("B1", "370705001001001", 120),
        ("B2", "370705001002001", 80),
    ]
    assert rows[1].floors == 18 and rows[1].address == "胜利街 1 号"
    assert rows[1].loc == "POINT(119.12 36.7)" and not rows[1].has_fp
    assert rows[2].has_fp and rows[2].pos and rows[2].name == "2 号楼"
    households = {
        r.code: r.households for r in db.execute(text("SELECT code, households FROM grid"))
    }
    assert households == {"370705001001001": 160, "370705001002001": 80}


def test_geopackage_facilities_import_from_a_named_layer(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    path = tmp_path / "f.gpkg"
    _gis_file(path, [{"x": 1}], [Point(119.2, 36.7)], 4326, layer="other")
    _gis_file(
        path,
        [
            {
                "ext_id": "F1",
                "type": "health_station",
                "name": "社康中心",
                "capacity": 30,
                "floor_area_m2": 420.5,
                "opening_hours": "08:00-17:30",
            },
            {
                "ext_id": "F2",
                "type": "kindergarten",
                "name": "幼儿园",
                "capacity": None,
                "floor_area_m2": None,
                "opening_hours": None,
            },
        ],
        [Point(119.12, 36.70), Point(119.21, 36.72)],
        4326,
        layer="facilities",
    )
    with pytest.raises(ImportFileError, match=r"2 layers.*--gpkg-layer"):
        import_file(db, "facilities", path, WGS84)
    report = import_file(db, "facilities", path, WGS84, gpkg_layer="facilities")
    assert report.rows_imported == 2
    rows = db.execute(
        text(
            "SELECT f.ext_id, f.type_code, a.code, f.capacity, f.floor_area_m2, f.opening_hours"
            " FROM facility f JOIN admin_area a ON a.id = f.community_id ORDER BY f.ext_id"
        )
    ).all()
    assert [(r.ext_id, r.type_code, r.code) for r in rows] == [
        ("F1", "health_station", "370705001001"),
        ("F2", "kindergarten", "370705001002"),
    ]
    assert rows[0].capacity == 30 and float(rows[0].floor_area_m2) == 420.5
    assert rows[1].capacity is None and rows[1].opening_hours is None


def test_shapefile_communities_import_with_truncated_column_names(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    path = _gis_file(
        tmp_path / "communities.shp",
        [
            {
                "code": "370705001003",
                "name": "新社区",
                "parent_code": "370705001",
                "households": 1200,
                "population": 3400,
                "floating_population": 150,
            },
            # Tongguanshan style: no subdistrict level, the district is the parent.
            {
                "code": "370705002001",
                "name": "直属社区",
                "parent_code": "370705",
                "households": 900,
                "population": 2500,
                "floating_population": 0,
            },
        ],
        [box(119.11, 36.76, 119.12, 36.77), box(119.20, 36.76, 119.21, 36.77)],
        4490,
    )
    assert (tmp_path / "communities.dbf").exists()
    report = import_file(db, "communities", path, CGCS2000)
    assert report.rows_imported == 2
    rows = db.execute(
        text(
            "SELECT a.code, p.code AS parent, a.level::text AS level, a.households,"
            " a.floating_population, GeometryType(a.geom) AS gt"
            " FROM admin_area a JOIN admin_area p ON p.id = a.parent_id"
            " WHERE a.code IN ('370705001003', '370705002001') ORDER BY a.code"
        )
    ).all()
    assert [
        (r.code, r.parent, r.level, r.households, r.floating_population, r.gt) for r in rows
    ] == [
        ("370705001003", "370705001", "community", 1200, 150, "MULTIPOLYGON"),
        ("370705002001", "370705", "community", 900, 0, "MULTIPOLYGON"),
    ]


def test_zipped_shapefile_imports(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    shp = _gis_file(
        tmp_path / "b.shp", [{"ext_id": "B1", "households": 7}], [Point(119.12, 36.70)], 4326
    )
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in shp.parent.glob("b.*"):
            if part != archive:
                zf.write(part, part.name)
    assert import_file(db, "buildings", archive, WGS84).rows_imported == 1


def test_csv_incidents_import_with_other_column_names_and_beijing_time(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    rows = [
        {
            "ext_id": "I1",
            "category": "街面秩序",
            "reported_at": "2024-05-01 08:30:00",
            "lng": "119.12",
            "latitude": "36.70",
            "source": "hotline",
        },
        {
            "ext_id": "I2",
            "category": "市容环境",
            "reported_at": "2024-05-02T09:00:00Z",
            "lng": str(NO_GRID[0]),
            "latitude": str(NO_GRID[1]),
            "source": "",
        },
    ]
    # A point 2.2 km from every grid is refused, as live intake refuses it (it
    # used to be stored without a grid, where no grid manager would see it).
    path = _csv(tmp_path / "incidents.csv", rows, encoding="gb18030")  # Excel on Chinese Windows
    err = _rejected(db, "incidents", path)
    assert [r.row for r in err.rejected] == [2]
    assert "2,219 m from the nearest grid 370705001002001" in _reasons(err, 2)
    assert "snap tolerance of 30 m" in _reasons(err, 2)
    assert _count(db, "incident") == 0

    rows[1]["latitude"] = "36.70015"  # on the road 16.7 m north of grid ...002001: snapped
    path = _csv(tmp_path / "incidents.csv", rows, encoding="gb18030")
    report = import_file(db, "incidents", path, WGS84)
    assert report.rows_imported == 2
    assert any("1 incidents lay outside every grid and were snapped" in n for n in report.notes)
    rows_db = db.execute(
        text(
            "SELECT i.ext_id, i.category, i.reported_at, i.status, g.code, i.snapped_m,"
            " i.community_id, i.location_datum"
            " FROM incident i LEFT JOIN grid g ON g.id = i.grid_id ORDER BY i.ext_id"
        )
    ).all()
    assert rows_db[0].category == "street_order" and rows_db[0].status == "reported"  # 街面秩序
    assert rows_db[0].reported_at == dt.datetime(2024, 5, 1, 0, 30, tzinfo=dt.UTC)
    assert rows_db[0].code == "370705001001001" and rows_db[0].snapped_m is None
    assert rows_db[1].reported_at == dt.datetime(2024, 5, 2, 9, 0, tzinfo=dt.UTC)
    assert rows_db[1].code == "370705001002001"
    # 16.7 m north of the parallel 36.70; the grid's edge is a geodesic on the geography
    # type, which bulges 0.7 m poleward over its 6.7 km, as live intake measures it.
    assert rows_db[1].snapped_m == pytest.approx(16.0, abs=0.1)
    assert rows_db[1].community_id == ref["370705001002"]
    assert rows_db[1].location_datum == "wgs84"


def test_csv_with_explicit_lon_lat_columns(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    path = _csv(
        tmp_path / "b.csv",
        [{"编号": "X", "ext_id": "B1", "households": "12", "E": "119.12", "N": "36.70"}],
    )
    with pytest.raises(ImportFileError, match=r"no lon/lat columns.*--lon-col"):
        import_file(db, "buildings", path, WGS84)
    report = import_file(db, "buildings", path, WGS84, lon_col="E", lat_col="N")
    assert report.rows_imported == 1
    assert any("编号" in n for n in report.notes)  # ignored columns are named


def test_csv_grids_as_wkt(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    gap = box(119.175, 36.70, 119.25, 36.75)
    path = _csv(
        tmp_path / "grids.csv",
        [{"code": "370705001002002", "name": "二网格", "households": "", "wkt": gap.wkt}],
    )
    report = import_file(db, "grids", path, WGS84)
    assert report.rows_imported == 1
    row = db.execute(
        text(
            "SELECT g.households, a.code FROM grid g JOIN admin_area a ON a.id = g.community_id"
            " WHERE g.code = '370705001002002'"
        )
    ).one()
    assert tuple(row) == (0, "370705001002")


# ---------------------------------------------------------------- all or nothing


def test_one_bad_row_imports_nothing_and_names_the_row(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    path = _geojson(
        tmp_path / "b.geojson",
        [
            ({"ext_id": "B1", "households": 10}, Point(119.12, 36.70)),
            ({"ext_id": "B2", "households": 10}, Point(119.13, 36.70)),
            ({"ext_id": "B3"}, Point(119.14, 36.70)),
            ({"ext_id": "B4", "households": 10}, Point(119.15, 36.70)),
        ],
    )
    err = _rejected(db, "buildings", path)
    assert [(r.row, r.ident, r.reason) for r in err.rejected] == [(3, "B3", "missing households")]
    assert err.total_rows == 4 and "nothing was imported" in str(err)
    assert _count(db, "building") == 0
    assert db.execute(text("SELECT sum(households) FROM grid")).scalar_one() == 0


def test_rejections_export_as_csv(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    path = _geojson(
        tmp_path / "b.geojson",
        [
            ({"ext_id": "B1", "households": -1}, Point(119.12, 36.70)),
            ({"ext_id": "B2", "households": 1}, Point(*OUTSIDE)),
        ],
    )
    err = _rejected(db, "buildings", path)
    out = export_rejections_csv(err, tmp_path / "report.csv")
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["row"], r["id"]) for r in rows] == [("1", "B1"), ("2", "B2")]
    assert "negative" in rows[0]["reason"] and "outside the district" in rows[1]["reason"]


# ---------------------------------------------------------------- rejection reasons


def test_geometry_problems_are_each_reported(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    path = _geojson(
        tmp_path / "b.geojson",
        [
            ({"ext_id": "OK", "households": 1}, Point(119.12, 36.70)),
            ({"ext_id": "NULL", "households": 1}, None),
            ({"ext_id": "GARBLED", "households": 1}, {"type": "Point", "coordinates": "abc"}),
            (
                {"ext_id": "LINE", "households": 1},
                shapely.LineString([(119.12, 36.7), (119.13, 36.7)]),
            ),
            ({"ext_id": "BOWTIE", "households": 1}, BOWTIE),
            ({"ext_id": "FAR", "households": 1}, Point(*OUTSIDE)),
            ({"ext_id": "GAP", "households": 1}, Point(*NO_GRID)),
        ],
    )
    err = _rejected(db, "buildings", path)
    assert {r.row for r in err.rejected} == {2, 3, 4, 5, 6, 7}
    assert "missing or unparsable geometry" in _reasons(err, 2)
    assert "missing or unparsable geometry" in _reasons(err, 3)
    assert "LineString, expected" in _reasons(err, 4)
    assert "invalid geometry: Self-intersection[119.115 36.705]" in _reasons(err, 5)
    assert "outside the district 370705" in _reasons(err, 6)
    # 13.59 km from the district's south-east corner (GRS80 geodesic, pyproj)
    beyond = re.search(r"([\d,]+) m beyond its boundary", _reasons(err, 6))
    assert beyond is not None
    assert float(beyond.group(1).replace(",", "")) == pytest.approx(13_590, rel=0.003)
    assert "not inside any grid" in _reasons(err, 7)
    assert "outside the district" not in _reasons(err, 7)
    assert _count(db, "building") == 0


def test_csv_geometry_problems(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "b.csv",
        [
            {"ext_id": "A", "households": "1", "lon": "abc", "lat": "36.7"},
            {"ext_id": "B", "households": "1", "lon": "", "lat": "36.7"},
            {"ext_id": "C", "households": "1", "lon": "36.70", "lat": "119.12"},
        ],
    )
    err = _rejected(db, "buildings", path)
    assert "lon 'abc' is not a number" in _reasons(err, 1)
    assert "missing lon" in _reasons(err, 2)
    assert "not longitude/latitude" in _reasons(err, 3)
    assert "look swapped" in _reasons(err, 3)
    wkt = _csv(
        tmp_path / "g.csv",
        [
            {"code": "370705001002002", "name": "x", "wkt": "POLYGON EMPTY"},
            {"code": "370705001002003", "name": "y", "wkt": "POLYGON ((1 2, 3"},
        ],
    )
    err = _rejected(db, "grids", wkt)
    assert "empty geometry" in _reasons(err, 1)
    assert "unparsable WKT" in _reasons(err, 2)


def test_projected_coordinates_given_as_lonlat_are_refused(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    x, y = Transformer.from_crs(4326, 4549, always_xy=True).transform(119.12, 36.70)
    err = _rejected(db, "buildings", _buildings(tmp_path, [(x, y)]))
    assert "not longitude/latitude degrees" in _reasons(err, 1)
    assert "EPSG" in _reasons(err, 1)


def test_attribute_problems_are_each_reported(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    p = Point(119.12, 36.70)
    path = _geojson(
        tmp_path / "b.geojson",
        [
            ({"ext_id": "H0", "households": None}, p),
            ({"ext_id": "H1", "households": -3}, p),
            ({"ext_id": "H2", "households": "12.5"}, p),
            ({"ext_id": "H3", "households": "many"}, p),
            ({"ext_id": "H4", "households": 3, "floors": 0}, p),
        ],
    )
    err = _rejected(db, "buildings", path)
    assert _reasons(err, 1) == "missing households"
    assert "households must not be negative" in _reasons(err, 2)
    assert "households '12.5' is not a whole number" in _reasons(err, 3)
    assert "households 'many' is not a whole number" in _reasons(err, 4)
    assert "floors must be greater than 0" in _reasons(err, 5)


def test_community_code_problems(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    squares = iter(box(x, 36.76, x + 0.01, 36.77) for x in np.arange(119.10, 119.25, 0.015))

    def row(code: str, parent: str) -> tuple[dict[str, Any], Polygon]:
        return (
            {"code": code, "name": "n", "parent_code": parent, "households": 1, "population": 2},
            next(squares),
        )

    path = _geojson(
        tmp_path / "c.geojson",
        [
            row("37070500100", "370705001"),  # 11 digits
            row("370705002005", "370705001"),  # does not extend its parent
            row("370705009001", "370705009"),  # no such subdistrict
            row("370705001001", "370705001"),  # already in the database
            row("370705001007", "370705001"),
            row("370705001007", "370705001"),  # twice in the file
            row("370705001008", "3707050"),
        ],
    )
    err = _rejected(db, "communities", path)
    assert "not a 12-digit community code" in _reasons(err, 1)
    assert "code 370705002005 does not extend its parent code 370705001" in _reasons(err, 2)
    assert "unknown parent code 370705009" in _reasons(err, 3)
    assert "duplicate code 370705001001: already in the database" in _reasons(err, 4)
    assert _reasons(err, 5) == ""
    assert "duplicate code 370705001007 (also in row 5)" in _reasons(err, 6)
    assert "neither a 9-digit subdistrict nor a 6-digit district" in _reasons(err, 7)
    assert {r.ident for r in err.rejected if r.row == 4} == {"370705001001"}


def test_grid_code_problems(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    gap = box(119.175, 36.70, 119.25, 36.75)
    path = _geojson(
        tmp_path / "g.geojson",
        [
            ({"code": "37070500100200", "name": "x"}, gap),
            ({"code": "370705001009001", "name": "x"}, gap),
            ({"code": "370705001002001", "name": "x"}, gap),
            ({"code": "370705001001002", "name": "x"}, gap),
            ({"code": "370705001002009", "name": "x", "households": -1}, gap),
        ],
    )
    err = _rejected(db, "grids", path)
    assert "not a 15-digit grid code" in _reasons(err, 1)
    assert "unknown community 370705001009" in _reasons(err, 2)
    assert "duplicate code 370705001002001: already in the database" in _reasons(err, 3)
    assert "extends beyond its community 370705001001" in _reasons(err, 4)
    assert "households must not be negative" in _reasons(err, 5)


def test_a_historic_version_of_a_code_still_valid_clashes(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    db.execute(text("UPDATE grid SET valid_to = '2020-01-01' WHERE code = '370705001002001'"))
    path = _geojson(tmp_path / "g.geojson", [({"code": "370705001002001", "name": "x"}, G2)])
    err = _rejected(db, "grids", path)
    assert "version valid until 2020-01-01" in _reasons(err, 1)


def test_unknown_facility_type(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    path = _geojson(
        tmp_path / "f.geojson",
        [({"ext_id": "F1", "type": "casino", "name": "x"}, Point(119.12, 36.70))],
    )
    err = _rejected(db, "facilities", path)
    assert "unknown facility type 'casino'" in _reasons(err, 1)
    assert "health_station" in _reasons(err, 1)


def test_incident_date_problems(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    p = Point(119.12, 36.70)
    path = _geojson(
        tmp_path / "i.geojson",
        [
            ({"ext_id": "I1", "category": "c", "reported_at": "yesterday"}, p),
            ({"ext_id": "I2", "category": "c", "reported_at": "2024-13-45T00:00:00"}, p),
            ({"ext_id": "I3", "category": "c", "reported_at": "2999-01-01T00:00:00+08:00"}, p),
            ({"ext_id": "I4", "category": "c"}, p),
            ({"ext_id": "I5", "category": "c" * 41, "reported_at": "2024-01-01"}, p),
        ],
    )
    err = _rejected(db, "incidents", path)
    assert "reported_at 'yesterday' is not an ISO 8601" in _reasons(err, 1)
    assert "is not an ISO 8601" in _reasons(err, 2)
    assert "in the future" in _reasons(err, 3)
    assert "missing reported_at" in _reasons(err, 4)
    assert "category is longer than 40" in _reasons(err, 5)


def test_duplicate_ext_id_within_the_file_and_against_the_database(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    import_file(db, "buildings", _buildings(tmp_path, [(119.12, 36.70)], "first.geojson"), WGS84)
    path = _geojson(
        tmp_path / "second.geojson",
        [
            ({"ext_id": "B1", "households": 1}, Point(119.12, 36.71)),  # B1 is stored
            ({"ext_id": "N1", "households": 1}, Point(119.12, 36.72)),
            ({"ext_id": "N1", "households": 1}, Point(119.12, 36.73)),
        ],
    )
    err = _rejected(db, "buildings", path)
    assert [(r.row, r.ident) for r in err.rejected] == [(1, "B1"), (3, "N1")]
    assert "duplicate ext_id B1: already in the database" in _reasons(err, 1)
    assert "duplicate ext_id N1 (also in row 2)" in _reasons(err, 3)
    assert _count(db, "building") == 1


def test_no_district_loaded_is_a_clear_error(db: Session, tmp_path: Path) -> None:
    with pytest.raises(NoDistrictError, match="no district boundary is loaded") as info:
        import_file(db, "buildings", _buildings(tmp_path, [(119.12, 36.70)]), WGS84)
    assert "import one with `gridmap import districts FILE --datum ...`" in str(info.value)
    assert isinstance(info.value, NotFoundError)


def test_import_errors_and_settings_live_in_their_own_modules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert issubclass(ImportFileError, InvalidParameterError)
    assert issubclass(DatumMismatchError, InvalidParameterError)
    assert issubclass(NoDistrictError, NotFoundError)
    assert gis.errors.NoDistrictError is NoDistrictError
    monkeypatch.delenv("GRIDMAP_MAX_IMPORT_BYTES", raising=False)
    assert ImportSettings().max_import_bytes == 200 * 1024 * 1024
    monkeypatch.setenv("GRIDMAP_MAX_IMPORT_BYTES", "1234")
    assert ImportSettings().max_import_bytes == 1234
    assert ImportSettings(GRIDMAP_MAX_IMPORT_BYTES=99).max_import_bytes == 99


# ---------------------------------------------------------------- districts and subdistricts

WEST = box(118.95, 36.62, 119.10, 36.80)  # a neighbouring district, 370702


def _square(x: float, y: float, size: float = 0.01) -> Polygon:
    return box(x, y, x + size, y + size)


def _admin_rows(db: Session, level: str) -> list[Any]:
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


def test_district_rows_are_checked_without_a_district_loaded(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    path = _geojson(
        tmp_path / "d.geojson",
        [
            ({"code": "370705", "name": "奎文区"}, DISTRICT),  # already current
            ({"code": "37070", "name": "x"}, WEST),
            ({"code": "370702", "name": "潍城区"}, WEST),
            ({"code": "370702", "name": "again"}, WEST),
            ({"code": "370703", "name": "point"}, Point(119.0, 36.7)),
            ({"code": "370704", "name": "far away", "households": -1}, _square(114.0, 22.5)),
        ],
    )
    err = _rejected(db, "districts", path)
    assert "duplicate code 370705: already in the database" in _reasons(err, 1)
    assert "not a 6-digit district code" in _reasons(err, 2)
    assert _reasons(err, 3) == ""  # outside 370705, and no district has to contain it
    assert "duplicate code 370702 (also in row 3)" in _reasons(err, 4)
    assert "geometry is a Point" in _reasons(err, 5)
    assert _reasons(err, 6) == "households must not be negative, got -1"
    assert [r.code for r in _admin_rows(db, "district")] == ["370705"]


def test_a_district_version_still_in_force_clashes(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    # The exclusion constraint refuses overlapping validity periods of one code;
    # validation must say so row by row rather than let the database fail the COPY.
    db.execute(text("UPDATE admin_area SET valid_to = '2030-01-01' WHERE code = '370705'"))
    err = _rejected(
        db, "districts", _geojson(tmp_path / "d.geojson", [({"code": "370705", "name": "x"}, WEST)])
    )
    assert "version valid until 2030-01-01" in _reasons(err, 1)


def test_subdistrict_rows_are_checked(db: Session, tmp_path: Path) -> None:
    _area(db, "370705", "district", None, DISTRICT)
    _area(db, "370702", "district", None, WEST)
    sticks_out_3m = box(119.20, 36.79, 119.21, 36.80003)  # 3.3 m north of the district
    path = _geojson(
        tmp_path / "s.geojson",
        [
            ({"code": "370705003", "name": "ok", "population": 5}, _square(119.11, 36.63)),
            ({"code": "370705004", "name": "x", "parent_code": "370702"}, _square(119.13, 36.63)),
            ({"code": "370709001", "name": "x"}, _square(119.15, 36.63)),
            ({"code": "3707050051", "name": "x"}, _square(119.17, 36.63)),
            ({"code": "370705006", "name": "in 370702"}, _square(119.00, 36.63)),
            ({"code": "370705007", "name": "nowhere"}, _square(119.40, 36.63)),
            ({"code": "370705008", "name": "x", "parent_code": "3707"}, _square(119.19, 36.63)),
            ({"code": "370705009", "name": "edge", "parent_code": "370705"}, sticks_out_3m),
        ],
    )
    err = _rejected(db, "subdistricts", path)
    assert _reasons(err, 1) == ""
    assert "code 370705004 does not extend its parent code 370702" in _reasons(err, 2)
    assert (
        "unknown district 370709: no current district with that code in the database; "
        "import it first with `gridmap import districts FILE --datum ...`"
    ) in _reasons(err, 3)
    assert "not a 9-digit subdistrict code" in _reasons(err, 4)
    assert _reasons(err, 5) == "extends beyond its district 370705"
    assert "outside the district 370702/370705" in _reasons(err, 6)
    assert "parent_code '3707' is not a 6-digit district code" in _reasons(err, 7)
    assert _reasons(err, 8) == ""  # within the 5 m tolerance
    assert _admin_rows(db, "subdistrict") == []

    good = _geojson(
        tmp_path / "good.geojson",
        [
            ({"code": "370705003", "name": "ok", "population": 5}, _square(119.11, 36.63)),
            ({"code": "370705009", "name": "edge", "parent_code": "370705"}, sticks_out_3m),
        ],
    )
    report = import_file(db, "subdistricts", good, WGS84)
    assert report.rows_imported == 2
    rows = _admin_rows(db, "subdistrict")
    assert [(r.code, r.parent, r.households, r.population, r.gt) for r in rows] == [
        ("370705003", "370705", 0, 5, "MULTIPOLYGON"),
        ("370705009", "370705", 0, 0, "MULTIPOLYGON"),
    ]


def _deployment_files(tmp_path: Path) -> dict[str, Path]:
    """A whole district from scratch: 2 subdistricts, 20 communities in the first, 1,000 grids.

    Edges come from one linspace per level, so neighbours share exact coordinates.
    """
    west, south, north = 119.10, 36.62, 36.80
    mid, east = 119.175, 119.25
    files = {
        "districts": _geojson(
            tmp_path / "district.geojson",
            [({"code": "370705", "name": "奎文区", "population": 420000}, DISTRICT)],
        ),
        "subdistricts": _geojson(
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
    files["communities"] = _geojson(tmp_path / "communities.geojson", communities)
    files["grids"] = _geojson(tmp_path / "grids.geojson", grids)
    return files


def test_a_deployment_loads_district_then_subdistricts_communities_and_grids(
    db: Session, tmp_path: Path
) -> None:
    files = _deployment_files(tmp_path)
    with pytest.raises(NoDistrictError, match="gridmap import districts FILE"):
        import_file(db, "subdistricts", files["subdistricts"], WGS84)

    report = import_file(db, "districts", files["districts"], WGS84)
    assert report.rows_imported == 1 and report.notes == []
    (district,) = _admin_rows(db, "district")
    assert (district.code, district.parent, district.population, district.households) == (
        "370705",
        None,
        420000,
        0,
    )

    report = import_file(db, "subdistricts", files["subdistricts"], WGS84)
    assert report.rows_imported == 2
    assert report.notes == [
        "subdistricts now cover 100.0% of district 370705 (2 subdistricts, 2 from this file)"
    ]

    report = import_file(db, "communities", files["communities"], WGS84)
    assert report.rows_imported == 20
    assert report.notes == [
        "communities now cover 100.0% of subdistrict 370705001 (20 communities, 20 from this file)"
    ]

    report = import_file(db, "grids", files["grids"], WGS84)
    assert report.rows_imported == 1000
    assert report.notes == [
        "grids now cover 100.0% of the 20 communities this file adds to (20 fully covered)"
    ]
    assert _count(db, "grid") == 1000
    # every grid in exactly one community, as the standard demands
    assert (
        db.execute(
            text(
                "SELECT count(*) FROM grid g JOIN admin_area a"
                " ON ST_Covers(a.geom, ST_PointOnSurface(g.geom)) AND a.level = 'community'"
            )
        ).scalar_one()
        == 1000
    )


def test_one_overlap_among_1000_grids_is_found_quickly(db: Session, tmp_path: Path) -> None:
    files = _deployment_files(tmp_path)
    for layer in ("districts", "subdistricts", "communities"):
        import_file(db, layer, files[layer], WGS84)
    doc = json.loads(files["grids"].read_text(encoding="utf-8"))
    ring = doc["features"][6]["geometry"]["coordinates"][0]  # grid 007: column 1, row 1
    for point in ring:
        point[0] -= 0.0001  # ~9 m west, into grid 006
    files["grids"].write_text(json.dumps(doc), encoding="utf-8")

    started = time.perf_counter()
    err = _rejected(db, "grids", files["grids"])
    seconds = time.perf_counter() - started
    assert [(r.row, r.ident) for r in err.rejected] == [
        (6, "370705001001006"),
        (7, "370705001001007"),
    ]
    assert _reasons(err, 6).startswith("overlaps row 7 (370705001001007) by ")
    assert _reasons(err, 7).startswith("overlaps row 6 (370705001001006) by ")
    assert seconds < 10, f"checking 1,000 grids took {seconds:.1f} s"


# ---------------------------------------------------------------- tiling


_GEOD = Geod(ellps="GRS80")


def _geodesic_m2(geom: shapely.Geometry) -> float:
    return abs(_GEOD.geometry_area_perimeter(geom)[0])


def _overlap_m2(reason: str) -> float:
    match = re.search(r"by ([\d,.]+) m²", reason)
    assert match, reason
    return float(match.group(1).replace(",", ""))


def test_overlapping_grids_in_one_file_are_refused_naming_each_other(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    a = box(119.18, 36.70, 119.20, 36.75)
    b = box(119.199, 36.70, 119.22, 36.75)  # 0.001° (~89 m) over a
    c = box(119.22, 36.70, 119.25, 36.75)  # shares an edge with b: fine
    path = _geojson(
        tmp_path / "g.geojson",
        [
            ({"code": "370705001002002", "name": "a"}, a),
            ({"code": "370705001002003", "name": "b"}, b),
            ({"code": "370705001002004", "name": "c"}, c),
        ],
    )
    err = _rejected(db, "grids", path)
    assert [r.row for r in err.rejected] == [1, 2]
    assert "overlaps row 2 (370705001002003) by " in _reasons(err, 1)
    assert "overlaps row 1 (370705001002002) by " in _reasons(err, 2)
    expected = _geodesic_m2(a.intersection(b))
    assert expected == pytest.approx(495_000, rel=0.01)
    assert _overlap_m2(_reasons(err, 1)) == pytest.approx(expected, rel=0.002)
    assert _count(db, "grid") == 2


def test_an_area_overlapping_a_stored_one_is_refused(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    low = box(119.18, 36.69, 119.20, 36.75)  # 0.01° down into grid 370705001002001
    err = _rejected(
        db,
        "grids",
        _geojson(tmp_path / "g.geojson", [({"code": "370705001002002", "name": "x"}, low)]),
    )
    reason = _reasons(err, 1)
    assert reason.startswith("overlaps grid 370705001002001 already in the database by ")
    assert _overlap_m2(reason) == pytest.approx(_geodesic_m2(low.intersection(G2)), rel=0.002)

    # communities too: this one reaches 0.01° into community 370705001001
    community = box(119.11, 36.74, 119.12, 36.76)
    path = _geojson(
        tmp_path / "c.geojson",
        [
            (
                {
                    "code": "370705001003",
                    "name": "x",
                    "parent_code": "370705001",
                    "households": 1,
                    "population": 1,
                },
                community,
            )
        ],
    )
    reason = _reasons(_rejected(db, "communities", path), 1)
    assert reason.startswith("overlaps community 370705001001 already in the database by ")
    assert _overlap_m2(reason) == pytest.approx(_geodesic_m2(community.intersection(C1)), rel=0.002)


def test_overlapping_subdistricts_are_refused(db: Session, tmp_path: Path) -> None:
    _area(db, "370705", "district", None, DISTRICT)
    path = _geojson(
        tmp_path / "s.geojson",
        [
            ({"code": "370705001", "name": "a"}, box(119.10, 36.62, 119.18, 36.80)),
            ({"code": "370705002", "name": "b"}, box(119.17, 36.62, 119.25, 36.80)),
        ],
    )
    err = _rejected(db, "subdistricts", path)
    assert "overlaps row 2 (370705002) by " in _reasons(err, 1)
    assert "overlaps row 1 (370705001) by " in _reasons(err, 2)


def test_overlap_tolerance_is_one_square_metre(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    def grid_dipping(depth_deg: float) -> Polygon:
        # The gap above grid 370705001002001, with a 1.8 m wide spike down into it.
        return Polygon(
            [
                (119.175, 36.70),
                (119.20, 36.70),
                (119.20001, 36.70 - depth_deg),
                (119.20002, 36.70),
                (119.25, 36.70),
                (119.25, 36.75),
                (119.175, 36.75),
            ]
        )

    deep = grid_dipping(0.00005)  # ~5.6 m deep: ~5 m² of overlap
    err = _rejected(
        db,
        "grids",
        _geojson(tmp_path / "deep.geojson", [({"code": "370705001002002", "name": "x"}, deep)]),
    )
    expected = _geodesic_m2(deep.intersection(G2))
    assert 4 < expected < 6
    assert _overlap_m2(_reasons(err, 1)) == pytest.approx(expected, abs=0.1)

    shallow = grid_dipping(0.000005)  # ~0.5 m²: digitising noise, accepted
    assert _geodesic_m2(shallow.intersection(G2)) < 1
    path = _geojson(
        tmp_path / "shallow.geojson", [({"code": "370705001002002", "name": "x"}, shallow)]
    )
    assert import_file(db, "grids", path, WGS84).rows_imported == 1


def test_edges_shared_at_a_t_junction_are_not_an_overlap(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    # The gap's west edge (lat 36.70-36.75) lies on grid 370705001001001's east
    # edge (lat 36.62-36.75), and its south edge has a vertex in the middle of
    # grid 370705001002001's north edge. Straight in lon/lat, these edges would
    # bend apart if projected before intersecting, and "overlap" by slivers.
    gap = Polygon(
        [(119.175, 36.70), (119.21, 36.70), (119.25, 36.70), (119.25, 36.75), (119.175, 36.75)]
    )
    path = _geojson(tmp_path / "g.geojson", [({"code": "370705001002002", "name": "x"}, gap)])
    report = import_file(db, "grids", path, WGS84)
    assert report.rows_imported == 1
    assert "grids now cover 100.0% of community 370705001002 (2 grids, 1 from this file)" in (
        report.notes
    )


def test_a_community_must_lie_within_its_subdistrict(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    _area(db, "370705002", "subdistrict", ref["370705"], box(119.10, 36.75, 119.15, 36.80))
    row = {"name": "x", "households": 1, "population": 1}
    path = _geojson(
        tmp_path / "c.geojson",
        [
            ({**row, "code": "370705002001", "parent_code": "370705002"}, _square(119.145, 36.76)),
            ({**row, "code": "370705002002", "parent_code": "370705002"}, _square(119.12, 36.76)),
        ],
    )
    err = _rejected(db, "communities", path)
    assert _reasons(err, 1) == "extends beyond its subdistrict 370705002"
    assert _reasons(err, 2) == ""


def _percent_in(note: str) -> float:
    match = re.search(r"cover ([\d.]+)%", note)
    assert match, note
    return float(match.group(1))


def test_the_summary_says_how_much_of_the_parent_is_covered(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    part = box(119.175, 36.70, 119.25, 36.73)
    report = import_file(
        db,
        "grids",
        _geojson(tmp_path / "a.geojson", [({"code": "370705001002002", "name": "a"}, part)]),
        WGS84,
    )
    (note,) = [n for n in report.notes if "cover" in n]
    uncovered = _geodesic_m2(box(119.175, 36.73, 119.25, 36.75))
    share = 100 * (1 - uncovered / _geodesic_m2(C2))
    assert (
        note.startswith("grids now cover ") and "of community 370705001002 (2 grids, 1 from" in note
    )
    assert _percent_in(note) == pytest.approx(share, abs=0.11)
    assert _percent_in(note) < 100
    assert re.search(r"; ([\d,]+) m² not covered\)$", note)
    assert float(re.findall(r"([\d,]+) m² not", note)[0].replace(",", "")) == pytest.approx(
        uncovered, rel=0.002
    )

    rest = box(119.175, 36.73, 119.25, 36.75)
    report = import_file(
        db,
        "grids",
        _geojson(tmp_path / "b.geojson", [({"code": "370705001002003", "name": "b"}, rest)]),
        WGS84,
    )
    assert "grids now cover 100.0% of community 370705001002 (3 grids, 1 from this file)" in (
        report.notes
    )

    # A community directly under the district (no subdistrict level): its parent is the district.
    path = _geojson(
        tmp_path / "c.geojson",
        [
            (
                {
                    "code": "370705002001",
                    "name": "直属",
                    "parent_code": "370705",
                    "households": 1,
                    "population": 1,
                },
                _square(119.20, 36.76),
            )
        ],
    )
    (note,) = import_file(db, "communities", path, WGS84).notes
    share = 100 * _geodesic_m2(_square(119.20, 36.76)) / _geodesic_m2(DISTRICT)
    assert (
        note.startswith("communities now cover ")
        and "of district 370705 (1 community, 1 from" in note
    )
    assert _percent_in(note) == pytest.approx(share, abs=0.11)


def test_coverage_of_many_parents_is_summarised_naming_the_least_covered() -> None:
    # Pure validation, no database: 12 communities, two of them only partly gridded.
    communities = [
        Area(
            id=k, code=f"370705001{k:03d}", level="community", geom=_square(119.10 + k / 100, 36.63)
        )
        for k in range(1, 13)
    ]
    ref = ReferenceData(district_codes=["370705"], district=DISTRICT, communities=communities)
    records = []
    for c in communities:
        assert c.geom is not None
        x0, y0, x1, y1 = c.geom.bounds
        share = {3: 0.5, 7: 0.25}.get(c.id, 1.0)
        records.append({"community_id": c.id, "geom": box(x0, y0, x1, y0 + (y1 - y0) * share)})
    (note,) = coverage_notes("grids", records, ref)
    assert note.endswith(
        "of the 12 communities this file adds to (10 fully covered); "
        "least covered: 370705001007 25.0%, 370705001003 50.0%"
    )
    assert _percent_in(note) == pytest.approx(100 * (12 - 0.5 - 0.75) / 12, abs=0.11)


# ---------------------------------------------------------------- datums


def _truth(n: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 points spread over both grids, away from every edge."""
    rng = np.random.default_rng(7)
    return rng.uniform(119.11, 119.24, n), rng.uniform(36.63, 36.69, n)


def _max_error_m(db: Session, lon: np.ndarray, lat: np.ndarray) -> float:
    rows = db.execute(
        text(
            "SELECT max(ST_Distance(b.location::geography,"
            " ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326)::geography))"
            " FROM building b JOIN unnest(CAST(:ids AS text[]), CAST(:lon AS float8[]),"
            " CAST(:lat AS float8[])) AS t(ext_id, lon, lat) ON t.ext_id = b.ext_id"
        ),
        {"ids": [f"T{i}" for i in range(len(lon))], "lon": lon.tolist(), "lat": lat.tolist()},
    ).scalar_one()
    return float(rows)


@pytest.mark.parametrize("datum", [GCJ02, BD09], ids=["gcj02", "bd09"])
def test_consumer_map_coordinates_land_within_a_metre(
    db: Session, ref: dict[str, int], tmp_path: Path, datum: Any
) -> None:
    lon, lat = _truth()
    x, y = from_wgs84(lon, lat, datum)
    assert np.hypot(x - lon, y - lat).min() > 0.004  # hundreds of metres off as given
    path = _gis_file(
        tmp_path / "phone.gpkg",
        [{"ext_id": f"T{i}", "households": 1} for i in range(len(x))],
        list(shapely.points(x, y)),
        4326,  # mislabelled as WGS84, as consumer-map exports are: allowed
    )
    report = import_file(db, "buildings", path, datum)
    assert report.rows_imported == len(lon) and report.datum == datum.label
    assert _max_error_m(db, lon, lat) <= 1.0


@pytest.mark.parametrize(("datum", "flag"), [(GCJ02, "gcj02"), (BD09, "bd09")])
def test_consumer_map_coordinates_given_as_wgs84_are_refused_with_a_hint(
    db: Session, ref: dict[str, int], tmp_path: Path, datum: Any, flag: str
) -> None:
    # True positions along the east edge of the district: shifted east, they leave it.
    lon = np.array([119.12, 119.246, 119.247, 119.248])
    lat = np.array([36.66, 36.65, 36.66, 36.67])
    x, y = from_wgs84(lon, lat, datum)
    path = _buildings(tmp_path, list(zip(x.tolist(), y.tolist(), strict=True)))
    err = _rejected(db, "buildings", path, WGS84)
    name = {"gcj02": "GCJ-02", "bd09": "BD-09"}[flag]
    hint = f"looks like {name} coordinates given as WGS84: re-run with --datum {flag}"
    for row in (2, 3, 4):
        assert hint in _reasons(err, row)
    assert _reasons(err, 1) == ""  # still inside, nothing to say about that one
    assert _count(db, "building") == 0
    # and re-run as the hint says, it goes in
    assert import_file(db, "buildings", path, datum).rows_imported == 4


def test_wgs84_given_as_gcj02_gets_the_reverse_hint(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    path = _buildings(tmp_path, [(119.103, 36.66)])  # GCJ->WGS moves it ~520 m west, out
    err = _rejected(db, "buildings", path, GCJ02)
    assert "looks like WGS84 coordinates given as GCJ-02: re-run with --datum wgs84" in _reasons(
        err, 1
    )


def test_epsg_4549_is_converted(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    lon, lat = _truth()
    x, y = Transformer.from_crs(4326, 4549, always_xy=True).transform(lon, lat)
    assert np.all(x > 400_000)  # metres of the Gauss-Krüger zone, not degrees
    path = _gis_file(
        tmp_path / "gk.gpkg",
        [{"ext_id": f"T{i}", "households": 1} for i in range(len(lon))],
        list(shapely.points(x, y)),
        4549,
    )
    report = import_file(db, "buildings", path, parse_datum("EPSG:4549"))
    assert report.datum == "EPSG:4549" and report.rows_imported == len(lon)
    assert _max_error_m(db, lon, lat) <= 0.01


def test_epsg_4549_csv_with_x_y_columns(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    x, y = Transformer.from_crs(4326, 4549, always_xy=True).transform(119.12, 36.70)
    path = _csv(
        tmp_path / "gk.csv", [{"ext_id": "T0", "households": "1", "x": f"{x:.3f}", "y": f"{y:.3f}"}]
    )
    assert import_file(db, "buildings", path, parse_datum("epsg:4549")).rows_imported == 1
    assert _max_error_m(db, np.array([119.12]), np.array([36.70])) <= 0.01


@pytest.mark.parametrize(
    ("declared", "datum"),
    [
        (3857, "wgs84"),
        (3857, "gcj02"),
        (4326, "EPSG:4549"),
        (4549, "cgcs2000"),
        (4549, "EPSG:4548"),
    ],
)
def test_declared_crs_contradicting_the_datum_is_refused(
    db: Session, ref: dict[str, int], tmp_path: Path, declared: int, datum: str
) -> None:
    x, y = Transformer.from_crs(4326, declared, always_xy=True).transform(119.12, 36.70)
    path = _gis_file(
        tmp_path / "f.gpkg", [{"ext_id": "B1", "households": 1}], [Point(x, y)], declared
    )
    with pytest.raises(
        DatumMismatchError, match=rf"f\.gpkg declares .*EPSG:{declared}.*contradicts"
    ) as info:
        import_file(db, "buildings", path, parse_datum(datum))
    assert f"--datum EPSG:{declared}" in str(info.value)
    assert _count(db, "building") == 0


def test_geojson_crs_member_is_honoured(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    x, y = Transformer.from_crs(4326, 4549, always_xy=True).transform(119.12, 36.70)
    path = _geojson(
        tmp_path / "gk.geojson",
        [({"ext_id": "B1", "households": 1}, Point(x, y))],
        crs="urn:ogc:def:crs:EPSG::4549",
    )
    with pytest.raises(DatumMismatchError):
        import_file(db, "buildings", path, WGS84)
    assert import_file(db, "buildings", path, parse_datum("EPSG:4549")).rows_imported == 1


def test_unknown_datum_and_layer_are_clear_errors(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    path = _buildings(tmp_path, [(119.12, 36.70)])
    with pytest.raises(UnknownDatumError, match="unknown datum 'google'"):
        parse_datum("google")
    with pytest.raises(InvalidParameterError, match="unknown layer 'houses'"):
        import_file(db, "houses", path, WGS84)


# ---------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        (
            "broken.geojson",
            '{"type": "FeatureCollection", "features": [',
            "cannot be read as GeoJSON",
        ),
        ("junk.gpkg", "this is not a geopackage", "cannot be read as GeoPackage"),
        ("empty.csv", "", "empty"),
        ("header.csv", "ext_id,households,lon,lat\n", "no rows"),
        ("b.xlsx", "PK", "unsupported file type .xlsx"),
        ("empty.geojson", '{"type": "FeatureCollection", "features": []}', "no rows"),
    ],
)
def test_malformed_files_are_clear_errors(
    db: Session, ref: dict[str, int], tmp_path: Path, name: str, content: str, match: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ImportFileError, match=match) as info:
        import_file(db, "buildings", path, WGS84)
    assert name in str(info.value)


def test_missing_file_and_missing_columns(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        import_file(db, "buildings", tmp_path / "nope.geojson", WGS84)
    path = _geojson(
        tmp_path / "c.geojson", [({"code": "370705001003"}, box(119.11, 36.63, 119.12, 36.64))]
    )
    with pytest.raises(
        ImportFileError, match=r"missing required column.*name, parent_code, households, population"
    ):
        import_file(db, "communities", path, WGS84)
    csv_path = _csv(tmp_path / "c.csv", [{"code": "370705001003", "name": "x"}])
    with pytest.raises(ImportFileError, match="WKT"):
        import_file(db, "communities", csv_path, WGS84)


def test_oversized_file_is_refused(
    db: Session, ref: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _buildings(tmp_path, [(119.12, 36.70)] * 50)
    monkeypatch.setenv("GRIDMAP_MAX_IMPORT_BYTES", "1000")
    with pytest.raises(PayloadTooLargeError, match="GRIDMAP_MAX_IMPORT_BYTES"):
        import_file(db, "buildings", path, WGS84)
    monkeypatch.delenv("GRIDMAP_MAX_IMPORT_BYTES")
    with pytest.raises(PayloadTooLargeError):
        import_file(db, "buildings", path, WGS84, max_bytes=100)
    assert _count(db, "building") == 0


# ---------------------------------------------------------------- the database still refuses


def test_database_refusal_rolls_back_and_is_a_clear_error(
    db: Session, ref: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_file(db, "buildings", _buildings(tmp_path, [(119.12, 36.70)], "first.geojson"), WGS84)
    # Blind the validator to what is stored, as a concurrent import would.
    monkeypatch.setattr("gis.imports._reference._taken", lambda *a: {})
    path = _buildings(tmp_path, [(119.13, 36.70), (119.12, 36.71)], "second.geojson")  # B1 again
    with pytest.raises(ConflictError, match=r"refused the buildings import.*B1"):
        import_file(db, "buildings", path, WGS84)
    assert _count(db, "building") == 1  # the earlier import stands, the session still works
    assert (
        db.execute(text("SELECT households FROM grid WHERE code = '370705001001001'")).scalar_one()
        == 10
    )


# ---------------------------------------------------------------- progress and CLI


def test_progress_bar_reports_rows(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=100)
    points = [(119.11 + i * 1e-5, 36.70) for i in range(1500)]
    with progress_bars(console=console) as progress:
        import_file(db, "buildings", _buildings(tmp_path, points), WGS84, progress=progress)
    output = buffer.getvalue()
    assert "writing buildings" in output and "1500/1500" in output


@contextlib.contextmanager
def _engine_of(db: Session) -> Iterator[Any]:
    yield db.connection()


def test_cli_prints_a_summary_or_the_rejections(
    db: Session, ref: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setattr("cli.import_command.open_engine", lambda: _engine_of(db))
    runner = CliRunner()
    good = _buildings(tmp_path, [(119.12, 36.70)], "good.geojson")
    result = runner.invoke(app, ["import", "buildings", str(good), "--datum", "wgs84"])
    assert result.exit_code == 0, result.output
    assert "rows imported" in result.output and "1" in result.output

    bad = _geojson(
        tmp_path / "bad.geojson",
        [
            ({"ext_id": "Z8", "households": 3}, Point(119.12, 36.70)),
            ({"ext_id": "Z9"}, Point(119.12, 36.70)),
        ],
    )
    report = tmp_path / "report.csv"
    result = runner.invoke(
        app, ["import", "buildings", str(bad), "--datum", "wgs84", "--report-csv", str(report)]
    )
    assert result.exit_code == 1
    assert "Z9" in result.output and "missing households" in result.output
    assert "Traceback" not in result.output
    assert "missing households" in report.read_text(encoding="utf-8-sig")

    result = runner.invoke(app, ["import", "buildings", str(good), "--datum", "google"])
    assert result.exit_code == 1 and "unknown datum" in result.output


def test_cli_imports_a_district_first(
    db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setattr("cli.import_command.open_engine", lambda: _engine_of(db))
    runner = CliRunner()
    files = _deployment_files(tmp_path)
    result = runner.invoke(app, ["import", "--help"])
    assert "districts, subdistricts, communities, grids" in " ".join(
        result.output.replace("│", " ").split()
    )

    result = runner.invoke(
        app, ["import", "subdistricts", str(files["subdistricts"]), "--datum", "wgs84"]
    )
    assert result.exit_code == 1
    assert "gridmap import districts FILE --datum" in " ".join(result.output.split())

    for layer in ("districts", "subdistricts"):
        result = runner.invoke(app, ["import", layer, str(files[layer]), "--datum", "wgs84"])
        assert result.exit_code == 0, result.output
    assert "subdistricts now cover 100.0% of district 370705" in " ".join(result.output.split())
    assert [r.code for r in _admin_rows(db, "subdistrict")] == ["370705001", "370705002"]


def test_incident_category_and_status_must_be_known(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    p = Point(119.12, 36.70)
    at = "2025-03-01T09:00:00+08:00"
    path = _geojson(
        tmp_path / "i.geojson",
        [
            (
                {
                    "ext_id": "K1",
                    "category": "dispute",
                    "reported_at": at,
                    "status": "accepted",
                    "accepted_at": at,
                },
                p,
            ),
            ({"ext_id": "K2", "category": "noise", "reported_at": at}, p),
            ({"ext_id": "K3", "category": "dispute", "reported_at": at, "status": "done"}, p),
        ],
    )
    err = _rejected(db, "incidents", path)
    assert [r.row for r in err.rejected] == [2, 3]
    assert "unknown incident category 'noise'" in _reasons(err, 2)
    assert "city_appearance" in _reasons(err, 2)
    assert "unknown status 'done'" in _reasons(err, 3) and "dispatched" in _reasons(err, 3)
