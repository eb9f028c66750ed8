"""One row per community with every household norm side by side: floor area, staff, funds.

The norms page (``/norms``) and ``GET /api/v1/norms/communities`` read this table:
the service floor area required by 60 m² per 100 households against what the
community has, the grid managers and community workers its households call for
against those assigned, and the funds it is due a year (``funding``). The
checks are ``norms.evaluate_norms``' and the funds ``funding.funding_by_community``',
computed once from the same facts, so the page, the API and ``gridmap norms``
cannot disagree. :func:`norm_figures` lists the norms applied with their figures
read from where they are set (``GRIDMAP_NORM_*``, ``GRIDMAP_FUNDING_*``), never
restated as text.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from gis.coverage.funding import FundingNorms, district_name, funding_by_community
from gis.coverage.norms import HouseholdNorms, evaluate_norms, load_community_facts

TABLE_COLUMNS = [
    "code",
    "name",
    "subdistrict_code",
    "subdistrict_name",
    "households",
    "floor_area_required_m2",
    "service_floor_m2",
    "floor_area_shortfall_m2",
    "grid_managers",
    "grid_managers_needed",
    "community_workers",
    "community_workers_needed",
    "staff_shortfall",
    "community_work_cny",
    "grid_service_cny",
    "party_service_cny",
    "total_cny",
]
"""The table's columns, in the order the page and the CSV show them."""

SUM_COLUMNS = TABLE_COLUMNS[4:]
"""The columns a district total adds up (every figure after the names)."""

SOURCES = {
    "floor_area": ("种子 002 铜官山", "seed 002 Tongguanshan"),
    "staff": ("种子 004 奎文", "seed 004 Kuiwen"),
    "funding": ("种子 004 奎文", "seed 004 Kuiwen"),
}
SET_BY = {
    "floor_area": "GRIDMAP_NORM_FLOOR_M2_PER_100_HOUSEHOLDS",
    "grid_manager": "GRIDMAP_NORM_HOUSEHOLDS_PER_GRID_MANAGER",
    "community_worker": "GRIDMAP_NORM_HOUSEHOLDS_PER_COMMUNITY_WORKER",
    "community_work": "GRIDMAP_FUNDING_COMMUNITY_WORK_PER_1000",
    "grid_service": "GRIDMAP_FUNDING_GRID_SERVICE_PER_1000",
    "party_service": "GRIDMAP_FUNDING_PARTY_SERVICE_MIN",
}
"""The setting that changes each figure (``gis.settings``: ``HouseholdNormSettings``,
``FundingSettings``)."""


def norms_table(
    facts: pd.DataFrame, funding: FundingNorms, household: HouseholdNorms | None = None
) -> pd.DataFrame:
    """Per community of ``facts`` (``norms.load_community_facts``): ``TABLE_COLUMNS``, by code.

    ``staff_shortfall`` counts the grid managers and community workers missing
    for the norms (0 where enough are assigned); floor areas in m², funds in
    whole yuan a year.
    """
    checks = evaluate_norms(facts, household)
    funds = funding_by_community(facts, funding)
    out = checks[TABLE_COLUMNS[: TABLE_COLUMNS.index("staff_shortfall")]].copy()
    out["floor_area_required_m2"] = out["floor_area_required_m2"].round(1)
    out["service_floor_m2"] = out["service_floor_m2"].round(1)
    missing_managers = (out["grid_managers_needed"] - out["grid_managers"]).clip(lower=0)
    missing_workers = (out["community_workers_needed"] - out["community_workers"]).clip(lower=0)
    out["staff_shortfall"] = (missing_managers + missing_workers).astype(np.int64)
    for column in ("community_work_cny", "grid_service_cny", "party_service_cny", "total_cny"):
        out[column] = funds[column].to_numpy()
    return out[TABLE_COLUMNS].sort_values("code", kind="stable").reset_index(drop=True)


def table_total(table: pd.DataFrame, district: tuple[str, str] = ("", "")) -> dict[str, Any]:
    """The district's row of ``table``: every figure summed, with ``communities`` counted."""
    total: dict[str, Any] = {
        "code": district[0],
        "name": district[1],
        "subdistrict_code": None,
        "subdistrict_name": None,
        "communities": len(table),
    }
    for column in SUM_COLUMNS:
        value = table[column].sum() if len(table) else 0
        total[column] = round(float(value), 1) if column.endswith("_m2") else int(value)
    return total


def load_norms_table(
    conn: Connection, funding: FundingNorms | None = None, household: HouseholdNorms | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``norms_table`` of the current communities and its district total (with the
    current district's code and name); the norms default to the settings."""
    funding = funding or FundingNorms.from_settings()
    table = norms_table(load_community_facts(conn), funding, household)
    return table, table_total(table, district_name(conn))


def norm_figures(
    funding: FundingNorms, household: HouseholdNorms | None = None
) -> list[dict[str, Any]]:
    """The norms the table applies: ``code``, names in both languages, ``value`` and
    ``unit`` (as the figure is set now), ``source_zh``/``source_en`` and ``set_by`` (the
    setting that changes it, or the module that holds it)."""

    def row(code: str, zh: str, en: str, value: float, unit: str, source: str) -> dict[str, Any]:
        source_zh, source_en = SOURCES[source]
        return {
            "code": code,
            "name_zh": zh,
            "name_en": en,
            "value": value,
            "unit": unit,
            "source_zh": source_zh,
            "source_en": source_en,
            "set_by": SET_BY[code],
        }

    household = household or HouseholdNorms.from_settings()
    funds = {n["code"]: n for n in funding.describe()}
    return [
        row(
            "floor_area",
            "社区服务用房面积",
            "Service floor area",
            household.floor_m2_per_100_households,
            "m2_per_100_households",
            "floor_area",
        ),
        row(
            "grid_manager",
            "网格员",
            "Grid managers",
            household.households_per_grid_manager,
            "households_per_person",
            "staff",
        ),
        row(
            "community_worker",
            "专职社区工作者",
            "Full-time community workers",
            household.households_per_community_worker,
            "households_per_person",
            "staff",
        ),
        *(
            row(
                code,
                str(funds[code]["name_zh"]),
                str(funds[code]["name_en"]),
                float(funds[code]["cny"]),  # type: ignore[arg-type]
                "cny_per_1000_households_year"
                if funds[code]["per"] == "1000_households_year"
                else "cny_per_community_year",
                "funding",
            )
            for code in ("community_work", "grid_service", "party_service")
        ),
    ]
