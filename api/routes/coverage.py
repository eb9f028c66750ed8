"""Household coverage by service facilities under /api/v1/coverage, and the coverage map.

Every endpoint names a ``facility_type`` (a catalogue code) and optionally
``radius_m`` (metres; the type's catalogue radius by default). Answers come
from the in-memory coverage models of ``gis.coverage.live``, kept current
by the database's change notifications, so they reflect facilities opened,
moved or closed a moment ago without recomputing the district. ``method=network``
asks the same by walk; circle vs walk and service areas are ``api.routes.coverage_walk``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import shapely
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from shapely.geometry import mapping
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from api import access
from api.bodies import json_body, request_body_doc, validate
from api.coverage_schemas import (
    COVERAGE_BUILDING_FEATURE,
    CoverageDoc,
    CoverageRankingDoc,
    CoverageStatusDoc,
    CoverageStyleDoc,
    DerivedCollectionDoc,
    WhatIfDoc,
)
from api.dependencies import (
    GRID_CODE,
    BBoxDep,
    DatumOutDep,
    PagingDep,
    SessionDep,
    SettingsDep,
)
from api.fields import TEXT_MAX, Finite, Id4, LonLatDatum, Text, column_length
from api.limits import HEAVY
from api.pages import render_page, script_json
from api.responses import (
    GEOJSON,
    HEAVY_RESPONSES,
    ErrorDoc,
    GeoJSONResponse,
    collection_example,
    collection_responses,
    geojson_out,
)
from api.responses import feature_collection as paged_collection
from api.routing import ReadRetryRoute
from gis.areas.codes import Level
from gis.coverage import catalogue
from gis.coverage.catalogue import (
    MAX_RADIUS_M,
    CoverageMethod,
    FacilityTypeInfo,
    radius_from_minutes,
)
from gis.coverage.geometry import blind_spots, service_circles
from gis.coverage.live import CoverageService
from gis.coverage.report import area_rollups, building_page, rings, worst
from gis.coverage.store import CoverageModel
from gis.coverage.whatif import what_if
from gis.db.models import FacilityType
from gis.errors import DatabaseUnavailableError, InvalidFeatureError, InvalidParameterError
from gis.geo.datum import WGS84, Datum, to_storage_point
from gis.geo.geojson import GEOJSON_DECIMALS, Feature, records
from gis.settings import WalkSettings
from layers.coverage import LABELS_ZH, coverage_style

router = APIRouter(route_class=ReadRetryRoute, tags=["coverage"])

MAX_RADII = 10
MAX_MINUTES = 600.0
TypeCode = Annotated[Text, Field(max_length=column_length(FacilityType.code))]
MIN_RADIUS_M = 1.0

COVERAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorDoc,
        "description": "Unknown facility type (the message lists the known ones), or a "
        "radius outside 1-50,000 m.",
    },
    404: {
        "model": ErrorDoc,
        "description": "method=network asked where no walking network is stored (the "
        "message says how to import one).",
    },
    **HEAVY_RESPONSES,
}


def get_coverage_service(request: Request) -> CoverageService:
    service: CoverageService | None = getattr(request.app.state, "coverage", None)
    if service is None:
        raise DatabaseUnavailableError(
            "The app has no database yet: it is still starting, or started without one."
        )
    return service


CoverageDep = Annotated[CoverageService, Depends(get_coverage_service)]


def get_walk_settings() -> WalkSettings:
    return WalkSettings()


WalkSettingsDep = Annotated[WalkSettings, Depends(get_walk_settings)]


def parse_radii(text: str | None, default_m: float) -> list[float]:
    """Radii in metres from ``"500"`` or ``"300,500,1000"``; ``default_m`` when absent."""
    if text is None or not text.strip():
        return [float(default_m)]
    radii: list[float] = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise InvalidParameterError(
                f"radius_m {part.strip()!r} is not a number of metres; give one radius "
                "(radius_m=500) or several separated by commas (radius_m=300,500,1000)"
            ) from None
        if not math.isfinite(value) or not MIN_RADIUS_M <= value <= MAX_RADIUS_M:
            raise InvalidParameterError(
                f"radius_m {part.strip()} is outside {MIN_RADIUS_M:g}-{MAX_RADIUS_M:,.0f} metres"
            )
        radii.append(value)
    radii = sorted(set(radii))
    if len(radii) > MAX_RADII:
        raise InvalidParameterError(f"at most {MAX_RADII} radii at once, got {len(radii)}")
    return radii


def metres(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


@dataclass(frozen=True)
class CoverageQuery:
    """The facility type asked for, the radii (metres) to answer at, and how distance is
    measured (``circle``: straight line; ``network``: a walk over the street network)."""

    type: FacilityTypeInfo
    radii: list[float]
    method: CoverageMethod = "circle"

    @property
    def radius_m(self) -> float:
        if len(self.radii) != 1:
            raise InvalidParameterError(
                "this endpoint answers one radius at a time; rings (several radii) are "
                "available from GET /api/v1/coverage"
            )
        return self.radii[0]


def parse_minutes(text: str, speed_m_per_min: float) -> list[float]:
    """Radii in metres from walking minutes ``"5"`` or ``"5,10,15"`` at ``speed_m_per_min``."""
    radii: list[str] = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise InvalidParameterError(
                f"minutes {part.strip()!r} is not a number; give one (minutes=10) or several "
                "separated by commas (minutes=5,10,15)",
                zh=f"minutes 的值 {part.strip()!r} 不是数字；请给一个（minutes=10）"
                "或用逗号分隔的几个（minutes=5,10,15）",
            ) from None
        radii.append(f"{radius_from_minutes(value, speed_m_per_min):g}")
    return parse_radii(",".join(radii), speed_m_per_min)


METHOD_DOC = (
    "How distance is measured: circle (straight line, the service circle; default) or "
    "network (a walk over the stored walking network: access legs, streets, bridges and "
    "gates, never across a river, rail line or compound wall). Without a stored walking "
    "network, network is a 404 saying how to import one."
)
MethodParam = Annotated[CoverageMethod, Query(description=METHOD_DOC)]


def get_coverage_query(
    session: SessionDep,
    settings: WalkSettingsDep,
    facility_type: Annotated[
        TypeCode,
        Query(
            description="Facility-type code, e.g. kindergarten; see GET /api/v1/facility-types.",
            examples=["kindergarten"],
        ),
    ],
    radius_m: Annotated[
        Annotated[Text, Field(max_length=TEXT_MAX)] | None,
        Query(
            description="Service radius in metres (1-50,000); default the type's catalogue "
            "radius. Several, comma-separated, ask for rings (GET /api/v1/coverage only).",
            examples=["500", "300,500,1000"],
        ),
    ] = None,
    minutes: Annotated[
        Annotated[Text, Field(max_length=TEXT_MAX)] | None,
        Query(
            description="Instead of radius_m: walking minutes at GRIDMAP_WALK_SPEED_M_PER_MIN "
            "(default 60 m a minute: 5 minutes = 300 m); several, comma-separated, for rings.",
            examples=["5", "5,10,15"],
        ),
    ] = None,
    method: MethodParam = "circle",
) -> CoverageQuery:
    info = catalogue.facility_type(session, facility_type)
    if minutes is not None and radius_m is not None:
        raise InvalidParameterError(
            "give radius_m or minutes, not both",
            zh="radius_m 与 minutes 只能给一个",
        )
    if minutes is not None and minutes.strip():
        radii = parse_minutes(minutes, settings.speed_m_per_min)
    else:
        radii = parse_radii(radius_m, info.radius_m)
    return CoverageQuery(info, radii, method)


QueryDep = Annotated[CoverageQuery, Depends(get_coverage_query)]


def frame_features(frame: Any, id_of: Any) -> list[Feature]:
    """GeoJSON features of a GeoDataFrame (EPSG:4326), coordinates to 7 decimals (~1 cm)."""
    if len(frame) == 0:
        return []
    geoms = shapely.transform(
        np.asarray(frame.geometry.values, dtype=object), lambda c: np.round(c, GEOJSON_DECIMALS)
    )
    props = records(frame.drop(columns=frame.geometry.name))
    return [
        {"type": "Feature", "id": id_of(p), "geometry": mapping(g), "properties": p}
        for g, p in zip(geoms, props, strict=True)
    ]


def features_collection(features: list[Feature], datum: Datum, **extra: Any) -> GeoJSONResponse:
    return GeoJSONResponse(
        {
            "type": "FeatureCollection",
            **extra,
            "numberMatched": len(features),
            "numberReturned": len(features),
            "features": geojson_out(features, datum),
        }
    )


def _derived_collection(
    session: Session,
    service: CoverageService,
    query: CoverageQuery,
    name: str,
    frame_of: Callable[[Connection, CoverageModel], Any],
    id_of: Callable[[dict[str, Any]], Any],
    datum: Datum,
) -> GeoJSONResponse:
    """The features of a slow geometry answer, remembered until the model changes (in
    WGS84; converted to ``datum`` on the way out)."""
    conn = session.connection()
    features = service.derived(
        query.type.code,
        query.radius_m,
        name,
        lambda model: frame_features(frame_of(conn, model), id_of),
        conn,
        query.method,
    )
    return features_collection(
        features,
        datum,
        facility_type=query.type.code,
        radius_m=metres(query.radius_m),
        method=query.method,
    )


@router.get(
    "/api/v1/coverage",
    dependencies=[HEAVY, Depends(access.ANALYSIS)],
    summary="Households covered per area (grid, community, subdistrict, district)",
    responses={200: {"model": CoverageDoc}, **COVERAGE_ERRORS},
)
def coverage_statistics(
    session: SessionDep,
    service: CoverageDep,
    query: QueryDep,
    by: Annotated[Level, Query(description="Area level of the rows.")] = Level.GRID,
) -> JSONResponse:
    """One row per area: ``code``, ``name``, ``households``, ``households_covered``,
    ``households_uncovered``, ``buildings``, ``buildings_covered``, ``coverage_rate``
    (0-1, by households; null without households), ``mean_distance_m`` and
    ``p90_distance_m`` (household-weighted distance to the nearest facility, metres;
    null if the type has no facility), and ``total`` for the district.

    With several radii (``radius_m=300,500,1000``) the answer has ``rings``: one
    ``{radius_m, rows, total}`` block per radius instead of ``rows``/``total``."""
    head = {
        "facility_type": query.type.code,
        "facility_type_name": query.type.name_zh,
        "method": query.method,
        "by": by,
    }
    with service.view(query.type.code, query.radii[0], session.connection(), query.method) as model:
        if len(query.radii) == 1:
            return JSONResponse(
                {
                    **head,
                    "radius_m": metres(query.radii[0]),
                    "rows": records(area_rollups(model, by)),
                    "total": records(area_rollups(model, Level.DISTRICT))[0],
                }
            )
        # The nearest-facility distance does not depend on the radius: one model answers all.
        table = rings(model, query.radii, by)
        district = rings(model, query.radii, Level.DISTRICT)
    blocks = []
    for radius in query.radii:
        rows = table[table["radius_m"] == radius].drop(columns="radius_m")
        total = district[district["radius_m"] == radius].drop(columns="radius_m")
        blocks.append(
            {
                "radius_m": metres(radius),
                "rows": records(rows.sort_values("code", kind="stable")),
                "total": records(total)[0],
            }
        )
    return JSONResponse({**head, "radii_m": [metres(r) for r in query.radii], "rings": blocks})


MAX_RANKED = 100


@router.get(
    "/api/v1/coverage/worst",
    dependencies=[HEAVY, Depends(access.ANALYSIS)],
    summary="The worst-served areas, ranked (lowest coverage rate first)",
    responses={200: {"model": CoverageRankingDoc}, **COVERAGE_ERRORS},
)
def coverage_worst(
    session: SessionDep,
    service: CoverageDep,
    query: QueryDep,
    by: Annotated[Level, Query(description="Area level of the rows.")] = Level.COMMUNITY,
    n: Annotated[int, Query(ge=1, le=MAX_RANKED, description="How many areas.")] = 10,
) -> JSONResponse:
    """The ``n`` areas of level ``by`` with the lowest household coverage rate, then the
    most households uncovered (``gis.coverage.report.worst``); areas without
    households are not ranked. Rows as in ``GET /api/v1/coverage`` with ``rank``
    (1 = worst) first."""
    with service.view(query.type.code, query.radius_m, session.connection(), query.method) as model:
        ranked = worst(area_rollups(model, by), n)
    return JSONResponse(
        {
            "facility_type": query.type.code,
            "facility_type_name": query.type.name_zh,
            "method": query.method,
            "radius_m": metres(query.radius_m),
            "by": by,
            "rows": records(ranked),
        }
    )


@router.get(
    "/api/v1/coverage/buildings",
    dependencies=[HEAVY, Depends(access.ANALYSIS)],
    summary="Per-building coverage: nearest facility, distance, redundancy",
    responses={
        **collection_responses(
            collection_example(COVERAGE_BUILDING_FEATURE, url="/api/v1/coverage/buildings")
        ),
        **COVERAGE_ERRORS,
    },
    response_class=GeoJSONResponse,
)
def coverage_buildings(
    request: Request,
    session: SessionDep,
    service: CoverageDep,
    query: QueryDep,
    paging: PagingDep,
    bbox: BBoxDep,
    datum: DatumOutDep,
    covered: Annotated[
        bool | None, Query(description="true: only covered buildings; false: only uncovered.")
    ] = None,
    grid: Annotated[
        str | None, Query(description="Only the buildings of this grid.", pattern=GRID_CODE)
    ] = None,
) -> GeoJSONResponse:
    """Points ordered by building id; properties ``id``, ``grid_code``, ``households``,
    ``nearest_m`` (true metres; null if the type has no facility),
    ``nearest_facility_id``, ``facilities_within`` (facilities within the radius)
    and ``covered``. ``numberMatched`` counts all buildings matching the filters."""
    with service.view(query.type.code, query.radius_m, session.connection(), query.method) as model:
        page = building_page(
            model,
            covered=covered,
            grid_code=grid,
            bbox=bbox,
            limit=paging.limit,
            offset=paging.offset,
        )
    return paged_collection(page, request, paging, datum)


@router.get(
    "/api/v1/coverage/circles",
    dependencies=[HEAVY, Depends(access.ANALYSIS)],
    summary="Service circles of every facility of a type, as polygons",
    response_model=None,
    responses={200: {"model": DerivedCollectionDoc, "content": {GEOJSON: {}}}, **COVERAGE_ERRORS},
    response_class=GeoJSONResponse,
)
def coverage_circles(
    session: SessionDep, service: CoverageDep, query: QueryDep, datum: DatumOutDep
) -> Any:
    """True-metre circles (drawn in the CGCS2000 Gauss-Krüger plane, projected back
    to lon/lat); properties ``facility_id``, ``name``, ``type_code``, ``address``,
    ``radius_m``. With ``method=network``, each facility's walking service area
    (where one can walk to it within the radius) instead of its circle."""
    return _derived_collection(
        session,
        service,
        query,
        "circles",
        lambda conn, model: service_circles(conn, query.type.code, model=model),
        lambda p: p["facility_id"],
        datum,
    )


@router.get(
    "/api/v1/coverage/blind-spots",
    dependencies=[HEAVY, Depends(access.ANALYSIS)],
    summary="Blind spots (盲点): where uncovered households live, as polygons",
    response_model=None,
    responses={200: {"model": DerivedCollectionDoc, "content": {GEOJSON: {}}}, **COVERAGE_ERRORS},
    response_class=GeoJSONResponse,
)
def coverage_blind_spots(
    session: SessionDep, service: CoverageDep, query: QueryDep, datum: DatumOutDep
) -> Any:
    """One polygon per connected blind spot of a community: the residential area
    of its uncovered buildings outside every service circle (with
    ``method=network``: uncovered by walk, outside the walking service area). Properties
    ``community_code``, ``community_name``, ``part`` (1 = largest), ``area_m2``,
    ``households`` and ``buildings_uncovered``."""
    return _derived_collection(
        session,
        service,
        query,
        "blind_spots",
        lambda conn, model: blind_spots(conn, query.type.code, model=model),
        lambda p: f"{p['community_code']}-{p['part']}",
        datum,
    )


class OpenAt(BaseModel):
    """Where a facility would open."""

    model_config = ConfigDict(extra="forbid")

    lon: Finite = Field(description="Longitude, degrees, in ``datum``.")
    lat: Finite = Field(description="Latitude, degrees, in ``datum``.")
    datum: LonLatDatum = WGS84


class WhatIfQuestion(BaseModel):
    """Facilities that would open and close; nothing is stored."""

    model_config = ConfigDict(extra="forbid")

    facility_type: TypeCode = Field(examples=["kindergarten"])
    radius_m: float | None = Field(
        None, ge=MIN_RADIUS_M, le=MAX_RADIUS_M, description="Metres; default the type's."
    )
    minutes: float | None = Field(
        None,
        gt=0,
        le=MAX_MINUTES,
        description="Instead of radius_m: walking minutes at GRIDMAP_WALK_SPEED_M_PER_MIN.",
    )
    method: CoverageMethod = Field("circle", description=METHOD_DOC)
    open: list[OpenAt] = Field(default_factory=list, max_length=100)
    close: list[Id4] = Field(
        default_factory=list, max_length=100, description="Ids of facilities of the type."
    )


def _storage_point(i: int, at: OpenAt) -> tuple[float, float]:
    try:
        return to_storage_point(at.lon, at.lat, at.datum)
    except InvalidFeatureError as exc:
        raise InvalidFeatureError(f"open.{i}: {exc}") from None


@router.post(
    "/api/v1/coverage/what-if",
    dependencies=[HEAVY, Depends(access.WHAT_IF)],
    summary="What if facilities opened here or closed there?",
    responses={
        200: {"model": WhatIfDoc},
        **HEAVY_RESPONSES,
        404: COVERAGE_ERRORS[404],
        413: {"model": ErrorDoc, "description": "The body is larger than 64 kB."},
        422: {
            "model": ErrorDoc,
            "description": "Unknown type, a bad point, or a facility to close that is not "
            "an open facility of the type.",
        },
    },
    openapi_extra=request_body_doc(WhatIfQuestion),
)
def coverage_what_if(
    session: SessionDep,
    service: CoverageDep,
    settings: WalkSettingsDep,
    question: Annotated[
        WhatIfQuestion, Depends(json_body(lambda data: validate(WhatIfQuestion, data)))
    ],
) -> JSONResponse:
    """``households_gained``, ``households_lost``, ``net_households``, ``by_grid``
    (``[{code, name, net_households}]``, largest change first), and the district's
    ``coverage_rate_before``/``coverage_rate_after`` (0-1). Answered from the
    cached model in milliseconds; nothing is changed."""
    info = catalogue.facility_type(session, question.facility_type, InvalidFeatureError)
    if question.minutes is not None and question.radius_m is not None:
        raise InvalidFeatureError(
            "give radius_m or minutes, not both", zh="radius_m 与 minutes 只能给一个"
        )
    radius = question.radius_m or float(info.radius_m)
    if question.minutes is not None:
        radius = radius_from_minutes(question.minutes, settings.speed_m_per_min)
        if not MIN_RADIUS_M <= radius <= MAX_RADIUS_M:
            raise InvalidFeatureError(
                f"minutes: {question.minutes:g} minutes is a walk of {radius:g} m, outside "
                f"{MIN_RADIUS_M:g}-{MAX_RADIUS_M:,.0f} m",
                zh=f"minutes：{question.minutes:g} 分钟步行 {radius:g} 米，"
                f"超出 {MIN_RADIUS_M:g}-{MAX_RADIUS_M:,.0f} 米",
            )
    points = [_storage_point(i, p) for i, p in enumerate(question.open)]
    with service.view(info.code, radius, session.connection(), question.method) as model:
        answer = what_if(model, points, question.close)
    answer["radius_m"] = metres(answer["radius_m"])
    return JSONResponse({"facility_type_name": info.name_zh, "method": question.method, **answer})


# ---- planner (issue 11): what is on screen, taken away -------------------------------


@router.get(
    "/api/v1/coverage/style",
    dependencies=[Depends(access.PUBLIC)],
    summary="Colours and classes of the coverage map",
    response_model=None,
    responses={200: {"model": CoverageStyleDoc}},
)
def coverage_map_style() -> dict[str, Any]:
    """Choropleth classes of the coverage rate (0-1) with legend labels, colours of
    covered and uncovered buildings, circles, blind spots and facilities."""
    return coverage_style()


@router.get(
    "/api/v1/coverage/status",
    dependencies=[Depends(access.ANALYSIS)],
    summary="State of the coverage caches",
    response_model=None,
    responses={200: {"model": CoverageStatusDoc}},
)
def coverage_status(service: CoverageDep) -> dict[str, Any]:
    """Whether the caches listen for changes, which models are cached, hits and
    misses, builds, changes applied incrementally or by rebuild, and the last
    change with its lag (milliseconds from the database trigger to the cache)."""
    return service.stats()


@router.get(
    "/coverage",
    dependencies=[Depends(access.DISTRICT_PAGE)],
    response_class=HTMLResponse,
    include_in_schema=False,
)
def coverage_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The coverage map: pick a type, radius and straight line or walk, read the grid
    choropleth, click to simulate."""
    style = coverage_style()
    config = {
        "style": style,
        "maxPageSize": settings.max_page_size,
        "api": "/api/v1",
        "basemap": "/api/v1/basemap",
    }
    html = render_page(
        "coverage.html",
        request,
        config=script_json(config),
        title=LABELS_ZH["title"],
        labels=LABELS_ZH,
    )
    return HTMLResponse(html)
