"""Assertions on HTTP answers shared by the API test modules."""

from __future__ import annotations

from typing import Any


def ok(response: Any, status: int = 200) -> Any:
    """The JSON body of a response that must have ``status``."""
    assert response.status_code == status, response.text
    return response.json()


def assert_error(response: Any, status: int, *fragments: str) -> dict[str, Any]:
    """The JSON error body of a response that must have ``status`` and mention ``fragments``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["code"], str) and body["code"]
    description = str(body["description"])
    for fragment in fragments:
        assert fragment in description, description
    return body
