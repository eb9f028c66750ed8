"""A cached vector tile answered before routing: the warm path of ``api.routes.tiles``.

A map client asks for tiles by the dozen per second. Through FastAPI's
routing and dependencies a tile already in the cache costs ~0.6 ms of CPU,
most of it matching the path against a hundred routes and solving
dependencies; this pure ASGI middleware, the innermost one (so security
headers and everything outside still apply), answers the same request in a
fraction of that when, and only when, everything it needs is already in
memory:

- the path is a tile of ``api.routes.tiles`` and the query at most
  ``datum=`` with one of the datum names;
- the caller's credential is remembered (``gis.accounts.remembered``: it was
  checked against the database moments ago and nothing has changed since) and
  the route's rule (``access.TILES``, and the layer's own: ``access.may_read_layer``)
  lets them in;
- the tile is in the cache under the caller's visibility class, and no audit
  record is owed for it.

Anything else (a first tile, an anonymous reader, a bad address, a tile whose
personal cases this person has not been recorded reading) goes on to the route,
which answers it fully and fills the caches. The answer itself is built by the
route's own ``tile_response``, so the two paths cannot differ.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api import access
from api.routes import tiles
from gis.errors import GridmapError
from gis.geo.datum import parse_datum
from gis.incidents.visibility import Scope as Visibility
from gis.tiles.grid import TMS_ID, tile_at
from gis.tiles.layers import layer_named

_TILE = re.compile(
    rf"^/ogc/(?:collections/([a-z0-9_-]{{1,80}})/)?tiles/{TMS_ID}/(\d{{1,2}})/(\d{{1,9}})/(\d{{1,9}})$"
)
_DATUMS = {name: parse_datum(name) for name in ("wgs84", "cgcs2000", "gcj02", "bd09")}
_DEFAULT = _DATUMS["wgs84"]


class WarmTiles:
    """Answers GETs of cached tiles for remembered callers; passes everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            match = _TILE.match(scope["path"])
            if match is not None:
                answer = _warm_answer(scope, match)
                if answer is not None:
                    await answer(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _warm_answer(scope: Scope, match: re.Match[str]) -> Any:
    app = scope.get("app")
    service = getattr(getattr(app, "state", None), "tiles", None)
    if service is None:
        return None
    query = scope.get("query_string", b"")
    datum = _DEFAULT
    if query:
        name, _, value = query.decode("latin-1").partition("=")
        datum = _DATUMS.get(value) if name == "datum" else None  # type: ignore[assignment]
        if datum is None:
            return None
    request = Request(scope)
    kind, secret = access.credentials(request)
    if kind is None:
        return None
    principal = service.credentials.lookup(kind, secret)
    if principal is None or not access.TILES.allows(principal):
        return None
    cid, z, y, x = match.group(1), int(match.group(2)), int(match.group(3)), int(match.group(4))
    public = tiles.public_layers(request)
    try:
        if cid is None:
            layers = tiles.dataset_layers(principal, public)
        else:
            layers = [layer_named(cid)]
            if not access.may_read_layer(principal, layers[0].kind, public):
                return None
        tile = tile_at(z, y, x, min(la.minzoom for la in layers), max(la.maxzoom for la in layers))
    except GridmapError:
        return None
    visibility = Visibility.of(principal) if any(la.per_viewer for la in layers) else None
    cached = service.cached(cid or "", tile, datum, visibility, count_miss=False)
    if cached is None or (cached.personal_ids and tiles.audit_key(principal) not in cached.audited):
        return None
    return tiles.tile_response(request, cached)
