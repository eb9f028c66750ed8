"""Every test runs on a real PostGIS started by the suite itself.

``GRIDMAP_TEST_DATABASE_URL`` points the suite at an existing server instead
(a database of that name is created and dropped there). Each test that takes
``db`` runs inside a transaction rolled back at its end, so tests never see
each other's rows. Tests that need the demo district share one database loaded
once per session (``demo_engine``) and must not write to it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gis.db import schema
from gis.db.embedded import EmbeddedPostgres
from gis.db.engine import make_engine, recreate_database
from tests.accounts import DEMO_PASSWORD

FAST_TEST_SERVER = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of the maintenance database of a PostGIS server for the whole session."""
    external = os.environ.get("GRIDMAP_TEST_DATABASE_URL")
    if external:
        yield external
        return
    data_dir = Path(tempfile.mkdtemp(prefix="gridmap-test-", dir="/tmp"))
    cluster = EmbeddedPostgres(
        data_dir=data_dir, db_name="postgres", server_options=FAST_TEST_SERVER
    )
    url = cluster.start()
    try:
        yield url
    finally:
        cluster.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def cluster_dir() -> Iterator[Path]:
    """An empty data directory for a cluster of the test's own, under /tmp (which the
    postgres user reaches when the tests run as root); whatever server runs on it is
    stopped afterwards and the directory removed."""
    path = Path(tempfile.mkdtemp(prefix="gridmap-cluster-", dir="/tmp"))
    yield path
    EmbeddedPostgres(path).stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def engine(server_url: str) -> Iterator[Engine]:
    """A migrated, empty database for tests that write (each in a rolled-back transaction)."""
    eng = make_engine(recreate_database(server_url, "gridmap_test"))
    schema.upgrade(eng)
    yield eng
    eng.dispose()


@contextlib.contextmanager
def rolled_back(engine: Engine) -> Iterator[Session]:
    """A session on ``engine`` whose work, commits included, is rolled back at the end."""
    with engine.connect() as conn:
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test, commits included."""
    with rolled_back(engine) as session:
        yield session


@pytest.fixture(scope="session")
def demo_engine(server_url: str) -> Iterator[Engine]:
    """The demo district, loaded once per session. Read-only for tests."""
    from gis.demo.load import load_demo

    eng = make_engine(recreate_database(server_url, "gridmap_demo_test"))
    schema.upgrade(eng)
    load_demo(eng, password=DEMO_PASSWORD)
    yield eng
    eng.dispose()
