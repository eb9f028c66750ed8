"""The baseline of ``network_bench``: pgRouting's ``pgr_drivingDistance`` on the stored lattice.

The queries the benchmark times against ``gis.network``: the multi-source call
alone and with buildings attached through their nearest nodes, a one-facility
what-if over the edges of the cut-off's box, and a one-facility service area
(edges with both ends reached, buffered). Tables ``bench_edge``,
``bench_facility`` and ``bench_building`` are written by ``network_lattice.store``.
"""

from __future__ import annotations

import numpy as np
import psycopg

CUTOFF_M = 1000.0
AREA_WIDTH_M = 30.0
EDGES_SQL = "SELECT id, source, target, cost FROM bench_edge"


def dd_call_alone(conn: psycopg.Connection, equicost: bool) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pgr_drivingDistance(%s,"
        " (SELECT array_agg(DISTINCT node) FROM bench_facility), %s,"
        " directed := false, equicost := %s)",
        (EDGES_SQL, CUTOFF_M, equicost),
    ).fetchone()
    assert row is not None
    return int(row[0])


STORED_NODES = """
    fac AS (SELECT node, leg_m FROM bench_facility),
    bld AS (SELECT id, node, leg_m FROM bench_building)"""
KNN_NODES = """
    fac AS (
      SELECT n.id AS node, n.leg AS leg_m FROM bench_facility f CROSS JOIN LATERAL (
        SELECT id, geom_m <-> f.geom_m AS leg FROM bench_node
        ORDER BY geom_m <-> f.geom_m LIMIT 1) n),
    bld AS (
      SELECT b.id, n.id AS node, n.leg AS leg_m FROM bench_building b CROSS JOIN LATERAL (
        SELECT id, geom_m <-> b.geom_m AS leg FROM bench_node
        ORDER BY geom_m <-> b.geom_m LIMIT 1) n)"""


def dd_with_buildings(
    conn: psycopg.Connection, equicost: bool, knn: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(building ids, walking metres) of the buildings within the cut-off, via nearest nodes.

    The nearest nodes (and legs) of buildings and facilities are the stored ones,
    or with ``knn`` found in the query by GiST KNN.
    """
    nodes = KNN_NODES if knn else STORED_NODES
    dd = """
    dd AS (
      SELECT from_v, node, agg_cost FROM pgr_drivingDistance(%(edges)s,
        (SELECT array_agg(DISTINCT node) FROM fac), %(cut)s,
        directed := false, equicost := %(equicost)s)),
    fleg AS (SELECT node, min(leg_m) AS leg_m FROM fac GROUP BY node)"""
    if equicost:
        sql = f"""
        WITH {nodes}, {dd}
        SELECT bld.id, dd.agg_cost + bld.leg_m + f.leg_m
        FROM dd JOIN bld ON bld.node = dd.node JOIN fleg f ON f.node = dd.from_v
        WHERE dd.agg_cost + bld.leg_m + f.leg_m <= %(cut)s
        """
    else:
        sql = f"""
        WITH {nodes}, {dd},
        near AS (
          SELECT DISTINCT ON (dd.node) dd.node, dd.agg_cost + f.leg_m AS d
          FROM dd JOIN fleg f ON f.node = dd.from_v ORDER BY dd.node, dd.agg_cost + f.leg_m)
        SELECT bld.id, near.d + bld.leg_m FROM near JOIN bld ON bld.node = near.node
        WHERE near.d + bld.leg_m <= %(cut)s
        """
    rows = conn.execute(
        sql,  # type: ignore[arg-type]
        {"edges": EDGES_SQL, "cut": CUTOFF_M, "equicost": equicost},
    ).fetchall()
    arr = np.array(rows, dtype=float).reshape(-1, 2)
    return arr[:, 0].astype(np.int64), arr[:, 1]


def _box_edges_sql(x: float, y: float, srid: int) -> str:
    return (
        f"{EDGES_SQL} WHERE geom_m && ST_Expand(ST_SetSRID(ST_MakePoint({x!r}, {y!r}),"
        f" {srid}), {CUTOFF_M!r})"
    )


def dd_what_if(conn: psycopg.Connection, xy: np.ndarray, srid: int) -> int:
    """Buildings within the cut-off of a new facility at ``xy`` (single-source, boxed edges)."""
    x, y = float(xy[0]), float(xy[1])
    rows = conn.execute(
        """
        WITH s AS (
          SELECT id, geom_m <-> ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), %(srid)s) AS leg
          FROM bench_node ORDER BY geom_m <-> ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), %(srid)s)
          LIMIT 1),
        dd AS (SELECT node, agg_cost FROM pgr_drivingDistance(%(edges)s,
                 (SELECT id FROM s), %(cut)s, directed := false))
        SELECT b.id, dd.agg_cost + b.leg_m + s.leg
        FROM dd JOIN bench_building b ON b.node = dd.node CROSS JOIN s
        WHERE dd.agg_cost + b.leg_m + s.leg <= %(cut)s
        """,
        {"x": x, "y": y, "srid": srid, "edges": _box_edges_sql(x, y, srid), "cut": CUTOFF_M},
    ).fetchall()
    return len(rows)


def dd_service_area(conn: psycopg.Connection, facility: int, xy: np.ndarray, srid: int) -> bytes:
    """WKB of one facility's area: edges with both ends reached as a band ``AREA_WIDTH_M``
    wide, holes filled (no barrier test; partial edges lost)."""
    row = conn.execute(
        """
        WITH dd AS (SELECT node FROM pgr_drivingDistance(%(edges)s,
                      (SELECT node FROM bench_facility WHERE id = %(f)s), %(cut)s,
                      directed := false))
        , band AS (
          SELECT ST_Buffer(ST_Collect(e.geom_m), %(w)s / 2, 'quad_segs=4') AS g
          FROM bench_edge e JOIN dd a ON a.node = e.source JOIN dd b ON b.node = e.target)
        SELECT ST_AsBinary(ST_Collect(ARRAY(
          SELECT ST_MakePolygon(ST_ExteriorRing((ST_Dump(g)).geom)) FROM band)))
        """,
        {
            "edges": _box_edges_sql(float(xy[0]), float(xy[1]), srid),
            "f": facility,
            "cut": CUTOFF_M,
            "w": AREA_WIDTH_M,
        },
    ).fetchone()
    assert row is not None
    return bytes(row[0]) if row[0] is not None else b""


# --- report --------------------------------------------------------------------------------
