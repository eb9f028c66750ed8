"""The error responses of /openapi.json, as the handlers of ``api.errors`` answer them.

FastAPI documents a route's errors under the route's own media type
(``application/geo+json`` for the collections) and gives every route with
parameters a 422 ``HTTPValidationError``. The app answers neither way: every
error is JSON of :class:`ErrorDoc`'s shape, a malformed path, query or header
parameter is a 400 and only a malformed body a 422, and any route may answer
503 with ``Retry-After`` while the database cannot be reached; a route whose
``api.access`` rule is not public may answer 401 (no or expired credentials)
and 403 (a role or key the rule does not name), and a public one needs no
credentials at all (``security: []``). Routes with an
error shape of their own (Open311) answer ``[{"code", "description"}]`` in JSON
or XML, with 400 in place of 422. A client generated from the document, or a
fuzzer reading it (tests/api/test_schemathesis.py), must see what it will get;
this rewrites the generated document once, so that routes declare only what is
particular to them (their 404, 409, 412, ...). It also puts back the nulls of the
examples that FastAPI's generator drops (``api.responses.restore_examples``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.access import Rule
from api.responses import ErrorDoc, restore_examples

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
MEDIA_TYPE_ERROR = (
    "UnsupportedMediaType: the body is not of the type this endpoint takes (JSON as "
    "application/json; a form in UTF-8, GBK, GB2312 or GB18030), or has no Content-Type."
)
UNAVAILABLE = (
    "DatabaseUnavailable: the database cannot be reached (restarting, down); "
    "retry after ``Retry-After`` seconds."
)
UNAUTHENTICATED = (
    "LoginRequired: no credentials, or a login or key that has expired or was revoked; "
    "log in (POST /api/v1/auth/token) or send a valid API key."
)
FORBIDDEN = (
    "Forbidden: the caller's role or key scopes may not use this (a statistic of an area "
    "the caller does not cover; with the browser's login cookie, a missing CSRF token)."
)
WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": "How to authenticate (Bearer).",
        "schema": {"type": "string"},
    },
}
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
            # generate() keeps it in openapi_schema
            document = generate()
            rewrite(document, foreign_shape_prefixes, rules_by_operation(app))
            restore_examples(document, _routes(app))
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way


def _routes(app: FastAPI) -> list[Any]:
    routes: list[Any] = []
    for route in app.router.routes:  # an included router may stay whole (original_router)
        inner = getattr(route, "original_router", None)
        routes.extend(inner.routes if inner is not None else [route])
    return routes


def rules_by_operation(app: FastAPI) -> dict[tuple[str, str], Rule]:
    """The access rule of each documented operation, by (path, lower-case method)."""
    rules: dict[tuple[str, str], Rule] = {}
    for route in _routes(app):
        if not isinstance(route, APIRoute):
            continue
        rule = _rule_of(route.dependant)
        if rule is not None:
            for method in route.methods or ():
                rules[(route.path_format, method.lower())] = rule
    return rules


def _rule_of(dependant: Dependant) -> Rule | None:
    stack = [dependant]
    while stack:
        current = stack.pop()
        if isinstance(current.call, Rule):
            return current.call
        stack.extend(current.dependencies)
    return None


def rewrite(
    document: dict[str, Any],
    foreign_shape_prefixes: tuple[str, ...] = (),
    rules: dict[tuple[str, str], Rule] | None = None,
) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorDoc", ErrorDoc.model_json_schema())
    for path, item in document.get("paths", {}).items():
        foreign = path.startswith(foreign_shape_prefixes)
        for method, operation in item.items():
            _rewrite_operation(operation, foreign, (rules or {}).get((path, method)))
    for name in GENERATED_SCHEMAS:
        schemas.pop(name, None)


def _rewrite_operation(operation: dict[str, Any], foreign: bool, rule: Rule | None) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if rule is not None and rule.public:
        operation["security"] = []
    elif rule is not None:
        responses.setdefault("401", {"description": UNAUTHENTICATED})
        responses["401"].setdefault("headers", WWW_AUTHENTICATE)
        responses.setdefault("403", {"description": FORBIDDEN})
    if _schema_of(responses.get("422")) == GENERATED_422:
        del responses["422"]
    if operation.get("parameters"):
        responses.setdefault("400", {"description": PARAMETER_ERROR})
    if "requestBody" in operation:
        responses.setdefault("422", {"description": BODY_ERROR})
        responses.setdefault("415", {"description": MEDIA_TYPE_ERROR})  # api.bodies
    if foreign and "422" in responses:
        refused = responses.pop("422")["description"]
        said = responses.setdefault("400", {"description": PARAMETER_ERROR})
        said["description"] = f"{said['description']} {refused}"
    responses.setdefault("503", {"description": UNAVAILABLE})
    responses["503"].setdefault("headers", RETRY_AFTER)
    operation["responses"] = responses = dict(sorted(responses.items()))
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = (
                {JSON: {"schema": FOREIGN_ERROR_SCHEMA}, XML: {"schema": {"type": "string"}}}
                if foreign
                else {JSON: {"schema": ERROR_SCHEMA}}
            )


def _schema_of(response: dict[str, Any] | None) -> Any:
    return ((response or {}).get("content") or {}).get(JSON, {}).get("schema")
