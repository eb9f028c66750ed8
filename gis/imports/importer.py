"""`gridmap import`: load a layer from GeoJSON, GeoPackage, Shapefile or CSV, all or nothing.

Every row is checked before anything is written, so a file goes in whole or
not at all. The columns of each layer and every rule a row must meet are in
``docs/import.md``; this is the one module other packages import.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from gis.accounts import audit
from gis.db.engine import unreachable_as_domain_error
from gis.errors import ImportFileError, ImportRejectedError, InvalidParameterError
from gis.geo.datum import Datum
from gis.imports._checks import validate_layer
from gis.imports._read import check_declared_crs, check_size, read_source
from gis.imports._reference import load_reference
from gis.imports._spec import LAYERS, SPECS, resolve_columns
from gis.imports._write import write_incidents, write_layer
from gis.lang import Texts
from gis.principal import Principal
from gis.progress import Progress, silent
from gis.settings import ImportSettings

__all__ = [
    "LAYERS",
    "ImportReport",
    "export_rejections_csv",
    "import_file",
]


@dataclass
class ImportReport:
    """What an import did; ``seconds`` is wall time from reading to the last row written."""

    layer: str
    path: Path
    datum: str
    rows_read: int
    rows_imported: int
    seconds: float
    notes: list[str] = field(default_factory=list)


@unreachable_as_domain_error(Texts("导入", "the import"))
def import_file(
    session: Session,
    layer: str,
    path: Path | str,
    datum: Datum,
    *,
    progress: Progress = silent,
    lon_col: str | None = None,
    lat_col: str | None = None,
    gpkg_layer: str | None = None,
    max_bytes: int | None = None,
) -> ImportReport:
    """Validate every row of ``path`` as ``layer`` and write them all, or nothing.

    Writes in the caller's transaction (the caller commits), with one audit
    entry ``import.<layer>`` by the system ``import:<file name>``. ``datum`` is
    required: the coordinates' datum, parsed at the edge and never guessed.
    ``max_bytes`` overrides ``GRIDMAP_MAX_IMPORT_BYTES``. Raises
    `ImportRejectedError` with every bad row, `ImportFileError`,
    `DatumMismatchError`, `NoDistrictError`, `PayloadTooLargeError`, or
    `ConflictError` if the database refuses what validation let through, or
    `DatabaseUnavailableError` if the connection breaks (nothing is written then).
    """
    started = time.perf_counter()
    if layer not in LAYERS:
        raise InvalidParameterError(f"unknown layer {layer!r}; choose one of {', '.join(LAYERS)}")
    path = Path(path)
    check_size(path, ImportSettings().max_import_bytes if max_bytes is None else max_bytes)

    table, declared = read_source(
        path, layer, lon_col=lon_col, lat_col=lat_col, layer_name=gpkg_layer
    )
    check_declared_crs(declared, datum, path)
    spec = SPECS[layer]
    column_map, missing = resolve_columns(spec, list(table.attributes.columns))
    if missing:
        raise ImportFileError(
            f"{path.name}: missing required column(s) {', '.join(missing)} for {layer}; "
            f"found: {', '.join(map(str, table.attributes.columns)) or 'none'}. "
            "See docs/import.md for the columns of each layer."
        )
    ignored = [
        c
        for c in table.attributes.columns
        if c not in column_map.values() and c not in table.geometry_columns
    ]

    session.flush()
    idents = table.idents(column_map.get(spec.ident))
    ref = load_reference(session, layer, idents)
    validated = validate_layer(
        layer,
        table,
        datum,
        ref,
        column_map=column_map,
        advance=progress(Texts(f"检查 {layer}", f"checking {layer}"), table.n_rows),
    )
    if validated.rejected:
        raise ImportRejectedError(layer, validated.rejected, table.n_rows)
    advance = progress(Texts(f"写入 {layer}", f"writing {layer}"), table.n_rows)
    notes = list(validated.notes)
    if layer == "incidents":
        written, ingest_notes = write_incidents(
            session, validated.records, path, datum, advance=advance
        )
        notes += ingest_notes
    else:
        written = write_layer(session, layer, validated.records, advance=advance)
    if ignored:
        notes.append(f"ignored column(s): {', '.join(map(str, ignored))}")
    audit.record(
        session,
        Principal.system(f"import:{path.name}"),
        f"import.{layer}",
        object=f"file:{path.name}",
        detail={"rows": written, "datum": datum.label},
    )
    return ImportReport(
        layer=layer,
        path=path,
        datum=datum.label,
        rows_read=table.n_rows,
        rows_imported=written,
        seconds=time.perf_counter() - started,
        notes=notes,
    )


def export_rejections_csv(error: ImportRejectedError, path: Path | str) -> Path:
    """Write the rejected rows as CSV (row, id, reason) for the user to fix the file.

    UTF-8 with a byte-order mark, so that Excel on a Chinese Windows shows the
    codes and names correctly.
    """
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(["row", "id", "reason"])
        for r in error.rejected:
            writer.writerow([r.row, r.ident or "", r.reason])
    return path
