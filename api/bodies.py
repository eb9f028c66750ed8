"""JSON request bodies: read with a size limit, parsed, validated, errors in the API's shape.

FastAPI reads a declared body whole before anything can check its size; a
write endpoint open to other systems must refuse an oversized body while
reading it. So bodies of the write endpoints come through :func:`json_body`:
a ``Content-Length`` over the limit is refused before reading, a streamed
body as soon as it passes the limit (413), malformed JSON and invalid fields
are a 422 naming the field, exactly like FastAPI's own body validation; so are
the NaN and Infinity Python's JSON parser would otherwise let through.
"""

from __future__ import annotations

import json
import math
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


def json_body(parse: Callable[[Any], T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency: the body, size-limited and decoded as JSON, passed through ``parse``.

    ``parse`` turns the decoded JSON into the handler's value (usually by
    :func:`validate`) and raises :func:`invalid_body` errors for what it refuses.
    """

    async def dependency(request: Request) -> T:
        raw = await read_limited(request, body_limit(request))
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
