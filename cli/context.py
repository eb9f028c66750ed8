"""The database a command works on: DATABASE_URL, or the embedded cluster."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from sqlalchemy import Engine

from gis.db import schema
from gis.db.embedded import EmbeddedPostgres
from gis.db.engine import check_reachable, make_engine
from gis.settings import DatabaseSettings

console = Console(stderr=True)


@contextlib.contextmanager
def open_engine(settings: DatabaseSettings | None = None, migrate: bool = True) -> Iterator[Engine]:
    """A migrated engine; the embedded server is stopped at exit if this call started it."""
    settings = settings or DatabaseSettings()
    cluster: EmbeddedPostgres | None = None
    if settings.database_url:
        url = settings.database_url
    else:
        cluster = EmbeddedPostgres(
            data_dir=settings.data_dir, db_name=settings.db_name, bindir=settings.pg_bindir
        )
        with console.status(f"Starting the embedded PostGIS in {cluster.data_dir} ..."):
            url = cluster.start()
    # A server that comes back on another port (its port taken while it was down) is followed.
    engine = make_engine(url, port=cluster.current_port if cluster is not None else None)
    try:
        check_reachable(engine)
        if migrate:
            schema.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        if cluster is not None and cluster.started_here:
            with console.status("Stopping the embedded PostGIS ..."):
                cluster.stop()
