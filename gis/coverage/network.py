"""Coverage by walking distance: the straight-line index's questions answered over the network.

A building's distance is the walk of ``gis.network`` (its access leg, metres
along the walking network, the facility's leg) to the nearest facility of the
type; it is covered when that walk is within the radius. Everything else
(roll-ups, rings, blind spots, what-if, norms, the live cache) is shared with
the circles of ``core.py``: ``NetworkCoverageIndex`` is a ``CoverageIndex``
whose distances come from the network, kept current as facilities open, move
or close by searching from the changed facility alone.

A walk is never shorter than the straight line, so a building the circle
leaves out the walk leaves out too; the difference (``overstated``) is the
households a circle promises and a walk does not deliver.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree
from sqlalchemy import Connection

from gis.coverage.core import CoverageDelta, CoverageIndex, ScaleFn, _delta, _unit_scale
from gis.errors import InvalidParameterError, NoNetworkError
from gis.geo.metric import MetricPlane
from gis.network import Attachment, Network, attach, distances_from, nearest_sources
from gis.network.store import has_network, load_barriers, load_network

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def no_network() -> NoNetworkError:
    """The error of a walking question asked where no network is stored, and what to do."""
    return NoNetworkError(
        "No walking network is stored, so walking distances cannot be measured: import one "
        "with `gridmap network import FILE` (an OpenStreetMap .pbf or a line layer; see "
        "docs/network.md) or load the demo with `gridmap demo`; method=circle works meanwhile.",
        zh="尚未导入步行路网，无法计算步行距离：请用 `gridmap network import 文件`"
        "（OpenStreetMap .pbf 或线图层，见 docs/network.md）导入，或运行 `gridmap demo`；"
        "在此之前可用 method=circle（直线距离）。",
    )


@dataclass(frozen=True, eq=False)
class WalkContext:
    """The walking network on a coverage plane, its barriers, and where each building joins it.

    Read once and shared by every walking model of the buildings it was built
    for (attaching 100,000 buildings takes a fraction of a second, a search a
    few milliseconds).
    """

    network: Network
    barriers: NDArray[np.object_]
    buildings: Attachment
    max_leg_m: float

    def attach(self, xy: ArrayLike) -> Attachment:
        """Where plane points (facilities) join the network, by the buildings' rule."""
        return attach(self.network, xy, barriers=self.barriers, max_leg_m=self.max_leg_m)


def load_walk(
    conn: Connection, plane: MetricPlane, buildings_xy: ArrayLike, max_leg_m: float
) -> WalkContext:
    """The stored network and barriers on ``plane``, and the buildings attached to it.

    Raises ``NoNetworkError`` (what to do in its message) when none is stored.
    """
    if not has_network(conn):
        raise no_network()
    network = load_network(conn, plane)
    barriers = load_barriers(conn, plane)
    att = attach(network, buildings_xy, barriers=barriers, max_leg_m=max_leg_m)
    return WalkContext(network, barriers, att, float(max_leg_m))


class NetworkCoverageIndex(CoverageIndex):
    """Coverage of one facility type at one walking distance, kept current incrementally.

    Distances are unbounded walks (mean and 90th-percentile distances stay
    meaningful beyond the radius); inf where a building or every facility
    cannot join the network or no walk connects them. Facilities keep their
    attachments per slot beside their plane positions.
    """

    MUTABLE = (*CoverageIndex.MUTABLE, "f_edge", "f_fraction", "f_leg")

    def __init__(
        self,
        buildings_xy: ArrayLike,
        households: ArrayLike,
        group: ArrayLike,
        n_groups: int,
        facility_ids: Sequence[int],
        facilities_xy: ArrayLike,
        radius_m: float,
        walk: WalkContext,
        scale_at: ScaleFn = _unit_scale,
    ) -> None:
        bxy = np.asarray(buildings_xy, dtype=np.float64).reshape(-1, 2)
        if len(walk.buildings) != len(bxy):
            raise InvalidParameterError("the walk context was built for other buildings")
        self.walk = walk
        fxy = np.asarray(facilities_xy, dtype=np.float64).reshape(-1, 2)
        fatt = walk.attach(fxy)
        self.f_edge = fatt.edge.copy()
        self.f_fraction = fatt.fraction.copy()
        self.f_leg = fatt.leg_m.copy()
        near = nearest_sources(walk.network, fatt, walk.buildings, math.inf)
        super().__init__(
            bxy,
            households,
            group,
            n_groups,
            facility_ids,
            fxy,
            radius_m,
            scale_at=scale_at,
            nearest=(near.distance_m, near.source),
        )

    # --- facilities as network sources ----------------------------------------------
    def _sources(self, slots: I64) -> Attachment:
        return Attachment(self.f_edge[slots], self.f_fraction[slots], self.f_leg[slots])

    def facility_attachment(self, facility_id: int) -> Attachment:
        """Where an open facility joins the network (edge -1: it cannot)."""
        return self._sources(np.array([self._slot(facility_id)]))

    def open_sources(self) -> tuple[Attachment, I64]:
        """The open facilities' attachments and their slots."""
        slots = np.flatnonzero(self.active)
        return self._sources(slots), slots

    def _new_slot(self, facility_id: int, p: F64) -> int:
        slot = super()._new_slot(facility_id, p)
        joined = self.walk.attach(p.reshape(1, 2))
        if slot >= len(self.f_edge):
            self.f_edge = np.append(self.f_edge, joined.edge)
            self.f_fraction = np.append(self.f_fraction, joined.fraction)
            self.f_leg = np.append(self.f_leg, joined.leg_m)
        else:
            self.f_edge[slot] = joined.edge[0]
            self.f_fraction[slot] = joined.fraction[0]
            self.f_leg[slot] = joined.leg_m[0]
        return slot

    def _search_bound(self) -> float:
        """No building nearer than this to its facility can gain from a new one beyond it."""
        reachable = self.nearest_m[self.walk.buildings.attached]
        if len(reachable) == 0 or not np.isfinite(reachable).all():
            return math.inf
        return float(reachable.max())

    # --- changes -----------------------------------------------------------------------
    def add_facility(self, facility_id: int, xy: Sequence[float]) -> CoverageDelta:
        """Open a facility: one search from it, bounded by the farthest walk now."""
        if facility_id in self.slot_of and self.active[self.slot_of[facility_id]]:
            raise InvalidParameterError(f"facility {facility_id} is already open")
        p = np.asarray(xy, dtype=np.float64).reshape(2)
        bound = self._search_bound()
        slot = self._new_slot(facility_id, p)
        d = distances_from(
            self.walk.network, self._sources(np.array([slot])), self.walk.buildings, bound
        )
        rows = np.flatnonzero(d < self.nearest_m)
        before = self.covered[rows]
        self.nearest_m[rows] = d[rows]
        self.nearest_slot[rows] = slot
        return self._apply(rows, before)

    def _nearest_open(self, rows: I64) -> tuple[F64, I64]:
        """Closing a facility: its buildings walk to the nearest remaining one."""
        sources, slots = self.open_sources()
        near = nearest_sources(self.walk.network, sources, self.walk.buildings.take(rows), math.inf)
        slot = np.full(len(rows), -1, dtype=np.int64)
        found = near.source >= 0
        slot[found] = slots[near.source[found]]
        return near.distance_m, slot

    def what_if(
        self, add: Iterable[Sequence[float]] = (), remove: Iterable[int] = ()
    ) -> CoverageDelta:
        """Coverage change if facilities opened at ``add`` and ``remove`` closed; no mutation.

        Searches are bounded by the radius: the new facilities' walks, and for
        buildings covered only through a closing facility, the walks to the others.
        """
        new = np.asarray(list(add), dtype=np.float64).reshape(-1, 2)
        gone = sorted({self._slot(f) for f in remove})
        before = self.covered
        after = before.copy()
        network, radius = self.walk.network, self.radius_m
        if gone:
            lost = np.flatnonzero(before & np.isin(self.nearest_slot, gone))
            if len(lost):
                keep = np.setdiff1d(np.flatnonzero(self.active), gone)
                near = nearest_sources(
                    network, self._sources(keep), self.walk.buildings.take(lost), radius
                )
                after[lost] = near.distance_m <= radius
        if len(new):
            d = nearest_sources(network, self.walk.attach(new), self.walk.buildings, radius)
            after |= d.distance_m <= radius
        rows = np.flatnonzero(before != after)
        return _delta(rows, before[rows], after[rows], self)

    def count_within(self, buildings: I64 | None = None) -> I64:
        """Facilities within a walk of the radius from each building (or the given rows).

        Only facilities inside a building's circle can be within its walk, so
        one bounded search runs per facility near any of the rows.
        """
        rows = np.arange(len(self.bxy)) if buildings is None else np.asarray(buildings)
        counts = np.zeros(len(rows), dtype=np.int64)
        slots = np.flatnonzero(self.active)
        if len(rows) == 0 or len(slots) == 0:
            return counts
        reach = self.radius_m * float(self.scale.max(initial=1.0)) * (1 + 1e-3)
        near = cKDTree(self.fxy[slots]).query_ball_point(self.bxy[rows], r=reach)
        hits = [h for h in near if h]
        if not hits:
            return counts
        targets = self.walk.buildings.take(rows)
        for s in np.unique(np.concatenate(hits)).tolist():
            d = distances_from(self.walk.network, self._sources(slots[[s]]), targets, self.radius_m)
            counts += d <= self.radius_m
        return counts
