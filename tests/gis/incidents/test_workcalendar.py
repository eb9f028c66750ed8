"""Working-time deadlines on the national calendar (data/calendar/cn_workdays.csv)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.errors import InvalidParameterError
from gis.incidents.workcalendar import (
    DEFAULT_CALENDAR_CSV,
    CalendarDataError,
    WorkCalendar,
    add_working_time,
    default_calendar,
    is_working_day,
    load_calendar,
    parse_office_hours,
    read_special_days,
    working_time_between,
)

SH = ZoneInfo("Asia/Shanghai")
H = dt.timedelta(hours=1)


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH)


# ---------------------------------------------------------------- the data


def test_csv_covers_2024_to_2026_and_is_well_formed() -> None:
    days = read_special_days(DEFAULT_CALENDAR_CSV)
    assert {d.date.year for d in days} == {2024, 2025, 2026}
    assert len({d.date for d in days}) == len(days)
    assert all(d.date.weekday() >= 5 for d in days if d.type == "workday")
    assert default_calendar().covers(dt.date(2025, 6, 1))
    assert not default_calendar().covers(dt.date(2027, 6, 1))


def test_2025_national_day_and_mid_autumn() -> None:
    for day in range(1, 9):
        assert not is_working_day(dt.date(2025, 10, day)), day
    assert is_working_day(dt.date(2025, 9, 28))  # Sunday, make-up working day
    assert is_working_day(dt.date(2025, 10, 11))  # Saturday, make-up working day
    assert is_working_day(dt.date(2025, 10, 9))
    assert not is_working_day(dt.date(2025, 10, 12))  # ordinary Sunday
    assert default_calendar().special_days[dt.date(2025, 10, 6)].name_zh == "中秋"


def test_2025_spring_festival() -> None:
    for d in (dt.date(2025, 1, 28) + dt.timedelta(days=i) for i in range(8)):
        assert not is_working_day(d), d
    assert is_working_day(dt.date(2025, 1, 26))  # Sunday worked
    assert is_working_day(dt.date(2025, 2, 8))  # Saturday worked
    assert is_working_day(dt.date(2025, 2, 5))


def test_2025_has_248_working_days() -> None:
    year = working_time_between(at(2025, 1, 1), at(2026, 1, 1))
    assert year / default_calendar().working_day == 248


# ---------------------------------------------------------------- known deadlines


def test_friday_afternoon_plus_four_hours_lands_monday_morning() -> None:
    # Fri 16:00-17:30 gives 1.5 h, Monday from 08:30 the other 2.5 h.
    assert add_working_time(at(2025, 11, 21, 16), hours=4) == at(2025, 11, 24, 11, 0)


def test_friday_plus_four_hours_with_office_opening_at_eight() -> None:
    cal = load_calendar(office_hours=parse_office_hours("08:00-12:00,13:30-17:30"))
    assert cal.add_working_time(at(2025, 11, 21, 16), hours=4) == at(2025, 11, 24, 10, 30)


def test_friday_before_a_holiday_monday_skips_to_the_next_working_day() -> None:
    # Dragon Boat 2024: Mon Jun 10 off.
    assert add_working_time(at(2024, 6, 7, 16), hours=4) == at(2024, 6, 11, 11, 0)
    # Tomb-sweeping 2026: Sat Apr 4 - Mon Apr 6 off.
    assert add_working_time(at(2026, 4, 3, 16), hours=4) == at(2026, 4, 7, 11, 0)


def test_make_up_workdays_count_and_holidays_do_not() -> None:
    # Fri 2025-09-26: Sat 27 off, Sun 28 is a make-up working day.
    assert add_working_time(at(2025, 9, 26, 16), hours=4) == at(2025, 9, 28, 11, 0)
    # Tue 2025-09-30 16:00: Oct 1-8 off, Thu Oct 9 is the next working day.
    assert add_working_time(at(2025, 9, 30, 16), hours=4) == at(2025, 10, 9, 11, 0)


def test_spring_festival_deadline_in_days() -> None:
    # Mon 2025-01-27 10:00 + 1 working day: Jan 28-Feb 4 off -> Wed Feb 5 10:00.
    assert add_working_time(at(2025, 1, 27, 10), days=1) == at(2025, 2, 5, 10, 0)
    # Green-space repair, 5 working days from Thu 2025-02-06 09:00:
    # Fri 7, Sat 8 (make-up), Mon 10, Tue 11, Wed 12.
    assert add_working_time(at(2025, 2, 6, 9), days=5) == at(2025, 2, 12, 9, 0)


def test_start_outside_working_time_counts_from_next_opening() -> None:
    assert add_working_time(at(2025, 11, 22, 10), hours=0) == at(2025, 11, 24, 8, 30)
    assert add_working_time(at(2025, 11, 24, 12, 30), hours=1) == at(2025, 11, 24, 14, 30)
    assert add_working_time(at(2025, 11, 24, 20), hours=1) == at(2025, 11, 25, 9, 30)


def test_exact_fill_ends_at_closing_time() -> None:
    assert add_working_time(at(2025, 11, 24, 8, 30), days=1) == at(2025, 11, 24, 17, 30)
    assert add_working_time(at(2025, 11, 24, 8, 30), hours=3.5) == at(2025, 11, 24, 12, 0)


def test_between_measures_working_time_and_is_antisymmetric() -> None:
    a, b = at(2025, 11, 21, 16), at(2025, 11, 24, 11)
    assert working_time_between(a, b) == 4 * H
    assert working_time_between(b, a) == -4 * H
    assert working_time_between(at(2025, 11, 22), at(2025, 11, 23, 23)) == dt.timedelta(0)


def test_other_time_zones_are_converted() -> None:
    utc = dt.datetime(2025, 11, 21, 8, 0, tzinfo=dt.UTC)  # 16:00 in Shanghai
    result = add_working_time(utc, hours=4)
    assert result == at(2025, 11, 24, 11, 0)
    assert result.tzinfo == SH


# ---------------------------------------------------------------- refusals


def test_naive_datetimes_and_bad_arguments_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="no time zone"):
        add_working_time(dt.datetime(2025, 11, 21, 16), hours=4)
    with pytest.raises(InvalidParameterError, match="exactly one"):
        add_working_time(at(2025, 11, 21), hours=4, days=1)
    with pytest.raises(InvalidParameterError, match="exactly one"):
        add_working_time(at(2025, 11, 21))
    with pytest.raises(InvalidParameterError, match="negative"):
        add_working_time(at(2025, 11, 21), hours=-1)


def test_bad_office_hours_and_rows_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CalendarDataError):
        parse_office_hours("12:00-08:30")
    with pytest.raises(CalendarDataError, match="overlap"):
        parse_office_hours("08:30-12:00,11:00-17:30")
    with pytest.raises(CalendarDataError):
        parse_office_hours("morning")
    bad = tmp_path / "bad.csv"
    bad.write_text("date,type,name_zh\n2025-10-01,vacation,国庆节\n", encoding="utf-8")
    with pytest.raises(CalendarDataError, match=r"bad\.csv:2"):
        load_calendar([bad])
    twice = tmp_path / "twice.csv"
    twice.write_text(
        "date,type,name_zh\n2025-10-01,holiday,国庆节\n2025-10-01,workday,国庆节\n",
        encoding="utf-8",
    )
    with pytest.raises(CalendarDataError, match="twice"):
        load_calendar([twice])


def test_local_file_layers_over_national(tmp_path: Path) -> None:
    local = tmp_path / "local.csv"
    local.write_text("date,type,name_zh\n2025-11-24,holiday,地方假日\n", encoding="utf-8")
    cal = load_calendar([DEFAULT_CALENDAR_CSV, local])
    assert not cal.is_working_day(dt.date(2025, 11, 24))
    assert cal.add_working_time(at(2025, 11, 21, 16), hours=4) == at(2025, 11, 25, 11, 0)


# ---------------------------------------------------------------- properties

CAL = default_calendar()
starts = st.datetimes(
    min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2026, 11, 30), timezones=st.just(SH)
)
hours = st.floats(min_value=0, max_value=200, allow_nan=False).map(lambda h: round(h, 3))


@settings(max_examples=200, deadline=None)
@given(start=starts, amount=hours)
def test_deadline_is_working_time_and_measures_back(start: dt.datetime, amount: float) -> None:
    deadline = CAL.add_working_time(start, hours=amount)
    assert CAL.is_working_time(deadline)
    assert deadline >= start
    assert CAL.working_time_between(start, deadline) == dt.timedelta(hours=amount)


@settings(max_examples=100, deadline=None)
@given(start=starts, n=st.integers(min_value=0, max_value=30))
def test_days_deadline_lands_on_working_day(start: dt.datetime, n: int) -> None:
    deadline = CAL.add_working_time(start, days=n)
    assert CAL.is_working_day(deadline.date())
    assert CAL.working_time_between(start, deadline) == n * CAL.working_day


@settings(max_examples=100, deadline=None)
@given(a=starts, b=starts, c=starts)
def test_between_is_additive(a: dt.datetime, b: dt.datetime, c: dt.datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert CAL.working_time_between(a, c) == (
        CAL.working_time_between(a, b) + CAL.working_time_between(b, c)
    )


def test_empty_calendar_uses_weekday_rule() -> None:
    cal = WorkCalendar()
    assert cal.is_working_day(dt.date(2025, 10, 1))  # no data: a Wednesday works
    assert not cal.is_working_day(dt.date(2025, 10, 4))
