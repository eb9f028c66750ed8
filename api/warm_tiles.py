"""Vector tiles answered before routing: the fast paths of ``api.routes.tiles``.

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
  record is owed for it; or it is not, and none of its layers holds personal
  data (grids, buildings, facilities, coverage; a dataset tile without the
  incidents layer): then it is drawn here as the route draws it (the same
  ``TileService.draw``, so the same cache store rules), in one threadpool hop
  that opens the session, bounds its statements like the route's and closes it.
  Through FastAPI a missed tile cost ~2 ms more of the server's CPU (routing,
  dependency solving, a second thread hop for the session).

Anything else (a credential not yet remembered, an anonymous reader, a bad
address, a tile with the incidents layer that is not cached or whose personal
cases this person has not been recorded reading, a drawing that failed) goes on
to the route, which answers it fully (its errors, its audit) and fills the
caches. The answer itself is built by the route's own ``tile_response``, so the
two paths cannot differ.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api import access
from api.dependencies import get_session, request_session
from api.routes import tiles
from gis.errors import GridmapError
from gis.geo.datum import Datum, parse_datum
from gis.incidents.visibility import Scope as Visibility
from gis.tiles.cache import CachedTile
from gis.tiles.grid import TMS_ID, TileAddress, tile_at
from gis.tiles.layers import TileLayer, layer_named
from gis.tiles.service import TileService

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
                answer = await _answer(scope, match)
                if answer is not None:
                    await answer(scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def _answer(scope: Scope, match: re.Match[str]) -> Any:
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
    personal = any(la.per_viewer for la in layers)
    visibility = Visibility.of(principal) if personal else None
    cached = service.cached(cid or "", tile, datum, visibility, count_miss=not personal)
    if cached is None:
        if personal or get_session in getattr(app, "dependency_overrides", {}):  # tests' session
            return None
        try:
            cached = await run_in_threadpool(
                _draw, request, service, cid or "", layers, tile, datum
            )
        except Exception:  # the route draws it again and answers as it does for any error
            return None
    if cached.personal_ids and tiles.audit_key(principal) not in cached.audited:
        return None
    return tiles.tile_response(request, cached)


def _draw(
    request: Request,
    service: TileService,
    key: str,
    layers: list[TileLayer],
    tile: TileAddress,
    datum: Datum,
) -> CachedTile:
    """A missed tile of layers without personal data, drawn and cached as the route does,
    in a session of its own (one thread hop for the session and the statement), returned
    to the pool before the next drawing starts."""
    with service.drawing, request_session(request) as session:
        return service.draw_now(session, key, layers, tile, datum, None)
