"""`gridmap incidents`: statistics of a period, and the escalation sweep for cron."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from cli.context import open_engine
from cli.lang import t
from gis.accounts import audit
from gis.areas.codes import Level
from gis.incidents.escalation import sweep_once
from gis.incidents.stats import incident_counts, to_csv
from gis.incidents.units import list_units
from gis.localtime import as_instant, utc_now

#: Registered as `gridmap incidents` by cli.main, which adds its commands wrapped in
#: `explained` (domain errors as one line).
incidents_app = typer.Typer(
    help="Incidents: statistics of the closed loop, escalation of overdue cases.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

Column = tuple[str, tuple[str, str], str]
"""(column, (Chinese header, English header), kind) of a table printed."""

#: The columns of the tables printed; the CSV holds every column.
_COUNTS: tuple[Column, ...] = (
    ("received", ("受理", "received"), "count"),
    ("due", ("到期", "due"), "count"),
    ("escalations", ("升级", "escal."), "count"),
    ("per_1000_households", ("每千户", "/1k hh"), "decimal"),
)
_RATES: tuple[Column, ...] = (
    ("closure_rate", ("结案率", "closure"), "rate"),
    ("on_time_rate", ("按期结案率", "on time"), "rate"),
    ("handling_rate", ("办结率", "handling"), "rate"),
    ("on_the_spot_rate", ("当场办结率", "on spot"), "rate"),
    ("rework_rate", ("返工率", "rework"), "rate"),
)
_HOURS: tuple[Column, ...] = (
    ("hours_reported_accepted", ("受理", "accept"), "decimal"),
    ("hours_accepted_dispatched", ("派遣", "dispatch"), "decimal"),
    ("hours_dispatched_handled", ("处置", "handle"), "decimal"),
    ("hours_handled_feedback", ("反馈", "feedback"), "decimal"),
    ("hours_feedback_closed", ("结案", "close"), "decimal"),
    ("hours_closed_evaluated", ("评价", "evaluate"), "decimal"),
)
_LEVEL_ZH = {"district": "区", "subdistrict": "街道", "community": "社区", "grid": "网格"}
WIDE_TERMINAL = 110
"""Columns from which counts and rates share one table (each table fits 80 columns)."""


def _cell(value: float, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "rate":
        return f"{value:.1%}"
    if kind == "decimal":
        return f"{value:.1f}"
    return f"{int(value):,}"


def stats_table(
    df: pd.DataFrame,
    title: str,
    limit: int | None = None,
    columns: tuple[Column, ...] = _COUNTS + _RATES,
) -> Table:
    """Some columns of an ``incident_counts`` table, one row per area; rates as percentages.

    Areas are named by their Chinese name, grids by their 15-digit code (the
    names of grids repeat the community's); the CSV carries both.
    """
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    label = "code" if (df["level"] == "grid").all() else "name"
    table.add_column(t("代码", "code") if label == "code" else t("名称", "name"), no_wrap=True)
    for column, header, _kind in columns:
        if column in df.columns:
            table.add_column(t(*header), justify="right", no_wrap=True)
    shown = [(c, k) for c, _, k in columns if c in df.columns]
    rows = df if limit is None else df.head(limit)
    for r in rows.to_dict("records"):
        table.add_row(str(r[label]), *(_cell(r[c], k) for c, k in shown))
    return table


def stats_command(
    start: Annotated[
        dt.datetime, typer.Option(help="Start of the period (included), Asia/Shanghai.")
    ] = dt.datetime(2025, 11, 1),
    end: Annotated[
        dt.datetime, typer.Option(help="End of the period (excluded), Asia/Shanghai.")
    ] = dt.datetime(2026, 11, 1),
    level: Annotated[
        str, typer.Option(help=f"Areas to report per: {', '.join(Level)}.")
    ] = "district",
    category: Annotated[
        str | None, typer.Option(help="Only this category (a top-level code includes subclasses).")
    ] = None,
    csv: Annotated[
        Path | None, typer.Option(help="Also write every column to this CSV (UTF-8 with BOM).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows shown in the terminal (the CSV has all).")] = 40,
) -> None:
    """Received, due, closure and on-time rates (结案率, 按期结案率: over cases due), handling
    rate (办结率, a mediation centre's 调处率), on-the-spot rate (当场办结率), rework rate
    (返工率), escalations, incidents per 1,000 households and mean hours per step, per
    area; defaults to the demo's year."""
    counting = t("统计中 ……", "Counting ...")
    with open_engine() as engine, engine.connect() as conn, err.status(counting):
        df = incident_counts(conn, start, end, level=level, category=category)
    period = f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"
    title = t(
        f"各{_LEVEL_ZH.get(level, level)}事件，{period}" + (f"，{category}" if category else ""),
        f"Incidents per {level}, {period}" + (f", {category}" if category else ""),
    )
    rates = t(
        "比率（结案率和按期结案率：占到期案件）", "Rates (closure and on time: of the cases due)"
    )
    if out.width >= WIDE_TERMINAL:
        out.print(stats_table(df, title, limit, _COUNTS + _RATES))
    else:
        out.print(stats_table(df, title, limit, _COUNTS))
        out.print(stats_table(df, rates, limit, _RATES))
    hours = t("到各环节的平均日历小时数", "Mean calendar hours to each step")
    out.print(stats_table(df, hours, limit, _HOURS))
    if len(df) > limit:
        more = len(df) - limit
        out.print(
            t(f"（另有 {more} 行；--csv 全部写出）", f"({more} more rows; --csv writes them all)")
        )
    if csv is not None:
        to_csv(df, csv)
        out.print(t(f"已将 {len(df)} 行写入 {csv}。", f"Wrote {len(df)} rows to {csv}."))


def escalate_command(
    now: Annotated[
        dt.datetime | None,
        typer.Option(help="Sweep as of this time (default: now); naive times are Asia/Shanghai."),
    ] = None,
) -> None:
    """Raise every open case whose limit passed (grid → community → subdistrict → district).

    The server does this every GRIDMAP_ESCALATION_INTERVAL_S on its own; run
    this from cron where no server runs. Each passing of a level's limit (督办时限;
    受理时限 before dispatch) raises a case once, recorded when it passed.
    """
    at = as_instant(now) if now is not None else utc_now()
    with open_engine() as engine, err.status(t("升级逾期案件 ……", "Escalating overdue cases ...")):
        result = sweep_once(engine, at, audit=audit.record)
    if result.skipped:
        out.print(
            t(
                "另一轮升级（服务器的）正在进行；本次未做任何事。",
                "Another escalation sweep is running (the server's); nothing done.",
            )
        )
        return
    if not result.escalated:
        out.print(t("没有需要升级的逾期案件。", "No overdue case to escalate."))
        return
    cases = list(dict.fromkeys(result.escalated))
    n, raises, rest = len(cases), len(result.escalated), len(cases) - 20
    shown = ", ".join(map(str, cases[:20]))
    more = t(f" 等，另有 {rest} 件", f" and {rest} more") if rest > 0 else ""
    out.print(
        t(
            f"已升级 {n:,} 件逾期案件（共 {raises:,} 次升级）：{shown}{more}。",
            f"Escalated {n:,} overdue case(s) ({raises:,} raise(s)): {shown}{more}.",
        )
    )


def units_command() -> None:
    """The mediation units (责任单位) cases are handed over to (交办): area, categories,
    head (一把手), staff and open cases; written with the API (POST /api/v1/mediation-units)."""
    with open_engine() as engine, Session(bind=engine) as session:
        found = list_units(session)
    if not found:
        out.print(t("尚无调处责任单位。", "No mediation units yet."))
        return
    table = Table(
        title=t("调处责任单位", "Mediation units"), box=box.SIMPLE_HEAD, title_justify="left"
    )
    for header in (
        ("编号", "id"),
        ("名称", "name"),
        ("辖区", "area"),
        ("受理类别", "categories"),
        ("负责人", "head"),
        ("人员", "staff"),
        ("在办", "open"),
    ):
        table.add_column(t(*header), no_wrap=header[1] in ("id", "area", "open"))
    for u in found:
        table.add_row(
            str(u.id),
            t(u.name_zh, u.name_en or u.name_zh),
            f"{u.area_name or ''} {u.area_code}".strip(),
            ", ".join(u.categories) or t("全部", "all"),
            u.head_name or "–",
            str(len(u.staff)),
            str(u.open_cases),
        )
    out.print(table)
