"""OGC API - Tiles: vector tiles (Mapbox Vector Tiles) of the collections, TileJSON, styles.

Under the OGC API root ``/ogc``: the tile matrix sets (``/tileMatrixSets``,
WebMercatorQuad), each collection's tile sets (``/collections/{cid}/tiles``,
``.../tiles/WebMercatorQuad``, ``.../{z}/{y}/{x}`` and ``.../tilejson.json``),
the dataset's tiles with every main layer (``/tiles/...``), and styles
(``/styles/{styleId}``). A tile is drawn in PostGIS (``gis.tiles``), cached in
the process until the database notifies a change of what it shows, sent
gzipped when the client accepts it, with a strong ``ETag`` (``If-None-Match``
→ 304). A tile with nothing in it is a ``204 No Content`` (OGC API - Tiles
recommends 204 for an empty tile within the limits); a zoom outside the tile
set's limits or a row/column outside the matrix is a 404.

``CONFORMANCE`` and ``collection_links`` are for the landing page, /conformance
and each collection (``api.routes.ogc`` wires them in).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api import access
from api.audited import record_read
from api.dependencies import DatumOutDep, SessionDep, get_settings
from api.responses import ErrorDoc
from api.routing import ReadRetryRoute
from api.tile_docs import (
    MVT,
    StyleDoc,
    StylesDoc,
    TileJSONDoc,
    TileMatrixSetDoc,
    TileMatrixSetsDoc,
    TileSetDoc,
    TileSetsDoc,
)
from gis.errors import NotFoundError
from gis.geo.datum import WGS84, Datum, from_wgs84, passes_through
from gis.incidents.visibility import Scope
from gis.principal import Principal
from gis.tiles import layers as tile_layers
from gis.tiles.cache import CachedTile
from gis.tiles.grid import TMS_ID, matrix_set, tile_at
from gis.tiles.layers import MAIN_LAYERS, TileLayer, layer_named
from gis.tiles.service import TileService, data_bounds
from layers import tilestyle

router = APIRouter(route_class=ReadRetryRoute, prefix="/ogc", tags=["tiles"])

OGC_TILES = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf"
CONFORMANCE = (
    f"{OGC_TILES}/core",
    f"{OGC_TILES}/tileset",
    f"{OGC_TILES}/tilesets-list",
    f"{OGC_TILES}/geodata-tilesets",
    f"{OGC_TILES}/dataset-tilesets",
    f"{OGC_TILES}/oas30",
    f"{OGC_TILES}/mvt",
)
"""The OGC API - Tiles 1.0 classes served here. TileJSON is offered too (``tilejson.json``
beside each tile set) but OGC defines no class for it."""

REL_TILESETS_VECTOR = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
REL_TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
REL_TMS = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"
WMQ_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
TILE_CACHE_CONTROL = "private, no-cache"
"""Clients keep a tile and ask again with If-None-Match: 304 until the data changes.
Private: the incidents layer depends on who asks."""
STYLE_TYPE = "application/vnd.mapbox.style+json"


def collection_links(cid: str, base: str) -> list[dict[str, Any]]:
    """The links a collection (``/ogc/collections/{cid}``) adds for its tiles."""
    return [
        {
            "href": f"{base}/ogc/collections/{cid}/tiles",
            "rel": REL_TILESETS_VECTOR,
            "type": "application/json",
            "title": "Vector tiles of this collection (Mapbox Vector Tiles)",
        },
        {
            "href": f"{base}/ogc/collections/{cid}/tiles/{TMS_ID}/tilejson.json",
            "rel": "alternate",
            "type": "application/json",
            "title": "TileJSON of this collection's vector tiles",
        },
    ]


def landing_links(base: str) -> list[dict[str, Any]]:
    """The links the landing page (``/ogc``) adds for tiles and styles."""
    return [
        {
            "href": f"{base}/ogc/tileMatrixSets",
            "rel": REL_TMS,
            "type": "application/json",
            "title": "Tile matrix sets",
        },
        {
            "href": f"{base}/ogc/tiles",
            "rel": REL_TILESETS_VECTOR,
            "type": "application/json",
            "title": "Vector tiles of every main layer",
        },
        {
            "href": f"{base}/ogc/styles",
            "rel": "http://www.opengis.net/def/rel/ogc/1.0/styles",
            "type": "application/json",
            "title": "Styles",
        },
    ]


LANDING_LINKS = landing_links("")
"""``landing_links`` relative to the server (``landing_links(base)`` for absolute ones)."""

CollectionPath = Annotated[
    str,
    Path(
        description="A collection id: grids, buildings, facilities, facilities-<type>, "
        "incidents, coverage-<type>-grids, coverage-<type>-buildings.",
        max_length=80,
        examples=["buildings"],
    ),
]
TmsPath = Annotated[
    str, Path(description="The tile matrix set: WebMercatorQuad.", examples=[TMS_ID])
]
ZPath = Annotated[int, Path(description="Tile matrix (zoom level).", examples=[14])]
YPath = Annotated[int, Path(description="Tile row (0 at the top).", examples=[6394])]
XPath = Annotated[int, Path(description="Tile column.", examples=[13616])]
Reader = Annotated[Principal, Depends(access.TILES)]

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "model": ErrorDoc,
        "description": "No such collection, tile matrix set "
        "or tile (outside the tile set's zoom levels or the matrix).",
    }
}
TILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A Mapbox Vector Tile, one layer per collection (gzipped when accepted).",
        "content": {MVT: {"schema": {"type": "string", "format": "binary"}}},
    },
    204: {"description": "Nothing in this tile."},
    304: {"description": "Unchanged since the ETag sent in If-None-Match."},
    **NOT_FOUND,
}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _service(request: Request) -> TileService:
    service: TileService = request.app.state.tiles
    return service


def keep_tiles_current(request: Request) -> None:
    """After a write's commit: wait until the tile caches have dropped what it changed, so
    the writer's next tile shows it (the notification itself takes milliseconds)."""
    service: TileService | None = getattr(request.app.state, "tiles", None)
    if service is not None:
        service.sync()


def _tms(tms: str) -> None:
    if tms != TMS_ID:
        raise NotFoundError(
            f"no tile matrix set {tms!r}: this server tiles in {TMS_ID}",
            zh=f"没有瓦片矩阵集 {tms!r}：本服务使用 {TMS_ID}",
        )


def public_layers(request: Request) -> frozenset[str]:
    """The layers ``GRIDMAP_PUBLIC_LAYERS`` opens to anonymous readers."""
    names: frozenset[str] = get_settings(request).public_layer_names
    return names


def collection_layers(cid: str, principal: Principal, public: frozenset[str]) -> list[TileLayer]:
    """The layer of collection ``cid`` if the caller may read it (its REST layer's rule)."""
    layer = layer_named(cid)
    access.check_layer(principal, layer.kind, public)
    return [layer]


def dataset_layers(principal: Principal, public: frozenset[str]) -> list[TileLayer]:
    """Every main layer the caller may read (incidents only for those who may read them)."""
    return [layer for layer in MAIN_LAYERS if access.may_read_layer(principal, layer.kind, public)]


def audit_key(principal: Principal) -> str:
    """Whom a tile's audit record names: once per person (or key) and tile version."""
    return principal.ref or principal.name


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        token, _, params = part.strip().partition(";")
        if token.strip().lower() in ("gzip", "*"):
            q = params.strip().removeprefix("q=").strip()
            return q not in ("0", "0.0", "0.00", "0.000")
    return False


def tile_response(request: Request, tile: CachedTile) -> Response:
    """The answer for a tile: 304 if the client has it, 204 if empty, gzipped if accepted
    (also the warm path's, ``api.warm_tiles``)."""
    headers = {"ETag": tile.etag, "Cache-Control": TILE_CACHE_CONTROL, "Vary": "Accept-Encoding"}
    sent = request.headers.get("if-none-match")
    if sent is not None and tile.etag in {t.strip() for t in sent.split(",")}:
        return Response(status_code=304, headers=headers)
    if not tile.data:
        return Response(status_code=204, headers=headers)
    if tile.gzipped is not None and _accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return Response(tile.gzipped, media_type=MVT, headers=headers)
    return Response(tile.data, media_type=MVT, headers=headers)


async def _tile(
    request: Request,
    session: SessionDep,
    principal: Principal,
    key: str,
    layers: list[TileLayer],
    z: int,
    y: int,
    x: int,
    datum: Datum,
) -> Response:
    minzoom = min(layer.minzoom for layer in layers)
    maxzoom = max(layer.maxzoom for layer in layers)
    tile = tile_at(z, y, x, minzoom, maxzoom)
    scope = Scope.of(principal) if any(layer.per_viewer for layer in layers) else None
    service = _service(request)
    cached = service.cached(key, tile, datum, scope)
    if cached is None:
        cached = await run_in_threadpool(service.draw, session, key, layers, tile, datum, scope)
    if cached.personal_ids and audit_key(principal) not in cached.audited:
        await run_in_threadpool(
            record_read,
            session,
            request,
            principal,
            f"tile:{key or 'dataset'}/{tile}",
            detail={"incidents": list(cached.personal_ids)},
        )
        cached.audited.add(audit_key(principal))
    return tile_response(request, cached)


@router.get(
    "/tileMatrixSets",
    dependencies=[Depends(access.TILE_MATRIX_SETS)],
    summary="The tile matrix sets tiles are served in",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": TileMatrixSetsDoc}},
)
def tile_matrix_sets(request: Request) -> dict[str, Any]:
    """WebMercatorQuad (OGC's definition, EPSG:3857, 256-pixel tiles)."""
    tms = matrix_set()
    return {
        "tileMatrixSets": [
            {
                "id": TMS_ID,
                "title": tms.title,
                "uri": WMQ_URI,
                "links": [
                    {
                        "href": f"{_base(request)}/ogc/tileMatrixSets/{TMS_ID}",
                        "rel": REL_TILING_SCHEME,
                        "type": "application/json",
                    }
                ],
            }
        ]
    }


@router.get(
    "/tileMatrixSets/{tms}",
    dependencies=[Depends(access.TILE_MATRIX_SETS)],
    summary="A tile matrix set's definition (OGC 2D Tile Matrix Set 2.0)",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": TileMatrixSetDoc}, **NOT_FOUND},
)
def tile_matrix_set(tms: TmsPath) -> dict[str, Any]:
    """The zoom levels of WebMercatorQuad with their scales, origins and matrix sizes."""
    _tms(tms)
    body: dict[str, Any] = matrix_set().model_dump(mode="json", exclude_none=True)
    return body


def _tileset_links(base: str, path: str, datum: Datum) -> list[dict[str, Any]]:
    query = "" if datum == WGS84 else f"?datum={datum.label}"
    return [
        {"href": f"{base}{path}{query}", "rel": "self", "type": "application/json"},
        {
            "href": f"{base}/ogc/tileMatrixSets/{TMS_ID}",
            "rel": REL_TILING_SCHEME,
            "type": "application/json",
        },
        {
            "href": f"{base}{path}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}{query}",
            "rel": "item",
            "type": MVT,
            "templated": True,
        },
        {
            "href": f"{base}{path}/tilejson.json{query}",
            "rel": "alternate",
            "type": "application/json",
            "title": "TileJSON",
        },
    ]


def _geometry_dimension(layer: TileLayer) -> int:
    return 0 if layer.geometry == "Point" else 2


def _tileset(
    base: str, path: str, title: str, layers: list[TileLayer], datum: Datum
) -> dict[str, Any]:
    minzoom = min(layer.minzoom for layer in layers)
    maxzoom = max(layer.maxzoom for layer in layers)
    return {
        "title": title,
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": WMQ_URI,
        "tileMatrixSetLimits": [
            {
                "tileMatrix": str(z),
                "minTileRow": 0,
                "maxTileRow": (1 << z) - 1,
                "minTileCol": 0,
                "maxTileCol": (1 << z) - 1,
            }
            for z in range(minzoom, maxzoom + 1)
        ],
        "layers": [
            {
                "id": layer.id,
                "title": layer.title.en,
                "dataType": "vector",
                "geometryDimension": _geometry_dimension(layer),
                "minTileMatrix": str(layer.minzoom),
                "maxTileMatrix": str(layer.maxzoom),
                "propertiesSchema": {
                    "type": "object",
                    "properties": {
                        f.name: {
                            "type": {"Number": "number", "Boolean": "boolean"}.get(
                                f.kind, "string"
                            ),
                            "description": f.description,
                        }
                        for f in layer.fields
                    },
                },
            }
            for layer in layers
        ],
        "links": _tileset_links(base, path, datum),
    }


def _tilejson(
    request: Request,
    session: SessionDep,
    name: str,
    path: str,
    layers: list[TileLayer],
    datum: Datum,
) -> dict[str, Any]:
    base = _base(request)
    query = "" if datum == WGS84 else f"?datum={datum.label}"
    minzoom = min(layer.minzoom for layer in layers)
    maxzoom = max(layer.maxzoom for layer in layers)
    body: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": name,
        "description": "gridmap vector tiles (Mapbox Vector Tiles) in "
        f"{datum.display_name}; layers: {', '.join(layer.id for layer in layers)}",
        "scheme": "xyz",
        "tiles": [f"{base}{path}/{{z}}/{{y}}/{{x}}{query}"],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "vector_layers": [
            {
                "id": layer.id,
                "description": layer.title.en,
                "minzoom": layer.minzoom,
                "maxzoom": layer.maxzoom,
                "fields": {f.name: f.kind for f in layer.fields},
            }
            for layer in layers
        ],
    }
    bounds = data_bounds(session)
    if bounds is not None:
        west, south, east, north = bounds.west, bounds.south, bounds.east, bounds.north
        if not passes_through(datum):
            xs, ys = from_wgs84([west, east], [south, north], datum)
            west, east, south, north = float(xs[0]), float(xs[1]), float(ys[0]), float(ys[1])
        body["bounds"] = [round(v, 6) for v in (west, south, east, north)]
        body["center"] = [round((west + east) / 2, 6), round((south + north) / 2, 6), 14]
    return body


# ---- one collection --------------------------------------------------------------------


@router.get(
    "/collections/{cid}/tiles",
    summary="A collection's vector tile sets",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": TileSetsDoc}, **NOT_FOUND},
)
def collection_tilesets(
    request: Request, session: SessionDep, principal: Reader, cid: CollectionPath
) -> dict[str, Any]:
    """One tile set per tile matrix set (WebMercatorQuad), as Mapbox Vector Tiles."""
    layer = collection_layers(cid, principal, public_layers(request))[0]
    tile_layers.check_layer(session, layer)
    base = _base(request)
    path = f"/ogc/collections/{cid}/tiles/{TMS_ID}"
    entry = {
        "title": layer.title.en,
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": WMQ_URI,
        "links": _tileset_links(base, path, WGS84),
    }
    return {"tilesets": [entry]}


@router.get(
    "/collections/{cid}/tiles/{tms}",
    summary="A collection's vector tile set: its zoom levels, layer and fields",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": TileSetDoc}, **NOT_FOUND},
)
def collection_tileset(
    request: Request,
    session: SessionDep,
    principal: Reader,
    cid: CollectionPath,
    tms: TmsPath,
    datum: DatumOutDep,
) -> dict[str, Any]:
    """The tile set's limits (zoom levels), its one layer (named as the collection) with its
    fields, and the URL template of its tiles (``datum`` carried into the links)."""
    _tms(tms)
    layers = collection_layers(cid, principal, public_layers(request))
    tile_layers.check_layer(session, layers[0])
    path = f"/ogc/collections/{cid}/tiles/{TMS_ID}"
    return _tileset(_base(request), path, layers[0].title.en, layers, datum)


@router.get(
    "/collections/{cid}/tiles/{tms}/tilejson.json",
    summary="TileJSON 3.0 of a collection's vector tiles",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": TileJSONDoc}, **NOT_FOUND},
)
def collection_tilejson(
    request: Request,
    session: SessionDep,
    principal: Reader,
    cid: CollectionPath,
    tms: TmsPath,
    datum: DatumOutDep,
) -> dict[str, Any]:
    """The tile URL template (with ``datum`` when not WGS84), zooms, bounds of the data
    (in ``datum``) and the layer's fields, for MapLibre, Mapbox GL and QGIS."""
    _tms(tms)
    layers = collection_layers(cid, principal, public_layers(request))
    tile_layers.check_layer(session, layers[0])
    path = f"/ogc/collections/{cid}/tiles/{TMS_ID}"
    return _tilejson(request, session, cid, path, layers, datum)


@router.get(
    "/collections/{cid}/tiles/{tms}/{z}/{y}/{x}",
    summary="A vector tile of a collection (Mapbox Vector Tile)",
    response_class=Response,
    responses=TILE_RESPONSES,
)
async def collection_tile(
    request: Request,
    session: SessionDep,
    principal: Reader,
    cid: CollectionPath,
    tms: TmsPath,
    z: ZPath,
    y: YPath,
    x: XPath,
    datum: DatumOutDep,
) -> Response:
    """The tile ``z/y/x`` (row ``y`` from the top) with one layer named as the collection.
    Zooms: grids 8-18, facilities and incidents 10-18, buildings 13-18 (footprints from 16);
    outside them, or outside the matrix, a 404; nothing there, a 204.
    ``datum=gcj02|bd09``: features placed to line up on an Amap/Tencent or Baidu base map.
    Incidents: only those the caller may see, a personal case they are not responsible
    for at its grid's representative point (``masked``)."""
    _tms(tms)
    layers = collection_layers(cid, principal, public_layers(request))
    return await _tile(request, session, principal, cid, layers, z, y, x, datum)


# ---- the dataset: every main layer in one tile ----------------------------------------


@router.get(
    "/tiles",
    summary="The dataset's vector tile sets (every main layer in one tile)",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": TileSetsDoc}},
)
def dataset_tilesets(request: Request, principal: Reader) -> dict[str, Any]:
    """Grids, buildings, facilities and (for those who may read them) incidents."""
    path = f"/ogc/tiles/{TMS_ID}"
    entry = {
        "title": "gridmap",
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": WMQ_URI,
        "links": _tileset_links(_base(request), path, WGS84),
    }
    return {"tilesets": [entry]}


@router.get(
    "/tiles/{tms}",
    summary="The dataset's vector tile set: zoom levels, layers and their fields",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": TileSetDoc}, **NOT_FOUND},
)
def dataset_tileset(
    request: Request, principal: Reader, tms: TmsPath, datum: DatumOutDep
) -> dict[str, Any]:
    """One layer per collection, each with its own zooms (``minTileMatrix``..)."""
    _tms(tms)
    path = f"/ogc/tiles/{TMS_ID}"
    layers = dataset_layers(principal, public_layers(request))
    return _tileset(_base(request), path, "gridmap", layers, datum)


@router.get(
    "/tiles/{tms}/tilejson.json",
    summary="TileJSON 3.0 of the dataset's vector tiles",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": TileJSONDoc}, **NOT_FOUND},
)
def dataset_tilejson(
    request: Request, session: SessionDep, principal: Reader, tms: TmsPath, datum: DatumOutDep
) -> dict[str, Any]:
    """Every main layer the caller may read, with its fields and zooms."""
    _tms(tms)
    path = f"/ogc/tiles/{TMS_ID}"
    layers = dataset_layers(principal, public_layers(request))
    return _tilejson(request, session, "gridmap", path, layers, datum)


@router.get(
    "/tiles/{tms}/{z}/{y}/{x}",
    summary="A vector tile of every main layer (grids, buildings, facilities, incidents)",
    response_class=Response,
    responses=TILE_RESPONSES,
)
async def dataset_tile(
    request: Request,
    session: SessionDep,
    principal: Reader,
    tms: TmsPath,
    z: ZPath,
    y: YPath,
    x: XPath,
    datum: DatumOutDep,
) -> Response:
    """One layer per collection, each drawn within its own zooms (8-18 in all); the
    incidents layer only for those who may read incidents, narrowed and masked for them."""
    _tms(tms)
    layers = dataset_layers(principal, public_layers(request))
    return await _tile(request, session, principal, "", layers, z, y, x, datum)


# ---- styles ------------------------------------------------------------------------------


@router.get(
    "/styles",
    summary="The styles of the vector tiles",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": StylesDoc}},
)
def styles(request: Request, principal: Reader) -> dict[str, Any]:
    base = _base(request)
    return {
        "styles": [
            {
                "id": style_id,
                "title": "gridmap",
                "links": [
                    {
                        "href": f"{base}/ogc/styles/{style_id}",
                        "rel": "stylesheet",
                        "type": STYLE_TYPE,
                    }
                ],
            }
            for style_id in tilestyle.STYLE_IDS
        ]
    }


@router.get(
    "/styles/{style_id}",
    summary="A Mapbox GL / MapLibre style of the dataset tiles in gridmap's colours",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": StyleDoc}, **NOT_FOUND},
)
def style(
    request: Request,
    session: SessionDep,
    principal: Reader,
    style_id: Annotated[str, Path(max_length=40, examples=["default"])],
    datum: DatumOutDep,
) -> dict[str, Any]:
    """Grids, buildings (coloured by households), facilities (by type) and incidents (by
    step; a masked case hollow) over ``/ogc/tiles/WebMercatorQuad/tilejson.json`` (with
    ``datum`` for a GCJ-02 or BD-09 base map). QGIS and MapLibre load it as it is."""
    if style_id not in tilestyle.STYLE_IDS:
        raise NotFoundError(
            f"no style {style_id!r}: GET /ogc/styles lists them",
            zh=f"没有样式 {style_id!r}：样式列表见 GET /ogc/styles",
        )
    query = "" if datum == WGS84 else f"?datum={datum.label}"
    url = f"{_base(request)}/ogc/tiles/{TMS_ID}/tilejson.json{query}"
    return tilestyle.style(url, tile_layers.facility_type_codes(session))


__all__ = ["CONFORMANCE", "LANDING_LINKS", "collection_links", "landing_links", "router"]
