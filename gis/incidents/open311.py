"""Incidents as Open311 GeoReport v2 service requests: what a hotline or city app reads.

An incident is a *service request*: its category is the ``service_code``, its
seven workflow states collapse to ``open`` and ``closed`` (cancelled, closed
and evaluated cases are closed), ``status_notes`` is the note of its latest
step and ``agency_responsible`` the area at the level that now owns the case
(四级联动). A note the system wrote (an automatic escalation) is given in
both languages (``gis.lang.Texts``) for the edge to pick; people's notes are
as they wrote them. Who reads decides what they see (``gis.incidents.visibility``):
only the requests in their reach (a key with an area: that area); requests
of personal categories are listed only to those responsible for them and
are shown to others, by id, at their grid's representative point without
description, address, photo or notes. The protocol itself (parameters,
formats) lives in ``api.open311``; filing is ordinary intake
(``gis.incidents.intake``). Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.areas.codes import Level
from gis.errors import InvalidParameterError
from gis.geo.geojson import BBox
from gis.incidents import visibility
from gis.incidents.visibility import Scope
from gis.incidents.workflow import State
from gis.lang import Texts
from gis.principal import SYSTEM, Principal

OpenClosed = Literal["open", "closed"]
CLOSED_STATES: tuple[State, ...] = (State.CANCELLED, State.CLOSED, State.EVALUATED)
OPEN_STATES: tuple[State, ...] = tuple(s for s in State if s not in CLOSED_STATES)


def open_or_closed(state: State) -> OpenClosed:
    """Open311's two states: cancelled, closed and evaluated cases are closed."""
    return "closed" if state in CLOSED_STATES else "open"


@dataclass(frozen=True)
class ServiceRequest:
    """An incident as Open311 shows it; lon/lat WGS84 degrees, times aware.

    ``masked``: a personal category (``Category.personal``: disputes, petitions,
    help requests) the reader is not responsible for; only what the reporter
    needs to follow the case is kept: the point is the grid's representative
    point (None without a grid), description, notes, photo, address and
    building are None.
    """

    id: int
    category: str
    state: State
    description: str | None
    address: str | None
    building_id: int | None
    lon: float | None
    lat: float | None
    requested_at: dt.datetime
    updated_at: dt.datetime
    expected_at: dt.datetime | None
    status_notes: str | Texts | None
    media_url: str | None
    handling_level: Level
    agency: str | None
    masked: bool = False

    @property
    def personal(self) -> bool:
        return visibility.is_personal(self.category)

    @property
    def status(self) -> OpenClosed:
        return open_or_closed(self.state)


@dataclass(frozen=True)
class RequestFilter:
    """GET requests.json: the 90-day report window and the optional filters.

    ``start`` is included and ``end`` too (GeoReport's "latest datetime to
    include"); ``updated_after`` excludes its own instant.
    """

    start: dt.datetime
    end: dt.datetime
    service_codes: tuple[str, ...] = ()
    statuses: tuple[OpenClosed, ...] = ()
    bbox: BBox | None = None
    updated_after: dt.datetime | None = None
    limit: int = 1000
    offset: int = 0


# --------------------------------------------------------------------------- storage


def jurisdictions(session: Session) -> dict[str, str]:
    """Codes and names of the current districts: the jurisdiction_ids this server accepts."""
    rows = session.execute(
        text(
            "SELECT code, name FROM admin_area WHERE level = 'district' AND valid_to IS NULL"
            " ORDER BY code"
        )
    ).all()
    return {str(r.code): str(r.name) for r in rows}


def building_at_address(session: Session, address: str) -> int | None:
    """The building whose address is exactly ``address`` (spaces trimmed), if only one is.

    None when no building has it or several do: the caller must then ask for
    lat/long instead of guessing.
    """
    rows = session.execute(
        text("SELECT id FROM building WHERE btrim(address) = :a ORDER BY id LIMIT 2"),
        {"a": address.strip()},
    ).all()
    return int(rows[0].id) if len(rows) == 1 else None


def building_exists(session: Session, building_id: int) -> tuple[bool, str | None]:
    """Whether building ``building_id`` exists, and its address."""
    row = session.execute(
        text("SELECT address FROM building WHERE id = :b"), {"b": building_id}
    ).first()
    return (row is not None, None if row is None else row.address)


_SELECT = """
SELECT i.id, i.category, i.status, i.description, i.address, i.location_datum,
       ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.reported_at, i.deadline_at,
       i.handling_level,
       COALESCE(t.at, i.closed_at, i.reported_at) AS updated_at,
       CASE WHEN t.action <> 'reported' THEN t.note END AS status_notes,
       t.action AS last_action, t.actor AS last_actor, t.to_level AS last_to_level,
       i.media_url, g.code AS grid_code,
       ST_X(ST_PointOnSurface(g.geom)) AS grid_lon, ST_Y(ST_PointOnSurface(g.geom)) AS grid_lat,
       CASE i.handling_level
         WHEN 'grid' THEN g.name WHEN 'community' THEN c.name
         WHEN 'subdistrict' THEN s.name ELSE d.name END AS agency
FROM incident i
LEFT JOIN grid g ON g.id = i.grid_id
LEFT JOIN admin_area c ON c.id = i.community_id
LEFT JOIN admin_area s ON s.id = i.subdistrict_id
LEFT JOIN admin_area d ON d.id = COALESCE(s.parent_id, c.parent_id)
LEFT JOIN LATERAL (
  SELECT tr.at, tr.note, tr.action, tr.actor, tr.to_level FROM incident_transition tr
  WHERE tr.incident_id = i.id ORDER BY tr.at DESC, tr.id DESC LIMIT 1) t ON true
"""


def _building_of(location_datum: str | None) -> int | None:
    if location_datum and location_datum.startswith("building:"):
        tail = location_datum.removeprefix("building:")
        return int(tail) if tail.isdigit() else None
    return None


def _status_notes(row: Any) -> str | Texts | None:
    """The latest step's note; an automatic escalation's said in both languages."""
    if row.last_action == "escalate" and row.last_actor == SYSTEM.name and row.last_to_level:
        level = Level(row.last_to_level)
        return Texts(
            f"已超过处理时限，系统自动上报至{level.name_zh}级",
            f"past its deadline: raised to {level.value} level automatically",
        )
    return str(row.status_notes) if row.status_notes is not None else None


def _request(row: Any, viewer: Principal) -> ServiceRequest:
    request = ServiceRequest(
        id=int(row.id),
        category=row.category,
        state=State(row.status),
        description=row.description,
        address=row.address,
        building_id=_building_of(row.location_datum),
        lon=float(row.lon),
        lat=float(row.lat),
        requested_at=row.reported_at,
        updated_at=row.updated_at,
        expected_at=row.deadline_at,
        status_notes=_status_notes(row),
        media_url=row.media_url,
        handling_level=Level(row.handling_level),
        agency=row.agency,
    )
    if visibility.in_full(viewer, row.grid_code, request.category):
        return request
    return replace(
        request,
        description=None,
        address=None,
        building_id=None,
        lon=None if row.grid_lon is None else float(row.grid_lon),
        lat=None if row.grid_lat is None else float(row.grid_lat),
        status_notes=None,
        media_url=None,
        masked=True,
    )


def service_requests_by_id(
    session: Session, ids: Sequence[int], viewer: Principal
) -> list[ServiceRequest]:
    """The requests with these ids that ``viewer`` may see, in the order asked; ids that do
    not exist or are out of their reach are left out alike.

    Requests of personal categories are answered too (the reporter follows the
    case by its id), masked unless the viewer is responsible for them.
    """
    if not ids:
        return []
    rows = session.execute(
        text(_SELECT + " WHERE i.id = ANY(:ids)"), {"ids": [int(i) for i in ids]}
    ).all()
    by_id = {
        int(r.id): _request(r, viewer)
        for r in rows
        if visibility.reaches(viewer, r.grid_code, r.category)
    }
    return [by_id[i] for i in ids if i in by_id]


def list_service_requests(
    session: Session, where: RequestFilter, viewer: Principal
) -> list[ServiceRequest]:
    """Requests reported in ``[start, end]`` matching the filters that ``viewer`` may see,
    newest first.

    Order is by report time then id, both descending, so pages never overlap.
    Requests of personal categories (disputes, petitions, help requests) are
    listed only to those responsible for them, never masked: a list of snapped
    points would still map which grids people in need live in.
    """
    if where.limit < 1 or where.offset < 0:
        raise InvalidParameterError("a page needs a positive size and a non-negative offset")
    scope = Scope.of(viewer)
    clauses = [
        "i.reported_at >= :start",
        "i.reported_at <= :end",
        scope.reach_sql("g.code", "i.category"),
        scope.full_sql("g.code", "i.category"),
    ]
    params: dict[str, Any] = {
        **scope.params(),
        "start": where.start,
        "end": where.end,
        "limit": where.limit,
        "offset": where.offset,
    }
    if where.service_codes:
        clauses.append("i.category = ANY(:codes)")
        params["codes"] = list(where.service_codes)
    if where.statuses and set(where.statuses) != {"open", "closed"}:
        wanted = CLOSED_STATES if where.statuses == ("closed",) else OPEN_STATES
        clauses.append("i.status = ANY(:states)")
        params["states"] = [s.value for s in wanted]
    if where.bbox is not None:
        clauses.append("ST_Intersects(i.geom, ST_MakeEnvelope(:w, :s, :e, :n, 4326))")
        params.update(
            w=where.bbox.min_lon, s=where.bbox.min_lat, e=where.bbox.max_lon, n=where.bbox.max_lat
        )
    if where.updated_after is not None:
        clauses.append("COALESCE(t.at, i.closed_at, i.reported_at) > :updated_after")
        params["updated_after"] = where.updated_after
    rows = session.execute(
        text(
            _SELECT
            + " WHERE "
            + " AND ".join(clauses)
            + " ORDER BY i.reported_at DESC, i.id DESC LIMIT :limit OFFSET :offset"
        ),
        params,
    ).all()
    return [_request(r, viewer) for r in rows]
