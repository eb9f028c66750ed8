"""When a case is due: its category's time limit counted from the moment the clock starts."""

from __future__ import annotations

import datetime as dt

from gis.incidents.catalogue import find, lookup
from gis.incidents.workcalendar import WorkCalendar, add_working_time


def deadline_after(
    category: str, start: dt.datetime, calendar: WorkCalendar | None = None
) -> dt.datetime:
    """When a case of ``category`` (code or Chinese name) is due if its clock starts at ``start``.

    Working-time limits skip nights, weekends and holidays on ``calendar``
    (default: the national one); calendar-time ones (emergencies, petitions)
    simply run on.
    """
    deadline = lookup(category).deadline
    if not deadline.working:
        return start + dt.timedelta(**deadline.as_kwargs())
    if deadline.unit == "hours":
        return add_working_time(start, hours=deadline.amount, calendar=calendar)
    return add_working_time(start, days=int(deadline.amount), calendar=calendar)


def runs_in_working_time(category: str) -> bool:
    """Whether the category's limit counts working time (an unknown code: assume it does)."""
    found = find(category)
    return found.deadline.working if found is not None else True
