"""Norms through the API on the demo district: the funds due by households (seed 004)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from api.app import create_app
from gis.settings import ServerSettings
from tests.accounts import committed_headers
from tests.http_checks import assert_error, ok

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def planner(demo_engine: Engine) -> Iterator[TestClient]:
    app = create_app(ServerSettings(), engine=demo_engine)
    with TestClient(app, headers=committed_headers(demo_engine, "planner")) as test_client:
        yield test_client


def test_funding_norms_per_area_for_a_planner(planner: TestClient) -> None:
    body = ok(planner.get("/api/v1/norms/funding?by=subdistrict"))
    assert [n["cny"] for n in body["norms"]] == [26_000, 12_000, 200_000]
    assert sum(r["total_cny"] for r in body["rows"]) == body["total"]["total_cny"]
    assert body["total"]["communities"] == 137 and len(body["rows"]) == 10
    communities = ok(planner.get("/api/v1/norms/funding"))
    assert len(communities["rows"]) == 137
    assert sum(r["households"] for r in communities["rows"]) == body["total"]["households"]
    grid = planner.get("/api/v1/norms/funding?by=grid", headers={"Accept-Language": "en"})
    assert_error(grid, 400, "community, subdistrict or district")
