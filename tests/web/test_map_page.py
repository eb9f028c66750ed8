"""The district map at / in headless Chromium, offline."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from layers.catalogue import COMMUNITIES, FACILITIES, GRIDS, MAP_LAYERS

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/map.png"
DOCS_SCREENSHOT = "/tmp/docs.png"

MAP_OBJECTS = """() => Object.keys(window).filter(
    (k) => k.startsWith('map_') && window[k] instanceof L.Map).length"""


def _matched(base: str, path: str) -> int:
    separator = "&" if "?" in path else "?"
    body = httpx.get(f"{base}{path}{separator}limit=1", timeout=30).json()
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
        for f in httpx.get(f"{live_server}{COMMUNITIES.api_path}", timeout=30).json()["features"]
    ]
    texts = tab.eval_on_selector_all(
        ".gm-label-communities", "(els) => els.map((el) => el.textContent)"
    )
    assert sorted(texts) == sorted(names)

    facility_types = httpx.get(f"{live_server}/api/v1/facility-types", timeout=30).json()
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
