"""The audit of reads of personal data: one row per answer that shows some in full.

What counts as personal and who sees it in full is ``gis.incidents.visibility``;
this module only writes the row (``personal.read``) and commits it, since a
read handler has no other write to commit it with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from api.access import client_address
from gis.accounts import audit
from gis.principal import Principal

ACTION = "personal.read"


def record_read(
    session: Session,
    request: Request,
    principal: Principal,
    object: str,
    *,
    area: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Record that ``principal`` was shown ``object``'s personal data in full, and commit."""
    audit.record(
        session,
        principal,
        ACTION,
        object=object,
        area=area,
        client=client_address(request),
        detail=detail,
    )
    session.commit()
