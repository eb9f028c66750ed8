"""Funding norms by households (seed 004): what each community is due a year, by the norm.

Kuiwen funds community work at 26,000 CNY and grid service work at 12,000 CNY
per 1,000 households a year, and each community's Party service fund at no less
than 200,000 CNY a year. The figures are settings (``FundingSettings``), so a
district with other norms changes them without code; the households are the
current grids' (``norms.load_community_facts``), so the table follows the data.
Amounts are whole yuan; a community's due is households / 1,000 × the rate, not
rounded up to whole thousands of households (the seed does not say it is).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from gis.areas.codes import Level, check_level
from gis.coverage.norms import load_community_facts
from gis.errors import InvalidParameterError
from gis.settings import FundingSettings

FUNDING_COLUMNS = [
    "code",
    "name",
    "communities",
    "households",
    "community_work_cny",
    "grid_service_cny",
    "party_service_cny",
    "total_cny",
]
FUNDING_SOURCE = (
    "seed 004 (Kuiwen): 每千户每年2.6万元社区工作经费、1.2万元网格服务工作经费，"
    "每社区每年不低于20万元党组织为民服务专项经费"
)


@dataclass(frozen=True)
class FundingNorms:
    """The rates in CNY a year: per 1,000 households, and the least per community."""

    community_work_per_1000: float
    grid_service_per_1000: float
    party_service_min: float

    @classmethod
    def from_settings(cls, settings: FundingSettings | None = None) -> FundingNorms:
        s = settings or FundingSettings()
        return cls(s.community_work_per_1000, s.grid_service_per_1000, s.party_service_min)

    def describe(self) -> list[dict[str, object]]:
        """The norms as rows a page or an API answer lists (code, names, rate, unit)."""
        return [
            {
                "code": "community_work",
                "name_zh": "社区工作经费",
                "name_en": "Community work fund",
                "cny": self.community_work_per_1000,
                "per": "1000_households_year",
            },
            {
                "code": "grid_service",
                "name_zh": "网格服务工作经费",
                "name_en": "Grid service work fund",
                "cny": self.grid_service_per_1000,
                "per": "1000_households_year",
            },
            {
                "code": "party_service",
                "name_zh": "党组织为民服务专项经费（下限）",
                "name_en": "Party service fund (minimum)",
                "cny": self.party_service_min,
                "per": "community_year",
            },
        ]


def funding_by_community(facts: pd.DataFrame, norms: FundingNorms) -> pd.DataFrame:
    """Per community (``norms.load_community_facts`` rows): the funds due a year by the norms.

    Columns ``FUNDING_COLUMNS`` plus ``subdistrict_code`` and ``subdistrict_name``.
    """
    hh = facts["households"].to_numpy(dtype=np.float64)
    community_work = np.round(hh / 1000.0 * norms.community_work_per_1000)
    grid_service = np.round(hh / 1000.0 * norms.grid_service_per_1000)
    party = np.full(len(facts), round(norms.party_service_min))
    out = pd.DataFrame(
        {
            "code": facts["code"],
            "name": facts["name"],
            "subdistrict_code": facts["subdistrict_code"],
            "subdistrict_name": facts["subdistrict_name"],
            "communities": np.ones(len(facts), dtype=np.int64),
            "households": facts["households"].astype(np.int64),
            "community_work_cny": community_work.astype(np.int64),
            "grid_service_cny": grid_service.astype(np.int64),
            "party_service_cny": party.astype(np.int64),
        }
    )
    out["total_cny"] = (
        out["community_work_cny"] + out["grid_service_cny"] + out["party_service_cny"]
    )
    return out


def funding_table(
    facts: pd.DataFrame,
    norms: FundingNorms,
    level: Level | str = Level.COMMUNITY,
    district: tuple[str, str] = ("", ""),
) -> pd.DataFrame:
    """The funds due per area of ``level`` (community, subdistrict or district), sorted by
    code (``FUNDING_COLUMNS``); an area's figures are its communities' sums.

    ``district`` gives the district row's code and name.
    """
    level = check_level(level)
    rows = funding_by_community(facts, norms)
    if level == Level.COMMUNITY:
        return rows[FUNDING_COLUMNS].sort_values("code", kind="stable").reset_index(drop=True)
    sums = [c for c in FUNDING_COLUMNS if c not in ("code", "name")]
    if level == Level.SUBDISTRICT:
        grouped = (
            rows.dropna(subset=["subdistrict_code"])
            .groupby(["subdistrict_code", "subdistrict_name"], as_index=False)[sums]
            .sum()
        )
        grouped = grouped.rename(columns={"subdistrict_code": "code", "subdistrict_name": "name"})
        return grouped[FUNDING_COLUMNS].sort_values("code", kind="stable").reset_index(drop=True)
    if level == Level.DISTRICT:
        total = rows[sums].sum().to_frame().T.astype(np.int64)
        total.insert(0, "name", district[1])
        total.insert(0, "code", district[0])
        return total[FUNDING_COLUMNS]
    raise InvalidParameterError(
        f"funding is tabled per community, subdistrict or district, not per {level}",
        zh=f"经费只按社区、街道或全区列表，不按{level}",
    )


def load_funding(
    conn: Connection, level: Level | str = Level.COMMUNITY, norms: FundingNorms | None = None
) -> pd.DataFrame:
    """``funding_table`` of the current communities (and the current district's name)."""
    norms = norms or FundingNorms.from_settings()
    return funding_table(load_community_facts(conn), norms, level, district_name(conn))


def district_name(conn: Connection) -> tuple[str, str]:
    """The current district's code and name (empty strings before one is loaded)."""
    district = conn.execute(
        text(
            "SELECT code, name FROM admin_area WHERE level = 'district' AND valid_to IS NULL"
            " ORDER BY code LIMIT 1"
        )
    ).first()
    return (str(district[0]), str(district[1])) if district else ("", "")
