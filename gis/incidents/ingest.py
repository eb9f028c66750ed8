"""Bulk ingest of incidents, set-based and all or nothing: the historical import's write path.

The rules of live intake (``gis.incidents.intake``) run once per batch inside
one savepoint: histories replayed through the workflow in Python, rows COPied
into a stage, grids assigned in SQL by ``gis.areas.routing``, then
``INSERT … SELECT``. A row no grid takes stops the whole batch with its
reason. Stored rows are indistinguishable from live ones (``docs/incidents.md``).
Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy.orm import Session

from gis.areas.codes import Level
from gis.areas.routing import (
    covering_grids,
    current_district,
    nearest_grid,
    outside_district_message,
    primary_managers,
)
from gis.db.engine import refusals
from gis.db.models import SRID
from gis.errors import (
    GridmapError,
    ImportRejectedError,
    InvalidParameterError,
    NoDistrictError,
    RejectedRow,
)
from gis.geo.datum import WGS84, Datum, parse_datum
from gis.incidents import workflow
from gis.incidents.catalogue import CATEGORIES
from gis.incidents.catalogue import category as catalogue_category
from gis.incidents.deadlines import deadline_after
from gis.incidents.escalation import fill_supervise_due
from gis.incidents.workcalendar import WorkCalendar
from gis.incidents.workflow import Action, State, Step, replay
from gis.principal import Principal
from gis.progress import Advance, ignore
from gis.settings import IncidentSettings

__all__ = [
    "IncidentIn",
    "IngestResult",
    "ingest_incidents",
    "unroutable_rows",
]

LAYER = "incidents"


@dataclass(frozen=True)
class IncidentIn:
    """An incident to ingest: a WGS84 point, a catalogue category code, its history.

    ``row`` is the 1-based row number quoted in error reports (the file's row
    for an import). ``steps`` are the workflow steps after intake, oldest
    first; without them the case is stored as ``reported``. ``location_datum``
    is the datum the point was given in (stored, and used for the hint when a
    point falls outside the district).
    """

    row: int
    category: str
    lon: float
    lat: float
    reported_at: dt.datetime
    ext_id: str | None = None
    description: str | None = None
    source: str | None = None
    address: str | None = None
    location_datum: str = "wgs84"
    handler_staff_id: int | None = None
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class IngestResult:
    """What an ingest wrote: incidents, those snapped to a grid, transitions, rows per status."""

    inserted: int
    snapped: int
    transitions: int
    by_status: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time per phase: history, stage, route, insert incidents, insert transitions."""


# ---------------------------------------------------------------- history (pure)


@dataclass(frozen=True)
class _Planned:
    """A row as it will be stored, apart from what SQL decides (id, grid, handler)."""

    status: State
    level: Level
    rework_count: int
    clock_started_at: dt.datetime | None
    deadline_at: dt.datetime | None
    closed_at: dt.datetime | None
    version: int
    history: tuple[workflow.Transition, ...]


def _plan(record: IncidentIn, actor: str, calendar: WorkCalendar | None) -> _Planned:
    catalogue_category(record.category)
    case = replay(record.reported_at, record.steps, actor=actor)
    clock = None
    closed = None
    for t in case.history:
        if t.action in workflow.CLOCK_STARTS:
            clock = t.at
        if t.action is Action.VERIFY:
            closed = t.at
    return _Planned(
        status=case.state,
        level=case.level,
        rework_count=case.rework_count,
        clock_started_at=clock,
        deadline_at=deadline_after(record.category, clock, calendar) if clock else None,
        closed_at=closed,
        version=1 + len(case.history),
        history=case.history,
    )


def _plan_all(
    records: Sequence[IncidentIn], actor: str, calendar: WorkCalendar | None
) -> dict[int, _Planned]:
    """Plans of the rows with a history, by row; rows without one are plain ``reported``."""
    planned: dict[int, _Planned] = {}
    rejected: list[RejectedRow] = []
    known = {c.code for c in CATEGORIES}
    for r in records:
        try:
            if r.category not in known:
                catalogue_category(r.category)  # raises, naming the known codes
            if r.reported_at.tzinfo is None or r.reported_at.utcoffset() is None:
                raise InvalidParameterError(
                    f"reported_at {r.reported_at.isoformat()} has no time zone"
                )
            if r.steps:
                planned[r.row] = _plan(r, actor, calendar)
        except GridmapError as exc:
            rejected.append(RejectedRow(row=r.row, reason=str(exc), ident=r.ext_id))
    if rejected:
        raise ImportRejectedError(LAYER, rejected, len(records))
    return planned


# ---------------------------------------------------------------- database

_STAGE = "_incident_ingest_stage"
_ROUTE = "_incident_ingest_route"
_STEPS = "_incident_ingest_steps"
_PLAN = "_incident_ingest_plan"

_STAGE_COLUMNS = (
    "row",
    "ext_id",
    "category",
    "lon",
    "lat",
    "reported_at",
    "description",
    "source",
    "address",
    "location_datum",
    "handler_staff_id",
)
_PLAN_COLUMNS = (
    "row",
    "status",
    "handling_level",
    "rework_count",
    "clock_started_at",
    "deadline_at",
    "closed_at",
    "version",
)
_STEP_COLUMNS = ("row", "seq", "action", "from_state", "to_state", "at", "note", "fl", "tl")


def _cursor(session: Session) -> psycopg.Cursor[Any]:
    dbapi = session.connection().connection.driver_connection
    assert isinstance(dbapi, psycopg.Connection)
    return dbapi.cursor()


def _stage(
    cur: psycopg.Cursor[Any],
    records: Sequence[IncidentIn],
    planned: dict[int, _Planned] | None,
    advance: Advance,
) -> None:
    """COPY the rows into temporary tables dropped at commit; histories apart, for the few.

    The point is built by the server (a generated column) and indexed, so the
    covering join can run grid by grid.
    """
    cur.execute(
        f"""CREATE TEMP TABLE {_STAGE} (
              row int PRIMARY KEY, ext_id text, category text, lon float8, lat float8,
              reported_at timestamptz, description text, source text, address text,
              location_datum text, handler_staff_id int,
              geom geometry(Point, {SRID})
                GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), {SRID})) STORED
            ) ON COMMIT DROP"""
    )
    with cur.copy(f"COPY {_STAGE} ({', '.join(_STAGE_COLUMNS)}) FROM STDIN") as copy:
        for i, r in enumerate(records, start=1):
            copy.write_row(
                (
                    r.row,
                    r.ext_id,
                    r.category,
                    r.lon,
                    r.lat,
                    r.reported_at,
                    r.description,
                    r.source,
                    r.address,
                    r.location_datum,
                    r.handler_staff_id,
                )
            )
            if i % 5000 == 0:
                advance(5000)
    advance(len(records) % 5000)
    cur.execute(f"CREATE INDEX ON {_STAGE} USING gist (geom)")
    cur.execute(f"ANALYZE {_STAGE}")
    if planned is None:
        return
    cur.execute(
        f"""CREATE TEMP TABLE {_PLAN} (row int PRIMARY KEY, status text, handling_level text,
              rework_count int, clock_started_at timestamptz, deadline_at timestamptz,
              closed_at timestamptz, version int) ON COMMIT DROP"""
    )
    cur.execute(
        f"""CREATE TEMP TABLE {_STEPS} (row int, seq int, action text, from_state text,
              to_state text, at timestamptz, note text, fl text, tl text) ON COMMIT DROP"""
    )
    if not planned:
        return
    with cur.copy(f"COPY {_PLAN} ({', '.join(_PLAN_COLUMNS)}) FROM STDIN") as copy:
        for row, p in planned.items():
            copy.write_row(
                (
                    row,
                    p.status.value,
                    p.level.value,
                    p.rework_count,
                    p.clock_started_at,
                    p.deadline_at,
                    p.closed_at,
                    p.version,
                )
            )
    with cur.copy(f"COPY {_STEPS} ({', '.join(_STEP_COLUMNS)}) FROM STDIN") as copy:
        for row, p in planned.items():
            for seq, t in enumerate(p.history, start=1):
                copy.write_row(
                    (
                        row,
                        seq,
                        t.action.value,
                        t.from_state.value,
                        t.to_state.value,
                        t.at,
                        t.note or None,
                        t.from_level.value,
                        t.to_level.value,
                    )
                )
    cur.execute(f"ANALYZE {_PLAN}, {_STEPS}")


def _route(cur: psycopg.Cursor[Any], tolerance_m: float, *, draw_ids: bool) -> None:
    """Assign every staged row a current grid: the covering one, else the nearest in tolerance.

    The rules are live intake's (``gis.areas.routing``), the covering join
    set-based. With ``draw_ids``
    every row gets its incident id from the sequence now, in row order (a
    rejected batch leaves a gap in the ids, as a failed live INSERT does).
    """
    cur.execute(
        f"""CREATE TEMP TABLE {_ROUTE} ON COMMIT DROP AS
            SELECT {"nextval(pg_get_serial_sequence('incident', 'id'))" if draw_ids else "NULL"}
                   AS id, o.* FROM (
            SELECT s.row, c.grid_id, NULL::float8 AS snapped_m
            FROM {_STAGE} s LEFT JOIN ({covering_grids(_STAGE, "row")}) c USING (row)
            ORDER BY s.row) o"""
    )
    cur.execute(
        f"""UPDATE {_ROUTE} r SET grid_id = n.id, snapped_m = round(n.distance_m::numeric, 1)
            FROM {_STAGE} s CROSS JOIN LATERAL ({nearest_grid("s.geom")}) n
            WHERE r.grid_id IS NULL AND s.row = r.row AND n.distance_m <= %(tol)s""",
        {"tol": tolerance_m},
    )
    cur.execute(f"ALTER TABLE {_ROUTE} ADD PRIMARY KEY (row)")
    cur.execute(f"ANALYZE {_ROUTE}")


def _datum_of(label: str | None) -> Datum:
    """The datum a row was given in, for the hint (a label this ingest cannot parse: WGS84)."""
    try:
        return parse_datum(label or "wgs84")
    except ValueError:
        return WGS84


def _unroutable(cur: psycopg.Cursor[Any], tolerance_m: float) -> list[RejectedRow]:
    """Rows left without a grid, each with its distance (metres) and a hint."""
    cur.execute(
        f"""SELECT s.row, s.ext_id, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat, s.location_datum,
                   n.code AS grid_code, n.distance_m, d.code AS district_code,
                   d.name AS district_name, ST_Covers(d.geom, s.geom) AS in_district,
                   ST_Distance(d.geom::geography, s.geom::geography) AS district_m
            FROM {_ROUTE} r JOIN {_STAGE} s USING (row)
            LEFT JOIN LATERAL ({nearest_grid("s.geom")}) n ON true
            LEFT JOIN LATERAL ({current_district("s.geom")}) d ON true
            WHERE r.grid_id IS NULL ORDER BY s.row"""
    )
    rejected = []
    for row, ext_id, lon, lat, datum, grid, grid_m, code, name, inside, district_m in cur:
        where = f"the point ({lon:.6f}, {lat:.6f}) in WGS84"
        if code is None:
            raise NoDistrictError(
                "no district boundary is loaded, so incidents cannot be routed: "
                "run `gridmap demo` or import the district first"
            )
        if not inside:
            reason = outside_district_message(lon, lat, district_m, name, code, _datum_of(datum))
        elif grid is None:
            reason = f"{where} lies in the district but no current grid is loaded"
        else:
            reason = (
                f"{where} lies in the district but {grid_m:,.0f} m from the nearest grid "
                f"{grid}, more than the snap tolerance of {tolerance_m:g} m; check the "
                "location or the grid boundaries"
            )
        rejected.append(RejectedRow(row=int(row), reason=reason, ident=ext_id))
    return rejected


def _duplicates(cur: psycopg.Cursor[Any]) -> list[RejectedRow]:
    """Rows whose ext_id another row of the batch, or a stored incident, already has."""
    cur.execute(
        f"""SELECT row, ext_id, first_row, stored FROM (
              SELECT s.row, s.ext_id, min(s.row) OVER (PARTITION BY s.ext_id) AS first_row,
                     i.id IS NOT NULL AS stored
              FROM {_STAGE} s LEFT JOIN incident i ON i.ext_id = s.ext_id
              WHERE s.ext_id IS NOT NULL) d
            WHERE stored OR first_row < row ORDER BY row"""
    )
    rejected = []
    for row, ext_id, first_row, stored in cur:
        reasons = []
        if first_row != row:
            reasons.append(f"duplicate ext_id {ext_id} (also in row {first_row})")
        if stored:
            reasons.append(f"duplicate ext_id {ext_id}: already in the database")
        rejected.append(RejectedRow(row=int(row), reason="; ".join(reasons), ident=ext_id))
    return rejected


def _merge(*lists: list[RejectedRow]) -> list[RejectedRow]:
    by_row: dict[int, RejectedRow] = {}
    for rejected in lists:
        for r in rejected:
            if r.row in by_row:
                first = by_row[r.row]
                by_row[r.row] = RejectedRow(first.row, f"{first.reason}; {r.reason}", first.ident)
            else:
                by_row[r.row] = r
    return [by_row[k] for k in sorted(by_row)]


def _tolerance(snap_tolerance_m: float | None) -> float:
    tolerance = (
        IncidentSettings().snap_tolerance_m if snap_tolerance_m is None else snap_tolerance_m
    )
    if tolerance < 0:
        raise InvalidParameterError(f"snap tolerance must be >= 0 m, got {tolerance:g}")
    return tolerance


def unroutable_rows(
    session: Session, records: Sequence[IncidentIn], *, snap_tolerance_m: float | None = None
) -> list[RejectedRow]:
    """The rows that would stop an ingest because no grid takes them (and ext_id clashes).

    A dry run: the staging is rolled back. Lets an import report these
    together with the problems found in the file itself.
    """
    if not records:
        return []
    tolerance = _tolerance(snap_tolerance_m)
    session.flush()
    savepoint = session.begin_nested()
    try:
        with refusals("the incident ingest"), _cursor(session) as cur:
            _stage(cur, records, None, ignore)
            _route(cur, tolerance, draw_ids=False)
            return _merge(_unroutable(cur, tolerance), _duplicates(cur))
    finally:
        savepoint.rollback()


def ingest_incidents(
    session: Session,
    records: Sequence[IncidentIn],
    *,
    principal: Principal,
    snap_tolerance_m: float | None = None,
    calendar: WorkCalendar | None = None,
    advance: Advance = ignore,
) -> IngestResult:
    """Store ``records`` routed like live intake, with their histories; all of them or none.

    ``principal`` is the actor of every transition (an import is the system
    ``import:<file name>``, its name and ``ref``). ``snap_tolerance_m`` (metres) defaults to
    ``GRIDMAP_SNAP_TOLERANCE_M``; deadlines run on ``calendar`` (default: the
    national one) from each case's last clock start. Raises
    ImportRejectedError (rows with an illegal history, an unknown category,
    no grid within the tolerance, or a taken ext_id; nothing written),
    NoDistrictError, or ConflictError if the database refuses the rows.
    ``advance(n)`` reports rows staged, for a progress bar.
    """
    actor = principal.actor
    tolerance = _tolerance(snap_tolerance_m)
    if not records:
        return IngestResult(inserted=0, snapped=0, transitions=0)
    clock = _Clock()
    planned = _plan_all(records, actor, calendar)
    clock.lap("history")
    session.flush()
    with session.begin_nested(), refusals("the incident ingest"), _cursor(session) as cur:
        _stage(cur, records, planned, advance)
        clock.lap("stage")
        _route(cur, tolerance, draw_ids=True)
        rejected = _merge(_unroutable(cur, tolerance), _duplicates(cur))
        if rejected:
            raise ImportRejectedError(LAYER, rejected, len(records))
        clock.lap("route")
        inserted, snapped, transitions = _write(cur, actor, principal.ref, clock)
        cur.execute(f"DROP TABLE {_STEPS}, {_PLAN}, {_ROUTE}, {_STAGE}")
    session.expire_all()
    fill_supervise_due(session, calendar)  # the open ones' supervision clocks, from history
    by_status = Counter(p.status.value for p in planned.values())
    by_status[State.REPORTED.value] += len(records) - len(planned)
    return IngestResult(
        inserted=inserted,
        snapped=snapped,
        transitions=transitions,
        by_status={k: v for k, v in sorted(by_status.items()) if v},
        seconds=clock.laps,
    )


class _Clock:
    """Wall time (seconds) per phase of an ingest, for benchmarks and reports."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self._last
        self._last = now


def _write(
    cur: psycopg.Cursor[Any], actor: str, actor_ref: str | None, clock: _Clock
) -> tuple[int, int, int]:
    """INSERT … SELECT the staged rows and their transitions; (incidents, snapped, transitions).

    The ids drawn by ``_route`` join each incident to its transitions.
    """
    cur.execute(
        f"""INSERT INTO incident (id, ext_id, category, geom, reported_at, status, grid_id,
              description, source, handler_staff_id, handling_level, deadline_at,
              clock_started_at, closed_at, rework_count, version, location_datum, address,
              snapped_m, community_id, subdistrict_id)
            SELECT r.id, s.ext_id, s.category, s.geom, s.reported_at,
                   coalesce(p.status, 'reported'), r.grid_id, s.description, s.source,
                   coalesce(s.handler_staff_id, m.staff_id),
                   coalesce(p.handling_level, 'grid'), p.deadline_at, p.clock_started_at,
                   p.closed_at, coalesce(p.rework_count, 0), coalesce(p.version, 1),
                   s.location_datum, s.address, r.snapped_m,
                   a.community_id, a.subdistrict_id
            FROM {_STAGE} s JOIN {_ROUTE} r USING (row) LEFT JOIN {_PLAN} p USING (row)
            JOIN (
              SELECT g.id AS grid_id, g.community_id,
                     CASE WHEN sub.level = 'subdistrict' THEN sub.id END AS subdistrict_id
              FROM grid g JOIN admin_area c ON c.id = g.community_id
              LEFT JOIN admin_area sub ON sub.id = c.parent_id
              WHERE g.valid_to IS NULL) a ON a.grid_id = r.grid_id
            LEFT JOIN ({primary_managers()}) m ON m.grid_id = r.grid_id
            ORDER BY r.id"""
    )
    inserted = int(cur.rowcount)
    clock.lap("insert incidents")
    cur.execute(
        f"""INSERT INTO incident_transition (incident_id, action, from_state, to_state, actor,
              actor_ref, at, note, from_level, to_level)
            SELECT id, action, from_state, to_state, %(actor)s, %(ref)s, at, note, fl, tl FROM (
              SELECT r.id, 0 AS seq, 'reported' AS action, NULL AS from_state,
                     'reported' AS to_state, s.reported_at AS at,
                     CASE WHEN r.snapped_m IS NULL THEN 'reported'
                          ELSE 'reported; outside every grid, snapped ' || r.snapped_m::text
                               || ' m to the nearest grid' END AS note,
                     NULL AS fl, 'grid' AS tl
              FROM {_STAGE} s JOIN {_ROUTE} r USING (row)
              UNION ALL
              SELECT r.id, t.seq, t.action, t.from_state, t.to_state, t.at, t.note, t.fl, t.tl
              FROM {_STEPS} t JOIN {_ROUTE} r USING (row)) steps
            ORDER BY id, seq""",
        {"actor": actor, "ref": workflow.stored_ref(actor_ref)},
    )
    transitions = int(cur.rowcount)
    clock.lap("insert transitions")
    cur.execute(f"SELECT count(*) FROM {_ROUTE} WHERE snapped_m IS NOT NULL")
    row = cur.fetchone()
    return inserted, (int(row[0]) if row else 0), transitions
