"""Devices: which locating device a person served or a home-care worker carries, and what it
said: last position, track, geofence state and alarms.

Everything here about a person is seen only by those who see the person
(``gis.people.visibility``, through ``registry.get_person``: a 404 otherwise); about a
worker, by those who see the worker (``gis.care.workers.sees``). The edges audit the
reads (``personal.read``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.care import workers
from gis.errors import ConflictError, InvalidParameterError, NotFoundError
from gis.people import registry
from gis.principal import Principal

DEVICE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
"""A device's id as its maker prints it (IMEI, serial): 1-64 letters, digits, ``._:-``
(``gis.db.models.DEVICE_ID_PATTERN``)."""
TRACK_MAX = 10_000
"""Positions one track read returns at most (a day at one report every 30 s is 2,880)."""


@dataclass(frozen=True)
class Position:
    at: dt.datetime
    lon: float
    lat: float
    accuracy_m: float | None


@dataclass(frozen=True)
class DeviceState:
    """A person's device as those who look after them see it."""

    device_id: str | None
    last: Position | None
    fence_state: str | None
    fence_streak: int


@dataclass(frozen=True)
class AlarmRecord:
    id: int
    at: dt.datetime
    lon: float
    lat: float
    outside_m: float
    incident_id: int | None
    returned_at: dt.datetime | None


def check_device_id(device_id: str) -> str:
    if not DEVICE_ID.match(device_id or ""):
        raise InvalidParameterError(
            f"device id {device_id[:80]!r} must be 1-64 letters, digits or . _ : -",
            zh="终端编号须为 1-64 个字母、数字或 . _ : -",
        )
    return device_id


def _insert(session: Session, device_id: str, column: str, holder: int) -> None:
    taken = session.execute(
        text("SELECT person_id, worker_id FROM device WHERE id = :d"), {"d": device_id}
    ).first()
    if taken is not None:
        raise ConflictError(
            f"device {device_id} is registered already: unregister it first",
            zh=f"终端 {device_id} 已登记：请先解除登记",
        )
    existing = session.execute(
        text(f"SELECT id FROM device WHERE {column} = :h"), {"h": holder}
    ).scalar()
    if existing is not None:
        session.execute(text("DELETE FROM device WHERE id = :d"), {"d": existing})
    session.execute(
        text(f"INSERT INTO device (id, {column}) VALUES (:d, :h)"), {"d": device_id, "h": holder}
    )


def register_person_device(
    session: Session, principal: Principal, person_id: int, device_id: str
) -> None:
    """Gives a person (whom ``principal`` sees) the device ``device_id``; a device they had
    before is replaced, with its history (a new device starts a new track)."""
    registry.get_person(session, principal, person_id)
    _insert(session, check_device_id(device_id), "person_id", person_id)


def register_worker_device(
    session: Session, principal: Principal, worker_id: int, device_id: str
) -> None:
    workers.get_worker(session, principal, worker_id)
    _insert(session, check_device_id(device_id), "worker_id", worker_id)


def person_device(session: Session, principal: Principal, person_id: int) -> DeviceState:
    """The person's device, last position and geofence state (404 out of sight)."""
    registry.get_person(session, principal, person_id)
    row = session.execute(
        text(
            """SELECT id, last_at, ST_X(last_geom) AS lon, ST_Y(last_geom) AS lat,
                      last_accuracy_m, fence_state, fence_streak
               FROM device WHERE person_id = :p"""
        ),
        {"p": person_id},
    ).first()
    if row is None:
        return DeviceState(None, None, None, 0)
    last = (
        None
        if row.last_at is None
        else Position(row.last_at, float(row.lon), float(row.lat), row.last_accuracy_m)
    )
    return DeviceState(row.id, last, row.fence_state, int(row.fence_streak))


def track(
    session: Session,
    principal: Principal,
    person_id: int,
    since: dt.datetime,
    until: dt.datetime,
) -> list[Position]:
    """The person's positions between ``since`` and ``until``, in time order (at most
    ``TRACK_MAX``: ask for a shorter period for more)."""
    if until <= since:
        raise InvalidParameterError("until must be after since", zh="结束时间须晚于开始时间")
    registry.get_person(session, principal, person_id)
    rows = session.execute(
        text(
            """SELECT r.at, ST_X(r.geom) AS lon, ST_Y(r.geom) AS lat, r.accuracy_m
               FROM position_report r JOIN device d ON d.id = r.device_id
               WHERE d.person_id = :p AND r.at >= :s AND r.at < :u
               ORDER BY r.at LIMIT :n"""
        ),
        {"p": person_id, "s": since, "u": until, "n": TRACK_MAX},
    )
    return [Position(r.at, float(r.lon), float(r.lat), r.accuracy_m) for r in rows]


def person_alarms(
    session: Session, principal: Principal, person_id: int, limit: int = 100
) -> list[AlarmRecord]:
    """The person's geofence alarms, latest first."""
    registry.get_person(session, principal, person_id)
    rows = session.execute(
        text(
            """SELECT id, at, ST_X(geom) AS lon, ST_Y(geom) AS lat, outside_m, incident_id,
                      returned_at
               FROM geofence_alarm WHERE person_id = :p ORDER BY at DESC, id DESC LIMIT :n"""
        ),
        {"p": person_id, "n": limit},
    )
    return [AlarmRecord(**r._asdict()) for r in rows]


def unregister(session: Session, principal: Principal, device_id: str) -> None:
    """Removes a device and its history (its holder must be in ``principal``'s sight)."""
    row = session.execute(
        text("SELECT person_id, worker_id FROM device WHERE id = :d"), {"d": device_id}
    ).first()
    missing = NotFoundError(f"no device has id {device_id}", zh=f"没有编号为 {device_id} 的终端")
    if row is None:
        raise missing
    try:
        if row.person_id is not None:
            registry.get_person(session, principal, int(row.person_id))
        else:
            workers.get_worker(session, principal, int(row.worker_id))
    except NotFoundError:
        raise missing from None
    session.execute(text("DELETE FROM device WHERE id = :d"), {"d": device_id})
