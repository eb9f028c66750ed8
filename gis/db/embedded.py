"""A PostGIS cluster of the program's own, for when no DATABASE_URL is given.

The cluster lives in a data directory of its own, is reused on the next run,
listens only on 127.0.0.1 at a port picked at its first start (other servers
may hold the usual ones) and is stopped cleanly by whoever started it. The port
is remembered in the data directory (``port``) and taken again at every later
start while it is free, so an app that outlives a restart of the cluster finds
it where it was; when another program has taken it meanwhile, the cluster moves
and the app follows the ``port`` file (:meth:`EmbeddedPostgres.current_port`). PostgreSQL
refuses to run as root, so as root every server command runs as the
``postgres`` system user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from gis.errors import DatabaseUnavailableError

SERVICE_USER = "postgres"
DB_USER = "gridmap"


def find_pg_bindir(explicit: Path | None = None) -> Path:
    """The newest installed PostgreSQL server binaries (Debian keeps them per version)."""
    if explicit is not None:
        candidates = [explicit]
    else:
        root = Path("/usr/lib/postgresql")
        versions = sorted(
            (p for p in root.glob("*/bin") if (p / "pg_ctl").exists()),
            key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
            reverse=True,
        )
        candidates = versions
        on_path = shutil.which("pg_ctl")
        if on_path:
            candidates.append(Path(on_path).resolve().parent)
    for bindir in candidates:
        if (bindir / "pg_ctl").exists() and (bindir / "initdb").exists():
            return bindir
    raise DatabaseUnavailableError(
        "No PostgreSQL server binaries found. Run `make demo` (it installs "
        "postgresql-15-postgis-3), set GRIDMAP_PG_BINDIR, or set DATABASE_URL "
        "to an existing PostGIS server."
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` now.

    Bound with SO_REUSEADDR, as PostgreSQL binds: connections of the last
    server still in TIME_WAIT do not keep it from listening there again.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _is_zombie(pid: int) -> bool:
    """Whether process ``pid`` has exited and waits only to be reaped (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # gone, or no /proc: pg_ctl's own answer stands
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


STALE_SHMEM_RETRIES = 20
"""Starts tried while the backends of a killed postmaster still hold its shared
memory (they notice its death and exit within a second or so)."""


@dataclass
class EmbeddedPostgres:
    """One cluster in ``data_dir``; ``start`` returns a SQLAlchemy URL."""

    data_dir: Path
    db_name: str = "gridmap"
    bindir: Path | None = None
    server_options: dict[str, str] = field(default_factory=dict)
    started_here: bool = field(default=False, init=False)

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def _password_file(self) -> Path:
        return self.data_dir / "password"

    @property
    def _log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    @property
    def port_file(self) -> Path:
        """The port the cluster listens on, or last listened on (readable by all)."""
        return self.data_dir / "port"

    @property
    def password_file(self) -> Path:
        """Where the database password is kept (mode 600); never printed."""
        return self._password_file

    def current_port(self) -> int | None:
        """The port in the ``port`` file: where the cluster listens, or listened last.

        Cheap (one small read, no process), so an engine may ask it at every new
        connection and follow a cluster that moved to another port.
        """
        try:
            return int(self.port_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        bindir = find_pg_bindir(self.bindir)
        cmd = [str(bindir / args[0]), *args[1:]]
        if self._as_root():
            cmd = ["runuser", "-u", SERVICE_USER, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise DatabaseUnavailableError(
                f"`{' '.join(args[:2])}` failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-800:]}\n"
                f"See {self._log_file} for the server log."
            )
        return result

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._as_root():
            try:
                pw = pwd.getpwnam(SERVICE_USER)
            except KeyError as exc:
                raise DatabaseUnavailableError(
                    "Running as root needs the 'postgres' system user "
                    "(created by Debian's postgresql package). Run `make demo` to install it."
                ) from exc
            os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
            self.data_dir.chmod(0o755)
            # Every parent must be traversable by the postgres user.
            for parent in self.data_dir.resolve().parents:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    raise DatabaseUnavailableError(
                        f"The postgres user cannot reach {self.data_dir}: {parent} is not "
                        "world-executable. Set GRIDMAP_DATA_DIR to a directory under "
                        "/var/lib or /tmp."
                    )

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def is_initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def initialise(self) -> None:
        """initdb with password authentication; the password stays in the data dir."""
        self._prepare_dirs()
        password = secrets.token_urlsafe(24)
        pwfile = self.data_dir / "initdb.pw"
        pwfile.write_text(password)
        if self._as_root():
            pw = pwd.getpwnam(SERVICE_USER)
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        pwfile.chmod(0o600)
        try:
            self._run(
                [
                    "initdb",
                    "-D",
                    str(self.pgdata),
                    "-U",
                    DB_USER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self._password_file.write_text(password)
        self._password_file.chmod(0o600)

    def running_port(self) -> int | None:
        """The port of a server already running on this data dir, if any."""
        if not self.is_initialised():
            return None
        if self._run(["pg_ctl", "status", "-D", str(self.pgdata)], check=False).returncode != 0:
            return None
        lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        if _is_zombie(int(lines[0])):
            # Killed, but not yet reaped by its parent (init, which may take its time):
            # pg_ctl and PostgreSQL both take it for alive. It holds nothing any more,
            # so its lock file goes and the next start goes ahead.
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
            return None
        return int(lines[3])

    def url(self, port: int, db_name: str | None = None) -> str:
        password = self._password_file.read_text().strip()
        return (
            f"postgresql+psycopg://{DB_USER}:{password}@127.0.0.1:{port}/{db_name or self.db_name}"
        )

    def start(self) -> str:
        """Start the cluster (initialising it first if new) and return its URL."""
        with self._lock():
            if not self.is_initialised():
                self.initialise()
            else:
                self._prepare_dirs()
            port = self.running_port()
            if port is None:
                port = self._start_server()
                self.started_here = True
            elif self.current_port() != port:  # a cluster started before ports were kept
                self.port_file.write_text(f"{port}\n")
            self._ensure_database(port)
            return self.url(port)

    def _start_server(self) -> int:
        options = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": "",
            "max_connections": "100",
            "shared_buffers": "256MB",
            **self.server_options,
        }
        opts = " ".join(f"-c {k}={v!s}" if v else f"-c {k}=''" for k, v in options.items())
        last_error: DatabaseUnavailableError | None = None
        remembered = self.current_port()
        tries = 0
        while tries < 3:
            if remembered is not None and port_is_free(remembered):
                port = remembered
            else:
                port = free_port()
            remembered = None  # a port refused once is not tried again
            try:
                self._pg_ctl_start(port, opts)
            except DatabaseUnavailableError as exc:  # port taken between pick and bind
                last_error = exc
                tries += 1
                continue
            self.port_file.write_text(f"{port}\n")
            self.port_file.chmod(0o644)
            return port
        assert last_error is not None
        raise last_error

    def _pg_ctl_start(self, port: int, opts: str) -> None:
        """``pg_ctl start`` on ``port``; waits out the backends of a killed postmaster.

        After a ``kill -9`` of the postmaster its ``postmaster.pid`` is left
        behind; PostgreSQL sees that its pid is dead and starts anyway, but
        refuses while backends of the old server still hold its shared memory
        ("pre-existing shared memory block is still in use"). They exit once
        they notice their postmaster is gone, so that refusal is retried.
        """
        for _ in range(STALE_SHMEM_RETRIES):
            try:
                self._run(
                    [
                        "pg_ctl",
                        "start",
                        "-w",
                        "-t",
                        "60",
                        "-D",
                        str(self.pgdata),
                        "-l",
                        str(self._log_file),
                        "-o",
                        f"-p {port} {opts}",
                    ]
                )
                return
            except DatabaseUnavailableError:
                if not self._old_backends_linger():
                    raise
                time.sleep(0.5)
        raise DatabaseUnavailableError(
            f"The embedded PostgreSQL in {self.pgdata} cannot start: processes of a "
            "previous server still hold its shared memory. Stop them (`ps -u postgres`) "
            f"and run `gridmap db start` again. See {self._log_file}."
        )

    def _old_backends_linger(self) -> bool:
        """Whether the last start failed because the old server's memory is still in use."""
        try:
            tail = self._log_file.read_text(errors="replace")[-2000:]
        except OSError:
            return False
        return "pre-existing shared memory block" in tail and "still in use" in tail

    def _ensure_database(self, port: int) -> None:
        password = self._password_file.read_text().strip()
        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            user=DB_USER,
            password=password,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.db_name,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.db_name)))

    def stop(self) -> None:
        """Fast shutdown: sessions are disconnected, data is flushed."""
        if self.running_port() is not None:
            self._run(["pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w"])
        self.started_here = False


@contextlib.contextmanager
def database_url(
    explicit_url: str | None, data_dir: Path, db_name: str = "gridmap", bindir: Path | None = None
) -> Iterator[str]:
    """Yield the URL of the database to use; stop the embedded server if we started it."""
    if explicit_url:
        yield explicit_url
        return
    cluster = EmbeddedPostgres(data_dir=data_dir, db_name=db_name, bindir=bindir)
    url = cluster.start()
    try:
        yield url
    finally:
        if cluster.started_here:
            cluster.stop()
