"""People's accounts: one role and the area it covers, a password, disabled or not.

An account's areas come from its role: the district, subdistrict or community
named by ``area_code`` (and everything under it, codes being hierarchical);
for a grid manager, the current grids of their staff record, their primary grid
first (where the field app opens), the B posts (``staff_grid.is_primary = false``)
included; admin and planner cover the
whole district unless given an area. Disabling an account or resetting its
password ends its logins at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.accounts.passwords import hash_password
from gis.areas.codes import Level, level_of
from gis.errors import ConflictError, InvalidParameterError, NotFoundError
from gis.localtime import utc_now as now
from gis.principal import Principal, Role

USERNAME = re.compile(r"^[\w.@-]{1,64}$")
"""Letters (Chinese included), digits and . _ @ -: what a login form and a log line can hold."""

_ROLE_LEVEL: Mapping[Role, Level] = {
    Role.DISTRICT: Level.DISTRICT,
    Role.SUBDISTRICT: Level.SUBDISTRICT,
    Role.COMMUNITY: Level.COMMUNITY,
}
"""Roles whose area is exactly one area of this level."""


def role_name_zh(role: Role) -> str:
    return role.name_zh


@dataclass(frozen=True)
class AccountInfo:
    """An account as lists show it; ``areas`` the codes it covers (None: all)."""

    id: int
    username: str
    display_name: str
    role: Role
    area_code: str | None
    staff_id: int | None
    disabled: bool
    areas: tuple[str, ...] | None

    def principal(self) -> Principal:
        return Principal(
            "person",
            self.display_name,
            role=self.role,
            areas=self.areas,
            ref=f"account:{self.id}",
            staff_id=self.staff_id,
            username=self.username,
        )


ACCOUNT_COLUMNS = """a.id, a.username, a.display_name, a.role, a.area_code, a.staff_id,
    a.disabled_at IS NOT NULL AS disabled,
    CASE WHEN a.role = 'grid_manager' THEN ARRAY(
        SELECT g.code FROM staff_grid sg JOIN grid g ON g.id = sg.grid_id
         WHERE sg.staff_id = a.staff_id AND g.valid_to IS NULL ORDER BY sg.is_primary DESC, g.code)
    END AS grid_codes"""
"""The columns ``account_info`` reads (``a`` is the account): one query per account."""


def account_info(row: Mapping[Any, Any]) -> AccountInfo:
    role = Role(row["role"])
    areas: tuple[str, ...] | None
    if role is Role.GRID_MANAGER:
        areas = tuple(row["grid_codes"] or ())
    elif row["area_code"] is not None:
        areas = (row["area_code"],)
    elif role in (Role.ADMIN, Role.PLANNER):
        areas = None
    else:
        areas = ()  # an area-bound role without an area covers nothing (never stored so)
    return AccountInfo(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        role=role,
        area_code=row["area_code"],
        staff_id=row["staff_id"],
        disabled=bool(row["disabled"]),
        areas=areas,
    )


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise InvalidParameterError(
            f"username {username[:70]!r} is not allowed: use 1-64 letters, digits, '.', '_', "
            "'@' or '-'"
        )
    return username


def _check_area(session: Session, role: Role, area_code: str | None, staff_id: int | None) -> None:
    if role is Role.GRID_MANAGER:
        if area_code is not None:
            raise InvalidParameterError(
                "a grid manager's area is the grids of their staff record: give --staff, not --area"
            )
        if staff_id is None:
            raise InvalidParameterError(
                "a grid manager's account needs their staff record (--staff)"
            )
        return
    if area_code is None:
        if role in (Role.ADMIN, Role.PLANNER):
            return
        raise InvalidParameterError(f"a {role} account needs the code of its area (--area)")
    try:
        level = level_of(area_code)
    except InvalidParameterError:
        raise InvalidParameterError(f"{area_code!r} is not an area code") from None
    wanted = _ROLE_LEVEL.get(role)
    if level is Level.GRID or (wanted is not None and level is not wanted):
        raise InvalidParameterError(
            f"a {role} account covers a {wanted or 'district, subdistrict or community'}; "
            f"{area_code} is a {level}"
        )
    found = session.execute(
        text("SELECT 1 FROM admin_area WHERE code = :code AND valid_to IS NULL"),
        {"code": area_code},
    ).first()
    if found is None:
        raise NotFoundError(
            f"no current area has the code {area_code}", zh=f"没有编码为 {area_code} 的现行区域"
        )


def add_account(
    session: Session,
    username: str,
    password: str,
    role: Role | str,
    *,
    area_code: str | None = None,
    staff_id: int | None = None,
    display_name: str | None = None,
    password_hash: str | None = None,
) -> AccountInfo:
    """A new account; ``password_hash`` instead of ``password`` to reuse one hash (the demo)."""
    check_username(username)
    try:
        role = Role(role)
    except ValueError:
        raise InvalidParameterError(
            f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}"
        ) from None
    _check_area(session, role, area_code, staff_id)
    if staff_id is not None:
        name = session.execute(
            text("SELECT name FROM staff WHERE id = :id"), {"id": staff_id}
        ).scalar()
        if name is None:
            raise NotFoundError(f"no staff record has the id {staff_id}")
        display_name = display_name or name
    taken = session.execute(
        text("SELECT 1 FROM account WHERE lower(username) = lower(:u)"), {"u": username}
    ).first()
    if taken is not None:
        raise ConflictError(f"an account named {username!r} exists already")
    new_id = session.execute(
        text(
            """INSERT INTO account (username, password_hash, role, area_code, staff_id,
                                    display_name)
               VALUES (:u, :h, :r, :a, :s, :d) RETURNING id"""
        ),
        {
            "u": username,
            "h": password_hash or hash_password(password),
            "r": role.value,
            "a": area_code,
            "s": staff_id,
            "d": display_name or username,
        },
    ).scalar_one()
    return get_account(session, new_id)


def get_account(session: Session, account: int | str) -> AccountInfo:
    """By id or by username (case-insensitive)."""
    where = "a.id = :k" if isinstance(account, int) else "lower(a.username) = lower(:k)"
    row = (
        session.execute(
            text(f"SELECT {ACCOUNT_COLUMNS} FROM account a WHERE {where}"), {"k": account}
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(f"no account {account!r}", zh=f"没有账号 {account!r}")
    return account_info(row)


def list_accounts(session: Session, *, role: Role | None = None) -> list[AccountInfo]:
    rows = session.execute(
        text(
            f"""SELECT {ACCOUNT_COLUMNS} FROM account a
                 WHERE CAST(:role AS text) IS NULL OR a.role = :role ORDER BY a.username"""
        ),
        {"role": role.value if role else None},
    ).mappings()
    return [account_info(r) for r in rows]


def disable_account(session: Session, username: str) -> AccountInfo:
    """Disabled accounts cannot log in, and their open logins end now."""
    info = get_account(session, username)
    session.execute(
        text("UPDATE account SET disabled_at = coalesce(disabled_at, :t) WHERE id = :id"),
        {"t": now(), "id": info.id},
    )
    end_logins(session, info.id)
    return get_account(session, info.id)


def reset_password(session: Session, username: str, password: str) -> AccountInfo:
    """A new password; every open login of the account ends."""
    info = get_account(session, username)
    session.execute(
        text("UPDATE account SET password_hash = :h, password_changed_at = :t WHERE id = :id"),
        {"h": hash_password(password), "t": now(), "id": info.id},
    )
    end_logins(session, info.id)
    return info


def end_logins(session: Session, account_id: int) -> int:
    result = session.execute(
        text(
            "UPDATE auth_session SET revoked_at = :t WHERE account_id = :id AND revoked_at IS NULL"
        ),
        {"t": now(), "id": account_id},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def covered_codes(session: Session, infos: Sequence[AccountInfo]) -> list[dict[str, Any]]:
    """``{"username", "role", "areas"}`` per account (``gridmap users list --format json``):
    the codes each covers, the current district's for an account that covers everything."""
    districts = list(
        session.execute(
            text(
                "SELECT code FROM admin_area WHERE level = 'district' AND valid_to IS NULL "
                "ORDER BY code"
            )
        ).scalars()
    )
    return [
        {
            "username": i.username,
            "role": i.role.value,
            "areas": districts if i.areas is None else list(i.areas),
        }
        for i in infos
    ]


@dataclass(frozen=True)
class HomeGrid:
    """A grid of a grid manager's, as the landing page lists them: ``primary`` for an A post
    (their own grid), False for a B post (a colleague's grid they stand in for)."""

    code: str
    name: str
    primary: bool


def home_grids(session: Session, principal: Principal) -> list[HomeGrid]:
    """A grid manager's current grids, their primary (A post) grid first, then the B posts,
    each by code; empty for anyone else (their home is their inbox)."""
    if principal.kind != "person" or principal.role is not Role.GRID_MANAGER:
        return []
    if principal.staff_id is None:
        return []
    rows = session.execute(
        text(
            "SELECT g.code, g.name, sg.is_primary FROM staff_grid sg"
            " JOIN grid g ON g.id = sg.grid_id"
            " WHERE sg.staff_id = :s AND g.valid_to IS NULL"
            " ORDER BY sg.is_primary DESC, g.code"
        ),
        {"s": principal.staff_id},
    ).all()
    return [HomeGrid(r.code, r.name, bool(r.is_primary)) for r in rows]
