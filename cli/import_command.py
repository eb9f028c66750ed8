"""`gridmap import LAYER PATH --datum ...`: a thin shell around ``gis.imports``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from cli.context import open_engine
from cli.lang import t
from cli.progress import progress_bars
from gis.errors import ImportRejectedError, InvalidParameterError
from gis.geo.datum import Datum, UnknownDatumError, parse_datum
from gis.imports.importer import LAYERS, ImportReport, export_rejections_csv, import_file

out = Console()
err = Console(stderr=True)

# A terminal table of thousands of rows helps no one; the CSV report has them all.
MAX_ROWS_SHOWN = 40


def import_command(
    layer: Annotated[
        str,
        typer.Argument(
            help=f"What the file holds: {', '.join(LAYERS)}. Load a district first, then "
            "its subdistricts, communities and grids: each is checked against the level above."
        ),
    ],
    path: Annotated[
        Path, typer.Argument(help="GeoJSON, GeoPackage, Shapefile (.shp or .zip) or CSV file.")
    ],
    datum: Annotated[
        str,
        typer.Option(
            help="Datum of the file's coordinates, required: wgs84, cgcs2000, gcj02 "
            "(Amap/Tencent/WeChat), bd09 (Baidu) or an EPSG code such as EPSG:4549."
        ),
    ],
    lon_col: Annotated[
        str | None, typer.Option(help="CSV longitude column (default: lon, lng, longitude or x).")
    ] = None,
    lat_col: Annotated[
        str | None, typer.Option(help="CSV latitude column (default: lat, latitude or y).")
    ] = None,
    gpkg_layer: Annotated[
        str | None, typer.Option(help="Layer to read from a GeoPackage with several.")
    ] = None,
    report_csv: Annotated[
        Path | None,
        typer.Option(help="Write rejected rows (row, id, reason) to this CSV file."),
    ] = None,
) -> None:
    """Import a layer, all or nothing: every row is checked before anything is written."""
    source_datum = _parse_datum(datum)
    try:
        with (
            open_engine() as engine,
            Session(bind=engine) as session,
            session.begin(),
            progress_bars(console=err) as progress,
        ):
            report = import_file(
                session,
                layer,
                path,
                source_datum,
                progress=progress,
                lon_col=lon_col,
                lat_col=lat_col,
                gpkg_layer=gpkg_layer,
            )
    except ImportRejectedError as exc:
        _print_rejections(exc, report_csv)
        raise typer.Exit(1) from None
    out.print(_summary(report))


def _parse_datum(text: str) -> Datum:
    """The ``--datum`` named, refused before the database is opened if it is unknown."""
    try:
        return parse_datum(text)
    except UnknownDatumError as exc:
        raise InvalidParameterError(str(exc)) from exc


def _summary(report: ImportReport) -> Table:
    table = Table(
        title=t(
            f"已从 {report.path.name} 导入 {report.layer}",
            f"Imported {report.layer} from {report.path.name}",
        ),
    )
    table.add_column(t("项目", "what"))
    table.add_column(t("值", "value"), justify="right")
    table.add_row(t("读取行数", "rows read"), f"{report.rows_read:,}")
    table.add_row(t("导入行数", "rows imported"), f"{report.rows_imported:,}")
    table.add_row(t("源坐标系", "source datum"), report.datum)
    table.add_row(t("存储为", "stored as"), "WGS84 (EPSG:4326)")
    table.add_row(t("用时（秒）", "seconds"), f"{report.seconds:.1f}")
    for note in report.notes:
        table.add_row(t("说明", "note"), note)
    return table


def _print_rejections(exc: ImportRejectedError, report_csv: Path | None) -> None:
    rejected, total = len(exc.rejected), exc.total_rows
    table = Table(
        title=t(
            f"{total:,} 行{exc.layer}中有 {rejected:,} 行被拒绝；未导入任何数据",
            f"{rejected:,} of {total:,} {exc.layer} rows rejected; nothing was imported",
        )
    )
    table.add_column(t("行", "row"), justify="right")
    table.add_column(t("编号", "id"))
    table.add_column(t("原因", "reason"))
    for r in exc.rejected[:MAX_ROWS_SHOWN]:
        table.add_row(str(r.row), escape(r.ident or ""), escape(r.reason))
    err.print(table)
    more = rejected - MAX_ROWS_SHOWN
    if more > 0:
        err.print(t(f"…… 另有 {more:,} 行。", f"... and {more:,} more rows."))
    if report_csv is not None:
        export_rejections_csv(exc, report_csv)
        err.print(
            t(
                f"全部 {rejected:,} 个被拒绝的行已写入 {report_csv}。",
                f"All {rejected:,} rejected rows written to {report_csv}.",
            )
        )
    hint = t(
        "请在文件中修改这些行（第 1 行是第一个要素，即 CSV 的第 2 行）后重新导入。",
        "Fix these rows in the file (row 1 is the first feature, line 2 of a CSV) and run "
        "the import again.",
    )
    if report_csv is None and more > 0:
        hint += t(" --report-csv 文件 可写出完整清单。", " --report-csv FILE writes the full list.")
    if any("--datum" in r.reason for r in exc.rejected):
        hint += t(
            " 有些行表明 --datum 可能给错了：请看其原因。",
            " Some rows suggest the wrong --datum was given: see their reasons.",
        )
    err.print(f"[bold red]{t('错误：', 'error: ')}[/]{escape(hint)}", soft_wrap=True)
