"""Automatic escalation: overdue cases move up a level without anyone asking.

The four-level linkage (grid → community → subdistrict → district, seed 004)
escalates a case "automatically when the deadline passes". The server runs an
:class:`EscalationSweeper` thread that calls :func:`escalate_overdue`
every ``GRIDMAP_ESCALATION_INTERVAL_S`` seconds in its own transaction; a
deployment without a long-running server runs ``gridmap incidents escalate``
from cron instead. Both take a transaction-level advisory lock first, so
several server workers (or a worker and cron) never sweep at the same time:
the loser of the lock simply skips that round.

Every raise is audited as ``incident.escalate`` by ``system`` in the same
transaction. The audit trail belongs to ``gis.accounts``, which this package
may not import; the caller hands its writer in (``audit=gis.accounts.audit.record``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.db.engine import first_line, is_unreachable
from gis.errors import ConflictError, InvalidFeatureError
from gis.incidents import workflow
from gis.incidents.transitions import transition
from gis.incidents.workflow import Action, State
from gis.localtime import utc_now
from gis.principal import SYSTEM, Principal

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x6772_6964_6573_63
"""pg_advisory_xact_lock key of the escalation sweep ("gridesc")."""


class AuditWriter(Protocol):
    """Writes one audit entry in the caller's transaction: ``gis.accounts.audit.record``."""

    def __call__(
        self,
        session: Session,
        principal: Principal,
        action: str,
        *,
        object: str | None = ...,
        area: str | None = ...,
        detail: Mapping[str, Any] | None = ...,
    ) -> None: ...


def escalate_overdue(session: Session, now: dt.datetime, *, audit: AuditWriter) -> list[int]:
    """Raise every open case whose deadline passed by one level; the ids raised.

    Each missed deadline escalates a case once (a case already escalated
    since its deadline passed waits for a new deadline); cases at district
    level, cancelled or closed stay where they are. Actor ``system``, each raise
    written to the audit trail by ``audit``. A case somebody changes while the
    sweep runs (a stale version) is left to them and not raised this round.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidFeatureError(f"now {now.isoformat()} has no time zone")
    escalable = [s.value for s in State if Action.ESCALATE in workflow.TRANSITIONS[s]]
    rows = session.execute(
        text(
            """
            SELECT i.id, i.version, i.deadline_at FROM incident i
            WHERE i.deadline_at < :now AND i.status = ANY(:states)
              AND i.handling_level <> 'district' AND i.duplicate_of IS NULL
              AND NOT EXISTS (
                SELECT 1 FROM incident_transition t
                WHERE t.incident_id = i.id AND t.action = 'escalate' AND t.at >= i.deadline_at)
            ORDER BY i.deadline_at, i.id
            """
        ),
        {"now": now, "states": escalable},
    ).all()
    raised = []
    for row in rows:
        overdue = now - row.deadline_at
        note = f"deadline {row.deadline_at.isoformat()} passed {_hours(overdue)} ago"
        try:
            with session.begin_nested():
                raised_case = transition(
                    session,
                    int(row.id),
                    Action.ESCALATE,
                    principal=SYSTEM,
                    expected_version=int(row.version),
                    note=note,
                    at=now,
                )
                audit(
                    session,
                    SYSTEM,
                    "incident.escalate",
                    object=f"incident:{row.id}",
                    area=raised_case.grid_code,
                    detail={"to_level": raised_case.handling_level.value, "note": note},
                )
        except ConflictError:
            continue  # somebody moved the case since it was read: their step stands
        raised.append(int(row.id))
    return raised


def _hours(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


@dataclass(frozen=True)
class SweepResult:
    """One round: the cases raised, or ``skipped`` when another sweep held the lock."""

    escalated: list[int]
    skipped: bool = False


def sweep_once(
    engine: Engine, now: dt.datetime | None = None, *, audit: AuditWriter
) -> SweepResult:
    """Escalate every overdue case once, audited and committed; skipped if another sweep
    is running."""
    now = now or utc_now()
    with Session(engine) as session, session.begin():
        got = session.execute(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY}
        ).scalar_one()
        if not got:
            return SweepResult([], skipped=True)
        return SweepResult(escalate_overdue(session, now, audit=audit))


class EscalationSweeper:
    """A daemon thread that sweeps every ``interval_s`` seconds until stopped.

    A failed round (database restarting, say) is logged and retried at the
    next interval; it never stops the thread or the server.
    """

    def __init__(self, engine: Engine, interval_s: float, *, audit: AuditWriter) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive; disable the sweeper instead")
        self.engine = engine
        self.audit = audit
        self.interval_s = interval_s
        self.rounds = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="escalation-sweeper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                result = sweep_once(self.engine, audit=self.audit)
                if result.escalated:
                    log.info(
                        "escalated %d overdue incident(s): %s",
                        len(result.escalated),
                        ", ".join(map(str, result.escalated[:20])),
                    )
            except Exception as exc:  # a failed round must not kill the server
                if is_unreachable(exc):  # the database is restarting: no traceback each round
                    log.warning(
                        "escalation sweep skipped, database unreachable (%s); retrying in %.0f s",
                        first_line(exc),
                        self.interval_s,
                    )
                else:
                    log.exception("escalation sweep failed; retrying in %.0f s", self.interval_s)
            self.rounds += 1
            self._stopping.wait(self.interval_s)
