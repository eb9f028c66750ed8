"""The emergency button (一键通): a case where the person is, and the nearest free worker sent.

One press, in one transaction:

1. a help-request case at the person's position, routed to the grid there
   (``gis.incidents.intake``); a person outside every grid (on a trip out of the
   district) gets it at their home building instead: a call is never refused for
   where it came from;
2. the nearest available home-care worker (``gis.care.dispatch``: by walk where
   the network exists, else straight line) is marked busy and sent, with the
   distance and how it was measured;
3. an ``emergency_call`` row keeps the times: pressed (``at``), dispatched,
   arrived (the worker's device comes within ``GRIDMAP_ARRIVAL_RADIUS_M`` of the
   caller, or the worker says so), closed (the worker is free again).

Nobody free is not an error: the call and case are stored and the answer says so,
for the grid's manager and the service centre to act on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.care.dispatch import WalkNetworks, nearest_available
from gis.care.ingest import CHINA_LAT, CHINA_LON
from gis.errors import (
    ConflictError,
    InvalidParameterError,
    NotFoundError,
    OutsideDistrictError,
    UnroutableLocationError,
)
from gis.geo.datum import WGS84, Datum, to_storage_point
from gis.incidents.intake import Report, create_incident
from gis.incidents.records import local_minute
from gis.localtime import utc_now
from gis.people import visibility
from gis.principal import Principal

DEVICES_SCOPE = "devices:write"
CATEGORY = "help_request"
SOURCE = "device"


@dataclass(frozen=True)
class SentWorker:
    """Who was sent, how far they had to go (metres) and how that was measured."""

    id: int
    name: str
    phone: str | None
    distance_m: float
    method: str


@dataclass(frozen=True)
class Call:
    """An emergency call as its answer and its record show it."""

    id: int
    person_id: int
    incident_id: int | None
    at: dt.datetime
    lon: float
    lat: float
    worker: SentWorker | None
    dispatched_at: dt.datetime | None
    arrived_at: dt.datetime | None
    closed_at: dt.datetime | None


def description(person_id: int, at: dt.datetime) -> str:
    return (
        f"紧急呼叫：服务对象（登记编号 {person_id}）于 {local_minute(at)} 按下一键求助，"
        "已派最近的养老服务人员前往。 (Emergency call: the nearest home-care worker was sent.)"
    )


def _person_of_device(session: Session, principal: Principal, device_id: str) -> Any:
    row = session.execute(
        text(
            """SELECT d.person_id, p.building_id, g.code AS grid_code
               FROM device d JOIN person p ON p.id = d.person_id JOIN grid g ON g.id = p.grid_id
               WHERE d.id = :d"""
        ),
        {"d": device_id},
    ).first()
    if row is None or not principal.covers(row.grid_code):
        raise NotFoundError(
            f"no person's device has id {device_id!r}: register it first",
            zh=f"没有编号为 {device_id!r} 的服务对象终端：请先登记",
        )
    return row


def _file_case(
    session: Session, principal: Principal, person: Any, lon: float, lat: float, at: dt.datetime
) -> int:
    text_ = description(int(person.person_id), at)
    try:
        with session.begin_nested():
            record = create_incident(
                session,
                Report(
                    CATEGORY, lon=lon, lat=lat, description=text_, source=SOURCE, reported_at=at
                ),
                principal,
            )
    except (OutsideDistrictError, UnroutableLocationError):  # the home grid takes it
        record = create_incident(
            session,
            Report(
                CATEGORY,
                building_id=int(person.building_id),
                description=text_,
                source=SOURCE,
                reported_at=at,
            ),
            principal,
        )
    return record.id


def call(
    session: Session,
    principal: Principal,
    networks: WalkNetworks,
    device_id: str,
    lon: float,
    lat: float,
    *,
    datum: Datum = WGS84,
    at: dt.datetime | None = None,
) -> Call:
    """The button on ``device_id`` was pressed at (``lon``, ``lat``) in ``datum``."""
    now = utc_now()
    at = at or now
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidParameterError("at has no time zone", zh="at 缺少时区")
    person = _person_of_device(session, principal, device_id)
    lon, lat = to_storage_point(lon, lat, datum)
    if not (CHINA_LON[0] <= lon <= CHINA_LON[1] and CHINA_LAT[0] <= lat <= CHINA_LAT[1]):
        raise InvalidParameterError(
            f"({lon:.6f}, {lat:.6f}) lies outside China: check the order (lon, lat) and datum",
            zh=f"({lon:.6f}, {lat:.6f}) 不在中国境内：请检查经纬度顺序和坐标系",
        )
    incident_id = _file_case(session, principal, person, lon, lat, at)
    chosen = nearest_available(session, networks, lon, lat)
    if chosen is not None:
        session.execute(
            text("UPDATE care_worker SET available = false WHERE id = :w"),
            {"w": chosen.worker_id},
        )
    call_id = session.execute(
        text(
            """INSERT INTO emergency_call (person_id, at, geom, incident_id, worker_id,
                                           distance_m, method, dispatched_at)
               VALUES (:p, :at, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :i, :w, :m,
                       :how, :sent)
               RETURNING id"""
        ),
        {
            "p": int(person.person_id),
            "at": at,
            "lon": lon,
            "lat": lat,
            "i": incident_id,
            "w": chosen.worker_id if chosen else None,
            "m": chosen.distance_m if chosen else None,
            "how": chosen.method if chosen else None,
            "sent": now if chosen else None,
        },
    ).scalar_one()
    return get_call(session, principal, int(call_id))


def _may_see(principal: Principal, row: Any) -> bool:
    """Those who see the person (``gis.people.visibility``), and device keys of the area."""
    if principal.kind == "person":
        return visibility.sees(principal, row.grid_code, row.responsible_staff_id)
    return principal.has_scope(DEVICES_SCOPE) and principal.covers(row.grid_code)


def get_call(session: Session, principal: Principal, call_id: int) -> Call:
    """The call as it stands (404 for those who may not see it, as for a missing one)."""
    row = _call_row(session, call_id, lock=False)
    if not _may_see(principal, row):
        raise _no_call(call_id)
    worker = (
        None
        if row.worker_id is None
        else SentWorker(
            int(row.worker_id),
            row.worker_name,
            row.worker_phone,
            float(row.distance_m),
            row.method,
        )
    )
    return Call(
        int(row.id),
        int(row.person_id),
        row.incident_id,
        row.at,
        float(row.lon),
        float(row.lat),
        worker,
        row.dispatched_at,
        row.arrived_at,
        row.closed_at,
    )


def _no_call(call_id: int) -> NotFoundError:
    return NotFoundError(
        f"no emergency call has id {call_id}", zh=f"没有编号为 {call_id} 的紧急呼叫"
    )


def _call_row(session: Session, call_id: int, lock: bool = True) -> Any:
    row = session.execute(
        text(
            """SELECT c.*, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, g.code AS grid_code,
                      p.responsible_staff_id, w.name AS worker_name, w.phone AS worker_phone
               FROM emergency_call c JOIN person p ON p.id = c.person_id
               JOIN grid g ON g.id = p.grid_id
               LEFT JOIN care_worker w ON w.id = c.worker_id
               WHERE c.id = :c"""
            + (" FOR UPDATE OF c" if lock else "")
        ),
        {"c": call_id},
    ).first()
    if row is None:
        raise NotFoundError(
            f"no emergency call has id {call_id}", zh=f"没有编号为 {call_id} 的紧急呼叫"
        )
    return row


def arrived(
    session: Session, principal: Principal, call_id: int, at: dt.datetime | None = None
) -> Call:
    """The worker is there (said by them or their device): the first time counts."""
    row = _call_row(session, call_id)
    if not _may_see(principal, row):
        raise _no_call(call_id)
    if row.worker_id is None:
        raise ConflictError(
            "nobody was sent to this call, so nobody can arrive",
            zh="此呼叫尚未派出人员，无法记录到达",
        )
    at = at or utc_now()
    session.execute(
        text(
            "UPDATE emergency_call SET arrived_at = greatest(:at, dispatched_at) "
            "WHERE id = :c AND arrived_at IS NULL"
        ),
        {"at": at, "c": call_id},
    )
    return get_call(session, principal, call_id)


def close(
    session: Session, principal: Principal, call_id: int, at: dt.datetime | None = None
) -> Call:
    """The call is over: its worker is free again (closing twice keeps the first time)."""
    row = _call_row(session, call_id)
    if not _may_see(principal, row):
        raise _no_call(call_id)
    if row.closed_at is not None:
        return get_call(session, principal, call_id)
    session.execute(
        text("UPDATE emergency_call SET closed_at = :at WHERE id = :c"),
        {"at": at or utc_now(), "c": call_id},
    )
    if row.worker_id is not None:
        session.execute(
            text("UPDATE care_worker SET available = true WHERE id = :w"), {"w": row.worker_id}
        )
    return get_call(session, principal, call_id)
