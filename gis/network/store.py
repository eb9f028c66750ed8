"""The walking network in PostGIS (tables ``walk_edge`` and ``walk_barrier``, migration 0012).

``replace_network`` writes a whole network at once (the demo, ``gridmap
network import``): nodes are found by snapping the edges' ends that lie
within ``SNAP_M`` of each other, lengths measured on the WGS84 ellipsoid
(true metres), the old network and barriers deleted in the same transaction,
so a reader sees the old network or the new one, never a mixture. Both
tables notify ``gridmap_changes`` once per statement, so caches rebuild.

``load_network`` and ``load_barriers`` read them back into the numeric core's
shapes (``gis.network.graph.Network``, plane geometries of a
``gis.geo.metric.MetricPlane``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Geod
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from gis.db.copy import copy_rows, hex_ewkb
from gis.db.models import WALK_BARRIER_KINDS, WALK_EDGE_KINDS
from gis.errors import InvalidParameterError
from gis.geo.metric import MetricPlane
from gis.network.graph import Network
from gis.progress import Advance

SNAP_M = 0.05
"""Edge ends closer than this (metres) are one node: files written by different tools
round the same junction differently in the last digits."""
_GEOD = Geod(ellps="WGS84")
_METRES_PER_DEGREE = 111_320.0

Conn = Connection | Session


@dataclass(frozen=True)
class NetworkSummary:
    """What a walking network holds: counts, length in kilometres, connected components
    (ignoring direction; one for a network where everyone can reach everyone), one-way
    edges, barriers, and where it came from (``origins``)."""

    edges: int
    nodes: int
    km: float
    components: int
    one_way: int
    barriers: int
    origins: tuple[str, ...] = ()
    kinds: tuple[tuple[str, int], ...] = ()


def _raw_connection(conn: Conn) -> Any:
    """The psycopg connection under ``conn``, for COPY."""
    sa_conn = conn.connection() if isinstance(conn, Session) else conn
    raw = sa_conn.connection.driver_connection
    assert raw is not None
    return raw


def true_lengths_m(lines: NDArray[np.object_]) -> NDArray[np.float64]:
    """Metres along each lon/lat line on the WGS84 ellipsoid (vectorised over all segments)."""
    lines = np.asarray(lines, dtype=object)
    if lines.size == 0:
        return np.zeros(0)
    coords, index = shapely.get_coordinates(lines, return_index=True)
    same = index[1:] == index[:-1]
    _, _, seg = _GEOD.inv(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1])
    seg = np.where(same, np.asarray(seg, dtype=float), 0.0)
    out = np.zeros(len(lines))
    np.add.at(out, index[:-1][same], seg[same])
    return out


def snap_nodes(
    lines: NDArray[np.object_], snap_m: float = SNAP_M
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(source, target) node numbers (from 1) of lon/lat lines: ends within ``snap_m`` are one.

    Distances between ends are measured on a local equirectangular plane, which is
    exact enough at centimetres.
    """
    lines = np.asarray(lines, dtype=object)
    n = len(lines)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = shapely.get_coordinates(shapely.get_point(lines, 0))
    ends = shapely.get_coordinates(shapely.get_point(lines, -1))
    pts = np.empty((2 * n, 2))
    pts[0::2], pts[1::2] = starts, ends
    lat0 = float(np.mean(pts[:, 1]))
    xy = np.column_stack(
        [pts[:, 0] * np.cos(np.radians(lat0)) * _METRES_PER_DEGREE, pts[:, 1] * _METRES_PER_DEGREE]
    )
    pairs = cKDTree(xy).query_pairs(snap_m, output_type="ndarray")
    m = len(xy)
    graph = coo_matrix(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(m, m)
    )
    _, labels = connected_components(graph, directed=False)
    # Number nodes in order of first appearance, so a network written twice gets the same ids.
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    node = rank[inverse] + 1
    return node[0::2].astype(np.int64), node[1::2].astype(np.int64)


def _renumbered(
    source: NDArray[Any], target: NDArray[Any]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Given node ids numbered from 1 in order of first appearance (edge by edge)."""
    k = len(source)
    ends = np.empty(2 * k, dtype=np.int64)
    ends[0::2], ends[1::2] = source, target
    _, first, inverse = np.unique(ends, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    node = rank[inverse] + 1
    return node[0::2], node[1::2]


def components(source: NDArray[np.int64], target: NDArray[np.int64]) -> int:
    """Connected components of the network ignoring direction (isolated nodes do not occur)."""
    if len(source) == 0:
        return 0
    nodes, inverse = np.unique(np.concatenate([source, target]), return_inverse=True)
    k = len(source)
    graph = coo_matrix(
        (np.ones(k, dtype=np.int8), (inverse[:k], inverse[k:])), shape=(len(nodes), len(nodes))
    )
    count, _ = connected_components(graph, directed=False)
    return int(count)


def _column(frame: gpd.GeoDataFrame, name: str, default: Any) -> list[Any]:
    if name not in frame.columns:
        return [default] * len(frame)
    values = frame[name].astype(object)
    return [default if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in values]


def _check_frame(frame: gpd.GeoDataFrame, what: str, types: set[str]) -> NDArray[np.object_]:
    """The frame's geometries, after checking CRS (WGS84), types, validity and emptiness."""
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        raise InvalidParameterError(
            f"{what} must be in WGS84 (EPSG:4326), not {frame.crs.to_string()}; convert first"
        )
    geoms = np.asarray(frame.geometry.array, dtype=object)
    bad = [
        i
        for i, g in enumerate(geoms)
        if g is None or g.is_empty or g.geom_type not in types or not g.is_valid
    ]
    if bad:
        raise InvalidParameterError(
            f"{len(bad)} {what} are missing, empty, invalid or not {'/'.join(sorted(types))} "
            f"(first at row {bad[0] + 1})"
        )
    return geoms


def replace_network(
    conn: Conn,
    edges: gpd.GeoDataFrame,
    barriers: gpd.GeoDataFrame | None,
    origin: str,
    *,
    snap_m: float = SNAP_M,
    advance: Advance | None = None,
) -> NetworkSummary:
    """Replace the stored walking network (and its barriers) with ``edges`` and ``barriers``.

    ``edges``: WGS84 LineStrings, each from junction to junction, with optional
    columns ``forward``/``backward`` (walkable each way; default both), ``kind``
    (default ``street``; see ``WALK_EDGE_KINDS``), ``name``, and ``source`` and
    ``target`` where the caller knows the nodes (OpenStreetMap's node ids: a
    tunnel passing under a junction at the same coordinates stays apart from
    it). ``barriers``:
    WGS84 lines or polygons with ``kind`` (default ``other``) and ``name``.
    Nodes are the ends that lie within ``snap_m`` metres of each other; lengths
    are true metres. In the caller's transaction (the caller commits); the
    summary is of what was written.
    """
    lines = _check_frame(edges, "walking edges", {"LineString"})
    forward = np.asarray(_column(edges, "forward", True), dtype=bool)
    backward = np.asarray(_column(edges, "backward", True), dtype=bool)
    if (~(forward | backward)).any():
        first = int(np.flatnonzero(~(forward | backward))[0]) + 1
        raise InvalidParameterError(
            f"walking edges walkable in neither direction (first at row {first}): leave them out"
        )
    kinds = [str(k) for k in _column(edges, "kind", "street")]
    unknown = sorted(set(kinds) - set(WALK_EDGE_KINDS))
    if unknown:
        raise InvalidParameterError(
            f"walking edge kinds {unknown} are unknown; use {', '.join(WALK_EDGE_KINDS)}"
        )
    names = [
        None if n is None or str(n) == "" else str(n)[:200] for n in _column(edges, "name", None)
    ]
    if "source" in edges.columns and "target" in edges.columns:
        source, target = _renumbered(edges["source"].to_numpy(), edges["target"].to_numpy())
    else:
        source, target = snap_nodes(lines, snap_m)
    lengths = true_lengths_m(lines)

    if barriers is not None and len(barriers):
        shapes = _check_frame(
            barriers, "barriers", {"LineString", "MultiLineString", "Polygon", "MultiPolygon"}
        )
        barrier_kinds = [str(k) for k in _column(barriers, "kind", "other")]
        unknown = sorted(set(barrier_kinds) - set(WALK_BARRIER_KINDS))
        if unknown:
            raise InvalidParameterError(
                f"barrier kinds {unknown} are unknown; use {', '.join(WALK_BARRIER_KINDS)}"
            )
        barrier_names = [
            None if n is None or str(n) == "" else str(n)[:200]
            for n in _column(barriers, "name", None)
        ]
    else:
        shapes = np.zeros(0, dtype=object)
        barrier_kinds, barrier_names = [], []

    conn.execute(text("DELETE FROM walk_edge"))
    conn.execute(text("DELETE FROM walk_barrier"))
    raw = _raw_connection(conn)
    with raw.cursor() as cur:
        copy_rows(
            cur,
            "walk_edge",
            [
                "source",
                "target",
                "geom",
                "length_m",
                "forward",
                "backward",
                "kind",
                "name",
                "origin",
            ],
            (
                [int(s), int(t), g, float(n), bool(f), bool(b), k, nm, origin]
                for s, t, g, n, f, b, k, nm in zip(
                    source,
                    target,
                    hex_ewkb(lines),
                    lengths,
                    forward,
                    backward,
                    kinds,
                    names,
                    strict=True,
                )
            ),
            advance,
        )
        if len(shapes):
            copy_rows(
                cur,
                "walk_barrier",
                ["kind", "name", "geom", "origin"],
                (
                    [k, nm, g, origin]
                    for k, nm, g in zip(barrier_kinds, barrier_names, hex_ewkb(shapes), strict=True)
                ),
            )
        cur.execute("ANALYZE walk_edge")
        cur.execute("ANALYZE walk_barrier")
    counts: dict[str, int] = {}
    for k in kinds:
        counts[k] = counts.get(k, 0) + 1
    return NetworkSummary(
        edges=len(lines),
        nodes=len(np.unique(np.concatenate([source, target]))) if len(lines) else 0,
        km=float(lengths.sum()) / 1000.0,
        components=components(source, target),
        one_way=int((forward ^ backward).sum()),
        barriers=len(shapes),
        origins=(origin,) if len(lines) or len(shapes) else (),
        kinds=tuple(sorted(counts.items())),
    )


def network_summary(conn: Conn) -> NetworkSummary:
    """What the stored network holds (``gridmap network info``)."""
    rows = conn.execute(text("SELECT source, target, forward, backward FROM walk_edge")).all()
    source = np.array([r[0] for r in rows], dtype=np.int64)
    target = np.array([r[1] for r in rows], dtype=np.int64)
    one_way = sum(1 for r in rows if bool(r[2]) != bool(r[3]))
    km, nodes = conn.execute(
        text(
            "SELECT coalesce(sum(length_m), 0) / 1000.0,"
            " (SELECT count(*) FROM (SELECT source FROM walk_edge UNION SELECT target"
            "  FROM walk_edge) n) FROM walk_edge"
        )
    ).one()
    kinds = conn.execute(
        text("SELECT kind, count(*) FROM walk_edge GROUP BY kind ORDER BY kind")
    ).all()
    barriers = int(conn.execute(text("SELECT count(*) FROM walk_barrier")).scalar_one())
    origins = (
        conn.execute(
            text(
                "SELECT origin FROM walk_edge UNION SELECT origin FROM walk_barrier ORDER BY origin"
            )
        )
        .scalars()
        .all()
    )
    return NetworkSummary(
        edges=len(rows),
        nodes=int(nodes),
        km=float(km),
        components=components(source, target),
        one_way=one_way,
        barriers=barriers,
        origins=tuple(str(o) for o in origins),
        kinds=tuple((str(k), int(c)) for k, c in kinds),
    )


def has_network(conn: Conn) -> bool:
    return bool(conn.execute(text("SELECT EXISTS (SELECT FROM walk_edge)")).scalar())


def _to_plane(geoms: NDArray[np.object_], plane: MetricPlane) -> NDArray[np.object_]:
    def convert(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        return plane.to_plane(coords[:, 0], coords[:, 1])

    if len(geoms) == 0:
        return np.zeros(0, dtype=object)
    return np.asarray(shapely.transform(geoms, convert), dtype=object)


def load_network(conn: Conn, plane: MetricPlane) -> Network:
    """The stored walking network in ``plane`` metres, edges in id order.

    Node numbers are renumbered 0..N-1 (``Network.node_count``); ``edge_ids``
    are the ``walk_edge`` ids; lengths the stored true metres (the plane's are
    longer by its scale factor, 6e-5 at Kuiwen).
    """
    rows = conn.execute(
        text(
            "SELECT id, source, target, forward, backward, ST_AsBinary(geom), length_m"
            " FROM walk_edge ORDER BY id"
        )
    ).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    source = np.array([r[1] for r in rows], dtype=np.int64)
    target = np.array([r[2] for r in rows], dtype=np.int64)
    length_m = np.array([r[6] for r in rows], dtype=np.float64)
    forward = np.array([bool(r[3]) for r in rows], dtype=bool)
    backward = np.array([bool(r[4]) for r in rows], dtype=bool)
    lines = np.asarray(shapely.from_wkb([bytes(r[5]) for r in rows]), dtype=object)
    return Network.from_edges(
        source,
        target,
        _to_plane(lines, plane),
        forward=forward,
        backward=backward,
        edge_ids=ids,
        length_m=length_m,
    )


def load_barriers(conn: Conn, plane: MetricPlane) -> NDArray[np.object_]:
    """Every stored barrier as a ``plane`` geometry (lines and polygons as stored)."""
    wkbs = conn.execute(text("SELECT ST_AsBinary(geom) FROM walk_barrier ORDER BY id")).scalars()
    geoms = np.asarray(shapely.from_wkb([bytes(w) for w in wkbs]), dtype=object)
    return _to_plane(geoms, plane)


def barrier_lines(geoms: NDArray[np.object_]) -> list[BaseGeometry]:
    """The lines walkers cannot cross: barrier lines as they are, polygons' boundaries."""
    out: list[BaseGeometry] = []
    for g in geoms:
        out.append(g.boundary if g.geom_type in ("Polygon", "MultiPolygon") else g)
    return out
