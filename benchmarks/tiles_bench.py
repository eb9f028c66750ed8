"""Benchmark: vector tiles and Features paging over buildings, gridmap against tipg.

Data (``bench_city.py``, kept between runs under ``--data-dir``): the demo
district and a synthetic city of 1,000,000 buildings in gridmap's schema, on a
PostGIS cluster of the benchmark's own (no fsync: the data is rebuilt if lost).

Servers, both up at once and taking turns (so that the rest of a shared machine
weighs on both alike), each as a deployment runs it: uvicorn with two worker
processes (httptools and uvloop where installed), no access log:

* **tipg** 1.6.1, the baseline, installed for the benchmark only into a
  virtualenv of its own (``benchmarks/.venv-tipg``, made on the first run; it is
  not one of gridmap's dependencies), serving the same ``building`` table;
* **gridmap**, the app of this checkout (``api.app:create_app``), logged in as
  an admin (a bearer token, looked up on every request as for any client).

Tiles: a fixed set of 200 WebMercatorQuad tiles at z14, z15 and z16 with at
least one building each (candidates inside the data's extent, picked by a
seeded shuffle: the same tiles on every run and for both servers), 32 clients
on loopback, each with one keep-alive connection, closed loop
(``tiles_clients.py``, in processes of their own). **Cold**: the server just
started, every tile requested once (one server's pass, then the other's);
**warm**: after each tile has been asked for six more times (unmeasured, so
that every worker process has it), every client goes round all 200 for
``--warm-s`` seconds, ``--rounds`` times per server in alternating order.
PostgreSQL's own buffers are warm for both
(the table and its indexes are read into them with ``pg_prewarm`` first):
cold is about the server's cache, not about the disk. Reported: tiles/s,
p50/p99 latency, mean tile size on the wire (gzip asked for, as browsers do),
CPU per tile of the server's processes, of PostgreSQL and of the load
generator, and gridmap's ratio to tipg (targets: warm ≥ 20x, cold ≥ 1.5x
tipg's tiles/s); on a shared machine tipg's CPU per tile over gridmap's is the
steadier figure (the throughput ratio each would have with the cores to itself).

Features paging: one client per server reads every building through the OGC
API Features items and their ``next`` links, with the largest page each server
allows (``limit=10000``), the two taking a page each in turn; items/s over the
timed requests for both and the ratio (target ≥ 3x tipg).

Run::

    PYTHONPATH=. .venv/bin/python benchmarks/tiles_bench.py            # demo + 1M (12-20 min)
    PYTHONPATH=. .venv/bin/python benchmarks/tiles_bench.py --quick    # demo only, 40 tiles
    PYTHONPATH=. .venv/bin/python benchmarks/tiles_bench.py --datasets city --profile /tmp/tp

The first run generates the city (42 s for a million buildings on a quiet
machine) and makes tipg's virtualenv (pip, needs the package index).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench_city
import httpx
import mapbox_vector_tile
import morecantile
import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from tiles_servers import PAGE_LIMIT, gridmap_server, tipg_server

from gis.db.embedded import free_port
from gis.db.engine import make_engine

from bench_server import BULK_LOAD, bearer_headers, cpu_seconds

console = Console(width=180)
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ZOOMS = (14, 15, 16)
TMS = morecantile.tms.get("WebMercatorQuad")
TARGETS = {"warm": 20.0, "cold": 1.5, "paging": 3.0}

OUR_TILE_PATH = "/ogc/collections/buildings/tiles/WebMercatorQuad/{z}/{y}/{x}"
OUR_ITEMS_PATH = "/ogc/collections/buildings/items?limit={limit}"
TIPG_TILE = "/collections/public.building/tiles/WebMercatorQuad/{z}/{x}/{y}"
TIPG_ITEMS = "/collections/public.building/items?limit={limit}"
TIPG_TILE_QUERY = "geom-column={geom}&properties=households,floors,name"
"""What tipg puts in a tile: what gridmap's buildings layer holds (``gis.tiles.layers``: the
points up to z15, the footprints from z16; households, floors, name; the id as feature id)."""
FOOTPRINT_ZOOM = 16
WARMUP_ROUNDS = 6
"""Requests per tile between the cold and the warm pass (a tile is cached per worker process:
with two workers, six requests reach both with a probability of 97 %)."""
TIPG_ITEMS_QUERY = "geom-column=location&properties=ext_id,grid_id,households,floors,address,name"
"""What tipg puts in an item: gridmap's buildings collection (the point, with its properties)."""


# --- the tiles ------------------------------------------------------------------------------


def pick_tiles(database_url: str, count: int, seed: int) -> list[morecantile.Tile]:
    """``count`` tiles at z14-z16 (a third each) with a building each, deterministically."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            box = conn.execute(
                text(
                    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)"
                    " FROM (SELECT ST_Extent(location) AS e FROM building) t"
                )
            ).one()
            rng = random.Random(seed)
            chosen: list[morecantile.Tile] = []
            short = 0  # what a zoom could not fill (a small district at z14) goes to the next
            for k, z in enumerate(ZOOMS):
                want = count // len(ZOOMS) + (1 if k < count % len(ZOOMS) else 0) + short
                candidates = sorted(TMS.tiles(*box, zooms=[z]), key=lambda t: (t.x, t.y))
                rng.shuffle(candidates)
                got = 0
                for t in candidates:
                    if got == want:
                        break
                    occupied = conn.execute(
                        text(
                            "SELECT EXISTS (SELECT FROM building WHERE location &&"
                            " ST_Transform(ST_TileEnvelope(:z, :x, :y), 4326))"
                        ),
                        {"z": t.z, "x": t.x, "y": t.y},
                    ).scalar_one()
                    if occupied:
                        chosen.append(t)
                        got += 1
                short = want - got
    finally:
        engine.dispose()
    return chosen


def prewarm(database_url: str) -> None:
    """The building table and its indexes into PostgreSQL's buffers (``pg_prewarm``)."""
    engine = make_engine(database_url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
            conn.execute(
                text(
                    "SELECT pg_prewarm(c.oid) FROM pg_class c WHERE c.relname = 'building'"
                    " OR c.oid IN (SELECT indexrelid FROM pg_index i JOIN pg_class t"
                    "              ON t.oid = i.indrelid WHERE t.relname = 'building')"
                )
            )
    finally:
        engine.dispose()


@dataclass
class Pass:
    server: str
    dataset: str
    mode: str
    """``cold`` or ``warm``."""
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    mean_bytes: float
    server_cpu_ms: float
    pg_cpu_ms: float
    client_cpu_ms: float
    statuses: dict[str, int]
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @staticmethod
    def merged(parts: Sequence[Pass]) -> Pass:
        """The rounds of one server's warm pass as one: requests and seconds summed,
        percentiles over every latency, costs per tile weighted by requests."""
        n = sum(p.requests for p in parts)
        lat = np.array([x for p in parts for x in p.latencies_ms] or [float("nan")])

        def per_tile(attr: str) -> float:
            return sum(getattr(p, attr) * p.requests for p in parts) / n if n else float("nan")

        statuses: dict[str, int] = {}
        errors: dict[str, int] = {}
        for p in parts:
            for k, v in p.statuses.items():
                statuses[k] = statuses.get(k, 0) + v
            for k, v in p.errors.items():
                errors[k] = errors.get(k, 0) + v
        first = parts[0]
        return Pass(
            first.server,
            first.dataset,
            first.mode,
            n,
            sum(p.seconds for p in parts),
            float(np.percentile(lat, 50)),
            float(np.percentile(lat, 99)),
            per_tile("mean_bytes"),
            per_tile("server_cpu_ms"),
            per_tile("pg_cpu_ms"),
            per_tile("client_cpu_ms"),
            statuses,
            errors,
            list(lat),
        )

    @property
    def ok(self) -> bool:
        """Every request answered 200 (a 404 or 500 is fast and would flatter the figures)."""
        return not self.errors and set(self.statuses) == {"200"}


def load(
    port: int,
    paths: Sequence[str],
    headers: dict[str, str],
    mode: str,
    clients: int,
    procs: int,
    seconds: float,
    seed: int,
) -> dict[str, Any]:
    """Run the clients (``procs`` processes sharing ``clients`` connections); merged results."""
    start_at = time.time() + 1.0 + 0.3 * procs
    plans = []
    for p in range(procs):
        share = clients // procs + (1 if p < clients % procs else 0)
        mine = list(paths[p::procs]) if mode == "once" else list(paths)
        plans.append(
            {
                "host": f"http://127.0.0.1:{port}",
                "paths": mine,
                "headers": headers,
                "mode": mode,
                "clients": share,
                "seconds": seconds,
                "seed": seed + p,
                "start_at": start_at,
            }
        )
    files, running = [], []
    for plan in plans:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(plan, f)
        files.append(f.name)
        running.append(
            subprocess.Popen(
                [sys.executable, str(HERE / "tiles_clients.py"), f.name],
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        for proc in running:
            out, _ = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError("a load client failed (see above)")
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for name in files:
            os.unlink(name)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    latencies = [x for r in results for x in r["latencies_ms"]]
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    return {
        "elapsed_s": max(r["elapsed_s"] for r in results),
        "latencies_ms": latencies,
        "statuses": statuses,
        "errors": errors,
        "bytes": sum(r["bytes"] for r in results),
        "client_cpu_s": client_cpu,
    }


def measured_pass(
    server: str,
    dataset: str,
    mode: str,
    port: int,
    paths: Sequence[str],
    headers: dict[str, str],
    args: argparse.Namespace,
    server_pid: int,
    postmaster_pid: int | None,
) -> Pass:
    cpu0 = cpu_seconds([server_pid])
    pg0 = cpu_seconds([postmaster_pid]) if postmaster_pid else 0.0
    r = load(
        port,
        paths,
        headers,
        "once" if mode == "cold" else "repeat",
        args.clients,
        args.client_procs,
        args.warm_s,
        args.seed,
    )
    cpu = cpu_seconds([server_pid]) - cpu0
    pg = (cpu_seconds([postmaster_pid]) - pg0) if postmaster_pid else float("nan")
    lat = np.array(r["latencies_ms"]) if r["latencies_ms"] else np.array([float("nan")])
    n = len(r["latencies_ms"])
    return Pass(
        server,
        dataset,
        mode,
        n,
        r["elapsed_s"],
        float(np.percentile(lat, 50)),
        float(np.percentile(lat, 99)),
        r["bytes"] / n if n else 0.0,
        cpu * 1000 / n if n else float("nan"),
        pg * 1000 / n if n else float("nan"),
        r["client_cpu_s"] * 1000 / n if n else float("nan"),
        r["statuses"],
        r["errors"],
        r["latencies_ms"],
    )


def tile_features(port: int, path: str, headers: dict[str, str]) -> int:
    """Features in all layers of one tile (decoded with mapbox-vector-tile): a content check."""
    r = httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=60)
    r.raise_for_status()
    body = r.content
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    layers = mapbox_vector_tile.decode(body) if body else {}
    return sum(len(layer["features"]) for layer in layers.values())


# --- Features paging ------------------------------------------------------------------------


@dataclass
class Paging:
    server: str
    dataset: str
    items: int
    pages: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else 0.0


class Pager:
    """One client reading every item through the ``next`` links (keep-alive, gzip), a page
    at a time, so that two servers' readers can take turns; only the requests are timed."""

    def __init__(
        self, server: str, dataset: str, port: int, first: str, headers: dict[str, str]
    ) -> None:
        self.result = Paging(server, dataset, 0, 0, 0.0)
        self.url: str | None = f"http://127.0.0.1:{port}{first}"
        self.client = httpx.Client(headers={"Accept-Encoding": "gzip", **headers}, timeout=600)

    def step(self) -> bool:
        """Read the next page; False once there is none."""
        if self.url is None:
            return False
        started = time.perf_counter()
        r = self.client.get(self.url)
        r.raise_for_status()
        doc = r.json()
        self.result.seconds += time.perf_counter() - started
        self.result.items += len(doc["features"])
        self.result.pages += 1
        links = doc.get("links", [])
        self.url = next((link["href"] for link in links if link["rel"] == "next"), None)
        if not doc["features"]:
            self.url = None
        return self.url is not None

    def close(self) -> None:
        self.client.close()


def page_through_all(pagers: Sequence[Pager]) -> list[Paging]:
    """The pagers take turns, a page each, until all have read everything: both servers
    read under the same load from the rest of the machine."""
    busy = list(pagers)
    try:
        while busy:
            busy = [p for p in busy if p.step()]
    finally:
        for p in pagers:
            p.close()
    return [p.result for p in pagers]


# --- profiling ------------------------------------------------------------------------------


@contextmanager
def profiled(pid: int, out: Path | None) -> Iterator[None]:
    """py-spy over the server's worker processes while the block runs: collapsed stacks of
    the threads holding the GIL in ``out`` (for flamegraph.pl or speedscope), summarised."""
    if out is None:
        yield
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    cmd = [spy, "record", "--pid", str(pid), "--subprocesses", "--gil", "--nonblocking"]
    cmd += ["--rate", "250"]
    proc = subprocess.Popen(
        [*cmd, "--format", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        console.print(f"py-spy profile (collapsed stacks): {out}")
        for share, frame in profile_summary(out)[:25]:
            console.print(f"    {share:5.1%}  {frame}")


def profile_summary(collapsed: Path) -> list[tuple[float, str]]:
    """Each frame's share of the samples it appears in (inclusive), largest first."""
    counts: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        for frame in set(stack.split(";")[1:]):
            counts[frame] = counts.get(frame, 0) + int(n)
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return [(n / total, frame) for frame, n in ranked if n < total]


# --- the run --------------------------------------------------------------------------------


@dataclass
class DatasetRun:
    dataset: bench_city.Dataset
    passes: list[Pass] = field(default_factory=list)
    paging: list[Paging] = field(default_factory=list)
    features: dict[str, list[int]] = field(default_factory=dict)


def bench_dataset(
    ds: bench_city.Dataset, args: argparse.Namespace, postmaster_pid: int | None
) -> DatasetRun:
    run = DatasetRun(ds)
    tiles = pick_tiles(ds.url, args.tiles, args.seed)
    console.print(
        f"[bold]{ds.name}[/bold]: {ds.buildings:,} buildings, {len(tiles)} tiles "
        f"({', '.join(f'z{z}: {sum(t.z == z for t in tiles)}' for z in ZOOMS)})"
    )
    prewarm(ds.url)
    engine = make_engine(ds.url)
    try:
        gridmap_headers = bearer_headers(engine, "bench-tiles", "admin")
    finally:
        engine.dispose()
    templates = {
        "tipg": (tipg_server, TIPG_TILE + "?" + TIPG_TILE_QUERY, {}),
        "gridmap": (gridmap_server, OUR_TILE_PATH, gridmap_headers),
    }
    with ExitStack() as stack:
        up: dict[str, tuple[int, subprocess.Popen[bytes], list[str], dict[str, str]]] = {}
        for name in args.servers:
            start, template, headers = templates[name]
            port = free_port()
            proc = stack.enter_context(start(ds.url, port, args.workers))
            paths = [
                template.format(
                    z=t.z, x=t.x, y=t.y, geom="footprint" if t.z >= FOOTPRINT_ZOOM else "location"
                )
                for t in tiles
            ]
            up[name] = (port, proc, paths, headers)

        def measure(name: str, mode: str, label: str = "") -> Pass:
            port, proc, paths, headers = up[name]
            out = None
            if args.profile and name == "gridmap":
                out = (
                    args.profile / f"{name}-{ds.name.replace(' ', '').replace(',', '')}-{mode}.txt"
                )
            with profiled(proc.pid, out):
                p = measured_pass(
                    name, ds.name, mode, port, paths, headers, args, proc.pid, postmaster_pid
                )
            console.print(
                ("  " if p.ok else "  [red]NOT ALL 200[/red] ")
                + f"{name} {mode}{label}: {p.rate:,.0f} tiles/s, p50 {p.p50_ms:.1f} ms, "
                f"p99 {p.p99_ms:.1f} ms, {p.requests} requests {p.statuses} {p.errors or ''}; "
                f"CPU ms/tile: server {p.server_cpu_ms:.2f}, PostgreSQL {p.pg_cpu_ms:.2f}, "
                f"clients {p.client_cpu_ms:.2f}; load average {os.getloadavg()[0]:.1f}"
            )
            return p

        if args.tiles_on:
            for name in up:  # each server just started: nothing in its cache
                run.passes.append(measure(name, "cold"))
            for port, _, paths, headers in up.values():
                # Unmeasured: every tile a few more times, so that each worker process
                # has drawn (or cached) each one before the warm pass is timed.
                load(port, paths * WARMUP_ROUNDS, headers, "once", args.clients, 1, 0, 0)
            rounds: dict[str, list[Pass]] = {name: [] for name in up}
            order = list(up)
            for r in range(args.rounds):  # the servers take turns, in alternating order
                for name in order if r % 2 == 0 else order[::-1]:
                    rounds[name].append(measure(name, "warm", f" (round {r + 1})"))
            for parts in rounds.values():
                run.passes.append(Pass.merged(parts))
            for name, (port, _, paths, headers) in up.items():
                run.features[name] = [tile_features(port, path, headers) for path in paths[::40]]
        if args.paging:
            pagers = []
            for name, (port, _, _, headers) in up.items():
                first = TIPG_ITEMS + "&" + TIPG_ITEMS_QUERY if name == "tipg" else OUR_ITEMS_PATH
                # One small page first: the server's first answer of its kind is not timed.
                httpx.get(
                    f"http://127.0.0.1:{port}{first.format(limit=1)}", headers=headers, timeout=60
                ).raise_for_status()
                pagers.append(Pager(name, ds.name, port, first.format(limit=PAGE_LIMIT), headers))
            for pg in page_through_all(pagers):
                run.paging.append(pg)
                console.print(
                    f"  {pg.server} paging: {pg.items:,} items in {pg.pages} pages, "
                    f"{pg.seconds:.1f} s, {pg.rate:,.0f} items/s"
                )
    return run


def pair(a: float | None, b: float | None, fmt: str) -> str:
    """``a / b`` formatted, ``-`` for a missing side."""
    return " / ".join("-" if v is None else fmt.format(v) for v in (a, b))


def report(runs: Sequence[DatasetRun], args: argparse.Namespace) -> None:
    table = Table(
        title=f"Tiles over buildings: {args.tiles} tiles z14-z16, {args.clients} clients on "
        f"loopback, uvicorn --workers {args.workers}, {os.cpu_count()} cores shared"
    )
    for col in (
        "dataset",
        "cache",
        "tipg tiles/s",
        "p50 / p99 ms",
        "gridmap tiles/s",
        "p50 / p99 ms",
        "gridmap / tipg",
        "target",
        "KB/tile tipg / gridmap",
        "CPU ms/tile server tipg / gridmap",
        "PostgreSQL tipg / gridmap",
    ):
        table.add_column(col, justify="right")
    verdicts = []
    costs: list[str] = []
    for run in runs:
        for mode in ("cold", "warm"):
            by = {p.server: p for p in run.passes if p.mode == mode}
            t, g = by.get("tipg"), by.get("gridmap")
            ratio = g.rate / t.rate if t and g and t.rate else None
            target = TARGETS[mode]
            if ratio is not None:
                verdicts.append((f"{run.dataset.name} {mode}", ratio, target))
            if t and g:
                cost_t, cost_g = t.server_cpu_ms + t.pg_cpu_ms, g.server_cpu_ms + g.pg_cpu_ms
                costs.append(
                    f"{run.dataset.name} {mode}: CPU per tile (server + PostgreSQL) tipg "
                    f"{cost_t:.2f} ms, gridmap {cost_g:.2f} ms: tipg / gridmap "
                    f"{cost_t / cost_g:.1f} (the throughput ratio if each had the cores to itself)"
                )
            table.add_row(
                run.dataset.name,
                mode + ("" if all(p.ok for p in by.values()) else " [red](not all 200)[/red]"),
                f"{t.rate:,.0f}" if t else "-",
                f"{t.p50_ms:.0f} / {t.p99_ms:.0f}" if t else "-",
                f"{g.rate:,.0f}" if g else "-",
                f"{g.p50_ms:.1f} / {g.p99_ms:.1f}" if g else "-",
                f"{ratio:.1f}x" if ratio is not None else "-",
                f"≥ {target:g}x "
                + ("" if ratio is None else "met" if ratio >= target else "MISSED"),
                pair(t and t.mean_bytes / 1024, g and g.mean_bytes / 1024, "{:.1f}"),
                pair(t and t.server_cpu_ms, g and g.server_cpu_ms, "{:.2f}"),
                pair(t and t.pg_cpu_ms, g and g.pg_cpu_ms, "{:.2f}"),
            )
    console.print(table)
    if any(run.paging for run in runs):
        paging = Table(
            title=f"Features paging: every building through next links (limit={PAGE_LIMIT})"
        )
        for col in ("dataset", "tipg items/s", "gridmap items/s", "gridmap / tipg", "target"):
            paging.add_column(col, justify="right")
        for run in runs:
            by_p = {p.server: p for p in run.paging}
            tp, gp = by_p.get("tipg"), by_p.get("gridmap")
            ratio = gp.rate / tp.rate if tp and gp and tp.rate else None
            if ratio is not None:
                verdicts.append((f"{run.dataset.name} paging", ratio, TARGETS["paging"]))
            paging.add_row(
                run.dataset.name,
                f"{tp.rate:,.0f} ({tp.items:,} in {tp.seconds:.1f} s)" if tp else "-",
                f"{gp.rate:,.0f} ({gp.items:,} in {gp.seconds:.1f} s)" if gp else "-",
                f"{ratio:.1f}x" if ratio is not None else "-",
                f"≥ {TARGETS['paging']:g}x",
            )
        console.print(paging)
    for run in runs:
        if run.features:
            console.print(
                f"{run.dataset.name}: features in every 40th tile: "
                + "; ".join(f"{k} {v}" for k, v in run.features.items())
            )
        console.print(
            f"{run.dataset.name}: generated in {run.dataset.generated_s:.0f} s"
            + (" (in an earlier run, reused)" if run.dataset.reused else "")
        )
    for line in costs:
        console.print(line)
    for what, ratio, target in verdicts:
        console.print(
            f"{what}: {ratio:.1f}x tipg, target ≥ {target:g}x: "
            + ("met" if ratio >= target else "[red]MISSED[/red]")
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path("/var/tmp/gridmap-bench"))
    parser.add_argument("--datasets", default="demo,city", help="comma-separated: demo, city")
    parser.add_argument("--buildings", type=int, default=1_000_000, help="the city's size")
    parser.add_argument("--servers", default="tipg,gridmap", help="comma-separated")
    parser.add_argument("--tiles", type=int, default=200)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--client-procs", type=int, default=2, help="load generator processes")
    parser.add_argument("--warm-s", type=float, default=3.0, help="seconds of a warm round")
    parser.add_argument("--rounds", type=int, default=4, help="warm rounds per server")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of each server")
    parser.add_argument("--no-paging", dest="paging", action="store_false")
    parser.add_argument("--no-tiles", dest="tiles_on", action="store_false")
    parser.add_argument("--quick", action="store_true", help="demo only, 40 tiles, 3 s warm")
    parser.add_argument("--rebuild", action="store_true", help="generate the data again")
    parser.add_argument("--profile", type=Path, help="py-spy flame graphs of gridmap warm here")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    if args.quick:
        args.datasets, args.tiles, args.warm_s, args.rounds = "demo", 40, 2.0, 2
    args.servers = [s for s in args.servers.split(",") if s]
    wanted = [d for d in args.datasets.split(",") if d]

    started = time.perf_counter()
    with bench_city.cluster(args.data_dir, BULK_LOAD, os.environ.get("DATABASE_URL")) as url:
        postmaster = None
        pidfile = args.data_dir / "cluster" / "pgdata" / "postmaster.pid"
        if not os.environ.get("DATABASE_URL") and pidfile.exists():
            postmaster = int(pidfile.read_text().split()[0])
        datasets = []
        for name in wanted:
            with console.status(f"Preparing the {name} data ..."):
                if name == "demo":
                    datasets.append(bench_city.demo(url, args.rebuild))
                else:
                    datasets.append(bench_city.city(url, args.buildings, rebuild=args.rebuild))
        runs = [bench_dataset(ds, args, postmaster) for ds in datasets]
    report(runs, args)
    console.print(f"{time.perf_counter() - started:.0f} s in all.")


if __name__ == "__main__":
    main()
