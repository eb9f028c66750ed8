"""Automatic escalation: cases move up a level each time a limit passes, without anyone asking.

The four-level linkage (grid → community → subdistrict → district, seed 004)
escalates a case "automatically when the deadline passes", and each level has
its own supervision limit (督办时限, ``gis.incidents.catalogue.SUPERVISION``).
Every open case carries ``supervise_due_at`` (``gis.incidents.deadlines``): at
grid level the intake limit (受理时限) until dispatch, then the handling
deadline; at each level above, that level's limit from the moment the case
reached it. When it passes, the sweep raises the case one level and the new
level's limit starts: again and again, up to district level and never above.

A raise is recorded at the moment the limit passed (``at`` = ``supervise_due_at``,
or the case's last step if that came later), not at the moment the sweep ran,
so a sweep that ran late (a server down over a weekend, the demo's load)
catches up: a case whose community limit also passed long ago is raised again
in the same round, each raise at its own moment. The audit entry is written at
the sweep's real time and names the moment.

The server runs an :class:`EscalationSweeper` thread that calls
:func:`escalate_overdue` every ``GRIDMAP_ESCALATION_INTERVAL_S`` seconds in its
own transaction; a deployment without a long-running server runs ``gridmap
incidents escalate`` from cron instead. Both take a transaction-level advisory
lock first, so several server workers (or a worker and cron) never sweep at the
same time: the loser of the lock simply skips that round.

Every raise is audited as ``incident.escalate`` by ``system`` in the same
transaction. The audit trail belongs to ``gis.accounts``, which this package
may not import; the caller hands its writer in (``audit=gis.accounts.audit.record``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.areas.codes import Level
from gis.db.periodic import PeriodicWork
from gis.errors import ConflictError, InvalidFeatureError
from gis.incidents import workflow
from gis.incidents.deadlines import intake_due, supervise_due
from gis.incidents.transitions import transition
from gis.incidents.workcalendar import WorkCalendar
from gis.incidents.workflow import OPEN_STATES, Action, State
from gis.localtime import CITY_TZ, utc_now
from gis.principal import SYSTEM, Principal

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x6772_6964_6573_63
"""pg_advisory_xact_lock key of the escalation sweep ("gridesc")."""

MAX_RAISES = 3
"""Raises of one case in one round at most: grid → community → subdistrict → district."""


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


def escalate_overdue(
    session: Session,
    now: dt.datetime,
    *,
    audit: AuditWriter,
    calendar: WorkCalendar | None = None,
) -> list[int]:
    """Raise every open case whose ``supervise_due_at`` passed before ``now``; the ids raised
    (an id once per raise, in the order raised).

    Each passing raises the case once, recorded at the moment it passed, and the
    new level's limit runs from then; a case whose new limit passed before ``now``
    too goes up again in the same round (module docstring). Cases at district
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
            SELECT i.id FROM incident i
            WHERE i.supervise_due_at < :now AND i.status = ANY(:states)
              AND i.handling_level <> 'district' AND i.duplicate_of IS NULL
            ORDER BY i.supervise_due_at, i.id
            """
        ),
        {"now": now, "states": escalable},
    ).all()
    raised = []
    for row in rows:
        for _ in range(MAX_RAISES):
            if not _raise_once(session, int(row.id), now, audit, calendar):
                break
            raised.append(int(row.id))
    return raised


def _raise_once(
    session: Session,
    incident_id: int,
    now: dt.datetime,
    audit: AuditWriter,
    calendar: WorkCalendar | None,
) -> bool:
    """Raise the case one level if its limit passed before ``now``; whether it was."""
    case = session.execute(
        text(
            "SELECT i.version, i.supervise_due_at, i.handling_level, i.status,"
            " (SELECT max(t.at) FROM incident_transition t WHERE t.incident_id = i.id) AS last_at"
            " FROM incident i WHERE i.id = :id"
        ),
        {"id": incident_id},
    ).one()
    due = case.supervise_due_at
    if due is None or due >= now or case.handling_level == Level.DISTRICT.value:
        return False
    if case.status not in OPEN_STATES:
        return False
    at = max(due, case.last_at) if case.last_at is not None else due
    if case.handling_level != Level.GRID.value:
        limit = "督办时限"
    elif case.status in (State.REPORTED.value, State.ACCEPTED.value):
        limit = "受理时限"
    else:
        limit = "处置时限"
    note = f"超过{limit}（{_local(due)}），系统自动上报升级"
    try:
        with session.begin_nested():
            raised_case = transition(
                session,
                incident_id,
                Action.ESCALATE,
                principal=SYSTEM,
                expected_version=int(case.version),
                note=note,
                at=at,
                calendar=calendar,
            )
            audit(
                session,
                SYSTEM,
                "incident.escalate",
                object=f"incident:{incident_id}",
                area=raised_case.grid_code,
                detail={
                    "to_level": raised_case.handling_level.value,
                    "due": due.isoformat(),
                    "at": at.isoformat(),
                    "note": note,
                },
            )
    except ConflictError:
        return False  # somebody moved the case since it was read: their step stands
    return True


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M")


def fill_supervise_due(session: Session, calendar: WorkCalendar | None = None) -> int:
    """Set ``supervise_due_at`` of every open case that has none (rows stored before
    migration 0008, the demo's generated cases) from its history; the number set.

    Grid level: the handling deadline once dispatched, else the intake limit from the
    report. Above: the level's limit from the case's last escalation or later clock
    start, not before its handling deadline.
    """
    rows = session.execute(
        text(
            """
            SELECT i.id, i.category, i.status, i.handling_level, i.reported_at,
                   i.deadline_at, i.clock_started_at,
                   (SELECT max(t.at) FROM incident_transition t
                     WHERE t.incident_id = i.id AND t.action = 'escalate') AS escalated_at
            FROM incident i
            WHERE i.supervise_due_at IS NULL AND i.status = ANY(:open)
            """
        ),
        {"open": list(OPEN_STATES)},
    ).all()
    values = []
    for r in rows:
        if r.handling_level == Level.GRID.value:
            if r.deadline_at is not None and r.status not in ("reported", "accepted"):
                due = r.deadline_at
            else:
                due = intake_due(r.category, r.reported_at, calendar)
        else:
            starts = [t for t in (r.escalated_at, r.clock_started_at) if t is not None]
            start = max(starts) if starts else r.reported_at
            due = supervise_due(r.category, r.handling_level, start, r.deadline_at, calendar)
        values.append({"id": int(r.id), "due": due})
    if values:
        session.execute(text("UPDATE incident SET supervise_due_at = :due WHERE id = :id"), values)
    return len(values)


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


class EscalationSweeper(PeriodicWork):
    """Sweeps every ``interval_s`` seconds until stopped (``gis.db.periodic``: a failed
    round, the database restarting say, is logged and retried at the next interval)."""

    def __init__(self, engine: Engine, interval_s: float, *, audit: AuditWriter) -> None:
        super().__init__("escalation-sweeper", interval_s)
        self.engine = engine
        self.audit = audit

    def round(self) -> None:
        result = sweep_once(self.engine, audit=self.audit)
        if result.escalated:
            log.info(
                "escalated %d overdue incident(s): %s",
                len(result.escalated),
                ", ".join(map(str, result.escalated[:20])),
            )
