"""`gridmap coverage --type TYPE [--radius M]`: coverage per area, a GeoPackage and a CSV report."""

from __future__ import annotations

import enum
import math
from pathlib import Path
from typing import Annotated

import geopandas as gpd
import pandas as pd
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from cli.context import open_engine
from cli.lang import t
from gis.areas.codes import check_level
from gis.areas.queries import area_outlines
from gis.coverage.catalogue import facility_type, resolve_radius
from gis.coverage.geometry import blind_spots, service_circles
from gis.coverage.report import area_rollups, building_results, worst
from gis.coverage.store import build_coverage

out = Console()
err = Console(stderr=True)

#: A terminal table beyond this helps no one; the CSV has every row.
MAX_ROWS_SHOWN = 150


class By(enum.StrEnum):
    COMMUNITY = "community"
    GRID = "grid"
    SUBDISTRICT = "subdistrict"


PLURAL = {"community": "communities", "grid": "grids", "subdistrict": "subdistricts"}
LEVEL_ZH = {"community": "社区", "grid": "网格", "subdistrict": "街道", "district": "区"}


def coverage_command(
    type_code: Annotated[
        str,
        typer.Option(
            "--type",
            "-t",
            help="Facility type code, e.g. kindergarten, community_health_station "
            "(an unknown code lists the known ones).",
        ),
    ],
    radius: Annotated[
        int | None,
        typer.Option(help="Service radius in metres [default: the type's catalogue radius]."),
    ] = None,
    by: Annotated[By, typer.Option(help="Area level of the table and the CSV.")] = By.COMMUNITY,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory for the GeoPackage and the CSV.")
    ] = Path("out/coverage"),
    worst_n: Annotated[
        int, typer.Option("--worst", min=0, help="How many worst-served areas to list.")
    ] = 10,
) -> None:
    """Which households are within the service radius, per area, and where the blind spots are.

    Prints coverage per area (households, covered, rate, mean and 90th-percentile
    distance to the nearest facility) with the district total and the worst
    areas, and writes TYPE_RADIUSm.gpkg (layers areas, buildings, circles,
    blind_spots) and TYPE_RADIUSm.csv (the table) to --out.
    """
    level = check_level(by.value)
    with open_engine() as engine, engine.connect() as conn:
        info = facility_type(conn, type_code)
        radius_m = resolve_radius(conn, type_code, radius)
        label = t(
            f"{info.name_zh}（{info.code}）{radius_m:g} 米内",
            f"{info.name_en} ({info.code}) within {radius_m:g} m",
        )
        with err.status(t(f"计算覆盖：{label} ……", f"Computing coverage: {label} ...")):
            model = build_coverage(conn, type_code, radius_m)
            rollups = area_rollups(model, level)
            total = area_rollups(model, "district")
        out.print(_rollup_table(rollups, total, label, level))
        if worst_n:
            out.print(_worst_table(worst(rollups, worst_n), level))
        with err.status(t("绘制服务圈和盲区 ……", "Drawing service circles and blind spots ...")):
            circles = service_circles(conn, type_code, model=model)
            spots = blind_spots(conn, type_code, model=model)
            outlines = area_outlines(conn, level)
            buildings = building_results(model)
    stem = f"{type_code}_{_metres(radius_m)}m"
    out_dir.mkdir(parents=True, exist_ok=True)
    gpkg, csv = out_dir / f"{stem}.gpkg", out_dir / f"{stem}.csv"
    with err.status(t(f"写入 {gpkg} ……", f"Writing {gpkg} ...")):
        areas = outlines[["code", "geometry"]].merge(rollups, on="code", how="right")
        points = gpd.GeoDataFrame(
            buildings, geometry=gpd.points_from_xy(buildings["lon"], buildings["lat"]), crs=4326
        )
        gpkg.unlink(missing_ok=True)
        for layer, frame in (
            ("areas", gpd.GeoDataFrame(areas, geometry="geometry", crs=4326)),
            ("buildings", points),
            ("circles", circles),
            ("blind_spots", spots),
        ):
            frame.to_file(gpkg, layer=layer, driver="GPKG")
        # utf-8 with a BOM: Excel, which many planners open CSVs with, then reads the names.
        rollups.to_csv(csv, index=False, encoding="utf-8-sig")
    uncovered = int(total["households_uncovered"].iloc[0])
    km2 = spots["area_m2"].sum() / 1e6
    out.print(
        t(
            f"{len(spots):,} 处盲区内有 {uncovered:,} 户未覆盖"
            f"（所有服务圈之外的居住区面积 {km2:.2f} 平方千米）。",
            f"{len(spots):,} blind spots hold the {uncovered:,} uncovered households "
            f"({km2:.2f} km² of residential area outside every circle).",
        )
    )
    out.print(
        t(
            f"已写入 {gpkg}（图层 areas、buildings、circles、blind_spots）和 {csv}。",
            f"Wrote {gpkg} (layers areas, buildings, circles, blind_spots) and {csv}.",
        )
    )


def _metres(radius_m: float) -> str:
    return str(int(radius_m)) if float(radius_m).is_integer() else f"{radius_m:g}"


def _pct(rate: float) -> str:
    return "–" if rate is None or math.isnan(rate) else f"{rate:.1%}"


def _m(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:,.0f}"


#: Per figure: its header (Chinese, English: distances in metres, p90 the 90th percentile)
#: and its cell.
_COLUMNS = {
    "households": (("户数", "households"), lambda r: f"{int(r['households']):,}"),
    "covered": (("覆盖", "covered"), lambda r: f"{int(r['households_covered']):,}"),
    "uncovered": (("未覆盖", "uncovered"), lambda r: f"{int(r['households_uncovered']):,}"),
    "rate": (("覆盖率", "rate"), lambda r: _pct(r["coverage_rate"])),
    "mean": (("均距米", "mean m"), lambda r: _m(r["mean_distance_m"])),
    "p90": (("P90米", "p90 m"), lambda r: _m(r["p90_distance_m"])),
}
_MAIN = ("households", "covered", "rate", "mean", "p90")
_WORST = ("households", "uncovered", "rate", "mean", "p90")


def _table(title: str, rollups: pd.DataFrame, numbers: tuple[str, ...]) -> Table:
    """The code is never cut (a planner looks it up); headers wrap before names fold."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column(t("代码", "code"), no_wrap=True)
    table.add_column(t("名称", "name"), overflow="fold")
    for key in numbers:
        header, cell = _COLUMNS[key]
        width = max([len(cell(r)) for _, r in rollups.iterrows()], default=1)
        table.add_column(t(*header), justify="right", min_width=width)
    return table


def _cells(r: pd.Series, numbers: tuple[str, ...]) -> list[str]:
    return [str(r["code"]), str(r["name"]), *(_COLUMNS[k][1](r) for k in numbers)]


def _rollup_table(rollups: pd.DataFrame, total: pd.DataFrame, label: str, level: str) -> Table:
    title = t(f"各{LEVEL_ZH[level]}覆盖情况：{label}", f"Coverage per {level}: {label}")
    table = _table(title, rollups, _MAIN)
    for _, r in rollups.head(MAX_ROWS_SHOWN).iterrows():
        table.add_row(*_cells(r, _MAIN))
    if len(rollups) > MAX_ROWS_SHOWN:
        more = len(rollups) - MAX_ROWS_SHOWN
        table.add_row("…", t(f"另有 {more:,} 行见 CSV", f"{more:,} more rows in the CSV"))
    table.add_section()
    for _, r in total.iterrows():
        table.add_row(*_cells(r, _MAIN), style="bold")
    return table


def _worst_table(ranked: pd.DataFrame, level: str) -> Table:
    title = t(
        f"覆盖最差的{LEVEL_ZH[level]}：覆盖率最低，其次未覆盖户数最多",
        f"Worst-served {PLURAL[level]}: lowest rate, then most households uncovered",
    )
    table = _table(title, ranked, _WORST)
    for _, r in ranked.iterrows():
        table.add_row(*_cells(r, _WORST))
    return table
