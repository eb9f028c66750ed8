"""`gridmap coverage --type TYPE [--radius M | --minutes N] [--method circle|network] [--compare]`:
coverage per area, a GeoPackage and a CSV report; with --compare, circle against walk."""

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
from cli.errors import fail
from cli.lang import t
from gis.areas.codes import check_level
from gis.areas.hierarchy import load_areas
from gis.areas.queries import area_outlines
from gis.coverage.catalogue import facility_type, radius_from_minutes, resolve_radius
from gis.coverage.compare import circle_vs_walk
from gis.coverage.geometry import blind_spots, service_circles
from gis.coverage.network import no_network
from gis.coverage.report import area_rollups, building_results, worst
from gis.coverage.store import build_coverage, load_buildings
from gis.network.store import has_network
from gis.settings import WalkSettings

out = Console()
err = Console(stderr=True)

#: A terminal table beyond this helps no one; the CSV has every row.
MAX_ROWS_SHOWN = 150


class By(enum.StrEnum):
    COMMUNITY = "community"
    GRID = "grid"
    SUBDISTRICT = "subdistrict"


class Method(enum.StrEnum):
    CIRCLE = "circle"
    NETWORK = "network"


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
        typer.Option(help="Service radius in metres (default: the type's catalogue radius)."),
    ] = None,
    minutes: Annotated[
        float | None,
        typer.Option(
            help="Service radius as minutes of walking, at GRIDMAP_WALK_SPEED_M_PER_MIN "
            "metres a minute (default 60); instead of --radius."
        ),
    ] = None,
    method: Annotated[
        Method,
        typer.Option(
            help="circle: straight-line distance; network: walking distance over the stored "
            "walking network (rivers, rail lines, compound walls; see docs/network.md)."
        ),
    ] = Method.CIRCLE,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Also compare circle and walk at the same radius: households the circle "
            "covers but a walk does not reach, per area (TYPE_RADIUSm_compare.csv).",
        ),
    ] = False,
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
    blind_spots) and TYPE_RADIUSm.csv (the table) to --out. With --method network
    distances are walks over the stored walking network: the files are
    TYPE_RADIUSm_walk.gpkg (each facility's walking service area in the layer
    service_areas instead of circles) and TYPE_RADIUSm_walk.csv. --compare adds a
    table of circle against walk per area and TYPE_RADIUSm_compare.csv.
    """
    if radius is not None and minutes is not None:
        raise fail(
            t(
                "--radius 与 --minutes 只能给出其一（--minutes 按步行速度换算成米）",
                "give --radius or --minutes, not both (--minutes is converted to metres "
                "at the walking speed)",
            )
        )
    level = check_level(by.value)
    walking = method is Method.NETWORK
    speed = WalkSettings().speed_m_per_min
    with open_engine() as engine, engine.connect() as conn:
        info = facility_type(conn, type_code)
        metres = radius if minutes is None else radius_from_minutes(minutes, speed)
        radius_m = resolve_radius(conn, type_code, metres)
        if (walking or compare) and not has_network(conn):
            raise no_network()
        label = _label(info.name_zh, info.name_en, info.code, radius_m, walking)
        if minutes is not None:
            label += t(
                f"（{minutes:g} 分钟，每分钟 {speed:g} 米）",
                f" ({minutes:g} min at {speed:g} m/min)",
            )
        with err.status(t(f"计算覆盖：{label} ……", f"Computing coverage: {label} ...")):
            areas = load_areas(conn)
            buildings = load_buildings(conn, areas)
            models = {
                m: build_coverage(conn, type_code, radius_m, areas, buildings, method=m.value)
                for m in Method
                if compare or m is method
            }
            model = models[method]
            rollups = area_rollups(model, level)
            total = area_rollups(model, "district")
        out.print(_rollup_table(rollups, total, label, level))
        if worst_n:
            out.print(_worst_table(worst(rollups, worst_n), level))
        if compare:
            compared = circle_vs_walk(models[Method.CIRCLE], models[Method.NETWORK], level)
            compared_total = circle_vs_walk(
                models[Method.CIRCLE], models[Method.NETWORK], "district"
            )
            both = _label(info.name_zh, info.name_en, info.code, radius_m, None)
            out.print(_compare_table(compared, compared_total, both, level))
        with err.status(
            t("绘制步行服务范围和盲区 ……", "Drawing walking service areas and blind spots ...")
            if walking
            else t("绘制服务圈和盲区 ……", "Drawing service circles and blind spots ...")
        ):
            circles = service_circles(conn, type_code, model=model)
            spots = blind_spots(conn, type_code, model=model)
            outlines = area_outlines(conn, level)
            building_rows = building_results(model)
    stem = f"{type_code}_{_metres(radius_m)}m"
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "_walk" if walking else ""
    gpkg, csv = out_dir / f"{stem}{suffix}.gpkg", out_dir / f"{stem}{suffix}.csv"
    compare_csv = out_dir / f"{stem}_compare.csv"
    shapes = "service_areas" if walking else "circles"
    with err.status(t(f"写入 {gpkg} ……", f"Writing {gpkg} ...")):
        area_frame = outlines[["code", "geometry"]].merge(rollups, on="code", how="right")
        points = gpd.GeoDataFrame(
            building_rows,
            geometry=gpd.points_from_xy(building_rows["lon"], building_rows["lat"]),
            crs=4326,
        )
        gpkg.unlink(missing_ok=True)
        for layer, frame in (
            ("areas", gpd.GeoDataFrame(area_frame, geometry="geometry", crs=4326)),
            ("buildings", points),
            (shapes, circles),
            ("blind_spots", spots),
        ):
            frame.to_file(gpkg, layer=layer, driver="GPKG")
        # utf-8 with a BOM: Excel, which many planners open CSVs with, then reads the names.
        rollups.to_csv(csv, index=False, encoding="utf-8-sig")
        if compare:
            compared.to_csv(compare_csv, index=False, encoding="utf-8-sig")
    uncovered = int(total["households_uncovered"].iloc[0])
    km2 = spots["area_m2"].sum() / 1e6
    reach = t("步行服务范围", "walking service area") if walking else t("服务圈", "circle")
    out.print(
        t(
            f"{len(spots):,} 处盲区内有 {uncovered:,} 户未覆盖"
            f"（所有{reach}之外的居住区面积 {km2:.2f} 平方千米）。",
            f"{len(spots):,} blind spots hold the {uncovered:,} uncovered households "
            f"({km2:.2f} km² of residential area outside every {reach}).",
        )
    )
    if compare:
        row = compared_total.iloc[0]
        over, share = int(row["households_overstated"]), _pct(row["overstated_share"])
        out.print(
            t(
                f"圆形服务圈高估 {over:,} 户（占圆内覆盖的 {share}）：这些户在圆内，"
                f"但步行 {radius_m:g} 米到不了。",
                f"The circle overstates coverage by {over:,} households ({share} of those it "
                f"covers): inside the circle, but beyond a {radius_m:g} m walk.",
            )
        )
    tables = t(f"、{csv} 和 {compare_csv}", f", {csv} and {compare_csv}") if compare else ""
    out.print(
        t(
            f"已写入 {gpkg}（图层 areas、buildings、{shapes}、blind_spots）"
            f"{tables or f'和 {csv}'}。",
            f"Wrote {gpkg} (layers areas, buildings, {shapes}, blind_spots)"
            f"{tables or f' and {csv}'}.",
        )
    )


def _label(name_zh: str, name_en: str, code: str, radius_m: float, walking: bool | None) -> str:
    """What was asked, e.g. 幼儿园（kindergarten）步行 300 米内; None: the type and radius."""
    if walking is None:
        return t(f"{name_zh}（{code}）{radius_m:g} 米", f"{name_en} ({code}) at {radius_m:g} m")
    if walking:
        return t(
            f"{name_zh}（{code}）步行 {radius_m:g} 米内",
            f"{name_en} ({code}) within a {radius_m:g} m walk",
        )
    return t(f"{name_zh}（{code}）{radius_m:g} 米内", f"{name_en} ({code}) within {radius_m:g} m")


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
    # circle vs walk (gis.coverage.compare.COMPARE_COLUMNS)
    "circle": (("圆内覆盖", "circle covered"), lambda r: f"{int(r['households_circle']):,}"),
    "walk": (("步行覆盖", "walk covered"), lambda r: f"{int(r['households_walk']):,}"),
    "overstated": (
        ("圆形高估户数", "overstated"),
        lambda r: f"{int(r['households_overstated']):,}",
    ),
    "rate_circle": (("圆内覆盖率", "circle rate"), lambda r: _pct(r["rate_circle"])),
    "rate_walk": (("步行覆盖率", "walk rate"), lambda r: _pct(r["rate_walk"])),
    "share": (("高估占圆内", "overstated share"), lambda r: _pct(r["overstated_share"])),
}
_MAIN = ("households", "covered", "rate", "mean", "p90")
_WORST = ("households", "uncovered", "rate", "mean", "p90")
_COMPARE = ("households", "circle", "walk", "overstated", "rate_circle", "rate_walk", "share")


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
    return _with_total(title, rollups, total, _MAIN)


def _compare_table(rows: pd.DataFrame, total: pd.DataFrame, label: str, level: str) -> Table:
    title = t(
        f"各{LEVEL_ZH[level]}圆形与步行覆盖对比：{label}（高估 = 在圆内但步行到不了）",
        f"Circle vs walk per {level}: {label} (overstated: inside the circle, beyond the walk)",
    )
    return _with_total(title, rows, total, _COMPARE)


def _with_total(
    title: str, rows: pd.DataFrame, total: pd.DataFrame, numbers: tuple[str, ...]
) -> Table:
    """Up to MAX_ROWS_SHOWN rows, then the district total in bold."""
    table = _table(title, rows, numbers)
    for _, r in rows.head(MAX_ROWS_SHOWN).iterrows():
        table.add_row(*_cells(r, numbers))
    if len(rows) > MAX_ROWS_SHOWN:
        more = len(rows) - MAX_ROWS_SHOWN
        table.add_row("…", t(f"另有 {more:,} 行见 CSV", f"{more:,} more rows in the CSV"))
    table.add_section()
    for _, r in total.iterrows():
        table.add_row(*_cells(r, numbers), style="bold")
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
