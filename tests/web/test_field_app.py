"""The field app (api.routes.field) in headless Chromium, at 390 × 844 and 1440 × 900.

A database of its own (the lattice district of tests/coverage_district.py): a grid
manager (王芳, grid 001) and grid 001's community each log in with their own account.
The grid manager lands on their grid and sees only it; reports a case on the map;
the case goes round the loop, each step taken on the case page by the person whose
step it is; a report made without signal waits in the outbox and arrives once when the
signal returns; a step on a case someone else moved on shows the conflict with the
note kept. Every view is photographed into tests/artifacts/field/ (named by view and
width); no console errors, no request leaves the machine, touch targets are at least
44 px and, on the phone, no panel covers another.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.app import create_app
from gis.accounts import audit
from gis.accounts.accounts import add_account
from gis.areas.codes import Level
from gis.incidents.escalation import sweep_once
from gis.settings import ServerSettings
from tests.accounts import PASSWORD, password_hash
from tests.coverage_district import GRIDS, LatticeDistrict, add_grid_manager, committed_lattice
from tests.servers import served
from tests.web.browser import PHONE, PageLog, bearer, login_state, open_page

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1440, "height": 900}
VIEWPORTS = [PHONE, DESKTOP]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "field"
READY = "() => document.documentElement.dataset.gmReady === '1'"
MANAGER, MANAGER_LOGIN = "王芳", "wangfang"
OTHER_MANAGER, OTHER_LOGIN = "李强", "liqiang"
COMMUNITY_LOGIN, COMMUNITY_NAME = "dongyuan", "东苑社区工作站"
SUBDISTRICT_LOGIN, SUBDISTRICT_NAME = "guangwen", "广文街道办事处"
COMMUNITY_ZH, SUBDISTRICT_ZH = Level.COMMUNITY.name_zh, Level.SUBDISTRICT.name_zh
INSIDE = (119.105, 36.73)
"""A point of grid 001."""
TOUCH = (
    ".gm-bar a, .gm-bar button:not([hidden]), #gm-side button,"
    " #gm-side a, #gm-side select, #gm-side .gm-file, #gm-side .gm-rating label, .leaflet-bar a"
)


def shot(tab: Any, view: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    width = tab.viewport_size["width"]
    path = ARTIFACTS / f"{view}-{width}.png"
    tab.screenshot(path=str(path))
    return path


def touch_targets_too_small(tab: Any) -> list[str]:
    """Visible controls under 44 × 44 CSS pixels."""
    found: list[str] = tab.eval_on_selector_all(
        TOUCH,
        """(els) => els.filter((e) => e.offsetParent !== null).map((e) => {
            const r = e.getBoundingClientRect();
            return [e.id || e.className || e.tagName, Math.round(r.width), Math.round(r.height)];
        }).filter(([, w, h]) => w < 44 || h < 44).map((x) => x.join(' '))""",
    )
    return found


def panels_overlap(tab: Any) -> list[str]:
    """Pairs of the page's panels (header, status, outbox, map, side) that cover each other,
    the page scrolled to its top (the header stays on top of what scrolls under it)."""
    found: list[str] = tab.evaluate(
        """() => {
        window.scrollTo(0, 0);
        const ids = ['.gm-bar', '#gm-status', '#gm-outbox', '#gm-map-wrap', '#gm-side'];
        const boxes = ids.map((s) => [s, document.querySelector(s)])
            .filter(([, e]) => e && !e.hidden && e.getClientRects().length)
            .map(([s, e]) => [s, e.getBoundingClientRect()]);
        const out = [];
        for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
            const [a, p] = boxes[i], [b, q] = boxes[j];
            const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
            const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
            if (w > 1 && h > 1) out.push(a + ' / ' + b);
        }
        return out;
    }"""
    )
    return found


def check_page(tab: Any, log: PageLog, expected: str | None = None) -> None:
    """No console error (but ``expected``: the browser's own line about a refused request
    the page handles), nothing from another host, touch targets of 44 px, and on the
    phone no panel over another and nothing wider than the screen."""
    errors = [e for e in log.errors if expected is None or expected not in e]
    assert errors == [], errors
    assert log.foreign_requests() == []
    assert touch_targets_too_small(tab) == []
    if tab.viewport_size["width"] < 900:
        assert panels_overlap(tab) == []
    fits = "() => document.documentElement.scrollWidth <= window.innerWidth + 1"
    assert tab.evaluate(fits)


# --------------------------------------------------------------------------- the server


@pytest.fixture(scope="module")
def district(server_url: str) -> Iterator[LatticeDistrict]:
    with committed_lattice(server_url, "gridmap_field_web") as lattice:
        manager = add_grid_manager(lattice.engine, MANAGER, GRIDS[0], in_community=True)
        other = add_grid_manager(lattice.engine, OTHER_MANAGER, GRIDS[1], in_community=True)
        with Session(lattice.engine) as s:
            for username, staff in ((MANAGER_LOGIN, manager), (OTHER_LOGIN, other)):
                add_account(
                    s, username, PASSWORD, "grid_manager", staff_id=staff,
                    password_hash=password_hash(),
                )  # fmt: skip
            add_account(
                s, COMMUNITY_LOGIN, PASSWORD, "community", area_code=GRIDS[0][:12],
                display_name=COMMUNITY_NAME, password_hash=password_hash(),
            )  # fmt: skip
            add_account(
                s, SUBDISTRICT_LOGIN, PASSWORD, "subdistrict", area_code=GRIDS[0][:9],
                display_name=SUBDISTRICT_NAME, password_hash=password_hash(),
            )  # fmt: skip
            s.commit()
        yield lattice


@pytest.fixture(scope="module")
def base(district: LatticeDistrict) -> Iterator[str]:
    app = create_app(ServerSettings(), engine=district.engine)
    with served(app, log_level="warning") as url:
        yield url


@pytest.fixture(scope="module")
def logins(browser: Any, base: str) -> dict[str, dict[str, Any]]:
    return {u: login_state(browser, base, u, PASSWORD) for u in (MANAGER_LOGIN, COMMUNITY_LOGIN)}


def api(base: str, username: str, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(
        method, f"{base}{path}", headers=bearer(base, username, PASSWORD), timeout=60, **kw
    )


def report_by_api(base: str, username: str, lon: float, description: str) -> dict[str, Any]:
    answer = api(
        base, username, "POST", "/api/v1/incidents",
        json={"category": "exposed_garbage", "lon": lon, "lat": INSIDE[1],
              "description": description, "source": "patrol"},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def step(base: str, username: str, case: int, action: str, **body: Any) -> dict[str, Any]:
    version = api(base, username, "GET", f"/api/v1/incidents/{case}").json()["version"]
    answer = api(
        base, username, "POST", f"/api/v1/incidents/{case}/transitions",
        json={"action": action, "expected_version": version, **body},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def cases_described(district: LatticeDistrict, description: str) -> int:
    with district.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM incident WHERE description = :d"), {"d": description}
            ).scalar_one()
        )


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=["phone", "desktop"])
def test_a_grid_manager_logs_in_and_lands_on_their_grid_only(
    browser: Any, base: str, district: LatticeDistrict, viewport: dict[str, int]
) -> None:
    mine = report_by_api(base, MANAGER_LOGIN, INSIDE[0], "我的网格的案件")
    theirs = report_by_api(base, OTHER_LOGIN, 119.135, "别人网格的案件")
    with open_page(browser, viewport=viewport) as (tab, log):
        tab.goto(f"{base}/login")
        tab.locator("#gm-username").fill(MANAGER_LOGIN)
        tab.locator("#gm-password").fill(PASSWORD)
        tab.locator("#gm-submit").click()
        tab.wait_for_function(READY, timeout=30000)
        assert tab.url == f"{base}/grid/{GRIDS[0]}"
        tab.wait_for_load_state("networkidle")
        ids = tab.eval_on_selector_all(
            "#gm-list .gm-card", "(els) => els.map((e) => +e.dataset.id)"
        )
        expected = api(base, MANAGER_LOGIN, "GET", f"/api/v1/worklists/{GRIDS[0]}").json()
        assert ids == [i["id"] for i in expected["incidents"]]
        assert mine["id"] in ids and theirs["id"] not in ids
        assert tab.locator("#gm-title").inner_text().endswith(GRIDS[0])
        card = tab.locator(f"#gm-list .gm-card[data-id='{mine['id']}']")
        assert "待受理" in card.inner_text() and "未计时" in card.inner_text()
        assert tab.locator("#gm-user-name").inner_text() == MANAGER
        check_page(tab, log)
        shot(tab, "my-grid")
        # Another grid, by its new address or the old one, is not found.
        for path in (f"/grid/{GRIDS[1]}", f"/incidents/grid/{GRIDS[1]}"):
            response = tab.goto(f"{base}{path}")
            assert response is not None and response.status == 404
            assert "找不到该网格" in tab.locator("h1").inner_text()
        # English on asking, kept by the cookie.
        tab.goto(f"{base}/grid/{GRIDS[0]}?lang=en")
        tab.wait_for_function(READY, timeout=30000)
        assert tab.locator("#gm-tab-report").inner_text() == "Report"
        tab.goto(f"{base}/report")
        assert tab.locator("#gm-title").inner_text() == "Report an incident"
        tab.goto(f"{base}/report?lang=zh")
        assert tab.locator("#gm-title").inner_text() == "上报事件"


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=["phone", "desktop"])
def test_the_community_lands_on_its_inbox(
    browser: Any, base: str, viewport: dict[str, int]
) -> None:
    case = report_by_api(base, MANAGER_LOGIN, 119.106, "社区待办的案件")["id"]
    step(base, MANAGER_LOGIN, case, "accept")  # now waiting for the community to dispatch it
    with open_page(browser, viewport=viewport) as (tab, log):
        tab.goto(f"{base}/login")
        tab.locator("#gm-username").fill(COMMUNITY_LOGIN)
        tab.locator("#gm-password").fill(PASSWORD)
        tab.locator("#gm-submit").click()
        tab.wait_for_function(READY, timeout=30000)
        assert tab.url == f"{base}/inbox"
        tab.wait_for_load_state("networkidle")
        card = tab.locator(f"#gm-list .gm-card[data-id='{case}']")
        assert card.count() == 1
        assert "已立案" in card.inner_text()
        check_page(tab, log)
        shot(tab, "inbox")


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=["phone", "desktop"])
def test_a_report_with_a_photo_from_the_camera(
    browser: Any, base: str, district: LatticeDistrict, logins: dict[str, dict[str, Any]],
    viewport: dict[str, int], tmp_path: Path,
) -> None:  # fmt: skip
    from PIL import Image

    photo = tmp_path / "scene.png"
    Image.new("RGB", (3000, 2000), (120, 160, 90)).save(photo)
    description = f"带照片的上报 {viewport['width']}"
    with open_page(browser, logins[MANAGER_LOGIN], viewport=viewport) as (tab, log):
        tab.goto(f"{base}/report")
        _report_on_the_page(tab, description)
        field = tab.locator("#gm-photos")
        assert field.get_attribute("accept") == "image/*"
        assert field.get_attribute("capture") == "environment"
        field.set_input_files(str(photo))
        tab.locator("#gm-thumbs img").wait_for()
        check_page(tab, log)
        shot(tab, "report-photo")
        tab.locator("#gm-submit").click()
        tab.locator("#gm-new-case").wait_for()
        tab.wait_for_function("() => document.documentElement.dataset.gmOutbox === '0'")
    with district.engine.connect() as conn:
        case = conn.execute(
            text("SELECT id FROM incident WHERE description = :d"), {"d": description}
        ).scalar_one()
    photos = api(base, MANAGER_LOGIN, "GET", f"/api/v1/incidents/{case}/photos").json()
    assert [(p["stage"], max(p["width"], p["height"]) <= 2048) for p in photos] == [
        ("intake", True)
    ]


def _tap_map(tab: Any, lon: float, lat: float) -> None:
    point = tab.evaluate(
        "([lon, lat]) => { const m = window.gridmapField.map;"
        " const p = m.latLngToContainerPoint([lat, lon]);"
        " const r = m.getContainer().getBoundingClientRect();"
        " return [r.left + p.x, r.top + p.y]; }",
        [lon, lat],
    )
    tab.mouse.click(point[0], point[1])


def _report_on_the_page(tab: Any, description: str) -> None:
    tab.wait_for_function(READY, timeout=30000)
    _tap_map(tab, *INSIDE)
    assert "WGS84" in tab.locator("#gm-where").inner_text()
    assert "WGS84" in tab.locator("#gm-datum").inner_text()
    tab.select_option("#gm-category", "city_appearance")
    tab.select_option("#gm-subcategory", "exposed_garbage")
    tab.locator("#gm-description").fill(description)


def _take_step(
    browser: Any, base: str, state: dict[str, Any], case: int, button: str, view: str,
    note: str = "", viewport: dict[str, int] = PHONE,
) -> dict[str, Any]:  # fmt: skip
    with open_page(browser, state, viewport=viewport) as (tab, log):
        tab.goto(f"{base}/cases/{case}")
        tab.wait_for_function(READY, timeout=30000)
        tab.wait_for_load_state("networkidle")
        tab.locator("#gm-buttons").get_by_role("button", name=button, exact=True).click()
        if note:
            tab.locator("#gm-note").fill(note)
        check_page(tab, log)
        shot(tab, f"case-{view}")
        with tab.expect_response(lambda r: r.url.endswith("/transitions")) as answer:
            tab.locator("#gm-confirm").click()
        assert answer.value.status == 200, answer.value.text()
        sent: dict[str, Any] = answer.value.request.post_data_json
        tab.wait_for_function(READY, timeout=30000)  # reloaded with the case as it now stands
        assert log.errors == []
        return sent


def test_a_case_goes_round_the_loop_each_step_by_its_own_person(
    browser: Any, base: str, district: LatticeDistrict, logins: dict[str, dict[str, Any]]
) -> None:
    manager, community = logins[MANAGER_LOGIN], logins[COMMUNITY_LOGIN]
    description = "路口垃圾堆放（环节测试）"
    with open_page(browser, manager, viewport=PHONE) as (tab, log):
        tab.goto(f"{base}/report")
        _report_on_the_page(tab, description)
        check_page(tab, log)
        shot(tab, "report")
        with tab.expect_response(lambda r: r.url.endswith("/api/v1/incidents")) as answer:
            tab.locator("#gm-submit").click()
        assert answer.value.status == 201
        sent = answer.value.request
        assert sent.headers["idempotency-key"]
        assert sent.post_data_json["datum"] == "wgs84"
        case = answer.value.json()["id"]
        tab.locator("#gm-new-case").wait_for()
        assert f"#{case}" in tab.locator("#gm-status").inner_text()

    def status() -> str:
        answer: str = api(base, MANAGER_LOGIN, "GET", f"/api/v1/incidents/{case}").json()["status"]
        return answer

    _take_step(browser, base, manager, case, "受理", "accept")
    assert status() == "accepted"
    sent = _take_step(browser, base, community, case, "派遣", "dispatch", viewport=DESKTOP)
    assert status() == "dispatched" and sent["handler_staff_id"]
    _take_step(browser, base, manager, case, "处置", "handle", note="已清理")
    assert status() == "handled"
    _take_step(browser, base, manager, case, "反馈", "feedback")
    assert status() == "feedback"
    _take_step(browser, base, community, case, "核查结案", "verify", note="现场已核实")
    assert status() == "closed"
    _take_step(browser, base, community, case, "评价", "evaluate")
    assert status() == "evaluated"

    # The history, in Chinese: no raw action codes, no ISO times.
    with open_page(browser, community, viewport=DESKTOP) as (tab, log):
        tab.goto(f"{base}/cases/{case}")
        tab.wait_for_function(READY, timeout=30000)
        tab.locator("#gm-history li").nth(6).wait_for()
        history = tab.locator("#gm-history").inner_text()
        for word in ("上报", "立案", "派遣", "处理", "反馈", "核查结案", "评价", "满意", "已清理"):
            assert word in history, word
        raw_words = ("patrol", "accept", "dispatch", "verify", "evaluate", "T0", "T1", "+00:00")
        for raw in raw_words:
            assert raw not in history, raw
        assert tab.locator("#gm-buttons").inner_text() == "您目前对此案件没有可办理的操作"
        check_page(tab, log)
        shot(tab, "case-evaluated")


def test_the_community_hands_a_case_to_a_units_head(
    browser: Any, base: str, district: LatticeDistrict, logins: dict[str, dict[str, Any]]
) -> None:
    """交办 on the case page: the unit is chosen (the only one that takes the case is
    offered chosen), and the case goes to its head."""
    with district.engine.begin() as conn:
        head = conn.execute(
            text("INSERT INTO staff (name, role) VALUES ('刘主任', 'mediator') RETURNING id")
        ).scalar_one()
        unit = conn.execute(
            text(
                "INSERT INTO mediation_unit (name_zh, area_code, categories, head_staff_id)"
                " VALUES ('城管执法中队', :area, '{city_appearance}', :head) RETURNING id"
            ),
            {"area": GRIDS[0][:12], "head": head},
        ).scalar_one()
    case = report_by_api(base, MANAGER_LOGIN, INSIDE[0], "垃圾堆放（交办测试）")["id"]
    step(base, MANAGER_LOGIN, case, "accept")
    community = logins[COMMUNITY_LOGIN]
    sent = _take_step(browser, base, community, case, "交办", "hand-over", viewport=DESKTOP)
    assert sent["unit_id"] == unit and "handler_staff_id" not in sent
    now = api(base, COMMUNITY_LOGIN, "GET", f"/api/v1/incidents/{case}").json()
    assert (now["status"], now["handler"]["name"], now["unit"]["name"]) == (
        "dispatched",
        "刘主任",
        "城管执法中队",
    )


def test_an_offline_report_is_queued_and_arrives_once(
    browser: Any, base: str, district: LatticeDistrict, logins: dict[str, dict[str, Any]]
) -> None:
    description = "无信号时上报的井盖缺失"
    known = report_by_api(base, MANAGER_LOGIN, 119.103, "离线前已有的案件")["id"]
    with open_page(browser, logins[MANAGER_LOGIN], viewport=PHONE) as (tab, log):
        tab.goto(f"{base}/grid/{GRIDS[0]}")
        tab.wait_for_function(READY, timeout=30000)
        tab.wait_for_function("() => navigator.serviceWorker.ready.then(() => true)")
        tab.goto(f"{base}/report")  # now under the service worker, which keeps what it serves
        tab.wait_for_function("() => navigator.serviceWorker.controller !== null")
        _report_on_the_page(tab, description)
        tab.context.set_offline(True)
        tab.locator("#gm-submit").click()
        queue = tab.locator("#gm-queue")
        queue.wait_for(state="visible")
        assert queue.inner_text() == "待发送 1 件"
        assert "网络恢复后自动发送" in tab.locator("#gm-outbox").inner_text()
        assert "已保存" in tab.locator("#gm-status").inner_text()
        check_page(tab, log)
        shot(tab, "report-offline")
        assert cases_described(district, description) == 0

        # Still without signal, my grid opens from what the service worker kept.
        tab.goto(f"{base}/grid/{GRIDS[0]}")
        tab.wait_for_function(READY, timeout=30000)
        assert tab.locator(f"#gm-list .gm-card[data-id='{known}']").count() == 1
        assert "上次保存" in tab.locator("#gm-status").inner_text()
        assert tab.locator("#gm-queue").inner_text() == "待发送 1 件"
        shot(tab, "my-grid-offline")

        tab.context.set_offline(False)  # the `online` event sends it
        tab.wait_for_function("() => document.documentElement.dataset.gmOutbox === '0'")
        assert tab.locator("#gm-queue").is_hidden()
        assert cases_described(district, description) == 1
        tab.reload()
        tab.wait_for_function(READY, timeout=30000)
        tab.wait_for_load_state("networkidle")
        assert cases_described(district, description) == 1  # exactly once
    # Without signal the browser reports what it could not fetch (streets of a view not
    # kept yet); nothing else.
    offline = ("net::ERR_INTERNET_DISCONNECTED", "net::ERR_FAILED")
    errors = [e for e in log.errors if not any(o in e for o in offline)]
    assert errors == []


def test_a_step_taken_without_signal_is_sent_when_it_returns(
    browser: Any, base: str, logins: dict[str, dict[str, Any]]
) -> None:
    case = report_by_api(base, MANAGER_LOGIN, 119.108, "无信号时受理")["id"]
    with open_page(browser, logins[MANAGER_LOGIN], viewport=PHONE) as (tab, log):
        tab.goto(f"{base}/cases/{case}")
        tab.wait_for_function(READY, timeout=30000)
        tab.wait_for_load_state("networkidle")
        tab.context.set_offline(True)
        tab.locator("#gm-buttons").get_by_role("button", name="受理", exact=True).click()
        tab.locator("#gm-confirm").click()
        tab.locator("#gm-queue").wait_for(state="visible")
        assert tab.locator("#gm-queue").inner_text() == "待发送 1 件"
        check_page(tab, log)
        shot(tab, "case-offline")
        status = api(base, MANAGER_LOGIN, "GET", f"/api/v1/incidents/{case}").json()["status"]
        assert status == "reported"
        with tab.expect_navigation():  # sent, the page shows the case as it now stands
            tab.context.set_offline(False)
        tab.wait_for_function(READY, timeout=30000)
        status = api(base, MANAGER_LOGIN, "GET", f"/api/v1/incidents/{case}").json()["status"]
        assert status == "accepted"
        assert tab.locator("#gm-state").inner_text().startswith("已立案")
        assert log.errors == []


def test_a_stale_step_shows_the_conflict_and_keeps_the_note(
    browser: Any, base: str, district: LatticeDistrict, logins: dict[str, dict[str, Any]]
) -> None:
    case = report_by_api(base, MANAGER_LOGIN, 119.107, "冲突测试")["id"]
    step(base, MANAGER_LOGIN, case, "accept")
    with open_page(browser, logins[MANAGER_LOGIN], viewport=PHONE) as (tab, log):
        tab.goto(f"{base}/cases/{case}")
        tab.wait_for_function(READY, timeout=30000)
        tab.wait_for_load_state("networkidle")
        # Someone else cancels the case meanwhile (the community, on its own screen).
        step(base, COMMUNITY_LOGIN, case, "cancel", note="重复上报")
        tab.locator("#gm-buttons").get_by_role("button", name="作废", exact=True).click()
        tab.locator("#gm-note").fill("非本网格事项，我的说明")
        with tab.expect_response(lambda r: r.url.endswith("/transitions")) as answer:
            tab.locator("#gm-confirm").click()
        assert answer.value.status in (409, 412)
        conflict = tab.locator("#gm-outbox .gm-conflict")
        conflict.wait_for()
        text_shown = conflict.inner_text()
        assert "冲突" in text_shown and "已作废" in text_shown
        assert "作废 · 东苑社区工作站" in text_shown  # the step that overtook it, and who
        assert conflict.locator("textarea").input_value() == "非本网格事项，我的说明"
        assert tab.locator("#gm-queue").inner_text() == "待发送 1 件"
        check_page(tab, log, expected=f"status of {answer.value.status}")
        shot(tab, "conflict")
        conflict.get_by_role("button", name="放弃").click()
        tab.wait_for_function("() => document.documentElement.dataset.gmOutbox === '0'")
    assert [e for e in log.errors if "409" not in e and "412" not in e] == []


SQUEEZED_MAP = """document.addEventListener('DOMContentLoaded', () => {
    const style = document.createElement('style');
    style.textContent = '#gm-map { top: auto !important; bottom: 0 !important;'
        + ' height: 30px !important; min-height: 0 !important; }';
    document.head.appendChild(style);
});"""
"""The phone's map squeezed to 30 px when its data arrives (keyboard open, a page laid out
small): the old worklist asked Leaflet to fit its grid with 20 px padding on each side,
got a NaN zoom and showed "加载失败：Invalid LatLng object: (NaN, NaN)" with no case."""


def test_a_squeezed_phone_map_still_lists_and_draws_the_cases(
    browser: Any, base: str, logins: dict[str, dict[str, Any]]
) -> None:
    case = report_by_api(base, MANAGER_LOGIN, 119.104, "地图很小时的案件")["id"]
    with open_page(browser, logins[MANAGER_LOGIN], viewport=PHONE) as (tab, log):
        tab.context.add_init_script(SQUEEZED_MAP)
        tab.goto(f"{base}/incidents/grid/{GRIDS[0]}")  # the old address, as bookmarked
        tab.wait_for_function(READY, timeout=30000)
        tab.wait_for_load_state("networkidle")
        assert tab.evaluate("() => document.getElementById('gm-map').clientHeight") == 30
        assert tab.locator("#gm-status").is_hidden()
        assert tab.locator(f"#gm-list .gm-card[data-id='{case}']").count() == 1
        view = tab.evaluate(
            "() => { const m = window.gridmapField.map; const c = m.getCenter();"
            " return [m.getZoom(), c.lat, c.lng]; }"
        )
        assert all(isinstance(v, int | float) and v == v for v in view), view  # no NaN
        # Given room again, the map fits the grid.
        tab.evaluate("() => document.querySelectorAll('style').forEach((s) => "
                     "s.textContent.includes('30px') && s.remove())")  # fmt: skip
        tab.wait_for_function(
            "() => window.gridmapField.map.getSize().y > 100 &&"
            " window.gridmapField.map.getZoom() > 12"
        )
        assert log.errors == []


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=["phone", "desktop"])
def test_a_case_escalates_twice_on_its_own_and_reaches_the_subdistrict_inbox(
    browser: Any, base: str, district: LatticeDistrict, viewport: dict[str, int]
) -> None:
    """Nobody accepts a report: the sweep (the server's own thread calls ``sweep_once``;
    here it is run as of later times) raises it to the community when the intake limit
    passes and to the subdistrict when the community's passes, and the subdistrict's
    staff find it in their inbox, marked as escalated, with the raises in the history."""
    description = f"无人受理的案件 {viewport['width']}"
    case = report_by_api(base, MANAGER_LOGIN, 119.104, description)
    reported = dt.datetime.fromisoformat(case["reported_at"])
    levels = []
    for hours in range(1, 24 * 14):  # two weeks, an hour at a time, as the thread would
        sweep_once(district.engine, reported + dt.timedelta(hours=hours), audit=audit.record)
        level = api(base, SUBDISTRICT_LOGIN, "GET", f"/api/v1/incidents/{case['id']}").json()
        if not levels or levels[-1] != level["handling_level"]:
            levels.append(level["handling_level"])
        if level["handling_level"] == "subdistrict":
            break
    assert levels[-2:] == ["community", "subdistrict"]
    history = api(base, SUBDISTRICT_LOGIN, "GET", f"/api/v1/incidents/{case['id']}/history")
    raises = [e for e in history.json()["history"] if e["action"] == "escalate"]
    assert [(e["actor_label"], e["level_zh"]) for e in raises] == [
        ("系统自动", COMMUNITY_ZH),
        ("系统自动", SUBDISTRICT_ZH),
    ]
    with open_page(browser, viewport=viewport) as (tab, log):
        tab.goto(f"{base}/login")
        tab.locator("#gm-username").fill(SUBDISTRICT_LOGIN)
        tab.locator("#gm-password").fill(PASSWORD)
        tab.locator("#gm-submit").click()
        tab.wait_for_function(READY, timeout=30000)
        assert tab.url == f"{base}/inbox"
        tab.wait_for_load_state("networkidle")
        card = tab.locator(f"#gm-list .gm-card[data-id='{case['id']}']")
        assert card.count() == 1
        assert description in card.inner_text()
        check_page(tab, log)
        shot(tab, "inbox-subdistrict-escalated")
        card.click()
        tab.wait_for_function(READY, timeout=30000)
        tab.wait_for_load_state("networkidle")
        history_text = tab.locator("body").inner_text()
        assert "系统自动" in history_text and "上报升级" in history_text
        assert "system" not in history_text
        check_page(tab, log)
        shot(tab, "case-escalated-subdistrict")


def test_the_api_answers_a_page_in_the_page_s_language(
    browser: Any, base: str, logins: dict[str, dict[str, Any]]
) -> None:
    """A phone whose browser prefers English still reads the API's messages in Chinese on
    a Chinese page (the pages send their own language), and in English after 'English'."""
    context = browser.new_context(locale="en-US", storage_state=logins[COMMUNITY_LOGIN])
    try:
        tab = context.new_page()
        ask = (
            "() => gridmapCommon.getJSON('/api/v1/incidents/999999')"
            ".then(() => 'found', (err) => err.message)"
        )
        tab.goto(f"{base}/inbox")
        tab.wait_for_function(READY, timeout=30000)
        assert "没有编号为 999999 的案件" in tab.evaluate(ask)
        tab.goto(f"{base}/inbox?lang=en")
        tab.wait_for_function(READY, timeout=30000)
        assert "no incident has id 999999" in tab.evaluate(ask)
    finally:
        context.close()


def test_what_one_person_queued_is_sent_only_under_their_own_login(
    browser: Any, base: str, district: LatticeDistrict, logins: dict[str, dict[str, Any]]
) -> None:
    """A report queued without signal by one grid manager stays queued while another
    person is logged in on the same phone (sent then, it would be filed as theirs), and
    goes out, as its author's, when the author logs in again."""
    description = "换人登录前排队的上报"
    other = login_state(browser, base, OTHER_LOGIN, PASSWORD)
    with open_page(browser, logins[MANAGER_LOGIN], viewport=PHONE) as (tab, _log):
        tab.goto(f"{base}/grid/{GRIDS[0]}")
        tab.wait_for_function(READY, timeout=30000)
        tab.wait_for_function("() => navigator.serviceWorker.ready.then(() => true)")
        tab.goto(f"{base}/report")
        tab.wait_for_function("() => navigator.serviceWorker.controller !== null")
        _report_on_the_page(tab, description)
        tab.context.set_offline(True)
        tab.locator("#gm-submit").click()
        tab.locator("#gm-queue").wait_for(state="visible")

        tab.context.clear_cookies()  # the login ended; the other manager logs in
        tab.context.add_cookies(other["cookies"])
        tab.context.set_offline(False)
        # The author's page is still open when the signal comes back: its `online` flush
        # sends under the other login's cookie with the author's CSRF token, is refused,
        # and the report waits (it was once marked failed here, and never sent).
        states = tab.evaluate(
            "() => GM.field.outbox.flush().then(() => GM.field.outbox.all())"
            ".then((items) => items.map((i) => i.state))"
        )
        assert states == ["pending"]
        tab.goto(f"{base}/report")
        tab.wait_for_function(READY, timeout=30000)
        tab.wait_for_load_state("networkidle")
        assert tab.evaluate("() => document.documentElement.dataset.gmOutbox") == "0"
        assert cases_described(district, description) == 0

        tab.context.clear_cookies()
        tab.context.add_cookies(logins[MANAGER_LOGIN]["cookies"])
        tab.goto(f"{base}/report")
        tab.wait_for_function(READY, timeout=30000)
        tab.wait_for_function("() => document.documentElement.dataset.gmOutbox === '0'")
    assert cases_described(district, description) == 1
    with district.engine.connect() as conn:
        by = conn.execute(
            text(
                "SELECT i.reported_by = 'account:' || a.id FROM incident i, account a"
                " WHERE i.description = :d AND a.username = :u"
            ),
            {"d": description, "u": MANAGER_LOGIN},
        ).scalar_one()
    assert by is True
