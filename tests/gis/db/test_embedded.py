"""The embedded PostGIS: initialised once, reused, stopped by whoever started it."""

from __future__ import annotations

import socket
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from gis.db.embedded import EmbeddedPostgres, database_url
from gis.db.engine import make_engine


def test_start_reuse_stop_and_keep_data(cluster_dir: Path) -> None:
    first = EmbeddedPostgres(cluster_dir, db_name="keep")
    url = first.start()
    assert first.started_here and first.running_port() is not None
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE kept (x int)"))
        conn.execute(text("INSERT INTO kept VALUES (42)"))
    engine.dispose()

    second = EmbeddedPostgres(cluster_dir, db_name="keep")
    assert second.start() == url  # same server, same port: reused, not restarted
    assert not second.started_here

    first.stop()
    assert first.running_port() is None

    again = EmbeddedPostgres(cluster_dir, db_name="keep")
    engine = make_engine(again.start())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM kept")).scalar_one() == 42
    engine.dispose()
    again.stop()


def test_context_stops_only_what_it_started(cluster_dir: Path) -> None:
    with database_url(None, cluster_dir, db_name="ctx") as url:
        assert EmbeddedPostgres(cluster_dir).running_port() is not None
        assert url.endswith("/ctx")
    assert EmbeddedPostgres(cluster_dir).running_port() is None

    with database_url("postgresql://elsewhere/db", cluster_dir) as url:
        assert url == "postgresql://elsewhere/db"
        assert EmbeddedPostgres(cluster_dir).running_port() is None


def test_the_port_is_kept_across_restarts_and_followed_where_it_is_taken(cluster_dir: Path) -> None:
    cluster = EmbeddedPostgres(cluster_dir, db_name="moves")
    first = make_url(cluster.start()).port
    assert cluster.current_port() == first
    engine = make_engine(cluster.url(first), port=cluster.current_port)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    cluster.stop()
    assert make_url(cluster.start()).port == first  # free again: taken again
    cluster.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", first or 0))
        squatter.listen()
        moved = make_url(cluster.start()).port
    assert moved != first and cluster.current_port() == moved
    with engine.connect() as conn:  # the engine, made for the old port, follows
        port = conn.execute(text("SELECT current_setting('port')::int")).scalar_one()
    assert port == moved
    engine.dispose()
    cluster.stop()
