"""The small district of ``tests.gis.people.people_district`` with devices and workers.

张奶奶 lives in grid B at (119.13, 36.73) with a 300 m safe circle and carries
device ``ZHANG-1``; 刘阿姨 in grid C carries ``LIU-1``. Two home-care workers of the
west community: 陈护理 (device ``W-CHEN``) and 周护理 (``W-ZHOU``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.care import devices, workers
from gis.care.fences import FenceRules
from gis.care.ingest import IngestResult, PositionBatch, ingest
from gis.geo.datum import WGS84, Datum
from gis.principal import Principal
from tests.gis.people.people_district import ADMIN, WEST, People, insert_people

HOME = (119.13, 36.73)
M_PER_DEG_LON = 89_290.0
"""Metres per degree of longitude at 36.73°N (near enough for offsets of a few hundred m)."""
RULES = FenceRules(margin_m=25.0, confirm=2, max_accuracy_m=100.0)
RETENTION = dt.timedelta(days=30)
DEVICES_KEY = Principal.system("key:devices", scopes=("devices:write",))
T0 = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Care:
    people: People
    chen: int
    zhou: int


def east_of_home(metres: float) -> tuple[float, float]:
    return HOME[0] + metres / M_PER_DEG_LON, HOME[1]


def insert_care(db: Session) -> Care:
    people = insert_people(db)
    devices.register_person_device(db, ADMIN, people.zhang, "ZHANG-1")
    devices.register_person_device(db, ADMIN, people.liu, "LIU-1")
    chen = workers.add_worker(db, ADMIN, "陈护理", WEST, "13900000001").id
    zhou = workers.add_worker(db, ADMIN, "周护理", WEST, "13900000002").id
    devices.register_worker_device(db, ADMIN, chen, "W-CHEN")
    devices.register_worker_device(db, ADMIN, zhou, "W-ZHOU")
    return Care(people, chen, zhou)


def send(
    db: Session,
    reports: list[tuple[str, dt.datetime, float, float]],
    *,
    accuracy: list[float] | None = None,
    datum: Datum = WGS84,
    principal: Principal = DEVICES_KEY,
    now: dt.datetime | None = None,
) -> IngestResult:
    batch = PositionBatch(
        [r[0] for r in reports],
        [r[1] for r in reports],
        np.array([r[2] for r in reports], dtype=float),
        np.array([r[3] for r in reports], dtype=float),
        np.array(accuracy if accuracy is not None else [np.nan] * len(reports), dtype=float),
        datum,
    )
    return ingest(
        db, principal, batch, RULES, retention=RETENTION, now=now or T0 + dt.timedelta(hours=1)
    )


def device_row(db: Session, device_id: str) -> tuple[object, ...]:
    return tuple(
        db.execute(
            text(
                "SELECT last_at, round(ST_X(last_geom)::numeric, 5)::float8, fence_state,"
                " fence_streak FROM device WHERE id = :d"
            ),
            {"d": device_id},
        ).one()
    )
