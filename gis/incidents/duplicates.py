"""Possible duplicates: open cases of the same category reported nearby, shortly before or after.

A busy spot is reported many times (a burst of hotline calls about one
collapsed road); the intake desk is offered the open cases of the category
within ``DUPLICATE_DISTANCE_M`` and ``DUPLICATE_WINDOW_HOURS`` so that it can
merge them (``gis.incidents.transitions.merge_duplicate``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InvalidFeatureError
from gis.incidents.records import get_incident
from gis.incidents.workflow import OPEN_STATES, State

DUPLICATE_DISTANCE_M = 50.0
"""Metres within which an open case of the same category may report the same thing."""
DUPLICATE_WINDOW_HOURS = 72.0
"""Hours either side of a report within which such a case counts as a possible duplicate."""

DUPLICATES_SQL = """
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
    rows = session.execute(
        text(DUPLICATES_SQL + " ORDER BY distance_m, i.id"),
        {
            "lon": lon,
            "lat": lat,
            "at": at,
            "c": category,
            "open": list(OPEN_STATES),
            "me": incident_id,
            "d_m": distance_m,
            "w": window_hours,
        },
    ).all()
    return [
        DuplicateCandidate(int(r.id), float(r.distance_m), float(r.hours_apart), State(r.status))
        for r in rows
    ]
