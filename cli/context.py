"""The database a command works on: DATABASE_URL, or the embedded cluster.

Commands connect as the owner (migrations, imports, accounts); a command that
serves the API (`gridmap serve`, `gridmap demo`) also opens the application's
engine, which connects as the role ``gridmap_app`` (``gis.db.roles``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from sqlalchemy import Engine

from gis.db import schema
from gis.db.embedded import EmbeddedPostgres
from gis.db.engine import check_reachable, make_engine
from gis.db.roles import app_database_url
from gis.errors import DatabaseUnavailableError
from gis.settings import DatabaseSettings

console = Console(stderr=True)


@contextlib.contextmanager
def _opened(
    settings: DatabaseSettings, migrate: bool
) -> Iterator[tuple[Engine, EmbeddedPostgres | None]]:
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
        yield engine, cluster
    finally:
        engine.dispose()
        if cluster is not None and cluster.started_here:
            with console.status("Stopping the embedded PostGIS ..."):
                cluster.stop()


@contextlib.contextmanager
def open_engine(settings: DatabaseSettings | None = None, migrate: bool = True) -> Iterator[Engine]:
    """A migrated engine; the embedded server is stopped at exit if this call started it."""
    with _opened(settings or DatabaseSettings(), migrate) as (engine, _):
        yield engine


@contextlib.contextmanager
def open_app_engines(settings: DatabaseSettings | None = None) -> Iterator[tuple[Engine, Engine]]:
    """The owner's migrated engine and the API server's, connected as ``gridmap_app``
    (or by ``GRIDMAP_APP_DATABASE_URL`` on a server of one's own)."""
    settings = settings or DatabaseSettings()
    with _opened(settings, migrate=True) as (owner, cluster):
        app_engine = make_engine(
            app_database_url(settings, owner),
            port=cluster.current_port if cluster is not None else None,
        )
        try:
            try:
                check_reachable(app_engine)
            except DatabaseUnavailableError as exc:
                if not settings.app_database_url:
                    raise
                raise DatabaseUnavailableError(
                    f"{exc} The API server connects by GRIDMAP_APP_DATABASE_URL: check it "
                    "(the role needs LOGIN and a password), or unset it to use DATABASE_URL."
                ) from exc
            yield owner, app_engine
        finally:
            app_engine.dispose()
