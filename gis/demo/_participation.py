"""The demo's residents who decide: a council per community, a year of micro-projects and
some 由民做主 items and council matters (issue 14; seeds 000 and 004).

Drawn from what the database holds of the district (communities, their grids,
buildings and facilities), on a random stream of its own, so the same district
and seed give the same records row for row, and loading them costs one query
per table and one insert each. Clearly fictional: every item's description
says 演示数据（虚构）, and no person is named.

Scale from seed 000: Futian's 3,000万 CNY a year over 115 communities is about
26万 per community; here each community gets 3-8 micro-projects of 1-12万 over
the demo's year (``INCIDENT_START`` … ``INCIDENT_END``), further along the
older they are, and 0-3 由民做主 items and 0-2 council matters.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from gis.demo.spec import INCIDENT_END, INCIDENT_START
from gis.participation.councils import insert_councils
from gis.participation.items import insert_rows
from gis.participation.kinds import STEPS, check_dates

COMPOSITION = "社区党组织、居委会、物业服务企业、业委会、驻区单位、居民代表"
FICTIONAL = "演示数据（虚构）"

MICRO_PROJECTS = (
    ("楼道照明改造", 10_000, 40_000),
    ("小区加装休闲座椅", 8_000, 25_000),
    ("健身器材更新", 30_000, 90_000),
    ("口袋公园改造", 60_000, 120_000),
    ("非机动车充电桩", 20_000, 60_000),
    ("老年活动室添置设施", 15_000, 50_000),
    ("垃圾分类投放亭", 12_000, 40_000),
    ("四点半课堂", 10_000, 30_000),
    ("楼道扶手加装", 10_000, 35_000),
    ("社区文化节", 8_000, 20_000),
    ("雨水井疏通与路面修补", 20_000, 80_000),
)
PEOPLE_DECIDE = (
    "公共停车位划线方案",
    "小区大门开放时间",
    "楼前绿地改为晾晒区",
    "广场舞时间与音量公约",
    "宠物文明饲养公约",
)
COUNCIL_MATTERS = ("物业服务费调整意见", "加装电梯协调", "小区监控补点")
_SEED_OFFSET = 14
"""Issue 14: the participation records' own random stream (seed + 14)."""


def _dates(
    rng: np.random.Generator, proposed: dt.date, as_of: dt.date, ends: bool
) -> tuple[str, dict[str, dt.date | None]]:
    """A status and its steps' dates: each step 1-6 weeks after the last, up to ``as_of``;
    with ``ends``, an early end (rejected or withdrawn) instead of the next step."""
    dates: dict[str, dt.date | None] = {"proposed_on": proposed}
    status = "proposed"
    day = proposed
    for step in list(STEPS)[1:]:
        day = day + dt.timedelta(days=int(rng.integers(7, 43)))
        if day > as_of:
            break
        if ends and step in ("discussed", "decided") and rng.random() < 0.2:
            status = "rejected" if rng.random() < 0.6 else "withdrawn"
            dates["ended_on"] = day
            break
        status = step
        dates[f"{step}_on"] = day
    return status, dates


def write_participation(conn: Connection, seed: int) -> tuple[int, int]:
    """Councils and items for every current community of the district in ``conn``
    (nothing if councils exist already); (councils, items) written."""
    if conn.execute(text("SELECT EXISTS (SELECT FROM council)")).scalar():
        return 0, 0
    rng = np.random.default_rng(seed + _SEED_OFFSET)
    communities = conn.execute(
        text(
            "SELECT id, code, name FROM admin_area"
            " WHERE level = 'community' AND valid_to IS NULL ORDER BY code"
        )
    ).all()
    grids: dict[int, list[int]] = {}
    for grid_id, community in conn.execute(
        text("SELECT id, community_id FROM grid WHERE valid_to IS NULL ORDER BY code")
    ):
        grids.setdefault(int(community), []).append(int(grid_id))
    buildings: dict[int, list[tuple[float, float]]] = {}
    for grid_id, lon, lat in conn.execute(
        text(
            "SELECT grid_id, ST_X(location), ST_Y(location) FROM building"
            " WHERE id % 7 = 0 ORDER BY id"
        )
    ):
        buildings.setdefault(int(grid_id), []).append((float(lon), float(lat)))
    facilities: dict[int, list[int]] = {}
    for facility, community in conn.execute(
        text("SELECT id, community_id FROM facility WHERE community_id IS NOT NULL ORDER BY id")
    ):
        facilities.setdefault(int(community), []).append(int(facility))

    councils = []
    for community_id, _, name in communities:
        established = dt.date(int(rng.integers(2016, 2021)), int(rng.integers(1, 13)), 1)
        councils.append(
            {
                "ext_id": None,
                "community_id": int(community_id),
                "name": f"{name}居民议事会",
                "members": int(rng.integers(9, 22)),
                "composition": COMPOSITION,
                "established_on": established,
            }
        )
    with Session(bind=conn) as session:
        insert_councils(session, councils)
        council_of: dict[int, int] = {
            int(c): int(k) for c, k in session.execute(text("SELECT community_id, id FROM council"))
        }
        rows: list[dict[str, Any]] = []
        year_days = (INCIDENT_END - INCIDENT_START).days
        for community_id, code, _ in communities:
            cid = int(community_id)
            plan = [("micro_project", t) for t in rng.choice(len(MICRO_PROJECTS), 8, False)]
            plan = plan[: int(rng.integers(3, 9))]
            plan += [("people_decide", t) for t in rng.choice(len(PEOPLE_DECIDE), 3, False)][
                : int(rng.integers(0, 4))
            ]
            plan += [("council_matter", t) for t in rng.choice(len(COUNCIL_MATTERS), 2, False)][
                : int(rng.integers(0, 3))
            ]
            for kind, which in plan:
                proposed = INCIDENT_START + dt.timedelta(days=int(rng.integers(0, year_days)))
                status, dates = _dates(rng, proposed, INCIDENT_END, kind != "micro_project")
                dates = check_dates(status, dates)
                budget = spent = None
                if kind == "micro_project":
                    title, low, high = MICRO_PROJECTS[int(which)]
                    budget = float(round(rng.integers(low, high + 1), -2))
                    if status in ("carried_out", "evaluated"):
                        spent = float(round(budget * rng.uniform(0.85, 1.0), -2))
                elif kind == "people_decide":
                    title = PEOPLE_DECIDE[int(which)]
                else:
                    title = COUNCIL_MATTERS[int(which)]
                grid = place = facility = None
                where = rng.random()
                own_grids = grids.get(cid, [])
                if where < 0.6 and own_grids:
                    grid = own_grids[int(rng.integers(len(own_grids)))]
                    spots = buildings.get(grid, [])
                    if spots:
                        lon, lat = spots[int(rng.integers(len(spots)))]
                        place = f"SRID=4326;POINT({lon!r} {lat!r})"
                elif where < 0.8 and facilities.get(cid):
                    own = facilities[cid]
                    facility = own[int(rng.integers(len(own)))]
                decided = dates.get("decided_on") is not None or status == "rejected"
                rows.append(
                    {
                        "ext_id": None,
                        "kind": kind,
                        "title": title,
                        "description": f"{FICTIONAL}：{code} 居民提出",
                        "community_id": cid,
                        "grid_id": grid,
                        "status": status,
                        **dates,
                        "budget_cny": budget,
                        "spent_cny": spent,
                        "facility_id": facility,
                        "place": place,
                        "council_id": council_of.get(cid) if decided else None,
                    }
                )
        insert_rows(session, rows)
        session.flush()
    return len(councils), len(rows)
