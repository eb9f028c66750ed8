"""/openapi.json says what every operation answers, and declares no error it never sends.

A client generated from the document (or schemathesis, tests/api/test_schemathesis.py)
learns an answer's shape only from its declared schema: each success of each
operation has one for every JSON content type it answers (CSV, XML and HTML
name their content type only). A route whose rule is not public may answer 401
and 403 and says so; a public one does not. A 422 is the answer to a malformed
body and nothing else (``api.errors``): only operations with a body declare it,
and each of them really sends it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app

NOT_JSON = (
    "text/csv",
    "text/html",
    "application/xml",
    "text/xml",
    "image/jpeg",
    "application/geopackage+sqlite3",
    "image/png",
    "application/pdf",
    "application/vnd.mapbox-vector-tile",
)
"""Content types documented by name only (binary ones as ``format: binary`` strings):
their bodies are not JSON to validate."""

OPEN_OBJECT = {"type": "object", "additionalProperties": True}
"""What FastAPI writes for ``-> dict[str, Any]``: any object, which says nothing."""


def document() -> dict[str, Any]:
    doc: dict[str, Any] = create_app().openapi()
    return doc


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document()["paths"].items()
        for method, operation in item.items()
    ]


def resolved(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def says_something(schema: dict[str, Any] | None, doc: dict[str, Any]) -> bool:
    """A schema that names fields, items or alternatives (not ``{}``, not any object)."""
    if not schema:
        return False
    schema = resolved(schema, doc)
    if schema == OPEN_OBJECT:
        return False
    return any(key in schema for key in ("properties", "items", "anyOf", "oneOf", "allOf"))


def test_every_success_declares_its_shape() -> None:
    doc = document()
    missing = []
    counted = 0
    for method, path, operation in operations():
        for status, response in operation["responses"].items():
            if not status.startswith("2") or status == "204":
                continue
            content = response.get("content") or {}
            if not content:
                missing.append(f"{method} {path} {status}: no content type")
            for media_type, entry in content.items():
                counted += 1
                if media_type in NOT_JSON:
                    continue
                if not says_something(entry.get("schema"), doc):
                    missing.append(f"{method} {path} {status} {media_type}: no schema")
    assert missing == []
    assert counted >= 37


def test_documents_named_content_types_of_csv_and_xml_answers() -> None:
    by_operation = {
        (method, path): set(operation["responses"]["200"]["content"])
        for method, path, operation in operations()
        if "200" in operation["responses"]
    }
    assert "text/csv" in by_operation[("GET", "/api/v1/incidents")]
    assert "text/csv" in by_operation[("GET", "/api/v1/incidents/statistics")]
    assert "text/xml" in by_operation[("GET", "/open311/v2/requests.{format}")]


def test_protected_operations_declare_401_and_403_and_public_ones_need_no_credentials() -> None:
    public = {
        ("GET", "/healthz"),
        ("GET", "/ogc/tileMatrixSets"),
        ("GET", "/ogc/tileMatrixSets/{tms}"),
        ("POST", "/api/v1/auth/token"),
        ("GET", "/api/v1/facility-types"),
        ("GET", "/api/v1/coverage/style"),
        ("GET", "/open311/v2/services.{format}"),
        ("GET", "/open311/v2/services/{service_code}.{format}"),
        ("GET", "/open311/discovery.{format}"),
        ("GET", "/ogc"),
        ("GET", "/ogc/conformance"),
        ("GET", "/ogc/crs/{name}"),
    }
    wrong = []
    for method, path, operation in operations():
        declared = {"401", "403"} & set(operation["responses"])
        if (method, path) in public:
            own_401 = {"401"} if path == "/api/v1/auth/token" else set()  # a wrong password
            if operation.get("security") != [] or declared - own_401:
                wrong.append(f"{method} {path}: public, but {declared or 'security'}")
        elif declared != {"401", "403"}:
            wrong.append(f"{method} {path}: declares {sorted(declared)} of 401/403")
    assert wrong == []


def test_only_operations_with_a_body_declare_422() -> None:
    declared = [
        f"{method} {path}"
        for method, path, operation in operations()
        if "422" in operation["responses"] and "requestBody" not in operation
    ]
    assert declared == []


def malformed_body_operations() -> list[tuple[str, str, str]]:
    found = []
    for method, path, operation in operations():
        if "422" not in operation["responses"]:
            continue
        content = operation["requestBody"]["content"]
        kind = next(
            (
                k
                for k in ("application/x-www-form-urlencoded", "multipart/form-data")
                if k in content
            ),
            "application/json",
        )
        found.append((method, path, kind))
    return found


@pytest.mark.parametrize(("method", "path", "kind"), malformed_body_operations())
def test_every_declared_422_is_sent_for_a_malformed_body(
    client: TestClient, method: str, path: str, kind: str
) -> None:
    url = re.sub(r"\{[a-z_]+\}", "1", path)
    if kind == "multipart/form-data":
        answer = client.request(method, url, files={"nonsense": ("x.txt", b"1")})
    elif kind == "application/x-www-form-urlencoded":
        answer = client.request(method, url, data={"nonsense": "1"})
    else:
        answer = client.request(method, url, json={"nonsense": 1})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "InvalidBody"
