"""What the light district map at / draws, as JSON for its script (``api/static/js/district.js``).

The page is a template and plain JavaScript on the vendored Leaflet (canvas
renderer): the layer definitions of ``layers.catalogue`` (titles, styles,
tooltips, popups) become one JSON object, and the areas and facilities come
from two light API answers (``/api/v1/map/outlines``, ``/api/v1/map/facilities``).
The large layers, buildings and cases, are vector tiles (``/ogc/tiles/...``)
drawn with the server's style (``/ogc/styles/...``, generated from ``layers/``:
their colours are not repeated here); this object says which of the tiles'
layers are switchable overlays and what their popups show. ``layers.webmap``
keeps drawing the same layers with folium for notebooks and exported HTML maps.

Names are drawn as labels by zoom: subdistricts on the district view,
communities from the middle zooms, grids once zoomed in far enough to read
them; labels that would overlap one already placed are hidden (larger areas
first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gis.incidents.workflow import State
from gis.tiles.layers import BUILDINGS as BUILDING_TILES
from layers.catalogue import (
    BUILDINGS,
    COMMUNITIES,
    DISTRICT,
    FACILITIES,
    GRIDS,
    SUBDISTRICTS,
    MapLayer,
    category_colours,
)
from layers.incidents import INCIDENT_POINTS_MIN_ZOOM, state_label
from layers.webmap import DEFAULT_CENTRE, NO_VALUE, VENDOR_BASE, viewport_config


@dataclass(frozen=True)
class LabelZooms:
    """Zooms (inclusive from, exclusive to) at which a layer's names are drawn."""

    min_zoom: float
    max_zoom: float = 99.0


LABEL_ZOOMS: Mapping[str, LabelZooms] = {
    SUBDISTRICTS.key: LabelZooms(0.0, 13.0),
    COMMUNITIES.key: LabelZooms(12.5, 16.0),
    GRIDS.key: LabelZooms(15.0),
}
"""A district of ~15 km opens near zoom 12 on a desktop and 10.5 on a phone: there
the ten subdistricts are what can be read; a community (1 km) from 12.5; a grid
(300 m) from 15, where its name fits inside it."""

OUTLINE_LAYERS: tuple[MapLayer, ...] = (DISTRICT, SUBDISTRICTS, COMMUNITIES, GRIDS)
"""Layers drawn from ``/api/v1/map/outlines``, bottom to top (its keys are theirs)."""

TITLE_DEFAULT = "网格化管理地图"

OGC = "/ogc"
TILE_STYLE = "default"
"""The style (``/ogc/styles/{id}``) the district map draws its vector tiles with."""
TILE_LIBRARY = f"{VENDOR_BASE}/protomaps-leaflet/protomaps-leaflet.js"
"""The renderer of the tiles (``api/static/vendor/README.md``), loaded once the map is usable."""
TILE_LEVEL_DIFF = 1
"""Leaflet's zoom over the tiles' (and the style's) zoom: the map draws 512-pixel tiles of
zoom z at its zoom z+1, as MapLibre and QGIS draw a GL style (fewer, fuller tiles)."""
PICK_PIXELS = 6
"""How near (CSS pixels) a click must come to a point of the tiles to pick it."""
ITEM_BOX_DEGREES = 0.0005
"""Half the side of the box (~50 m) a building picked in the tiles is looked up in
(``/api/v1/buildings?bbox=``, the record with its address and grid)."""

INCIDENTS_TITLE = "事件"
INCIDENT_POPUP: tuple[tuple[str, str], ...] = (
    ("ext_id", "编号"),
    ("category", "类别"),
    ("status", "状态"),
    ("reported_at", "上报时间"),
    ("description", "描述"),
    ("grid_code", "网格"),
)
"""What clicking a case on the map shows (from the tile's properties; a case the person
is not responsible for comes masked: at its grid's point, 已隐藏)."""


PARTICIPATION_TITLE = "居民议事"
PARTICIPATION_COLOURS: Mapping[str, str] = {
    "micro_project": "#d9480f",
    "people_decide": "#6741d9",
    "council_matter": "#0b7285",
}
"""A colour per kind of item (orange micro-projects, violet 由民做主, teal council matters):
apart from the facilities' category colours, which are drawn as smaller circles."""
PARTICIPATION_POPUP: tuple[tuple[str, str], ...] = (
    ("title", "事项"),
    ("kind_name", "类型"),
    ("status_name", "状态"),
    ("community_name", "社区"),
    ("budget_cny", "预算（元）"),
    ("spent_cny", "已支出（元）"),
    ("proposed_on", "提议日期"),
    ("council_name", "议事会"),
)
"""What clicking an item shows (its fields in the API's GeoJSON answer)."""
PARTICIPATION_RADIUS = 6


def _participation(kinds: Mapping[str, str], api: str) -> dict[str, Any]:
    """The residents' items overlay: off until switched on (the district view does not pay
    for it), then read from the participation list as GeoJSON, page by page."""
    return {
        "title": PARTICIPATION_TITLE,
        "show": False,
        "url": f"{api}/participation/items?format=geojson&limit=1000",
        "radius": PARTICIPATION_RADIUS,
        "kinds": [
            {"code": code, "name": name, "colour": PARTICIPATION_COLOURS[code]}
            for code, name in kinds.items()
        ],
        "popup": [list(f) for f in PARTICIPATION_POPUP],
    }


def _fields(layer: MapLayer, which: str) -> list[list[str]]:
    fields = layer.tooltip if which == "tooltip" else layer.popup
    return [[f.prop, f.label_zh] for f in fields]


def _layer(layer: MapLayer) -> dict[str, Any]:
    zooms = LABEL_ZOOMS.get(layer.key)
    return {
        "key": layer.key,
        "title": layer.title_zh,
        "style": layer.style.leaflet(),
        "show": layer.show,
        "tooltip": _fields(layer, "tooltip"),
        "popup": _fields(layer, "popup"),
        "label": {"minZoom": zooms.min_zoom, "maxZoom": zooms.max_zoom} if zooms else None,
    }


def title_of(districts: Sequence[str]) -> str:
    """The page title: 奎文区 网格化管理地图, or the plain title before an import."""
    return f"{'、'.join(districts)} {TITLE_DEFAULT}" if districts else TITLE_DEFAULT


def _tiled(layer: MapLayer, tile_minzoom: int) -> dict[str, Any]:
    """What the page needs of a layer drawn from the vector tiles: from which map zoom
    (the tile layer's, as the style says), its zoom hint, legend and popup (its colours
    are the style's)."""
    viewport = viewport_config(layer)
    keep = ("popup", "noValue", "hintId", "legendId")
    return {
        **{key: viewport[key] for key in keep},
        "minZoom": tile_minzoom + TILE_LEVEL_DIFF,
        # {zoom}: the style's zoom for the layer once known (minZoom until then)
        "messages": {"zoomIn": f"放大至{{zoom}}级显示{layer.title_zh}"},
    }


def _incidents(categories: Mapping[str, str]) -> dict[str, Any]:
    return {
        "sourceLayer": "incidents",
        "title": INCIDENTS_TITLE,
        "show": True,
        # as on the incident map: a district's year of cases is too many dots to read
        "minZoom": INCIDENT_POINTS_MIN_ZOOM,
        "popup": [list(f) for f in INCIDENT_POPUP],
        "names": {
            "category": dict(categories),
            "status": {state.value: state_label(state) for state in State},
        },
        "item": "/api/v1/incidents/{id}",
    }


def district_map_config(
    facility_types: Sequence[tuple[str, str]],
    extent: tuple[float, float, float, float] | None,
    api: str = "/api/v1",
    incident_categories: Mapping[str, str] | None = None,
    participation_kinds: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Everything ``district.js`` needs besides the data, as JSON-ready values.

    ``facility_types``: ``(code, name_zh)`` of the whole catalogue, so a type keeps
    its colour whatever is on screen; ``extent``: (west, south, east, north) where
    the map opens (``gis.areas.queries.current_extent``), None for an empty
    database (the map opens on ``DEFAULT_CENTRE`` and says there is no data);
    ``incident_categories``: code → Chinese name, for a person who may read cases
    (the cases layer is left out otherwise); ``participation_kinds``: code → Chinese name
    of the residents' items, for a person who may read them (left out otherwise).
    """
    colours = category_colours(code for code, _ in facility_types)
    bounds = [[extent[1], extent[0]], [extent[3], extent[2]]] if extent else None
    facility_style = FACILITIES.style
    return {
        "api": api,
        "outlines": f"{api}/map/outlines",
        "basemap": f"{api}/basemap",
        "facilities": f"{api}/map/facilities",
        "facility": f"{api}/facilities/",
        "bounds": bounds,
        "centre": list(DEFAULT_CENTRE),
        "layers": [_layer(layer) for layer in OUTLINE_LAYERS],
        "points": {
            **_layer(FACILITIES),
            "style": facility_style.leaflet(),
            "radius": facility_style.radius,
        },
        "facilityTypes": [
            {"code": code, "name": name, "colour": colours[code]} for code, name in facility_types
        ],
        "tiles": {
            "style": f"{OGC}/styles/{TILE_STYLE}",
            # each overlay from its collection's tiles: a view downloads only what it draws
            "layerTileJSON": f"{OGC}/collections/{{layer}}/tiles/WebMercatorQuad/tilejson.json",
            "library": TILE_LIBRARY,
            "levelDiff": TILE_LEVEL_DIFF,
            "pickPixels": PICK_PIXELS,
            "itemBoxDegrees": ITEM_BOX_DEGREES,
        },
        "buildings": {
            **_tiled(BUILDINGS, BUILDING_TILES.minzoom),
            "sourceLayer": "buildings",
            "item": f"{api}/buildings?limit=100&bbox={{bbox}}",
            "title": BUILDINGS.title_zh,
            "show": BUILDINGS.show,
            "legend": BUILDINGS.ramp.legend_rows() if BUILDINGS.ramp else [],
            "legendTitle": BUILDINGS.ramp.title_zh if BUILDINGS.ramp else "",
        },
        "incidents": _incidents(incident_categories) if incident_categories is not None else None,
        "participation": (
            _participation(participation_kinds, api) if participation_kinds is not None else None
        ),
        "noValue": NO_VALUE,
        "messages": {
            "failed": "地图数据加载失败：",
            "legend": "图例",
        },
    }
