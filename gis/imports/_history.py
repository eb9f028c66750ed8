"""A past incident's time columns become the workflow steps that led to its status."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from gis.errors import GridmapError
from gis.imports._cells import is_blank, parse_cell
from gis.imports._spec import Column
from gis.incidents.workflow import Action, State, Step, replay

# Columns of a past case's history: the action each time stands for, in workflow order.
HISTORY_COLUMNS: dict[str, Action] = {
    "accepted_at": Action.ACCEPT,
    "cancelled_at": Action.CANCEL,
    "dispatched_at": Action.DISPATCH,
    "handled_at": Action.HANDLE,
    "feedback_at": Action.FEEDBACK,
    "rework_at": Action.REWORK,
    "closed_at": Action.VERIFY,
    "evaluated_at": Action.EVALUATE,
}
# Columns that may hold several times (a case sent back k times is handled k + 1 times).
_REPEATED = frozenset({"handled_at", "feedback_at", "rework_at"})
_ORDER = {action: n for n, action in enumerate(HISTORY_COLUMNS.values())}
# The columns a status cannot do without (the path to it through the workflow).
_NEEDS: dict[State, tuple[str, ...]] = {
    State.REPORTED: (),
    State.ACCEPTED: ("accepted_at",),
    State.CANCELLED: ("cancelled_at", "cancel_reason"),
    State.DISPATCHED: ("accepted_at", "dispatched_at"),
    State.HANDLED: ("accepted_at", "dispatched_at", "handled_at"),
    State.FEEDBACK: ("accepted_at", "dispatched_at", "handled_at", "feedback_at"),
    State.CLOSED: ("accepted_at", "dispatched_at", "handled_at", "feedback_at", "closed_at"),
    State.EVALUATED: (
        "accepted_at",
        "dispatched_at",
        "handled_at",
        "feedback_at",
        "closed_at",
        "evaluated_at",
    ),
}
REWORK_NOTE = "sent back for rework (imported history; the file gives no reason)"


@dataclass(frozen=True)
class History:
    steps: tuple[Step, ...] = ()
    problems: tuple[str, ...] = ()


def _times(name: str, value: Any, now: dt.datetime) -> tuple[list[dt.datetime], list[str]]:
    """The times in one history cell (several, separated by ';', in the repeatable columns)."""
    if is_blank(value):
        return [], []
    parts = str(value).split(";") if isinstance(value, str) else [value]
    parts = [p for p in parts if not is_blank(p)]
    if len(parts) > 1 and name not in _REPEATED:
        return [], [f"{name} holds {len(parts)} times; only {', '.join(sorted(_REPEATED))} may"]
    col = Column(name, "datetime")
    times, problems = [], []
    for part in parts:
        when, problem = parse_cell(col, part, now)
        if problem:
            problems.append(problem)
        else:
            times.append(when)
    return times, problems


def incident_history(row: dict[str, Any], now: dt.datetime) -> tuple[State | None, History]:
    """A past case's status and steps from its time columns, checked by ``gis.incidents.workflow``.

    The times are put in order (at equal times, in workflow order: accepted
    before dispatched, the k-th feedback before the k-th rework) and replayed
    through ``gis.incidents.workflow.apply``; the status, when given, must be where they
    lead. A blank status is that end state.
    """
    given = row.get("status")
    problems: list[str] = []
    status: State | None = None
    if given is not None:
        try:
            status = State(given)
        except ValueError:
            states = ", ".join(s.value for s in State)
            problems.append(f"unknown status {given!r} (workflow states: {states})")
    events: list[tuple[dt.datetime, int, int, Step]] = []
    present: set[str] = set()
    for name, action in HISTORY_COLUMNS.items():
        times, bad = _times(name, row.get(name), now)
        problems.extend(bad)
        if times or bad:
            present.add(name)
        note = ""
        if action is Action.CANCEL:
            note = row.get("cancel_reason") or ""
        elif action is Action.REWORK:
            note = REWORK_NOTE
        for k, at in enumerate(times):
            loop = 10**6 if action in (Action.VERIFY, Action.EVALUATE) else k
            events.append((at, loop, _ORDER[action], Step(action, at, note)))
    reason = row.get("cancel_reason")
    if reason is not None:
        present.add("cancel_reason")
        if "cancelled_at" not in present:
            problems.append("cancel_reason is given but cancelled_at is not")
    if status is not None:
        missing = [c for c in _NEEDS[status] if c not in present]
        if missing:
            problems.append(f"status {status.value} needs {', '.join(missing)} (missing)")
    if problems:
        return status, History(problems=tuple(problems))
    events.sort(key=lambda e: e[:3])
    steps = tuple(e[3] for e in events)
    reported_at = row.get("reported_at")
    if reported_at is None:
        return status, History(steps=steps)
    try:
        case = replay(reported_at, steps, actor="import")
    except GridmapError as exc:
        return status, History(problems=(f"the times do not form a legal history: {exc}",))
    if status is not None and case.state is not status:
        return status, History(
            problems=(
                f"status is {status.value}, but the times given lead to {case.state.value}: "
                "correct the status or drop the later times",
            )
        )
    return case.state, History(steps=steps)
