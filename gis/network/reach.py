"""Walking distances over the network: every building to its nearest facility, bounded.

One bounded Dijkstra (``scipy.sparse.csgraph.dijkstra``, ``min_only``) walks out
from all facilities at once. Walks go from the building (home) to the facility,
so the search runs on the *reversed* graph, from one virtual node per
facility joined to its edge's two ends by the partial edge lengths plus its
access leg (only in the directions one may walk towards it). A building's
distance is then its leg plus the better of its two partial edges plus that
end's distance, or the direct walk along the edge when a facility sits on the
same edge. Partial edges at the cut-off count: a building 30 m along an edge
whose start is reached at 980 m is at 1010 m + leg; one 10 m along is at 990 m + leg.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from gis.errors import InvalidParameterError
from gis.network.attach import Attachment
from gis.network.graph import F64, I64, Network


@dataclass(frozen=True, eq=False)
class Nearest:
    """Per target: walking metres to its nearest source (inf beyond the cut-off or unreachable)
    and that source's row in the sources (-1 where none)."""

    distance_m: F64
    source: I64


@dataclass(frozen=True, eq=False)
class _Walk:
    """Result of one search: per network node, metres to the nearest source and its row."""

    node_m: F64
    node_source: I64


def nearest_sources(
    network: Network, sources: Attachment, targets: Attachment, cutoff_m: float
) -> Nearest:
    """Multi-source bounded Dijkstra (scipy.sparse.csgraph, min_only) on the reversed graph
    with one virtual node per source; same-edge pairs handled directly.

    Each target gets the walking distance (true metres, legs included) from it
    to the nearest source and that source's row; beyond ``cutoff_m`` the
    distance is inf and the row -1, as for unattached points.
    """
    _check_cutoff(cutoff_m)
    walk = _search(network, sources, cutoff_m)
    return _to_targets(network, sources, targets, walk, cutoff_m)


def distances_from(
    network: Network, source: Attachment, targets: Attachment, cutoff_m: float
) -> F64:
    """One source (an Attachment of length 1): what-if of one new facility.

    Walking metres from each target to it (inf beyond ``cutoff_m``). A longer
    Attachment gives the distance to the nearest of its points.
    """
    return nearest_sources(network, source, targets, cutoff_m).distance_m


def reached(network: Network, sources: Attachment, cutoff_m: float) -> tuple[I64, F64, F64]:
    """(edge index, from fraction, to fraction) of every edge part within cutoff_m.

    A point of an edge part can walk to some source in at most ``cutoff_m``
    metres along the network (the source's leg included, no leg of its own).
    Parts are merged per edge and sorted by edge; an edge wholly reached is (e, 0, 1).
    """
    _check_cutoff(cutoff_m)
    walk = _search(network, sources, cutoff_m)
    return _parts(network, sources, walk, cutoff_m)


# --- the search --------------------------------------------------------------------------
def _check_cutoff(cutoff_m: float) -> None:
    if not cutoff_m >= 0:  # also refuses NaN
        raise InvalidParameterError(f"cut-off must be ≥ 0 metres, got {cutoff_m}")


def _search(network: Network, sources: Attachment, cutoff_m: float) -> _Walk:
    """Distances from every node to its nearest source, within ``cutoff_m``."""
    csr = network.reversed_csr()
    n = csr.node_count
    rows = np.flatnonzero(sources.edge >= 0)
    k = len(rows)
    if k == 0 or n == 0:
        return _Walk(np.full(n, np.inf), np.full(n, -1, dtype=np.int64))
    e = sources.edge[rows]
    t = sources.fraction[rows]
    leg = sources.leg_m[rows]
    length = network.length_m[e]
    # Virtual node n+i reaches the source's edge ends in the reversed graph: from the
    # source end when one may walk forward to the source, from the target end backward
    # (a source at an end stands on that node, whatever the edge's direction).
    fwd = network.forward[e] | (t == 0)
    bwd = network.backward[e] | (t == 1)
    v_row = np.concatenate([np.flatnonzero(fwd), np.flatnonzero(bwd)])
    v_col = np.concatenate([network.source[e[fwd]], network.target[e[bwd]]])
    v_len = np.concatenate([t[fwd] * length[fwd] + leg[fwd], (1 - t[bwd]) * length[bwd] + leg[bwd]])
    order = np.argsort(v_row, kind="stable")
    v_row, v_col, v_len = v_row[order], v_col[order], v_len[order]
    v_ptr = csr.indptr[-1] + np.cumsum(np.bincount(v_row, minlength=k))
    indptr = np.concatenate([csr.indptr, v_ptr])
    indices = np.concatenate([csr.indices, v_col.astype(np.int32)])
    data = np.concatenate([csr.data, v_len])
    graph = csr_matrix((data, indices, indptr), shape=(n + k, n + k))
    limit = cutoff_m * (1 + 1e-12) + 1e-9
    dist, _, origin = dijkstra(
        graph,
        directed=True,
        indices=np.arange(n, n + k),
        return_predecessors=True,
        limit=limit,
        min_only=True,
    )
    node_m = np.asarray(dist[:n], dtype=np.float64)
    origin = np.asarray(origin[:n], dtype=np.int64)
    node_source = np.full(n, -1, dtype=np.int64)
    hit = np.isfinite(node_m) & (origin >= n)
    node_source[hit] = rows[origin[hit] - n]
    node_m[~hit] = np.inf
    return _Walk(node_m, node_source)


def _to_targets(
    network: Network, sources: Attachment, targets: Attachment, walk: _Walk, cutoff_m: float
) -> Nearest:
    m = len(targets)
    best = np.full(m, np.inf)
    best_src = np.full(m, -1, dtype=np.int64)
    on = np.flatnonzero(targets.edge >= 0)
    if len(on) and network.edge_count:
        e = targets.edge[on]
        t = targets.fraction[on]
        length = network.length_m[e]
        u, v = network.source[e], network.target[e]
        # From the target point one walks backward to the edge's source, forward to its
        # target; a point at an end stands on that node.
        via_u = np.where(network.backward[e] | (t == 0), t * length + walk.node_m[u], np.inf)
        via_v = np.where(network.forward[e] | (t == 1), (1 - t) * length + walk.node_m[v], np.inf)
        use_v = via_v < via_u
        best[on] = np.where(use_v, via_v, via_u)
        best_src[on] = np.where(use_v, walk.node_source[v], walk.node_source[u])
        direct, direct_src = _same_edge(network, sources, targets, on)
        closer = direct < best[on]
        best[on[closer]] = direct[closer]
        best_src[on[closer]] = direct_src[closer]
        best[on] += targets.leg_m[on]
    beyond = ~(best <= cutoff_m)
    best[beyond] = np.inf
    best_src[beyond] = -1
    return Nearest(distance_m=best, source=best_src)


def _same_edge(
    network: Network, sources: Attachment, targets: Attachment, on: I64
) -> tuple[F64, I64]:
    """Per attached target row in ``on``: the shortest direct walk along its own edge to a
    source on that edge (source leg included), inf where none can be walked to directly."""
    out = np.full(len(on), np.inf)
    out_src = np.full(len(on), -1, dtype=np.int64)
    s_rows = np.flatnonzero(sources.edge >= 0)
    if len(s_rows) == 0:
        return out, out_src
    order = s_rows[np.argsort(sources.edge[s_rows], kind="stable")]
    s_edge = sources.edge[order]
    t_edge = targets.edge[on]
    lo = np.searchsorted(s_edge, t_edge, side="left")
    hi = np.searchsorted(s_edge, t_edge, side="right")
    count = hi - lo
    total = int(count.sum())
    if total == 0:
        return out, out_src
    pair_t = np.repeat(np.arange(len(on)), count)
    start = np.repeat(lo - (np.cumsum(count) - count), count)
    pair_s = order[np.arange(total) + start]
    e = t_edge[pair_t]
    ts = sources.fraction[pair_s]
    th = targets.fraction[on][pair_t]
    along = np.abs(ts - th) * network.length_m[e]
    ok = (ts == th) | ((ts > th) & network.forward[e]) | ((ts < th) & network.backward[e])
    d = np.where(ok, along + sources.leg_m[pair_s], np.inf)
    pick = np.lexsort((pair_s, d, pair_t))
    first = np.ones(total, dtype=bool)
    first[1:] = pair_t[pick][1:] != pair_t[pick][:-1]
    chosen = pick[first]
    out[pair_t[chosen]] = d[chosen]
    out_src[pair_t[chosen]] = np.where(np.isfinite(d[chosen]), pair_s[chosen], -1)
    return out, out_src


def _parts(
    network: Network, sources: Attachment, walk: _Walk, cutoff_m: float
) -> tuple[I64, F64, F64]:
    """Edge intervals whose points reach a source within ``cutoff_m``, merged per edge."""
    length = network.length_m
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(length > 0, 1.0 / np.where(length > 0, length, 1.0), np.inf)
        # Walking backward from a point to the edge's source node u, forward to its target v.
        left = network.backward & (walk.node_m[network.source] <= cutoff_m)
        right = network.forward & (walk.node_m[network.target] <= cutoff_m)
        reach_u = np.minimum(1.0, (cutoff_m - walk.node_m[network.source]) * inv)
        reach_v = np.minimum(1.0, (cutoff_m - walk.node_m[network.target]) * inv)
    reach_u = np.nan_to_num(reach_u, nan=1.0)
    reach_v = np.nan_to_num(reach_v, nan=1.0)
    lu = np.flatnonzero(left)
    rv = np.flatnonzero(right)
    edges = [lu, rv]
    lows = [np.zeros(len(lu)), 1.0 - reach_v[rv]]
    highs = [reach_u[lu], np.ones(len(rv))]
    s_rows = np.flatnonzero((sources.edge >= 0) & (sources.leg_m <= cutoff_m))
    if len(s_rows):
        se = sources.edge[s_rows]
        ts = sources.fraction[s_rows]
        with np.errstate(invalid="ignore"):
            r = np.nan_to_num(
                np.minimum(1.0, (cutoff_m - sources.leg_m[s_rows]) * inv[se]), nan=1.0
            )
        f = network.forward[se]
        b = network.backward[se]
        edges += [se[f], se[b], se]
        lows += [np.maximum(0.0, ts[f] - r[f]), ts[b], ts]
        highs += [ts[f], np.minimum(1.0, ts[b] + r[b]), ts]
    edge = np.concatenate(edges).astype(np.int64)
    lo = np.clip(np.concatenate(lows), 0.0, 1.0)
    hi = np.clip(np.concatenate(highs), 0.0, 1.0)
    return _merge(edge, lo, hi)


def _merge(edge: I64, lo: F64, hi: F64) -> tuple[I64, F64, F64]:
    """Union of intervals per edge: sorted by edge, then from; overlapping ones joined."""
    if len(edge) == 0:
        return edge, lo, hi
    order = np.lexsort((lo, edge))
    edge, lo, hi = edge[order], lo[order], hi[order]
    # Running maximum of `to` within each edge: edges sorted, values in [0, 1].
    key = np.maximum.accumulate(edge * 2.0 + hi) - edge * 2.0
    new = np.ones(len(edge), dtype=bool)
    new[1:] = (edge[1:] != edge[:-1]) | (lo[1:] > key[:-1])
    group = np.cumsum(new) - 1
    out_hi = np.zeros(int(group[-1]) + 1)
    np.maximum.at(out_hi, group, hi)
    return edge[new], lo[new], out_hi


def walk_from(network: Network, sources: Attachment, cutoff_m: float) -> tuple[F64, I64]:
    """Per network node: metres to the nearest source within ``cutoff_m`` (inf beyond) and
    its row; for callers that join many target sets to one search."""
    _check_cutoff(cutoff_m)
    walk = _search(network, sources, cutoff_m)
    return walk.node_m, walk.node_source


def parts_within(
    network: Network, sources: Attachment, node_m: F64, cutoff_m: float
) -> tuple[I64, F64, F64]:
    """``reached`` from a search already run (``walk_from``) at a cut-off ≥ ``cutoff_m``."""
    _check_cutoff(cutoff_m)
    return _parts(network, sources, _Walk(node_m, np.zeros(0, np.int64)), cutoff_m)
