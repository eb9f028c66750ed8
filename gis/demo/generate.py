"""The demo district: Kuiwen (潍坊市奎文区, 370705) generated inside its real boundary.

Pure generation, no database: ``generate_demo`` turns the real district boundary
and the real statistics-bureau division list (2023 codes, names, no geometry)
into GeoDataFrames for every layer of the grid model. Everything below the
district is invented, deterministically for a seed; only the outline, the codes
and the names are real.

Shape of the district (seed 004 and the issue):

* **Subdistricts** keep their real 9-digit codes and names. Their areas come from
  a capacity-constrained power diagram over an invented household-density field
  (an old-town core, a second newer centre, low-density outskirts), so each
  subdistrict holds households in proportion to its number of communities and the
  dense centre gets small subdistricts. Where each one lies is invented.
* **Communities** keep their real 12-digit codes and names and tile their
  subdistrict the same way. Only urban communities (居委会, 137 in the 2023 list)
  become demo communities. Kuiwen completed 撤村设居 (seed 004), so the 46
  village committees (村委会, 43 of them in 新城街道) are not areas of their own:
  their land is folded into the communities of their subdistrict and shows up
  as village-style low-rise housing in the low-density grids (like 南湖社区, a
  村转社区). A subdistrict with no urban community at all would use its villages
  as communities instead (``DemoNotes.villages_as_communities``). With ~400
  grids that is ~3 grids per community; seed 004's 65 communities predate the
  later re-divisions the 2023 list reflects.
* **Grids** (15 digits) split each community into ``round(households / 250)``
  (at least one) pieces by household-weighted recursive bisection along the
  longer axis; each grid then receives buildings totalling 215-285 households,
  so no grid and no community falls below 200. Grids are numbered in reading
  order (``gis.areas.codes.reading_order`` on their centroids, rows of one typical
  grid side from the north).
* **Tiling** is exact: all grid pieces are segmentised (so that straight edges stay
  straight within a millimetre after reprojection), cleaned into one polygonal
  coverage by GEOS (``shapely.coverage_clean``, shared edges made identical) and
  every upper level is the coverage union of its grids. After reprojection to
  EPSG:4326 shared vertices stay identical, so parents equal the union of their
  children and siblings do not overlap.
* **Buildings** are rectangles on rotated lattices inside each grid, kept
  ``FOOTPRINT_MARGIN_M`` inside it: high-rise estates (about 20-120 households a
  block), 6-storey walk-ups (20-60) and village houses (1-4). About 100,000 households in total,
  which with 250 per grid gives ~400 grids as in seed 004. (Seed 004's own
  staffing, 1,315 managers at one per 200 households, implies ~260,000
  households and ~640 per grid; the demo keeps the grid size of the standard
  instead.)
* **Staff**: one grid manager per 200 households (every grid has one; larger
  grids a second), one community worker per 300 households (some with an A-post
  specialist duty, seed 002), one mediator per community. Phone numbers use the
  reserved-looking block ``170-0000-xxxx`` and are fake.
* **Facilities**: every catalogue type, in the numbers the seeds report: per
  community a service centre (floor area around the 60 m² per 100 households
  norm, some below), a mediation room, a social-work station (some under the
  50 m² of seed 001), a health station (3-5 communities deliberately without)
  and mostly a culture room; a kindergarten per ~3,000 and a primary school per
  ~6,000 households; 1-2 elderly day-care centres per subdistrict; 13 volunteer
  U-stations and 11 government-service points open 07:00-24:00 (seed 000).
* **Incidents**: one year (2025-11-01 to 2026-10-31) of GB/T 30428.2 event
  classes plus social-governance cases (760 disputes a year as Kuiwen reports),
  clustered around a few hot-spot grids.

Geometry is built in EPSG:4549 (CGCS2000 3° Gauss-Krüger zone 40, metres) and
converted to EPSG:4326 only at the end.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from gis.areas.codes import child_code, reading_order
from gis.coverage.catalogue import CATALOGUE
from gis.demo.inputs import Unit, units_from_divisions
from gis.demo.spec import (
    DEFAULT_SEED,
    DEMO_AS_OF,
    DISTRICT_CODE,
    FOOTPRINT_MARGIN_M,
    GOV_SERVICE_POINTS,
    GRID_HOUSEHOLDS,
    GRID_MAX_HOUSEHOLDS,
    GRID_MIN_HOUSEHOLDS,
    HOUSEHOLDS_PER_KINDERGARTEN,
    HOUSEHOLDS_PER_MANAGER,
    HOUSEHOLDS_PER_SCHOOL,
    HOUSEHOLDS_PER_WORKER,
    INCIDENT_END,
    INCIDENT_START,
    METRIC_CRS,
    OLD_TOWN_LONLAT,
    OUTPUT_CRS,
    SAMPLE_SPACING_M,
    SEGMENT_MAX_M,
    SNAP_M,
    TARGET_HOUSEHOLDS,
    VOLUNTEER_STATIONS,
)
from gis.errors import InvalidParameterError
from gis.incidents.catalogue import category as catalogue_category
from gis.incidents.workcalendar import WorkCalendar, default_calendar
from gis.incidents.workflow import TRANSITIONS, Level
from gis.incidents.workflow import escalate as escalate_level
from gis.localtime import CITY_TZ

BuildingKind = Literal["high_rise", "mid_rise", "low_rise"]
GridStyle = Literal["estate", "walkup", "village"]


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class DemoNotes:
    """What the generator decided that a user of the demo may want to know."""

    villages_folded: int
    villages_as_communities: tuple[str, ...]
    communities_without_health_station: tuple[str, ...]


@dataclass(frozen=True)
class DemoDistrict:
    """Every layer of the demo district, in EPSG:4326.

    ``buildings`` has the point ``location`` as active geometry and the footprint
    in a second geometry column ``footprint``. ``staff`` rows are keyed by
    ``staff_key``; ``staff_grids`` links them to grid codes. ``incidents`` carry
    their place in the closed loop (handling level, handler's ``staff_key``,
    clock start, deadline, closing time, rework count, version) and
    ``incident_transitions`` every step of each, keyed by ``incident_ext_id``,
    in the order they happened.
    """

    district: gpd.GeoDataFrame
    subdistricts: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    incidents: gpd.GeoDataFrame
    incident_transitions: pd.DataFrame
    staff: pd.DataFrame
    staff_grids: pd.DataFrame
    notes: DemoNotes


def grid_row_height(areas_m2: NDArray[np.float64] | list[float]) -> float:
    """Row height (metres) for numbering the grids of one community: one typical grid side."""
    areas = np.asarray(areas_m2, dtype=float)
    return float(math.sqrt(areas.mean())) if areas.size else 1.0


# --------------------------------------------------------------------------- density


class _DensityField:
    """Invented household density (households per km²) over the district, metric coordinates."""

    def __init__(self, boundary: BaseGeometry, to_metric: Transformer, rng: np.random.Generator):
        x0, y0 = to_metric.transform(*OLD_TOWN_LONLAT)
        core = shapely.Point(x0, y0)
        if not boundary.contains(core):
            core = shapely.get_point(shapely.shortest_line(boundary.buffer(-500), core), 0)
        self.core = (core.x, core.y)
        # A newer second centre 4-7 km from the old town, inside the district.
        for _ in range(200):
            angle = rng.uniform(0, 2 * math.pi)
            dist = rng.uniform(4000, 7000)
            p = shapely.Point(core.x + dist * math.cos(angle), core.y + dist * math.sin(angle))
            if boundary.buffer(-1000).contains(p):
                break
        else:
            p = boundary.representative_point()
        self.second = (p.x, p.y)
        minx, miny, maxx, maxy = boundary.bounds
        n = 14
        self.bumps = np.column_stack(
            [
                rng.uniform(minx, maxx, n),
                rng.uniform(miny, maxy, n),
                rng.uniform(500, 1300, n),
                rng.uniform(-0.75, 0.9, n),
            ]
        )

    def __call__(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
        r0 = np.hypot(x - self.core[0], y - self.core[1])
        r1 = np.hypot(x - self.second[0], y - self.second[1])
        d = 150.0 + 5200.0 * np.exp(-((r0 / 2800.0) ** 2)) + 2300.0 * np.exp(-((r1 / 1600.0) ** 2))
        factor = np.ones_like(d)
        for bx, by, s, a in self.bumps:
            factor *= 1.0 + a * np.exp(-(((x - bx) ** 2 + (y - by) ** 2) / s**2))
        return d * factor


def _sample_points(
    geom: BaseGeometry, spacing: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Jittered lattice points inside ``geom``, one per ``spacing``² square metres."""
    minx, miny, maxx, maxy = geom.bounds
    xs = np.arange(minx + spacing / 2, maxx, spacing)
    ys = np.arange(miny + spacing / 2, maxy, spacing)
    gx, gy = np.meshgrid(xs, ys)
    gx = gx.ravel() + rng.uniform(-0.4, 0.4, gx.size) * spacing
    gy = gy.ravel() + rng.uniform(-0.4, 0.4, gy.size) * spacing
    shapely.prepare(geom)
    inside = shapely.contains_xy(geom, gx, gy)
    return np.column_stack([gx[inside], gy[inside]])


# --------------------------------------------------------------------------- partitions


def _power_partition(
    xy: NDArray[np.float64],
    mass: NDArray[np.float64],
    targets: NDArray[np.float64],
    sites: NDArray[np.float64],
    cell_area: float,
    iterations: int = 80,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sites and power weights (m²) whose power cells hold ``targets`` shares of ``mass``.

    Lloyd steps move each site to the mass centroid of its cell while the weights
    grow cells that hold too little mass (capacity-constrained power diagram).
    ``cell_area`` is the area (m²) one sample point stands for.
    """
    k = len(targets)
    share = targets / targets.sum() * mass.sum()
    origin = xy.mean(axis=0)
    local = xy - origin
    sites = sites - origin
    weights = np.zeros(k)
    for _ in range(iterations):
        # |x - s|² - w, without the |x|² term that is the same for every site
        d = (sites**2).sum(axis=1) - weights - 2.0 * (local @ sites.T)
        label = d.argmin(axis=1)
        got = np.bincount(label, weights=mass, minlength=k)
        count = np.bincount(label, minlength=k)
        has = got > 0
        for axis in (0, 1):
            moment = np.bincount(label, weights=mass * local[:, axis], minlength=k)
            sites[has, axis] = moment[has] / got[has]
        area = np.maximum(count, 1) * cell_area
        err = np.clip((share - got) / share, -0.5, 1.0)
        if np.abs(err).max() < 0.01:
            break
        weights += 0.6 * err * area / math.pi
        weights -= weights.mean()
    return sites + origin, weights


def _power_cells(
    sites: NDArray[np.float64], weights: NDArray[np.float64], bounds: tuple[float, ...]
) -> list[BaseGeometry]:
    """The power diagram of ``sites`` around ``bounds``, one convex polygon per site."""
    minx, miny, maxx, maxy = bounds
    pad = max(maxx - minx, maxy - miny)
    origin = np.array([(minx + maxx) / 2, (miny + maxy) / 2])
    local = sites - origin
    frame = shapely.box(-pad, -pad, pad, pad)
    big = 10 * pad
    cells = []
    for j in range(len(sites)):
        others = np.delete(np.arange(len(sites)), j)
        n = local[others] - local[j]
        norm = np.hypot(n[:, 0], n[:, 1])[:, None]
        # Points x with n·x <= h are nearer (in power distance) to j than to the other site.
        h = (
            (local[others] ** 2).sum(axis=1) - local[j] @ local[j] - weights[others] + weights[j]
        ) / 2
        unit = n / norm
        base = unit * (h[:, None] / norm)
        t = np.column_stack([-unit[:, 1], unit[:, 0]])
        ring = np.stack(
            [
                base + big * t,
                base - big * t,
                base - big * t - big * unit,
                base + big * t - big * unit,
            ],
            axis=1,
        )
        halves = shapely.polygons(ring)
        cell = shapely.intersection_all(np.append(halves, frame))
        cells.append(shapely.transform(cell, lambda c: c + origin))
    return cells


def _merge_fragments(pieces: list[BaseGeometry]) -> list[BaseGeometry]:
    """Give each piece only its largest part; smaller parts join the neighbour they touch most."""
    main: list[BaseGeometry] = []
    orphans: list[tuple[int, BaseGeometry]] = []
    for j, geom in enumerate(pieces):
        parts = [p for p in shapely.get_parts(geom) if p.area > 0]
        if not parts:
            main.append(shapely.Polygon())
            continue
        parts.sort(key=lambda p: -p.area)
        main.append(parts[0])
        orphans.extend((j, p) for p in parts[1:])
    orphans.sort(key=lambda jp: -jp[1].area)
    for own, part in orphans:
        halo = part.buffer(0.05)
        shared = [
            shapely.length(shapely.intersection(halo, m.boundary))
            if j != own and not m.is_empty
            else 0.0
            for j, m in enumerate(main)
        ]
        best = int(np.argmax(shared)) if max(shared) > 0 else own
        main[best] = shapely.union(main[best], part)
    return main


def _partition(
    parent: BaseGeometry,
    xy: NDArray[np.float64],
    mass: NDArray[np.float64],
    targets: NDArray[np.float64],
    init: NDArray[np.float64],
    cell_area: float,
) -> list[BaseGeometry]:
    """Split ``parent`` into ``len(targets)`` connected pieces holding those shares of mass."""
    if len(targets) == 1:
        return [parent]
    stride = max(1, len(xy) // 8000)  # ~8,000 points place ten cells well enough
    sites, weights = _power_partition(
        xy[::stride], mass[::stride], targets, init, cell_area * stride
    )
    cells = _power_cells(sites, weights, parent.bounds)
    pieces = [shapely.intersection(c, parent) for c in cells]
    if any(p.is_empty for p in pieces):  # a starved cell: fall back to the plain Voronoi split
        cells = _power_cells(sites, np.zeros(len(sites)), parent.bounds)
        pieces = [shapely.intersection(c, parent) for c in cells]
    return _merge_fragments(pieces)


def _seed_sites(
    xy: NDArray[np.float64], mass: NDArray[np.float64], k: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """k-means++ initial sites drawn in proportion to mass."""
    p = mass / mass.sum()
    first = rng.choice(len(xy), p=p)
    sites = [xy[first]]
    d2 = ((xy - sites[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        w = d2 * mass
        nxt = rng.choice(len(xy), p=w / w.sum())
        sites.append(xy[nxt])
        d2 = np.minimum(d2, ((xy - xy[nxt]) ** 2).sum(axis=1))
    return np.array(sites)


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
    return np.array([_as_multi(g) for g in clean], dtype=object)


# --------------------------------------------------------------------------- buildings


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


# --------------------------------------------------------------------------- people

_SURNAMES = (
    "王李张刘孙赵陈杨高马徐郭于宋郑韩吕丁曹崔董田冯任周吴胡朱林何罗梁谢唐许邓袁魏蒋"
    "姜范邱石秦苏潘葛卢单付孟侯臧隋"
)
_SURNAME_WEIGHTS = np.array([12 if i < 6 else 6 if i < 16 else 2 for i in range(len(_SURNAMES))])
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉玲燕红建国志文斌宁"
    "婷雪梅凤琳晶晓东海波慧颖欣悦浩宇帅瑞鑫璐嘉怡佳"
)
#: A-post specialist duties (seed 002's AB posts) of community workers.
SPECIALIST_DUTIES = ("民政", "综治", "城管", "计生", "党建", "社保", "残联", "退役军人", "信访")


def _person_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` plausible Chinese names: a common surname and one or two given characters."""
    p = _SURNAME_WEIGHTS / _SURNAME_WEIGHTS.sum()
    surnames = rng.choice(len(_SURNAMES), n, p=p)
    lengths = np.where(rng.random(n) < 0.7, 2, 1)
    given = rng.integers(0, len(_GIVEN), (n, 2))
    return [
        _SURNAMES[s] + "".join(_GIVEN[g] for g in given[i, : lengths[i]])
        for i, s in enumerate(surnames)
    ]


def _fake_phone(index: int) -> str:
    """A sequential number in the 170-0000 block: visibly made up, so nobody is called."""
    return f"170-0000-{index:04d}"


def _make_staff(
    grids: pd.DataFrame, communities: pd.DataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Grid managers (1 per 200 households), community workers (1 per 300) and mediators.

    Every grid gets a primary manager and the largest grids a second one; each
    grid's first manager also stands in for the next grid of the community, so a
    manager covers one or two grids. Community workers hold the B post of one
    grid and, most of them, an A-post specialist duty.
    """
    staff: list[dict[str, object]] = []
    links: list[dict[str, object]] = []

    def person(role: str, community: str, duty: str | None = None) -> str:
        key = f"S{len(staff) + 1:05d}"
        staff.append(
            {
                "staff_key": key,
                "phone": _fake_phone(len(staff) + 1),
                "role": role,
                "specialist_duty": duty,
                "community_code": community,
            }
        )
        return key

    by_comm = {
        code: sorted(zip(g["code"], g["households"], strict=True))
        for code, g in grids.groupby("community_code", sort=True)
    }
    for comm in communities["code"]:
        cg = by_comm[comm]
        codes = [code for code, _ in cg]
        households = sum(int(h) for _, h in cg)
        managers = max(len(codes), round(households / HOUSEHOLDS_PER_MANAGER))
        by_size = [code for code, _ in sorted(cg, key=lambda ch: (-ch[1], ch[0]))]
        first_manager: dict[str, str] = {}
        for code in codes:
            first_manager[code] = person("grid_manager", comm)
            links.append({"staff_key": first_manager[code], "grid_code": code, "is_primary": True})
        for i in range(managers - len(codes)):
            key = person("grid_manager", comm)
            links.append(
                {"staff_key": key, "grid_code": by_size[i % len(by_size)], "is_primary": True}
            )
        if len(codes) > 1:
            for i, code in enumerate(codes):
                links.append(
                    {
                        "staff_key": first_manager[code],
                        "grid_code": codes[(i + 1) % len(codes)],
                        "is_primary": False,
                    }
                )
        workers = max(1, round(households / HOUSEHOLDS_PER_WORKER))
        duties = rng.permutation(len(SPECIALIST_DUTIES))
        with_duty = rng.random(workers) < 0.6
        for i in range(workers):
            duty = SPECIALIST_DUTIES[duties[i % len(duties)]] if with_duty[i] else None
            key = person("community_worker", comm, duty)
            links.append(
                {"staff_key": key, "grid_code": codes[i % len(codes)], "is_primary": False}
            )
        person("mediator", comm)
    frame = pd.DataFrame(staff)
    frame.insert(1, "name", _person_names(len(frame), rng))
    return frame, pd.DataFrame(links)


# --------------------------------------------------------------------------- facilities


def _make_facilities(
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    district_name: str,
    rng: np.random.Generator,
) -> tuple[gpd.GeoDataFrame, tuple[str, ...]]:
    """Facilities of every catalogue type (metric CRS); communities left without a health station.

    Service rooms sit in a residential building's ground floor (the building's
    address); kindergartens, schools and day-care centres get a site of their own.
    """
    rows: list[dict[str, object]] = []
    footprints = shapely.STRtree(buildings["footprint"].to_numpy())
    by_comm = {code: df for code, df in buildings.groupby("community_code", sort=True)}
    comm_geom = dict(zip(communities["code"], communities.geometry, strict=True))
    comm_label = {
        r.code: f"{district_name}{r.subdistrict_name}{r.name}" for r in communities.itertuples()
    }

    def in_building(code: str, kinds: tuple[str, ...] | None = None) -> tuple[BaseGeometry, str]:
        b = by_comm[code]
        if kinds is not None and b["kind"].isin(kinds).any():
            b = b[b["kind"].isin(kinds)]
        w = b["households"].to_numpy(dtype=float) + 1
        i = rng.choice(len(b), p=w / w.sum())
        return b.geometry.iloc[i], str(b["address"].iloc[i])

    def own_site(code: str) -> tuple[BaseGeometry, str]:
        inner = comm_geom[code].buffer(-30)
        if not inner.is_empty:
            minx, miny, maxx, maxy = inner.bounds
            xs, ys = rng.uniform(minx, maxx, 300), rng.uniform(miny, maxy, 300)
            pts = shapely.points(xs, ys)
            ok = shapely.contains(inner, pts)
            near = footprints.query(pts[ok], predicate="dwithin", distance=15.0)
            free = np.setdiff1d(np.arange(ok.sum()), near[0])
            if free.size:
                return pts[ok][free[0]], comm_label[code]
        return in_building(code)

    def add(
        type_code: str, name: str, code: str, site: tuple[BaseGeometry, str], **extra: object
    ) -> None:
        rows.append(
            {
                "type_code": type_code,
                "name": name,
                "community_code": code,
                "address": site[1],
                "capacity": extra.get("capacity"),
                "floor_area_m2": extra.get("floor_area_m2"),
                "opening_hours": extra.get("opening_hours"),
                "geometry": site[0],
            }
        )

    codes = communities["code"].tolist()
    names = dict(zip(communities["code"], communities["name"], strict=True))
    households = dict(zip(communities["code"], communities["households"], strict=True))
    total = int(communities["households"].sum())
    n_missing = min(len(codes) - 1, int(rng.integers(3, 6)))
    no_health = tuple(sorted(rng.choice(codes, n_missing, replace=False).tolist()))

    for code in codes:
        name, hh = names[code], int(households[code])
        centre = in_building(code)
        norm = 0.6 * hh  # 60 m² per 100 households (seed 002)
        add(
            "community_service_centre",
            f"{name}党群服务中心",
            code,
            centre,
            floor_area_m2=round(norm * float(rng.uniform(0.65, 1.5)), 1),
            opening_hours="08:30-17:30",
        )
        if code not in no_health:
            add(
                "community_health_station",
                f"{name}卫生服务站",
                code,
                in_building(code),
                floor_area_m2=round(float(rng.uniform(150, 400)), 1),
                opening_hours="08:00-17:30",
            )
        same = rng.random(3) < 0.6  # rooms often share the service centre's building
        add(
            "mediation_station",
            f"{name}人民调解委员会调解室",
            code,
            centre if same[0] else in_building(code),
            floor_area_m2=round(float(rng.uniform(20, 60)), 1),
        )
        if rng.random() < 0.9:
            add(
                "culture_room",
                f"{name}文化活动室",
                code,
                centre if same[1] else in_building(code),
                floor_area_m2=round(float(rng.uniform(80, 300)), 1),
            )
        add(
            "social_work_station",
            f"{name}社工服务站",
            code,
            centre if same[2] else in_building(code),
            floor_area_m2=round(float(rng.uniform(30, 120)), 1),
        )

    weights = np.array([households[c] for c in codes], dtype=float)
    kindergartens = max(1, round(total / HOUSEHOLDS_PER_KINDERGARTEN))
    seen: set[str] = set()
    for i, code in enumerate(rng.choice(codes, kindergartens, p=weights / weights.sum())):
        add(
            "kindergarten",
            f"{district_name}{names[code].removesuffix('社区')}幼儿园"
            + ("分园" if code in seen else "")
            + ("" if i % 3 else "（普惠性）"),
            code,
            own_site(code),
            capacity=int(rng.choice([6, 9, 12])) * 30,
        )
        seen.add(code)
    schools = min(len(codes), max(1, round(total / HOUSEHOLDS_PER_SCHOOL)))
    for code in rng.choice(codes, schools, replace=False, p=weights / weights.sum()):
        add(
            "primary_school",
            f"{district_name}{names[code].removesuffix('社区')}小学",
            code,
            own_site(code),
            capacity=int(rng.choice([24, 30, 36])) * 45,
        )
    for _, sub in communities.groupby("subdistrict_code", sort=True):
        sub_name = str(sub["subdistrict_name"].iloc[0])
        w = sub["households"].to_numpy(dtype=float)
        for j, code in enumerate(
            rng.choice(
                sub["code"].to_numpy(),
                min(len(sub), int(rng.integers(1, 3))),
                replace=False,
                p=w / w.sum(),
            )
        ):
            add(
                "elderly_day_care",
                f"{sub_name}老年人日间照料中心{'' if j == 0 else '（分中心）'}",
                str(code),
                own_site(str(code)),
                capacity=int(rng.integers(20, 61)),
                floor_area_m2=round(float(rng.uniform(300, 750)), 1),
                opening_hours="08:00-18:00",
            )
    for i, code in enumerate(
        rng.choice(
            codes, min(VOLUNTEER_STATIONS, len(codes)), replace=False, p=weights / weights.sum()
        )
    ):
        add(
            "volunteer_station",
            f"{names[code]}志愿服务U站（{i + 1}号）",
            str(code),
            in_building(str(code)),
            floor_area_m2=round(float(rng.uniform(15, 40)), 1),
        )
    estates = [c for c in codes if (by_comm[c]["kind"] == "high_rise").any()] or codes
    w = np.array([households[c] for c in estates], dtype=float)
    for code in rng.choice(
        estates, min(GOV_SERVICE_POINTS, len(estates)), replace=False, p=w / w.sum()
    ):
        site = in_building(str(code), ("high_rise",))
        add(
            "gov_service_point",
            f"{names[code]}物业服务中心政务代办点",
            str(code),
            site,
            floor_area_m2=round(float(rng.uniform(15, 40)), 1),
            opening_hours="07:00-24:00",
        )
    missing = {spec.code for spec in CATALOGUE} - {str(r["type_code"]) for r in rows}
    if missing:
        raise RuntimeError(f"demo facilities lack catalogue types {sorted(missing)}")
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    frame["capacity"] = frame["capacity"].astype("Int64")
    return frame, no_health


# --------------------------------------------------------------------------- incidents

#: category: (yearly mean, share near hot spots, sources and weights, subclasses)
_INCIDENT_CLASSES: dict[str, tuple[int, float, dict[str, float], tuple[str, ...]]] = {
    "city_appearance": (
        1100,
        0.45,
        {"patrol": 0.45, "video": 0.25, "hotline": 0.15, "app": 0.15},
        ("暴露垃圾", "道路不洁", "乱堆物堆料", "绿地脏乱", "垃圾满溢"),
    ),
    "advertising": (
        350,
        0.5,
        {"patrol": 0.6, "video": 0.15, "hotline": 0.1, "app": 0.15},
        ("非法小广告", "违规户外广告", "占道广告牌"),
    ),
    "construction": (
        250,
        0.2,
        {"patrol": 0.4, "hotline": 0.35, "app": 0.15, "video": 0.1},
        ("施工扰民", "施工废弃料", "道路破损未修复", "工地扬尘"),
    ),
    "street_order": (
        800,
        0.55,
        {"patrol": 0.45, "video": 0.25, "hotline": 0.15, "app": 0.15},
        ("占道经营", "无照游商", "店外经营", "机动车乱停放", "非机动车乱停放"),
    ),
    "emergency": (
        40,
        0.1,
        {"hotline": 0.6, "video": 0.2, "patrol": 0.2},
        ("路面塌陷", "供水管道破裂", "燃气泄漏", "火情"),
    ),
    "dispute": (
        760,
        0.3,
        {"visit": 0.4, "hotline": 0.3, "patrol": 0.2, "app": 0.1},
        ("邻里纠纷", "婚姻家庭纠纷", "物业纠纷", "劳资纠纷", "土地征收纠纷", "旧村改造纠纷"),
    ),
    "petition": (
        120,
        0.3,
        {"visit": 0.7, "hotline": 0.3},
        ("拆迁补偿信访", "物业管理信访", "社保待遇信访"),
    ),
    "safety_hazard": (
        350,
        0.25,
        {"patrol": 0.55, "app": 0.2, "hotline": 0.15, "video": 0.1},
        ("消防通道堵塞", "电动车楼道充电", "燃气使用隐患", "高空坠物隐患"),
    ),
    "help_request": (
        230,
        0.1,
        {"hotline": 0.5, "app": 0.3, "visit": 0.2},
        ("独居老人求助", "残疾人求助", "困难家庭求助"),
    ),
}
_HOUR_WEIGHTS = np.array(
    [1, 1, 1, 1, 1, 2, 4, 8, 12, 13, 13, 12, 9, 10, 12, 12, 11, 10, 9, 8, 6, 4, 2, 1], dtype=float
)


def _make_incidents(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    district: BaseGeometry,
    district_name: str,
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """A year of incidents (metric CRS), clustered around a dozen hot-spot grids."""
    dense = grids.assign(density=grids["households"] / grids.geometry.area).sort_values(
        ["density", "code"], ascending=[False, True]
    )
    candidates = dense.head(max(12, len(dense) // 4))
    hot = rng.choice(len(candidates), min(12, len(candidates)), replace=False)
    hot_centres = shapely.get_coordinates(candidates.geometry.iloc[hot].representative_point())
    hot_names = candidates["name"].to_numpy()[hot]
    bxy = shapely.get_coordinates(buildings.geometry.to_numpy())
    bw = buildings["households"].to_numpy(dtype=float)
    bw /= bw.sum()
    addresses = buildings["address"].to_numpy()
    shapely.prepare(district)
    days = (INCIDENT_END - INCIDENT_START).days + 1
    rows: list[dict[str, object]] = []
    for category, (mean, hot_share, sources, subclasses) in _INCIDENT_CLASSES.items():
        n = int(rng.poisson(mean))
        summer = category in ("street_order", "city_appearance", "construction")
        day = np.arange(days)
        season = 1 + (0.35 if summer else 0.1) * np.sin(2 * math.pi * (day - 150) / 365)
        chosen_days = rng.choice(days, n, p=season / season.sum())
        hours = rng.choice(24, n, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
        minutes = rng.integers(0, 60 * 60, n)
        at_hot = rng.random(n) < hot_share
        src_names = list(sources)
        src_p = np.array(list(sources.values()))
        src = rng.choice(len(src_names), n, p=src_p / src_p.sum())
        sub = rng.integers(0, len(subclasses), n)
        hot_pick = rng.integers(0, len(hot_centres), n)
        hot_xy = hot_centres[hot_pick]
        near = rng.choice(len(bxy), n, p=bw)
        noise = rng.normal(0.0, 1.0, (n, 2))
        xy = np.where(at_hot[:, None], hot_xy + 120.0 * noise, bxy[near] + 25.0 * noise)
        outside = ~shapely.contains_xy(district, xy[:, 0], xy[:, 1])
        xy[outside] = bxy[near[outside]]
        for i in range(n):
            if at_hot[i] and not outside[i]:
                where = f"{district_name}{hot_names[hot_pick[i]]}一带"
            else:
                where = f"{addresses[near[i]]}附近"
            reported = dt.datetime.combine(
                INCIDENT_START + dt.timedelta(days=int(chosen_days[i])),
                dt.time(int(hours[i])),
                CITY_TZ,
            ) + dt.timedelta(seconds=int(minutes[i]))
            rows.append(
                {
                    "category": category,
                    "reported_at": reported,
                    "source": src_names[src[i]],
                    "description": f"{subclasses[sub[i]]}：{where}",
                    "geometry": shapely.Point(xy[i]),
                }
            )
    df = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    df = df.sort_values(["reported_at", "category"], kind="stable").reset_index(drop=True)
    end = dt.datetime.combine(INCIDENT_END + dt.timedelta(days=1), dt.time(0), CITY_TZ)
    age_days = np.array([(end - t).total_seconds() / 86400 for t in df["reported_at"]])
    roll = rng.random(len(df))
    status = np.where(roll < 0.02, "cancelled", "closed").astype(object)
    recent = age_days < 14
    # Workflow states (gis.incidents.workflow): "dispatched" = with the handler, clock running.
    open_status = rng.choice(["reported", "accepted", "dispatched"], len(df), p=[0.3, 0.3, 0.4])
    status[recent & (roll > 0.4)] = open_status[recent & (roll > 0.4)]
    stale = (~recent) & (roll > 0.985)  # a few cases stuck in handling
    status[stale] = "dispatched"
    df["status"] = status
    df.insert(0, "ext_id", [f"DEMO-I-{i + 1:06d}" for i in range(len(df))])
    return df


# --------------------------------------------------------------------------- incident histories

#: Share of closed cases that come back from verification for rework at least once, and of
#: those a second time (the monthly rework rate of a city runs at a few per cent).
REWORK_SHARE = 0.065
SECOND_REWORK_SHARE = 0.12
#: Share of closed cases that are evaluated (综合评价, e.g. a satisfaction call) by the end.
EVALUATED_SHARE = 0.4
#: Mean share of cases closed by their deadline; grids and communities spread around it.
ON_TIME_SHARE = 0.86
#: The deadline-escalation job runs every this many seconds (escalations land on its ticks).
ESCALATION_TICK_S = 600
#: Who takes the steps that are not a grid's: the command centre's desks and the system.
INTAKE_ACTORS = {
    "video": "视频巡查",
    "hotline": "12345热线",
    "app": "随手拍",
    "visit": "社区接待窗口",
}
CENTRE_ACCEPT = "指挥中心受理员"
CENTRE_DISPATCH = "指挥中心派遣员"
CENTRE_VERIFY = "指挥中心核查员"
EVALUATOR = "综合评价回访"
SYSTEM_ACTOR = "system"
_CANCEL_NOTES = ("重复上报", "不属于受理范围", "信息不全，无法核实")
_REWORK_NOTES = ("处置不彻底，需返工", "现场核查未达标", "群众反映问题仍在")
#: Category effects on the log-odds of finishing on time (tight limits are missed more often).
_ON_TIME_LOGIT_SHIFT = {"street_order": -0.5, "emergency": 0.6, "petition": 0.4, "dispute": -0.2}
_LEVELS = ("grid", "community", "subdistrict", "district")
#: (state, action) -> state after, from gis.incidents.workflow's table (plain strings, for speed).
_NEXT = {(s.value, a.value): t.value for s, steps in TRANSITIONS.items() for a, t in steps.items()}


@dataclass(frozen=True)
class _WorkingClock:
    """Working time as a number: ``seconds(t)`` is the working seconds since ``origin``.

    A minute lattice over whole days (``working[k]`` is 1 where minute ``k`` lies
    in office hours of a working day; ``cum[k]`` the working seconds before it).
    Office hours start and end on whole minutes, so the working time is exact
    at any second, and ``instant(w)`` (the earliest moment with ``w`` working
    seconds behind it) is ``WorkCalendar.add_working_time`` for any positive
    amount. Times are integer epoch seconds; the zone must keep one UTC offset
    (Asia/Shanghai has no daylight saving time).
    """

    origin: int
    working: NDArray[np.int64]
    cum: NDArray[np.int64]

    @classmethod
    def build(cls, first_day: dt.date, days: int, calendar: WorkCalendar) -> _WorkingClock:
        tz = calendar.tz
        offsets = {
            dt.datetime.combine(first_day + dt.timedelta(days=d), dt.time(0), tz).utcoffset()
            for d in range(0, days, 30)
        }
        if len(offsets) != 1:
            raise InvalidParameterError(f"{calendar.timezone} changes its UTC offset")
        day_mask = np.zeros(24 * 60, dtype=np.int64)
        for start, end in calendar.office_hours:
            if start.second or end.second:
                raise InvalidParameterError("office hours must start and end on whole minutes")
            day_mask[start.hour * 60 + start.minute : end.hour * 60 + end.minute] = 1
        flags = np.array(
            [calendar.is_working_day(first_day + dt.timedelta(days=d)) for d in range(days)],
            dtype=np.int64,
        )
        working = (flags[:, None] * day_mask[None, :]).ravel()
        cum = np.concatenate([[0], np.cumsum(working * 60)])
        origin = int(dt.datetime.combine(first_day, dt.time(0), tz).timestamp())
        return cls(origin, working, cum)

    def seconds(self, t: NDArray[np.int64]) -> NDArray[np.int64]:
        """Working seconds from ``origin`` to each epoch second ``t``."""
        rel = np.asarray(t, dtype=np.int64) - self.origin
        k = rel // 60
        if (k < 0).any() or (k >= len(self.working)).any():
            raise InvalidParameterError("a time lies outside the demo's working-time lattice")
        return self.cum[k] + self.working[k] * (rel - 60 * k)

    def instant(self, w: NDArray[np.int64]) -> NDArray[np.int64]:
        """The earliest epoch second with ``w`` (> 0) working seconds since ``origin``."""
        w = np.asarray(w, dtype=np.int64)
        k = np.searchsorted(self.cum, w, side="left")
        if (w <= 0).any() or (k >= len(self.cum)).any():
            raise InvalidParameterError("a working time lies outside the demo's lattice")
        return self.origin + 60 * (k - 1) + (w - self.cum[k - 1])


def _after(
    work: _WorkingClock,
    on_calendar: NDArray[np.bool_],
    t: NDArray[np.int64],
    amount: NDArray[np.int64] | int,
) -> NDArray[np.int64]:
    """``amount`` seconds after epoch seconds ``t``: of calendar time where ``on_calendar``,
    of working time elsewhere (``WorkCalendar.add_working_time``)."""
    t = np.asarray(t, dtype=np.int64)
    out = t + amount
    w = ~np.asarray(on_calendar, dtype=bool)
    out[w] = work.instant(work.seconds(t[w]) + np.broadcast_to(amount, t.shape)[w])
    return out


def _lognormal_s(
    rng: np.random.Generator, median_s: float, sigma: float, n: int, lo: float, hi: float
) -> NDArray[np.int64]:
    """Whole seconds, log-normal around ``median_s``, clipped to [lo, hi]."""
    x = median_s * np.exp(sigma * rng.standard_normal(n))
    return np.rint(np.clip(x, lo, hi)).astype(np.int64)


def _logistic(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-x))


def _allowance_s(code: str, calendar: WorkCalendar) -> tuple[int, bool]:
    """A category's time limit in seconds of its clock, and whether that clock is the calendar."""
    deadline = catalogue_category(code).deadline
    if not deadline.working:
        return int(dt.timedelta(**deadline.as_kwargs()).total_seconds()), True
    if deadline.unit == "hours":
        return round(deadline.amount * 3600), False
    return int(deadline.amount * calendar.working_day.total_seconds()), False


def _first(event: tuple[int, str, int]) -> int:
    return event[0]


def _actor(action: str, level: Level, manager: str, area_names: Sequence[str]) -> str:
    """Who takes a step: the command centre's desks, or whoever owns the case at its level."""
    if action in ("accept", "cancel"):
        return CENTRE_ACCEPT
    if action == "dispatch":
        return CENTRE_DISPATCH
    if action in ("verify", "rework"):
        return CENTRE_VERIFY
    if action == "evaluate":
        return EVALUATOR
    return manager if level is Level.GRID else area_names[_LEVELS.index(level.value) - 1]


def _make_histories(
    incidents: pd.DataFrame,
    grids: pd.DataFrame,
    staff: pd.DataFrame,
    staff_grids: pd.DataFrame,
    area_names: dict[str, str],
    seed: int,
    calendar: WorkCalendar | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every incident's steps through the closed loop of ``gis.incidents.workflow``, to its status.

    Returns (incidents with the workflow columns, their transitions in the
    order they happened). The command centre accepts and dispatches within
    minutes to hours of working time (emergencies around the clock). Handling
    ends before the deadline with a probability that differs by community and
    grid (about 60-98 %, lower for the 2-hour street-order limit); late cases
    run 10-200 % over it and are escalated by ``system`` at the first tick of
    the escalation job after the deadline, one level per missed deadline, as
    ``gis.incidents.cases.escalate_overdue`` does (the case then has no handler).
    About ``REWORK_SHARE`` of closed cases are sent back (a new deadline each
    time) and ``EVALUATED_SHARE`` are evaluated, which makes their status
    ``evaluated``; every other status stays as generated. Nothing happens
    after ``DEMO_AS_OF``: a case whose status needs steps that office hours
    left no room for (reported on the last weekend) was taken by the duty
    officers in calendar time. Draws from its own random stream ``(seed, 4)``,
    so everything else the demo generates is the same as without histories.
    """
    calendar = calendar or default_calendar()
    rng = np.random.default_rng((seed, 4))
    n = len(incidents)
    as_of = int(DEMO_AS_OF.timestamp())
    work = _WorkingClock.build(INCIDENT_START, 3 * 366, calendar)
    reported = np.array([int(t.timestamp()) for t in incidents["reported_at"]], dtype=np.int64)
    status = incidents["status"].to_numpy(dtype=object)
    category = incidents["category"].to_numpy(dtype=object)

    # Per grid, plus a last row for an incident outside every grid.
    n_grids = len(grids)
    g_index = {code: k for k, code in enumerate(grids["code"])}
    gi = np.array([g_index.get(c, n_grids) for c in incidents["grid_code"]], dtype=np.int64)
    comm = np.append(grids["community_code"].to_numpy(dtype=object), "")
    sub = np.append(grids["subdistrict_code"].fillna("").to_numpy(dtype=object), "")
    comm_k = pd.factorize(comm)[0]
    role = staff.set_index("staff_key")["role"]
    person = staff.set_index("staff_key")["name"]
    primary = staff_grids[
        staff_grids["is_primary"].astype(bool)
        & staff_grids["staff_key"].map(role).eq("grid_manager")
    ]
    first = primary.groupby("grid_code")["staff_key"].min().reindex(grids["code"])
    manager_key = [k if isinstance(k, str) else None for k in first] + [None]
    manager_name = [person.get(k, "网格员") if k is not None else "网格员" for k in manager_key]
    has_subdistrict = sub != ""

    # How well each grid keeps its deadlines, and how often its work is sent back.
    grid_logit = (
        math.log(ON_TIME_SHARE / (1 - ON_TIME_SHARE))
        + rng.normal(0.0, 0.55, comm_k.max() + 1)[comm_k]
        + rng.normal(0.0, 0.45, n_grids + 1)
    )
    rework_factor = np.exp(rng.normal(0.0, 0.5, n_grids + 1))
    shift = np.array([_ON_TIME_LOGIT_SHIFT.get(c, 0.0) for c in category])
    p_on_time = _logistic(grid_logit[gi] + shift)

    # Intake to dispatch: the command centre's office hours (emergencies on the calendar).
    emergency = category == "emergency"
    accept_s = np.where(
        emergency,
        _lognormal_s(rng, 300, 0.8, n, 30, 3600),
        _lognormal_s(rng, 1500, 1.0, n, 60, 6 * 3600),
    )
    dispatch_s = np.where(
        emergency,
        _lognormal_s(rng, 300, 0.8, n, 30, 3600),
        _lognormal_s(rng, 1200, 1.0, n, 60, 4 * 3600),
    )
    accepted_at = _after(work, emergency, reported, accept_s)
    dispatched_at = _after(work, emergency, accepted_at, dispatch_s)
    cancel_late = rng.random(n) < 0.3
    cancel_s = _lognormal_s(rng, 1800, 1.0, n, 60, 6 * 3600)
    cancelled_at = np.where(
        cancel_late, _after(work, emergency, accepted_at, cancel_s), accepted_at
    )
    cancel_note = rng.integers(0, len(_CANCEL_NOTES), n)
    rework_note = rng.integers(0, len(_REWORK_NOTES), n)

    # Handling rounds on the category's clock: dispatch, then one more per rework.
    limits = {c: _allowance_s(c, calendar) for c in dict.fromkeys(category)}
    allowance = np.array([limits[c][0] for c in category], dtype=np.int64)
    on_calendar = np.array([limits[c][1] for c in category], dtype=bool)
    closed = np.isin(status, ["closed", "evaluated"])
    handling = closed | (status == "dispatched")
    reworks = np.where(
        closed & (rng.random(n) < REWORK_SHARE * rework_factor[gi]),
        1 + (rng.random(n) < SECOND_REWORK_SHARE),
        0,
    )
    rounds = 3
    starts, handled, feedback, ends, deadlines = (np.full((rounds, n), -1) for _ in range(5))
    start = np.where(handling, dispatched_at, -1)
    for c in range(rounds):
        late = rng.random(n) >= p_on_time
        part = np.where(
            late,
            1.0 + np.clip(0.35 * np.exp(0.9 * rng.standard_normal(n)), 0.1, 2.0),
            0.05 + 0.9 * rng.beta(2.0, 2.0, n),
        )
        took = np.maximum(600, np.rint(allowance * part)).astype(np.int64)
        h1 = rng.uniform(0.55, 0.8, n)
        h2 = h1 + (1 - h1) * rng.uniform(0.2, 0.6, n)
        act = np.flatnonzero(start >= 0)
        starts[c, act] = start[act]
        deadlines[c, act] = _after(work, on_calendar[act], start[act], allowance[act])
        runs = act[closed[act]]  # a "dispatched" case stays in its first round
        for arr, share in ((handled, h1[runs]), (feedback, h2[runs]), (ends, 1.0)):
            step = np.rint(took[runs] * share).astype(np.int64)
            arr[c, runs] = _after(work, on_calendar[runs], start[runs], step)
        start = np.full(n, -1)
        again = runs[c < reworks[runs]]
        start[again] = ends[c, again]
    verified_at = np.where(closed, ends[reworks, np.arange(n)], -1)
    evaluate = closed & (rng.random(n) < EVALUATED_SHARE)
    evaluated_at = np.full(n, -1)
    evaluated_at[evaluate] = work.instant(
        work.seconds(verified_at[evaluate])
        + _lognormal_s(rng, 27000, 0.7, n, 1800, 10 * 27000)[evaluate]
    )
    evaluate &= evaluated_at < as_of

    # Cases whose status office hours left no room for before DEMO_AS_OF: the duty officers'.
    needed = np.select(
        [status == "accepted", status == "cancelled", status == "dispatched", closed],
        [accepted_at, cancelled_at, dispatched_at, verified_at],
        default=reported,
    )
    duty = np.flatnonzero(needed >= as_of)
    room = np.clip(as_of - 1 - reported[duty], 0, 6 * 3600)
    accepted_at[duty] = reported[duty] + np.rint(room * 0.1).astype(np.int64)
    dispatched_at[duty] = reported[duty] + np.rint(room * 0.2).astype(np.int64)
    cancelled_at[duty] = dispatched_at[duty]
    cancel_late[duty] = True
    for arr in (starts, handled, feedback, ends, deadlines):
        arr[:, duty] = -1
    reworks[duty] = 0
    evaluate[duty] = False
    on_duty = duty[handling[duty]]
    starts[0, on_duty] = dispatched_at[on_duty]
    deadlines[0, on_duty] = _after(
        work, on_calendar[on_duty], dispatched_at[on_duty], allowance[on_duty]
    )
    done = duty[closed[duty]]
    for arr, share in ((handled, 0.6), (feedback, 0.75), (ends, 0.9)):
        arr[0, done] = reported[done] + np.rint(
            np.clip(as_of - 1 - reported[done], 0, 6 * 3600) * share
        ).astype(np.int64)
    verified_at[done] = ends[0, done]

    rows: list[tuple[object, ...]] = []
    level_out = np.empty(n, dtype=object)
    handler_out = np.empty(n, dtype=object)
    version_out = np.ones(n, dtype=np.int64)
    final_status = status.copy()
    source = incidents["source"].to_numpy(dtype=object)
    ext_id = incidents["ext_id"].to_numpy(dtype=object)
    for i in range(n):
        g = int(gi[i])
        s = status[i]
        events: list[tuple[int, str, int]] = []
        if s != "reported":
            if s == "cancelled" and not cancel_late[i]:
                events.append((int(cancelled_at[i]), "cancel", 0))
            else:
                events.append((int(accepted_at[i]), "accept", 0))
                if s == "cancelled":
                    events.append((int(cancelled_at[i]), "cancel", 0))
                elif s != "accepted":
                    events.append((int(dispatched_at[i]), "dispatch", 0))
        for c in range(rounds):
            if starts[c, i] < 0:
                break
            if c > 0:
                events.append((int(starts[c, i]), "rework", 0))
            if handled[c, i] >= 0:
                events.append((int(handled[c, i]), "handle", 0))
                events.append((int(feedback[c, i]), "feedback", 0))
            end = ends[c, i] if ends[c, i] >= 0 else as_of
            tick = (deadlines[c, i] // ESCALATION_TICK_S + 1) * ESCALATION_TICK_S
            if tick < end:
                events.append((int(tick), "escalate", int(deadlines[c, i])))
        if closed[i]:
            events.append((int(verified_at[i]), "verify", 0))
        if evaluate[i]:
            events.append((int(evaluated_at[i]), "evaluate", 0))
        events.sort(key=_first)

        areas = (
            area_names.get(comm[g], comm[g]),
            area_names.get(sub[g], sub[g]),
            area_names.get(DISTRICT_CODE, DISTRICT_CODE),
        )
        intake = manager_name[g] if source[i] == "patrol" else INTAKE_ACTORS.get(source[i], "来电")
        intake_row = (int(reported[i]), "reported", None, "reported", intake, "reported")
        rows.append((ext_id[i], *intake_row, None, "grid"))
        state, level, version = "reported", Level.GRID, 1
        for at, action, deadline in events:
            before_level, after = level, state
            note: str | None = None
            if action == "escalate":
                if level is Level.DISTRICT:
                    continue
                level = escalate_level(level, has_subdistrict=bool(has_subdistrict[g]))
                when = dt.datetime.fromtimestamp(deadline, CITY_TZ).isoformat()
                note = f"deadline {when} passed {(at - deadline) / 3600:.1f} h ago"
                actor = SYSTEM_ACTOR
            else:
                after = _NEXT[state, action]
                actor = _actor(action, level, manager_name[g], areas)
                if action == "cancel":
                    note = _CANCEL_NOTES[cancel_note[i]]
                elif action == "rework":
                    note = _REWORK_NOTES[(rework_note[i] + version) % len(_REWORK_NOTES)]
            levels = (before_level.value, level.value)
            rows.append((ext_id[i], at, action, state, after, actor, note, *levels))
            state = after
            version += 1
        final_status[i] = "evaluated" if evaluate[i] else s
        if state != final_status[i]:
            raise RuntimeError(f"{ext_id[i]}: history ends {state}, not {final_status[i]}")
        level_out[i] = level.value
        handler_out[i] = manager_key[g] if level is Level.GRID else None
        version_out[i] = version

    last = np.maximum.reduce([np.where(starts[c] >= 0, c, 0) for c in range(rounds)])
    out = incidents.copy()
    out["status"] = final_status
    out["handling_level"] = level_out
    out["handler_staff_key"] = handler_out
    out["clock_started_at"] = _stamps(starts[last, np.arange(n)], out.index)
    out["deadline_at"] = _stamps(deadlines[last, np.arange(n)], out.index)
    out["closed_at"] = _stamps(verified_at, out.index)
    out["rework_count"] = reworks.astype(np.int64)
    out["version"] = version_out
    transitions = pd.DataFrame(
        rows,
        columns=[
            "incident_ext_id",
            "at",
            "action",
            "from_state",
            "to_state",
            "actor",
            "note",
            "from_level",
            "to_level",
        ],
    )
    transitions["at"] = _stamps(transitions["at"].to_numpy(dtype=np.int64), transitions.index)
    return out, transitions


def _stamps(epoch_s: NDArray[np.int64], index: pd.Index) -> pd.Series:
    """Epoch seconds as Asia/Shanghai timestamps; negative values (absent) as NaT."""
    values = pd.Series(np.where(epoch_s >= 0, epoch_s, np.nan), index=index)
    return pd.to_datetime(values, unit="s", utc=True).dt.tz_convert(CITY_TZ)


# --------------------------------------------------------------------------- assembly


def _as_multi(geom: BaseGeometry) -> shapely.MultiPolygon:
    polys = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    return shapely.MultiPolygon(polys)


def _metric_boundary(boundary_wgs84: BaseGeometry, to_metric: Transformer) -> BaseGeometry:
    """The district outline in metres, with vertices at most ~50 m apart."""
    geom = shapely.make_valid(shapely.segmentize(boundary_wgs84, 0.0005))
    geom = shapely.transform(geom, lambda c: np.column_stack(to_metric.transform(c[:, 0], c[:, 1])))
    polys = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 1.0]
    if not polys:
        raise InvalidParameterError("the district boundary holds no polygon")
    return shapely.set_precision(shapely.MultiPolygon(polys), SNAP_M)


def _in_reading_order(geoms: list[BaseGeometry]) -> list[int]:
    """Indices of ``geoms`` (metric) in reading order of their centroids.

    Centroids, not interior points: GEOS picks an interior point on a scan line
    between vertices, which reprojection can move by half a segment and so
    across a row boundary; a centroid moves by nanometres.
    """
    xy = shapely.get_coordinates(shapely.centroid(np.asarray(geoms, dtype=object)))
    return reading_order(xy[:, 0], xy[:, 1], grid_row_height(shapely.area(geoms)))


def generate_demo(
    boundary_wgs84: BaseGeometry,
    divisions: pd.DataFrame,
    seed: int = DEFAULT_SEED,
    households: int = TARGET_HOUSEHOLDS,
) -> DemoDistrict:
    """The whole demo district inside ``boundary_wgs84`` (lon/lat), deterministic for ``seed``.

    ``divisions`` has columns code, name, level (district, subdistrict, community,
    village) and parent_code, as the statistics bureau lists them. ``households``
    is the district total to aim for; every community gets at least one grid, so
    the result holds at least ~250 households per community.
    """
    rng = np.random.default_rng(seed)
    district, villages_as_communities, villages_folded = units_from_divisions(divisions)
    to_metric = Transformer.from_crs(OUTPUT_CRS, METRIC_CRS, always_xy=True)
    boundary = _metric_boundary(boundary_wgs84, to_metric)
    density = _DensityField(boundary, to_metric, rng)
    xy = _sample_points(boundary, SAMPLE_SPACING_M, rng)
    mass = density(xy[:, 0], xy[:, 1])
    cell_area = SAMPLE_SPACING_M**2
    households_per_mass = households / mass.sum()

    # Subdistricts hold households in proportion to their number of communities.
    # Seeds nearer the old town take the lower (older) codes; balancing moves them.
    subs = district.children
    targets = np.array([len(s.children) for s in subs], dtype=float)
    init = _seed_sites(xy, mass, len(subs), rng)
    init = init[np.argsort(np.hypot(*(init - np.array(density.core)).T), kind="stable")]
    for sub, geom in zip(
        subs, _partition(boundary, xy, mass, targets, init, cell_area), strict=True
    ):
        sub.geom = geom

    # Communities, then grid pieces by household-weighted bisection.
    pieces: list[BaseGeometry] = []
    piece_comm: list[Unit] = []
    piece_target: list[int] = []
    for sub in subs:
        assert sub.geom is not None
        inside = shapely.contains_xy(sub.geom, xy[:, 0], xy[:, 1])
        sxy, smass = xy[inside], mass[inside]
        n = len(sub.children)
        shares = rng.uniform(0.75, 1.25, n)
        parts = (
            _partition(sub.geom, sxy, smass, shares, _seed_sites(sxy, smass, n, rng), cell_area)
            if n > 1
            else [sub.geom]
        )
        for unit, idx in zip(sub.children, _in_reading_order(parts), strict=True):
            unit.geom = parts[idx]
        for comm in sub.children:
            assert comm.geom is not None
            inside = shapely.contains_xy(comm.geom, sxy[:, 0], sxy[:, 1])
            expected = smass[inside].sum() * households_per_mass
            k = max(1, round(expected / GRID_HOUSEHOLDS))
            grid_targets = [int(t) for t in rng.integers(215, 286, k)]
            spacing = float(np.clip(math.sqrt(comm.geom.area / (150 * k)), 5.0, SAMPLE_SPACING_M))
            cxy = _sample_points(comm.geom, spacing, rng)
            cmass = density(cxy[:, 0], cxy[:, 1])
            split = _merge_fragments(_bisect(comm.geom, grid_targets, cxy, cmass))
            for piece, target in zip(split, grid_targets, strict=True):
                pieces.append(piece)
                piece_comm.append(comm)
                piece_target.append(target)

    tiles = _tile_exactly(pieces)
    if any(g.is_empty for g in tiles):
        raise RuntimeError("a demo grid vanished while tiling")

    # Codes in reading order inside each community; styles by density rank.
    comm_codes = np.array([c.code for c in piece_comm])
    grid_code = np.empty(len(tiles), dtype=object)
    grid_seq = np.zeros(len(tiles), dtype=int)
    for code in dict.fromkeys(comm_codes):
        members = np.flatnonzero(comm_codes == code)
        for seq, j in enumerate(_in_reading_order(list(tiles[members])), start=1):
            grid_code[members[j]] = child_code(code, seq)
            grid_seq[members[j]] = seq
    target_arr = np.array(piece_target)
    grid_density = target_arr / shapely.area(tiles)
    lo, hi = np.quantile(grid_density, [0.42, 0.72])
    styles: list[GridStyle] = [
        "village" if d <= lo else "walkup" if d <= hi else "estate" for d in grid_density
    ]

    grid_rows = []
    for i in np.argsort(grid_code.astype(str), kind="stable"):
        comm = piece_comm[i]
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

    buildings = _make_buildings(grids, district, rng)
    built = buildings.groupby("grid_code")["households"].sum()
    assert (built.reindex(grids["code"]).to_numpy() == grids["households"].to_numpy()).all()

    comm_rows = []
    sub_name = {s.code: s.name for s in subs}
    for sub in subs:
        for comm in sub.children:
            g = grids[grids["community_code"] == comm.code]
            population = int(g["population"].sum())
            comm_rows.append(
                {
                    "code": comm.code,
                    "name": comm.name,
                    "parent_code": sub.code,
                    "subdistrict_code": sub.code,
                    "subdistrict_name": sub_name[sub.code],
                    "households": int(g["households"].sum()),
                    "population": population,
                    "floating_population": round(population * float(rng.uniform(0.2, 0.45))),
                    "geometry": _as_multi(shapely.coverage_union_all(g.geometry.to_numpy())),
                }
            )
    communities = gpd.GeoDataFrame(comm_rows, geometry="geometry", crs=METRIC_CRS)
    subdistricts = _roll_up(communities, "subdistrict_code", subs, DISTRICT_CODE)
    district_frame = _roll_up(
        subdistricts.assign(district_code=DISTRICT_CODE), "district_code", [district], None
    )

    facilities, no_health = _make_facilities(communities, buildings, district.name, rng)
    facilities.insert(0, "ext_id", [f"DEMO-F-{i + 1:05d}" for i in range(len(facilities))])
    staff, staff_grids = _make_staff(grids, communities, rng)
    incidents = _make_incidents(
        grids, buildings, shapely.union_all(grids.geometry.to_numpy()), district.name, rng
    )

    # Everything to lon/lat; grids first so that incidents fall into the stored grids.
    out = {
        name: frame.to_crs(OUTPUT_CRS)
        for name, frame in {
            "district": district_frame,
            "subdistricts": subdistricts,
            "communities": communities,
            "grids": grids,
            "facilities": facilities,
            "incidents": incidents,
        }.items()
    }
    out["communities"] = out["communities"].drop(columns=["subdistrict_code", "subdistrict_name"])
    b4326 = buildings.to_crs(OUTPUT_CRS)
    b4326["footprint"] = gpd.GeoSeries(buildings["footprint"], crs=METRIC_CRS).to_crs(OUTPUT_CRS)
    incidents = out["incidents"]
    tree = shapely.STRtree(out["grids"].geometry.to_numpy())
    hit_point, hit_grid = tree.query(incidents.geometry.to_numpy(), predicate="intersects")
    first = pd.Series(hit_grid).groupby(hit_point).min()
    incidents["grid_code"] = None
    incidents.loc[first.index, "grid_code"] = out["grids"]["code"].to_numpy()[first.to_numpy()]
    area_names = {
        code: name
        for frame in (out["district"], out["subdistricts"], out["communities"])
        for code, name in zip(frame["code"], frame["name"], strict=True)
    }
    incidents, transitions = _make_histories(
        incidents, out["grids"], staff, staff_grids, area_names, seed
    )
    return DemoDistrict(
        district=out["district"],
        subdistricts=out["subdistricts"],
        communities=out["communities"],
        grids=out["grids"],
        buildings=b4326,
        facilities=out["facilities"],
        incidents=incidents,
        incident_transitions=transitions,
        staff=staff,
        staff_grids=staff_grids,
        notes=DemoNotes(
            villages_folded=villages_folded,
            villages_as_communities=tuple(villages_as_communities),
            communities_without_health_station=no_health,
        ),
    )


def _roll_up(
    children: gpd.GeoDataFrame, key: str, units: list[Unit], parent_code: str | None
) -> gpd.GeoDataFrame:
    """Parent rows whose geometry is the coverage union of their children and counts their sums."""
    rows = []
    for unit in units:
        kids = children[children[key] == unit.code]
        rows.append(
            {
                "code": unit.code,
                "name": unit.name,
                "parent_code": parent_code,
                "households": int(kids["households"].sum()),
                "population": int(kids["population"].sum()),
                "floating_population": int(kids["floating_population"].sum()),
                "geometry": _as_multi(shapely.coverage_union_all(kids.geometry.to_numpy())),
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)


def _make_buildings(
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
