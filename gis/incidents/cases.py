"""Incidents in the database: intake and routing, duplicates, the workflow's transitions.

A report (a hotline call, a grid manager's patrol, a phone app) arrives with a
category and a point. Intake (``create_incident``) checks the category against
``gis.incidents.catalogue``, converts the point to WGS84 from the datum the
reporter named (``gis.geo.datum``; a phone sends GCJ-02, never guessed), routes it
by point-in-polygon to its current grid, and so to its community and
subdistrict, and hands it to that grid's primary grid manager. A point on a
boundary road, outside every grid but within ``snap_tolerance_m`` of one, goes
to the nearest grid and the record says how far it was snapped; anything
further away is refused.

Every later step goes through ``transition``: the pure state machine of
``gis.incidents.workflow`` decides what is allowed, this module stores it. Rows are
locked ``FOR UPDATE`` and carry a ``version`` the caller must quote
(optimistic locking): a dispatcher acting on a stale screen gets
StaleVersionError instead of overwriting a colleague's work. Deadlines run in
working time (``gis.incidents.workcalendar``) from the moment the clock starts.

Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.coverage.facilities import to_storage_point
from gis.errors import (
    ConflictError,
    InvalidFeatureError,
    NoDistrictError,
    NotFoundError,
    OutsideDistrictError,
    StaleVersionError,
    UnroutableLocationError,
)
from gis.geo.datum import parse_datum
from gis.incidents import workflow
from gis.incidents.catalogue import category as catalogue_category
from gis.incidents.deadlines import deadline_after
from gis.incidents.workcalendar import WorkCalendar
from gis.incidents.workflow import Action, CaseFlow, Level, State, Transition
from gis.settings import IncidentSettings

SYSTEM_ACTOR = "system"
"""Actor of automatic steps (deadline escalation)."""
MERGE_ACTION = "merge"
"""Action stored when a duplicate is merged into another case (it is cancelled as such)."""
DUPLICATE_DISTANCE_M = 50.0
"""Metres within which an open case of the same category may report the same thing."""
DUPLICATE_WINDOW_HOURS = 72.0
"""Hours either side of a report within which such a case counts as a possible duplicate."""
_OPEN_STATES = [s.value for s in State if not s.is_terminal]

_DUPLICATES = """
SELECT i.id, ST_Distance(i.geom::geography, q.g) AS distance_m,
       abs(extract(epoch FROM i.reported_at - :at)) / 3600 AS hours_apart, i.status
FROM incident i, (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS pt) w,
     LATERAL (SELECT w.pt::geography AS g, CAST(:d_m AS float8) / 110000 AS dy) q
WHERE i.category = :c AND i.status = ANY(:open) AND i.duplicate_of IS NULL
  AND i.id IS DISTINCT FROM :me
  AND i.geom && ST_Expand(w.pt, q.dy * 110000 / 111000
                                / cos(radians(least(abs(CAST(:lat AS float8)) + q.dy, 89.9))),
                          q.dy)
  AND ST_DWithin(i.geom::geography, q.g, :d_m)
  AND i.reported_at BETWEEN :at - make_interval(secs => :w * 3600)
                        AND :at + make_interval(secs => :w * 3600)
"""
"""Open cases of category ``:c`` within ``:d_m`` metres of the WGS84 point and ``:w``
hours of ``:at``, other than ``:me``; merged duplicates are not offered again.

The box test (``&&``, degrees) lets the GiST index on ``incident.geom`` find the
candidates; the box is never smaller than the circle (a degree of latitude is at
least 110 km, of longitude at least 111 km x cos(latitude) at the box's far edge),
and ``ST_DWithin`` on the spheroid decides. Without it, a busy category re-measured
every open case of the window on the spheroid (1 ms per report after a burst of
1,300 reports in a day, growing with the window's count)."""


@dataclass(frozen=True)
class IncidentRecord:
    """An incident as stored; times are timezone-aware, ``snapped_m`` in metres."""

    id: int
    category: str
    status: State
    lon: float
    lat: float
    grid_id: int | None
    grid_code: str | None
    community_id: int | None
    subdistrict_id: int | None
    handler_staff_id: int | None
    handling_level: Level
    reported_at: dt.datetime
    deadline_at: dt.datetime | None
    clock_started_at: dt.datetime | None
    closed_at: dt.datetime | None
    rework_count: int
    version: int
    duplicate_of: int | None
    location_datum: str | None
    address: str | None
    description: str | None
    source: str | None
    snapped_m: float | None
    media_url: str | None

    @property
    def is_open(self) -> bool:
        return not self.status.is_terminal


_SELECT = """
SELECT i.id, i.category, i.status, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
       i.grid_id, g.code AS grid_code, i.community_id, i.subdistrict_id,
       i.handler_staff_id, i.handling_level, i.reported_at, i.deadline_at,
       i.clock_started_at, i.closed_at, i.rework_count, i.version, i.duplicate_of,
       i.location_datum, i.address, i.description, i.source, i.snapped_m, i.media_url
FROM incident i LEFT JOIN grid g ON g.id = i.grid_id
"""


def _record(row: Any) -> IncidentRecord:
    values = row._asdict()
    values["status"] = State(values["status"])
    values["handling_level"] = Level(values["handling_level"])
    return IncidentRecord(**values)


def get_incident(session: Session, incident_id: int) -> IncidentRecord:
    """One incident; NotFoundError if there is none with this id."""
    row = session.execute(text(_SELECT + " WHERE i.id = :id"), {"id": incident_id}).first()
    if row is None:
        raise NotFoundError(f"no incident has id {incident_id}")
    return _record(row)


_ROUTE_AND_INSERT = """
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g),
district AS (
  SELECT a.code, a.name, a.geom FROM admin_area a, p
  WHERE a.level = 'district' AND a.valid_to IS NULL
  ORDER BY a.geom <-> p.g, a.code LIMIT 1),
covering AS (
  SELECT g.id FROM grid g, p WHERE g.valid_to IS NULL AND ST_Covers(g.geom, p.g)
  ORDER BY g.code LIMIT 1),
nearest AS (
  SELECT k.id, ST_Distance(k.geom::geography, p.g::geography) AS distance_m
  FROM p, LATERAL (
    SELECT c.id, c.geom FROM (
      SELECT g.id, g.code, g.geom, g.geom <-> p.g AS d FROM grid g
      WHERE g.valid_to IS NULL ORDER BY g.geom <-> p.g LIMIT 8) c
    ORDER BY c.d, c.code LIMIT 1) k
  WHERE NOT EXISTS (SELECT FROM covering)),
route AS (
  SELECT d.code AS district_code, d.name AS district_name, d.geom AS district_geom,
         c.id AS covering, n.id AS nearest, n.distance_m,
         CASE WHEN c.id IS NULL AND n.distance_m <= :tol
              THEN round(n.distance_m::numeric, 1)::float8 END AS snapped_m,
         COALESCE(c.id, CASE WHEN n.distance_m <= :tol THEN n.id END) AS grid_id
  FROM p LEFT JOIN district d ON true LEFT JOIN covering c ON true LEFT JOIN nearest n ON true),
ins AS (
  INSERT INTO incident (category, geom, reported_at, status, grid_id, description, source,
                        handler_staff_id, handling_level, location_datum, address, snapped_m,
                        media_url)
  SELECT :c, p.g, :at, 'reported', r.grid_id, :d, :s,
         (SELECT s.id FROM staff_grid sg JOIN staff s ON s.id = sg.staff_id
          WHERE sg.grid_id = r.grid_id AND sg.is_primary AND s.role = 'grid_manager'
          ORDER BY s.id LIMIT 1),
         'grid', :datum, :addr, r.snapped_m, :media
  FROM route r, p WHERE r.grid_id IS NOT NULL AND r.district_code IS NOT NULL
  RETURNING id, category, status, ST_X(geom) AS lon, ST_Y(geom) AS lat, grid_id, community_id,
            subdistrict_id, handler_staff_id, handling_level, reported_at, deadline_at,
            clock_started_at, closed_at, rework_count, version, duplicate_of, location_datum,
            address, description, source, snapped_m, media_url),
transition AS (
  INSERT INTO incident_transition (incident_id, action, from_state, to_state, actor, at, note,
                                   from_level, to_level)
  SELECT ins.id, 'reported', NULL, 'reported', :actor, :at,
         CASE WHEN ins.snapped_m IS NULL THEN 'reported'
              ELSE 'reported; outside every grid, snapped '
                   || rtrim(rtrim(round(ins.snapped_m::numeric, 1)::text, '0'), '.')
                   || ' m to the nearest grid' END,
         NULL, 'grid'
  FROM ins)
SELECT r.district_code, r.district_name, r.covering, r.nearest, r.distance_m,
       CASE WHEN r.grid_id IS NULL THEN ST_Covers(r.district_geom, p.g) END AS in_district,
       CASE WHEN r.grid_id IS NULL
            THEN ST_Distance(r.district_geom::geography, p.g::geography) END AS district_m,
       ins.*, g.code AS grid_code, ca.code AS community_code, sa.code AS subdistrict_code,
       st.name AS handler_name{duplicates}
FROM route r CROSS JOIN p
LEFT JOIN ins ON true
LEFT JOIN grid g ON g.id = ins.grid_id
LEFT JOIN admin_area ca ON ca.id = ins.community_id
LEFT JOIN admin_area sa ON sa.id = ins.subdistrict_id
LEFT JOIN staff st ON st.id = ins.handler_staff_id
"""
"""Intake in one round trip: route the WGS84 point to its current grid (or the nearest
within ``:tol`` metres), store the case with that grid's primary grid manager, write its
first transition and answer the stored row with its place. Nothing is inserted when no
grid takes the point; the district's distance (metres) is then computed for the message.
The district's geography distance is the costliest part of routing, so only a point that
no grid takes pays for it."""


_INTAKE = text(_ROUTE_AND_INSERT.format(duplicates=""))
_INTAKE_WITH_DUPLICATES = text(
    _ROUTE_AND_INSERT.format(
        duplicates=""",
       (SELECT coalesce(json_agg(json_build_array(x.id, x.distance_m, x.hours_apart, x.status)
                                 ORDER BY x.distance_m, x.id), '[]'::json)
        FROM ("""
        + _DUPLICATES
        + """) x WHERE ins.id IS NOT NULL) AS duplicates"""
    )
)
_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(IncidentRecord))


def _intake_row(
    session: Session,
    *,
    category: str,
    lon: float,
    lat: float,
    tolerance_m: float,
    at: dt.datetime,
    datum: str,
    datum_label: str,
    description: str | None,
    source: str | None,
    actor: str,
    address: str | None,
    media_url: str | None,
    with_duplicates: bool,
) -> Any:
    """The intake statement's row; raises the routing errors when no grid takes the point.

    Refuses a point outside the district (and farther than the tolerance from
    every grid) with its distance in metres and a datum hint, and a point in
    the district that no grid reaches within the tolerance.
    """
    params: dict[str, Any] = {
        "lon": lon,
        "lat": lat,
        "tol": tolerance_m,
        "c": category,
        "at": at,
        "d": description,
        "s": source,
        "datum": datum_label,
        "addr": address,
        "media": media_url,
        "actor": actor,
    }
    if with_duplicates:
        params.update(
            me=None,  # the new row is invisible to its own statement
            open=_OPEN_STATES,
            d_m=DUPLICATE_DISTANCE_M,
            w=DUPLICATE_WINDOW_HOURS,
        )
    stmt = _INTAKE_WITH_DUPLICATES if with_duplicates else _INTAKE
    row = session.execute(stmt, params).one()
    if row.district_code is None:
        raise NoDistrictError(
            "no district boundary is loaded, so an incident cannot be routed: "
            "run `gridmap demo` or import the district first"
        )
    if row.id is not None:
        return row
    if not row.in_district:
        hint = (
            "a point from a phone map app (Amap, Tencent, WeChat) is GCJ-02: send datum=gcj02; "
            "Baidu is datum=bd09"
            if parse_datum(datum).label in ("wgs84", "cgcs2000")
            else f"it was converted from {datum}; check that the datum is really {datum}"
        )
        raise OutsideDistrictError(
            f"the point ({lon:.6f}, {lat:.6f}) in WGS84 lies {row.district_m:,.0f} m outside "
            f"the district {row.district_name} ({row.district_code}). Check the coordinates: "
            f"lon comes first, and {hint}."
        )
    raise UnroutableLocationError(
        f"the point ({lon:.6f}, {lat:.6f}) lies in the district but "
        f"{row.distance_m:,.0f} m from the nearest grid, more than the snap tolerance of "
        f"{tolerance_m:g} m; check the location or the grid boundaries"
    )


def _write_transition(session: Session, incident_id: int, t: Transition, action: str) -> None:
    session.execute(
        text(
            "INSERT INTO incident_transition (incident_id, action, from_state, to_state, actor,"
            " at, note, from_level, to_level)"
            " VALUES (:i, :a, :f, :t, :actor, :at, :note, :fl, :tl)"
        ),
        {
            "i": incident_id,
            "a": action,
            "f": t.from_state.value,
            "t": t.to_state.value,
            "actor": t.actor,
            "at": t.at,
            "note": t.note or None,
            "fl": t.from_level.value,
            "tl": t.to_level.value,
        },
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Intake:
    """A stored report as the intake answers it: the record, the codes of its community
    and subdistrict, its handler's name, and open cases it may duplicate (nearest first)."""

    record: IncidentRecord
    community_code: str | None
    subdistrict_code: str | None
    handler_name: str | None
    possible_duplicates: list[DuplicateCandidate]


@functools.cache
def _default_snap_tolerance_m() -> float:
    """GRIDMAP_SNAP_TOLERANCE_M (metres), read once per process, not once per report."""
    return IncidentSettings().snap_tolerance_m


MEDIA_URL_MAX = 2000
"""Characters of a photo link; the database checks the same (migration 0005)."""


def _checked_media_url(url: str | None) -> str | None:
    """The link to the reporter's photo, if any: http(s) only, at most ``MEDIA_URL_MAX``."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        raise InvalidFeatureError(f"media_url {url[:80]!r} is not an http(s) link")
    if len(url) > MEDIA_URL_MAX:
        raise InvalidFeatureError(f"media_url is longer than {MEDIA_URL_MAX} characters")
    return url


def _intake(
    session: Session,
    *,
    category: str,
    lon: float | None,
    lat: float | None,
    datum: str,
    description: str | None,
    source: str | None,
    actor: str,
    reported_at: dt.datetime | None,
    address: str | None,
    building_id: int | None,
    snap_tolerance_m: float | None,
    media_url: str | None,
    with_duplicates: bool,
) -> Intake:
    cat = catalogue_category(category)
    if not actor or not actor.strip():
        raise InvalidFeatureError("an incident needs an actor (who reported or recorded it)")
    at = reported_at or _now()
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidFeatureError(f"reported_at {at.isoformat()} has no time zone")
    if lon is None and lat is None:
        if building_id is None:
            raise InvalidFeatureError("give the location as lon and lat, or a building_id")
        point = session.execute(
            text("SELECT ST_X(location) AS lon, ST_Y(location) AS lat FROM building WHERE id = :b"),
            {"b": building_id},
        ).first()
        if point is None:
            raise InvalidFeatureError(f"no building has id {building_id}")
        wlon, wlat = float(point.lon), float(point.lat)
        datum_label = f"building:{building_id}"
    elif lon is None or lat is None:
        raise InvalidFeatureError("a location needs both lon and lat")
    else:
        wlon, wlat = to_storage_point(lon, lat, datum)
        datum_label = parse_datum(datum).label
    row = _intake_row(
        session,
        category=cat.code,
        lon=wlon,
        lat=wlat,
        tolerance_m=_default_snap_tolerance_m() if snap_tolerance_m is None else snap_tolerance_m,
        at=at,
        datum=datum if building_id is None else "wgs84",
        datum_label=datum_label,
        description=description,
        source=source,
        actor=actor,
        address=address,
        media_url=_checked_media_url(media_url),
        with_duplicates=with_duplicates,
    )
    values = row._asdict()
    fields = {name: values[name] for name in _RECORD_FIELDS}
    fields.update(status=State(row.status), handling_level=Level(row.handling_level))
    record = IncidentRecord(**fields)
    duplicates = [
        DuplicateCandidate(int(i), float(distance), float(hours), State(status))
        for i, distance, hours, status in (values["duplicates"] if with_duplicates else [])
    ]
    return Intake(record, row.community_code, row.subdistrict_code, row.handler_name, duplicates)


def create_incident(
    session: Session,
    *,
    category: str,
    lon: float | None = None,
    lat: float | None = None,
    datum: str = "wgs84",
    description: str | None,
    source: str | None,
    actor: str,
    reported_at: dt.datetime | None = None,
    address: str | None = None,
    building_id: int | None = None,
    snap_tolerance_m: float | None = None,
    media_url: str | None = None,
) -> IncidentRecord:
    """Store a new report, routed to its grid and that grid's primary grid manager.

    The location is ``lon``/``lat`` degrees in ``datum`` (wgs84, cgcs2000,
    gcj02, bd09) or, without them, the point of building ``building_id``.
    ``snap_tolerance_m`` (metres) defaults to :class:`IncidentSettings`;
    ``media_url`` links to the reporter's photo (http or https). The first
    transition ("reported", by ``actor``) is written with it, in the same
    statement (one round trip to the database).
    """
    return _intake(
        session,
        category=category,
        lon=lon,
        lat=lat,
        datum=datum,
        description=description,
        source=source,
        actor=actor,
        reported_at=reported_at,
        address=address,
        building_id=building_id,
        snap_tolerance_m=snap_tolerance_m,
        media_url=media_url,
        with_duplicates=False,
    ).record


def report_incident(
    session: Session,
    *,
    category: str,
    lon: float | None = None,
    lat: float | None = None,
    datum: str = "wgs84",
    description: str | None,
    source: str | None,
    actor: str,
    reported_at: dt.datetime | None = None,
    address: str | None = None,
    building_id: int | None = None,
    snap_tolerance_m: float | None = None,
    media_url: str | None = None,
) -> Intake:
    """:func:`create_incident` with what the intake desk answers, in one round trip.

    Besides the record: the community and subdistrict codes, the handler's
    name, and :func:`suggest_duplicates` of the new case (open cases of its
    category within ``DUPLICATE_DISTANCE_M`` metres and ``DUPLICATE_WINDOW_HOURS``).
    """
    return _intake(
        session,
        category=category,
        lon=lon,
        lat=lat,
        datum=datum,
        description=description,
        source=source,
        actor=actor,
        reported_at=reported_at,
        address=address,
        building_id=building_id,
        snap_tolerance_m=snap_tolerance_m,
        media_url=media_url,
        with_duplicates=True,
    )


def _lock(session: Session, incident_id: int) -> Any:
    row = session.execute(
        text(
            "SELECT id, category, status, handling_level, rework_count, version, subdistrict_id,"
            " community_id, deadline_at, duplicate_of FROM incident WHERE id = :id FOR UPDATE"
        ),
        {"id": incident_id},
    ).first()
    if row is None:
        raise NotFoundError(f"no incident has id {incident_id}")
    return row


def _case(session: Session, row: Any) -> CaseFlow:
    """The workflow's view of a stored case; the last transition keeps times in order."""
    last = session.execute(
        text(
            "SELECT action, from_state, to_state, actor, at FROM incident_transition"
            " WHERE incident_id = :i ORDER BY at DESC, id DESC LIMIT 1"
        ),
        {"i": row.id},
    ).first()
    history: tuple[Transition, ...] = ()
    if last is not None:
        history = (
            Transition(
                action=Action.ACCEPT,  # only its time matters to apply()
                from_state=State(last.from_state or last.to_state),
                to_state=State(last.to_state),
                actor=last.actor,
                at=last.at,
            ),
        )
    return CaseFlow(
        state=State(row.status),
        rework_count=int(row.rework_count),
        level=Level(row.handling_level),
        history=history,
    )


def transition(
    session: Session,
    incident_id: int,
    action: Action | str,
    *,
    actor: str,
    expected_version: int,
    note: str | None = None,
    at: dt.datetime | None = None,
    handler_staff_id: int | None = None,
    calendar: WorkCalendar | None = None,
) -> IncidentRecord:
    """Apply ``action`` to the case and store it; returns the case as it now stands.

    ``expected_version`` is the version the caller read (StaleVersionError
    otherwise). Dispatch, redispatch and rework start the clock: the deadline
    is the category's time limit in working time after ``at`` on ``calendar``
    (default: the national calendar). ``handler_staff_id`` names the new
    handler (dispatch, redispatch); escalation raises the level and leaves the
    case without a handler until the new level assigns one.
    """
    at = at or _now()
    row = _lock(session, incident_id)
    if row.version != expected_version:
        raise StaleVersionError(incident_id, expected_version, int(row.version))
    after = workflow.apply(
        _case(session, row),
        action,
        actor=actor,
        at=at,
        note=note or "",
        has_subdistrict=row.subdistrict_id is not None,
    )
    action = Action(action)
    t = after.history[-1]
    sets = ["status = :status", "handling_level = :level", "rework_count = :rework"]
    params: dict[str, Any] = {
        "id": incident_id,
        "expected": expected_version,
        "status": after.state.value,
        "level": after.level.value,
        "rework": after.rework_count,
    }
    if action in workflow.CLOCK_STARTS:
        sets += ["clock_started_at = :at", "deadline_at = :deadline"]
        params.update(at=at, deadline=deadline_after(row.category, at, calendar))
    if action is Action.VERIFY:
        sets.append("closed_at = :at")
        params["at"] = at
    if action is Action.ESCALATE:
        sets.append("handler_staff_id = NULL")
    elif handler_staff_id is not None:
        known = session.execute(
            text("SELECT 1 FROM staff WHERE id = :h"), {"h": handler_staff_id}
        ).first()
        if known is None:
            raise InvalidFeatureError(
                f"no staff member has id {handler_staff_id}; GET /api/v1/worklists/{{grid}} "
                "lists who a grid's cases can go to"
            )
        sets.append("handler_staff_id = :handler")
        params["handler"] = handler_staff_id
    updated = session.execute(
        text(
            f"UPDATE incident SET {', '.join(sets)}, version = version + 1"
            " WHERE id = :id AND version = :expected RETURNING version"
        ),
        params,
    ).first()
    if updated is None:
        current = session.execute(
            text("SELECT version FROM incident WHERE id = :id"), {"id": incident_id}
        ).scalar_one()
        raise StaleVersionError(incident_id, expected_version, int(current))
    _write_transition(session, incident_id, t, action.value)
    return get_incident(session, incident_id)


def escalate_overdue(session: Session, now: dt.datetime) -> list[int]:
    """Raise every open case whose deadline passed by one level; the ids raised.

    Each missed deadline escalates a case once (a case already escalated
    since its deadline passed waits for a new deadline); cases at district
    level, cancelled or closed stay where they are. Actor ``system``. A case
    somebody changes while the sweep runs (a stale version) is left to them
    and not raised this round.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidFeatureError(f"now {now.isoformat()} has no time zone")
    escalable = [s.value for s in State if Action.ESCALATE in workflow.TRANSITIONS[s]]
    rows = session.execute(
        text(
            """
            SELECT i.id, i.version, i.deadline_at FROM incident i
            WHERE i.deadline_at < :now AND i.status = ANY(:states)
              AND i.handling_level <> 'district' AND i.duplicate_of IS NULL
              AND NOT EXISTS (
                SELECT 1 FROM incident_transition t
                WHERE t.incident_id = i.id AND t.action = 'escalate' AND t.at >= i.deadline_at)
            ORDER BY i.deadline_at, i.id
            """
        ),
        {"now": now, "states": escalable},
    ).all()
    raised = []
    for row in rows:
        overdue = now - row.deadline_at
        try:
            with session.begin_nested():
                transition(
                    session,
                    int(row.id),
                    Action.ESCALATE,
                    actor=SYSTEM_ACTOR,
                    expected_version=int(row.version),
                    note=f"deadline {row.deadline_at.isoformat()} passed {_hours(overdue)} ago",
                    at=now,
                )
        except ConflictError:
            continue  # somebody moved the case since it was read: their step stands
        raised.append(int(row.id))
    return raised


def _hours(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


@dataclass(frozen=True)
class DuplicateCandidate:
    """An open case that may report the same thing; distance in metres, gap in hours."""

    id: int
    distance_m: float
    hours_apart: float
    status: State


def suggest_duplicates(
    session: Session,
    incident_id: int | None = None,
    *,
    category: str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    at: dt.datetime | None = None,
    distance_m: float = DUPLICATE_DISTANCE_M,
    window_hours: float = DUPLICATE_WINDOW_HOURS,
) -> list[DuplicateCandidate]:
    """Open cases of the same category within ``distance_m`` metres and ``window_hours``.

    Either an existing ``incident_id`` (it is left out of its own list) or a
    new report's ``category``, WGS84 ``lon``/``lat`` and time ``at``. Nearest first.
    Merged duplicates are not offered again.
    """
    if incident_id is not None:
        me = get_incident(session, incident_id)
        category, lon, lat, at = me.category, me.lon, me.lat, me.reported_at
    if category is None or lon is None or lat is None or at is None:
        raise InvalidFeatureError("give an incident_id, or category, lon, lat and at")
    open_states = [s.value for s in State if not s.is_terminal]
    rows = session.execute(
        text(_DUPLICATES + " ORDER BY distance_m, i.id"),
        {
            "lon": lon,
            "lat": lat,
            "at": at,
            "c": category,
            "open": open_states,
            "me": incident_id,
            "d_m": distance_m,
            "w": window_hours,
        },
    ).all()
    return [
        DuplicateCandidate(int(r.id), float(r.distance_m), float(r.hours_apart), State(r.status))
        for r in rows
    ]


def merge_duplicate(
    session: Session,
    incident_id: int,
    into_id: int,
    *,
    actor: str,
    note: str | None = None,
    at: dt.datetime | None = None,
) -> IncidentRecord:
    """Mark ``incident_id`` a duplicate of ``into_id``; both rows stay, linked.

    The duplicate is cancelled (作废) as such, so it leaves the open count;
    the workflow allows that before dispatch only (a dispatched case is
    somebody's work and is closed through the loop). Returns the duplicate.
    """
    if incident_id == into_id:
        raise InvalidFeatureError("an incident cannot be a duplicate of itself")
    at = at or _now()
    target = _lock(session, into_id)
    if target.duplicate_of is not None:
        raise ConflictError(
            f"incident {into_id} is itself a duplicate of {target.duplicate_of}; "
            f"merge into {target.duplicate_of} instead"
        )
    row = _lock(session, incident_id)
    if row.duplicate_of is not None:
        raise ConflictError(f"incident {incident_id} is already a duplicate of {row.duplicate_of}")
    reason = f"duplicate of incident {into_id}" + (f": {note}" if note else "")
    after = workflow.apply(_case(session, row), Action.CANCEL, actor=actor, at=at, note=reason)
    session.execute(
        text(
            "UPDATE incident SET status = :s, duplicate_of = :into, version = version + 1"
            " WHERE id = :id"
        ),
        {"s": after.state.value, "into": into_id, "id": incident_id},
    )
    _write_transition(session, incident_id, after.history[-1], MERGE_ACTION)
    return get_incident(session, incident_id)


@dataclass(frozen=True)
class HistoryEntry:
    """One stored step of a case, oldest first; levels are None for the intake row."""

    action: str
    from_state: str | None
    to_state: str
    actor: str
    at: dt.datetime
    note: str | None
    from_level: str | None
    to_level: str | None


def history(session: Session, incident_id: int) -> list[HistoryEntry]:
    """Every transition of a case in the order they happened."""
    get_incident(session, incident_id)
    rows = session.execute(
        text(
            "SELECT action, from_state, to_state, actor, at, note, from_level, to_level"
            " FROM incident_transition WHERE incident_id = :i ORDER BY at, id"
        ),
        {"i": incident_id},
    )
    return [HistoryEntry(**r._asdict()) for r in rows]


__all__ = [
    "DuplicateCandidate",
    "HistoryEntry",
    "IncidentRecord",
    "create_incident",
    "escalate_overdue",
    "get_incident",
    "history",
    "merge_duplicate",
    "suggest_duplicates",
    "transition",
]
