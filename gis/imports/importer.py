"""`gridmap import`: load a layer from GeoJSON, GeoPackage, Shapefile or CSV, all or nothing.

The source datum is always named by the caller (``wgs84``, ``cgcs2000``,
``gcj02``, ``bd09`` or ``EPSG:xxxx``) and everything is converted to WGS84
(EPSG:4326), the storage datum. A CRS declared by the file (GeoPackage,
Shapefile ``.prj``, GeoJSON ``crs``) must agree with it; GCJ-02 and BD-09 have
no EPSG code, so a file declaring EPSG:4326/4490 may be imported as ``gcj02``
or ``bd09`` (consumer-map data is routinely labelled WGS84).

Every row is validated before anything is written; if any row is refused,
`ImportRejectedError` lists each one with its 1-based row number (row 1 is the
first feature, line 2 of a CSV), its code or ext_id and the reason, and
nothing is written. Otherwise all rows go in with one COPY per layer inside a
savepoint of the caller's transaction; a database error that still slips
through rolls the savepoint back and becomes a `ConflictError`.

Columns per layer, in the order a deployment loads them (names are
case-insensitive; Shapefile's 10-character truncations such as ``floating_p``
are recognised; other columns are ignored and listed in the report):

districts (Polygon/MultiPolygon)
    code (6 digits, GB/T 2260, required; no current district may have it),
    name (required), households, population, floating_population (>= 0,
    default 0). The only layer imported without a district already loaded.
subdistricts (Polygon/MultiPolygon)
    code (9 digits, required), name (required), parent_code (6-digit current
    district, default the first 6 digits of code, which must extend it),
    households, population, floating_population (>= 0, default 0). Must lie
    within the parent district.
communities (Polygon/MultiPolygon)
    code (12 digits, required), name (required), parent_code (9-digit
    subdistrict, or 6-digit district where the subdistrict level is missing;
    required, must be current in the database and a prefix of code),
    households (required, >= 0), population (required, >= 0),
    floating_population (>= 0, default 0). Must lie within the parent.
grids (Polygon/MultiPolygon)
    code (15 digits, required; its first 12 digits name a current community,
    and the grid must lie within that community), name (required),
    households (>= 0, default 0; only until buildings are imported, then the
    database keeps it equal to the sum of the grid's buildings),
    population (>= 0, default 0).
buildings (Point, or Polygon/MultiPolygon footprint whose ST_PointOnSurface
becomes the location)
    ext_id (optional, unique), households (required, >= 0), floors (> 0),
    address, name. The grid is the current grid covering the location.
facilities (Point)
    ext_id (optional, unique), type (a facility_type code, required; also
    ``type_code``), name (required), capacity (>= 0), floor_area_m2 (> 0),
    opening_hours, address. The community is the one covering the point.
incidents (Point)
    ext_id (optional, unique), category (required, <= 40 chars), reported_at
    (ISO 8601, required; without an offset Beijing time is assumed), status
    (default: where the history leads), description, source, address,
    handler (staff id or unique name), and the history of a past case:
    accepted_at, cancelled_at + cancel_reason, dispatched_at, handled_at,
    feedback_at, rework_at (the last three may list several times), closed_at,
    evaluated_at. Written by ``gis.incidents.ingest`` exactly as live intake
    would route them (covering grid, else the nearest within the snap
    tolerance, else the file is refused), with their transitions.

Subdistricts, communities and grids must tile: "within" allows
``BOUNDARY_TOLERANCE_M`` (5 m), and a row overlapping another row of the
file or a current area of its level by more than ``OVERLAP_TOLERANCE_M2``
(1 m² in EPSG:4549) is refused. Gaps are allowed (districts are loaded piece
by piece); the report's notes say what share of each parent is now covered.

CSV files carry points in lon/lat columns (also lng/longitude/x and
lat/latitude/y, or names given by the caller) in the named datum, or any
geometry as WKT in a ``wkt``/``geometry``/``geom`` column.

See ``docs/import.md`` for the user-facing version.
"""

from __future__ import annotations

import csv
import math
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db.copy import copy_rows, hex_ewkb
from gis.db.engine import refusals
from gis.db.models import AdminArea, Grid
from gis.errors import (
    DatumMismatchError,
    ImportFileError,
    ImportRejectedError,
    InvalidParameterError,
    NoDistrictError,
    PayloadTooLargeError,
)
from gis.geo.datum import Datum, DatumKind
from gis.imports.validate import (
    BOUNDARY_TOLERANCE_M,
    LAYERS,
    SPECS,
    Area,
    ReferenceData,
    SourceTable,
    is_blank,
    resolve_columns,
    validate_layer,
)
from gis.incidents.ingest import IncidentIn, ingest_incidents
from gis.principal import Principal
from gis.progress import Advance, Progress, ignore, silent
from gis.settings import ImportSettings, IncidentSettings

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


FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".shp": "Shapefile",
    ".zip": "zipped Shapefile",
    ".csv": "CSV",
}
LON_NAMES = ("lon", "lng", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom")
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


# ---------------------------------------------------------------- entry point


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

    Writes in the caller's transaction (the caller commits). ``datum`` is
    required: the coordinates' datum, parsed at the edge and never guessed.
    ``max_bytes`` overrides ``GRIDMAP_MAX_IMPORT_BYTES``. Raises
    `ImportRejectedError` with every bad row, `ImportFileError`,
    `DatumMismatchError`, `NoDistrictError`, `PayloadTooLargeError`, or
    `ConflictError` if the database refuses what validation let through.
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
    idents = _idents(table, column_map.get(spec.ident))
    ref = load_reference(session, layer, idents)
    validated = validate_layer(
        layer,
        table,
        datum,
        ref,
        column_map=column_map,
        advance=progress(f"checking {layer}", table.n_rows),
    )
    if validated.rejected:
        raise ImportRejectedError(layer, validated.rejected, table.n_rows)
    advance = progress(f"writing {layer}", table.n_rows)
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


# ---------------------------------------------------------------- reading


def check_size(path: Path, max_bytes: int) -> int:
    """Size of the file (with a Shapefile's sidecar files) in bytes, refused above ``max_bytes``."""
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    parts = (
        [path.with_suffix(s) for s in _SHAPEFILE_PARTS] if path.suffix.lower() == ".shp" else [path]
    )
    size = sum(p.stat().st_size for p in parts if p.is_file())
    if size > max_bytes:
        raise PayloadTooLargeError(
            f"{path.name} is {size / 1e6:.1f} MB, over the import limit of "
            f"{max_bytes / 1e6:.1f} MB; split the file, or raise GRIDMAP_MAX_IMPORT_BYTES"
        )
    return size


def read_source(
    path: Path,
    layer: str,
    *,
    lon_col: str | None = None,
    lat_col: str | None = None,
    layer_name: str | None = None,
) -> tuple[SourceTable, CRS | None]:
    """The file's rows and the CRS it declares (None if it declares none)."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImportFileError(
            f"{path.name}: unsupported file type {path.suffix or '(none)'}; "
            f"use one of {', '.join(sorted(FORMATS))}"
        )
    if fmt == "CSV":
        table, crs = _read_csv(path, layer, lon_col, lat_col), None
    else:
        table, crs = _read_gis(path, fmt, layer_name)
    if table.n_rows == 0:
        raise ImportFileError(f"{path.name}: contains no rows to import")
    return table, crs


def _normalise_columns(path: Path, columns: Sequence[object]) -> list[str]:
    names = [str(c).strip().lower() for c in columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ImportFileError(f"{path.name}: column name(s) used twice: {', '.join(dupes)}")
    return names


def _read_gis(path: Path, fmt: str, layer_name: str | None) -> tuple[SourceTable, CRS | None]:
    failures = (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
        pyogrio.errors.CRSError,
        OSError,
        ValueError,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layers = [str(name) for name, _ in pyogrio.list_layers(path)]
            if layer_name is not None and layer_name not in layers:
                raise ImportFileError(
                    f"{path.name} has no layer {layer_name!r}; its layers: {', '.join(layers)}"
                )
            if layer_name is None and len(layers) > 1:
                raise ImportFileError(
                    f"{path.name} has {len(layers)} layers ({', '.join(layers)}); "
                    "choose one with --gpkg-layer"
                )
            frame = pyogrio.read_dataframe(path, layer=layer_name or layers[0])
    except failures as exc:
        raise ImportFileError(f"{path.name}: cannot be read as {fmt}: {exc}") from exc
    geometry = np.asarray(frame.geometry.array, dtype=object)
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    attributes.columns = _normalise_columns(path, attributes.columns)
    table = SourceTable(
        attributes=attributes.reset_index(drop=True),
        geometry=geometry,
        geometry_problems=[None] * len(geometry),
    )
    return table, frame.crs


def _read_csv_frame(path: Path) -> pd.DataFrame:
    # Excel on a Chinese Windows saves CSV in GB18030/GBK, not UTF-8.
    last: Exception | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(
                path, dtype=str, keep_default_na=False, encoding=encoding, skipinitialspace=True
            )
        except UnicodeDecodeError as exc:
            last = exc
        except pd.errors.EmptyDataError as exc:
            raise ImportFileError(f"{path.name}: the CSV file is empty") from exc
        except (pd.errors.ParserError, ValueError, OSError) as exc:
            raise ImportFileError(f"{path.name}: cannot be read as CSV: {exc}") from exc
    raise ImportFileError(f"{path.name}: neither UTF-8 nor GB18030 text ({last})")


def _pick(
    path: Path, names: list[str], explicit: str | None, defaults: Sequence[str]
) -> str | None:
    if explicit is not None:
        wanted = explicit.strip().lower()
        if wanted not in names:
            raise ImportFileError(f"{path.name}: no column {explicit!r}; found: {', '.join(names)}")
        return wanted
    return next((n for n in defaults if n in names), None)


def _read_csv(path: Path, layer: str, lon_col: str | None, lat_col: str | None) -> SourceTable:
    frame = _read_csv_frame(path)
    frame.columns = _normalise_columns(path, frame.columns)
    names = list(frame.columns)
    n = len(frame)
    problems: list[str | None] = [None] * n
    wkt_col = None if (lon_col or lat_col) else next((c for c in WKT_NAMES if c in names), None)
    if wkt_col is not None:
        raw = [None if is_blank(v) else str(v) for v in frame[wkt_col]]
        geometry = np.asarray(shapely.from_wkt(raw, on_invalid="ignore"), dtype=object)
        for i, (text_value, geom) in enumerate(zip(raw, geometry, strict=True)):
            if text_value is not None and geom is None:
                problems[i] = f"unparsable WKT in column {wkt_col}: {text_value[:60]!r}"
        used: tuple[str, ...] = (wkt_col,)
    else:
        lon = _pick(path, names, lon_col, LON_NAMES)
        lat = _pick(path, names, lat_col, LAT_NAMES)
        if lon is None or lat is None:
            polygons = "Point" not in SPECS[layer].geometry_types
            need = (
                f"a CSV of {layer} needs its polygons as WKT in a column named "
                f"{' or '.join(WKT_NAMES)}"
                if polygons
                else (
                    f"no lon/lat columns (looked for {'/'.join(LON_NAMES)} and "
                    f"{'/'.join(LAT_NAMES)}, or WKT in {'/'.join(WKT_NAMES)}); "
                    "name them with --lon-col and --lat-col"
                )
            )
            raise ImportFileError(f"{path.name}: {need}; found: {', '.join(names)}")
        xs = np.full(n, np.nan)
        ys = np.full(n, np.nan)
        for i, (x, y) in enumerate(zip(frame[lon], frame[lat], strict=True)):
            bad = [
                f"missing {name}" if is_blank(v) else f"{name} {v!r} is not a number"
                for name, v in ((lon, x), (lat, y))
                if not _is_float(v)
            ]
            if bad:
                problems[i] = "; ".join(bad)
            else:
                xs[i], ys[i] = float(x), float(y)
        geometry = np.full(n, None, dtype=object)
        good = np.array([p is None for p in problems], dtype=bool)
        geometry[good] = shapely.points(xs[good], ys[good])
        used = (lon, lat)
    return SourceTable(
        attributes=frame.reset_index(drop=True),
        geometry=geometry,
        geometry_problems=problems,
        geometry_columns=used,
    )


def _is_float(value: Any) -> bool:
    if is_blank(value):
        return False
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _idents(table: SourceTable, column: str | None) -> list[str]:
    if column is None:
        return []
    values = table.attributes[column].tolist()
    out = []
    for v in values:
        if is_blank(v):
            continue
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        out.append(str(v).strip())
    return out


# ---------------------------------------------------------------- datum


_LONLAT_EPSG = (4326, 4490)


def _same_crs(declared: CRS, epsg: int) -> bool:
    return bool(
        declared.equals(CRS.from_epsg(epsg), ignore_axis_order=True)
        or declared.to_epsg(min_confidence=70) == epsg
    )


def _describe(crs: CRS) -> str:
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg} ({crs.name})" if epsg else repr(crs.name)


def check_declared_crs(declared: CRS | None, datum: Datum, path: Path) -> None:
    """Refuse a file whose declared CRS contradicts the datum the caller named.

    WGS84, CGCS2000, GCJ-02 and BD-09 are all longitude/latitude, and a file
    of GCJ-02 points is normally labelled EPSG:4326 by the tool that wrote
    it; so any of these four accepts a file declaring EPSG:4326 or 4490. An
    EPSG datum must match the declared CRS exactly.
    """
    if declared is None:
        return
    if datum.kind is DatumKind.EPSG:
        assert datum.epsg is not None
        if _same_crs(declared, datum.epsg):
            return
        wanted = f"--datum {datum.label}"
    else:
        if any(_same_crs(declared, code) for code in _LONLAT_EPSG):
            return
        wanted = f"--datum {datum.label}"
    raise DatumMismatchError(
        f"{path.name} declares its coordinates as {_describe(declared)}, which contradicts "
        f"{wanted}. If the declared CRS is right, re-run with --datum "
        f"{_suggest(declared)}; if the file's CRS label is wrong, fix the label first."
    )


def _suggest(crs: CRS) -> str:
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg}" if epsg else "<its EPSG code>"


# ---------------------------------------------------------------- database


_CURRENT = "valid_from <= CURRENT_DATE AND (valid_to IS NULL OR valid_to > CURRENT_DATE)"


def _areas(session: Session, sql: str, **params: Any) -> list[Area]:
    rows = session.execute(text(sql), params).all()
    return [
        Area(
            id=int(r.id),
            code=str(r.code),
            level=str(r.level),
            geom=shapely.from_wkb(bytes(r.wkb)) if r.wkb is not None else None,
            parent_id=None if r.parent_id is None else int(r.parent_id),
        )
        for r in rows
    ]


def _admin_areas(session: Session, *levels: str) -> list[Area]:
    """Current admin areas of ``levels`` with their geometry, sorted by code."""
    return _areas(
        session,
        "SELECT id, code, level::text AS level, parent_id, ST_AsBinary(geom) AS wkb"
        f" FROM admin_area WHERE level::text = ANY(:levels) AND {_CURRENT} ORDER BY code",
        levels=list(levels),
    )


def _current_grids(session: Session) -> list[Area]:
    return _areas(
        session,
        "SELECT id, code, 'grid' AS level, community_id AS parent_id, ST_AsBinary(geom) AS wkb"
        f" FROM grid WHERE {_CURRENT} ORDER BY code",
    )


NO_DISTRICT_MESSAGE = (
    "no district boundary is loaded (admin_area, level 'district', in force today), so rows "
    "cannot be checked against it: import one with `gridmap import districts FILE --datum ...`, "
    "then its subdistricts (`gridmap import subdistricts FILE --datum ...`), before importing "
    "communities, grids or anything inside them."
)


def load_reference(session: Session, layer: str, idents: list[str]) -> ReferenceData:
    """What the layer's rows are checked against: district, parents, peers, grids, taken ids.

    Districts are the one layer imported without a district already loaded.
    """
    if layer == "districts":
        ref = ReferenceData(district_codes=[], district=None)
        ref.taken = _taken(session, layer, idents)
        return ref
    districts = _admin_areas(session, "district")
    if not districts:
        raise NoDistrictError(NO_DISTRICT_MESSAGE)
    district = shapely.union_all([d.geom for d in districts])
    ref = ReferenceData(district_codes=[d.code for d in districts], district=district)
    if layer == "subdistricts":
        ref.parents = {d.code: d for d in districts}
        ref.peers = _admin_areas(session, "subdistrict")
    if layer == "communities":
        ref.parents = {p.code: p for p in [*districts, *_admin_areas(session, "subdistrict")]}
        ref.peers = _admin_areas(session, "community")
    if layer in ("grids", "facilities"):
        ref.communities = _admin_areas(session, "community")
    if layer == "grids":
        ref.peers = _current_grids(session)
    if layer == "buildings":
        ref.grids = _current_grids(session)
    if layer == "incidents":
        ref.staff = {
            int(r.id): str(r.name) for r in session.execute(text("SELECT id, name FROM staff"))
        }
        ref.district_buffer_deg = _snap_buffer_deg(district, IncidentSettings().snap_tolerance_m)
    if layer == "facilities":
        ref.facility_types = set(session.execute(text("SELECT code FROM facility_type")).scalars())
    ref.taken = _taken(session, layer, idents)
    return ref


def _server_default(column: Any) -> str:
    return str(column.server_default.arg)


def _taken(session: Session, layer: str, idents: list[str]) -> dict[str, str]:
    """Codes or ext_ids of the file already in the database, with a word on why they clash."""
    if not idents:
        return {}
    if layer in _AREA_LAYERS:
        # Imported rows start at the column's server default and stay open, so
        # they clash with every stored version of the code still valid after it
        # (the exclusion constraints ex_admin_area_code_period and
        # ex_grid_code_period would refuse them).
        model = Grid if layer == "grids" else AdminArea
        valid_from = _server_default(model.__table__.c.valid_from)
        rows = session.execute(
            text(
                f"SELECT code, valid_from, valid_to FROM {model.__tablename__}"
                " WHERE code = ANY(:codes) AND (valid_to IS NULL OR valid_to > CAST(:vf AS date))"
            ),
            {"codes": idents, "vf": valid_from},
        ).all()
        return {
            r.code: (
                "already in the database"
                + (f" (version valid until {r.valid_to})" if r.valid_to else "")
            )
            for r in rows
        }
    table = _TABLES[layer]
    stored = session.execute(
        text(f"SELECT ext_id FROM {table} WHERE ext_id = ANY(:ids)"), {"ids": idents}
    ).scalars()
    return {str(ext_id): "already in the database" for ext_id in stored}


_AREA_LAYERS = ("districts", "subdistricts", "communities", "grids")
_ADMIN_LEVEL = {"districts": "district", "subdistricts": "subdistrict", "communities": "community"}

_TABLES = {
    "districts": "admin_area",
    "subdistricts": "admin_area",
    "communities": "admin_area",
    "grids": "grid",
    "buildings": "building",
    "facilities": "facility",
    "incidents": "incident",
}

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
    if layer in _AREA_LAYERS:
        geoms = hex_ewkb((r["geom"] for r in records), multi=True)
    elif layer == "buildings":
        geoms = hex_ewkb(r["location"] for r in records)
        footprints = hex_ewkb((r["footprint"] for r in records), multi=True)
    else:
        geoms = hex_ewkb(r["geom"] for r in records)
    for i, r in enumerate(records):
        if layer in _ADMIN_LEVEL:
            yield (
                r["code"],
                r["name"],
                _ADMIN_LEVEL[layer],
                r["parent_id"],
                geoms[i],
                r["households"],
                r["population"],
                r["floating_population"],
            )
        elif layer == "grids":
            yield (
                r["code"],
                r["name"],
                r["community_id"],
                geoms[i],
                r["households"],
                r["population"],
            )
        elif layer == "buildings":
            yield (
                r["ext_id"],
                r["grid_id"],
                geoms[i],
                footprints[i],
                r["households"],
                r["floors"],
                r["address"],
                r["name"],
            )
        else:
            yield (
                r["ext_id"],
                r["type"],
                r["name"],
                geoms[i],
                r["capacity"],
                r["floor_area_m2"],
                r["opening_hours"],
                r["address"],
                r["community_id"],
            )


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
                cur, _TABLES[layer], _COPY_COLUMNS[layer], _rows(layer, records), advance
            )
    session.expire_all()
    return written


def _snap_buffer_deg(district: BaseGeometry, tolerance_m: float) -> float:
    """The snap tolerance in degrees, generous in longitude (a degree shrinks with cos(lat)).

    Points this close to the district go on to routing, which measures on the
    geography type and refuses, with the distance, what it cannot snap.
    """
    lat = max(abs(district.bounds[1]), abs(district.bounds[3]))
    shrink = max(math.cos(math.radians(lat)), 0.01)
    return max(tolerance_m, BOUNDARY_TOLERANCE_M) / (111_320.0 * shrink)


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
