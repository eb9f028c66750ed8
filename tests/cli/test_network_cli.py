"""`gridmap network import|info`: Chinese tables by default, English with --lang en, bad rows
listed, a stored network replaced only with --replace."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pyrosm
import pytest
from shapely.geometry import Point
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli import lang as cli_lang
from cli.main import app
from gis.db import schema
from gis.db.engine import drop_database, make_engine, recreate_database
from tests.gis.network.test_network_import import _streets

runner = CliRunner()
CJK = re.compile(r"[\u4e00-\u9fff]")
DB_NAME = "gridmap_cli_network"


@pytest.fixture(autouse=True)
def _forget_lang() -> Iterator[None]:
    yield
    cli_lang.forget()


@pytest.fixture(scope="module")
def empty_env(server_url: str) -> Iterator[dict[str, str]]:
    engine = make_engine(recreate_database(server_url, DB_NAME))
    schema.upgrade(engine)
    yield {"DATABASE_URL": engine.url.render_as_string(hide_password=False), "COLUMNS": "200"}
    engine.dispose()
    drop_database(server_url, DB_NAME)


def test_info_on_the_demo_both_ways(demo_engine: Engine) -> None:
    env = {"DATABASE_URL": demo_engine.url.render_as_string(hide_password=False), "COLUMNS": "200"}
    zh = runner.invoke(app, ["network", "info"], env=env)
    assert zh.exit_code == 0, zh.output
    assert "步行路网" in zh.output and "连通部分" in zh.output and "小区大门" in zh.output
    en = runner.invoke(app, ["--lang", "en", "network", "info"], env=env)
    assert en.exit_code == 0, en.output
    assert "Walking network" in en.output and "gates (gate)" in en.output
    assert "demo" in en.output and not CJK.search(en.output)


def test_import_replace_and_rejections(empty_env: dict[str, str], tmp_path: Path) -> None:
    empty = runner.invoke(app, ["--lang", "en", "network", "info"], env=empty_env)
    assert "No walking network" in empty.output

    path = tmp_path / "streets.geojson"
    _streets().to_file(path, engine="pyogrio")
    first = runner.invoke(app, ["network", "import", str(path)], env=empty_env)
    assert first.exit_code == 0, first.output
    assert (
        "已从 streets.geojson 导入步行路网" in first.output
        and "file:streets.geojson" in first.output
    )

    again = runner.invoke(app, ["network", "import", str(path)], env=empty_env)
    assert again.exit_code == 1 and "--replace" in again.output
    assert again.output.strip().startswith("错误：")
    again_en = runner.invoke(app, ["--lang", "en", "network", "import", str(path)], env=empty_env)
    assert again_en.output.strip().startswith("error: a walking network is stored")

    bad = _streets()
    bad.loc[3, "geometry"] = Point(0, 0)
    bad_path = tmp_path / "bad.geojson"
    bad.to_file(bad_path, engine="pyogrio")
    report = tmp_path / "rejected.csv"
    rejected = runner.invoke(
        app,
        ["--lang", "en", "network", "import", str(bad_path), "--replace", "--report-csv",
         str(report)],
        env=empty_env,
    )  # fmt: skip
    assert rejected.exit_code == 1
    assert "1 of 6 network rows rejected" in rejected.output and "Point" in rejected.output
    assert report.read_text(encoding="utf-8-sig").splitlines()[1].startswith("4,")

    kotka = runner.invoke(
        app,
        ["--lang", "en", "network", "import", pyrosm.get_data("test_pbf"), "--replace"],
        env=empty_env,
    )
    assert kotka.exit_code == 0, kotka.output
    assert "OpenStreetMap PBF" in kotka.output and "replaced" in kotka.output
    assert not CJK.search(kotka.output)
    info = runner.invoke(app, ["network", "info"], env=empty_env)
    assert "osm:test.osm.pbf" in info.output
