"""Whole collections as files: ``GET /ogc/collections/{cid}/export?f=geojson|gpkg|shp|csv``.

The selection is the items' (``bbox``, ``bbox-crs``, ``datetime``, ``filter``,
``filter-lang``, ``filter-crs``; coordinates per ``crs`` or ``datum``) without paging:
the whole of it leaves in one response, streamed (``gis.exports``), its totals in the
``OGC-NumberMatched`` and ``OGC-NumberReturned`` headers and, for GeoJSON, in the body.
A ``limit`` (and ``offset``) may cut it; then the two totals differ and a ``Link``
header with ``rel="next"`` names the rest. Nothing is cut otherwise.

The collection's own access applies, as for its items; cases come narrowed and masked
for the caller, and an export showing personal data in full is in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api import access
from api.audited import record_read
from api.dependencies import DatumOutDep, SessionDep
from api.fields import INT8_MAX, Text
from api.limits import HEAVY
from api.responses import GEOJSON, HEAVY_RESPONSES, ErrorDoc, FeatureDoc
from api.routes import ogc  # module only: ogc may import collection_links from here
from api.routing import ReadRetryRoute
from gis.exports.collection import (
    Selection,
    announce,
    consistent_snapshot,
    personal_in_full,
    write_selection,
)
from gis.exports.writers import FORMATS, Format
from gis.features.collections import Collection
from gis.features.crs import CRS84, bbox_to_wgs84, find_crs
from gis.features.filters import MAX_FILTER_CHARS
from gis.features.query import ItemQuery, parse_datetime
from gis.localtime import CITY_TZ
from gis.principal import Principal

router = APIRouter(route_class=ReadRetryRoute, tags=["ogc"])

EXPORT_PATH = "/ogc/collections/{cid}/export"

NUMBER_MATCHED = "OGC-NumberMatched"
NUMBER_RETURNED = "OGC-NumberReturned"
"""Headers with the totals (the GeoJSON body's ``numberMatched``/``numberReturned``):
every format has them before its first byte."""


def collection_links(cid: str, base: str) -> list[dict[str, Any]]:
    """Links of a collection (``/ogc/collections/{cid}``) to its whole contents in each
    format: ``rel="enclosure"`` (OGC API Features: a bulk download of the collection)."""
    return [
        {
            "href": f"{base}{EXPORT_PATH.format(cid=cid)}?f={fmt}",
            "rel": "enclosure",
            "type": FORMATS[fmt].media_type.split(";")[0],
            "title": f"{FORMATS[fmt].title.zh} / {FORMATS[fmt].title.en}",
        }
        for fmt in Format
    ]


class ExportCollectionDoc(BaseModel):
    """A whole collection (``f=geojson``), streamed feature by feature."""

    type: str = "FeatureCollection"
    name: str = Field(description="The collection id.")
    numberMatched: int = Field(description="Features matching the filters.")
    numberReturned: int = Field(
        description="Features in this file: numberMatched unless limit/offset cut it."
    )
    timeStamp: str = Field(description="When the selection was read (UTC).")
    links: list[dict[str, Any]] = Field(description="self; next when a limit cut the file.")
    features: list[FeatureDoc]


FILTER_DOC = "Only items matching a CQL2 filter over the queryables, in filter-lang."

CONFORMANCE: tuple[str, ...] = ()
"""No conformance class: OGC API Features has none for bulk downloads (the links are
``rel="enclosure"``, which Part 1 names for them)."""

LANDING_LINKS: tuple[dict[str, Any], ...] = ()
"""Exports are per collection (``collection_links``); the landing page needs none."""

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_EXAMPLE = {
    "type": "FeatureCollection",
    "name": "buildings",
    "numberMatched": 20843,
    "numberReturned": 20843,
    "timeStamp": "2026-12-06T02:30:00Z",
    "links": [
        {
            "href": "http://localhost:8000/ogc/collections/buildings/export?f=geojson",
            "rel": "self",
            "type": GEOJSON,
        }
    ],
    "features": [
        {
            "type": "Feature",
            "id": 1,
            "geometry": {"type": "Point", "coordinates": [119.1623412, 36.7155203]},
            "properties": {
                "ext_id": None,
                "grid_code": "370705001001001",
                "households": 48,
                "floors": 6,
                "name": "东苑小区1号楼",
                "address": "潍坊市奎文区东关街道东苑小区1号楼",
            },
        }
    ],
}

FormatParam = Annotated[
    Format,
    Query(
        alias="f",
        description="geojson (a FeatureCollection), gpkg (GeoPackage, one layer named after "
        "the collection), shp (a zip of .shp .shx .dbf .prj .cpg and README.txt with the "
        "10-character field names), csv (UTF-8 with a BOM; id, properties, lon/lat or wkt).",
    ),
]


def _filename(coll: Collection, fmt: Format) -> str:
    """``attachment`` with ``buildings_2026-12-06.gpkg`` (ASCII) and, for clients that read
    RFC 5987, ``楼栋_buildings_2026-12-06.gpkg``."""
    today = dt.datetime.now(CITY_TZ).date().isoformat()
    plain = f"{coll.id}_{today}.{FORMATS[fmt].extension}"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(f'{coll.title.zh}_{plain}')}"


def _streamed(chunks: Iterator[bytes], folder: str) -> Iterator[bytes]:
    try:
        yield from chunks
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@router.get(
    EXPORT_PATH,
    dependencies=[HEAVY],
    summary="Export a whole collection: GeoJSON, GeoPackage, zipped Shapefile or CSV",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The whole selection as a file to save (``Content-Disposition``); "
            "totals in the OGC-NumberMatched and OGC-NumberReturned headers; Content-Crs "
            "names the coordinates' CRS.",
            "content": {
                GEOJSON: {
                    "schema": ExportCollectionDoc.model_json_schema(),
                    "example": _EXAMPLE,
                },
                "application/geopackage+sqlite3": _BINARY,
                "application/zip": _BINARY,
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "\ufeffid,ext_id,grid_code,households,floors,name,address,"
                    "lon,lat\r\n"
                    "1,,370705001001001,48,6,东苑小区1号楼,潍坊市奎文区东关街道东苑小区1号楼,"
                    "119.1623412,36.7155203\r\n",
                },
            },
            "headers": {
                NUMBER_MATCHED: {"schema": {"type": "integer"}, "description": "Matching."},
                NUMBER_RETURNED: {"schema": {"type": "integer"}, "description": "In the file."},
            },
        },
        404: {"model": ErrorDoc, "description": "No such collection (GET /ogc/collections)."},
        **HEAVY_RESPONSES,
    },
)
def export_collection(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(access.OGC_FEATURES)],
    cid: Annotated[Text, Path(max_length=100, description="Collection id, e.g. buildings.")],
    datum: DatumOutDep,
    fmt: FormatParam = Format.GEOJSON,
    bbox: Annotated[
        Annotated[Text, Field(max_length=200)] | None,
        Query(
            description="minx,miny,maxx,maxy in bbox-crs (CRS84 lon/lat by default; "
            "EPSG:4326 and EPSG:4490 lat/lon).",
            examples=["119.10,36.68,119.25,36.75"],
        ),
    ] = None,
    bbox_crs: Annotated[
        Annotated[Text, Field(max_length=300)] | None,
        Query(alias="bbox-crs", description="CRS URI of bbox (see the collection's crs)."),
    ] = None,
    datetime: Annotated[
        Annotated[Text, Field(max_length=100)] | None,
        Query(
            description="An instant or interval (RFC 3339, `..` open): incidents reported "
            "then, boundaries in force then (default: today's).",
            examples=["2024-05-01T00:00:00Z/.."],
        ),
    ] = None,
    filter: Annotated[
        Annotated[Text, Field(max_length=MAX_FILTER_CHARS)] | None,
        Query(description=FILTER_DOC, examples=["households > 50"]),
    ] = None,
    filter_lang: Annotated[
        Literal["cql2-text", "cql2-json", "cql-text"],
        Query(alias="filter-lang", description="cql2-text (default) or cql2-json."),
    ] = "cql2-text",
    filter_crs: Annotated[
        Annotated[Text, Field(max_length=300)] | None,
        Query(alias="filter-crs", description="CRS URI of the filter's geometries."),
    ] = None,
    crs: Annotated[
        Annotated[Text, Field(max_length=300)] | None,
        Query(
            description="CRS URI of the coordinates: CRS84 (default), EPSG:4326/4490 (GeoJSON "
            "in lat/lon; files keep lon/lat), {base}/ogc/crs/gcj02 or /bd09."
        ),
    ] = None,
    limit: Annotated[
        int | None,
        Query(ge=1, le=INT8_MAX, description="At most this many features (default: all)."),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=INT8_MAX, description="Features to skip.")] = 0,
) -> StreamingResponse:
    """The whole selection of the collection's items in one file, streamed: GeoJSON and
    CSV as they are read, GeoPackage and Shapefile written first. The items' parameters
    select (``?name=value`` on queryables too); properties keep their machine names
    (titles in /ogc/collections/{cid}/queryables and docs/exports.md); a Shapefile's are
    cut to 10 characters by the table in its README.txt. Coordinates in ``crs`` or
    ``datum``. Cases come narrowed and masked as on their items; an export showing
    personal data in full is audited."""
    coll = ogc.collection_for(
        request, session, principal, cid
    )  # the collection's rule, as its items'
    out = ogc.out_crs(request, crs, datum)
    base = ogc.base_url(request)
    query = ItemQuery(
        bbox=bbox_to_wgs84(bbox, find_crs(bbox_crs or CRS84, base, "bbox-crs")) if bbox else None,
        datetime=parse_datetime(datetime) if datetime is not None else None,
        filter=filter,
        equals=ogc.property_filters(request, coll),
        filter_lang="cql2-text" if filter_lang == "cql-text" else filter_lang,
        filter_crs=find_crs(filter_crs, base, "filter-crs") if filter_crs else None,
    )
    selection = Selection(coll, query, out, limit, offset)
    shown = personal_in_full(session, principal, selection)
    if shown:  # recorded and committed before any of it leaves
        record_read(session, request, principal, "export:incidents", detail={"incidents": shown})
    else:
        session.commit()  # ends the login lookup's read: nothing was written
    consistent_snapshot(session)  # the count and the rows from one snapshot
    links: list[dict[str, Any]] = [{"href": str(request.url), "rel": "self", "type": GEOJSON}]
    export = announce(session, principal, selection, links)
    headers = {
        "Content-Disposition": _filename(coll, fmt),
        NUMBER_MATCHED: str(export.number_matched),
        NUMBER_RETURNED: str(export.number_returned),
        "Content-Crs": f"<{out.uri}>",
    }
    if export.number_returned < export.number_matched - offset:
        following = request.url.include_query_params(offset=offset + export.number_returned)
        headers["Link"] = f'<{following}>; rel="next"; type="{FORMATS[fmt].media_type}"'
        export = replace(
            export, links=(*links, {"href": str(following), "rel": "next", "type": GEOJSON})
        )
    folder = tempfile.mkdtemp(prefix="gridmap-export-")
    try:
        written = write_selection(session, principal, selection, export, fmt, FilePath(folder))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if written.size is not None:
        headers["Content-Length"] = str(written.size)
    return StreamingResponse(
        _streamed(written.chunks, folder), media_type=FORMATS[fmt].media_type, headers=headers
    )
