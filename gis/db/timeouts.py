"""Statement timeouts per session, so that no one request's SQL runs without end.

Who decides how long is the caller (the API gives each request's session the
timeout of its kind of work, ``api.limits``); this module only applies it. It
is set with ``SET LOCAL`` at the start of every transaction the session begins,
so it ends with that transaction and never stays on the pooled connection: the
coverage listener, the escalation sweep and the CLI share the engine and must
keep the server's own limit.
"""

from __future__ import annotations

import psycopg
from sqlalchemy import Connection, event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

_KEY = "statement_timeout_ms"


def bound_statements(maker: sessionmaker[Session]) -> None:
    """Make the sessions of ``maker`` apply their :func:`limit_statements` at each BEGIN.

    Idempotent; sessions given no limit run as before.
    """
    if not event.contains(maker, "after_begin", _set_local_timeout):
        event.listen(maker, "after_begin", _set_local_timeout)


def limit_statements(session: Session, seconds: float) -> None:
    """Have the server cancel any statement of ``session`` that runs longer than ``seconds``.

    0 leaves the server's own setting. Takes effect from the next transaction
    the session begins (set it before the first query).
    """
    session.info[_KEY] = max(1, round(seconds * 1000)) if seconds > 0 else None


def _set_local_timeout(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    milliseconds = session.info.get(_KEY)
    if milliseconds:
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(milliseconds)}")


def is_statement_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is the server cancelling a statement (SQLSTATE 57014, query_canceled).

    Raised bare by psycopg or wrapped by SQLAlchemy (an ``OperationalError``
    whose ``orig`` it is). The transaction it ran in is aborted, so nothing it
    wrote is kept.
    """
    return isinstance(getattr(exc, "orig", exc), psycopg.errors.QueryCanceled)
