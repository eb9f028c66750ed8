"""The base map under every map, and search: /api/v1/basemap, /api/v1/search.

``GET /api/v1/basemap`` tells a page which base map to draw (the offline
streets, or the configured tile service with the datum its tiles are in);
``/basemap/streets`` and ``/basemap/places`` are the offline map's streets
and place names in a view at a zoom, with an ``ETag`` and ``Cache-Control`` so
that a browser (and the field app's service worker) keeps them and asks again
cheaply (``If-None-Match`` → 304). ``GET /api/v1/search`` finds addresses,
buildings, grids, areas, streets and cases (``gis.basemap.search``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import Field

from api import access
from api.basemap_schemas import BasemapDoc, PlacesDoc, SearchDoc, StreetsDoc
from api.dependencies import BBoxDep, DatumOutDep, SessionDep
from api.fields import Text
from api.pages import render_page, script_json
from api.responses import GEOJSON, ErrorDoc, GeoJSONResponse, geojson_out, lonlat_out
from api.routing import ReadRetryRoute
from gis.basemap import places, search, streets
from gis.basemap.sources import Basemap
from gis.principal import Principal

router = APIRouter(route_class=ReadRetryRoute, prefix="/api/v1", tags=["basemap"])
pages = APIRouter(route_class=ReadRetryRoute)
"""The base map page (/basemap), outside the API's prefix."""

CACHE_CONTROL = "private, max-age=3600"
"""A view's streets change only when the street table does: an hour in the browser's cache,
then a conditional request (304 when unchanged). Private: the answer needs a login."""

STREET_DECIMALS = 6
"""Decimals of the streets' and places' coordinates (gis.basemap answers them so)."""

STREETS_URL = "/api/v1/basemap/streets"
PLACES_URL = "/api/v1/basemap/places"

ZoomQuery = Annotated[
    int,
    Query(
        ge=streets.MIN_ZOOM,
        le=streets.MAX_ZOOM,
        description="The map's zoom level (Web Mercator, as Leaflet's map.getZoom(), rounded): "
        f"main roads only below {streets.SECONDARY_MIN_ZOOM}, secondary roads from there, "
        f"local roads from {streets.LOCAL_MIN_ZOOM}; lines simplified to half a pixel.",
    ),
]
IfNoneMatch = Annotated[
    str | None,
    Header(alias="If-None-Match", description="The ETag of an answer kept: 304 if unchanged."),
]

_CACHED = {
    "ETag": {
        "description": "A strong validator of this answer's body.",
        "schema": {"type": "string"},
    },
    "Cache-Control": {"description": CACHE_CONTROL, "schema": {"type": "string"}},
}


def _cached(body: dict[str, Any], if_none_match: str | None) -> Response:
    """``body`` as GeoJSON with its ETag, or a 304 when the client holds the same."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    tag = '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
    headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL}
    held = {t.strip().removeprefix("W/") for t in (if_none_match or "").split(",")}
    if tag in held or "*" in held:
        return Response(status_code=304, headers=headers)
    return Response(content=data, media_type=GEOJSON, headers=headers)


def basemap_config(request: Request) -> dict[str, Any]:
    """What GET /api/v1/basemap answers: the page's base map configuration."""
    basemap: Basemap = request.app.state.basemap
    return {
        "source": basemap.source,
        "datum": basemap.datum.label,
        "display": basemap.display,
        "tiles": [
            {
                "url": t.url,
                "subdomains": t.subdomains,
                "attribution": t.attribution,
                "maxZoom": t.max_zoom,
            }
            for t in basemap.tiles
        ],
        "labels": basemap.labels,
        "streets_url": STREETS_URL,
        "places_url": PLACES_URL,
    }


@router.get(
    "/basemap",
    summary="Which base map the pages draw, and the datum of its tiles",
    response_model=None,
    responses={200: {"model": BasemapDoc}},
    dependencies=[Depends(access.BASEMAP)],
)
def get_basemap(request: Request) -> dict[str, Any]:
    """``source`` (``offline``, ``tianditu``, ``amap``, ``tencent``, ``xyz``, ``wmts``),
    ``datum`` its tiles are in, ``display`` the datum overlays must be drawn in
    (``gcj02`` for Amap and Tencent: convert with GM.datum.toDisplay), ``tiles``
    (Leaflet tile layers; none offline), ``labels`` (the page draws its own street
    and place names), ``streets_url`` and ``places_url`` (the offline map's data)."""
    return basemap_config(request)


@router.get(
    "/basemap/streets",
    summary="Streets of the offline base map in a view, at a zoom",
    response_class=GeoJSONResponse,
    response_model=None,
    responses={
        200: {"model": StreetsDoc, "headers": _CACHED},
        304: {
            "description": "The ETag sent in If-None-Match is still current.",
            "headers": _CACHED,
        },
    },
    dependencies=[Depends(access.BASEMAP)],
)
def get_streets(
    session: SessionDep,
    bbox: BBoxDep,
    zoom: ZoomQuery,
    datum: DatumOutDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """A FeatureCollection: one feature per named road in view (LineString, or
    MultiLineString where its pieces do not join), properties ``name``, ``kind``
    (``main``, ``secondary``, ``local``) and ``length_m``; main roads first.
    Without ``bbox``: the whole network at that zoom."""
    found = streets.streets_in(session, bbox, zoom)
    body = {
        "type": "FeatureCollection",
        "zoom": zoom,
        "kinds": [k.value for k in streets.kinds_at(zoom)],
        "numberReturned": len(found),
        "features": geojson_out(found, datum, STREET_DECIMALS),
    }
    return _cached(body, if_none_match)


@router.get(
    "/basemap/places",
    summary="Place names of the offline base map in a view, at a zoom",
    response_class=GeoJSONResponse,
    response_model=None,
    responses={
        200: {"model": PlacesDoc, "headers": _CACHED},
        304: {
            "description": "The ETag sent in If-None-Match is still current.",
            "headers": _CACHED,
        },
    },
    dependencies=[Depends(access.BASEMAP)],
)
def get_places(
    session: SessionDep,
    bbox: BBoxDep,
    zoom: ZoomQuery,
    datum: DatumOutDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """A FeatureCollection of Points inside the areas to label at that zoom:
    subdistricts below 13, communities from 13, grids from 16; properties
    ``code``, ``name``, ``level``."""
    found = places.places_in(session, bbox, zoom)
    body = {
        "type": "FeatureCollection",
        "zoom": zoom,
        "levels": list(places.levels_at(zoom)),
        "numberReturned": len(found),
        "features": geojson_out(found, datum, STREET_DECIMALS),
    }
    return _cached(body, if_none_match)


@router.get(
    "/search",
    summary="Find an address, building, grid, community, subdistrict, street or case",
    response_model=None,
    responses={
        200: {"model": SearchDoc},
        400: {"model": ErrorDoc, "description": "q is empty or too long."},
    },
)
def get_search(
    session: SessionDep,
    principal: Annotated[Principal, Depends(access.SEARCH)],
    datum: DatumOutDep,
    q: Annotated[
        Annotated[Text, Field(max_length=search.MAX_QUERY)],
        Query(
            description="What to find: words of an address (中学街社区 3号楼), a building's "
            "number (DEMO-B-000123), a grid's name or 15-digit code, a community, a "
            "subdistrict, a street, a case's number or external number.",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=search.MAX_LIMIT, description="Most results.")] = (
        search.DEFAULT_LIMIT
    ),
) -> JSONResponse:
    """``items``, best first: ``kind`` (address, building, grid, community,
    subdistrict, street, incident), ``kind_zh``, ``label``, ``sublabel``,
    ``code`` or ``id``, ``lon``/``lat`` (in ``datum``) to fly to, ``bbox`` to fit
    (null for a point), ``url`` of its page (grids and cases). Cases only
    within the caller's reach (others are not found); a personal case the
    caller is not responsible for at its grid's point."""
    hits = search.search(
        session,
        q,
        principal,
        limit=limit,
        include_incidents=access.INCIDENT_READ.allows(principal),
    )
    return JSONResponse({"items": lonlat_out([asdict(h) for h in hits], datum)})


OLD_TOWN = (36.712, 119.125)
"""Where the base map page opens (latitude, longitude): the demo's dense old town, 东关."""


@pages.get(
    "/basemap",
    dependencies=[Depends(access.BASEMAP_PAGE)],
    response_class=HTMLResponse,
    include_in_schema=False,
)
def basemap_page(request: Request) -> HTMLResponse:
    """The base map alone with the search box: streets, names, and what search finds."""
    config = {"basemap": basemap_config(request), "centre": list(OLD_TOWN), "zoom": 16}
    html = render_page(
        "basemap.html",
        request,
        config=script_json(config),
        title="底图与搜索",
        placeholder="搜索地址、楼栋、网格、社区、道路、案件编号",
    )
    return HTMLResponse(html)
