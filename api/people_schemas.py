"""The documented shapes of the people-served answers (issue 14): a person, a page, counts.

As in ``api.schemas``: these describe answers for /openapi.json (checked by
tests/api/test_openapi_schemas.py and tests/api/test_schemathesis.py), they do not
build them; ``api.routes.people`` does. Every name and phone in the examples is
fictional.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.responses import example_config
from api.schemas import GRID, GRID_NAME

COMMUNITY = GRID[:12]

PERSON_EXAMPLE: dict[str, Any] = {
    "id": 42,
    "category": "elderly_alone",
    "category_name": "独居老人",
    "name": "张某某",
    "phone": "13800000000",
    "building_id": 1207,
    "building_address": "东苑小区 3号楼",
    "household": "2单元301",
    "grid_code": GRID,
    "grid_name": GRID_NAME,
    "community_code": COMMUNITY,
    "responsible_staff_id": 17,
    "responsible_staff_name": "王网格员",
    "consent": {
        "given_by": "本人",
        "at": "2026-11-01T09:00:00+08:00",
        "scope": "定位、紧急救助",
    },
    "safe_radius_m": 300,
    "created_at": "2026-11-01T09:05:12+08:00",
    "version": 1,
}


class ConsentDoc(BaseModel):
    given_by: str = Field(description="Who agreed: the person (本人) or a named guardian.")
    at: str = Field(description="When (ISO 8601 with offset).")
    scope: str = Field(description="To what, e.g. location tracking, emergency dispatch.")


class PersonDoc(BaseModel):
    """A person served, as those who look after them see it (``ETag``: its version)."""

    model_config = example_config(PERSON_EXAMPLE)

    id: int
    category: str = Field(description="elderly_alone, elderly, disabled or other.")
    category_name: str = Field(description="The category in Chinese.")
    name: str
    phone: str | None
    building_id: int = Field(description="The home building; it gives the grid.")
    building_address: str | None
    household: str | None = Field(description="Unit and room within the building.")
    grid_code: str = Field(description="The home building's grid (never set by a caller).")
    grid_name: str
    community_code: str
    responsible_staff_id: int | None = Field(description="The staff row of the worker who visits.")
    responsible_staff_name: str | None
    consent: ConsentDoc
    safe_radius_m: int = Field(description="Metres around home (the geofence of a later slice).")
    created_at: str
    version: int = Field(description="Raised by every change; quote it in If-Match.")


class PeopleLinkDoc(BaseModel):
    href: str
    rel: str = Field(description="self, next or prev.")
    type: str = "application/json"


class PeoplePageDoc(BaseModel):
    """A page of the people the caller looks after."""

    model_config = example_config(
        {
            "numberMatched": 1,
            "numberReturned": 1,
            "links": [
                {"href": "/api/v1/people?limit=100", "rel": "self", "type": "application/json"}
            ],
            "people": [PERSON_EXAMPLE],
        }
    )

    numberMatched: int = Field(description="People matching the filters, over all pages.")
    numberReturned: int = Field(description="People in this answer.")
    links: list[PeopleLinkDoc]
    people: list[PersonDoc]


class PeopleCountRowDoc(BaseModel):
    code: str = Field(description="The grid's or community's code.")
    name: str
    counts: dict[str, int] = Field(description="People per category code.")
    total: int


class PeopleCountsDoc(BaseModel):
    """People served per area and category: no names, no ids."""

    model_config = example_config(
        {
            "by": "grid",
            "categories": {
                "elderly_alone": "独居老人",
                "elderly": "高龄老人",
                "disabled": "残疾人",
                "other": "其他",
            },
            "rows": [
                {
                    "code": GRID,
                    "name": GRID_NAME,
                    "counts": {"elderly_alone": 3, "elderly": 5, "disabled": 2, "other": 0},
                    "total": 10,
                }
            ],
            "total": {"elderly_alone": 3, "elderly": 5, "disabled": 2, "other": 0},
        }
    )

    by: str = Field(description="grid or community.")
    categories: dict[str, str] = Field(description="Category code → its name in Chinese.")
    rows: list[PeopleCountRowDoc] = Field(description="Areas with at least one person, by code.")
    total: dict[str, int] = Field(description="Per category over the rows.")
