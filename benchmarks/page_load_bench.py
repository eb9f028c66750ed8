"""Benchmark: first render to a usable map, my-grid and district views, phone and desktop.

The demo district (奎文区) is loaded into a fresh database on the benchmark's own
PostGIS (or ``DATABASE_URL``); the real app runs under uvicorn in a process of
its own (``page_load_browser.floor_app``: the app of ``api.app.create_app`` plus the floor
page, nothing else). Headless Chromium (Debian's ``/usr/bin/chromium`` driven by
Playwright, as the browser tests do) opens each view logged in:

* my-grid: a grid manager (the demo's ``grid-<code>`` account of the grid with the most
  open cases) on
  ``/grid/{code}`` if it answers 200, else the old worklist ``/incidents/grid/{code}``;
* district: the demo's ``district`` account on ``/``;
* floor (the baseline of the same run): ``/bench-floor/index.html``, a static page
  served by the same server from ``benchmarks/page_load_floor/``: vendored
  Leaflet drawing one polygon, then the ``gm-usable`` mark. Each view's figure is
  also printed as a ratio to the floor's, measured in the same runs, interleaved.

Two profiles: **phone**, a simulated mid-range phone (viewport 390 × 844 at
device scale 2, touch; CDP ``Emulation.setCPUThrottlingRate`` 4 and
``Network.emulateNetworkConditions`` 1.6 Mbit/s down, 750 kbit/s up, 150 ms
latency), and **desktop** (1440 × 900, unthrottled).

Time = from navigation start (the document's ``performance.timeOrigin``) to the
``gm-usable`` performance mark, which every map page sets through
``GM.ready()`` once its map has drawn its data. A page without ``GM.ready`` (the
pages before issue 11) is timed by a proxy: the last Leaflet vector, canvas or
marker added to a Leaflet pane (a MutationObserver, time taken in the next
animation frame) once the document has loaded and the network has been idle for
500 ms. The table says which was used ("mark" or "proxy").

Cold: a new browser context (empty cache, no service worker) and its first
visit. Warm: a second page in the same context right after (HTTP cache, and a
service worker if the page registered one). Transferred bytes are what the
page's requests carried over the wire (CDP ``encodedDataLength``, headers
included) until the network went idle after the view was usable.

``--profile DIR`` then loads, once, each view that missed its target (and the
floor) on that profile with a Chromium trace (``DIR/<view>-<profile>.json``,
open it in DevTools' Performance panel or https://ui.perfetto.dev) and prints
where the time went: the navigation's phases, the renderer's main thread by
task (self time) and CDP ``Performance.getMetrics``.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/page_load_bench.py`` (about 5
minutes; ``--quick`` 2 runs instead of 5).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from page_load_browser import (
    FLOOR_PATH,
    PROFILES,
    TARGETS_MS,
    Load,
    Profile,
    answers_200,
    launch,
    login_state,
    measure_view,
    new_context,
    visit,
)
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.db import schema
from gis.db.embedded import free_port
from gis.db.engine import make_engine, recreate_database
from gis.demo.load import load_demo
from gis.incidents import worklists

from bench_server import NO_FSYNC, server

console = Console(width=200)
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PASSWORD = "bench-page-load-1"
"""The demo accounts' password in the benchmark's own database."""
# --- the server ---------------------------------------------------------------------------


def demo_database(server_url: str) -> tuple[Engine, str]:
    url = recreate_database(server_url, "gridmap_page_bench")
    engine = make_engine(url)
    schema.upgrade(engine)
    load_demo(engine, password=PASSWORD)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return engine, url


@contextmanager
def app_server(database_url: str, port: int, root: Path) -> Iterator[str]:
    """``floor_app`` of ``root``'s checkout under uvicorn, one worker, until it answers /healthz.

    The escalation sweep is off: it writes cases in the background, which would make the
    runs differ; the pages are what is measured."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PYTHONPATH": f"{root}{os.pathsep}{HERE}",
        "GRIDMAP_ESCALATION_INTERVAL_S": "0",
    }
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "page_load_browser:floor_app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    cmd += ["--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=root, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def busiest_grid_manager(engine: Engine) -> str:
    """The account of the grid with the most open cases that has one (its my-grid view draws
    the most): ``grid-<code>``."""
    with Session(engine) as session:
        rows = sorted(worklists.grid_managers(session), key=lambda r: (-r.open, r.grid_code))
        names = set(
            session.scalars(text("SELECT username FROM account WHERE role = 'grid_manager'")).all()
        )
    return next(f"grid-{r.grid_code}" for r in rows if f"grid-{r.grid_code}" in names)


# --- figures ------------------------------------------------------------------------------


def p90(values: Sequence[float]) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


@dataclass
class Series:
    view: str
    profile: str
    cache: str
    path: str
    loads: list[Load] = field(default_factory=list)

    def times(self) -> list[float]:
        return [x.ms for x in self.loads if x.ms is not None]

    def median(self) -> float | None:
        t = self.times()
        return statistics.median(t) if t else None

    def timed_by(self) -> str:
        return "/".join(sorted({x.timed_by for x in self.loads}))


def print_table(series: list[Series], runs: int) -> None:
    table = Table(
        title=f"First render to a usable map, {runs} runs each "
        f"(median and p90; × floor = median / the floor page's median, same profile and cache)"
    )
    for col in (
        "view",
        "profile",
        "cache",
        "timed by",
        "median ms",
        "p90 ms",
        "× floor",
        "target ms",
        "met",
        "KB transferred",
        "requests",
        "not usable",
    ):
        table.add_column(col, justify="right")
    floors = {(s.profile, s.cache): s.median() for s in series if s.view == "floor"}
    for s in series:
        med, times = s.median(), s.times()
        floor = floors.get((s.profile, s.cache))
        target = TARGETS_MS.get((s.view, s.profile))
        met = "-" if target is None or med is None else ("yes" if med <= target else "NO")
        if target is not None and med is None:
            met = "NO"
        kb = statistics.median(x.bytes for x in s.loads) / 1024 if s.loads else 0
        reqs = statistics.median(x.requests for x in s.loads) if s.loads else 0
        table.add_row(
            f"{s.view} {s.path}",
            s.profile,
            s.cache,
            s.timed_by(),
            _ms(med),
            _ms(p90(times)) if times else "-",
            f"{med / floor:.1f}x" if med is not None and floor else "-",
            _ms(target),
            met,
            f"{kb:,.0f}",
            f"{reqs:.0f}",
            str(len(s.loads) - len(times)),
        )
    console.print(table)


# --- profile ------------------------------------------------------------------------------


def main_thread_self_times(trace: Path) -> tuple[float, list[tuple[str, float]]]:
    """Total busy time and (task name, self time ms) of the busiest renderer main thread."""
    data = json.loads(trace.read_text())
    events = data["traceEvents"] if isinstance(data, dict) else data
    mains = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M"
        and e.get("name") == "thread_name"
        and e.get("args", {}).get("name") == "CrRendererMain"
    }
    by_thread: dict[tuple[int, int], list[tuple[float, float, str]]] = defaultdict(list)
    for e in events:
        key = (e.get("pid"), e.get("tid"))
        if e.get("ph") == "X" and key in mains and "dur" in e:
            by_thread[key].append((float(e["ts"]), float(e["dur"]), str(e["name"])))
    if not by_thread:
        return 0.0, []
    thread = max(by_thread.values(), key=lambda xs: sum(d for _, d, n in xs if n == "RunTask"))
    thread.sort(key=lambda x: (x[0], -x[1]))
    self_us = [d for _, d, _ in thread]
    stack: list[tuple[float, int]] = []  # (end, index)
    for i, (ts, dur, _) in enumerate(thread):
        while stack and stack[-1][0] <= ts:
            stack.pop()
        if stack:
            self_us[stack[-1][1]] -= dur
        stack.append((ts + dur, i))
    totals: dict[str, float] = defaultdict(float)
    for (_, _, name), us in zip(thread, self_us, strict=True):
        totals[name] += max(us, 0.0)
    busy = sum(d for _, d, n in thread if n == "RunTask") / 1000
    ranked = sorted(((n, us / 1000) for n, us in totals.items()), key=lambda x: -x[1])
    return busy, ranked


def print_profile(view: str, profile: Profile, load: Load, trace: Path) -> None:
    n = load.navigation
    console.print(
        f"\n[bold]{view} on {profile.name}, cold[/bold] ({load.url}): usable at {_ms(load.ms)} ms "
        f"({load.timed_by}), first Leaflet drawing at {_ms(load.first_draw_ms)} ms; "
        f"{load.bytes / 1024:,.0f} KB in {load.requests} requests; trace {trace}"
    )
    if n:
        phases = [
            ("request sent", n.get("requestStart")),
            ("first byte of the HTML", n.get("responseStart")),
            ("last byte of the HTML", n.get("responseEnd")),
            ("DOM interactive (HTML parsed, sync scripts run)", n.get("domInteractive")),
            ("DOMContentLoaded done", n.get("domContentLoadedEventEnd")),
            ("load event done", n.get("loadEventEnd")),
        ]
        html_kb = (n.get("encodedBodySize") or 0) / 1024
        raw_kb = (n.get("decodedBodySize") or 0) / 1024
        console.print(
            "  navigation (ms from start): "
            + "; ".join(f"{label} {v:,.0f}" for label, v in phases if v)
            + f"; HTML {html_kb:,.0f} KB on the wire, {raw_kb:,.0f} KB decoded"
        )
    m = load.metrics
    if m:
        console.print(
            "  CDP Performance.getMetrics: "
            f"tasks {m.get('TaskDuration', 0) * 1000:,.0f} ms, "
            f"script {m.get('ScriptDuration', 0) * 1000:,.0f} ms, "
            f"style {m.get('RecalcStyleDuration', 0) * 1000:,.0f} ms, "
            f"layout {m.get('LayoutDuration', 0) * 1000:,.0f} ms; "
            f"{m.get('Nodes', 0):,.0f} DOM nodes, JS heap "
            f"{m.get('JSHeapUsedSize', 0) / 2**20:,.1f} MB"
        )
    busy, ranked = main_thread_self_times(trace)
    if ranked:
        top = ", ".join(f"{name} {ms:,.0f}" for name, ms in ranked[:10])
        console.print(f"  renderer main thread busy {busy:,.0f} ms; self time by task (ms): {top}")


def run_profiles(
    browser: Any,
    out: Path,
    wanted: list[tuple[str, str]],
    urls: dict[str, str],
    states: dict[str, dict[str, Any] | None],
    timeout_s: float,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for view, profile_name in wanted:
        profile = PROFILES[profile_name]
        trace = out / f"{view}-{profile_name}.json"
        context = new_context(browser, profile, states[view])
        try:
            load = visit(context, urls[view], profile, timeout_s, trace=trace)
        finally:
            context.close()
        print_profile(view, profile, load, trace)


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="cold+warm visits per view and profile")
    parser.add_argument("--quick", action="store_true", help="2 runs (overrides --runs)")
    parser.add_argument("--profiles", default="phone,desktop", help="of phone,desktop")
    parser.add_argument(
        "--views", default="floor,my-grid,district", help="of floor,my-grid,district"
    )
    parser.add_argument(
        "--my-grid-url",
        default=None,
        help="path of the my-grid view, {code} = the grid manager's grid "
        "(default /grid/{code} if it answers 200, else /incidents/grid/{code})",
    )
    parser.add_argument("--district-url", default="/", help="path of the district view")
    parser.add_argument(
        "--grid-user",
        default=None,
        help="grid manager account (default: the grid-* with the most open cases)",
    )
    parser.add_argument("--district-user", default="district", help="account of the district view")
    parser.add_argument("--timeout-s", type=float, default=90.0, help="per visit")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="trace the views that missed their target (and the floor) into DIR and say where "
        "the time went",
    )
    parser.add_argument(
        "--profile-all", action="store_true", help="with --profile: trace every view and profile"
    )
    parser.add_argument("--app-root", type=Path, default=ROOT, help="serve this checkout's app")
    args = parser.parse_args()
    runs = 2 if args.quick else args.runs
    profiles = [PROFILES[p] for p in args.profiles.split(",") if p]
    views = [v for v in args.views.split(",") if v]
    if "floor" not in views:
        views.insert(0, "floor")

    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    with server({"shared_buffers": "256MB", **NO_FSYNC}) as cluster:
        with console.status("Loading the demo district ..."):
            engine, url = demo_database(cluster.url)
            grid_user = args.grid_user or busiest_grid_manager(engine)
            engine.dispose()
        code = grid_user.removeprefix("grid-")
        port = free_port()
        with app_server(url, port, args.app_root) as base, sync_playwright() as pw:
            browser = launch(pw)
            states: dict[str, dict[str, Any] | None] = {
                "floor": None,
                "my-grid": login_state(browser, base, grid_user, PASSWORD),
                "district": login_state(browser, base, args.district_user, PASSWORD),
            }
            my_grid = args.my_grid_url
            if my_grid is None:
                new = f"/grid/{code}"
                state = states["my-grid"]
                assert state is not None
                my_grid = (
                    new if answers_200(browser, base + new, state) else "/incidents/grid/{code}"
                )
            paths = {
                "floor": FLOOR_PATH,
                "my-grid": my_grid.format(code=code),
                "district": args.district_url.format(code=code),
            }
            urls = {v: base + p for v, p in paths.items()}
            console.print(
                f"{base}: my-grid as {grid_user} on {paths['my-grid']}, district as "
                f"{args.district_user} on {paths['district']}; {runs} runs, "
                f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}"
            )
            series = {
                (v, p.name, c): Series(v, p.name, c, paths[v])
                for p in profiles
                for v in views
                for c in ("cold", "warm")
            }
            errors: dict[str, set[str]] = defaultdict(set)
            for run in range(runs):
                for profile in profiles:
                    for view in views:  # interleaved: the floor sees the same machine
                        cold, warm = measure_view(
                            browser, urls[view], profile, states[view], args.timeout_s
                        )
                        for cache, load in (("cold", cold), ("warm", warm)):
                            series[(view, profile.name, cache)].loads.append(load)
                            errors[view].update(load.errors)
                            if load.status != 200:
                                errors[view].add(f"status {load.status} at {load.url}")
                        console.print(
                            f"run {run + 1}/{runs} {profile.name:7} {view:9} "
                            f"cold {_ms(cold.ms)} ms ({cold.timed_by}, "
                            f"{cold.bytes / 1024:,.0f} KB), warm {_ms(warm.ms)} ms "
                            f"({warm.timed_by}, {warm.bytes / 1024:,.0f} KB)"
                        )
            print_table(list(series.values()), runs)
            for view, found in errors.items():
                if found:
                    console.print(f"[yellow]{view}: {'; '.join(sorted(found))[:600]}[/yellow]")
            if args.profile is not None:
                wanted: list[tuple[str, str]] = []
                for profile in profiles:
                    missed = [
                        v
                        for v in views
                        if v != "floor"
                        and (
                            args.profile_all
                            or (
                                (m := series[(v, profile.name, "cold")].median()) is None
                                or m > TARGETS_MS.get((v, profile.name), float("inf"))
                            )
                        )
                    ]
                    if missed:
                        wanted += [("floor", profile.name)] + [(v, profile.name) for v in missed]
                if wanted:
                    run_profiles(browser, args.profile, wanted, urls, states, args.timeout_s)
                else:
                    console.print("Every view met its target: nothing to profile.")
            browser.close()
    console.print(f"{time.perf_counter() - started:.0f} s in all.")


if __name__ == "__main__":
    main()
