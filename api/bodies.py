"""JSON request bodies: read with a size limit, parsed, validated, errors in the API's shape.

FastAPI reads a declared body whole before anything can check its size; a
write endpoint open to other systems must refuse an oversized body while
reading it. So bodies of the write endpoints come through :func:`json_body`:
a ``Content-Length`` over the limit is refused before reading, a streamed
body as soon as it passes the limit (413), malformed JSON and invalid fields
are a 422 naming the field, exactly like FastAPI's own body validation.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from api.dependencies import get_settings
from gis.errors import PayloadTooLargeError

JSON_BODY_LIMIT = 64 * 1024
"""Bytes: a facility or a what-if question is well under 1 kB; the server's upload
limit (GRIDMAP_MAX_UPLOAD_BYTES) applies instead when it is smaller."""

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def body_limit(request: Request) -> int:
    return min(get_settings(request).max_upload_bytes, JSON_BODY_LIMIT)


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"the request body is larger than {limit:,} bytes, the limit for JSON bodies here; "
        "send one record per request"
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
                {k: v for k, v in e.items() if k in ("loc", "msg", "type", "input")}
                for e in exc.errors()
            ]
        ) from None


def json_body(parse: Callable[[Any], T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency: the body, size-limited and decoded as JSON, passed through ``parse``.

    ``parse`` turns the decoded JSON into the handler's value (usually by
    :func:`validate`) and raises :func:`invalid_body` errors for what it refuses.
    """

    async def dependency(request: Request) -> T:
        raw = await read_limited(request, body_limit(request))
        if not raw.strip():
            raise invalid_body([{"loc": (), "msg": "a JSON body is required", "type": "missing"}])
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise invalid_body(
                [{"loc": (), "msg": f"the body is not valid JSON: {exc}", "type": "json_invalid"}]
            ) from None
        return parse(data)

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


def request_body_doc(*models: type[BaseModel], description: str = "") -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON body of one of ``models``."""
    schemas = [inline_schema(m) for m in models]
    schema = schemas[0] if len(schemas) == 1 else {"oneOf": schemas}
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }
