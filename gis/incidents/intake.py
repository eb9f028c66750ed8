"""Intake: a report becomes a case in its grid, with the grid's manager as handler.

A report (a hotline call, a grid manager's patrol, a phone app) arrives with a
category and a point in a named datum (a phone sends GCJ-02, never guessed)
or a building. Intake converts the point to WGS84, routes it by the rules of
``gis.areas.routing`` (covering grid, else the nearest within the snap
tolerance, else refused with the reason), stores it with its first transition
and, for the intake desk, lists open cases it may duplicate: one statement,
one round trip. The case's supervision clock starts with it: the intake limit
(受理时限, ``gis.incidents.deadlines.intake_due``) until it is dispatched.

A report may carry an idempotency key (the HTTP ``Idempotency-Key``; an offline
phone sends its queued reports again until one is acknowledged): stored with the
reporting principal's ``ref`` and the SHA-256 of the report, unique per principal,
so :func:`replayed` finds the case a repeat already made (and refuses a different
report under the same key, IdempotencyKeyReusedError). Nothing here commits: the
caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.areas.routing import (
    covering_grid,
    current_district,
    grid_areas,
    nearest_grid,
    outside_district,
    primary_manager,
)
from gis.errors import InvalidFeatureError, NoDistrictError, UnroutableLocationError
from gis.geo.datum import WGS84, Datum, to_storage_point
from gis.incidents.catalogue import category as catalogue_category
from gis.incidents.deadlines import intake_due
from gis.incidents.duplicates import (
    DUPLICATE_DISTANCE_M,
    DUPLICATE_WINDOW_HOURS,
    DUPLICATES_SQL,
    DuplicateCandidate,
)
from gis.incidents.records import IncidentRecord, get_incident, record_from
from gis.incidents.workflow import OPEN_STATES, State, stored_ref
from gis.localtime import utc_now
from gis.principal import Principal
from gis.settings import IncidentSettings

MEDIA_URL_MAX = 2000
"""Characters of a photo link; the database checks the same (migration 0005)."""
IDEMPOTENCY_KEY_MAX = 64
"""Characters of an idempotency key (migration 0008)."""


class IdempotencyKeyReusedError(InvalidFeatureError):
    """The key was used before by the same principal for a different report (422, as the
    IETF draft on the Idempotency-Key header answers a key reused with another payload)."""


def report_digest(fields: dict[str, Any]) -> str:
    """SHA-256 (hex) of a report's fields as sent (keys sorted, nulls dropped): what makes
    a repeat the same report."""
    kept = {k: v for k, v in fields.items() if v is not None}
    canonical = json.dumps(kept, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _reporter(principal: Principal) -> str:
    return stored_ref(principal.ref) or stored_ref(principal.actor) or principal.actor


def replayed(
    session: Session, principal: Principal, key: str, digest: str
) -> IncidentRecord | None:
    """The case ``principal`` already reported under ``key``, or None; a different report
    (``digest``) under the same key is IdempotencyKeyReusedError."""
    row = session.execute(
        text(
            "SELECT id, idempotency_digest FROM incident"
            " WHERE reported_by = :by AND idempotency_key = :key"
        ),
        {"by": _reporter(principal), "key": key},
    ).first()
    if row is None:
        return None
    if row.idempotency_digest != digest:
        raise IdempotencyKeyReusedError(
            f"Idempotency-Key {key!r} was used for a different report (incident {row.id}); "
            "send a new key for a new report, or the same body to repeat that one"
        )
    return get_incident(session, int(row.id))


@dataclass(frozen=True)
class Report:
    """A report as it arrives: what, where and when.

    Where is ``lon``/``lat`` degrees in ``datum`` or, without them, the point
    of building ``building_id``. ``media_url`` links to the reporter's photo
    (http or https). ``reported_at`` (timezone-aware) defaults to now.
    """

    category: str
    lon: float | None = None
    lat: float | None = None
    datum: Datum = WGS84
    building_id: int | None = None
    description: str | None = None
    source: str | None = None
    address: str | None = None
    media_url: str | None = None
    reported_at: dt.datetime | None = None


@dataclass(frozen=True)
class Intake:
    """A stored report as the intake answers it: the record, the codes of its community
    and subdistrict, its handler's name, and open cases it may duplicate (nearest first)."""

    record: IncidentRecord
    community_code: str | None
    subdistrict_code: str | None
    handler_name: str | None
    possible_duplicates: list[DuplicateCandidate]


_ROUTE_AND_INSERT = f"""
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g),
district AS (SELECT d.* FROM p, LATERAL ({current_district("p.g")}) d),
covering AS (SELECT c.* FROM p, LATERAL ({covering_grid("p.g")}) c),
nearest AS (
  SELECT n.* FROM p, LATERAL ({nearest_grid("p.g")}) n
  WHERE NOT EXISTS (SELECT FROM covering)),
route AS (
  SELECT d.code AS district_code, d.name AS district_name, d.geom AS district_geom,
         c.id AS covering, n.id AS nearest, n.distance_m,
         CASE WHEN c.id IS NULL AND n.distance_m <= :tol
              THEN round(n.distance_m::numeric, 1)::float8 END AS snapped_m,
         COALESCE(c.id, CASE WHEN n.distance_m <= :tol THEN n.id END) AS grid_id
  FROM p LEFT JOIN district d ON true LEFT JOIN covering c ON true LEFT JOIN nearest n ON true),
areas AS (SELECT a.* FROM route r, LATERAL ({grid_areas("r.grid_id")}) a),
ins AS (
  INSERT INTO incident (category, geom, reported_at, status, grid_id, community_id,
                        subdistrict_id, description, source, handler_staff_id, handling_level,
                        location_datum, address, snapped_m, media_url, supervise_due_at,
                        reported_by, idempotency_key, idempotency_digest)
  SELECT :c, p.g, :at, 'reported', r.grid_id, a.community_id, a.subdistrict_id, :d, :s,
         (SELECT m.id FROM ({primary_manager("r.grid_id")}) m),
         'grid', :datum, :addr, r.snapped_m, :media, :due, :by, :key, :digest
  FROM route r CROSS JOIN p LEFT JOIN areas a ON true
  WHERE r.grid_id IS NOT NULL AND r.district_code IS NOT NULL
  RETURNING *, ST_X(geom) AS lon, ST_Y(geom) AS lat),
transition AS (
  INSERT INTO incident_transition (incident_id, action, from_state, to_state, actor, actor_ref,
                                   at, note, from_level, to_level)
  SELECT ins.id, 'reported', NULL, 'reported', :actor, :actor_ref, :at,
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
       ins.*, a.grid_code, a.community_code, a.subdistrict_code,
       st.name AS handler_name{{duplicates}}
FROM route r CROSS JOIN p
LEFT JOIN ins ON true
LEFT JOIN areas a ON ins.id IS NOT NULL
LEFT JOIN staff st ON st.id = ins.handler_staff_id
"""
"""Intake in one round trip: route the WGS84 point, store the case with its grid's primary
grid manager, its community and subdistrict (so the row-level trigger that would derive
them does not run), write its first transition and answer the stored row with its place.
Nothing is inserted when no grid takes the point; only then is the district's geography
distance (the costliest part of routing) computed, for the message."""


def _one_line(sql: str) -> str:
    """``sql`` with each run of whitespace made one space (it has no comments, and no
    literal holds two spaces in a row): psycopg caches the conversion of a statement's
    placeholders only for statements up to 4,096 characters, and this one runs for
    every report."""
    return " ".join(sql.split())


_INTAKE = text(_one_line(_ROUTE_AND_INSERT.format(duplicates="")))
_INTAKE_WITH_DUPLICATES = text(
    _one_line(
        _ROUTE_AND_INSERT.format(
            duplicates=""",
       (SELECT coalesce(json_agg(json_build_array(x.id, x.distance_m, x.hours_apart, x.status)
                                 ORDER BY x.distance_m, x.id), '[]'::json)
        FROM ("""
            + DUPLICATES_SQL
            + """) x WHERE ins.id IS NOT NULL) AS duplicates"""
        )
    )
)


@functools.cache
def _default_snap_tolerance_m() -> float:
    """GRIDMAP_SNAP_TOLERANCE_M (metres), read once per process, not once per report."""
    return IncidentSettings().snap_tolerance_m


def _checked_media_url(url: str | None) -> str | None:
    """The link to the reporter's photo, if any: http(s) only, at most ``MEDIA_URL_MAX``."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")) or any(c.isspace() for c in url):
        raise InvalidFeatureError(f"media_url {url[:80]!r} is not an http(s) link")
    if len(url) > MEDIA_URL_MAX:
        raise InvalidFeatureError(f"media_url is longer than {MEDIA_URL_MAX} characters")
    return url


def _located(session: Session, report: Report) -> tuple[float, float, str]:
    """The report's WGS84 point and how it was given (a datum label or ``building:<id>``)."""
    if report.lon is None and report.lat is None:
        if report.building_id is None:
            raise InvalidFeatureError("give the location as lon and lat, or a building_id")
        point = session.execute(
            text("SELECT ST_X(location) AS lon, ST_Y(location) AS lat FROM building WHERE id = :b"),
            {"b": report.building_id},
        ).first()
        if point is None:
            raise InvalidFeatureError(f"no building has id {report.building_id}")
        return float(point.lon), float(point.lat), f"building:{report.building_id}"
    if report.lon is None or report.lat is None:
        raise InvalidFeatureError("a location needs both lon and lat")
    lon, lat = to_storage_point(report.lon, report.lat, report.datum)
    return lon, lat, report.datum.label


def _intake(
    session: Session,
    report: Report,
    principal: Principal,
    snap_tolerance_m: float | None,
    with_duplicates: bool,
    idempotency: tuple[str, str] | None = None,
) -> Intake:
    category = catalogue_category(report.category)
    at = report.reported_at or utc_now()
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidFeatureError(f"reported_at {at.isoformat()} has no time zone")
    lon, lat, given_as = _located(session, report)
    tolerance = _default_snap_tolerance_m() if snap_tolerance_m is None else snap_tolerance_m
    params: dict[str, Any] = {
        "lon": lon,
        "lat": lat,
        "tol": tolerance,
        "c": category.code,
        "at": at,
        "d": report.description,
        "s": report.source,
        "datum": given_as,
        "addr": report.address,
        "media": _checked_media_url(report.media_url),
        "actor": principal.actor,
        "actor_ref": stored_ref(principal.ref),
        "due": intake_due(category.code, at),
        "by": _reporter(principal),
        "key": idempotency[0] if idempotency else None,
        "digest": idempotency[1] if idempotency else None,
    }
    if with_duplicates:
        params.update(
            me=None,  # the new row is invisible to its own statement
            open=list(OPEN_STATES),
            d_m=DUPLICATE_DISTANCE_M,
            w=DUPLICATE_WINDOW_HOURS,
        )
    row = session.execute(_INTAKE_WITH_DUPLICATES if with_duplicates else _INTAKE, params).one()
    if row.district_code is None:
        raise NoDistrictError(
            "no district boundary is loaded, so an incident cannot be routed: "
            "run `gridmap demo` or import the district first"
        )
    if row.id is None:
        if not row.in_district:
            datum = report.datum if report.building_id is None else WGS84
            raise outside_district(
                lon, lat, row.district_m, row.district_name, row.district_code, datum
            )
        raise UnroutableLocationError(
            f"the point ({lon:.6f}, {lat:.6f}) lies in the district but "
            f"{row.distance_m:,.0f} m from the nearest grid, more than the snap tolerance of "
            f"{tolerance:g} m; check the location or the grid boundaries"
        )
    values = row._asdict()
    duplicates = [
        DuplicateCandidate(int(i), float(distance), float(hours), State(status))
        for i, distance, hours, status in (values["duplicates"] if with_duplicates else [])
    ]
    return Intake(
        record_from(values),
        row.community_code,
        row.subdistrict_code,
        row.handler_name,
        duplicates,
    )


def create_incident(
    session: Session,
    report: Report,
    principal: Principal,
    *,
    snap_tolerance_m: float | None = None,
) -> IncidentRecord:
    """Store a new report, routed to its grid and that grid's primary grid manager.

    ``snap_tolerance_m`` (metres) defaults to ``GRIDMAP_SNAP_TOLERANCE_M``. The
    first transition ("reported", by ``principal``: its name and ``ref``) is
    written with it.
    """
    return _intake(session, report, principal, snap_tolerance_m, with_duplicates=False).record


def report_incident(
    session: Session,
    report: Report,
    principal: Principal,
    *,
    snap_tolerance_m: float | None = None,
    idempotency: tuple[str, str] | None = None,
) -> Intake:
    """:func:`create_incident` with what the intake desk answers, in the same round trip:
    the community and subdistrict codes, the handler's name and the possible duplicates.

    ``idempotency`` (key, digest of the report) is stored with the case: check
    :func:`replayed` first; a concurrent twin fails on the unique index (the caller
    rolls back and asks :func:`replayed` again)."""
    if idempotency is not None and len(idempotency[0]) > IDEMPOTENCY_KEY_MAX:
        raise InvalidFeatureError(
            f"Idempotency-Key is longer than {IDEMPOTENCY_KEY_MAX} characters"
        )
    return _intake(
        session, report, principal, snap_tolerance_m, with_duplicates=True, idempotency=idempotency
    )


def report_once(
    session: Session,
    report: Report,
    principal: Principal,
    key: str,
    digest: str,
    *,
    snap_tolerance_m: float | None = None,
) -> Intake | IncidentRecord:
    """:func:`report_incident` under an idempotency ``key``: the new intake, or the case
    ``principal`` already reported under it (a repeat, also one racing this call); a
    different report under the key is IdempotencyKeyReusedError."""
    found = replayed(session, principal, key, digest)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            return report_incident(
                session,
                report,
                principal,
                snap_tolerance_m=snap_tolerance_m,
                idempotency=(key, digest),
            )
    except IntegrityError as exc:
        if "ux_incident_idempotency" not in str(exc.orig):
            raise
    found = replayed(session, principal, key, digest)
    if found is None:  # pragma: no cover - the twin that won was rolled back since
        raise InvalidFeatureError(f"Idempotency-Key {key!r}: try again")
    return found
