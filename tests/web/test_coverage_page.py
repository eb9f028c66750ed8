"""The coverage map at /coverage in headless Chromium, offline, on the demo district."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from api.errors import error_body
from gis.coverage.network import no_network
from layers.coverage import COVERAGE_RAMP, coverage_style
from tests.web.browser import PHONE, WIDE, artifact, boxes_apart, open_page, viewer_headers

pytestmark = pytest.mark.browser

SCREENSHOT = artifact("coverage-whatif.png")
BUILDINGS_SCREENSHOT = artifact("coverage-buildings.png")
GRID_PATHS = ".leaflet-gm-grids-pane path"
READY = "(q) => document.body.dataset.coverage === q"
"""The page sets data-coverage to its query once every layer of a selection is drawn."""


def _api(base: str, path: str, **params: Any) -> Any:
    response = httpx.get(
        headers=viewer_headers(base), url=f"{base}{path}", params=params, timeout=60
    )
    assert response.status_code == 200, response.text
    return response.json()


def _fills(tab: Any) -> list[str]:
    fills: list[str] = tab.eval_on_selector_all(
        GRID_PATHS, "(els) => els.map((el) => el.getAttribute('fill'))"
    )
    return fills


def _open(tab: Any, base: str, query: str = "") -> None:
    response = tab.goto(f"{base}/coverage{query}", wait_until="networkidle")
    assert response is not None and response.status == 200


def test_coverage_map_loads_offline_with_choropleth_and_legend(live_server: str, page: Any) -> None:
    tab, log = page
    _open(tab, live_server)
    first = tab.locator("#gm-type").input_value()
    tab.wait_for_function(READY, arg=f"facility_type={first}", timeout=30000)
    assert log.foreign_requests() == []
    assert log.failed == []
    assert log.errors == []
    assert tab.evaluate("() => L.version") == "1.9.3"

    grids = _api(live_server, "/api/v1/grids", limit=1)["numberMatched"]
    fills = _fills(tab)
    assert len(fills) == grids > 0
    ramp = {c.colour for c in COVERAGE_RAMP.classes} | {COVERAGE_RAMP.no_data_colour}
    assert set(fills) <= ramp
    # Each grid is painted in the class of the rate the API gives it.
    rows = _api(live_server, "/api/v1/coverage", facility_type=first, by="grid")["rows"]
    expected = sorted(COVERAGE_RAMP.colour_for(r["coverage_rate"]) for r in rows)
    assert sorted(fills) == expected

    legend = tab.locator("#gm-legend").inner_text()
    for row in coverage_style()["ramp"]["legend"]:
        assert row["label"] in legend
    types = {
        f["properties"]["code"]: f["properties"]
        for f in _api(live_server, "/api/v1/facility-types")["features"]
    }
    title = tab.locator("#gm-legend-title").inner_text()
    assert types[first]["name_zh"] in title and f"{types[first]['radius_m']}米" in title
    options = tab.locator("#gm-type option").all_inner_texts()
    assert all(any(t["name_zh"] in o for o in options) for t in types.values())

    # Circles, hatched blind spots and facility markers are on the map.
    circles = _api(live_server, "/api/v1/coverage/circles", facility_type=first)["numberMatched"]
    assert tab.locator(".leaflet-gm-circles-pane path").count() == circles
    blind = tab.locator(".leaflet-gm-blind-pane path")
    assert (
        blind.count()
        == _api(live_server, "/api/v1/coverage/blind-spots", facility_type=first)["numberMatched"]
    )
    if blind.count():
        assert blind.first.get_attribute("fill") == "url(#gm-hatch)"
    assert tab.locator("#gm-hatch").count() == 1
    assert tab.locator(".leaflet-gm-facilities-pane path").count() == circles
    total = _api(live_server, "/api/v1/coverage", facility_type=first)["total"]
    assert f"{total['coverage_rate'] * 100:.1f}%" in tab.locator("#gm-summary").inner_text()


def test_switching_type_and_radius_restyles_without_reloading(live_server: str, page: Any) -> None:
    tab, log = page
    _open(tab, live_server, "?facility_type=kindergarten")
    tab.wait_for_function(READY, arg="facility_type=kindergarten", timeout=30000)
    # A reload would lose this; history.replaceState (the address follows) keeps it.
    tab.evaluate("() => { window.__samePage = true; }")
    loads = tab.evaluate("() => performance.getEntriesByType('navigation').length")
    before_fills = _fills(tab)
    before_title = tab.locator("#gm-legend-title").inner_text()
    assert "幼儿园" in before_title and "300米" in before_title

    tab.select_option("#gm-type", "community_health_station")
    tab.wait_for_function(READY, arg="facility_type=community_health_station", timeout=60000)
    title = tab.locator("#gm-legend-title").inner_text()
    assert "社区卫生服务站" in title and "1000米" in title
    assert _fills(tab) != before_fills
    health = _api(live_server, "/api/v1/coverage", facility_type="community_health_station")
    assert (
        f"{health['total']['coverage_rate'] * 100:.1f}%" in tab.locator("#gm-legend").inner_text()
    )

    tab.select_option("#gm-radius", "500")
    query = "facility_type=community_health_station&radius_m=500"
    tab.wait_for_function(READY, arg=query, timeout=60000)
    assert "500米" in tab.locator("#gm-legend-title").inner_text()
    narrower = _api(
        live_server, "/api/v1/coverage", facility_type="community_health_station", radius_m=500
    )
    summary = tab.locator("#gm-summary").inner_text()
    assert f"{narrower['total']['coverage_rate'] * 100:.1f}%" in summary

    assert tab.evaluate("() => window.__samePage") is True
    assert tab.evaluate("() => performance.getEntriesByType('navigation').length") == loads
    assert log.errors == []
    assert tab.url.endswith(f"/coverage?{query}")  # the address follows, for sharing


def test_clicking_the_map_answers_what_if(live_server: str, page: Any) -> None:
    tab, log = page
    _open(tab, live_server, "?facility_type=kindergarten")
    tab.wait_for_function(READY, arg="facility_type=kindergarten", timeout=30000)
    box = tab.locator("#gm-map").bounding_box()
    assert box is not None
    x, y = box["width"] * 0.45, box["height"] * 0.55
    latlng = tab.evaluate(
        "([x, y]) => window.gridmapCoverage.map.containerPointToLatLng([x, y])", [x, y]
    )
    with tab.expect_response(lambda r: r.url.endswith("/api/v1/coverage/what-if")) as answer:
        tab.mouse.click(box["x"] + x, box["y"] + y)
    assert answer.value.status == 200
    csrf = tab.locator("meta[name=csrf-token]").get_attribute("content")
    assert csrf and answer.value.request.headers["x-csrf-token"] == csrf  # a cookie login's POST
    tab.wait_for_selector("#gm-whatif-answer")
    expected = httpx.post(
        headers=viewer_headers(live_server),
        url=f"{live_server}/api/v1/coverage/what-if",
        json={
            "facility_type": "kindergarten",
            "open": [{"lon": latlng["lng"], "lat": latlng["lat"]}],
        },
        timeout=30,
    ).json()
    shown = tab.locator("#gm-whatif-net").inner_text()
    net = expected["net_households"]
    sign = "+" if net > 0 else "−" if net < 0 else ""
    assert shown.replace(",", "").replace(" 户", "") == f"{sign}{abs(net)}"
    panel = tab.locator("#gm-whatif").inner_text()
    assert f"{expected['coverage_rate_after'] * 100:.1f}%" in panel
    assert tab.locator(".leaflet-gm-whatif-pane path").count() == 2  # circle and centre
    tab.wait_for_timeout(300)
    tab.screenshot(path=SCREENSHOT)

    # Zoomed in, uncovered buildings come from the coverage endpoint for the view.
    # Leaflet ignores a move while an animation (the what-if marker's, the opening
    # fit) still holds the view, so the move is repeated until the map reports it.
    with tab.expect_response(lambda r: "/api/v1/coverage/buildings" in r.url) as buildings:
        tab.wait_for_function(
            """([lat, lng]) => {
                const map = window.gridmapCoverage.map;
                map.setView([lat, lng], 14, {animate: false});
                return map.getZoom() === 14;
            }""",
            arg=[latlng["lat"], latlng["lng"]],
            timeout=15000,
        )
    assert buildings.value.status == 200
    assert "covered=false" in buildings.value.url
    tab.wait_for_timeout(500)
    tab.screenshot(path=BUILDINGS_SCREENSHOT)
    assert log.errors == []
    assert log.foreign_requests() == []


def test_facility_popup_offers_a_closing_what_if(live_server: str, page: Any) -> None:
    tab, _ = page
    _open(tab, live_server, "?facility_type=kindergarten")
    tab.wait_for_function(READY, arg="facility_type=kindergarten", timeout=30000)
    marker = tab.locator(".leaflet-gm-facilities-pane path").first
    marker.click(force=True)
    popup = tab.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "容量" in popup.inner_text() and "幼儿园" in popup.inner_text()
    with tab.expect_response(lambda r: r.url.endswith("/api/v1/coverage/what-if")) as answer:
        popup.locator("button.gm-close").click()
    body = answer.value.json()
    assert body["net_households"] <= 0
    tab.wait_for_selector("#gm-whatif-answer")
    assert "关闭" in tab.locator("#gm-whatif").inner_text()


# ---- the worst communities and what is on screen, taken away (issue 11) ----------------

WORST_ROWS = "#gm-worst tbody tr[data-code]"


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["desktop", "phone"])
def test_the_worst_communities_are_ranked_beside_the_map(
    live_server: str, browser: Any, viewer_state: dict[str, Any], viewport: dict[str, int]
) -> None:
    with open_page(browser, viewer_state, viewport=viewport) as (tab, log):
        _open(tab, live_server, "?facility_type=kindergarten")
        tab.wait_for_function(READY, arg="facility_type=kindergarten", timeout=30000)
        assert tab.evaluate("() => document.documentElement.dataset.gmReady") == "1"
        ranked = _api(live_server, "/api/v1/coverage/worst", facility_type="kindergarten")["rows"]
        rows = tab.eval_on_selector_all(
            WORST_ROWS,
            "(rows) => rows.map((r) => [r.dataset.code, r.cells[1].innerText,"
            " r.cells[2].innerText, r.cells[3].innerText])",
        )
        assert [r[0] for r in rows] == [r["code"] for r in ranked] and len(rows) == 10
        for shown, row in zip(rows, ranked, strict=True):
            assert shown[1] == row["name"]
            assert shown[2].strip() == f"{row['coverage_rate'] * 100:.1f}%"
            assert shown[3].replace(",", "") == str(row["households_uncovered"])

        # The table and the map sit side by side (desktop) or one above the other (phone).
        panel = tab.locator("#gm-panel").bounding_box()
        map_box = tab.locator("#gm-map").bounding_box()
        assert panel is not None and map_box is not None
        over_map = [
            ".leaflet-control-zoom",
            ".leaflet-control-layers",
            ".leaflet-control-scale",
            "#gm-hint",
        ]
        assert "#gm-hint" in boxes_apart(tab, [*over_map, "#gm-panel"])
        if viewport is PHONE:
            assert map_box["y"] + map_box["height"] <= panel["y"] + 1
            for button in tab.locator("#gm-actions button, #gm-method span").all():
                box = button.bounding_box()
                assert box is not None and box["height"] >= 44
        else:
            assert panel["x"] + panel["width"] <= map_box["x"] + 1

        # A click on a row zooms to the community.
        before = tab.evaluate("() => window.gridmapCoverage.map.getZoom()")
        tab.locator(WORST_ROWS).first.click()
        tab.wait_for_function(
            "(z) => window.gridmapCoverage.map.getZoom() > z + 1", arg=before, timeout=10000
        )
        assert "gm-selected" in (tab.locator(WORST_ROWS).first.get_attribute("class") or "")
        tab.wait_for_timeout(400)
        name = "desktop" if viewport is WIDE else "phone"
        tab.screenshot(path=artifact(f"coverage-{name}.png"))
        assert log.errors == [] and log.foreign_requests() == []


def test_export_and_print_buttons_take_the_view_away(
    live_server: str, browser: Any, viewer_state: dict[str, Any], tmp_path: Any
) -> None:
    with open_page(browser, viewer_state, viewport=WIDE) as (tab, log):
        _open(tab, live_server, "?facility_type=kindergarten")
        tab.wait_for_function(READY, arg="facility_type=kindergarten", timeout=30000)
        tab.locator(WORST_ROWS).first.click()  # a community's view, not the district
        tab.wait_for_timeout(600)

        with (
            tab.expect_response(lambda r: "/api/v1/coverage/export" in r.url) as answer,
            tab.expect_download() as download,
        ):
            tab.locator("#gm-export-csv").click()
        url = answer.value.url
        assert "format=csv" in url and "facility_type=kindergarten" in url and "bbox=" in url
        saved = download.value
        assert saved.suggested_filename.startswith("coverage_kindergarten_300m_")
        assert saved.suggested_filename.endswith(".buildings.csv")
        path = tmp_path / saved.suggested_filename
        saved.save_as(path)
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        lines = data.decode("utf-8-sig").splitlines()
        bbox = parse_qs(urlsplit(url).query)["bbox"][0]
        expected = _api(
            live_server,
            "/api/v1/coverage/buildings",
            facility_type="kindergarten",
            bbox=bbox,
            limit=1,
        )["numberMatched"]
        assert len(lines) - 1 == expected > 0
        tab.locator("#gm-export-status").filter(has_text="已下载").wait_for()

        with tab.expect_download() as download:
            tab.locator("#gm-export-gpkg").click()
        assert download.value.suggested_filename.endswith(".gpkg")
        gpkg = tmp_path / "view.gpkg"
        download.value.save_as(gpkg)
        assert gpkg.read_bytes().startswith(b"SQLite format 3\x00")

        tab.fill("#gm-print-title", "测试打印")
        with (
            tab.expect_response(lambda r: "/api/v1/coverage/print" in r.url) as answer,
            tab.expect_download() as download,
        ):
            tab.locator("#gm-print-png").click()
        assert "title=" in answer.value.url
        png = tmp_path / "view.png"
        download.value.save_as(png)
        assert png.read_bytes().startswith(b"\x89PNG")
        assert download.value.suggested_filename.endswith(".png")
        assert log.errors == [] and log.foreign_requests() == []


# ---- straight line or walk (issue 13) ----------------------------------------------------

WALK = "facility_type=kindergarten&method=network"
WALK_RADIO = "#gm-method input[value=network]"
CIRCLE_RADIO = "#gm-method input[value=circle]"


FREE_POINT = """() => {
    const c = window.gridmapCoverage;
    const taken = c.overstated.getLayers().map((m) => c.map.latLngToContainerPoint(m.getLatLng()));
    const size = c.map.getSize();
    for (const [fx, fy] of [[0.75, 0.5], [0.8, 0.6], [0.7, 0.7], [0.6, 0.8], [0.45, 0.55]]) {
        const p = L.point(size.x * fx, size.y * fy);
        if (taken.every((t) => t.distanceTo(p) > 20)) { return [p.x, p.y]; }
    }
    throw new Error('no point of the map is free of rings');
}"""
"""A point of the district (in the map's pixels) no overstated building's ring covers."""


def _rate(row: dict[str, Any]) -> str:
    return f"{row['coverage_rate'] * 100:.1f}%"


def test_switching_to_walking_distance_asks_every_layer_by_walk(
    live_server: str, page: Any
) -> None:
    tab, log = page
    _open(tab, live_server, "?facility_type=kindergarten")
    tab.wait_for_function(READY, arg="facility_type=kindergarten", timeout=30000)
    assert tab.locator(CIRCLE_RADIO).is_checked() and tab.locator("#gm-compare").is_hidden()
    circle = _api(live_server, "/api/v1/coverage", facility_type="kindergarten")["total"]

    log.requests.clear()
    tab.locator("#gm-method label", has_text="步行距离").click()
    tab.wait_for_function(READY, arg=WALK, timeout=120000)
    assert tab.url.endswith(f"/coverage?{WALK}")  # kept in the address, for sharing
    asked = [u for u in log.requests if "/api/v1/coverage" in u]
    for path in ("coverage?", "worst?", "circles?", "blind-spots?", "compare?", "buildings?"):
        hits = [u for u in asked if f"/{path}" in u]
        assert hits and all("method=network" in u for u in hits), (path, asked)

    # The choropleth, the total and the ranking are the walk's.
    walk = _api(live_server, "/api/v1/coverage", facility_type="kindergarten", method="network")
    assert walk["total"]["coverage_rate"] < circle["coverage_rate"]
    assert _rate(walk["total"]) in tab.locator("#gm-summary").inner_text()
    assert _rate(walk["total"]) in tab.locator("#gm-legend-total").inner_text()
    assert "步行" in tab.locator("#gm-legend-title").inner_text()
    expected = sorted(COVERAGE_RAMP.colour_for(r["coverage_rate"]) for r in walk["rows"])
    assert sorted(_fills(tab)) == expected
    ranked = _api(
        live_server, "/api/v1/coverage/worst", facility_type="kindergarten", method="network"
    )["rows"]
    shown = tab.eval_on_selector_all(WORST_ROWS, "(rows) => rows.map((r) => r.dataset.code)")
    assert shown == [r["code"] for r in ranked]
    areas = _api(
        live_server, "/api/v1/coverage/circles", facility_type="kindergarten", method="network"
    )
    assert tab.locator(".leaflet-gm-circles-pane path").count() == areas["numberMatched"]

    # What the circle overstates: the district's line and a ring per building.
    compare = _api(
        live_server, "/api/v1/coverage/compare", facility_type="kindergarten", by="community"
    )["total"]
    assert compare["households_overstated"] > 0
    line = tab.locator("#gm-compare").inner_text()
    assert line == (
        f"直线服务圈高估 {compare['households_overstated']:,} 户"
        f"（步行可达 {compare['households_walk']:,} 户，直线 {compare['households_circle']:,} 户）"
    )
    overstated = _api(
        live_server, "/api/v1/coverage/compare/buildings", facility_type="kindergarten", limit=1
    )["numberMatched"]
    drawn = tab.evaluate("() => window.gridmapCoverage.overstated.getLayers().length")
    assert drawn == overstated > 0
    assert tab.evaluate(
        "() => window.gridmapCoverage.map.hasLayer(window.gridmapCoverage.overstated)"
    )
    overlays = tab.locator(".leaflet-control-layers-overlays label").all_text_contents()
    assert [o.strip() for o in overlays if "高估" in o or "服务" in o] == [
        "服务盲区",
        "步行服务区",
        "圆形高估",
    ]

    tab.screenshot(path=artifact("coverage-walk.png"))

    # A click asks the what-if by walk too (where no ring would take the click for its popup).
    box = tab.locator("#gm-map").bounding_box()
    assert box is not None
    x, y = tab.evaluate(FREE_POINT)
    with tab.expect_request(lambda r: r.url.endswith("/api/v1/coverage/what-if")) as asked_if:
        tab.mouse.click(box["x"] + x, box["y"] + y)
    assert asked_if.value.post_data_json["method"] == "network"
    tab.wait_for_selector("#gm-whatif-answer")

    # Reloaded (or shared), the address starts in walk mode.
    tab.reload(wait_until="networkidle")
    tab.wait_for_function(READY, arg=WALK, timeout=30000)
    assert tab.locator(WALK_RADIO).is_checked()
    assert _rate(walk["total"]) in tab.locator("#gm-summary").inner_text()

    # And back to straight lines: no walking layer left.
    tab.locator("#gm-method label", has_text="服务圈（直线）").click()
    tab.wait_for_function(READY, arg="facility_type=kindergarten", timeout=30000)
    assert _rate(circle) in tab.locator("#gm-summary").inner_text()
    assert tab.locator("#gm-compare").is_hidden()
    assert not tab.evaluate(
        "() => window.gridmapCoverage.map.hasLayer(window.gridmapCoverage.overstated)"
    )
    assert log.errors == [] and log.failed == [] and log.foreign_requests() == []


def test_walking_without_a_network_says_why_and_goes_back_to_straight_lines(
    live_server: str, page: Any
) -> None:
    tab, log = page
    # The demo has a walking network: a district without one is played by its 404.
    description = no_network().zh
    assert description
    tab.route(
        re.compile(r".*/api/v1/coverage.*[?&]method=network.*"),
        lambda route: route.fulfill(
            status=404,
            content_type="application/json",
            body=json.dumps(error_body(404, description, "not_found")),
        ),
    )
    _open(tab, live_server, f"?{WALK}")
    tab.wait_for_function(READY, arg="facility_type=kindergarten", timeout=30000)
    assert tab.locator("#gm-method-note").inner_text().startswith(description)
    assert tab.locator(CIRCLE_RADIO).is_checked()
    assert tab.url.endswith("/coverage?facility_type=kindergarten")
    circle = _api(live_server, "/api/v1/coverage", facility_type="kindergarten")["total"]
    assert _rate(circle) in tab.locator("#gm-summary").inner_text()
    assert tab.locator(".leaflet-gm-grids-pane path").count() > 0
    assert tab.evaluate("() => document.documentElement.dataset.gmReady") == "1"
    # The browser logs each 404 it was answered; nothing else went wrong.
    assert [e for e in log.errors if "status of 404" not in e] == []
