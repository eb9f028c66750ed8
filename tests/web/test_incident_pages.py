"""The incident pages in headless Chromium, offline.

The planner's map (/incidents) and the grid picker run on the read-only demo
district (``live_server``). The worklist's answer (GET /api/v1/worklists/{code}, what
the field app's grid page draws) is checked on a database of its own
(``worklist_base``): the small lattice district of tests/coverage_district.py with a
grid manager on grid 001, a few other staff to dispatch to (``STAFF``) and, before
each test, five cases in that grid whose deadlines are known. The pages that take
the steps are the field app's (tests/web/test_field_app.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import create_app
from gis.accounts.accounts import add_account
from gis.incidents.catalogue import PERSONAL_CATEGORIES
from gis.incidents.intake import Report, create_incident
from gis.incidents.transitions import transition
from gis.principal import Principal
from gis.settings import ServerSettings
from layers.incidents import DEFAULT_MEASURE, colour_for, hot_spot_colour, hot_spot_legend
from tests.accounts import PASSWORD, password_hash
from tests.coverage_district import GRIDS, LatticeDistrict, add_grid_manager, committed_lattice
from tests.incident_cases import staff
from tests.servers import served
from tests.web.browser import (
    PHONE,
    artifact,
    bearer,
    open_page,
    viewer_headers,
)

pytestmark = pytest.mark.browser

GRID_PATHS = ".leaflet-gm-grids-pane path"
HOT_PATHS = ".leaflet-gm-hot-pane path"
MAP_READY = "(q) => document.body.dataset.incidents === q"
"""The map sets data-incidents to its address once a selection is drawn."""
GRID_FILLS = """() => {
    const fills = {};
    window.gridmapIncidents.map.eachLayer((layer) => {
        if (layer.feature && layer.options.pane === 'gm-grids') {
            fills[layer.feature.properties.code] = layer.getElement().getAttribute('fill');
        }
    });
    return fills;
}"""
"""Grid code -> the fill its path is drawn with."""
RATE_LEGEND = """(rows) => rows.map((row) => ({
    label: row.innerText.trim(),
    colour: row.querySelector('i').getAttribute('style').replace('background:', ''),
}))"""
READY = "() => document.documentElement.dataset.gmReady === '1'"
"""A field app page has drawn its data (GM.ready)."""
MANAGER = "王芳"
MANAGER_PHONE = "13812345678"
MANAGER_LOGIN = "wangfang"
COMMUNITY_LOGIN = "dongyuan"
COMMUNITY_NAME = "东苑社区工作站"
"""The account of grid 001's community (its area: the grid's 12-digit community code)."""
DEMO_YEAR = {"start": "2025-11-01", "end": "2026-11-01"}
"""The demo's incidents span 2025-11-01..2026-10-31: the map's default period."""
SCREENSHOT = "/tmp/incidents.png"
WORKLIST_SCREENSHOT = "/tmp/worklist.png"


_WORKLIST_SERVERS: set[str] = set()
"""Base URLs of the worklist servers: their API is read as the grid manager."""


def _auth(base: str) -> dict[str, str]:
    """Bearer headers of whom a server's pages are looked at as."""
    if base in _WORKLIST_SERVERS:
        return bearer(base, MANAGER_LOGIN, PASSWORD)
    return viewer_headers(base)


def _api(base: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{base}{path}", params=params, headers=_auth(base), timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def _fills(tab: Any, selector: str) -> list[str]:
    fills: list[str] = tab.eval_on_selector_all(
        selector, "(els) => els.map((el) => el.getAttribute('fill'))"
    )
    return fills


def _assert_draws_the_answers_classes(tab: Any, stats: dict[str, Any], column: str) -> None:
    """The page shows the classes the statistics answer sent for ``column``:
    each grid the colour of the class its value reaches, the legend row by row."""
    classes = stats["classes"][column]
    fills: dict[str, str] = tab.evaluate(GRID_FILLS)
    expected = {
        r["code"]: colour_for(r[column], classes["breaks"], classes["colours"])
        for r in stats["rows"]
    }
    assert fills == expected
    legend = tab.eval_on_selector_all("#gm-legend-rates .gm-row", RATE_LEGEND)
    assert legend == classes["legend"]
    assert tab.locator("#gm-legend-title").inner_text() == classes["measure"]["label_zh"]


# --------------------------------------------------------------------------- planner's map


def test_incident_map_shows_per_grid_rates_with_legend(live_server: str, page: Any) -> None:
    tab, log = page
    response = tab.goto(f"{live_server}/incidents", wait_until="networkidle")
    assert response is not None and response.status == 200
    tab.wait_for_function(MAP_READY, arg=f"measure={DEFAULT_MEASURE}&period=12m", timeout=60000)
    assert log.foreign_requests() == []
    assert log.failed == []
    assert log.errors == []

    period = tab.evaluate("() => window.GRIDMAP_INCIDENTS.periods[0]")
    assert {"start": period["start"], "end": period["end"]} == DEMO_YEAR
    period = DEMO_YEAR
    stats = _api(live_server, "/api/v1/incidents/statistics", level="grid", **period)
    rows = stats["rows"]
    grids = _api(live_server, "/api/v1/grids", limit=1)["numberMatched"]
    fills = _fills(tab, GRID_PATHS)
    assert len(fills) == len(rows) == grids == 400
    _assert_draws_the_answers_classes(tab, stats, DEFAULT_MEASURE)
    assert len(set(fills)) >= 4  # a year of incidents spreads over the classes
    assert stats["classes"][DEFAULT_MEASURE]["legend"][-1]["label"] == "无数据"
    assert tab.locator("#gm-legend-title").inner_text() == "每千户事件数"
    received = sum(r["received"] for r in rows)
    assert f"{received:,} 件" in tab.locator("#gm-summary").inner_text()
    assert tab.locator("#gm-measure").input_value() == DEFAULT_MEASURE
    tab.screenshot(path=SCREENSHOT)


def test_hot_spot_layer_shows_the_hot_grids_the_api_reports(live_server: str, page: Any) -> None:
    tab, log = page
    tab.goto(f"{live_server}/incidents?hot=1", wait_until="networkidle")
    tab.wait_for_function(
        MAP_READY, arg=f"measure={DEFAULT_MEASURE}&period=12m&hot=1", timeout=90000
    )
    hot = _api(live_server, "/api/v1/incidents/hot-spots", **DEMO_YEAR)
    classes = [f["properties"]["class"] for f in hot["features"]]
    fills = _fills(tab, HOT_PATHS)
    assert sorted(fills) == sorted(hot_spot_colour(c) for c in classes)
    hot_grids = sum(c.startswith("hot") for c in classes)
    assert hot_grids > 0  # the demo has hot spots by construction
    shown_hot = sum(f in {hot_spot_colour(c) for c in ("hot 99%", "hot 95%", "hot 90%")}
                    for f in fills)  # fmt: skip
    assert shown_hot == hot_grids
    legend = tab.locator("#gm-legend-hot").inner_text()
    for row in hot_spot_legend():
        assert row["label"] in legend

    # Switched off, the layer and its legend go; the choropleth stays.
    tab.locator("#gm-hot").uncheck()
    tab.wait_for_function(MAP_READY, arg=f"measure={DEFAULT_MEASURE}&period=12m", timeout=30000)
    assert tab.locator(HOT_PATHS).count() == 0
    assert tab.locator("#gm-legend-hot").count() == 0
    assert tab.locator(GRID_PATHS).count() == 400
    assert log.errors == []


def test_switching_period_category_and_measure_without_reloading(
    live_server: str, page: Any
) -> None:
    tab, log = page
    tab.goto(f"{live_server}/incidents", wait_until="networkidle")
    tab.wait_for_function(MAP_READY, arg=f"measure={DEFAULT_MEASURE}&period=12m", timeout=60000)
    tab.evaluate("() => { window.__samePage = true; }")
    before = _fills(tab, GRID_PATHS)
    stats_calls = len([u for u in log.requests if "/incidents/statistics" in u])
    assert stats_calls == 1

    tab.select_option("#gm-period", "m1")
    tab.wait_for_function(MAP_READY, arg=f"measure={DEFAULT_MEASURE}&period=m1", timeout=60000)
    month = next(p for p in tab.evaluate("() => window.GRIDMAP_INCIDENTS.periods")
                 if p["key"] == "m1")  # fmt: skip
    stats = _api(
        live_server,
        "/api/v1/incidents/statistics",
        level="grid",
        start=month["start"],
        end=month["end"],
    )
    _assert_draws_the_answers_classes(tab, stats, DEFAULT_MEASURE)
    assert _fills(tab, GRID_PATHS) != before

    tab.select_option("#gm-category", "city_appearance")
    query = f"measure={DEFAULT_MEASURE}&period=m1&category=city_appearance"
    tab.wait_for_function(MAP_READY, arg=query, timeout=60000)
    stats = _api(
        live_server,
        "/api/v1/incidents/statistics",
        level="grid",
        start=month["start"],
        end=month["end"],
        category="city_appearance",
    )
    _assert_draws_the_answers_classes(tab, stats, DEFAULT_MEASURE)
    assert "市容环境" in tab.locator("#gm-summary").inner_text()
    # One statistics call per switch.
    assert len([u for u in log.requests if "/incidents/statistics" in u]) == stats_calls + 2

    # Every rate column of the answer is offered; switching measure asks nothing new.
    options = tab.eval_on_selector_all("#gm-measure option", "(els) => els.map((e) => e.value)")
    rate_columns = [c for c in stats["rows"][0] if c == DEFAULT_MEASURE or c.endswith("_rate")]
    assert options == rate_columns == list(stats["classes"])
    labels = tab.eval_on_selector_all("#gm-measure option", "(els) => els.map((e) => e.text)")
    assert labels == [c["measure"]["label_zh"] for c in stats["classes"].values()]
    if len(options) > 1:
        other = options[1]
        tab.select_option("#gm-measure", other)
        tab.wait_for_function(
            MAP_READY, arg=f"measure={other}&period=m1&category=city_appearance", timeout=30000
        )
        _assert_draws_the_answers_classes(tab, stats, other)
        assert len([u for u in log.requests if "/incidents/statistics" in u]) == stats_calls + 2

    assert tab.evaluate("() => window.__samePage") is True
    assert tab.url.endswith(f"/incidents?{query}") or "period=m1" in tab.url
    assert log.errors == []


def test_zoomed_in_the_map_draws_the_incidents_in_view(live_server: str, page: Any) -> None:
    tab, log = page
    tab.goto(f"{live_server}/incidents", wait_until="networkidle")
    tab.wait_for_function(MAP_READY, arg=f"measure={DEFAULT_MEASURE}&period=12m", timeout=60000)
    assert tab.locator(".leaflet-gm-points-pane path").count() == 0
    assert "放大至15级" in tab.locator("#gm-hint").inner_text()
    hot = _api(live_server, "/api/v1/incidents/hot-spots", **DEMO_YEAR)
    busiest = max(hot["features"], key=lambda f: f["properties"]["received"])
    ring = busiest["geometry"]["coordinates"][0][0]
    lon = sum(p[0] for p in ring) / len(ring)
    lat = sum(p[1] for p in ring) / len(ring)
    with tab.expect_response(
        lambda r: "/api/v1/incidents?" in r.url and "bbox=" in r.url
    ) as answer:
        tab.wait_for_function(
            """([lat, lon]) => {
                const map = window.gridmapIncidents.map;
                map.setView([lat, lon], 16, {animate: false});
                return map.getZoom() === 16;
            }""",
            arg=[lat, lon],
            timeout=15000,
        )
    body = answer.value.json()
    assert body["numberReturned"] > 0
    assert "start=2025-11-01" in answer.value.url and "personal=false" in answer.value.url
    shown = {f["properties"]["category"] for f in body["features"]}
    assert shown and not shown & PERSONAL_CATEGORIES
    tab.wait_for_function(
        "(n) => document.querySelectorAll('.leaflet-gm-points-pane path').length === n",
        arg=body["numberReturned"],
        timeout=15000,
    )
    tab.locator(".leaflet-gm-points-pane path").first.click(force=True)
    popup = tab.locator(".leaflet-popup-content").inner_text()
    assert "上报时间" in popup and "状态" in popup
    assert log.errors == []
    assert log.foreign_requests() == []


def test_grid_picker_lists_every_grid_with_its_manager(live_server: str, page: Any) -> None:
    tab, log = page
    response = tab.goto(f"{live_server}/incidents/grid", wait_until="networkidle")
    assert response is not None and response.status == 200
    assert tab.locator("#gm-grids tbody tr").count() == 400
    first = tab.locator("#gm-grids tbody tr").first.inner_text()
    assert "网格" in first
    assert MANAGER_PHONE not in tab.content()
    # The worklist of the grid with most open cases: the cases and order of the API.
    table = tab.eval_on_selector_all(
        "#gm-grids tbody tr",
        "(rows) => rows.map((r) => [r.cells[0].innerText, +r.cells[4].innerText])",
    )
    code, open_count = max(table, key=lambda r: (r[1], r[0]))
    assert open_count > 0
    with tab.expect_navigation():
        tab.locator(f"a[href='/grid/{code}']").click()
    tab.wait_for_function(READY, timeout=30000)
    worklist = _api(live_server, f"/api/v1/worklists/{code}")
    ids = tab.eval_on_selector_all("#gm-list .gm-card", "(els) => els.map((e) => +e.dataset.id)")
    assert ids == [i["id"] for i in worklist["incidents"]]
    assert len(ids) == open_count
    assert log.errors == []


VISIBLE_ROWS = """() => [...document.querySelectorAll('#gm-grids tbody tr')]
    .filter((r) => !r.hidden).map((r) => ({code: r.cells[0].innerText.trim(),
      text: r.dataset.search, overdue: +r.dataset.overdue}))"""


def test_grid_picker_searches_and_filters_on_a_phone(
    live_server: str, browser: Any, viewer_state: dict[str, Any]
) -> None:
    with open_page(browser, viewer_state, viewport=PHONE) as (tab, log):
        response = tab.goto(f"{live_server}/incidents/grid", wait_until="networkidle")
        assert response is not None and response.status == 200
        assert tab.locator("#gm-shown").inner_text() == "共 400 个网格"
        assert tab.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        for control in ("#gm-search", "#gm-subdistrict", "#gm-community", "label.gm-check"):
            box = tab.locator(control).bounding_box()
            assert box is not None and box["height"] >= 44, control

        # Search: a grid's code finds that grid alone; a community's name finds its grids.
        grid = _api(live_server, "/api/v1/grids", limit=1)["features"][0]["properties"]
        tab.fill("#gm-search", grid["code"])
        assert [r["code"] for r in tab.evaluate(VISIBLE_ROWS)] == [grid["code"]]
        tab.fill("#gm-search", grid["community_name"])
        found = tab.evaluate(VISIBLE_ROWS)
        of_community = [
            f["properties"]["code"]
            for f in _api(
                live_server, "/api/v1/grids", community=grid["community_code"], limit=1000
            )["features"]
        ]
        assert set(of_community) <= {r["code"] for r in found}
        assert all(grid["community_name"].lower() in r["text"] for r in found)
        assert tab.locator("#gm-shown").inner_text() == f"显示 {len(found)} / 400 个网格"
        tab.fill("#gm-search", "")

        # Filters: a subdistrict, then one of its communities, then overdue only.
        subdistrict = tab.locator("#gm-subdistrict option").nth(2).get_attribute("value")
        assert subdistrict
        tab.select_option("#gm-subdistrict", subdistrict)
        rows = tab.evaluate(VISIBLE_ROWS)
        assert rows and all(r["code"].startswith(subdistrict) for r in rows)
        offered = tab.eval_on_selector_all(
            "#gm-community option",
            "(os) => os.filter((o) => !o.hidden && o.value).map((o) => o.value)",
        )
        assert offered and all(c.startswith(subdistrict) for c in offered)
        tab.select_option("#gm-community", offered[0])
        rows = tab.evaluate(VISIBLE_ROWS)
        assert rows and all(r["code"].startswith(offered[0]) for r in rows)
        tab.select_option("#gm-community", "")
        tab.check("#gm-overdue")
        late = tab.evaluate(VISIBLE_ROWS)
        assert all(r["overdue"] > 0 for r in late)
        assert all(r["code"].startswith(subdistrict) for r in late)

        # The address keeps the choice: a reload shows the same list.
        assert f"subdistrict={subdistrict}" in tab.url and "overdue=1" in tab.url
        tab.reload(wait_until="networkidle")
        assert tab.locator("#gm-overdue").is_checked()
        assert tab.evaluate(VISIBLE_ROWS) == late
        tab.screenshot(path=artifact("grid-picker-phone.png"), full_page=False)

        # Nothing matches: said so.
        tab.fill("#gm-search", "没有这样的网格")
        assert "没有符合条件的网格" in tab.locator("#gm-shown").inner_text()
        assert log.errors == [] and log.foreign_requests() == []


# --------------------------------------------------------------------------- worklist


@dataclass(frozen=True)
class Cases:
    overdue: int
    due: int
    accepted: int
    reported: int
    cancelled: int


@dataclass(frozen=True)
class Person:
    """Staff added beside the grid manager: who they are and whether grid 001 may use them."""

    name: str
    role: str
    phone: str
    grid: str
    """Their community is this grid's."""
    assigned: bool = False
    """Assigned to ``grid`` (staff_grid, not primary)."""
    duty: str | None = None
    offered: bool = True
    """Offered by grid 001's dispatch chooser."""


STAFF = (
    Person("陈专干", "community_worker", "13700000001", GRIDS[0], assigned=True, duty="民政"),
    Person("孙社工", "community_worker", "13700000002", GRIDS[0]),
    Person("刘调解", "mediator", "13700000003", GRIDS[0]),
    Person("周网格员", "grid_manager", "13700000004", GRIDS[1], assigned=True, offered=False),
    Person("吴社工", "community_worker", "13700000005", GRIDS[2], offered=False),
)
"""Grid 001's community (东苑) has grid 002 too; grid 003 is another community's."""
OFFERED = [MANAGER, "陈专干", "孙社工", "刘调解"]
"""Grid 001's chooser in order: its primary grid manager, its own staff, the community's."""


def _add_staff(engine: Engine, person: Person) -> int:
    with engine.begin() as conn:
        staff = int(
            conn.execute(
                text(
                    "INSERT INTO staff (name, phone, role, specialist_duty, community_id)"
                    " SELECT :n, :p, :r, :d, community_id FROM grid WHERE code = :g"
                    " RETURNING id"
                ),
                {"n": person.name, "p": person.phone, "r": person.role, "d": person.duty,
                 "g": person.grid},
            ).scalar_one()
        )  # fmt: skip
        if person.assigned:
            conn.execute(
                text(
                    "INSERT INTO staff_grid (staff_id, grid_id, is_primary)"
                    " SELECT :s, id, false FROM grid WHERE code = :g"
                ),
                {"s": staff, "g": person.grid},
            )
    return staff


@dataclass(frozen=True)
class WorklistServer:
    base: str
    district: LatticeDistrict
    cases: dict[str, Cases]


def _reset_cases(district: LatticeDistrict) -> Cases:
    """Five cases in grid 001: overdue, due later, accepted, reported, cancelled."""
    now = dt.datetime.now(dt.UTC)
    with Session(district.engine) as s:
        s.execute(text("DELETE FROM incident"))

        def new(category: str, hours_ago: float, lon: float) -> tuple[int, int]:
            record = create_incident(
                s,
                Report(
                    category=category,
                    lon=lon,
                    lat=36.73,
                    description=f"{category} 测试",
                    source="hotline",
                    reported_at=now - dt.timedelta(hours=hours_ago),
                ),
                Principal.claimed("市民 13900001111"),
            )
            return record.id, record.version

        def step(case: tuple[int, int], action: str, hours_ago: float, **kw: Any) -> int:
            record = transition(
                s,
                case[0],
                action,
                principal=staff(MANAGER),  # a district member of staff may take any of these
                expected_version=case[1],
                at=now - dt.timedelta(hours=hours_ago),
                **kw,
            )
            return record.version

        overdue = new("exposed_garbage", 24 * 8, 119.105)  # 4 working hours, dispatched 7 days ago
        v = step(overdue, "accept", 24 * 7.5)
        step((overdue[0], v), "dispatch", 24 * 7)
        due = new("city_appearance", 2, 119.110)  # 1 working day, dispatched just now
        v = step(due, "accept", 1)
        step((due[0], v), "dispatch", 0)
        accepted = new("city_appearance", 5, 119.115)
        step(accepted, "accept", 4)
        reported = new("exposed_garbage", 3, 119.120)
        cancelled = new("exposed_garbage", 6, 119.122)
        step(cancelled, "cancel", 5, note="重复上报")
        s.commit()
    return Cases(overdue[0], due[0], accepted[0], reported[0], cancelled[0])


@pytest.fixture(scope="module")
def worklist_district(server_url: str) -> Iterator[LatticeDistrict]:
    with committed_lattice(server_url, "gridmap_worklist_web") as district:
        manager = add_grid_manager(
            district.engine, MANAGER, GRIDS[0], phone=MANAGER_PHONE, in_community=True
        )
        for person in STAFF:
            _add_staff(district.engine, person)
        with Session(district.engine) as s:
            add_account(
                s,
                MANAGER_LOGIN,
                PASSWORD,
                "grid_manager",
                staff_id=manager,
                password_hash=password_hash(),
            )
            add_account(
                s,
                COMMUNITY_LOGIN,
                PASSWORD,
                "community",
                area_code=GRIDS[0][:12],
                display_name=COMMUNITY_NAME,
                password_hash=password_hash(),
            )
            s.commit()
        yield district


@pytest.fixture(scope="module")
def worklist_base(worklist_district: LatticeDistrict) -> Iterator[str]:
    app = create_app(ServerSettings(), engine=worklist_district.engine)
    with served(app, log_level="warning") as base:
        _WORKLIST_SERVERS.add(base)
        try:
            yield base
        finally:
            _WORKLIST_SERVERS.discard(base)


@pytest.fixture
def cases(worklist_district: LatticeDistrict) -> Cases:
    return _reset_cases(worklist_district)


def test_worklist_api_orders_open_cases_by_deadline(worklist_base: str, cases: Cases) -> None:
    body = _api(worklist_base, f"/api/v1/worklists/{GRIDS[0]}")
    assert body["manager"] == {"id": body["manager"]["id"], "name": MANAGER}
    ids = [i["id"] for i in body["incidents"]]
    assert ids == [cases.overdue, cases.due, cases.accepted, cases.reported]
    first, second = body["incidents"][0], body["incidents"][1]
    assert first["overdue"] is True and first["remaining_s"] < -24 * 3600
    assert first["remaining_working_s"] == 0
    assert second["overdue"] is False and second["remaining_s"] > 0
    assert 0 < second["remaining_working_s"] <= 8 * 3600 + 60  # one working day
    assert body["overdue"] == 1
    by_id = {i["id"]: i for i in body["incidents"]}
    # what the grid manager may take (redispatch is the community's, urging a level above's)
    assert by_id[cases.reported]["allowed"] == ["accept", "cancel", "settle", "escalate"]
    assert by_id[cases.due]["allowed"] == ["handle", "escalate"]
    assert by_id[cases.reported]["deadline_at"] is None
    auth = _auth(worklist_base)
    text_body = httpx.get(
        f"{worklist_base}/api/v1/worklists/{GRIDS[0]}", headers=auth, timeout=30
    ).text
    assert MANAGER_PHONE not in text_body and "13900001111" not in text_body
    for path in ("/api/v1/worklists/", "/grid/"):
        unknown = httpx.get(f"{worklist_base}{path}370705001009009", headers=auth, timeout=30)
        assert unknown.status_code == 404
        # Another grid (of the same community) answers like an unknown one.
        other = httpx.get(f"{worklist_base}{path}{GRIDS[1]}", headers=auth, timeout=30)
        assert other.status_code == 404
        assert other.text.replace(GRIDS[1], "") == unknown.text.replace("370705001009009", "")
        assert httpx.get(f"{worklist_base}{path}{GRIDS[1]}", timeout=30).status_code == 401
    assert httpx.get(f"{worklist_base}/api/v1/worklists/123", headers=auth).status_code == 400


def _staff_id(district: LatticeDistrict, name: str) -> int:
    with district.engine.connect() as conn:
        return int(
            conn.execute(text("SELECT id FROM staff WHERE name = :n"), {"n": name}).scalar_one()
        )


def test_worklist_api_offers_the_grid_and_community_staff_without_phones(
    worklist_base: str, worklist_district: LatticeDistrict, cases: Cases
) -> None:
    body = _api(worklist_base, f"/api/v1/worklists/{GRIDS[0]}")
    handlers = body["handlers"]
    assert [h["name"] for h in handlers] == OFFERED
    by_name = {h["name"]: h for h in handlers}
    assert by_name[MANAGER] == {
        "id": body["manager"]["id"],
        "name": MANAGER,
        "role": "网格员",
        "role_code": "grid_manager",
        "duty": None,
        "in_grid": True,
        "primary_manager": True,
    }
    assert (by_name["陈专干"]["role"], by_name["陈专干"]["duty"]) == ("社区工作者", "民政")
    assert [by_name[n]["in_grid"] for n in OFFERED] == [True, True, False, False]
    assert [by_name[n]["primary_manager"] for n in OFFERED] == [True, False, False, False]
    assert by_name["刘调解"]["role"] == "人民调解员"
    assert by_name["孙社工"]["id"] == _staff_id(worklist_district, "孙社工")
    raw = httpx.get(
        f"{worklist_base}/api/v1/worklists/{GRIDS[0]}", headers=_auth(worklist_base), timeout=30
    ).text
    for phone in [MANAGER_PHONE, *(p.phone for p in STAFF)]:
        assert phone not in raw
    assert all("phone" not in h for h in handlers)
    # Each case names its current handler: the grid manager it was routed to.
    assert {i["handler"]["name"] for i in body["incidents"]} == {MANAGER}
