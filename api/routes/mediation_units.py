"""Mediation units (责任单位) and their heads under /api/v1/mediation-units (seed 003).

A case handed over (交办, the ``hand_over`` step of POST
/api/v1/incidents/{id}/transitions) goes to a unit's head; these routes list the
units (every staff role, mediators and planners: names of units and of their heads,
no phone numbers) and create and change them (admin and district staff:
``api.access.UNITS_WRITE``). A change names the version it is based on
(``If-Match`` or ``expected_version``, ``api.preconditions``); writes are audited
(``mediation_unit.create``, ``mediation_unit.update``). Rules and checks are
``gis.incidents.units``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api import access
from api.audited import record_write
from api.bodies import json_body, request_body_doc, validate
from api.dependencies import SessionDep
from api.fields import INT4_MAX, Id4, Text
from api.incident_schemas import MediationUnitDoc, MediationUnitsDoc
from api.preconditions import IfMatch, etag_headers, expected
from api.responses import ErrorDoc
from api.routing import ReadRetryRoute
from gis.db.engine import translate_integrity_errors
from gis.incidents import units
from gis.incidents.units import NewUnit, UnitRecord
from gis.principal import Principal

router = APIRouter(route_class=ReadRetryRoute, prefix="/api/v1", tags=["incidents"])

Reader = Annotated[Principal, Depends(access.UNITS_READ)]
Writer = Annotated[Principal, Depends(access.UNITS_WRITE)]
UnitId = Annotated[int, Path(ge=1, le=INT4_MAX, description="The unit's id.")]

NameZh = Annotated[Text, Field(max_length=units.NAME_ZH_MAX)]
NameEn = Annotated[Text, Field(max_length=units.NAME_EN_MAX)]
AreaCode = Annotated[str, Field(pattern=r"^[0-9]{6}([0-9]{3}){0,3}$")]
CategoryCode = Annotated[Text, Field(max_length=40)]
Categories = Annotated[list[CategoryCode], Field(max_length=units.CATEGORIES_MAX)]
Members = Annotated[list[Id4], Field(max_length=units.STAFF_MAX)]

_EXAMPLE: dict[str, Any] = {
    "name_zh": "东关街道社会矛盾调处中心",
    "name_en": "Dongguan Subdistrict Mediation Centre",
    "area_code": "370705001",
    "categories": ["dispute"],
    "head_staff_id": 17,
    "staff": [18, 19],
}


class UnitCreate(BaseModel):
    """A responsible unit: its names, the area whose cases it takes, the categories it takes
    (none: all) and its head (一把手), to whom cases handed to it go."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    name_zh: NameZh = Field(min_length=1)
    name_en: NameEn | None = None
    area_code: AreaCode = Field(description="A district, subdistrict, community or grid code.")
    categories: Categories = Field(
        default_factory=list,
        description="Category codes it takes (a top-level code takes its subclasses); "
        "empty: every category.",
    )
    head_staff_id: Id4 | None = Field(
        None, description="The head's staff row; a unit without one cannot take cases."
    )
    staff: Members = Field(
        default_factory=list, description="Other staff rows who handle its cases."
    )


class UnitPatch(BaseModel):
    """Only the fields given change; ``staff`` replaces the members whole."""

    model_config = ConfigDict(extra="forbid")

    name_zh: NameZh | None = Field(None, min_length=1)
    name_en: NameEn | None = None
    area_code: AreaCode | None = None
    categories: Categories | None = None
    head_staff_id: Id4 | None = None
    staff: Members | None = None
    expected_version: int | None = Field(
        None,
        ge=1,
        le=INT4_MAX,
        description="The version as you read it (409 if it changed since); for clients "
        "that cannot send If-Match.",
    )


CreateBody = Annotated[UnitCreate, Depends(json_body(lambda d: validate(UnitCreate, d)))]
PatchBody = Annotated[UnitPatch, Depends(json_body(lambda d: validate(UnitPatch, d)))]

_ETAG = {"ETag": {"description": 'The unit\'s version as a strong ETag, "<id>-<version>".'}}
_NOT_FOUND = {"model": ErrorDoc, "description": "No mediation unit has this id."}
_WRITE: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorDoc,
        "description": "An empty name, an unknown area, category or staff row, or a "
        "malformed If-Match.",
    },
    409: {"model": ErrorDoc, "description": "Another unit has this Chinese name."},
    413: {"model": ErrorDoc, "description": "The body is larger than the limit (64 kB)."},
}


def unit_json(record: UnitRecord) -> dict[str, Any]:
    """A unit as the API answers it (``api.incident_schemas.MediationUnitDoc``)."""
    body: dict[str, Any] = jsonable_encoder(vars(record))
    return body


def _answer(record: UnitRecord, status_code: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(
        unit_json(record),
        status_code=status_code,
        headers={**etag_headers(record.id, record.version), **headers},
    )


def _audit(
    session: SessionDep, request: Request, principal: Principal, action: str, record: UnitRecord
) -> None:
    record_write(
        session,
        request,
        principal,
        action,
        object=f"mediation_unit:{record.id}",
        area=record.area_code,
        detail={"head_staff_id": record.head_staff_id, "version": record.version},
    )


@router.get(
    "/mediation-units",
    summary="Mediation units (责任单位) and their heads, to hand cases over to",
    response_model=None,
    responses={200: {"model": MediationUnitsDoc}},
)
def list_units(
    session: SessionDep,
    principal: Reader,
    area: Annotated[
        str | None,
        Query(
            description="Only units that take cases there: their area holds this code "
            "(a grid's, say) or lies within it.",
            pattern=r"^[0-9]{6,15}$",
        ),
    ] = None,
    category: Annotated[
        str | None,
        Query(description="Only units that take this category.", pattern=r"^[a-z_]{1,40}$"),
    ] = None,
) -> JSONResponse:
    """Every unit by id, with its area's name, its head's and staff's names and its open
    cases; ``area`` and ``category`` narrow them to those a case may be handed to."""
    found = units.list_units(session, area=area, category=category)
    return JSONResponse({"units": [unit_json(u) for u in found]})


@router.get(
    "/mediation-units/{unit_id}",
    summary="One mediation unit",
    response_model=None,
    responses={200: {"model": MediationUnitDoc, "headers": _ETAG}, 404: _NOT_FOUND},
)
def get_unit(session: SessionDep, principal: Reader, unit_id: UnitId) -> JSONResponse:
    """The unit; its ``ETag`` is what a change quotes in ``If-Match``."""
    return _answer(units.get_unit(session, unit_id))


@router.post(
    "/mediation-units",
    status_code=201,
    summary="Create a mediation unit",
    response_model=None,
    responses={201: {"model": MediationUnitDoc, "headers": _ETAG}, **_WRITE},
    openapi_extra=request_body_doc(UnitCreate, description="The unit and its head."),
)
def create_unit(
    request: Request, session: SessionDep, principal: Writer, body: CreateBody
) -> JSONResponse:
    """Admin and district staff; answers the unit as GET would, with ``Location``."""
    new = NewUnit(
        name_zh=body.name_zh,
        name_en=body.name_en,
        area_code=body.area_code,
        categories=body.categories,
        head_staff_id=body.head_staff_id,
        staff=body.staff,
    )
    with translate_integrity_errors():
        record = units.create_unit(session, new)
        _audit(session, request, principal, "mediation_unit.create", record)
        session.commit()
    return _answer(record, 201, Location=f"/api/v1/mediation-units/{record.id}")


@router.patch(
    "/mediation-units/{unit_id}",
    summary="Change a mediation unit (its head, area, categories, staff)",
    response_model=None,
    responses={
        200: {"model": MediationUnitDoc, "headers": _ETAG},
        404: _NOT_FOUND,
        **_WRITE,
        409: {
            "model": ErrorDoc,
            "description": "expected_version is stale, or another unit has this name.",
        },
        412: {"model": ErrorDoc, "description": "If-Match is stale: GET the unit again."},
        428: {"model": ErrorDoc, "description": "Neither If-Match nor expected_version given."},
    },
    openapi_extra=request_body_doc(
        UnitPatch,
        description="Only the fields given change. Name the version the change is based "
        "on: If-Match with the ETag of GET, or expected_version.",
    ),
)
def update_unit(
    request: Request,
    session: SessionDep,
    principal: Writer,
    unit_id: UnitId,
    body: PatchBody,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Answers the unit as it now is, with the new ``ETag``; a stale version is refused
    (412 for If-Match, 409 for expected_version) and changes nothing. A new head takes
    the cases handed over from now on; those handed before keep their handler."""
    values = {k: getattr(body, k) for k in body.model_fields_set & units.UPDATABLE}
    precondition = expected(unit_id, if_match, body.expected_version)
    with translate_integrity_errors(), precondition.checked():
        record = units.update_unit(session, unit_id, values, expected_version=precondition.version)
        _audit(session, request, principal, "mediation_unit.update", record)
        session.commit()
    return _answer(record)
