"""The embedded PostGIS: initialised once, reused, stopped by whoever started it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from gis.db.embedded import EmbeddedPostgres, database_url
from gis.db.engine import make_engine


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="gridmap-embedded-", dir="/tmp"))
    yield path
    EmbeddedPostgres(path).stop()
    shutil.rmtree(path, ignore_errors=True)


def test_start_reuse_stop_and_keep_data(data_dir: Path) -> None:
    first = EmbeddedPostgres(data_dir, db_name="keep")
    url = first.start()
    assert first.started_here and first.running_port() is not None
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE kept (x int)"))
        conn.execute(text("INSERT INTO kept VALUES (42)"))
    engine.dispose()

    second = EmbeddedPostgres(data_dir, db_name="keep")
    assert second.start() == url  # same server, same port: reused, not restarted
    assert not second.started_here

    first.stop()
    assert first.running_port() is None

    again = EmbeddedPostgres(data_dir, db_name="keep")
    engine = make_engine(again.start())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM kept")).scalar_one() == 42
    engine.dispose()
    again.stop()


def test_context_stops_only_what_it_started(data_dir: Path) -> None:
    with database_url(None, data_dir, db_name="ctx") as url:
        assert EmbeddedPostgres(data_dir).running_port() is not None
        assert url.endswith("/ctx")
    assert EmbeddedPostgres(data_dir).running_port() is None

    with database_url("postgresql://elsewhere/db", data_dir) as url:
        assert url == "postgresql://elsewhere/db"
        assert EmbeddedPostgres(data_dir).running_port() is None
