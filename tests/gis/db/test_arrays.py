"""gis.db.arrays: literals PostgreSQL reads back as the values sent."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db.arrays import float_array, int_array, text_array


@given(st.lists(st.floats(allow_infinity=False, width=64), max_size=50))
def test_floats_come_back_exactly_and_nan_as_null(values: list[float]) -> None:
    literal = float_array(values)
    assert literal.startswith("{") and literal.endswith("}")
    items = literal[1:-1].split(",") if values else []
    for item, value in zip(items, values, strict=True):
        if math.isnan(value):
            assert item == "NULL"
        else:
            assert float(item) == value


def test_postgresql_reads_the_literals(db: Session) -> None:
    row = db.execute(
        text("SELECT CAST(:f AS float8[]), CAST(:i AS int8[]), CAST(:t AS text[])"),
        {
            "f": float_array([1.5, float("nan"), 119.13012345678901]),
            "i": int_array([3, -2, 0]),
            "t": text_array(["YDT-1", "NULL", "a.b:c_d"]),
        },
    ).one()
    assert row[0] == [1.5, None, 119.13012345678901]
    assert row[1] == [3, -2, 0]
    assert row[2] == ["YDT-1", "NULL", "a.b:c_d"]  # quoted: the text NULL, not a null


@pytest.mark.parametrize("bad", ['a"b', "a,b", "a}b", "a b", "", "a\\b", "设备"])
def test_text_that_would_need_quoting_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        text_array(["ok", bad])
