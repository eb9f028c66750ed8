"""The `gridmap` command: readable output, clear errors, DATABASE_URL honoured."""

from __future__ import annotations

import socket

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from gis.accounts.logins import check_password
from gis.db import schema
from gis.db.engine import drop_database, make_engine, recreate_database
from gis.principal import Role

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "serve", "import", "db", "users", "keys", "audit"):
        assert command in result.output


def test_busy_port_is_a_clear_error_not_a_traceback() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"端口 {port}" in result.output and "--port" in result.output
    assert "Traceback" not in result.output


def test_db_commands_defer_to_database_url() -> None:
    result = runner.invoke(app, ["db", "status"], env={"DATABASE_URL": "postgresql://x/y"})
    assert result.exit_code == 0
    assert "已设置 DATABASE_URL" in result.output


def test_unreachable_database_url_says_what_to_do() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    url = f"postgresql://nobody:x@127.0.0.1:{port}/nothing"
    result = runner.invoke(app, ["db", "migrate"], env={"DATABASE_URL": url})
    assert result.exit_code == 1
    assert "无法连接数据库" in result.output and "DATABASE_URL" in result.output


def test_demo_on_a_loaded_database_loads_nothing_and_prints_counts(demo_engine: Engine) -> None:
    url = demo_engine.url.render_as_string(hide_password=False)
    result = runner.invoke(app, ["demo", "--no-serve"], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert "370705" in result.output
    assert "网格" in result.output
    assert "账号" in result.output
    assert "密码" not in result.output  # told once, when the accounts were made


def test_demo_prints_its_random_password_once_with_accounts_to_try(server_url: str) -> None:
    engine = make_engine(recreate_database(server_url, "gridmap_cli_demo"))
    try:
        schema.upgrade(engine)
        env = {
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "GRIDMAP_DEMO_PASSWORD": "",
            "COLUMNS": "200",
        }
        first = runner.invoke(app, ["demo", "--no-serve"], env=env)
        assert first.exit_code == 0, first.output
        password = first.stdout.rstrip("\n").splitlines()[-1]
        assert len(password) >= 16 and " " not in password
        for username in ("admin", "planner", "district", "subdistrict-", "community-", "grid-"):
            assert username in first.stdout
        with Session(engine) as session:
            assert check_password(session, "admin", password).role is Role.ADMIN
            grid = first.stdout.split("grid-", 1)[1].split()[0]
            assert check_password(session, f"grid-{grid}", password).role is Role.GRID_MANAGER
            session.rollback()
        again = runner.invoke(app, ["demo", "--no-serve"], env=env)
        assert again.exit_code == 0, again.output
        assert password not in again.output and "密码" not in again.output
    finally:
        engine.dispose()
        drop_database(server_url, "gridmap_cli_demo")


def test_a_demo_password_too_short_is_refused_before_anything_is_loaded() -> None:
    result = runner.invoke(
        app, ["demo", "--no-serve"], env={"GRIDMAP_DEMO_PASSWORD": "short", "DATABASE_URL": "x"}
    )
    assert result.exit_code == 1
    assert "GRIDMAP_DEMO_PASSWORD" in result.output and "at least 8" in result.output
