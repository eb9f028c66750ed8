"""The error responses of /openapi.json, as the handlers of ``api.errors`` answer them.

FastAPI documents a route's errors under the route's own media type
(``application/geo+json`` for the collections) and gives every route with
parameters a 422 ``HTTPValidationError``. The app answers neither way: every
error is JSON of :class:`ErrorDoc`'s shape, a malformed path, query or header
parameter is a 400 and only a malformed body a 422, and any route may answer
503 with ``Retry-After`` while the database cannot be reached. Routes with an
error shape of their own (Open311) answer ``[{"code", "description"}]`` in JSON
or XML, with 400 in place of 422. A client generated from the document, or a
fuzzer reading it (tests/api/test_schemathesis.py), must see what it will get;
this rewrites the generated document once, so that routes declare only what is
particular to them (their 404, 409, 412, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from api.responses import ErrorDoc

JSON = "application/json"
XML = "text/xml"

ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorDoc"}
FOREIGN_ERROR_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
        "required": ["code", "description"],
    },
}
GENERATED_422 = {"$ref": "#/components/schemas/HTTPValidationError"}
GENERATED_SCHEMAS = ("HTTPValidationError", "ValidationError")

PARAMETER_ERROR = (
    "InvalidParameter: a path, query or header parameter is malformed or out of range."
)
BODY_ERROR = "InvalidBody: the request body is malformed (each wrong field is named in ``errors``)."
UNAVAILABLE = (
    "DatabaseUnavailable: the database cannot be reached (restarting, down); "
    "retry after ``Retry-After`` seconds."
)
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
    },
}


def document_errors(app: FastAPI, foreign_shape_prefixes: tuple[str, ...] = ()) -> None:
    """Make ``app.openapi()`` document errors as answered; paths under
    ``foreign_shape_prefixes`` answer Open311's shape (``register_error_shape``)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            rewrite(generate(), foreign_shape_prefixes)  # generate() keeps it in openapi_schema
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way


def rewrite(document: dict[str, Any], foreign_shape_prefixes: tuple[str, ...] = ()) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorDoc", ErrorDoc.model_json_schema())
    for path, item in document.get("paths", {}).items():
        foreign = path.startswith(foreign_shape_prefixes)
        for operation in item.values():
            _rewrite_operation(operation, foreign)
    for name in GENERATED_SCHEMAS:
        schemas.pop(name, None)


def _rewrite_operation(operation: dict[str, Any], foreign: bool) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if _schema_of(responses.get("422")) == GENERATED_422:
        del responses["422"]
    if operation.get("parameters"):
        responses.setdefault("400", {"description": PARAMETER_ERROR})
    if "requestBody" in operation:
        responses.setdefault("422", {"description": BODY_ERROR})
    if foreign and "422" in responses:
        refused = responses.pop("422")["description"]
        said = responses.setdefault("400", {"description": PARAMETER_ERROR})
        said["description"] = f"{said['description']} {refused}"
    responses.setdefault("503", {"description": UNAVAILABLE})
    responses["503"].setdefault("headers", RETRY_AFTER)
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = (
                {JSON: {"schema": FOREIGN_ERROR_SCHEMA}, XML: {"schema": {"type": "string"}}}
                if foreign
                else {JSON: {"schema": ERROR_SCHEMA}}
            )


def _schema_of(response: dict[str, Any] | None) -> Any:
    return ((response or {}).get("content") or {}).get(JSON, {}).get("schema")
