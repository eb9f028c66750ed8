"""Devices, home-care workers and emergency calls (issue 14).

The device platform (a key with ``devices:write``) sends position batches
(``POST /api/v1/devices/positions``) and emergency calls
(``POST /api/v1/devices/emergency``); a call is then read and moved on (arrived,
closed) by those who see the person and by that key. Workers are kept by admin and
their community, and every read of them is audited (``personal.read``). A person's
whereabouts are ``api.routes.whereabouts``. The rules are ``gis.care``'s; this module
parses, calls and renders.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api import access
from api.audited import record_read, record_write
from api.bodies import json_body, request_body_doc, validate
from api.care_schemas import (
    CallDoc,
    IngestDoc,
    WorkerDoc,
    WorkersDoc,
)
from api.dependencies import DatumOutDep, SessionDep
from api.fields import INT4_MAX, INT8_MAX, Finite, LonLatDatum, Text
from api.lang import request_lang
from api.responses import ErrorDoc, lonlat_out
from api.routing import ReadRetryRoute
from gis.care import devices, emergency, workers
from gis.care.dispatch import WalkNetworks
from gis.care.fences import FenceRules
from gis.care.ingest import PositionBatch, ingest
from gis.db.engine import translate_integrity_errors
from gis.errors import PayloadTooLargeError
from gis.geo.datum import WGS84, Datum
from gis.lang import Lang
from gis.principal import Principal
from gis.settings import CareSettings, WalkSettings

router = APIRouter(route_class=ReadRetryRoute, prefix="/api/v1", tags=["care"])

Device = Annotated[Principal, Depends(access.DEVICES_WRITE)]
Writer = Annotated[Principal, Depends(access.PEOPLE_WRITE)]
Keeper = Annotated[Principal, Depends(access.CARE_WORKERS)]
Caller = Annotated[Principal, Depends(access.CARE_CALLS)]

WorkerId = Annotated[int, Path(ge=1, le=INT4_MAX, description="The worker's id.")]
CallId = Annotated[int, Path(ge=1, le=INT8_MAX, description="The emergency call's id.")]
DeviceIdText = Annotated[
    Text, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]{1,64}$")
]
REPORT_BYTES = 200
"""Bytes one position report takes in JSON, generously: the body limit is this times
``GRIDMAP_POSITION_BATCH_MAX``."""


@functools.cache
def care_settings() -> CareSettings:
    return CareSettings()


@functools.cache
def _walk_speed() -> float:
    return WalkSettings().speed_m_per_min


def walk_networks(request: Request) -> WalkNetworks:
    """The process's walking networks (``api.app`` keeps them, dropped on network changes)."""
    held: WalkNetworks = request.app.state.walk_networks
    return held


# ---- bodies ------------------------------------------------------------------------------


class ReportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: DeviceIdText
    at: dt.datetime = Field(description="When the device measured it, with a UTC offset.")
    lon: Finite
    lat: Finite
    accuracy_m: Finite | None = Field(None, description="The device's stated accuracy, metres.")


class BatchBody(BaseModel):
    """Position reports of many devices, in one datum."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "datum": "gcj02",
                    "reports": [
                        {
                            "device_id": "YDT-0042",
                            "at": "2026-12-06T09:30:30+08:00",
                            "lon": 119.1362,
                            "lat": 36.7291,
                            "accuracy_m": 12,
                        }
                    ],
                }
            ]
        },
    )

    datum: LonLatDatum = WGS84
    reports: list[ReportBody] = Field(min_length=1)


class EmergencyBody(BaseModel):
    """The button was pressed: which device, where (in ``datum``), when (default now)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"device_id": "YDT-0042", "lon": 119.1362, "lat": 36.7291, "datum": "gcj02"}
            ]
        },
    )

    device_id: DeviceIdText
    lon: Finite
    lat: Finite
    datum: LonLatDatum = WGS84
    at: dt.datetime | None = None


class DeviceBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"device_id": "YDT-0042"}]}
    )

    device_id: DeviceIdText


class WorkerCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "陈某某", "community_code": "370705001001", "phone": "13900000001"}
            ]
        },
    )

    name: Annotated[Text, Field(min_length=1, max_length=workers.NAME_MAX)]
    community_code: Annotated[str, Field(pattern=r"^[0-9]{12}$")]
    phone: Annotated[Text, Field(max_length=workers.PHONE_MAX)] | None = None


class WorkerPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"available": False}]}
    )

    available: bool


def _batch_limit() -> int:
    return REPORT_BYTES * care_settings().batch_max + 1024


BatchIn = Annotated[
    BatchBody, Depends(json_body(lambda d: validate(BatchBody, d), limit=_batch_limit()))
]
EmergencyIn = Annotated[EmergencyBody, Depends(json_body(lambda d: validate(EmergencyBody, d)))]
DeviceIn = Annotated[DeviceBody, Depends(json_body(lambda d: validate(DeviceBody, d)))]
WorkerIn = Annotated[WorkerCreate, Depends(json_body(lambda d: validate(WorkerCreate, d)))]
WorkerPatchIn = Annotated[WorkerPatch, Depends(json_body(lambda d: validate(WorkerPatch, d)))]

NOT_FOUND = {
    "model": ErrorDoc,
    "description": "No such id, or not one you may see (the same answer).",
}


# ---- devices: positions and the button -----------------------------------------------------


@router.post(
    "/devices/positions",
    summary="Position reports from devices, in batches (geofences checked)",
    response_model=None,
    responses={
        200: {"model": IngestDoc},
        413: {"model": ErrorDoc, "description": "More reports than GRIDMAP_POSITION_BATCH_MAX."},
    },
    openapi_extra=request_body_doc(
        BatchBody,
        description="Up to GRIDMAP_POSITION_BATCH_MAX reports (5,000), each a device, a "
        "time and a position in the batch's datum (wgs84 or gcj02 as devices send).",
    ),
)
def post_positions(
    request: Request, session: SessionDep, principal: Device, body: BatchIn
) -> JSONResponse:
    """Stores the reports, updates each device's last position and geofence, and files a
    help-request case for each person confirmed outside their safe area. Reports that
    cannot be stored are listed with the reason; the rest are stored and committed
    before the answer. Sending a batch again stores nothing twice."""
    settings = care_settings()
    reports = body.reports
    if len(reports) > settings.batch_max:
        raise PayloadTooLargeError(
            f"{len(reports):,} reports in one batch; at most {settings.batch_max:,}",
            zh=f"一批 {len(reports):,} 条定位超过上限 {settings.batch_max:,} 条",
        )
    batch = PositionBatch(
        [r.device_id for r in reports],
        [r.at for r in reports],
        np.fromiter((r.lon for r in reports), float, len(reports)),
        np.fromiter((r.lat for r in reports), float, len(reports)),
        np.fromiter(
            (np.nan if r.accuracy_m is None else r.accuracy_m for r in reports),
            float,
            len(reports),
        ),
        body.datum,
    )
    rules = FenceRules(settings.margin_m, settings.confirm, settings.max_accuracy_m)
    result = ingest(
        session,
        principal,
        batch,
        rules,
        retention=dt.timedelta(days=settings.retention_days),
        arrival_radius_m=settings.arrival_radius_m,
    )
    session.commit()
    zh = request_lang(request) is Lang.ZH
    answer = {
        "received": result.received,
        "stored": result.stored,
        "repeated": result.repeated,
        "rejected": [
            {"index": r.index, "device_id": r.device_id, "reason": r.reason_zh if zh else r.reason}
            for r in result.rejected
        ],
        "alarms": [
            {
                "id": a.id,
                "person_id": a.person_id,
                "incident_id": a.incident_id,
                "grid_code": a.grid_code,
                "at": a.at.isoformat(),
                "outside_m": round(a.outside_m, 1),
            }
            for a in result.alarms
        ],
        "returned": result.returned,
    }
    return JSONResponse(answer)


def _call_json(call: emergency.Call, datum: Datum) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": call.id,
        "person_id": call.person_id,
        "incident_id": call.incident_id,
        "at": call.at,
        "lon": call.lon,
        "lat": call.lat,
        "worker": None,
        "dispatched_at": call.dispatched_at,
        "arrived_at": call.arrived_at,
        "closed_at": call.closed_at,
    }
    if call.worker is not None:
        w = call.worker
        body["worker"] = {
            "id": w.id,
            "name": w.name,
            "phone": w.phone,
            "distance_m": round(w.distance_m, 1),
            "method": w.method,
            "minutes": round(w.distance_m / _walk_speed(), 1),
        }
    encoded: dict[str, Any] = jsonable_encoder(body)
    return lonlat_out([encoded], datum)[0]


@router.post(
    "/devices/emergency",
    status_code=201,
    summary="The emergency button: a case, and the nearest available home-care worker sent",
    response_model=None,
    responses={
        201: {"model": CallDoc},
        404: {"model": ErrorDoc, "description": "No person's device has this id (in your area)."},
    },
    openapi_extra=request_body_doc(
        EmergencyBody, description="The device and where it is (default datum wgs84)."
    ),
)
def post_emergency(
    request: Request,
    session: SessionDep,
    principal: Device,
    body: EmergencyIn,
    datum: DatumOutDep,
) -> JSONResponse:
    """Files a help-request case where the person is (in their home grid when they are
    outside every grid) and sends the nearest available worker, by walking distance
    where a walking network is stored, else straight line; ``worker`` is null when
    nobody is free (the case still goes to the grid). Committed before the answer."""
    with translate_integrity_errors():
        call = emergency.call(
            session,
            principal,
            walk_networks(request),
            body.device_id,
            body.lon,
            body.lat,
            datum=body.datum,
            at=body.at,
        )
        record_write(
            session,
            request,
            principal,
            "care.emergency",
            object=f"emergency_call:{call.id}",
            area=None,
            detail={"person": call.person_id, "worker": call.worker.id if call.worker else None},
        )
        session.commit()
    return JSONResponse(
        _call_json(call, datum),
        status_code=201,
        headers={"Location": f"/api/v1/care/calls/{call.id}"},
    )


# ---- calls ------------------------------------------------------------------------------------


@router.get(
    "/care/calls/{call_id}",
    summary="An emergency call: the worker sent, dispatch and arrival times",
    response_model=None,
    responses={200: {"model": CallDoc}, 404: NOT_FOUND},
)
def get_call(
    request: Request, session: SessionDep, principal: Caller, call_id: CallId, datum: DatumOutDep
) -> JSONResponse:
    """For those who see the person and the device platform's key. Audited."""
    call = emergency.get_call(session, principal, call_id)
    record_read(session, request, principal, f"emergency_call:{call.id}")
    return JSONResponse(_call_json(call, datum))


def _call_step(
    request: Request,
    session: SessionDep,
    principal: Principal,
    call_id: int,
    step: str,
    datum: Any,
) -> JSONResponse:
    act = emergency.arrived if step == "arrived" else emergency.close
    call = act(session, principal, call_id)
    record_write(
        session,
        request,
        principal,
        f"care.call.{step}",
        object=f"emergency_call:{call.id}",
        area=None,
    )
    session.commit()
    return JSONResponse(_call_json(call, datum))


@router.post(
    "/care/calls/{call_id}/arrived",
    summary="The worker sent has arrived (the first time counts)",
    response_model=None,
    responses={
        200: {"model": CallDoc},
        404: NOT_FOUND,
        409: {"model": ErrorDoc, "description": "Nobody was sent to this call."},
    },
)
def call_arrived(
    request: Request,
    session: SessionDep,
    principal: Caller,
    call_id: CallId,
    datum: DatumOutDep,
) -> JSONResponse:
    """Recorded by the worker's device on its own when it comes within
    GRIDMAP_ARRIVAL_RADIUS_M of the caller; this is for saying so by hand."""
    return _call_step(request, session, principal, call_id, "arrived", datum)


@router.post(
    "/care/calls/{call_id}/close",
    summary="The emergency call is over: its worker is free again",
    response_model=None,
    responses={200: {"model": CallDoc}, 404: NOT_FOUND},
)
def call_close(
    request: Request,
    session: SessionDep,
    principal: Caller,
    call_id: CallId,
    datum: DatumOutDep,
) -> JSONResponse:
    """Closing twice keeps the first time."""
    return _call_step(request, session, principal, call_id, "close", datum)


@router.delete(
    "/devices/{device_id}",
    status_code=204,
    summary="Take a device away (its history goes with it)",
    response_class=Response,
    responses={404: NOT_FOUND},
)
def delete_device(
    request: Request,
    session: SessionDep,
    principal: Writer,
    device_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,64}$")],
) -> Response:
    devices.unregister(session, principal, device_id)
    record_write(
        session, request, principal, "device.remove", object=f"device:{device_id}", area=None
    )
    session.commit()
    return Response(status_code=204)


# ---- workers --------------------------------------------------------------------------------


def _worker_json(worker: workers.Worker, datum: Any) -> dict[str, Any]:
    body: dict[str, Any] = jsonable_encoder(worker.__dict__)
    return lonlat_out([body], datum)[0]


@router.get(
    "/care/workers",
    summary="Home-care workers, whether they are free and where",
    response_model=None,
    responses={200: {"model": WorkersDoc}},
)
def list_workers(
    request: Request, session: SessionDep, principal: Keeper, datum: DatumOutDep
) -> JSONResponse:
    """Admin sees all; a community its own. Audited (names, phones and positions)."""
    found = workers.list_workers(session, principal)
    if found:
        record_read(
            session, request, principal, "care_workers", detail={"workers": [w.id for w in found]}
        )
    return JSONResponse({"workers": [_worker_json(w, datum) for w in found]})


@router.post(
    "/care/workers",
    status_code=201,
    summary="Add a home-care worker to a community",
    response_model=None,
    responses={
        201: {"model": WorkerDoc},
        403: {"model": ErrorDoc, "description": "Not your community."},
        404: {"model": ErrorDoc, "description": "No current community has this code."},
    },
    openapi_extra=request_body_doc(WorkerCreate, description="Name, community, phone."),
)
def add_worker(
    request: Request, session: SessionDep, principal: Keeper, body: WorkerIn, datum: DatumOutDep
) -> JSONResponse:
    worker = workers.add_worker(session, principal, body.name, body.community_code, body.phone)
    record_write(
        session,
        request,
        principal,
        "care.worker.add",
        object=f"care_worker:{worker.id}",
        area=worker.community_code,
    )
    session.commit()
    return JSONResponse(
        _worker_json(worker, datum),
        status_code=201,
        headers={"Location": f"/api/v1/care/workers/{worker.id}"},
    )


@router.patch(
    "/care/workers/{worker_id}",
    summary="Mark a home-care worker free or busy",
    response_model=None,
    responses={200: {"model": WorkerDoc}, 404: NOT_FOUND},
    openapi_extra=request_body_doc(WorkerPatch, description="available: true or false."),
)
def patch_worker(
    request: Request,
    session: SessionDep,
    principal: Keeper,
    worker_id: WorkerId,
    body: WorkerPatchIn,
    datum: DatumOutDep,
) -> JSONResponse:
    worker = workers.set_available(session, principal, worker_id, body.available)
    record_write(
        session,
        request,
        principal,
        "care.worker.available",
        object=f"care_worker:{worker.id}",
        area=worker.community_code,
        detail={"available": body.available},
    )
    session.commit()
    return JSONResponse(_worker_json(worker, datum))


@router.put(
    "/care/workers/{worker_id}/device",
    summary="Give a home-care worker their device",
    response_model=None,
    responses={
        200: {"model": WorkerDoc},
        404: NOT_FOUND,
        409: {"model": ErrorDoc, "description": "The device is registered to someone already."},
    },
    openapi_extra=request_body_doc(DeviceBody, description="The device's id."),
)
def put_worker_device(
    request: Request,
    session: SessionDep,
    principal: Keeper,
    worker_id: WorkerId,
    body: DeviceIn,
    datum: DatumOutDep,
) -> JSONResponse:
    with translate_integrity_errors():
        devices.register_worker_device(session, principal, worker_id, body.device_id)
        worker = workers.get_worker(session, principal, worker_id)
        record_write(
            session,
            request,
            principal,
            "care.worker.device",
            object=f"care_worker:{worker_id}",
            area=worker.community_code,
            detail={"device": body.device_id},
        )
        session.commit()
    return JSONResponse(_worker_json(worker, datum))
