"""Geometry checks, and a hint when another reading of the coordinates fits the district.

Geometries are checked in the source coordinates first (so the coordinates in
an "invalid geometry" message are the user's own) and again after conversion
to WGS84. Nothing is repaired: a self-intersecting polygon is reported, never
buffered into something the user did not draw.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from gis.geo.datum import BD09, GCJ02, WGS84, Datum, DatumKind, to_wgs84
from gis.geo.metric import MetricPlane
from gis.imports._read import SourceTable
from gis.imports._reference import ReferenceData
from gis.imports._spec import LayerSpec

# How far (metres) a polygon may poke out of the district or of its community
# before it counts as outside: boundaries digitised separately never match to
# the centimetre, and a 5 m sliver is not a mistake worth refusing a file for.
BOUNDARY_TOLERANCE_M = 5.0
_METRES_PER_DEGREE = 111_320.0


def degrees(metres: float) -> float:
    return metres / _METRES_PER_DEGREE


def _district_buffer_deg(district: BaseGeometry, tolerance_m: float | None) -> float:
    """How far (degrees) a row may lie outside the district: `BOUNDARY_TOLERANCE_M` by default.

    A snap tolerance is generous in longitude (a degree shrinks with cos(lat)):
    points this close to the district go on to routing, which measures on the
    geography type and refuses, with the distance, what it cannot snap.
    """
    if tolerance_m is None:
        return degrees(BOUNDARY_TOLERANCE_M)
    lat = max(abs(district.bounds[1]), abs(district.bounds[3]))
    shrink = max(math.cos(math.radians(lat)), 0.01)
    return max(tolerance_m, BOUNDARY_TOLERANCE_M) / (_METRES_PER_DEGREE * shrink)


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
            problems[i].append(f"missing or unparsable geometry; give the row a {expected}")
        elif geom.is_empty:
            problems[i].append("empty geometry")
        elif geom.geom_type not in spec.geometry_types:
            problems[i].append(f"geometry is a {geom.geom_type}, expected {expected}")
        else:
            continue
        ok[i] = False

    idx = np.flatnonzero(ok)
    bounds = shapely.bounds(source[idx]) if idx.size else np.zeros((0, 4))
    finite = np.isfinite(shapely.get_coordinates(source[idx])).all(axis=1)
    finite_rows = np.ones(len(idx), dtype=bool)
    if idx.size:  # a row is finite when all its coordinates are, not just its bounds
        counts = shapely.get_num_coordinates(source[idx])
        finite_rows = np.logical_and.reduceat(finite, np.r_[0, np.cumsum(counts)[:-1]])
    for i in idx[~finite_rows]:
        coords = shapely.get_coordinates(source[i])
        x, y = coords[~np.isfinite(coords).all(axis=1)][0]
        problems[i].append(
            f"coordinates ({x:g}, {y:g}) are not finite numbers (NaN or infinity); "
            "fix or remove this point in the file"
        )
        ok[i] = False
    if datum.is_geographic:
        lon_out = (bounds[:, 0] < -180) | (bounds[:, 2] > 180)
        out_of_range = finite_rows & (lon_out | (bounds[:, 1] < -90) | (bounds[:, 3] > 90))
    else:
        out_of_range = np.zeros(len(idx), dtype=bool)
    range_stray = idx[out_of_range]
    for i in range_stray:
        x, y = shapely.get_coordinates(source[i])[0]
        problems[i].append(
            f"coordinates ({x:g}, {y:g}) are not longitude/latitude degrees; if the file "
            "is in a projected CRS, give its EPSG code with --datum (e.g. EPSG:4549)"
        )
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
    district = ref.district.buffer(_district_buffer_deg(ref.district, ref.district_tolerance_m))
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
