"""Points (buildings, facilities) joined to the walking network at their nearest edge point.

A building joins the network where a resident steps onto it: the nearest
point *on an edge* (a fraction along it), never the nearest node, which can
be a block away. The straight access leg to that point must not cross a
barrier (a river, a rail line, a compound wall): a building inside a walled
compound joins the compound's own paths even where the street outside the
wall is nearer. Points with no such edge within ``max_leg_m`` are left
unattached (edge -1): nothing can be walked from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from gis.errors import InvalidParameterError
from gis.network.graph import F64, I64, Network

# Rejected legs look for the next candidates within this many times the nearest
# distance (plus a margin) first, then within max_leg_m: bounds the work in dense areas.
_FIRST_RING_FACTOR = 3.0
_FIRST_RING_MARGIN_M = 60.0


@dataclass(frozen=True, eq=False)
class Attachment:
    """Where each point joins the network: edge index (-1 = none), fraction 0..1, leg metres.

    ``fraction`` runs from the edge's source (0) to its target (1);
    ``leg_m`` is the straight access leg in true metres (inf where unattached).
    """

    edge: I64
    fraction: F64
    leg_m: F64

    def __len__(self) -> int:
        return len(self.edge)

    def take(self, rows: ArrayLike) -> Attachment:
        """The attachments of the given rows (indices or a boolean mask), in that order."""
        r = np.asarray(rows)
        return Attachment(edge=self.edge[r], fraction=self.fraction[r], leg_m=self.leg_m[r])

    @classmethod
    def concat(cls, parts: list[Attachment]) -> Attachment:
        if not parts:
            return cls.empty()
        return cls(
            edge=np.concatenate([p.edge for p in parts]),
            fraction=np.concatenate([p.fraction for p in parts]),
            leg_m=np.concatenate([p.leg_m for p in parts]),
        )

    @classmethod
    def empty(cls) -> Attachment:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.float64))

    @property
    def attached(self) -> NDArray[np.bool_]:
        return self.edge >= 0


def attach(
    network: Network,
    xy: ArrayLike,
    *,
    barriers: NDArray[np.object_] | None = None,
    max_leg_m: float = 500.0,
) -> Attachment:
    """Nearest edge point of each plane point whose leg crosses no barrier.

    The nearest edge comes from the network's STRtree; where its leg crosses
    a barrier the point's other candidate edges are tried nearest first (those
    within a few times the nearest distance, then all within ``max_leg_m``).
    Barrier polygons count by their outlines. Distances are compared in plane
    metres; ``leg_m`` is converted to true metres with the chosen edge's
    true-to-plane length ratio.
    """
    pts_xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    n = len(pts_xy)
    edge = np.full(n, -1, dtype=np.int64)
    fraction = np.zeros(n, dtype=np.float64)
    leg_plane = np.full(n, np.inf, dtype=np.float64)
    if max_leg_m < 0:
        raise InvalidParameterError("max_leg_m must be ≥ 0 metres")
    if n == 0 or network.edge_count == 0:
        return Attachment(edge, fraction, leg_plane)
    points = shapely.points(pts_xy)
    tree = network.edge_tree()
    (pi, ei), dist = tree.query_nearest(
        points, max_distance=max_leg_m, return_distance=True, all_matches=False
    )
    pi = np.asarray(pi, dtype=np.int64)
    ei = np.asarray(ei, dtype=np.int64)
    walls = _barrier_tree(barriers)
    if walls is not None and len(pi):
        bad = _crossing(network, pts_xy[pi], points[pi], ei, walls)
        if bad.any():
            rej = pi[bad]
            rings = np.minimum(
                max_leg_m,
                np.asarray(dist, np.float64)[bad] * _FIRST_RING_FACTOR + _FIRST_RING_MARGIN_M,
            )
            pi, ei = pi[~bad], ei[~bad]
            found_p, found_e = _next_candidates(network, pts_xy, points, rej, rings, walls)
            left = np.setdiff1d(rej, found_p)
            if len(left):
                more_p, more_e = _next_candidates(
                    network, pts_xy, points, left, np.full(len(left), max_leg_m), walls
                )
                found_p = np.concatenate([found_p, more_p])
                found_e = np.concatenate([found_e, more_e])
            pi = np.concatenate([pi, found_p])
            ei = np.concatenate([ei, found_e])
    if len(pi):
        g = network.geoms[ei]
        t = shapely.line_locate_point(g, points[pi], normalized=True)
        t = np.clip(np.nan_to_num(np.asarray(t, np.float64), nan=0.0), 0.0, 1.0)
        at = shapely.line_interpolate_point(g, t, normalized=True)
        edge[pi] = ei
        fraction[pi] = t
        leg_plane[pi] = shapely.distance(points[pi], at)
    leg_m = leg_plane.copy()
    if len(pi):
        leg_m[pi] = leg_plane[pi] * _true_per_plane(network)[ei]
    return Attachment(edge=edge, fraction=fraction, leg_m=leg_m)


def _true_per_plane(network: Network) -> F64:
    plane = network.plane_length
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(plane > 0, network.length_m / np.where(plane > 0, plane, 1.0), 1.0)
    return np.asarray(ratio, dtype=np.float64)


def _barrier_tree(barriers: NDArray[np.object_] | None) -> shapely.STRtree | None:
    if barriers is None or len(barriers) == 0:
        return None
    b = np.asarray(barriers, dtype=object)
    b = b[~shapely.is_missing(b) & ~shapely.is_empty(b)]
    if len(b) == 0:
        return None
    kinds = shapely.get_type_id(b)
    areal = (kinds == shapely.GeometryType.POLYGON) | (kinds == shapely.GeometryType.MULTIPOLYGON)
    b = b.copy()
    b[areal] = shapely.boundary(b[areal])
    return shapely.STRtree(b)


def _legs(
    network: Network, pts_xy: F64, points: NDArray[np.object_], edges: I64
) -> NDArray[np.object_]:
    g = network.geoms[edges]
    at = shapely.line_interpolate_point(g, shapely.line_locate_point(g, points), normalized=False)
    coords = np.stack([pts_xy, shapely.get_coordinates(at)], axis=1)
    return shapely.linestrings(coords)


def _crossing(
    network: Network,
    pts_xy: F64,
    points: NDArray[np.object_],
    edges: I64,
    walls: shapely.STRtree,
) -> NDArray[np.bool_]:
    """Whether each leg crosses a barrier (touching one at either end does not count)."""
    legs = _legs(network, pts_xy, points, edges)
    hit, _ = walls.query(legs, predicate="crosses")
    out = np.zeros(len(legs), dtype=bool)
    out[hit] = True
    return out


def _next_candidates(
    network: Network,
    pts_xy: F64,
    points: NDArray[np.object_],
    rows: I64,
    radius: F64,
    walls: shapely.STRtree,
) -> tuple[I64, I64]:
    """For each point row, its nearest edge within ``radius`` whose leg crosses no barrier."""
    if len(rows) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    qi, ce = network.edge_tree().query(points[rows], predicate="dwithin", distance=radius)
    if len(qi) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cp = rows[qi]
    d = shapely.distance(points[cp], network.geoms[ce])
    order = np.lexsort((ce, d, cp))
    cp, ce = cp[order], ce[order]
    good = ~_crossing(network, pts_xy[cp], points[cp], ce, walls)
    cp, ce = cp[good], ce[good]
    first = np.ones(len(cp), dtype=bool)
    first[1:] = cp[1:] != cp[:-1]
    return cp[first].astype(np.int64), ce[first].astype(np.int64)
