"""Whole-collection exports: time and peak memory per format, demo district and 1M buildings.

```sh
.venv/bin/python benchmarks/export_bench.py              # the demo district's buildings
.venv/bin/python benchmarks/export_bench.py --million    # and a synthetic city of 1,000,000
```

Each export runs as ``gridmap export buildings -o FILE --format F`` in a process of its
own (the same writers as ``GET /ogc/collections/buildings/export``), timed end to end
(start-up and database included), its peak resident memory read from /proc (VmHWM). Beside
it, in the same run:

- **empty**: the same command selecting nothing (``--filter "households < 0"``): the
  process's floor (Python, GDAL, pandas loaded), so ``peak - empty`` is what the
  features cost;
- **one DataFrame**: the obvious way, ``geopandas.read_postgis`` of every building and
  ``to_file`` (GeoPackage): memory that grows with the table, the baseline batches avoid.

Starts its own PostGIS unless DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text

from gis.db import schema
from gis.db.engine import make_engine, recreate_database

from bench_server import BULK_LOAD, server

console = Console(width=160)
ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("gpkg", "shp", "geojson", "csv")
SUFFIX = {"gpkg": "gpkg", "shp": "zip", "geojson": "geojson", "csv": "csv"}

NAIVE = """
import os, sys, geopandas, sqlalchemy
engine = sqlalchemy.create_engine(os.environ["DATABASE_URL"])
frame = geopandas.read_postgis(
    "SELECT b.id, b.ext_id, g.code AS grid_code, b.households, b.floors, b.name, b.address,"
    " b.location AS geom FROM building b JOIN grid g ON g.id = b.grid_id",
    engine, geom_col="geom")
frame.to_file(sys.argv[1], layer="buildings", driver="GPKG")
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_s: float
    """The process's own CPU time (user + system), without the database server's."""
    peak_mb: float
    size_mb: float


def _high_water_kb(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM: of its own program, unlike
    ``ru_maxrss``, which keeps the forking parent's size across exec)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def measured(args: list[str], url: str, out: Path | None) -> Run:
    """Run ``args`` with DATABASE_URL=url; wall time and peak RSS of that process
    (VmHWM read every 20 ms until it ends)."""
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    peak_kb = 0
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors)
        while True:
            done, status, usage = os.wait4(child.pid, os.WNOHANG)
            if done:
                break
            peak_kb = max(peak_kb, _high_water_kb(child.pid))
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(args)} failed: {errors.read().decode()[-2000:]}")
    size = out.stat().st_size / 1e6 if out is not None and out.exists() else 0.0
    return Run(seconds, usage.ru_utime + usage.ru_stime, peak_kb / 1024, size)


def export(url: str, fmt: str, folder: Path, *extra: str) -> Run:
    out = folder / f"buildings.{SUFFIX[fmt]}"
    out.unlink(missing_ok=True)
    command = "from cli.main import app; app()"
    args = [sys.executable, "-c", command, "export", "buildings", "-o", str(out), "--format", fmt]
    return measured([*args, "-q", *extra], url, out)


def naive(url: str, folder: Path) -> Run:
    out = folder / "naive.gpkg"
    out.unlink(missing_ok=True)
    return measured([sys.executable, "-c", NAIVE, str(out)], url, out)


def buildings(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM building")).scalar_one())


def measure(title: str, engine: Engine, folder: Path) -> Table:
    url = engine.url.render_as_string(hide_password=False)
    n = buildings(engine)
    table = Table(title=f"{title}: {n:,} buildings, one export per process")
    for column in (
        "format",
        "time (s)",
        "CPU (s)",
        "features/s",
        "peak RSS (MB)",
        "above empty (MB)",
        "file (MB)",
    ):
        table.add_column(column, justify="right")
    floor = export(url, "gpkg", folder, "--filter", "households < 0")
    table.add_row(
        "empty (gpkg)",
        f"{floor.seconds:.1f}",
        f"{floor.cpu_s:.1f}",
        "",
        f"{floor.peak_mb:.0f}",
        "0",
        "",
    )
    for fmt in FORMATS:
        with console.status(f"{title}: {fmt} ..."):
            run = export(url, fmt, folder)
        table.add_row(
            fmt,
            f"{run.seconds:.1f}",
            f"{run.cpu_s:.1f}",
            f"{n / run.seconds:,.0f}",
            f"{run.peak_mb:.0f}",
            f"{run.peak_mb - floor.peak_mb:.0f}",
            f"{run.size_mb:.1f}",
        )
    with console.status(f"{title}: one DataFrame ..."):
        base = naive(url, folder)
    table.add_row(
        "one DataFrame (read_postgis + to_file gpkg)",
        f"{base.seconds:.1f}",
        f"{base.cpu_s:.1f}",
        f"{n / base.seconds:,.0f}",
        f"{base.peak_mb:.0f}",
        f"{base.peak_mb - floor.peak_mb:.0f}",
        f"{base.size_mb:.1f}",
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--million", action="store_true", help="also 1,000,000 buildings")
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    with server(BULK_LOAD) as cluster, tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        folder = Path(tmp)
        if not args.skip_demo:
            from gis.demo.load import load_demo

            engine = make_engine(recreate_database(cluster.url, "gridmap_export_bench"))
            schema.upgrade(engine)
            with console.status("Loading the demo district ..."):
                load_demo(engine)
            console.print(measure("Demo district", engine, folder))
            engine.dispose()
        if args.million:
            from coverage_bench import Size, load_city

            engine = make_engine(recreate_database(cluster.url, "gridmap_export_bench_1m"))
            schema.upgrade(engine)
            with console.status("Loading a synthetic city of 1,000,000 buildings ..."):
                load_city(engine, Size(1_000_000, 10_000))
            console.print(measure("Synthetic city", engine, folder))
            engine.dispose()


if __name__ == "__main__":
    main()
