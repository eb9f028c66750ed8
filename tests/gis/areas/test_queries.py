"""The pure parts of gis.areas.queries: bbox parsing, code checks and phone masking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gis.areas.queries import BBox, check_code, mask_phone, parse_bbox
from gis.errors import InvalidParameterError

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


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("17012341234", "170****1234"),
        ("170-1234-1234", "170****1234"),
        ("+86 138 0000 1111", "861******1111"),
        ("0536-8221234", "053****1234"),
        ("12345", "*****"),
        ("", ""),
        (None, None),
    ],
)
def test_phone_numbers_are_masked(phone: str | None, masked: str | None) -> None:
    assert mask_phone(phone) == masked


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_mobile_numbers_keep_only_seven_digits(phone: str) -> None:
    masked = mask_phone(phone)
    assert masked == phone[:3] + "****" + phone[-4:]


def test_codes_are_checked_against_their_level() -> None:
    assert check_code("370705001001001", "grid") == "370705001001001"
    assert check_code("370705001001", "community") == "370705001001"
    with pytest.raises(InvalidParameterError, match="15 digits"):
        check_code("37070500100100", "grid")
    with pytest.raises(InvalidParameterError, match="12 digits"):
        check_code("37070500100a", "community")
