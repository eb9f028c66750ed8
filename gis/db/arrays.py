"""Arrays sent as one text parameter: ``CAST(:x AS float8[])`` over ``'{1.5,NULL,2}'``.

psycopg adapts a Python list element by element in Python (a quoting check per text
element, a dumper call per number): for the thousand-row batches of position ingest
that was most of a batch's time. A literal built by ``join`` costs a fraction, and
the server parses it in C. Only values that need no quoting go in this way: finite
or missing numbers, and text of a known safe alphabet (``text_array`` checks).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

_SAFE_TEXT = re.compile(r"^[A-Za-z0-9._:-]+$")


def float_array(values: ArrayLike) -> str:
    """A float8[] literal; NaN becomes NULL."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    items = arr.tolist()
    if not np.isnan(arr).any():
        return "{" + ",".join(map(repr, items)) + "}"
    return "{" + ",".join("NULL" if v != v else repr(v) for v in items) + "}"


def int_array(values: ArrayLike) -> str:
    """An int8[] (or int4[], int2[]) literal."""
    return "{" + ",".join(map(str, np.asarray(values, dtype=np.int64).ravel().tolist())) + "}"


def text_array(values: Sequence[str]) -> str:
    """A text[] literal of values made of letters, digits and ``._:-`` only (device ids,
    states), each quoted (so that ``NULL`` stays text); anything else is a ValueError."""
    for value in values:
        if not _SAFE_TEXT.match(value):
            raise ValueError(f"{value[:40]!r} is not safe in an array literal")
    return "{" + ",".join(f'"{v}"' for v in values) + "}"
