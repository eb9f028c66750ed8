"""The documented shapes of the care answers (issue 14): ingest, positions, alarms, workers,
emergency calls.

As in ``api.schemas``: these describe answers for /openapi.json (checked by
tests/api/test_openapi_schemas.py and tests/api/test_schemathesis.py), they do not
build them; ``api.routes.care`` does. Names and phones in the examples are fictional.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.responses import example_config
from api.schemas import GRID

COMMUNITY = GRID[:12]

INGEST_EXAMPLE: dict[str, Any] = {
    "received": 3,
    "stored": 2,
    "repeated": 0,
    "rejected": [
        {
            "index": 2,
            "device_id": "YDT-0099",
            "reason": "no device has id 'YDT-0099': register it first",
        }
    ],
    "alarms": [
        {
            "id": 7,
            "person_id": 42,
            "incident_id": 5120,
            "grid_code": GRID,
            "at": "2026-12-06T09:31:00+08:00",
            "outside_m": 612.4,
        }
    ],
    "returned": 0,
}


class RejectedDoc(BaseModel):
    index: int = Field(description="The report's position in the batch (from 0).")
    device_id: str
    reason: str = Field(description="Why, in the request's language.")


class AlarmDoc(BaseModel):
    id: int
    person_id: int
    incident_id: int = Field(description="The help-request case filed in the person's grid.")
    grid_code: str | None
    at: str
    outside_m: float = Field(description="Metres outside the safe area when confirmed.")


class IngestDoc(BaseModel):
    """What a batch did. Reports refused are listed; the others are stored (as PutRecords
    of other stream APIs: a 200 with the failures named)."""

    model_config = example_config(INGEST_EXAMPLE)

    received: int
    stored: int = Field(description="Reports newly stored.")
    repeated: int = Field(description="Reports stored before (a batch sent again): ignored.")
    rejected: list[RejectedDoc]
    alarms: list[AlarmDoc] = Field(description="Geofence alarms raised by this batch.")
    returned: int = Field(description="People confirmed back inside their safe area.")


POSITION_EXAMPLE: dict[str, Any] = {
    "person_id": 42,
    "device_id": "YDT-0042",
    "at": "2026-12-06T09:30:30+08:00",
    "lon": 119.1301,
    "lat": 36.7302,
    "accuracy_m": 12.0,
    "fence_state": "inside",
    "fence_streak": 0,
}


class PositionDoc(BaseModel):
    """A person's device and last known position (nulls: no device, or no report yet)."""

    model_config = example_config(POSITION_EXAMPLE)

    person_id: int
    device_id: str | None
    at: str | None
    lon: float | None
    lat: float | None
    accuracy_m: float | None
    fence_state: str | None = Field(description="inside or outside their safe area.")
    fence_streak: int = Field(description="Reports in a row that said otherwise.")


TRACK_EXAMPLE: dict[str, Any] = {
    "person_id": 42,
    "since": "2026-12-06T00:00:00+08:00",
    "until": "2026-12-07T00:00:00+08:00",
    "positions": [
        {"at": "2026-12-06T09:30:00+08:00", "lon": 119.1301, "lat": 36.7302, "accuracy_m": 12.0}
    ],
    "truncated": False,
}


class TrackPointDoc(BaseModel):
    at: str
    lon: float
    lat: float
    accuracy_m: float | None


class TrackDoc(BaseModel):
    """A person's positions over a period, in time order."""

    model_config = example_config(TRACK_EXAMPLE)

    person_id: int
    since: str
    until: str
    positions: list[TrackPointDoc]
    truncated: bool = Field(description="More positions than one answer holds: ask less.")


ALARMS_EXAMPLE: dict[str, Any] = {
    "person_id": 42,
    "alarms": [
        {
            "id": 7,
            "at": "2026-12-06T09:31:00+08:00",
            "lon": 119.1382,
            "lat": 36.7302,
            "outside_m": 612.4,
            "incident_id": 5120,
            "returned_at": None,
        }
    ],
}


class PersonAlarmDoc(BaseModel):
    id: int
    at: str
    lon: float
    lat: float
    outside_m: float
    incident_id: int | None
    returned_at: str | None


class PersonAlarmsDoc(BaseModel):
    """A person's geofence alarms, latest first."""

    model_config = example_config(ALARMS_EXAMPLE)

    person_id: int
    alarms: list[PersonAlarmDoc]


WORKER_EXAMPLE: dict[str, Any] = {
    "id": 3,
    "name": "陈某某",
    "phone": "13900000001",
    "community_code": COMMUNITY,
    "community_name": "东苑社区",
    "available": True,
    "device_id": "W-0003",
    "last_at": "2026-12-06T09:30:00+08:00",
    "lon": 119.1345,
    "lat": 36.7301,
    "version": 1,
}


class WorkerDoc(BaseModel):
    """A home-care worker, as admin and their community see them."""

    model_config = example_config(WORKER_EXAMPLE)

    id: int
    name: str
    phone: str | None
    community_code: str
    community_name: str
    available: bool
    device_id: str | None
    last_at: str | None
    lon: float | None
    lat: float | None
    version: int


class WorkersDoc(BaseModel):
    model_config = example_config({"workers": [WORKER_EXAMPLE]})

    workers: list[WorkerDoc]


CALL_EXAMPLE: dict[str, Any] = {
    "id": 11,
    "person_id": 42,
    "incident_id": 5121,
    "at": "2026-12-06T09:40:00+08:00",
    "lon": 119.1301,
    "lat": 36.7302,
    "worker": {
        "id": 3,
        "name": "陈某某",
        "phone": "13900000001",
        "distance_m": 486.0,
        "method": "walk",
        "minutes": 8.1,
    },
    "dispatched_at": "2026-12-06T09:40:01+08:00",
    "arrived_at": None,
    "closed_at": None,
}


class SentWorkerDoc(BaseModel):
    id: int
    name: str
    phone: str | None
    distance_m: float = Field(description="Metres to the caller, walked or straight.")
    method: str = Field(description="walk (over the walking network) or line (straight).")
    minutes: float = Field(description="Minutes on foot at GRIDMAP_WALK_SPEED_M_PER_MIN.")


class CallDoc(BaseModel):
    """An emergency call: the case, the worker sent (null: nobody free), the times."""

    model_config = example_config(CALL_EXAMPLE)

    id: int
    person_id: int
    incident_id: int | None
    at: str
    lon: float
    lat: float
    worker: SentWorkerDoc | None
    dispatched_at: str | None
    arrived_at: str | None
    closed_at: str | None
