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
from cli.lang import BadLangSetting, choose, forget, lang, t
from gis.accounts.accounts import role_name_zh
from gis.accounts.passwords import check_strength
from gis.coverage.catalogue import CATALOGUE
from gis.db.embedded import EmbeddedPostgres
from gis.demo.accounts import accounts_to_try
from gis.demo.load import DemoCounts
from gis.errors import GridmapError
from gis.lang import Lang
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


@app.callback()
def main(
    ctx: typer.Context,
    lang: Annotated[
        Lang | None,
        typer.Option(
            "--lang",
            help="Language of tables, messages and errors: zh (中文, default) or en "
            "[env GRIDMAP_LANG].",
        ),
    ] = None,
) -> None:
    """Community grid management and service coverage on PostGIS."""
    try:
        choose(lang)
    except BadLangSetting as exc:
        raise fail(str(exc), 2) from None
    ctx.call_on_close(forget)


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            raise fail(
                t(
                    f"{host} 的端口 {port} 已被占用。请用 --port 或 GRIDMAP_PORT 换一个端口。",
                    f"port {port} on {host} is already in use. "
                    "Pass --port or set GRIDMAP_PORT to another port.",
                )
            ) from None


def _serve(engine: Any, host: str, port: int) -> None:
    import uvicorn

    from api.app import create_app

    settings = ServerSettings(host=host, port=port)
    base = f"http://{host}:{port}"
    out.print(
        t(
            f"[bold green]服务已启动[/]：地图 [link]{base}/[/link]，API {base}/api/v1，"
            f"接口文档 {base}/docs；覆盖分析 /coverage，事件 /incidents，网格员工作清单 "
            "/incidents/grid，Open311 /open311/v2（Ctrl-C 停止）。",
            f"[bold green]Serving[/] the map at [link]{base}/[/link], "
            f"the API at {base}/api/v1 and its docs at {base}/docs; "
            f"coverage at /coverage, incidents at /incidents, grid managers' worklists at "
            f"/incidents/grid, Open311 at /open311/v2 (Ctrl-C stops).",
        ),
    )
    app = create_app(settings, engine=engine, escalate=True)  # overdue cases go up on their own
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _counts_table(counts: DemoCounts) -> Table:
    names = {spec.code: t(spec.name_zh, spec.name_en) for spec in CATALOGUE}
    table = Table(title=t("演示区 潍坊市奎文区 (370705)", "Demo district Kuiwen, Weifang (370705)"))
    table.add_column(t("项目", "what"))
    table.add_column(t("数量", "count"), justify="right")
    for label, value in (
        (t("街道", "subdistricts"), counts.subdistricts),
        (t("社区", "communities"), counts.communities),
        (t("网格", "grids"), counts.grids),
        (t("楼栋", "buildings"), counts.buildings),
        (t("户", "households"), counts.households),
        (t("人员", "staff"), counts.staff),
        (t("事件", "incidents"), counts.incidents),
        (t("账号", "accounts"), counts.accounts),
        (t("道路路段", "street edges"), counts.streets),
        (t("步行路段", "walking edges"), counts.walk_edges),
        (
            t("步行障碍 (河流、铁路、围墙)", "walking barriers (river, rail, walls)"),
            counts.walk_barriers,
        ),
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
            raise fail(f"GRIDMAP_DEMO_PASSWORD: {exc.text(lang())}") from None
    password = chosen or secrets.token_urlsafe(12)
    with open_app_engines() as (engine, app_engine):
        started = time.perf_counter()
        with progress_bars(sys.stderr.isatty()) as progress:
            counts = load_demo(engine, progress=progress, password=password)
        out.print(_counts_table(counts))
        seconds = time.perf_counter() - started
        out.print(t(f"演示数据就绪，用时 {seconds:.1f} 秒。", f"Demo ready in {seconds:.1f} s."))
        if counts.loaded_now:
            with engine.connect() as conn:
                _tell_accounts(accounts_to_try(conn), None if chosen else password)
        if serve:
            engine.dispose()  # the owner's connections close; the server's role serves
            _serve(app_engine, host, port)


def _tell_accounts(accounts: list[tuple[str, str, str]], password: str | None) -> None:
    """Say how to log in, once: the random password is not stored in clear anywhere."""
    table = Table(
        title=t("演示账号（在 /login 登录）", "Demo accounts (log in at /login)"),
        box=box.SIMPLE_HEAD,
    )
    table.add_column(t("用户名", "username"), no_wrap=True)
    table.add_column(t("角色", "role"))
    table.add_column(t("名称", "name"))
    for username, role, name in accounts:
        table.add_row(username, t(role_name_zh(Role(role)), role), name)
    out.print(table)
    if password is None:
        out.print(
            t(
                "密码：GRIDMAP_DEMO_PASSWORD 中的那个（每个演示账号都用它）。",
                "Password: the one in GRIDMAP_DEMO_PASSWORD (every demo account has it).",
            )
        )
        return
    out.print(
        t(
            "每个演示账号的密码（仅显示这一次；请记下，或在第一次 `gridmap demo` 之前设置 "
            "GRIDMAP_DEMO_PASSWORD，或用 `gridmap users reset-password 用户名` 修改）：",
            "Password of every demo account (shown this once; keep it, or set "
            "GRIDMAP_DEMO_PASSWORD before the first `gridmap demo`, or change one with "
            "`gridmap users reset-password USERNAME`):",
        )
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
        err.print(
            t(
                "已设置 DATABASE_URL：gridmap 使用该服务器，不运行自己的数据库。",
                "DATABASE_URL is set: gridmap uses that server and runs none of its own.",
            )
        )
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
    print(
        t(
            f"密码：在 {cluster.password_file} 中（仅其所有者可读）",
            f"password: in {cluster.password_file} (readable by its owner only)",
        )
    )
    print(f'DATABASE_URL="{with_file}"')


@db_app.command("stop")
@explained
def db_stop() -> None:
    """Stop the embedded PostGIS if it runs."""
    _cluster().stop()
    out.print(t("已停止", "stopped"))


@db_app.command("status")
@explained
def db_status() -> None:
    """Say whether the embedded PostGIS runs, where, and on which port."""
    cluster = _cluster()
    port = cluster.running_port()
    if port:
        state = t(f"运行中，127.0.0.1:{port}", f"running on 127.0.0.1:{port}")
    else:
        state = t("已停止", "stopped")
    out.print(
        t(f"数据目录 {cluster.data_dir}：{state}", f"data directory {cluster.data_dir}: {state}")
    )


@db_app.command("migrate")
@explained
def db_migrate() -> None:
    """Create or upgrade the schema (every command does this on start anyway)."""
    with open_engine():
        out.print(t("数据库结构已是最新", "schema is up to date"))


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
from cli.export_command import export_command  # noqa: E402
from cli.incidents_command import (  # noqa: E402
    escalate_command,
    incidents_app,
    stats_command,
    units_command,
)
from cli.network_command import import_command as network_import  # noqa: E402
from cli.network_command import info_command as network_info  # noqa: E402
from cli.network_command import network_app  # noqa: E402
from cli.norms_command import norms_command  # noqa: E402
from cli.participation_command import import_command as participation_import  # noqa: E402
from cli.participation_command import participation_app  # noqa: E402
from cli.participation_command import stats_command as participation_stats  # noqa: E402

app.command("coverage")(explained(coverage_command))
app.command("norms")(explained(norms_command))
app.command("export")(explained(export_command))
incidents_app.command("stats")(explained(stats_command))
incidents_app.command("escalate")(explained(escalate_command))
incidents_app.command("units")(explained(units_command))
app.add_typer(incidents_app, name="incidents")
network_app.command("import")(explained(network_import))
network_app.command("info")(explained(network_info))
app.add_typer(network_app, name="network")
participation_app.command("import")(explained(participation_import))
participation_app.command("stats")(explained(participation_stats))
app.add_typer(participation_app, name="participation")
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
