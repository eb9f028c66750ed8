"""Automatic escalation: overdue cases move up a level without anyone asking.

Issue 4's four-level linkage (grid → community → subdistrict → district)
escalates a case "automatically when the deadline passes". The server runs an
:class:`EscalationSweeper` thread that calls ``gis.incidents.cases.escalate_overdue``
every ``GRIDMAP_ESCALATION_INTERVAL_S`` seconds in its own transaction; a
deployment without a long-running server runs ``gridmap incidents escalate``
from cron instead. Both take a transaction-level advisory lock first, so
several server workers (or a worker and cron) never sweep at the same time:
the loser of the lock simply skips that round.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.incidents.cases import escalate_overdue

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x6772_6964_6573_63
"""pg_advisory_xact_lock key of the escalation sweep ("gridesc")."""


@dataclass(frozen=True)
class SweepResult:
    """One round: the cases raised, or ``skipped`` when another sweep held the lock."""

    escalated: list[int]
    skipped: bool = False


def sweep_once(engine: Engine, now: dt.datetime | None = None) -> SweepResult:
    """Escalate every overdue case once, committed; skipped if another sweep is running."""
    now = now or dt.datetime.now(dt.UTC)
    with Session(engine) as session, session.begin():
        got = session.execute(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY}
        ).scalar_one()
        if not got:
            return SweepResult([], skipped=True)
        return SweepResult(escalate_overdue(session, now))


class EscalationSweeper:
    """A daemon thread that sweeps every ``interval_s`` seconds until stopped.

    A failed round (database restarting, say) is logged and retried at the
    next interval; it never stops the thread or the server.
    """

    def __init__(self, engine: Engine, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive; disable the sweeper instead")
        self.engine = engine
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
                result = sweep_once(self.engine)
                if result.escalated:
                    log.info(
                        "escalated %d overdue incident(s): %s",
                        len(result.escalated),
                        ", ".join(map(str, result.escalated[:20])),
                    )
            except Exception:  # a failed round must not kill the server
                log.exception("escalation sweep failed; retrying in %.0f s", self.interval_s)
            self.rounds += 1
            self._stopping.wait(self.interval_s)


__all__ = ["ADVISORY_LOCK_KEY", "EscalationSweeper", "SweepResult", "sweep_once"]
