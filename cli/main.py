"""`gridmap`: run the demo, serve the map and API, manage the database, import data."""

from __future__ import annotations

import secrets
import socket
import sys
import time
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from cli.context import open_app_engines, open_engine
from cli.errors import explained, fail
from gis.accounts.accounts import role_name_zh
from gis.accounts.passwords import check_strength
from gis.coverage.catalogue import CATALOGUE
from gis.db.embedded import EmbeddedPostgres
from gis.demo.accounts import accounts_to_try
from gis.demo.load import DemoCounts
from gis.errors import GridmapError
from gis.principal import Role
from gis.settings import DatabaseSettings, DemoSettings, ServerSettings

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
        ("accounts 账号", counts.accounts),
        ("street edges 道路路段", counts.streets),
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
    chosen = DemoSettings().demo_password
    if chosen:
        try:
            check_strength(chosen)  # before the load, not at its end
        except GridmapError as exc:
            raise fail(f"GRIDMAP_DEMO_PASSWORD: {exc}") from None
    password = chosen or secrets.token_urlsafe(12)
    with open_app_engines() as (engine, app_engine):
        started = time.perf_counter()
        with progress_bars(sys.stderr.isatty()) as progress:
            counts = load_demo(engine, progress=progress, password=password)
        out.print(_counts_table(counts))
        out.print(f"Demo ready in {time.perf_counter() - started:.1f} s.")
        if counts.loaded_now:
            with engine.connect() as conn:
                _tell_accounts(accounts_to_try(conn), None if chosen else password)
        if serve:
            engine.dispose()  # the owner's connections close; the server's role serves
            _serve(app_engine, host, port)


def _tell_accounts(accounts: list[tuple[str, str, str]], password: str | None) -> None:
    """Say how to log in, once: the random password is not stored in clear anywhere."""
    table = Table(title="演示账号 Demo accounts (log in at /login)", box=box.SIMPLE_HEAD)
    table.add_column("用户名 username", no_wrap=True)
    table.add_column("角色 role")
    table.add_column("名称 name")
    for username, role, name in accounts:
        table.add_row(username, f"{role_name_zh(Role(role))} {role}", name)
    out.print(table)
    if password is None:
        out.print("密码 Password: the one in GRIDMAP_DEMO_PASSWORD (every demo account has it).")
        return
    out.print(
        "密码 Password of every demo account (shown this once; keep it, or set "
        "GRIDMAP_DEMO_PASSWORD before the first `gridmap demo`, or change one with "
        "`gridmap users reset-password USERNAME`):"
    )
    print(password)  # plain and unwrapped: meant to be copied


@app.command()
@explained
def serve(port: PortOption = None, host: HostOption = None) -> None:
    """Serve the web map and the HTTP API on the current database (as the role gridmap_app)."""
    server = ServerSettings()
    host = host or server.host
    port = port or server.port
    _check_port_free(host, port)
    with open_app_engines() as (owner, app_engine):
        owner.dispose()  # the owner's connections close; the server's role serves
        _serve(app_engine, host, port)


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

from cli.accounts_command import (  # noqa: E402
    audit_command,
    keys_app,
    keys_create,
    keys_list,
    keys_revoke,
    users_add,
    users_app,
    users_disable,
    users_list,
    users_reset_password,
)
from cli.coverage_command import coverage_command  # noqa: E402
from cli.incidents_command import escalate_command, incidents_app, stats_command  # noqa: E402
from cli.norms_command import norms_command  # noqa: E402

app.command("coverage")(explained(coverage_command))
app.command("norms")(explained(norms_command))
incidents_app.command("stats")(explained(stats_command))
incidents_app.command("escalate")(explained(escalate_command))
app.add_typer(incidents_app, name="incidents")
users_app.command("add")(explained(users_add))
users_app.command("list")(explained(users_list))
users_app.command("disable")(explained(users_disable))
users_app.command("reset-password")(explained(users_reset_password))
keys_app.command("create")(explained(keys_create))
keys_app.command("list")(explained(keys_list))
keys_app.command("revoke")(explained(keys_revoke))
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.command("audit")(explained(audit_command))


if __name__ == "__main__":  # pragma: no cover
    app()
