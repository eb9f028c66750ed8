"""Facility writes under /api/v1/facilities: open, change or move, and close facilities.

Planners and other systems (a district big-data centre, a mobile app) keep
facilities current here. A body is either a GeoJSON Feature with a Point, or
plain JSON with ``lon``/``lat``; either may name the datum of its coordinates
(``wgs84`` by default; ``gcj02`` from Amap/Tencent/WeChat, ``bd09`` from
Baidu), converted to WGS84 before storage. Coverage caches are updated
through the database's change notifications; each write waits (briefly) until
the change has reached them, so the caller's next coverage request sees it.

A facility answers with an ``ETag`` and its ``version``; a change or a close
must name the version it is based on (``If-Match``, or ``expected_version``
for clients that cannot set headers), see ``api.preconditions``: two planners
who read the same version cannot both write, the second is told to reload.

Only the roles of ``access.FACILITY_EDIT`` write; each write is audited
(``facility.create``, ``facility.update``, ``facility.delete``) in its own
transaction, with the facility's community as its area.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api import access
from api.audited import record_write
from api.bodies import GEOJSON_TYPES, invalid_body, json_body, request_body_doc, validate
from api.dependencies import SessionDep
from api.fields import INT4_MAX, Finite, Int4, LonLatDatum, Text, column_length
from api.preconditions import IfMatch, etag_headers, expected
from api.responses import GEOJSON, ErrorDoc, FeatureDoc, GeoJSONResponse
from api.routes.tiles import keep_tiles_current
from api.routing import ReadRetryRoute
from gis.coverage import facilities
from gis.coverage.live import CoverageService
from gis.db.engine import translate_integrity_errors
from gis.db.models import FacilityType
from gis.geo.datum import WGS84
from gis.geo.geojson import Feature
from gis.principal import Principal

router = APIRouter(
    route_class=ReadRetryRoute,
    prefix="/api/v1",
    tags=["facilities"],
    default_response_class=GeoJSONResponse,
)

FacilityText = Annotated[Text, Field(max_length=facilities.MAX_TEXT)]
TypeCode = Annotated[Text, Field(max_length=column_length(FacilityType.code))]


class _Fields(BaseModel):
    """Fields a write may set; absent fields are left alone, null clears them."""

    model_config = ConfigDict(extra="forbid")

    name: FacilityText | None = Field(None, min_length=1, description="Name shown on the map.")
    capacity: Int4 | None = Field(None, ge=0, description="Places: beds, children, seats.")
    floor_area_m2: Finite | None = Field(None, gt=0, description="Floor area, square metres.")
    opening_hours: FacilityText | None = Field(None, examples=["07:00-24:00"])
    address: FacilityText | None = None
    ext_id: FacilityText | None = Field(
        None, description="The facility's id in the sending system."
    )
    datum: LonLatDatum = WGS84


class FacilityCreate(_Fields):
    """A new facility as plain JSON."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"type": "kindergarten", "name": "奎文幼儿园", "lon": 119.113, "lat": 36.713}
            ]
        }
    )
    type: TypeCode = Field(description="Facility-type code, see GET /api/v1/facility-types.")
    name: FacilityText = Field(min_length=1)
    lon: Finite = Field(description="Longitude, degrees, in ``datum``.")
    lat: Finite = Field(description="Latitude, degrees, in ``datum``.")


ExpectedVersion = Annotated[
    int | None,
    Field(
        None,
        ge=1,
        le=INT4_MAX,
        description="The facility's version as you read it (409 if it changed since); "
        "for clients that cannot send If-Match.",
    ),
]


class FacilityPatch(_Fields):
    """Changes to a facility as plain JSON; a move gives both lon and lat."""

    type: TypeCode | None = None
    lon: Finite | None = None
    lat: Finite | None = None
    expected_version: ExpectedVersion = None


class PointGeometry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["Point"]
    coordinates: tuple[Finite, Finite] = Field(description="[lon, lat] in ``datum``.")


class _ReadOnly(BaseModel):
    """Properties of GET /api/v1/facilities that a client may send back unchanged; ignored."""

    id: Any = None
    type_name_zh: Any = None
    community_code: Any = None
    radius_m: Any = None
    version: Any = None


class _CreateProperties(_Fields, _ReadOnly):
    type: TypeCode
    name: FacilityText = Field(min_length=1)


class _PatchProperties(_Fields, _ReadOnly):
    type: TypeCode | None = None
    expected_version: ExpectedVersion = None


class FacilityFeatureCreate(BaseModel):
    """A new facility as a GeoJSON Feature."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["Feature"]
    id: Any = None
    geometry: PointGeometry
    properties: _CreateProperties


class FacilityFeaturePatch(BaseModel):
    """Changes as a GeoJSON Feature; a geometry moves the facility."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["Feature"]
    id: Any = None
    geometry: PointGeometry | None = None
    properties: _PatchProperties = Field(
        default_factory=lambda: _PatchProperties.model_validate({})
    )


_READ_ONLY = set(_ReadOnly.model_fields)
_COLUMN = {"type": "type_code"}
"""Body field → column, where they differ."""


class FacilityWrite(BaseModel):
    """A body reduced to what ``gis.coverage.facilities`` needs: columns to set and a position."""

    values: dict[str, Any]
    lon: float | None = None
    lat: float | None = None
    datum: LonLatDatum = WGS84
    expected_version: int | None = None


def _reduce(fields: BaseModel, lon: float | None, lat: float | None) -> FacilityWrite:
    given = fields.model_fields_set - _READ_ONLY - {"datum", "lon", "lat", "expected_version"}
    values = {_COLUMN.get(k, k): getattr(fields, k) for k in given}
    return FacilityWrite(
        values=values,
        lon=lon,
        lat=lat,
        datum=getattr(fields, "datum", WGS84),
        expected_version=getattr(fields, "expected_version", None),
    )


def _is_feature(data: Any) -> bool:
    return isinstance(data, dict) and data.get("type") == "Feature"


def _object(data: Any) -> None:
    if not isinstance(data, dict):
        raise invalid_body(
            [{"loc": (), "msg": "the body must be a JSON object", "type": "model_type"}]
        )


def parse_create(data: Any) -> FacilityWrite:
    _object(data)
    if _is_feature(data):
        feature = validate(FacilityFeatureCreate, data)
        lon, lat = feature.geometry.coordinates
        return _reduce(feature.properties, lon, lat)
    flat = validate(FacilityCreate, data)
    return _reduce(flat, flat.lon, flat.lat)


def parse_patch(data: Any) -> FacilityWrite:
    _object(data)
    if _is_feature(data):
        feature = validate(FacilityFeaturePatch, data)
        lon, lat = feature.geometry.coordinates if feature.geometry else (None, None)
        return _reduce(feature.properties, lon, lat)
    flat = validate(FacilityPatch, data)
    return _reduce(flat, flat.lon, flat.lat)


CreateBody = Annotated[FacilityWrite, Depends(json_body(parse_create, GEOJSON_TYPES))]
PatchBody = Annotated[FacilityWrite, Depends(json_body(parse_patch, GEOJSON_TYPES))]
FacilityId = Annotated[int, Path(ge=1, le=INT4_MAX, description="The facility's id.")]

_ETAG = {"ETag": {"description": 'The facility\'s version as a strong ETag, "<id>-<version>".'}}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorDoc, "description": "No facility has this id."},
    409: {"model": ErrorDoc, "description": "ext_id is already used by another facility."},
    413: {"model": ErrorDoc, "description": "The body is larger than the limit (64 kB)."},
    422: {
        "model": ErrorDoc,
        "description": "A field is missing or wrong, the type is unknown, or the point lies "
        "outside the district.",
    },
}
CONDITIONAL_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorDoc, "description": "If-Match is malformed or contradicts the body."},
    409: {
        "model": ErrorDoc,
        "description": "ext_id is already used by another facility, or expected_version is "
        "stale (``current_version`` and ``etag`` say what is stored now).",
    },
    412: {
        "model": ErrorDoc,
        "description": "If-Match is stale: the facility changed since you read it "
        "(``current_version`` and ``etag`` say what is stored now). GET it again.",
    },
    428: {
        "model": ErrorDoc,
        "description": "Neither If-Match nor expected_version was given: a change must name "
        "the version it is based on (If-Match: * overwrites whatever is stored).",
    },
}


def _keep_coverage_current(request: Request) -> None:
    """After a committed change: the caller's next coverage answer and tile show it."""
    service: CoverageService | None = getattr(request.app.state, "coverage", None)
    if service is not None:
        service.sync()
    keep_tiles_current(request)


@router.get(
    "/facilities/{facility_id}",
    dependencies=[Depends(access.FACILITY_LAYER)],
    summary="One service facility",
    responses={
        200: {"model": FeatureDoc, "content": {GEOJSON: {}}, "headers": _ETAG},
        404: WRITE_RESPONSES[404],
    },
)
def get_facility(session: SessionDep, facility_id: FacilityId) -> GeoJSONResponse:
    """Properties as in GET /api/v1/facilities; the ``ETag`` header (and ``version``)
    is what a change quotes in ``If-Match``."""
    return _answer(session, facility_id)


Editor = Annotated[Principal, Depends(access.FACILITY_EDIT)]
"""Who changes facilities (audited by name)."""


def _answer(
    session: SessionDep,
    facility_id: int,
    status_code: int = 200,
    found: Feature | None = None,
    **headers: str,
) -> GeoJSONResponse:
    found = found or facilities.get_facility(session, facility_id)
    return GeoJSONResponse(
        found,
        status_code=status_code,
        headers={**etag_headers(facility_id, found["properties"]["version"]), **headers},
    )


@router.post(
    "/facilities",
    status_code=201,
    summary="Open a facility",
    responses={
        201: {"model": FeatureDoc, "content": {GEOJSON: {}}, "headers": _ETAG},
        **WRITE_RESPONSES,
    },
    openapi_extra=request_body_doc(
        FacilityCreate,
        FacilityFeatureCreate,
        description="Plain JSON with type, name, lon, lat, or a GeoJSON Feature with a Point.",
        accepted=GEOJSON_TYPES,
    ),
)
def create_facility(
    request: Request, session: SessionDep, body: CreateBody, principal: Editor
) -> GeoJSONResponse:
    """Stores the facility in WGS84 with its community (point in polygon) and
    answers it as GET /api/v1/facilities/{id} would, with ``Location`` and ``ETag``
    headers. A point outside the district is refused (422): check the datum."""
    assert body.lon is not None and body.lat is not None
    with translate_integrity_errors():
        facility_id = facilities.create_facility(
            session, lon=body.lon, lat=body.lat, datum=body.datum, values=body.values
        )
        found = facilities.get_facility(session, facility_id)
        _audit(session, request, principal, "facility.create", found)
        session.commit()
    _keep_coverage_current(request)
    location = f"/api/v1/facilities/{facility_id}"
    return _answer(session, facility_id, 201, found, Location=location)


def _audit(
    session: SessionDep,
    request: Request,
    principal: Principal,
    action: str,
    found: Feature,
    detail: dict[str, Any] | None = None,
) -> None:
    properties = found["properties"]
    record_write(
        session,
        request,
        principal,
        action,
        object=f"facility:{found['id']}",
        area=properties["community_code"],
        detail={"type": properties["type"], "name": properties["name"], **(detail or {})},
    )


@router.patch(
    "/facilities/{facility_id}",
    summary="Change or move a facility",
    responses={
        200: {"model": FeatureDoc, "content": {GEOJSON: {}}, "headers": _ETAG},
        **WRITE_RESPONSES,
        **CONDITIONAL_RESPONSES,
    },
    openapi_extra=request_body_doc(
        FacilityPatch,
        FacilityFeaturePatch,
        description="Only the fields given change; null clears a field; lon+lat (or a "
        "geometry) move the facility and re-assign its community. Name the version the "
        "change is based on: If-Match with the ETag of GET, or expected_version.",
        accepted=GEOJSON_TYPES,
    ),
)
def update_facility(
    request: Request,
    session: SessionDep,
    facility_id: FacilityId,
    body: PatchBody,
    principal: Editor,
    if_match: IfMatch = None,
) -> GeoJSONResponse:
    """Answers the facility as it now is, with its new ``ETag``. A change based on an
    older version than the one stored is refused (412 for If-Match, 409 for
    expected_version) and changes nothing; one that names no version is a 428."""
    precondition = expected(facility_id, if_match, body.expected_version)
    with translate_integrity_errors(), precondition.checked():
        facilities.update_facility(
            session,
            facility_id,
            values=body.values,
            lon=body.lon,
            lat=body.lat,
            datum=body.datum,
            expected_version=precondition.version,
        )
        found = facilities.get_facility(session, facility_id)
        changed = {"fields": sorted(body.values), "moved": body.lon is not None}
        _audit(session, request, principal, "facility.update", found, changed)
        session.commit()
    _keep_coverage_current(request)
    return _answer(session, facility_id, found=found)


@router.delete(
    "/facilities/{facility_id}",
    status_code=204,
    summary="Close (delete) a facility",
    responses={
        404: WRITE_RESPONSES[404],
        **{k: v for k, v in CONDITIONAL_RESPONSES.items() if k != 409},
        409: {"model": ErrorDoc, "description": "expected_version is stale."},
    },
    response_class=Response,
)
def delete_facility(
    request: Request,
    session: SessionDep,
    facility_id: FacilityId,
    principal: Editor,
    if_match: IfMatch = None,
    expected_version: Annotated[
        int | None,
        Query(
            ge=1,
            le=INT4_MAX,
            description="The version you read, for clients that cannot send If-Match "
            "(a DELETE body has no meaning in HTTP, so it is a query parameter here).",
        ),
    ] = None,
) -> Response:
    """Coverage falls back to each building's next-nearest facility of the type.
    Like a change, a close names the version it is based on (If-Match or
    ``expected_version``): nobody closes a facility a colleague just moved unseen."""
    precondition = expected(facility_id, if_match, expected_version)
    found = facilities.get_facility(session, facility_id)
    with precondition.checked():
        facilities.delete_facility(session, facility_id, expected_version=precondition.version)
    _audit(session, request, principal, "facility.delete", found)
    session.commit()
    _keep_coverage_current(request)
    return Response(status_code=204)
