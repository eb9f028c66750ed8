"""One attribute cell to a typed value, or the reason it is refused.

Cells come from GIS fields typed Real, from CSV text and from Excel exports,
so a whole number may arrive as ``3``, ``3.0`` or ``"3"``; all mean 3.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from gis.imports._spec import Column
from gis.localtime import CITY_TZ

# A reported_at further than this in the future is a wrong date, not clock skew.
_FUTURE_SLACK = dt.timedelta(days=1)

_FLOOR_AREA_MAX = 999_999_999.9  # numeric(10, 1)


def is_blank(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def as_text(value: Any) -> str:
    """Cell as text; whole floats (a GIS field typed Real) lose their '.0'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, np.integer | np.floating):
        return as_text(value.item())
    return str(value).strip()


def _unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored as it is, or None.

    A NUL cannot be stored at all; U+FFFD is what a reader puts where bytes
    were not valid text (an unpaired surrogate, a file in GBK read as UTF-8):
    stored, it would replace the real characters for good.
    """
    if "\x00" in text:
        return "contains a NUL character (U+0000); remove it"
    if "\ufffd" in text:
        return (
            "contains U+FFFD, the mark of text that could not be decoded; save the file as "
            "UTF-8 (a Shapefile: add a .cpg file naming its encoding, e.g. GBK)"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate, which is not a character; send valid UTF-8"
    return None


def _parse_int(value: Any) -> int:
    if isinstance(value, bool | np.bool_):
        raise ValueError
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if not float(value).is_integer():
            raise ValueError
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if re.fullmatch(r"[+-]?\d+\.0*", text):
        return int(text.split(".")[0])
    raise ValueError


def _parse_number(value: Any) -> float:
    if isinstance(value, bool | np.bool_):
        raise ValueError
    number = float(value) if isinstance(value, int | float | np.number) else float(str(value))
    if not math.isfinite(number):
        raise ValueError
    return number


def _parse_datetime(value: Any) -> dt.datetime:
    """A timezone-aware datetime; naive values are Beijing time, the city's clock."""
    if isinstance(value, pd.Timestamp):
        parsed = value.to_pydatetime()
    elif isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CITY_TZ)
    return parsed


def parse_cell(col: Column, value: Any, now: dt.datetime) -> tuple[Any, str | None]:
    """The typed value of one cell, or the reason it is refused."""
    if is_blank(value):
        if col.required:
            return None, f"missing {col.name}"
        return col.default, None
    if col.kind in ("text", "code"):
        text = as_text(value)
        unstorable = _unstorable(text)
        if unstorable:
            return None, f"{col.name} {unstorable}"
        if col.max_len is not None and len(text) > col.max_len:
            return None, f"{col.name} is longer than {col.max_len} characters"
        return text, None
    if col.kind == "datetime":
        try:
            when = _parse_datetime(value)
        except (ValueError, TypeError, OverflowError):
            return None, (
                f"{col.name} {as_text(value)!r} is not an ISO 8601 date and time "
                "(e.g. 2024-05-01T08:30:00+08:00; without an offset Beijing time is assumed)"
            )
        if when > now + _FUTURE_SLACK:
            return None, f"{col.name} {when.isoformat()} is in the future"
        return when, None
    try:
        number: float = _parse_int(value) if col.kind == "int" else _parse_number(value)
    except (ValueError, TypeError, OverflowError):
        what = "a whole number" if col.kind == "int" else "a number"
        return None, f"{col.name} {as_text(value)!r} is not {what}"
    if col.minimum is not None:
        if col.exclusive_minimum and number <= col.minimum:
            return None, f"{col.name} must be greater than {col.minimum:g}, got {number:g}"
        if number < col.minimum:
            return None, f"{col.name} must not be negative, got {number:g}"
    if col.name == "floor_area_m2" and number > _FLOOR_AREA_MAX:
        return None, f"floor_area_m2 {number:g} is too large"
    if col.kind == "int" and abs(number) > 2**31 - 1:
        return None, f"{col.name} {number:g} is too large"
    return number, None
