"""Taking the coverage map away: its buildings, grids and facilities as a GeoPackage or CSV,
and as a printable map (PNG, PDF), for the box on screen.

The extract is ``gis.coverage.export`` (bounded by ``EXPORT_MAX_BUILDINGS``), the
drawing ``layers.printmap``; the figures are the coverage model's of
``api.routes.coverage`` (the same query parameters). Both hold a heavy slot.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import geopandas as gpd
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy.orm import Session

from api import access
from api.dependencies import (
    BBoxDep,
    DatumOutDep,
    SessionDep,
)
from api.fields import Text
from api.limits import HEAVY
from api.responses import (
    HEAVY_RESPONSES,
    ErrorDoc,
    csv_response,
    frame_out,
    table_out,
)
from api.routes.coverage import CoverageDep, CoverageQuery, QueryDep, metres
from api.routing import ReadRetryRoute
from gis.areas.queries import district_names
from gis.basemap.streets import MAX_ZOOM, MIN_ZOOM, streets_in
from gis.coverage.export import EXPORT_MAX_BUILDINGS, CoverageExtract, coverage_extract
from gis.coverage.live import CoverageService
from gis.errors import InvalidParameterError
from gis.geo.datum import WGS84, Datum, DatumKind
from gis.geo.geojson import BBox
from gis.localtime import CITY_TZ
from layers.printmap import PrintText, print_map
from layers.webmap import DEFAULT_CENTRE

router = APIRouter(route_class=ReadRetryRoute, tags=["coverage"])
router = APIRouter(route_class=ReadRetryRoute, tags=["coverage"])

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
    404: {
        "model": ErrorDoc,
        "description": "method=network asked where no walking network is stored (the "
        "message says how to import one).",
    },
    **HEAVY_RESPONSES,
}


def _extract(
    session: Session, service: CoverageService, query: CoverageQuery, bbox: BBox | None
) -> CoverageExtract:
    conn = session.connection()
    with service.view(query.type.code, query.radius_m, conn, query.method) as model:
        return coverage_extract(conn, model, bbox)


def _filename(query: CoverageQuery, extension: str, datum: Datum = WGS84) -> str:
    """``coverage_kindergarten_300m_2026-12-06.gpkg``: the type, radius and date (ASCII),
    and the datum where it is not WGS84 (``..._gcj02.gpkg``)."""
    today = dt.datetime.now(CITY_TZ).date().isoformat()
    suffix = "" if datum.kind is DatumKind.WGS84 else f"_{datum.label}"
    walk = "_walk" if query.method == "network" else ""
    stem = f"coverage_{query.type.code}_{metres(query.radius_m)}m{walk}"
    return f"{stem}_{today}{suffix}.{extension}"


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
        subtitle=f"{query.type.name_zh} · 服务半径 {metres(query.radius_m)} 米{rate}",
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
