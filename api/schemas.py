"""The documented shapes of the API's answers: what /openapi.json promises a client.

Handlers answer plain dicts or ``JSONResponse``s built from ``gis``' dataclasses;
where an answer is such a dataclass as it is (a history step, a worklist item) the
dataclass itself is its schema, so the two cannot drift. These models describe the
other answers for the OpenAPI document
(``responses={200: {"model": ...}}``) and are not used to build or filter them.
tests/api/test_schemathesis.py checks every answer against them, as every role
sees it: a field is nullable wherever some caller may get null (a masked
description, a case without a handler), and no model forbids fields it does not
name, so a field added to an answer does not break a client of the document.
Errors are ``api.responses.ErrorDoc`` (documented by ``api.error_docs``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from api.responses import FeatureDoc, Link, collection_example, example_config
from gis.basemap.search import Hit
from gis.incidents.inbox import InboxCounts, InboxItem
from gis.incidents.monthly import MonthFigures
from gis.incidents.records import HistoryEntry
from gis.incidents.worklists import HandlerChoice, StaffName, WorkItem
from layers.coverage import coverage_style

_example = example_config

GRID = "370705001001001"
GRID_NAME = "东苑第一网格"
AT = "2026-11-02T09:14:00+08:00"

SQUARE: dict[str, Any] = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[119.1, 36.7], [119.125, 36.7], [119.125, 36.76], [119.1, 36.76], [119.1, 36.7]]]
    ],
}
"""A grid's outline in the examples."""

# ---- accounts -------------------------------------------------------------------------


class TokenDoc(BaseModel):
    """A bearer login (OAuth2 password flow)."""

    model_config = _example(
        {
            "access_token": "3q2fT0kq8Yw1bX7rN5cV9uLzA4sD6eHk",
            "token_type": "bearer",
            "expires_in": 28800,
        }
    )

    access_token: str = Field(description="Send as ``Authorization: Bearer <access_token>``.")
    token_type: str = Field(description="Always ``bearer``.", examples=["bearer"])
    expires_in: int = Field(description="Seconds the login lasts.")


class LogoutDoc(BaseModel):
    model_config = _example({"status": "logged out"})
    status: str = Field(examples=["logged out"])


class MeDoc(BaseModel):
    """Who is calling."""

    model_config = _example(
        {
            "kind": "person",
            "username": f"grid-{GRID}",
            "name": "张伟",
            "role": "grid_manager",
            "role_zh": "网格员",
            "areas": [GRID],
            "scopes": [],
            "home": {
                "kind": "grid",
                "url": f"/grid/{GRID}",
                "grid_code": GRID,
                "grid_name": GRID_NAME,
            },
            "home_grids": [{"code": GRID, "name": GRID_NAME, "primary": True}],
        }
    )

    kind: str = Field(description="``person`` (an account) or ``system`` (an API key).")
    username: str | None = Field(description="The account's name; null for a key.")
    name: str = Field(description="The person's or the key's name.")
    role: str | None = Field(description="A person's role code; null for a key.")
    role_zh: str | None = Field(description="The role in Chinese.")
    areas: list[str] | None = Field(
        description="Codes of the grids or areas covered; null: the whole district."
    )
    scopes: list[str] = Field(description="A key's scopes; empty for a person.")
    home: HomeDoc | None = Field(
        None,
        description="Where the person lands: a grid manager's primary grid (``kind`` grid), "
        "other staff and mediators their inbox, a planner the district map; null for a key.",
    )
    home_grids: list[HomeGridDoc] = Field(
        default_factory=list,
        description="A grid manager's grids, the primary (A post) first, then B posts.",
    )


class HomeDoc(BaseModel):
    kind: str = Field(description="grid, inbox or map.")
    url: str = Field(examples=["/grid/370705001001001", "/inbox"])
    grid_code: str | None
    grid_name: str | None


class HomeGridDoc(BaseModel):
    code: str
    name: str
    primary: bool = Field(description="An A post (the person's own grid); false: a B post.")


class AuditEntryDoc(BaseModel):
    id: int
    at: dt.datetime
    principal: str = Field(description="A username, key:<name>, or the name a failed login gave.")
    role: str | None
    action: str = Field(examples=["login", "incident.report", "personal.read"])
    object: str | None = Field(description='What was acted on, e.g. "incident:12".')
    area: str | None = Field(description="The area code of the object.")
    client: str | None = Field(description="The client's address.")
    detail: dict[str, Any] | None


class AuditDoc(BaseModel):
    model_config = _example(
        {
            "numberMatched": 1,
            "numberReturned": 1,
            "entries": [
                {
                    "id": 5821,
                    "at": AT,
                    "principal": f"grid-{GRID}",
                    "role": "grid_manager",
                    "action": "incident.report",
                    "object": "incident:1024",
                    "area": GRID,
                    "client": "10.2.3.4",
                    "detail": {"category": "exposed_garbage"},
                }
            ],
        }
    )
    numberMatched: int = Field(description="Entries matching the filters, over all pages.")
    numberReturned: int = Field(description="Entries in this answer.")
    entries: list[AuditEntryDoc] = Field(description="Newest first.")


class HealthDoc(BaseModel):
    model_config = _example({"status": "ok", "database": "PostgreSQL 17.2"})
    status: str = Field(examples=["ok"])
    database: str = Field(description="The database server's version.")


# ---- incidents ------------------------------------------------------------------------


INCIDENT_EXAMPLE: dict[str, Any] = {
    "id": 1024,
    "category": "exposed_garbage",
    "status": "dispatched",
    "lon": 119.1134521,
    "lat": 36.7127304,
    "grid_id": 17,
    "grid_code": GRID,
    "community_id": 5,
    "subdistrict_id": 2,
    "community_code": "370705001001",
    "subdistrict_code": "370705001",
    "handler_staff_id": 88,
    "handler": {"id": 88, "name": "张伟"},
    "handling_level": "grid",
    "reported_at": AT,
    "deadline_at": "2026-11-03T09:14:00+08:00",
    "clock_started_at": AT,
    "closed_at": None,
    "rework_count": 0,
    "version": 3,
    "duplicate_of": None,
    "location_datum": "gcj02",
    "address": "东关街道东苑社区 3号楼",
    "description": "楼下垃圾堆放三天未清运",
    "source": "hotline",
    "snapped_m": None,
    "media_url": None,
    "supervise_due_at": "2026-11-03T09:14:00+08:00",
    "source_zh": "12345热线",
    "photos": None,
}
"""One case as GET /api/v1/incidents/{id} answers it (also the example of the steps)."""


class IncidentDoc(BaseModel):
    """An incident as the caller may see it (personal data masked where they are not
    responsible: text hidden, the point snapped to the grid's)."""

    model_config = _example(INCIDENT_EXAMPLE)

    id: int
    category: str
    status: str = Field(description="reported, accepted, dispatched, handled, ... closed.")
    lon: float = Field(description="WGS84 degrees.")
    lat: float = Field(description="WGS84 degrees.")
    grid_id: int | None
    grid_code: str | None
    community_id: int | None
    subdistrict_id: int | None
    community_code: str | None
    subdistrict_code: str | None
    handler_staff_id: int | None
    handler: StaffName | None
    handling_level: str = Field(description="grid, community, subdistrict or district.")
    reported_at: dt.datetime
    deadline_at: dt.datetime | None
    clock_started_at: dt.datetime | None
    closed_at: dt.datetime | None
    rework_count: int
    version: int = Field(description="Quote it as expected_version (or its ETag in If-Match).")
    duplicate_of: int | None
    location_datum: str | None
    address: str | None
    description: str | None
    source: str | None
    snapped_m: float | None = Field(description="Metres the point was moved into a grid.")
    media_url: str | None
    supervise_due_at: dt.datetime | None = Field(
        None,
        description="When the escalation sweep next raises the case a level (督办时限; "
        "受理时限 before dispatch).",
    )
    source_zh: str | None = Field(None, description="The source as pages name it (12345热线 …).")
    photos: list[PhotoInfoDoc] | None = Field(
        None,
        description="GET of one incident: its evidence photos, oldest first, for those "
        "responsible for it; null for anyone else (a planner, a key).",
    )


PHOTO_EXAMPLE: dict[str, Any] = {
    "id": 12,
    "incident_id": 1024,
    "stage": "handling",
    "width": 2048,
    "height": 1536,
    "bytes": 412733,
    "taken_at": "2026-11-02T15:40:12+08:00",
    "uploaded_at": "2026-11-02T15:41:03+08:00",
    "uploaded_by_label": "张伟（网格员）",
    "client_key": "b6f1c2d4-5e7a-4c1b-9a0e-3f2d1c0b9a87",
    "lon": 119.1135012,
    "lat": 36.7126881,
    "url": "/api/v1/photos/12",
    "thumb_url": "/api/v1/photos/12/thumb",
}


class PhotoInfoDoc(BaseModel):
    """An evidence photo of a case, as those responsible for the case see it."""

    model_config = _example(PHOTO_EXAMPLE)

    id: int
    incident_id: int
    stage: str = Field(description="intake, handling or verification.")
    width: int = Field(description="Pixels of the stored JPEG.")
    height: int = Field(description="Pixels of the stored JPEG.")
    bytes: int = Field(description="Bytes of the stored JPEG.")
    taken_at: dt.datetime | None = Field(description="When the camera took it (EXIF).")
    uploaded_at: dt.datetime
    uploaded_by_label: str = Field(examples=["张伟（网格员）"])
    client_key: str | None = Field(description="The uploader's key of this upload.")
    lon: float | None = Field(description="Where the camera was (EXIF GPS), WGS84 degrees.")
    lat: float | None = Field(description="Where the camera was (EXIF GPS), WGS84 degrees.")
    url: str = Field(examples=["/api/v1/photos/12"])
    thumb_url: str = Field(examples=["/api/v1/photos/12/thumb"])


class DuplicateDoc(BaseModel):
    id: int
    distance_m: float
    hours_apart: float
    status: str


class IncidentCreatedDoc(IncidentDoc):
    model_config = _example(
        {
            **INCIDENT_EXAMPLE,
            "status": "reported",
            "version": 1,
            "handler_staff_id": None,
            "handler": None,
            "possible_duplicates": [
                {"id": 1019, "distance_m": 23.4, "hours_apart": 5.5, "status": "accepted"}
            ],
        }
    )
    possible_duplicates: list[DuplicateDoc] = Field(
        description="Open cases of the category within 50 m and 72 h, nearest first."
    )


class CurrentStepDoc(BaseModel):
    action: str
    at: dt.datetime
    actor: str


class CurrentStateDoc(BaseModel):
    """The case as it stands now, for a client to show a conflict."""

    status: str
    version: int
    handling_level: str
    last_step: CurrentStepDoc | None


class StaleStepDoc(BaseModel):
    """A step based on a stale version: what is stored now."""

    model_config = _example(
        {
            "status": 409,
            "code": "StaleVersion",
            "description": "incident 1024 is at version 4 now, not 3: reload it",
            "current_version": 4,
            "etag": '"1024-4"',
            "current": {
                "status": "handled",
                "version": 4,
                "handling_level": "grid",
                "last_step": {"action": "handle", "at": AT, "actor": f"grid-{GRID}"},
            },
            "state": None,
            "allowed": None,
        }
    )

    status: int
    code: str
    description: str
    current_version: int | None = None
    etag: str | None = None
    current: CurrentStateDoc | None = Field(
        None, description="The case now: status, version, handling_level, last_step."
    )
    state: str | None = Field(None, description="A step the state does not allow: the state.")
    allowed: list[str] | None = Field(None, description="The actions the state allows.")


class IncidentHistoryDoc(BaseModel):
    model_config = _example(
        {
            "incident_id": 1024,
            "history": [
                {
                    "action": "report",
                    "from_state": None,
                    "to_state": "reported",
                    "actor": "hotline",
                    "at": AT,
                    "note": None,
                    "from_level": None,
                    "to_level": "grid",
                    "rating": None,
                    "action_zh": "上报",
                    "actor_label": "12345热线",
                    "at_local": "2026-11-02 09:14",
                    "level_zh": "网格",
                    "rating_zh": None,
                    "note_zh": None,
                }
            ],
        }
    )
    incident_id: int
    history: list[HistoryEntry] = Field(description="Oldest first.")


STATISTICS_ROW_EXAMPLE: dict[str, Any] = {
    "level": "grid",
    "code": GRID,
    "name": GRID_NAME,
    "households": 812,
    "received": 37,
    "closed": 31,
    "cancelled": 2,
    "open": 4,
    "closure_rate": 0.94,
    "on_time_rate": 0.88,
    "handling_rate": 0.89,
    "rework_rate": 0.06,
    "per_1000_households": 45.6,
    "city_appearance": 21,
}


class StatisticsRowDoc(BaseModel):
    """One area's counts; then one count per top-level category (named by its code)."""

    model_config = _example(STATISTICS_ROW_EXAMPLE, extra="allow")

    level: str
    code: str
    name: str | None
    households: int | None
    received: int
    closed: int
    cancelled: int
    open: int
    closure_rate: float | None
    on_time_rate: float | None
    handling_rate: float | None
    rework_rate: float | None
    per_1000_households: float | None


class MeasureDoc(BaseModel):
    column: str
    label_zh: str
    unit: str
    higher_is_worse: bool


class LegendItemDoc(BaseModel):
    colour: str | None
    label: str


class MeasureClassesDoc(BaseModel):
    measure: MeasureDoc
    method: str = Field(description="fixed or quantile.")
    breaks: list[float]
    colours: list[str]
    legend: list[LegendItemDoc]


class IncidentStatisticsDoc(BaseModel):
    model_config = _example(
        {
            "level": "grid",
            "start": "2026-10-01T00:00:00+08:00",
            "end": "2026-11-01T00:00:00+08:00",
            "category": None,
            "incidents_without_grid": 0,
            "rows": [STATISTICS_ROW_EXAMPLE],
            "classes": {
                "per_1000_households": {
                    "measure": {
                        "column": "per_1000_households",
                        "label_zh": "每千户案件数",
                        "unit": "per_1000",
                        "higher_is_worse": True,
                    },
                    "method": "quantile",
                    "breaks": [0, 12, 25, 40],
                    "colours": ["#fee5d9", "#fcae91", "#fb6a4a", "#cb181d"],
                    "legend": [
                        {"colour": "#fee5d9", "label": "0 – 12"},
                        {"colour": "#fcae91", "label": "12 – 25"},
                        {"colour": "#fb6a4a", "label": "25 – 40"},
                        {"colour": "#cb181d", "label": "≥ 40"},
                        {"colour": None, "label": "无数据"},
                    ],
                }
            },
        }
    )
    level: str
    start: dt.datetime
    end: dt.datetime
    category: str | None
    incidents_without_grid: int
    rows: list[StatisticsRowDoc]
    classes: dict[str, MeasureClassesDoc]


class HotSpotPropertiesDoc(BaseModel):
    code: str
    name: str | None
    community_code: str | None
    households: int | None
    received: int
    rate: float | None
    gi_z: float | None
    p_norm: float | None
    p_sim: float | None
    class_: str = Field(alias="class")


HOT_SPOT_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": GRID,
    "geometry": SQUARE,
    "properties": {
        "code": GRID,
        "name": GRID_NAME,
        "community_code": "370705001001",
        "households": 812,
        "received": 37,
        "rate": 45.6,
        "gi_z": 2.71,
        "p_norm": 0.0067,
        "p_sim": 0.008,
        "class": "hot 99%",
    },
}


class HotSpotFeatureDoc(FeatureDoc):
    model_config = _example(HOT_SPOT_FEATURE)
    properties: HotSpotPropertiesDoc  # type: ignore[assignment]  # narrower than FeatureDoc's


class HotSpotsDoc(BaseModel):
    model_config = _example(
        {
            "type": "FeatureCollection",
            "numberMatched": 1,
            "numberReturned": 1,
            "weights": "queen contiguity",
            "inference": "999 conditional permutations",
            "classes": ["hot 99%", "hot 95%", "hot 90%", "not significant", "cold 90%"],
            "features": [
                {
                    "type": "Feature",
                    "id": GRID,
                    "geometry": SQUARE,
                    "properties": {
                        "code": GRID,
                        "name": GRID_NAME,
                        "community_code": "370705001001",
                        "households": 812,
                        "received": 37,
                        "rate": 45.6,
                        "gi_z": 2.71,
                        "p_norm": 0.0067,
                        "p_sim": 0.008,
                        "class": "hot 99%",
                    },
                }
            ],
        }
    )
    type: str = "FeatureCollection"
    numberMatched: int
    numberReturned: int
    weights: str
    inference: str
    classes: list[str]
    features: list[HotSpotFeatureDoc]


WORK_ITEM_EXAMPLE: dict[str, Any] = {
    "id": 1024,
    "ext_id": "12345-20261102-0087",
    "category": "exposed_garbage",
    "category_name": "暴露垃圾",
    "status": "dispatched",
    "handling_level": "grid",
    "lon": 119.1134521,
    "lat": 36.7127304,
    "reported_at": AT,
    "deadline_at": "2026-11-03T09:14:00+08:00",
    "remaining_s": 5400.0,
    "remaining_working_s": 5400.0,
    "overdue": False,
    "version": 3,
    "rework_count": 0,
    "allowed": ["handle"],
    "description": "楼下垃圾堆放三天未清运",
    "address": "东关街道东苑社区 3号楼",
    "source": "hotline",
    "handler": {"id": 88, "name": "张伟"},
}


class WorklistGridDoc(BaseModel):
    code: str
    name: str
    community_code: str
    community_name: str
    households: int
    geometry: dict[str, Any]


class WorklistDoc(BaseModel):
    model_config = _example(
        {
            "grid": {
                "code": GRID,
                "name": GRID_NAME,
                "community_code": "370705001001",
                "community_name": "东苑社区",
                "households": 812,
                "geometry": SQUARE,
            },
            "manager": {"id": 88, "name": "张伟"},
            "now": AT,
            "overdue": 0,
            "incidents": [WORK_ITEM_EXAMPLE],
            "handlers": [
                {
                    "id": 88,
                    "name": "张伟",
                    "role": "网格员",
                    "role_code": "grid_manager",
                    "duty": None,
                    "in_grid": True,
                    "primary_manager": True,
                }
            ],
        }
    )
    grid: WorklistGridDoc
    manager: StaffName | None
    now: dt.datetime
    overdue: int
    incidents: list[WorkItem]
    handlers: list[HandlerChoice]


class InboxDoc(BaseModel):
    model_config = _example(
        {
            "now": AT,
            "counts": {"total": 1, "overdue": 0, "urged": 1, "escalated": 0},
            "items": [
                {
                    **WORK_ITEM_EXAMPLE,
                    "grid_code": GRID,
                    "grid_name": GRID_NAME,
                    "community_name": "东苑社区",
                    "supervise_due_at": "2026-11-03T09:14:00+08:00",
                    "escalated": False,
                    "urge": {
                        "at": AT,
                        "at_local": "2026-11-02 09:14",
                        "by_label": "王芳（社区工作人员）",
                        "note": "请今天内处理",
                    },
                    "source_zh": "12345热线",
                }
            ],
        }
    )
    now: dt.datetime
    counts: InboxCounts
    items: list[InboxItem] = Field(description="Overdue first, then by the sooner due time.")


_MONTH = {
    "received": 37,
    "closed": 31,
    "closed_on_time": 27,
    "on_time_rate": 0.87,
    "open_now": 4,
    "overdue_now": 1,
}


class GridMonthDoc(BaseModel):
    model_config = _example(
        {
            "grid_code": GRID,
            "grid_name": GRID_NAME,
            "community_code": "370705001001",
            "community_name": "东苑社区",
            "month": "2026-10",
            "start": "2026-10-01T00:00:00+08:00",
            "end": "2026-11-01T00:00:00+08:00",
            "now": AT,
            "grid": _MONTH,
            "community_average": {**_MONTH, "received": 29.5, "closed": 26.0},
            "community_grids": 6,
        }
    )
    grid_code: str
    grid_name: str
    community_code: str
    community_name: str
    month: str = Field(examples=["2026-10"])
    start: dt.datetime
    end: dt.datetime
    now: dt.datetime
    grid: MonthFigures
    community_average: MonthFigures = Field(
        description="The community's totals per current grid (its pooled on-time rate)."
    )
    community_grids: int


# ---- the district map ------------------------------------------------------------------


class LightCollectionDoc(BaseModel):
    """A GeoJSON FeatureCollection of light features, every one at once (no pages)."""

    model_config = _example(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": 31,
                    "geometry": {"type": "Point", "coordinates": [119.11342, 36.71273]},
                    "properties": {"id": 31, "type": "kindergarten", "name": "东苑幼儿园"},
                }
            ],
        }
    )

    type: str = "FeatureCollection"
    features: list[FeatureDoc]


class MapOutlinesDoc(BaseModel):
    """The areas of the district map, simplified (``tolerance_m``) and rounded (``decimals``).

    Each feature's properties: ``code``, ``name``, ``households``, ``parent_code``,
    ``parent_name`` (a grid's community, a community's subdistrict) and ``label``
    (``[lon, lat]`` inside the area, where its name is drawn)."""

    model_config = _example(
        {
            "tolerance_m": 2.0,
            "decimals": 5,
            **{
                key: {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "id": code,
                            "geometry": SQUARE,
                            "properties": {
                                "code": code,
                                "name": name,
                                "households": 812,
                                "parent_code": code[:-3] or None,
                                "parent_name": None,
                                "label": [119.1125, 36.73],
                            },
                        }
                    ],
                }
                for key, code, name in (
                    ("district", "370705", "奎文区"),
                    ("subdistricts", "370705001", "东关街道"),
                    ("communities", "370705001001", "东苑社区"),
                    ("grids", GRID, GRID_NAME),
                )
            },
        }
    )

    tolerance_m: float
    decimals: int
    district: LightCollectionDoc
    subdistricts: LightCollectionDoc
    communities: LightCollectionDoc
    grids: LightCollectionDoc


# ---- coverage -------------------------------------------------------------------------


COVERAGE_ROW_EXAMPLE: dict[str, Any] = {
    "code": "370705001001",
    "name": "东苑社区",
    "households": 2410,
    "households_covered": 1938,
    "households_uncovered": 472,
    "buildings": 61,
    "buildings_covered": 50,
    "coverage_rate": 0.804,
    "mean_distance_m": 212.5,
    "p90_distance_m": 388.0,
}


class CoverageRowDoc(BaseModel):
    code: str
    name: str | None
    households: int
    households_covered: int
    households_uncovered: int
    buildings: int
    buildings_covered: int
    coverage_rate: float | None = Field(description="0-1 by households; null without any.")
    mean_distance_m: float | None
    p90_distance_m: float | None


class CoverageRankedRowDoc(CoverageRowDoc):
    rank: int = Field(description="1 = the worst served.")


class CoverageRankingDoc(BaseModel):
    """The worst-served areas, worst first."""

    model_config = _example(
        {
            "facility_type": "kindergarten",
            "facility_type_name": "幼儿园",
            "radius_m": 300,
            "by": "community",
            "rows": [{"rank": 1, **COVERAGE_ROW_EXAMPLE}],
        }
    )

    facility_type: str
    facility_type_name: str
    radius_m: float
    by: str
    rows: list[CoverageRankedRowDoc]


class CoverageRingDoc(BaseModel):
    radius_m: float
    rows: list[CoverageRowDoc]
    total: CoverageRowDoc


class CoverageDoc(BaseModel):
    """One radius: ``radius_m``, ``rows`` and ``total``; several: ``radii_m`` and ``rings``."""

    model_config = _example(
        {
            "facility_type": "kindergarten",
            "facility_type_name": "幼儿园",
            "by": "community",
            "radius_m": 300,
            "rows": [COVERAGE_ROW_EXAMPLE],
            "total": {**COVERAGE_ROW_EXAMPLE, "code": "370705", "name": "奎文区"},
        }
    )

    facility_type: str
    facility_type_name: str
    by: str
    radius_m: float | None = None
    rows: list[CoverageRowDoc] | None = None
    total: CoverageRowDoc | None = None
    radii_m: list[float] | None = None
    rings: list[CoverageRingDoc] | None = None


class DerivedCollectionDoc(BaseModel):
    """Circles or blind spots of a facility type at a radius."""

    model_config = _example(
        {
            "type": "FeatureCollection",
            "facility_type": "kindergarten",
            "radius_m": 300,
            "numberMatched": 1,
            "numberReturned": 1,
            "features": [
                {
                    "type": "Feature",
                    "id": "370705001001-1",
                    "geometry": SQUARE,
                    "properties": {
                        "community_code": "370705001001",
                        "community_name": "东苑社区",
                        "part": 1,
                        "area_m2": 48211.5,
                        "households": 472,
                        "buildings_uncovered": 11,
                    },
                }
            ],
        }
    )

    type: str = "FeatureCollection"
    facility_type: str
    radius_m: float
    numberMatched: int
    numberReturned: int
    features: list[FeatureDoc]


class GridChangeDoc(BaseModel):
    code: str
    name: str | None
    net_households: int


class WhatIfDoc(BaseModel):
    model_config = _example(
        {
            "facility_type": "kindergarten",
            "facility_type_name": "幼儿园",
            "radius_m": 300,
            "households_gained": 472,
            "households_lost": 0,
            "net_households": 472,
            "buildings_gained": 11,
            "buildings_lost": 0,
            "by_grid": [{"code": GRID, "name": GRID_NAME, "net_households": 472}],
            "households": 86210,
            "households_covered_before": 61022,
            "households_covered_after": 61494,
            "coverage_rate_before": 0.7078,
            "coverage_rate_after": 0.7133,
        }
    )
    facility_type: str
    facility_type_name: str
    radius_m: float
    households_gained: int
    households_lost: int
    net_households: int
    buildings_gained: int
    buildings_lost: int
    by_grid: list[GridChangeDoc] = Field(description="Largest change first.")
    households: int
    households_covered_before: int
    households_covered_after: int
    coverage_rate_before: float | None
    coverage_rate_after: float | None


class CoverageStyleDoc(BaseModel):
    """Classes, colours and labels of the coverage map (Leaflet path options)."""

    model_config = _example(coverage_style(), extra="allow")

    ramp: dict[str, Any]
    labels: dict[str, str]
    radiusChoices: list[float]


class CoverageStatusDoc(BaseModel):
    model_config = _example(
        {
            "listening": True,
            "building": False,
            "models": {"kindergarten@300": 4},
            "buildings": 20843,
            "hits": 311,
            "misses": 2,
            "builds": 2,
            "build_ms_last": 412.7,
            "notifications": 3,
            "incremental_updates": 3,
            "invalidations": 0,
            "last_change": {"table": "facility", "op": "UPDATE", "id": 31, "lag_ms": 18.2},
        }
    )
    listening: bool
    building: bool = Field(description="A model is being built right now.")
    models: dict[str, int] = Field(description='"<type>@<radius>": revision of each cached model.')
    buildings: int | None
    hits: int
    misses: int
    builds: int
    build_ms_last: float | None
    notifications: int
    incremental_updates: int
    invalidations: int
    last_change: dict[str, Any] | None


# ---- Open311 (JSON; the XML carries the same fields) ------------------------------------


SERVICE_EXAMPLE: dict[str, Any] = {
    "service_code": "exposed_garbage",
    "service_name": "暴露垃圾",
    "description": "城市管理 · 市容环境：暴露垃圾",
    "metadata": True,
    "type": "realtime",
    "keywords": "垃圾,环境卫生",
    "group": "城市管理",
}
SERVICE_REQUEST_EXAMPLE: dict[str, Any] = {
    "service_request_id": "1024",
    "status": "open",
    "status_notes": "已派遣",
    "service_name": "暴露垃圾",
    "service_code": "exposed_garbage",
    "description": "楼下垃圾堆放三天未清运",
    "agency_responsible": "东苑社区",
    "service_notice": "网格员将在 1 个工作日内处理",
    "requested_datetime": AT,
    "updated_datetime": AT,
    "expected_datetime": "2026-11-03T09:14:00+08:00",
    "address": "东关街道东苑社区 3号楼",
    "address_id": None,
    "zipcode": None,
    "lat": 36.7127304,
    "long": 119.1134521,
    "media_url": None,
}
FILED_REQUEST_EXAMPLE: dict[str, Any] = {
    "service_request_id": "1024",
    "service_notice": "网格员将在 1 个工作日内处理",
    "account_id": None,
}


class ServiceDoc(BaseModel):
    model_config = _example(SERVICE_EXAMPLE)
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class ServiceDefinitionDoc(BaseModel):
    model_config = _example(
        {
            "service_code": "exposed_garbage",
            "attributes": [
                {
                    "variable": True,
                    "code": "building_id",
                    "datatype": "number",
                    "required": False,
                    "datatype_description": "楼栋编号",
                    "order": 1,
                    "description": "事发楼栋（可选）",
                }
            ],
        }
    )
    service_code: str
    attributes: list[dict[str, Any]]


class ServiceRequestDoc(BaseModel):
    """A GeoReport v2 service request; lat/long in the ``datum`` asked for (default WGS84)."""

    model_config = _example(SERVICE_REQUEST_EXAMPLE)
    service_request_id: str
    status: str = Field(description="open or closed.")
    status_notes: str | None
    service_name: str | None
    service_code: str | None
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str | None
    updated_datetime: str | None
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None = Field(
        description="Latitude, degrees (7 decimals), in datum= (default WGS84; gcj02 for "
        "an Amap or Tencent map, bd09 for Baidu's).",
        examples=[36.7197443],
    )
    long: float | None = Field(
        description="Longitude, degrees (7 decimals), in the same datum as lat.",
        examples=[119.1192154],
    )
    media_url: str | None


class FiledRequestDoc(BaseModel):
    model_config = _example(FILED_REQUEST_EXAMPLE)
    service_request_id: str
    service_notice: str | None
    account_id: str | None


class EndpointDoc(BaseModel):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class DiscoveryDoc(BaseModel):
    model_config = _example(
        {
            "changeset": "2026-11-23T00:00:00+08:00",
            "contact": "奎文区网格化服务管理中心",
            "key_service": "向区网格中心申请 API 密钥",
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": "https://gridmap.example.cn/open311/v2",
                    "changeset": "2026-11-23T00:00:00+08:00",
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        }
    )
    changeset: str
    contact: str
    key_service: str
    endpoints: list[EndpointDoc]


# ---- basemap and search (issue 11) ---------------------------------------------------------


class TileLayerDoc(BaseModel):
    """A Leaflet tile layer (``L.tileLayer(url, {subdomains, attribution, maxZoom})``)."""

    url: str = Field(description="URL template with {z}, {x}, {y} (and {s}).")
    subdomains: str
    attribution: str
    maxZoom: int


class BasemapDoc(BaseModel):
    """The base map a page draws under its data."""

    model_config = _example(
        {
            "source": "offline",
            "datum": "wgs84",
            "display": "wgs84",
            "tiles": [],
            "labels": True,
            "streets_url": "/api/v1/basemap/streets",
            "places_url": "/api/v1/basemap/places",
        }
    )

    source: str = Field(examples=["offline", "tianditu", "amap", "tencent", "xyz", "wmts"])
    datum: str = Field(description="The datum the base map is drawn in (wgs84, cgcs2000, gcj02).")
    display: str = Field(
        description="The datum overlays must be converted to before drawing: wgs84 or gcj02."
    )
    tiles: list[TileLayerDoc] = Field(description="Tile layers, bottom first; none offline.")
    labels: bool = Field(description="The page draws its own street and place names.")
    streets_url: str
    places_url: str


class StreetPropertiesDoc(BaseModel):
    name: str
    kind: str = Field(description="main, secondary or local.")
    length_m: float


STREET_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": "东风东街",
    "geometry": {"type": "LineString", "coordinates": [[119.101, 36.7105], [119.1243, 36.7106]]},
    "properties": {"name": "东风东街", "kind": "main", "length_m": 2081.4},
}


class StreetFeatureDoc(FeatureDoc):
    model_config = _example(STREET_FEATURE)

    properties: StreetPropertiesDoc  # type: ignore[assignment]  # narrower than FeatureDoc's


class StreetsDoc(BaseModel):
    model_config = _example(
        {
            "type": "FeatureCollection",
            "zoom": 16,
            "kinds": ["main", "secondary", "local"],
            "numberReturned": 1,
            "features": [STREET_FEATURE],
        }
    )
    type: str = "FeatureCollection"
    zoom: int
    kinds: list[str] = Field(description="The kinds of street drawn at this zoom.")
    numberReturned: int
    features: list[StreetFeatureDoc]


class PlacePropertiesDoc(BaseModel):
    code: str
    name: str
    level: str = Field(description="subdistrict, community or grid.")


PLACE_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": GRID,
    "geometry": {"type": "Point", "coordinates": [119.1125, 36.73]},
    "properties": {"code": GRID, "name": GRID_NAME, "level": "grid"},
}


class PlaceFeatureDoc(FeatureDoc):
    model_config = _example(PLACE_FEATURE)

    properties: PlacePropertiesDoc  # type: ignore[assignment]  # narrower than FeatureDoc's


class PlacesDoc(BaseModel):
    model_config = _example(
        {
            "type": "FeatureCollection",
            "zoom": 16,
            "levels": ["grid"],
            "numberReturned": 1,
            "features": [PLACE_FEATURE],
        }
    )
    type: str = "FeatureCollection"
    zoom: int
    levels: list[str]
    numberReturned: int
    features: list[PlaceFeatureDoc]


class SearchDoc(BaseModel):
    """Search results, best first."""

    model_config = _example(
        {
            "items": [
                {
                    "kind": "grid",
                    "kind_zh": "网格",
                    "label": GRID_NAME,
                    "sublabel": "东关街道 东苑社区",
                    "code": GRID,
                    "id": None,
                    "lon": 119.1125,
                    "lat": 36.73,
                    "bbox": [119.1, 36.7, 119.125, 36.76],
                    "url": f"/grid/{GRID}",
                }
            ]
        }
    )

    items: list[Hit]


# ---- examples of the collections' features (api.responses.collection_responses) ----------

AREA_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": "370705001001",
    "geometry": SQUARE,
    "properties": {
        "code": "370705001001",
        "name": "东苑社区",
        "level": "community",
        "parent_code": "370705001",
        "households": 2410,
        "population": 6630,
        "floating_population": 410,
        "valid_from": "2020-01-01",
        "valid_to": None,
    },
}
GRID_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": GRID,
    "geometry": SQUARE,
    "properties": {
        "code": GRID,
        "name": GRID_NAME,
        "community_code": "370705001001",
        "community_name": "东苑社区",
        "households": 812,
        "population": 2230,
        "valid_from": "2020-01-01",
        "valid_to": None,
    },
}
GRID_DETAIL_FEATURE: dict[str, Any] = {
    **GRID_FEATURE,
    "properties": {
        **GRID_FEATURE["properties"],
        "community": {"code": "370705001001", "name": "东苑社区"},
        "subdistrict": {"code": "370705001", "name": "东关街道"},
        "managers": [
            {
                "name": "张伟",
                "role": "grid_manager",
                "specialist_duty": None,
                "is_primary": True,
                "phone": "170****1234",
            }
        ],
        "buildings_count": 23,
    },
}
BUILDING_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": 4711,
    "geometry": {"type": "Point", "coordinates": [119.1121734, 36.7214402]},
    "properties": {
        "id": 4711,
        "ext_id": "DEMO-B-004711",
        "grid_code": GRID,
        "households": 48,
        "floors": 6,
        "name": "3号楼",
        "address": "东关街道东苑社区 3号楼",
        "has_footprint": True,
    },
}
INCIDENT_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": 1024,
    "geometry": {"type": "Point", "coordinates": [119.1134521, 36.7127304]},
    "properties": {
        "id": 1024,
        "category": "exposed_garbage",
        "status": "dispatched",
        "grid_code": GRID,
        "reported_at": AT,
        "deadline_at": "2026-11-03T09:14:00+08:00",
        "handling_level": "grid",
        "version": 3,
        "description": "楼下垃圾堆放三天未清运",
        "source": "hotline",
        "masked": False,
    },
}
COVERAGE_BUILDING_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": 4711,
    "geometry": {"type": "Point", "coordinates": [119.1121734, 36.7214402]},
    "properties": {
        "id": 4711,
        "grid_code": GRID,
        "households": 48,
        "nearest_m": 412.3,
        "nearest_facility_id": 31,
        "facilities_within": 0,
        "covered": False,
    },
}
FACILITY_TYPE_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": "kindergarten",
    "geometry": None,
    "properties": {
        "code": "kindergarten",
        "name_zh": "幼儿园",
        "name_en": "Kindergarten",
        "radius_m": 300,
        "life_circle": "5min",
        "norm_source": "GB 50180-2018",
        "facilities": 41,
    },
}


FACILITY_TYPES_EXAMPLE = collection_example(FACILITY_TYPE_FEATURE, url="/api/v1/facility-types")


class AttributeFeatureDoc(BaseModel):
    """A feature without a place (``geometry`` null)."""

    type: str = "Feature"
    id: str | int
    geometry: None
    properties: dict[str, Any]


class FacilityTypesDoc(BaseModel):
    """Facility types as features without geometry."""

    model_config = _example(FACILITY_TYPES_EXAMPLE)

    type: str = "FeatureCollection"
    features: list[AttributeFeatureDoc]
    numberMatched: int
    numberReturned: int
    links: list[Link]
