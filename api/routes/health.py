"""Liveness and readiness for load balancers and the CLI."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from api import access
from api.routing import ReadRetryRoute
from api.schemas import HealthDoc
from gis.db.probe import ServerProbe
from gis.errors import DatabaseUnavailableError

router = APIRouter(route_class=ReadRetryRoute, tags=["health"])


@router.get(
    "/healthz",
    dependencies=[Depends(access.PUBLIC)],
    summary="Is the service up and its database reachable?",
    response_model=None,
    responses={200: {"model": HealthDoc}},
)
async def healthz(request: Request) -> dict[str, Any]:
    """``{"status": "ok", "database": "<server version>"}``, or a 503 error with
    ``Retry-After`` if the database cannot be reached.

    Asynchronous and on a connection of its own (gis.db.probe): it never waits
    behind requests for a worker thread or a pooled connection, and it turns
    green by itself within a second of the database coming back."""
    probe: ServerProbe | None = getattr(request.app.state, "probe", None)
    if probe is None:
        raise DatabaseUnavailableError("The app has no database yet: it is still starting.")
    return {"status": "ok", "database": f"PostgreSQL {await probe.version()}"}
