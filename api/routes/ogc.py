"""OGC API - Features, Parts 1 (Core, GeoJSON, OpenAPI 3.0), 2 (CRS by reference) and
3 (filtering with CQL2 text and JSON, queryables) at /ogc.

GDAL's ``OAPIF:`` driver, QGIS and OWSLib connect to ``{base}/ogc``. The
collections, their sources (narrowed and masked for the caller), filters, CRSs and
paging are ``gis.features``; here the parameters are read, the caller's rule for the
collection checked (``api.access.collection_rule``), and the answer assembled: a
page is PostgreSQL's GeoJSON text joined into one body, with ``next``/``prev`` links
that page by keyset (``after``/``before`` the last/first id) and ``numberMatched``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from api import access, limits
from api.audited import record_read
from api.dependencies import DatumOutDep, SessionDep, SettingsDep
from api.fields import INT8_MAX, Text
from api.lang import request_lang
from api.ogc_docs import (
    ConformanceDoc,
    CrsDefinitionDoc,
    LandingPageDoc,
    OgcCollectionDoc,
    OgcCollectionsDoc,
    OgcFeatureCollectionDoc,
    OgcFeatureDoc,
    QueryablesDoc,
)
from api.responses import GEOJSON, HEAVY_RESPONSES, GeoJSONResponse
from api.routes import exports as exports_routes  # module only: it imports this one
from api.routes import tiles as tiles_routes
from api.routing import ReadRetryRoute
from gis.coverage.live import CoverageService, snapshot
from gis.coverage.store import CoverageModel
from gis.errors import InvalidParameterError, NotFoundError
from gis.features import collections as catalogue_
from gis.features import crs as crs_
from gis.features import filters, query
from gis.features.collections import Access, Collection
from gis.geo.datum import WGS84, Datum, geojson_from_wgs84
from gis.incidents import visibility
from gis.lang import Lang
from gis.principal import Principal
from gis.tiles import layers as tile_layers

CONFORMANCE: tuple[str, ...] = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    *tiles_routes.CONFORMANCE,
)
"""Every conformance class /ogc/conformance declares: Features (Parts 1-3, CQL2) here,
Tiles from ``api.routes.tiles``, exports (none: bulk downloads have no class)."""

JSON_MEDIA = "application/json"
SCHEMA_MEDIA = "application/schema+json"
OPENAPI_MEDIA = "application/vnd.oai.openapi+json;version=3.0"
TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"


class SchemaJSONResponse(JSONResponse):
    media_type = SCHEMA_MEDIA


router = APIRouter(route_class=ReadRetryRoute, prefix="/ogc", tags=["ogc"])

F_DOC = "Output format: json (GeoJSON or JSON; the only one here, /export has the others)."
FormatQuery = Annotated[Literal["json", "geojson"] | None, Query(alias="f", description=F_DOC)]


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _link(href: str, rel: str, media: str | None = JSON_MEDIA, title: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"href": href, "rel": rel}
    if media:
        out["type"] = media
    if title:
        out["title"] = title
    return out


def _json(body: Any, media: str = JSON_MEDIA, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), media_type=media, headers=headers)


# ---- landing, conformance, CRS documents: public, no data ---------------------------------


@router.get(
    "",
    dependencies=[Depends(access.PUBLIC)],
    summary="OGC API landing page",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": LandingPageDoc}},
)
def landing(request: Request, f: FormatQuery = None) -> Response:
    """Links to the API description (``service-desc``), its documentation (``service-doc``),
    the conformance classes and the collections (``data``)."""
    base = base_url(request)
    zh = request_lang(request) is Lang.ZH
    return _json(
        {
            "title": "gridmap",
            "description": "网格化管理与服务设施覆盖数据（OGC API - Features）"
            if zh
            else "Community grid management and service coverage (OGC API - Features)",
            "links": [
                _link(f"{base}/ogc", "self", title="this document"),
                _link(f"{base}/openapi.json", "service-desc", OPENAPI_MEDIA, "the API (OpenAPI)"),
                _link(f"{base}/docs", "service-doc", "text/html", "the API's documentation"),
                _link(f"{base}/ogc/conformance", "conformance", title="conformance classes"),
                _link(f"{base}/ogc/collections", "data", title="the collections"),
                *tiles_routes.landing_links(base),
            ],
        }
    )


@router.get(
    "/conformance",
    dependencies=[Depends(access.PUBLIC)],
    summary="Conformance classes implemented",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": ConformanceDoc}},
)
def conformance(f: FormatQuery = None) -> Response:
    """The URIs of the OGC conformance classes this server implements."""
    return _json({"conformsTo": list(CONFORMANCE)})


_CRS_TEXT = {
    "gcj02": (
        "GCJ-02",
        "The datum of Chinese consumer maps (Amap/Gaode, Tencent, WeChat): WGS84 shifted "
        "by an obfuscating offset of about 100-700 m. Longitude and latitude in degrees, "
        "in that order. This server converts with prcoords' iterative inverses (below 1 cm).",
        "国测局坐标（火星坐标，高德、腾讯、微信地图所用）：WGS84 经加偏，偏移约 100-700 米。"
        "经度、纬度（度），经度在前。本服务用 prcoords 的迭代反算转换（误差小于 1 厘米）。",
    ),
    "bd09": (
        "BD-09",
        "The datum of Baidu maps: GCJ-02 with Baidu's further offset. Longitude and "
        "latitude in degrees, in that order.",
        "百度坐标：在 GCJ-02 基础上再经百度加偏。经度、纬度（度），经度在前。",
    ),
}


@router.get(
    "/crs/{name}",
    dependencies=[Depends(access.PUBLIC)],
    summary="What one of this server's CRS URIs means (GCJ-02, BD-09)",
    response_model=None,
    response_class=JSONResponse,
    responses={
        200: {"model": CrsDefinitionDoc},
        404: {"description": "No such CRS here."},
    },
)
def crs_document(
    request: Request,
    name: Annotated[str, Path(description="gcj02 or bd09.", max_length=16)],
    f: FormatQuery = None,
) -> Response:
    """GCJ-02 and BD-09 have no EPSG code; items are answered in them with
    ``crs={base}/ogc/crs/gcj02`` (or ``bd09``), and this document says what that is."""
    if name not in _CRS_TEXT:
        raise NotFoundError(
            f"there is no CRS {name[:16]!r} here; use gcj02 or bd09",
            zh=f"没有坐标参考系 {name[:16]!r}；请使用 gcj02 或 bd09",
        )
    title, en, zh = _CRS_TEXT[name]
    return _json(
        {
            "id": name,
            "uri": f"{base_url(request)}{crs_.OWN_CRS_PATH}{name}",
            "name": title,
            "axes": ["longitude (degrees east)", "latitude (degrees north)"],
            "base": crs_.CRS84,
            "description": en,
            "description_zh": zh,
        }
    )


# ---- collections ---------------------------------------------------------------------------


def readable(principal: Principal, coll: Collection) -> bool:
    return access.collection_rule(coll.access).allows(principal)


def walk_models(request: Request, session: Any) -> catalogue_.WalkModels | None:
    """Walking models from the app's live coverage cache (snapshots, so a change that
    arrives while a page is written does not reach it), or None to build them afresh."""
    service: CoverageService | None = getattr(request.app.state, "coverage", None)
    if service is None:
        return None
    conn = session.connection()

    def model(type_code: str, radius_m: float) -> CoverageModel:
        with service.view(type_code, radius_m, conn, "network") as walking:
            return snapshot(walking)

    return model


def collection_for(request: Request, session: Any, principal: Principal, cid: str) -> Collection:
    """The collection ``cid``, after checking the caller may read it (403 otherwise)."""
    coll = catalogue_.find(session, cid, walk_models(request, session))
    access.collection_rule(coll.access).check(principal)
    return coll


def _tile_links(cid: str, base: str) -> list[dict[str, Any]]:
    """Links to the collection's vector tiles, when it has a tile layer."""
    try:
        tile_layers.layer_named(cid)
    except NotFoundError:
        return []
    return tiles_routes.collection_links(cid, base)


def _collection_doc(
    session: Any, coll: Collection, principal: Principal, base: str, lang: Lang
) -> dict[str, Any]:
    url = f"{base}/ogc/collections/{coll.id}"
    extent: dict[str, Any] = {}
    bbox = query.spatial_extent(session)
    if bbox is not None:
        extent["spatial"] = {"bbox": [bbox], "crs": crs_.CRS84}
    interval = query.temporal_extent(session, coll, principal)
    if interval is not None:
        extent["temporal"] = {"interval": [interval], "trs": TRS}
    doc: dict[str, Any] = {
        "id": coll.id,
        "title": coll.title.pick(lang),
        "description": coll.description.pick(lang),
        "itemType": "feature",
        "crs": [c.uri for c in crs_.supported(base)],
        "storageCrs": crs_.CRS84,
        "links": [
            _link(url, "self", title=coll.title.pick(lang)),
            _link(f"{url}/items", "items", GEOJSON, "items (GeoJSON)"),
            _link(
                f"{url}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                SCHEMA_MEDIA,
                "queryables",
            ),
            # The rel GDAL 3.6's OAPIF driver looks for (a draft of Part 3).
            _link(f"{url}/queryables", "queryables", SCHEMA_MEDIA, "queryables"),
            *_tile_links(coll.id, base),
            *exports_routes.collection_links(coll.id, base),
        ],
    }
    if extent:
        doc["extent"] = extent
    return doc


@router.get(
    "/collections",
    summary="The collections the caller may read",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": OgcCollectionsDoc}},
)
def list_collections(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(access.OGC_FEATURES)],
    f: FormatQuery = None,
) -> Response:
    """Areas per level, grids, buildings, facilities (and one per facility type),
    incidents (for those who may read them) and coverage, with extents and CRSs."""
    base = base_url(request)
    lang = request_lang(request)
    colls = [
        _collection_doc(session, c, principal, base, lang)
        for c in catalogue_.catalogue(session)
        if readable(principal, c)
    ]
    return _json(
        {
            "links": [_link(f"{base}/ogc/collections", "self")],
            "collections": colls,
            "crs": [c.uri for c in crs_.supported(base)],
        }
    )


ANALYSIS_PREFIXES = ("coverage-", "blind-spots-")


def _analysis(request: Request) -> bool:
    """Coverage and blind spots compute over the whole district: heavy reads."""
    return str(request.path_params.get("cid", "")).startswith(ANALYSIS_PREFIXES)


ANALYSIS_HEAVY = limits.heavy_if(_analysis)

CidPath = Annotated[
    str,
    Path(description="A collection id, as GET /ogc/collections lists them.", max_length=80),
]


@router.get(
    "/collections/{cid}",
    summary="One collection: extent, CRSs, links to items and queryables",
    response_model=None,
    response_class=JSONResponse,
    responses={200: {"model": OgcCollectionDoc}, 404: {"description": "No such collection."}},
)
def get_collection(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(access.OGC_FEATURES)],
    cid: CidPath,
    f: FormatQuery = None,
) -> Response:
    """The collection's description, spatial and temporal extent, CRSs (``storageCrs``
    CRS84) and links."""
    coll = collection_for(request, session, principal, cid)
    return _json(
        _collection_doc(session, coll, principal, base_url(request), request_lang(request))
    )


@router.get(
    "/collections/{cid}/queryables",
    summary="What a filter may name (JSON Schema)",
    response_model=None,
    response_class=SchemaJSONResponse,
    responses={
        200: {
            "model": QueryablesDoc,
            "content": {JSON_MEDIA: {"schema": {"$ref": "#/components/schemas/QueryablesDoc"}}},
        },
        404: {"description": "No such collection."},
    },
)
def get_queryables(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(access.OGC_FEATURES)],
    cid: CidPath,
    f: FormatQuery = None,
) -> Response:
    """Each property with its JSON type (dates and times as strings of that format),
    and ``geometry``; the names a ``filter`` may use and the query parameters
    ``?name=value`` filter by. As ``application/schema+json``, or ``application/json`` to a
    client that accepts only that (GDAL 3.6)."""
    coll = collection_for(request, session, principal, cid)
    url = f"{base_url(request)}/ogc/collections/{coll.id}/queryables"
    accept = request.headers.get("accept", "")
    plain = "application/json" in accept and SCHEMA_MEDIA not in accept
    return _json(filters.queryables(coll, url), JSON_MEDIA if plain else SCHEMA_MEDIA)


# ---- items ---------------------------------------------------------------------------------


def out_crs(request: Request, crs: str | None, datum: Datum) -> crs_.Crs:
    """The CRS of the answer from ``crs`` and ``datum`` (both may be given if they agree)."""
    base = base_url(request)
    by_datum = {
        "wgs84": crs_.CRS84,
        "cgcs2000": crs_.CRS84,
        "gcj02": f"{base}{crs_.OWN_CRS_PATH}gcj02",
        "bd09": f"{base}{crs_.OWN_CRS_PATH}bd09",
    }
    if crs is None:
        found = crs_.find_crs(by_datum[datum.kind.value], base)
        return crs_.Crs(found.uri, datum) if datum.kind.value == "cgcs2000" else found
    chosen = crs_.find_crs(crs, base)
    datum_given = "datum" in request.query_params
    if datum_given and chosen.datum.kind is not datum.kind:
        raise InvalidParameterError(
            f"crs {chosen.uri} and datum {datum.label} disagree; give one of them",
            zh=f"crs（{chosen.uri}）与 datum（{datum.label}）不一致；请只给出其中一个",
        )
    return chosen


def _converted(features: list[str], out: crs_.Crs) -> list[bytes]:
    if out.stored:
        return [f.encode() for f in features]
    return [orjson.dumps(geojson_from_wgs84(orjson.loads(f), out.datum)) for f in features]


_RESERVED = {
    "limit",
    "offset",
    "after",
    "before",
    "bbox",
    "bbox-crs",
    "datetime",
    "filter",
    "filter-lang",
    "filter-crs",
    "crs",
    "datum",
    "f",
}


def property_filters(request: Request, coll: Collection) -> tuple[tuple[str, str], ...]:
    """``?name=value`` for queryables (Part 3 queryables-query-parameters); other unknown
    parameters (a cache-buster) are ignored as elsewhere."""
    names = set(coll.property_names)
    return tuple(
        (key, value)
        for key, value in request.query_params.multi_items()
        if key in names and key not in _RESERVED
    )


def _page_links(
    request: Request, page: query.Page, coll: Collection, limit: int
) -> list[dict[str, Any]]:
    url = request.url
    links = [
        _link(str(url), "self", GEOJSON, "this page"),
        _link(f"{base_url(request)}/ogc/collections/{coll.id}", "collection", title=coll.title.en),
    ]
    moved = url.remove_query_params(["offset", "after", "before", "limit"])
    if page.has_next and page.ids:
        nxt = moved.include_query_params(limit=limit, after=page.ids[-1])
        links.append(_link(str(nxt), "next", GEOJSON, "next page"))
    if page.has_prev:
        if page.ids:
            prev = moved.include_query_params(limit=limit, before=page.ids[0])
        else:
            prev = moved.include_query_params(limit=limit)
        links.append(_link(str(prev), "prev", GEOJSON, "previous page"))
    return links


ITEM_QUERY_DOC = "Only items matching a CQL2 filter over the queryables, in filter-lang."


@router.get(
    "/collections/{cid}/items",
    summary="The items of a collection, a page at a time",
    dependencies=[ANALYSIS_HEAVY],
    response_model=None,
    response_class=GeoJSONResponse,
    responses={
        200: {"model": OgcFeatureCollectionDoc},
        404: {"description": "No such collection."},
        **HEAVY_RESPONSES,
    },
)
def get_items(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(access.OGC_FEATURES)],
    cid: CidPath,
    datum: DatumOutDep,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=INT8_MAX,
            description="Items per page (default 100); above the server's maximum page size "
            "(GRIDMAP_MAX_PAGE_SIZE, 5000) it is that maximum: follow the next link.",
        ),
    ] = query.DEFAULT_LIMIT,
    offset: Annotated[
        int, Query(ge=0, le=INT8_MAX, description="Skip this many items (next links use after).")
    ] = 0,
    after: Annotated[
        Annotated[Text, Field(max_length=100)] | None,
        Query(description="Items with an id above this (what next links carry)."),
    ] = None,
    before: Annotated[
        Annotated[Text, Field(max_length=100)] | None,
        Query(description="Items with an id below this (what prev links carry)."),
    ] = None,
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
        Annotated[Text, Field(max_length=filters.MAX_FILTER_CHARS)] | None,
        Query(description=ITEM_QUERY_DOC, examples=["floors > 5 AND name LIKE '%楼%'"]),
    ] = None,
    filter_lang: Annotated[
        Literal["cql2-text", "cql2-json", "cql-text"],
        Query(
            alias="filter-lang",
            description="cql2-text (default) or cql2-json; cql-text, the draft's name that "
            "GDAL 3.6 sends, is read as cql2-text.",
        ),
    ] = "cql2-text",
    filter_crs: Annotated[
        Annotated[Text, Field(max_length=300)] | None,
        Query(alias="filter-crs", description="CRS URI of the filter's geometries."),
    ] = None,
    crs: Annotated[
        Annotated[Text, Field(max_length=300)] | None,
        Query(
            description="CRS URI of the answer: CRS84 (default), EPSG:4326/4490 (lat/lon), "
            "{base}/ogc/crs/gcj02 or /bd09."
        ),
    ] = None,
    f: FormatQuery = None,
) -> Response:
    """GeoJSON features of the collection as the caller may see them (incidents narrowed
    to their areas and masked where they are not responsible; filters, bbox and datetime
    apply to the masked values). ``numberMatched`` counts every page; ``next``/``prev``
    links page by keyset. A page of incidents showing personal data in full is audited."""
    coll = collection_for(request, session, principal, cid)
    out = out_crs(request, crs, datum)
    base = base_url(request)
    q = query.ItemQuery(
        bbox=(
            crs_.bbox_to_wgs84(
                bbox,
                crs_.find_crs(bbox_crs, base, "bbox-crs")
                if bbox_crs
                else crs_.find_crs(crs_.CRS84, base),
            )
            if bbox
            else None
        ),
        datetime=query.parse_datetime(datetime) if datetime is not None else None,
        filter=filter,
        equals=property_filters(request, coll),
        filter_lang="cql2-text" if filter_lang == "cql-text" else filter_lang,
        filter_crs=crs_.find_crs(filter_crs, base, "filter-crs") if filter_crs else None,
        limit=min(limit, settings.max_page_size),
        offset=offset,
        after=None if after is None else query.parse_id(coll, after, "after"),
        before=None if before is None else query.parse_id(coll, before, "before"),
    )
    if bbox_crs and not bbox:
        crs_.find_crs(bbox_crs, base, "bbox-crs")
    matched = query.count(session, coll, principal, q)
    page = query.page_json(session, coll, principal, q, lat_lon=out.lat_lon)
    if coll.access is Access.INCIDENTS:
        _audit_incidents(session, request, principal, page.features)
    links = _page_links(request, page, coll, q.limit)
    head = {
        "type": "FeatureCollection",
        "numberMatched": matched,
        "numberReturned": len(page.features),
        "timeStamp": dt.datetime.now(dt.UTC)
        .replace(microsecond=0)
        .isoformat()
        .replace("+00:00", "Z"),
        "links": links,
    }
    body = (
        orjson.dumps(head)[:-1]
        + b',"features":['
        + b",".join(_converted(page.features, out))
        + b"]}"
    )
    paging = [
        f'<{x["href"]}>; rel="{x["rel"]}"; type="{GEOJSON}"'
        for x in links
        if x["rel"] in ("next", "prev")
    ]
    headers = {"Content-Crs": f"<{out.uri}>"}
    if paging:
        headers["Link"] = ", ".join(paging)
    return Response(body, media_type=GEOJSON, headers=headers)


def _audit_incidents(
    session: Any, request: Request, principal: Principal, features: list[str]
) -> None:
    shown = [orjson.loads(f) for f in features]
    ids = [
        f["id"]
        for f in shown
        if visibility.is_personal(f["properties"]["category"]) and not f["properties"]["masked"]
    ]
    if ids:
        record_read(session, request, principal, "ogc:incidents", detail={"incidents": ids})


@router.get(
    "/collections/{cid}/items/{fid}",
    summary="One item",
    dependencies=[ANALYSIS_HEAVY],
    response_model=None,
    response_class=GeoJSONResponse,
    responses={
        200: {"model": OgcFeatureDoc},
        404: {"description": "No such collection or item (or one out of the caller's reach)."},
        **HEAVY_RESPONSES,
    },
)
def get_item(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(access.OGC_FEATURES)],
    cid: CidPath,
    fid: Annotated[Annotated[Text, Field(max_length=100)], Path(description="The item's id.")],
    datum: DatumOutDep,
    crs: Annotated[
        Annotated[Text, Field(max_length=300)] | None,
        Query(description="CRS URI of the answer (as for items)."),
    ] = None,
    f: FormatQuery = None,
) -> Response:
    """The item as the caller may see it (a masked incident as masked; one out of reach
    is a 404 like a missing one), with links to itself and its collection."""
    coll = collection_for(request, session, principal, cid)
    out = out_crs(request, crs, datum)
    text = query.item_json(session, coll, principal, fid, lat_lon=out.lat_lon)
    if coll.access is Access.INCIDENTS:
        _audit_incidents(session, request, principal, [text])
    item = orjson.loads(text)
    if not out.stored:
        item = geojson_from_wgs84(item, out.datum)
    url = f"{base_url(request)}/ogc/collections/{coll.id}"
    item["links"] = [
        _link(str(request.url), "self", GEOJSON),
        _link(url, "collection"),
    ]
    return _json(item, GEOJSON, {"Content-Crs": f"<{out.uri}>"})


__all__ = ["CONFORMANCE", "WGS84", "router"]
