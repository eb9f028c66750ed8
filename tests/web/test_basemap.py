"""The base map (api/static/js/basemap.js) in headless Chromium, offline: streets with their
names, place names, the search box, and the JS datum transform against prcoords."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gis.geo.datum import GCJ02, from_wgs84, to_wgs84
from tests.web.browser import DESKTOP, PHONE, open_page

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
"""Screenshots the tests leave for people to look at (gitignored)."""

DRAWN = "() => document.documentElement.dataset.gmBasemap === 'drawn'"

LABEL_BOXES = """() => Array.from(document.querySelectorAll('.gm-road-label, .gm-place-label'))
  .map((el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return {text: el.textContent, road: el.classList.contains('gm-road-label'),
            x0: r.left, y0: r.top, x1: r.right, y1: r.bottom, font: parseFloat(s.fontSize)}; })"""


def _open_basemap(tab: Any, base: str) -> None:
    response = tab.goto(f"{base}/basemap")
    assert response is not None and response.status == 200
    tab.wait_for_function(DRAWN, timeout=20000)


def _metres(lon0: Any, lat0: Any, lon1: Any, lat1: Any) -> Any:
    lat = np.radians(lat0)
    return np.hypot((lon1 - lon0) * 111_320 * np.cos(lat), (lat1 - lat0) * 110_574)


def test_the_js_gcj02_transform_matches_prcoords_within_a_centimetre(
    live_server: str, page: tuple[Any, Any]
) -> None:
    tab, log = page
    _open_basemap(tab, live_server)
    rng = np.random.default_rng(11)
    lon = np.concatenate([rng.uniform(73.5, 135.0, 300), rng.uniform(119.0, 119.3, 100), [150.0]])
    lat = np.concatenate([rng.uniform(18.0, 53.5, 300), rng.uniform(36.6, 36.8, 100), [36.7]])
    points = np.column_stack([lon, lat]).tolist()
    js = tab.evaluate(
        """(points) => points.map((p) => [GM.datum.wgs84ToGcj02(p), GM.datum.gcj02ToWgs84(p)])""",
        points,
    )
    js_gcj = np.array([pair[0] for pair in js])
    js_wgs = np.array([pair[1] for pair in js])
    py_gcj = np.column_stack(from_wgs84(lon, lat, GCJ02))
    py_wgs = np.column_stack(to_wgs84(lon, lat, GCJ02))
    forward = _metres(py_gcj[:, 0], py_gcj[:, 1], js_gcj[:, 0], js_gcj[:, 1])
    inverse = _metres(py_wgs[:, 0], py_wgs[:, 1], js_wgs[:, 0], js_wgs[:, 1])
    assert forward.max() < 0.01 and inverse.max() < 0.01
    shift = _metres(lon[:-1], lat[:-1], js_gcj[:-1, 0], js_gcj[:-1, 1])
    assert shift.min() > 50  # it really moves points in China...
    assert js_gcj[-1].tolist() == [150.0, 36.7]  # ...and leaves the rest of the world alone
    round_trip = tab.evaluate(
        """(points) => points.map((p) => GM.datum.gcj02ToWgs84(GM.datum.wgs84ToGcj02(p)))""",
        points,
    )
    back = np.array(round_trip)
    assert _metres(lon, lat, back[:, 0], back[:, 1]).max() < 0.001
    # The display datum follows the base map: offline (WGS84) leaves points alone.
    assert tab.evaluate("() => [GM.datum.display, GM.datum.toDisplay([119.1, 36.7])]") == [
        "wgs84",
        [119.1, 36.7],
    ]
    assert log.errors == []


@pytest.mark.parametrize(("name", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_base_map_draws_streets_with_readable_names_offline(
    live_server: str, browser: Any, viewer_state: dict[str, Any], name: str, viewport: Any
) -> None:
    with open_page(browser, viewer_state, viewport=viewport) as (tab, log):
        _open_basemap(tab, live_server)
        tab.wait_for_timeout(200)
        boxes = tab.evaluate(LABEL_BOXES)
        roads = [b for b in boxes if b["road"]]
        places = [b for b in boxes if not b["road"]]
        assert len(roads) >= (8 if name == "phone" else 25), roads
        assert places
        assert any(b["text"].endswith("巷") for b in roads)
        assert any(b["text"].endswith(("街", "路")) for b in roads)
        assert min(b["font"] for b in boxes) >= 12  # readable on a phone
        for i, a in enumerate(boxes):
            assert a["x0"] >= -1 and a["y0"] >= -1
            assert a["x1"] <= viewport["width"] + 1 and a["y1"] <= viewport["height"] + 1
            for b in boxes[i + 1 :]:
                overlap_x = min(a["x1"], b["x1"]) - max(a["x0"], b["x0"])
                overlap_y = min(a["y1"], b["y1"]) - max(a["y0"], b["y0"])
                assert overlap_x <= 2 or overlap_y <= 2, (a, b)
        # The streets are drawn on a canvas (one element, not a path per street).
        assert tab.locator(".leaflet-gm-base-pane canvas").count() == 1
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"basemap-{name}.png"))
        assert log.foreign_requests() == []
        assert log.failed == []
        assert log.errors == []


def test_search_lists_results_in_large_rows_and_flies_to_the_one_picked(
    live_server: str, browser: Any, viewer_state: dict[str, Any]
) -> None:
    with open_page(browser, viewer_state, viewport=PHONE) as (tab, log):
        _open_basemap(tab, live_server)
        tab.fill("#gm-search", "370705002")
        rows = tab.locator(".gm-search-results li")
        rows.first.wait_for()
        assert rows.count() >= 2
        heights = rows.evaluate_all("(els) => els.map((el) => el.getBoundingClientRect().height)")
        assert min(heights) >= 44
        first = rows.first.inner_text()
        assert "街道" in first or "网格" in first
        before = tab.evaluate("() => window.gmMap.getCenter()")
        tab.locator("#gm-search").press("ArrowDown")
        tab.locator("#gm-search").press("Enter")
        tab.wait_for_function(
            """(before) => { const c = window.gmMap.getCenter();
               return Math.abs(c.lat - before.lat) + Math.abs(c.lng - before.lng) > 0.002; }""",
            arg=before,
            timeout=10000,
        )
        assert tab.locator(".gm-search-results").is_hidden()
        tab.wait_for_function(DRAWN, timeout=20000)
        tab.wait_for_timeout(800)  # the flight ends and the new view is drawn
        after = tab.evaluate("() => window.gmMap.getCenter()")
        assert not math.isclose(after["lat"], before["lat"], abs_tol=1e-4)
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "basemap-search-phone.png"))
        assert log.foreign_requests() == []
        assert log.errors == []
