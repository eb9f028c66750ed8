"""Benchmark: device position ingest with geofences, and the nearest available worker.

The demo district 奎文区 (``gis.demo.load.load_demo``: 20,843 buildings, its walking
network) on its own PostGIS, with ``--devices`` people served (10,000) at seeded
random homes, each carrying a device, and ``--workers`` home-care workers (60) with
positions. Each round every device reports once (30 s apart: 10,000 devices every
30 s is the issue's working load, 333 reports a second); most wander within 150 m of
home, ``--wanderers`` of them (0.5%) walk 800 m out from the third round on and so
raise one geofence alarm each (a help-request case filed through the intake).
Reports go in batches of ``--batch`` (1,000).

Measured in the same run, on the same server:

* **gridmap**: ``gis.care.ingest.ingest`` per batch, each batch its own committed
  transaction: history stored, fences evaluated with hysteresis, last positions and
  fence states updated, alarms filed; ``--rounds`` rounds (10: 100,000 reports).
  Also one round sent in GCJ-02 (converted per point by prcoords), and one round
  through the API (``POST /api/v1/devices/positions`` in process: JSON parsing and
  validation included, no network).
* **baseline**: per report, one ``ST_Contains`` query of the person's fence (the
  fences precomputed in a table: its best case) and one ``UPDATE`` of the device's
  last position, over one connection (psycopg prepares them), one transaction per
  batch; on ``--baseline-n`` reports. It stores no history and keeps no hysteresis:
  the figure flatters it.
* **nearest available worker**: ``gis.care.dispatch.nearest_available`` from
  ``--calls`` random points (median and p95 ms): by walk over the demo's network (read
  once, as the server keeps it), and by straight line without it.

Targets (issue 14): ≥ 20,000 reports a second and ≥ 20× the baseline; the nearest
worker ≤ 20 ms.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/positions_bench.py`` (starts its own
PostGIS unless DATABASE_URL is set); ``--quick`` for 2,000 devices and 3 rounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.care.dispatch import Walkable, WalkNetworks, nearest_available
from gis.care.fences import FenceRules
from gis.care.ingest import IngestResult, PositionBatch, ingest
from gis.db import schema
from gis.db.engine import make_engine, recreate_database
from gis.demo.load import load_demo
from gis.geo.datum import GCJ02, WGS84, Datum, from_wgs84
from gis.geo.metric import MetricPlane
from gis.principal import Principal

from bench_server import NO_FSYNC, server

console = Console(width=150)
RULES = FenceRules()
RETENTION = dt.timedelta(days=30)
KEY = Principal.system("key:bench-devices", scopes=("devices:write",))
M_PER_DEG = 111_320.0
START = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=6)
TARGET_RATE, TARGET_RATIO, TARGET_NEAREST_MS = 20_000.0, 20.0, 20.0


def populate(engine: Engine, devices: int, workers: int, seed: int) -> np.ndarray:
    """People with devices at random buildings and workers with positions; the homes
    (lon, lat) of the people, in device order."""
    rng = np.random.default_rng(seed)
    with engine.begin() as conn:
        buildings = conn.execute(
            text("SELECT id, grid_id, ST_X(location), ST_Y(location) FROM building ORDER BY id")
        ).all()
        picks = rng.integers(len(buildings), size=devices)
        chosen = [buildings[int(i)] for i in picks]
        conn.execute(
            text(
                """INSERT INTO person (category, name, building_id, grid_id, consent_given_by,
                                       consent_at, consent_scope)
                   SELECT 'elderly', '基准' || n, b, g, '本人', now(), '定位'
                   FROM unnest(CAST(:b AS bigint[]), CAST(:g AS int[]))
                        WITH ORDINALITY AS u(b, g, n)"""
            ),
            {"b": [int(c[0]) for c in chosen], "g": [int(c[1]) for c in chosen]},
        )
        conn.execute(
            text(
                "INSERT INTO device (id, person_id) "
                "SELECT 'P' || lpad(row_number() OVER (ORDER BY id)::text, 6, '0'), id "
                "FROM person ORDER BY id"
            )
        )
        community = conn.execute(
            text("SELECT id FROM admin_area WHERE level = 'community' ORDER BY code LIMIT 1")
        ).scalar_one()
        where = [buildings[int(i)] for i in rng.integers(len(buildings), size=workers)]
        for k, b in enumerate(where):
            wid = conn.execute(
                text("INSERT INTO care_worker (name, community_id) VALUES (:n, :c) RETURNING id"),
                {"n": f"护理员{k}", "c": community},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO device (id, worker_id, last_at, last_geom) VALUES (:d, :w, now(),"
                    " ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
                ),
                {"d": f"W{k:04d}", "w": wid, "x": float(b[2]), "y": float(b[3])},
            )
    return np.array([(float(c[2]), float(c[3])) for c in chosen])


def rounds_of(
    homes: np.ndarray, rounds: range, wanderers: int, seed: int
) -> list[tuple[list[str], list[dt.datetime], np.ndarray, np.ndarray, np.ndarray]]:
    """Per round: device ids, times and positions (WGS84) of every device's report."""
    rng = np.random.default_rng(seed + 7)
    n = len(homes)
    ids = [f"P{i + 1:06d}" for i in range(n)]
    out = []
    cos = np.cos(np.radians(homes[:, 1]))
    for r in rounds:
        offset = rng.uniform(-150, 150, size=(n, 2))
        if r >= 2:
            offset[:wanderers, 0] = 800.0
        lon = homes[:, 0] + offset[:, 0] / (M_PER_DEG * cos)
        lat = homes[:, 1] + offset[:, 1] / M_PER_DEG
        at = [START + dt.timedelta(seconds=30 * r, milliseconds=3 * i) for i in range(n)]
        accuracy = rng.uniform(5, 30, size=n)
        out.append((ids, at, lon, lat, accuracy))
    return out


def batches(
    rounds: Sequence[tuple[list[str], list[dt.datetime], np.ndarray, np.ndarray, np.ndarray]],
    size: int,
    datum: Datum = WGS84,
) -> list[PositionBatch]:
    found = []
    for ids, at, lon, lat, acc in rounds:
        if datum is not WGS84:
            lon, lat = from_wgs84(lon, lat, datum)
        for s in range(0, len(ids), size):
            found.append(
                PositionBatch(
                    ids[s : s + size],
                    at[s : s + size],
                    lon[s : s + size],
                    lat[s : s + size],
                    acc[s : s + size],
                    datum,
                )
            )
    return found


def run_gridmap(engine: Engine, todo: list[PositionBatch]) -> tuple[float, list[IngestResult]]:
    results = []
    start = time.perf_counter()
    for batch in todo:
        with Session(engine) as session, session.begin():
            results.append(ingest(session, KEY, batch, RULES, retention=RETENTION))
    return time.perf_counter() - start, results


def run_two_streams(engine: Engine, todo: list[PositionBatch], per_round: int) -> float:
    """The batches in two threads, each with every other batch of a round (the same
    devices each round, so that no device waits for the other stream and each device's
    reports stay in order), as two API workers would take them."""
    streams: list[list[PositionBatch]] = [[], []]
    for i, batch in enumerate(todo):
        streams[(i % per_round) % 2].append(batch)

    def work(mine: list[PositionBatch]) -> None:
        for batch in mine:
            with Session(engine) as session, session.begin():
                ingest(session, KEY, batch, RULES, retention=RETENTION)

    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(work, streams))
    return time.perf_counter() - start


def run_api(engine: Engine, todo: list[PositionBatch]) -> float:
    """The same batches through POST /api/v1/devices/positions, in process."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from fastapi.testclient import TestClient

    from api.app import create_app
    from gis.accounts import keys

    with Session(engine) as session:
        _, key = keys.create_key(session, "bench-api-devices", ("devices:write",))
        session.commit()
    bodies = [
        {
            "datum": "wgs84",
            "reports": [
                {
                    "device_id": d,
                    "at": a.isoformat(),
                    "lon": float(x),
                    "lat": float(y),
                    "accuracy_m": float(c),
                }
                for d, a, x, y, c in zip(
                    b.device_ids, b.at, b.lon, b.lat, b.accuracy_m, strict=True
                )
            ],
        }
        for b in todo
    ]
    with TestClient(create_app(engine=engine)) as client:
        start = time.perf_counter()
        for body in bodies:
            answer = client.post("/api/v1/devices/positions", json=body, headers={"X-API-Key": key})
            assert answer.status_code == 200, answer.text
        return time.perf_counter() - start


def run_baseline(url: str, todo: list[PositionBatch]) -> float:
    """One ST_Contains and one UPDATE per report, a transaction per batch."""
    contains = (
        "SELECT ST_Contains(f.geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))"
        " FROM device d JOIN bench_fence f ON f.person_id = d.person_id WHERE d.id = %s"
    )
    update = (
        "UPDATE device SET last_at = %s, last_geom = ST_SetSRID(ST_MakePoint(%s, %s), 4326),"
        " last_accuracy_m = %s WHERE id = %s"
    )
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        start = time.perf_counter()
        for batch in todo:
            with conn.cursor() as cur:
                for d, a, x, y, c in zip(
                    batch.device_ids, batch.at, batch.lon, batch.lat, batch.accuracy_m, strict=True
                ):
                    cur.execute(contains, (float(x), float(y), d))
                    cur.fetchone()
                    cur.execute(update, (a, float(x), float(y), float(c), d))
            conn.commit()
        return time.perf_counter() - start


class NoNetwork(WalkNetworks):
    """As if no walking network were stored: the straight-line answer."""

    def get(self, session: Session, plane: MetricPlane) -> Walkable | None:
        return None


def nearest_ms(engine: Engine, homes: np.ndarray, calls: int, walk: bool) -> list[float]:
    networks = WalkNetworks() if walk else NoNetwork()
    rng = np.random.default_rng(99)
    points = homes[rng.integers(len(homes), size=calls + 1)]
    times = []
    with Session(engine) as session:
        for i, (x, y) in enumerate(points):
            start = time.perf_counter()
            chosen = nearest_available(session, networks, float(x), float(y))
            if i > 0:  # the first reads the network, as a server does once
                times.append((time.perf_counter() - start) * 1000)
            assert chosen is not None and (walk or chosen.method == "line")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--wanderers", type=int, default=50)
    parser.add_argument("--baseline-n", type=int, default=5_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.devices, args.rounds, args.wanderers, args.calls = 2_000, 3, 10, 50

    with server(NO_FSYNC) as cluster:
        engine = make_engine(recreate_database(cluster.url, "gridmap_positions_bench"))
        schema.upgrade(engine)
        with console.status("Loading the demo district ..."):
            load_demo(engine)
            homes = populate(engine, args.devices, args.workers, args.seed)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(
                    text(
                        "CREATE TABLE bench_fence AS SELECT p.id AS person_id, "
                        "ST_Buffer(b.location::geography, p.safe_radius_m)::geometry AS geom "
                        "FROM person p JOIN building b ON b.id = p.building_id"
                    )
                )
                conn.execute(text("CREATE UNIQUE INDEX ON bench_fence (person_id)"))
                conn.execute(text("VACUUM ANALYZE"))
        plan = rounds_of(homes, range(args.rounds + 6), args.wanderers, args.seed)
        r = args.rounds
        main_batches = batches(plan[:r], args.batch)
        gcj_batches = batches(plan[r : r + 1], args.batch, GCJ02)
        api_batches = batches(plan[r + 1 : r + 2], args.batch)
        two_batches = batches(plan[r + 2 : r + 5], args.batch)
        base_batches = batches(plan[r + 5 :], args.batch)
        base_reports = args.baseline_n
        base_batches = base_batches[: max(1, base_reports // args.batch)]

        with console.status(f"gridmap: {args.rounds} rounds of {args.devices:,} reports ..."):
            grid_s, results = run_gridmap(engine, main_batches)
        grid_n = sum(r.stored for r in results)
        alarms = sum(len(r.alarms) for r in results)
        rejected = sum(len(r.rejected) for r in results)
        with console.status("gridmap: a round in GCJ-02 ..."):
            gcj_s, _ = run_gridmap(engine, gcj_batches)
        with console.status("gridmap: a round through the API ..."):
            api_s = run_api(engine, api_batches)
        with console.status("gridmap: a round as two streams of disjoint devices ..."):
            two_s = run_two_streams(engine, two_batches, -(-args.devices // args.batch))
        with console.status("Baseline: one ST_Contains and one UPDATE per report ..."):
            # Last: its reports are the latest, and it moves the devices' last positions.
            base_s = run_baseline(engine.url.render_as_string(hide_password=False), base_batches)
        base_n = sum(len(b) for b in base_batches)
        with console.status("Nearest available worker ..."):
            walk_ms = nearest_ms(engine, homes, args.calls, walk=True)
            line_ms = nearest_ms(engine, homes, args.calls, walk=False)
        with engine.connect() as conn:
            cases = conn.execute(
                text("SELECT count(*) FROM incident WHERE source = 'device'")
            ).scalar_one()
        engine.dispose()

    rate, base_rate = grid_n / grid_s, base_n / base_s
    gcj_n, api_n = sum(len(b) for b in gcj_batches), sum(len(b) for b in api_batches)
    table = Table(
        title=f"Position ingest, batches of {args.batch:,}, {args.devices:,} devices on the demo "
        f"district ({platform.machine()}, {os.cpu_count()} cores)"
    )
    for col in ("method", "reports", "seconds", "reports / s", "vs baseline"):
        table.add_column(col, justify="right")
    table.add_row(
        "gridmap ingest (WGS84)",
        f"{grid_n:,}",
        f"{grid_s:.2f}",
        f"{rate:,.0f}",
        f"{rate / base_rate:.1f}x",
    )
    table.add_row(
        "gridmap ingest (GCJ-02)",
        f"{gcj_n:,}",
        f"{gcj_s:.2f}",
        f"{gcj_n / gcj_s:,.0f}",
        f"{gcj_n / gcj_s / base_rate:.1f}x",
    )
    two_n = sum(len(b) for b in two_batches)
    table.add_row(
        "gridmap, two streams",
        f"{two_n:,}",
        f"{two_s:.2f}",
        f"{two_n / two_s:,.0f}",
        f"{two_n / two_s / base_rate:.1f}x",
    )
    table.add_row(
        "gridmap via the API (in process)",
        f"{api_n:,}",
        f"{api_s:.2f}",
        f"{api_n / api_s:,.0f}",
        f"{api_n / api_s / base_rate:.1f}x",
    )
    table.add_row(
        "baseline: ST_Contains + UPDATE per report",
        f"{base_n:,}",
        f"{base_s:.2f}",
        f"{base_rate:,.0f}",
        "1.0x",
    )
    console.print(table)
    console.print(
        f"alarms raised: {alarms} (wanderers {args.wanderers}), cases filed: {cases}, "
        f"reports refused: {rejected}"
    )

    def stats(ms: list[float]) -> str:
        return f"median {statistics.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms"

    console.print(f"nearest available worker of {args.workers}, by walk: {stats(walk_ms)}")
    console.print(f"nearest available worker, straight line: {stats(line_ms)}")
    verdicts = [
        ("reports / s ≥ 20,000", rate >= TARGET_RATE),
        ("≥ 20x the baseline", rate / base_rate >= TARGET_RATIO),
        ("nearest worker ≤ 20 ms (median)", statistics.median(walk_ms) <= TARGET_NEAREST_MS),
    ]
    for name, ok in verdicts:
        console.print(f"target {name}: {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
