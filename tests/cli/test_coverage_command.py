"""`gridmap coverage` and `gridmap norms` on the demo district."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from cli import lang as cli_lang
from cli.main import app
from gis.areas.hierarchy import load_areas
from gis.coverage.compare import COMPARE_COLUMNS, circle_vs_walk
from gis.coverage.network import no_network
from gis.coverage.report import area_rollups
from gis.coverage.store import build_coverage, load_buildings
from tests.coverage_district import committed_lattice

runner = CliRunner()


@pytest.fixture(autouse=True)
def _forget_lang() -> Iterator[None]:
    yield
    cli_lang.forget()


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


def test_norms_tables_the_funds_due_by_households(
    demo_engine: Engine, env: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "norms.csv"
    result = runner.invoke(app, ["norms", "--csv", str(target)], env=env)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "每年应拨经费" in out and "26,000 元/千户" in out and "27,400,000" in out
    table = pd.read_csv(target, dtype={"code": str})
    assert len(table) == 137 and (table["party_service_cny"] == 200_000).all()
    with demo_engine.connect() as conn:
        households = conn.execute(
            text("SELECT sum(households) FROM grid WHERE valid_to IS NULL")
        ).scalar_one()
    assert table["households"].sum() == households
    assert abs(table["community_work_cny"].sum() - households * 26) <= 137


def test_norms_measures_the_health_station_claim_by_walk_too(
    demo_engine: Engine, env: dict[str, str]
) -> None:
    result = runner.invoke(app, ["--lang", "en", "norms", "--method", "network"], env=env)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    with demo_engine.connect() as conn:
        walk = build_coverage(conn, "community_health_station", 1000, method="network")
    rate = walk.index.hh_covered.sum() / walk.index.households.sum()
    assert f"Households within a 1000 m walk of a health station: {rate:.2%}" in out


def test_help_lists_the_new_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert "coverage" in result.output and "norms" in result.output


# --------------------------------------------------------------------------- walking distance


@dataclass(frozen=True)
class WalkRun:
    """One `coverage --method network --compare` run on the demo and the figures computed
    directly."""

    output: str
    out_dir: Path
    per_community: pd.DataFrame  # circle_vs_walk per community
    district: pd.Series  # circle_vs_walk for the district


@pytest.fixture(scope="module")
def walk_run(
    demo_engine: Engine, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> WalkRun:
    out_dir = tmp_path_factory.mktemp("walk")
    result = runner.invoke(
        app,
        [
            "coverage",
            "--type",
            "kindergarten",
            "--method",
            "network",
            "--compare",
            "--out",
            str(out_dir),
            "--worst",
            "3",
        ],
        env={**env, "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    with demo_engine.connect() as conn:
        areas = load_areas(conn)
        buildings = load_buildings(conn, areas)
        circle = build_coverage(conn, "kindergarten", 300, areas, buildings)
        walk = build_coverage(conn, "kindergarten", 300, areas, buildings, method="network")
    return WalkRun(
        result.output,
        out_dir,
        circle_vs_walk(circle, walk, "community"),
        circle_vs_walk(circle, walk, "district").iloc[0],
    )


def test_network_method_prints_and_writes_the_walk(walk_run: WalkRun) -> None:
    out, d = walk_run.output, walk_run.district
    assert "幼儿园（kindergarten）步行 300 米内" in out
    assert 0 < d.households_walk <= d.households_circle
    assert f"{d.households_walk:,}" in out and f"{d.rate_walk:.1%}" in out
    assert "所有步行服务范围之外" in out

    gpkg = walk_run.out_dir / "kindergarten_300m_walk.gpkg"
    csv = walk_run.out_dir / "kindergarten_300m_walk.csv"
    assert f"已写入 {gpkg}（图层 areas、buildings、service_areas、blind_spots）" in out
    layers = dict(pyogrio.list_layers(gpkg).tolist())
    assert set(layers) == {"areas", "buildings", "service_areas", "blind_spots"}
    assert pyogrio.read_info(gpkg, layer="service_areas")["features"] == 33
    spots = pyogrio.read_dataframe(gpkg, layer="blind_spots", read_geometry=False)
    assert spots["households"].sum() == d.households - d.households_walk
    table = pd.read_csv(csv, dtype={"code": str}, encoding="utf-8-sig")
    assert table["code"].tolist() == walk_run.per_community["code"].tolist()
    assert (
        table["households_covered"].tolist() == walk_run.per_community["households_walk"].tolist()
    )
    assert not (walk_run.out_dir / "kindergarten_300m.gpkg").exists()  # the circle's stays


def test_compare_prints_the_table_and_writes_the_csv(walk_run: WalkRun) -> None:
    out, d = walk_run.output, walk_run.district
    assert "各社区圆形与步行覆盖对比" in out
    for header in ("圆内覆盖", "步行覆盖", "圆形高估户数", "圆内覆盖率", "步行覆盖率"):
        assert header in out
    over = d.households_circle - d.households_walk
    assert over > 0 and d.households_overstated == over
    assert f"圆形服务圈高估 {over:,} 户（占圆内覆盖的 {d.overstated_share:.1%}）" in out

    csv = walk_run.out_dir / "kindergarten_300m_compare.csv"
    table = pd.read_csv(csv, dtype={"code": str}, encoding="utf-8-sig")
    assert table.columns.tolist() == COMPARE_COLUMNS
    expected = walk_run.per_community
    assert table["code"].tolist() == expected["code"].tolist()
    for column in ("households", "households_circle", "households_walk", "households_overstated"):
        assert table[column].tolist() == expected[column].tolist()
    assert table["households_overstated"].sum() == (
        table["households_circle"].sum() - table["households_walk"].sum()
    )
    assert table["households_overstated"].sum() == over


def test_compare_in_english_by_subdistrict(env: dict[str, str], tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "--lang",
            "en",
            "coverage",
            "--type",
            "kindergarten",
            "--compare",
            "--by",
            "subdistrict",
            "--worst",
            "0",
            "--out",
            str(tmp_path),
        ],
        env={**env, "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Kindergarten (kindergarten) within 300 m" in out  # the main table: circles
    assert "Circle vs walk per subdistrict" in out
    assert "circle covered" in out and "walk covered" in out and "overstated" in out
    assert "The circle overstates coverage by " in out
    assert "圆内覆盖" not in out and "户" not in out  # names stay Chinese, nothing else
    assert {p.name for p in tmp_path.iterdir()} == {
        "kindergarten_300m.gpkg",
        "kindergarten_300m.csv",
        "kindergarten_300m_compare.csv",
    }
    table = pd.read_csv(tmp_path / "kindergarten_300m_compare.csv", dtype={"code": str})
    assert len(table) == 10


def test_minutes_are_walked_at_the_walk_speed(env: dict[str, str], tmp_path: Path) -> None:
    def run(args: list[str], where: str, extra: dict[str, str] | None = None) -> pd.DataFrame:
        result = runner.invoke(
            app,
            [
                "coverage",
                "--type",
                "kindergarten",
                "--worst",
                "0",
                "--out",
                str(tmp_path / where),
                *args,
            ],
            env={**env, **(extra or {})},
        )
        assert result.exit_code == 0, result.output
        (csv,) = (tmp_path / where).glob("*.csv")
        return pd.read_csv(csv, dtype={"code": str}, encoding="utf-8-sig").assign(file=csv.name)

    minutes = run(["--minutes", "5"], "minutes")
    radius = run(["--radius", "300"], "radius")
    assert minutes["file"].iloc[0] == "kindergarten_300m.csv"
    pd.testing.assert_frame_equal(minutes, radius)
    faster = run(["--minutes", "5"], "faster", {"GRIDMAP_WALK_SPEED_M_PER_MIN": "80"})
    assert faster["file"].iloc[0] == "kindergarten_400m.csv"


def test_radius_and_minutes_together_are_refused(env: dict[str, str], tmp_path: Path) -> None:
    args = [
        "coverage",
        "--type",
        "kindergarten",
        "--radius",
        "300",
        "--minutes",
        "5",
        "--out",
        str(tmp_path),
    ]
    zh = runner.invoke(app, args, env=env)
    assert zh.exit_code != 0
    assert zh.output.strip() == (
        "错误：--radius 与 --minutes 只能给出其一（--minutes 按步行速度换算成米）"
    )
    en = runner.invoke(app, ["--lang", "en", *args], env=env)
    assert en.exit_code != 0
    assert en.output.strip().startswith("error: give --radius or --minutes, not both")
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def no_network_env(server_url: str) -> Iterator[dict[str, str]]:
    """A small committed district of its own, with facilities but no walking network."""
    with committed_lattice(server_url, "gridmap_cli_coverage_no_walk") as district:
        yield {"DATABASE_URL": district.engine.url.render_as_string(hide_password=False)}


@pytest.mark.parametrize("option", ["--method=network", "--compare"])
def test_walking_without_a_network_says_what_to_do(
    no_network_env: dict[str, str], tmp_path: Path, option: str
) -> None:
    args = ["coverage", "--type", "kindergarten", option, "--out", str(tmp_path)]
    zh = runner.invoke(app, args, env=no_network_env)
    assert zh.exit_code != 0
    assert zh.output.strip() == f"错误：{no_network().zh}"
    en = runner.invoke(app, ["--lang", "en", *args], env=no_network_env)
    assert en.exit_code != 0
    assert en.output.strip() == f"error: {no_network()}"
    assert "Traceback" not in en.output
    assert not tmp_path.exists() or not list(tmp_path.iterdir())
    circle = runner.invoke(
        app, ["coverage", "--type", "kindergarten", "--out", str(tmp_path)], env=no_network_env
    )
    assert circle.exit_code == 0, circle.output  # circles need no network
