"""Residents who decide under /api/v1/participation (issue 14): councils, micro-projects
(民生微实事), 由民做主 items and council matters, and their statistics per area.

Everyone logged in reads (``access.PARTICIPATION_READ``: planners, district and
subdistrict staff see every community; the records carry no personal data);
admin and a community's accounts write for their community
(``access.PARTICIPATION_WRITE``, then ``gis.participation.items.may_write``: a
403 elsewhere). A change or a step names the version it is based on (``If-Match``
or ``expected_version``, ``api.preconditions``); a step may only be the next one
or an early end (409 otherwise, with ``allowed``). Writes are audited
(``participation.*``) with the community as their area.

Coordinates: a place is given as ``lon``/``lat`` in ``datum`` (GCJ-02 and BD-09
converted before storage); answers give ``lon``/``lat`` in ``datum=``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api import access
from api.audited import record_write
from api.bodies import (
    json_body,
    request_body_doc,
    validate,
)
from api.dependencies import DatumOutDep, PagingDep, SessionDep
from api.fields import INT4_MAX, INT8_MAX, Finite, Id4, Id8, LonLatDatum, Text
from api.participation_schemas import (
    ITEM_EXAMPLE,
    CouncilDoc,
    CouncilListDoc,
    ItemDoc,
    ItemPageDoc,
    StatisticsDoc,
)
from api.preconditions import IfMatch, etag_headers, expected
from api.responses import (
    GEOJSON,
    PAGING_HEADERS,
    ErrorDoc,
    GeoJSONResponse,
    csv_response,
    geojson_out,
    lonlat_out,
    page_links,
    paging_headers,
    table_out,
)
from api.routing import ReadRetryRoute
from gis.areas.codes import Level
from gis.db.engine import translate_integrity_errors
from gis.errors import InvalidFeatureError, InvalidParameterError
from gis.geo.datum import WGS84, Datum, to_storage_point
from gis.geo.geojson import records
from gis.participation import councils, items
from gis.participation.councils import NewCouncil
from gis.participation.items import ItemFilter, ItemRecord, NewItem
from gis.participation.kinds import KINDS, STATUSES, allowed_moves
from gis.participation.stats import statistics
from gis.principal import Principal

router = APIRouter(
    route_class=ReadRetryRoute, prefix="/api/v1/participation", tags=["participation"]
)

Reader = Annotated[Principal, Depends(access.PARTICIPATION_READ)]
Writer = Annotated[Principal, Depends(access.PARTICIPATION_WRITE)]

ItemId = Annotated[int, Path(ge=1, le=INT8_MAX, description="The item's id.")]
KindCode = Annotated[Text, Field(max_length=40, examples=list(KINDS))]
StatusCode = Annotated[Text, Field(max_length=40, examples=list(STATUSES))]
Title = Annotated[Text, Field(min_length=1, max_length=items.TITLE_MAX)]
Description = Annotated[Text, Field(max_length=items.DESCRIPTION_MAX)]
ExtId = Annotated[Text, Field(min_length=1, max_length=items.EXT_ID_MAX)]
Amount = Annotated[Finite, Field(ge=0, le=items.BUDGET_MAX)]
CommunityCode = Annotated[str, Field(pattern=r"^[0-9]{12}$")]
GridCode = Annotated[str, Field(pattern=r"^[0-9]{15}$")]
Version = Annotated[int, Field(ge=1, le=INT4_MAX)]

_AREA = Query(
    description="Only this district, subdistrict or community (6, 9 or 12 digits).",
    pattern=r"^[0-9]{6}([0-9]{3}){0,2}$",
)


class _Place(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lon: Finite | None = Field(None, ge=-180, le=180, description="The place it concerns.")
    lat: Finite | None = Field(None, ge=-90, le=90)
    datum: LonLatDatum = WGS84


class ItemCreate(_Place):
    """A new item: it starts as proposed (居民提), on ``proposed_on`` (today by default)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "micro_project",
                    "title": "楼道照明改造",
                    "community_code": "370705001001",
                    "grid_code": "370705001001002",
                    "budget_cny": 36000,
                    "lon": 119.1302,
                    "lat": 36.7311,
                    "datum": "wgs84",
                }
            ]
        },
    )

    kind: KindCode = Field(description="micro_project, people_decide or council_matter.")
    title: Title
    community_code: CommunityCode
    description: Description | None = None
    grid_code: GridCode | None = Field(None, description="A grid of the community.")
    proposed_on: dt.date | None = None
    budget_cny: Amount | None = None
    spent_cny: Amount | None = None
    facility_id: Id4 | None = Field(None, description="The facility it concerns.")
    council_id: Id8 | None = Field(None, description="The community's council.")
    ext_id: ExtId | None = None


class ItemPatch(_Place):
    """Changes: only the fields given change; null clears the optional ones. Give lon and
    lat together (both null removes the place). The status moves by /advance."""

    kind: KindCode | None = None
    title: Title | None = None
    description: Description | None = None
    grid_code: GridCode | None = None
    budget_cny: Amount | None = None
    spent_cny: Amount | None = None
    facility_id: Id4 | None = None
    council_id: Id8 | None = None
    expected_version: Version | None = Field(
        None, description="The version as you read it (409 if stale); or send If-Match."
    )


class Advance(BaseModel):
    """The next step, or an early end (rejected, withdrawn), on a day (today by default)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"to": "decided", "on": "2026-03-28"}]},
    )

    to: StatusCode
    on: dt.date | None = None
    expected_version: Version | None = None


class CouncilCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "community_code": "370705001001",
                    "name": "东苑社区居民议事会",
                    "members": 15,
                    "composition": "社区党组织、居委会、物业服务企业、居民代表",
                    "established_on": "2018-05-01",
                }
            ]
        },
    )

    community_code: CommunityCode
    name: Annotated[Text, Field(min_length=1, max_length=councils.COUNCIL_NAME_MAX)]
    members: Annotated[int, Field(ge=1, le=councils.MEMBERS_MAX)] | None = None
    composition: Annotated[Text, Field(max_length=councils.COMPOSITION_MAX)] | None = None
    established_on: dt.date | None = None
    ext_id: ExtId | None = None


CreateBody = Annotated[ItemCreate, Depends(json_body(lambda d: validate(ItemCreate, d)))]
PatchBody = Annotated[ItemPatch, Depends(json_body(lambda d: validate(ItemPatch, d)))]
AdvanceBody = Annotated[Advance, Depends(json_body(lambda d: validate(Advance, d)))]
CouncilBody = Annotated[CouncilCreate, Depends(json_body(lambda d: validate(CouncilCreate, d)))]

_ETAG = {"ETag": {"description": 'The item\'s version as a strong ETag, "<id>-<version>".'}}
_NOT_FOUND = {"model": ErrorDoc, "description": "No item has this id."}
_WRITE: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorDoc,
        "description": "An unknown community, grid (or one outside the community), facility, "
        "council, kind; dates out of order; a malformed If-Match.",
    },
    403: {"model": ErrorDoc, "description": "The community is not yours."},
    413: {"model": ErrorDoc, "description": "The body is larger than the limit."},
}
_STALE: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorDoc,
        "description": "expected_version is stale, or the step is not allowed now.",
    },
    412: {"model": ErrorDoc, "description": "If-Match is stale: GET the item again."},
    428: {"model": ErrorDoc, "description": "Neither If-Match nor expected_version given."},
}


def item_json(record: ItemRecord) -> dict[str, Any]:
    body: dict[str, Any] = jsonable_encoder(record.as_dict())
    version = body.pop("version")
    return {
        **body,
        "kind_name": record.kind_name,
        "status_name": record.status_name,
        "allowed_next": list(allowed_moves(record.status)),
        "version": version,
    }


def _answer(
    record: ItemRecord, datum: Datum, status_code: int = 200, **headers: str
) -> JSONResponse:
    (body,) = lonlat_out([item_json(record)], datum)
    return JSONResponse(
        body,
        status_code=status_code,
        headers={**etag_headers(record.id, record.version, datum), **headers},
    )


def _audit(
    session: SessionDep,
    request: Request,
    principal: Principal,
    action: str,
    record: ItemRecord,
    detail: dict[str, Any] | None = None,
) -> None:
    record_write(
        session,
        request,
        principal,
        action,
        object=f"participation:{record.id}",
        area=record.community_code,
        detail={"kind": record.kind, "status": record.status, **(detail or {})},
    )


def _place(lon: float | None, lat: float | None, datum: Datum) -> tuple[float, float] | None:
    if lon is None and lat is None:
        return None
    if lon is None or lat is None:
        raise InvalidParameterError(
            "give lon and lat together (or neither)", zh="经度和纬度须同时给出（或都不给）"
        )
    try:
        return to_storage_point(lon, lat, datum)
    except InvalidFeatureError as exc:
        raise InvalidParameterError(str(exc)) from exc


def _feature(item: dict[str, Any]) -> dict[str, Any]:
    props = {k: v for k, v in item.items() if k not in ("lon", "lat", "id")}
    return {
        "type": "Feature",
        "id": item["id"],
        "geometry": {"type": "Point", "coordinates": [item["lon"], item["lat"]]},
        "properties": props,
    }


_FEATURE_EXAMPLE = {
    "type": "Feature",
    "id": ITEM_EXAMPLE["id"],
    "geometry": {"type": "Point", "coordinates": [ITEM_EXAMPLE["lon"], ITEM_EXAMPLE["lat"]]},
    "properties": {k: v for k, v in ITEM_EXAMPLE.items() if k not in ("id", "lon", "lat")},
}
_GEOJSON_PAGE: dict[str, Any] = {
    "type": "object",
    "required": ["type", "features", "numberMatched", "numberReturned"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "numberMatched": {"type": "integer"},
        "numberReturned": {"type": "integer"},
        "links": {"type": "array", "items": {"type": "object"}},
        "features": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "id", "geometry", "properties"],
                "properties": {
                    "type": {"type": "string", "enum": ["Feature"]},
                    "id": {"type": "integer"},
                    "geometry": {
                        "type": "object",
                        "properties": {
                            "type": {"type": "string", "enum": ["Point"]},
                            "coordinates": {"type": "array", "items": {"type": "number"}},
                        },
                    },
                    "properties": {
                        "type": "object",
                        "description": "The item's fields as in the JSON list, but id, lon, lat.",
                    },
                },
            },
        },
    },
}
"""The GeoJSON page of items, as /openapi.json documents it."""

_CSV_EXAMPLE = (
    "id,kind,title,community_code,grid_code,status,proposed_on,budget_cny,lon,lat\n"
    "7,micro_project,楼道照明改造,370705001001,370705001001002,decided,2026-03-01,36000.0,"
    "119.1302,36.7311\n"
)


@router.get(
    "/items",
    summary="Councils' and residents' items: micro-projects, 由民做主, council matters",
    response_model=None,
    responses={
        200: {
            "model": ItemPageDoc,
            "headers": PAGING_HEADERS,
            "content": {
                GEOJSON: {
                    "schema": _GEOJSON_PAGE,
                    "example": {
                        "type": "FeatureCollection",
                        "numberMatched": 1,
                        "numberReturned": 1,
                        "links": [],
                        "features": [_FEATURE_EXAMPLE],
                    },
                },
                "text/csv": {"example": _CSV_EXAMPLE},
            },
        }
    },
)
def list_items(
    request: Request,
    session: SessionDep,
    _: Reader,
    paging: PagingDep,
    datum: DatumOutDep,
    community: Annotated[str | None, _AREA] = None,
    kind: Annotated[
        Literal["micro_project", "people_decide", "council_matter"] | None,
        Query(description="Only this kind."),
    ] = None,
    status: Annotated[
        Literal[
            "proposed",
            "discussed",
            "decided",
            "carried_out",
            "evaluated",
            "rejected",
            "withdrawn",
        ]
        | None,
        Query(description="Only items at this status."),
    ] = None,
    year: Annotated[
        int | None, Query(ge=2000, le=2100, description="Only items proposed in this year.")
    ] = None,
    format: Annotated[
        Literal["json", "geojson", "csv"],
        Query(description="json (default), geojson (a FeatureCollection of points) or csv."),
    ] = "json",
) -> Response:
    """By id, ``numberMatched`` over all pages (``links`` and ``Link`` page on). Each item
    at its place, else its facility, else its community's label point (``located``)."""
    found, matched = items.list_items(
        session,
        ItemFilter(area=community, kind=kind, status=status, year=year),
        limit=paging.limit,
        offset=paging.offset,
    )
    rows = [item_json(r) for r in found]
    headers = paging_headers(request, paging.offset, paging.limit, len(rows), matched)
    if format == "csv":
        table = table_out(pd.DataFrame(rows).drop(columns="allowed_next", errors="ignore"), datum)
        return csv_response(table, "participation.csv", headers)
    links = [{"href": str(request.url), "rel": "self", "type": "application/json"}]
    more = page_links(request.url, paging.offset, paging.limit, len(rows), matched)
    links += [{"href": h, "rel": rel, "type": "application/json"} for rel, h in more.items()]
    if format == "geojson":
        body = {
            "type": "FeatureCollection",
            "numberMatched": matched,
            "numberReturned": len(rows),
            "links": links,
            "features": geojson_out([_feature(r) for r in rows], datum),
        }
        return GeoJSONResponse(body, headers=headers)
    body = {
        "numberMatched": matched,
        "numberReturned": len(rows),
        "links": links,
        "items": lonlat_out(rows, datum),
    }
    return JSONResponse(body, headers=headers)


@router.get(
    "/items/{item_id}",
    summary="One participation item",
    response_model=None,
    responses={200: {"model": ItemDoc, "headers": _ETAG}, 404: _NOT_FOUND},
)
def get_item(session: SessionDep, _: Reader, item_id: ItemId, datum: DatumOutDep) -> JSONResponse:
    """The item with its ``ETag`` (quote it in ``If-Match`` to change or advance it)."""
    return _answer(items.get_item(session, item_id), datum)


@router.post(
    "/items",
    status_code=201,
    summary="Record a proposed item (居民提)",
    response_model=None,
    responses={
        201: {"model": ItemDoc, "headers": _ETAG},
        **_WRITE,
        409: {"model": ErrorDoc, "description": "An item with this ext_id is stored."},
    },
    openapi_extra=request_body_doc(
        ItemCreate, description="Kind, title, community; the rest optional."
    ),
)
def create_item(
    request: Request, session: SessionDep, principal: Writer, body: CreateBody, datum: DatumOutDep
) -> JSONResponse:
    """Admin anywhere, a community account in its community; answers the item with
    ``Location``."""
    new = NewItem(
        kind=body.kind,
        title=body.title,
        community_code=body.community_code,
        dates={"proposed_on": body.proposed_on or items.today()},
        description=body.description,
        grid_code=body.grid_code,
        budget_cny=body.budget_cny,
        spent_cny=body.spent_cny,
        facility_id=body.facility_id,
        place=_place(body.lon, body.lat, body.datum),
        council_id=body.council_id,
        ext_id=body.ext_id,
    )
    with translate_integrity_errors():
        record = items.create_item(session, principal, new)
        _audit(session, request, principal, "participation.create", record)
        session.commit()
    return _answer(record, datum, 201, Location=f"/api/v1/participation/items/{record.id}")


_PATCH_FIELDS = set(ItemPatch.model_fields) - {"lon", "lat", "datum", "expected_version"}


@router.patch(
    "/items/{item_id}",
    summary="Change a participation item",
    response_model=None,
    responses={200: {"model": ItemDoc, "headers": _ETAG}, 404: _NOT_FOUND, **_WRITE, **_STALE},
    openapi_extra=request_body_doc(
        ItemPatch, description="Only the fields given change; name the version you read."
    ),
)
def update_item(
    request: Request,
    session: SessionDep,
    principal: Writer,
    item_id: ItemId,
    body: PatchBody,
    datum: DatumOutDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Answers the item as it now is, with its new ``ETag``."""
    values = {k: getattr(body, k) for k in body.model_fields_set & _PATCH_FIELDS}
    if {"lon", "lat"} & body.model_fields_set:
        values["place"] = _place(body.lon, body.lat, body.datum)
    precondition = expected(item_id, if_match, body.expected_version)
    with translate_integrity_errors(), precondition.checked():
        record = items.update_item(
            session, principal, item_id, values, expected_version=precondition.version
        )
        _audit(
            session, request, principal, "participation.update", record, {"fields": sorted(values)}
        )
        session.commit()
    return _answer(record, datum)


@router.post(
    "/items/{item_id}/advance",
    summary="Move an item to its next step (or end it early)",
    response_model=None,
    responses={200: {"model": ItemDoc, "headers": _ETAG}, 404: _NOT_FOUND, **_WRITE, **_STALE},
    openapi_extra=request_body_doc(
        Advance,
        description="proposed → discussed → decided → carried_out → evaluated, one step at "
        "a time; rejected or withdrawn before it is carried out.",
    ),
)
def advance_item(
    request: Request,
    session: SessionDep,
    principal: Writer,
    item_id: ItemId,
    body: AdvanceBody,
    datum: DatumOutDep,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Records the step and its date; a skip, a step back or a step of an ended item is a
    409 naming the steps allowed."""
    precondition = expected(item_id, if_match, body.expected_version)
    with translate_integrity_errors(), precondition.checked():
        record = items.advance(
            session, principal, item_id, body.to, on=body.on, expected_version=precondition.version
        )
        _audit(session, request, principal, "participation.advance", record)
        session.commit()
    return _answer(record, datum)


@router.get(
    "/councils",
    summary="Resident councils (居民议事会)",
    response_model=None,
    responses={200: {"model": CouncilListDoc}},
)
def list_councils(
    session: SessionDep, _: Reader, community: Annotated[str | None, _AREA] = None
) -> JSONResponse:
    """Every council of the area, by community code, with how many items each decided."""
    found = councils.list_councils(session, community)
    return JSONResponse({"councils": [jsonable_encoder(c.as_dict()) for c in found]})


@router.post(
    "/councils",
    status_code=201,
    summary="Record a community's resident council",
    response_model=None,
    responses={
        201: {"model": CouncilDoc},
        **_WRITE,
        409: {"model": ErrorDoc, "description": "The community has a council of this name."},
    },
    openapi_extra=request_body_doc(CouncilCreate, description="Community, name, members."),
)
def create_council(
    request: Request, session: SessionDep, principal: Writer, body: CouncilBody
) -> JSONResponse:
    """Admin anywhere, a community account for its own community."""
    new = NewCouncil(
        community_code=body.community_code,
        name=body.name,
        members=body.members,
        composition=body.composition,
        established_on=body.established_on,
        ext_id=body.ext_id,
    )
    with translate_integrity_errors():
        council = councils.create_council(session, principal, new)
        record_write(
            session,
            request,
            principal,
            "participation.council.create",
            object=f"council:{council.id}",
            area=council.community_code,
        )
        session.commit()
    return JSONResponse(jsonable_encoder(council.as_dict()), status_code=201)


_STATS_CSV = (
    "code,name,households,councils,items,budget_cny,spent_cny,items_per_1000_households\n"
    "370705001001,东苑社区,2400,1,12,260000.0,180500.0,5.0\n"
)


@router.get(
    "/statistics",
    summary="Councils and items per community, subdistrict or district",
    response_model=None,
    responses={200: {"model": StatisticsDoc, "content": {"text/csv": {"example": _STATS_CSV}}}},
)
def participation_statistics(
    session: SessionDep,
    _: Reader,
    level: Annotated[
        Literal["community", "subdistrict", "district"],
        Query(description="Rows per community (default), subdistrict or district."),
    ] = "community",
    year: Annotated[
        int | None, Query(ge=2000, le=2100, description="Only items proposed in this year.")
    ] = None,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv.")] = "json",
) -> Response:
    """Per area: households (of its current grids), councils, items per kind and status,
    ``budget_cny`` (items not rejected or withdrawn), ``spent_cny``, and per 1,000
    households (null without households); ``total`` the district."""
    conn = session.connection()
    rows = statistics(conn, Level(level), year)
    if format == "csv":
        return csv_response(rows, f"participation-{level}.csv")
    total = statistics(conn, Level.DISTRICT, year)
    return JSONResponse(
        {
            "level": level,
            "year": year,
            "kinds": {k: v.zh for k, v in KINDS.items()},
            "statuses": {k: v.zh for k, v in STATUSES.items()},
            "rows": records(rows),
            "total": records(total)[0] if len(total) else None,
        }
    )
