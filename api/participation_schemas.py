"""The documented shapes of the participation answers (issue 14): items, councils, statistics.

As in ``api.schemas``: these describe answers for /openapi.json (checked by
tests/api/test_openapi_schemas.py and tests/api/test_schemathesis.py), they do not
build them; ``api.routes.participation`` does. The examples are fictional.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.responses import example_config
from api.schemas import GRID

COMMUNITY = GRID[:12]

ITEM_EXAMPLE: dict[str, Any] = {
    "id": 7,
    "ext_id": "MS-2026-031",
    "kind": "micro_project",
    "kind_name": "民生微实事",
    "title": "楼道照明改造",
    "description": "演示数据（虚构）",
    "community_code": COMMUNITY,
    "community_name": "东苑社区",
    "grid_code": GRID,
    "status": "decided",
    "status_name": "居民决定",
    "proposed_on": "2026-03-01",
    "discussed_on": "2026-03-12",
    "decided_on": "2026-03-28",
    "carried_out_on": None,
    "evaluated_on": None,
    "ended_on": None,
    "budget_cny": 36000.0,
    "spent_cny": None,
    "facility_id": None,
    "facility_name": None,
    "council_id": 3,
    "council_name": "东苑社区居民议事会",
    "located": "place",
    "lon": 119.1302,
    "lat": 36.7311,
    "allowed_next": ["carried_out", "rejected", "withdrawn"],
    "version": 3,
}


class ItemDoc(BaseModel):
    """A participation item (``ETag``: its version); ``lon``/``lat`` in ``datum=``."""

    model_config = example_config(ITEM_EXAMPLE)

    id: int
    ext_id: str | None = Field(description="The source's id, as imported.")
    kind: str = Field(description="micro_project, people_decide or council_matter.")
    kind_name: str
    title: str
    description: str | None
    community_code: str
    community_name: str
    grid_code: str | None
    status: str = Field(
        description="proposed, discussed, decided, carried_out, evaluated; or rejected, "
        "withdrawn (ended early)."
    )
    status_name: str
    proposed_on: str
    discussed_on: str | None
    decided_on: str | None
    carried_out_on: str | None
    evaluated_on: str | None
    ended_on: str | None = Field(description="When it was rejected or withdrawn.")
    budget_cny: float | None
    spent_cny: float | None
    facility_id: int | None
    facility_name: str | None
    council_id: int | None
    council_name: str | None
    located: str = Field(
        description="Where lon/lat come from: place, facility, or community (its label point)."
    )
    lon: float
    lat: float
    allowed_next: list[str] = Field(description="The statuses the item may move to next.")
    version: int = Field(description="Raised by every change; quote it in If-Match.")


class LinkDoc(BaseModel):
    href: str
    rel: str = Field(description="self, next or prev.")
    type: str = "application/json"


class ItemPageDoc(BaseModel):
    """A page of items."""

    model_config = example_config(
        {
            "numberMatched": 1,
            "numberReturned": 1,
            "links": [
                {
                    "href": "/api/v1/participation/items?limit=100",
                    "rel": "self",
                    "type": "application/json",
                }
            ],
            "items": [ITEM_EXAMPLE],
        }
    )

    numberMatched: int
    numberReturned: int
    links: list[LinkDoc]
    items: list[ItemDoc]


COUNCIL_EXAMPLE: dict[str, Any] = {
    "id": 3,
    "ext_id": None,
    "community_code": COMMUNITY,
    "community_name": "东苑社区",
    "name": "东苑社区居民议事会",
    "members": 15,
    "composition": "社区党组织、居委会、物业服务企业、居民代表",
    "established_on": "2018-05-01",
    "items_decided": 9,
    "version": 1,
}


class CouncilDoc(BaseModel):
    """A community's resident council (居民议事会): members as a count and a composition."""

    model_config = example_config(COUNCIL_EXAMPLE)

    id: int
    ext_id: str | None
    community_code: str
    community_name: str
    name: str
    members: int | None
    composition: str | None
    established_on: str | None
    items_decided: int = Field(description="Items this council decided (or rejected).")
    version: int


class CouncilListDoc(BaseModel):
    model_config = example_config({"councils": [COUNCIL_EXAMPLE]})

    councils: list[CouncilDoc]


STAT_ROW_EXAMPLE: dict[str, Any] = {
    "code": COMMUNITY,
    "name": "东苑社区",
    "households": 2400,
    "councils": 1,
    "items": 12,
    "micro_project": 8,
    "people_decide": 3,
    "council_matter": 1,
    "proposed": 2,
    "discussed": 1,
    "decided": 1,
    "carried_out": 2,
    "evaluated": 5,
    "rejected": 1,
    "withdrawn": 0,
    "budget_cny": 260000.0,
    "spent_cny": 180500.0,
    "items_per_1000_households": 5.0,
    "budget_per_1000_households_cny": 108333.0,
}


class StatRowDoc(BaseModel):
    model_config = example_config(STAT_ROW_EXAMPLE, extra="allow")

    code: str
    name: str
    households: int = Field(description="Of the area's current grids.")
    councils: int
    items: int
    budget_cny: float = Field(description="Budgets of the items not rejected or withdrawn.")
    spent_cny: float
    items_per_1000_households: float | None = Field(description="Null without households.")
    budget_per_1000_households_cny: float | None


class StatisticsDoc(BaseModel):
    """Councils and items per area: counts per kind and status, money, per 1,000 households."""

    model_config = example_config(
        {
            "level": "community",
            "year": 2026,
            "kinds": {
                "micro_project": "民生微实事",
                "people_decide": "由民做主",
                "council_matter": "议事会议题",
            },
            "statuses": {"proposed": "居民提议", "evaluated": "已评议"},
            "rows": [STAT_ROW_EXAMPLE],
            "total": STAT_ROW_EXAMPLE,
        }
    )

    level: str
    year: int | None
    kinds: dict[str, str] = Field(description="Kind code → its name in Chinese.")
    statuses: dict[str, str] = Field(description="Status code → its name in Chinese.")
    rows: list[StatRowDoc]
    total: StatRowDoc | None = Field(description="The district row.")


class ImportDoc(BaseModel):
    """What an import stored (all of the file's rows, or nothing and a 422)."""

    model_config = example_config({"kind": "items", "rows": 824, "source": "CSV", "datum": "wgs84"})

    kind: str = Field(description="items or councils.")
    rows: int = Field(description="Rows stored: every row of the file.")
    source: str = Field(description="CSV, GeoPackage or GeoJSON.")
    datum: str = Field(description="The datum the places were read in.")
