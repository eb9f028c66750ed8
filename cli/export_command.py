"""`gridmap export COLLECTION -o FILE`: a whole collection as GeoPackage, zipped
Shapefile, GeoJSON or CSV (what ``GET /ogc/collections/{cid}/export`` sends)."""

from __future__ import annotations

import enum
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from cli.accounts_command import cli_principal
from cli.context import open_engine
from cli.lang import t
from cli.progress import progress_bars
from gis.errors import InvalidParameterError
from gis.exports.collection import Selection, announce, consistent_snapshot, write_selection
from gis.exports.writers import FORMATS, Format
from gis.features.collections import find
from gis.features.crs import CRS84, Crs, bbox_to_wgs84
from gis.features.query import ItemQuery, parse_datetime
from gis.geo.datum import BD09, CGCS2000, GCJ02, WGS84
from gis.lang import Texts

out = Console()

_BY_SUFFIX = {
    ".gpkg": Format.GPKG,
    ".zip": Format.SHP,
    ".geojson": Format.GEOJSON,
    ".json": Format.GEOJSON,
    ".csv": Format.CSV,
}


class DatumOption(enum.StrEnum):
    WGS84 = "wgs84"
    CGCS2000 = "cgcs2000"
    GCJ02 = "gcj02"
    BD09 = "bd09"


_DATUMS = {
    DatumOption.WGS84: Crs(CRS84, WGS84),
    DatumOption.CGCS2000: Crs(CRS84, CGCS2000),
    DatumOption.GCJ02: Crs("gcj02", GCJ02),
    DatumOption.BD09: Crs("bd09", BD09),
}


def _format_of(fmt: Format | None, output: Path) -> Format:
    if fmt is not None:
        return fmt
    found = _BY_SUFFIX.get(output.suffix.lower())
    if found is None:
        raise InvalidParameterError(
            f"say the format: --format gpkg|shp|geojson|csv (the name {output.name} does not "
            "end in .gpkg, .zip, .geojson or .csv)",
            zh=f"请用 --format gpkg|shp|geojson|csv 指定格式（文件名 {output.name} 不以 "
            ".gpkg、.zip、.geojson 或 .csv 结尾）",
        )
    return found


def export_command(
    collection: Annotated[
        str,
        typer.Argument(
            help="Collection id: districts, subdistricts, communities, grids, buildings, "
            "facilities, facilities-<type>, incidents (GET /ogc/collections lists them)."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write.")],
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format",
            "-f",
            help="gpkg, shp (a zip), geojson or csv [default: from the file name's suffix].",
        ),
    ] = None,
    bbox: Annotated[
        str | None,
        typer.Option(help="Only features meeting minLon,minLat,maxLon,maxLat (WGS84)."),
    ] = None,
    filter: Annotated[
        str | None,
        typer.Option("--filter", help='CQL2 text filter, e.g. "households > 50".'),
    ] = None,
    datetime: Annotated[
        str | None,
        typer.Option(help="Instant or interval, e.g. 2026-01-01/2026-03-31."),
    ] = None,
    datum: Annotated[
        DatumOption, typer.Option(help="Datum of the coordinates written.")
    ] = DatumOption.WGS84,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Write a whole collection to a file, batch by batch (memory stays bounded).

    Cases come as an API key sees them: personal ones masked (snapped to their grid,
    description 已隐藏). The Shapefile's field names are cut to 10 characters by the
    table in its README.txt (docs/exports.md).
    """
    chosen = _format_of(fmt, output)
    started = time.perf_counter()
    principal = cli_principal()
    with open_engine() as engine, Session(engine) as session:
        consistent_snapshot(session)  # the count and the rows from one snapshot
        coll = find(session, collection)
        query = ItemQuery(
            bbox=bbox_to_wgs84(bbox, _DATUMS[DatumOption.WGS84]) if bbox else None,
            datetime=parse_datetime(datetime) if datetime else None,
            filter=filter,
        )
        selection = Selection(coll, query, _DATUMS[datum])
        export = announce(session, principal, selection, ())
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".part")
        label = Texts(
            f"导出{coll.title.zh}（{FORMATS[chosen].title.zh}）",
            f"Exporting {coll.title.en} ({FORMATS[chosen].title.en})",
        )
        with (
            tempfile.TemporaryDirectory(prefix="gridmap-export-", dir=output.parent) as folder,
            progress_bars(enabled=not quiet) as progress,
        ):
            advance = progress(label, export.number_returned)
            written = write_selection(
                session, principal, selection, export, chosen, Path(folder), advance
            )
            try:
                with partial.open("wb") as f:
                    for chunk in written.chunks:
                        f.write(chunk)
                partial.replace(output)
            finally:
                partial.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    size_mb = output.stat().st_size / 1e6
    out.print(
        t(
            f"已导出 {export.number_returned:,} 条{coll.title.zh} → {output}"
            f"（{FORMATS[chosen].title.zh}，{size_mb:.1f} MB，{seconds:.1f} 秒）",
            f"Exported {export.number_returned:,} {coll.title.en.lower()} → {output} "
            f"({FORMATS[chosen].title.en}, {size_mb:.1f} MB, {seconds:.1f} s)",
        )
    )
