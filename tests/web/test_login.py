"""Logging in and out in the browser, on the demo district (every account's password is
``DEMO_PASSWORD``): a grid manager on a phone lands on their own grid's worklist and
nowhere else; a wrong password reads like a wrong user; logout ends the login; the
cookie cannot be read by scripts nor sent by other sites; a state-changing request
without the page's CSRF token is refused.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gis.accounts.accounts import list_accounts
from gis.incidents import worklists
from gis.principal import Role
from tests.accounts import DEMO_PASSWORD
from tests.web.browser import PHONE, PageLog, bearer, login_state, open_page

pytestmark = pytest.mark.browser

READY = "() => document.documentElement.dataset.gmReady === '1'"
"""A field app page has drawn its data (GM.ready in common.js)."""
BAD_LOGIN = "用户名或密码错误"
SCREENSHOT = "/tmp/login-phone.png"
WORKLIST_SCREENSHOT = "/tmp/my-grid-phone.png"


@dataclass(frozen=True)
class GridManager:
    username: str
    name: str
    grids: tuple[str, ...]
    other: str
    """A grid with open cases that is not theirs."""


@pytest.fixture(scope="module")
def manager(demo_engine: Engine) -> GridManager:
    """A demo grid manager whose first grid has open cases."""
    with Session(demo_engine) as session:
        rows = worklists.grid_managers(session)
        accounts = list_accounts(session, role=Role.GRID_MANAGER)
    open_cases = {r.grid_code: r.open for r in rows}
    for account in accounts:
        if account.areas and open_cases.get(account.areas[0], 0) > 0:
            others = [r for r in rows if r.open > 0 and r.grid_code not in account.areas]
            other = max(others, key=lambda r: (r.open, r.grid_code)).grid_code
            return GridManager(account.username, account.display_name, account.areas, other)
    raise AssertionError("no demo grid manager has open cases in their first grid")


@pytest.fixture
def anonymous_phone(browser: Any) -> Iterator[tuple[Any, PageLog]]:
    with open_page(browser, viewport=PHONE) as opened:
        yield opened


def _assert_touchable(tab: Any, selector: str, viewport: dict[str, int] = PHONE) -> None:
    """At least 44 x 44 CSS pixels (WCAG 2.5.5) and inside the screen."""
    box = tab.locator(selector).bounding_box()
    assert box is not None, selector
    assert box["height"] >= 44 and box["width"] >= 44, (selector, box)
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (selector, box)
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], (selector, box)


def _fits_the_width(tab: Any) -> bool:
    return bool(tab.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"))


def _log_in(tab: Any, username: str, password: str) -> Any:
    """Fill the form and submit it; the response the form's POST got."""
    tab.locator("#gm-username").fill(username)
    tab.locator("#gm-password").fill(password)
    with tab.expect_response(
        lambda r: urlsplit(r.url).path == "/login" and r.request.method == "POST"
    ) as answer:
        tab.locator("#gm-submit").click()
    tab.wait_for_load_state()
    return answer.value


def _session_cookie(context: Any) -> dict[str, Any]:
    cookies = [c for c in context.cookies() if c["name"] == "gridmap_session"]
    assert len(cookies) == 1, context.cookies()
    return dict(cookies[0])


def test_a_grid_manager_logs_in_on_a_phone_and_lands_on_their_worklist(
    live_server: str, manager: GridManager, anonymous_phone: Any
) -> None:
    tab, log = anonymous_phone
    response = tab.goto(f"{live_server}/login", wait_until="networkidle")
    assert response is not None and response.status == 200
    assert tab.locator("h1").inner_text() == "网格化管理系统登录"
    assert tab.locator("html").get_attribute("lang") == "zh-CN"
    for selector in ("#gm-username", "#gm-password", "#gm-submit", "#gm-lang"):
        _assert_touchable(tab, selector)
    assert _fits_the_width(tab)
    tab.screenshot(path=SCREENSHOT)

    answer = _log_in(tab, manager.username, DEMO_PASSWORD)
    assert answer.status == 303
    tab.wait_for_function(READY, timeout=30000)
    assert tab.url == f"{live_server}/grid/{manager.grids[0]}"  # by way of /my
    # Its cases, as the API answers the grid manager.
    expected = httpx.get(
        f"{live_server}/api/v1/worklists/{manager.grids[0]}",
        headers=bearer(live_server, manager.username, DEMO_PASSWORD),
        timeout=60,
    ).json()["incidents"]
    ids = tab.eval_on_selector_all("#gm-list .gm-card", "(els) => els.map((e) => +e.dataset.id)")
    assert ids == [i["id"] for i in expected] and ids
    # Who is logged in, and the way out, fit the phone.
    assert tab.locator("#gm-user-name").inner_text() == manager.name
    assert tab.locator("#gm-user-role").inner_text() == "网格员"
    _assert_touchable(tab, "#gm-logout")
    panel = tab.locator("#gm-side").bounding_box()
    assert panel is not None and panel["width"] <= PHONE["width"]
    assert tab.locator("#gm-map").is_visible()
    assert _fits_the_width(tab)
    tab.screenshot(path=WORKLIST_SCREENSHOT)
    assert log.errors == [] and log.foreign_requests() == []


def test_another_grids_worklist_is_refused(
    browser: Any, live_server: str, manager: GridManager
) -> None:
    state = login_state(browser, live_server, manager.username, DEMO_PASSWORD)
    with open_page(browser, state, viewport=PHONE) as (tab, _):
        response = tab.goto(f"{live_server}/incidents/grid/{manager.other}")  # the old address
        assert response is not None and response.status == 404
        assert urlsplit(tab.url).path == f"/grid/{manager.other}"
        assert "找不到该网格" in tab.locator("h1").inner_text()
        assert tab.locator("#gm-list").count() == 0
        assert "GM_FIELD" not in tab.content()
        assert tab.locator("#gm-user-role").inner_text() == "网格员"  # still logged in
        # The page's own script could not fetch it either.
        status = tab.evaluate(
            "(code) => fetch('/api/v1/worklists/' + code).then((r) => r.status)", manager.other
        )
        assert status == 404
        # The picker lists their grids only.
        tab.goto(f"{live_server}/incidents/grid")
        codes = tab.eval_on_selector_all(
            "#gm-grids tbody tr", "(rows) => rows.map((r) => r.cells[0].innerText)"
        )
        assert codes == sorted(manager.grids)  # by code; the account lists its primary first


def test_a_wrong_password_says_the_same_as_a_wrong_user(
    live_server: str, anonymous_phone: Any
) -> None:
    tab, _ = anonymous_phone
    tab.goto(f"{live_server}/login")
    messages = []
    for username, password in (("planner", "not-the-password"), ("nobody-here", DEMO_PASSWORD)):
        answer = _log_in(tab, username, password)
        assert answer.status == 401
        messages.append(tab.locator("#gm-login-error").inner_text())
        assert urlsplit(tab.url).path == "/login"
        assert tab.locator("#gm-username").input_value() == username
    assert messages[0] == messages[1] and BAD_LOGIN in messages[0]
    assert [c for c in tab.context.cookies() if c["name"] == "gridmap_session"] == []


def test_repeated_failures_are_throttled(live_server: str, browser: Any) -> None:
    context = browser.new_context()
    try:
        form = {"username": f"throttled-{time.time_ns()}", "password": "wrong"}
        for _ in range(5):
            assert context.request.post(f"{live_server}/login", form=form).status == 401
        refused = context.request.post(f"{live_server}/login", form=form)
        assert refused.status == 429
        assert int(refused.headers["retry-after"]) > 0
        assert "登录失败次数过多" in refused.text()
    finally:
        context.close()


def test_english_is_one_click_away(live_server: str, anonymous_phone: Any) -> None:
    tab, _ = anonymous_phone
    tab.goto(f"{live_server}/login?next=/coverage")
    with tab.expect_navigation():
        tab.locator("#gm-lang").click()
    assert tab.locator("html").get_attribute("lang") == "en"
    assert tab.locator("h1").inner_text() == "Grid management: log in"
    assert tab.locator("#gm-submit").inner_text() == "Log in"
    assert parse_qs(urlsplit(tab.url).query) == {"lang": ["en"], "next": ["/coverage"]}
    answer = _log_in(tab, "planner", DEMO_PASSWORD)
    assert answer.status == 303
    assert urlsplit(tab.url).path == "/coverage"  # back where the visitor was going
    assert tab.locator("#gm-user-role").inner_text() == "规划人员"


def test_pages_send_anonymous_visitors_to_the_login_page_and_back(
    live_server: str, anonymous_phone: Any
) -> None:
    tab, _ = anonymous_phone
    tab.goto(f"{live_server}/incidents/grid?sort=code")
    assert urlsplit(tab.url).path == "/login"
    assert parse_qs(urlsplit(tab.url).query) == {"next": ["/incidents/grid?sort=code"]}
    _log_in(tab, "district", DEMO_PASSWORD)
    assert tab.url == f"{live_server}/incidents/grid?sort=code"
    assert tab.locator("#gm-user-role").inner_text() == "区级"
    # Scripts are answered 401, not sent to a page.
    assert httpx.get(f"{live_server}/api/v1/incidents", timeout=30).status_code == 401


def test_next_never_leads_to_another_site(live_server: str, browser: Any) -> None:
    context = browser.new_context()
    try:
        for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "/logout"):
            form = {"username": "planner", "password": DEMO_PASSWORD, "next": target}
            answer = context.request.post(f"{live_server}/login", form=form, max_redirects=0)
            assert answer.status == 303
            assert answer.headers["location"] == "/my", target  # on to the planner's page
    finally:
        context.close()


def test_the_login_cookie_is_httponly_and_samesite(
    browser: Any, live_server: str, manager: GridManager
) -> None:
    state = login_state(browser, live_server, manager.username, DEMO_PASSWORD)
    with open_page(browser, state) as (tab, _):
        tab.goto(f"{live_server}/incidents/grid")
        cookie = _session_cookie(tab.context)
        assert cookie["httpOnly"] is True
        assert cookie["sameSite"] == "Lax"
        assert cookie["path"] == "/"
        assert cookie["expires"] > time.time() + 3600  # lasts the working day
        assert "gridmap_session" not in tab.evaluate("() => document.cookie")


def test_logout_ends_the_login(browser: Any, live_server: str, manager: GridManager) -> None:
    state = login_state(browser, live_server, manager.username, DEMO_PASSWORD)
    token = next(c["value"] for c in state["cookies"] if c["name"] == "gridmap_session")
    old = {"Cookie": f"gridmap_session={token}"}
    assert httpx.get(f"{live_server}/api/v1/me", headers=old, timeout=30).status_code == 200
    with open_page(browser, state, viewport=PHONE) as (tab, _):
        tab.goto(f"{live_server}/incidents/grid")
        with tab.expect_navigation():
            tab.locator("#gm-logout").click()
        assert urlsplit(tab.url).path == "/login"
        assert [c for c in tab.context.cookies() if c["name"] == "gridmap_session"] == []
    # The old cookie no longer works, wherever it was copied to.
    assert httpx.get(f"{live_server}/api/v1/me", headers=old, timeout=30).status_code == 401
    with open_page(browser, state) as (tab, _):
        tab.goto(f"{live_server}/incidents/grid")
        assert urlsplit(tab.url).path == "/login"


def test_state_changing_requests_need_the_pages_csrf_token(browser: Any, live_server: str) -> None:
    state = login_state(browser, live_server, "district", DEMO_PASSWORD)
    with open_page(browser, state) as (tab, _):
        tab.goto(f"{live_server}/incidents/grid")
        csrf = tab.locator("meta[name=csrf-token]").get_attribute("content")
        assert csrf
        post = tab.context.request.post
        url = f"{live_server}/api/v1/incidents/1/transitions"
        # What another site's page could send along with the cookie: no token.
        forged = post(url, data={"action": "cancel", "expected_version": 1, "note": "x"})
        assert forged.status == 403
        assert "CSRF" in forged.json()["description"]
        assert forged.json()["code"] == "CsrfRefused"  # the outbox waits on this code
        # With the page's token the request gets past the check (to the body's validation).
        assert post(url, data={}, headers={"X-CSRF-Token": csrf}).status == 422
        # Logging someone out needs the token too.
        assert post(f"{live_server}/logout", form={"csrf_token": "forged"}).status == 403
        tab.goto(f"{live_server}/incidents/grid")
        assert tab.url == f"{live_server}/incidents/grid"  # still logged in
    # A login form posted from another site's page is refused (login CSRF).
    context = browser.new_context()
    try:
        answer = context.request.post(
            f"{live_server}/login",
            form={"username": "district", "password": DEMO_PASSWORD},
            headers={"Origin": "https://evil.example"},
            max_redirects=0,
        )
        assert answer.status == 403
        assert "set-cookie" not in answer.headers
    finally:
        context.close()


def test_a_page_whose_login_ended_goes_to_the_login_page(
    browser: Any, live_server: str, manager: GridManager
) -> None:
    state = login_state(browser, live_server, manager.username, DEMO_PASSWORD)
    token = next(c["value"] for c in state["cookies"] if c["name"] == "gridmap_session")
    with open_page(browser, state, viewport=PHONE) as (tab, _):
        tab.goto(f"{live_server}/grid/{manager.grids[0]}")
        tab.wait_for_function(READY, timeout=30000)
        csrf = tab.locator("meta[name=csrf-token]").get_attribute("content") or ""
        # The login ends elsewhere (logged out on another tab) while the page stays open.
        ended = httpx.post(
            f"{live_server}/logout",
            headers={"Cookie": f"gridmap_session={token}", "X-CSRF-Token": csrf},
            timeout=30,
        )
        assert ended.status_code == 303
        with tab.expect_navigation():  # the page's next read
            # Started, not awaited: the page leaves for the login page while the read is
            # still pending, and an awaited evaluation would die with it (a flaky race).
            tab.evaluate("(url) => { gridmapCommon.send(url).catch(() => null); }",
                         f"/api/v1/worklists/{manager.grids[0]}")  # fmt: skip
        assert urlsplit(tab.url).path == "/login"
        assert parse_qs(urlsplit(tab.url).query) == {"next": [f"/grid/{manager.grids[0]}"]}
