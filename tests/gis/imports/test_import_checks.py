"""Per-layer checks: cells, codes and parents, taken codes and ext_ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import Point, Polygon, box
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.geo.datum import WGS84
from gis.imports.importer import import_file
from tests.gis.imports.import_district import (
    DISTRICT,
    G2,
    WEST,
    admin_rows,
    buildings_file,
    count_rows,
    insert_area,
    reasons,
    rejected,
    square,
    write_geojson,
)


def test_attribute_problems_are_each_reported(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    p = Point(119.12, 36.70)
    path = write_geojson(
        tmp_path / "b.geojson",
        [
            ({"ext_id": "H0", "households": None}, p),
            ({"ext_id": "H1", "households": -3}, p),
            ({"ext_id": "H2", "households": "12.5"}, p),
            ({"ext_id": "H3", "households": "many"}, p),
            ({"ext_id": "H4", "households": 3, "floors": 0}, p),
        ],
    )
    err = rejected(db, "buildings", path)
    assert reasons(err, 1) == "missing households"
    assert "households must not be negative" in reasons(err, 2)
    assert "households '12.5' is not a whole number" in reasons(err, 3)
    assert "households 'many' is not a whole number" in reasons(err, 4)
    assert "floors must be greater than 0" in reasons(err, 5)


def test_community_code_problems(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    squares = iter(box(x, 36.76, x + 0.01, 36.77) for x in np.arange(119.10, 119.25, 0.015))

    def row(code: str, parent: str) -> tuple[dict[str, Any], Polygon]:
        return (
            {"code": code, "name": "n", "parent_code": parent, "households": 1, "population": 2},
            next(squares),
        )

    path = write_geojson(
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
    err = rejected(db, "communities", path)
    assert "not a 12-digit community code" in reasons(err, 1)
    assert "code 370705002005 does not extend its parent code 370705001" in reasons(err, 2)
    assert "unknown parent code 370705009" in reasons(err, 3)
    assert "duplicate code 370705001001: already in the database" in reasons(err, 4)
    assert reasons(err, 5) == ""
    assert "duplicate code 370705001007 (also in row 5)" in reasons(err, 6)
    assert "neither a 9-digit subdistrict nor a 6-digit district" in reasons(err, 7)
    assert {r.ident for r in err.rejected if r.row == 4} == {"370705001001"}


def test_grid_code_problems(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    gap = box(119.175, 36.70, 119.25, 36.75)
    path = write_geojson(
        tmp_path / "g.geojson",
        [
            ({"code": "37070500100200", "name": "x"}, gap),
            ({"code": "370705001009001", "name": "x"}, gap),
            ({"code": "370705001002001", "name": "x"}, gap),
            ({"code": "370705001001002", "name": "x"}, gap),
            ({"code": "370705001002009", "name": "x", "households": -1}, gap),
        ],
    )
    err = rejected(db, "grids", path)
    assert "not a 15-digit grid code" in reasons(err, 1)
    assert "unknown community 370705001009" in reasons(err, 2)
    assert "duplicate code 370705001002001: already in the database" in reasons(err, 3)
    assert "extends beyond its community 370705001001" in reasons(err, 4)
    assert "households must not be negative" in reasons(err, 5)


def test_a_historic_version_of_a_code_still_valid_clashes(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    db.execute(text("UPDATE grid SET valid_to = '2020-01-01' WHERE code = '370705001002001'"))
    path = write_geojson(tmp_path / "g.geojson", [({"code": "370705001002001", "name": "x"}, G2)])
    err = rejected(db, "grids", path)
    assert "version valid until 2020-01-01" in reasons(err, 1)


def test_unknown_facility_type(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "f.geojson",
        [({"ext_id": "F1", "type": "casino", "name": "x"}, Point(119.12, 36.70))],
    )
    err = rejected(db, "facilities", path)
    assert "unknown facility type 'casino'" in reasons(err, 1)
    assert "health_station" in reasons(err, 1)


def test_duplicate_ext_id_within_the_file_and_against_the_database(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    import_file(
        db, "buildings", buildings_file(tmp_path, [(119.12, 36.70)], "first.geojson"), WGS84
    )
    path = write_geojson(
        tmp_path / "second.geojson",
        [
            ({"ext_id": "B1", "households": 1}, Point(119.12, 36.71)),  # B1 is stored
            ({"ext_id": "N1", "households": 1}, Point(119.12, 36.72)),
            ({"ext_id": "N1", "households": 1}, Point(119.12, 36.73)),
        ],
    )
    err = rejected(db, "buildings", path)
    assert [(r.row, r.ident) for r in err.rejected] == [(1, "B1"), (3, "N1")]
    assert "duplicate ext_id B1: already in the database" in reasons(err, 1)
    assert "duplicate ext_id N1 (also in row 2)" in reasons(err, 3)
    assert count_rows(db, "building") == 1


def test_district_rows_are_checked_without_a_district_loaded(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    path = write_geojson(
        tmp_path / "d.geojson",
        [
            ({"code": "370705", "name": "奎文区"}, DISTRICT),  # already current
            ({"code": "37070", "name": "x"}, WEST),
            ({"code": "370702", "name": "潍城区"}, WEST),
            ({"code": "370702", "name": "again"}, WEST),
            ({"code": "370703", "name": "point"}, Point(119.0, 36.7)),
            ({"code": "370704", "name": "far away", "households": -1}, square(114.0, 22.5)),
        ],
    )
    err = rejected(db, "districts", path)
    assert "duplicate code 370705: already in the database" in reasons(err, 1)
    assert "not a 6-digit district code" in reasons(err, 2)
    assert reasons(err, 3) == ""  # outside 370705, and no district has to contain it
    assert "duplicate code 370702 (also in row 3)" in reasons(err, 4)
    assert "geometry is a Point" in reasons(err, 5)
    assert reasons(err, 6) == "households must not be negative, got -1"
    assert [r.code for r in admin_rows(db, "district")] == ["370705"]


def test_a_district_version_still_in_force_clashes(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    # The exclusion constraint refuses overlapping validity periods of one code;
    # validation must say so row by row rather than let the database fail the COPY.
    db.execute(text("UPDATE admin_area SET valid_to = '2030-01-01' WHERE code = '370705'"))
    err = rejected(
        db,
        "districts",
        write_geojson(tmp_path / "d.geojson", [({"code": "370705", "name": "x"}, WEST)]),
    )
    assert "version valid until 2030-01-01" in reasons(err, 1)


def test_subdistrict_rows_are_checked(db: Session, tmp_path: Path) -> None:
    insert_area(db, "370705", "district", None, DISTRICT)
    insert_area(db, "370702", "district", None, WEST)
    sticks_out_3m = box(119.20, 36.79, 119.21, 36.80003)  # 3.3 m north of the district
    path = write_geojson(
        tmp_path / "s.geojson",
        [
            ({"code": "370705003", "name": "ok", "population": 5}, square(119.11, 36.63)),
            ({"code": "370705004", "name": "x", "parent_code": "370702"}, square(119.13, 36.63)),
            ({"code": "370709001", "name": "x"}, square(119.15, 36.63)),
            ({"code": "3707050051", "name": "x"}, square(119.17, 36.63)),
            ({"code": "370705006", "name": "in 370702"}, square(119.00, 36.63)),
            ({"code": "370705007", "name": "nowhere"}, square(119.40, 36.63)),
            ({"code": "370705008", "name": "x", "parent_code": "3707"}, square(119.19, 36.63)),
            ({"code": "370705009", "name": "edge", "parent_code": "370705"}, sticks_out_3m),
        ],
    )
    err = rejected(db, "subdistricts", path)
    assert reasons(err, 1) == ""
    assert "code 370705004 does not extend its parent code 370702" in reasons(err, 2)
    assert (
        "unknown district 370709: no current district with that code in the database; "
        "import it first with `gridmap import districts FILE --datum ...`"
    ) in reasons(err, 3)
    assert "not a 9-digit subdistrict code" in reasons(err, 4)
    assert reasons(err, 5) == "extends beyond its district 370705"
    assert "outside the district 370702/370705" in reasons(err, 6)
    assert "parent_code '3707' is not a 6-digit district code" in reasons(err, 7)
    assert reasons(err, 8) == ""  # within the 5 m tolerance
    assert admin_rows(db, "subdistrict") == []

    good = write_geojson(
        tmp_path / "good.geojson",
        [
            ({"code": "370705003", "name": "ok", "population": 5}, square(119.11, 36.63)),
            ({"code": "370705009", "name": "edge", "parent_code": "370705"}, sticks_out_3m),
        ],
    )
    report = import_file(db, "subdistricts", good, WGS84)
    assert report.rows_imported == 2
    rows = admin_rows(db, "subdistrict")
    assert [(r.code, r.parent, r.households, r.population, r.gt) for r in rows] == [
        ("370705003", "370705", 0, 5, "MULTIPOLYGON"),
        ("370705009", "370705", 0, 0, "MULTIPOLYGON"),
    ]


def test_a_community_must_lie_within_its_subdistrict(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    insert_area(db, "370705002", "subdistrict", ref["370705"], box(119.10, 36.75, 119.15, 36.80))
    row = {"name": "x", "households": 1, "population": 1}
    path = write_geojson(
        tmp_path / "c.geojson",
        [
            ({**row, "code": "370705002001", "parent_code": "370705002"}, square(119.145, 36.76)),
            ({**row, "code": "370705002002", "parent_code": "370705002"}, square(119.12, 36.76)),
        ],
    )
    err = rejected(db, "communities", path)
    assert reasons(err, 1) == "extends beyond its subdistrict 370705002"
    assert reasons(err, 2) == ""
