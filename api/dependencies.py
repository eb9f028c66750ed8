"""Request dependencies: the database session, paging and the common filters.

Handlers declare what they need (``SessionDep``, ``PagingDep``, ``BBoxDep``)
and stay thin; every parameter is checked here or in ``gis`` so a bad value is a
400 with a message, never a 500. Code patterns come from ``gis.areas.codes``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api import limits
from api.fields import INT8_MAX, TEXT_MAX, Text
from gis.areas.codes import CODE_PATTERN, Level
from gis.db.engine import is_unreachable
from gis.errors import DatabaseUnavailableError, InvalidParameterError
from gis.geo.datum import WGS84, Datum, DatumKind, parse_datum
from gis.geo.geojson import BBox, parse_bbox
from gis.settings import ServerSettings

DEFAULT_LIMIT = 1000
"""Features per page when the client does not say (capped by the maximum page size)."""


def get_settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def request_session(request: Request) -> Session:
    """A session of the app's database for this request, its statements bounded by the
    timeout of the request's kind (``api.limits``).

    For a handler that opens and closes its own (``with request_session(request) as
    session:``) instead of taking ``SessionDep``: the hottest write, POST
    /api/v1/incidents, where a generator dependency (an anyio cancel scope and an exit
    stack for every request) costs more CPU than the session does.
    """
    maker = getattr(request.app.state, "sessionmaker", None)
    if maker is None:
        raise DatabaseUnavailableError(
            "The app has no database yet: it is still starting, or started without one."
        )
    session: Session = maker()
    limits.bound_session(request, session)
    return session


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for one request, closed afterwards (what a handler did not commit is not).

    An async generator on purpose: FastAPI runs a plain generator dependency in
    its threadpool twice per request (to open and to close it), and those thread
    hops cost more than the session. Opening a Session does no I/O; closing one
    does only while a transaction is still open (a ROLLBACK, the connection back
    to the pool), and then it runs in the threadpool.

    Its statements are bounded by the timeout of the request's kind
    (``api.limits``); one cancelled for running too long becomes a 503 that
    says what to ask instead.
    """
    session = request_session(request)
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(_close, session)
        else:
            session.close()


def _close(session: Session) -> None:
    """Roll back and close; a connection the server dropped meanwhile is discarded.

    The close runs after the response has gone out: an error escaping here
    would make the server hang up on the client's next request on the same
    connection. The request's answer stands (a write's commit came before).
    """
    try:
        session.close()
    except Exception as exc:
        if not is_unreachable(exc):
            raise
        session.invalidate()


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[ServerSettings, Depends(get_settings)]


@dataclass(frozen=True)
class Paging:
    """Which slice of the matching features to return."""

    limit: int
    offset: int


def get_paging(
    settings: SettingsDep,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=INT8_MAX,
            description=(
                f"Features per page, 1 up to the server's maximum page size "
                f"(GRIDMAP_MAX_PAGE_SIZE, 5000 unless configured); default {DEFAULT_LIMIT}."
            ),
        ),
    ] = None,
    offset: Annotated[
        int,
        Query(
            ge=0, le=INT8_MAX, description="How many matching features to skip (0 = first page)."
        ),
    ] = 0,
) -> Paging:
    maximum = settings.max_page_size
    if limit is None:
        limit = min(DEFAULT_LIMIT, maximum)
    if limit > maximum:
        raise InvalidParameterError(
            f"limit {limit} is above this server's maximum page size of {maximum}. "
            f"Ask for at most {maximum} features and follow the 'next' link for more."
        )
    return Paging(limit=limit, offset=offset)


def get_bbox(
    bbox: Annotated[
        Annotated[Text, Field(max_length=TEXT_MAX)] | None,
        Query(
            description=(
                "Only features intersecting this box: minLon,minLat,maxLon,maxLat in WGS84 degrees."
            ),
            examples=["119.10,36.68,119.25,36.75"],
        ),
    ] = None,
) -> BBox | None:
    return parse_bbox(bbox)


def get_at(
    at: Annotated[
        dt.date | None,
        Query(
            description=(
                "Versions in force on this date (YYYY-MM-DD) instead of the current ones; "
                "boundaries change when communities merge or split."
            ),
        ),
    ] = None,
) -> dt.date | None:
    return at


OUT_DATUMS = ("wgs84", "cgcs2000", "gcj02", "bd09")
"""Datums coordinates may be answered in (``datum=``)."""


def get_datum_out(
    datum: Annotated[
        Annotated[Text, Field(max_length=32)] | None,
        Query(
            description=(
                "Datum of the coordinates in the answer: wgs84 (default), cgcs2000 (EPSG:4490, "
                "the same numbers within centimetres), gcj02 (Amap, Tencent, WeChat base maps) "
                "or bd09 (Baidu). Converted on the way out; anything else is a 400."
            ),
            examples=["gcj02"],
        ),
    ] = None,
) -> Datum:
    """The datum an answer's coordinates are converted to (``gis.geo.datum.geojson_from_wgs84``)."""
    if datum is None:
        return WGS84
    try:
        parsed = parse_datum(datum)
    except ValueError:
        parsed = None
    if parsed is None or parsed.kind is DatumKind.EPSG:
        raise InvalidParameterError(
            f"datum {datum!r} is not one coordinates can be answered in; use one of: "
            f"{', '.join(OUT_DATUMS)}",
            zh=f"坐标系 datum={datum!r} 无法用于输出；请使用以下之一：{'、'.join(OUT_DATUMS)}",
        )
    return parsed


PagingDep = Annotated[Paging, Depends(get_paging)]
DatumOutDep = Annotated[Datum, Depends(get_datum_out)]
BBoxDep = Annotated[BBox | None, Depends(get_bbox)]
AtDep = Annotated[dt.date | None, Depends(get_at)]


GRID_CODE = CODE_PATTERN[Level.GRID]
COMMUNITY_CODE = CODE_PATTERN[Level.COMMUNITY]
GridCodePath = Annotated[str, Path(description="The grid's 15-digit code.", pattern=GRID_CODE)]
