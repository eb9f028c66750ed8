"""The district map at / in headless Chromium, offline: a light page drawn from the API.

The page (api/templates/district.html, api/static/js/district.js) draws the
areas from /api/v1/map/outlines and the facilities from /api/v1/map/facilities
on a canvas, the names as labels by zoom, and the buildings and cases from vector
tiles (tests/web/test_vector_tiles.py tests those on a district of its own). Drawn
on canvas, its shapes are not elements: the tests read what is drawn from the
page's own Leaflet layers and tile renderer (``window.gridmapDistrict``) and click
at the pixel of a shape.
"""

from __future__ import annotations

import itertools
import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from shapely.geometry import Point, shape

from layers.catalogue import BUILDINGS, MAP_LAYERS
from layers.districtmap import INCIDENTS_TITLE, PARTICIPATION_TITLE
from tests.web.browser import PHONE, WIDE, artifact, boxes_apart, open_page, viewer_headers

pytestmark = pytest.mark.browser

DOCS_SCREENSHOT = "docs.png"

READY = "() => document.documentElement.dataset.gmReady === '1'"
NAMES = ".gm-label, .gm-place-label"
"""Names of areas: the base map's (basemap.js, offline) or, over tiles without our names,
the page's own; either way only those that do not overlap are shown."""
GRID_NAMES = ".gm-label-grids, .gm-place-grid"
PAGE_WEIGHT_BUDGET = 200_000
"""Bytes transferred (headers and gzipped bodies) until the district is drawn. The
folium page it replaced was 2.6 MB of HTML, 484 kB gzipped, before any data."""

DENSE_GRID = "370705001001001"
"""A demo grid of a dense old community (中学街社区), ~100 buildings."""

SET_VIEW = """([lat, lon, zoom]) => {
    const map = window.gridmapDistrict.map;
    map.setView([lat, lon], zoom, {animate: false});
    return map.getZoom() === zoom;
}"""
"""Moves the map; false while an animation still holds the view."""

COUNT_OF = "window.gridmapDistrict.layers[key].getLayers().length"
COUNT = f"(key) => {COUNT_OF}"
"""How many shapes a layer of the page holds (drawn on canvas: not elements)."""
HINT = f"#gm-hint-{BUILDINGS.key}"
PANELS = [
    "#gm-title",
    ".leaflet-control-zoom",
    ".leaflet-control-layers",
    ".leaflet-control-scale",
    "#gm-legend",
    "#gm-user",
    HINT,
]
"""What floats over the map: none may cover another."""


def _set_view(tab: Any, lat: float, lon: float, zoom: float) -> None:
    tab.wait_for_function(SET_VIEW, arg=[lat, lon, zoom], timeout=15000)


def _is_buildings_request(url: str) -> bool:
    return urlsplit(url).path == "/api/v1/buildings"


def _api(base: str, path: str, **params: Any) -> Any:
    answer = httpx.get(f"{base}{path}", params=params, headers=viewer_headers(base), timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _grid(base: str, code: str) -> dict[str, Any]:
    grid: dict[str, Any] = _api(base, f"/api/v1/grids/{code}")
    return grid


def _grid_centre(base: str, code: str) -> tuple[float, float]:
    point = shape(_grid(base, code)["geometry"]).representative_point()
    return point.y, point.x


def _open(tab: Any, base: str) -> Any:
    response = tab.goto(f"{base}/", wait_until="networkidle")
    assert response is not None and response.status == 200
    tab.wait_for_function(READY, timeout=30000)
    return response


@pytest.fixture
def wide(browser: Any, viewer_state: dict[str, Any]) -> Any:
    with open_page(browser, viewer_state, viewport=WIDE) as opened:
        yield opened


@pytest.fixture
def phone(browser: Any, viewer_state: dict[str, Any]) -> Any:
    with open_page(browser, viewer_state, viewport=PHONE) as opened:
        yield opened


def test_the_district_is_drawn_offline_with_names_in_a_light_page(
    live_server: str, wide: Any
) -> None:
    tab, log = wide
    sizes: list[int] = []
    tab.on(
        "requestfinished",
        lambda r: sizes.append(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"]),
    )
    _open(tab, live_server)
    assert log.foreign_requests() == []
    assert log.failed == []
    assert log.errors == []
    assert tab.evaluate("() => typeof L === 'object' && L.version") == "1.9.3"
    assert tab.evaluate("() => performance.getEntriesByName('gm-usable').length") == 1

    overlays = [
        t.strip() for t in tab.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    ]
    # the catalogue's layers, the cases (from the tiles) for a person who may read them, and
    # the residents' items (off until switched on: tests/web/test_participation_layer.py)
    titles = [layer.title_zh for layer in MAP_LAYERS]
    assert overlays == [*titles[:-1], INCIDENTS_TITLE, titles[-1], PARTICIPATION_TITLE]

    # Every current grid, community and subdistrict is drawn.
    for key, path, params in (
        ("grids", "/api/v1/grids", {}),
        ("communities", "/api/v1/areas", {"level": "community"}),
        ("subdistricts", "/api/v1/areas", {"level": "subdistrict"}),
    ):
        matched = _api(live_server, path, limit=1, **params)["numberMatched"]
        assert tab.evaluate(COUNT, key) == matched > 0, key
    facilities = _api(live_server, "/api/v1/facilities", limit=1)["numberMatched"]
    tab.wait_for_function(f"() => window.gridmapDistrict.counts.facilities === {facilities}")

    # Names: the district view shows the subdistricts' (or communities') names, each a
    # real name, and no two visible labels overlap.
    names = {
        f["properties"]["name"] for f in _api(live_server, "/api/v1/areas", limit=1000)["features"]
    }
    shown = tab.eval_on_selector_all(
        NAMES,
        "(els) => els.filter((e) => e.style.visibility !== 'hidden').map((e) => e.textContent)",
    )
    assert len(shown) >= 5 and set(shown) <= names
    boxes = tab.eval_on_selector_all(
        NAMES,
        "(els) => els.filter((e) => e.style.visibility !== 'hidden').map((e) => {"
        " const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })",
    )
    for a, b in itertools.combinations(boxes, 2):
        assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)

    types = _api(live_server, "/api/v1/facility-types")["features"]
    legend = tab.locator("#gm-legend").inner_text()
    for t in types:
        if t["properties"]["facilities"]:
            assert t["properties"]["name_zh"] in legend

    tab.wait_for_load_state("networkidle")
    # The data is preloaded with Leaflet and the page's fetches take it over: asked once.
    for path in ("/api/v1/map/outlines", "/api/v1/map/facilities"):
        assert sum(urlsplit(url).path == path for url in log.requests) == 1, path
    weight = sum(sizes)
    assert 0 < weight < PAGE_WEIGHT_BUDGET, weight
    tab.screenshot(path=artifact("district-desktop.png"))


def test_on_a_phone_nothing_covers_anything_else(live_server: str, phone: Any) -> None:
    tab, log = phone
    _open(tab, live_server)
    assert log.errors == [] and log.foreign_requests() == []
    assert tab.evaluate(COUNT, "grids") > 0
    boxes = boxes_apart(tab, PANELS)
    assert {"#gm-title", "#gm-legend", "#gm-user", HINT} <= set(boxes)
    # The legend opens without covering the user bar either.
    tab.locator("#gm-legend summary").click()
    legend = tab.locator("#gm-legend").bounding_box()
    user = tab.locator("#gm-user").bounding_box()
    assert legend is not None and user is not None
    assert legend["y"] + legend["height"] <= user["y"] or legend["x"] >= user["x"] + user["width"]
    tab.locator("#gm-legend summary").click()
    tab.screenshot(path=artifact("district-phone.png"))


def test_grid_names_show_when_zoomed_in(live_server: str, wide: Any) -> None:
    tab, log = wide
    _open(tab, live_server)
    lat, lon = _grid_centre(live_server, DENSE_GRID)
    assert tab.locator(GRID_NAMES).count() == 0  # too small to read at the district view
    _set_view(tab, lat, lon, 16)
    name = _grid(live_server, DENSE_GRID)["properties"]["name"]
    tab.wait_for_function(
        f"(name) => [...document.querySelectorAll('{GRID_NAMES}')]"
        ".some((e) => e.textContent === name && e.style.visibility !== 'hidden')",
        arg=name,
    )
    # Only the names in view are in the page.
    assert tab.locator(GRID_NAMES).count() < 60
    assert log.errors == []


def test_switching_off_communities_takes_them_off_the_map(live_server: str, wide: Any) -> None:
    tab, _ = wide
    _open(tab, live_server)
    lat, lon = _grid_centre(live_server, DENSE_GRID)
    _set_view(tab, lat, lon, 14)
    tab.locator(".leaflet-control-layers-overlays label", has_text="社区").click()
    assert (
        tab.evaluate(
            "() => window.gridmapDistrict.map.hasLayer(window.gridmapDistrict.layers.communities)"
        )
        is False
    )


def test_docs_render_offline(live_server: str, page: Any) -> None:
    tab, log = page
    response = tab.goto(f"{live_server}/docs", wait_until="networkidle")
    assert response is not None and response.status == 200
    tab.wait_for_selector(".swagger-ui .opblock", timeout=45000)  # 270 kB of OpenAPI
    assert "gridmap" in tab.locator(".swagger-ui .info .title").inner_text()
    paths = tab.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/grids/{code}" in p.replace("\u200b", "") for p in paths)
    tab.screenshot(path=artifact(DOCS_SCREENSHOT))
    assert log.foreign_requests() == []
    assert log.failed == []
    assert log.errors == []


TILES = "window.gridmapDistrict.tiles"
TILE_LAYER = re.compile(r"^/ogc/collections/([a-z-]+)/tiles/WebMercatorQuad/\d+/\d+/\d+$")


def _tile_layers(urls: list[str]) -> list[str]:
    """The collections of the tiles among ``urls``."""
    found = [TILE_LAYER.match(urlsplit(u).path) for u in urls]
    return [m.group(1) for m in found if m]


def test_buildings_come_from_vector_tiles_when_zoomed_in(live_server: str, wide: Any) -> None:
    """Below the style's zoom for buildings a hint, no building tile; zoomed in, the
    buildings' tiles (never /api/v1/buildings), every building of the view in them, the
    legend of their colours, and a click on one shows its record."""
    tab, log = wide
    _open(tab, live_server)
    control = tab.locator(".leaflet-control-layers-overlays label", has_text=BUILDINGS.title_zh)
    assert control.locator("input").is_checked()
    start = tab.evaluate(f"() => {TILES}.minZoom('buildings')")
    assert start is not None and tab.evaluate("() => window.gridmapDistrict.map.getZoom()") < start
    tab.locator(HINT).wait_for(state="visible")
    assert tab.locator(HINT).inner_text() == f"放大至{start:g}级显示楼栋"
    tab.wait_for_load_state("networkidle")
    assert "buildings" not in _tile_layers(log.requests)  # nothing drawn, nothing asked for
    # ... not even the style or the renderer: the district view draws no tile layer
    assert not any("protomaps" in url or "/ogc/" in url for url in log.requests)

    lat, lon = _grid_centre(live_server, DENSE_GRID)
    _set_view(tab, lat, lon, 17)
    view = tab.evaluate("() => window.gridmapDistrict.map.getBounds().toBBoxString()")
    listed = _api(live_server, "/api/v1/buildings", bbox=view, limit=1000)
    assert 20 < listed["numberMatched"] <= 1000
    # every building of the view comes in the tiles, with its households
    tab.wait_for_function(
        f"(ids) => {{ const have = new Set({TILES}.features('buildings').map((f) => f.id));"
        " return ids.every((id) => have.has(id)); }",
        arg=[f["id"] for f in listed["features"]],
        timeout=30000,
    )
    drawn = {f["id"]: f["props"] for f in tab.evaluate(f"() => {TILES}.features('buildings')")}
    for f in listed["features"]:
        assert drawn[f["id"]]["households"] == f["properties"]["households"]
    assert "buildings" in _tile_layers(log.requests)
    assert not any(_is_buildings_request(url) for url in log.requests)
    assert not tab.locator(HINT).is_visible()
    legend = tab.locator(f"#gm-legend-{BUILDINGS.key}").inner_text()
    assert "楼栋户数" in legend and "≥60户" in legend

    # The building at the view's centre: a click on it opens a popup saying what the API
    # says (its households from the tile, its address and grid from the record).
    footprints = _api(
        live_server, "/api/v1/buildings", bbox=view, limit=1000, geometry="footprint"
    )["features"]
    centre = Point(lon, lat)
    nearest = min(footprints, key=lambda f: shape(f["geometry"]).distance(centre))
    props = nearest["properties"]
    inside = shape(nearest["geometry"]).representative_point()
    at = tab.evaluate(
        "([lat, lon]) => { const m = window.gridmapDistrict.map;"
        " const p = m.latLngToContainerPoint([lat, lon]);"
        " const b = m.getContainer().getBoundingClientRect();"
        " return [b.left + p.x, b.top + p.y]; }",
        [inside.y, inside.x],
    )
    tab.mouse.click(at[0], at[1])
    popup = tab.locator(".leaflet-popup-content")
    popup.wait_for()
    tab.wait_for_function(
        "(address) => document.querySelector('.leaflet-popup-content').innerText.includes(address)",
        arg=props["address"],
    )
    text = popup.inner_text()
    for label in ("地址", "户数", "楼层", "网格"):
        assert label in text
    assert f"户数\t{props['households']}" in text
    assert props["grid_code"] in text
    tab.wait_for_timeout(300)  # the popup fades in
    tab.screenshot(path=artifact("district-buildings.png"))

    # Back out to zoom 12: the hint again, no building tile asked for.
    asked = _tile_layers(log.requests).count("buildings")
    _set_view(tab, lat, lon, 12)
    tab.locator(HINT).wait_for(state="visible")
    tab.wait_for_timeout(1000)
    assert _tile_layers(log.requests).count("buildings") == asked
    assert log.foreign_requests() == []
    assert log.errors == []


def test_grid_hover_shows_households(live_server: str, wide: Any) -> None:
    tab, _ = wide
    _open(tab, live_server)
    grid = _grid(live_server, DENSE_GRID)
    lat, lon = _grid_centre(live_server, DENSE_GRID)
    _set_view(tab, lat, lon, 14)
    centre = tab.evaluate(
        "() => { const m = window.gridmapDistrict.map;"
        " const p = m.latLngToContainerPoint(m.getCenter());"
        " const b = m.getContainer().getBoundingClientRect();"
        " return [b.left + p.x, b.top + p.y]; }"
    )
    tab.mouse.move(centre[0] - 3, centre[1] - 3)
    tab.mouse.move(centre[0], centre[1])
    tooltip = tab.locator(".leaflet-tooltip", has_text=DENSE_GRID)
    tooltip.wait_for()
    text = tooltip.inner_text()
    assert "户数" in text
    assert str(grid["properties"]["households"]) in text
