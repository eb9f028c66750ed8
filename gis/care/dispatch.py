"""The nearest available home-care worker to a point: by walking distance where a walking
network is stored (``gis.network``), else by straight line.

Kaifu's service centre "sends the nearest worker" (seed 003). Nearest means the
shortest walk: across a river with one bridge the worker 300 m away in a straight
line may be 2 km away on foot. The search is exact and cheap:

1. the available workers with a known position, nearest by straight line first
   (PostGIS KNN on ``device.last_geom``), ``FIRST`` of them;
2. walking distances from each to the caller (one bounded search on the network,
   ``gis.network.reach``; a walk is never shorter than the straight line);
3. if the best walk is longer than the farthest candidate's straight line, a
   worker beyond might walk less: every worker within that straight line is
   taken and walked too.

Without a network, or when no candidate can reach the caller on foot within
``MAX_WALK_M``, the nearest by straight line is sent (``method`` says which).
The network is read once per process and dropped when ``walk_edge`` or
``walk_barrier`` change (``WalkNetworks``, on the change feed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.geo.metric import MetricPlane
from gis.network.attach import Attachment, attach
from gis.network.graph import Network
from gis.network.reach import distances_from
from gis.network.store import has_network, load_barriers, load_network

FIRST = 16
"""Candidates walked first (nearest by straight line)."""
MAX_WALK_M = 10_000.0
"""The longest walk searched (metres); beyond it the straight line decides."""
MAX_LEG_M = 500.0
"""The longest straight leg joining the caller or a worker to the network (metres)."""
NETWORK_TABLES = frozenset({"walk_edge", "walk_barrier"})


@dataclass(frozen=True)
class Walkable:
    """The walking network and its barriers on one plane."""

    plane: MetricPlane
    network: Network
    barriers: NDArray[np.object_]

    def attach(self, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> Attachment:
        xy = self.plane.to_plane(lon, lat)
        return attach(self.network, xy, barriers=self.barriers, max_leg_m=MAX_LEG_M)


class WalkNetworks:
    """The walking network per plane, read on first use.

    ``keeping`` says whether entries may be kept (the change feed listens); without it
    every call reads the network again, so a missed change never leaves a stale one.
    """

    def __init__(self, keeping: Callable[[], bool] = lambda: True) -> None:
        self._keeping = keeping
        self._held: dict[int, Walkable | None] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, plane: MetricPlane) -> Walkable | None:
        with self._lock:
            if plane.epsg in self._held:
                return self._held[plane.epsg]
        conn = session.connection()
        found = (
            Walkable(plane, load_network(conn, plane), load_barriers(conn, plane))
            if has_network(conn)
            else None
        )
        if self._keeping():
            with self._lock:
                self._held[plane.epsg] = found
        return found

    def changed(self, changes: Sequence[dict[str, Any]]) -> None:
        """Change-feed subscriber: a new network drops what is held."""
        if any(c.get("table") in NETWORK_TABLES for c in changes):
            self.clear()

    def clear(self) -> None:
        with self._lock:
            self._held.clear()


@dataclass(frozen=True)
class Choice:
    """The worker to send: who, how far (metres) and how that was measured."""

    worker_id: int
    name: str
    phone: str | None
    distance_m: float
    method: str  # "walk" or "line"


_CANDIDATES = """
SELECT w.id, w.name, w.phone, d.last_at, ST_X(d.last_geom) AS lon, ST_Y(d.last_geom) AS lat,
       ST_Distance(d.last_geom::geography, p.g::geography) AS line_m
FROM (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g) p
CROSS JOIN LATERAL (
  SELECT d.* FROM device d JOIN care_worker w ON w.id = d.worker_id
  WHERE d.worker_id IS NOT NULL AND w.available AND d.last_geom IS NOT NULL {within}
  ORDER BY d.last_geom <-> p.g LIMIT :n) d
JOIN care_worker w ON w.id = d.worker_id
ORDER BY line_m, w.id
"""
_FIRST = text(_CANDIDATES.format(within=""))
_WITHIN = text(
    _CANDIDATES.format(within="AND ST_DWithin(d.last_geom::geography, p.g::geography, :m)")
)


def _walks(walkable: Walkable, lon: float, lat: float, rows: Sequence[Any]) -> NDArray[np.float64]:
    """Walking metres from each candidate to the caller (inf beyond reach)."""
    caller = walkable.attach(np.array([lon]), np.array([lat]))
    if not caller.attached[0]:
        return np.full(len(rows), np.inf)
    workers = walkable.attach(
        np.array([r.lon for r in rows], dtype=float), np.array([r.lat for r in rows], dtype=float)
    )
    return distances_from(walkable.network, caller, workers, MAX_WALK_M)


def _choice(row: Any, distance_m: float, method: str) -> Choice:
    return Choice(int(row.id), row.name, row.phone, float(distance_m), method)


def nearest_available(
    session: Session, networks: WalkNetworks, lon: float, lat: float
) -> Choice | None:
    """The available worker nearest to (``lon``, ``lat``), WGS84; None when nobody is free."""
    rows = session.execute(_FIRST, {"lon": lon, "lat": lat, "n": FIRST}).all()
    if not rows:
        return None
    walkable = networks.get(session, MetricPlane.around(lon))
    if walkable is not None:
        walked = _walks(walkable, lon, lat, rows)
        best = float(walked.min())
        if np.isfinite(best) and len(rows) == FIRST and best > float(rows[-1].line_m):
            rows = session.execute(_WITHIN, {"lon": lon, "lat": lat, "n": 100_000, "m": best}).all()
            walked = _walks(walkable, lon, lat, rows)
            best = float(walked.min())
        if np.isfinite(best):
            i = int(np.argmin(walked))
            return _choice(rows[i], best, "walk")
    return _choice(rows[0], float(rows[0].line_m), "line")
