"""`gridmap`: run the demo, serve the map and API, manage the database, import data."""

from __future__ import annotations

import socket
import sys
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from cli.context import open_engine
from cli.errors import explained, fail
from gis.coverage.catalogue import CATALOGUE
from gis.db.embedded import EmbeddedPostgres
from gis.demo.load import DemoCounts
from gis.settings import DatabaseSettings, ServerSettings

app = typer.Typer(
    help="Community grid management and service coverage on PostGIS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The embedded PostGIS server (unused when DATABASE_URL is set).")
app.add_typer(db_app, name="db")
out = Console()
err = Console(stderr=True)


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            raise fail(
                f"port {port} on {host} is already in use. "
                "Pass --port or set GRIDMAP_PORT to another port."
            ) from None


def _serve(engine: Any, host: str, port: int) -> None:
    import uvicorn

    from api.app import create_app

    settings = ServerSettings(host=host, port=port)
    out.print(
        f"[bold green]Serving[/] the map at [link]http://{host}:{port}/[/link], "
        f"the API at http://{host}:{port}/api/v1 and its docs at http://{host}:{port}/docs; "
        f"coverage at /coverage, incidents at /incidents, grid managers' worklists at "
        f"/incidents/grid, Open311 at /open311/v2 (Ctrl-C stops).",
    )
    app = create_app(settings, engine=engine, escalate=True)  # overdue cases go up on their own
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _counts_table(counts: DemoCounts) -> Table:
    names = {spec.code: spec.name_zh for spec in CATALOGUE}
    table = Table(title="Demo district 潍坊市奎文区 (370705)")
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in (
        ("subdistricts 街道", counts.subdistricts),
        ("communities 社区", counts.communities),
        ("grids 网格", counts.grids),
        ("buildings 楼栋", counts.buildings),
        ("households 户", counts.households),
        ("staff 人员", counts.staff),
        ("incidents 事件", counts.incidents),
    ):
        table.add_row(label, f"{value:,}")
    table.add_section()
    for code, n in counts.facilities_by_type.items():
        table.add_row(f"{names.get(code, code)} ({code})", f"{n:,}")
    return table


PortOption = Annotated[
    int | None, typer.Option(help="Port of the web map and API [env GRIDMAP_PORT, default 8000].")
]
HostOption = Annotated[str | None, typer.Option(help="Interface to listen on [env GRIDMAP_HOST].")]


@app.command()
@explained
def demo(
    port: PortOption = None,
    host: HostOption = None,
    serve: Annotated[bool, typer.Option(help="Serve the map after loading.")] = True,
) -> None:
    """Load the demo district (if the database is empty) and serve the map and API."""
    from cli.progress import progress_bars
    from gis.demo.load import load_demo

    server = ServerSettings()
    host = host or server.host
    port = port or server.port
    if serve:
        _check_port_free(host, port)
    with open_engine() as engine:
        started = time.perf_counter()
        with progress_bars(sys.stderr.isatty()) as progress:
            counts = load_demo(engine, progress=progress)
        out.print(_counts_table(counts))
        out.print(f"Demo ready in {time.perf_counter() - started:.1f} s.")
        if serve:
            _serve(engine, host, port)


@app.command()
@explained
def serve(port: PortOption = None, host: HostOption = None) -> None:
    """Serve the web map and the HTTP API on the current database."""
    server = ServerSettings()
    host = host or server.host
    port = port or server.port
    _check_port_free(host, port)
    with open_engine() as engine:
        _serve(engine, host, port)


def _cluster() -> EmbeddedPostgres:
    settings = DatabaseSettings()
    if settings.database_url:
        err.print("DATABASE_URL is set: gridmap uses that server and runs none of its own.")
        raise typer.Exit(0)
    return EmbeddedPostgres(
        data_dir=settings.data_dir, db_name=settings.db_name, bindir=settings.pg_bindir
    )


@db_app.command("start")
@explained
def db_start() -> None:
    """Start the embedded PostGIS and leave it running; prints its URL without the password.

    The password stays in a file of the data directory (mode 600); the line
    printed for DATABASE_URL reads it from there rather than showing it.
    """
    cluster = _cluster()
    url = make_url(cluster.start())
    hidden = url.render_as_string(hide_password=True)
    with_file = url.set(password="PASSWORD").render_as_string(hide_password=False)
    with_file = with_file.replace("PASSWORD", f"$(cat {cluster.password_file})", 1)
    # plain, unwrapped prints: meant to be copied
    print(hidden)
    print(f"password: in {cluster.password_file} (readable by its owner only)")
    print(f'DATABASE_URL="{with_file}"')


@db_app.command("stop")
@explained
def db_stop() -> None:
    """Stop the embedded PostGIS if it runs."""
    _cluster().stop()
    out.print("stopped")


@db_app.command("status")
@explained
def db_status() -> None:
    """Say whether the embedded PostGIS runs, where, and on which port."""
    cluster = _cluster()
    port = cluster.running_port()
    state = f"running on 127.0.0.1:{port}" if port else "stopped"
    out.print(f"data directory {cluster.data_dir}: {state}")


@db_app.command("migrate")
@explained
def db_migrate() -> None:
    """Create or upgrade the schema (every command does this on start anyway)."""
    with open_engine():
        out.print("schema is up to date")


def _register_import() -> None:
    try:
        from cli.import_command import import_command
    except ImportError:  # pragma: no cover - only while the importer is being written
        return
    app.command("import")(explained(import_command))


_register_import()

from cli.coverage_command import coverage_command  # noqa: E402
from cli.incidents_command import escalate_command, incidents_app, stats_command  # noqa: E402
from cli.norms_command import norms_command  # noqa: E402

app.command("coverage")(explained(coverage_command))
app.command("norms")(explained(norms_command))
incidents_app.command("stats")(explained(stats_command))
incidents_app.command("escalate")(explained(escalate_command))
app.add_typer(incidents_app, name="incidents")


if __name__ == "__main__":  # pragma: no cover
    app()
