"""Reading files: every format, CSV columns, declared CRSs, files that cannot be read."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
from pyproj import Transformer
from shapely.geometry import Point, box
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import DatumMismatchError, ImportFileError, PayloadTooLargeError
from gis.geo.datum import CGCS2000, WGS84, parse_datum
from gis.imports.importer import import_file
from tests.gis.imports.import_district import (
    NO_GRID,
    buildings_file,
    count_rows,
    reasons,
    rejected,
    write_csv,
    write_geojson,
    write_gis_file,
)


def test_geojson_buildings_import_with_grid_and_footprint(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    footprint = box(119.180, 36.650, 119.181, 36.651)
    path = write_geojson(
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
    write_gis_file(path, [{"x": 1}], [Point(119.2, 36.7)], 4326, layer="other")
    write_gis_file(
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
    path = write_gis_file(
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
    shp = write_gis_file(
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
    # Excel on Chinese Windows writes GB18030.
    path = write_csv(tmp_path / "incidents.csv", rows, encoding="gb18030")
    err = rejected(db, "incidents", path)
    assert [r.row for r in err.rejected] == [2]
    assert "2,219 m from the nearest grid 370705001002001" in reasons(err, 2)
    assert "snap tolerance of 30 m" in reasons(err, 2)
    assert count_rows(db, "incident") == 0

    rows[1]["latitude"] = "36.70015"  # on the road 16.7 m north of grid ...002001: snapped
    path = write_csv(tmp_path / "incidents.csv", rows, encoding="gb18030")
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
    path = write_csv(
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
    path = write_csv(
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


def test_csv_geometry_problems(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "b.csv",
        [
            {"ext_id": "A", "households": "1", "lon": "abc", "lat": "36.7"},
            {"ext_id": "B", "households": "1", "lon": "", "lat": "36.7"},
            {"ext_id": "C", "households": "1", "lon": "36.70", "lat": "119.12"},
        ],
    )
    err = rejected(db, "buildings", path)
    assert "lon 'abc' is not a number" in reasons(err, 1)
    assert "missing lon" in reasons(err, 2)
    assert "not longitude/latitude" in reasons(err, 3)
    assert "look swapped" in reasons(err, 3)
    wkt = write_csv(
        tmp_path / "g.csv",
        [
            {"code": "370705001002002", "name": "x", "wkt": "POLYGON EMPTY"},
            {"code": "370705001002003", "name": "y", "wkt": "POLYGON ((1 2, 3"},
        ],
    )
    err = rejected(db, "grids", wkt)
    assert "empty geometry" in reasons(err, 1)
    assert "unparsable WKT" in reasons(err, 2)


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
    path = write_gis_file(
        tmp_path / "f.gpkg", [{"ext_id": "B1", "households": 1}], [Point(x, y)], declared
    )
    with pytest.raises(
        DatumMismatchError, match=rf"f\.gpkg declares .*EPSG:{declared}.*contradicts"
    ) as info:
        import_file(db, "buildings", path, parse_datum(datum))
    assert f"--datum EPSG:{declared}" in str(info.value)
    assert count_rows(db, "building") == 0


def test_geojson_crs_member_is_honoured(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    x, y = Transformer.from_crs(4326, 4549, always_xy=True).transform(119.12, 36.70)
    path = write_geojson(
        tmp_path / "gk.geojson",
        [({"ext_id": "B1", "households": 1}, Point(x, y))],
        crs="urn:ogc:def:crs:EPSG::4549",
    )
    with pytest.raises(DatumMismatchError):
        import_file(db, "buildings", path, WGS84)
    assert import_file(db, "buildings", path, parse_datum("EPSG:4549")).rows_imported == 1


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        (
            "broken.geojson",
            '{"type": "FeatureCollection", "features": [',
            "cannot be read as GeoJSON",
        ),
        ("junk.gpkg", "this is not a geopackage", "not a GeoPackage"),
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
    path = write_geojson(
        tmp_path / "c.geojson", [({"code": "370705001003"}, box(119.11, 36.63, 119.12, 36.64))]
    )
    with pytest.raises(
        ImportFileError, match=r"missing required column.*name, parent_code, households, population"
    ):
        import_file(db, "communities", path, WGS84)
    csv_path = write_csv(tmp_path / "c.csv", [{"code": "370705001003", "name": "x"}])
    with pytest.raises(ImportFileError, match="WKT"):
        import_file(db, "communities", csv_path, WGS84)


def test_oversized_file_is_refused(
    db: Session, ref: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = buildings_file(tmp_path, [(119.12, 36.70)] * 50)
    monkeypatch.setenv("GRIDMAP_MAX_IMPORT_BYTES", "1000")
    with pytest.raises(PayloadTooLargeError, match="GRIDMAP_MAX_IMPORT_BYTES"):
        import_file(db, "buildings", path, WGS84)
    monkeypatch.delenv("GRIDMAP_MAX_IMPORT_BYTES")
    with pytest.raises(PayloadTooLargeError):
        import_file(db, "buildings", path, WGS84, max_bytes=100)
    assert count_rows(db, "building") == 0
