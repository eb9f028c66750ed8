"""Documented answers about incidents: a case, its photos and history, statistics, hot
spots, worklists, the inbox and a grid's month.

As in ``api.schemas`` (whose module docstring says how these are used and checked).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from api.responses import FeatureDoc, example_config
from api.schemas import AT, GRID, GRID_NAME, SQUARE
from gis.incidents.inbox import InboxCounts, InboxItem
from gis.incidents.monthly import MonthFigures
from gis.incidents.records import HistoryEntry
from gis.incidents.worklists import HandlerChoice, StaffName, WorkItem

_example = example_config


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
    "unit_id": None,
    "unit": None,
    "on_the_spot": False,
    "source_zh": "12345热线",
    "photos": None,
}
"""One case as GET /api/v1/incidents/{id} answers it (also the example of the steps)."""


class UnitNameDoc(BaseModel):
    id: int
    name: str | None


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
    unit_id: int | None = Field(
        None, description="The mediation unit the case was handed to (交办), if any."
    )
    unit: UnitNameDoc | None = Field(
        None, description="That unit's id and name; its head is ``handler``."
    )
    on_the_spot: bool = Field(
        False, description="Settled on the spot at registration (当场办结), unless sent back."
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
    "on_the_spot": 12,
    "on_the_spot_rate": 0.39,
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
    handling_rate: float | None = Field(
        description="办结率 closed / (received - cancelled): a mediation centre's 调处率."
    )
    on_the_spot: int = Field(
        description="Of the received now closed, those settled on the spot (当场办结)."
    )
    on_the_spot_rate: float | None = Field(description="当场办结率 on_the_spot / closed.")
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


# ---- mediation units (交办, seed 003) ------------------------------------------------------


UNIT_EXAMPLE: dict[str, Any] = {
    "id": 3,
    "name_zh": "东关街道社会矛盾调处中心",
    "name_en": "Dongguan Subdistrict Mediation Centre",
    "area_code": "370705001",
    "area_name": "东关街道",
    "categories": ["dispute"],
    "head_staff_id": 17,
    "head_name": "刘建国",
    "staff": [{"id": 18, "name": "陈静"}],
    "open_cases": 4,
    "created_at": AT,
    "version": 2,
}


class UnitStaffDoc(BaseModel):
    id: int
    name: str


class MediationUnitDoc(BaseModel):
    """A responsible unit: the area whose cases it takes, the categories it takes (empty:
    all), its head (一把手: cases handed to the unit go to them) and other staff."""

    model_config = _example(UNIT_EXAMPLE)

    id: int
    name_zh: str
    name_en: str | None
    area_code: str = Field(description="A district, subdistrict, community or grid code.")
    area_name: str | None
    categories: list[str] = Field(description="Category codes it takes; empty: every one.")
    head_staff_id: int | None = Field(description="null: the unit cannot take cases.")
    head_name: str | None
    staff: list[UnitStaffDoc] = Field(description="Its other staff, who handle its cases too.")
    open_cases: int = Field(description="Cases handed to it and still open.")
    created_at: dt.datetime
    version: int = Field(description="Quote it as expected_version (or its ETag in If-Match).")


class MediationUnitsDoc(BaseModel):
    model_config = _example({"units": [UNIT_EXAMPLE]})

    units: list[MediationUnitDoc]
