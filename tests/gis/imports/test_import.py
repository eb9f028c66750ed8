"""`gridmap import` end to end: all or nothing, errors, progress and the CLI."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from shapely.geometry import Point
from sqlalchemy import text
from sqlalchemy.orm import Session

import gis.errors
from cli.progress import progress_bars
from gis.errors import (
    ConflictError,
    DatumMismatchError,
    ImportFileError,
    InvalidParameterError,
    NoDistrictError,
    NotFoundError,
)
from gis.geo.datum import WGS84, UnknownDatumError, parse_datum
from gis.imports.importer import export_rejections_csv, import_file
from gis.settings import ImportSettings
from tests.gis.imports.import_district import (
    OUTSIDE,
    admin_rows,
    buildings_file,
    count_rows,
    deployment_files,
    rejected,
    write_geojson,
)


def test_one_bad_row_imports_nothing_and_names_the_row(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    path = write_geojson(
        tmp_path / "b.geojson",
        [
            ({"ext_id": "B1", "households": 10}, Point(119.12, 36.70)),
            ({"ext_id": "B2", "households": 10}, Point(119.13, 36.70)),
            ({"ext_id": "B3"}, Point(119.14, 36.70)),
            ({"ext_id": "B4", "households": 10}, Point(119.15, 36.70)),
        ],
    )
    err = rejected(db, "buildings", path)
    assert [(r.row, r.ident, r.reason) for r in err.rejected] == [(3, "B3", "missing households")]
    assert err.total_rows == 4 and "nothing was imported" in str(err)
    assert count_rows(db, "building") == 0
    assert db.execute(text("SELECT sum(households) FROM grid")).scalar_one() == 0


def test_rejections_export_as_csv(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    path = write_geojson(
        tmp_path / "b.geojson",
        [
            ({"ext_id": "B1", "households": -1}, Point(119.12, 36.70)),
            ({"ext_id": "B2", "households": 1}, Point(*OUTSIDE)),
        ],
    )
    err = rejected(db, "buildings", path)
    out = export_rejections_csv(err, tmp_path / "report.csv")
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["row"], r["id"]) for r in rows] == [("1", "B1"), ("2", "B2")]
    assert "negative" in rows[0]["reason"] and "outside the district" in rows[1]["reason"]


def test_a_deployment_loads_district_then_subdistricts_communities_and_grids(
    db: Session, tmp_path: Path
) -> None:
    files = deployment_files(tmp_path)
    with pytest.raises(NoDistrictError, match="gridmap import districts FILE"):
        import_file(db, "subdistricts", files["subdistricts"], WGS84)

    report = import_file(db, "districts", files["districts"], WGS84)
    assert report.rows_imported == 1 and report.notes == []
    (district,) = admin_rows(db, "district")
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
    assert count_rows(db, "grid") == 1000
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


def test_no_district_loaded_is_a_clear_error(db: Session, tmp_path: Path) -> None:
    with pytest.raises(NoDistrictError, match="no district boundary is loaded") as info:
        import_file(db, "buildings", buildings_file(tmp_path, [(119.12, 36.70)]), WGS84)
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


def test_unknown_datum_and_layer_are_clear_errors(
    db: Session, ref: dict[str, int], tmp_path: Path
) -> None:
    path = buildings_file(tmp_path, [(119.12, 36.70)])
    with pytest.raises(UnknownDatumError, match="unknown datum 'google'"):
        parse_datum("google")
    with pytest.raises(InvalidParameterError, match="unknown layer 'houses'"):
        import_file(db, "houses", path, WGS84)


def test_database_refusal_rolls_back_and_is_a_clear_error(
    db: Session, ref: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_file(
        db, "buildings", buildings_file(tmp_path, [(119.12, 36.70)], "first.geojson"), WGS84
    )
    # Blind the validator to what is stored, as a concurrent import would.
    monkeypatch.setattr("gis.imports._reference._taken", lambda *a: {})
    path = buildings_file(
        tmp_path, [(119.13, 36.70), (119.12, 36.71)], "second.geojson"
    )  # B1 again
    with pytest.raises(ConflictError, match=r"refused the buildings import.*B1"):
        import_file(db, "buildings", path, WGS84)
    assert count_rows(db, "building") == 1  # the earlier import stands, the session still works
    assert (
        db.execute(text("SELECT households FROM grid WHERE code = '370705001001001'")).scalar_one()
        == 10
    )


def test_progress_bar_reports_rows(db: Session, ref: dict[str, int], tmp_path: Path) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=100)
    points = [(119.11 + i * 1e-5, 36.70) for i in range(1500)]
    with progress_bars(console=console) as progress:
        import_file(db, "buildings", buildings_file(tmp_path, points), WGS84, progress=progress)
    output = buffer.getvalue()
    assert "写入 buildings" in output and "1500/1500" in output


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
    good = buildings_file(tmp_path, [(119.12, 36.70)], "good.geojson")
    result = runner.invoke(app, ["import", "buildings", str(good), "--datum", "wgs84"])
    assert result.exit_code == 0, result.output
    assert "导入行数" in result.output and "1" in result.output

    bad = write_geojson(
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
    files = deployment_files(tmp_path)
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
    assert [r.code for r in admin_rows(db, "subdistrict")] == ["370705001", "370705002"]
