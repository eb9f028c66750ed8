"""Liveness and readiness for load balancers and the CLI."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from gis.db.engine import check_reachable
from gis.errors import DatabaseUnavailableError

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Is the service up and its database reachable?")
def healthz(request: Request) -> dict[str, Any]:
    """``{"status": "ok", "database": "<server version>"}``, or a 503 error if the
    database cannot be reached."""
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise DatabaseUnavailableError("The app has no database yet: it is still starting.")
    return {"status": "ok", "database": f"PostgreSQL {check_reachable(engine)}"}
