"""The pure parts of gis.areas.queries: phone masking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gis.areas.queries import mask_phone


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
