"""Pages for people: the district map at / and the API docs at /docs.

Both work without internet access: every asset comes from /static (the
vendored Leaflet and Swagger UI). The district map is a template and plain
JavaScript (``api/static/js/district.js``, configured by
``layers.districtmap``): the page itself is a few kB and draws the district
from two light answers (``GET /api/v1/map/outlines``, ``/api/v1/map/facilities``)
and the buildings and cases from vector tiles (``/ogc/collections/.../tiles``, styled
by ``/ogc/styles/default``). folium (``layers.webmap``) still draws the same layers for
notebooks and exported maps.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from api import access
from api.dependencies import SessionDep, SettingsDep
from api.pages import render_page, script_json
from api.routing import ReadRetryRoute
from api.security import with_script_nonces
from gis.areas import queries
from gis.coverage import facilities
from gis.incidents.catalogue import CATEGORIES
from gis.participation.kinds import KINDS
from gis.principal import Principal
from layers.districtmap import district_map_config, title_of
from layers.webmap import VENDOR_BASE

router = APIRouter(route_class=ReadRetryRoute, include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def district_map(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(access.DISTRICT_PAGE)],
) -> HTMLResponse:
    """The district map: subdistricts, communities and grids with their names, facilities,
    and from vector tiles the buildings (once zoomed in) and the cases the person may see,
    as switchable layers."""
    types = facilities.list_facility_types(session, limit=settings.max_page_size)
    catalogue = [(f["properties"]["code"], f["properties"]["name_zh"]) for f in types.features]
    extent = queries.current_extent(session)
    # The cases layer (vector tiles, narrowed and masked for the caller) only for a person
    # who may read cases at all.
    categories = (
        {c.code: c.name_zh for c in CATEGORIES} if access.INCIDENT_READ.allows(principal) else None
    )
    kinds = (
        {code: names.zh for code, names in KINDS.items()}
        if access.PARTICIPATION_READ.allows(principal)
        else None
    )
    config = district_map_config(
        catalogue, extent, incident_categories=categories, participation_kinds=kinds
    )
    title = title_of(queries.district_names(session))
    html = render_page(
        "district.html",
        request,
        config=script_json(config),
        title=title,
        empty=extent is None,
        preload=[config["basemap"], config["outlines"], config["facilities"]],
    )
    return HTMLResponse(html)


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
