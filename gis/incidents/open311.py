"""Incidents as Open311 GeoReport v2 service requests: filing, listing, reading by id.

Open311 clients (hotline systems, city apps) see an incident as a *service
request*: its category is the ``service_code``, its seven workflow states
collapse to ``open`` and ``closed`` (cancelled, closed and evaluated cases are
closed), ``status_notes`` is the note of its latest step (e.g. a cancellation
reason) and ``agency_responsible`` is the area at the level that now owns the
case (grid, community, subdistrict or district, 四级联动). This module holds the
SQL behind those views and the meaning of the GeoReport parameters (the
90-day window, W3C datetimes, comma lists); ``api.routes.open311`` formats.

Filing goes through :func:`gis.incidents.cases.create_incident`, so an Open311
report is routed, snapped and refused exactly like any other. What is kept of
a report: category, point (WGS84), address, description, source, the link to
its photo (``incident.media_url``) and the reporting client (``open311:`` and
a fingerprint of its api_key). Contact fields (email, phone, names, device and
account ids) are personal data and are **not stored**: without authentication
nobody could be trusted to read them back.

Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.areas.queries import BBox
from gis.errors import InvalidParameterError
from gis.incidents.cases import IncidentRecord, create_incident
from gis.incidents.catalogue import PERSONAL_CATEGORIES
from gis.incidents.workflow import Level, State

TIMEZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
"""Times without a zone are read here, and answers are given in this zone (+08:00)."""

WINDOW = dt.timedelta(days=90)
"""GeoReport v2: without dates the last 90 days; a start/end range may not span more."""
MAX_REQUESTS = 1000
"""GeoReport v2: at most 1000 requests per answer (page on with ``page``)."""

OpenClosed = Literal["open", "closed"]
CLOSED_STATES: tuple[State, ...] = (State.CANCELLED, State.CLOSED, State.EVALUATED)
OPEN_STATES: tuple[State, ...] = tuple(s for s in State if s not in CLOSED_STATES)

_UNESCAPED_PLUS = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


def open_or_closed(state: State) -> OpenClosed:
    """Open311's two states: cancelled, closed and evaluated cases are closed."""
    return "closed" if state in CLOSED_STATES else "open"


@dataclass(frozen=True)
class ServiceRequest:
    """An incident as Open311 shows it; lon/lat WGS84 degrees, times aware.

    For a personal category (``Category.personal``: disputes, petitions, help
    requests) only what the reporter needs to follow the case is kept: the
    place, description, notes, photo and address are None.
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
    status_notes: str | None
    media_url: str | None
    handling_level: Level
    agency: str | None

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
    limit: int = MAX_REQUESTS
    offset: int = 0


# --------------------------------------------------------------------------- parameters


def parse_w3c_datetime(value: str, name: str) -> dt.datetime:
    """An aware datetime from a W3C (ISO 8601) date or datetime.

    A date is its midnight and a time without zone is read in Asia/Shanghai.
    A ``+08:00`` that arrived as `` 08:00`` (the ``+`` left unescaped in the
    query string, a common client slip) is read as meant.
    """
    raw = value.strip()
    raw = _UNESCAPED_PLUS.sub(r"\1+\2", raw)
    try:
        parsed = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidParameterError(
            f"{name} {value!r} is not a W3C datetime; use e.g. 2026-03-01T09:00:00+08:00, "
            "2026-03-01T01:00:00Z or 2026-03-01 (escape '+' as %2B in a URL)"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=TIMEZONE)
    return parsed


def comma_list(value: str | None) -> list[str]:
    """The non-empty items of a comma-separated parameter."""
    if value is None:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_request_ids(value: str) -> list[int]:
    """``service_request_id``: comma-separated ids (at most 1000), in the order given."""
    ids: list[int] = []
    for part in comma_list(value):
        if not part.isdigit() or not 1 <= int(part) <= 2**63 - 1:
            raise InvalidParameterError(
                f"service_request_id {part!r} is not a request id; ids are positive integers, "
                "several separated by commas"
            )
        if int(part) not in ids:
            ids.append(int(part))
    if not ids:
        raise InvalidParameterError("service_request_id is empty; give one or more ids")
    if len(ids) > MAX_REQUESTS:
        raise InvalidParameterError(
            f"service_request_id lists {len(ids)} ids; ask for at most {MAX_REQUESTS} at a time"
        )
    return ids


def parse_statuses(value: str | None) -> tuple[OpenClosed, ...]:
    """``status``: open, closed or both (comma-separated); empty means both."""
    statuses: list[OpenClosed] = []
    for part in comma_list(value):
        lowered = part.lower()
        if lowered == "open":
            statuses.append("open")
        elif lowered == "closed":
            statuses.append("closed")
        else:
            raise InvalidParameterError(
                f"status {part!r} is not an Open311 status; use open or closed"
            )
    return tuple(dict.fromkeys(statuses))


def report_window(
    start: dt.datetime | None, end: dt.datetime | None, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """The report-time range of GET requests: GeoReport's 90-day rule.

    Neither date: the last 90 days up to ``now``; only one: 90 days from it
    (or up to it); both: that range, which may not be reversed nor span more
    than 90 days.
    """
    if start is None and end is None:
        return now - WINDOW, now
    if start is None:
        assert end is not None
        return end - WINDOW, end
    if end is None:
        return start, start + WINDOW
    if end < start:
        raise InvalidParameterError(
            f"end_date {end.isoformat()} is before start_date {start.isoformat()}"
        )
    if end - start > WINDOW:
        raise InvalidParameterError(
            f"start_date to end_date spans {(end - start).days} days; GeoReport v2 allows at "
            f"most {WINDOW.days}: ask for the period in slices of 90 days"
        )
    return start, end


def client_actor(api_key: str | None) -> str:
    """Who filed a request: ``open311:anonymous`` or ``open311:key-`` and a key fingerprint.

    The api_key itself is not stored: the case history is readable over the
    API, and a key written there would let anyone file in the client's name
    once keys are checked. The 12 hex digits identify the client to whoever
    holds the key list.
    """
    if api_key is None or not api_key.strip():
        return "open311:anonymous"
    digest = hashlib.sha256(api_key.strip().encode("utf-8")).hexdigest()[:12]
    return f"open311:key-{digest}"


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


def file_service_request(
    session: Session,
    *,
    category: str,
    lon: float | None,
    lat: float | None,
    datum: str,
    building_id: int | None,
    address: str | None,
    description: str | None,
    source: str,
    api_key: str | None,
    media_url: str | None,
) -> IncidentRecord:
    """Store a report filed over Open311 through the one intake path, and its media URL."""
    record = create_incident(
        session,
        category=category,
        lon=lon,
        lat=lat,
        datum=datum,
        description=description,
        source=source,
        actor=client_actor(api_key),
        address=address,
        building_id=building_id,
        media_url=media_url,
    )
    return record


_SELECT = """
SELECT i.id, i.category, i.status, i.description, i.address, i.location_datum,
       ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.reported_at, i.deadline_at,
       i.handling_level,
       COALESCE(t.at, i.closed_at, i.reported_at) AS updated_at,
       CASE WHEN t.action <> 'reported' THEN t.note END AS status_notes,
       i.media_url,
       CASE i.handling_level
         WHEN 'grid' THEN g.name WHEN 'community' THEN c.name
         WHEN 'subdistrict' THEN s.name ELSE d.name END AS agency
FROM incident i
LEFT JOIN grid g ON g.id = i.grid_id
LEFT JOIN admin_area c ON c.id = i.community_id
LEFT JOIN admin_area s ON s.id = i.subdistrict_id
LEFT JOIN admin_area d ON d.id = COALESCE(s.parent_id, c.parent_id)
LEFT JOIN LATERAL (
  SELECT tr.at, tr.note, tr.action FROM incident_transition tr
  WHERE tr.incident_id = i.id ORDER BY tr.at DESC, tr.id DESC LIMIT 1) t ON true
"""


def _building_of(location_datum: str | None) -> int | None:
    if location_datum and location_datum.startswith("building:"):
        tail = location_datum.removeprefix("building:")
        return int(tail) if tail.isdigit() else None
    return None


def _request(row: Any) -> ServiceRequest:
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
        status_notes=row.status_notes,
        media_url=row.media_url,
        handling_level=Level(row.handling_level),
        agency=row.agency,
    )
    if request.category not in PERSONAL_CATEGORIES:
        return request
    return replace(
        request,
        description=None,
        address=None,
        building_id=None,
        lon=None,
        lat=None,
        status_notes=None,
        media_url=None,
    )


def service_requests_by_id(session: Session, ids: Sequence[int]) -> list[ServiceRequest]:
    """The requests with these ids, in the order asked; ids that do not exist are left out.

    Requests of personal categories are answered too (the reporter follows the
    case by its id) but without place, description or notes.
    """
    if not ids:
        return []
    rows = session.execute(
        text(_SELECT + " WHERE i.id = ANY(:ids)"), {"ids": [int(i) for i in ids]}
    ).all()
    by_id = {int(r.id): _request(r) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def list_service_requests(session: Session, where: RequestFilter) -> list[ServiceRequest]:
    """Requests reported in ``[start, end]`` matching the filters, newest first.

    Order is by report time then id, both descending, so pages never overlap.
    Requests of personal categories (disputes, petitions, help requests) are
    never listed: a public list would map where people in need live.
    """
    if not 1 <= where.limit <= MAX_REQUESTS:
        raise InvalidParameterError(f"page_size must be 1 to {MAX_REQUESTS}, got {where.limit}")
    clauses = [
        "i.reported_at >= :start",
        "i.reported_at <= :end",
        "i.category <> ALL(:personal)",
    ]
    params: dict[str, Any] = {
        "personal": sorted(PERSONAL_CATEGORIES),
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
    return [_request(r) for r in rows]


__all__ = [
    "CLOSED_STATES",
    "MAX_REQUESTS",
    "WINDOW",
    "RequestFilter",
    "ServiceRequest",
    "building_at_address",
    "building_exists",
    "client_actor",
    "comma_list",
    "file_service_request",
    "jurisdictions",
    "list_service_requests",
    "open_or_closed",
    "parse_request_ids",
    "parse_statuses",
    "parse_w3c_datetime",
    "report_window",
    "service_requests_by_id",
]
