"""`gridmap incidents`: incident statistics of a period (and, later, other case commands)."""

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

from cli.context import open_engine
from gis.incident_stats import LEVELS, incident_counts, to_csv

#: Registered as `gridmap incidents` by cli.main, which adds its commands wrapped in
#: `explained` (domain errors as one line).
incidents_app = typer.Typer(help="Incidents: statistics of the closed loop.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

#: (column, header, kind) shown in the terminal; the CSV holds every column.
_SHOWN = (
    ("received", "received 受理", "count"),
    ("due", "due 应结", "count"),
    ("closure_rate", "closure 结案率", "rate"),
    ("on_time_rate", "on time 按期", "rate"),
    ("handling_rate", "handling 办结率", "rate"),
    ("rework_rate", "rework 返工率", "rate"),
    ("escalations", "escalations 升级", "count"),
    ("hours_reported_accepted", "h to accept", "hours"),
    ("hours_dispatched_handled", "h to handle", "hours"),
    ("hours_feedback_closed", "h to close", "hours"),
    ("per_1000_households", "per 1,000 hh", "hours"),
)


def _cell(value: float, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "rate":
        return f"{value:.2%}"
    if kind == "hours":
        return f"{value:.1f}"
    return f"{int(value):,}"


def stats_table(df: pd.DataFrame, title: str, limit: int | None = None) -> Table:
    """The headline columns of an ``incident_counts`` table, rates as percentages."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("code")
    table.add_column("name", overflow="fold")
    for _, header, _kind in _SHOWN:
        table.add_column(header, justify="right")
    rows = df if limit is None else df.head(limit)
    for r in rows.to_dict("records"):
        table.add_row(str(r["code"]), str(r["name"]), *(_cell(r[c], kind) for c, _, kind in _SHOWN))
    return table


def stats_command(
    start: Annotated[
        dt.datetime, typer.Option(help="Start of the period (included), Asia/Shanghai.")
    ] = dt.datetime(2025, 11, 1),
    end: Annotated[
        dt.datetime, typer.Option(help="End of the period (excluded), Asia/Shanghai.")
    ] = dt.datetime(2026, 11, 1),
    level: Annotated[
        str, typer.Option(help=f"Areas to report per: {', '.join(LEVELS)}.")
    ] = "district",
    category: Annotated[
        str | None, typer.Option(help="Only this category (a top-level code includes subclasses).")
    ] = None,
    csv: Annotated[
        Path | None, typer.Option(help="Also write every column to this CSV (UTF-8 with BOM).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows shown in the terminal (the CSV has all).")] = 40,
) -> None:
    """Received, due, closure and on-time rates (over cases due), handling rate (办结率),
    rework rate, escalations and mean hours per step, per area; defaults to the demo's year."""
    with open_engine() as engine, engine.connect() as conn, err.status("Counting ..."):
        df = incident_counts(conn, start, end, level=level, category=category)
    period = f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"
    title = f"Incidents per {level}, {period}" + (f", {category}" if category else "")
    out.print(stats_table(df, title, limit))
    if len(df) > limit:
        out.print(f"({len(df) - limit} more rows; --csv writes them all)")
    if csv is not None:
        to_csv(df, csv)
        out.print(f"Wrote {len(df)} rows to {csv}.")
