"""Benchmark: full household coverage and incremental updates on a synthetic city.

A square city in a metric CRS (CGCS2000 Gauss-Krüger zone 40, EPSG:4549) with
uniformly random buildings and facilities, stored in the project's real schema
(WGS84) on PostGIS. Measured in the same run, on the same server:

* gridmap: from the database state (binary COPY) to the roll-up per grid
  (households covered, coverage rate, mean and p90 distance), end to end;
* baseline PostGIS: ``EXISTS (... ST_DWithin ...)`` over metric copies of the
  same points with GiST indexes (the baseline's best case: no transform);
* baseline GeoPandas: facilities buffered by the radius, ``sjoin`` with the
  buildings, group by grid (data read from the same metric tables);
* incremental: one facility added / moved / removed, one building's households
  changed, and what-if answers, as median and 95th percentile over many ops.

Run: ``.venv/bin/python benchmarks/coverage_bench.py`` (starts its own PostGIS
unless DATABASE_URL is set). ``--sizes 100000x1000`` picks sizes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text

from gis.coverage.store import build_coverage
from gis.db import schema
from gis.db.engine import make_engine, recreate_database

from bench_server import BULK_LOAD, server

console = Console(width=150)
ORIGIN = (420_000.0, 4_040_000.0)  # EPSG:4549 metres, near Weifang
RADIUS_M = 1000.0
GRID_M = 500.0
COMMUNITY_GRIDS = 4  # 2 km communities of 4 x 4 grids
SUBDISTRICT_COMMUNITIES = 5  # 10 km subdistricts of 5 x 5 communities


@dataclass
class Size:
    buildings: int
    facilities: int

    @property
    def label(self) -> str:
        return f"{self.buildings:,} x {self.facilities:,}"

    @property
    def side_m(self) -> float:
        """City side: 40 km for a million buildings, scaled to keep density."""
        return 40_000.0 * np.sqrt(self.buildings / 1_000_000)


def parse_size(text_: str) -> Size:
    b, f = text_.lower().split("x")
    return Size(int(b), int(f))


def fresh_database(url: str, name: str) -> Engine:
    engine = make_engine(recreate_database(url, name))
    schema.upgrade(engine)
    return engine


def load_city(engine: Engine, size: Size, seed: int = 1) -> None:
    """Areas, buildings and facilities of a synthetic city, plus metric copies for baselines."""
    rng = np.random.default_rng(seed)
    side = size.side_m
    n_cells = int(np.ceil(side / GRID_M))
    x0, y0 = ORIGIN
    bx = rng.uniform(0, side, size.buildings)
    by = rng.uniform(0, side, size.buildings)
    hh = rng.integers(1, 61, size.buildings)
    fx = rng.uniform(0, side, size.facilities)
    fy = rng.uniform(0, side, size.facilities)
    cells = np.arange(n_cells)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        env = "ST_Transform(ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4549), 4326)"
        district = conn.execute(
            text(
                "INSERT INTO admin_area (code, name, level, geom, households, population,"
                f" floating_population) VALUES ('370705', '基准城', 'district', ST_Multi({env}),"
                " 0, 0, 0) RETURNING id"
            ),
            {"x0": x0, "y0": y0, "x1": x0 + n_cells * GRID_M, "y1": y0 + n_cells * GRID_M},
        ).scalar_one()
        per_sub = COMMUNITY_GRIDS * SUBDISTRICT_COMMUNITIES
        # Grid (i, j) -> community (i // 4, j // 4) -> subdistrict (i // 20, j // 20).
        i, j = np.meshgrid(cells, cells, indexing="ij")
        i, j = i.ravel(), j.ravel()
        ci, cj = i // COMMUNITY_GRIDS, j // COMMUNITY_GRIDS
        si, sj = i // per_sub, j // per_sub
        n_sub_side = int(np.ceil(n_cells / per_sub))
        n_comm_side = int(np.ceil(n_cells / COMMUNITY_GRIDS))
        sub_seq = si * n_sub_side + sj + 1
        comm_seq = (
            (ci % SUBDISTRICT_COMMUNITIES) * SUBDISTRICT_COMMUNITIES
            + (cj % SUBDISTRICT_COMMUNITIES)
            + 1
        )
        grid_seq = (i % COMMUNITY_GRIDS) * COMMUNITY_GRIDS + (j % COMMUNITY_GRIDS) + 1
        conn.execute(
            text(
                f"""
                INSERT INTO admin_area (code, name, level, parent_id, geom, households,
                                        population, floating_population)
                SELECT '370705' || lpad(s::text, 3, '0'), '街道' || s, 'subdistrict', :d,
                       ST_Multi(ST_Transform(ST_MakeEnvelope(
                           :x0 + sj * {per_sub * GRID_M}, :y0 + si * {per_sub * GRID_M},
                           :x0 + (sj + 1) * {per_sub * GRID_M}, :y0 + (si + 1) * {per_sub * GRID_M},
                           4549), 4326)), 0, 0, 0
                FROM (SELECT DISTINCT s, si, sj FROM unnest(
                    CAST(:s AS int[]),
                    CAST(:si AS int[]),
                    CAST(:sj AS int[]))
                      AS t(s, si, sj)) u
                """
            ),
            {
                "d": district,
                "x0": x0,
                "y0": y0,
                "s": sub_seq.tolist(),
                "si": si.tolist(),
                "sj": sj.tolist(),
            },
        )
        conn.execute(
            text(
                f"""
                INSERT INTO admin_area (code, name, level, parent_id, geom, households,
                                        population, floating_population)
                SELECT p.code || lpad(u.c::text, 3, '0'), '社区' || p.code || u.c,
                       'community', p.id,
                       ST_Multi(ST_Transform(ST_MakeEnvelope(
                           :x0 + u.cj * {COMMUNITY_GRIDS * GRID_M},
                           :y0 + u.ci * {COMMUNITY_GRIDS * GRID_M},
                           :x0 + (u.cj + 1) * {COMMUNITY_GRIDS * GRID_M},
                           :y0 + (u.ci + 1) * {COMMUNITY_GRIDS * GRID_M}, 4549), 4326)), 0, 0, 0
                FROM (SELECT DISTINCT s, c, ci, cj
                      FROM unnest(
                          CAST(:s AS int[]),
                          CAST(:c AS int[]),
                          CAST(:ci AS int[]),
                          CAST(:cj AS int[])) AS t(s, c, ci, cj)) u
                JOIN admin_area p ON p.code = '370705' || lpad(u.s::text, 3, '0')
                """
            ),
            {
                "x0": x0,
                "y0": y0,
                "s": sub_seq.tolist(),
                "c": comm_seq.tolist(),
                "ci": ci.tolist(),
                "cj": cj.tolist(),
            },
        )
        conn.execute(
            text(
                f"""
                INSERT INTO grid (code, name, community_id, geom, households, population)
                SELECT c.code || lpad(u.g::text, 3, '0'), '网格' || u.k, c.id,
                       ST_Multi(ST_Transform(ST_MakeEnvelope(
                           :x0 + u.j * {GRID_M}, :y0 + u.i * {GRID_M},
                           :x0 + (u.j + 1) * {GRID_M}, :y0 + (u.i + 1) * {GRID_M}, 4549), 4326)),
                       0, 0
                FROM unnest(
                    CAST(:k AS int[]),
                    CAST(:s AS int[]),
                    CAST(:c AS int[]),
                    CAST(:g AS int[]),
                    CAST(:i AS int[]),
                    CAST(:j AS int[]))
                     AS u(k, s, c, g, i, j)
                JOIN admin_area c
                  ON c.code = '370705' || lpad(u.s::text, 3, '0') || lpad(u.c::text, 3, '0')
                """
            ),
            {
                "x0": x0,
                "y0": y0,
                "k": (i * n_cells + j).tolist(),
                "s": sub_seq.tolist(),
                "c": comm_seq.tolist(),
                "g": grid_seq.tolist(),
                "i": i.tolist(),
                "j": j.tolist(),
            },
        )
        del n_comm_side
        grid_of_cell = dict(
            conn.execute(text("SELECT (regexp_replace(name, '网格', ''))::int, id FROM grid")).all()
        )
        cell = (by // GRID_M).astype(np.int64) * n_cells + (bx // GRID_M).astype(np.int64)
        grid_ids = np.vectorize(grid_of_cell.__getitem__)(cell)
        conn.execute(
            text(
                "INSERT INTO building (grid_id, location, households)"
                " SELECT g, ST_Transform(ST_SetSRID(ST_MakePoint(x, y), 4549), 4326), h"
                " FROM unnest(CAST(:g AS int[]), CAST(:x AS float8[]),"
                "             CAST(:y AS float8[]), CAST(:h AS int[]))"
                " AS t(g, x, y, h)"
            ),
            {
                "g": grid_ids.tolist(),
                "x": (bx + x0).tolist(),
                "y": (by + y0).tolist(),
                "h": hh.tolist(),
            },
        )
        conn.execute(
            text(
                "INSERT INTO facility_type (code, name_zh, name_en, radius_m, life_circle,"
                " norm_source) VALUES ('bench', '基准设施', 'benchmark facility', 1000, '15min',"
                " 'benchmark')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO facility (type_code, name, geom)"
                " SELECT 'bench', 'f' || n,"
                " ST_Transform(ST_SetSRID(ST_MakePoint(x, y), 4549), 4326)"
                " FROM unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) WITH ORDINALITY"
                " AS t(x, y, n)"
            ),
            {"x": (fx + x0).tolist(), "y": (fy + y0).tolist()},
        )
        # The baselines' best case: the same points already in metres, GiST-indexed.
        conn.execute(
            text(
                "CREATE TABLE bench_building AS SELECT id, grid_id, households,"
                " ST_Transform(location, 4549)::geometry(Point, 4549) AS geom FROM building"
            )
        )
        conn.execute(
            text(
                "CREATE TABLE bench_facility AS SELECT id,"
                " ST_Transform(geom, 4549)::geometry(Point, 4549) AS geom FROM facility"
            )
        )
        conn.execute(text("CREATE INDEX ON bench_building USING gist (geom)"))
        conn.execute(text("CREATE INDEX ON bench_facility USING gist (geom)"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def ours_full(engine: Engine) -> tuple[float, int]:
    """Database state → roll-up per grid, on a fresh connection."""

    def run() -> int:
        with engine.connect() as conn:
            model = build_coverage(conn, "bench", RADIUS_M)
        r = model.index.rollup()
        _ = r.coverage_rate, r.mean_distance_m, r.p90_distance_m
        return int(r.households_covered.sum())

    seconds, covered = timed(run)
    return seconds, int(covered)  # type: ignore[call-overload]


def postgis_baseline(engine: Engine) -> tuple[float, int]:
    sql = text(
        """
        SELECT sum(covered)::bigint FROM (
          SELECT b.grid_id, sum(b.households) FILTER (WHERE EXISTS (
                   SELECT 1 FROM bench_facility f WHERE ST_DWithin(f.geom, b.geom, :r))) AS covered
          FROM bench_building b GROUP BY b.grid_id) per_grid
        """
    )
    with engine.connect() as conn:
        seconds, covered = timed(lambda: conn.execute(sql, {"r": RADIUS_M}).scalar_one())
    return seconds, int(covered)  # type: ignore[call-overload]


def geopandas_baseline(engine: Engine) -> tuple[float, float, int]:
    import geopandas as gpd

    def read() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        with engine.connect() as conn:
            b = gpd.read_postgis("SELECT grid_id, households, geom FROM bench_building", conn)
            f = gpd.read_postgis("SELECT id, geom FROM bench_facility", conn)
        return b, f

    read_s, (b, f) = timed(read)  # type: ignore[misc]

    def compute() -> int:
        circles = gpd.GeoDataFrame(geometry=f.buffer(RADIUS_M), crs=f.crs)
        hit = gpd.sjoin(b, circles, predicate="within", how="inner")
        covered = b.loc[hit.index.unique()]
        per_grid = covered.groupby("grid_id")["households"].sum()
        return int(per_grid.sum())

    compute_s, covered = timed(compute)
    return read_s + compute_s, compute_s, int(covered)  # type: ignore[call-overload]


def incremental(engine: Engine, n_ops: int = 60, seed: int = 7) -> dict[str, list[float]]:
    with engine.connect() as conn:
        model = build_coverage(conn, "bench", RADIUS_M)
    index = model.index
    start = time.perf_counter()
    index._building_tree()  # built once, on first change
    tree_s = time.perf_counter() - start
    rng = np.random.default_rng(seed)
    lo, hi = index.bxy.min(axis=0), index.bxy.max(axis=0)
    out: dict[str, list[float]] = {
        k: [] for k in ("add", "move", "remove", "households", "what-if add", "what-if close")
    }
    out["building tree (once)"] = [tree_s]
    open_ids = list(index.fids)
    next_id = 10**9
    for _ in range(n_ops):
        p = rng.uniform(lo, hi)
        t = time.perf_counter()
        index.what_if(add=[p])
        out["what-if add"].append(time.perf_counter() - t)
        f = int(open_ids[rng.integers(len(open_ids))])
        t = time.perf_counter()
        index.what_if(remove=[f])
        out["what-if close"].append(time.perf_counter() - t)
        t = time.perf_counter()
        index.add_facility(next_id, p)
        out["add"].append(time.perf_counter() - t)
        open_ids.append(next_id)
        next_id += 1
        f = int(open_ids[rng.integers(len(open_ids))])
        t = time.perf_counter()
        index.move_facility(f, rng.uniform(lo, hi))
        out["move"].append(time.perf_counter() - t)
        f = open_ids.pop(int(rng.integers(len(open_ids))))
        t = time.perf_counter()
        index.remove_facility(f)
        out["remove"].append(time.perf_counter() - t)
        b = int(rng.integers(len(index.bxy)))
        t = time.perf_counter()
        index.set_households(b, int(rng.integers(1, 60)))
        out["households"].append(time.perf_counter() - t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=parse_size,
        default=[Size(100_000, 1_000), Size(1_000_000, 10_000)],
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed runs of gridmap's full coverage after a cold one",
    )
    parser.add_argument("--skip-geopandas", action="store_true")
    args = parser.parse_args()

    full = Table(title=f"Full coverage, radius {RADIUS_M:.0f} m: database state → roll-up per grid")
    for col in (
        "buildings x facilities",
        "gridmap (s, cold first run)",
        "PostGIS EXISTS+DWithin (s)",
        "GeoPandas buffer+sjoin (s, compute only)",
        "vs PostGIS",
        "vs GeoPandas",
        "households covered agree",
    ):
        full.add_column(col, justify="right")
    inc = Table(title="Incremental updates (ms): median / p95")
    inc.add_column("operation")
    with server(BULK_LOAD) as cluster:
        url = cluster.url
        for size in args.sizes:
            engine = fresh_database(url, "gridmap_bench")
            with console.status(f"Loading synthetic city {size.label} ..."):
                load_s, _ = timed(lambda size=size, engine=engine: load_city(engine, size))
            console.print(f"{size.label}: city loaded in {load_s:.1f} s")
            cold_s, covered = ours_full(engine)  # first run: caches cold
            ours_runs = [ours_full(engine) for _ in range(args.repeats)]
            ours_s = statistics.median(s for s, _ in ours_runs)
            with console.status("PostGIS baseline ..."):
                pg_s, pg_cov = postgis_baseline(engine)
            if args.skip_geopandas:
                gp_s, gp_compute, gp_cov = float("nan"), float("nan"), covered
            else:
                with console.status("GeoPandas baseline ..."):
                    gp_s, gp_compute, gp_cov = geopandas_baseline(engine)
            agree = "yes" if covered == pg_cov == gp_cov else f"NO {covered} {pg_cov} {gp_cov}"
            full.add_row(
                size.label,
                f"{ours_s:.2f} ({cold_s:.2f})",
                f"{pg_s:.2f}",
                f"{gp_s:.2f} ({gp_compute:.2f})",
                f"{pg_s / ours_s:.1f}x",
                f"{gp_s / ours_s:.1f}x",
                agree,
            )
            ops = incremental(engine)
            inc.add_column(size.label, justify="right")
            for name, values in ops.items():
                ms = np.array(values) * 1000
                cell = (
                    f"{np.median(ms):.1f} / {np.percentile(ms, 95):.1f}"
                    if len(ms) > 1
                    else f"{ms[0]:.0f}"
                )
                if len(inc.rows) < len(ops):
                    inc.add_row(name, cell)
                else:
                    inc.columns[-1]._cells.append(cell)
            engine.dispose()
    console.print(full)
    console.print(inc)


if __name__ == "__main__":
    main()
