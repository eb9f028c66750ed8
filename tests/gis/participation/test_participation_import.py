"""Imports are all or nothing, and say which rows are wrong and why."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import ImportFileError, ImportRejectedError
from gis.geo.datum import GCJ02, WGS84, from_wgs84
from gis.participation.importer import import_participation
from gis.principal import Principal
from tests.gis.participation.participation_district import (
    EAST,
    WEST,
    WEST_COMMUNITY,
    A,
    C,
    insert_participation,
)

CLI = Principal.system("import:test")
HEADER = "id,kind,title,community,grid,status,proposed_on,discussed_on,budget_cny,lon,lat,council"


def _csv(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "items.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _count(db: Session) -> int:
    return int(db.execute(text("SELECT count(*) FROM participation_item")).scalar_one())


def test_a_good_file_is_stored_whole(db: Session, tmp_path: Path) -> None:
    insert_participation(db)
    db.execute(text("UPDATE council SET ext_id = 'K1'"))
    path = _csv(
        tmp_path,
        f"M1,micro_project,加装扶手,{WEST},{A},discussed,2026-01-05,2026-01-20,12000,119.11,36.72,K1",
        f"P1,people_decide,垃圾分类点,{EAST},,proposed,2026-02-01,,,,,",
    )
    before = _count(db)
    report = import_participation(db, path, CLI)
    assert (report.rows, len(report.ids), _count(db)) == (2, 2, before + 2)
    status, grid = db.execute(
        text(
            "SELECT i.status, g.code FROM participation_item i JOIN grid g ON g.id = i.grid_id"
            " WHERE ext_id = 'M1'"
        )
    ).one()
    assert (status, grid) == ("discussed", A)


def test_every_bad_row_is_named_and_nothing_is_stored(db: Session, tmp_path: Path) -> None:
    insert_participation(db)
    path = _csv(
        tmp_path,
        f"M1,micro_project,好的一行,{WEST},,proposed,2026-01-05,,100,,,",
        f"M1,micro_project,重复编号,{WEST},,proposed,2026-01-05,,100,,,",
        "M3,micro_project,未知社区,370705001099,,proposed,2026-01-05,,100,,,",
        f"M4,micro_project,网格不在社区,{WEST},{C},proposed,2026-01-05,,100,,,",
        f"M5,micro_project,状态错误,{WEST},,finished,2026-01-05,,100,,,",
        f"M6,micro_project,预算为负,{WEST},,proposed,2026-01-05,,-100,,,",
        f"M7,micro_project,缺少日期,{WEST},,discussed,2026-01-05,,100,,,",
    )
    before = _count(db)
    with pytest.raises(ImportRejectedError) as refused:
        import_participation(db, path, CLI)
    reasons = {r.row: r.reason for r in refused.value.rejected}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7]
    assert "repeats row 1" in reasons[2]
    assert "unknown community" in reasons[3]
    assert "does not lie in community" in reasons[4]
    assert "unknown status" in reasons[5]
    assert "must not be negative" in reasons[6]
    assert "discussed_on" in reasons[7]
    assert _count(db) == before


def test_a_gcj02_place_read_as_wgs84_gets_a_hint(db: Session, tmp_path: Path) -> None:
    insert_participation(db)
    # A point near the west community's eastern edge, given in GCJ-02 (about 500 m east).
    lon, lat = from_wgs84([119.147], [36.73], GCJ02)
    path = _csv(tmp_path, f"G1,micro_project,座椅,{WEST},,proposed,2026-01-05,,,{lon[0]},{lat[0]},")
    with pytest.raises(ImportRejectedError) as refused:
        import_participation(db, path, CLI, datum=WGS84)
    (row,) = refused.value.rejected
    assert "outside community" in row.reason and "--datum gcj02" in row.reason
    import_participation(db, path, CLI, datum=GCJ02)


def test_a_community_imports_only_its_own_rows(db: Session, tmp_path: Path) -> None:
    insert_participation(db)
    path = _csv(tmp_path, f"E1,micro_project,东边,{EAST},,proposed,2026-01-05,,,,,")
    with pytest.raises(ImportRejectedError, match="do not answer"):
        import_participation(db, path, WEST_COMMUNITY)


def test_a_geopackage_of_items_and_a_csv_of_councils(db: Session, tmp_path: Path) -> None:
    insert_participation(db)
    councils = tmp_path / "councils.csv"
    councils.write_text(
        f"id,community,name,members,composition,established_on\nK9,{EAST},东社区居民议事会,11,"
        "党组织、居委会、物业、居民,2024-05-01\n",
        encoding="utf-8",
    )
    import_participation(db, councils, CLI, kind="councils")
    frame = gpd.GeoDataFrame(
        {
            "id": ["G1"],
            "kind": ["council_matter"],
            "title": ["停车位划线"],
            "community": [EAST],
            "status": ["proposed"],
            "proposed_on": ["2026-03-01"],
            "council": ["K9"],
        },
        geometry=[shapely.Point(119.16, 36.74)],
        crs="EPSG:4326",
    )
    gpkg = tmp_path / "items.gpkg"
    frame.to_file(gpkg, driver="GPKG")
    report = import_participation(db, gpkg, CLI)
    assert report.source == "GeoPackage" and len(report.ids) == 1
    x, council = db.execute(
        text(
            "SELECT ST_X(place), council_id IS NOT NULL FROM participation_item WHERE ext_id = 'G1'"
        )
    ).one()
    assert (round(x, 5), council) == (119.16, True)


def test_an_unreadable_file_is_refused(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "items.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(ImportFileError, match="unsupported"):
        import_participation(db, path, CLI)
