"""The norms page at /norms in headless Chromium, offline, on the demo district: the table
and the district totals are the API's, the map draws one shape per community in the
classes the API sends, English is one click away, a phone reads it, and only the roles
that plan and fund communities see it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gis.accounts.accounts import list_accounts
from gis.principal import Role
from layers.incidents import colour_for
from layers.norms import LABELS
from tests.accounts import DEMO_PASSWORD
from tests.web.browser import PHONE, artifact, login_state, open_page, viewer_headers

pytestmark = pytest.mark.browser

READY = "() => !!document.body && document.body.dataset.norms === 'drawn'"
"""The page has drawn the table and the map (set with GM.ready once the answer is in)."""
SHAPES = ".leaflet-gm-communities-pane path"
SCREENSHOT = artifact("norms-phone.png")


def _api(base: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{base}{path}", headers=viewer_headers(base), params=params, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def _open(tab: Any, base: str, query: str = "") -> None:
    response = tab.goto(f"{base}/norms{query}", wait_until="networkidle")
    assert response is not None and response.status == 200
    tab.wait_for_function(READY, timeout=30000)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _fills(tab: Any) -> list[str]:
    fills: list[str] = tab.eval_on_selector_all(
        SHAPES, "(els) => els.map((el) => el.getAttribute('fill'))"
    )
    return fills


def _expected_fills(body: dict[str, Any], column: str) -> list[str]:
    classes = body["classes"][column]
    return sorted(
        colour_for(r[column], classes["breaks"], classes["colours"]) for r in body["rows"]
    )


def test_the_table_totals_and_map_are_the_apis(live_server: str, page: Any) -> None:
    tab, log = page
    _open(tab, live_server)
    body = _api(live_server, "/api/v1/norms/communities")
    total = body["total"]

    # The district's funds due, in the summary and the table's total row, are the API's.
    assert _digits(tab.locator("#gm-total-cny").inner_text()) == str(total["total_cny"])
    footer = tab.locator("#gm-total td[data-key='total_cny']").inner_text()
    assert _digits(footer) == str(total["total_cny"])
    assert _digits(tab.locator("#gm-total td[data-key='households']").inner_text()) == str(
        total["households"]
    )
    # One table row per community of the API, in code order at first.
    codes = tab.eval_on_selector_all(
        "#gm-table tbody tr", "(rows) => rows.map((r) => r.dataset.code)"
    )
    assert codes == [r["code"] for r in body["rows"]] and len(codes) == total["communities"]
    # The norms applied, with their figures as the API (the settings) has them.
    shown = dict(
        tab.eval_on_selector_all(
            "#gm-norms tbody tr",
            "(rows) => rows.map((r) => [r.dataset.code, r.cells[1].dataset.value])",
        )
    )
    assert {code: float(value) for code, value in shown.items()} == {
        n["code"]: n["value"] for n in body["norms"]
    }
    assert "种子 004 奎文" in tab.locator("#gm-norms").inner_text()

    # One shape per community, filled in the class the API's breaks give it.
    assert tab.locator(SHAPES).count() == len(body["rows"])
    assert sorted(_fills(tab)) == _expected_fills(body, "floor_area_shortfall_m2")
    legend = tab.locator("#gm-legend").inner_text()
    for row in body["classes"]["floor_area_shortfall_m2"]["legend"]:
        assert row["label_zh"] in legend

    assert log.errors == []
    assert log.failed == []
    assert log.foreign_requests() == []


def test_shading_by_another_norm_and_sorting(live_server: str, page: Any) -> None:
    tab, log = page
    _open(tab, live_server)
    body = _api(live_server, "/api/v1/norms/communities")
    before = _fills(tab)
    for column in ("staff_shortfall", "total_cny"):
        tab.select_option("#gm-measure", column)
        tab.wait_for_function(f"() => document.body.dataset.measure === '{column}'")
        assert sorted(_fills(tab)) == _expected_fills(body, column)
        assert body["classes"][column]["label_zh"] in tab.locator("#gm-legend-title").inner_text()
        assert tab.url.endswith(f"measure={column}")  # the address follows, for sharing
    assert _fills(tab) != before

    # A heading sorts: the largest floor area shortfall first, then the other way.
    heading = tab.locator("#gm-table th[data-key='floor_area_shortfall_m2']")
    heading.click()
    assert heading.get_attribute("aria-sort") == "descending"
    worst = max(body["rows"], key=lambda r: (r["floor_area_shortfall_m2"], r["code"]))
    first = tab.locator("#gm-table tbody tr").first
    assert (
        float(first.locator("td").nth(4).inner_text().replace(",", ""))
        == (worst["floor_area_shortfall_m2"])
    )
    heading.click()
    assert heading.get_attribute("aria-sort") == "ascending"
    assert tab.locator("#gm-table tbody tr").first.locator("td").nth(4).inner_text() == "0.0"

    # A row opens its community's popup on the map, with its figures.
    tab.locator("#gm-table tbody tr").first.click()
    popup = tab.locator(".leaflet-popup-content")
    popup.wait_for()
    code = tab.locator("#gm-table tbody tr").first.get_attribute("data-code")
    row = next(r for r in body["rows"] if r["code"] == code)
    assert row["name"] in popup.inner_text()
    assert f"{row['total_cny']:,}" in popup.inner_text()
    assert log.errors == []


def test_the_csv_download_is_the_table(live_server: str, page: Any) -> None:
    tab, _ = page
    _open(tab, live_server)
    with tab.expect_download() as download:
        tab.locator("#gm-csv").click()
    path = download.value.path()
    assert path is not None
    with open(path, encoding="utf-8-sig") as f:
        lines = f.read().splitlines()
    body = _api(live_server, "/api/v1/norms/communities")
    assert len(lines) == 1 + len(body["rows"])
    assert lines[0].split(",")[:2] == ["code", "name"]
    assert [line.split(",")[0] for line in lines[1:]] == [r["code"] for r in body["rows"]]


def test_english_is_one_click_away_and_kept(live_server: str, page: Any) -> None:
    tab, log = page
    _open(tab, live_server)
    assert tab.locator("html").get_attribute("lang") == "zh-CN"
    assert tab.locator("h1").inner_text() == LABELS["zh"]["title"]
    with tab.expect_navigation():
        tab.locator("#gm-lang").click()
    tab.wait_for_function(READY, timeout=30000)
    assert tab.locator("html").get_attribute("lang") == "en"
    assert tab.locator("h1").inner_text() == LABELS["en"]["title"]
    heads = tab.locator("#gm-table thead").inner_text()
    assert LABELS["en"]["floor_shortfall"] in heads and "社区" not in heads
    assert "Seed 004 Kuiwen".lower() in tab.locator("#gm-norms").inner_text().lower()
    assert "norm met" in tab.locator("#gm-legend").inner_text()
    assert "District total" in tab.locator("#gm-total").inner_text()
    # The choice is kept (the gm_lang cookie) and undone the same way.
    _open(tab, live_server)
    assert tab.locator("html").get_attribute("lang") == "en"
    with tab.expect_navigation():
        tab.locator("#gm-lang").click()
    tab.wait_for_function(READY, timeout=30000)
    assert tab.locator("h1").inner_text() == LABELS["zh"]["title"]
    assert log.errors == []


def test_a_phone_reads_the_map_and_the_table(
    live_server: str, browser: Any, viewer_state: dict[str, Any]
) -> None:
    with open_page(browser, viewer_state, viewport=PHONE) as (tab, log):
        _open(tab, live_server)
        fits = "() => document.documentElement.scrollWidth <= window.innerWidth + 1"
        assert tab.evaluate(fits)  # the wide table scrolls in its own box
        box = tab.locator("#gm-map").bounding_box()
        assert box is not None and box["width"] >= PHONE["width"] - 30 and box["height"] > 300
        assert tab.locator(SHAPES).count() > 0
        select = tab.locator("#gm-measure").bounding_box()
        assert select is not None and select["height"] >= 44
        tab.screenshot(path=SCREENSHOT, full_page=True)
        assert log.errors == []


def test_only_planning_roles_see_the_page(
    live_server: str, browser: Any, demo_engine: Engine
) -> None:
    # Anonymous: to the login page, and back afterwards.
    with open_page(browser) as (tab, _):
        tab.goto(f"{live_server}/norms")
        assert urlsplit(tab.url).path == "/login"
        assert parse_qs(urlsplit(tab.url).query) == {"next": ["/norms"]}
    # A grid manager may not: a refusal page saying why, still logged in, no data on it.
    with Session(demo_engine) as session:
        manager = list_accounts(session, role=Role.GRID_MANAGER)[0].username
    state = login_state(browser, live_server, manager, DEMO_PASSWORD)
    with open_page(browser, state) as (tab, _):
        response = tab.goto(f"{live_server}/norms")
        assert response is not None and response.status == 403
        assert tab.locator("h1").inner_text() == "无权访问"
        assert tab.locator("#gm-error").get_attribute("data-status") == "403"
        assert tab.locator("#gm-table").count() == 0 and "GRIDMAP_NORMS" not in tab.content()
        assert tab.locator("#gm-user-role").inner_text() == "网格员"
    # A planner may.
    state = login_state(browser, live_server, "planner", DEMO_PASSWORD)
    with open_page(browser, state) as (tab, log):
        _open(tab, live_server)
        assert tab.locator("#gm-user-role").inner_text() == "规划人员"
        assert log.errors == []
