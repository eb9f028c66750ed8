"""Code layout of the grid hierarchy (GB/T 2260 lineage, GB/T 30428.1).

district 6 digits + subdistrict 3 + community 3 + grid 3 = 15 digits. Grids are
numbered west→east, north→south inside their community: in reading order, by
rows from north to south and west to east within a row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import StrEnum

import numpy as np

from gis.errors import InvalidParameterError


class Level(StrEnum):
    """A level of the hierarchy, lowest first: also the level that owns a case (四级联动)."""

    GRID = "grid"
    COMMUNITY = "community"
    SUBDISTRICT = "subdistrict"
    DISTRICT = "district"

    @property
    def name_zh(self) -> str:
        return _LEVEL_ZH[self]

    @property
    def code_length(self) -> int:
        """Digits of a code at this level."""
        return CODE_LENGTH[self]


_LEVEL_ZH: Mapping[Level, str] = {
    Level.GRID: "网格",
    Level.COMMUNITY: "社区",
    Level.SUBDISTRICT: "街道",
    Level.DISTRICT: "区",
}
CODE_LENGTH: Mapping[Level, int] = {
    Level.DISTRICT: 6,
    Level.SUBDISTRICT: 9,
    Level.COMMUNITY: 12,
    Level.GRID: 15,
}
CODE_PATTERN: Mapping[Level, str] = {level: rf"^[0-9]{{{n}}}$" for level, n in CODE_LENGTH.items()}
"""Regular expression of a code at each level (for API parameter declarations)."""
_LEVEL_OF_LENGTH = {n: level for level, n in CODE_LENGTH.items()}
_CODE = re.compile(r"^[0-9]{6}([0-9]{3}){0,3}$")


def check_level(level: str) -> Level:
    """``level`` as a Level, or a clear error listing the levels."""
    try:
        return Level(level)
    except ValueError:
        raise InvalidParameterError(
            f"unknown level {level!r}; use one of: {', '.join(Level)}"
        ) from None


def check_code(code: str, level: Level | str) -> str:
    """``code`` if it has the digit layout of ``level`` (district .. grid), else a clear error."""
    level = check_level(level)
    if not re.fullmatch(CODE_PATTERN[level], code):
        raise InvalidParameterError(
            f"{code!r} is not a {level} code: a {level} code has exactly {level.code_length} "
            "digits."
        )
    return code


def level_of(code: str) -> Level:
    """The level of ``code``, from its length."""
    if not _CODE.match(code):
        raise InvalidParameterError(
            f"{code!r} is not a hierarchy code: expected 6, 9, 12 or 15 digits "
            "(district, subdistrict, community, grid)."
        )
    return _LEVEL_OF_LENGTH[len(code)]


def parent_code(code: str) -> str | None:
    """The code one level up, or None for a district."""
    level_of(code)
    return None if len(code) == 6 else code[:-3]


def child_code(parent: str, sequence: int) -> str:
    """The code of the ``sequence``-th child (1-based) of ``parent``."""
    if level_of(parent) is Level.GRID:
        raise InvalidParameterError("a grid has no children in the code hierarchy")
    if not 1 <= sequence <= 999:
        raise InvalidParameterError(f"sequence {sequence} is outside 1..999")
    return f"{parent}{sequence:03d}"


def reading_order(x: Sequence[float], y: Sequence[float], row_height: float) -> list[int]:
    """Indices of points sorted north→south by rows of ``row_height``, west→east in a row.

    ``x``/``y`` are metric coordinates (y grows northwards), typically the
    representative points of the grids of one community, and ``row_height`` a
    typical grid height. Rows start at the northernmost point, so the order does
    not depend on where the coordinate origin lies.
    """
    if row_height <= 0:
        raise InvalidParameterError("row_height must be positive (metres)")
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    if xs.size == 0:
        return []
    rows = np.floor((ys.max() - ys) / row_height).astype(int)
    return [int(i) for i in np.lexsort((xs, rows))]
