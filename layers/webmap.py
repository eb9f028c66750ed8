"""The district web map: one HTML page drawn with folium (Leaflet) from layer definitions.

The caller passes the GeoJSON of each embedded layer (this module never
touches the database or HTTP). Layers loaded per view (``MapLayer.viewport``,
e.g. buildings) get an empty layer group, a hint and a call to the app's own
``viewport-layer.js``, which fetches their features from the API as the user
pans and zooms. The page must work without internet access, so it has no tile
layer (a plain background instead) and every script, stylesheet and font
folium asks for is served from the app's vendored copies (see
``api/static/vendor/README.md`` and ``scripts/vendor_assets.sh``).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from layers.catalogue import MAP_LAYERS, ColourRamp, MapLayer, category_colours

if TYPE_CHECKING:  # folium is imported lazily: importing the API must not need it
    from branca.element import Element

VENDOR_BASE = "/static/vendor"
SCRIPT_BASE = "/static/js"
"""Where the app serves its own scripts (``api/static/js``)."""
VIEWPORT_SCRIPT = "viewport-layer.js"
"""Fills the layers loaded per view; defines ``gridmapViewportLayer(map, group, config)``."""
POINTS_PANE = "gm-points"
POINTS_PANE_Z = 450
"""Point layers (facilities) sit above areas, grids and per-view layers so they stay clickable."""

VENDORED_ASSETS: dict[str, str] = {
    "leaflet": "leaflet/leaflet.js",
    "jquery": "jquery/jquery.min.js",
    "bootstrap": "bootstrap/js/bootstrap.bundle.min.js",
    "awesome_markers": "awesome-markers/leaflet.awesome-markers.min.js",
    "leaflet_css": "leaflet/leaflet.css",
    "bootstrap_css": "bootstrap/css/bootstrap.min.css",
    "glyphicons_css": "glyphicons/css/bootstrap.min.css",
    "awesome_markers_font_css": "fontawesome/css/all.min.css",
    "awesome_markers_css": "awesome-markers/leaflet.awesome-markers.css",
    "awesome_rotate_css": "folium/leaflet.awesome.rotate.min.css",
}
"""folium's asset names (``default_js``/``default_css``) → files under ``VENDOR_BASE``."""

DEFAULT_CENTRE = (36.70, 119.16)
"""Where an empty map opens (latitude, longitude): Kuiwen district, Weifang."""

NO_VALUE = "—"

_REMOTE_ASSET = re.compile(
    r"<(?:script[^>]*\bsrc|link[^>]*\bhref)\s*=\s*[\"']?((?:https?:)?//[^\"' >]+)", re.I
)

_CSS = """
<link rel="icon" href="data:,">
<style>
  html body .leaflet-container { background: #f4f2ee; }
  .gm-label {
    position: absolute; transform: translate(-50%, -50%); white-space: nowrap;
    font: 600 13px/1.2 "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
    color: #1a365d; pointer-events: none;
    text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 3px #fff;
  }
  .gm-legend, .gm-notice, .gm-title, .gm-hint {
    position: fixed; z-index: 1000; background: rgba(255, 255, 255, 0.92);
    padding: 6px 10px; border-radius: 4px; box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3);
    font: 12px/1.5 "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
  }
  .gm-legend { right: 10px; bottom: 28px; }
  .gm-title { left: 54px; top: 10px; font-size: 15px; font-weight: 600; }
  .gm-title a { font-size: 12px; font-weight: 400; margin-left: 10px; }
  .gm-legend i {
    display: inline-block; width: 10px; height: 10px; border-radius: 50%;
    margin-right: 6px; border: 1px solid #fff; box-shadow: 0 0 0 1px #999;
  }
  .gm-notice { left: 50%; top: 12px; transform: translateX(-50%); }
  .gm-hint { left: 50%; bottom: 28px; transform: translateX(-50%); display: none; }
  .gm-legend-section + .gm-legend-section { margin-top: 6px; }
  .gm-legend i.gm-swatch { border-radius: 1px; border-color: #7b341e; box-shadow: none; }
  .gm-fields th { padding-right: 8px; font-weight: 600; white-space: nowrap; }
  .gm-fields td { max-width: 260px; }
</style>
"""


_DECLUTTER_JS = """
(function () {
  // Hide labels that would overlap one already shown; earlier labels (larger
  // areas) win. Runs again whenever the view or the visible layers change.
  var map = %(map)s;
  function declutter() {
    var placed = [];
    document.querySelectorAll('.gm-label').forEach(function (el) {
      el.style.visibility = 'visible';
      var r = el.getBoundingClientRect();
      if (r.width === 0) { return; }
      var hit = placed.some(function (p) {
        return r.left < p.right + 4 && r.right + 4 > p.left &&
               r.top < p.bottom + 2 && r.bottom + 2 > p.top;
      });
      if (hit) { el.style.visibility = 'hidden'; } else { placed.push(r); }
    });
  }
  map.on('zoomend moveend overlayadd overlayremove', declutter);
  map.whenReady(declutter);
})();
"""


class OfflineAssetError(RuntimeError):
    """folium asked for a browser asset that is not vendored, so the page would need internet."""


def vendored_url(name: str, url: str, base: str = VENDOR_BASE) -> str:
    """The local URL for folium's asset ``name``; local URLs pass through unchanged."""
    if not re.match(r"^(https?:)?//", url):
        return url
    if name not in VENDORED_ASSETS:
        raise OfflineAssetError(
            f"folium wants the asset {name!r} from {url}, which is not vendored. Add it to "
            "scripts/vendor_assets.sh and VENDORED_ASSETS in layers/webmap.py."
        )
    return f"{base.rstrip('/')}/{VENDORED_ASSETS[name]}"


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def _localise_assets(root: Element, base: str) -> None:
    """Point every folium element's JS/CSS links at the vendored copies."""
    for element in _walk(root):
        for attr in ("default_js", "default_css"):
            links = getattr(element, attr, None)
            if links:
                setattr(element, attr, [(n, vendored_url(n, u, base)) for n, u in links])


def _display_copy(collection: Mapping[str, Any], shown: Sequence[str]) -> dict[str, Any]:
    """The collection with the shown properties made safe for HTML (popups use innerHTML)."""
    features = []
    for feature in collection.get("features", []):
        props = dict(feature.get("properties") or {})
        for prop in shown:
            value = props.get(prop)
            if value is None:
                props[prop] = NO_VALUE
            elif isinstance(value, str):
                props[prop] = html.escape(value)
        features.append({**feature, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def _bounds(collections: Mapping[str, Mapping[str, Any]]) -> list[list[float]] | None:
    """[[south, west], [north, east]] of every geometry, or None if there is none."""
    from shapely.geometry import shape

    boxes = [
        shape(f["geometry"]).bounds
        for c in collections.values()
        for f in c.get("features", [])
        if f.get("geometry")
    ]
    if not boxes:
        return None
    return [
        [min(b[1] for b in boxes), min(b[0] for b in boxes)],
        [max(b[3] for b in boxes), max(b[2] for b in boxes)],
    ]


def _add_labels(group: Any, layer: MapLayer, collection: Mapping[str, Any]) -> None:
    import folium
    from shapely.geometry import shape

    assert layer.label is not None
    labelled = []
    for feature in collection.get("features", []):
        text = (feature.get("properties") or {}).get(layer.label)
        if text and feature.get("geometry"):
            labelled.append((shape(feature["geometry"]), str(text)))
    # Larger areas first: where labels collide, theirs are the ones kept.
    labelled.sort(key=lambda item: -item[0].area)
    for geometry, text in labelled:
        point = geometry.representative_point()
        folium.Marker(
            location=(point.y, point.x),
            icon=folium.DivIcon(
                html=f'<div class="gm-label gm-label-{layer.key}">{html.escape(text)}</div>',
                icon_size=(0, 0),
                class_name="gm-label-anchor",
            ),
            interactive=False,
        ).add_to(group)


def _add_layer(
    fmap: Any,
    layer: MapLayer,
    collection: Mapping[str, Any],
    colours: Mapping[str, str],
    points_pane: str | None = None,
) -> None:
    import folium

    shown = list(dict.fromkeys(f.prop for f in (*layer.tooltip, *layer.popup)))
    data = _display_copy(collection, shown)
    group = folium.FeatureGroup(name=layer.title_zh, show=layer.show)
    has_features = bool(data["features"])
    kwargs: dict[str, Any] = {}
    if has_features and layer.tooltip:
        kwargs["tooltip"] = folium.GeoJsonTooltip(
            fields=[f.prop for f in layer.tooltip],
            aliases=[f.label_zh for f in layer.tooltip],
            sticky=True,
        )
    if has_features and layer.popup:
        kwargs["popup"] = folium.GeoJsonPopup(
            fields=[f.prop for f in layer.popup],
            aliases=[f.label_zh for f in layer.popup],
        )
    style = layer.style
    if layer.colour_by:
        prop = layer.colour_by

        def style_function(feature: dict[str, Any]) -> dict[str, object]:
            return style.leaflet(fill_color=colours.get(feature["properties"].get(prop, "")))
    elif layer.ramp:
        ramp = layer.ramp

        def style_function(feature: dict[str, Any]) -> dict[str, object]:
            value = feature["properties"].get(ramp.prop)
            return style.leaflet(fill_color=ramp.colour_for(value))
    else:

        def style_function(feature: dict[str, Any]) -> dict[str, object]:
            return style.leaflet()

    if layer.geometry == "point":
        kwargs["marker"] = folium.CircleMarker(radius=style.radius, fill=True)
        if points_pane:
            # folium drops ``pane`` from marker options but merges the style into them.
            feature_style = style_function

            def style_function(feature: dict[str, Any]) -> dict[str, object]:
                return {**feature_style(feature), "pane": points_pane}
    else:
        kwargs["highlight_function"] = lambda feature: {"weight": style.weight + 2}
    folium.GeoJson(data, name=layer.title_zh, style_function=style_function, **kwargs).add_to(group)
    if layer.label and has_features:
        _add_labels(group, layer, collection)
    group.add_to(fmap)


def viewport_config(layer: MapLayer, max_page_size: int | None = None) -> dict[str, Any]:
    """What ``gridmapViewportLayer`` needs to fetch and draw ``layer``, as JSON-ready values.

    The page never asks for more than ``max_page_size`` features (the API's
    limit; a larger ``limit`` would be refused with a 400).
    """
    viewport = layer.viewport
    if viewport is None:
        raise ValueError(f"layer {layer.key!r} is embedded in the page, not loaded per view")
    limit = min(viewport.limit, max_page_size) if max_page_size else viewport.limit
    ramp = layer.ramp
    return {
        "url": layer.api_path,
        "minZoom": viewport.min_zoom,
        "limit": limit,
        "debounceMs": viewport.debounce_ms,
        "pane": f"gm-{layer.key}",
        "style": {**layer.style.leaflet(), "className": f"gm-feature-{layer.key}"},
        "radius": layer.style.radius,
        "ramp": {
            "prop": ramp.prop if ramp else "",
            "steps": [[s.minimum, s.colour] for s in ramp.steps]
            if ramp
            else [[0, layer.style.fill_color or layer.style.color]],
        },
        "tooltip": [[f.prop, f.label_zh] for f in layer.tooltip],
        "popup": [[f.prop, f.label_zh] for f in layer.popup],
        "noValue": NO_VALUE,
        "hintId": f"gm-hint-{layer.key}",
        "legendId": f"gm-legend-{layer.key}",
        "messages": {
            "zoomIn": viewport.zoom_hint(layer.title_zh),
            "truncated": (
                f"本视图内共有{layer.title_zh} {{matched}} {viewport.unit_zh}，"
                f"仅显示 {{returned}} {viewport.unit_zh}，放大可查看全部"
            ),
            "failed": f"{layer.title_zh}加载失败，请稍后重试",
        },
    }


def _script_json(value: Any) -> str:
    """``value`` as JSON safe inside a <script> element."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _add_viewport_layer(fmap: Any, layer: MapLayer, max_page_size: int | None) -> None:
    """An empty, switchable group for ``layer`` that the page fills for each view."""
    import folium
    from branca.element import Element

    assert layer.viewport is not None
    group = folium.FeatureGroup(name=layer.title_zh, show=layer.show)
    group.add_to(fmap)
    config = viewport_config(layer, max_page_size)
    fmap.get_root().html.add_child(
        Element(f'<div class="gm-hint" id="{html.escape(config["hintId"])}"></div>'),
        name=f"gm_hint_{layer.key}",
    )
    pane, z_index = config["pane"], layer.viewport.z_index
    _script_after_map(
        fmap,
        f"if (!{fmap.get_name()}.getPane({json.dumps(pane)})) "
        f"{{ {fmap.get_name()}.createPane({json.dumps(pane)}).style.zIndex = {z_index}; }}\n"
        f"gridmapViewportLayer({fmap.get_name()}, {group.get_name()}, "
        f"{_script_json(config)});",
    )


def _script_after_map(fmap: Any, code: str) -> None:
    """Add ``code`` to the page's script after the map and its layers are created."""
    from branca.element import MacroElement
    from jinja2 import Template

    element = MacroElement()
    # The map's children render their scripts in order. The code is a value,
    # not part of the template, so braces in it (JSON) are never read as Jinja.
    element._template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")
    element.code = code  # type: ignore[attr-defined]
    element.add_to(fmap)


def _legend_section(
    title: str, rows: Sequence[tuple[str, str]], element_id: str = "", swatch: bool = False
) -> str:
    """One titled block of the legend; ``rows`` are ``(colour, label)``."""
    marker = ' class="gm-swatch"' if swatch else ""
    items = "".join(
        f'<div class="gm-legend-item"><i{marker} style="background:{colour}"></i>'
        f"{html.escape(label)}</div>"
        for colour, label in rows
    )
    ident = f' id="{html.escape(element_id)}"' if element_id else ""
    return f'<div class="gm-legend-section"{ident}><b>{html.escape(title)}</b>{items}</div>'


def _ramp_legend(layer: MapLayer, ramp: ColourRamp) -> str:
    return _legend_section(
        ramp.title_zh, ramp.legend_rows(), element_id=f"gm-legend-{layer.key}", swatch=True
    )


def render_map(
    collections: Mapping[str, Mapping[str, Any]],
    *,
    layers: Sequence[MapLayer] = MAP_LAYERS,
    category_names: Mapping[str, str] | None = None,
    title: str = "网格化管理地图",
    docs_url: str | None = "/docs",
    asset_base: str = VENDOR_BASE,
    script_base: str = SCRIPT_BASE,
    max_page_size: int | None = None,
) -> str:
    """The map page as HTML.

    ``collections`` maps each embedded layer's ``key`` to its GeoJSON
    FeatureCollection (a missing key draws an empty layer); layers with a
    ``viewport`` are fetched by the page itself from the API, at most
    ``max_page_size`` features (the API's page limit) per view, with
    ``script_base`` serving ``viewport-layer.js``. ``category_names`` maps the values of
    a ``colour_by`` property (facility-type codes) to the Chinese names shown
    in the legend; pass the whole catalogue so colours stay stable. The map
    opens on the extent of all features, or on Kuiwen when there are none.
    ``title`` heads the page, with a link to ``docs_url`` (the API docs) if given.
    """
    import folium
    from branca.element import Element

    names = dict(category_names or {})
    fmap = folium.Map(
        location=DEFAULT_CENTRE,
        zoom_start=12,
        tiles=None,
        control_scale=True,
        zoom_snap=0.25,
        zoom_delta=0.5,
    )
    root = fmap.get_root()
    root.title = title  # type: ignore[attr-defined]
    root.header.add_child(Element(_CSS), name="gridmap_css")  # type: ignore[attr-defined]

    link = f'<a href="{html.escape(docs_url)}">API 文档</a>' if docs_url else ""
    link += '<a href="/coverage">服务覆盖分析</a>'  # the coverage map (api/routes/coverage.py)
    link += '<a href="/incidents">事件分析地图</a><a href="/incidents/grid">网格员工作台</a>'
    root.html.add_child(  # type: ignore[attr-defined]
        Element(f'<div class="gm-title">{html.escape(title)}{link}</div>')
    )

    if any(layer.geometry == "point" and layer.embedded for layer in layers):
        folium.map.CustomPane(POINTS_PANE, z_index=POINTS_PANE_Z, pointer_events=True).add_to(fmap)
    if any(not layer.embedded for layer in layers):
        script = f"{script_base.rstrip('/')}/{VIEWPORT_SCRIPT}"
        root.header.add_child(  # type: ignore[attr-defined]
            Element(f'<script src="{html.escape(script)}"></script>'), name="gridmap_viewport_js"
        )

    legend_colours: dict[str, str] = {}
    legend_title = ""
    ramp_legends: list[str] = []
    for layer in layers:
        if layer.ramp:
            ramp_legends.append(_ramp_legend(layer, layer.ramp))
        if not layer.embedded:
            _add_viewport_layer(fmap, layer, max_page_size)
            continue
        collection = collections.get(layer.key, {"features": []})
        colours: dict[str, str] = {}
        if layer.colour_by:
            present = {
                str((f.get("properties") or {}).get(layer.colour_by))
                for f in collection.get("features", [])
            }
            colours = category_colours(set(names) | present)
            legend_colours.update({c: colours[c] for c in sorted(present)})
            legend_title = legend_title or layer.title_zh
        _add_layer(fmap, layer, collection, colours, points_pane=POINTS_PANE)

    sections = list(ramp_legends)
    if legend_colours:
        rows = [(colour, names.get(code, code)) for code, colour in legend_colours.items()]
        sections.insert(0, _legend_section(legend_title, rows))
    if sections:
        legend = f'<div class="gm-legend">{"".join(sections)}</div>'
        root.html.add_child(Element(legend))  # type: ignore[attr-defined]
    bounds = _bounds(collections)
    if bounds is None:
        root.html.add_child(  # type: ignore[attr-defined]
            Element('<div class="gm-notice">暂无数据：请先导入区划与网格数据。</div>')
        )
    else:
        fmap.fit_bounds(bounds, padding=(10, 10))
    folium.LayerControl(collapsed=False, position="topright").add_to(fmap)
    _script_after_map(fmap, _DECLUTTER_JS % {"map": fmap.get_name()})

    _localise_assets(root, asset_base)
    page = root.render()
    remote = _REMOTE_ASSET.findall(page)
    if remote:
        raise OfflineAssetError(
            f"The map page would load {', '.join(sorted(set(remote)))} from the internet; "
            "vendor these assets (scripts/vendor_assets.sh) and list them in VENDORED_ASSETS."
        )
    return str(page)
