"""GeoReport v2 parameters: W3C datetimes, the 90-day window, statuses, ids, the client."""

from __future__ import annotations

import datetime as dt

import pytest

from api.open311 import params as sr
from gis.errors import InvalidParameterError

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-01T09:00:00+08:00", dt.datetime(2026, 3, 1, 9, tzinfo=CST)),
        ("2026-03-01T01:00:00Z", dt.datetime(2026, 3, 1, 1, tzinfo=dt.UTC)),
        ("2026-03-01T09:00:00 08:00", dt.datetime(2026, 3, 1, 9, tzinfo=CST)),
        ("2026-03-01T09:00 08:00", dt.datetime(2026, 3, 1, 9, tzinfo=CST)),
        ("2026-03-01", dt.datetime(2026, 3, 1, tzinfo=CST)),
        ("2026-03-01T09:00:00", dt.datetime(2026, 3, 1, 9, tzinfo=CST)),
    ],
)
def test_w3c_datetimes_are_read_as_meant(raw: str, expected: dt.datetime) -> None:
    assert sr.parse_w3c_datetime(raw, "start_date") == expected


def test_a_malformed_datetime_names_the_parameter() -> None:
    with pytest.raises(InvalidParameterError, match="end_date 'soon'"):
        sr.parse_w3c_datetime("soon", "end_date")


def test_the_window_is_the_last_90_days_by_default() -> None:
    assert sr.report_window(None, None, NOW) == (NOW - dt.timedelta(days=90), NOW)
    start = NOW - dt.timedelta(days=200)
    assert sr.report_window(start, None, NOW) == (start, start + dt.timedelta(days=90))
    assert sr.report_window(None, start, NOW) == (start - dt.timedelta(days=90), start)
    assert sr.report_window(start, start + dt.timedelta(days=90), NOW)[1] == start + sr.WINDOW
    with pytest.raises(InvalidParameterError, match="spans 91 days"):
        sr.report_window(start, start + dt.timedelta(days=91), NOW)
    with pytest.raises(InvalidParameterError, match="before start_date"):
        sr.report_window(NOW, start, NOW)


def test_statuses_and_ids_parse_or_say_what_is_wrong() -> None:
    assert sr.parse_statuses("open, CLOSED,open") == ("open", "closed")
    assert sr.parse_statuses(None) == ()
    with pytest.raises(InvalidParameterError, match="'pending'"):
        sr.parse_statuses("pending")
    assert sr.parse_request_ids("3, 1,3") == [3, 1]
    with pytest.raises(InvalidParameterError, match="'-2'"):
        sr.parse_request_ids("1,-2")
    with pytest.raises(InvalidParameterError, match="at most 1000"):
        sr.parse_request_ids(",".join(str(i) for i in range(1, 1002)))
