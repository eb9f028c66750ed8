"""Automatic escalation on a committed database: once per missed deadline, one sweep at a time."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from gis.accounts import audit
from gis.areas.codes import Level
from gis.db.embedded import free_port
from gis.db.engine import make_engine
from gis.incidents.escalation import ADVISORY_LOCK_KEY, EscalationSweeper, sweep_once
from gis.incidents.records import get_incident, history
from gis.incidents.transitions import transition
from gis.incidents.workflow import State
from tests.coverage_district import drop_database, fresh_coverage_database
from tests.incident_cases import CST, MONDAY_NOON, dispatched_case, staff


@pytest.fixture
def committed(server_url: str) -> Iterator[Engine]:
    district = fresh_coverage_database(server_url, "gridmap_escalation_sweep")
    yield district.engine
    drop_database(server_url, district)


def test_a_sweep_raises_an_overdue_case_once_and_commits(committed: Engine) -> None:
    case = dispatched_case(committed)
    assert case.deadline_at == dt.datetime(2025, 3, 10, 11, 0, tzinfo=CST)
    assert (
        sweep_once(committed, MONDAY_NOON - dt.timedelta(hours=2), audit=audit.record).escalated
        == []
    )
    first = sweep_once(committed, MONDAY_NOON, audit=audit.record)
    assert first.escalated == [case.id] and not first.skipped
    assert (
        sweep_once(committed, MONDAY_NOON + dt.timedelta(hours=1), audit=audit.record).escalated
        == []
    )
    with Session(committed) as session:
        after = get_incident(session, case.id)
        assert after.handling_level is Level.COMMUNITY and after.version == case.version + 1
        assert [h.actor for h in history(session, case.id)][-1] == "system"
        ref = session.execute(
            text(
                "SELECT actor_ref FROM incident_transition WHERE incident_id = :i"
                " AND action = 'escalate'"
            ),
            {"i": case.id},
        ).scalar_one()
        assert ref == "system"
        [entry] = audit.entries(session, action="incident.escalate")
        assert (entry.principal, entry.role, entry.object) == (
            "system",
            "system",
            f"incident:{case.id}",
        )
        assert entry.area == case.grid_code


def test_a_second_sweep_skips_while_one_holds_the_lock(committed: Engine) -> None:
    case = dispatched_case(committed)
    with committed.connect() as other, other.begin():
        other.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
        assert sweep_once(committed, MONDAY_NOON, audit=audit.record).skipped
    assert sweep_once(committed, MONDAY_NOON, audit=audit.record).escalated == [case.id]


def test_a_case_changed_during_the_sweep_is_left_to_whoever_changed_it(committed: Engine) -> None:
    case = dispatched_case(committed)
    result: list[list[int]] = []
    with Session(committed) as worker:
        # The grid manager reports the work done; the row stays locked until commit.
        transition(
            worker,
            case.id,
            "handle",
            principal=staff("王网格员"),
            expected_version=case.version,
        )
        sweeper = threading.Thread(
            target=lambda: result.append(
                sweep_once(committed, MONDAY_NOON, audit=audit.record).escalated
            )
        )
        sweeper.start()
        with committed.connect() as probe:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # until the sweep waits for the row lock
                waiting = probe.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                ).scalar_one()
                probe.rollback()  # pg_stat_activity is a snapshot per transaction
                if waiting:
                    break
                time.sleep(0.02)
            assert waiting, "the sweep never waited for the locked case"
        worker.commit()
        sweeper.join(10)
    assert result == [[]]
    with Session(committed) as session:
        after = get_incident(session, case.id)
        assert after.status is State.HANDLED and after.handling_level is Level.GRID


def test_the_sweeper_thread_escalates_without_being_asked_and_stops(committed: Engine) -> None:
    case = dispatched_case(committed)  # its deadline (2025) passed long ago
    sweeper = EscalationSweeper(committed, interval_s=0.05, audit=audit.record)
    sweeper.start()
    try:
        deadline = time.monotonic() + 10
        level = Level.GRID
        while time.monotonic() < deadline and level is Level.GRID:
            with Session(committed) as session:
                level = get_incident(session, case.id).handling_level
            time.sleep(0.05)
        # every level's limit since 2025 has passed too: raised at each passing, up to district
        assert level is Level.DISTRICT
        rounds = sweeper.rounds
        time.sleep(0.3)
        assert sweeper.rounds > rounds  # it keeps sweeping, and never raises above district
        with Session(committed) as session:
            assert get_incident(session, case.id).handling_level is Level.DISTRICT
            steps = [h.to_level for h in history(session, case.id) if h.action == "escalate"]
            assert steps == ["community", "subdistrict", "district"]
    finally:
        sweeper.stop()
    stopped_at = sweeper.rounds
    time.sleep(0.2)
    assert sweeper.rounds == stopped_at


def test_the_sweeper_refuses_a_zero_interval(committed: Engine) -> None:
    with pytest.raises(ValueError, match="positive"):
        EscalationSweeper(committed, interval_s=0, audit=audit.record)


def test_the_sweeper_survives_an_unreachable_database_and_sweeps_once_it_is_back(
    committed: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Rounds while nothing listens at the engine's port fail with one warning each and the
    thread goes on; when the server is found again (the port the engine follows moves back,
    as after ``gridmap db start``), the next round raises the overdue case."""
    case = dispatched_case(committed)
    real_port = committed.url.port
    assert real_port is not None
    listening = threading.Event()
    engine = make_engine(
        committed.url.render_as_string(hide_password=False),
        port=lambda: real_port if listening.is_set() else free_port(),
        poolclass=NullPool,
    )
    sweeper = EscalationSweeper(engine, interval_s=0.05, audit=audit.record)
    try:
        with caplog.at_level(logging.WARNING, logger="gis.incidents.escalation"):
            sweeper.start()
            deadline = time.monotonic() + 10
            while sweeper.rounds < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert sweeper.rounds >= 3
            assert any("database unreachable" in r.getMessage() for r in caplog.records)
            assert not any(r.exc_info for r in caplog.records)  # one line each, no traceback
            with Session(committed) as session:
                assert get_incident(session, case.id).handling_level is Level.GRID
            listening.set()
            level = Level.GRID
            while time.monotonic() < deadline and level is Level.GRID:
                with Session(committed) as session:
                    level = get_incident(session, case.id).handling_level
                time.sleep(0.05)
        assert level is Level.DISTRICT  # the limits of every level since 2025 passed
    finally:
        sweeper.stop()
        engine.dispose()
