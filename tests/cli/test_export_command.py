"""`gridmap export` on the demo district: files GDAL opens, Chinese by default."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def env(demo_engine: Engine) -> dict[str, str]:
    return {"DATABASE_URL": demo_engine.url.render_as_string(hide_password=False)}


def _count(source: str) -> int:
    info = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-al", source], capture_output=True, text=True, check=True
    ).stdout
    return int(info.split("Feature Count: ")[1].split()[0])


def test_export_grids_to_a_geopackage_gdal_opens(
    demo_engine: Engine, env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "grids.gpkg"
    result = runner.invoke(app, ["export", "grids", "-o", str(path)], env=env)  # with its bar
    assert result.exit_code == 0, result.output
    with demo_engine.connect() as conn:
        grids = conn.execute(text("SELECT count(*) FROM grid WHERE valid_to IS NULL")).scalar()
    assert _count(str(path)) == grids
    assert f"已导出 {grids:,} 条单元网格" in result.output


def test_export_a_filtered_shapefile_in_gcj02_in_english(
    env: dict[str, str], demo_engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "big.zip"
    args = ["--lang", "en", "export", "buildings", "-o", str(path), "--filter", "households > 100"]
    result = runner.invoke(app, [*args, "--datum", "gcj02", "-q"], env=env)
    assert result.exit_code == 0, result.output
    with demo_engine.connect() as conn:
        big = conn.execute(text("SELECT count(*) FROM building WHERE households > 100")).scalar()
    assert 0 < _count(f"/vsizip/{path}/buildings.shp") == big
    assert f"Exported {big:,} buildings" in result.output


def test_an_unknown_collection_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "nonsense", "-o", str(tmp_path / "x.gpkg")], env=env)
    assert result.exit_code != 0
    assert "没有名为 'nonsense' 的数据集合" in result.output
    assert not (tmp_path / "x.gpkg").exists()
