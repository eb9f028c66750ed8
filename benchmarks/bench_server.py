"""The PostGIS a benchmark runs on (DATABASE_URL if set, else a throwaway cluster in /tmp),
and the credentials its clients call the API with.

The scripts in this folder import it as ``from bench_server import ...``: they
run as ``.venv/bin/python benchmarks/x.py``, which puts this folder first on
``sys.path`` (ruff's isort knows it as a local module, see pyproject.toml).

Every API route but /healthz and the catalogues needs a login or a key, and who
acts is the one logged in (no ``actor`` in a body): a benchmark makes accounts
or keys in its own database and sends their bearer token or key.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gis.accounts import keys, logins
from gis.accounts.accounts import add_account, get_account
from gis.db.embedded import EmbeddedPostgres
from gis.errors import NotFoundError

LOGIN_LIFETIME = dt.timedelta(days=1)
"""How long a benchmark's bearer logins last: longer than any run."""

NO_FSYNC: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
"""No durable commits: a crash loses the cluster, which the benchmark throws away anyway."""

BULK_LOAD: dict[str, str] = {
    **NO_FSYNC,
    "shared_buffers": "1GB",
    "work_mem": "256MB",
    "maintenance_work_mem": "512MB",
}
"""For benchmarks that load and scan millions of rows in one session."""


@dataclass(frozen=True)
class Cluster:
    url: str
    """SQLAlchemy URL of the server's ``postgres`` database, to create benchmark databases from."""
    postmaster_pid: int | None
    """The server's postmaster process, for CPU accounting; None for a DATABASE_URL server."""


@contextmanager
def server(options: Mapping[str, str]) -> Iterator[Cluster]:
    """DATABASE_URL's server, or a new cluster started with ``options`` and removed afterwards.

    ``options`` are ``postgresql.conf`` settings (name to value) for the new
    cluster only; a DATABASE_URL server is used as it is configured.
    """
    url = os.environ.get("DATABASE_URL")
    if url:
        yield Cluster(url, None)
        return
    data = Path(tempfile.mkdtemp(prefix="gridmap-bench-", dir="/tmp"))
    cluster = EmbeddedPostgres(data, db_name="postgres", server_options=dict(options))
    try:
        url = cluster.start()
        pid = int((cluster.pgdata / "postmaster.pid").read_text().split()[0])
        yield Cluster(url, pid)
    finally:
        cluster.stop()
        shutil.rmtree(data, ignore_errors=True)


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time (s) of these processes and all their descendants, from /proc.

    Descendants that have exited (a PostgreSQL backend whose connection was
    closed) count through their parent's children-time fields once reaped.
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    seen: set[int] = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += sum(int(f) for f in fields[11:15]) / tick
            for task in Path(f"/proc/{pid}/task").iterdir():
                children = (task / "children").read_text().split()
                todo.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def bearer_headers(
    engine: Engine, username: str = "bench-admin", role: str = "admin", area_code: str | None = None
) -> dict[str, str]:
    """The ``Authorization`` header of a new bearer login of ``username`` (made with a random
    password if missing), committed to ``engine``'s database."""
    with Session(engine) as session:
        try:
            account = get_account(session, username)
        except NotFoundError:
            account = add_account(
                session, username, secrets.token_urlsafe(16), role, area_code=area_code
            )
        token = logins.open_login(session, account, "bearer", LOGIN_LIFETIME)
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def api_key(engine: Engine, name: str, scopes: Sequence[str]) -> str:
    """A new API key with ``scopes`` for the whole district, committed (``X-API-Key``, or
    Open311's ``api_key``)."""
    with Session(engine) as session:
        _, key = keys.create_key(session, name, scopes)
        session.commit()
    return key
