"""Funding norms by households (seed 004): per community, rolled up, configurable."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from gis.coverage.funding import FundingNorms, funding_table, load_funding
from gis.errors import InvalidParameterError
from gis.settings import FundingSettings

KUIWEN = FundingNorms(26_000, 12_000, 200_000)
FACTS = pd.DataFrame(
    {
        "code": ["370705001001", "370705001002", "370705002001"],
        "name": ["甲社区", "乙社区", "丙社区"],
        "subdistrict_code": ["370705001", "370705001", "370705002"],
        "subdistrict_name": ["东关街道", "东关街道", "大虞街道"],
        "households": [1000, 2500, 0],
    }
)


def test_a_community_is_due_its_households_times_the_rates() -> None:
    table = funding_table(FACTS, KUIWEN, "community")
    first = table.iloc[0]
    assert (first.community_work_cny, first.grid_service_cny, first.party_service_cny) == (
        26_000,
        12_000,
        200_000,
    )
    second = table.iloc[1]
    assert (second.community_work_cny, second.grid_service_cny) == (65_000, 30_000)
    # A community without households still gets its Party service fund.
    assert table.iloc[2].total_cny == 200_000


def test_areas_sum_their_communities() -> None:
    per_subdistrict = funding_table(FACTS, KUIWEN, "subdistrict")
    assert per_subdistrict["code"].tolist() == ["370705001", "370705002"]
    assert per_subdistrict.iloc[0].communities == 2
    assert per_subdistrict.iloc[0].total_cny == 26_000 + 12_000 + 65_000 + 30_000 + 400_000
    district = funding_table(FACTS, KUIWEN, "district", ("370705", "奎文区"))
    assert district.iloc[0].total_cny == per_subdistrict["total_cny"].sum()
    with pytest.raises(InvalidParameterError):
        funding_table(FACTS, KUIWEN, "grid")


def test_the_rates_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDMAP_FUNDING_COMMUNITY_WORK_PER_1000", "30000")
    monkeypatch.setenv("GRIDMAP_FUNDING_PARTY_SERVICE_MIN", "0")
    norms = FundingNorms.from_settings(FundingSettings())
    assert norms == FundingNorms(30_000, 12_000, 0)
    assert funding_table(FACTS, norms, "community").iloc[1].community_work_cny == 75_000


def test_demo_funding_follows_its_households(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        households = conn.execute(
            text("SELECT sum(households) FROM grid WHERE valid_to IS NULL")
        ).scalar_one()
        communities = load_funding(conn, "community", KUIWEN)
        district = load_funding(conn, "district", KUIWEN).iloc[0]
    assert district["code"] == "370705" and district["households"] == households
    assert district["communities"] == len(communities) == 137
    assert abs(district["community_work_cny"] - households * 26) <= len(communities)
    assert district["party_service_cny"] == 137 * 200_000
