"""Household coverage by service facilities: the numeric core (no database, no HTTP).

Everything here works on plane coordinates in metres (see ``gis.geo.metric``) with a
per-building scale factor that turns plane metres into true metres, so callers
may pass a real Gauss-Krüger projection or, for a synthetic city, a plain
metric plane with scale 1.

Coverage is of households, not of area: each building gets the true distance
to its nearest facility and the slot of that facility; a building is covered
when that distance is within the radius. ``CoverageIndex`` keeps the result
current when facilities open, move or close, or a building's households
change, touching only the buildings that can be affected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from gis.errors import InvalidParameterError, NotFoundError

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
VORONOI_NEIGHBOURS = 16


ScaleFn = Callable[[F64], F64]


def _unit_scale(x: F64) -> F64:
    return np.ones_like(x)


def true_distance(a: F64, b: F64, scale_at: ScaleFn) -> F64:
    """True metres between plane points: plane distance over the mean scale of both ends."""
    plane = np.hypot(a[..., 0] - b[..., 0], a[..., 1] - b[..., 1])
    return plane * 2.0 / (scale_at(a[..., 0]) + scale_at(b[..., 0]))


def nearest_facility(
    buildings_xy: F64, facilities_xy: F64, scale_at: ScaleFn = _unit_scale, workers: int = -1
) -> tuple[F64, I64]:
    """True distance (m) to the nearest facility and its row, or (inf, -1) if there is none."""
    n = len(buildings_xy)
    if len(facilities_xy) == 0:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    _, idx = cKDTree(facilities_xy).query(buildings_xy, k=1, workers=workers)
    idx = np.asarray(idx, dtype=np.int64)
    return true_distance(buildings_xy, facilities_xy[idx], scale_at), idx


def count_within(
    buildings_xy: F64,
    facilities_xy: F64,
    radius_m: float,
    scale_at: ScaleFn = _unit_scale,
    workers: int = -1,
) -> I64:
    """How many facilities lie within ``radius_m`` true metres of each building (redundancy)."""
    if len(facilities_xy) == 0 or len(buildings_xy) == 0:
        return np.zeros(len(buildings_xy), dtype=np.int64)
    tree = cKDTree(facilities_xy)
    # Candidates by plane distance with a margin, then the exact test on true metres.
    reach = radius_m * scale_at(buildings_xy[:, 0]) * (1 + 1e-4)
    hits = tree.query_ball_point(buildings_xy, r=reach, workers=workers)
    counts = np.zeros(len(buildings_xy), dtype=np.int64)
    for i, h in enumerate(hits):
        if h:
            d = true_distance(buildings_xy[i], facilities_xy[h], scale_at)
            counts[i] = int((d <= radius_m).sum())
    return counts


@dataclass(frozen=True)
class Rollup:
    """Coverage per area, one entry per group index; distances in metres, NaN when undefined."""

    households: I64
    households_covered: I64
    buildings: I64
    buildings_covered: I64
    mean_distance_m: F64
    p90_distance_m: F64

    @property
    def coverage_rate(self) -> F64:
        """Household-weighted share covered, 0-1; NaN for an area without households."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.households_covered / np.where(self.households > 0, self.households, 0)

    @property
    def households_uncovered(self) -> I64:
        return self.households - self.households_covered


def rollup(
    distance_m: F64, covered: NDArray[np.bool_], households: I64, group: I64, n_groups: int
) -> Rollup:
    """Aggregate per-building results to areas (grids, communities, ...).

    Mean and 90th percentile of the distance to the nearest facility are
    household-weighted: they describe what residents walk, not what buildings do.
    """
    hh = households.astype(np.int64)
    hh_total = np.bincount(group, weights=hh, minlength=n_groups).astype(np.int64)
    hh_cov = np.bincount(group, weights=hh * covered, minlength=n_groups).astype(np.int64)
    b_total = np.bincount(group, minlength=n_groups).astype(np.int64)
    b_cov = np.bincount(group, weights=covered, minlength=n_groups).astype(np.int64)
    # An area with a building that reaches no facility (none of the type, or no walk to
    # one) has no mean or 90th-percentile distance; the other areas keep theirs.
    unreached = np.bincount(group, weights=~np.isfinite(distance_m), minlength=n_groups) > 0
    finite_m = np.where(np.isfinite(distance_m), distance_m, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(group, weights=hh * finite_m, minlength=n_groups) / hh_total
    p90 = _weighted_p90(np.where(np.isfinite(distance_m), distance_m, np.inf), hh, group, n_groups)
    mean[unreached] = np.nan
    p90[unreached] = np.nan
    return Rollup(hh_total, hh_cov, b_total, b_cov, mean, p90)


def _weighted_p90(distance_m: F64, hh: I64, group: I64, n_groups: int) -> F64:
    # One float sort key (group, then distance) sorts a million rows several
    # times faster than a two-key lexsort; distances are capped far beyond any
    # walking radius so the key stays exact to well under a millimetre.
    span = 1e7
    key = group * span + np.minimum(distance_m, span - 1.0)
    order = np.argsort(key)
    g = group[order]
    w = hh[order].astype(np.float64)
    cum = np.cumsum(w)
    totals = np.bincount(g, weights=w, minlength=n_groups)
    starts = np.concatenate([[0.0], np.cumsum(totals)[:-1]])
    within = cum - starts[g]
    reached = np.flatnonzero(within >= 0.9 * totals[g] - 1e-9)
    first_groups, first = np.unique(g[reached], return_index=True)
    p90 = np.full(n_groups, np.nan)
    p90[first_groups] = distance_m[order][reached[first]]
    p90[totals == 0] = np.nan
    return p90


@dataclass(frozen=True)
class CoverageDelta:
    """What a change did (or would do): buildings whose coverage flipped, per group."""

    buildings_gained: I64
    buildings_lost: I64
    households_gained: int
    households_lost: int
    by_group: dict[int, int] = field(default_factory=dict)  # group -> net households

    @property
    def net_households(self) -> int:
        return self.households_gained - self.households_lost


class CoverageIndex:
    """Coverage of one facility type at one radius, kept current incrementally.

    Facilities live in slots; a closed facility's slot stays empty so that
    building results can keep pointing at slots. The facility KD-tree is
    rebuilt after a change (milliseconds for 10,000 facilities); the building
    KD-tree is built once.
    """

    MUTABLE: tuple[str, ...] = (
        "nearest_m",
        "nearest_slot",
        "households",
        "hh_covered",
        "fxy",
        "fids",
        "active",
    )
    """Arrays a change mutates in place (what a snapshot must copy)."""

    def __init__(
        self,
        buildings_xy: ArrayLike,
        households: ArrayLike,
        group: ArrayLike,
        n_groups: int,
        facility_ids: Sequence[int],
        facilities_xy: ArrayLike,
        radius_m: float,
        scale_at: ScaleFn = _unit_scale,
        nearest: tuple[F64, I64] | None = None,
    ) -> None:
        """``nearest`` passes (distance m, facility row) already computed by a streaming
        reader (see ``gis.coverage.store``), which must equal ``nearest_facility``."""
        if radius_m <= 0:
            raise InvalidParameterError("radius_m must be positive (metres)")
        self.bxy = np.ascontiguousarray(buildings_xy, dtype=np.float64).reshape(-1, 2)
        n = len(self.bxy)
        self.scale_at = scale_at
        self.scale = scale_at(self.bxy[:, 0]) if n else np.zeros(0)
        self.households = np.asarray(households, dtype=np.int64).copy()
        self.group = np.asarray(group, dtype=np.int64)
        self.n_groups = n_groups
        self.radius_m = float(radius_m)
        fxy = np.asarray(facilities_xy, dtype=np.float64).reshape(-1, 2)
        self.fxy = fxy.copy()
        self.fids = np.asarray(facility_ids, dtype=np.int64).copy()
        if len(self.fids) != len(self.fxy):
            raise InvalidParameterError("one id per facility position is needed")
        self.active = np.ones(len(self.fids), dtype=bool)
        self.slot_of = {int(f): i for i, f in enumerate(self.fids)}
        if len(self.slot_of) != len(self.fids):
            raise InvalidParameterError("facility ids must be unique")
        self._ftree: cKDTree | None = None
        self._ftree_slots: I64 = np.zeros(0, dtype=np.int64)
        self._btree: cKDTree | None = None
        self._extent: tuple[F64, F64] | None = None
        if nearest is None:
            nearest = nearest_facility(self.bxy, self.fxy, scale_at)
        self.nearest_m = np.asarray(nearest[0], dtype=np.float64).copy()
        self.nearest_slot = np.asarray(nearest[1], dtype=np.int64).copy()
        self.hh_covered = np.bincount(
            self.group, weights=self.households * self.covered, minlength=n_groups
        ).astype(np.int64)

    # --- state -------------------------------------------------------------------------
    @property
    def covered(self) -> NDArray[np.bool_]:
        return self.nearest_m <= self.radius_m

    @property
    def nearest_facility_id(self) -> I64:
        """Id of each building's nearest facility, -1 where there is none."""
        out = np.full(len(self.bxy), -1, dtype=np.int64)
        ok = self.nearest_slot >= 0
        out[ok] = self.fids[self.nearest_slot[ok]]
        return out

    def rollup(self, group: I64 | None = None, n_groups: int | None = None) -> Rollup:
        return rollup(
            self.nearest_m,
            self.covered,
            self.households,
            self.group if group is None else group,
            self.n_groups if n_groups is None else int(n_groups),
        )

    def count_within(self, buildings: I64 | None = None) -> I64:
        """Facilities within the radius of each building (or of the given rows)."""
        rows = np.arange(len(self.bxy)) if buildings is None else np.asarray(buildings)
        slots = np.flatnonzero(self.active)
        return count_within(self.bxy[rows], self.fxy[slots], self.radius_m, self.scale_at)

    def _facility_tree(self) -> tuple[cKDTree | None, I64]:
        if self._ftree is None:
            slots = np.flatnonzero(self.active)
            self._ftree_slots = slots
            self._ftree = cKDTree(self.fxy[slots]) if len(slots) else None
        return self._ftree, self._ftree_slots

    def _building_tree(self) -> cKDTree:
        if self._btree is None:
            self._btree = cKDTree(self.bxy)
        return self._btree

    def _buildings_near(self, xy: F64, radius_plane: float) -> I64:
        if len(self.bxy) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(
            self._building_tree().query_ball_point(xy, r=radius_plane), dtype=np.int64
        )

    # --- changes -----------------------------------------------------------------------
    def add_facility(self, facility_id: int, xy: Sequence[float]) -> CoverageDelta:
        """Open a facility; only buildings in its Voronoi cell can get a new nearest."""
        if facility_id in self.slot_of and self.active[self.slot_of[facility_id]]:
            raise InvalidParameterError(f"facility {facility_id} is already open")
        p = np.asarray(xy, dtype=np.float64).reshape(2)
        reach = self._voronoi_reach(p)
        rows = self._buildings_near(p, reach)
        slot = self._new_slot(facility_id, p)
        before = self.covered[rows]
        d = true_distance(self.bxy[rows], p, self.scale_at)
        better = d < self.nearest_m[rows]
        self.nearest_m[rows[better]] = d[better]
        self.nearest_slot[rows[better]] = slot
        return self._apply(rows, before)

    def remove_facility(self, facility_id: int) -> CoverageDelta:
        """Close a facility; its buildings fall back to their next-nearest one."""
        slot = self._slot(facility_id)
        rows = np.flatnonzero(self.nearest_slot == slot)
        before = self.covered[rows]
        self.active[slot] = False
        self._ftree = None
        self.nearest_m[rows], self.nearest_slot[rows] = self._nearest_open(rows)
        return self._apply(rows, before)

    def _nearest_open(self, rows: I64) -> tuple[F64, I64]:
        """Distance to the nearest open facility and its slot, for building ``rows``
        ((inf, -1) where there is none): the straight line here, a walk in subclasses."""
        tree, slots = self._facility_tree()
        if tree is None or len(rows) == 0:
            return np.full(len(rows), np.inf), np.full(len(rows), -1, dtype=np.int64)
        _, i = tree.query(self.bxy[rows], k=1)
        nearest = slots[np.asarray(i, dtype=np.int64)]
        return true_distance(self.bxy[rows], self.fxy[nearest], self.scale_at), nearest

    def move_facility(self, facility_id: int, xy: Sequence[float]) -> CoverageDelta:
        removed = self.remove_facility(facility_id)
        added = self.add_facility(facility_id, xy)
        return _combine(removed, added, self.households)

    def set_households(self, building: int, households: int) -> int:
        """Change one building's households; returns the change in households covered."""
        if households < 0:
            raise InvalidParameterError("households cannot be negative")
        change = int(households) - int(self.households[building])
        self.households[building] = households
        if self.nearest_m[building] <= self.radius_m:
            self.hh_covered[self.group[building]] += change
            return change
        return 0

    def what_if(
        self, add: Iterable[Sequence[float]] = (), remove: Iterable[int] = ()
    ) -> CoverageDelta:
        """Coverage change if facilities opened at ``add`` and ``remove`` closed; no mutation."""
        new = np.asarray(list(add), dtype=np.float64).reshape(-1, 2)
        gone = {self._slot(f) for f in remove}
        r_plane = self.radius_m * float(self.scale.max(initial=1.0)) * (1 + 1e-4)
        parts = [self._buildings_near(p, r_plane) for p in new]
        parts += [self._buildings_near(self.fxy[s], r_plane) for s in gone]
        if not parts:
            return _delta(np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0, bool), self)
        rows = np.unique(np.concatenate(parts))
        before = self.covered[rows]
        after = before & ~np.isin(self.nearest_slot[rows], list(gone))
        if gone:
            # Covered only through a closing facility: is another open one within reach?
            check = rows[before & ~after]
            tree, slots = self._facility_tree()
            if tree is not None and len(check):
                reach = self.radius_m * self.scale[check] * (1 + 1e-4)
                hits = tree.query_ball_point(self.bxy[check], r=reach)
                still = np.zeros(len(check), dtype=bool)
                for j, (b, hs) in enumerate(zip(check, hits, strict=True)):
                    open_slots = [int(slots[h]) for h in hs if int(slots[h]) not in gone]
                    if open_slots:
                        d = true_distance(self.bxy[b], self.fxy[open_slots], self.scale_at)
                        still[j] = bool((d <= self.radius_m).any())
                after[np.flatnonzero(before & ~after)[still]] = True
        if len(new):
            d = true_distance(self.bxy[rows][:, None, :], new[None, :, :], self.scale_at)
            after |= d.min(axis=1) <= self.radius_m
        return _delta(rows, before, after, self)

    # --- helpers -----------------------------------------------------------------------
    def _slot(self, facility_id: int) -> int:
        slot = self.slot_of.get(int(facility_id))
        if slot is None or not self.active[slot]:
            raise NotFoundError(f"facility {facility_id} is not open in this coverage index")
        return slot

    def _new_slot(self, facility_id: int, p: F64) -> int:
        slot = self.slot_of.get(int(facility_id))
        if slot is None:
            slot = len(self.fids)
            self.fxy = np.vstack([self.fxy, p])
            self.fids = np.append(self.fids, facility_id)
            self.active = np.append(self.active, True)
            self.slot_of[int(facility_id)] = slot
        else:
            self.fxy[slot] = p
            self.active[slot] = True
        self._ftree = None
        return slot

    def _voronoi_reach(self, p: F64) -> float:
        """Plane distance beyond which no building can be nearer to ``p`` than to its facility.

        The new site's Voronoi cell is contained in the cell cut by its nearest
        neighbours alone, clipped to the buildings' extent; its farthest vertex
        bounds the search. A 1 % margin covers the small scale-factor difference
        between plane and true distances.
        """
        if len(self.bxy) == 0:
            return 0.0
        if self._extent is None:
            self._extent = (self.bxy.min(axis=0), self.bxy.max(axis=0))
        lo = np.minimum(self._extent[0], p) - 1.0
        hi = np.maximum(self._extent[1], p) + 1.0
        pieces = [shapely.box(lo[0], lo[1], hi[0], hi[1])]
        tree, slots = self._facility_tree()
        if tree is not None:
            k = min(VORONOI_NEIGHBOURS, len(slots))
            _, idx = tree.query(p, k=k)
            neighbours = self.fxy[slots[np.atleast_1d(idx)]]
            if (np.hypot(*(neighbours - p).T) == 0).any():
                return 0.0  # a facility already stands here: nobody gets nearer
            pieces += list(_half_planes(p, neighbours, float(np.hypot(*(hi - lo))) * 4))
        cell = shapely.intersection_all(pieces)
        coords = shapely.get_coordinates(cell)
        if len(coords) == 0:
            return 0.0
        return float(np.hypot(*(coords - p).T).max()) * 1.01 + 1.0

    def _apply(self, rows: I64, before: NDArray[np.bool_]) -> CoverageDelta:
        after = self.covered[rows]
        delta = _delta(rows, before, after, self)
        for g, net in delta.by_group.items():
            self.hh_covered[g] += net
        return delta


def _half_planes(p: F64, qs: F64, size: float) -> NDArray[np.object_]:
    """For each q, the side of the bisector of p and q that contains p, as a big polygon."""
    mid = (p + qs) / 2.0
    n = (qs - p) / np.hypot(*(qs - p).T)[:, None]
    t = np.column_stack([-n[:, 1], n[:, 0]])
    a, b = mid + t * size, mid - t * size
    rings = np.stack([a, b, b - n * size, a - n * size, a], axis=1)
    return shapely.polygons(rings)


def _delta(
    rows: I64, before: NDArray[np.bool_], after: NDArray[np.bool_], index: CoverageIndex
) -> CoverageDelta:
    gained = rows[after & ~before]
    lost = rows[before & ~after]
    hh = index.households
    by_group: dict[int, int] = {}
    for g, w in zip(index.group[gained], hh[gained], strict=True):
        by_group[int(g)] = by_group.get(int(g), 0) + int(w)
    for g, w in zip(index.group[lost], hh[lost], strict=True):
        by_group[int(g)] = by_group.get(int(g), 0) - int(w)
    return CoverageDelta(
        buildings_gained=gained,
        buildings_lost=lost,
        households_gained=int(hh[gained].sum()),
        households_lost=int(hh[lost].sum()),
        by_group={g: v for g, v in by_group.items() if v},
    )


def _combine(first: CoverageDelta, second: CoverageDelta, hh: I64) -> CoverageDelta:
    gained = set(first.buildings_gained.tolist()) | set(second.buildings_gained.tolist())
    lost = set(first.buildings_lost.tolist()) | set(second.buildings_lost.tolist())
    both = gained & lost  # lost by the close, regained by the reopen
    g = np.array(sorted(gained - both), dtype=np.int64)
    lo = np.array(sorted(lost - both), dtype=np.int64)
    by_group = dict(first.by_group)
    for k, v in second.by_group.items():
        by_group[k] = by_group.get(k, 0) + v
    return CoverageDelta(
        buildings_gained=g,
        buildings_lost=lo,
        households_gained=int(hh[g].sum()) if len(g) else 0,
        households_lost=int(hh[lo].sum()) if len(lo) else 0,
        by_group={k: v for k, v in by_group.items() if v},
    )
