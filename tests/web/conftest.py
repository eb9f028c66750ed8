"""A live server on the demo district and a headless Chromium to look at it.

The server is uvicorn in a background thread on a free 127.0.0.1 port; the
browser is Debian's chromium driven by playwright (no downloaded browser).
Pages are checked offline: any request to another host fails the test.
Pages are looked at logged in as the demo's district account (``VIEWER``:
the whole district, personal data in full), logged in once per session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from api.app import create_app
from gis.db.embedded import free_port
from gis.settings import ServerSettings
from tests.accounts import DEMO_PASSWORD
from tests.servers import served
from tests.web.browser import VIEWER, PageLog, login_state, open_page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def live_server(demo_engine: Engine) -> Iterator[str]:
    """Base URL of the app serving the demo district."""
    port = free_port()
    app = create_app(ServerSettings.model_validate({"GRIDMAP_PORT": port}), engine=demo_engine)
    with served(app, port, log_level="warning") as base:
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def viewer_state(browser: Any, live_server: str) -> dict[str, Any]:
    """The login of ``VIEWER`` on the demo server, made once for every page."""
    return login_state(browser, live_server, VIEWER, DEMO_PASSWORD)


@pytest.fixture
def page(browser: Any, viewer_state: dict[str, Any]) -> Iterator[tuple[Any, PageLog]]:
    """A fresh page on the demo server, logged in as ``VIEWER``, that records requests,
    failures and console errors."""
    with open_page(browser, viewer_state) as opened:
        yield opened
