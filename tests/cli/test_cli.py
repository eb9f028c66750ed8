"""The `gridmap` command: readable output, clear errors, DATABASE_URL honoured."""

from __future__ import annotations

import socket

from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "serve", "import", "db"):
        assert command in result.output


def test_busy_port_is_a_clear_error_not_a_traceback() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"port {port}" in result.output and "--port" in result.output
    assert "Traceback" not in result.output


def test_db_commands_defer_to_database_url() -> None:
    result = runner.invoke(app, ["db", "status"], env={"DATABASE_URL": "postgresql://x/y"})
    assert result.exit_code == 0
    assert "DATABASE_URL is set" in result.output


def test_unreachable_database_url_says_what_to_do() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    url = f"postgresql://nobody:x@127.0.0.1:{port}/nothing"
    result = runner.invoke(app, ["db", "migrate"], env={"DATABASE_URL": url})
    assert result.exit_code == 1
    assert "Cannot reach" in result.output and "DATABASE_URL" in result.output


def test_demo_on_a_loaded_database_loads_nothing_and_prints_counts(demo_engine: Engine) -> None:
    url = demo_engine.url.render_as_string(hide_password=False)
    result = runner.invoke(app, ["demo", "--no-serve"], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert "370705" in result.output
    assert "grids" in result.output
