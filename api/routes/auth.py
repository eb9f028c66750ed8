"""Logging in and out, who am I, and the audit trail.

``POST /api/v1/auth/token`` is FastAPI's OAuth2 password flow (form fields
``username`` and ``password``) and answers a bearer token; the browser's login
form (``api.routes.login_pages``) opens a cookie login through the same check.
A wrong username and a wrong password give the same 401; after
``gis.accounts.logins.FAILURES_ALLOWED`` failures for one name it is 429 for
a while. Every login, failed login and logout is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import Field
from sqlalchemy.orm import Session

from api.access import ADMIN, PUBLIC, SIGNED_IN, client_address
from api.dependencies import SessionDep, SettingsDep
from api.fields import INT8_MAX, Text
from api.responses import PAGING_HEADERS, ErrorDoc, paging_headers
from api.routing import ReadRetryRoute
from api.schemas import AuditDoc, LogoutDoc, MeDoc, TokenDoc
from gis.accounts import audit, logins
from gis.accounts.accounts import AccountInfo, HomeGrid, home_grids, role_name_zh
from gis.errors import NotAuthenticatedError
from gis.geo.geojson import json_object
from gis.principal import Principal, Role

router = APIRouter(route_class=ReadRetryRoute, prefix="/api/v1", tags=["auth"])

PublicDep = Annotated[Principal, Depends(PUBLIC)]
SignedIn = Annotated[Principal, Depends(SIGNED_IN)]
AdminDep = Annotated[Principal, Depends(ADMIN)]


def log_in(
    session: Session,
    request: Request,
    username: str,
    password: str,
    kind: logins.LoginKind,
    lifetime: dt.timedelta,
) -> tuple[AccountInfo, str]:
    """Check the password and open a login; a failure is committed (and audited) first."""
    client = client_address(request)
    try:
        account = logins.check_password(session, username, password, client)
    except NotAuthenticatedError:
        audit.record(session, username[:64], "login.failed", client=client)
        session.commit()
        raise
    token = logins.open_login(session, account, kind, lifetime, client)
    audit.record(session, account.principal(), "login", client=client, detail={"kind": kind})
    session.commit()
    return account, token


@router.post(
    "/auth/token",
    summary="Log in: a bearer token for username and password (OAuth2 password flow)",
    response_model=None,
    responses={
        200: {"model": TokenDoc, "headers": {"Cache-Control": {"schema": {"type": "string"}}}},
        401: {"model": ErrorDoc, "description": "Wrong username or password (the same answer)."},
        429: {"model": ErrorDoc, "description": "Too many failed logins for this name lately."},
    },
)
def issue_token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    _public: PublicDep,
) -> JSONResponse:
    """``{"access_token", "token_type": "bearer", "expires_in"}``: send it as
    ``Authorization: Bearer <access_token>``. It ends after ``expires_in``
    seconds, at POST /api/v1/auth/logout, or when the account is disabled."""
    lifetime = dt.timedelta(seconds=settings.token_lifetime_s)
    _account, token = log_in(session, request, form.username, form.password, "bearer", lifetime)
    return JSONResponse(
        {"access_token": token, "token_type": "bearer", "expires_in": settings.token_lifetime_s},
        headers={"Cache-Control": "no-store"},
    )


@router.post(
    "/auth/logout",
    summary="End this login (the bearer token or the browser's)",
    response_model=None,
    responses={200: {"model": LogoutDoc}},
)
def log_out(request: Request, session: SessionDep, principal: SignedIn) -> dict[str, Any]:
    secret = getattr(request.state, "auth_secret", None)
    if request.state.auth_kind in ("bearer", "cookie") and secret:
        logins.close_login(session, secret)
    audit.record(session, principal, "logout", client=client_address(request))
    session.commit()
    return {"status": "logged out"}


@router.get(
    "/me",
    summary="Who you are: name, role, area",
    response_model=None,
    responses={200: {"model": MeDoc}},
)
def me(session: SessionDep, principal: SignedIn) -> dict[str, Any]:
    """``kind`` person or system; ``username``, ``name``, ``role`` (and ``role_zh``),
    ``areas`` (codes of the grids or areas you cover; null: the whole district),
    ``scopes`` (a system's); ``home`` where the person lands (a grid manager: their
    primary grid, ``/grid/{code}``; other staff and mediators: ``/inbox``; a
    planner: the district map) and ``home_grids`` (a grid manager's grids, the
    primary first, then B posts)."""
    grids = home_grids(session, principal)
    return {
        "home": _home(principal, grids),
        "home_grids": [vars(g) for g in grids],
        "kind": principal.kind,
        "username": principal.username,
        "name": principal.name,
        "role": principal.role.value if principal.role else None,
        "role_zh": role_name_zh(principal.role) if principal.role else None,
        "areas": None if principal.areas is None else list(principal.areas),
        "scopes": sorted(principal.scopes),
    }


def _home(principal: Principal, grids: list[HomeGrid]) -> dict[str, Any] | None:
    if principal.kind != "person" or principal.role is None:
        return None
    if grids:
        first = grids[0]
        return {
            "kind": "grid",
            "url": f"/grid/{first.code}",
            "grid_code": first.code,
            "grid_name": first.name,
        }
    if principal.role is Role.PLANNER:
        return {"kind": "map", "url": "/", "grid_code": None, "grid_name": None}
    return {"kind": "inbox", "url": "/inbox", "grid_code": None, "grid_name": None}


@router.get(
    "/audit",
    summary="The audit trail, newest first (admin)",
    response_model=None,
    responses={200: {"model": AuditDoc, "headers": PAGING_HEADERS}},
)
def read_audit(
    request: Request,
    session: SessionDep,
    principal: AdminDep,
    since: Annotated[dt.datetime | None, Query(description="From this time on.")] = None,
    until: Annotated[dt.datetime | None, Query(description="Before this time.")] = None,
    user: Annotated[
        Annotated[Text, Field(max_length=64)] | None,
        Query(description="Only this principal (a username, or key:<name> for a key)."),
    ] = None,
    action: Annotated[
        Annotated[Text, Field(max_length=64)] | None,
        Query(description="Only actions starting with this (login, incident., personal.read)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10000, description="Entries per page.")] = 1000,
    offset: Annotated[
        int, Query(ge=0, le=INT8_MAX, description="How many matching entries to skip.")
    ] = 0,
) -> JSONResponse:
    """Each entry: ``at``, ``principal``, ``role``, ``action``, ``object``, ``area``,
    ``client``, ``detail``; ``numberMatched`` entries match over all pages (also in
    ``X-Total-Count``; the ``Link`` header's rel=next is the next page). Reading the
    trail is itself audited."""
    rows = audit.entries(
        session, since=since, until=until, user=user, action=action, limit=limit, offset=offset
    )
    matched = audit.count_entries(session, since=since, until=until, user=user, action=action)
    audit.record(session, principal, "audit.read", detail={"user": user, "action": action})
    session.commit()
    body = {
        "numberMatched": matched,
        "numberReturned": len(rows),
        "entries": [json_object(vars(r)) for r in rows],
    }
    return JSONResponse(body, headers=paging_headers(request, offset, limit, len(rows), matched))
