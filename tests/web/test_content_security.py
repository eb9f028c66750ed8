"""Every page works under the Content-Security-Policy (api.security), with no violation.

The policy lets a page run only scripts from this origin and the inline
scripts that carry the response's nonce. A page that still had an inline
script, an event-handler attribute or an ``eval`` the policy forbids would
lose that part silently in a browser; here each page is opened in Chromium
logged in as the demo's admin, and every ``securitypolicyviolation`` event
and every console complaint fails the test. A control injects a script
without the nonce and checks it is blocked and reported, so the check itself
can fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from tests.accounts import DEMO_PASSWORD

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`
    + ` at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture(scope="module")
def admin_token(live_server: str) -> str:
    answer = httpx.post(
        f"{live_server}/api/v1/auth/token",
        data={"username": "admin", "password": DEMO_PASSWORD},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


@pytest.fixture(scope="module")
def grid_code(demo_engine: Engine) -> str:
    with demo_engine.connect() as conn:
        code: str = conn.execute(text("SELECT min(code) FROM grid")).scalar_one()
    return code


@pytest.fixture
def tab(browser: Any, admin_token: str) -> Iterator[tuple[Any, list[str]]]:
    """A page logged in as the admin (every request carries the bearer token) that
    records CSP violations in ``window.__cspViolations`` and console errors in the list."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        locale="zh-CN",
        extra_http_headers={"Authorization": f"Bearer {admin_token}"},
    )
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    complaints: list[str] = []
    page.on("console", lambda m: complaints.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: complaints.append(str(e)))
    try:
        yield page, complaints
    finally:
        context.close()


def violations(page: Any) -> list[str]:
    found: list[str] = page.evaluate("window.__cspViolations")
    return found


PAGES = [
    ("/", "html[data-gm-ready='1'] .gm-place-label"),
    ("/coverage", "html[data-gm-ready='1'] #gm-worst tbody tr[data-code]"),
    ("/norms", "body[data-norms='drawn'] #gm-table tbody tr[data-code]"),
    ("/incidents", "#gm-map.leaflet-container"),
    ("/incidents/grid", "a[href^='/grid/']"),
    ("/incidents/grid?q=370705&overdue=1", "body[data-shown]"),
    ("/docs", ".swagger-ui .opblock"),
]


@pytest.mark.parametrize(("path", "drawn"), PAGES, ids=[p for p, _ in PAGES])
def test_the_page_runs_under_the_policy_without_a_violation(
    live_server: str, tab: tuple[Any, list[str]], path: str, drawn: str
) -> None:
    page, complaints = tab
    response = page.goto(f"{live_server}{path}", wait_until="networkidle")
    assert response is not None and response.status == 200
    assert "'nonce-" in response.headers["content-security-policy"]
    assert violations(page) == []
    page.wait_for_selector(drawn, timeout=20000)  # its scripts ran: the page is drawn
    assert violations(page) == []
    assert [c for c in complaints if "Content Security Policy" in c] == []
    assert complaints == []


@pytest.fixture(scope="module")
def case_id(demo_engine: Engine) -> int:
    with demo_engine.connect() as conn:
        found: int = conn.execute(text("SELECT min(id) FROM incident")).scalar_one()
    return found


FIELD_PAGES = ["/grid/{grid}", "/inbox", "/cases/{case}", "/report", "/manifest.webmanifest"]
"""The field app (api.routes.field): each drawn, its service worker registered."""


@pytest.mark.parametrize("path", FIELD_PAGES)
def test_the_field_app_runs_under_the_policy(
    live_server: str, tab: tuple[Any, list[str]], grid_code: str, case_id: int, path: str
) -> None:
    page, complaints = tab
    url = f"{live_server}{path.format(grid=grid_code, case=case_id)}"
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.status == 200
    if path.endswith(".webmanifest"):
        assert response.headers["content-type"] == "application/manifest+json"
        return
    page.wait_for_function("() => document.documentElement.dataset.gmReady === '1'")
    page.wait_for_function("() => navigator.serviceWorker.ready.then(() => true)")
    assert violations(page) == [] and complaints == []


def test_a_script_without_the_nonce_is_blocked_and_reported(
    live_server: str, tab: tuple[Any, list[str]]
) -> None:
    """The control: what an injected script would meet."""
    page, complaints = tab
    page.goto(f"{live_server}/incidents/grid", wait_until="networkidle")
    page.evaluate(
        """() => {
        const s = document.createElement('script');
        s.textContent = 'window.__injected = true;';
        document.body.appendChild(s);
        const img = document.createElement('img');
        img.setAttribute('onerror', 'window.__injected = true;');
        img.src = 'data:,not-an-image';
        document.body.appendChild(img);
    }"""
    )
    page.wait_for_function("() => window.__cspViolations.length >= 2", timeout=5000)
    assert page.evaluate("window.__injected") is None
    assert all(v.startswith("script-src") for v in violations(page)), violations(page)
    assert any("Content Security Policy" in c for c in complaints)
