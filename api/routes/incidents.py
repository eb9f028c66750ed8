"""Incident intake and the closed loop under /api/v1/incidents.

A report (hotline, a grid manager's patrol, a phone app) is posted with its
category and a point in a named datum; ``gis.incidents.intake`` routes it to a grid
and that grid's primary grid manager and suggests open cases it may
duplicate. Each later step is a transition quoting the version the caller
read (optimistic locking: a stale screen gets a 409 with the current
version). Who acts is the authenticated principal of the
route's rule, never a field of the body; which step each role may take on
which case is ``gis.incidents.permissions``' rule (403 otherwise). Every
write is audited in its own transaction (``api.audited``). The list of
incidents, GET /api/v1/incidents, is in ``api.routes.features``.

Statistics and hot spots are ``api.routes.incident_statistics``, whose router the
app includes before this one, so /statistics and /hot-spots are never taken for an id.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api import access
from api.audited import record_read, record_report, record_write
from api.bodies import json_body, request_body_doc, validate
from api.dependencies import DatumOutDep, SessionDep
from api.fields import (
    INT8_MAX,
    TEXT_MAX,
    Finite,
    Id4,
    Id8,
    Int4,
    LonLatDatum,
    Text,
    column_length,
)
from api.incident_schemas import (
    InboxDoc,
    IncidentCreatedDoc,
    IncidentDoc,
    IncidentHistoryDoc,
    StaleStepDoc,
)
from api.preconditions import IfMatch, etag_headers, expected
from api.responses import (
    PAGING_HEADERS,
    ErrorDoc,
    lonlat_out,
    paging_headers,
)
from api.routes.photos import photo_json
from api.routes.tiles import keep_tiles_current
from api.routing import ReadRetryRoute
from gis.db.models import Incident, IncidentTransition
from gis.geo.datum import WGS84, Datum
from gis.geo.geojson import json_object
from gis.incidents import inbox, photos, transitions
from gis.incidents import records as incident_records
from gis.incidents.intake import (
    IDEMPOTENCY_KEY_MAX,
    MEDIA_URL_MAX,
    Intake,
    Report,
    report_digest,
    report_incident,
    report_once,
)
from gis.incidents.listing import IncidentPlace, incident_place
from gis.incidents.records import IncidentRecord, Seen
from gis.incidents.workflow import Rating, State
from gis.principal import Principal

router = APIRouter(
    route_class=ReadRetryRoute,
    prefix="/api/v1",
    tags=["incidents"],
    default_response_class=JSONResponse,
)

Note = Annotated[Text, Field(max_length=TEXT_MAX)]
Category = Annotated[Text, Field(max_length=column_length(Incident.category))]


class IncidentCreate(BaseModel):
    """A new report: a category and a point (lon/lat in ``datum``) or a building."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"category": "exposed_garbage", "lon": 119.113, "lat": 36.713, "source": "hotline"}
            ]
        },
    )

    category: Category = Field(description="Category code of gis.incidents.catalogue.")
    description: Note | None = None
    source: Annotated[Text, Field(max_length=column_length(Incident.source))] | None = Field(
        None, examples=["hotline", "patrol", "app"]
    )
    lon: Finite | None = Field(None, description="Longitude, degrees, in ``datum``.")
    lat: Finite | None = Field(None, description="Latitude, degrees, in ``datum``.")
    datum: LonLatDatum = WGS84
    address: Note | None = None
    media_url: Annotated[Text, Field(max_length=MEDIA_URL_MAX)] | None = Field(
        None, description="Link to the reporter's photo (http or https)."
    )
    building_id: Id8 | None = Field(
        None, description="Locate at this building when lon/lat are not given."
    )
    reported_at: dt.datetime | None = Field(
        None, description="When it was reported, with time zone; default now."
    )


class TransitionBody(BaseModel):
    """One step of the closed loop."""

    model_config = ConfigDict(extra="forbid")

    action: Annotated[Text, Field(max_length=column_length(IncidentTransition.action))] = Field(
        description="accept, cancel, dispatch, redispatch, handle, feedback, verify, "
        "rework, evaluate, escalate, urge (督办: a level above the case's adds a note "
        "the handler sees; nothing else changes, the version included), hand_over (交办: "
        "to the head of the unit ``unit_id``) or settle (当场办结: settled on the spot, "
        "straight from reported or accepted to handled)."
    )
    note: Note | None = Field(
        None, description="Why; required for cancel, rework, redispatch, escalate and urge."
    )
    rating: Rating | None = Field(
        None,
        description="evaluate (综合评价) only, and required there: satisfied (满意), "
        "basically_satisfied (基本满意) or unsatisfied (不满意).",
    )
    expected_version: Int4 = Field(ge=1, description="The incident's version as you read it.")
    handler_staff_id: Id4 | None = Field(
        None, description="The new handler (dispatch, redispatch)."
    )
    unit_id: Id4 | None = Field(
        None,
        description="hand_over (交办) only, and required there: the mediation unit whose "
        "head takes the case (GET /api/v1/mediation-units).",
    )


class MergeBody(BaseModel):
    """Mark this incident a duplicate of another (it is cancelled as such)."""

    model_config = ConfigDict(extra="forbid")

    into: Id8 = Field(description="The id of the incident this one duplicates.")
    note: Note | None = None


def _parse(model: type[BaseModel]) -> Any:
    def parse(data: Any) -> Any:
        return validate(model, data)

    return parse


CreateBody = Annotated[IncidentCreate, Depends(json_body(_parse(IncidentCreate)))]
TransitionBodyDep = Annotated[TransitionBody, Depends(json_body(_parse(TransitionBody)))]
MergeBodyDep = Annotated[MergeBody, Depends(json_body(_parse(MergeBody)))]
Reporter = Annotated[Principal, Depends(access.INCIDENT_REPORT)]
Actor = Annotated[Principal, Depends(access.INCIDENT_ACT)]
"""Who takes a step: the authenticated principal, never a field of the body."""
IncidentId = Annotated[int, Path(ge=1, le=INT8_MAX, description="The incident's id.")]

_STALE_IF_MATCH: dict[str, Any] = {
    "model": StaleStepDoc,
    "description": "If-Match names a version older than the stored one (``current_version`` "
    "and ``etag`` say which is stored now, ``current`` the case: status, version, "
    "handling_level, last_step).",
}
_NOT_YOURS: dict[str, Any] = {
    "model": ErrorDoc,
    "description": "Your role may not take this step on this case (it has reached another "
    "level, you handled it yourself, or your role never does): the message says what your "
    "role may do. An API key never takes a step.",
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorDoc, "description": "No incident has this id (in your areas)."},
    409: {
        "model": StaleStepDoc,
        "description": "The action is not allowed in the case's state (``allowed`` lists "
        "those that are), or the version is stale: ``current_version`` and ``current`` (the "
        "case now: status, version, handling_level, last_step) so the conflict can be shown.",
    },
    413: {"model": ErrorDoc, "description": "The body is larger than the limit (64 kB)."},
}
_ETAG = {"ETag": {"description": 'The incident\'s version as a strong ETag, "<id>-<version>".'}}
_ANSWER: dict[int | str, dict[str, Any]] = {200: {"model": IncidentDoc, "headers": _ETAG}}
"""The 200 of a step or a merge: the incident as it now stands."""
_STEP_422: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ErrorDoc,
        "description": "A field of the body is missing or wrong (each is named in ``errors``), "
        "or handler_staff_id names no staff member (merge: ``into`` is the incident itself).",
    }
}


def _incident(session: Session, record: IncidentRecord, datum: Datum) -> dict[str, Any]:
    """The record as JSON, with its community/subdistrict codes and handler's name."""
    return _incident_body(record, incident_place(session, record.id), datum)


def _incident_body(record: IncidentRecord, place: IncidentPlace, datum: Datum) -> dict[str, Any]:
    """The record as JSON, its ``lon``/``lat`` in ``datum``."""
    body = lonlat_out([_record_json(record, place)], datum)[0]
    return body


def _record_json(record: IncidentRecord, place: IncidentPlace) -> dict[str, Any]:
    # vars(), not dataclasses.asdict: the fields are flat values, and asdict's deep copy
    # was a tenth of a report's CPU.
    body = json_object(vars(record))
    body["source_zh"] = incident_records.source_zh(record.source)
    body["community_code"] = place.community_code
    body["subdistrict_code"] = place.subdistrict_code
    body["handler"] = (
        {"id": record.handler_staff_id, "name": place.handler_name}
        if record.handler_staff_id is not None
        else None
    )
    body["unit"] = (
        {"id": record.unit_id, "name": place.unit_name} if record.unit_id is not None else None
    )
    return body


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX,
        pattern=r"^[\x21-\x7e]+$",
        description="Any printable ASCII up to 64 characters, new for each report (a UUID): "
        "a repeat with the same key and body answers the case the first made (200) "
        "instead of a second; the same key with another body is a 422.",
    ),
]


@router.post(
    "/incidents",
    status_code=201,
    summary="Report an incident",
    responses={
        200: {
            "model": IncidentCreatedDoc,
            "description": "A repeat of an earlier report under the same Idempotency-Key: "
            "the case it made, as it stands now (``possible_duplicates`` empty).",
            "headers": {"Location": {"description": "The incident's URL."}},
        },
        201: {
            "model": IncidentCreatedDoc,
            "headers": {"Location": {"description": "The new incident's URL."}},
        },
        400: {
            "model": ErrorDoc,
            "description": "The Idempotency-Key is empty, longer than 64 characters or not "
            "printable ASCII.",
        },
        **_ERRORS,
        422: {
            "model": ErrorDoc,
            "description": "A field is missing or wrong, the category is unknown, the point "
            "lies outside the district (the message says how far), or the Idempotency-Key "
            "was used by you for a different report.",
        },
    },
    openapi_extra=request_body_doc(IncidentCreate),
)
def create_incident(
    request: Request,
    session: SessionDep,
    body: CreateBody,
    principal: Reporter,
    datum: DatumOutDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Routes the point to its grid (snapping a point on a boundary road to the
    nearest grid, ``snapped_m`` metres) and hands it to the grid's primary grid
    manager. ``possible_duplicates``: open cases of the same category within
    50 m and 72 h, nearest first (merge one with POST .../merge).

    With ``Idempotency-Key`` (per caller, stored with the case, so it holds across
    restarts) a repeat of the same report answers 200 with the case the first
    made; the same key with a different body is a 422 (as the IETF draft on the
    header answers it), nothing stored.

    The body's ``datum`` says what its lon/lat are in; the query's ``datum`` what the
    answer's are in (WGS84 unless asked)."""
    report = Report(
        category=body.category,
        lon=body.lon,
        lat=body.lat,
        datum=body.datum,
        building_id=body.building_id,
        description=body.description,
        source=body.source,
        address=body.address,
        media_url=body.media_url,
        reported_at=body.reported_at,
    )
    if idempotency_key is not None:
        digest = report_digest(body.model_dump(mode="json"))
        made = report_once(session, report, principal, idempotency_key, digest)
        if not isinstance(made, Intake):
            session.commit()
            answer = _incident(session, made, datum)
            answer["possible_duplicates"] = []
            return JSONResponse(
                answer, status_code=200, headers={"Location": f"/api/v1/incidents/{made.id}"}
            )
        intake = made
    else:
        intake = report_incident(session, report, principal)
    record = intake.record
    record_report(session, request, principal, record)
    session.commit()
    keep_tiles_current(request)
    place = IncidentPlace(intake.community_code, intake.subdistrict_code, intake.handler_name)
    answer = _incident_body(record, place, datum)
    answer["possible_duplicates"] = [json_object(vars(d)) for d in intake.possible_duplicates]
    return JSONResponse(
        answer, status_code=201, headers={"Location": f"/api/v1/incidents/{record.id}"}
    )


Reader = Annotated[Principal, Depends(access.INCIDENT_READ)]


@router.get(
    "/incidents/{incident_id}",
    summary="One incident",
    responses={**_ANSWER, 404: _ERRORS[404]},
)
def get_incident(
    request: Request,
    session: SessionDep,
    incident_id: IncidentId,
    principal: Reader,
    datum: DatumOutDep,
) -> JSONResponse:
    """The incident as stored, with its grid, community, handler, ``version``
    (quote it in transitions, or its ``ETag`` in If-Match) and ``deadline_at``.

    404 for a case outside the caller's areas, as for one that does not exist.
    ``masked`` true: a dispute, petition or help request the caller is not
    responsible for, shown at its grid's representative point with description
    and address 已隐藏 and no photo. ``photos``: its evidence photos (as GET
    .../photos answers them) for those responsible for it, null for anyone
    else. Shown in full, or with photos, it is recorded in the audit trail."""
    seen = incident_records.incident_for(session, incident_id, principal)
    body = _incident(session, seen.record, datum)
    body["masked"] = seen.masked
    shown = photos.photos_shown(session, seen.record, principal)
    body["photos"] = None if shown is None else lonlat_out([photo_json(p) for p in shown], datum)
    _audit_personal(session, request, principal, seen, photos=len(shown or ()))  # commits
    return JSONResponse(body, headers=etag_headers(seen.record.id, seen.record.version, datum))


def _audit_personal(
    session: Session, request: Request, principal: Principal, seen: Seen, *, photos: int = 0
) -> None:
    if seen.personal_in_full or photos:
        record = seen.record
        record_read(
            session,
            request,
            principal,
            f"incident:{record.id}",
            area=record.grid_code,
            detail={"photos": photos} if photos else None,
        )


def _answer(session: Session, record: IncidentRecord, datum: Datum) -> JSONResponse:
    return JSONResponse(
        _incident(session, record, datum), headers=etag_headers(record.id, record.version, datum)
    )


@router.get(
    "/incidents/{incident_id}/history",
    summary="Every step of an incident, oldest first",
    responses={200: {"model": IncidentHistoryDoc}, 404: _ERRORS[404]},
)
def get_incident_history(
    request: Request, session: SessionDep, incident_id: IncidentId, principal: Reader
) -> JSONResponse:
    """Each step: action, from_state, to_state, actor, at, note, from_level, to_level,
    rating; and as pages show it: ``action_zh`` (立案, 派遣, 督办, 上报升级, …),
    ``actor_label`` (系统自动, a person's name and role, a key's name), ``at_local``
    (``YYYY-MM-DD HH:MM`` Asia/Shanghai), ``level_zh`` (the level reached, where it
    changed), ``rating_zh`` and ``note_zh`` (the program's own notes in Chinese).
    404 as for the incident; notes 已隐藏 where the incident is masked (``masked``)."""
    seen, steps = incident_records.history_for(session, incident_id, principal)
    _audit_personal(session, request, principal, seen)
    return JSONResponse(
        {
            "incident_id": incident_id,
            "masked": seen.masked,
            "history": [json_object(dataclasses.asdict(s)) for s in steps],
        }
    )


@router.post(
    "/incidents/{incident_id}/transitions",
    summary="Take a step of the closed loop",
    responses={
        400: {
            "model": ErrorDoc,
            "description": "The action needs a note, or If-Match contradicts "
            "expected_version, or hand_over names no unit, an unknown one or one that may not "
            "take the case (no head, another area, another category).",
        },
        403: _NOT_YOURS,
        412: _STALE_IF_MATCH,
        **_ANSWER,
        **_ERRORS,
        **_STEP_422,
    },
    openapi_extra=request_body_doc(TransitionBody),
)
def transition_incident(
    request: Request,
    session: SessionDep,
    incident_id: IncidentId,
    body: TransitionBodyDep,
    principal: Actor,
    datum: DatumOutDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Answers the incident as it now stands, its version raised by one, with its new
    ``ETag`` (an urge leaves the version as it was). An If-Match, if sent, must name
    the same version as ``expected_version``. A stale version is a 409 (412 for a stale
    If-Match) whose body carries ``current``: the case's status, version,
    handling_level and last step, so a client can show what changed.

    ``urge`` (督办): a level above the case's (the community over a grid-level case,
    the subdistrict over grid and community level, district staff and admin over
    every case) with a note. ``evaluate`` takes ``rating``. ``hand_over`` (交办) takes
    ``unit_id``: the unit's head becomes the handler (400 for an unknown unit, one
    without a head, outside the case's area or not taking its category); the
    levels that dispatch hand over. ``settle`` (当场办结) marks the case
    ``on_the_spot``."""
    precondition = expected(incident_id, if_match, body.expected_version)
    with precondition.checked():
        record = transitions.transition(
            session,
            incident_id,
            body.action,
            principal=principal,
            expected_version=body.expected_version,
            note=body.note,
            handler_staff_id=body.handler_staff_id,
            rating=body.rating,
            unit_id=body.unit_id,
        )
    detail: dict[str, Any] = {
        "status": record.status.value,
        "level": record.handling_level.value,
        "version": record.version,
    }
    if body.handler_staff_id is not None:
        detail["handler_staff_id"] = body.handler_staff_id
    if body.unit_id is not None:
        detail["unit_id"] = body.unit_id
        detail["handler_staff_id"] = record.handler_staff_id
    if body.rating is not None:
        detail["rating"] = body.rating.value
    if body.action == "urge":
        detail["note"] = body.note
    record_write(
        session,
        request,
        principal,
        f"incident.{body.action}",
        object=f"incident:{incident_id}",
        area=record.grid_code,
        detail=detail,
    )
    session.commit()
    keep_tiles_current(request)
    return _answer(session, record, datum)


@router.post(
    "/incidents/{incident_id}/merge",
    summary="Merge a duplicate report into another incident",
    responses={403: _NOT_YOURS, 412: _STALE_IF_MATCH, **_ANSWER, **_ERRORS, **_STEP_422},
    openapi_extra=request_body_doc(MergeBody),
)
def merge_incident(
    request: Request,
    session: SessionDep,
    incident_id: IncidentId,
    body: MergeBodyDep,
    principal: Actor,
    datum: DatumOutDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Cancels this incident as a duplicate of ``into`` (allowed before dispatch);
    answers the duplicate, with ``duplicate_of`` set. With If-Match, only if the
    duplicate is still at the version you read."""
    precondition = expected(incident_id, if_match, None, required=False)
    with precondition.checked():
        record = transitions.merge_duplicate(
            session,
            incident_id,
            body.into,
            principal=principal,
            note=body.note,
            expected_version=precondition.version,
        )
    record_write(
        session,
        request,
        principal,
        "incident.merge",
        object=f"incident:{incident_id}",
        area=record.grid_code,
        detail={"into": body.into, "version": record.version},
    )
    session.commit()
    keep_tiles_current(request)
    return _answer(session, record, datum)


InboxReader = Annotated[Principal, Depends(access.INBOX)]
_INBOX_CODE = r"^[0-9]{15}$"


@router.get(
    "/inbox",
    summary="Your inbox: the cases you act on first, overdue first",
    responses={
        200: {"model": InboxDoc, "headers": PAGING_HEADERS},
        400: {"model": ErrorDoc, "description": "A parameter is malformed or out of range."},
    },
)
def get_inbox(
    request: Request,
    session: SessionDep,
    principal: InboxReader,
    datum: DatumOutDep,
    grid: Annotated[
        str | None, Query(description="Only this grid (15 digits).", pattern=_INBOX_CODE)
    ] = None,
    community: Annotated[
        str | None, Query(description="Only this community (12 digits).", pattern=r"^[0-9]{12}$")
    ] = None,
    status: Annotated[State | None, Query(description="Only cases in this state.")] = None,
    overdue: Annotated[
        bool | None, Query(description="true: only overdue cases; false: only the others.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Items per page.")] = 100,
    offset: Annotated[
        int, Query(ge=0, le=1_000_000, description="How many matching items to skip.")
    ] = 0,
) -> JSONResponse:
    """The cases of your areas you act on first: those at your level (a grid
    manager: their grids' grid-level cases; community, subdistrict, district and
    admin: the cases that reached their level, ``escalated`` when by escalation),
    those dispatched to you, a grid-level case waiting for dispatch (community),
    and closed cases of the last 30 days waiting for 综合评价 (the lowest level that
    may evaluate them). Each item is a worklist item (``allowed``: what you may
    take now) with ``grid_code``, ``grid_name``, ``community_name``,
    ``supervise_due_at`` (when the sweep next raises it), ``escalated``, ``urge``
    (the latest 督办: ``at``, ``at_local``, ``by_label``, ``note``, or null) and
    ``source_zh``. Overdue (handling deadline or supervision limit passed) first,
    then by the sooner of the two. ``counts``: total, overdue, urged, escalated
    of every matching item (``limit``/``offset`` page the items)."""
    box = inbox.inbox(
        session,
        principal,
        grid=grid,
        community=community,
        status=status,
        overdue=overdue,
        limit=limit,
        offset=offset,
    )
    items = lonlat_out(jsonable_encoder(box.items), datum)
    total = box.counts.total
    return JSONResponse(
        jsonable_encoder({"now": box.now, "counts": box.counts, "items": items}),
        headers=paging_headers(request, offset, limit, len(items), total),
    )
