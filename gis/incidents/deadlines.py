"""When a case is due: its category's time limit counted from the moment the clock starts,
and when the escalation sweep next raises it (``supervise_due_at``, 督办时限).

A case has two clocks. The handling deadline (``deadline_at``) runs from dispatch,
redispatch or rework for the category's limit. The supervision clock
(``supervise_due_at``) says when the sweep (``gis.incidents.escalation``) raises the
case a level: at grid level the intake limit (受理时限) from the report until the
case is dispatched, then the handling deadline; at community, subdistrict and
district level that level's limit from the moment the case reached it (or from a
later step that restarted the clock, and never before the handling deadline).
The figures are ``gis.incidents.catalogue.SUPERVISION``.
"""

from __future__ import annotations

import datetime as dt

from gis.areas.codes import Level
from gis.incidents.catalogue import Deadline, find, lookup, supervision_for
from gis.incidents.workcalendar import WorkCalendar, add_working_time


def after(limit: Deadline, start: dt.datetime, calendar: WorkCalendar | None = None) -> dt.datetime:
    """``start`` plus ``limit``: in working time on ``calendar`` (default: the national one)
    unless the limit runs on the calendar."""
    if not limit.working:
        return start + dt.timedelta(**limit.as_kwargs())
    if limit.unit == "hours":
        return add_working_time(start, hours=limit.amount, calendar=calendar)
    return add_working_time(start, days=int(limit.amount), calendar=calendar)


def deadline_after(
    category: str, start: dt.datetime, calendar: WorkCalendar | None = None
) -> dt.datetime:
    """When a case of ``category`` (code or Chinese name) is due if its clock starts at ``start``.

    Working-time limits skip nights, weekends and holidays on ``calendar``
    (default: the national one); calendar-time ones (emergencies, petitions)
    simply run on.
    """
    return after(lookup(category).deadline, start, calendar)


def runs_in_working_time(category: str) -> bool:
    """Whether the category's limit counts working time (an unknown code: assume it does)."""
    found = find(category)
    return found.deadline.working if found is not None else True


def intake_due(
    category: str, reported_at: dt.datetime, calendar: WorkCalendar | None = None
) -> dt.datetime:
    """When a case reported at ``reported_at`` and not yet dispatched goes up (受理时限)."""
    return after(supervision_for(category).intake, reported_at, calendar)


def level_due(
    category: str, level: Level | str, start: dt.datetime, calendar: WorkCalendar | None = None
) -> dt.datetime:
    """When a case that reached ``level`` (community and above) at ``start`` goes up again."""
    return after(supervision_for(category).at_level(Level(level).value), start, calendar)


def supervise_due(
    category: str,
    level: Level | str,
    at: dt.datetime,
    deadline_at: dt.datetime | None,
    calendar: WorkCalendar | None = None,
) -> dt.datetime:
    """``supervise_due_at`` after a step at ``at`` that (re)starts the clock at ``level``.

    At grid level: the handling deadline if there is one, else the intake limit from
    ``at``. Above: the level's limit from ``at``, but not before the handling deadline.
    """
    level = Level(level)
    if level is Level.GRID:
        return deadline_at if deadline_at is not None else intake_due(category, at, calendar)
    due = level_due(category, level, at, calendar)
    return max(due, deadline_at) if deadline_at is not None and deadline_at > at else due
