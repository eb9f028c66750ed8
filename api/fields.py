"""Field types every request shares: text PostgreSQL can store, finite numbers, ids, datums.

Every body, query and form field is one of these, so that a value the
database cannot hold (a NUL character, an unpaired surrogate, a number out of
its column's range, text longer than its column) is refused here as a 4xx
naming the field, never discovered by PostgreSQL as a 500. A body's
``datum`` becomes a ``gis.geo.datum.Datum`` here, while the body is
validated, so gis receives a typed value it never parses again.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, PlainSerializer, PlainValidator, WithJsonSchema
from sqlalchemy import Column, String
from sqlalchemy.orm import InstrumentedAttribute

from gis.geo.datum import GEOGRAPHIC_DATUMS, WGS84, Datum, parse_geographic_datum
from gis.principal import ACTOR_MAX

TEXT_MAX = 2000
"""Characters of a free-text field stored in an unbounded TEXT column (a description, a note)."""
INT4_MAX = 2**31 - 1
"""The largest value of an INTEGER column (ids of areas, grids, staff, facilities)."""
INT8_MAX = 2**63 - 1
"""The largest value of a BIGINT column (ids of buildings and incidents)."""


def refuse_unstorable(value: str) -> str:
    """``value``, unless it holds a character PostgreSQL's text cannot store.

    NUL (U+0000) ends a C string and is refused by every text column; an
    unpaired surrogate (U+D800-U+DFFF, sent as a JSON escape such as
    ``\\ud800``) is not a character at all and has no UTF-8 form.
    """
    if "\x00" in value:
        raise ValueError(
            f"the text contains a NUL character (U+0000) at position {value.index(chr(0))}; "
            "remove it (it cannot be stored)"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"the text contains an unpaired surrogate (U+{ord(value[exc.start]):04X}) at "
            f"position {exc.start}: it is not a character; send the text as valid UTF-8"
        ) from None
    return value


def column_length(column: InstrumentedAttribute[Any] | Column[Any], default: int = TEXT_MAX) -> int:
    """Characters ``column`` holds: its VARCHAR length, or ``default`` for TEXT."""
    expression = column.expression if isinstance(column, InstrumentedAttribute) else column
    kind = getattr(expression, "type", None)
    if isinstance(kind, String) and kind.length is not None:
        return int(kind.length)
    return default


Text = Annotated[str, AfterValidator(refuse_unstorable)]
"""Text that can be stored: no NUL, no unpaired surrogate. Give its length with
``Field(max_length=...)`` (``column_length`` of its column, or ``TEXT_MAX``)."""

Finite = Annotated[float, Field(allow_inf_nan=False)]
"""A number that is neither NaN nor infinite."""

Int4 = Annotated[int, Field(ge=-INT4_MAX - 1, le=INT4_MAX)]
"""A whole number an INTEGER column holds."""

Id4 = Annotated[int, Field(ge=1, le=INT4_MAX)]
"""The id of a row whose key is an INTEGER (staff, facilities)."""

Id8 = Annotated[int, Field(ge=1, le=INT8_MAX)]
"""The id of a row whose key is a BIGINT (buildings, incidents)."""

Actor = Annotated[
    Text,
    Field(min_length=1, max_length=ACTOR_MAX, pattern=r"\S", description="Who does this."),
]
"""The name of who acts, until accounts exist (not blank)."""


def _datum(value: Any) -> Datum:
    if isinstance(value, Datum):
        return value
    if not isinstance(value, str):
        raise ValueError(f"datum must be text, one of: {', '.join(GEOGRAPHIC_DATUMS)}")
    return parse_geographic_datum(refuse_unstorable(value))


LonLatDatum = Annotated[
    Datum,
    PlainValidator(_datum),
    PlainSerializer(lambda datum: datum.label, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "default": WGS84.label,
            "examples": list(GEOGRAPHIC_DATUMS),
            "description": "Datum of lon/lat: wgs84 (default), cgcs2000, gcj02 (Amap, Tencent, "
            "WeChat) or bd09 (Baidu).",
        }
    ),
]
"""The datum of a lon/lat pair, parsed at the edge."""
