"""A walking network as arrays: nodes, edges, their lengths, directions and geometries.

Edges are stored once, with the direction they may be walked in
(``forward`` source → target, ``backward`` target → source), so a two-way
street is one edge and one-way stairs or a turnstile are one edge with one
flag. Walks run from a building (home) to a facility, so the searches in
``reach.py`` go from the facilities over the *reversed* graph; its CSR is built
once per network and kept on the instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csgraph, csr_matrix
from scipy.spatial import cKDTree

from gis.errors import InvalidParameterError

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class ReversedCSR:
    """The reversed walking graph (an arc n → m where one may walk m → n), CSR arrays.

    Kept as raw arrays so one search can append its own virtual source rows
    without copying a scipy matrix.
    """

    indptr: I64
    indices: NDArray[np.int32]
    data: F64

    @property
    def node_count(self) -> int:
        return len(self.indptr) - 1


@dataclass(frozen=True, eq=False)
class Network:
    """Edges between numbered nodes, in plane metres (geometries) and true metres (lengths).

    ``geoms[e]`` runs from ``source[e]`` to ``target[e]``; a fraction t along an
    edge is measured on its geometry and ``t * length_m[e]`` true metres from
    its source. The edge's true-to-plane ratio also turns access legs measured
    on the plane into true metres (see ``attach.py``).
    """

    node_count: int
    source: I64
    target: I64
    length_m: F64
    forward: NDArray[np.bool_]
    backward: NDArray[np.bool_]
    geoms: NDArray[np.object_]
    edge_ids: I64
    _reversed: list[ReversedCSR] = field(
        default_factory=list, init=False, repr=False, compare=False
    )
    _tree: list[shapely.STRtree] = field(
        default_factory=list, init=False, repr=False, compare=False
    )
    _plane_length: list[F64] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        e = len(self.source)
        for name in ("target", "length_m", "forward", "backward", "geoms", "edge_ids"):
            if len(getattr(self, name)) != e:
                raise InvalidParameterError(
                    f"network {name} has {len(getattr(self, name))} rows, edges have {e}"
                )
        if e and (self.source.min() < 0 or self.target.min() < 0):
            raise InvalidParameterError("network node indices must not be negative")
        if e and max(int(self.source.max()), int(self.target.max())) >= self.node_count:
            raise InvalidParameterError("network node index beyond node_count")
        if e and not (np.isfinite(self.length_m).all() and (self.length_m >= 0).all()):
            raise InvalidParameterError("network edge lengths must be finite metres ≥ 0")

    # --- construction ----------------------------------------------------------------
    @classmethod
    def from_lines(
        cls,
        lines: NDArray[np.object_],
        *,
        forward: ArrayLike | None = None,
        backward: ArrayLike | None = None,
        edge_ids: ArrayLike | None = None,
        snap_m: float = 0.01,
        length_m: ArrayLike | None = None,
    ) -> Network:
        """Edges from plane LineStrings; nodes where ends meet (within ``snap_m`` plane metres).

        Lines are expected to be noded already (joined only at their ends): a
        crossing without a shared end is a bridge or an underpass. Lengths
        default to the plane length (scale factor within 1e-4 of 1 in a
        Gauss-Krüger zone); pass ``length_m`` when true lengths are known.
        """
        geoms = np.asarray(lines, dtype=object)
        if len(geoms) == 0:
            return cls.from_edges(
                np.zeros(0, np.int64), np.zeros(0, np.int64), geoms, forward=forward,
                backward=backward, edge_ids=edge_ids, length_m=length_m,
            )  # fmt: skip
        _check_lines(geoms)
        starts = shapely.get_coordinates(shapely.get_point(geoms, 0))
        ends = shapely.get_coordinates(shapely.get_point(geoms, -1))
        ends_xy = np.concatenate([starts, ends])
        node = _snap(ends_xy, snap_m)
        e = len(geoms)
        return cls.from_edges(
            node[:e], node[e:], geoms, forward=forward, backward=backward,
            edge_ids=edge_ids, length_m=length_m,
        )  # fmt: skip

    @classmethod
    def from_edges(
        cls,
        source: ArrayLike,
        target: ArrayLike,
        lines: NDArray[np.object_],
        *,
        forward: ArrayLike | None = None,
        backward: ArrayLike | None = None,
        edge_ids: ArrayLike | None = None,
        length_m: ArrayLike | None = None,
    ) -> Network:
        """Edges with given end node ids (any integers: ``walk_edge.source``), renumbered 0..N-1.

        Both directions are walkable unless ``forward``/``backward`` say
        otherwise; ``edge_ids`` default to 0..E-1; ``length_m`` to the plane
        length of each line.
        """
        geoms = np.asarray(lines, dtype=object)
        e = len(geoms)
        src = np.asarray(source, dtype=np.int64).reshape(-1)
        tgt = np.asarray(target, dtype=np.int64).reshape(-1)
        if len(src) != e or len(tgt) != e:
            raise InvalidParameterError(
                f"{len(src)} sources and {len(tgt)} targets for {e} edge geometries"
            )
        if e:
            _check_lines(geoms)
        ids, inverse = np.unique(np.concatenate([src, tgt]), return_inverse=True)
        inverse = inverse.astype(np.int64).reshape(-1)
        lengths = (
            shapely.length(geoms).astype(np.float64)
            if length_m is None
            else np.asarray(length_m, dtype=np.float64).reshape(-1)
        )
        return cls(
            node_count=len(ids),
            source=inverse[:e],
            target=inverse[e:],
            length_m=lengths,
            forward=_flags(forward, e),
            backward=_flags(backward, e),
            geoms=geoms,
            edge_ids=(
                np.arange(e, dtype=np.int64)
                if edge_ids is None
                else np.asarray(edge_ids, dtype=np.int64).reshape(-1)
            ),
        )

    # --- views -----------------------------------------------------------------------
    @property
    def edge_count(self) -> int:
        return len(self.source)

    @property
    def plane_length(self) -> F64:
        """Plane metres of each edge geometry (measured once: every attach needs them,
        and measuring 100,000 edges was a fifth of a one-facility what-if)."""
        if not self._plane_length:
            self._plane_length.append(shapely.length(self.geoms).astype(np.float64))
        return self._plane_length[0]

    def reversed_csr(self) -> ReversedCSR:
        """The reversed graph (built once): arc v → u of length L for each walkable u → v."""
        if not self._reversed:
            self._reversed.append(_reversed_csr(self))
        return self._reversed[0]

    def edge_tree(self) -> shapely.STRtree:
        """STRtree of the edge geometries (built once); tree indices are edge indices."""
        if not self._tree:
            self._tree.append(shapely.STRtree(self.geoms))
        return self._tree[0]

    def component_count(self) -> int:
        """Weakly connected components among nodes that have an edge (islands of the network)."""
        if self.edge_count == 0:
            return 0
        g = csr_matrix(
            (np.ones(self.edge_count), (self.source, self.target)),
            shape=(self.node_count, self.node_count),
        )
        _, labels = csgraph.connected_components(g, directed=True, connection="weak")
        used = np.unique(np.concatenate([self.source, self.target]))
        return len(np.unique(labels[used]))


def _check_lines(geoms: NDArray[np.object_]) -> None:
    kinds = shapely.get_type_id(geoms)
    bad = np.flatnonzero((kinds != shapely.GeometryType.LINESTRING) | shapely.is_empty(geoms))
    if len(bad):
        raise InvalidParameterError(
            f"network edges must be non-empty LineStrings; rows {bad[:10].tolist()} are not"
        )


def _flags(values: ArrayLike | None, e: int) -> NDArray[np.bool_]:
    if values is None:
        return np.ones(e, dtype=bool)
    out = np.asarray(values, dtype=bool).reshape(-1)
    if len(out) != e:
        raise InvalidParameterError(f"{len(out)} direction flags for {e} edges")
    return out


def _snap(xy: F64, snap_m: float) -> I64:
    """Node number per end point: ends within ``snap_m`` of each other (transitively) are one."""
    n = len(xy)
    pairs = cKDTree(xy).query_pairs(r=max(snap_m, 0.0), output_type="ndarray")
    g = csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = csgraph.connected_components(g, directed=False)
    return np.asarray(labels, dtype=np.int64)


def _reversed_csr(net: Network) -> ReversedCSR:
    # Walking u → v (forward) is the reversed arc v → u; walking v → u (backward) is u → v.
    fwd = net.forward & (net.source != net.target)
    bwd = net.backward & (net.source != net.target)
    rows = np.concatenate([net.target[fwd], net.source[bwd]])
    cols = np.concatenate([net.source[fwd], net.target[bwd]])
    data = np.concatenate([net.length_m[fwd], net.length_m[bwd]])
    order = np.lexsort((data, cols, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    keep = np.ones(len(rows), dtype=bool)  # the shortest of parallel arcs only
    keep[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    rows, cols, data = rows[keep], cols[keep], data[keep]
    indptr = np.zeros(net.node_count + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=net.node_count), out=indptr[1:])
    return ReversedCSR(indptr=indptr, indices=cols.astype(np.int32), data=data.astype(np.float64))
