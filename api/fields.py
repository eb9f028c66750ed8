"""Field types the request bodies share: finite numbers, who acts, a datum parsed once.

A body's ``datum`` becomes a ``gis.geo.datum.Datum`` here, while the body is
validated, so a wrong one is a 422 naming the field and gis receives a typed
value it never parses again.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema

from gis.geo.datum import GEOGRAPHIC_DATUMS, WGS84, Datum, parse_geographic_datum
from gis.principal import ACTOR_MAX

Finite = Annotated[float, Field(allow_inf_nan=False)]
"""A number that is neither NaN nor infinite."""

Actor = Annotated[
    str,
    Field(min_length=1, max_length=ACTOR_MAX, pattern=r"\S", description="Who does this."),
]
"""The name of who acts, until accounts exist (not blank)."""


def _datum(value: Any) -> Datum:
    if isinstance(value, Datum):
        return value
    if not isinstance(value, str):
        raise ValueError(f"datum must be text, one of: {', '.join(GEOGRAPHIC_DATUMS)}")
    return parse_geographic_datum(value)


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
