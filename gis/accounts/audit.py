"""The audit trail: who did what to which object, in which area, when, from where.

Every write, every login (and failed login) and every read of personal data
is one row of ``audit_log``, written in the same transaction as the write it
records (so an acknowledged write is audited, and an audited write happened).
The table is append-only (migration 0007): nothing here updates or deletes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql import bindparam

from gis.principal import Principal

TEXT_MAX = 500
"""Characters kept of an object or client text (longer ones are cut, not refused)."""

_INSERT = text(
    """INSERT INTO audit_log (principal, role, action, object, area, client, detail)
       VALUES (:principal, :role, :action, :object, :area, :client, :detail)"""
).bindparams(bindparam("detail", type_=JSONB))


def record(
    session: Session,
    principal: Principal | str,
    action: str,
    *,
    object: str | None = None,
    area: str | None = None,
    client: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Add one entry in the caller's transaction (committed with the work it records).

    ``principal`` a Principal, or the name typed at a failed login; ``action``
    a dotted verb (``incident.report``, ``login.failed``, ``personal.read``);
    ``object`` what it concerned (``incident:12``); ``area`` the grid or area
    code; ``client`` the caller's address.
    """
    if isinstance(principal, Principal):
        who, role = principal.login, (principal.role.value if principal.role else principal.kind)
    else:
        who, role = principal, None
    session.execute(
        _INSERT,
        {
            "principal": who[:TEXT_MAX],
            "role": role,
            "action": action,
            "object": None if object is None else object[:TEXT_MAX],
            "area": area,
            "client": None if client is None else client[:TEXT_MAX],
            "detail": dict(detail) if detail else None,
        },
    )


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: dt.datetime
    principal: str
    role: str | None
    action: str
    object: str | None
    area: str | None
    client: str | None
    detail: dict[str, Any] | None


_FILTERS = """
    WHERE (CAST(:since AS timestamptz) IS NULL OR at >= :since)
      AND (CAST(:until AS timestamptz) IS NULL OR at < :until)
      AND (CAST(:user AS text) IS NULL OR lower(principal) = lower(:user))
      AND (CAST(:action AS text) IS NULL OR starts_with(action, :action))"""


def entries(
    session: Session,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    user: str | None = None,
    action: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[AuditRecord]:
    """Newest first; ``action`` matches a prefix (``incident.`` every incident action)."""
    rows = session.execute(
        text(
            "SELECT id, at, principal, role, action, object, area, client, detail "
            f"FROM audit_log {_FILTERS} ORDER BY at DESC, id DESC LIMIT :limit OFFSET :offset"
        ),
        {
            "since": since,
            "until": until,
            "user": user,
            "action": action,
            "limit": limit,
            "offset": offset,
        },
    ).mappings()
    return [AuditRecord(**r) for r in rows]


def count_entries(
    session: Session,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    user: str | None = None,
    action: str | None = None,
) -> int:
    """How many entries ``entries`` pages through with the same filters."""
    found = session.execute(
        text(f"SELECT count(*) FROM audit_log {_FILTERS}"),
        {"since": since, "until": until, "user": user, "action": action},
    ).scalar_one()
    return int(found)
