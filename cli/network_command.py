"""`gridmap network import|info`: the walking network, a thin shell around ``gis.network``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from cli.context import open_engine
from cli.import_command import _parse_datum, _print_rejections
from cli.lang import t
from cli.progress import progress_bars
from gis.accounts import audit
from gis.errors import ImportRejectedError
from gis.network.importer import NetworkImportReport, import_network
from gis.network.store import NetworkSummary, network_summary
from gis.principal import Principal

#: Registered as `gridmap network` by cli.main, which adds its commands wrapped in
#: `explained` (domain errors as one line).
network_app = typer.Typer(
    help="The walking network: import it from OpenStreetMap or a line layer, see what it holds.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

_KIND_NAMES = {
    "street": ("道路", "streets"),
    "path": ("小路", "paths"),
    "footway": ("人行道", "footways"),
    "steps": ("台阶", "steps"),
    "crossing": ("人行横道", "crossings"),
    "bridge": ("桥", "bridges"),
    "tunnel": ("地道", "underpasses"),
    "gate": ("小区大门", "gates"),
    "other": ("其他", "other"),
}


def import_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="An OpenStreetMap extract (.osm.pbf) or a line layer: GeoPackage, "
            "Shapefile (.shp or .zip) or GeoJSON (columns in docs/network.md)."
        ),
    ],
    datum: Annotated[
        str,
        typer.Option(
            help="Datum of a line layer's coordinates: wgs84, cgcs2000, gcj02 "
            "(Amap/Tencent/WeChat), bd09 (Baidu) or an EPSG code such as EPSG:4549. "
            "OpenStreetMap is always WGS84."
        ),
    ] = "wgs84",
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the walking network stored now.")
    ] = False,
    anywhere: Annotated[
        bool,
        typer.Option(
            "--anywhere",
            help="Do not check the network against the loaded district (a test extract "
            "of another city). Without a district loaded nothing is checked anyway.",
        ),
    ] = False,
    layer: Annotated[
        str | None, typer.Option(help="Layer to read from a GeoPackage with several.")
    ] = None,
    report_csv: Annotated[
        Path | None,
        typer.Option(help="Write rejected rows (row, id, reason) to this CSV file."),
    ] = None,
) -> None:
    """Import a walking network, all or nothing: every row is checked before anything is
    written."""
    source_datum = _parse_datum(datum)
    try:
        with (
            open_engine() as engine,
            Session(bind=engine) as session,
            session.begin(),
            progress_bars(console=err) as progress,
        ):
            report = import_network(
                session,
                path,
                source_datum,
                replace=replace,
                anywhere=anywhere,
                layer=layer,
                progress=progress,
            )
            audit.record(
                session,
                Principal.system(f"import:{report.path.name}"),
                "import.network",
                object=f"file:{report.path.name}",
                detail={
                    "edges": report.summary.edges,
                    "barriers": report.summary.barriers,
                    "datum": report.datum,
                    "replaced": report.replaced is not None,
                },
            )
    except ImportRejectedError as exc:
        _print_rejections(exc, report_csv)
        raise typer.Exit(1) from None
    out.print(_imported(report))


def info_command() -> None:
    """What the stored walking network holds: edges, nodes, kilometres, connected parts,
    one-way edges, barriers, and where it came from."""
    with open_engine() as engine, engine.connect() as conn:
        summary = network_summary(conn)
    if summary.edges == 0:
        out.print(
            t(
                "没有步行路网：用 gridmap network import 导入，或 gridmap demo 加载演示区。",
                "No walking network: import one with gridmap network import, or load the "
                "demo with gridmap demo.",
            )
        )
        return
    out.print(_summary_table(summary, t("步行路网", "Walking network")))


def _summary_table(summary: NetworkSummary, title: str) -> Table:
    table = Table(title=title)
    table.add_column(t("项目", "what"))
    table.add_column(t("值", "value"), justify="right")
    table.add_row(t("路段", "edges"), f"{summary.edges:,}")
    table.add_row(t("节点", "nodes"), f"{summary.nodes:,}")
    table.add_row(t("总长（公里）", "length (km)"), f"{summary.km:,.1f}")
    table.add_row(
        t("连通部分（1 为全部连通）", "connected parts (1: all connected)"),
        f"{summary.components:,}",
    )
    table.add_row(t("单向路段", "one-way edges"), f"{summary.one_way:,}")
    table.add_row(
        t("障碍（河流、铁路、围墙……）", "barriers (rivers, rails, walls...)"),
        f"{summary.barriers:,}",
    )
    table.add_section()
    for kind, n in summary.kinds:
        zh, en = _KIND_NAMES.get(kind, (kind, kind))
        table.add_row(f"{t(zh, en)} ({kind})", f"{n:,}")
    table.add_section()
    table.add_row(t("来源", "from"), ", ".join(summary.origins))
    return table


def _imported(report: NetworkImportReport) -> Table:
    table = _summary_table(
        report.summary,
        t(
            f"已从 {report.path.name} 导入步行路网",
            f"Imported the walking network from {report.path.name}",
        ),
    )
    table.add_row(t("格式", "format"), report.source)
    table.add_row(t("读取行数", "rows read"), f"{report.rows_read:,}")
    table.add_row(t("源坐标系", "source datum"), report.datum)
    if report.replaced is not None:
        table.add_row(
            t("替换了", "replaced"),
            t(
                f"{report.replaced.edges:,} 条路段（{', '.join(report.replaced.origins)}）",
                f"{report.replaced.edges:,} edges ({', '.join(report.replaced.origins)})",
            ),
        )
    table.add_row(t("用时（秒）", "seconds"), f"{report.seconds:.1f}")
    for note in report.notes:
        table.add_row(t("说明", "note"), note)
    return table
