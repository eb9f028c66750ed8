"""The app survives its database restarting: kill -9, a clean stop and start, a port taken.

A real uvicorn server runs on a cluster of its own in a temporary directory
(never the suite's shared server: these tests kill it). A client streams
facility POSTs on one keep-alive connection while the postmaster is killed
(or stopped) and then started again the way the README tells an operator to:
``gridmap db start``, run as a separate process. Afterwards

* every POST that was acknowledged (2xx) is stored: acknowledged means committed;
* every POST that failed was answered 503 with ``Retry-After``, none 500; a
  request that got no answer at all (a reset) is allowed only if it is not stored;
* /healthz is green again within 10 s of the restart, without restarting the app,
  and POSTs are acknowledged again.

A bulk import killed mid-COPY leaves nothing behind and fails with one line.
The recovery times are printed (``pytest -s``) and benchmarks/recovery_bench.py
runs the same scenarios on their own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from api.app import create_app
from gis.coverage.live import CoverageService
from gis.db.embedded import EmbeddedPostgres
from gis.db.engine import make_engine
from gis.errors import DatabaseUnavailableError
from gis.geo.datum import WGS84
from gis.imports.importer import import_file
from gis.progress import Advance, Description, ignore
from gis.settings import DatabaseSettings, ServerSettings
from tests.accounts import committed_headers
from tests.coverage_district import fresh_coverage_database
from tests.servers import served

ROOT = Path(__file__).resolve().parents[2]
GREEN_WITHIN_S = 10.0


@dataclass
class Cluster:
    data_dir: Path
    url: str

    @property
    def pg(self) -> EmbeddedPostgres:
        return EmbeddedPostgres(self.data_dir, db_name="gridmap")

    def postmaster_pid(self) -> int:
        return int((self.pg.pgdata / "postmaster.pid").read_text().splitlines()[0])

    def kill_9(self, backends_too: bool = False) -> None:
        """kill -9 the postmaster; with ``backends_too`` every process of the server
        (as the OOM killer or ``pkill -9 postgres`` would): a backend streaming COPY
        data never waits, so it would not notice its postmaster's death by itself."""
        postmaster = self.postmaster_pid()
        children = [pid for pid in _children(postmaster)] if backends_too else []
        os.kill(postmaster, signal.SIGKILL)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def gridmap_db(self, command: str) -> subprocess.CompletedProcess[str]:
        """``gridmap db COMMAND`` as the operator runs it: its own process, env settings."""
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["GRIDMAP_DATA_DIR"] = str(self.data_dir)
        env["GRIDMAP_DB_NAME"] = "gridmap"
        result = subprocess.run(
            [sys.executable, "-c", "from cli.main import app; app()", "db", command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result

    def engine(self) -> Engine:
        return make_engine(self.url, port=self.pg.current_port)


def _children(parent: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent:
                pids.append(int(stat.parent.name))
    return pids


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A cluster of this module's own, holding the lattice district (tests/coverage_district)."""
    data_dir = Path(tempfile.mkdtemp(prefix="gridmap-faults-", dir="/tmp"))
    pg = EmbeddedPostgres(data_dir, db_name="gridmap")
    url = pg.start()
    fresh_coverage_database(url, "gridmap").engine.dispose()
    try:
        yield Cluster(data_dir, url)
    finally:
        EmbeddedPostgres(data_dir).stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def planner(cluster: Cluster) -> dict[str, str]:
    """Headers of a planner's login on the module's cluster (planners write facilities)."""
    engine = cluster.engine()
    try:
        return committed_headers(engine, "planner", "planner")
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def app(cluster: Cluster) -> FastAPI:
    """The app as `gridmap serve` runs it, on the module's cluster: its lifespan finds the
    running cluster, owns its engine and follows the cluster's port file."""
    return create_app(
        ServerSettings(),
        database=DatabaseSettings(database_url=None, data_dir=cluster.data_dir, db_name="gridmap"),
    )


@pytest.fixture(scope="module")
def server(app: FastAPI) -> Iterator[str]:
    """Base URL of ``app`` served by uvicorn in a thread."""
    with served(app, start_timeout_s=60) as base:
        yield base


@dataclass
class Outcome:
    name: str
    status: int | None  # None: no answer (connection reset, timeout)
    error: str | None = None
    retry_after: str | None = None
    code: str | None = None


@dataclass
class Stream:
    """Facility POSTs, one after another on one keep-alive connection, until stopped."""

    base: str
    tag: str
    headers: dict[str, str]
    outcomes: list[Outcome] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=15, headers=self.headers) as client:
            i = 0
            while not self.stop.is_set():
                i += 1
                name = f"{self.tag}-{i}"
                body = {
                    "type": "kindergarten",
                    "name": name,
                    "lon": 119.105 + (i % 90) * 0.001,
                    "lat": 36.705 + (i % 50) * 0.001,
                }
                try:
                    r = client.post("/api/v1/facilities", json=body)
                except httpx.HTTPError as exc:
                    self.outcomes.append(Outcome(name, None, type(exc).__name__))
                    continue
                code = r.json().get("code") if r.status_code >= 400 else None
                self.outcomes.append(
                    Outcome(name, r.status_code, None, r.headers.get("retry-after"), code)
                )
                if r.status_code >= 400:
                    time.sleep(0.02)  # a client backing off a little, as Retry-After asks

    def acknowledged(self) -> int:
        return sum(1 for o in self.outcomes if o.status is not None and o.status < 300)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} not within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - started


def healthz_green(base: str) -> bool:
    try:
        r = httpx.get(f"{base}/healthz", timeout=3)
    except httpx.HTTPError:
        return False
    return r.status_code == 200


def stored_names(cluster: Cluster, tag: str) -> set[str]:
    engine = cluster.engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT name FROM facility WHERE name LIKE :p"), {"p": f"{tag}-%"}
            )
            return {str(r[0]) for r in rows}
    finally:
        engine.dispose()


def kill_then_start(cluster: Cluster) -> None:
    cluster.kill_9()
    time.sleep(1.0)  # the operator notices: POSTs meanwhile must be 503s


def stop_then_start(cluster: Cluster) -> None:
    cluster.gridmap_db("stop")
    time.sleep(1.0)


@pytest.mark.parametrize(
    ("outage", "port_taken"),
    [
        pytest.param(kill_then_start, False, id="kill-9"),
        pytest.param(stop_then_start, False, id="stop-start"),
        pytest.param(kill_then_start, True, id="kill-9-port-taken"),
    ],
)
def test_acknowledged_posts_survive_and_the_app_recovers_by_itself(
    cluster: Cluster,
    app: FastAPI,
    server: str,
    planner: dict[str, str],
    outage: Callable[[Cluster], None],
    port_taken: bool,
) -> None:
    tag = f"fault-{outage.__name__}-{int(port_taken)}-{time.time_ns()}"
    wait_for(lambda: healthz_green(server), 10, "/healthz green before the outage")
    old_port = cluster.pg.current_port()
    stream = Stream(server, tag, planner)
    client = threading.Thread(target=stream.run, name="post-stream")
    client.start()
    squatter: socket.socket | None = None
    try:
        wait_for(lambda: stream.acknowledged() >= 20, 30, "20 POSTs before the outage")
        outage(cluster)
        if port_taken:  # another program takes the port while the database is down
            squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind(("127.0.0.1", old_port or 0))
            squatter.listen()
        started = time.monotonic()
        printed = cluster.gridmap_db("start").stdout
        restarted_s = time.monotonic() - started
        green_s = wait_for(lambda: healthz_green(server), GREEN_WITHIN_S, "/healthz green")
        before = stream.acknowledged()
        acked_s = wait_for(
            lambda: stream.acknowledged() >= before + 20, GREEN_WITHIN_S, "POSTs acknowledged"
        )
    finally:
        stream.stop.set()
        client.join(timeout=30)
        if squatter is not None:
            squatter.close()

    new_port = cluster.pg.current_port()
    assert (new_port != old_port) if port_taken else (new_port == old_port)
    password = cluster.pg.password_file.read_text().strip()
    assert password not in printed and "***" in printed

    stored = stored_names(cluster, tag)
    acked = {o.name for o in stream.outcomes if o.status is not None and o.status < 300}
    failed = [o for o in stream.outcomes if o.status is not None and o.status >= 300]
    unanswered = [o for o in stream.outcomes if o.status is None]
    assert acked <= stored, f"acknowledged but lost: {sorted(acked - stored)[:10]}"
    assert failed, "no POST fell into the outage: the test saw nothing"
    assert {o.status for o in failed} == {503}, [(o.status, o.code) for o in failed][:10]
    assert all(o.retry_after and int(o.retry_after) > 0 for o in failed)
    assert not [o.name for o in unanswered if o.name in stored], "unanswered yet stored"
    coverage: CoverageService = app.state.coverage  # its listener is back, caches rebuilt
    listening_s = wait_for(lambda: coverage.listening, GREEN_WITHIN_S, "coverage listener back")
    print(
        f"\n[{outage.__name__}{' port taken' if port_taken else ''}] "
        f"{len(stream.outcomes)} POSTs: {len(acked)} acknowledged (all stored), "
        f"{len(failed)} answered 503, {len(unanswered)} unanswered "
        f"({sorted({str(o.error) for o in unanswered})}), "
        f"{len({o.name for o in failed} & stored)} of the 503s stored (commit outcome unknown); "
        f"`gridmap db start` took {restarted_s:.2f} s, /healthz green {green_s:.2f} s after it, "
        f"20 more POSTs acknowledged {acked_s:.2f} s later, coverage listener back "
        f"{listening_s:.2f} s after those; port {old_port} -> {new_port}"
    )


def test_a_read_after_the_restart_is_answered(
    cluster: Cluster, server: str, planner: dict[str, str]
) -> None:
    """The pool's connections all died with the server: a GET must not get one of them."""
    url = f"{server}/api/v1/facilities?limit=1"
    assert httpx.get(url, timeout=10, headers=planner).status_code == 200
    cluster.kill_9()
    cluster.gridmap_db("start")
    r = httpx.get(url, timeout=10, headers=planner)
    assert r.status_code == 200, r.text


def test_writes_while_down_are_503_with_retry_after_and_say_what_to_do(
    cluster: Cluster, server: str, planner: dict[str, str]
) -> None:
    cluster.gridmap_db("stop")
    try:
        with httpx.Client(base_url=server, timeout=10, headers=planner) as client:
            post = client.post(
                "/api/v1/facilities",
                json={"type": "kindergarten", "name": "down", "lon": 119.11, "lat": 36.71},
            )
            health = client.get("/healthz")
            read = client.get("/api/v1/facilities?limit=1")
    finally:
        cluster.gridmap_db("start")
    for r in (post, health, read):
        assert r.status_code == 503, r.text
        assert int(r.headers["retry-after"]) > 0
        assert r.json()["code"] == "DatabaseUnavailable"
    assert "gridmap db start" in post.json()["description"]
    assert "写入未确认" in post.json()["description"]  # not acknowledged: check first
    wait_for(lambda: healthz_green(server), GREEN_WITHIN_S, "/healthz green")


def test_a_write_whose_connection_dies_is_a_503_and_the_connection_stays_usable(
    cluster: Cluster, app: FastAPI, server: str, planner: dict[str, str]
) -> None:
    """The backend of a POST is terminated (57P01, what a stopping server sends) just
    before its INSERT: a 503 that does not acknowledge, and the client's next requests
    on the same keep-alive connection are answered."""
    engine: Engine = app.state.engine
    killed: list[int] = []

    def drop_on_insert(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if not killed and statement.lstrip().upper().startswith("INSERT INTO FACILITY"):
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            killed.append(pid)
            other = cluster.engine()
            with other.connect() as c:
                c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                c.commit()
            other.dispose()

    body = {"type": "kindergarten", "name": "dropped", "lon": 119.11, "lat": 36.71}
    event.listen(engine, "before_cursor_execute", drop_on_insert)
    try:
        with httpx.Client(base_url=server, timeout=10, headers=planner) as client:
            r = client.post("/api/v1/facilities", json=body)
            health = client.get("/healthz")
            again = client.post("/api/v1/facilities", json={**body, "name": "kept"})
    finally:
        event.remove(engine, "before_cursor_execute", drop_on_insert)
    assert killed, f"no INSERT reached the database: {r.status_code} {r.text[:200]}"
    assert r.status_code == 503, r.text
    assert int(r.headers["retry-after"]) > 0
    assert r.json()["code"] == "DatabaseUnavailable"
    assert "写入未确认" in r.json()["description"]
    assert (health.status_code, again.status_code) == (200, 201)
    assert "dropped" not in _all_names(cluster) and "kept" in _all_names(cluster)


def _all_names(cluster: Cluster) -> set[str]:
    engine = cluster.engine()
    try:
        with engine.connect() as conn:
            return {str(n) for n in conn.execute(text("SELECT name FROM facility")).scalars()}
    finally:
        engine.dispose()


def test_an_import_killed_mid_write_leaves_nothing_and_says_so_in_one_line(
    cluster: Cluster, tmp_path: Path
) -> None:
    rows = 30_000
    path = tmp_path / "buildings.csv"
    with path.open("w") as fh:
        fh.write("ext_id,households,lon,lat\n")
        for i in range(rows):
            fh.write(f"KILL{i},{5 + i % 30},{119.1001 + (i % 300) * 0.0003},")
            fh.write(f"{36.7001 + (i // 300) * 0.0005}\n")

    killed = threading.Event()

    def kill_when_writing(description: Description, total: int) -> Advance:
        if not str(getattr(description, "en", description)).startswith("writing"):
            return ignore

        def advance(n: int = 1, /, description: Description | None = None) -> None:
            if not killed.is_set():  # some rows are on their way: now the server dies
                killed.set()
                cluster.kill_9(backends_too=True)

        return advance

    engine = cluster.engine()
    try:
        with Session(engine) as session, session.begin():
            before = session.execute(text("SELECT count(*) FROM building")).scalar_one()
        with (
            pytest.raises(DatabaseUnavailableError) as caught,
            Session(engine) as session,
            session.begin(),
        ):
            import_file(session, "buildings", path, WGS84, progress=kill_when_writing)
    finally:
        engine.dispose()
        cluster.gridmap_db("start")
    assert killed.is_set()
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    assert "The import was interrupted" in message and "gridmap db start" in message
    engine = cluster.engine()
    try:
        with engine.connect() as conn:
            after = conn.execute(text("SELECT count(*) FROM building")).scalar_one()
            half = conn.execute(
                text("SELECT count(*) FROM building WHERE ext_id LIKE 'KILL%'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert (after, half) == (before, 0)
