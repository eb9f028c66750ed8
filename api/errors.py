"""Errors as HTTP: one table from domain error to status, registered once.

Every error response is JSON of the same shape::

    {"status": 400, "code": "InvalidParameter",
     "description": "what was wrong and how to fix it",
     "errors": [{"location": "query", "parameter": "limit", "message": "..."}]}

``errors`` is present only for request validation. A malformed query, path or
header parameter is a 400 (as OGC API Features asks); a malformed request body
is a 422. Unexpected failures are a 500 whose body says nothing internal,
answered by :class:`UnexpectedErrors` so that the connection stays open for
the client's next request (Starlette's own last resort re-raises after
answering, and uvicorn then closes the connection). An error body never fails
to render: a refused value it echoes (NaN, an unpaired surrogate, 10,000
characters) is shown printable and short.

A database that cannot be reached (down, restarting, a dropped connection, no
pooled connection free) is a 503 with ``Retry-After``, whichever layer noticed:
driver errors are told apart from refusals here, once (:func:`_driver_error`).
A write whose connection broke is never answered as done: it is a 503 even
when the commit may have reached the server, so the client checks and retries.

A browser opening a page without a login (or with an expired one) is sent to
the login page (303), coming back afterwards; scripts get the 401.

Routes that follow a standard of their own register its shape for their path
prefix (:func:`register_error_shape`): Open311 under /open311/ answers
``[{"code": 400, "description": "..."}]``, with 400 in place of 422.

``description`` is in the request's language (``api.lang``: Chinese unless
``Accept-Language`` or the ``gm_lang`` cookie asks for English): a domain error
raised with both texts (``GridmapError(en, zh=...)``) gives the one asked for,
one raised in English only gives English either way; the framing this module
writes (validation, 404, 405, 500, 503) is in both. ``status``, ``code``,
``errors[].location``/``parameter`` and the other fields never change with it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from psycopg import OperationalError as DriverOperationalError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.access import COOKIE, LoginRequiredError, clear_login_cookie
from api.bodies import UnsupportedMediaTypeError
from api.lang import language_headers, request_lang
from api.limits import WorkRefusedError, query_timeout
from api.preconditions import PreconditionFailedError, PreconditionRequiredError, etag
from api.routing import SAFE_METHODS
from gis.db.engine import is_unreachable, unavailable
from gis.db.timeouts import is_statement_timeout
from gis.errors import (
    ConflictError,
    DatabaseUnavailableError,
    ForbiddenError,
    GridmapError,
    ImportRejectedError,
    InvalidFeatureError,
    InvalidParameterError,
    NotAuthenticatedError,
    NotFoundError,
    PayloadTooLargeError,
    StaleVersionError,
    TooManyAttemptsError,
    UnsupportedFileError,
)
from gis.incidents.workflow import TransitionNotAllowedError
from gis.lang import Lang, Texts
from gis.participation.kinds import StepNotAllowedError

log = logging.getLogger(__name__)

DOMAIN_ERROR_STATUS: dict[type[GridmapError], int] = {
    InvalidParameterError: 400,
    NotFoundError: 404,
    ConflictError: 409,
    PayloadTooLargeError: 413,
    UnsupportedMediaTypeError: 415,
    UnsupportedFileError: 415,
    ImportRejectedError: 422,
    InvalidFeatureError: 422,
    DatabaseUnavailableError: 503,
    NotAuthenticatedError: 401,
    ForbiddenError: 403,
    TooManyAttemptsError: 429,
    PreconditionFailedError: 412,
    PreconditionRequiredError: 428,
}
"""HTTP status of each domain error; subclasses inherit their parent's status.

So the incident errors need no entries: OutsideDistrictError, UnroutableLocationError
and UnknownCategoryError are InvalidFeatureErrors (422); TransitionNotAllowedError,
EscalationLimitError and StaleVersionError are ConflictErrors (409, the first with
``allowed`` and the last with ``current_version`` and ``etag`` in the body); NoteRequiredError
is an InvalidParameterError (400). The 412 and 428 of conditional writes are
``api.preconditions``' own errors."""

RETRY_AFTER_S = 5
"""``Retry-After`` of a 503 for an unreachable database: a restart takes a few seconds."""

_HTTP_CODES = {
    400: "InvalidParameter",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    412: "PreconditionFailed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "InvalidBody",
    428: "PreconditionRequired",
    500: "InternalError",
    503: "DatabaseUnavailable",
}


ErrorShape = Callable[[Request, int, str], Response]
"""Renders an error (status, description) in the shape a family of routes must answer."""


def register_error_shape(app: FastAPI, prefix: str, shape: ErrorShape) -> None:
    """Answer errors on paths under ``prefix`` with ``shape`` instead of the API's JSON.

    For routes that follow a standard of their own (Open311 answers
    ``[{"code", "description"}]``); the status stays the one this table gives.
    """
    shapes: dict[str, ErrorShape] = dict(getattr(app.state, "error_shapes", {}))
    shapes[prefix] = shape
    app.state.error_shapes = shapes


ECHO_MAX = 200
"""Characters of a refused value an error repeats back (the rest is elided)."""


def printable(value: Any) -> Any:
    """``value`` as an error body may carry it: text valid UTF-8, numbers finite.

    An unpaired surrogate is shown as its escape (``\\ud800``), a NaN or an
    infinity as text; containers are walked.
    """
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable(v) for v in value]
    return value


def _echo(value: str | int | float | bool) -> str | int | float | bool:
    """A refused input as an error repeats it: printable, at most ``ECHO_MAX`` characters."""
    if isinstance(value, str) and len(value) > ECHO_MAX:
        value = f"{value[:ECHO_MAX]}… ({len(value):,} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return f"a number of {len(str(abs(value)))} digits"
    echoed: str | int | float | bool = printable(value)
    return echoed


def _answer(
    request: Request,
    status: int,
    body: dict[str, Any],
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The error response: the API's JSON ``body``, or the route family's own shape."""
    body = printable(body)
    headers = {**language_headers(request_lang(request)), **(headers or {})}
    shapes: dict[str, ErrorShape] = getattr(request.app.state, "error_shapes", {})
    for prefix, shape in shapes.items():
        if request.url.path.startswith(prefix):
            response = shape(request, status, str(body["description"]))
            response.headers.update(headers)
            return response
    return JSONResponse(body, status_code=status, headers=headers)


def status_of(exc: GridmapError) -> int:
    """The status for ``exc``: its class's entry, or the nearest ancestor's, else 500."""
    for cls in type(exc).__mro__:
        if cls in DOMAIN_ERROR_STATUS:
            return DOMAIN_ERROR_STATUS[cls]
    return 500


def error_body(status: int, description: str, code: str | None = None, **extra: Any) -> Any:
    return {
        "status": status,
        "code": code or _HTTP_CODES.get(status, "Error"),
        "description": description,
        **extra,
    }


def _wants_page(request: Request) -> bool:
    """A browser opening a page (not a script fetching data, which accepts */*)."""
    return request.method in ("GET", "HEAD") and "text/html" in request.headers.get("accept", "")


def _to_login(request: Request) -> Response:
    """303 to the login page, back to this page afterwards; an expired cookie is cleared."""
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"/login?{urlencode({'next': path})}", status_code=303)
    if COOKIE in request.cookies:
        clear_login_cookie(response, request)
    return response


def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GridmapError)
    if isinstance(exc, LoginRequiredError) and exc.page and _wants_page(request):
        return _to_login(request)
    status = status_of(exc)
    code = type(exc).__name__.removesuffix("Error")
    extra: dict[str, Any] = {}
    if isinstance(exc, ImportRejectedError):
        extra["rejected"] = [
            {"row": r.row, "reason": r.reason, "ident": r.ident} for r in exc.rejected
        ]
    if isinstance(exc, TransitionNotAllowedError):
        extra["state"] = exc.state.value
        extra["allowed"] = [a.value for a in exc.allowed]
    if isinstance(exc, StepNotAllowedError):
        extra["state"] = exc.status
        extra["allowed"] = list(exc.allowed)
    if isinstance(exc, StaleVersionError | PreconditionFailedError):
        extra["current_version"] = exc.current
        extra["etag"] = etag(exc.ident, exc.current)
        if exc.state is not None:
            extra["current"] = exc.state
    headers: dict[str, str] | None = None
    if status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    elif isinstance(exc, TooManyAttemptsError):
        headers = {"Retry-After": str(exc.retry_after_s)}
    elif status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="gridmap"'}
    description = exc.text(request_lang(request))
    return _answer(request, status, error_body(status, description, code, **extra), headers)


def _driver_error(request: Request, exc: Exception) -> Response:
    """A database error nothing below turned into a domain error: a statement the
    server cancelled for its timeout (``api.limits``) or an unreachable database is a
    503; anything else the 500 of any unexpected failure."""
    if is_statement_timeout(exc):
        return _work_refused(request, query_timeout(request))
    if is_unreachable(exc):
        log.warning("database unreachable on %s %s: %s", request.method, request.url.path, exc)
        error = unavailable(exc)
        if request.method not in SAFE_METHODS:
            error.args = (
                f"{error} Not acknowledged: if the connection broke while committing, it may "
                "have been stored; read it back before sending it again.",
            )
            error.zh = (
                f"{error.zh} 写入未确认：连接可能在提交时中断，数据可能已保存；请先查询再重发。"
            )
        return _domain_error(request, error)
    return _unexpected_error(request, exc)


def _describe(errors: Sequence[Any]) -> list[dict[str, Any]]:
    described = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        location = loc[0] if loc else "request"
        parameter = ".".join(loc[1:]) or None
        message = err.get("msg", "invalid value")
        if err.get("type") == "too_long" and isinstance(err.get("input"), str):
            # A length checked after the text's own validator: say characters, not "items".
            limit = (err.get("ctx") or {}).get("max_length")
            message = f"the text has {len(err['input']):,} characters; at most {limit:,} fit"
        item: dict[str, Any] = {"location": location, "parameter": parameter, "message": message}
        if "input" in err and isinstance(err["input"], str | int | float | bool):
            item["input"] = _echo(err["input"])
        described.append(item)
    return described


_LOCATION_ZH = {"query": "查询参数", "path": "路径参数", "header": "请求头", "body": "请求体字段"}


def _sentence(item: dict[str, Any], lang: Lang) -> str:
    """One refused parameter; pydantic's own ``message`` stays as it says it (English)."""
    got = item.get("input")
    if lang is Lang.EN:
        if not item["parameter"]:
            return f"{item['location']}: {item['message']}"
        return f"{item['location']} parameter {item['parameter']!r}: {item['message']}" + (
            f" (got {got!r})" if "input" in item else ""
        )
    where = _LOCATION_ZH.get(item["location"], item["location"])
    if not item["parameter"]:
        return f"{where}：{item['message']}"
    return f"{where} {item['parameter']!r}：{item['message']}" + (
        f"（收到 {got!r}）" if "input" in item else ""
    )


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    items = _describe(exc.errors())
    in_body = any(item["location"] == "body" for item in items)
    status = 422 if in_body else 400
    lang = request_lang(request)
    sentences = [_sentence(item, lang) for item in items]
    description = Texts(
        "；".join(sentences) + "。各参数的类型和取值见 /docs。",
        "; ".join(sentences) + ". See /docs for each parameter's type and allowed values.",
    ).pick(lang)
    return _answer(request, status, error_body(status, description, errors=items))


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    lang = request_lang(request)
    if exc.status_code == 404 and exc.detail == "Not Found":
        description = Texts(
            f"{request.url.path} 处没有内容。API 在 /api/v1 下（Open311 在 /open311/v2 下）；"
            "全部接口见 /docs。",
            f"There is nothing at {request.url.path}. "
            "The API lives under /api/v1 (Open311 under /open311/v2); "
            "see /docs for every endpoint.",
        ).pick(lang)
    elif exc.status_code == 405:
        description = Texts(
            f"{request.url.path} 不接受 {request.method} 请求；见 /docs。",
            f"{request.method} is not allowed on {request.url.path}; see /docs.",
        ).pick(lang)
    else:
        description = str(exc.detail)
    return _answer(
        request,
        exc.status_code,
        error_body(exc.status_code, description),
        headers=getattr(exc, "headers", None),
    )


def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _answer(
        request,
        500,
        error_body(
            500,
            Texts(
                "服务器未能处理此请求。错误已记录；请连同时间和网址一起报告。",
                "The server failed to answer this request. The error has been logged; "
                "please report it with the time and the URL.",
            ).pick(request_lang(request)),
        ),
    )


class UnexpectedErrors:
    """Answers an unhandled error with the JSON 500, and keeps the connection open.

    A pure ASGI middleware, inside Starlette's ServerErrorMiddleware: that one
    answers too but then re-raises (for servers to log), and uvicorn closes a
    connection whose application raised, so the client's next request on it is
    reset and it cannot tell whether that request was applied. Here the error
    is logged and answered, and nothing is raised. Only when the response had
    already begun (a 500 can no longer be sent) is it re-raised: closing the
    connection is then the one honest answer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = finished = False

        async def watched(message: Message) -> None:
            nonlocal started, finished
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            request = Request(scope)
            if finished:  # e.g. a background task after the answer: log it, keep the connection
                log.exception(
                    "unhandled error after answering %s %s",
                    request.method,
                    request.url.path,
                    exc_info=exc,
                )
                return
            if started:
                raise
            await _unexpected_error(request, exc)(scope, receive, send)


def _work_refused(request: Request, exc: Exception) -> Response:
    """A request refused or cut short to keep the service responsive (``api.limits``).

    503 with ``Retry-After``, for both causes: too many heavy requests at once
    (``ServerBusy``) and a statement past its timeout (``QueryTimeout``). Not a
    429: the cap is the server's capacity, shared by every client, not a quota
    the caller overran. Not a 504: that is what a proxy says when it gives up
    not knowing the outcome, while here the work was cancelled cleanly and
    nothing of it was kept, so retrying (asking for less) is safe.
    """
    assert isinstance(exc, WorkRefusedError)
    return _answer(
        request,
        503,
        error_body(503, exc.texts.pick(request_lang(request)), exc.code),
        headers={"Retry-After": str(exc.retry_after_s)},
    )


def register_error_handlers(app: FastAPI) -> None:
    """Install the JSON error handlers; called once by ``create_app``."""
    app.add_exception_handler(GridmapError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for driver_error in (DBAPIError, PoolTimeoutError, DriverOperationalError):
        app.add_exception_handler(driver_error, _driver_error)
    app.add_exception_handler(WorkRefusedError, _work_refused)
    app.add_exception_handler(Exception, _unexpected_error)  # errors outside UnexpectedErrors
    app.add_middleware(UnexpectedErrors)
