"""People served under /api/v1/people (issue 14): the registry of elderly and disabled residents.

Who sees and writes what is ``gis.people.visibility`` (the route rules of
``api.access``: ``PEOPLE_READ``, ``PEOPLE_WRITE``, ``PEOPLE_REMOVE``,
``PEOPLE_COUNTS``): a person out of the caller's sight is a 404, never a 403, so
that even their existence does not leak. Every answer that shows a person is
audited as ``personal.read`` (``api.audited.record_read``); writes are audited
(``person.register``, ``person.update``, ``person.remove``) with the grid and
category only, never a name or a phone. Counts per grid or community carry no
personal data and are open to every staff role.

A change names the version it is based on (``If-Match`` or ``expected_version``,
``api.preconditions``), as facility writes do.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api import access
from api.audited import record_read, record_write
from api.bodies import json_body, request_body_doc, validate
from api.dependencies import PagingDep, SessionDep
from api.fields import INT4_MAX, INT8_MAX, Id4, Id8, Text
from api.people_schemas import PeopleCountsDoc, PeoplePageDoc, PersonDoc
from api.preconditions import IfMatch, etag_headers, expected
from api.responses import PAGING_HEADERS, ErrorDoc, page_links, paging_headers
from api.routing import ReadRetryRoute
from gis.db.engine import translate_integrity_errors
from gis.people import registry
from gis.people.categories import CATEGORIES
from gis.people.registry import Consent, NewPerson, PersonRecord
from gis.principal import Principal

router = APIRouter(route_class=ReadRetryRoute, prefix="/api/v1", tags=["people"])

Reader = Annotated[Principal, Depends(access.PEOPLE_READ)]
Writer = Annotated[Principal, Depends(access.PEOPLE_WRITE)]
Remover = Annotated[Principal, Depends(access.PEOPLE_REMOVE)]
Counter = Annotated[Principal, Depends(access.PEOPLE_COUNTS)]

PersonId = Annotated[int, Path(ge=1, le=INT8_MAX, description="The person's id.")]
Category = Annotated[Text, Field(max_length=40, examples=list(CATEGORIES))]


NameText = Annotated[Text, Field(max_length=registry.NAME_MAX)]
PhoneText = Annotated[Text, Field(max_length=registry.PHONE_MAX)]
HouseholdText = Annotated[Text, Field(max_length=registry.HOUSEHOLD_MAX)]
ConsentByText = Annotated[Text, Field(max_length=registry.CONSENT_BY_MAX)]
ConsentScopeText = Annotated[Text, Field(max_length=registry.CONSENT_SCOPE_MAX)]


class ConsentBody(BaseModel):
    """Who agreed to the registration, when, to what: all three are required."""

    model_config = ConfigDict(extra="forbid")

    given_by: ConsentByText | None = Field(
        None, description="The person (本人) or a named guardian (监护人 李某, 女儿)."
    )
    at: dt.datetime | None = Field(None, description="When, with a UTC offset.")
    scope: ConsentScopeText | None = Field(
        None, description="To what: e.g. 定位、紧急救助 (location tracking, emergency dispatch)."
    )


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: PhoneText | None = None
    household: HouseholdText | None = Field(
        None, description="Unit and room within the building (2单元301)."
    )
    responsible_staff_id: Id4 | None = Field(
        None, description="The staff row of the worker who visits them."
    )
    safe_radius_m: int | None = Field(
        None, ge=registry.SAFE_RADIUS_MIN, le=registry.SAFE_RADIUS_MAX
    )


class PersonCreate(_Fields):
    """A person to register at their home building, with their consent."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "category": "elderly_alone",
                    "name": "张某某",
                    "building_id": 1207,
                    "household": "2单元301",
                    "phone": "13800000000",
                    "responsible_staff_id": 17,
                    "consent": {
                        "given_by": "本人",
                        "at": "2026-11-01T09:00:00+08:00",
                        "scope": "定位、紧急救助",
                    },
                }
            ]
        },
    )

    category: Category = Field(description="elderly_alone, elderly, disabled or other.")
    name: NameText = Field(min_length=1)
    building_id: Id8 = Field(description="The home building (it gives the grid).")
    consent: ConsentBody | None = Field(None, description="Required (400 without it).")


class PersonPatch(_Fields):
    """Changes: only the fields given change; null clears phone, household and the
    worker; a consent replaces the old one whole; a building moves the person to its grid."""

    category: Category | None = None
    name: NameText | None = Field(None, min_length=1)
    building_id: Id8 | None = None
    consent: ConsentBody | None = None
    expected_version: int | None = Field(
        None,
        ge=1,
        le=INT4_MAX,
        description="The version as you read it (409 if it changed since); for clients "
        "that cannot send If-Match.",
    )


CreateBody = Annotated[PersonCreate, Depends(json_body(lambda d: validate(PersonCreate, d)))]
PatchBody = Annotated[PersonPatch, Depends(json_body(lambda d: validate(PersonPatch, d)))]

_ETAG = {"ETag": {"description": 'The person\'s version as a strong ETag, "<id>-<version>".'}}
_NOT_FOUND = {
    "model": ErrorDoc,
    "description": "No person has this id, or not one you look after (the same answer).",
}
_WRITE: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorDoc,
        "description": "Consent missing (who, when, to what), an unknown building, staff "
        "row or category, or a malformed If-Match.",
    },
    403: {"model": ErrorDoc, "description": "The building lies in a grid you do not look after."},
    413: {"model": ErrorDoc, "description": "The body is larger than the limit (64 kB)."},
}


def person_json(record: PersonRecord) -> dict[str, Any]:
    """A person as the API answers them (``api.people_schemas.PersonDoc``)."""
    body: dict[str, Any] = jsonable_encoder(record.as_dict())
    consent = {
        "given_by": body.pop("consent_given_by"),
        "at": body.pop("consent_at"),
        "scope": body.pop("consent_scope"),
    }
    return {**body, "category_name": record.category_name, "consent": consent}


def _answer(record: PersonRecord, status_code: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(
        person_json(record),
        status_code=status_code,
        headers={**etag_headers(record.id, record.version), **headers},
    )


def _audit_read(
    session: SessionDep, request: Request, principal: Principal, record: PersonRecord
) -> None:
    record_read(
        session,
        request,
        principal,
        f"person:{record.id}",
        area=record.grid_code,
        detail=record.audit_detail,
    )


def _audit_write(
    session: SessionDep,
    request: Request,
    principal: Principal,
    action: str,
    record: PersonRecord | registry.Removed,
    detail: dict[str, Any] | None = None,
) -> None:
    record_write(
        session,
        request,
        principal,
        action,
        object=f"person:{record.id}",
        area=record.grid_code,
        detail={"category": record.category, **(detail or {})},
    )


@router.get(
    "/people/counts",
    summary="People served per grid or community and category (no personal data)",
    response_model=None,
    responses={200: {"model": PeopleCountsDoc}},
)
def people_counts(
    session: SessionDep,
    principal: Counter,
    by: Annotated[
        Literal["grid", "community"], Query(description="Count per grid or per community.")
    ] = "grid",
) -> JSONResponse:
    """How many people are served per area of the caller (district, planner: all) and
    category: what district, subdistrict and planners plan with, since they see no
    individual person. Areas with nobody are left out."""
    rows = registry.counts(session, principal, by)
    total = dict.fromkeys(CATEGORIES, 0)
    for row in rows:
        for code, n in row.counts.items():
            total[code] += n
    body = {
        "by": by,
        "categories": {code: names.zh for code, names in CATEGORIES.items()},
        "rows": [
            {"code": r.code, "name": r.name, "counts": r.counts, "total": r.total} for r in rows
        ],
        "total": total,
    }
    return JSONResponse(body)


@router.get(
    "/people",
    summary="The people served you look after",
    response_model=None,
    responses={200: {"model": PeoplePageDoc, "headers": PAGING_HEADERS}},
)
def list_people(
    request: Request,
    session: SessionDep,
    principal: Reader,
    paging: PagingDep,
    grid: Annotated[
        str | None,
        Query(description="Only this grid or area (6-15 digits).", pattern=r"^[0-9]{6,15}$"),
    ] = None,
    category: Annotated[
        str | None,
        Query(
            description="Only this category (elderly_alone, elderly, disabled, other).",
            pattern=r"^[a-z_]{1,40}$",
        ),
    ] = None,
) -> JSONResponse:
    """Admin sees everyone; a community its areas' people; a grid manager their grids'; and
    anyone the people they are the responsible worker of. By id; ``numberMatched`` over
    all pages (``links`` and the ``Link`` header page on). The answer is audited
    (``personal.read``, the ids shown)."""
    people, matched = registry.list_people(
        session,
        principal,
        grid=grid,
        category=category,
        limit=paging.limit,
        offset=paging.offset,
    )
    if people:
        record_read(
            session, request, principal, "people", detail={"people": [p.id for p in people]}
        )
    links = [{"href": str(request.url), "rel": "self", "type": "application/json"}]
    found = page_links(request.url, paging.offset, paging.limit, len(people), matched)
    links += [{"href": href, "rel": rel, "type": "application/json"} for rel, href in found.items()]
    body = {
        "numberMatched": matched,
        "numberReturned": len(people),
        "links": links,
        "people": [person_json(p) for p in people],
    }
    headers = paging_headers(request, paging.offset, paging.limit, len(people), matched)
    return JSONResponse(body, headers=headers)


@router.get(
    "/people/{person_id}",
    summary="One person served",
    response_model=None,
    responses={200: {"model": PersonDoc, "headers": _ETAG}, 404: _NOT_FOUND},
)
def get_person(
    request: Request, session: SessionDep, principal: Reader, person_id: PersonId
) -> JSONResponse:
    """The person if you look after them (404 otherwise, as for a missing id); the
    ``ETag`` is what a change quotes in ``If-Match``. Audited (``personal.read``)."""
    record = registry.get_person(session, principal, person_id)
    _audit_read(session, request, principal, record)
    return _answer(record)


def _consent(body: ConsentBody | None) -> Consent | None:
    if body is None:
        return None
    return Consent(body.given_by or "", body.at, body.scope or "")  # type: ignore[arg-type]


@router.post(
    "/people",
    status_code=201,
    summary="Register a person served (with their consent)",
    response_model=None,
    responses={201: {"model": PersonDoc, "headers": _ETAG}, **_WRITE},
    openapi_extra=request_body_doc(
        PersonCreate,
        description="Category, name, home building and the consent record (who, when, to "
        "what); the grid comes from the building.",
    ),
)
def register_person(
    request: Request, session: SessionDep, principal: Writer, body: CreateBody
) -> JSONResponse:
    """Registers the person in their home building's grid (admin, its community or its
    grid manager) and answers them as GET /api/v1/people/{id} would, with ``Location``.
    Without consent the answer is a 400 saying what is missing, in your language."""
    radius = body.safe_radius_m or registry.SAFE_RADIUS_DEFAULT
    new = NewPerson(
        category=body.category,
        name=body.name,
        building_id=body.building_id,
        consent=_consent(body.consent),
        phone=body.phone,
        household=body.household,
        responsible_staff_id=body.responsible_staff_id,
        safe_radius_m=radius,
    )
    with translate_integrity_errors():
        record = registry.register(session, principal, new)
        _audit_write(session, request, principal, "person.register", record)
        session.commit()
    return _answer(record, 201, Location=f"/api/v1/people/{record.id}")


_PATCH_FIELDS = set(PersonPatch.model_fields) - {"consent", "expected_version"}


@router.patch(
    "/people/{person_id}",
    summary="Change a person served",
    response_model=None,
    responses={
        200: {"model": PersonDoc, "headers": _ETAG},
        404: _NOT_FOUND,
        **_WRITE,
        409: {"model": ErrorDoc, "description": "expected_version is stale."},
        412: {"model": ErrorDoc, "description": "If-Match is stale: GET the person again."},
        428: {"model": ErrorDoc, "description": "Neither If-Match nor expected_version given."},
    },
    openapi_extra=request_body_doc(
        PersonPatch,
        description="Only the fields given change. Name the version the change is based "
        "on: If-Match with the ETag of GET, or expected_version.",
    ),
)
def update_person(
    request: Request,
    session: SessionDep,
    principal: Writer,
    person_id: PersonId,
    body: PatchBody,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Answers the person as they now are, with the new ``ETag``; a stale version is
    refused (412 for If-Match, 409 for expected_version) and changes nothing."""
    values = {k: getattr(body, k) for k in body.model_fields_set & _PATCH_FIELDS}
    if "consent" in body.model_fields_set:
        consent = body.consent or ConsentBody.model_validate({})
        values |= {
            "consent_given_by": consent.given_by,
            "consent_at": consent.at,
            "consent_scope": consent.scope,
        }
    precondition = expected(person_id, if_match, body.expected_version)
    with translate_integrity_errors(), precondition.checked():
        record = registry.update(
            session, principal, person_id, values, expected_version=precondition.version
        )
        _audit_write(
            session, request, principal, "person.update", record, {"fields": sorted(values)}
        )
        session.commit()
    return _answer(record)


@router.delete(
    "/people/{person_id}",
    status_code=204,
    summary="Remove a person served, on their request",
    response_class=Response,
    responses={
        403: {"model": ErrorDoc, "description": "Removal is for admin and the community."},
        404: _NOT_FOUND,
    },
)
def remove_person(
    request: Request, session: SessionDep, principal: Remover, person_id: PersonId
) -> Response:
    """Deletes the person and everything that belongs to them; the audit keeps only
    that a person of that grid and category was removed, by whom and when."""
    removed = registry.remove(session, principal, person_id)
    _audit_write(session, request, principal, "person.remove", removed)
    session.commit()
    return Response(status_code=204)
