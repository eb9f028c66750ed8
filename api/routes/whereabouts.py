"""Where a person served is: their device, last position, track and geofence alarms
(issue 14).

Only those who look after the person see any of it (``gis.people.visibility``, through
``gis.care.devices``: 404 for anyone else, as for a missing id), and every read is
audited (``personal.read``, what was read). Positions come back in ``datum=``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from api import access
from api.audited import record_read, record_write
from api.bodies import request_body_doc
from api.care_schemas import PersonAlarmsDoc, PositionDoc, TrackDoc
from api.dependencies import DatumOutDep, SessionDep
from api.fields import INT8_MAX
from api.responses import ErrorDoc, lonlat_out
from api.routes.care import NOT_FOUND, DeviceBody, DeviceIn
from api.routing import ReadRetryRoute
from gis.care import devices
from gis.db.engine import translate_integrity_errors
from gis.people import registry
from gis.principal import Principal

router = APIRouter(route_class=ReadRetryRoute, prefix="/api/v1", tags=["care"])

Reader = Annotated[Principal, Depends(access.PEOPLE_READ)]
Writer = Annotated[Principal, Depends(access.PEOPLE_WRITE)]
PersonId = Annotated[int, Path(ge=1, le=INT8_MAX, description="The person's id.")]


def _audit_person(
    session: SessionDep, request: Request, principal: Principal, person_id: int, what: str
) -> None:
    record_read(session, request, principal, f"person:{person_id}", detail={"read": what})


@router.put(
    "/people/{person_id}/device",
    summary="Give a person served their locating device",
    response_model=None,
    responses={
        200: {"model": PositionDoc},
        404: NOT_FOUND,
        409: {"model": ErrorDoc, "description": "The device is registered to someone already."},
    },
    openapi_extra=request_body_doc(DeviceBody, description="The device's id (IMEI, serial)."),
)
def put_person_device(
    request: Request,
    session: SessionDep,
    principal: Writer,
    person_id: PersonId,
    body: DeviceIn,
    datum: DatumOutDep,
) -> JSONResponse:
    """A device they had before is replaced, with its history."""
    with translate_integrity_errors():
        devices.register_person_device(session, principal, person_id, body.device_id)
        record = registry.get_person(session, principal, person_id)
        record_write(
            session,
            request,
            principal,
            "person.device",
            object=f"person:{person_id}",
            area=record.grid_code,
            detail={"device": body.device_id},
        )
        session.commit()
    return _position(session, principal, person_id, datum)


def _position(
    session: SessionDep, principal: Principal, person_id: int, datum: Any
) -> JSONResponse:
    state = devices.person_device(session, principal, person_id)
    last = state.last
    body = {
        "person_id": person_id,
        "device_id": state.device_id,
        "at": last.at.isoformat() if last else None,
        "lon": last.lon if last else None,
        "lat": last.lat if last else None,
        "accuracy_m": last.accuracy_m if last else None,
        "fence_state": state.fence_state,
        "fence_streak": state.fence_streak,
    }
    return JSONResponse(lonlat_out([body], datum)[0])


@router.get(
    "/people/{person_id}/position",
    summary="A person's last known position and geofence state",
    response_model=None,
    responses={200: {"model": PositionDoc}, 404: NOT_FOUND},
)
def get_position(
    request: Request,
    session: SessionDep,
    principal: Reader,
    person_id: PersonId,
    datum: DatumOutDep,
) -> JSONResponse:
    """Only for those who look after the person (404 otherwise). Audited."""
    answer = _position(session, principal, person_id, datum)
    _audit_person(session, request, principal, person_id, "position")
    return answer


@router.get(
    "/people/{person_id}/track",
    summary="Where a person was over a period (kept GRIDMAP_POSITION_RETENTION_DAYS)",
    response_model=None,
    responses={200: {"model": TrackDoc}, 404: NOT_FOUND},
)
def get_track(
    request: Request,
    session: SessionDep,
    principal: Reader,
    person_id: PersonId,
    datum: DatumOutDep,
    since: Annotated[
        AwareDatetime | None, Query(description="From, with a UTC offset (default: 24 h ago).")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="Until, with a UTC offset (default: now).")
    ] = None,
) -> JSONResponse:
    """Positions in time order, at most 10,000 (``truncated`` says when there were more).
    Only for those who look after the person. Audited."""
    until = until or dt.datetime.now(dt.UTC)
    since = since or until - dt.timedelta(days=1)
    points = devices.track(session, principal, person_id, since, until)
    _audit_person(session, request, principal, person_id, "track")
    positions = [
        {"at": p.at.isoformat(), "lon": p.lon, "lat": p.lat, "accuracy_m": p.accuracy_m}
        for p in points
    ]
    body = {
        "person_id": person_id,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "positions": lonlat_out(positions, datum),
        "truncated": len(points) >= devices.TRACK_MAX,
    }
    return JSONResponse(body)


@router.get(
    "/people/{person_id}/alarms",
    summary="A person's geofence alarms, latest first",
    response_model=None,
    responses={200: {"model": PersonAlarmsDoc}, 404: NOT_FOUND},
)
def get_alarms(
    request: Request,
    session: SessionDep,
    principal: Reader,
    person_id: PersonId,
    datum: DatumOutDep,
) -> JSONResponse:
    """Where and when they left their safe area, the case filed, when they came back."""
    found = devices.person_alarms(session, principal, person_id)
    _audit_person(session, request, principal, person_id, "alarms")
    items = [jsonable_encoder(a.__dict__) for a in found]
    return JSONResponse({"person_id": person_id, "alarms": lonlat_out(items, datum)})
