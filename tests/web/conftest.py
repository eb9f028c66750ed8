"""A live server on the demo district and a headless Chromium to look at it.

The server is uvicorn in a background thread on a free 127.0.0.1 port; the
browser is Debian's chromium driven by playwright (no downloaded browser).
Pages are checked offline: any request to another host fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine

from api.app import create_app
from gis.db.embedded import free_port
from gis.settings import ServerSettings
from tests.servers import served

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


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


def is_foreign(url: str) -> bool:
    """True for a web URL on another machine (data: and blob: URLs stay local)."""
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and parts.hostname not in LOCAL_HOSTS


@dataclass
class PageLog:
    """What a page asked for and complained about while loading."""

    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if is_foreign(url)]


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, PageLog]]:
    """A fresh page that records requests, failures and console errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    tab = context.new_page()
    log = PageLog()
    tab.on("request", lambda r: log.requests.append(r.url))
    tab.on("requestfailed", lambda r: log.failed.append(f"{r.url}: {r.failure}"))
    tab.on("console", lambda m: log.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: log.errors.append(str(e)))
    # Belt and braces: never let the browser reach outside this machine.
    tab.route(
        "**/*",
        lambda route: route.abort() if is_foreign(route.request.url) else route.continue_(),
    )
    try:
        yield tab, log
    finally:
        context.close()
