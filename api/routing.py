"""Routes whose reads are tried a second time when the database connection breaks.

A GET that fails because its connection was dropped (the server restarted,
a pooled connection died under it) is run once more on a fresh connection
before the client sees a 503: reads change nothing, so repeating one is safe.
Writes are never repeated here, since whether their commit arrived is unknown;
they answer 503 (api/errors.py) and the client decides.

Every router of the app uses :class:`ReadRetryRoute` (tests/api/test_recovery
checks that none is left out).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import anyio
from fastapi import Request, Response
from fastapi.routing import APIRoute

from gis.db.engine import is_unreachable
from gis.errors import DatabaseUnavailableError

READ_RETRY_DELAY_S = 0.25
"""Pause before the second try, so a server that is just coming back can accept it."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing: tried again, bounded as light reads, never 'not acknowledged'."""

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class ReadRetryRoute(APIRoute):
    """An APIRoute whose GET handler runs a second time after a connection error."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if not self.methods or not self.methods <= SAFE_METHODS:
            return handler

        async def read_twice_if_the_connection_broke(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                if not _connection_broke(exc):
                    raise
            await anyio.sleep(READ_RETRY_DELAY_S)
            return await handler(request)

        return read_twice_if_the_connection_broke


def _connection_broke(exc: BaseException) -> bool:
    """A lost connection, raw or already explained as DatabaseUnavailableError by gis."""
    cause = exc.__cause__ if isinstance(exc, DatabaseUnavailableError) else None
    return is_unreachable(exc) or (cause is not None and is_unreachable(cause))
