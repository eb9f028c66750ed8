"""`gridmap norms`: the seeds' per-community norms and the health-station claim, checked."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from cli.context import open_engine
from cli.coverage_command import Method
from cli.lang import lang, t
from gis.coverage.funding import FUNDING_COLUMNS, FundingNorms, load_funding
from gis.coverage.norms import SERVICE_FLOOR_TYPES, health_station_claim, norm_checks, norm_summary

out = Console()
err = Console(stderr=True)


def norms_command(
    service_type: Annotated[
        list[str] | None,
        typer.Option(
            help="Facility type whose floor area counts as community service floor area "
            "(repeatable) [default: community_service_centre].",
        ),
    ] = None,
    csv: Annotated[
        Path | None, typer.Option(help="Also write every community's checks to this CSV file.")
    ] = None,
    method: Annotated[
        Method,
        typer.Option(
            help="How the health-station claim measures distance: circle (straight line) "
            "or network (a walk over the stored walking network)."
        ),
    ] = Method.CIRCLE,
) -> None:
    """Floor area per 100 households (60 m²), households per grid manager (200) and per
    community worker (300) (GRIDMAP_NORM_* settings; the seeds' figures by default),
    social-work stations (50 m²), and whether every community
    has a health station; lists the communities failing each. Then the funds each
    subdistrict is due a year by its households (GRIDMAP_FUNDING_* settings); --csv
    adds each community's funds to its checks."""
    types = tuple(service_type) if service_type else SERVICE_FLOOR_TYPES
    with (
        open_engine() as engine,
        engine.connect() as conn,
        err.status(t("检查配置标准 ……", "Checking norms ...")),
    ):
        checks = norm_checks(conn, types)
        claim = health_station_claim(conn, checks=checks, method=method.value)
        norms = FundingNorms.from_settings()
        funding = load_funding(conn, "subdistrict", norms)
        funding_total = load_funding(conn, "district", norms)
        per_community = load_funding(conn, "community", norms)
    out.print(_summary_table(norm_summary(checks)))
    for table in _failing_tables(checks, types):
        out.print(table)
    out.print(claim.summary_texts().pick(lang()))
    out.print(_funding_table(funding, funding_total, norms))
    if csv is not None:
        money = per_community[["code", *FUNDING_COLUMNS[4:]]]
        checks.merge(money, on="code", how="left").to_csv(csv, index=False, encoding="utf-8-sig")
        out.print(
            t(f"已将各社区的检查结果写入 {csv}。", f"Wrote every community's checks to {csv}.")
        )


def _funding_table(rows: pd.DataFrame, total: pd.DataFrame, norms: FundingNorms) -> Table:
    """Funds due a year per subdistrict and for the district, with the rates in the title."""
    rates = t(
        f"社区工作 {norms.community_work_per_1000:,.0f} 元/千户、网格服务 "
        f"{norms.grid_service_per_1000:,.0f} 元/千户、党组织为民服务每社区不低于 "
        f"{norms.party_service_min:,.0f} 元",
        f"community work {norms.community_work_per_1000:,.0f} CNY per 1,000 households, grid "
        f"service {norms.grid_service_per_1000:,.0f}, Party service at least "
        f"{norms.party_service_min:,.0f} per community",
    )
    table = Table(
        title=t(f"每年应拨经费（{rates}）", f"Funds due a year ({rates})"), box=box.SIMPLE_HEAD
    )
    table.add_column(t("代码", "code"), no_wrap=True)
    table.add_column(t("名称", "name"), overflow="fold")
    for header in (
        ("社区数", "communities"),
        ("户数", "households"),
        ("社区工作经费", "community work"),
        ("网格服务经费", "grid service"),
        ("党组织服务经费", "Party service"),
        ("合计 元", "total CNY"),
    ):
        table.add_column(t(*header), justify="right", no_wrap=True)

    def cells(r: pd.Series) -> list[str]:
        return [str(r["code"]), str(r["name"])] + [f"{int(r[c]):,}" for c in FUNDING_COLUMNS[2:]]

    for _, r in rows.iterrows():
        table.add_row(*cells(r))
    table.add_section()
    for _, r in total.iterrows():
        table.add_row(*cells(r), style="bold")
    return table


def _summary_table(summary: pd.DataFrame) -> Table:
    table = Table(title=t("各社区配置标准检查", "Norm checks per community"), box=box.SIMPLE_HEAD)
    table.add_column(t("标准", "norm"), overflow="fold")
    table.add_column(t("依据", "source"), overflow="fold")
    table.add_column(t("社区数", "communities"), justify="right")
    table.add_column(t("未达标", "failing"), justify="right")
    table.add_column(t("达标率", "pass"), justify="right")
    for r in summary.itertuples(index=False):
        table.add_row(
            t(r.norm_zh, r.norm),
            t(r.source_zh, r.source),
            str(r.communities),
            str(r.failing),
            f"{r.pass_rate:.1%}",
        )
    return table


def _num(value: float, fmt: str = ",.0f") -> str:
    return "–" if value is None or math.isnan(value) else format(value, fmt)


_ZhEn = tuple[str, str]
#: Per norm: the check column, a title, and the figures shown (column, header, format);
#: titles and headers in Chinese and English.
_FAILING: tuple[tuple[str, _ZhEn, tuple[tuple[str, _ZhEn, str], ...]], ...] = (
    (
        "floor_area_ok",
        (
            "每百户服务用房面积不足 60 平方米（{types}）",
            "below 60 m² service floor area per 100 households ({types})",
        ),
        (
            ("service_floor_m2", ("用房 平方米", "floor m²"), ",.1f"),
            ("floor_m2_per_100_households", ("平方米/百户", "m²/100 hh"), ".1f"),
            ("floor_area_shortfall_m2", ("缺口 平方米", "short m²"), ",.1f"),
        ),
    ),
    (
        "grid_manager_ok",
        ("每名网格员超过 200 户", "more than 200 households per grid manager"),
        (
            ("grid_managers", ("网格员", "managers"), "d"),
            ("households_per_grid_manager", ("户/网格员", "hh/manager"), ",.1f"),
            ("grid_managers_needed", ("需配备", "needed"), "d"),
        ),
    ),
    (
        "community_worker_ok",
        ("每名社区工作者超过 300 户", "more than 300 households per community worker"),
        (
            ("community_workers", ("社区工作者", "workers"), "d"),
            ("households_per_community_worker", ("户/工作者", "hh/worker"), ",.1f"),
            ("community_workers_needed", ("需配备", "needed"), "d"),
        ),
    ),
    (
        "has_health_station",
        ("社区内没有社区卫生服务站", "no community health station inside"),
        (("health_stations", ("服务站", "stations"), "d"),),
    ),
    (
        "social_work_station_ok",
        ("没有 50 平方米以上的社工站", "no social-work station of at least 50 m²"),
        (("social_work_station_m2", ("最大 平方米", "largest m²"), ",.1f"),),
    ),
)


def _failing_tables(checks: pd.DataFrame, types: tuple[str, ...]) -> list[Table]:
    """One table per norm, listing the communities that fail it (none: no table)."""
    tables = []
    for column, title, figures in _FAILING:
        failing = checks[~checks[column].astype(bool)]
        if failing.empty:
            continue
        what = t(*title).format(types=", ".join(types))
        table = Table(
            title=t(f"{len(failing)} 个社区：{what}", f"{len(failing)} communities: {what}"),
            box=box.SIMPLE_HEAD,
        )
        table.add_column(t("代码", "code"), no_wrap=True)
        table.add_column(t("名称", "name"), overflow="fold")
        table.add_column(t("户数", "households"), justify="right")
        for _, header, _ in figures:
            table.add_column(t(*header), justify="right", no_wrap=True)
        for _, r in failing.iterrows():
            cells = [r["code"], r["name"], f"{int(r['households']):,}"]
            for name, _, fmt in figures:
                value = r[name]
                cells.append(format(int(value), fmt) if fmt == "d" else _num(value, fmt))
            table.add_row(*cells)
        tables.append(table)
    return tables
