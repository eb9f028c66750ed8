"""GeoJSON helpers: bounding boxes from query strings, JSON-ready values."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gis.errors import InvalidParameterError
from gis.geo.geojson import BBox, json_value, parse_bbox, records

lons = st.floats(min_value=-180, max_value=180, allow_nan=False)
lats = st.floats(min_value=-90, max_value=90, allow_nan=False)


def test_bbox_parses_lon_lat_order() -> None:
    assert parse_bbox("119.10,36.68,119.25,36.75") == BBox(119.10, 36.68, 119.25, 36.75)
    assert parse_bbox(" 119.1 , 36.68 ,119.25, 36.75 ") == BBox(119.1, 36.68, 119.25, 36.75)
    assert parse_bbox([1, 2, 3, 4]) == BBox(1.0, 2.0, 3.0, 4.0)


@pytest.mark.parametrize("absent", [None, "", "  "])
def test_absent_bbox_is_none(absent: str | None) -> None:
    assert parse_bbox(absent) is None


@given(lons, lons, lats, lats)
def test_any_valid_box_round_trips(x0: float, x1: float, y0: float, y1: float) -> None:
    if x0 == x1 or y0 == y1:
        return
    west, east = sorted((x0, x1))
    south, north = sorted((y0, y1))
    box = parse_bbox(f"{west!r},{south!r},{east!r},{north!r}")
    assert box == BBox(west, south, east, north)


@given(lons, lons, lats, lats)
def test_inverted_boxes_are_refused(x0: float, x1: float, y0: float, y1: float) -> None:
    west, east = sorted((x0, x1))
    south, north = sorted((y0, y1))
    with pytest.raises(InvalidParameterError):
        parse_bbox([east, south, west, north] if west != east else [west, north, east, south])


@given(st.text(max_size=40))
def test_garbage_is_an_invalid_parameter_never_another_error(text: str) -> None:
    try:
        box = parse_bbox(text)
    except InvalidParameterError:
        return
    assert box is None or (box.min_lon < box.max_lon and box.min_lat < box.max_lat)


def test_values_leave_as_json_would_carry_them() -> None:
    assert json_value(dt.date(2026, 1, 2)) == "2026-01-02"
    assert json_value(Decimal("12.5")) == 12.5
    assert json_value(np.int64(3)) == 3 and type(json_value(np.int64(3))) is int
    assert json_value(float("nan")) is None and json_value(np.float64("inf")) is None
    frame = pd.DataFrame({"code": ["a", "b"], "rate": [0.5, math.nan]})
    assert records(frame) == [{"code": "a", "rate": 0.5}, {"code": "b", "rate": None}]


def test_a_box_knows_what_it_contains() -> None:
    box = BBox(119.0, 36.0, 120.0, 37.0)
    assert list(box.contains(np.array([119.5, 121.0, 120.0]), np.array([36.5, 36.5, 37.0]))) == [
        True,
        False,
        True,
    ]
