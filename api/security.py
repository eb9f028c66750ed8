"""What every answer carries for the browser's protection, and who else may call from one.

Every response gets a Content-Security-Policy, ``X-Content-Type-Options:
nosniff``, ``X-Frame-Options: DENY`` (with CSP's ``frame-ancestors 'none'``:
no page of another site may frame ours to trick a click) and a Referrer-Policy
that keeps grid codes and case ids in our URLs from leaking to other sites.

The policy fits what the pages really load. Everything is served from this
origin (the maps are offline: vendored Leaflet and Swagger UI, the app's own
scripts; no tile server unless one is configured, whose origin is then allowed
for images only), so ``'self'`` for scripts, styles, fonts, images and
fetches, plus ``data:``/``blob:`` images (Leaflet and Swagger UI icons) and
``data:`` fonts. Inline scripts (a page's config, Swagger UI's start-up) run
only with the request's **nonce**: a fresh random value per response, in the
header and on the page's own ``<script>`` tags, so a script that got into a
page some other way (a name that escaped escaping) does not run. Styles keep
``'unsafe-inline'``: the pages and Leaflet put ``style=`` attributes in markup
(legend swatches, labels, popups), which a nonce cannot cover and hashes could
only as ``'unsafe-hashes'`` of every generated value; injected CSS cannot run
code. ``object-src 'none'``, ``base-uri 'none'`` and ``form-action 'self'``
close the other doors.

A page template writes ``<script nonce="{{ csp_nonce }}">`` (``api.pages``
passes the nonce); HTML a library generates (Swagger UI; folium's, if ever
served) goes through :func:`with_script_nonces`. The nonce of the current request is
:func:`csp_nonce`.

CORS is off unless ``GRIDMAP_CORS_ORIGINS`` lists origins: then Starlette's
CORSMiddleware answers preflights for those origins only (other origins get a
400 and no ``Access-Control-Allow-Origin``) and lets them send credentials.
Answers over ~1 kB are gzipped when the client accepts it (on the demo
district GeoJSON pages shrink 4-5 times for polygons, 8-12 times for points).
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gis.settings import ServerSettings

GZIP_MINIMUM_BYTES = 1024
"""Smaller answers are sent as they are: gzip's header and the work cost more than they save."""
GZIP_LEVEL = 6
"""zlib's default: about 5 % larger than level 9 on GeoJSON at a third of the CPU time."""

CORS_METHODS = ("GET", "HEAD", "POST", "PATCH", "DELETE")
CORS_HEADERS = (
    "Accept",
    "Accept-Language",
    "Authorization",
    "Content-Type",
    "If-Match",
    "X-API-Key",
    "X-CSRF-Token",
)
CORS_EXPOSED = (
    "ETag",
    "Location",
    "Retry-After",
    "Content-Disposition",
    "Link",  # an export cut by a limit names the rest
    "OGC-NumberMatched",  # an export's totals
    "OGC-NumberReturned",
    "Content-Crs",  # OGC API Features Part 2: the coordinates' CRS
)
CORS_MAX_AGE_S = 600
"""Seconds a browser may keep a preflight's answer."""

_NONCE: ContextVar[str] = ContextVar("csp_nonce", default="")


def csp_nonce() -> str:
    """The current request's script nonce ('' outside a request)."""
    return _NONCE.get()


def content_security_policy(nonce: str, image_origins: tuple[str, ...] = ()) -> str:
    """The policy of a response whose inline scripts carry ``nonce``; ``image_origins`` the
    tile servers of a configured base map (``gis.basemap.sources``; none offline)."""
    images = " ".join(("'self'", "data:", "blob:", *image_origins))
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src {images}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

_BARE_SCRIPT = re.compile(r"<script>", re.IGNORECASE)


def with_script_nonces(html: str, nonce: str | None = None) -> str:
    """``html`` with the current nonce on its inline ``<script>`` tags.

    For pages a library generates (folium's map, Swagger UI), whose markup we
    do not write: only bare ``<script>`` tags, the library's own inline
    scripts, get it. Data in those pages is JSON in scripts with ``<`` escaped
    (folium's ``tojson``) or escaped HTML, so it cannot contain such a tag.
    """
    value = csp_nonce() if nonce is None else nonce
    return _BARE_SCRIPT.sub(f'<script nonce="{value}">', html)


class SecurityHeaders:
    """Pure ASGI: a nonce per request, and the security headers on every response.

    Headers a route set itself are kept. Pure ASGI rather than
    BaseHTTPMiddleware: it neither buffers nor re-runs the app in a task of its
    own, so streamed answers stay streamed and contextvars flow.
    """

    def __init__(self, app: ASGIApp, image_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.image_origins = image_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        policy = content_security_policy(nonce, self.image_origins)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", policy)
                for name, value in STATIC_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        token = _NONCE.set(nonce)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            _NONCE.reset(token)


def register_middleware(
    app: FastAPI, settings: ServerSettings, image_origins: tuple[str, ...] = ()
) -> None:
    """gzip, CORS (when origins are listed) and the security headers, outermost last.

    Registered after ``api.errors.register_error_handlers``, so a 500 answered
    there passes through all three.
    """
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=GZIP_LEVEL)
    origins = settings.cors_origin_list
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=list(CORS_METHODS),
            allow_headers=list(CORS_HEADERS),
            expose_headers=list(CORS_EXPOSED),
            allow_credentials=True,
            max_age=CORS_MAX_AGE_S,
        )
    app.add_middleware(SecurityHeaders, image_origins=image_origins)
