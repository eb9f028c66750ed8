"""JSON request bodies: read with a size limit, parsed, validated, errors in the API's shape.

FastAPI reads a declared body whole before anything can check its size; a
write endpoint open to other systems must refuse an oversized body while
reading it. So bodies of the write endpoints come through :func:`json_body`:
a ``Content-Length`` over the limit is refused before reading, a streamed
body as soon as it passes the limit (413), malformed JSON and invalid fields
are a 422 naming the field, exactly like FastAPI's own body validation; so are
the NaN and Infinity Python's JSON parser would otherwise let through.

A JSON body must say so: ``Content-Type: application/json`` (or
``application/geo+json`` where a GeoJSON Feature is posted), UTF-8. Anything
else (``text/plain``, a form, no type) is a 415 before the body is read: a page
of another site may send a ``text/plain`` POST without asking first (no CORS
preflight), but not an ``application/json`` one.

Form bodies (Open311, the token endpoint) are decoded by their declared
``charset``: UTF-8 by default, or GBK / GB2312 / GB18030, which older hotline
systems still send; any other charset is a 415. Bytes that are not text in the
declared charset stay visible as unpaired surrogates, which the field checks
refuse naming the field (never stored garbled).
"""

from __future__ import annotations

import json
import math
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from email.message import Message
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException, MultiPartParser

from gis.errors import GridmapError, PayloadTooLargeError
from gis.settings import ServerSettings

JSON_BODY_LIMIT = 64 * 1024
"""Bytes: a facility or a what-if question is well under 1 kB; the server's upload
limit (GRIDMAP_MAX_UPLOAD_BYTES) applies instead when it is smaller."""

JSON_TYPES = ("application/json",)
"""Media types a JSON body may be declared as."""
GEOJSON_TYPES = ("application/json", "application/geo+json")
"""Where a GeoJSON Feature may be posted (RFC 7946's media type, or plain JSON)."""

FORM_CHARSETS: dict[str, str] = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb18030": "gb18030",
}
"""A form's declared charset → the codec that reads it. As the WHATWG Encoding
Standard does, GBK and GB2312 are read with the GB18030 decoder, their superset:
a "GB2312" system that sends a GBK character (镕, 堃) is still read right."""

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class UnsupportedMediaTypeError(GridmapError):
    """A body of a type or charset this endpoint does not take (415)."""


def content_type(request: Request) -> tuple[str, str | None]:
    """The body's media type (lower case, '' if not given) and its declared charset."""
    header = request.headers.get("content-type", "")
    if not header.strip():
        return "", None
    message = Message()
    message["content-type"] = header
    charset = message.get_param("charset")
    return message.get_content_type(), str(charset).strip().lower() if charset else None


def require_json(request: Request, accepted: tuple[str, ...] = JSON_TYPES) -> None:
    """Refuse (415) a body not declared as one of ``accepted``, or not UTF-8."""
    kind, charset = content_type(request)
    if kind not in accepted:
        raise UnsupportedMediaTypeError(
            f"The body is {kind or 'not typed (no Content-Type header)'}; "
            f"this endpoint takes JSON: send it with Content-Type: {' or '.join(accepted)}",
            zh=f"请求体须为 JSON（现为 {kind or '未声明类型，没有 Content-Type 请求头'}）："
            f"请以 Content-Type: {' 或 '.join(accepted)} 发送",
        )
    if charset is not None and FORM_CHARSETS.get(charset) != "utf-8":
        raise UnsupportedMediaTypeError(
            f"The body is declared charset={charset}, but JSON is UTF-8 "
            f"(RFC 8259): send it in UTF-8, as {' or '.join(accepted)} with charset=utf-8 "
            "or no charset",
            zh=f"JSON 须为 UTF-8 编码（RFC 8259），请求体却声明了 charset={charset}："
            f"请以 UTF-8 发送，即 {' 或 '.join(accepted)}，charset=utf-8 或不写 charset",
        )


def form_codec(request: Request) -> str:
    """The codec that reads this form body's declared charset (UTF-8 if none), else 415."""
    _kind, charset = content_type(request)
    codec = FORM_CHARSETS.get(charset or "utf-8")
    if codec is None:
        raise UnsupportedMediaTypeError(
            f"The form is declared charset={charset}; "
            "send it in UTF-8 (or GBK, GB2312, GB18030) and say so in Content-Type, "
            "e.g. application/x-www-form-urlencoded; charset=gbk",
            zh=f"表单字符集 {charset} 不受支持：请以 UTF-8（或 GBK、GB2312、GB18030）发送，"
            "并在 Content-Type 中注明，例如 application/x-www-form-urlencoded; charset=gbk",
        )
    return codec


def url_encoded_pairs(raw: bytes, codec: str) -> list[tuple[str, str]]:
    """A url-encoded form's fields, in order, decoded with ``codec``.

    Bytes that are not text in ``codec``, escaped or not, become unpaired
    surrogates (``surrogateescape``) for the field checks to refuse, where
    Starlette's parser would put U+FFFD in their place without a word.
    """
    text = raw.decode(codec, "surrogateescape")
    return urllib.parse.parse_qsl(
        text, keep_blank_values=True, encoding=codec, errors="surrogateescape"
    )


def body_limit(request: Request, limit: int = JSON_BODY_LIMIT) -> int:
    """Bytes a JSON or form body may have here: ``limit`` (64 kB unless the route takes
    batches), never more than the app's settings allow (read without
    ``api.dependencies``: ``api.routing`` reads forms too and sits below it)."""
    settings: ServerSettings = request.app.state.settings
    return min(settings.max_upload_bytes, limit)


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the request body is larger than {limit:,} bytes, the limit for JSON bodies here; "
        "send fewer records per request"
    )


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refused with a 413 as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


MULTIPART = "multipart/form-data"
MULTIPART_FIELD_LIMIT = 64 * 1024
"""Bytes of one text field of a multipart form (files are limited by the caller)."""


async def read_multipart(request: Request, *, limit: int, max_files: int) -> FormData:
    """A ``multipart/form-data`` body (files spooled, the whole refused with a 413 as soon as
    it passes ``limit`` bytes; more than ``max_files`` files or a malformed body a 422), or a
    415 for a body of another type. Starlette's own form reading has no limit on a body's
    size; this one reads it from the stream with one."""
    kind, _charset = content_type(request)
    if kind != MULTIPART:
        raise UnsupportedMediaTypeError(
            f"请求体须为 multipart/form-data。The body is "
            f"{kind or 'not typed (no Content-Type header)'}; this endpoint takes files as "
            f"{MULTIPART} (an HTML form with enctype=multipart/form-data, or FormData in a script)"
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large_form(limit)

    async def limited() -> AsyncIterator[bytes]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large_form(limit)
            yield chunk

    parser = MultiPartParser(
        request.headers,
        limited(),  # type: ignore[arg-type]  # an async generator, as Starlette's own
        max_files=max_files,
        max_fields=20,
        max_part_size=MULTIPART_FIELD_LIMIT,
    )
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise invalid_body(
            [
                {
                    "loc": (),
                    "msg": f"the multipart body cannot be read: {exc.message}",
                    "type": "multipart",
                }
            ]
        ) from None


def _too_large_form(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"请求体过大 (the request body is larger than {limit:,} bytes, the limit here): send "
        "fewer or smaller files per request"
    )


def invalid_body(errors: list[dict[str, Any]]) -> RequestValidationError:
    """A 422 like FastAPI's own, with each error located in the body."""
    return RequestValidationError(
        [{**e, "loc": ("body", *e.get("loc", ()))} for e in errors],
    )


def validate(model: type[M], data: Any) -> M:
    """``data`` as ``model``, or a 422 naming each wrong field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_body(
            [
                {k: v for k, v in e.items() if k in ("loc", "msg", "type", "input", "ctx")}
                for e in exc.errors()
            ]
        ) from None


def _non_finite_at(data: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where in decoded JSON the first NaN or infinity is, or None."""
    if isinstance(data, float) and not math.isfinite(data):
        return path
    items: Any = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, value in items:
        found = _non_finite_at(value, (*path, key))
        if found is not None:
            return found
    return None


def decode_json(raw: bytes) -> Any:
    """``raw`` as strict JSON, or a 422 naming where it is not.

    Python's ``json.loads`` accepts the non-standard ``NaN``, ``Infinity`` and
    ``-Infinity`` (refused here, naming the field that holds one) and fails on
    deep nesting with a RecursionError rather than a ValueError.
    """
    constants: list[str] = []

    def constant(name: str) -> float:
        constants.append(name)
        return float(name.replace("Infinity", "inf"))

    try:
        data = json.loads(raw, parse_constant=constant)
        where = _non_finite_at(data) if constants else None
    except RecursionError:
        raise invalid_body(
            [
                {
                    "loc": (),
                    "msg": "the body is nested too deeply to be a record",
                    "type": "json_invalid",
                }
            ]
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_body(
            [{"loc": (), "msg": f"the body is not valid JSON: {exc}", "type": "json_invalid"}]
        ) from None
    if constants:
        raise invalid_body(
            [
                {
                    "loc": where or (),
                    "msg": f"{constants[0]} is not a JSON number (JSON has no NaN or Infinity); "
                    "send a finite number",
                    "type": "finite_number",
                }
            ]
        )
    return data


def json_body(
    parse: Callable[[Any], T],
    accepted: tuple[str, ...] = JSON_TYPES,
    limit: int = JSON_BODY_LIMIT,
) -> Callable[[Request], Awaitable[T]]:
    """A dependency: the body, at most ``limit`` bytes and decoded as JSON, passed
    through ``parse``.

    ``parse`` turns the decoded JSON into the handler's value (usually by
    :func:`validate`) and raises :func:`invalid_body` errors for what it refuses.
    A body not declared as one of the ``accepted`` media types is a 415.
    """

    async def dependency(request: Request) -> T:
        require_json(request, accepted)
        raw = await read_limited(request, body_limit(request, limit))
        if not raw.strip():
            raise invalid_body([{"loc": (), "msg": "a JSON body is required", "type": "missing"}])
        return parse(decode_json(raw))

    return dependency


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with nested definitions inlined, for ``openapi_extra``.

    A hand-read body has no FastAPI-declared model; this keeps /docs showing its shape.
    """
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def request_body_doc(
    *models: type[BaseModel], description: str = "", accepted: tuple[str, ...] = JSON_TYPES
) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON body of one of ``models``, as ``accepted`` types."""
    schemas = [inline_schema(m) for m in models]
    schema = schemas[0] if len(schemas) == 1 else {"oneOf": schemas}
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {media: {"schema": schema} for media in accepted},
        }
    }
