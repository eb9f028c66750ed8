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
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api import access
from api.audited import record_read
from api.dependencies import SessionDep, get_datum_out
from api.fields import INT8_MAX, TEXT_MAX, Text
from api.limits import HEAVY
from api.responses import GEOJSON, HEAVY_RESPONSES, ErrorDoc, FeatureDoc
from api.routing import ReadRetryRoute
from gis.errors import InvalidParameterError
from gis.exports.collection import (
    Selection,
    announce,
    consistent_snapshot,
    personal_in_full,
    write_selection,
)
from gis.exports.writers import FORMATS, Format
from gis.features.collections import Access, Collection, find
from gis.features.crs import CRS84, OWN_CRS_PATH, Crs, bbox_to_wgs84, find_crs
from gis.features.filters import FILTER_LANGS
from gis.features.query import ItemQuery, parse_datetime
from gis.geo.datum import BD09, CGCS2000, GCJ02, WGS84, Datum
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
TextParam = Annotated[Text, Field(max_length=TEXT_MAX)] | None


def _own_crs(datum: Datum, base: str) -> Crs:
    """The CRS a ``datum=`` names (lon/lat order, as every ``datum=`` answer)."""
    if datum.kind is GCJ02.kind:
        return Crs(f"{base}{OWN_CRS_PATH}gcj02", GCJ02)
    if datum.kind is BD09.kind:
        return Crs(f"{base}{OWN_CRS_PATH}bd09", BD09)
    if datum.kind is CGCS2000.kind:
        return Crs(CRS84, CGCS2000)  # CGCS2000 lon/lat: the same numbers within centimetres
    return Crs(CRS84, WGS84)


def _out_crs(crs: str | None, datum: str | None, base: str) -> Crs:
    if crs is not None and datum is not None:
        raise InvalidParameterError(
            "give crs or datum, not both: crs names a CRS by URI, datum is its short form",
            zh="crs 与 datum 只能给一个：crs 为坐标参考系 URI，datum 为其简称",
        )
    if crs is not None:
        return find_crs(crs, base)
    if datum is None:
        return Crs(CRS84, WGS84)
    parsed = get_datum_out(datum)  # wgs84, cgcs2000, gcj02, bd09; else a 400
    return _own_crs(parsed, base)


_READ_RULES = {
    Access.MAP: access.MAP_LAYER,
    Access.FACILITIES: access.FACILITY_LAYER,
    Access.INCIDENTS: access.INCIDENT_READ,
    Access.ANALYSIS: access.ANALYSIS,
}


def _check_reader(coll: Collection, principal: Principal) -> None:
    """The collection's own rule, as for its items (a key reading cases needs
    ``incidents:read`` besides ``features:read``)."""
    _READ_RULES[coll.access].check(principal)


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
    principal: Annotated[Principal, Depends(access.FEATURES_EXPORT)],
    cid: Annotated[Text, Path(max_length=100, description="Collection id, e.g. buildings.")],
    fmt: FormatParam = Format.GEOJSON,
    bbox: Annotated[
        TextParam,
        Query(
            description="Only features meeting this box: minLon,minLat,maxLon,maxLat "
            "(in bbox-crs; CRS84 by default).",
            examples=["119.10,36.68,119.25,36.75"],
        ),
    ] = None,
    bbox_crs: Annotated[
        TextParam, Query(alias="bbox-crs", description="CRS of bbox (a URI of /ogc/crs).")
    ] = None,
    datetime: Annotated[
        TextParam,
        Query(description="Instant or interval (2024-05-01/2024-05-31, ../2024-05-31)."),
    ] = None,
    filter: Annotated[
        Annotated[Text, Field(max_length=20_000)] | None,
        Query(description="CQL2 filter on the queryables, e.g. households > 50."),
    ] = None,
    filter_lang: Annotated[
        TextParam, Query(alias="filter-lang", description="cql2-text (default) or cql2-json.")
    ] = None,
    filter_crs: Annotated[
        TextParam, Query(alias="filter-crs", description="CRS of the filter's geometries.")
    ] = None,
    crs: Annotated[
        TextParam,
        Query(
            description="CRS of the coordinates: CRS84 (default), EPSG:4326 / EPSG:4490 (a "
            "GeoJSON in lat/lon order; files keep lon/lat), or this server's GCJ-02 / BD-09 URIs."
        ),
    ] = None,
    datum: Annotated[
        TextParam,
        Query(description="Short for crs: wgs84, cgcs2000, gcj02 or bd09 (lon/lat order)."),
    ] = None,
    limit: Annotated[
        int | None,
        Query(ge=1, le=INT8_MAX, description="At most this many features (default: all)."),
    ] = None,
    offset: Annotated[int, Query(ge=0, le=INT8_MAX, description="Features to skip.")] = 0,
) -> StreamingResponse:
    """The whole selection of the collection's items in one file, streamed: GeoJSON and
    CSV as they are read, GeoPackage and Shapefile written first (then sent with their
    length). Properties keep their machine names (titles in /ogc/collections/{cid}/queryables
    and docs/exports.md); a Shapefile's are cut to 10 characters by the table in its
    README.txt. Coordinates in ``crs`` or ``datum``."""
    base = str(request.base_url).rstrip("/")
    coll = find(session, cid)
    _check_reader(coll, principal)
    out = _out_crs(crs, datum, base)
    lang = filter_lang or "cql2-text"
    if lang not in FILTER_LANGS:
        raise InvalidParameterError(
            f"filter-lang {lang[:40]!r} is not one of {', '.join(FILTER_LANGS)}",
            zh=f"filter-lang {lang[:40]!r} 不受支持；可用：{'、'.join(FILTER_LANGS)}",
        )
    query = ItemQuery(
        bbox=bbox_to_wgs84(bbox, find_crs(bbox_crs or CRS84, base, "bbox-crs")) if bbox else None,
        datetime=parse_datetime(datetime) if datetime else None,
        filter=filter,
        filter_lang=lang,
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
