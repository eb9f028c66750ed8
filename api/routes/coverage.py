"""Household coverage by service facilities under /api/v1/coverage, and the coverage map.

Every endpoint names a ``facility_type`` (a catalogue code) and optionally
``radius_m`` (metres; the type's catalogue radius by default). Answers come
from the in-memory coverage models of ``gis.coverage.live``, kept current
by the database's change notifications, so they reflect facilities opened,
moved or closed a moment ago without recomputing the district.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import geopandas as gpd
import numpy as np
import shapely
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from shapely.geometry import mapping
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from api import access
from api.bodies import json_body, request_body_doc, validate
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
    csv_response,
    frame_out,
    geojson_out,
    table_out,
)
from api.responses import feature_collection as paged_collection
from api.routing import ReadRetryRoute
from api.schemas import (
    COVERAGE_BUILDING_FEATURE,
    CoverageDoc,
    CoverageRankingDoc,
    CoverageStatusDoc,
    CoverageStyleDoc,
    DerivedCollectionDoc,
    WhatIfDoc,
)
from gis.areas.codes import Level
from gis.areas.queries import district_names
from gis.basemap.streets import MAX_ZOOM, MIN_ZOOM, streets_in
from gis.coverage import catalogue
from gis.coverage.catalogue import MAX_RADIUS_M, FacilityTypeInfo
from gis.coverage.export import EXPORT_MAX_BUILDINGS, CoverageExtract, coverage_extract
from gis.coverage.geometry import blind_spots, service_circles
from gis.coverage.live import CoverageService
from gis.coverage.report import area_rollups, building_page, rings, worst
from gis.coverage.store import CoverageModel
from gis.coverage.whatif import what_if
from gis.db.models import FacilityType
from gis.errors import DatabaseUnavailableError, InvalidFeatureError, InvalidParameterError
from gis.geo.datum import WGS84, Datum, DatumKind, to_storage_point
from gis.geo.geojson import GEOJSON_DECIMALS, BBox, Feature, records
from gis.localtime import CITY_TZ
from layers.coverage import LABELS_ZH, coverage_style
from layers.printmap import PrintText, print_map
from layers.webmap import DEFAULT_CENTRE

router = APIRouter(route_class=ReadRetryRoute, tags=["coverage"])

MAX_RADII = 10
TypeCode = Annotated[Text, Field(max_length=column_length(FacilityType.code))]
MIN_RADIUS_M = 1.0

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorDoc,
        "description": "Unknown facility type (the message lists the known ones), or a "
        "radius outside 1-50,000 m.",
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


def _metres(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


@dataclass(frozen=True)
class CoverageQuery:
    """The facility type asked for and the radii (metres) to answer at."""

    type: FacilityTypeInfo
    radii: list[float]

    @property
    def radius_m(self) -> float:
        if len(self.radii) != 1:
            raise InvalidParameterError(
                "this endpoint answers one radius at a time; rings (several radii) are "
                "available from GET /api/v1/coverage"
            )
        return self.radii[0]


def get_coverage_query(
    session: SessionDep,
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
) -> CoverageQuery:
    info = catalogue.facility_type(session, facility_type)
    return CoverageQuery(info, parse_radii(radius_m, info.radius_m))


QueryDep = Annotated[CoverageQuery, Depends(get_coverage_query)]


def _frame_features(frame: Any, id_of: Any) -> list[Feature]:
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


def _collection(features: list[Feature], datum: Datum, **extra: Any) -> GeoJSONResponse:
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
        lambda model: _frame_features(frame_of(conn, model), id_of),
        conn,
    )
    return _collection(
        features, datum, facility_type=query.type.code, radius_m=_metres(query.radius_m)
    )


@router.get(
    "/api/v1/coverage",
    dependencies=[HEAVY, Depends(access.ANALYSIS)],
    summary="Households covered per area (grid, community, subdistrict, district)",
    responses={200: {"model": CoverageDoc}, **_ERRORS},
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
        "by": by,
    }
    with service.view(query.type.code, query.radii[0], session.connection()) as model:
        if len(query.radii) == 1:
            return JSONResponse(
                {
                    **head,
                    "radius_m": _metres(query.radii[0]),
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
                "radius_m": _metres(radius),
                "rows": records(rows.sort_values("code", kind="stable")),
                "total": records(total)[0],
            }
        )
    return JSONResponse({**head, "radii_m": [_metres(r) for r in query.radii], "rings": blocks})


MAX_RANKED = 100


@router.get(
    "/api/v1/coverage/worst",
    dependencies=[HEAVY, Depends(access.ANALYSIS)],
    summary="The worst-served areas, ranked (lowest coverage rate first)",
    responses={200: {"model": CoverageRankingDoc}, **_ERRORS},
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
    with service.view(query.type.code, query.radius_m, session.connection()) as model:
        ranked = worst(area_rollups(model, by), n)
    return JSONResponse(
        {
            "facility_type": query.type.code,
            "facility_type_name": query.type.name_zh,
            "radius_m": _metres(query.radius_m),
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
        **_ERRORS,
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
    with service.view(query.type.code, query.radius_m, session.connection()) as model:
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
    responses={200: {"model": DerivedCollectionDoc, "content": {GEOJSON: {}}}, **_ERRORS},
    response_class=GeoJSONResponse,
)
def coverage_circles(
    session: SessionDep, service: CoverageDep, query: QueryDep, datum: DatumOutDep
) -> Any:
    """True-metre circles (drawn in the CGCS2000 Gauss-Krüger plane, projected back
    to lon/lat); properties ``facility_id``, ``name``, ``type_code``, ``address``,
    ``radius_m``."""
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
    responses={200: {"model": DerivedCollectionDoc, "content": {GEOJSON: {}}}, **_ERRORS},
    response_class=GeoJSONResponse,
)
def coverage_blind_spots(
    session: SessionDep, service: CoverageDep, query: QueryDep, datum: DatumOutDep
) -> Any:
    """One polygon per connected blind spot of a community: the residential area
    of its uncovered buildings outside every service circle. Properties
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
    question: Annotated[
        WhatIfQuestion, Depends(json_body(lambda data: validate(WhatIfQuestion, data)))
    ],
) -> JSONResponse:
    """``households_gained``, ``households_lost``, ``net_households``, ``by_grid``
    (``[{code, name, net_households}]``, largest change first), and the district's
    ``coverage_rate_before``/``coverage_rate_after`` (0-1). Answered from the
    cached model in milliseconds; nothing is changed."""
    info = catalogue.facility_type(session, question.facility_type, InvalidFeatureError)
    radius = question.radius_m or float(info.radius_m)
    points = [_storage_point(i, p) for i, p in enumerate(question.open)]
    with service.view(info.code, radius, session.connection()) as model:
        answer = what_if(model, points, question.close)
    answer["radius_m"] = _metres(answer["radius_m"])
    return JSONResponse({"facility_type_name": info.name_zh, **answer})


# ---- planner (issue 11): what is on screen, taken away -------------------------------

GPKG = "application/geopackage+sqlite3"
BINARY = {"schema": {"type": "string", "format": "binary"}}
EXPORT_LAYERS = {"buildings": "Point", "grids": "MultiPolygon", "facilities": "Point"}
"""The GeoPackage's layers and their geometry types (declared: an empty layer keeps its type)."""
PRINT_TITLE_MAX = 60
PRINT_MAX_DEGREES = 0.5
"""The widest box a printed map shows (about 45 km east-west here, 55 km north-south)."""
EXPORT_CSV_EXAMPLE = (
    "id,address,building_name,grid_code,grid_name,community_code,community_name,households,"
    "covered,nearest_m,nearest_facility_id,nearest_facility_name,facilities_within,lon,lat\r\n"
    "4711,东关街道东苑社区 3号楼,3号楼,370705001001001,东苑第一网格,370705001001,东苑社区,48,"
    "False,412.3,31,东苑幼儿园,0,119.1121734,36.7214402\r\n"
)
"""A CSV of the buildings layer, as /openapi.json shows it."""
_TAKE_AWAY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorDoc,
        "description": "Unknown facility type, a radius outside 1-50,000 m, a bad bbox, or a "
        f"box holding more than {EXPORT_MAX_BUILDINGS:,} buildings (export a smaller one).",
    },
    **HEAVY_RESPONSES,
}


def _extract(
    session: Session, service: CoverageService, query: CoverageQuery, bbox: BBox | None
) -> CoverageExtract:
    conn = session.connection()
    with service.view(query.type.code, query.radius_m, conn) as model:
        return coverage_extract(conn, model, bbox)


def _filename(query: CoverageQuery, extension: str, datum: Datum = WGS84) -> str:
    """``coverage_kindergarten_300m_2026-12-06.gpkg``: the type, radius and date (ASCII),
    and the datum where it is not WGS84 (``..._gcj02.gpkg``)."""
    today = dt.datetime.now(CITY_TZ).date().isoformat()
    suffix = "" if datum.kind is DatumKind.WGS84 else f"_{datum.label}"
    return f"coverage_{query.type.code}_{_metres(query.radius_m)}m_{today}{suffix}.{extension}"


def _attachment(data: bytes, media_type: str, filename: str) -> Response:
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _geopackage(extract: CoverageExtract, datum: Datum) -> bytes:
    """The extract as a GeoPackage of three layers (buildings, grids, facilities), its
    coordinates in ``datum`` (``api.responses.frame_out``)."""
    import pyogrio

    with tempfile.TemporaryDirectory(prefix="gridmap-export-") as folder, warnings.catch_warnings():
        # GCJ-02 and BD-09 have no CRS definition to write (the file's name says which);
        # pyogrio warns about every layer without one.
        warnings.filterwarnings("ignore", message="'crs' was not provided", category=UserWarning)
        path = Path(folder) / "coverage.gpkg"
        for name, kind in EXPORT_LAYERS.items():
            pyogrio.write_dataframe(
                frame_out(getattr(extract, name), datum),
                path,
                layer=name,
                driver="GPKG",
                geometry_type=kind,
                promote_to_multi=kind.startswith("Multi"),
                append=path.exists(),
            )
        return path.read_bytes()


@router.get(
    "/api/v1/coverage/export",
    dependencies=[HEAVY, Depends(access.COVERAGE_EXPORT)],
    summary="Export the coverage of a box (what is on screen): GeoPackage or CSV",
    response_class=Response,
    responses={
        200: {
            "description": "A file to save: a GeoPackage (layers buildings, grids, "
            "facilities) or a CSV table (UTF-8 with a byte-order mark, for Excel).",
            "content": {GPKG: BINARY, "text/csv": {"example": EXPORT_CSV_EXAMPLE}},
        },
        **_TAKE_AWAY_ERRORS,
    },
)
def coverage_export(
    session: SessionDep,
    service: CoverageDep,
    query: QueryDep,
    bbox: BBoxDep,
    datum: DatumOutDep,
    format: Annotated[
        Literal["gpkg", "csv"],
        Query(
            description="gpkg: GeoPackage (EPSG:4326; EPSG:4490 with datum=cgcs2000, no "
            "EPSG code with gcj02 or bd09); csv: one table, see ``layer``."
        ),
    ] = "gpkg",
    layer: Annotated[
        Literal["buildings", "grids"],
        Query(description="The table a CSV holds (a GeoPackage holds every layer)."),
    ] = "buildings",
) -> Response:
    """The buildings in ``bbox`` (the whole district without one) with their coverage:
    ``id``, ``address``, ``building_name``, ``grid_code``, ``grid_name``,
    ``community_code``, ``community_name``, ``households``, ``covered``, ``nearest_m``
    (true metres), ``nearest_facility_id``, ``nearest_facility_name``,
    ``facilities_within``, ``lon``, ``lat``; the grids meeting the box with their whole
    figures (``households_covered``, ``coverage_rate`` 0-1, ``mean_distance_m``, ...);
    the facilities of the type in the box. Names in Chinese, UTF-8. The filename says
    the type, radius and date. At most 50,000 buildings: a larger box is a 400.
    ``datum``: the coordinates (geometries, ``lon``/``lat``) in that datum; ``bbox`` is
    read as WGS84 whatever the datum."""
    extract = _extract(session, service, query, bbox)
    if format == "csv":
        frame = extract.buildings if layer == "buildings" else extract.grids
        table = table_out(frame.drop(columns=frame.geometry.name), datum)
        return csv_response(table, _filename(query, f"{layer}.csv", datum))
    return _attachment(_geopackage(extract, datum), GPKG, _filename(query, "gpkg", datum))


@router.get(
    "/api/v1/coverage/print",
    dependencies=[HEAVY, Depends(access.COVERAGE_EXPORT)],
    summary="A printable coverage map of a box (what is on screen): PNG or PDF",
    response_class=Response,
    responses={
        200: {
            "description": "An A4 landscape map with title, legend, metric scale bar, "
            "north arrow, date and data source.",
            "content": {"image/png": BINARY, "application/pdf": BINARY},
        },
        **_TAKE_AWAY_ERRORS,
    },
)
def coverage_print(
    session: SessionDep,
    service: CoverageDep,
    query: QueryDep,
    bbox: BBoxDep,
    format: Annotated[
        Literal["png", "pdf"], Query(description="png (150 dpi) or pdf (vector).")
    ] = "png",
    title: Annotated[
        Annotated[Text, Field(max_length=PRINT_TITLE_MAX)] | None,
        Query(description="The map's title; default the district, type and 服务覆盖图."),
    ] = None,
) -> Response:
    """The grids of the box coloured by coverage rate, buildings covered and not, the
    facilities with their service circles; drawn in true metres (CGCS2000
    Gauss-Krüger) with matplotlib, Chinese text in Noto Sans CJK. Without ``bbox``
    the whole district."""
    if (
        bbox is not None
        and max(bbox.max_lon - bbox.min_lon, bbox.max_lat - bbox.min_lat) > PRINT_MAX_DEGREES
    ):
        raise InvalidParameterError(
            f"bbox spans more than {PRINT_MAX_DEGREES:g}° (about 50 km): a printed map of a "
            "district shows less; zoom in, or leave bbox out to print the whole district",
            zh=f"打印范围超过 {PRINT_MAX_DEGREES:g}°（约 50 公里）：请放大地图，"
            "或不指定 bbox 打印全区",
        )
    extract = _extract(session, service, query, bbox)
    districts = "、".join(district_names(session))
    covered = extract.grids["households_covered"].sum()
    households = extract.grids["households"].sum()
    rate = f"，网格覆盖率 {covered / households:.1%}" if households else ""
    text = PrintText(
        title=(title or "").strip() or f"{districts} {query.type.name_zh}服务覆盖图".strip(),
        subtitle=f"{query.type.name_zh} · 服务半径 {_metres(query.radius_m)} 米{rate}",
        source=f"gridmap · {districts or '本区'}网格、楼栋与设施数据",
        date=dt.datetime.now(CITY_TZ).date(),
    )
    box = bbox.as_list() if bbox is not None else _bounds_of(extract)
    data = print_map(
        streets=_streets(session, box),
        grids=extract.grids,
        buildings=extract.buildings,
        facilities=extract.facilities,
        bbox=box,
        radius_m=query.radius_m,
        text=text,
        fmt=format,
    )
    media = "image/png" if format == "png" else "application/pdf"
    return _attachment(data, media, _filename(query, format))


PRINT_WIDTH_PX = 1300
"""About the map's width on the printed page (pixels at 150 dpi): the base map's zoom for
the box is the one that shows it at this width, and so its streets those it would draw."""


def _streets(session: Session, box: list[float]) -> gpd.GeoDataFrame:
    """The base map's streets of ``box`` as a screen of the printed map's width shows them."""
    width = max(box[2] - box[0], 1e-6)
    zoom = round(math.log2(PRINT_WIDTH_PX * 360.0 / (256.0 * width)))
    zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
    found = streets_in(session, BBox(*box), zoom)
    if not found:
        return gpd.GeoDataFrame({"name": [], "kind": []}, geometry=[], crs="EPSG:4326")
    return gpd.GeoDataFrame.from_features(found, crs="EPSG:4326")


def _bounds_of(extract: CoverageExtract) -> list[float]:
    """The box of the grids, or a small box around the default centre without any."""
    if len(extract.grids) == 0:
        lat, lon = DEFAULT_CENTRE
        return [lon - 0.05, lat - 0.05, lon + 0.05, lat + 0.05]
    return [float(v) for v in extract.grids.total_bounds]


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
    """The coverage map: pick a type and radius, read the grid choropleth, click to simulate."""
    style = coverage_style()
    config = {
        "style": style,
        "maxPageSize": settings.max_page_size,
        "api": "/api/v1",
        "basemap": "/api/v1/basemap",
    }
    html = render_page(
        "coverage.html", request, config=script_json(config), title=LABELS_ZH["title"]
    )
    return HTMLResponse(html)
