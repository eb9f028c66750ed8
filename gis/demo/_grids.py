"""Demo grid drawing: every community cut into grids of 200-300 households that tile it exactly.

Household-weighted recursive bisection gives grids equal in households with
straight edges; GEOS coverage cleaning makes shared edges identical, so that
after reprojection parents still equal the union of their grids; codes follow
reading order, as ``gis.areas.codes`` numbers live grids.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from gis.areas.codes import child_code, reading_order
from gis.demo._buildings import GridStyle
from gis.demo._density import DensityField, sample_points
from gis.demo._partition import merge_fragments
from gis.demo.inputs import Unit
from gis.demo.spec import (
    GRID_HOUSEHOLDS,
    GRID_MAX_HOUSEHOLDS,
    GRID_MIN_HOUSEHOLDS,
    METRIC_CRS,
    SAMPLE_SPACING_M,
    SEGMENT_MAX_M,
    SNAP_M,
)


def grid_pieces(
    community: BaseGeometry,
    households: float,
    density: DensityField,
    rng: np.random.Generator,
) -> tuple[list[BaseGeometry], list[int]]:
    """``community`` cut into ``round(households / 250)`` pieces (at least 1) and their households.

    Each piece is promised 215-285 households, so that no grid and no community
    falls below 200 whatever the buildings make of it.
    """
    k = max(1, round(households / GRID_HOUSEHOLDS))
    targets = [int(t) for t in rng.integers(215, 286, k)]
    spacing = float(np.clip(math.sqrt(community.area / (150 * k)), 5.0, SAMPLE_SPACING_M))
    xy = sample_points(community, spacing, rng)
    mass = density(xy[:, 0], xy[:, 1])
    return merge_fragments(_bisect(community, targets, xy, mass)), targets


def grid_frame(
    pieces: list[BaseGeometry],
    communities: list[Unit],
    households: list[int],
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """The grids (metric CRS), sorted by code: ``pieces`` tiled, numbered, styled, populated.

    Codes follow reading order inside each community; the sparsest grids become
    village-style, the densest high-rise estates, the rest walk-ups.
    """
    tiles = _tile_exactly(pieces)
    if any(g.is_empty for g in tiles):
        raise RuntimeError("a demo grid vanished while tiling")
    comm_codes = np.array([c.code for c in communities])
    grid_code = np.empty(len(tiles), dtype=object)
    grid_seq = np.zeros(len(tiles), dtype=int)
    for code in dict.fromkeys(comm_codes):
        members = np.flatnonzero(comm_codes == code)
        for seq, j in enumerate(in_reading_order(list(tiles[members])), start=1):
            grid_code[members[j]] = child_code(code, seq)
            grid_seq[members[j]] = seq
    target_arr = np.array(households)
    grid_density = target_arr / shapely.area(tiles)
    lo, hi = np.quantile(grid_density, [0.42, 0.72])
    styles: list[GridStyle] = [
        "village" if d <= lo else "walkup" if d <= hi else "estate" for d in grid_density
    ]
    grid_rows = []
    for i in np.argsort(grid_code.astype(str), kind="stable"):
        comm = communities[i]
        grid_rows.append(
            {
                "code": grid_code[i],
                "name": f"{comm.name}第{grid_seq[i]}网格",
                "community_code": comm.code,
                "subdistrict_code": comm.parent_code,
                "households": int(target_arr[i]),
                "population": round(int(target_arr[i]) * float(rng.uniform(2.45, 2.85))),
                "style": styles[i],
                "geometry": tiles[i],
            }
        )
    grids = gpd.GeoDataFrame(grid_rows, geometry="geometry", crs=METRIC_CRS)
    bad = grids[~grids["households"].between(GRID_MIN_HOUSEHOLDS, GRID_MAX_HOUSEHOLDS)]
    assert bad.empty, f"grids outside 200-300 households: {bad['code'].tolist()}"
    return grids


def grid_row_height(areas_m2: NDArray[np.float64] | list[float]) -> float:
    """Row height (metres) for numbering the grids of one community: one typical grid side."""
    areas = np.asarray(areas_m2, dtype=float)
    return float(math.sqrt(areas.mean())) if areas.size else 1.0


def _bisect(
    poly: BaseGeometry,
    targets: list[int],
    xy: NDArray[np.float64],
    mass: NDArray[np.float64],
) -> list[BaseGeometry]:
    """Pieces of ``poly`` in the order of ``targets``, split by straight E-W or N-S cuts.

    Each cut puts the household share of the first half of ``targets`` on the
    west (or south) side; the axis is the longer side of the bounding box unless
    the other axis leaves fewer disconnected parts.
    """
    if len(targets) == 1:
        return [poly]
    k1 = len(targets) // 2
    frac = sum(targets[:k1]) / sum(targets)
    minx, miny, maxx, maxy = poly.bounds
    best: tuple[int, BaseGeometry, BaseGeometry, NDArray[np.bool_]] | None = None
    for axis in (0, 1) if maxx - minx >= maxy - miny else (1, 0):
        coord = xy[:, axis]
        if coord.size >= 2 * len(targets):
            order = np.argsort(coord, kind="stable")
            cum = np.cumsum(mass[order])
            i = int(np.searchsorted(cum, frac * cum[-1]))
            i = min(max(i, 0), coord.size - 2)
            cut = float((coord[order[i]] + coord[order[i + 1]]) / 2)
        else:
            lo, hi = (minx, maxx) if axis == 0 else (miny, maxy)
            cut = lo + frac * (hi - lo)
        if axis == 0:
            a = shapely.box(minx - 1, miny - 1, cut, maxy + 1)
            b = shapely.box(cut, miny - 1, maxx + 1, maxy + 1)
        else:
            a = shapely.box(minx - 1, miny - 1, maxx + 1, cut)
            b = shapely.box(minx - 1, cut, maxx + 1, maxy + 1)
        pa = shapely.intersection(poly, a)
        pb = shapely.intersection(poly, b)
        if pa.is_empty or pb.is_empty or pa.area < 1 or pb.area < 1:
            continue
        parts = int(shapely.get_num_geometries(pa) + shapely.get_num_geometries(pb))
        if best is None or parts < best[0]:
            best = (parts, pa, pb, xy[:, axis] < cut)
    if best is None:
        raise RuntimeError(
            f"cannot split a community piece of {poly.area:.0f} m² in {len(targets)}"
        )
    _, pa, pb, left = best
    return _bisect(pa, targets[:k1], xy[left], mass[left]) + _bisect(
        pb, targets[k1:], xy[~left], mass[~left]
    )


def _tile_exactly(pieces: list[BaseGeometry]) -> NDArray[np.object_]:
    """Pieces made into one exact polygonal coverage: shared edges with identical vertices.

    The pieces come from floating-point overlays, so neighbours may disagree by
    nanometres; GEOS's coverage cleaning snaps them together (within ``SNAP_M``)
    and resolves what overlaps.
    """
    dense = shapely.segmentize(np.asarray(pieces, dtype=object), SEGMENT_MAX_M)
    clean = shapely.coverage_clean(dense, snapping_distance=SNAP_M)
    if not shapely.coverage_is_valid(clean):
        raise RuntimeError("demo grids do not form a valid coverage after cleaning")
    return np.array([as_multi(g) for g in clean], dtype=object)


def as_multi(geom: BaseGeometry) -> shapely.MultiPolygon:
    """``geom``'s polygons as one MultiPolygon: the type every area column stores."""
    polys = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    return shapely.MultiPolygon(polys)


def in_reading_order(geoms: list[BaseGeometry]) -> list[int]:
    """Indices of ``geoms`` (metric) in reading order of their centroids.

    Centroids, not interior points: GEOS picks an interior point on a scan line
    between vertices, which reprojection can move by half a segment and so
    across a row boundary; a centroid moves by nanometres.
    """
    xy = shapely.get_coordinates(shapely.centroid(np.asarray(geoms, dtype=object)))
    return reading_order(xy[:, 0], xy[:, 1], grid_row_height(shapely.area(geoms)))
