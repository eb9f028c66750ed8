"""`gridmap coverage` and `gridmap norms` on the demo district."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.main import app
from gis.coverage.report import area_rollups
from gis.coverage.store import build_coverage

runner = CliRunner()


@pytest.fixture(scope="module")
def env(demo_engine: Engine) -> dict[str, str]:
    return {"DATABASE_URL": demo_engine.url.render_as_string(hide_password=False)}


def test_coverage_prints_the_table_and_writes_gpkg_and_csv(
    demo_engine: Engine, env: dict[str, str], tmp_path: Path
) -> None:
    result = runner.invoke(
        app, ["coverage", "--type", "kindergarten", "--out", str(tmp_path), "--worst", "3"], env=env
    )
    assert result.exit_code == 0, result.output
    with demo_engine.connect() as conn:
        model = build_coverage(conn, "kindergarten", 300)
    communities = area_rollups(model, "community")
    district = area_rollups(model, "district").iloc[0]
    out = result.output
    assert "幼儿园（kindergarten）300 米内" in out
    assert "奎文区" in out and f"{district.households:,}" in out
    assert f"{district.households_covered:,}" in out and f"{district.coverage_rate:.1%}" in out
    first = communities.iloc[0]
    assert first["code"] in out and first["name"] in out
    assert "覆盖最差的社区" in out

    gpkg, csv = tmp_path / "kindergarten_300m.gpkg", tmp_path / "kindergarten_300m.csv"
    assert f"已写入 {gpkg}" in out.replace("\n", "")  # a long path wraps
    layers = dict(pyogrio.list_layers(gpkg).tolist())
    assert layers == {
        "areas": "MultiPolygon",
        "buildings": "Point",
        "circles": "Polygon",
        "blind_spots": "Polygon",
    }
    assert pyogrio.read_info(gpkg, layer="areas")["features"] == 137
    assert pyogrio.read_info(gpkg, layer="circles")["features"] == 33
    assert pyogrio.read_info(gpkg, layer="buildings")["features"] == len(model.buildings.ids)
    spots = pyogrio.read_dataframe(gpkg, layer="blind_spots", read_geometry=False)
    assert spots["households"].sum() == district.households_uncovered
    table = pd.read_csv(csv, dtype={"code": str}, encoding="utf-8-sig")
    assert table["code"].tolist() == communities["code"].tolist()
    assert table["households_covered"].tolist() == communities["households_covered"].tolist()


def test_coverage_radius_override_and_subdistrict_table(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = runner.invoke(
        app,
        [
            "coverage",
            "--type",
            "community_health_station",
            "--radius",
            "500",
            "--by",
            "subdistrict",
            "--out",
            str(tmp_path),
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "500 米内" in result.output and "东关街道" in result.output
    table = pd.read_csv(tmp_path / "community_health_station_500m.csv", dtype={"code": str})
    assert len(table) == 10


def test_unknown_type_lists_the_known_ones(env: dict[str, str], tmp_path: Path) -> None:
    result = runner.invoke(app, ["coverage", "--type", "kinder", "--out", str(tmp_path)], env=env)
    assert result.exit_code == 1
    assert "未知的设施类型 'kinder'" in result.output
    assert "kindergarten" in result.output and "primary_school" in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.iterdir())


def test_norms_command_reports_failing_communities_and_the_claim(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["norms"], env=env)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # undo the terminal's line wrapping
    assert "各社区配置标准检查" in out
    assert "社区内没有社区卫生服务站" in out
    assert "不成立" in out and "137 个社区中 133 个" in out


def test_help_lists_the_new_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert "coverage" in result.output and "norms" in result.output
