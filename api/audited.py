"""The audit from the edge: one row per write, and one per answer showing personal data.

A write handler records what it did before it commits, so the change and its
audit row are committed together or not at all (``gis.accounts.audit``): an
acknowledged write is audited, and an audited write happened. The caller's
address comes from the request; who did it is the route's principal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from api.access import client_address
from gis.accounts import audit
from gis.incidents.records import IncidentRecord
from gis.principal import Principal


def record_write(
    session: Session,
    request: Request,
    principal: Principal,
    action: str,
    *,
    object: str,
    area: str | None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Add the audit row of a write to the caller's (uncommitted) transaction.

    ``action`` a dotted verb (``incident.report``, ``incident.verify``,
    ``facility.update``); ``object`` what changed (``incident:12``); ``area``
    the grid or community code it lies in.
    """
    audit.record(
        session,
        principal,
        action,
        object=object,
        area=area,
        client=client_address(request),
        detail=detail,
    )


def record_report(
    session: Session,
    request: Request,
    principal: Principal,
    record: IncidentRecord,
    *,
    via: str | None = None,
) -> None:
    """The audit row of a new report, whichever door it came in by (``via``: open311)."""
    detail = {"category": record.category} | ({"via": via} if via else {})
    record_write(
        session,
        request,
        principal,
        "incident.report",
        object=f"incident:{record.id}",
        area=record.grid_code,
        detail=detail,
    )


PERSONAL_READ = "personal.read"


def record_read(
    session: Session,
    request: Request,
    principal: Principal,
    object: str,
    *,
    area: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Record that ``principal`` was shown ``object``'s personal data in full, and commit:
    a read handler has no other write to commit the row with.

    What counts as personal, and who sees it in full, is ``gis.incidents.visibility``.
    """
    record_write(
        session, request, principal, PERSONAL_READ, object=object, area=area, detail=detail
    )
    session.commit()
