"""Malformed import files: each is one clear line per problem from `gridmap import`, never a
traceback, and nothing is written.

The file-level problems (unreadable, truncated, wrong format, a zip without a
Shapefile, missing columns, a CRS that contradicts --datum) stop the import
with one ``error:`` line naming the file and what to do; row-level problems
(an unclosed ring, too few points, a self-intersection, NaN coordinates, an
empty or wrong geometry, duplicate ids, rows in another CRS) are one table row
each: row number, id, reason and what to do.
"""

from __future__ import annotations

import contextlib
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from shapely.geometry import Point
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from tests.gis.imports.import_district import count_rows

SQUARE = [[119.11, 36.70], [119.12, 36.70], [119.12, 36.71], [119.11, 36.71], [119.11, 36.70]]
BUILDING = {"ext_id": "B1", "households": 3}
GRID = {"code": "370705001001002", "name": "新网格"}


def _features(*rows: tuple[dict[str, Any], Any]) -> str:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in rows],
        }
    )


def _polygon(ring: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


def _point(x: Any, y: Any) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [x, y]}


def _text(content: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(content, encoding="utf-8")


def _bytes(content: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(content)


def _zip_without_shapefile(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "the shapefile is attached separately")


def _shapefile_without_dbf(path: Path) -> None:
    frame = gpd.GeoDataFrame([BUILDING], geometry=[Point(119.12, 36.70)], crs=4326)
    frame.to_file(path)
    path.with_suffix(".dbf").unlink()


GARBAGE = bytes(range(256)) * 8


def _binary_shapefile(path: Path) -> None:
    for suffix in (".shp", ".shx", ".dbf"):
        path.with_suffix(suffix).write_bytes(GARBAGE)


FILE_PROBLEMS = [
    ("truncated.geojson", _text(_features((BUILDING, _point(119.12, 36.7)))[:70]), "cut off"),
    ("binary.gpkg", _bytes(GARBAGE), "not a GeoPackage"),
    ("binary.shp", _binary_shapefile, "not a Shapefile"),
    ("lone.shp", _bytes(GARBAGE), "lone.shx and lone.dbf are missing"),
    ("binary.csv", _bytes(GARBAGE), "save it again as CSV (UTF-8)"),
    ("photos.zip", _zip_without_shapefile, "holds no readable Shapefile (found: readme.txt)"),
    ("nodbf.shp", _shapefile_without_dbf, "nodbf.dbf is missing"),
    ("empty.csv", _text(""), "needs a header line"),
    (
        "nul.geojson",
        _text(_features(({"ext_id": "B\u00001", "households": 3}, _point(119.12, 36.7)))),
        "line 1 holds a NUL character",
    ),
    (
        "nul.csv",
        _bytes(b"ext_id,households,lon,lat\nB\x001,3,119.12,36.70\n"),
        "line 2 holds a NUL",
    ),
    ("columns.csv", _text("ext_id,lon,lat\nB1,119.12,36.70\n"), "missing required column(s)"),
    (
        "ragged.csv",
        _text("ext_id,households,lon,lat\nB1,3,119.12,36.70,1,2\n"),
        "line 2 has 6 cells, the first line 4",
    ),
    (
        "gauss_kruger.geojson",
        _text(
            json.dumps(
                {
                    **json.loads(_features((BUILDING, _point(119.12, 36.7)))),
                    "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}},
                }
            )
        ),
        "contradicts --datum wgs84",
    ),
]

ROW_PROBLEMS = [
    (
        "unclosed.geojson",
        "grids",
        _text(_features((GRID, _polygon(SQUARE[:-1])))),
        "a polygon ring is not closed",
    ),
    (
        "few_points.geojson",
        "grids",
        _text(_features((GRID, _polygon([SQUARE[0], SQUARE[1], SQUARE[0]])))),
        "Too few points",
    ),
    (
        "bowtie.geojson",
        "grids",
        _text(_features((GRID, _polygon([SQUARE[0], SQUARE[2], SQUARE[1], SQUARE[3], SQUARE[0]])))),
        "Self-intersection",
    ),
    (
        "unclosed_wkt.csv",
        "grids",
        _text(
            'code,name,wkt\n370705001001002,g,"POLYGON((119.11 36.7, 119.12 36.7, 119.12 36.71))"\n'
        ),
        "unparsable WKT in column wkt",
    ),
    (
        "nan.geojson",
        "buildings",
        _text(_features((BUILDING, _point(119.12, 36.7))).replace("119.12", "NaN")),
        "not finite numbers (NaN or infinity)",
    ),
    (
        "empty_geometry.geojson",
        "buildings",
        _text(_features((BUILDING, {"type": "Point", "coordinates": []}))),
        "give the row a",
    ),
    (
        "line.geojson",
        "facilities",
        _text(
            _features(
                (
                    {"type": "kindergarten", "name": "园"},
                    {"type": "LineString", "coordinates": SQUARE[:2]},
                )
            )
        ),
        "geometry is a LineString, expected Point",
    ),
    (
        "duplicates.csv",
        "buildings",
        _text("ext_id,households,lon,lat\nB1,3,119.12,36.70\nB1,4,119.13,36.70\n"),
        "duplicate ext_id B1 (also in row 1)",
    ),
    (
        "surrogate_in_name.geojson",
        "facilities",
        _bytes(
            b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
            b'{"type": "kindergarten", "name": "\\ud800"}, "geometry": '
            b'{"type": "Point", "coordinates": [119.12, 36.70]}}]}'
        ),
        "U+FFFD",
    ),
    (
        "metres_and_degrees.csv",
        "buildings",
        _text("ext_id,households,lon,lat\nB1,3,119.12,36.70\nB2,3,510000.5,4065000.2\n"),
        "give its EPSG code with --datum",
    ),
]
TABLES = {"grids": "grid", "buildings": "building", "facilities": "facility"}


@contextlib.contextmanager
def _engine_of(db: Session) -> Iterator[Any]:
    yield db.connection()


@pytest.fixture
def run(
    db: Session, ref: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str]]:
    monkeypatch.setattr("cli.import_command.open_engine", lambda: _engine_of(db))

    def invoke(layer: str, path: Path, width: int = 80) -> tuple[int, str]:
        result = CliRunner().invoke(
            app, ["import", layer, str(path), "--datum", "wgs84"], env={"COLUMNS": str(width)}
        )
        return result.exit_code, result.output

    return invoke


@pytest.mark.parametrize(("name", "write", "fragment"), FILE_PROBLEMS, ids=lambda v: str(v)[:20])
def test_a_file_problem_is_one_line(
    run: Callable[..., tuple[int, str]],
    db: Session,
    tmp_path: Path,
    name: str,
    write: Callable[[Path], None],
    fragment: str,
) -> None:
    path = tmp_path / name
    write(path)
    code, output = run("buildings", path)
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 1 and "Traceback" not in output
    assert len(lines) == 1, output  # one line, even at 80 columns
    assert lines[0].startswith("错误：") and name in lines[0] and fragment in lines[0]
    assert count_rows(db, "building") == 0


@pytest.mark.parametrize(
    ("name", "layer", "write", "fragment"), ROW_PROBLEMS, ids=lambda v: str(v)[:20]
)
def test_a_row_problem_is_one_row_of_the_report(
    run: Callable[..., tuple[int, str]],
    db: Session,
    tmp_path: Path,
    name: str,
    layer: str,
    write: Callable[[Path], None],
    fragment: str,
) -> None:
    path = tmp_path / name
    write(path)
    before = count_rows(db, TABLES[layer])
    code, output = run(layer, path, width=400)
    assert code == 1 and "Traceback" not in output
    rows = [line for line in output.splitlines() if line.startswith("│")]
    assert any(fragment in line for line in rows), output
    said = " ".join(output.split())
    assert "未导入任何数据" in said and "重新导入" in said
    assert count_rows(db, TABLES[layer]) == before
