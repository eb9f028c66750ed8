"""The documented shapes of the norms answers (issue 14): funding due by households.

As in ``api.schemas``: these describe answers for /openapi.json (checked by
tests/api/test_schemathesis.py), they do not build them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.responses import example_config

FUNDING_ROW_EXAMPLE: dict[str, Any] = {
    "code": "370705001001",
    "name": "中学街社区",
    "communities": 1,
    "households": 785,
    "community_work_cny": 20410,
    "grid_service_cny": 9420,
    "party_service_cny": 200000,
    "total_cny": 229830,
}


class FundingRowDoc(BaseModel):
    code: str
    name: str | None
    communities: int
    households: int
    community_work_cny: int = Field(description="Households / 1,000 × the community work rate.")
    grid_service_cny: int = Field(description="Households / 1,000 × the grid service rate.")
    party_service_cny: int = Field(description="The least per community × communities.")
    total_cny: int


class FundingNormDoc(BaseModel):
    code: str
    name_zh: str
    name_en: str
    cny: float
    per: str = Field(description="1000_households_year or community_year.")


class FundingDoc(BaseModel):
    """Funds due a year by the norms, per area and for the district."""

    model_config = example_config(
        {
            "by": "community",
            "norms": [
                {
                    "code": "community_work",
                    "name_zh": "社区工作经费",
                    "name_en": "Community work fund",
                    "cny": 26000,
                    "per": "1000_households_year",
                }
            ],
            "source": "seed 004 (Kuiwen)",
            "rows": [FUNDING_ROW_EXAMPLE],
            "total": {
                **FUNDING_ROW_EXAMPLE,
                "code": "370705",
                "name": "奎文区",
                "communities": 137,
            },
        }
    )

    by: str
    norms: list[FundingNormDoc]
    source: str
    rows: list[FundingRowDoc]
    total: FundingRowDoc | None
