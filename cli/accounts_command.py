"""`gridmap users`, `gridmap keys` and `gridmap audit`: who may log in or call, and what was done.

The command line acts as the system: every write here is audited as
``cli:<operating-system user>`` in the transaction that makes it. Passwords are
never taken from the command line (where ``ps`` and the shell history would
keep them): a prompt asks twice, or ``--password-stdin`` reads one line.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import getpass
import json
import os
import sys
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from cli.context import open_engine
from cli.errors import fail
from cli.lang import t
from gis.accounts import audit, keys
from gis.accounts.accounts import (
    AccountInfo,
    add_account,
    covered_codes,
    disable_account,
    list_accounts,
    reset_password,
    role_name_zh,
)
from gis.accounts.passwords import check_strength
from gis.localtime import CITY_TZ, as_instant
from gis.principal import Principal, Role

#: Registered as `gridmap users` and `gridmap keys` by cli.main, which adds their commands
#: wrapped in `explained` (errors as one line).
users_app = typer.Typer(help="People's accounts: add, list, disable, reset a password.")
keys_app = typer.Typer(help="API keys of other systems: create (shown once), list, revoke.")
out = Console()
err = Console(stderr=True)


class Format(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


class AuditFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def cli_principal() -> Principal:
    """The system principal of this command: ``cli:<the operating-system user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        user = f"uid{os.getuid()}"
    return Principal.system(f"cli:{user}")


def _new_password(from_stdin: bool) -> str:
    """A password from one line of stdin, or typed twice at a hidden prompt."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise fail(
                t(
                    "--password-stdin 没有读到密码：请用管道输入一行密码",
                    "--password-stdin read no password: pipe one line holding it",
                )
            )
    else:
        password = typer.prompt(
            t("密码", "Password"),
            hide_input=True,
            confirmation_prompt=t("再输入一次密码", "Repeat for confirmation"),
            err=True,
        )
    check_strength(password)
    return password


PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of stdin instead of a prompt.",
    ),
]


def _areas(info: AccountInfo, sep: str = ", ") -> str:
    if info.areas is None:
        return t("全区", "all")
    return sep.join(info.areas) if info.areas else "–"


def users_add(
    username: Annotated[str, typer.Argument(help="What they log in with.")],
    role: Annotated[Role, typer.Option(help="The account's role.")],
    area: Annotated[
        str | None,
        typer.Option(help="Area code: district, subdistrict or community (not for grid_manager)."),
    ] = None,
    staff: Annotated[
        int | None,
        typer.Option(help="Staff record id (required for grid_manager: their grids)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Display name (default: the staff record's, or USERNAME).")
    ] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a person's account; the password is asked twice (or read from stdin)."""
    password = _new_password(password_stdin)
    with open_engine() as engine, Session(engine) as session:
        info = add_account(
            session, username, password, role, area_code=area, staff_id=staff, display_name=name
        )
        audit.record(
            session,
            cli_principal(),
            "account.add",
            object=f"account:{info.id}",
            area=area,
            detail={"username": info.username, "role": info.role.value, "staff_id": staff},
        )
        session.commit()
    out.print(
        t(
            f"已添加账号 [bold]{info.username}[/]（{role_name_zh(info.role)}），"
            f"范围：{_areas(info)}。",
            f"Added account [bold]{info.username}[/] ({info.role.value}), covers {_areas(info)}.",
        )
    )


def users_list(
    fmt: Annotated[Format, typer.Option("--format", help="table, or json for scripts.")] = (
        Format.TABLE
    ),
    role: Annotated[Role | None, typer.Option(help="Only accounts of this role.")] = None,
) -> None:
    """Every account: username, role, the areas it covers, whether it is disabled."""
    with open_engine() as engine, Session(engine) as session:
        infos = list_accounts(session, role=role)
        if fmt is Format.JSON:
            print(json.dumps(covered_codes(session, infos), ensure_ascii=False, indent=1))
            return
    table = Table(title=t(f"账号（{len(infos)}）", f"Accounts ({len(infos)})"), box=box.SIMPLE_HEAD)
    # Names and codes are never cut (one code a line); the rest wraps in a narrow terminal.
    table.add_column(t("用户名", "username"), no_wrap=True)
    table.add_column(t("角色", "role"))
    table.add_column(t("名称", "name"), overflow="fold")
    table.add_column(t("范围", "areas"), no_wrap=True)
    table.add_column(t("状态", "state"))
    for i in infos:
        table.add_row(
            i.username,
            t(role_name_zh(i.role), i.role.value),
            i.display_name,
            _areas(i, "\n"),
            t("停用", "disabled") if i.disabled else t("启用", "active"),
        )
    out.print(table)


def users_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable an account: it cannot log in, and its open logins end now."""
    with open_engine() as engine, Session(engine) as session:
        info = disable_account(session, username)
        audit.record(session, cli_principal(), "account.disable", object=f"account:{info.id}")
        session.commit()
    out.print(
        t(
            f"已停用 [bold]{info.username}[/]；其登录已全部结束。",
            f"Disabled [bold]{info.username}[/]; its logins have ended.",
        )
    )


def users_reset_password(
    username: Annotated[str, typer.Argument()], password_stdin: PasswordStdin = False
) -> None:
    """Set a new password (asked twice, or read from stdin); the account's logins end."""
    password = _new_password(password_stdin)
    with open_engine() as engine, Session(engine) as session:
        info = reset_password(session, username, password)
        audit.record(
            session, cli_principal(), "account.reset_password", object=f"account:{info.id}"
        )
        session.commit()
    out.print(
        t(
            f"已为 [bold]{info.username}[/] 设置新密码；其登录已全部结束。",
            f"New password set for [bold]{info.username}[/]; its logins have ended.",
        )
    )


def _when(moment: dt.datetime | None) -> str:
    return "–" if moment is None else f"{moment.astimezone(CITY_TZ):%Y-%m-%d %H:%M}"


def keys_create(
    name: Annotated[str, typer.Option(help="Who uses it, e.g. 12345热线.")],
    scopes: Annotated[str, typer.Option(help=f"Comma-separated scopes: {', '.join(keys.SCOPES)}.")],
    area: Annotated[
        str | None, typer.Option(help="Area or grid code it is limited to (default: all).")
    ] = None,
    days: Annotated[
        int, typer.Option(min=1, max=3650, help="Days until it expires.")
    ] = keys.DEFAULT_LIFETIME.days,
) -> None:
    """Create an API key; the key is printed alone on the last line, this once only."""
    with open_engine() as engine, Session(engine) as session:
        info, key = keys.create_key(
            session,
            name,
            scopes.split(","),
            area_code=area,
            lifetime=dt.timedelta(days=days),
        )
        audit.record(
            session,
            cli_principal(),
            "key.create",
            object=f"key:{info.id}",
            area=area,
            detail={"name": info.name, "prefix": info.prefix, "scopes": list(info.scopes)},
        )
        session.commit()
    out.print(
        t(
            f"已创建密钥 [bold]{info.name}[/]（前缀 {info.prefix}，权限 {', '.join(info.scopes)}，"
            f"范围 {info.area_code or '全区'}，到期 {_when(info.expires_at)}）。密钥只显示这一次，"
            "只存其摘要；请在 X-API-Key 请求头中发送（Open311：api_key 参数）：",
            f"Created key [bold]{info.name}[/] (prefix {info.prefix}, scopes "
            f"{', '.join(info.scopes)}, area {info.area_code or 'all'}, expires "
            f"{_when(info.expires_at)}). It is shown this once and stored only as a digest; "
            "send it as the X-API-Key header (Open311: the api_key parameter):",
        )
    )
    print(key)  # alone and unwrapped on the last line: for scripts and copying


def keys_list() -> None:
    """Every key: name, prefix, scopes, area, expiry, whether revoked (never the key)."""
    with open_engine() as engine, Session(engine) as session:
        found = keys.list_keys(session)
    table = Table(
        title=t(f"API 密钥（{len(found)}）", f"API keys ({len(found)})"), box=box.SIMPLE_HEAD
    )
    for zh, en in (
        ("名称", "name"),
        ("前缀", "prefix"),
        ("权限", "scopes"),
        ("范围", "area"),
        ("到期", "expires"),
    ):
        table.add_column(t(zh, en), overflow="fold", no_wrap=en == "prefix")
    table.add_column(t("状态", "state"))
    for k in found:
        if k.revoked_at is not None:
            state = t(f"已吊销 {_when(k.revoked_at)}", f"revoked {_when(k.revoked_at)}")
        else:
            state = t("有效", "active") if k.active else t("已过期", "expired")
        table.add_row(
            k.name,
            k.prefix,
            ", ".join(k.scopes),
            k.area_code or t("全区", "all"),
            _when(k.expires_at),
            state,
        )
    out.print(table)


def keys_revoke(
    key: Annotated[str, typer.Argument(metavar="PREFIX|NAME", help="The key's prefix or name.")],
) -> None:
    """Revoke a key: it is refused from now on."""
    with open_engine() as engine, Session(engine) as session:
        info = keys.revoke_key(session, key)
        audit.record(
            session,
            cli_principal(),
            "key.revoke",
            object=f"key:{info.id}",
            detail={"name": info.name, "prefix": info.prefix},
        )
        session.commit()
    out.print(
        t(
            f"已吊销密钥 [bold]{info.name}[/]（前缀 {info.prefix}）。",
            f"Revoked key [bold]{info.name}[/] (prefix {info.prefix}).",
        )
    )


def _moment(value: str | None, option: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return as_instant(dt.datetime.fromisoformat(value))
    except ValueError:
        raise fail(
            t(
                f"{option} {value!r} 不是 ISO 日期或时间：请写 2026-12-01 或 2026-12-01T08:30"
                "（除非以 +00:00 这样的时差结尾，否则按北京时间）",
                f"{option} {value!r} is not an ISO date or time: write 2026-12-01 or "
                "2026-12-01T08:30 (Asia/Shanghai unless it ends in an offset such as +00:00)",
            )
        ) from None


_AUDIT_FIELDS = ("at", "principal", "role", "action", "object", "area", "client", "detail")


def _audit_row(entry: audit.AuditRecord) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.astimezone(CITY_TZ).isoformat(),
        **{f: getattr(entry, f) for f in _AUDIT_FIELDS[1:]},
    }


def audit_command(
    since: Annotated[
        str | None, typer.Option(help="From this ISO date or time (Asia/Shanghai unless given).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Before this ISO date or time.")] = None,
    user: Annotated[
        str | None, typer.Option(help="Only this principal (a username, cli:<user>, key:<name>).")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(help="Only actions starting with this (login, incident., account.)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many.")] = 100,
    fmt: Annotated[
        AuditFormat, typer.Option("--format", help="table, json or csv (UTF-8).")
    ] = AuditFormat.TABLE,
) -> None:
    """The audit trail, newest first: who did what to which object, where, when, from where."""
    start, end = _moment(since, "--since"), _moment(until, "--until")
    with open_engine() as engine, Session(engine) as session:
        found = audit.entries(
            session, since=start, until=end, user=user, action=action, limit=limit
        )
    rows = [_audit_row(e) for e in found]
    if fmt is AuditFormat.JSON:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if fmt is AuditFormat.CSV:
        writer = csv.DictWriter(sys.stdout, fieldnames=["id", *_AUDIT_FIELDS])
        writer.writeheader()
        for row in rows:
            detail = row["detail"]
            writer.writerow(
                {**row, "detail": "" if detail is None else json.dumps(detail, ensure_ascii=False)}
            )
        return
    table = Table(
        title=t(
            f"审计记录（{len(rows)} 条，最新在前）", f"Audit trail ({len(rows)}, newest first)"
        ),
        box=box.SIMPLE_HEAD,
    )
    table.add_column(t("时间（北京时间）", "at (Asia/Shanghai)"))
    for zh, en in (
        ("主体", "principal"),
        ("操作", "action"),
        ("对象", "object"),
        ("区域", "area"),
        ("来源", "client"),
    ):
        table.add_column(t(zh, en), overflow="fold")
    for e in found:
        table.add_row(
            f"{e.at.astimezone(CITY_TZ):%Y-%m-%d %H:%M:%S}",
            e.principal if e.role is None else f"{e.principal} ({e.role})",
            e.action,
            e.object or "–",
            e.area or "–",
            e.client or "–",
        )
    out.print(table)
