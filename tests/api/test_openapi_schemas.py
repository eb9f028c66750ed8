"""/openapi.json says what every operation answers, and declares no error it never sends.

A client generated from the document (or schemathesis, tests/api/test_schemathesis.py)
learns an answer's shape only from its declared schema, and a person reading /docs
from its example. Each success of each operation, for every content type it answers:

- JSON (``application/json``, ``application/geo+json``, any ``+json``): a schema that
  names fields, and an example (on the content type, or the schema's ``examples``)
  that the schema accepts;
- binary (images, PDF, GeoPackage, vector tiles, zip): a schema ``type: string,
  format: binary``; an example of bytes would say nothing;
- other text (CSV, XML): an example of the text.

The walk covers every operation the app has, whoever added it. A route whose rule
is not public may answer 401 and 403 and says so; a public one does not. A 422 is
the answer to a malformed body and nothing else (``api.errors``): only operations
with a body declare it, and each of them really sends it.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.app import create_app
from tests.accounts import key_headers

BINARY = {"type": "string", "format": "binary"}
MISSING = object()


def is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def is_binary(entry: dict[str, Any]) -> bool:
    schema = entry.get("schema") or {}
    return all(schema.get(k) == v for k, v in BINARY.items())


def example_of(entry: dict[str, Any], doc: dict[str, Any]) -> Any:
    """The example a content type shows: its own, or its schema's first."""
    if "example" in entry:
        return entry["example"]
    if entry.get("examples"):
        return next(iter(entry["examples"].values())).get("value", MISSING)
    schema = resolved(entry.get("schema") or {}, doc)
    if schema.get("examples"):
        return schema["examples"][0]
    return schema.get("example", MISSING)


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
                if is_json(media_type) and not says_something(entry.get("schema"), doc):
                    missing.append(f"{method} {path} {status} {media_type}: no schema")
    assert missing == []
    assert counted >= 37


def successes() -> list[tuple[str, str, str, str, dict[str, Any]]]:
    return [
        (method, path, status, media_type, entry)
        for method, path, operation in operations()
        for status, response in operation["responses"].items()
        if status.startswith("2")
        for media_type, entry in (response.get("content") or {}).items()
    ]


def test_every_success_shows_an_example_or_says_it_is_binary() -> None:
    doc = document()
    missing = []
    for method, path, status, media_type, entry in successes():
        example = example_of(entry, doc)
        if is_json(media_type):
            if example is MISSING:
                missing.append(f"{method} {path} {status} {media_type}: no example")
        elif is_binary(entry):
            continue
        elif not isinstance(example, str) or not example.strip():
            missing.append(
                f"{method} {path} {status} {media_type}: no example text (or, for bytes, "
                "a schema of type string, format binary)"
            )
    assert missing == []


def test_every_json_example_is_what_its_schema_accepts() -> None:
    doc = document()
    wrong = []
    checked = 0
    for method, path, status, media_type, entry in successes():
        example = example_of(entry, doc)
        if not is_json(media_type) or example is MISSING:
            continue
        schema = {**(entry.get("schema") or {}), "components": doc["components"]}
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(example))
        checked += 1
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path)
            wrong.append(f"{method} {path} {status} {media_type}: {where}: {first.message}")
    assert wrong == []
    assert checked >= 40


def test_every_schema_accepts_its_own_examples() -> None:
    """Examples of nested schemas too (a feature of the hot spots is not a facility)."""
    doc = document()
    wrong = []
    for name, schema in doc["components"]["schemas"].items():
        validator = jsonschema.Draft202012Validator({**schema, "components": doc["components"]})
        for i, example in enumerate(schema.get("examples") or ()):
            for error in validator.iter_errors(example):
                wrong.append(f"{name} example {i}: {error.message}")
    assert wrong == []


def test_an_example_is_required_and_checked() -> None:
    """The walk above fails for what it is meant to catch."""
    doc = {"components": {"schemas": {"A": {"type": "object", "properties": {"n": {}}}}}}
    bare = {"schema": {"$ref": "#/components/schemas/A"}}
    assert example_of(bare, doc) is MISSING
    assert example_of({**bare, "example": {"n": 1}}, doc) == {"n": 1}
    assert example_of({"schema": {"type": "object", "examples": [{"n": 2}]}}, doc) == {"n": 2}
    assert is_binary({"schema": BINARY}) and not is_binary({"schema": {"type": "string"}})
    typed = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert list(jsonschema.Draft202012Validator(typed).iter_errors({"n": "x"}))


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
    client: TestClient, db: Session, method: str, path: str, kind: str
) -> None:
    url = re.sub(r"\{[a-z_]+\}", "1", path)
    # The device platform's routes take its key, not a person's login.
    headers = None
    if "/devices/" in path:
        key = key_headers(db, "devices", ("devices:write",))["X-API-Key"]
        headers = {"Authorization": f"Bearer {key}"}  # in place of the client's login
    if kind == "multipart/form-data":
        answer = client.request(method, url, files={"nonsense": ("x.txt", b"1")})
    elif kind == "application/x-www-form-urlencoded":
        answer = client.request(method, url, data={"nonsense": "1"})
    else:
        answer = client.request(method, url, json={"nonsense": 1}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "InvalidBody"
