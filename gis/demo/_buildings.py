"""Buildings of every grid: footprints whose households add up to exactly the grid's.

A grid's household count is an invariant the database keeps (the sum of its
buildings), so buildings are planned from the count, not counted afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from gis.areas.codes import reading_order
from gis.demo.inputs import Unit
from gis.demo.spec import (
    FOOTPRINT_MARGIN_M,
    METRIC_CRS,
)

BuildingKind = Literal["high_rise", "mid_rise", "low_rise"]
#: How a grid is built up, chosen by its density: high-rise estates, walk-ups, village houses.
GridStyle = Literal["estate", "walkup", "village"]


@dataclass(frozen=True)
class _KindSpec:
    """Lattice slot and footprint ranges (metres) of one kind of building."""

    slot: tuple[float, float]
    length: tuple[float, float]
    depth: tuple[float, float]
    jitter: float


_KINDS: dict[BuildingKind, _KindSpec] = {
    "high_rise": _KindSpec(slot=(72.0, 48.0), length=(34.0, 60.0), depth=(13.0, 17.0), jitter=1.0),
    "mid_rise": _KindSpec(slot=(64.0, 30.0), length=(36.0, 56.0), depth=(10.0, 12.5), jitter=1.0),
    "low_rise": _KindSpec(slot=(17.0, 15.0), length=(8.0, 12.5), depth=(7.5, 10.5), jitter=1.2),
}
_LOW_RISE_HOUSEHOLDS = (np.array([1, 2, 3, 4]), np.array([0.40, 0.35, 0.17, 0.08]))
_KIND_ORDER: tuple[BuildingKind, ...] = ("high_rise", "mid_rise", "low_rise")


@dataclass
class _Plan:
    """Buildings planned for one grid: kind index into ``_KIND_ORDER``, households, floors."""

    kind: NDArray[np.int64]
    households: NDArray[np.int64]
    floors: NDArray[np.int64]


def _plan_grid(target: int, style: GridStyle, rng: np.random.Generator) -> _Plan:
    """Buildings whose households add up to exactly ``target``.

    Blocks have floors × units × 2 flats (two per landing, as in Chinese slab
    blocks): high-rise 11-26 floors of 1-2 units, walk-ups 5-7 floors of 2-4
    units; village houses hold 1-4 households.
    """
    n = target + 1  # enough candidates even if every one holds a single household
    if style == "estate":
        mixed = rng.random() < 0.4
        kind = np.where(mixed & (rng.random(n) < 0.35), 1, 0)
    elif style == "walkup":
        kind = np.ones(n, dtype=np.int64)
    else:
        kind = np.full(n, 2, dtype=np.int64)
        kind[: int(rng.choice([0, 0, 1, 2]))] = 1  # resettlement blocks (安置楼) of a village
    high_floors, high_units = rng.integers(11, 27, n), rng.integers(1, 3, n)
    mid_floors, mid_units = rng.choice([5, 6, 6, 6, 7], n), rng.integers(2, 5, n)
    house = rng.choice(_LOW_RISE_HOUSEHOLDS[0], n, p=_LOW_RISE_HOUSEHOLDS[1])
    house_floors = np.clip(house - 1 + rng.integers(0, 2, n), 1, 3)
    units = np.select([kind == 0, kind == 1], [high_units, mid_units], 1)
    floors = np.select([kind == 0, kind == 1], [high_floors, mid_floors], house_floors)
    households = np.where(kind == 2, house, floors * units * 2)
    cum = np.cumsum(households)
    last = int(np.searchsorted(cum, target))
    kind, units, floors, households = (
        a[: last + 1].copy() for a in (kind, units, floors, households)
    )
    households[last] = target - (cum[last - 1] if last else 0)
    # The last block is only partly occupied; if by a handful of households
    # only, the previous block takes them instead (growing taller if it must).
    if kind[last] != 2 and households[last] < 20 and last and kind[last - 1] != 2:
        households[last - 1] += households[last]
        kind, units, floors, households = (a[:last] for a in (kind, units, floors, households))
        last -= 1
        floors[last] = max(floors[last], math.ceil(households[last] / (2 * units[last])))
        if floors[last] > 9:
            kind[last] = 0  # ten floors or more make it a high-rise
    return _Plan(kind, households, floors)


def _random_point_in(
    geom: BaseGeometry, rng: np.random.Generator, tries: int = 64
) -> tuple[float, float]:
    minx, miny, maxx, maxy = geom.bounds
    xs = rng.uniform(minx, maxx, tries)
    ys = rng.uniform(miny, maxy, tries)
    inside = np.flatnonzero(shapely.contains_xy(geom, xs, ys))
    if inside.size:
        return float(xs[inside[0]]), float(ys[inside[0]])
    p = geom.representative_point()
    return p.x, p.y


def _rectangles(
    cx: NDArray[np.float64],
    cy: NDArray[np.float64],
    length: NDArray[np.float64],
    depth: NDArray[np.float64],
    theta: float,
) -> NDArray[np.object_]:
    """Rectangles centred on (cx, cy), ``length`` along the rotated x axis (metres)."""
    c, s = math.cos(theta), math.sin(theta)
    lx = np.array([-0.5, 0.5, 0.5, -0.5])[None, :] * length[:, None]
    ly = np.array([-0.5, -0.5, 0.5, 0.5])[None, :] * depth[:, None]
    xs = cx[:, None] + lx * c - ly * s
    ys = cy[:, None] + lx * s + ly * c
    return shapely.polygons(np.stack([xs, ys], axis=-1))


def _place(
    inner: BaseGeometry,
    count: int,
    kind: BuildingKind,
    centre: tuple[float, float],
    theta: float,
    blocked: shapely.STRtree | None,
    rng: np.random.Generator,
) -> NDArray[np.object_]:
    """Up to ``count`` footprints on a rotated lattice, nearest to ``centre`` first.

    Slots whose largest footprint would leave ``inner`` or come within 6 m of a
    ``blocked`` footprint are skipped.
    """
    spec = _KINDS[kind]
    sx, sy = spec.slot
    minx, miny, maxx, maxy = inner.bounds
    reach = math.hypot(maxx - minx, maxy - miny)
    half = math.sqrt(count * sx * sy * 3.0) / 2 + max(sx, sy)
    phase = rng.uniform(0, 1, 2)
    while True:
        nu, nv = math.ceil(half / sx), math.ceil(half / sy)
        u, v = np.meshgrid(
            (np.arange(-nu, nu + 1) + phase[0]) * sx, (np.arange(-nv, nv + 1) + phase[1]) * sy
        )
        u = u.ravel() + rng.uniform(-spec.jitter, spec.jitter, u.size)
        v = v.ravel() + rng.uniform(-spec.jitter, spec.jitter, v.size)
        c, s = math.cos(theta), math.sin(theta)
        cx = centre[0] + u * c - v * s
        cy = centre[1] + u * s + v * c
        full = _rectangles(
            cx, cy, np.full(cx.size, spec.length[1]), np.full(cx.size, spec.depth[1]), theta
        )
        ok = shapely.contains(inner, full)
        if blocked is not None:
            ok[blocked.query(full, predicate="dwithin", distance=6.0)[0]] = False
        if ok.sum() >= count or half > reach:
            break
        half *= 2
    idx = np.flatnonzero(ok)
    rank = np.hypot(u[idx], v[idx]) + rng.uniform(0, 0.5 * sx, idx.size)
    chosen = idx[np.argsort(rank, kind="stable")[:count]]
    n = chosen.size
    length = rng.uniform(*spec.length, n)
    depth = rng.uniform(*spec.depth, n)
    return _rectangles(cx[chosen], cy[chosen], length, depth, theta)


@dataclass
class _GridBuildings:
    footprints: list[BaseGeometry]
    kinds: list[BuildingKind]
    households: list[int]
    floors: list[int]


def _fill_grid(
    grid: BaseGeometry, target: int, style: GridStyle, rng: np.random.Generator
) -> _GridBuildings:
    """Buildings holding ``target`` households, ``FOOTPRINT_MARGIN_M`` or more inside ``grid``."""
    inner = grid.buffer(-FOOTPRINT_MARGIN_M)
    if inner.is_empty:
        inner = grid.buffer(-FOOTPRINT_MARGIN_M / 4)
    shapely.prepare(inner)
    theta = math.radians(rng.normal(0, 10 if style == "village" else 6))
    centre = _random_point_in(inner, rng)
    plan = _plan_grid(target, style, rng)
    out = _GridBuildings([], [], [], [])
    blocked: shapely.STRtree | None = None
    leftover = 0
    for k, kind in enumerate(_KIND_ORDER):
        items = np.flatnonzero(plan.kind == k)
        if not items.size:
            continue
        rects = _place(inner, items.size, kind, centre, theta, blocked, rng)
        placed = items[: len(rects)]
        out.footprints.extend(rects)
        out.kinds.extend([kind] * len(rects))
        out.households.extend(int(h) for h in plan.households[placed])
        out.floors.extend(int(f) for f in plan.floors[placed])
        leftover += int(plan.households[items[len(rects) :]].sum())
        if out.footprints:
            blocked = shapely.STRtree(out.footprints)
    if not out.footprints:  # a sliver of a grid: one small block at its most interior point
        p = shapely.maximum_inscribed_circle(grid, 0.5)
        cx, cy = shapely.get_coordinates(p)[0]
        side = min(12.0, 1.2 * shapely.length(p))
        out.footprints.append(
            shapely.box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
        )
        out.kinds.append("mid_rise")
        out.households.append(0)
        out.floors.append(1)
    if leftover:  # households that found no slot move into the blocks (or houses) placed
        takers = [i for i, k in enumerate(out.kinds) if k != "low_rise"] or list(
            range(len(out.kinds))
        )
        for j, i in enumerate(takers):
            out.households[i] += leftover // len(takers) + (j < leftover % len(takers))
    for i, kind in enumerate(out.kinds):
        if kind != "low_rise":
            out.floors[i] = max(out.floors[i], math.ceil(out.households[i] / 8))
    return out


def make_buildings(
    grids: gpd.GeoDataFrame, district: Unit, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """Buildings of every grid (metric CRS), numbered in reading order inside each community."""
    names = {s.code: s.name for s in district.children} | {
        c.code: c.name for s in district.children for c in s.children
    }
    rows: list[dict[str, object]] = []
    for g in grids.itertuples():
        filled = _fill_grid(g.geometry, int(g.households), g.style, rng)
        for fp, kind, hh, floors in zip(
            filled.footprints, filled.kinds, filled.households, filled.floors, strict=True
        ):
            rows.append(
                {
                    "grid_code": g.code,
                    "community_code": g.community_code,
                    "subdistrict_code": g.subdistrict_code,
                    "kind": kind,
                    "households": hh,
                    "floors": floors,
                    "footprint": fp,
                }
            )
    df = pd.DataFrame(rows)
    footprints = df["footprint"].to_numpy()
    location = shapely.point_on_surface(footprints)
    xy = shapely.get_coordinates(location)
    number = np.zeros(len(df), dtype=int)
    for _, idx in df.groupby("community_code", sort=True).indices.items():
        for n, j in enumerate(reading_order(xy[idx, 0], xy[idx, 1], 40.0), start=1):
            number[idx[j]] = n
    place = [
        f"{district.name}{names[s]}{names[c]}"
        for s, c in zip(df["subdistrict_code"], df["community_code"], strict=True)
    ]
    is_block = (df["kind"] != "low_rise").to_numpy()
    df["address"] = [
        f"{p}{n}号楼" if block else f"{p}{n}号"
        for p, n, block in zip(place, number, is_block, strict=True)
    ]
    df["name"] = [f"{n}号楼" if block else None for n, block in zip(number, is_block, strict=True)]
    df["footprint"] = gpd.GeoSeries(
        shapely.multipolygons(footprints, indices=np.arange(len(footprints))),
        index=df.index,
        crs=METRIC_CRS,
    )
    df["location"] = gpd.GeoSeries(location, index=df.index, crs=METRIC_CRS)
    df = df.assign(number=number).sort_values(["community_code", "number"], kind="stable")
    df = df.drop(columns=["number"]).reset_index(drop=True)
    df.insert(0, "ext_id", [f"DEMO-B-{i + 1:06d}" for i in range(len(df))])
    return gpd.GeoDataFrame(df, geometry="location", crs=METRIC_CRS)
