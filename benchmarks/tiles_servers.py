"""The two tile servers of ``tiles_bench.py``: tipg (installed in a virtualenv of its own,
for the benchmark only) and gridmap, each started on a port and stopped afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from load_bench import fastest_uvicorn_options
from rich.console import Console
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TIPG_VERSION = "1.6.1"
TIPG_VENV = HERE / ".venv-tipg"
PAGE_LIMIT = 10_000
"""The largest Features page either server is asked for."""
console = Console(width=180)


def tipg_venv() -> Path:
    """The virtualenv with tipg (and uvicorn with httptools and uvloop), made if missing."""
    python = TIPG_VENV / "bin" / "python"
    marker = TIPG_VENV / f".tipg-{TIPG_VERSION}"
    if not marker.exists():
        console.print(f"Installing tipg {TIPG_VERSION} into {TIPG_VENV} (benchmark only) ...")
        shutil.rmtree(TIPG_VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(TIPG_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                f"tipg=={TIPG_VERSION}",
                "uvicorn[standard]",
            ],
            check=True,
        )
        marker.touch()
    return TIPG_VENV


def _wait_ready(proc: subprocess.Popen[bytes], url: str, what: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start (see its output above)")
        time.sleep(0.2)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def tipg_server(database_url: str, port: int, workers: int) -> Iterator[subprocess.Popen[bytes]]:
    """tipg under uvicorn (its own virtualenv), serving only the ``building`` table."""
    venv = tipg_venv()
    dsn = make_url(database_url).set(drivername="postgresql")
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        "DATABASE_URL": dsn.render_as_string(hide_password=False),
        "TIPG_DB_TABLES": '["public.building"]',
        "TIPG_DB_FUNCTIONS": "[]",
        "TIPG_MAX_FEATURES_PER_QUERY": str(PAGE_LIMIT),
    }
    cmd = [str(venv / "bin" / "python"), "-m", "uvicorn", "tipg.main:app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    cmd += ["--no-access-log", "--log-level", "warning", "--http", "httptools", "--loop", "uvloop"]
    proc = subprocess.Popen(cmd, env=env, cwd=tempfile.gettempdir())
    try:
        _wait_ready(proc, f"http://127.0.0.1:{port}/healthz", "tipg")
        yield proc
    finally:
        _stop(proc)


@contextmanager
def gridmap_server(database_url: str, port: int, workers: int) -> Iterator[subprocess.Popen[bytes]]:
    """This checkout's app under uvicorn, as ``gridmap serve`` runs it, until /healthz answers."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    cmd += ["--no-access-log", "--log-level", "warning", *fastest_uvicorn_options()]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    try:
        _wait_ready(proc, f"http://127.0.0.1:{port}/healthz", "gridmap")
        yield proc
    finally:
        _stop(proc)
