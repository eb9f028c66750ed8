"""`gridmap incidents stats` on the demo and `gridmap incidents escalate` on a committed case."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cli.main import app
from gis.areas.codes import Level
from gis.incidents.records import get_incident
from gis.incidents.stats import incident_counts
from tests.coverage_district import drop_database, fresh_coverage_database
from tests.incident_cases import dispatched_case

runner = CliRunner()
YEAR_START, YEAR_END = dt.date(2025, 11, 1), dt.date(2026, 11, 1)
"""The demo year, the command's default period."""


def _env(engine: Engine) -> dict[str, str]:
    return {"DATABASE_URL": engine.url.render_as_string(hide_password=False)}


def test_stats_prints_the_district_rates_and_writes_every_community(
    demo_engine: Engine, tmp_path: Path
) -> None:
    csv = tmp_path / "communities.csv"
    result = runner.invoke(
        app,
        ["incidents", "stats", "--level", "community", "--csv", str(csv), "--limit", "5"],
        env=_env(demo_engine),
    )
    assert result.exit_code == 0, result.output
    with demo_engine.connect() as conn:
        expected = incident_counts(conn, YEAR_START, YEAR_END, level="community")
    first = expected.iloc[0]
    assert first["name"] in result.output and f"{first['on_time_rate']:.1%}" in result.output
    assert f"{first['hours_dispatched_handled']:.1f}" in result.output
    assert f"（另有 {len(expected) - 5} 行；--csv 全部写出）" in result.output
    written = pd.read_csv(csv, dtype={"code": str}, encoding="utf-8-sig")
    assert written["code"].tolist() == expected["code"].tolist()
    assert written["received"].sum() == 4027


def test_stats_shows_the_on_the_spot_rate_and_units_lists_the_demos_units(
    demo_engine: Engine,
) -> None:
    env = {**_env(demo_engine), "COLUMNS": "200"}
    result = runner.invoke(
        app, ["incidents", "stats", "--level", "district", "--category", "dispute"], env=env
    )
    assert result.exit_code == 0, result.output
    with demo_engine.connect() as conn:
        row = incident_counts(
            conn, YEAR_START, YEAR_END, level="district", category="dispute"
        ).iloc[0]
    assert "当场办结率" in result.output and f"{row['on_the_spot_rate']:.1%}" in result.output
    units = runner.invoke(app, ["incidents", "units"], env=env)
    assert units.exit_code == 0, units.output
    assert "调处责任单位" in units.output and "人民调解委员会" in units.output
    assert "dispute" in units.output


def test_stats_refuses_an_unknown_level(demo_engine: Engine) -> None:
    result = runner.invoke(app, ["incidents", "stats", "--level", "street"], env=_env(demo_engine))
    assert result.exit_code == 1
    assert "unknown level 'street'" in result.output


def test_escalate_raises_an_overdue_case_once(server_url: str) -> None:
    district = fresh_coverage_database(server_url, "gridmap_cli_escalate")
    try:
        case = dispatched_case(district.engine)  # due 2025-03-10 11:00 Beijing time
        env = _env(district.engine)
        early = runner.invoke(app, ["incidents", "escalate", "--now", "2025-03-10T10:00"], env=env)
        assert early.exit_code == 0, early.output
        assert "没有需要升级的逾期案件。" in early.output
        late = runner.invoke(app, ["incidents", "escalate", "--now", "2025-03-10T12:00"], env=env)
        assert f"已升级 1 件逾期案件（共 1 次升级）：{case.id}。" in late.output
        again = runner.invoke(
            app, ["--lang", "en", "incidents", "escalate", "--now", "2025-03-10T13:00"], env=env
        )
        assert "No overdue case to escalate." in again.output
        with Session(district.engine) as session:
            assert get_incident(session, case.id).handling_level is Level.COMMUNITY
    finally:
        drop_database(server_url, district)
