"""Routes whose reads are tried a second time when the database connection breaks.

A GET that fails because its connection was dropped (the server restarted,
a pooled connection died under it) is run once more on a fresh connection
before the client sees a 503: reads change nothing, so repeating one is safe.
Writes are never repeated here, since whether their commit arrived is unknown;
they answer 503 (api/errors.py) and the client decides.

Every router of the app uses :class:`ReadRetryRoute` (tests/api/test_recovery
checks that none is left out), so it is also where two checks of every route
live, once:

- A query parameter that would change what the answer means (``datum``,
  ``crs``, ``srs``, ``bbox-crs``, ``format``, ``f``) on a route that does not
  declare it is a 400, not ignored: a client asking for GCJ-02 coordinates or
  a CSV must not silently get WGS84 JSON. Other unknown parameters (a
  cache-buster) are still ignored.
- A route with a FastAPI form body (the token endpoint) reads it by its
  declared charset (``api.bodies.form_codec``: UTF-8, GBK, GB2312, GB18030;
  else 415) and refuses a field that is not text in it, where Starlette's own
  parser reads UTF-8 only and puts U+FFFD in place of anything else.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
from fastapi import Request, Response, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from starlette.types import Message

from api.bodies import body_limit, content_type, form_codec, read_limited, url_encoded_pairs
from gis.db.engine import is_unreachable
from gis.errors import DatabaseUnavailableError, InvalidParameterError

READ_RETRY_DELAY_S = 0.25
"""Pause before the second try, so a server that is just coming back can accept it."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing: tried again, bounded as light reads, never 'not acknowledged'."""

MEANINGFUL_PARAMETERS: dict[str, str] = {
    "datum": "coordinates here are WGS84 (EPSG:4326); convert them before sending or after reading",
    "crs": "coordinates here are WGS84 (EPSG:4326, lon/lat)",
    "srs": "coordinates here are WGS84 (EPSG:4326, lon/lat)",
    "bbox-crs": "bbox is read as WGS84 (EPSG:4326, lon/lat)",
    "format": "this endpoint answers in one format (see /docs)",
    "f": "this endpoint answers in one format (see /docs)",
}
"""Query parameters that change what an answer means → what the route does instead."""

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def declared_query_names(route: APIRoute) -> frozenset[str]:
    """The query parameter names ``route`` reads, its dependencies' included (lower case)."""
    return frozenset(
        field.alias.lower()
        for field in get_flat_params(route.dependant)
        if isinstance(field.field_info, params.Query)
    )


def refuse_unsupported_parameters(request: Request, declared: frozenset[str]) -> None:
    """A 400 for a meaning-changing query parameter the route does not declare."""
    for name in dict.fromkeys(key.lower() for key in request.query_params):
        if name in MEANINGFUL_PARAMETERS and name not in declared:
            raise InvalidParameterError(
                f"{name} is not supported by {request.method} "
                f"{request.url.path} yet: {MEANINGFUL_PARAMETERS[name]}. It is refused rather "
                f"than ignored because it would change what the answer means; remove it "
                "(/docs lists this endpoint's parameters)",
                zh=f"本接口（{request.method} {request.url.path}）暂不支持参数 {name}："
                f"{MEANINGFUL_PARAMETERS[name]}。它会改变结果的含义，所以拒绝而不是忽略；"
                "请去掉它（本接口的参数见 /docs）",
            )


async def form_in_utf8(request: Request) -> Request:
    """``request`` with its url-encoded form body read by its declared charset, as UTF-8.

    Starlette parses the form of a FastAPI ``Form`` body as UTF-8 whatever the
    client declared; here it is read by :func:`api.bodies.form_codec`, a field
    that is not text in that charset is refused naming it, and the handler gets
    the same fields re-encoded as UTF-8. Other bodies pass as they are (a
    multipart form is only checked for its charset: Starlette reads it by it).
    """
    kind, charset = content_type(request)
    if kind not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request
    codec = form_codec(request)
    if kind != "application/x-www-form-urlencoded":
        return request
    raw = await read_limited(request, body_limit(request))
    pairs = url_encoded_pairs(raw, codec)
    for name, value in pairs:
        try:
            (name + value).encode("utf-8")
        except UnicodeEncodeError:
            declared = charset or "utf-8"
            raise InvalidParameterError(
                f"{name}: the value is not {declared} "
                "text (some bytes are not characters of the charset the Content-Type "
                "declares); send the form in that charset, or declare the one it is in",
                zh=f"字段 {name} 不是 {declared} 编码的文字（有些字节不是 Content-Type 所声明"
                "字符集的字符）；请按该字符集发送表单，或声明它实际的字符集",
            ) from None
    body = urllib.parse.urlencode(pairs).encode("ascii")
    scope = dict(request.scope)
    scope["headers"] = [
        (key, value)
        for key, value in request.scope["headers"]
        if key not in (b"content-type", b"content-length")
    ] + [
        (b"content-type", b"application/x-www-form-urlencoded; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await request.receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


class ReadRetryRoute(APIRoute):
    """An APIRoute whose GET handler runs a second time after a connection error.

    Also refuses meaning-changing parameters it does not declare, and reads a
    form body by its charset (see the module's docstring).
    """

    def get_route_handler(self) -> Handler:
        handler = self._retrying_reads(self._reading_forms_by_charset(super().get_route_handler()))
        declared = declared_query_names(self)

        async def with_known_parameters(request: Request) -> Response:
            refuse_unsupported_parameters(request, declared)
            return await handler(request)

        return with_known_parameters

    def _reading_forms_by_charset(self, handler: Handler) -> Handler:
        if self.body_field is None or not isinstance(self.body_field.field_info, params.Form):
            return handler

        async def read_by_charset(request: Request) -> Response:
            return await handler(await form_in_utf8(request))

        return read_by_charset

    def _retrying_reads(self, handler: Handler) -> Handler:
        if not self.methods or not self.methods <= SAFE_METHODS:
            return handler

        async def read_twice_if_the_connection_broke(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                if not _connection_broke(exc):
                    raise
            await anyio.sleep(READ_RETRY_DELAY_S)
            return await handler(request)

        return read_twice_if_the_connection_broke


def _connection_broke(exc: BaseException) -> bool:
    """A lost connection, raw or already explained as DatabaseUnavailableError by gis."""
    cause = exc.__cause__ if isinstance(exc, DatabaseUnavailableError) else None
    return is_unreachable(exc) or (cause is not None and is_unreachable(cause))
