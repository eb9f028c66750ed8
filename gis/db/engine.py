"""Engines and sessions; driver errors become domain errors here, at the boundary."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import psycopg
import psycopg.types.json
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from gis.errors import ConflictError, DatabaseUnavailableError, InvalidParameterError
from gis.lang import Texts
from gis.settings import DatabaseSettings

psycopg.types.json.set_json_loads(orjson.loads)
"""json/jsonb columns (GeoJSON geometries from ``ST_AsGeoJSON``) are parsed by orjson:
the standard library's parser held the GIL for most of a hot-spot map's time, and
every other request of the process waited behind it (tests/api/test_burst.py)."""

PortSource = Callable[[], int | None]
"""Where the server listens now (None: as the URL says), asked at every new connection."""

SESSION_OPTIONS = "-c jit=off"
"""Server settings of every session. PostgreSQL's JIT compiles a query's expressions
with LLVM once its estimated cost passes ``jit_above_cost``; spatial queries (the
coverage selects of ``gis.coverage.tables``, vector tiles) are estimated that high
and spend their time in PostGIS functions JIT cannot speed up, so compiling only
adds seconds: 3.3 s of a 3.6 s coverage query on a busy two-core machine, 0.3 s without."""

CONNECT_TIMEOUT_S = 5
"""Seconds a new connection may take: a server that does not answer is an error
(503 at the API), not a request hanging for the minutes TCP would wait."""

_port_sources: weakref.WeakKeyDictionary[Engine, PortSource] = weakref.WeakKeyDictionary()


def make_engine(url: str, *, port: PortSource | None = None, **kwargs: object) -> Engine:
    """An engine with pre-ping, so a restarted server is noticed, not fatal.

    Every pooled connection is tried (``SELECT 1``) before it is handed out;
    one the server dropped is replaced, and after a disconnect every older
    connection of the pool is replaced too. ``port`` (the embedded cluster's
    :meth:`~gis.db.embedded.EmbeddedPostgres.current_port`) is asked at every
    new connection, so the engine follows a cluster that restarted elsewhere.

    The pool is sized by ``DatabaseSettings`` (``GRIDMAP_DB_POOL_SIZE``,
    ``GRIDMAP_DB_MAX_OVERFLOW``) unless ``kwargs`` say otherwise.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if "poolclass" not in kwargs:
        settings = DatabaseSettings()
        kwargs.setdefault("pool_size", settings.pool_size)
        kwargs.setdefault("max_overflow", settings.max_overflow)
    engine = create_engine(url, pool_pre_ping=True, **kwargs)  # type: ignore[arg-type]
    if port is not None:
        _port_sources[engine] = port

    @event.listens_for(engine, "do_connect")
    def _connect_where_the_server_is(
        dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]
    ) -> None:
        cparams.update(_current_params(engine))
        cparams["options"] = f"{cparams.get('options', '')} {SESSION_OPTIONS}".strip()

    return engine


def _current_params(engine: Engine) -> dict[str, Any]:
    params: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S}
    source = _port_sources.get(engine)
    current = source() if source is not None else None
    if current is not None:
        params["port"] = current
    return params


def connect_params(engine: Engine) -> dict[str, Any]:
    """Keyword arguments of ``psycopg.connect`` for a connection of one's own to
    ``engine``'s database, at the port the engine would connect to now.

    For what must not wait for (or hold) a pooled connection: the coverage
    listener, the /healthz probe.
    """
    _, params = engine.dialect.create_connect_args(engine.url)
    params = {k: v for k, v in params.items() if k != "context"}
    params.update(_current_params(engine))
    return params


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached (down, restarting, the
    connection dropped, no pooled connection free) rather than refusing a statement.

    A statement cancelled by its timeout, a serialization failure or a deadlock
    are OperationalErrors too, but the server answered: they are not this.
    """
    if isinstance(exc, PoolTimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    if not isinstance(exc, psycopg.OperationalError):
        return False
    sqlstate = exc.sqlstate
    # None: the client lost or could not open the connection; 08: connection
    # exception; 57P01-03: the server is shutting down or starting up; 53300: full.
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in _UNREACHABLE_STATES


_UNREACHABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def unavailable(exc: BaseException, interrupted: Texts | None = None) -> DatabaseUnavailableError:
    """The domain error for an unreachable database: what happened and what to do.

    ``interrupted`` names, in both languages, uncommitted work the failure rolled back ("the
    buildings import"), so the message can say nothing of it was stored.
    """
    lost = (
        f"{interrupted.en[:1].upper()}{interrupted.en[1:]} was interrupted and rolled back: "
        "nothing of it was stored. "
        if interrupted
        else ""
    )
    lost_zh = f"{interrupted.zh}已中断并回滚，未保存任何内容。" if interrupted else ""
    return DatabaseUnavailableError(
        f"The database cannot be reached right now ({first_line(exc)}). {lost}Try again in "
        "a few seconds; if it was stopped, start it (`gridmap db start`, or the server "
        "DATABASE_URL names).",
        zh=f"数据库暂时无法连接（{first_line(exc)}）。{lost_zh}请几秒后重试；如数据库已停止，"
        "请启动它（`gridmap db start`，或 DATABASE_URL 所指的服务器）。",
    )


def first_line(exc: BaseException) -> str:
    """The driver's own first line of ``exc``: what a one-line error message quotes."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__


@contextlib.contextmanager
def unreachable_as_domain_error(interrupted: Texts | None = None) -> Iterator[None]:
    """Turn a lost or refused connection into :class:`DatabaseUnavailableError`;
    every other error passes unchanged. Usable as a decorator.

    ``interrupted``: the uncommitted work inside, named in the message (see
    :func:`unavailable`); leave it out where a commit happens inside.
    """
    try:
        yield
    except (DBAPIError, PoolTimeoutError, psycopg.OperationalError) as exc:
        if is_unreachable(exc):
            raise unavailable(exc, interrupted) from exc
        raise


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def check_reachable(engine: Engine) -> str:
    """The server version, or a clear error saying what to do if it cannot be reached."""
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one())
    except OperationalError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseUnavailableError(
            f"Cannot reach the database at {where}: "
            f"{exc.orig}. Check DATABASE_URL, or unset it to use the embedded server.",
            zh=f"无法连接数据库 {where}：{exc.orig}。请检查 DATABASE_URL，"
            "或取消设置以使用内置数据库。",
        ) from exc


@contextlib.contextmanager
def translate_integrity_errors() -> Iterator[None]:
    """Turn unique/exclusion/check violations into a ConflictError that says which."""
    try:
        yield
    except IntegrityError as exc:
        diag = getattr(exc.orig, "diag", None)
        detail = getattr(diag, "message_detail", None) or getattr(diag, "message_primary", None)
        raise ConflictError(str(detail or exc.orig)) from exc


@contextlib.contextmanager
def refusals(what: str) -> Iterator[None]:
    """Turn what the database refuses in a bulk write (COPY, INSERT … SELECT) into a domain
    error naming the constraint: ``ConflictError`` for integrity, ``InvalidParameterError``
    for data errors; anything else is re-raised as it is.

    ``what`` names the write in the message ("the buildings import").
    """
    try:
        yield
    except (psycopg.Error, DBAPIError) as exc:
        orig = getattr(exc, "orig", exc)
        diag = getattr(orig, "diag", None)
        primary = getattr(diag, "message_primary", None) or str(orig).splitlines()[0]
        detail = getattr(diag, "message_detail", None)
        message = f"the database refused {what}, so nothing was written: {primary}"
        message += f" ({detail})" if detail else ""
        if isinstance(orig, psycopg.errors.IntegrityError):
            raise ConflictError(message) from exc
        if isinstance(orig, psycopg.errors.DataError):
            raise InvalidParameterError(message) from exc
        raise


def _admin_engine(server_url: str) -> Engine:
    return create_engine(
        make_url(server_url).set(database="postgres", drivername="postgresql+psycopg"),
        isolation_level="AUTOCOMMIT",
    )


def recreate_database(server_url: str, name: str) -> str:
    """Drop database ``name`` if it exists, create it empty and return its URL.

    For test suites and benchmarks, which each want a database of their own on
    one server; ``server_url`` may name any database on that server.
    """
    admin = _admin_engine(server_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` (disconnecting its sessions) if it exists."""
    admin = _admin_engine(server_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
