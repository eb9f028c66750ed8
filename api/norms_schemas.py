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


NORMS_ROW_EXAMPLE: dict[str, Any] = {
    "code": "370705001004",
    "name": "工福街社区",
    "subdistrict_code": "370705001",
    "subdistrict_name": "东关街道",
    "households": 764,
    "floor_area_required_m2": 458.4,
    "service_floor_m2": 303.6,
    "floor_area_shortfall_m2": 154.8,
    "grid_managers": 4,
    "grid_managers_needed": 4,
    "community_workers": 3,
    "community_workers_needed": 3,
    "staff_shortfall": 0,
    "community_work_cny": 19864,
    "grid_service_cny": 9168,
    "party_service_cny": 200000,
    "total_cny": 229032,
}
NORMS_CSV_EXAMPLE = (
    ",".join(NORMS_ROW_EXAMPLE) + "\r\n" + ",".join(str(v) for v in NORMS_ROW_EXAMPLE.values())
)


class NormsRowDoc(BaseModel):
    code: str
    name: str | None
    subdistrict_code: str | None
    subdistrict_name: str | None
    households: int
    floor_area_required_m2: float = Field(
        description="Households / 100 × the floor area norm (60 m²)."
    )
    service_floor_m2: float = Field(description="Floor area of the service centres present.")
    floor_area_shortfall_m2: float = Field(description="Required − present, 0 when met.")
    grid_managers: int
    grid_managers_needed: int = Field(description="Households / the norm (200), rounded up.")
    community_workers: int
    community_workers_needed: int = Field(description="Households / the norm (300), rounded up.")
    staff_shortfall: int = Field(description="Grid managers and community workers missing.")
    community_work_cny: int
    grid_service_cny: int
    party_service_cny: int
    total_cny: int


class NormsTotalDoc(NormsRowDoc):
    communities: int


class NormFigureDoc(BaseModel):
    code: str
    name_zh: str
    name_en: str
    value: float = Field(description="The figure as set now.")
    unit: str = Field(
        description="m2_per_100_households, households_per_person, "
        "cny_per_1000_households_year or cny_per_community_year."
    )
    source_zh: str
    source_en: str
    set_by: str = Field(description="The setting (environment variable) that changes it.")


class NormLegendDoc(BaseModel):
    colour: str
    label_zh: str
    label_en: str


class NormClassesDoc(BaseModel):
    column: str
    label_zh: str
    label_en: str
    method: str = Field(description="fixed, or quantile (of these rows' values).")
    breaks: list[float] = Field(description="Class minimums, the first 0, ascending.")
    colours: list[str]
    legend: list[NormLegendDoc]


class NormsTableDoc(BaseModel):
    """Per community: floor area, staff and funds by the household norms; the district total,
    the norms applied and how a map shades each measure."""

    model_config = example_config(
        {
            "norms": [
                {
                    "code": "floor_area",
                    "name_zh": "社区服务用房面积",
                    "name_en": "Service floor area",
                    "value": 60.0,
                    "unit": "m2_per_100_households",
                    "source_zh": "种子 002 铜官山",
                    "source_en": "seed 002 Tongguanshan",
                    "set_by": "GRIDMAP_NORM_FLOOR_M2_PER_100_HOUSEHOLDS",
                }
            ],
            "rows": [NORMS_ROW_EXAMPLE],
            "total": {
                **NORMS_ROW_EXAMPLE,
                "code": "370705",
                "name": "奎文区",
                "subdistrict_code": None,
                "subdistrict_name": None,
                "communities": 137,
            },
            "classes": {
                "staff_shortfall": {
                    "column": "staff_shortfall",
                    "label_zh": "人员缺口（网格员＋社区工作者）",
                    "label_en": "Staff shortfall (grid managers + community workers)",
                    "method": "fixed",
                    "breaks": [0, 1, 2, 3, 5],
                    "colours": ["#deebf7", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000"],
                    "legend": [
                        {
                            "colour": "#deebf7",
                            "label_zh": "达标（无缺口）",
                            "label_en": "norm met (no shortfall)",
                        }
                    ],
                }
            },
        }
    )

    norms: list[NormFigureDoc]
    rows: list[NormsRowDoc]
    total: NormsTotalDoc
    classes: dict[str, NormClassesDoc]
