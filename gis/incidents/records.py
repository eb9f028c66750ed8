"""An incident as stored, and its history of transitions; and both as a caller may see them.

``get_incident`` and ``history`` read what is stored (the workflow works on
it); ``incident_for`` and ``history_for`` answer a caller, through
``gis.incidents.visibility``: a case out of their reach is a NotFoundError
worded as for a missing id, and a personal case they are not responsible
for comes masked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.areas.codes import Level
from gis.errors import NotFoundError
from gis.incidents import visibility
from gis.incidents.workflow import State
from gis.principal import Principal


@dataclass(frozen=True)
class IncidentRecord:
    """An incident as stored; times are timezone-aware, ``snapped_m`` in metres.

    ``lon``/``lat`` are None only in a masked view of a case outside every grid.
    """

    id: int
    category: str
    status: State
    lon: float | None
    lat: float | None
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
_GRID_POINT = """
SELECT ST_X(p) AS lon, ST_Y(p) AS lat
  FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid WHERE id = :g) s
"""


RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(IncidentRecord))


def record_from(values: dict[str, Any]) -> IncidentRecord:
    """The record in a row's values (extra values, such as a joined code, are ignored)."""
    fields = {name: values[name] for name in RECORD_FIELDS}
    fields.update(status=State(fields["status"]), handling_level=Level(fields["handling_level"]))
    return IncidentRecord(**fields)


def get_incident(session: Session, incident_id: int) -> IncidentRecord:
    """One incident; NotFoundError if there is none with this id."""
    row = session.execute(text(_SELECT + " WHERE i.id = :id"), {"id": incident_id}).first()
    if row is None:
        raise NotFoundError(
            f"no incident has id {incident_id}", zh=f"没有编号为 {incident_id} 的案件"
        )
    return record_from(row._asdict())


@dataclass(frozen=True)
class Seen:
    """A case as a caller sees it: ``masked`` when its personal data is hidden from them,
    ``personal`` when it is of a personal category (so, unmasked, a read to audit)."""

    record: IncidentRecord
    masked: bool
    personal: bool

    @property
    def personal_in_full(self) -> bool:
        return self.personal and not self.masked


def incident_for(session: Session, incident_id: int, viewer: Principal) -> Seen:
    """One incident as ``viewer`` may see it; NotFoundError if it is missing or out of reach.

    Masked: the point is the grid's representative point (None without a grid),
    description and address ``已隐藏``, photo link, building and snap distance
    dropped.
    """
    record = get_incident(session, incident_id)
    visibility.check_reach(viewer, incident_id, record.grid_code, record.category)
    personal = visibility.is_personal(record.category)
    if visibility.in_full(viewer, record.grid_code, record.category):
        return Seen(record, masked=False, personal=personal)
    lon = lat = None
    if record.grid_id is not None:
        point = session.execute(text(_GRID_POINT), {"g": record.grid_id}).one()
        lon, lat = float(point.lon), float(point.lat)
    masked = dataclasses.replace(
        record,
        lon=lon,
        lat=lat,
        description=_hidden(record.description),
        address=_hidden(record.address),
        media_url=None,
        location_datum=None,
        snapped_m=None,
    )
    return Seen(masked, masked=True, personal=personal)


def _hidden(value: str | None) -> str | None:
    return None if value is None else visibility.HIDDEN


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


def history_for(
    session: Session, incident_id: int, viewer: Principal
) -> tuple[Seen, list[HistoryEntry]]:
    """The case and its steps as ``viewer`` may see them: notes ``已隐藏`` where the case is
    masked; NotFoundError if it is missing or out of reach."""
    seen = incident_for(session, incident_id, viewer)
    steps = history(session, incident_id)
    if seen.masked:
        steps = [dataclasses.replace(s, note=_hidden(s.note)) for s in steps]
    return seen, steps
