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


def test_every_norm_per_community_with_the_district_total(planner: TestClient) -> None:
    body = ok(planner.get("/api/v1/norms/communities"))
    funding = ok(planner.get("/api/v1/norms/funding"))
    assert [r["code"] for r in body["rows"]] == [r["code"] for r in funding["rows"]]
    assert body["total"]["total_cny"] == funding["total"]["total_cny"]
    assert body["total"]["communities"] == len(body["rows"]) == 137
    for column in ("households", "staff_shortfall", "total_cny", "community_work_cny"):
        assert body["total"][column] == sum(r[column] for r in body["rows"])
    row = next(r for r in body["rows"] if r["floor_area_shortfall_m2"] > 0)
    assert row["floor_area_required_m2"] == round(row["households"] * 60 / 100, 1)
    assert row["floor_area_shortfall_m2"] == round(
        row["floor_area_required_m2"] - row["service_floor_m2"], 1
    )
    for r in body["rows"]:
        assert r["grid_managers_needed"] == -(-r["households"] // 200)
        missing_managers = max(r["grid_managers_needed"] - r["grid_managers"], 0)
        missing_workers = max(r["community_workers_needed"] - r["community_workers"], 0)
        assert r["staff_shortfall"] == missing_managers + missing_workers
    norms = {n["code"]: n for n in body["norms"]}
    assert norms["floor_area"]["value"] == 60 and norms["grid_manager"]["value"] == 200
    assert norms["community_work"]["value"] == 26_000
    assert norms["grid_service"]["set_by"] == "GRIDMAP_FUNDING_GRID_SERVICE_PER_1000"
    assert set(body["classes"]) == {"floor_area_shortfall_m2", "staff_shortfall", "total_cny"}
    funds = body["classes"]["total_cny"]
    assert funds["method"] == "quantile" and len(funds["breaks"]) == len(funds["colours"]) > 1


def test_the_norms_table_as_csv(planner: TestClient) -> None:
    answer = planner.get("/api/v1/norms/communities?format=csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")  # a BOM, for Excel
    lines = answer.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("code,name,subdistrict_code,subdistrict_name,households,")
    assert len(lines) == 1 + 137
    json_rows = ok(planner.get("/api/v1/norms/communities"))["rows"]
    first = lines[1].split(",")
    assert first[0] == json_rows[0]["code"] and int(first[-1]) == json_rows[0]["total_cny"]


def test_the_norms_are_settings(demo_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDMAP_FUNDING_COMMUNITY_WORK_PER_1000", "52000")
    monkeypatch.setenv("GRIDMAP_NORM_FLOOR_M2_PER_100_HOUSEHOLDS", "120")
    monkeypatch.setenv("GRIDMAP_NORM_HOUSEHOLDS_PER_GRID_MANAGER", "100")
    app = create_app(ServerSettings(), engine=demo_engine)
    with TestClient(app, headers=committed_headers(demo_engine, "planner")) as client:
        body = ok(client.get("/api/v1/norms/communities"))
        page = client.get("/norms")
    norms = {n["code"]: n for n in body["norms"]}
    assert norms["community_work"]["value"] == 52_000
    row = body["rows"][0]
    assert row["community_work_cny"] == round(row["households"] * 52)
    assert row["floor_area_required_m2"] == round(row["households"] * 1.2, 1)
    assert row["grid_managers_needed"] == -(-row["households"] // 100)
    assert norms["floor_area"]["value"] == 120 and norms["grid_manager"]["value"] == 100
    assert page.status_code == 200
    # The page states the figures as set, not a fixed text.
    assert "52,000" in page.text and "120 平方米/百户" in page.text and "100 户/人" in page.text
