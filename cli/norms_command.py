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
) -> None:
    """Floor area per 100 households (60 m²), households per grid manager (200) and per
    community worker (300), social-work stations (50 m²), and whether every community
    has a health station; lists the communities failing each."""
    types = tuple(service_type) if service_type else SERVICE_FLOOR_TYPES
    with open_engine() as engine, engine.connect() as conn, err.status("Checking norms ..."):
        checks = norm_checks(conn, types)
        claim = health_station_claim(conn, checks=checks)
    out.print(_summary_table(norm_summary(checks)))
    for table in _failing_tables(checks, types):
        out.print(table)
    out.print(claim.summary())
    if csv is not None:
        checks.to_csv(csv, index=False, encoding="utf-8-sig")
        out.print(f"Wrote every community's checks to {csv}.")


def _summary_table(summary: pd.DataFrame) -> Table:
    table = Table(title="Norm checks per community", box=box.SIMPLE_HEAD)
    table.add_column("norm", overflow="fold")
    table.add_column("source", overflow="fold")
    table.add_column("communities", justify="right")
    table.add_column("failing", justify="right")
    table.add_column("pass", justify="right")
    for r in summary.itertuples(index=False):
        table.add_row(r.norm, r.source, str(r.communities), str(r.failing), f"{r.pass_rate:.1%}")
    return table


def _num(value: float, fmt: str = ",.0f") -> str:
    return "–" if value is None or math.isnan(value) else format(value, fmt)


#: Per norm: the check column, a title, and the figures shown (column, header, format).
_FAILING: tuple[tuple[str, str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "floor_area_ok",
        "below 60 m² service floor area per 100 households ({types})",
        (
            ("service_floor_m2", "floor m²", ",.1f"),
            ("floor_m2_per_100_households", "m²/100 户", ".1f"),
            ("floor_area_shortfall_m2", "short m²", ",.1f"),
        ),
    ),
    (
        "grid_manager_ok",
        "more than 200 households per grid manager",
        (
            ("grid_managers", "managers", "d"),
            ("households_per_grid_manager", "户/manager", ",.1f"),
            ("grid_managers_needed", "needed", "d"),
        ),
    ),
    (
        "community_worker_ok",
        "more than 300 households per community worker",
        (
            ("community_workers", "workers", "d"),
            ("households_per_community_worker", "户/worker", ",.1f"),
            ("community_workers_needed", "needed", "d"),
        ),
    ),
    (
        "has_health_station",
        "no community health station inside",
        (("health_stations", "stations", "d"),),
    ),
    (
        "social_work_station_ok",
        "no social-work station of at least 50 m²",
        (("social_work_station_m2", "largest m²", ",.1f"),),
    ),
)


def _failing_tables(checks: pd.DataFrame, types: tuple[str, ...]) -> list[Table]:
    """One table per norm, listing the communities that fail it (none: no table)."""
    tables = []
    for column, title, figures in _FAILING:
        failing = checks[~checks[column].astype(bool)]
        if failing.empty:
            continue
        table = Table(
            title=f"{len(failing)} communities: {title.format(types=', '.join(types))}",
            box=box.SIMPLE_HEAD,
        )
        table.add_column("code", no_wrap=True)
        table.add_column("名称 name", overflow="fold")
        table.add_column("households", justify="right")
        for _, header, _ in figures:
            table.add_column(header, justify="right", no_wrap=True)
        for _, r in failing.iterrows():
            cells = [r["code"], r["name"], f"{int(r['households']):,}"]
            for name, _, fmt in figures:
                value = r[name]
                cells.append(format(int(value), fmt) if fmt == "d" else _num(value, fmt))
            table.add_row(*cells)
        tables.append(table)
    return tables
