"""Working time: deadlines and durations counted in office hours on working days.

Deadlines are published in working hours or days, so the clock stops at night,
at weekends and on holidays and runs on make-up working days. Which dates are
which is data (``data/calendar/cn_workdays.csv``), never code. Pure: no
database, no HTTP; datetimes must be timezone-aware (``docs/incidents.md``).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal, cast
from zoneinfo import ZoneInfo

from gis.errors import GridmapError, InvalidParameterError
from gis.localtime import CITY_TIMEZONE

DEFAULT_CALENDAR_CSV = Path(__file__).resolve().parents[2] / "data" / "calendar" / "cn_workdays.csv"
DEFAULT_TIMEZONE = CITY_TIMEZONE
OfficeHours = tuple[tuple[dt.time, dt.time], ...]
DEFAULT_OFFICE_HOURS: OfficeHours = (
    (dt.time(8, 30), dt.time(12, 0)),
    (dt.time(13, 30), dt.time(17, 30)),
)
DayType = Literal["holiday", "workday"]
_UTC = dt.UTC
#: Longest stretch without a working day before a search gives up (days).
_MAX_SEARCH_DAYS = 3660


class CalendarDataError(GridmapError):
    """The calendar data or office hours are unusable (bad row, overlapping hours)."""


@dataclass(frozen=True)
class SpecialDay:
    """One date that differs from the Monday-Friday week."""

    date: dt.date
    type: DayType
    name_zh: str
    name_en: str = ""


def parse_office_hours(text: str) -> OfficeHours:
    """Office hours from ``"08:30-12:00,13:30-17:30"`` (for settings held in env vars)."""
    intervals = []
    for part in text.split(","):
        try:
            start, end = (dt.time.fromisoformat(t.strip()) for t in part.split("-"))
        except ValueError as exc:
            raise CalendarDataError(
                f"office hours {text!r}: expected 'HH:MM-HH:MM[,HH:MM-HH:MM...]'"
            ) from exc
        intervals.append((start, end))
    return _check_office_hours(tuple(intervals))


def _check_office_hours(hours: OfficeHours) -> OfficeHours:
    if not hours:
        raise CalendarDataError("office hours are empty: no time would ever count")
    previous_end = dt.time.min
    for i, (start, end) in enumerate(hours):
        if start.tzinfo is not None or end.tzinfo is not None:
            raise CalendarDataError("office hours are wall-clock times without a time zone")
        if not start < end:
            raise CalendarDataError(f"office hours {start}-{end}: start must precede end")
        if i and start < previous_end:
            raise CalendarDataError(
                f"office hours {start}-{end} overlap or precede the interval before; "
                "list them in order of the day"
            )
        previous_end = end
    return hours


def _seconds(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


@dataclass(frozen=True)
class WorkCalendar:
    """Working days (weekday rule plus special days) and office hours in one time zone.

    ``special_days`` overrides the weekday rule: ``holiday`` rows are days off
    even on a weekday, ``workday`` rows are make-up working days even on a
    weekend. Outside ``covered_years`` the weekday rule alone applies; callers
    that must not guess can check :meth:`covers` first.
    """

    special_days: Mapping[dt.date, SpecialDay] = field(default_factory=dict)
    office_hours: OfficeHours = DEFAULT_OFFICE_HOURS
    timezone: str = DEFAULT_TIMEZONE
    covered_years: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        _check_office_hours(self.office_hours)
        try:
            ZoneInfo(self.timezone)
        except (KeyError, ValueError) as exc:
            raise CalendarDataError(f"unknown time zone {self.timezone!r}") from exc

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def working_day(self) -> dt.timedelta:
        """Working time in one working day (7.5 h with the default office hours)."""
        return dt.timedelta(seconds=sum(_seconds(e) - _seconds(s) for s, e in self.office_hours))

    def covers(self, day: dt.date) -> bool:
        """Whether the data lists holidays for this date's year (else only weekends are off)."""
        return day.year in self.covered_years

    def is_working_day(self, day: dt.date) -> bool:
        """Whether office hours run on this (local) date."""
        special = self.special_days.get(day)
        if special is not None:
            return special.type == "workday"
        return day.weekday() < 5

    def is_working_time(self, moment: dt.datetime) -> bool:
        """Whether a moment lies in office hours of a working day (closing instant included)."""
        local = _aware(moment, "moment").astimezone(self.tz)
        if not self.is_working_day(local.date()):
            return False
        t = local.time().replace(tzinfo=None)
        return any(s <= t <= e for s, e in self.office_hours)

    def _intervals(self, day: dt.date) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """The day's office-hour intervals as UTC datetimes (empty on a day off)."""
        if not self.is_working_day(day):
            return
        tz = self.tz
        for s, e in self.office_hours:
            yield (
                dt.datetime.combine(day, s, tz).astimezone(_UTC),
                dt.datetime.combine(day, e, tz).astimezone(_UTC),
            )

    def add_working_time(
        self,
        start: dt.datetime,
        *,
        hours: float | None = None,
        days: int | None = None,
    ) -> dt.datetime:
        """The deadline ``hours`` working hours or ``days`` working days after ``start``.

        Exactly one of ``hours`` and ``days`` is given; a day is
        :attr:`working_day` of working time. A start outside working time
        counts from the next opening (Saturday + 0 hours is Monday 08:30).
        The result never falls outside working time.
        """
        if (hours is None) == (days is None):
            raise InvalidParameterError("give exactly one of hours= and days=")
        amount = dt.timedelta(hours=hours) if hours is not None else self.working_day * (days or 0)
        if amount < dt.timedelta(0):
            raise InvalidParameterError(f"working time to add must not be negative: {amount}")
        cursor = _aware(start, "start").astimezone(_UTC)
        remaining = amount
        day = cursor.astimezone(self.tz).date()
        for _ in range(_MAX_SEARCH_DAYS):
            for open_, close in self._intervals(day):
                if cursor >= close:
                    continue
                begin = max(cursor, open_)
                available = close - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(self.tz)
                remaining -= available
            day += dt.timedelta(days=1)
        raise CalendarDataError(f"no working time within {_MAX_SEARCH_DAYS} days of {start}")

    def working_time_between(self, a: dt.datetime, b: dt.datetime) -> dt.timedelta:
        """Working time from ``a`` to ``b`` (negative if ``b`` is earlier).

        For on-time checks (time used against the deadline) and the mean time
        a case spends in each step.
        """
        a = _aware(a, "a").astimezone(_UTC)
        b = _aware(b, "b").astimezone(_UTC)
        if b < a:
            return -self.working_time_between(b, a)
        total = dt.timedelta(0)
        day = a.astimezone(self.tz).date()
        last = b.astimezone(self.tz).date()
        while day <= last:
            for open_, close in self._intervals(day):
                begin, end = max(open_, a), min(close, b)
                if end > begin:
                    total += end - begin
            day += dt.timedelta(days=1)
        return total

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day strictly after ``day``."""
        for _ in range(_MAX_SEARCH_DAYS):
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise CalendarDataError(f"no working day within {_MAX_SEARCH_DAYS} days of {day}")


def _aware(moment: dt.datetime, name: str) -> dt.datetime:
    if not isinstance(moment, dt.datetime):
        raise InvalidParameterError(f"{name} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidParameterError(
            f"{name} {moment.isoformat()} has no time zone; pass an aware datetime "
            "(e.g. tzinfo=ZoneInfo('Asia/Shanghai')) so working hours are not guessed"
        )
    return moment


def read_special_days(path: Path) -> list[SpecialDay]:
    """Rows of a calendar CSV (``date,type,name_zh[,name_en]``), checked."""
    days: list[SpecialDay] = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"date", "type", "name_zh"} - set(reader.fieldnames or ())
        if missing:
            raise CalendarDataError(f"{path}: columns missing: {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            try:
                date = dt.date.fromisoformat(row["date"].strip())
            except ValueError as exc:
                raise CalendarDataError(f"{path}:{line}: bad date {row['date']!r}") from exc
            kind = row["type"].strip()
            if kind not in ("holiday", "workday"):
                raise CalendarDataError(
                    f"{path}:{line}: type {kind!r} must be 'holiday' or 'workday'"
                )
            days.append(
                SpecialDay(
                    date=date,
                    type=cast(DayType, kind),
                    name_zh=row["name_zh"].strip(),
                    name_en=(row.get("name_en") or "").strip(),
                )
            )
    return days


def load_calendar(
    paths: Sequence[Path] = (DEFAULT_CALENDAR_CSV,),
    *,
    office_hours: OfficeHours = DEFAULT_OFFICE_HOURS,
    timezone: str = DEFAULT_TIMEZONE,
) -> WorkCalendar:
    """A calendar from one or more CSVs; a later file's row replaces an earlier one's date.

    A local file (a city's own extra day off) can so be layered on the
    national one. Within one file a date may appear only once.
    """
    special: dict[dt.date, SpecialDay] = {}
    for path in paths:
        seen: set[dt.date] = set()
        for day in read_special_days(Path(path)):
            if day.date in seen:
                raise CalendarDataError(f"{path}: {day.date} is listed twice")
            seen.add(day.date)
            special[day.date] = day
    return WorkCalendar(
        special_days=special,
        office_hours=_check_office_hours(tuple(office_hours)),
        timezone=timezone,
        covered_years=frozenset(d.year for d in special),
    )


@cache
def default_calendar() -> WorkCalendar:
    """The national calendar in ``data/calendar`` with default office hours (loaded once)."""
    return load_calendar()


def add_working_time(
    start: dt.datetime,
    *,
    hours: float | None = None,
    days: int | None = None,
    calendar: WorkCalendar | None = None,
) -> dt.datetime:
    """Deadline after ``hours`` working hours or ``days`` working days; see WorkCalendar."""
    return (calendar or default_calendar()).add_working_time(start, hours=hours, days=days)


def working_time_between(
    a: dt.datetime, b: dt.datetime, *, calendar: WorkCalendar | None = None
) -> dt.timedelta:
    """Working time from ``a`` to ``b`` on the default (or given) calendar."""
    return (calendar or default_calendar()).working_time_between(a, b)


def is_working_day(day: dt.date, *, calendar: WorkCalendar | None = None) -> bool:
    """Whether ``day`` is a working day on the default (or given) calendar."""
    return (calendar or default_calendar()).is_working_day(day)
