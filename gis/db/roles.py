"""The application's own database role: what the API server connects as.

Migration 0007 creates ``gridmap_app`` without login and grants it what the
application needs: reading and writing its tables, never changing their
definitions, and only adding to the audit trail (INSERT and SELECT on
``audit_log``). Migrations, imports and the command line keep connecting as
the owner. So that a flaw in the API cannot rewrite the audit trail or the
schema, the API server connects as ``gridmap_app``:

* on the program's own cluster (no ``DATABASE_URL``) the role gets a login and
  a password kept in the data directory next to the owner's (mode 600), made
  at the first start after the migrations and reused at every later one;
* on another server, the administrator gives the role a login and points
  ``GRIDMAP_APP_DATABASE_URL`` at it; without that setting the API connects
  with ``DATABASE_URL`` as is.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from psycopg import sql
from sqlalchemy import Engine, text

from gis.errors import DatabaseUnavailableError
from gis.settings import DatabaseSettings

APP_ROLE = "gridmap_app"
"""Created by migration 0007 (``gis/db/migrations/versions/0007_accounts_and_audit.py``)."""

_LOCK_KEY = 370_705_007
"""Transaction-level advisory lock taken while the role's login is set."""

PASSWORD_FILE = "app_password"
"""The role's password, in the embedded cluster's data directory (mode 600)."""


def app_password_file(data_dir: Path) -> Path:
    return data_dir / PASSWORD_FILE


def _kept_password(path: Path) -> str:
    """The password in ``path``, made first if there is none.

    Written whole to a temporary file and linked into place, so that two
    processes starting together agree on one password and neither reads half
    of it.
    """
    with contextlib.suppress(FileNotFoundError):
        kept = path.read_text().strip()
        if kept:
            return kept
    fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24))
        with contextlib.suppress(FileExistsError):  # another process was first: its stands
            os.link(fresh, path)
    finally:
        fresh.unlink(missing_ok=True)
    return path.read_text().strip()


def enable_app_login(owner: Engine, password_file: Path) -> str:
    """Give ``gridmap_app`` a login with the password kept in ``password_file``;
    the URL of ``owner``'s database as that role.

    Idempotent: run at every start after the migrations (the password is set
    again, to the same value). ``owner`` must be allowed to alter roles (the
    embedded cluster's owner is its superuser).
    """
    password = _kept_password(password_file)
    with owner.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}
        ).first()
        if exists is None:
            raise DatabaseUnavailableError(
                f"the database role {APP_ROLE} is missing: run `gridmap db migrate` "
                "(migration 0007 creates it), then start again"
            )
        # Several server processes starting at once (uvicorn --workers) take turns:
        # concurrent ALTER ROLEs of one role fail with "tuple concurrently updated".
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        raw = conn.connection.driver_connection
        assert raw is not None
        statement = sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
            sql.Identifier(APP_ROLE), sql.Literal(password)
        )
        raw.execute(statement)
        conn.commit()
    url = owner.url.set(username=APP_ROLE, password=password)
    return url.render_as_string(hide_password=False)


def app_database_url(settings: DatabaseSettings, owner: Engine) -> str:
    """The URL the API server connects with (see the module's docstring).

    ``owner`` is the migrated engine of the owner, used on the embedded cluster
    to give the role its login.
    """
    if settings.database_url:
        return settings.app_database_url or settings.database_url
    return enable_app_login(owner, app_password_file(settings.data_dir))


def connected_role(engine: Engine) -> str:
    """The role ``engine``'s connections act as (``current_user``)."""
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_user")).scalar_one())
