"""The district map at / in headless Chromium, offline."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from shapely.geometry import Point, shape

from layers.catalogue import BUILDINGS, COMMUNITIES, FACILITIES, GRIDS, MAP_LAYERS
from tests.web.browser import viewer_headers

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/map.png"
DOCS_SCREENSHOT = "/tmp/docs.png"
BUILDINGS_SCREENSHOT = "/tmp/buildings.png"

MAP_OBJECTS = """() => Object.keys(window).filter(
    (k) => k.startsWith('map_') && window[k] instanceof L.Map).length"""

DENSE_GRID = "370705001001001"
"""A demo grid of a dense old community (中学街社区), ~100 buildings."""

SET_VIEW = """([lat, lon, zoom]) => {
    const map = Object.values(window).find((v) => v instanceof L.Map);
    map.setView([lat, lon], zoom, {animate: false});
    return map.getZoom() === zoom;
}"""
"""Moves the map; false while the page's opening zoom animation still holds the view."""

BUILDING_SHAPES = f"path.gm-feature-{BUILDINGS.key}"
HINT = f"#gm-hint-{BUILDINGS.key}"


def _set_view(tab: Any, lat: float, lon: float, zoom: float) -> None:
    tab.wait_for_function(SET_VIEW, arg=[lat, lon, zoom], timeout=15000)


def _is_buildings_request(url: str) -> bool:
    return urlsplit(url).path == "/api/v1/buildings"


def _grid_centre(base: str, code: str) -> tuple[float, float]:
    grid = httpx.get(
        headers=viewer_headers(base), url=f"{base}/api/v1/grids/{code}", timeout=30
    ).json()
    point = shape(grid["geometry"]).representative_point()
    return point.y, point.x


def _matched(base: str, path: str) -> int:
    separator = "&" if "?" in path else "?"
    body = httpx.get(
        headers=viewer_headers(base), url=f"{base}{path}{separator}limit=1", timeout=30
    ).json()
    return int(body["numberMatched"])


def test_map_loads_offline_with_layers_and_labels(live_server: str, page: Any) -> None:
    tab, log = page
    response = tab.goto(f"{live_server}/", wait_until="networkidle")
    assert response is not None and response.status == 200
    tab.wait_for_selector(".leaflet-control-layers-overlays label")

    assert log.foreign_requests() == []
    assert log.failed == []
    assert log.errors == []
    assert tab.evaluate("() => typeof L === 'object' && L.version") == "1.9.3"
    assert tab.evaluate(MAP_OBJECTS) == 1

    control = tab.locator(".leaflet-control-layers-overlays label")
    overlays = [text.strip() for text in control.all_inner_texts()]
    assert overlays == [layer.title_zh for layer in MAP_LAYERS]
    for layer in (COMMUNITIES, GRIDS, FACILITIES):
        assert layer.title_zh in overlays

    communities = _matched(live_server, COMMUNITIES.api_path)
    assert communities > 0
    labels = tab.locator(".gm-label-communities")
    assert labels.count() == communities
    # Labels that would overlap are hidden until the map is zoomed in; most stay.
    visible = tab.locator(".gm-label-communities:visible").count()
    assert visible >= min(communities, 10)
    names = [
        f["properties"]["name"]
        for f in httpx.get(
            headers=viewer_headers(live_server),
            url=f"{live_server}{COMMUNITIES.api_path}",
            timeout=30,
        ).json()["features"]
    ]
    texts = tab.eval_on_selector_all(
        ".gm-label-communities", "(els) => els.map((el) => el.textContent)"
    )
    assert sorted(texts) == sorted(names)

    facility_types = httpx.get(
        headers=viewer_headers(live_server), url=f"{live_server}/api/v1/facility-types", timeout=30
    ).json()
    present = [
        f["properties"]["name_zh"]
        for f in facility_types["features"]
        if f["properties"]["facilities"]
    ]
    legend = tab.locator(".gm-legend").inner_text()
    for name in present:
        assert name in legend

    tab.screenshot(path=SCREENSHOT, full_page=False)


def test_switching_off_communities_hides_their_labels(live_server: str, page: Any) -> None:
    tab, _ = page
    tab.goto(f"{live_server}/", wait_until="networkidle")
    assert tab.locator(".gm-label-communities").count() > 0
    tab.locator(".leaflet-control-layers-overlays label", has_text=COMMUNITIES.title_zh).click()
    assert tab.locator(".gm-label-communities").count() == 0


def test_docs_render_offline(live_server: str, page: Any) -> None:
    tab, log = page
    response = tab.goto(f"{live_server}/docs", wait_until="networkidle")
    assert response is not None and response.status == 200
    tab.wait_for_selector(".swagger-ui .opblock", timeout=15000)
    assert "gridmap" in tab.locator(".swagger-ui .info .title").inner_text()
    paths = tab.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/grids/{code}" in p.replace("\u200b", "") for p in paths)
    tab.screenshot(path=DOCS_SCREENSHOT)
    assert log.foreign_requests() == []
    assert log.failed == []
    assert log.errors == []


def test_buildings_load_for_the_view_when_zoomed_in(live_server: str, page: Any) -> None:
    tab, log = page
    tab.goto(f"{live_server}/", wait_until="networkidle")
    viewport = BUILDINGS.viewport
    assert viewport is not None
    control = tab.locator(".leaflet-control-layers-overlays label", has_text=BUILDINGS.title_zh)
    assert control.locator("input").is_checked()
    # The district view is far below zoom 15: nothing fetched, nothing drawn, a hint.
    assert not any(_is_buildings_request(url) for url in log.requests)
    assert tab.locator(BUILDING_SHAPES).count() == 0
    assert tab.locator(HINT).inner_text() == "放大至15级显示楼栋"
    # It floats over the map rather than pushing the map down.
    assert tab.eval_on_selector(HINT, "(el) => getComputedStyle(el).position") == "fixed"

    lat, lon = _grid_centre(live_server, DENSE_GRID)
    with tab.expect_response(lambda r: _is_buildings_request(r.url)) as answer:
        _set_view(tab, lat, lon, 17)
    response = answer.value
    assert response.status == 200
    body = response.json()
    query = parse_qs(urlsplit(response.url).query)
    assert query["geometry"] == ["footprint"]
    assert int(query["limit"][0]) == viewport.limit
    west, south, east, north = map(float, query["bbox"][0].split(","))
    assert west < lon < east and south < lat < north

    # What the API holds for that box, asked independently of the page.
    matched = httpx.get(
        headers=viewer_headers(live_server),
        url=f"{live_server}/api/v1/buildings",
        params={"bbox": query["bbox"][0], "limit": 1},
        timeout=30,
    ).json()["numberMatched"]
    assert body["numberMatched"] == matched > 0
    drawn = min(matched, viewport.limit)
    tab.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length === n", arg=[BUILDING_SHAPES, drawn]
    )
    assert {f["properties"]["grid_code"] for f in body["features"]} >= {DENSE_GRID}
    assert not tab.locator(HINT).is_visible()  # everything in view is drawn
    legend = tab.locator("#gm-legend-buildings").inner_text()
    assert "楼栋户数" in legend and "≥60户" in legend

    # Shapes are drawn in the order of the features. Click the building at the
    # centre of the view: its fill is the ramp's colour for its households and
    # its popup says what the API says.
    centre = Point(lon, lat)
    nearest = min(
        range(len(body["features"])),
        key=lambda i: shape(body["features"][i]["geometry"]).distance(centre),
    )
    props = body["features"][nearest]["properties"]
    building = tab.locator(BUILDING_SHAPES).nth(nearest)
    assert BUILDINGS.ramp is not None
    assert building.get_attribute("fill") == BUILDINGS.ramp.colour_for(props["households"])
    box = building.bounding_box()
    assert box is not None
    tab.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    popup = tab.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    for label in ("地址", "户数", "楼层", "网格"):
        assert label in text
    assert props["address"] in text
    assert f"户数\t{props['households']}" in text
    assert props["grid_code"] in text
    tab.wait_for_timeout(300)  # the popup fades in
    tab.screenshot(path=BUILDINGS_SCREENSHOT)

    # Back out to zoom 12: the buildings go and nothing more is asked for.
    asked = sum(_is_buildings_request(url) for url in log.requests)
    _set_view(tab, lat, lon, 12)
    tab.wait_for_function(
        "(sel) => document.querySelectorAll(sel).length === 0", arg=BUILDING_SHAPES
    )
    tab.locator(HINT).wait_for(state="visible")
    assert tab.locator(HINT).inner_text() == "放大至15级显示楼栋"
    tab.wait_for_timeout(viewport.debounce_ms + 200)
    assert sum(_is_buildings_request(url) for url in log.requests) == asked
    assert tab.locator(BUILDING_SHAPES).count() == 0

    assert log.foreign_requests() == []
    assert log.failed == []
    assert log.errors == []


def test_quick_moves_make_one_request_for_the_last_view(live_server: str, page: Any) -> None:
    tab, log = page
    tab.goto(f"{live_server}/", wait_until="networkidle")
    lat, lon = _grid_centre(live_server, DENSE_GRID)
    _set_view(tab, lat, lon, 14)  # below the threshold: settles without a request
    tab.wait_for_timeout(500)
    with tab.expect_response(lambda r: _is_buildings_request(r.url)) as answer:
        for step in range(3):  # within the debounce delay of each other
            tab.evaluate(SET_VIEW, [lat + 0.002 * step, lon, 17])
    box = parse_qs(urlsplit(answer.value.url).query)["bbox"][0]
    west, south, east, north = map(float, box.split(","))
    assert west < lon < east and south < lat + 0.004 < north
    tab.wait_for_timeout(BUILDINGS.viewport.debounce_ms + 300)  # type: ignore[union-attr]
    assert sum(_is_buildings_request(url) for url in log.requests) == 1
    assert tab.locator(BUILDING_SHAPES).count() == answer.value.json()["numberReturned"] > 0


def test_an_answer_for_an_old_view_is_abandoned(live_server: str, page: Any) -> None:
    tab, log = page
    held: list[Any] = []

    def hold_the_first(route: Any) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)  # never answered while the page waits for it

    tab.route("**/api/v1/buildings?*", hold_the_first)
    tab.goto(f"{live_server}/", wait_until="networkidle")
    lat, lon = _grid_centre(live_server, DENSE_GRID)
    _set_view(tab, lat, lon, 17)
    while not held:
        tab.wait_for_timeout(50)
    with tab.expect_response(lambda r: _is_buildings_request(r.url)) as answer:
        _set_view(tab, lat + 0.01, lon, 17)
    current = answer.value.json()["numberReturned"]
    tab.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length === n", arg=[BUILDING_SHAPES, current]
    )
    stale = held[0].request.url
    assert any(failure.startswith(stale) for failure in log.failed)  # aborted by the page
    with contextlib.suppress(Exception):  # playwright may refuse: the request is gone
        held[0].continue_()
    tab.wait_for_timeout(500)
    assert tab.locator(BUILDING_SHAPES).count() == current
    assert log.errors == []


def test_a_truncated_view_says_how_many_buildings_it_left_out(live_server: str, page: Any) -> None:
    tab, log = page
    shown = 25

    def small_pages(route: Any) -> None:
        url = urlsplit(route.request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        query["limit"] = str(shown)
        route.continue_(
            url=f"{url.scheme}://{url.netloc}{url.path}?"
            + "&".join(f"{k}={v}" for k, v in query.items())
        )

    tab.route("**/api/v1/buildings?*", small_pages)
    tab.goto(f"{live_server}/", wait_until="networkidle")
    lat, lon = _grid_centre(live_server, DENSE_GRID)
    with tab.expect_response(lambda r: _is_buildings_request(r.url)) as answer:
        _set_view(tab, lat, lon, 17)
    matched = answer.value.json()["numberMatched"]
    assert matched > shown
    tab.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length === n", arg=[BUILDING_SHAPES, shown]
    )
    hint = tab.locator(HINT)
    hint.wait_for(state="visible")
    assert f"共有楼栋 {matched} 栋" in hint.inner_text()
    assert f"仅显示 {shown} 栋" in hint.inner_text()
    assert log.errors == []


def test_grid_hover_shows_households(live_server: str, page: Any) -> None:
    tab, _ = page
    tab.goto(f"{live_server}/", wait_until="networkidle")
    grid = httpx.get(
        headers=viewer_headers(live_server),
        url=f"{live_server}/api/v1/grids/{DENSE_GRID}",
        timeout=30,
    ).json()
    lat, lon = _grid_centre(live_server, DENSE_GRID)
    _set_view(tab, lat, lon, 14)
    tab.mouse.move(640, 450)  # the map's centre, inside the grid
    tooltip = tab.locator(".leaflet-tooltip")
    tooltip.wait_for()
    text = tooltip.inner_text()
    assert "户数" in text
    assert DENSE_GRID in text
    assert str(grid["properties"]["households"]) in text
