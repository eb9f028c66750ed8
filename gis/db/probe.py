"""Is the database there? Asked on a connection of its own, never a pooled one.

/healthz must answer within a second or two whatever the app is doing: it
neither waits for a pooled connection (all may be busy with slow requests)
nor for a worker thread (the threadpool may be full of them). So the probe is
asynchronous (psycopg's AsyncConnection, on the event loop itself), keeps one
connection of its own and gives every step a short limit. A dropped
connection is replaced at the next probe, at the port the engine would use
now, so the probe turns green by itself as soon as the server is back.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from sqlalchemy import Engine

from gis.db.engine import connect_params, first_line
from gis.errors import DatabaseUnavailableError

PROBE_TIMEOUT_S = 1.0
"""Limit of the connect, of the statement on the server and of the probe as a whole."""


class ServerProbe:
    """``await probe.version()``: the server's version, or DatabaseUnavailableError.

    Probes are serialised on the one connection (a probe is one short round
    trip). The connection belongs to the event loop it was opened on; a probe
    from another loop (a test client's) opens its own.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def version(self) -> str:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._lock is None:
            self._loop, self._lock, self._conn = loop, asyncio.Lock(), None
        try:
            async with asyncio.timeout(2 * PROBE_TIMEOUT_S), self._lock:
                if self._conn is not None:
                    try:
                        return await self._ask(self._conn)
                    except psycopg.Error:
                        await self._drop()  # dropped while idle: try a fresh one at once
                self._conn = await self._connect()
                return await self._ask(self._conn)
        except (psycopg.Error, OSError, TimeoutError) as exc:
            await self._drop()
            reason = first_line(exc)
            where = self._engine.url.render_as_string(hide_password=True)
            raise DatabaseUnavailableError(
                f"数据库无法连接。Cannot reach the database at {where}: {reason}. If it was "
                "stopped, start it (`gridmap db start`, or the server DATABASE_URL names); "
                "the app reconnects by itself."
            ) from exc

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        params = connect_params(self._engine)
        params["connect_timeout"] = max(1, round(PROBE_TIMEOUT_S))
        statement_ms = int(PROBE_TIMEOUT_S * 1000)
        return await psycopg.AsyncConnection.connect(
            **params,
            autocommit=True,
            options=f"-c statement_timeout={statement_ms}",
            application_name="gridmap-healthz",
        )

    @staticmethod
    async def _ask(conn: psycopg.AsyncConnection[Any]) -> str:
        cursor = await conn.execute("SHOW server_version")
        row = await cursor.fetchone()
        assert row is not None
        return str(row[0])

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    await conn.close()
            except (psycopg.Error, OSError, TimeoutError):
                pass

    async def close(self) -> None:
        """Close the probe's connection (at the app's shutdown)."""
        if self._loop is asyncio.get_running_loop():
            await self._drop()
        self._conn = None
