"""Participation per community, and rolled up to subdistricts and the district.

What a planner compares between communities: how many councils and items each
has (per kind and per status), the budget decided and the money spent, and the
same per 1,000 households, the unit seed 004 funds communities by. Households
are the current grids' (``gis.areas.hierarchy``: the same tree and roll-up as
coverage and incident statistics, so the levels add up); an area without
households has no per-1,000 figure (null, never a division by zero).

Counted: the items proposed in ``year`` (every item without one). Budgets are
the sum over items with a budget; ``spent_cny`` likewise; a rejected or
withdrawn item's budget is still shown in its status column's count but left
out of ``budget_cny`` (nothing was to be spent on it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam, text

from gis.areas.codes import Level, check_level
from gis.areas.hierarchy import area_groups, grid_values, load_areas
from gis.errors import InvalidParameterError
from gis.participation.kinds import ENDS, KINDS, STATUSES

COUNT_COLUMNS = ["councils", "items", *KINDS, *STATUSES]
SUM_COLUMNS = ["households", *COUNT_COLUMNS, "budget_cny", "spent_cny"]
STAT_COLUMNS = [
    "code",
    "name",
    *SUM_COLUMNS,
    "items_per_1000_households",
    "budget_per_1000_households_cny",
]
"""The columns of a statistics table, in order."""

_ITEMS_SQL = """
    SELECT c.code, i.kind, i.status, count(*) AS n,
           coalesce(sum(i.budget_cny) FILTER (WHERE i.status NOT IN :ends), 0) AS budget,
           coalesce(sum(i.spent_cny), 0) AS spent
    FROM participation_item i JOIN admin_area c ON c.id = i.community_id
    WHERE (CAST(:year AS int) IS NULL
           OR (i.proposed_on >= make_date(CAST(:year AS int), 1, 1)
               AND i.proposed_on < make_date(CAST(:year AS int) + 1, 1, 1)))
    GROUP BY c.code, i.kind, i.status
"""
_COUNCILS_SQL = """
    SELECT c.code, count(*) FROM council k JOIN admin_area c ON c.id = k.community_id
    GROUP BY c.code
"""


def community_table(conn: Connection, year: int | None = None) -> pd.DataFrame:
    """One row per current community (by code): ``SUM_COLUMNS``, plus
    ``subdistrict_code`` for the roll-up."""
    areas = load_areas(conn)
    households = np.asarray(grid_values(conn, areas, "households"), dtype=np.int64)
    n = len(areas.community_codes)
    frame = pd.DataFrame(0, index=range(n), columns=SUM_COLUMNS, dtype=np.int64)
    frame["budget_cny"] = frame["budget_cny"].astype(float)
    frame["spent_cny"] = frame["spent_cny"].astype(float)
    per_community = np.zeros(n, dtype=np.int64)
    np.add.at(per_community, areas.community_of_grid, households)
    frame["households"] = per_community
    index = {code: i for i, code in enumerate(areas.community_codes)}
    for code, count in conn.execute(text(_COUNCILS_SQL)):
        if code in index:
            frame.loc[index[code], "councils"] = int(count)
    query = text(_ITEMS_SQL).bindparams(bindparam("ends", expanding=True))
    for code, kind, status, count, budget, spent in conn.execute(
        query, {"year": year, "ends": list(ENDS)}
    ):
        if code not in index:
            continue
        row = index[code]
        frame.loc[row, "items"] += int(count)
        frame.loc[row, kind] += int(count)
        frame.loc[row, status] += int(count)
        frame.loc[row, "budget_cny"] += float(budget)
        frame.loc[row, "spent_cny"] += float(spent)
    frame.insert(0, "name", areas.community_names)
    frame.insert(0, "code", areas.community_codes)
    _, _, group_of_grid = area_groups(areas, Level.SUBDISTRICT, orphans="own_row")
    codes, _, _ = area_groups(areas, Level.SUBDISTRICT, orphans="own_row")
    sub = np.full(n, -1, dtype=np.int64)
    sub[areas.community_of_grid] = group_of_grid
    frame["subdistrict_code"] = [codes[s] if s >= 0 else None for s in sub]
    return frame


def _ratios(frame: pd.DataFrame) -> pd.DataFrame:
    households = frame["households"].astype(float).where(frame["households"] > 0)
    frame["items_per_1000_households"] = (frame["items"] / households * 1000).round(2)
    frame["budget_per_1000_households_cny"] = (frame["budget_cny"] / households * 1000).round(0)
    frame["budget_cny"] = frame["budget_cny"].round(2)
    frame["spent_cny"] = frame["spent_cny"].round(2)
    return frame


def statistics(
    conn: Connection, level: Level | str = Level.COMMUNITY, year: int | None = None
) -> pd.DataFrame:
    """``STAT_COLUMNS`` per area of ``level`` (community, subdistrict or district), by
    code; an area's counts and amounts are its communities' sums."""
    level = check_level(level)
    if level is Level.GRID:
        raise InvalidParameterError(
            "participation is counted per community, subdistrict or district, not per grid",
            zh="居民参与只按社区、街道或全区统计，不按网格",
        )
    areas = load_areas(conn)
    frame = community_table(conn, year)
    if level is Level.COMMUNITY:
        return _ratios(frame)[STAT_COLUMNS].reset_index(drop=True)
    codes, names, _ = area_groups(areas, level, orphans="own_row")
    key = frame["subdistrict_code"] if level is Level.SUBDISTRICT else areas.district_code
    grouped = frame.assign(key=key).groupby("key", sort=True)[SUM_COLUMNS].sum()
    grouped = grouped.reindex(codes, fill_value=0)
    grouped.insert(0, "name", names)
    grouped.insert(0, "code", codes)
    return _ratios(grouped.reset_index(drop=True))[STAT_COLUMNS]
