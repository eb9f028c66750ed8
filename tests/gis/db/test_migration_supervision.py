"""Migration 0008: open cases stored before it get their supervision clock from their history
(so the first sweep after the upgrade brings stuck cases up), and who reported each case."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import text

from gis.db import schema
from gis.db.engine import drop_database, make_engine, recreate_database

NAME = "gridmap_migration_supervision"
CST = ZoneInfo("Asia/Shanghai")


def test_open_cases_get_their_supervision_clock(server_url: str) -> None:
    engine = make_engine(recreate_database(server_url, NAME))
    friday_9 = dt.datetime(2025, 3, 7, 9, tzinfo=CST)
    try:
        schema.upgrade(engine, "0007")
        with engine.begin() as conn:

            def case(status: str, level: str, deadline: dt.datetime | None) -> int:
                incident_id = int(
                    conn.execute(
                        text(
                            "INSERT INTO incident (category, status, handling_level, geom,"
                            " reported_at, deadline_at) VALUES ('exposed_garbage', :s, :l,"
                            " ST_SetSRID(ST_MakePoint(119.1, 36.7), 4326), :at, :d) RETURNING id"
                        ),
                        {"s": status, "l": level, "at": friday_9, "d": deadline},
                    ).scalar_one()
                )
                conn.execute(
                    text(
                        "INSERT INTO incident_transition (incident_id, action, to_state, actor,"
                        " actor_ref, at, note, to_level) VALUES (:i, 'reported', 'reported',"
                        " '接线员', 'account:7', :at, 'reported', 'grid')"
                    ),
                    {"i": incident_id, "at": friday_9},
                )
                return incident_id

            reported = case("reported", "grid", None)
            dispatched = case("dispatched", "grid", friday_9 + dt.timedelta(hours=6))
            raised = case("dispatched", "community", friday_9 + dt.timedelta(hours=6))
            conn.execute(
                text(
                    "INSERT INTO incident_transition (incident_id, action, from_state, to_state,"
                    " actor, at, from_level, to_level) VALUES (:i, 'escalate', 'dispatched',"
                    " 'dispatched', 'system', :at, 'grid', 'community')"
                ),
                {"i": raised, "at": friday_9 + dt.timedelta(hours=7)},
            )
            closed = case("closed", "grid", None)
        schema.upgrade(engine)
        with engine.connect() as conn:
            rows = {
                r.id: r
                for r in conn.execute(
                    text("SELECT id, supervise_due_at, reported_by FROM incident")
                )
            }
        assert rows[reported].supervise_due_at == dt.datetime(2025, 3, 7, 11, tzinfo=CST)
        assert rows[dispatched].supervise_due_at == friday_9 + dt.timedelta(hours=6)
        # the community's 2 working days from its escalation (Friday 16:00)
        assert rows[raised].supervise_due_at == dt.datetime(2025, 3, 11, 16, tzinfo=CST)
        assert rows[closed].supervise_due_at is None
        assert rows[reported].reported_by == "account:7"
    finally:
        engine.dispose()
        drop_database(server_url, NAME)
