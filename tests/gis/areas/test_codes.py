"""Code layout and grid numbering order (west→east, north→south)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gis.areas.codes import (
    Level,
    check_code,
    check_level,
    child_code,
    level_of,
    parent_code,
    reading_order,
)
from gis.errors import InvalidParameterError


def test_levels_by_length() -> None:
    assert level_of("370705") == "district"
    assert level_of("370705001") == "subdistrict"
    assert level_of("370705001002") == "community"
    assert level_of("370705001002003") == "grid"


@pytest.mark.parametrize("bad", ["", "37070", "3707050", "37070500100a", "3707050010020031"])
def test_bad_codes_are_refused(bad: str) -> None:
    with pytest.raises(InvalidParameterError):
        level_of(bad)


def test_child_and_parent() -> None:
    assert child_code("370705001002", 7) == "370705001002007"
    assert parent_code("370705001002007") == "370705001002"
    assert parent_code("370705") is None
    with pytest.raises(InvalidParameterError):
        child_code("370705001002", 1000)
    with pytest.raises(InvalidParameterError):
        child_code("370705001002001", 1)


@given(st.from_regex(r"\A370705([0-9]{3}){0,3}\Z"))
def test_parent_is_prefix(code: str) -> None:
    parent = parent_code(code)
    if parent is not None:
        assert code.startswith(parent) and len(code) - len(parent) == 3


def test_reading_order_rows_then_west_to_east() -> None:
    # A 3 x 2 layout of grids 100 m high; y grows north.
    xs = [200, 0, 100, 0, 200, 100]
    ys = [105, 98, 102, 0, 3, -2]
    order = reading_order(xs, ys, row_height=100)
    assert order == [1, 2, 0, 3, 5, 4]


@given(
    st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), min_size=1, max_size=40, unique=True)
)
def test_reading_order_on_a_regular_lattice(cells: list[tuple[int, int]]) -> None:
    xs = [c * 100.0 for c, _ in cells]
    ys = [-r * 100.0 for _, r in cells]  # row r lies r rows south of row 0
    order = reading_order(xs, ys, row_height=100)
    ranked = [cells[i] for i in order]
    top = min(r for _, r in cells)
    assert ranked == sorted(cells, key=lambda c: (c[1] - top, c[0]))


def test_levels_run_from_the_grid_up_and_name_their_code_length() -> None:
    assert list(Level) == ["grid", "community", "subdistrict", "district"]
    assert [level.code_length for level in Level] == [15, 12, 9, 6]
    assert check_level("community") is Level.COMMUNITY
    with pytest.raises(InvalidParameterError, match="unknown level 'street'"):
        check_level("street")
    assert check_code("370705001", "subdistrict") == "370705001"
    with pytest.raises(InvalidParameterError, match="9 digits"):
        check_code("370705", Level.SUBDISTRICT)


def test_codes_are_checked_against_their_level() -> None:
    assert check_code("370705001001001", "grid") == "370705001001001"
    assert check_code("370705001001", "community") == "370705001001"
    with pytest.raises(InvalidParameterError, match="15 digits"):
        check_code("37070500100100", "grid")
    with pytest.raises(InvalidParameterError, match="12 digits"):
        check_code("37070500100a", "community")
