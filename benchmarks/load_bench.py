"""Benchmark: the highest request rate 32 clients get with p99 ≤ 100 ms, per kind of load.

The demo district (奎文区: 400 grids, 4,027 incidents) is loaded into a fresh
database on the benchmark's own PostGIS (or ``DATABASE_URL``); the real app
runs under uvicorn in a process of its own, one worker, as ``gridmap serve``
runs it (httptools and uvloop when installed, no access log); 32 locust users
on loopback (``load_clients.py``, a process of its own) send to it on a fixed
schedule each, in three scenarios, one after the other in the same run:

* floor: GET /healthz alone (framework, loopback, one database round trip on the
  probe's own connection, no worker thread): what any request costs at least;
* reports: POST /api/v1/incidents as logged-in district staff (a bearer token),
  random points well inside random grids (30 % sent as GCJ-02), random categories;
* mix: half reads (an incident list of one grid, one incident, one grid's
  detail), a fifth reports, the rest closed-loop steps (accept, dispatch,
  handle, feedback, verify, evaluate) each user takes on its own reports,
  quoting the version it read.

For each, a 2 s closed-loop probe gives the capacity, then a bisection finds the
highest rate at which every request is answered 2xx with p99 ≤ 100 ms,
latency counted from when the request was due (so queueing shows). Then all
three run at the same moderate rate (half the lowest maximum; half the lowest
capacity when a scenario held no rate at all, as on a busy machine) for the CPU cost
of a request: the app's, PostgreSQL's and the load generator's, from /proc.
The table gives each scenario's maximum rate, p50/p99 there, CPU per request,
and the ratios to the floor (the issue's target: reports at ≥ 60 % of the
floor's rate).

Run: ``.venv/bin/python benchmarks/load_bench.py`` (about 4 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from gis.db.embedded import free_port

from bench_server import bearer_headers, server
from incident_post_bench import ROOT, app_server, demo_database, reports, server_options

console = Console(width=160)
HERE = Path(__file__).resolve().parent
SCENARIOS = ("floor", "reports", "mix")
LABELS = {
    "floor": "floor: GET /healthz",
    "reports": "reports: POST /api/v1/incidents",
    "mix": "mix: reads, reports, workflow steps",
}


def fastest_uvicorn_options() -> list[str]:
    """httptools and uvloop where installed (``uvicorn[standard]``), as uvicorn's "auto" picks."""
    options = []
    choices = (("httptools", ["--http", "httptools"]), ("uvloop", ["--loop", "uvloop"]))
    for module, option in choices:
        try:
            __import__(module)
        except ImportError:
            continue
        options += option
    return options


def run_clients(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the locust driver on ``plan``; its JSON lines (progress goes to the terminal)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(plan, f, ensure_ascii=False)
    try:
        done = subprocess.run(
            [sys.executable, str(HERE / "load_clients.py"), f.name],
            stdout=subprocess.PIPE,
            check=True,
            text=True,
        )
    finally:
        os.unlink(f.name)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--p99-ms", type=float, default=100.0, help="the latency limit")
    parser.add_argument("--step-s", type=float, default=6.0, help="timed seconds per rate tried")
    parser.add_argument("--bisections", type=int, default=5, help="rates tried per scenario")
    parser.add_argument("--cost-s", type=float, default=8.0, help="timed seconds of a cost run")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma-separated, of floor,reports,mix"
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--uvicorn",
        default=None,
        help="uvicorn options instead of the fastest installed (e.g. '--http h11 --loop asyncio')",
    )
    parser.add_argument("--durable", action="store_true", help="fsync on (own cluster)")
    parser.add_argument("--app-root", type=Path, default=ROOT, help="serve this checkout's app")
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args()
    scenarios = [s for s in args.scenarios.split(",") if s]
    uvicorn = fastest_uvicorn_options() if args.uvicorn is None else args.uvicorn.split()

    started = time.perf_counter()
    with server(server_options(args.durable)) as cluster:
        with console.status("Loading the demo district ..."):
            engine, url = demo_database(cluster.url)
            pool = reports(engine, 60_000, 0.3, args.seed)
            with engine.connect() as conn:
                grids = list(
                    conn.scalars(text("SELECT code FROM grid WHERE valid_to IS NULL ORDER BY 1"))
                )
                ids = list(conn.scalars(text("SELECT id FROM incident ORDER BY 1")))
                before = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
            # Who acts is the login: district staff report and handle, admin verifies.
            login = bearer_headers(engine, "bench-staff", "district", "370705")
            checker = bearer_headers(engine, "bench-checker", "admin")
        port = free_port()
        with app_server(url, port, args.workers, args.app_root, uvicorn) as proc:
            plan = {
                "host": f"http://127.0.0.1:{port}",
                "clients": args.clients,
                "server_pids": [proc.pid],
                "postmaster_pid": cluster.postmaster_pid,
                "reports": [r.body.decode() for r in pool],
                "grid_codes": grids,
                "incident_ids": ids,
                "headers": login,
                "checker_headers": checker,
                "p99_ms": args.p99_ms,
                "step_s": args.step_s,
                "warm_s": 1.0,
                "drain_s": 5.0,
                "scenarios": scenarios,
                "bisections": args.bisections,
                "cost_fraction": 0.5,
                "cost_s": args.cost_s,
            }
            console.print(
                f"{args.clients} clients against uvicorn {' '.join(uvicorn) or '(defaults)'} "
                f"--workers {args.workers} on port {port}; p99 limit {args.p99_ms:g} ms"
            )
            lines = run_clients(plan)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM incident")).scalar_one() - before
        engine.dispose()

    steps = [x for x in lines if "held" in x and "cost" not in x]
    searches = {x["scenario"]: x for x in lines if "max_rate" in x}
    costs = {x["cost"]: x for x in lines if "cost" in x}
    created = next(x["created"] for x in lines if "created" in x)
    best: dict[str, dict[str, Any]] = {}
    for s in steps:
        if s["held"] and s["rate"] == searches[s["scenario"]]["max_rate"]:
            best[s["scenario"]] = s

    table = Table(
        title=f"{args.clients} clients on loopback, highest rate with p99 ≤ {args.p99_ms:g} ms "
        f"(uvicorn --workers {args.workers}, {os.cpu_count()} cores shared by app, "
        f"PostgreSQL and clients)"
    )
    columns = (
        "scenario",
        "max req/s at p99 ≤ limit",
        "of floor",
        "p50 ms",
        "p99 ms",
        "closed-loop req/s",
        "app CPU ms/req",
        "PostgreSQL CPU ms/req",
        "client CPU ms/req",
    )
    for col in columns:
        table.add_column(col, justify="right")
    floor = searches.get("floor", {}).get("max_rate")
    for name in scenarios:
        search, at = searches.get(name), best.get(name)
        if search is None:
            continue
        ratio = f"{search['max_rate'] / floor:.0%}" if floor else "n/a"
        table.add_row(
            LABELS[name],
            f"{search['max_rate']:,.0f}",
            ratio,
            f"{at['p50_ms']:.1f}" if at else "-",
            f"{at['p99_ms']:.1f}" if at else "-",
            f"{search['capacity']:,.0f}",
            _ms(at["app_cpu_ms"]) if at else "-",
            _ms(at["pg_cpu_ms"]) if at else "-",
            _ms(at["client_cpu_ms"]) if at else "-",
        )
    console.print(table)

    if costs:
        rate = next(iter(costs.values()))["rate"]
        cost = Table(title=f"CPU per request at the same moderate rate, {rate:,.0f} req/s")
        for col in (
            "scenario",
            "p50 ms",
            "p99 ms",
            "app CPU ms/req",
            "of floor's",
            "PostgreSQL CPU ms/req",
            "client CPU ms/req",
        ):
            cost.add_column(col, justify="right")
        floor_cpu = costs.get("floor", {}).get("app_cpu_ms")
        for name in scenarios:
            c = costs.get(name)
            if c is None:
                continue
            cost.add_row(
                LABELS[name],
                f"{c['p50_ms']:.1f}",
                f"{c['p99_ms']:.1f}",
                _ms(c["app_cpu_ms"]),
                f"{c['app_cpu_ms'] / floor_cpu:.2f}x" if floor_cpu else "n/a",
                _ms(c["pg_cpu_ms"]),
                _ms(c["client_cpu_ms"]),
            )
        console.print(cost)

    errors = {k: v for s in lines if "errors" in s for k, v in s["errors"].items()}
    console.print(
        f"{created:,} reports acknowledged (201), {stored:,} incidents stored; "
        f"errors over all steps, overloaded ones included: {errors or 'none'}; "
        f"{time.perf_counter() - started:.0f} s in all."
    )
    if "reports" in searches and floor:
        share = searches["reports"]["max_rate"] / floor
        verdict = "met" if share >= 0.6 else "NOT met"
        console.print(f"Reports at {share:.0%} of the floor's rate: target ≥ 60 % {verdict}.")
    if stored != created:
        console.print("[red]Acknowledged reports and stored incidents differ[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
