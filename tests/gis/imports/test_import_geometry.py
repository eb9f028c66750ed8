"""Geometry checks and datums: conversion, wrong-datum and swapped-axis hints."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Point
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.geo.datum import BD09, GCJ02, WGS84, from_wgs84, parse_datum
from gis.imports.importer import import_file
from tests.gis.imports.import_district import (
    BOWTIE,
    NO_GRID,
    OUTSIDE,
    buildings_file,
    count_rows,
    reasons,
    rejected,
    write_csv,
    write_geojson,
    write_gis_file,
)


def test_geometry_problems_are_each_reported(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    path = write_geojson(
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
    err = rejected(db, "buildings", path)
    assert {r.row for r in err.rejected} == {2, 3, 4, 5, 6, 7}
    assert "missing or unparsable geometry" in reasons(err, 2)
    assert "missing or unparsable geometry" in reasons(err, 3)
    assert "LineString, expected" in reasons(err, 4)
    assert "invalid geometry: Self-intersection[119.115 36.705]" in reasons(err, 5)
    assert "outside the district 370705" in reasons(err, 6)
    # 13.59 km from the district's south-east corner (GRS80 geodesic, pyproj)
    beyond = re.search(r"([\d,]+) m beyond its boundary", reasons(err, 6))
    assert beyond is not None
    assert float(beyond.group(1).replace(",", "")) == pytest.approx(13_590, rel=0.003)
    assert "not inside any grid" in reasons(err, 7)
    assert "outside the district" not in reasons(err, 7)
    assert count_rows(db, "building") == 0


def test_projected_coordinates_given_as_lonlat_are_refused(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    x, y = Transformer.from_crs(4326, 4549, always_xy=True).transform(119.12, 36.70)
    err = rejected(db, "buildings", buildings_file(tmp_path, [(x, y)]))
    assert "not longitude/latitude degrees" in reasons(err, 1)
    assert "EPSG" in reasons(err, 1)


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
    path = write_gis_file(
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
    path = buildings_file(tmp_path, list(zip(x.tolist(), y.tolist(), strict=True)))
    err = rejected(db, "buildings", path, WGS84)
    name = {"gcj02": "GCJ-02", "bd09": "BD-09"}[flag]
    hint = f"looks like {name} coordinates given as WGS84: re-run with --datum {flag}"
    for row in (2, 3, 4):
        assert hint in reasons(err, row)
    assert reasons(err, 1) == ""  # still inside, nothing to say about that one
    assert count_rows(db, "building") == 0
    # and re-run as the hint says, it goes in
    assert import_file(db, "buildings", path, datum).rows_imported == 4


def test_wgs84_given_as_gcj02_gets_the_reverse_hint(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    path = buildings_file(tmp_path, [(119.103, 36.66)])  # GCJ->WGS moves it ~520 m west, out
    err = rejected(db, "buildings", path, GCJ02)
    assert "looks like WGS84 coordinates given as GCJ-02: re-run with --datum wgs84" in reasons(
        err, 1
    )


def test_epsg_4549_is_converted(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    lon, lat = _truth()
    x, y = Transformer.from_crs(4326, 4549, always_xy=True).transform(lon, lat)
    assert np.all(x > 400_000)  # metres of the Gauss-Krüger zone, not degrees
    path = write_gis_file(
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
    path = write_csv(
        tmp_path / "gk.csv", [{"ext_id": "T0", "households": "1", "x": f"{x:.3f}", "y": f"{y:.3f}"}]
    )
    assert import_file(db, "buildings", path, parse_datum("epsg:4549")).rows_imported == 1
    assert _max_error_m(db, np.array([119.12]), np.array([36.70])) <= 0.01
