"""Code layout of the grid hierarchy (GB/T 2260 lineage, GB/T 30428.1).

district 6 digits + subdistrict 3 + community 3 + grid 3 = 15 digits. Grids are
numbered west→east, north→south inside their community: in reading order, by
rows from north to south and west to east within a row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from gis.errors import InvalidParameterError

_LEVEL_LENGTHS = {6: "district", 9: "subdistrict", 12: "community", 15: "grid"}
_CODE = re.compile(r"^[0-9]{6}([0-9]{3}){0,3}$")


def level_of(code: str) -> str:
    """'district', 'subdistrict', 'community' or 'grid', from the length of ``code``."""
    if not _CODE.match(code):
        raise InvalidParameterError(
            f"{code!r} is not a hierarchy code: expected 6, 9, 12 or 15 digits "
            "(district, subdistrict, community, grid)."
        )
    return _LEVEL_LENGTHS[len(code)]


def parent_code(code: str) -> str | None:
    """The code one level up, or None for a district."""
    level_of(code)
    return None if len(code) == 6 else code[:-3]


def child_code(parent: str, sequence: int) -> str:
    """The code of the ``sequence``-th child (1-based) of ``parent``."""
    if level_of(parent) == "grid":
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
