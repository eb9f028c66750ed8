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
_MAX_SCALE = 1.001
# Half-sizes (plane metres) of the boxes the nearest edge is first looked for in.
_BOX_RINGS_M = (25.0, 100.0)


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
    if max_leg_m < 0:
        raise InvalidParameterError("max_leg_m must be ≥ 0 metres")
    if n == 0 or network.edge_count == 0:
        return Attachment(edge, fraction, np.full(n, np.inf, dtype=np.float64))
    points = shapely.points(pts_xy)
    pi, ei, dist = _nearest_edges(network, pts_xy, points, max_leg_m)
    t, at = _join_points(network, points[pi], ei)
    walls = _barrier_tree(barriers)
    if walls is not None and len(pi):
        bad = _crossing(pts_xy[pi], at, walls)
        if bad.any():
            rej = pi[bad]
            rings = np.minimum(max_leg_m, dist[bad] * _FIRST_RING_FACTOR + _FIRST_RING_MARGIN_M)
            pi, ei, t, at = pi[~bad], ei[~bad], t[~bad], at[~bad]
            found_p, found_e = _next_candidates(network, pts_xy, points, rej, rings, walls)
            left = np.setdiff1d(rej, found_p)
            if len(left):
                more_p, more_e = _next_candidates(
                    network, pts_xy, points, left, np.full(len(left), max_leg_m), walls
                )
                found_p = np.concatenate([found_p, more_p])
                found_e = np.concatenate([found_e, more_e])
            found_t, found_at = _join_points(network, points[found_p], found_e)
            pi = np.concatenate([pi, found_p])
            ei = np.concatenate([ei, found_e])
            t = np.concatenate([t, found_t])
            at = np.concatenate([at, found_at])
    edge[pi] = ei
    fraction[pi] = t
    leg_m = np.full(n, np.inf, dtype=np.float64)
    leg_m[pi] = np.hypot(*(pts_xy[pi] - at).T) * _true_per_plane(network)[ei]
    return Attachment(edge=edge, fraction=fraction, leg_m=leg_m)


def _join_points(network: Network, points: NDArray[np.object_], edges: I64) -> tuple[F64, F64]:
    """Fraction along each edge of the point's nearest edge point, and that point (plane xy)."""
    if len(edges) == 0:
        return np.zeros(0, np.float64), np.zeros((0, 2), np.float64)
    g = network.geoms[edges]
    t = shapely.line_locate_point(g, points, normalized=True)
    t = np.clip(np.nan_to_num(np.asarray(t, np.float64), nan=0.0), 0.0, 1.0)
    at = shapely.get_coordinates(shapely.line_interpolate_point(g, t, normalized=True))
    return t, at


def _nearest_edges(
    network: Network, pts_xy: F64, points: NDArray[np.object_], max_leg_m: float
) -> tuple[I64, I64, F64]:
    """(point row, edge, plane distance) of each point's nearest edge within ``max_leg_m``.

    Most buildings stand a few tens of metres from a street: candidates from
    boxes of growing half-size (bulk STRtree queries, exact distances by
    shapely) settle them several times faster than ``query_nearest``; a
    nearest distance within the box's half-size is the true nearest. The
    few left over go to ``query_nearest``.
    """
    tree = network.edge_tree()
    left = np.arange(len(pts_xy), dtype=np.int64)
    found_p, found_e, found_d = [], [], []
    for ring in _BOX_RINGS_M:
        r = min(ring, max_leg_m)
        if len(left) == 0:
            break
        x, y = pts_xy[left, 0], pts_xy[left, 1]
        qi, qe = tree.query(shapely.box(x - r, y - r, x + r, y + r))
        if len(qi):
            d = shapely.distance(points[left[qi]], network.geoms[qe])
            start = np.flatnonzero(np.r_[True, qi[1:] != qi[:-1]])
            low = np.minimum.reduceat(d, start)
            group = np.cumsum(np.r_[False, qi[1:] != qi[:-1]])
            pick = np.flatnonzero(d <= low[group])  # the first nearest candidate per point
            pick = pick[np.r_[True, group[pick][1:] != group[pick][:-1]]]
            good = pick[d[pick] <= r]
            found_p.append(left[qi[good]])
            found_e.append(qe[good].astype(np.int64))
            found_d.append(d[good])
            settled = np.zeros(len(left), dtype=bool)
            settled[qi[good]] = True
            left = left[~settled]
        if r >= max_leg_m:
            left = left[:0]
    if len(left):
        (qi, qe), d = tree.query_nearest(
            points[left], max_distance=max_leg_m, return_distance=True, all_matches=False
        )
        found_p.append(left[qi])
        found_e.append(np.asarray(qe, dtype=np.int64))
        found_d.append(np.asarray(d, dtype=np.float64))
    if not found_p:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    return np.concatenate(found_p), np.concatenate(found_e), np.concatenate(found_d)


def _true_per_plane(network: Network) -> F64:
    """True metres per plane metre near each edge: its length over its plane length.

    Bounded to ±0.1 %, the Gauss-Krüger scale within a 3° zone (3e-4 at its
    edge), so lengths that are not plain distances (rounded lengths of
    centimetre edges, slopes or stairs counted longer) leave legs nearly plane.
    """
    plane = network.plane_length
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(plane > 0, network.length_m / np.where(plane > 0, plane, 1.0), 1.0)
    return np.clip(np.asarray(ratio, dtype=np.float64), 1 / _MAX_SCALE, _MAX_SCALE)


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


def _crossing(pts_xy: F64, at_xy: F64, walls: shapely.STRtree) -> NDArray[np.bool_]:
    """Whether each leg (point → join point) crosses a barrier; touching one at an end does not."""
    legs = shapely.linestrings(np.stack([pts_xy, at_xy], axis=1))
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
    _, at = _join_points(network, points[cp], ce)
    good = ~_crossing(pts_xy[cp], at, walls)
    cp, ce = cp[good], ce[good]
    first = np.ones(len(cp), dtype=bool)
    first[1:] = cp[1:] != cp[:-1]
    return cp[first].astype(np.int64), ce[first].astype(np.int64)
