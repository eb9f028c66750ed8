"""Every table `gridmap` prints is Chinese by default and English with `--lang en`.

Each command is run on the demo database with typer's runner, and every
``rich`` table it prints is caught on its way to the console: its title and
each column header must be Chinese (headers with no English word in them) by
default, and hold no Chinese at all with ``--lang en`` or ``GRIDMAP_LANG=en``.
Progress bars and one-line errors follow the same choice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli import lang as cli_lang
from cli.main import app
from gis.lang import Lang

runner = CliRunner()
CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_WORD = re.compile(r"[a-z]{2,}")


@pytest.fixture(scope="module")
def env(demo_engine: Engine) -> dict[str, str]:
    return {"DATABASE_URL": demo_engine.url.render_as_string(hide_password=False), "COLUMNS": "200"}


@pytest.fixture
def printed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Table]]:
    """The tables every console prints while the test runs."""
    tables: list[Table] = []
    original = Console.print

    def record(self: Console, *objects: Any, **kwargs: Any) -> None:
        tables.extend(o for o in objects if isinstance(o, Table))
        original(self, *objects, **kwargs)

    monkeypatch.setattr(Console, "print", record)
    yield tables
    cli_lang.forget()


def bad_buildings(path: Path) -> Path:
    """A buildings file with a row without households: rejected, nothing written."""
    features = [
        {
            "type": "Feature",
            "properties": {"ext_id": ext_id, "households": households},
            "geometry": {"type": "Point", "coordinates": [119.12, 36.70]},
        }
        for ext_id, households in (("LANG0", 3), ("LANG1", None))
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def commands(tmp: Path) -> list[list[str]]:
    return [
        ["demo", "--no-serve"],
        ["users", "list"],
        ["keys", "list"],
        ["audit", "--limit", "5"],
        ["coverage", "--type", "kindergarten", "--worst", "3", "--out", str(tmp)],
        ["norms"],
        ["incidents", "stats", "--level", "community", "--limit", "3"],
        ["incidents", "stats", "--level", "grid", "--limit", "3"],
        ["import", "buildings", str(bad_buildings(tmp / "bad.geojson")), "--datum", "wgs84"],
    ]


def headers(table: Table) -> list[str]:
    return [str(column.header) for column in table.columns]


def test_every_table_is_chinese_by_default(
    env: dict[str, str], printed: list[Table], tmp_path: Path
) -> None:
    for args in commands(tmp_path):
        printed.clear()
        result = runner.invoke(app, args, env=env)
        assert result.exit_code in (0, 1), result.output
        assert printed, (args, result.output)
        for table in printed:
            assert CJK.search(str(table.title)), (args, table.title)
            for header in headers(table):
                assert CJK.search(header) and not ENGLISH_WORD.search(header), (args, header)


@pytest.mark.parametrize("how", ["--lang", "GRIDMAP_LANG"])
def test_every_table_is_english_when_asked(
    env: dict[str, str], printed: list[Table], tmp_path: Path, how: str
) -> None:
    for args in commands(tmp_path):
        printed.clear()
        if how == "--lang":
            result = runner.invoke(app, ["--lang", "en", *args], env=env)
        else:
            result = runner.invoke(app, args, env={**env, "GRIDMAP_LANG": "en"})
        assert result.exit_code in (0, 1), result.output
        assert printed, (args, result.output)
        for table in printed:
            assert not CJK.search(str(table.title)), (args, table.title)
            for header in headers(table):
                assert header and not CJK.search(header), (args, header)


def test_the_tables_of_a_first_demo_and_an_import_both_ways(printed: list[Table]) -> None:
    """Those only a fresh database prints: the demo's accounts and an import's summary."""
    from cli.import_command import _summary
    from cli.main import _tell_accounts
    from gis.imports.importer import ImportReport

    report = ImportReport("buildings", Path("b.geojson"), "wgs84", 3, 3, 0.1, ["a note"])
    for lang in Lang:
        printed.clear()
        cli_lang.choose(lang)
        _tell_accounts([("admin", "admin", "管理员")], None)
        tables = [*printed, _summary(report)]
        for table in tables:
            said = [str(table.title), *headers(table)]
            if lang is Lang.ZH:
                assert all(CJK.search(s) for s in said), said
            else:
                assert not any(CJK.search(s) for s in said), said


def test_progress_and_errors_follow_the_language(env: dict[str, str], tmp_path: Path) -> None:
    bad = bad_buildings(tmp_path / "bad.geojson")
    zh = runner.invoke(app, ["import", "buildings", str(bad), "--datum", "wgs84"], env=env)
    assert "检查 buildings" in zh.output and "错误：" in zh.output
    en = runner.invoke(
        app, ["--lang", "en", "import", "buildings", str(bad), "--datum", "wgs84"], env=env
    )
    assert "checking buildings" in en.output and "error: " in en.output
    assert not CJK.search(en.output)

    zh = runner.invoke(app, ["users", "disable", "nobody-here"], env=env)
    assert zh.exit_code == 1 and zh.output.startswith("错误：")
    en = runner.invoke(app, ["--lang", "en", "users", "disable", "nobody-here"], env=env)
    assert en.exit_code == 1 and en.output.startswith("error: ")


def test_a_one_line_error_from_gis_is_chinese_where_it_has_a_chinese_text(
    env: dict[str, str],
) -> None:
    zh = runner.invoke(app, ["coverage", "--type", "kinder"], env=env)
    assert zh.exit_code == 1 and "未知的设施类型 'kinder'" in zh.output
    en = runner.invoke(app, ["--lang", "en", "coverage", "--type", "kinder"], env=env)
    assert en.exit_code == 1 and "unknown facility type 'kinder'" in en.output


def test_a_lang_setting_that_names_no_language_is_refused() -> None:
    result = runner.invoke(app, ["db", "status"], env={"GRIDMAP_LANG": "fr"})
    assert result.exit_code == 2
    assert "GRIDMAP_LANG='fr'" in result.output and "zh" in result.output
    result = runner.invoke(app, ["--lang", "fr", "db", "status"])
    assert result.exit_code == 2 and "fr" in result.output


def test_a_region_or_encoding_is_accepted() -> None:
    result = runner.invoke(
        app, ["db", "status"], env={"GRIDMAP_LANG": "en_US.UTF-8", "DATABASE_URL": "x"}
    )
    assert result.exit_code == 0 and "DATABASE_URL is set" in result.output
