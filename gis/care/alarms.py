"""A person left their safe area: the alarm row and the help-request case it files.

The case goes through the ordinary intake (``gis.incidents.intake``) at the person's
**home building**, so it lands in their home grid (where they are registered and
looked after) whatever grid they wandered into, and is handed to their responsible
worker (``handler_staff_id``) where one is named, else it stays with the grid's
manager as intake routes it. The case carries no personal data: category
``help_request`` (masked for those not responsible), the person's registry id and
how far out they were; where they are is in the alarm row, which only those who
see the person may read (``gis.care.positions``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.incidents.intake import Report, create_incident
from gis.incidents.records import local_minute
from gis.principal import Principal

ALARM_CATEGORY = "help_request"
ALARM_SOURCE = "device"


@dataclass(frozen=True)
class Leaving:
    """A confirmed exit: whose, when, where (WGS84) and how many metres outside."""

    person_id: int
    at: dt.datetime
    lon: float
    lat: float
    outside_m: float


@dataclass(frozen=True)
class Alarm:
    """An alarm raised: the person, the case filed, its grid, when, how far out."""

    id: int
    person_id: int
    incident_id: int
    grid_code: str | None
    at: dt.datetime
    outside_m: float


_PEOPLE = text("SELECT id, building_id, responsible_staff_id FROM person WHERE id = ANY(:ids)")

_ALARM = text(
    """INSERT INTO geofence_alarm (person_id, at, geom, outside_m, incident_id)
       VALUES (:p, :at, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :out, :i)
       RETURNING id"""
)


def description(person_id: int, at: dt.datetime, outside_m: float) -> str:
    """The case's text: what happened, when, and where to look (no name, no position)."""
    return (
        f"围栏告警：服务对象（登记编号 {person_id}）于 {local_minute(at)} 离开安全区域约 "
        f"{outside_m:,.0f} 米。请负责人员在服务对象记录中查看当前位置并尽快联系。"
        f" (Geofence alarm: person {person_id} left their safe area.)"
    )


def raise_alarms(session: Session, principal: Principal, leaving: Sequence[Leaving]) -> list[Alarm]:
    """Files one case and one alarm row per exit, in the caller's transaction."""
    people = {
        int(r.id): r
        for r in session.execute(_PEOPLE, {"ids": sorted({x.person_id for x in leaving})})
    }
    raised: list[Alarm] = []
    for exit_ in leaving:
        person = people.get(exit_.person_id)
        if person is None:  # removed while the batch ran: nobody to look for
            continue
        record = create_incident(
            session,
            Report(
                category=ALARM_CATEGORY,
                building_id=int(person.building_id),
                description=description(exit_.person_id, exit_.at, exit_.outside_m),
                source=ALARM_SOURCE,
                reported_at=exit_.at,
            ),
            principal,
        )
        if person.responsible_staff_id is not None:
            session.execute(
                text("UPDATE incident SET handler_staff_id = :s WHERE id = :i"),
                {"s": int(person.responsible_staff_id), "i": record.id},
            )
        alarm_id = session.execute(
            _ALARM,
            {
                "p": exit_.person_id,
                "at": exit_.at,
                "lon": exit_.lon,
                "lat": exit_.lat,
                "out": exit_.outside_m,
                "i": record.id,
            },
        ).scalar_one()
        raised.append(
            Alarm(
                int(alarm_id),
                exit_.person_id,
                record.id,
                record.grid_code,
                exit_.at,
                exit_.outside_m,
            )
        )
    return raised


def mark_returned(session: Session, returned: Sequence[tuple[int, dt.datetime]]) -> None:
    """Closes each person's open alarm (the latest without ``returned_at``) at the time
    their return was confirmed."""
    session.execute(
        text(
            """UPDATE geofence_alarm g SET returned_at = u.at
               FROM unnest(CAST(:p AS bigint[]), CAST(:at AS timestamptz[])) AS u(p, at)
               WHERE g.id = (SELECT max(id) FROM geofence_alarm
                             WHERE person_id = u.p AND returned_at IS NULL AND at <= u.at)"""
        ),
        {"p": [p for p, _ in returned], "at": [a for _, a in returned]},
    )
