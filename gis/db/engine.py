"""Engines and sessions; driver errors become domain errors here, at the boundary."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gis.errors import ConflictError, DatabaseUnavailableError, InvalidParameterError
from gis.settings import DatabaseSettings


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine with pre-ping, so a restarted server is noticed, not fatal.

    The pool is sized by ``DatabaseSettings`` (``GRIDMAP_DB_POOL_SIZE``,
    ``GRIDMAP_DB_MAX_OVERFLOW``) unless ``kwargs`` say otherwise.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if "poolclass" not in kwargs:
        settings = DatabaseSettings()
        kwargs.setdefault("pool_size", settings.pool_size)
        kwargs.setdefault("max_overflow", settings.max_overflow)
    return create_engine(url, pool_pre_ping=True, **kwargs)  # type: ignore[arg-type]


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def check_reachable(engine: Engine) -> str:
    """The server version, or a clear error saying what to do if it cannot be reached."""
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one())
    except OperationalError as exc:
        raise DatabaseUnavailableError(
            f"Cannot reach the database at {engine.url.render_as_string(hide_password=True)}: "
            f"{exc.orig}. Check DATABASE_URL, or unset it to use the embedded server."
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
