"""Connection pool sizing: one kept connection per request the API serves at once."""

from __future__ import annotations

import pytest
from sqlalchemy.pool import NullPool

from gis.db.engine import make_engine
from gis.settings import DEFAULT_MAX_OVERFLOW, DEFAULT_POOL_SIZE

URL = "postgresql+psycopg://nobody:nothing@127.0.0.1:1/none"  # never connected to


def test_the_pool_keeps_a_connection_per_api_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIDMAP_DB_POOL_SIZE", raising=False)
    monkeypatch.delenv("GRIDMAP_DB_MAX_OVERFLOW", raising=False)
    engine = make_engine(URL)
    assert (engine.pool.size(), engine.pool._max_overflow) == (  # type: ignore[attr-defined]
        DEFAULT_POOL_SIZE,
        DEFAULT_MAX_OVERFLOW,
    )
    assert DEFAULT_POOL_SIZE == 40  # anyio's threadpool, which runs the API's handlers


def test_the_environment_and_the_caller_size_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDMAP_DB_POOL_SIZE", "8")
    monkeypatch.setenv("GRIDMAP_DB_MAX_OVERFLOW", "0")
    engine = make_engine(URL)
    assert (engine.pool.size(), engine.pool._max_overflow) == (8, 0)  # type: ignore[attr-defined]
    assert make_engine(URL, pool_size=2).pool.size() == 2
    assert isinstance(make_engine(URL, poolclass=NullPool).pool, NullPool)
