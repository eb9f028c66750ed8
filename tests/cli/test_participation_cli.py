"""`gridmap participation import|stats`: a file stored whole or not at all (bad rows listed
with their numbers, exit 1), the table per area in Chinese, and in English with --lang en."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli import lang as cli_lang
from cli.main import app
from gis.db import schema
from gis.db.engine import drop_database, make_engine, recreate_database
from tests.gis.incidents.incident_district import insert_district

runner = CliRunner()
CJK = re.compile(r"[\u4e00-\u9fff]")
DB_NAME = "gridmap_cli_participation"
WEST, EAST = "370705001001", "370705001002"


@pytest.fixture(autouse=True)
def _forget_lang() -> Iterator[None]:
    yield
    cli_lang.forget()


@pytest.fixture(scope="module")
def env(server_url: str) -> Iterator[dict[str, str]]:
    engine = make_engine(recreate_database(server_url, DB_NAME))
    schema.upgrade(engine)
    with Session(engine) as session:
        insert_district(session)
        session.commit()
    yield {"DATABASE_URL": engine.url.render_as_string(hide_password=False), "COLUMNS": "220"}
    engine.dispose()
    drop_database(server_url, DB_NAME)


def _count(env: dict[str, str]) -> int:
    engine = make_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM participation_item")).scalar_one())
    finally:
        engine.dispose()


def test_import_rejects_whole_then_stores_whole_and_counts(
    env: dict[str, str], tmp_path: Path
) -> None:
    councils = tmp_path / "councils.csv"
    councils.write_text(
        f"id,community,name,members\nK1,{WEST},西社区居民议事会,13\n", encoding="utf-8"
    )
    done = runner.invoke(
        app, ["participation", "import", str(councils), "--kind", "councils"], env=env
    )
    assert done.exit_code == 0, done.output
    header = "id,kind,title,community,status,proposed_on,discussed_on,budget_cny,council\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        header
        + f"M1,micro_project,座椅,{WEST},discussed,2026-01-05,2026-01-09,30000,K1\n"
        + f"M2,micro_project,照明,{EAST},proposed,2026-01-05,,-5,\n",
        encoding="utf-8",
    )
    refused = runner.invoke(app, ["--lang", "en", "participation", "import", str(bad)], env=env)
    assert refused.exit_code == 1
    assert "rejected" in refused.output and "must not be negative" in refused.output
    assert _count(env) == 0
    good = tmp_path / "good.csv"
    good.write_text(
        header
        + f"M1,micro_project,座椅,{WEST},discussed,2026-01-05,2026-01-09,30000,K1\n"
        + f"M2,people_decide,停车,{EAST},proposed,2026-02-05,,,\n",
        encoding="utf-8",
    )
    stored = runner.invoke(app, ["participation", "import", str(good)], env=env)
    assert stored.exit_code == 0, stored.output
    assert "导入 2 个事项" in stored.output and _count(env) == 2
    zh = runner.invoke(app, ["participation", "stats", "--level", "community"], env=env)
    assert zh.exit_code == 0, zh.output
    assert "居民参与统计" in zh.output and WEST in zh.output and "30,000" in zh.output
    en = runner.invoke(app, ["--lang", "en", "participation", "stats", "--year", "2026"], env=env)
    assert en.exit_code == 0, en.output
    assert "Resident participation" in en.output and "370705001" in en.output
    assert not CJK.search(en.output.replace("area 370705001", ""))
