"""The feature collections of the grid model under /api/v1.

Each handler parses its parameters (through ``api.dependencies``), calls one
list function of gis (``gis.areas.queries``, ``gis.coverage.facilities``,
``gis.incidents.listing``) and wraps the page as GeoJSON.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from api import access
from api.audited import record_read
from api.dependencies import (
    COMMUNITY_CODE,
    GRID_CODE,
    AtDep,
    BBoxDep,
    DatumOutDep,
    GridCodePath,
    PagingDep,
    SessionDep,
)
from api.fields import TEXT_MAX, Finite, Text, column_length
from api.responses import (
    COLLECTION_RESPONSES,
    GEOJSON,
    PAGING_HEADERS,
    ErrorDoc,
    FeatureCollectionDoc,
    FeatureDoc,
    GeoJSONResponse,
    collection_example,
    collection_responses,
    csv_response,
    feature,
    feature_collection,
    features_table,
    geojson_out,
    paging_headers,
    pairs_out,
)
from api.routing import ReadRetryRoute
from api.schemas import (
    AREA_FEATURE,
    BUILDING_FEATURE,
    FACILITY_TYPES_EXAMPLE,
    GRID_DETAIL_FEATURE,
    GRID_FEATURE,
    INCIDENT_FEATURE,
    FacilityTypesDoc,
    LightCollectionDoc,
    MapOutlinesDoc,
)
from gis.areas import queries
from gis.areas.codes import Level
from gis.areas.queries import OUTLINE_DECIMALS, OUTLINE_TOLERANCE_M, BuildingGeometry
from gis.coverage import facilities
from gis.db.models import AreaLevel, FacilityType, Incident
from gis.geo.datum import Datum
from gis.incidents import listing, visibility
from gis.localtime import as_instant
from gis.principal import Principal

router = APIRouter(
    route_class=ReadRetryRoute,
    prefix="/api/v1",
    tags=["features"],
    default_response_class=GeoJSONResponse,
)


@router.get(
    "/areas",
    dependencies=[Depends(access.MAP_LAYER)],
    summary="Districts, subdistricts and communities",
    responses=collection_responses(collection_example(AREA_FEATURE, url="/api/v1/areas")),
)
def list_areas(
    request: Request,
    session: SessionDep,
    paging: PagingDep,
    bbox: BBoxDep,
    at: AtDep,
    datum: DatumOutDep,
    level: Annotated[
        AreaLevel | None, Query(description="Only areas of this level (区, 街道, 社区).")
    ] = None,
    parent: Annotated[
        str | None,
        Query(description="Only the children of the area with this code.", pattern=r"^[0-9]+$"),
    ] = None,
) -> GeoJSONResponse:
    """Each feature: ``code``, ``name``, ``level``, ``parent_code``, ``households``,
    ``population``, ``floating_population``, ``valid_from``, ``valid_to``."""
    page = queries.list_areas(
        session,
        level=level,
        bbox=bbox,
        parent_code=parent,
        at=at,
        limit=paging.limit,
        offset=paging.offset,
    )
    return feature_collection(page, request, paging, datum)


@router.get(
    "/grids",
    dependencies=[Depends(access.MAP_LAYER)],
    summary="Unit grids (网格)",
    responses=collection_responses(collection_example(GRID_FEATURE, url="/api/v1/grids")),
)
def list_grids(
    request: Request,
    session: SessionDep,
    paging: PagingDep,
    bbox: BBoxDep,
    at: AtDep,
    datum: DatumOutDep,
    community: Annotated[
        str | None,
        Query(description="Only the grids of this community (12 digits).", pattern=COMMUNITY_CODE),
    ] = None,
) -> GeoJSONResponse:
    """Each feature: ``code`` (15 digits), ``name``, ``community_code``,
    ``community_name``, ``households``, ``population``, ``valid_from``, ``valid_to``."""
    page = queries.list_grids(
        session,
        bbox=bbox,
        community_code=community,
        at=at,
        limit=paging.limit,
        offset=paging.offset,
    )
    return feature_collection(page, request, paging, datum)


@router.get(
    "/grids/{code}",
    summary="One grid with its community, staff and counts",
    responses={
        200: {"model": FeatureDoc, "content": {GEOJSON: {"example": GRID_DETAIL_FEATURE}}},
        400: {"model": ErrorDoc, "description": "The code is not 15 digits."},
        404: {"model": ErrorDoc, "description": "No grid with this code is in force."},
    },
)
def get_grid(
    request: Request,
    session: SessionDep,
    at: AtDep,
    code: GridCodePath,
    datum: DatumOutDep,
    principal: Annotated[Principal, Depends(access.GRID_DETAIL)],
) -> GeoJSONResponse:
    """Properties as in the grid list, plus ``community`` and ``subdistrict``
    (``{code, name}``), ``managers`` (name, role, specialist duty, primary or
    not, phone: in full for those responsible for the grid, else masked as
    170****1234) and ``buildings_count``."""
    phones = visibility.responsible_for_grid(principal, code)
    grid = queries.get_grid(session, code, at=at, phones_in_full=phones)
    if phones and any(m["phone"] for m in grid["properties"]["managers"]):
        record_read(session, request, principal, f"grid:{code}", area=code)
    return feature(grid, datum)


@router.get(
    "/buildings",
    dependencies=[Depends(access.MAP_LAYER)],
    summary="Buildings (楼栋) as points or footprints",
    responses=collection_responses(collection_example(BUILDING_FEATURE, url="/api/v1/buildings")),
)
def list_buildings(
    request: Request,
    session: SessionDep,
    paging: PagingDep,
    bbox: BBoxDep,
    datum: DatumOutDep,
    grid: Annotated[
        str | None, Query(description="Only the buildings of this grid.", pattern=GRID_CODE)
    ] = None,
    geometry: Annotated[
        BuildingGeometry,
        Query(
            description=(
                "`point` (default): each building's location. `footprint`: its footprint "
                "(MultiPolygon) where known, else its point. `bbox` selects by the point."
            ),
        ),
    ] = BuildingGeometry.POINT,
) -> GeoJSONResponse:
    """Each feature: ``id``, ``ext_id``, ``grid_code``, ``households``, ``floors``,
    ``name``, ``address``, ``has_footprint``."""
    page = queries.list_buildings(
        session,
        bbox=bbox,
        grid_code=grid,
        geometry=geometry,
        limit=paging.limit,
        offset=paging.offset,
    )
    return feature_collection(page, request, paging, datum)


@router.get(
    "/facilities",
    dependencies=[Depends(access.FACILITY_LAYER)],
    summary="Service facilities",
    responses=COLLECTION_RESPONSES,
)
def list_facilities(
    request: Request,
    session: SessionDep,
    paging: PagingDep,
    bbox: BBoxDep,
    datum: DatumOutDep,
    type: Annotated[
        Annotated[Text, Field(max_length=column_length(FacilityType.code))] | None,
        Query(description="Only facilities of this facility-type code."),
    ] = None,
    community: Annotated[
        str | None,
        Query(description="Only the facilities of this community.", pattern=COMMUNITY_CODE),
    ] = None,
) -> GeoJSONResponse:
    """Each feature: ``id``, ``type`` (facility-type code), ``type_name_zh``,
    ``name``, ``capacity``, ``floor_area_m2``, ``opening_hours``, ``address``,
    ``community_code``, ``radius_m`` (service radius of the type, metres)."""
    page = facilities.list_facilities(
        session,
        bbox=bbox,
        type_code=type,
        community_code=community,
        limit=paging.limit,
        offset=paging.offset,
    )
    return feature_collection(page, request, paging, datum)


@router.get(
    "/facility-types",
    dependencies=[Depends(access.PUBLIC)],
    summary="Facility types and their service radii",
    responses=collection_responses(FACILITY_TYPES_EXAMPLE, FacilityTypesDoc),
)
def list_facility_types(
    request: Request, session: SessionDep, paging: PagingDep, bbox: BBoxDep
) -> GeoJSONResponse:
    """Features without geometry: ``code``, ``name_zh``, ``name_en``, ``radius_m``
    (metres), ``life_circle``, ``norm_source``, ``facilities`` (count). With
    ``bbox``, only the types with a facility inside the box."""
    page = facilities.list_facility_types(
        session, bbox=bbox, limit=paging.limit, offset=paging.offset
    )
    return feature_collection(page, request, paging)


INCIDENTS_CSV_EXAMPLE = (
    "lon,lat,id,category,status,grid_code,reported_at,deadline_at,handling_level,version,"
    "description,source,masked\r\n"
    "119.1134521,36.7127304,1024,exposed_garbage,dispatched,370705001001001,"
    "2026-11-02T09:14:00+08:00,2026-11-03T09:14:00+08:00,grid,3,楼下垃圾堆放,hotline,false\r\n"
)
"""One page of GET /api/v1/incidents?format=csv as /openapi.json shows it."""


@router.get(
    "/incidents",
    summary="Incidents located on the map",
    responses={
        **COLLECTION_RESPONSES,
        200: {
            "model": FeatureCollectionDoc,
            "content": {
                GEOJSON: {"example": collection_example(INCIDENT_FEATURE, url="/api/v1/incidents")},
                "text/csv": {"example": INCIDENTS_CSV_EXAMPLE},
            },
            "headers": PAGING_HEADERS,
        },
    },
)
def list_incidents(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(access.INCIDENT_READ)],
    paging: PagingDep,
    bbox: BBoxDep,
    datum: DatumOutDep,
    status: Annotated[
        Annotated[Text, Field(max_length=TEXT_MAX)] | None,
        Query(
            description="Only incidents in these states (comma-separated, e.g. "
            "reported,accepted), or 'open' for every case still in handling."
        ),
    ] = None,
    category: Annotated[
        Annotated[Text, Field(max_length=column_length(Incident.category))] | None,
        Query(description="Only this category; a top-level code includes its subclasses."),
    ] = None,
    grid: Annotated[
        str | None, Query(description="Only the incidents of this grid.", pattern=GRID_CODE)
    ] = None,
    start: Annotated[
        dt.datetime | None,
        Query(
            description="Reported at or after this time (a date is its midnight; "
            "times without an offset are Beijing time)."
        ),
    ] = None,
    end: Annotated[
        dt.datetime | None, Query(description="Reported before this time (excluded).")
    ] = None,
    personal: Annotated[
        bool | None,
        Query(
            description="false: leave out disputes, petitions and help requests (reports about "
            "identifiable people), as a map open to everyone must; true: only those."
        ),
    ] = None,
    order: Annotated[
        listing.IncidentOrder,
        Query(
            description="id; deadline (soonest first, overdue leading: a worklist); "
            "-reported_at (newest first)."
        ),
    ] = listing.IncidentOrder.ID,
    format: Annotated[
        Literal["geojson", "csv"],
        Query(
            description="csv: this page as a table (lon, lat in ``datum``, then the "
            "properties), UTF-8 with a BOM; its Link header (rel=next) and X-Total-Count say "
            "what the other pages hold. The whole selection in one file, unpaged: "
            "/ogc/collections/incidents/export?f=csv."
        ),
    ] = "geojson",
) -> Response:
    """Each feature: ``id``, ``category``, ``status``, ``grid_code``,
    ``reported_at``, ``deadline_at``, ``handling_level``, ``version``,
    ``description``, ``source``, ``masked``.

    Only the cases of the caller's areas (admin, district and planner: all);
    a dispute, petition or help request the caller is not responsible for is
    masked (``masked`` true): at its grid's representative point, description
    已隐藏, in GeoJSON and CSV alike. A page showing such cases in full is
    recorded in the audit trail."""
    page = listing.list_incidents(
        session,
        viewer=principal,
        bbox=bbox,
        status=status,
        category=category,
        grid_code=grid,
        start=as_instant(start) if start is not None else None,
        end=as_instant(end) if end is not None else None,
        order=order,
        personal=personal,
        limit=paging.limit,
        offset=paging.offset,
    )
    personal_ids = [
        f["properties"]["id"]
        for f in page.features
        if visibility.is_personal(f["properties"]["category"]) and not f["properties"]["masked"]
    ]
    if personal_ids:
        what = "export:incidents" if format == "csv" else "list:incidents"
        record_read(
            session, request, principal, what, area=grid, detail={"incidents": personal_ids}
        )
    if format == "csv":
        headers = paging_headers(
            request, paging.offset, paging.limit, len(page.features), page.number_matched
        )
        return csv_response(features_table(page.features, datum), "incidents.csv", headers)
    return feature_collection(page, request, paging, datum)


# ---- the district map: light layers, all at once -------------------------------------

MAP_CACHE_CONTROL = "private, no-cache"
"""The browser keeps the answer and asks again with If-None-Match: an unchanged layer
costs a 304 and no bytes; a changed one (a facility moved) shows at once."""


def revalidated_json(
    request: Request, body: dict[str, Any], media_type: str = "application/json"
) -> Response:
    """``body`` as compact JSON with a strong ETag of its bytes, or a 304 when the
    client's If-None-Match names that ETag."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    tag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    headers = {"ETag": tag, "Cache-Control": MAP_CACHE_CONTROL}
    sent = request.headers.get("if-none-match", "")
    if tag in {t.strip() for t in sent.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)


@router.get(
    "/map/outlines",
    dependencies=[Depends(access.MAP_LAYER)],
    summary="The district map's areas, light: simplified, rounded, all in one answer",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": MapOutlinesDoc}},
)
def map_outlines(
    request: Request,
    session: SessionDep,
    datum: DatumOutDep,
    tolerance_m: Annotated[
        Finite,
        Query(
            ge=0,
            le=50,
            description="Simplification in metres (no edge moves further); 0 keeps every vertex.",
        ),
    ] = OUTLINE_TOLERANCE_M,
) -> Response:
    """The district, its subdistricts, communities and grids as they are now, for drawing
    the whole district at once: coordinates with 5 decimals (about 1 m), outlines
    simplified within ``tolerance_m``, and per feature only ``code``, ``name``,
    ``households``, ``parent_code``, ``parent_name`` and ``label`` (``[lon, lat]``
    where the name goes). About a tenth of the bytes of ``/areas`` and ``/grids``;
    the full records stay there. ETag and ``Cache-Control: private, no-cache``."""
    body: dict[str, Any] = {"tolerance_m": tolerance_m, "decimals": OUTLINE_DECIMALS}
    for key, level in (
        ("district", Level.DISTRICT),
        ("subdistricts", Level.SUBDISTRICT),
        ("communities", Level.COMMUNITY),
        ("grids", Level.GRID),
    ):
        found = queries.outlines(session, level, tolerance_m=tolerance_m)
        body[key] = {"type": "FeatureCollection", "features": _outlines_out(found, datum)}
    return revalidated_json(request, body)


def _outlines_out(found: list[dict[str, Any]], datum: Datum) -> list[dict[str, Any]]:
    """Outlines and their ``label`` points in ``datum``, with the outlines' decimals."""
    moved = geojson_out(found, datum, OUTLINE_DECIMALS)
    labelled = [f for f in moved if f["properties"].get("label") is not None]
    points = pairs_out((f["properties"]["label"] for f in labelled), datum, OUTLINE_DECIMALS)
    for f, label in zip(labelled, points, strict=True):
        f["properties"] = {**f["properties"], "label": list(label)}
    return moved


@router.get(
    "/map/facilities",
    dependencies=[Depends(access.FACILITY_LAYER)],
    summary="Every service facility as a light point, in one answer",
    response_model=None,
    responses={200: {"model": LightCollectionDoc, "content": {GEOJSON: {}}}},
)
def map_facilities(request: Request, session: SessionDep, datum: DatumOutDep) -> Response:
    """Points with 5 decimals (about 1 m) and ``id``, ``type`` (facility-type code) and
    ``name``; the rest of a facility is ``GET /api/v1/facilities/{id}``. ETag and
    ``Cache-Control: private, no-cache``."""
    points = geojson_out(facilities.facility_points(session), datum, OUTLINE_DECIMALS)
    body = {"type": "FeatureCollection", "features": points}
    return revalidated_json(request, body, GEOJSON)
