"""Incidents committed on the lattice test district (tests/coverage_district.py)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gis.incidents.cases import IncidentRecord, create_incident, get_incident, transition

CST = ZoneInfo("Asia/Shanghai")
FRIDAY = dt.date(2025, 3, 7)
MONDAY_NOON = dt.datetime(2025, 3, 10, 12, 0, tzinfo=CST)
"""Exposed garbage dispatched Friday 16:00 is due Monday 11:00 (4 working hours)."""


def dispatched_case(engine: Engine) -> IncidentRecord:
    """An exposed-garbage case dispatched on Friday 16:00, committed."""
    with Session(engine) as session, session.begin():
        inc = create_incident(
            session,
            category="exposed_garbage",
            lon=119.11,
            lat=36.72,
            description="暴露垃圾",
            source="patrol",
            actor="王网格员",
            reported_at=dt.datetime.combine(FRIDAY, dt.time(9), CST),
        )
        for version, action, hour in ((1, "accept", 15), (2, "dispatch", 16)):
            transition(
                session,
                inc.id,
                action,
                actor="王网格员",
                expected_version=version,
                at=dt.datetime.combine(FRIDAY, dt.time(hour), CST),
            )
        return get_incident(session, inc.id)
