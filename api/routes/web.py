"""Pages for people: the district map at / and the API docs at /docs.

Both work without internet access: every asset comes from /static/vendor.
The district map is drawn once for everyone (and cached by its data); who is
logged in (the user bar, the CSRF token) is added to each answer afterwards.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api import access
from api.dependencies import SessionDep, SettingsDep
from api.pages import page_user, user_bar
from api.routing import ReadRetryRoute
from api.security import with_script_nonces
from gis.areas import queries
from gis.coverage import facilities
from gis.geo.geojson import Feature, Page
from gis.incidents import listing
from gis.principal import Principal
from layers.catalogue import DISTRICT, MAP_LAYERS, MapLayer
from layers.webmap import VENDOR_BASE, render_map

router = APIRouter(route_class=ReadRetryRoute, include_in_schema=False)

_COLLECTIONS: dict[str, Callable[..., Page]] = {
    "areas": queries.list_areas,
    "grids": queries.list_grids,
    "buildings": queries.list_buildings,
    "facilities": facilities.list_facilities,
    "facility-types": facilities.list_facility_types,
    "incidents": listing.list_incidents,
}
"""API collection name → the query that feeds it (as in api.routes.features)."""


_NARROWED = frozenset({"incidents"})
"""Collections whose answers depend on who reads (``gis.incidents.visibility``)."""


def layer_collection(
    session: Session, layer: MapLayer, page_size: int, viewer: Principal
) -> dict[str, Any]:
    """Every feature of the layer's collection that ``viewer`` may see, page by page
    (incidents narrowed to their areas and masked as the API masks them)."""
    fetch = _COLLECTIONS[layer.collection]
    who = {"viewer": viewer} if layer.collection in _NARROWED else {}
    features: list[Feature] = []
    while True:
        page = fetch(session, limit=page_size, offset=len(features), **who, **dict(layer.params))
        features.extend(page.features)
        if not page.features or len(features) >= page.number_matched:
            break
    return {"type": "FeatureCollection", "features": features}


_PAGE_CACHE: OrderedDict[str, str] = OrderedDict()
_PAGE_CACHE_SIZE = 4
_PAGE_CACHE_LOCK = threading.Lock()


def cached_map_page(
    collections: Mapping[str, Any],
    category_names: Mapping[str, str],
    title: str,
    max_page_size: int | None = None,
) -> str:
    """The map page, rendered again only when the data shown on it changed.

    Drawing the page takes a second or more for a district of ~400 grids;
    reading the data takes a fraction of that, so the data itself is the key.
    ``max_page_size`` caps what the page asks for per view (layers loaded per view).
    """
    payload = json.dumps(
        [collections, category_names, title, max_page_size], sort_keys=True, default=str
    )
    key = hashlib.sha256(payload.encode()).hexdigest()
    with _PAGE_CACHE_LOCK:
        if key in _PAGE_CACHE:
            _PAGE_CACHE.move_to_end(key)
            return _PAGE_CACHE[key]
    page = render_map(
        collections, category_names=category_names, title=title, max_page_size=max_page_size
    )
    with _PAGE_CACHE_LOCK:
        _PAGE_CACHE[key] = page
        while len(_PAGE_CACHE) > _PAGE_CACHE_SIZE:
            _PAGE_CACHE.popitem(last=False)
    return page


_HEAD = re.compile(r"<head[^>]*>", re.I)
_BODY = re.compile(r"<body[^>]*>", re.I)


def with_user(page: str, request: Request) -> str:
    """``page`` with the CSRF meta tag in its head and the user bar opening its body."""
    csrf = page_user(request)["csrf"]
    if csrf:
        meta = f'<meta name="csrf-token" content="{html.escape(csrf)}">'
        page = _HEAD.sub(lambda m: m.group(0) + meta, page, count=1)
    bar = user_bar(request)
    return _BODY.sub(lambda m: m.group(0) + bar, page, count=1)


@router.get("/", response_class=HTMLResponse)
def district_map(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(access.DISTRICT_PAGE)],
) -> HTMLResponse:
    """The district map: areas, grids, buildings and facilities as switchable layers.

    Layers loaded per view (buildings) are not embedded: the page fetches them
    from the API as the user zooms in.
    """
    collections = {
        layer.key: layer_collection(session, layer, settings.max_page_size, principal)
        for layer in MAP_LAYERS
        if layer.embedded
    }
    types = facilities.list_facility_types(session, limit=settings.max_page_size)
    names = {f["properties"]["code"]: f["properties"]["name_zh"] for f in types.features}
    districts = [f["properties"]["name"] for f in collections[DISTRICT.key]["features"]]
    title = f"{'、'.join(districts)} 网格化管理地图" if districts else "网格化管理地图"
    page = cached_map_page(collections, names, title, settings.max_page_size)
    return HTMLResponse(with_user(with_script_nonces(page), request))


@router.get("/docs", dependencies=[Depends(access.PUBLIC)], response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    app = request.app
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url,
        title=f"{app.title} - API",
        oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
        swagger_js_url=f"{VENDOR_BASE}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR_BASE}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{VENDOR_BASE}/swagger-ui/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )
    return HTMLResponse(with_script_nonces(bytes(page.body).decode("utf-8")))


@router.get(
    "/docs/oauth2-redirect", dependencies=[Depends(access.PUBLIC)], response_class=HTMLResponse
)
def swagger_ui_redirect() -> HTMLResponse:
    page = get_swagger_ui_oauth2_redirect_html()
    return HTMLResponse(with_script_nonces(bytes(page.body).decode("utf-8")))
