"""Helpers of the browser tests: pages that record what they load, logins, API tokens.

A logged-in browser context is made from the ``storage_state`` of one login
(its cookie), so a test session logs each account in once, through the same
``POST /login`` as the login form, and every page after that starts logged in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.accounts import DEMO_PASSWORD

LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
"""A phone held upright (an iPhone 12-15's CSS pixels)."""
WIDE = {"width": 1440, "height": 900}
"""A desktop monitor."""
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
"""Where browser tests save what they saw (screenshots), kept after the run; not in git."""
VIEWER = "district"
"""The demo account the pages of the demo district are looked at as: the whole
district, personal data in full."""


def artifact(name: str) -> str:
    """The path of the artefact ``name`` (e.g. ``district-phone.png``) under ``ARTIFACTS``."""
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / name)


def boxes_apart(tab: Any, selectors: list[str]) -> dict[str, dict[str, float]]:
    """The boxes of the visible elements among ``selectors``, after checking that none
    covers another and each lies within the window's width (a phone's panels)."""
    width = tab.evaluate("() => window.innerWidth")
    boxes: dict[str, dict[str, float]] = {}
    for selector in selectors:
        element = tab.locator(selector)
        if element.count() and element.first.is_visible():
            box = element.first.bounding_box()
            assert box is not None
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, selector
            boxes[selector] = box
    names = list(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            p, q = boxes[a], boxes[b]
            apart = (
                p["x"] + p["width"] <= q["x"]
                or q["x"] + q["width"] <= p["x"]
                or p["y"] + p["height"] <= q["y"]
                or q["y"] + q["height"] <= p["y"]
            )
            assert apart, f"{a} covers {b}"
    return boxes


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


@contextlib.contextmanager
def open_page(
    browser: Any,
    storage_state: dict[str, Any] | None = None,
    viewport: dict[str, int] | None = None,
) -> Iterator[tuple[Any, PageLog]]:
    """A fresh page (logged in if ``storage_state`` holds a login) that records requests,
    failures and console errors, and never reaches outside this machine."""
    context = browser.new_context(
        viewport=viewport or DESKTOP, locale="zh-CN", storage_state=storage_state
    )
    tab = context.new_page()
    log = PageLog()
    tab.on("request", lambda r: log.requests.append(r.url))
    tab.on("requestfailed", lambda r: log.failed.append(f"{r.url}: {r.failure}"))
    tab.on("console", lambda m: log.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: log.errors.append(str(e)))
    tab.route(
        "**/*",
        lambda route: route.abort() if is_foreign(route.request.url) else route.continue_(),
    )
    try:
        yield tab, log
    finally:
        context.close()


def login_state(browser: Any, base: str, username: str, password: str) -> dict[str, Any]:
    """The storage state (the login cookie) of ``username`` logged in at ``base``."""
    context = browser.new_context()
    try:
        answer = context.request.post(
            f"{base}/login",
            form={"username": username, "password": password, "next": ""},
            max_redirects=0,
        )
        assert answer.status == 303, answer.text()
        state: dict[str, Any] = context.storage_state()
        return state
    finally:
        context.close()


@cache
def bearer(base: str, username: str, password: str) -> dict[str, str]:
    """Headers of a bearer login of ``username`` at ``base`` (one per session)."""
    answer = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"username": username, "password": password},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def viewer_headers(base: str) -> dict[str, str]:
    """Bearer headers of ``VIEWER`` on the demo server: what the API answers the page's
    own person."""
    return bearer(base, VIEWER, DEMO_PASSWORD)
