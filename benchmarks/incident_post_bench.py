"""Benchmark: latency of POST /api/v1/incidents with 32 concurrent clients on loopback.

The demo district (奎文区: 400 grids, 4,027 incidents) is loaded into a fresh
database on the project's own PostGIS (or ``DATABASE_URL``), the real app runs
as a separate uvicorn process on a free loopback port, and 32 clients, each on
one keep-alive connection, post reports back to back (closed loop: a client
sends its next request when the previous answer arrives, so 32 requests are
always in flight). A report is a random point inside a random current grid
(at least 5 m from its edge; 30 % sent as GCJ-02, as a phone app does), a
random category of the catalogue, a source and a description.

Measured in the same run, under the same 32-client load:

* baseline: GET /healthz (routing, one ``SELECT`` on a pooled connection, JSON
  answer): the floor of framework, network and one database round trip;
* POST /api/v1/incidents as a logged-in member of district staff (bearer
  token): the login's lookup, intake, routing, transition row, duplicate
  suggestion, place lookup, commit.

Both print p50, p90, p99, max (ms) and throughput. The load generator is a
minimal HTTP/1.1 client on asyncio streams in this process (requests encoded
beforehand, answers parsed after the run), so it costs little of the CPU the
server needs; its own CPU per request is printed, with the app's and
PostgreSQL's (from /proc). Afterwards every created row is checked: its grid
must be the grid the point was drawn in.

Run: ``.venv/bin/python benchmarks/incident_post_bench.py`` (starts its own
PostGIS unless DATABASE_URL is set); ``--requests``, ``--warmup``,
``--clients``, ``--workers`` and ``--durable`` (fsync and synchronous commit
on, as a production server) change the setup.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text

from gis.db import schema
from gis.db.embedded import free_port
from gis.db.engine import make_engine, recreate_database
from gis.demo.load import load_demo
from gis.geo.datum import GCJ02, from_wgs84
from gis.incidents.catalogue import CATEGORIES

from bench_server import NO_FSYNC, bearer_headers, cpu_seconds, server

console = Console(width=180)
ROOT = Path(__file__).resolve().parent.parent
EDGE_M = 5.0
"""Points are drawn at least this far (metres) inside their grid, so routing is unambiguous."""
M_PER_DEG_LAT = 111_000.0
SOURCES = ("hotline", "patrol", "app")
WORDS = ("垃圾", "占道", "井盖", "路灯", "积水", "噪音", "违停", "破损", "堆物", "广告")


def server_options(durable: bool) -> dict[str, str]:
    """Settings of the benchmark's own cluster; without ``durable``, commits skip fsync."""
    options = {"shared_buffers": "256MB", "max_connections": "200"}
    return options if durable else {**options, **NO_FSYNC}


def demo_database(server_url: str) -> tuple[Engine, str]:
    url = recreate_database(server_url, "gridmap_post_bench")
    engine = make_engine(url)
    schema.upgrade(engine)
    load_demo(engine)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return engine, url


@dataclass(frozen=True)
class Report:
    body: bytes
    grid_code: str
    datum: str


def reports(engine: Engine, n: int, gcj_share: float, seed: int) -> list[Report]:
    """``n`` report bodies at random points well inside random current grids."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT code, ST_AsBinary(geom) FROM grid WHERE valid_to IS NULL ORDER BY code")
        ).all()
    rng = random.Random(seed)
    inner = []
    for code, wkb in rows:
        shrunk = shapely.from_wkb(bytes(wkb)).buffer(-EDGE_M / M_PER_DEG_LAT)
        if not shrunk.is_empty:
            shapely.prepare(shrunk)
            inner.append((code, shrunk))
    codes = [c.code for c in CATEGORIES]
    out = []
    for _ in range(n):
        code, area = inner[rng.randrange(len(inner))]
        x0, y0, x1, y1 = area.bounds
        while True:
            lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if shapely.contains_xy(area, lon, lat):
                break
        datum = "wgs84"
        if rng.random() < gcj_share:
            xs, ys = from_wgs84(np.array([lon]), np.array([lat]), GCJ02)
            lon, lat, datum = float(xs[0]), float(ys[0]), "gcj02"
        body = {
            "category": codes[rng.randrange(len(codes))],
            "lon": round(lon, 7),
            "lat": round(lat, 7),
            "datum": datum,
            "source": SOURCES[rng.randrange(len(SOURCES))],
            "description": "".join(rng.choice(WORDS) for _ in range(4)),
        }
        out.append(Report(json.dumps(body, ensure_ascii=False).encode(), code, datum))
    return out


def post_request(port: int, body: bytes, headers: dict[str, str]) -> bytes:
    """The raw request, ``headers`` (the login) included."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = (
        f"POST /api/v1/incidents HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def get_request(port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """One request on a keep-alive connection; the server answers with Content-Length."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"transfer-encoding":
            raise RuntimeError("chunked answers are not expected here")
    body = await reader.readexactly(length) if length else b""
    return int(head[9:12]), body


@dataclass
class Run:
    latencies_s: np.ndarray
    statuses: list[int]
    bodies: list[bytes]
    wall_s: float
    client_cpu_s: float
    server_cpu_s: float
    postgres_cpu_s: float | None


async def _load(
    port: int, clients: int, requests: Sequence[bytes], keep_bodies: bool, rate: float | None
) -> tuple[np.ndarray, list[int], list[bytes]]:
    """Closed loop (each client sends as soon as it has its answer) or, with ``rate``
    (requests/s over all clients), request i due at i / rate: its latency counts from
    when it was due, so time spent waiting for a free client is not hidden."""
    latencies = np.zeros(len(requests))
    statuses = [0] * len(requests)
    bodies: list[bytes] = [b""] * len(requests)
    next_index = 0
    t0 = time.perf_counter()

    async def client() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while next_index < len(requests):
                i = next_index
                next_index += 1
                start = time.perf_counter()
                if rate is not None:
                    due = t0 + i / rate
                    if due > start:
                        await asyncio.sleep(due - start)
                    start = due
                status, body = await _exchange(reader, writer, requests[i])
                latencies[i] = time.perf_counter() - start
                statuses[i] = status
                if keep_bodies:
                    bodies[i] = body
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, statuses, bodies


def load(
    port: int,
    clients: int,
    warmup: Sequence[bytes],
    requests: Sequence[bytes],
    server_pids: Sequence[int],
    postmaster_pid: int | None,
    keep_bodies: bool = False,
    rate: float | None = None,
) -> Run:
    """Warm up, then time ``requests`` sent by ``clients`` concurrent keep-alive clients."""
    asyncio.run(_load(port, clients, warmup, False, None))
    cpu0, app0 = time.process_time(), cpu_seconds(server_pids)
    pg0 = cpu_seconds([postmaster_pid]) if postmaster_pid else None
    start = time.perf_counter()
    latencies, statuses, bodies = asyncio.run(_load(port, clients, requests, keep_bodies, rate))
    wall = time.perf_counter() - start
    pg = cpu_seconds([postmaster_pid]) - pg0 if postmaster_pid and pg0 is not None else None
    return Run(
        latencies,
        statuses,
        bodies,
        wall,
        time.process_time() - cpu0,
        cpu_seconds(server_pids) - app0,
        pg,
    )


@contextmanager
def app_server(
    database_url: str, port: int, workers: int, root: Path, extra: Sequence[str]
) -> Iterator[subprocess.Popen[bytes]]:
    """The real app under uvicorn, as a deployment runs it, until it answers /healthz.

    ``root`` is the checkout whose ``api`` package is served (another one to
    compare versions on the same database); ``extra`` goes to uvicorn as is.
    """
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(root)}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    cmd += ["--no-access-log", "--log-level", "warning", *extra]
    proc = subprocess.Popen(cmd, cwd=root, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the app did not start (see its output above)")
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def profiled(pid: int, out: Path | None) -> Iterator[None]:
    """Sample the app with py-spy (collapsed stacks in ``out``) while the block runs."""
    if out is None:
        yield
        return
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    cmd = [spy, "record", "--pid", str(pid), "--subprocesses", "--format", "raw", "--gil"]
    proc = subprocess.Popen([*cmd, "--rate", "250", "-o", str(out)], stdout=subprocess.DEVNULL)
    time.sleep(1.0)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        console.print(f"py-spy profile of the POST run: {out}")


def check_routing(engine: Engine, sent: Sequence[Report], run: Run) -> tuple[int, int, int]:
    """(created, answered with the expected grid, stored in the expected grid)."""
    expected: dict[int, str] = {}
    answered_ok = 0
    for report, status, body in zip(sent, run.statuses, run.bodies, strict=True):
        if status != 201:
            continue
        answer = json.loads(body)
        expected[int(answer["id"])] = report.grid_code
        answered_ok += answer["grid_code"] == report.grid_code
    with engine.connect() as conn:
        stored: dict[int, str] = dict(
            conn.execute(  # type: ignore[arg-type]
                text(
                    "SELECT i.id, g.code FROM incident i JOIN grid g ON g.id = i.grid_id"
                    " WHERE i.id = ANY(:ids)"
                ),
                {"ids": list(expected)},
            ).all()
        )
    stored_ok = sum(stored.get(i) == code for i, code in expected.items())
    return len(expected), answered_ok, stored_ok


def row(name: str, run: Run) -> list[str]:
    ms = run.latencies_s * 1000
    ok = sum(s < 400 for s in run.statuses)
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    n = len(ms)
    pg = f"{run.postgres_cpu_s / n * 1000:.2f}" if run.postgres_cpu_s is not None else "n/a"
    return [
        name,
        f"{n:,} ({n - ok} failed)",
        f"{p50:.1f}",
        f"{p90:.1f}",
        f"{p99:.1f}",
        f"{ms.max():.1f}",
        f"{n / run.wall_s:,.0f}",
        f"{run.server_cpu_s / n * 1000:.2f}",
        pg,
        f"{run.client_cpu_s / n * 1e6:.0f} ({run.client_cpu_s / run.wall_s:.0%})",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per run")
    parser.add_argument("--warmup", type=int, default=1000, help="untimed requests first")
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (default 1)"
    )
    parser.add_argument(
        "--paced",
        type=float,
        nargs="*",
        default=[0.5],
        help="also run at these fractions of the measured closed-loop throughput (open loop)",
    )
    parser.add_argument("--gcj-share", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument(
        "--durable", action="store_true", help="fsync and synchronous_commit on (own cluster)"
    )
    parser.add_argument(
        "--profile", type=Path, help="write py-spy collapsed stacks of the app's POST run here"
    )
    parser.add_argument(
        "--app-root", type=Path, default=ROOT, help="serve the app of this checkout (default: ours)"
    )
    parser.add_argument(
        "--uvicorn", default="", help='more uvicorn options, e.g. "--http h11 --loop asyncio"'
    )
    args = parser.parse_args()
    n, warm = args.requests, args.warmup

    runs: list[tuple[str, Run]] = []
    checks = []
    with server(server_options(args.durable)) as cluster:
        with console.status("Loading the demo district ..."):
            engine, url = demo_database(cluster.url)
            sent = reports(engine, warm + n * (1 + len(args.paced)), args.gcj_share, args.seed)
            # the reporter: district staff, logged in (who reports is the login, not the body)
            login = bearer_headers(engine, "bench-reporter", "district", "370705")
        port = free_port()
        posts = [post_request(port, r.body, login) for r in sent]
        health = [get_request(port, "/healthz")] * (warm + n)
        with app_server(url, port, args.workers, args.app_root, args.uvicorn.split()) as proc:
            pgid = cluster.postmaster_pid
            with console.status("GET /healthz, closed loop ..."):
                base = load(port, args.clients, health[:warm], health[warm:], [proc.pid], pgid)
            runs.append(("GET /healthz (baseline), closed loop", base))
            with (
                console.status("POST /api/v1/incidents, closed loop ..."),
                profiled(proc.pid, args.profile),
            ):
                posted = load(
                    port, args.clients, posts[:warm], posts[warm : warm + n], [proc.pid], pgid,
                    keep_bodies=True,
                )  # fmt: skip
            runs.append(("POST /api/v1/incidents, closed loop", posted))
            checks.append(check_routing(engine, sent[warm : warm + n], posted))
            capacity = n / posted.wall_s
            for k, fraction in enumerate(args.paced, start=1):
                rate = fraction * capacity
                with console.status(f"GET /healthz at {rate:.0f}/s ..."):
                    paced_base = load(
                        port, args.clients, [], health[warm:], [proc.pid], pgid, rate=rate
                    )
                runs.append((f"GET /healthz (baseline) at {rate:.0f}/s", paced_base))
                batch = slice(warm + k * n, warm + (k + 1) * n)
                with console.status(f"POST /api/v1/incidents at {rate:.0f}/s ..."):
                    paced = load(
                        port, args.clients, [], posts[batch], [proc.pid], pgid,
                        keep_bodies=True, rate=rate,
                    )  # fmt: skip
                runs.append((f"POST /api/v1/incidents at {rate:.0f}/s", paced))
                checks.append(check_routing(engine, sent[batch], paced))
        engine.dispose()

    table = Table(
        title=f"{args.clients} concurrent keep-alive clients on loopback, uvicorn "
        f"--workers {args.workers}, {os.cpu_count()} cores shared by all "
        f"({'durable commits' if args.durable else 'fsync off'})"
    )
    for col in (
        "endpoint, load",
        "requests",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "req/s",
        "app CPU ms/req",
        "PostgreSQL CPU ms/req",
        "client CPU µs/req (of a core)",
    ):
        table.add_column(col, justify="right")
    for name, run in runs:
        table.add_row(*row(name, run))
    console.print(table)
    created, answered_ok, stored_ok = (sum(c[i] for c in checks) for i in range(3))
    gcj = sum(r.datum == "gcj02" for r in sent[warm:])
    console.print(
        f"Routing: {created:,} incidents created in the timed runs ({gcj:,} sent as GCJ-02); "
        f"{answered_ok:,} answered and {stored_ok:,} stored in the grid their point was drawn in."
    )
    if not created == answered_ok == stored_ok == n * (1 + len(args.paced)):
        console.print("[red]ROUTING CHECK FAILED[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
