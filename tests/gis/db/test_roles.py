"""The application's role gridmap_app: it logs in, uses the data, and cannot rewrite the audit
trail or the schema; nobody can rewrite the audit trail."""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from gis.db.engine import make_engine
from gis.db.roles import APP_ROLE, app_database_url, connected_role, enable_app_login
from gis.settings import DatabaseSettings

INSERT_AUDIT = "INSERT INTO audit_log (principal, action) VALUES ('test', 'test.write')"


@pytest.fixture
def app_engine(engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """The tests' database as gridmap_app (every statement below is rolled back)."""
    app = make_engine(enable_app_login(engine, tmp_path / "app_password"))
    assert connected_role(app) == APP_ROLE
    yield app
    app.dispose()


def _refused(engine: Engine, statement: str, match: str) -> None:
    with engine.connect() as conn, pytest.raises(DBAPIError, match=match):
        conn.execute(text(statement))


def test_the_app_connects_as_its_own_role_with_a_kept_password(
    engine: Engine, tmp_path: Path
) -> None:
    kept = tmp_path / "app_password"
    url = enable_app_login(engine, kept)
    assert make_url(url).username == APP_ROLE and make_url(url).database == engine.url.database
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert make_url(url).password == kept.read_text().strip() != engine.url.password
    assert enable_app_login(engine, kept) == url  # idempotent: the same password again
    app = make_engine(url)
    try:
        assert connected_role(app) == APP_ROLE
        with app.connect() as conn:
            superuser = conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = :r"), {
                "r": APP_ROLE
            }).scalar_one()  # fmt: skip
        assert superuser is False
    finally:
        app.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'rewritten'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "CREATE TABLE mine (x int)",
        "ALTER TABLE incident ADD COLUMN x int",
        "DROP TABLE facility",
        "CREATE INDEX ON incident (description)",
        "UPDATE alembic_version SET version_num = '0001'",
        "CREATE ROLE intruder",
    ],
)
def test_the_app_role_cannot_rewrite_the_audit_trail_or_the_schema(
    app_engine: Engine, statement: str
) -> None:
    _refused(app_engine, statement, "permission denied|must be owner")


def test_the_app_role_adds_to_the_audit_trail_and_uses_the_data(app_engine: Engine) -> None:
    with app_engine.connect() as conn:
        conn.execute(text(INSERT_AUDIT))
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() >= 1
        conn.execute(text("INSERT INTO login_failure (username_key) VALUES ('x')"))
        conn.execute(text("DELETE FROM login_failure WHERE username_key = 'x'"))
        conn.execute(text("UPDATE account SET display_name = display_name"))
        conn.execute(text("CREATE TEMP TABLE scratch (x int)"))  # as bulk intake stages rows
        conn.rollback()


@pytest.mark.parametrize(
    ("statement", "match"),
    [
        ("UPDATE audit_log SET action = 'rewritten'", "append-only: UPDATE refused"),
        ("DELETE FROM audit_log", "append-only: DELETE refused"),
        ("TRUNCATE audit_log", "append-only: TRUNCATE refused"),
    ],
)
def test_even_the_owner_cannot_rewrite_the_audit_trail(
    engine: Engine, statement: str, match: str
) -> None:
    with engine.connect() as conn:
        conn.execute(text(INSERT_AUDIT))  # a row for UPDATE and DELETE to meet the trigger
        with pytest.raises(DBAPIError, match=match):
            conn.execute(text(statement))
        conn.rollback()


def test_another_server_is_used_as_the_settings_say(engine: Engine, tmp_path: Path) -> None:
    owner = "postgresql://owner:pw@db.example/gridmap"
    app = "postgresql://gridmap_app:pw2@db.example/gridmap"
    both = DatabaseSettings.model_validate({"DATABASE_URL": owner, "GRIDMAP_APP_DATABASE_URL": app})
    assert app_database_url(both, engine) == app
    assert app_database_url(DatabaseSettings.model_validate({"DATABASE_URL": owner}), engine) == (
        owner
    )
    # Without DATABASE_URL (the embedded cluster): the role's login, its password kept in the
    # data directory.
    own = DatabaseSettings.model_validate({"DATABASE_URL": None, "GRIDMAP_DATA_DIR": tmp_path})
    url = make_url(app_database_url(own, engine))
    assert url.username == APP_ROLE
    assert url.password == (tmp_path / "app_password").read_text().strip()


def test_servers_starting_together_agree_on_one_password(engine: Engine, tmp_path: Path) -> None:
    """uvicorn --workers N: every worker's lifespan gives the role its login at once."""
    kept = tmp_path / "app_password"
    urls: list[str] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            urls.append(enable_app_login(engine, kept))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=start) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == [] and len(set(urls)) == 1 and len(urls) == 8
    app = make_engine(urls[0])
    try:
        assert connected_role(app) == APP_ROLE
    finally:
        app.dispose()
    assert [p.name for p in tmp_path.iterdir()] == ["app_password"]  # no temporary file left
