"""The time the city works in: Asia/Shanghai (UTC+8, no daylight saving).

Dates and times given without a zone (a hotline export, a CLI option, a query
parameter) are read here; one definition for every package.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from gis.errors import InvalidParameterError

CITY_TIMEZONE = "Asia/Shanghai"
CITY_TZ = ZoneInfo(CITY_TIMEZONE)

Moment = dt.date | dt.datetime


def as_instant(moment: Moment) -> dt.datetime:
    """An aware datetime: a date is its midnight, a naive datetime is read in the city's zone."""
    if isinstance(moment, dt.datetime):
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=CITY_TZ)
    return dt.datetime.combine(moment, dt.time(0), CITY_TZ)


def utc_now() -> dt.datetime:
    """Now, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def period(start: Moment, end: Moment) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` as aware instants (see :func:`as_instant`); refuses an empty one."""
    s, e = as_instant(start), as_instant(end)
    if e <= s:
        raise InvalidParameterError(
            f"the period [{s.isoformat()}, {e.isoformat()}) is empty or reversed: "
            "end must be after start (the end itself is excluded)"
        )
    return s, e
