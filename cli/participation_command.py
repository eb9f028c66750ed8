"""`gridmap participation import|stats`: councils, micro-projects and 由民做主 items,
a thin shell around ``gis.participation``."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from cli.context import open_engine
from cli.import_command import _parse_datum, _print_rejections
from cli.lang import lang, t
from gis.accounts import audit
from gis.areas.codes import Level
from gis.errors import ImportRejectedError
from gis.participation.importer import import_participation
from gis.participation.kinds import KINDS
from gis.participation.stats import statistics
from gis.principal import Principal

#: Registered as `gridmap participation` by cli.main (commands wrapped in `explained`).
participation_app = typer.Typer(
    help="Residents who decide: resident councils, micro-projects (民生微实事) and 由民做主 items.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)


class FileKind(enum.StrEnum):
    ITEMS = "items"
    COUNCILS = "councils"


def import_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="A CSV (UTF-8 or GB18030), GeoPackage or GeoJSON file; columns in "
            "docs/participation.md."
        ),
    ],
    kind: Annotated[
        FileKind, typer.Option(help="What the file holds: items (default) or councils.")
    ] = FileKind.ITEMS,
    datum: Annotated[
        str,
        typer.Option(
            help="Datum of the places' coordinates: wgs84, cgcs2000, gcj02 (Amap/Tencent/"
            "WeChat) or bd09 (Baidu)."
        ),
    ] = "wgs84",
    layer: Annotated[
        str | None, typer.Option(help="Layer to read from a GeoPackage with several.")
    ] = None,
    report_csv: Annotated[
        Path | None,
        typer.Option(help="Write rejected rows (row, id, reason) to this CSV file."),
    ] = None,
) -> None:
    """Import councils or items, all or nothing: every row is checked before anything is
    written, and every bad row is listed with its number."""
    source_datum = _parse_datum(datum)
    principal = Principal.system(f"import:{path.name}")
    try:
        with open_engine() as engine, Session(bind=engine) as session, session.begin():
            report = import_participation(
                session, path, principal, kind=kind.value, datum=source_datum, layer=layer
            )
            audit.record(
                session,
                principal,
                f"import.participation.{kind.value}",
                object=f"file:{path.name}",
                detail={"rows": report.rows, "datum": report.datum},
            )
    except ImportRejectedError as exc:
        _print_rejections(exc, report_csv)
        raise typer.Exit(1) from None
    what = t("议事会", "councils") if kind is FileKind.COUNCILS else t("事项", "items")
    out.print(
        t(
            f"已从 {path.name}（{report.source}，{report.datum}）导入 {report.rows} 个{what}。",
            f"Imported {report.rows} {what} from {path.name} ({report.source}, {report.datum}).",
        )
    )


def stats_command(
    level: Annotated[
        Level, typer.Option(help="Rows per community, subdistrict or district.")
    ] = Level.SUBDISTRICT,
    year: Annotated[
        int | None, typer.Option(help="Only items proposed in this year.", min=2000, max=2100)
    ] = None,
    csv: Annotated[Path | None, typer.Option(help="Also write the table to this CSV.")] = None,
) -> None:
    """Councils and items per area: counts per kind, budget and spending, per 1,000
    households."""
    with open_engine() as engine, engine.connect() as conn:
        table = statistics(conn, level, year)
    grid = Table(
        title=t("居民参与统计", "Resident participation"), box=box.SIMPLE_HEAVY, show_lines=False
    )
    names = [t("代码", "code"), t("名称", "name"), t("户数", "households")]
    names += [t("议事会", "councils"), t("事项", "items")]
    names += [KINDS[k].pick(lang()) for k in KINDS]
    names += [t("预算（元）", "budget (CNY)"), t("已支出（元）", "spent (CNY)")]
    names += [t("每千户事项", "items / 1,000 hh"), t("每千户预算（元）", "budget / 1,000 hh")]
    for i, name in enumerate(names):
        grid.add_column(name, justify="left" if i < 2 else "right")
    for row in table.to_dict("records"):
        per = row["items_per_1000_households"]
        budget_per = row["budget_per_1000_households_cny"]
        grid.add_row(
            str(row["code"]),
            str(row["name"]),
            f"{row['households']:,}",
            str(row["councils"]),
            str(row["items"]),
            *(str(row[k]) for k in KINDS),
            f"{row['budget_cny']:,.0f}",
            f"{row['spent_cny']:,.0f}",
            "" if per != per else f"{per:.1f}",
            "" if budget_per != budget_per else f"{budget_per:,.0f}",
        )
    out.print(grid)
    if csv is not None:
        table.to_csv(csv, index=False, encoding="utf-8-sig")
        out.print(t(f"已写入 {csv}。", f"Wrote {csv}."))
