"""Every `gridmap` command fails with one line (what, where, what to do), never a traceback.

The database going away is the failure an operator meets most: here it is
unreachable from the start (every command that opens it) and lost in the
middle of an import (the backend terminated, as when PostgreSQL is stopped or
crashes), which must leave nothing behind.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from gis.db.engine import drop_database, make_engine, recreate_database
from tests.gis.imports.import_district import deployment_files

runner = CliRunner()


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


@pytest.fixture
def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    return f"postgresql://planner:s3cret-pw@127.0.0.1:{port}/gridmap"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "command",
    [
        ["db", "migrate"],
        ["demo", "--no-serve"],
        ["serve", "--port", "{port}"],
        ["import", "buildings", "{file}", "--datum", "wgs84"],
        ["coverage", "--type", "kindergarten"],
        ["norms"],
        ["incidents", "stats"],
        ["incidents", "escalate"],
        ["users", "list"],
        ["users", "disable", "someone"],
        ["keys", "list"],
        ["keys", "create", "--name", "hotline", "--scopes", "open311"],
        ["keys", "revoke", "hotline"],
        ["audit"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_an_unreachable_database_is_one_line_for_every_command(
    dead_url: str, tmp_path: Path, command: list[str]
) -> None:
    data = tmp_path / "b.csv"
    data.write_text("ext_id,households,lon,lat\nB1,3,119.12,36.7\n")
    args = [a.format(port=_free_port(), file=data) for a in command]
    result = runner.invoke(app, args, env={"DATABASE_URL": dead_url, "COLUMNS": "80"})
    assert result.exit_code == 1, result.output
    [line] = _lines(result.output)  # one line, not wrapped at 80 columns
    assert line.startswith("错误：无法连接数据库") and "DATABASE_URL" in line
    assert "s3cret-pw" not in result.output and "Traceback" not in result.output


@pytest.fixture
def scratch(server_url: str) -> Iterator[Engine]:
    name = "gridmap_cli_errors_test"
    engine = make_engine(recreate_database(server_url, name))
    yield engine
    engine.dispose()
    drop_database(server_url, name)


def test_a_database_lost_mid_import_is_one_line_and_stores_nothing(
    scratch: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The importing connection is terminated just before it writes (what a stopped or
    crashed server does to it): one line naming the cause and the way back, no psycopg
    traceback, and not one row stored."""
    from gis.imports import importer

    write_layer = importer.write_layer

    def terminated(session: Session, *args: Any, **kwargs: Any) -> int:
        session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return write_layer(session, *args, **kwargs)

    monkeypatch.setattr(importer, "write_layer", terminated)
    url = scratch.url.render_as_string(hide_password=False)
    districts = deployment_files(tmp_path)["districts"]
    result = runner.invoke(
        app,
        ["import", "districts", str(districts), "--datum", "wgs84"],
        env={"DATABASE_URL": url, "COLUMNS": "80"},
    )
    assert result.exit_code == 1, result.output
    errors = [line for line in _lines(result.output) if line.startswith("错误：")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert "数据库暂时无法连接" in errors[0] or "数据库停止响应" in errors[0]
    assert "未保存" in errors[0] and "DATABASE_URL" in errors[0]
    with scratch.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM admin_area")).scalar_one() == 0


def test_a_bug_is_one_line_unless_debugging(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise ZeroDivisionError("division by zero in [bold]status[/bold]")

    monkeypatch.setattr("cli.main._cluster", broken)
    result = runner.invoke(app, ["db", "status"], env={"COLUMNS": "80"})
    assert result.exit_code == 1
    [line] = _lines(result.output)
    assert line.startswith("错误：意外的 ZeroDivisionError：division by zero in")
    assert "[bold]status[/bold]" in line  # printed as it is, not taken as markup
    assert "GRIDMAP_DEBUG=1" in line and "Traceback" not in result.output

    result = runner.invoke(app, ["db", "status"], env={"GRIDMAP_DEBUG": "1"})
    assert isinstance(result.exception, ZeroDivisionError)


def test_an_unwritable_output_is_one_line(demo_engine: Engine, tmp_path: Path) -> None:
    url = demo_engine.url.render_as_string(hide_password=False)
    target = tmp_path / "missing-directory" / "norms.csv"
    result = runner.invoke(
        app, ["norms", "--csv", str(target)], env={"DATABASE_URL": url, "COLUMNS": "80"}
    )
    assert result.exit_code == 1
    errors = [line for line in _lines(result.output) if line.startswith("错误：")]
    assert len(errors) == 1 and "missing-directory" in errors[0], result.output
    assert "请检查路径" in errors[0] and "Traceback" not in result.output


def test_without_database_url_the_way_back_is_gridmap_db_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import psycopg

    from cli.errors import database_lost

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("GRIDMAP_DATA_DIR", str(tmp_path))
    line = database_lost(psycopg.OperationalError("server closed the connection unexpectedly"))
    assert "（server closed the connection unexpectedly）" in line
    assert "`gridmap db start`" in line and str(tmp_path) in line
