"""Validation of import rows, before anything is written: pure, no database.

`gis.imports.importer` reads a file into a `SourceTable`, loads the `ReferenceData`
the layer needs (district boundary, current communities and grids, taken codes
and ext_ids, facility types) and calls `validate_layer`, which returns either
the records to write or every problem found, each with its 1-based row number
(row 1 is the first feature, or line 2 of a CSV) and the row's code or ext_id.

Geometries are checked in the source coordinates first (so the coordinates in
an "invalid geometry" message are the user's own) and again after conversion
to WGS84. Nothing is repaired: a self-intersecting polygon is reported, never
buffered into something the user did not draw.

Areas are checked against the national standard's division principles: each
subdistrict, community and grid lies within its parent (give or take
`BOUNDARY_TOLERANCE_M`) and overlaps no other area of its level, in the file
or in the database (give or take `OVERLAP_TOLERANCE_M2`). Gaps are not refused,
since loading a district piece by piece is normal; the notes of an import say
how much of each parent its children now cover.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from gis.db.models import METRIC_SRID
from gis.errors import GridmapError, RejectedRow
from gis.geo.datum import BD09, GCJ02, WGS84, Datum, DatumKind, from_wgs84, to_wgs84
from gis.geo.metric import MetricPlane
from gis.incidents.catalogue import find, top_level
from gis.incidents.workflow import Action, State, Step, replay
from gis.localtime import CITY_TZ
from gis.progress import Advance, ignore

# In the order a deployment loads them: each layer is checked against the ones before it.
LAYERS = (
    "districts",
    "subdistricts",
    "communities",
    "grids",
    "buildings",
    "facilities",
    "incidents",
)
Layer = Literal[
    "districts", "subdistricts", "communities", "grids", "buildings", "facilities", "incidents"
]

# How far (metres) a polygon may poke out of the district or of its community
# before it counts as outside: boundaries digitised separately never match to
# the centimetre, and a 5 m sliver is not a mistake worth refusing a file for.
BOUNDARY_TOLERANCE_M = 5.0
_METRES_PER_DEGREE = 111_320.0

# Overlap (square metres, measured in EPSG:4549) two areas of one level may
# share before a row is refused. Neighbours digitised on shared vertices
# overlap by nothing, or by float noise far below this; a real overlap, where
# the same households would fall in two grids, is larger.
OVERLAP_TOLERANCE_M2 = 1.0
_METRIC = Datum(DatumKind.EPSG, METRIC_SRID)
# At most this many overlaps are listed per row; the rest are counted.
_MAX_OVERLAPS_LISTED = 5

# A reported_at further than this in the future is a wrong date, not clock skew.
_FUTURE_SLACK = dt.timedelta(days=1)

ColumnKind = Literal["code", "text", "int", "number", "datetime"]


@dataclass(frozen=True)
class Column:
    """One attribute column of a layer and how its values are checked."""

    name: str
    kind: ColumnKind
    required: bool = False
    default: Any = None
    minimum: float | None = None
    exclusive_minimum: bool = False
    max_len: int | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerSpec:
    """What a layer's file must contain and what geometry types it takes."""

    columns: tuple[Column, ...]
    geometry_types: frozenset[str]
    ident: str  # the column that names a row in reports


_POLYGONS = frozenset({"Polygon", "MultiPolygon"})
_POINT = frozenset({"Point"})

SPECS: dict[str, LayerSpec] = {
    "districts": LayerSpec(
        columns=(
            Column("code", "code", required=True),
            Column("name", "text", required=True),
            Column("households", "int", default=0, minimum=0),
            Column("population", "int", default=0, minimum=0),
            Column("floating_population", "int", default=0, minimum=0),
        ),
        geometry_types=_POLYGONS,
        ident="code",
    ),
    "subdistricts": LayerSpec(
        columns=(
            Column("code", "code", required=True),
            Column("name", "text", required=True),
            Column("parent_code", "code"),
            Column("households", "int", default=0, minimum=0),
            Column("population", "int", default=0, minimum=0),
            Column("floating_population", "int", default=0, minimum=0),
        ),
        geometry_types=_POLYGONS,
        ident="code",
    ),
    "communities": LayerSpec(
        columns=(
            Column("code", "code", required=True),
            Column("name", "text", required=True),
            Column("parent_code", "code", required=True),
            Column("households", "int", required=True, minimum=0),
            Column("population", "int", required=True, minimum=0),
            Column("floating_population", "int", default=0, minimum=0),
        ),
        geometry_types=_POLYGONS,
        ident="code",
    ),
    "grids": LayerSpec(
        columns=(
            Column("code", "code", required=True),
            Column("name", "text", required=True),
            Column("households", "int", default=0, minimum=0),
            Column("population", "int", default=0, minimum=0),
        ),
        geometry_types=_POLYGONS,
        ident="code",
    ),
    "buildings": LayerSpec(
        columns=(
            Column("ext_id", "text"),
            Column("households", "int", required=True, minimum=0),
            Column("floors", "int", minimum=0, exclusive_minimum=True),
            Column("address", "text"),
            Column("name", "text"),
        ),
        geometry_types=_POINT | _POLYGONS,
        ident="ext_id",
    ),
    "facilities": LayerSpec(
        columns=(
            Column("ext_id", "text"),
            Column("type", "text", required=True, max_len=40, aliases=("type_code",)),
            Column("name", "text", required=True),
            Column("capacity", "int", minimum=0),
            Column("floor_area_m2", "number", minimum=0, exclusive_minimum=True),
            Column("opening_hours", "text"),
            Column("address", "text"),
        ),
        geometry_types=_POINT,
        ident="ext_id",
    ),
    "incidents": LayerSpec(
        columns=(
            Column("ext_id", "text"),
            Column("category", "text", required=True, max_len=40),
            Column("reported_at", "datetime", required=True),
            Column("status", "text", max_len=20),
            Column("description", "text"),
            Column("source", "text", max_len=20),
            Column("address", "text"),
            Column("handler", "text"),
            # The history of a past case (see _incident_history); times stay text here
            # because handled_at, feedback_at and rework_at may list several.
            Column("accepted_at", "text"),
            Column("dispatched_at", "text"),
            Column("handled_at", "text"),
            Column("feedback_at", "text"),
            Column("rework_at", "text"),
            Column("closed_at", "text"),
            Column("evaluated_at", "text"),
            Column("cancelled_at", "text"),
            Column("cancel_reason", "text"),
        ),
        geometry_types=_POINT,
        ident="ext_id",
    ),
}

_FLOOR_AREA_MAX = 999_999_999.9  # numeric(10, 1)


@dataclass(frozen=True)
class Area:
    """A current admin area or grid as the validator needs it.

    ``parent_id`` is the admin area it belongs to (a grid's community), where
    coverage of the parent is reported.
    """

    id: int
    code: str
    level: str
    geom: BaseGeometry | None = None
    parent_id: int | None = None


@dataclass
class ReferenceData:
    """What is already in the database that rows are checked against.

    Only the parts the layer needs are filled in. ``grids`` and
    ``communities`` are sorted by code, so that a point on the shared edge of
    two areas goes to the one with the lower code, every time. ``district``
    is None only while districts themselves are imported. ``peers`` are the
    current areas of the layer's own level (subdistricts, communities or
    grids), which new rows must not overlap.
    """

    district_codes: list[str]
    district: BaseGeometry | None
    parents: dict[str, Area] = field(default_factory=dict)  # code -> district/subdistrict
    communities: list[Area] = field(default_factory=list)
    peers: list[Area] = field(default_factory=list)
    grids: list[Area] = field(default_factory=list)
    facility_types: set[str] = field(default_factory=set)
    taken: dict[str, str] = field(default_factory=dict)  # code/ext_id -> why it is taken
    staff: dict[int, str] = field(default_factory=dict)  # id -> name, for incident handlers
    # How far (degrees) a point may lie outside the district before the validator
    # refuses it; None = BOUNDARY_TOLERANCE_M. Incidents pass the snap tolerance,
    # so that routing, not this check, decides about points on the boundary road.
    district_buffer_deg: float | None = None


def _metres_outside(district: BaseGeometry, geoms: NDArray[np.object_]) -> list[float]:
    """How far each geometry lies from the district, in metres on the Gauss-Krüger plane
    of the district's zone (scale error below 0.1 %: enough to tell 40 m from 600 m)."""
    if len(geoms) == 0:
        return []
    plane = MetricPlane.around(shapely.centroid(district).x)

    def to_plane(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        return plane.to_plane(coords[:, 0], coords[:, 1])

    boundary = shapely.transform(district, to_plane)
    shapely.prepare(boundary)
    return [float(d) for d in shapely.distance(boundary, shapely.transform(geoms, to_plane))]


@dataclass
class SourceTable:
    """A file's rows: attributes by normalised column name, geometry in source coordinates.

    ``geometry_problems`` holds, per row, why no geometry could be built (a CSV
    cell that is not a number, unparsable WKT); ``None`` where there is none.
    """

    attributes: pd.DataFrame
    geometry: NDArray[np.object_]
    geometry_problems: list[str | None]
    geometry_columns: tuple[str, ...] = ()

    @property
    def n_rows(self) -> int:
        return len(self.geometry)


@dataclass
class ValidatedLayer:
    """Rows ready to write (all of them), or the problems that stop the import."""

    records: list[dict[str, Any]]
    rejected: list[RejectedRow]
    notes: list[str] = field(default_factory=list)


def resolve_columns(spec: LayerSpec, present: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Map each spec column to the file's column (exact name, alias, or Shapefile's 10-char cut).

    Returns the mapping and the names of required columns that are missing.
    """
    mapping: dict[str, str] = {}
    missing: list[str] = []
    available = set(present)
    for col in spec.columns:
        for candidate in (col.name, *col.aliases, col.name[:10]):
            if candidate in available:
                mapping[col.name] = candidate
                break
        else:
            if col.required:
                missing.append(col.name)
    return mapping, missing


# ---------------------------------------------------------------- cell parsing


def is_blank(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _as_text(value: Any) -> str:
    """Cell as text; whole floats (a GIS field typed Real) lose their '.0'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, np.integer | np.floating):
        return _as_text(value.item())
    return str(value).strip()


def _parse_int(value: Any) -> int:
    if isinstance(value, bool | np.bool_):
        raise ValueError
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if not float(value).is_integer():
            raise ValueError
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if re.fullmatch(r"[+-]?\d+\.0*", text):
        return int(text.split(".")[0])
    raise ValueError


def _parse_number(value: Any) -> float:
    if isinstance(value, bool | np.bool_):
        raise ValueError
    number = float(value) if isinstance(value, int | float | np.number) else float(str(value))
    if not math.isfinite(number):
        raise ValueError
    return number


def _parse_datetime(value: Any) -> dt.datetime:
    """A timezone-aware datetime; naive values are Beijing time, the city's clock."""
    if isinstance(value, pd.Timestamp):
        parsed = value.to_pydatetime()
    elif isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CITY_TZ)
    return parsed


def parse_cell(col: Column, value: Any, now: dt.datetime) -> tuple[Any, str | None]:
    """The typed value of one cell, or the reason it is refused."""
    if is_blank(value):
        if col.required:
            return None, f"missing {col.name}"
        return col.default, None
    if col.kind in ("text", "code"):
        text = _as_text(value)
        if col.max_len is not None and len(text) > col.max_len:
            return None, f"{col.name} is longer than {col.max_len} characters"
        return text, None
    if col.kind == "datetime":
        try:
            when = _parse_datetime(value)
        except (ValueError, TypeError, OverflowError):
            return None, (
                f"{col.name} {_as_text(value)!r} is not an ISO 8601 date and time "
                "(e.g. 2024-05-01T08:30:00+08:00; without an offset Beijing time is assumed)"
            )
        if when > now + _FUTURE_SLACK:
            return None, f"{col.name} {when.isoformat()} is in the future"
        return when, None
    try:
        number: float = _parse_int(value) if col.kind == "int" else _parse_number(value)
    except (ValueError, TypeError, OverflowError):
        what = "a whole number" if col.kind == "int" else "a number"
        return None, f"{col.name} {_as_text(value)!r} is not {what}"
    if col.minimum is not None:
        if col.exclusive_minimum and number <= col.minimum:
            return None, f"{col.name} must be greater than {col.minimum:g}, got {number:g}"
        if number < col.minimum:
            return None, f"{col.name} must not be negative, got {number:g}"
    if col.name == "floor_area_m2" and number > _FLOOR_AREA_MAX:
        return None, f"floor_area_m2 {number:g} is too large"
    if col.kind == "int" and abs(number) > 2**31 - 1:
        return None, f"{col.name} {number:g} is too large"
    return number, None


# ---------------------------------------------------------------- geometry


def _degrees(metres: float) -> float:
    return metres / _METRES_PER_DEGREE


def convert_geometries(geoms: NDArray[np.object_], datum: Datum) -> NDArray[np.object_]:
    """All geometries to WGS84 in one vectorised pass over their coordinates."""

    def _convert(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], datum)
        return np.column_stack([lon, lat])

    return np.asarray(shapely.transform(geoms, _convert), dtype=object)


def _inside(area: BaseGeometry, geoms: NDArray[np.object_]) -> NDArray[np.bool_]:
    result = np.zeros(len(geoms), dtype=bool)
    present = np.array([g is not None for g in geoms], dtype=bool)
    if present.any():
        result[present] = shapely.covers(area, geoms[present])
    return result


def _swap_xy(coords: NDArray[np.float64]) -> NDArray[np.float64]:
    return coords[:, ::-1].copy()


def _all_inside(
    points: NDArray[np.object_],
    convert: Callable[[NDArray[np.object_]], NDArray[np.object_]],
    district: BaseGeometry,
) -> bool:
    if points.size == 0:
        return True
    with np.errstate(all="ignore"):
        moved = convert(points)
    if not np.isfinite(shapely.get_coordinates(moved)).all():
        return False
    return bool(_inside(district, moved).all())


def _convert_as(datum: Datum, points: NDArray[np.object_]) -> NDArray[np.object_]:
    return convert_geometries(points, datum)


def _datum_hint(
    strays: NDArray[np.object_],
    others: NDArray[np.object_],
    datum: Datum,
    district: BaseGeometry,
) -> str | None:
    """The likely mistake when another reading of the coordinates fits the district.

    GCJ-02 and BD-09 shift points by 500-1300 m around Weifang, so data in the
    wrong datum lands partly outside the district. A hint is given only when
    the other reading puts *every* row of the file inside (the strays
    ``strays`` and the rows that were already inside, ``others``), so points
    that really lie beyond the boundary are not explained away. Swapped
    lon/lat is tried the same way. Arguments are representative points in
    source coordinates.
    """
    given = datum.display_name
    wgs_like = datum.kind in (DatumKind.WGS84, DatumKind.CGCS2000)
    candidates: list[tuple[str, Callable[[NDArray[np.object_]], NDArray[np.object_]]]] = []
    for alt in (GCJ02, BD09, WGS84):  # the commoner mistake first
        if alt.kind is datum.kind or (alt is WGS84 and wgs_like):
            continue
        hint = (
            f"looks like {alt.display_name} coordinates given as {given}: "
            f"re-run with --datum {alt.label}"
        )
        candidates.append((hint, functools.partial(_convert_as, alt)))
    if datum.is_geographic:
        hint = "lon and lat look swapped: exchange the two columns (or x and y)"
        candidates.append(
            (hint, lambda pts: convert_geometries(shapely.transform(pts, _swap_xy), datum))
        )
    for hint, convert in candidates:
        if _all_inside(strays, convert, district) and _all_inside(others, convert, district):
            return hint
    return None


@dataclass
class CheckedGeometry:
    """Geometries in WGS84 (None where refused) and the problems per row."""

    wgs84: NDArray[np.object_]
    problems: list[list[str]]


def check_geometries(
    table: SourceTable, spec: LayerSpec, datum: Datum, ref: ReferenceData
) -> CheckedGeometry:
    """Type, emptiness, validity, coordinate range, district; datum hints for strays."""
    n = table.n_rows
    problems: list[list[str]] = [[] for _ in range(n)]
    source = np.asarray(shapely.force_2d(table.geometry), dtype=object)
    ok = np.ones(n, dtype=bool)
    expected = " or ".join(sorted(spec.geometry_types))
    for i, geom in enumerate(source):
        if table.geometry_problems[i] is not None:
            problems[i].append(str(table.geometry_problems[i]))
        elif geom is None:
            problems[i].append("missing or unparsable geometry")
        elif geom.is_empty:
            problems[i].append("empty geometry")
        elif geom.geom_type not in spec.geometry_types:
            problems[i].append(f"geometry is a {geom.geom_type}, expected {expected}")
        else:
            continue
        ok[i] = False

    idx = np.flatnonzero(ok)
    bounds = shapely.bounds(source[idx]) if idx.size else np.zeros((0, 4))
    if datum.is_geographic:
        out_of_range = (
            ~np.isfinite(bounds).all(axis=1)
            | (bounds[:, 0] < -180)
            | (bounds[:, 2] > 180)
            | (bounds[:, 1] < -90)
            | (bounds[:, 3] > 90)
        )
    else:
        out_of_range = ~np.isfinite(bounds).all(axis=1)
    range_stray = idx[out_of_range]
    for i in range_stray:
        x, y = shapely.get_coordinates(source[i])[0]
        if datum.is_geographic:
            problems[i].append(
                f"coordinates ({x:g}, {y:g}) are not longitude/latitude degrees; if the file "
                "is in a projected CRS, give its EPSG code with --datum (e.g. EPSG:4549)"
            )
        else:
            problems[i].append(f"coordinates ({x:g}, {y:g}) are not finite numbers")
        ok[i] = False

    idx = np.flatnonzero(ok)
    valid = shapely.is_valid(source[idx]) if idx.size else np.zeros(0, bool)
    for i in idx[~valid]:
        problems[i].append(
            f"invalid geometry: {shapely.is_valid_reason(source[i])} "
            "(fix it in a GIS; the importer does not repair geometries)"
        )
        ok[i] = False

    wgs = np.full(n, None, dtype=object)
    idx = np.flatnonzero(ok)
    if idx.size:
        with np.errstate(all="ignore"):
            wgs[idx] = convert_geometries(source[idx], datum)
    finite = np.isfinite(shapely.bounds(wgs[idx])).all(axis=1) if idx.size else np.zeros(0, bool)
    for i in idx[~finite]:
        problems[i].append(f"coordinates cannot be converted from {datum.label} to WGS84")
        ok[i] = False
    idx = idx[finite]
    still_valid = shapely.is_valid(wgs[idx]) if idx.size else np.zeros(0, bool)
    for i in idx[~still_valid]:
        problems[i].append(
            f"geometry becomes invalid when converted from {datum.display_name}: "
            f"{shapely.is_valid_reason(wgs[i])}"
        )
        ok[i] = False

    if ref.district is None:  # importing the districts: nothing to be inside of yet
        wgs[~ok] = None
        return CheckedGeometry(wgs84=wgs, problems=problems)
    idx = np.flatnonzero(ok)
    buffer = ref.district_buffer_deg
    district = ref.district.buffer(_degrees(BOUNDARY_TOLERANCE_M) if buffer is None else buffer)
    shapely.prepare(district)
    inside = _inside(district, wgs[idx])
    strays = np.concatenate([idx[~inside], range_stray]).astype(int)
    where = "/".join(ref.district_codes)
    outside = idx[~inside]
    for i, metres in zip(outside, _metres_outside(ref.district, wgs[outside]), strict=True):
        problems[i].append(f"outside the district {where}: {metres:,.0f} m beyond its boundary")
        ok[i] = False
    if strays.size:
        others = idx[inside]
        reps = np.asarray(shapely.point_on_surface(source[strays]), dtype=object)
        rest = np.asarray(shapely.point_on_surface(source[others]), dtype=object)
        hint = _datum_hint(reps, rest, datum, district)
        if hint is not None:
            for i in strays:
                problems[i].append(hint)
    wgs[~ok] = None
    return CheckedGeometry(wgs84=wgs, problems=problems)


def _assign(areas: Sequence[Area], points: NDArray[np.object_]) -> NDArray[np.int64]:
    """Index into ``areas`` of the area covering each point (-1 if none; lowest code wins)."""
    result = np.full(len(points), -1, dtype=np.int64)
    present = np.flatnonzero([p is not None for p in points])
    if not areas or present.size == 0:
        return result
    tree = STRtree([a.geom for a in areas])
    hits = tree.query(points[present], predicate="covered_by")
    best = np.full(present.size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, hits[0], hits[1])
    found = best != np.iinfo(np.int64).max
    result[present[found]] = best[found]
    return result


# ---------------------------------------------------------------- layers


def validate_layer(
    layer: str,
    table: SourceTable,
    datum: Datum,
    ref: ReferenceData,
    *,
    column_map: dict[str, str],
    advance: Advance = ignore,
    now: dt.datetime | None = None,
) -> ValidatedLayer:
    """Check every row of ``table`` for ``layer``; return records or all problems found."""
    spec = SPECS[layer]
    now = now or dt.datetime.now(tz=CITY_TZ)
    n = table.n_rows
    geo = check_geometries(table, spec, datum, ref)
    problems = geo.problems
    advance(n // 2)

    values: dict[str, list[Any]] = {}
    for col in spec.columns:
        source_col = column_map.get(col.name)
        raw = table.attributes[source_col].tolist() if source_col else [None] * n
        parsed: list[Any] = []
        for i, cell in enumerate(raw):
            value, problem = parse_cell(col, cell, now)
            if problem:
                problems[i].append(problem)
            parsed.append(value)
        values[col.name] = parsed
    advance(n // 4)

    idents: list[str | None] = list(values[spec.ident])
    extra = _LAYER_CHECKS[layer](values, geo.wgs84, ref, problems)
    if layer in _TILED:
        check_overlaps(idents, geo.wgs84, ref.peers, _TILED[layer][0], problems)
    _check_unique(idents, spec.ident, ref.taken, problems)
    advance(n - n // 2 - n // 4)

    # One entry per row (as ImportRejectedError counts rows), all its problems in it.
    rejected = [
        RejectedRow(row=i + 1, reason="; ".join(problems[i]), ident=idents[i])
        for i in range(n)
        if problems[i]
    ]
    if rejected:
        return ValidatedLayer(records=[], rejected=rejected)
    records = [
        {**{name: vals[i] for name, vals in values.items()}, **{k: v[i] for k, v in extra.items()}}
        for i in range(n)
    ]
    notes = _notes(layer, records) + coverage_notes(layer, records, ref)
    return ValidatedLayer(records=records, rejected=[], notes=notes)


def _check_unique(
    idents: list[str | None], what: str, taken: dict[str, str], problems: list[list[str]]
) -> None:
    first_row: dict[str, int] = {}
    for i, ident in enumerate(idents):
        if ident is None:
            continue
        if ident in first_row:
            problems[i].append(f"duplicate {what} {ident} (also in row {first_row[ident]})")
        else:
            first_row[ident] = i + 1
        if ident in taken:
            problems[i].append(f"duplicate {what} {ident}: {taken[ident]}")


_CODE_LAYOUT = {n: re.compile(rf"^[0-9]{{{n}}}$") for n in (6, 9, 12, 15)}


def _check_within_parents(
    geoms: NDArray[np.object_], parents: Sequence[Area | None], problems: list[list[str]]
) -> None:
    """Refuse areas that stick out of their parent by more than `BOUNDARY_TOLERANCE_M`.

    Each parent is grown and prepared once, however many children it has.
    """
    tolerance = _degrees(BOUNDARY_TOLERANCE_M)
    grown: dict[int, BaseGeometry] = {}
    for i, (geom, parent) in enumerate(zip(geoms, parents, strict=True)):
        if geom is None or parent is None or parent.geom is None:
            continue
        if parent.id not in grown:
            grown[parent.id] = parent.geom.buffer(tolerance)
            shapely.prepare(grown[parent.id])
        if not grown[parent.id].covers(geom):
            problems[i].append(f"extends beyond its {parent.level} {parent.code}")


def _check_districts(
    values: dict[str, list[Any]],
    geoms: NDArray[np.object_],
    ref: ReferenceData,
    problems: list[list[str]],
) -> dict[str, list[Any]]:
    for i, code in enumerate(values["code"]):
        if code is not None and not _CODE_LAYOUT[6].match(code):
            problems[i].append(
                f"code {code!r} is not a 6-digit district code (GB/T 2260, e.g. 370705)"
            )
    return {"parent_id": [None] * len(geoms), "geom": list(geoms)}


def _check_subdistricts(
    values: dict[str, list[Any]],
    geoms: NDArray[np.object_],
    ref: ReferenceData,
    problems: list[list[str]],
) -> dict[str, list[Any]]:
    parent_codes: list[str | None] = []
    parents: list[Area | None] = []
    for i, (code, given) in enumerate(zip(values["code"], values["parent_code"], strict=True)):
        parent_codes.append(None)
        parents.append(None)
        if code is not None and not _CODE_LAYOUT[9].match(code):
            problems[i].append(
                f"code {code!r} is not a 9-digit subdistrict code "
                "(6-digit district + 3-digit subdistrict)"
            )
            code = None
        parent = given if given is not None else (code[:6] if code is not None else None)
        if parent is None:
            continue
        if not _CODE_LAYOUT[6].match(parent):
            problems[i].append(f"parent_code {parent!r} is not a 6-digit district code")
            continue
        parent_codes[i] = parent
        if code is not None and not code.startswith(parent):
            problems[i].append(f"code {code} does not extend its parent code {parent}")
        area = ref.parents.get(parent)
        if area is None or area.level != "district":
            problems[i].append(
                f"unknown district {parent}: no current district with that code in the "
                f"database; import it first with `gridmap import districts FILE --datum ...`"
            )
        else:
            parents[i] = area
    _check_within_parents(geoms, parents, problems)
    return {
        "parent_code": parent_codes,
        "parent_id": [p.id if p is not None else None for p in parents],
        "geom": list(geoms),
    }


def _check_communities(
    values: dict[str, list[Any]],
    geoms: NDArray[np.object_],
    ref: ReferenceData,
    problems: list[list[str]],
) -> dict[str, list[Any]]:
    parents: list[Area | None] = []
    for i, (code, parent) in enumerate(zip(values["code"], values["parent_code"], strict=True)):
        parents.append(None)
        if code is not None and not _CODE_LAYOUT[12].match(code):
            problems[i].append(
                f"code {code!r} is not a 12-digit community code "
                "(6-digit district + 3-digit subdistrict + 3-digit community)"
            )
            code = None
        if parent is None:
            continue
        if not re.fullmatch(r"[0-9]{6}|[0-9]{9}", parent):
            problems[i].append(
                f"parent_code {parent!r} is neither a 9-digit subdistrict nor a 6-digit "
                "district code"
            )
            continue
        if code is not None and not code.startswith(parent):
            problems[i].append(f"code {code} does not extend its parent code {parent}")
        area = ref.parents.get(parent)
        level = "subdistrict" if len(parent) == 9 else "district"
        if area is None or area.level != level:
            problems[i].append(
                f"unknown parent code {parent}: no current {level} with that code in the database"
            )
        else:
            parents[i] = area
    _check_within_parents(geoms, parents, problems)
    return {"parent_id": [p.id if p is not None else None for p in parents], "geom": list(geoms)}


def _check_grids(
    values: dict[str, list[Any]],
    geoms: NDArray[np.object_],
    ref: ReferenceData,
    problems: list[list[str]],
) -> dict[str, list[Any]]:
    by_code = {c.code: c for c in ref.communities}
    communities: list[Area | None] = []
    for i, code in enumerate(values["code"]):
        communities.append(None)
        if code is None:
            continue
        if not _CODE_LAYOUT[15].match(code):
            problems[i].append(
                f"code {code!r} is not a 15-digit grid code (12-digit community code + 3 digits)"
            )
            continue
        community = by_code.get(code[:12])
        if community is None:
            problems[i].append(
                f"unknown community {code[:12]} (the first 12 digits of the grid code): "
                "import the community first"
            )
            continue
        communities[i] = community
    _check_within_parents(geoms, communities, problems)
    return {
        "community_id": [c.id if c is not None else None for c in communities],
        "geom": list(geoms),
    }


def _check_buildings(
    values: dict[str, list[Any]],
    geoms: NDArray[np.object_],
    ref: ReferenceData,
    problems: list[list[str]],
) -> dict[str, list[Any]]:
    present = np.array([g is not None for g in geoms], dtype=bool)
    locations = np.full(len(geoms), None, dtype=object)
    if present.any():
        locations[present] = shapely.point_on_surface(geoms[present])
    hit = _assign(ref.grids, locations)
    grid_ids: list[int | None] = []
    footprints: list[BaseGeometry | None] = []
    for i, geom in enumerate(geoms):
        footprints.append(geom if geom is not None and geom.geom_type != "Point" else None)
        if geom is None:
            grid_ids.append(None)
            continue
        if hit[i] < 0:
            problems[i].append(
                "not inside any grid (a building must lie in a current grid: "
                "import or fix the grids first)"
            )
            grid_ids.append(None)
        else:
            grid_ids.append(ref.grids[hit[i]].id)
    return {"grid_id": grid_ids, "location": list(locations), "footprint": footprints}


def _check_facilities(
    values: dict[str, list[Any]],
    geoms: NDArray[np.object_],
    ref: ReferenceData,
    problems: list[list[str]],
) -> dict[str, list[Any]]:
    known = ", ".join(sorted(ref.facility_types)) or "none loaded"
    for i, code in enumerate(values["type"]):
        if code is not None and code not in ref.facility_types:
            problems[i].append(f"unknown facility type {code!r} (known: {known})")
    hit = _assign(ref.communities, geoms)
    return {
        "community_id": [ref.communities[h].id if h >= 0 else None for h in hit],
        "geom": list(geoms),
    }


def _check_incidents(
    values: dict[str, list[Any]],
    geoms: NDArray[np.object_],
    ref: ReferenceData,
    problems: list[list[str]],
) -> dict[str, list[Any]]:
    # Hotline and city-platform exports name categories in Chinese: store the code.
    # Grids are assigned by gis.incidents.ingest, in SQL, as live intake does.
    codes: list[Any] = []
    for i, given in enumerate(values["category"]):
        found = find(given) if given is not None else None
        codes.append(found.code if found is not None else given)
        if given is not None and found is None:
            top = ", ".join(c.code for c in top_level())
            problems[i].append(
                f"unknown incident category {given!r} (codes such as {top}, or their Chinese names)"
            )
    now = dt.datetime.now(tz=CITY_TZ)
    statuses: list[State | None] = []
    steps: list[tuple[Step, ...]] = []
    for i in range(len(geoms)):
        status, history = _incident_history({k: v[i] for k, v in values.items()}, now)
        statuses.append(status)
        steps.append(history.steps)
        problems[i].extend(history.problems)
    return {
        "category": codes,
        "status": statuses,
        "steps": steps,
        "handler_staff_id": _handlers(values["handler"], ref.staff, problems),
        "geom": list(geoms),
    }


# Columns of a past case's history: the action each time stands for, in workflow order.
HISTORY_COLUMNS: dict[str, Action] = {
    "accepted_at": Action.ACCEPT,
    "cancelled_at": Action.CANCEL,
    "dispatched_at": Action.DISPATCH,
    "handled_at": Action.HANDLE,
    "feedback_at": Action.FEEDBACK,
    "rework_at": Action.REWORK,
    "closed_at": Action.VERIFY,
    "evaluated_at": Action.EVALUATE,
}
# Columns that may hold several times (a case sent back k times is handled k + 1 times).
_REPEATED = frozenset({"handled_at", "feedback_at", "rework_at"})
_ORDER = {action: n for n, action in enumerate(HISTORY_COLUMNS.values())}
# The columns a status cannot do without (the path to it through the workflow).
_NEEDS: dict[State, tuple[str, ...]] = {
    State.REPORTED: (),
    State.ACCEPTED: ("accepted_at",),
    State.CANCELLED: ("cancelled_at", "cancel_reason"),
    State.DISPATCHED: ("accepted_at", "dispatched_at"),
    State.HANDLED: ("accepted_at", "dispatched_at", "handled_at"),
    State.FEEDBACK: ("accepted_at", "dispatched_at", "handled_at", "feedback_at"),
    State.CLOSED: ("accepted_at", "dispatched_at", "handled_at", "feedback_at", "closed_at"),
    State.EVALUATED: (
        "accepted_at",
        "dispatched_at",
        "handled_at",
        "feedback_at",
        "closed_at",
        "evaluated_at",
    ),
}
REWORK_NOTE = "sent back for rework (imported history; the file gives no reason)"


@dataclass(frozen=True)
class _History:
    steps: tuple[Step, ...] = ()
    problems: tuple[str, ...] = ()


def _times(name: str, value: Any, now: dt.datetime) -> tuple[list[dt.datetime], list[str]]:
    """The times in one history cell (several, separated by ';', in the repeatable columns)."""
    if is_blank(value):
        return [], []
    parts = str(value).split(";") if isinstance(value, str) else [value]
    parts = [p for p in parts if not is_blank(p)]
    if len(parts) > 1 and name not in _REPEATED:
        return [], [f"{name} holds {len(parts)} times; only {', '.join(sorted(_REPEATED))} may"]
    col = Column(name, "datetime")
    times, problems = [], []
    for part in parts:
        when, problem = parse_cell(col, part, now)
        if problem:
            problems.append(problem)
        else:
            times.append(when)
    return times, problems


def _incident_history(row: dict[str, Any], now: dt.datetime) -> tuple[State | None, _History]:
    """A past case's status and steps from its time columns, checked by ``gis.incidents.workflow``.

    The times are put in order (at equal times, in workflow order: accepted
    before dispatched, the k-th feedback before the k-th rework) and replayed
    through ``gis.incidents.workflow.apply``; the status, when given, must be where they
    lead. A blank status is that end state.
    """
    given = row.get("status")
    problems: list[str] = []
    status: State | None = None
    if given is not None:
        try:
            status = State(given)
        except ValueError:
            states = ", ".join(s.value for s in State)
            problems.append(f"unknown status {given!r} (workflow states: {states})")
    events: list[tuple[dt.datetime, int, int, Step]] = []
    present: set[str] = set()
    for name, action in HISTORY_COLUMNS.items():
        times, bad = _times(name, row.get(name), now)
        problems.extend(bad)
        if times or bad:
            present.add(name)
        note = ""
        if action is Action.CANCEL:
            note = row.get("cancel_reason") or ""
        elif action is Action.REWORK:
            note = REWORK_NOTE
        for k, at in enumerate(times):
            loop = 10**6 if action in (Action.VERIFY, Action.EVALUATE) else k
            events.append((at, loop, _ORDER[action], Step(action, at, note)))
    reason = row.get("cancel_reason")
    if reason is not None:
        present.add("cancel_reason")
        if "cancelled_at" not in present:
            problems.append("cancel_reason is given but cancelled_at is not")
    if status is not None:
        missing = [c for c in _NEEDS[status] if c not in present]
        if missing:
            problems.append(f"status {status.value} needs {', '.join(missing)} (missing)")
    if problems:
        return status, _History(problems=tuple(problems))
    events.sort(key=lambda e: e[:3])
    steps = tuple(e[3] for e in events)
    reported_at = row.get("reported_at")
    if reported_at is None:
        return status, _History(steps=steps)
    try:
        case = replay(reported_at, steps, actor="import")
    except GridmapError as exc:
        return status, _History(problems=(f"the times do not form a legal history: {exc}",))
    if status is not None and case.state is not status:
        return status, _History(
            problems=(
                f"status is {status.value}, but the times given lead to {case.state.value}: "
                "correct the status or drop the later times",
            )
        )
    return case.state, _History(steps=steps)


def _handlers(
    given: list[Any], staff: dict[int, str], problems: list[list[str]]
) -> list[int | None]:
    """Staff ids of the ``handler`` cells: an id, or a name only one staff member has."""
    by_name: dict[str, list[int]] = {}
    for sid, name in staff.items():
        by_name.setdefault(name, []).append(sid)
    ids: list[int | None] = []
    for i, value in enumerate(given):
        ids.append(None)
        if value is None:
            continue
        if re.fullmatch(r"[0-9]+", value) and int(value) in staff:
            ids[i] = int(value)
            continue
        named = sorted(by_name.get(value, []))
        if len(named) == 1:
            ids[i] = named[0]
        elif named:
            listed = ", ".join(map(str, named))
            problems[i].append(
                f"handler {value!r} names {len(named)} staff members (ids {listed}): give the id"
            )
        else:
            problems[i].append(f"unknown handler {value!r}: no staff member has this id or name")
    return ids


_LAYER_CHECKS: dict[
    str,
    Callable[
        [dict[str, list[Any]], NDArray[np.object_], ReferenceData, list[list[str]]],
        dict[str, list[Any]],
    ],
] = {
    "districts": _check_districts,
    "subdistricts": _check_subdistricts,
    "communities": _check_communities,
    "grids": _check_grids,
    "buildings": _check_buildings,
    "facilities": _check_facilities,
    "incidents": _check_incidents,
}


# ---------------------------------------------------------------- tiling

# Layers that must tile their parent: (child level, record key of the parent's id).
_TILED: dict[str, tuple[str, str]] = {
    "subdistricts": ("subdistrict", "parent_id"),
    "communities": ("community", "parent_id"),
    "grids": ("grid", "community_id"),
}
_PLURAL = {"subdistrict": "subdistricts", "community": "communities", "grid": "grids"}


def to_metric(geoms: Sequence[BaseGeometry | None] | NDArray[np.object_]) -> NDArray[np.object_]:
    """WGS84 geometries projected to EPSG:4549 (metres), where areas are measured.

    CGCS2000 Gauss-Krüger zone 40 (CM 120°E) is the project's metric CRS. Its
    area scale error grows away from 120°E: under 1% within 6° of it (114-126°E),
    a few percent further west. That is immaterial for a 1 m² overlap allowance
    and cancels out of a coverage share, which is a ratio of two areas.
    """

    def _project(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = from_wgs84(coords[:, 0], coords[:, 1], _METRIC)
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(np.asarray(geoms, dtype=object), _project), dtype=object)


def _m2(area: float) -> str:
    return f"{area:,.1f}" if area < 100 else f"{area:,.0f}"


def area_m2(geoms: Sequence[BaseGeometry | None] | NDArray[np.object_]) -> NDArray[np.float64]:
    """Area in square metres of WGS84 geometries, measured in EPSG:4549 (0 for None)."""
    return np.nan_to_num(np.asarray(shapely.area(to_metric(geoms)), dtype=np.float64))


def check_overlaps(
    codes: Sequence[str | None],
    geoms: NDArray[np.object_],
    peers: Sequence[Area],
    what: str,
    problems: list[list[str]],
) -> None:
    """Refuse rows overlapping another row or a current ``peer`` by over `OVERLAP_TOLERANCE_M2`.

    The standard's seamless tiling: one place, one grid (one community, one
    subdistrict). Candidate pairs come from an STRtree, so a file of 1,000
    grids costs a few thousand intersections of neighbours, not a million.
    Which parts overlap is decided in WGS84, the storage CRS in which the
    database assigns points to areas; only the overlap found is projected to
    be measured. (Projecting first would bend straight edges, so that two
    neighbours whose shared edge has a vertex on one side only would
    "overlap" by a sliver of a hundred square metres.) Shared edges overlap by
    0 m². A stored peer with the row's own code is skipped: that row is
    already refused as a duplicate code.
    """
    present = np.flatnonzero([g is not None for g in geoms])
    if present.size == 0:
        return
    mine = np.asarray(geoms[present], dtype=object)
    found: dict[int, list[tuple[float, str]]] = {}

    def _label(row: int) -> str:
        return f"row {row + 1}" + (f" ({codes[row]})" if codes[row] else "")

    left, right = STRtree(mine).query(mine, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    if left.size:
        areas = area_m2(shapely.intersection(mine[left], mine[right]))
        over = areas > OVERLAP_TOLERANCE_M2
        for a, b, area in zip(left[over], right[over], areas[over], strict=True):
            i, j = int(present[a]), int(present[b])
            found.setdefault(i, []).append((float(area), _label(j)))
            found.setdefault(j, []).append((float(area), _label(i)))

    stored = [p for p in peers if p.geom is not None]
    if stored:
        theirs = np.asarray([p.geom for p in stored], dtype=object)
        rows, hits = STRtree(theirs).query(mine, predicate="intersects")
        if rows.size:
            areas = area_m2(shapely.intersection(mine[rows], theirs[hits]))
            for r, h, area in zip(rows, hits, areas, strict=True):
                i, peer = int(present[r]), stored[int(h)]
                if area > OVERLAP_TOLERANCE_M2 and peer.code != codes[i]:
                    found.setdefault(i, []).append(
                        (float(area), f"{what} {peer.code} already in the database")
                    )

    for i, overlaps in found.items():
        overlaps.sort(key=lambda o: (-o[0], o[1]))
        for area, other in overlaps[:_MAX_OVERLAPS_LISTED]:
            problems[i].append(f"overlaps {other} by {_m2(area)} m²")
        if len(overlaps) > _MAX_OVERLAPS_LISTED:
            problems[i].append(
                f"overlaps {len(overlaps) - _MAX_OVERLAPS_LISTED} more {_PLURAL[what]} by over "
                f"{OVERLAP_TOLERANCE_M2:g} m² each"
            )


@dataclass(frozen=True)
class Coverage:
    """How much of one parent area its current children cover, in square metres."""

    parent: Area
    area_m2: float
    covered_m2: float
    children: int
    new: int

    @property
    def uncovered_m2(self) -> float:
        return max(self.area_m2 - self.covered_m2, 0.0)

    @property
    def share(self) -> float:
        """Covered fraction, 0-1; gaps under `OVERLAP_TOLERANCE_M2` count as none."""
        if self.area_m2 <= 0 or self.uncovered_m2 < OVERLAP_TOLERANCE_M2:
            return 1.0
        return min(self.covered_m2 / self.area_m2, 1.0)


def _percent(share: float) -> str:
    # Rounded down, so a parent with a real gap never reads 100.0%.
    return f"{math.floor(share * 1000) / 10:.1f}%"


def coverage_after_import(
    layer: str, records: list[dict[str, Any]], ref: ReferenceData
) -> list[Coverage]:
    """Coverage of every parent the imported rows belong to, by stored and new children together.

    The uncovered part is the parent minus the union of its children, worked
    out in WGS84 (see `check_overlaps` for why) and then measured in square
    metres; children sticking out of the parent (within the boundary
    tolerance) add nothing.
    """
    if layer not in _TILED or not records:
        return []
    key = _TILED[layer][1]
    candidates = ref.communities if layer == "grids" else list(ref.parents.values())
    parents = {a.id: a for a in candidates if a.geom is not None}
    touched = sorted({r[key] for r in records if r[key] in parents}, key=lambda p: parents[p].code)
    result = []
    for pid in touched:
        new = [r["geom"] for r in records if r[key] == pid]
        stored = [p.geom for p in ref.peers if p.parent_id == pid and p.geom is not None]
        outline = parents[pid].geom
        gap = shapely.difference(outline, shapely.union_all([*stored, *new]))
        total, uncovered = area_m2([outline, gap])
        result.append(
            Coverage(
                parent=parents[pid],
                area_m2=float(total),
                covered_m2=float(total - uncovered),
                children=len(stored) + len(new),
                new=len(new),
            )
        )
    return result


# Up to this many parents get a line each in the notes; more are summarised.
_COVERAGE_LINES = 10


def _count(n: int, level: str) -> str:
    return f"{n} {level if n == 1 else _PLURAL.get(level, level + 's')}"


def coverage_notes(layer: str, records: list[dict[str, Any]], ref: ReferenceData) -> list[str]:
    """What share of each parent the layer's children now cover (gaps are allowed, not hidden)."""
    coverage = coverage_after_import(layer, records, ref)
    if not coverage:
        return []
    child = _TILED[layer][0]
    children = _PLURAL[child]
    if len(coverage) <= _COVERAGE_LINES:
        notes = []
        for c in coverage:
            gap = f"; {_m2(c.uncovered_m2)} m² not covered" if c.share < 1 else ""
            notes.append(
                f"{children} now cover {_percent(c.share)} of {c.parent.level} {c.parent.code} "
                f"({_count(c.children, child)}, {c.new} from this file{gap})"
            )
        return notes
    total = sum(c.area_m2 for c in coverage)
    uncovered = sum(c.uncovered_m2 for c in coverage if c.share < 1)
    full = sum(c.share >= 1 for c in coverage)
    levels = sorted({c.parent.level for c in coverage})
    parents = " and ".join(_PLURAL.get(lv, lv + "s") for lv in levels)
    note = (
        f"{children} now cover {_percent(1 - uncovered / total if total else 1.0)} of the "
        f"{len(coverage)} {parents} this file adds to ({full} fully covered)"
    )
    if full < len(coverage):
        least = sorted(coverage, key=lambda c: (c.share, c.parent.code))[:3]
        note += "; least covered: " + ", ".join(
            f"{c.parent.code} {_percent(c.share)}" for c in least if c.share < 1
        )
    return [note]


def _notes(layer: str, records: list[dict[str, Any]]) -> list[str]:
    """What the user should know about an import that went through."""
    if layer == "facilities":
        orphans = sum(r["community_id"] is None for r in records)
        if orphans:
            return [
                f"{orphans} facilities lie in the district but in no community; stored without one"
            ]
    if layer == "grids" and any(r["households"] for r in records):
        return [
            "grid households from the file stand until buildings are imported; from then on "
            "the database keeps them equal to the sum of the grid's buildings"
        ]
    return []
