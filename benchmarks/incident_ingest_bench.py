"""Benchmark: bulk ingest of historical incidents with grid assignment, against per-row SQL.

The demo district 奎文区 (400 real grids, ``gis.demo.load.load_demo``) on its own
PostGIS; ``--n`` random points (seeded, uniform over the district, WGS84) with
random catalogue categories and report times. Measured in the same run, on
the same server:

* gridmap: ``gis.incidents.ingest.ingest_incidents`` end to end from in-memory
  records to a committed transaction: history replay, COPY to a stage table,
  grid assignment in SQL (``ST_Covers``, snap to the nearest grid within 30 m),
  default handler, ``INSERT … SELECT`` of the incidents and of their intake
  transitions;
* baseline: per incident, one point-in-polygon query (``ST_Covers`` against
  the current grids, GiST-indexed) and one ``INSERT`` carrying the grid, each
  its own statement over one connection (psycopg prepares them after five
  runs), one transaction, committed; on the first ``--baseline-n`` points.

Both must assign the same grid to every point of the sample. The baseline
writes less (no transition row, no handler): its figure flatters it.

Run: ``.venv/bin/python benchmarks/incident_ingest_bench.py`` (starts its own
PostGIS unless DATABASE_URL is set); ``--n 100000 --baseline-n 5000``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time

import numpy as np
import psycopg
import shapely
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.db import schema
from gis.db.engine import make_engine, recreate_database
from gis.demo.load import load_demo
from gis.incidents.catalogue import CATEGORIES
from gis.incidents.ingest import IncidentIn, IngestResult, ingest_incidents
from gis.principal import Principal

from bench_server import BULK_LOAD, server

console = Console(width=150)
YEAR_START = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)
TARGET_RATIO = 20.0


def random_points(engine: Engine, n: int, seed: int) -> np.ndarray:
    """``n`` points (lon, lat) uniform over the current district boundary, WGS84."""
    with engine.connect() as conn:
        wkb = conn.execute(
            text(
                "SELECT ST_AsBinary(ST_Union(geom)) FROM admin_area"
                " WHERE level = 'district' AND valid_to IS NULL"
            )
        ).scalar_one()
    district = shapely.from_wkb(bytes(wkb))
    shapely.prepare(district)
    x0, y0, x1, y1 = district.bounds
    rng = np.random.default_rng(seed)
    found: list[np.ndarray] = []
    have = 0
    while have < n:
        xy = rng.uniform((x0, y0), (x1, y1), size=(2 * n, 2))
        inside = shapely.contains_xy(district, xy[:, 0], xy[:, 1])
        found.append(xy[inside])
        have += int(inside.sum())
    return np.concatenate(found)[:n]


def make_records(points: np.ndarray, seed: int, prefix: str) -> list[IncidentIn]:
    rng = np.random.default_rng(seed + 1)
    codes = [c.code for c in CATEGORIES]
    picks = rng.integers(len(codes), size=len(points))
    seconds = rng.uniform(0, 365 * 86400, size=len(points))
    return [
        IncidentIn(
            row=i + 1,
            category=codes[int(picks[i])],
            lon=float(points[i, 0]),
            lat=float(points[i, 1]),
            reported_at=YEAR_START + dt.timedelta(seconds=float(seconds[i])),
            ext_id=f"{prefix}{i + 1}",
            source="hotline",
        )
        for i in range(len(points))
    ]


def bulk(engine: Engine, records: list[IncidentIn]) -> tuple[float, IngestResult]:
    start = time.perf_counter()
    with Session(engine) as session, session.begin():
        result = ingest_incidents(session, records, principal=Principal.system("import:bench"))
    return time.perf_counter() - start, result


def baseline(url: str, records: list[IncidentIn]) -> float:
    """One point-in-polygon query and one INSERT per incident over one connection."""
    pip = (
        "SELECT id FROM grid WHERE valid_to IS NULL"
        " AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) ORDER BY code LIMIT 1"
    )
    insert = (
        "INSERT INTO incident (ext_id, category, geom, reported_at, status, grid_id, source)"
        " VALUES (%s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s, 'reported', %s, %s)"
    )
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        start = time.perf_counter()
        with conn.cursor() as cur:
            for r in records:
                cur.execute(pip, (r.lon, r.lat))
                found = cur.fetchone()
                cur.execute(
                    insert,
                    (
                        r.ext_id,
                        r.category,
                        r.lon,
                        r.lat,
                        r.reported_at,
                        found[0] if found else None,
                        r.source,
                    ),
                )
        conn.commit()
        return time.perf_counter() - start


def same_grids(engine: Engine, n: int) -> tuple[int, int]:
    """(points of the sample whose two rows agree on the grid, points compared)."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE a.grid_id IS NOT DISTINCT FROM b.grid_id),"
                " count(*) FROM incident a JOIN incident b"
                " ON b.ext_id = 'base-' || substr(a.ext_id, 6)"
                " WHERE a.ext_id LIKE 'bulk-%' AND substr(a.ext_id, 6)::int <= :n"
            ),
            {"n": n},
        ).one()
    return int(row[0]), int(row[1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="incidents for the bulk ingest")
    parser.add_argument(
        "--baseline-n", type=int, default=5_000, help="incidents for the per-row baseline"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    baseline_n = min(args.baseline_n, args.n)

    with server(BULK_LOAD) as cluster:
        url = cluster.url
        engine = make_engine(recreate_database(url, "gridmap_ingest_bench"))
        schema.upgrade(engine)
        with console.status("Loading the demo district ..."):
            load_demo(engine)
            with engine.connect() as conn:
                conn.execute(text("DELETE FROM incident_transition"))
                conn.execute(text("DELETE FROM incident"))
                conn.commit()
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
                grids = conn.execute(
                    text("SELECT count(*) FROM grid WHERE valid_to IS NULL")
                ).scalar_one()
        points = random_points(engine, args.n, args.seed)
        bulk_records = make_records(points, args.seed, "bulk-")
        base_records = make_records(points[:baseline_n], args.seed, "base-")

        with console.status(f"Baseline: {baseline_n:,} incidents one by one ..."):
            base_s = baseline(engine.url.render_as_string(hide_password=False), base_records)
        with console.status(f"gridmap: bulk ingest of {args.n:,} incidents ..."):
            bulk_s, result = bulk(engine, bulk_records)
        agree, compared = same_grids(engine, baseline_n)
        engine.dispose()

    bulk_rate = args.n / bulk_s
    base_rate = baseline_n / base_s
    ratio = bulk_rate / base_rate
    table = Table(
        title=f"Incident ingest with grid assignment: {grids} grids of the demo district "
        f"({platform.machine()}, {os.cpu_count()} cores)"
    )
    for col in ("method", "incidents", "seconds", "incidents / s"):
        table.add_column(col, justify="right")
    table.add_row("gridmap bulk ingest", f"{args.n:,}", f"{bulk_s:.2f}", f"{bulk_rate:,.0f}")
    table.add_row(
        "baseline: INSERT + point-in-polygon per row",
        f"{baseline_n:,}",
        f"{base_s:.2f}",
        f"{base_rate:,.0f}",
    )
    console.print(table)
    verdict = "meets" if ratio >= TARGET_RATIO else "MISSES"
    console.print(f"ratio {ratio:.1f}x ({verdict} the target of ≥ {TARGET_RATIO:g}x)")
    phases = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in result.seconds.items())
    console.print(f"bulk phases: {phases}")
    console.print(
        f"grids agree on {agree:,} of {compared:,} sampled points; bulk wrote "
        f"{result.inserted:,} incidents, {result.transitions:,} transitions, "
        f"{result.snapped:,} snapped"
    )


if __name__ == "__main__":
    main()
