"""Bulk writes with COPY: rows streamed in one statement, geometries as hex EWKB.

COPY fires the same constraints and triggers as INSERT at a fraction of the
cost of one INSERT per row; the demo load, imports and the incident ingest
all write this way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import psycopg
import shapely
from shapely.geometry.base import BaseGeometry

from gis.geo.datum import STORAGE_SRID
from gis.progress import Advance

COPY_PROGRESS_EVERY = 1000
"""Rows between two progress reports."""


def hex_ewkb(geoms: Iterable[BaseGeometry | None], *, multi: bool = False) -> list[str | None]:
    """Hex EWKB with the storage SRID: the text form COPY accepts for a geometry column.

    With ``multi``, polygons become one-part multipolygons (the column type);
    None stays None (COPY's NULL).
    """
    arr = np.asarray(list(geoms), dtype=object)
    if multi and arr.size:
        polygons = np.flatnonzero(shapely.get_type_id(arr) == shapely.GeometryType.POLYGON)
        if polygons.size:
            arr[polygons] = shapely.multipolygons(arr[polygons], indices=np.arange(polygons.size))
    arr = shapely.set_srid(arr, STORAGE_SRID)
    return list(shapely.to_wkb(arr, hex=True, include_srid=True))


def copy_rows(
    cur: psycopg.Cursor[Any],
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    advance: Advance | None = None,
) -> int:
    """COPY ``rows`` into ``table`` (``columns`` in order); the rows written.

    ``advance`` hears of every ``COPY_PROGRESS_EVERY`` rows written, and of
    the rest at the end.
    """
    written = 0
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            written += 1
            if advance is not None and written % COPY_PROGRESS_EVERY == 0:
                advance(COPY_PROGRESS_EVERY)
    if advance is not None and written % COPY_PROGRESS_EVERY:
        advance(written % COPY_PROGRESS_EVERY)
    return written
