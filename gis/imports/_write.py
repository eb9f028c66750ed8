"""Writing validated rows: one COPY per layer, or the incident ingest, in a savepoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.orm import Session

from gis.db.copy import copy_rows, hex_ewkb
from gis.db.engine import refusals
from gis.geo.datum import Datum
from gis.imports._spec import AREA_LAYERS, TABLES
from gis.incidents.ingest import IncidentIn, ingest_incidents
from gis.principal import Principal
from gis.progress import Advance, ignore
from gis.settings import IncidentSettings

_ADMIN_LEVEL = {"districts": "district", "subdistricts": "subdistrict", "communities": "community"}

_ADMIN_COLUMNS = (
    "code",
    "name",
    "level",
    "parent_id",
    "geom",
    "households",
    "population",
    "floating_population",
)
_GEOMETRY_COLUMNS = frozenset({"geom", "location", "footprint"})
# The record key of a column where it is not the column's own name.
_RECORD_KEYS = {"type_code": "type"}
_COPY_COLUMNS: dict[str, tuple[str, ...]] = {
    "districts": _ADMIN_COLUMNS,
    "subdistricts": _ADMIN_COLUMNS,
    "communities": _ADMIN_COLUMNS,
    "grids": ("code", "name", "community_id", "geom", "households", "population"),
    "buildings": (
        "ext_id",
        "grid_id",
        "location",
        "footprint",
        "households",
        "floors",
        "address",
        "name",
    ),
    "facilities": (
        "ext_id",
        "type_code",
        "name",
        "geom",
        "capacity",
        "floor_area_m2",
        "opening_hours",
        "address",
        "community_id",
    ),
}


def _rows(layer: str, records: list[dict[str, Any]]) -> Iterator[tuple[Any, ...]]:
    """The records as COPY rows, cells in `_COPY_COLUMNS` order: one list for the order."""
    cells: list[list[Any]] = []
    for column in _COPY_COLUMNS[layer]:
        if column == "level":
            cells.append([_ADMIN_LEVEL[layer]] * len(records))
        elif column in _GEOMETRY_COLUMNS:
            multi = column == "footprint" or (column == "geom" and layer in AREA_LAYERS)
            cells.append(hex_ewkb((r[column] for r in records), multi=multi))
        else:
            key = _RECORD_KEYS.get(column, column)
            cells.append([r[key] for r in records])
    return zip(*cells, strict=True)


def write_layer(
    session: Session,
    layer: str,
    records: list[dict[str, Any]],
    *,
    advance: Advance = ignore,
) -> int:
    """COPY validated records into the layer's table inside a savepoint; rows written.

    COPY fires the same constraints and triggers as INSERT (the grid
    household totals are refreshed once per statement), at a fraction of the
    cost of one INSERT per row. If the database refuses anything, the
    savepoint is rolled back, so the caller's transaction is left as it was.
    """
    with session.begin_nested(), refusals(f"the {layer} import"):
        dbapi = session.connection().connection.driver_connection
        assert isinstance(dbapi, psycopg.Connection)
        with dbapi.cursor() as cur:
            written = copy_rows(
                cur, TABLES[layer], _COPY_COLUMNS[layer], _rows(layer, records), advance
            )
    session.expire_all()
    return written


def write_incidents(
    session: Session,
    records: list[dict[str, Any]],
    path: Path,
    datum: Datum,
    *,
    advance: Advance = ignore,
) -> tuple[int, list[str]]:
    """Store validated incident rows through `gis.incidents.ingest`; (rows written, notes).

    Routed, snapped and handed to a grid manager exactly as live intake would,
    with their intake transition and history; actor ``import:<file name>``.
    """
    rows = [
        IncidentIn(
            row=i,
            category=r["category"],
            lon=float(r["geom"].x),
            lat=float(r["geom"].y),
            reported_at=r["reported_at"],
            ext_id=r["ext_id"],
            description=r["description"],
            source=r["source"],
            address=r["address"],
            location_datum=datum.label,
            handler_staff_id=r["handler_staff_id"],
            steps=r["steps"],
        )
        for i, r in enumerate(records, start=1)
    ]
    result = ingest_incidents(
        session, rows, principal=Principal.system(f"import:{path.name}"), advance=advance
    )
    by_status = ", ".join(f"{n:,} {status}" for status, n in result.by_status.items())
    notes = [
        f"statuses: {by_status}; {result.transitions:,} workflow transitions written "
        "(the intake step of each incident and the history given)"
    ]
    if result.snapped:
        tolerance = IncidentSettings().snap_tolerance_m
        notes.append(
            f"{result.snapped:,} incidents lay outside every grid and were snapped to the "
            f"nearest grid within {tolerance:g} m (recorded in snapped_m)"
        )
    return result.inserted, notes
