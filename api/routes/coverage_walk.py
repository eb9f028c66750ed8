"""Circle vs walk and walking service areas under /api/v1/coverage (issue 13).

The same query parameters as ``api.routes.coverage`` (``facility_type``,
``radius_m`` or ``minutes``) and the same live models: a straight-line and a
walking model of one type and radius, read under one lock so no change falls
between them, or the walking model's service areas remembered until it changes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api import access
from api.coverage_schemas import OVERSTATED_BUILDING_FEATURE, CompareDoc, ServiceAreaCollectionDoc
from api.dependencies import GRID_CODE, BBoxDep, DatumOutDep, PagingDep, SessionDep
from api.fields import Id4
from api.limits import HEAVY
from api.responses import (
    GEOJSON,
    ErrorDoc,
    GeoJSONResponse,
    collection_example,
    collection_responses,
)
from api.responses import feature_collection as paged_collection
from api.routes.coverage import (
    COVERAGE_ERRORS,
    CoverageDep,
    CoverageQuery,
    QueryDep,
    features_collection,
    frame_features,
    metres,
)
from api.routing import ReadRetryRoute
from gis.areas.codes import Level
from gis.coverage.compare import circle_vs_walk, overstated_page
from gis.coverage.geometry import walk_areas
from gis.coverage.live import CoverageService, snapshot
from gis.coverage.store import CoverageModel
from gis.geo.geojson import records

router = APIRouter(route_class=ReadRetryRoute, tags=["coverage"])


def _circle_and_walk(
    session: Session, service: CoverageService, query: CoverageQuery
) -> tuple[CoverageModel, CoverageModel]:
    """Snapshots of the circle and the walking model of the query's type and radius,
    taken under one lock (the cache's lock is re-entrant): no change falls between them."""
    conn = session.connection()
    code, radius = query.type.code, query.radius_m
    with (
        service.view(code, radius, conn, "circle") as circle,
        service.view(code, radius, conn, "network") as walk,
    ):
        return snapshot(circle), snapshot(walk)


@router.get(
    "/api/v1/coverage/compare",
    dependencies=[HEAVY, Depends(access.ANALYSIS)],
    summary="Circle vs walk: households the service circle promises beyond a walk",
    responses={200: {"model": CompareDoc}, **COVERAGE_ERRORS},
)
def coverage_compare(
    session: SessionDep,
    service: CoverageDep,
    query: QueryDep,
    by: Annotated[Level, Query(description="Area level of the rows.")] = Level.COMMUNITY,
) -> JSONResponse:
    """Per area: ``households``, ``households_circle`` (within the radius as the crow
    flies), ``households_walk`` (within a walk of the radius), ``households_overstated``
    and ``buildings_overstated`` (inside the circle, beyond the walk: "the circle
    overstates coverage here by N households"), ``rate_circle``, ``rate_walk`` (0-1)
    and ``overstated_share`` (of the circle's households); ``total`` for the district.
    ``method`` is ignored: both are answered."""
    circle, walk = _circle_and_walk(session, service, query)
    rows = circle_vs_walk(circle, walk, by)
    total = circle_vs_walk(circle, walk, Level.DISTRICT)
    return JSONResponse(
        {
            "facility_type": query.type.code,
            "facility_type_name": query.type.name_zh,
            "radius_m": metres(query.radius_m),
            "by": by,
            "rows": records(rows),
            "total": records(total)[0],
        }
    )


@router.get(
    "/api/v1/coverage/compare/buildings",
    dependencies=[HEAVY, Depends(access.ANALYSIS)],
    summary="Circle vs walk on the map: buildings inside the circle but beyond the walk",
    responses={
        **collection_responses(
            collection_example(
                OVERSTATED_BUILDING_FEATURE, url="/api/v1/coverage/compare/buildings"
            )
        ),
        **COVERAGE_ERRORS,
    },
    response_class=GeoJSONResponse,
)
def coverage_compare_buildings(
    request: Request,
    session: SessionDep,
    service: CoverageDep,
    query: QueryDep,
    paging: PagingDep,
    bbox: BBoxDep,
    datum: DatumOutDep,
    grid: Annotated[
        str | None, Query(description="Only the buildings of this grid.", pattern=GRID_CODE)
    ] = None,
) -> GeoJSONResponse:
    """Points ordered by building id; properties ``id``, ``grid_code``, ``households``,
    ``circle_m`` (straight-line metres to the nearest facility) and ``walk_m``
    (walking metres to the nearest facility by walk; null where no walk reaches one)."""
    circle, walk = _circle_and_walk(session, service, query)
    page = overstated_page(
        circle, walk, grid_code=grid, bbox=bbox, limit=paging.limit, offset=paging.offset
    )
    return paged_collection(page, request, paging, datum)


@router.get(
    "/api/v1/coverage/service-areas",
    dependencies=[HEAVY, Depends(access.ANALYSIS)],
    summary="Walking service areas (isochrones) of a facility type, merged, per cut-off",
    response_model=None,
    responses={
        200: {"model": ServiceAreaCollectionDoc, "content": {GEOJSON: {}}},
        **COVERAGE_ERRORS,
        404: {
            "model": ErrorDoc,
            "description": "No walking network is stored, or facility_id is not an open "
            "facility of the type (the message says which and what to do).",
        },
    },
    response_class=GeoJSONResponse,
)
def coverage_service_areas(
    session: SessionDep,
    service: CoverageDep,
    query: QueryDep,
    datum: DatumOutDep,
    facility_id: Annotated[
        Id4 | None,
        Query(description="Only this facility's areas (an open facility of the type)."),
    ] = None,
) -> Any:
    """One polygon per cut-off (``radius_m=300,500,1000`` or ``minutes=5,10,15``):
    where one can walk to the nearest open facility of the type (or to ``facility_id``)
    within it, over the walking network, never across a barrier, blocks no walk enters
    left out. Properties ``type_code``, ``cutoff_m``, ``facilities`` (open ones counted)
    and ``area_m2`` (true square metres). ``method`` is ignored: areas are walks."""
    conn = session.connection()
    name = "service_areas:" + ",".join(f"{r:g}" for r in query.radii) + f":{facility_id}"
    features = service.derived(
        query.type.code,
        query.radii[0],
        name,
        lambda model: frame_features(
            walk_areas(model, query.radii, facility_id),
            lambda p: f"{p['type_code']}-{p['cutoff_m']:g}",
        ),
        conn,
        "network",
    )
    return features_collection(
        features,
        datum,
        facility_type=query.type.code,
        radii_m=[metres(r) for r in query.radii],
        **({} if facility_id is None else {"facility_id": facility_id}),
    )
