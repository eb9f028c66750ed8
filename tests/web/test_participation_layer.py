"""The residents' items on the district map at /, in headless Chromium: off at first (the
district view does not read them), then switched on in the layer control, every item of
the demo drawn where the API puts it, coloured by kind, and a click shows its popup."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from layers.districtmap import PARTICIPATION_COLOURS, PARTICIPATION_TITLE
from tests.web.browser import WIDE, artifact, open_page, viewer_headers

pytestmark = pytest.mark.browser

READY = "() => document.documentElement.dataset.gmReady === '1'"


@pytest.fixture
def wide(browser: Any, viewer_state: dict[str, Any]) -> Any:
    with open_page(browser, viewer_state, viewport=WIDE) as opened:
        yield opened


def test_items_are_drawn_when_switched_on_and_show_their_popup(live_server: str, wide: Any) -> None:
    tab, log = wide
    answer = tab.goto(f"{live_server}/", wait_until="networkidle")
    assert answer is not None and answer.status == 200
    tab.wait_for_function(READY, timeout=30000)
    assert not any("/api/v1/participation/" in url for url in log.requests)
    assert tab.evaluate("() => window.gridmapDistrict.layers.participation.getLayers().length") == 0

    expected = httpx.get(
        f"{live_server}/api/v1/participation/items",
        params={"format": "geojson", "limit": 1},
        headers=viewer_headers(live_server),
        timeout=60,
    ).json()
    total = expected["numberMatched"]
    assert total > 100
    tab.locator(".leaflet-control-layers-overlays label", has_text=PARTICIPATION_TITLE).click()
    tab.wait_for_function(
        "(n) => window.gridmapDistrict.counts.participation === n", arg=total, timeout=30000
    )
    assert tab.locator("#gm-legend-participation").is_visible()

    # One item with a place of its own: drawn at its point, in its kind's colour.
    first = expected["features"][0]
    drawn = tab.evaluate(
        """(id) => {
            const layer = window.gridmapDistrict.layers.participation;
            const m = layer.getLayers().find((x) => x.feature.id === id);
            const ll = m.getLatLng();
            return [ll.lng, ll.lat, m.options.fillColor];
        }""",
        first["id"],
    )
    lon, lat = first["geometry"]["coordinates"]
    assert drawn[:2] == pytest.approx([lon, lat], abs=1e-6)
    assert drawn[2] == PARTICIPATION_COLOURS[first["properties"]["kind"]]

    # Zoomed in on it, a click at its pixel opens its popup with title and status.
    tab.evaluate(
        "([lat, lon]) => { window.gridmapDistrict.map.setView([lat, lon], 18, {animate: false});"
        " return true; }",
        [lat, lon],
    )
    point = tab.evaluate(
        """([lat, lon]) => { const m = window.gridmapDistrict.map;
            const p = m.latLngToContainerPoint([lat, lon]);
            const b = m.getContainer().getBoundingClientRect();
            return [b.left + p.x, b.top + p.y]; }""",
        [lat, lon],
    )
    tab.mouse.click(point[0], point[1])
    popup = tab.locator(".leaflet-popup-content", has_text=first["properties"]["title"])
    popup.wait_for(timeout=10000)
    text = popup.inner_text()
    assert first["properties"]["status_name"] in text and "类型" in text
    tab.screenshot(path=str(artifact("participation-layer.png")))
    assert log.errors == [] and log.failed == []
