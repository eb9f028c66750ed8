"""The browser side of ``page_load_bench.py``: the phone and desktop profiles, the script
that finds the moment a page says it is usable, one visit (cold or warm) through
Debian's Chromium with its DevTools trace, and the floor page every figure is
compared with."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FLOOR_DIR = HERE / "page_load_floor"
FLOOR_PATH = "/bench-floor/index.html"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TRACE_CATEGORIES = [
    "-*",
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "disabled-by-default-devtools.timeline.frame",
    "toplevel",
    "v8.execute",
    "blink.user_timing",
    "loading",
    "netlog",
]
"""The DevTools timeline without the sampling profiler (which makes traces of the
district page hundreds of MB)."""


@dataclass(frozen=True)
class Profile:
    name: str
    viewport: dict[str, int]
    scale: float
    mobile: bool
    cpu_rate: float
    network: dict[str, Any] | None
    """CDP ``Network.emulateNetworkConditions`` parameters, or None for no throttling."""


PHONE = Profile(
    "phone",
    {"width": 390, "height": 844},
    2,
    True,
    4,
    {
        "offline": False,
        "latency": 150,
        "downloadThroughput": 1_600_000 / 8,
        "uploadThroughput": 750_000 / 8,
        "connectionType": "cellular4g",
    },
)
DESKTOP = Profile("desktop", {"width": 1440, "height": 900}, 1, False, 1, None)
PROFILES = {p.name: p for p in (PHONE, DESKTOP)}

TARGETS_MS = {
    ("my-grid", "phone"): 1500.0,
    ("district", "phone"): 2500.0,
    ("my-grid", "desktop"): 500.0,
    ("district", "desktop"): 1000.0,
}
"""Issue 11's targets, first render to a usable map."""

IDLE_S = 0.5
"""Network quiet this long (no request in flight) counts as idle, as Playwright's networkidle."""
POLL_S = 0.1

INIT_SCRIPT = r"""
(() => {
  const seen = {first: null, last: null};
  Object.defineProperty(window, '__gmBench', {value: seen});
  const drawn = 'path, canvas, img.leaflet-marker-icon';
  const isDrawn = (n) => n.nodeType === 1 && n.closest('.leaflet-pane') !== null &&
    (n.matches(drawn) || n.querySelector(drawn) !== null);
  new MutationObserver((records) => {
    for (const r of records) {
      for (const n of r.addedNodes) {
        if (isDrawn(n)) {
          requestAnimationFrame(() => {
            const t = performance.now();
            if (seen.first === null) { seen.first = t; }
            seen.last = t;
          });
          return;
        }
      }
    }
  }).observe(document, {childList: true, subtree: true});
})();
"""
"""Runs before any page script: notes when Leaflet vectors or markers are drawn (the proxy)."""

PROBE = """() => {
  const mark = performance.getEntriesByName('gm-usable', 'mark')[0];
  const seen = window.__gmBench || {first: null, last: null};
  return {
    mark: mark ? mark.startTime : null,
    ready: document.documentElement.dataset.gmReady === '1',
    hasReady: typeof (window.GM && window.GM.ready) === 'function',
    complete: document.readyState === 'complete',
    first: seen.first,
    last: seen.last,
  };
}"""

NAVIGATION = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  return n ? n.toJSON() : null;
}"""


@dataclass
class Load:
    """One visit of one view."""

    ms: float | None
    """Navigation start to usable; None when it never became usable within the timeout."""
    timed_by: str
    """``mark`` (GM.ready's gm-usable), ``proxy`` (last Leaflet drawing, network idle) or
    ``none``."""
    bytes: int
    requests: int
    status: int | None
    url: str
    errors: list[str] = field(default_factory=list)
    navigation: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    first_draw_ms: float | None = None


def floor_app() -> Any:
    """The app as ``gridmap serve`` builds it, plus the floor page (uvicorn ``--factory``)."""
    from api.app import create_app

    app = create_app()
    add_floor(app)
    return app


def add_floor(app: Any) -> None:
    """Serve ``benchmarks/page_load_floor`` at ``/bench-floor`` (the benchmark's baseline)."""
    from fastapi.staticfiles import StaticFiles

    app.mount("/bench-floor", StaticFiles(directory=FLOOR_DIR), name="bench-floor")


def new_context(browser: Any, profile: Profile, state: dict[str, Any] | None) -> Any:
    """A fresh browser context (empty cache) of ``profile``, logged in if ``state`` holds a
    login."""
    return browser.new_context(
        viewport=profile.viewport,
        device_scale_factor=profile.scale,
        is_mobile=profile.mobile,
        has_touch=profile.mobile,
        locale="zh-CN",
        storage_state=state,
    )


def visit(
    context: Any,
    url: str,
    profile: Profile,
    timeout_s: float = 90.0,
    trace: Path | None = None,
) -> Load:
    """Open ``url`` in a new page of ``context`` under ``profile`` and time it to usable."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Performance.enable")
    if profile.network is not None:
        cdp.send("Network.emulateNetworkConditions", profile.network)
    if profile.cpu_rate != 1:
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": profile.cpu_rate})
    page.add_init_script(INIT_SCRIPT)
    wire = {"bytes": 0, "requests": 0}

    def finished(event: dict[str, Any]) -> None:
        wire["bytes"] += int(event.get("encodedDataLength") or 0)
        wire["requests"] += 1

    cdp.on("Network.loadingFinished", finished)
    inflight: set[Any] = set()
    quiet_since = [time.monotonic()]

    def started(request: Any) -> None:
        inflight.add(request)

    def ended(request: Any) -> None:
        inflight.discard(request)
        if not inflight:
            quiet_since[0] = time.monotonic()

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    browser = context.browser
    if trace is not None:
        browser.start_tracing(page=page, path=str(trace), categories=TRACE_CATEGORIES)
    try:
        response = page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        deadline = time.monotonic() + timeout_s
        ms: float | None = None
        timed_by = "none"
        probe: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                probe = page.evaluate(PROBE)
            except Exception:  # the document was replaced under us (a redirect): look again
                probe = {}
            if probe.get("mark") is not None:
                ms, timed_by = float(probe["mark"]), "mark"
                break
            idle = not inflight and time.monotonic() - quiet_since[0] >= IDLE_S
            if (
                probe.get("complete")
                and not probe.get("hasReady")
                and probe.get("last") is not None
                and idle
            ):
                ms, timed_by = float(probe["last"]), "proxy"
                break
            page.wait_for_timeout(POLL_S * 1000)
        if trace is not None:
            browser.stop_tracing()
            trace = None
        try:  # what the view goes on to load once usable counts in its bytes
            page.wait_for_load_state("networkidle", timeout=15_000)
        except Exception:
            errors.append("the network was not idle 15 s after the view was usable")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        navigation = page.evaluate(NAVIGATION) or {}
        return Load(
            ms=ms,
            timed_by=timed_by,
            bytes=wire["bytes"],
            requests=wire["requests"],
            status=response.status if response is not None else None,
            url=page.url,
            errors=errors,
            navigation=navigation,
            metrics=metrics,
            first_draw_ms=probe.get("first"),
        )
    finally:
        if trace is not None:
            browser.stop_tracing()
        page.close()


def measure_view(
    browser: Any,
    url: str,
    profile: Profile,
    state: dict[str, Any] | None = None,
    timeout_s: float = 90.0,
) -> tuple[Load, Load]:
    """One cold visit (new context) and one warm visit (a second page of the same context)."""
    context = new_context(browser, profile, state)
    try:
        cold = visit(context, url, profile, timeout_s)
        warm = visit(context, url, profile, timeout_s)
        return cold, warm
    finally:
        context.close()


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def login_state(browser: Any, base: str, username: str, password: str) -> dict[str, Any]:
    """The storage state (the login cookie) of ``username``, logged in through POST /login."""
    context = browser.new_context()
    try:
        answer = context.request.post(
            f"{base}/login",
            form={"username": username, "password": password, "next": ""},
            max_redirects=0,
        )
        if answer.status != 303:
            raise RuntimeError(f"login of {username} failed: {answer.status} {answer.text()}")
        state: dict[str, Any] = context.storage_state()
        return state
    finally:
        context.close()


def answers_200(browser: Any, url: str, state: dict[str, Any]) -> bool:
    context = browser.new_context(storage_state=state)
    try:
        return int(context.request.get(url, max_redirects=0).status) == 200
    finally:
        context.close()
