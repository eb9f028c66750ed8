"""Incidents committed on the lattice test district (tests/coverage_district.py), and the
people who take their steps."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gis.incidents.intake import Report, create_incident
from gis.incidents.records import IncidentRecord, get_incident
from gis.incidents.transitions import transition
from gis.principal import Principal, Role

CST = ZoneInfo("Asia/Shanghai")
FRIDAY = dt.date(2025, 3, 7)
MONDAY_NOON = dt.datetime(2025, 3, 10, 12, 0, tzinfo=CST)
"""Exposed garbage dispatched Friday 16:00 is due Monday 11:00 (4 working hours)."""


def staff(
    name: str,
    role: Role = Role.DISTRICT,
    areas: tuple[str, ...] | None = None,
    staff_id: int | None = None,
) -> Principal:
    """A logged-in member of staff as ``gis`` sees them (district-wide by default: they may
    take any step, except verifying or closing what they handled themselves)."""
    return Principal("person", name, role=role, areas=areas, ref=f"test:{name}", staff_id=staff_id)


def dispatched_case(engine: Engine) -> IncidentRecord:
    """An exposed-garbage case dispatched on Friday 16:00, committed."""
    with Session(engine) as session, session.begin():
        inc = create_incident(
            session,
            Report(
                category="exposed_garbage",
                lon=119.11,
                lat=36.72,
                description="暴露垃圾",
                source="patrol",
                reported_at=dt.datetime.combine(FRIDAY, dt.time(9), CST),
            ),
            Principal.claimed("王网格员"),
        )
        for version, action, hour in ((1, "accept", 15), (2, "dispatch", 16)):
            transition(
                session,
                inc.id,
                action,
                principal=staff("王网格员"),
                expected_version=version,
                at=dt.datetime.combine(FRIDAY, dt.time(hour), CST),
            )
        return get_incident(session, inc.id)
