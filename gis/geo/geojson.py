"""GeoJSON out: features, pages of features, bounding boxes, JSON-ready values.

Coordinates are WGS84 lon/lat with ``GEOJSON_DECIMALS`` decimals (1e-7
degrees, about 1 cm). Every value that leaves gis for JSON passes through
``json_value`` (dates as ISO 8601, decimals and numpy scalars as Python
numbers, NaN and infinities as None), one definition for every package.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from gis.errors import InvalidParameterError

GEOJSON_DECIMALS = 7
"""Coordinate decimals in GeoJSON output: 1e-7 degrees is about 1 cm."""

Feature = dict[str, Any]


@dataclass(frozen=True)
class BBox:
    """A WGS84 bounding box in degrees: west, south, east, north."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def as_list(self) -> list[float]:
        return [self.min_lon, self.min_lat, self.max_lon, self.max_lat]

    def contains(self, lon: Any, lat: Any) -> Any:
        """Whether points (scalars or numpy arrays of degrees) lie in the box, edges included."""
        return (
            (lon >= self.min_lon)
            & (lon <= self.max_lon)
            & (lat >= self.min_lat)
            & (lat <= self.max_lat)
        )


@dataclass
class Page:
    """One page of features and how many features match in total."""

    features: list[Feature] = field(default_factory=list)
    number_matched: int = 0


_BBOX_HELP = (
    "Give bbox as four comma-separated numbers minLon,minLat,maxLon,maxLat in WGS84 "
    "degrees, e.g. bbox=119.10,36.68,119.25,36.75."
)


def parse_bbox(value: str | Sequence[float] | None) -> BBox | None:
    """A validated :class:`BBox` from ``"minLon,minLat,maxLon,maxLat"``, or None if absent.

    Longitudes must lie in -180..180 and latitudes in -90..90 degrees, and each
    minimum must be below its maximum (boxes across the antimeridian are not
    supported: no Chinese district needs them).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    parts: list[Any] = value.split(",") if isinstance(value, str) else list(value)
    if len(parts) != 4:
        raise InvalidParameterError(f"bbox has {len(parts)} values, expected 4. {_BBOX_HELP}")
    try:
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"bbox {value!r} contains something that is not a number. {_BBOX_HELP}"
        ) from None
    if not all(math.isfinite(n) for n in numbers):
        raise InvalidParameterError(f"bbox values must be finite numbers. {_BBOX_HELP}")
    box = BBox(*numbers)
    for name, lo, hi, limit in (
        ("longitude", box.min_lon, box.max_lon, 180.0),
        ("latitude", box.min_lat, box.max_lat, 90.0),
    ):
        if not (-limit <= lo <= limit and -limit <= hi <= limit):
            raise InvalidParameterError(
                f"bbox {name} values must lie in -{limit:g}..{limit:g} degrees; "
                f"got {lo:g} and {hi:g}. Was the order lat/lon instead of lon/lat? {_BBOX_HELP}"
            )
        if lo >= hi:
            raise InvalidParameterError(
                f"bbox minimum {name} {lo:g} is not below the maximum {hi:g}. {_BBOX_HELP}"
            )
    return box


def json_value(value: Any) -> Any:
    """A value as JSON can carry it: ISO 8601 times, plain numbers, None for NaN and inf."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_object(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every value of a mapping (a dataclass's ``asdict``, a row) through :func:`json_value`."""
    return {k: json_value(v) for k, v in values.items()}


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table's rows as JSON objects (numpy scalars as Python ones, NaN and inf as None)."""
    return [json_object(row) for row in frame.to_dict(orient="records")]


def rounded(value: float | np.floating[Any], decimals: int) -> float | None:
    """``value`` rounded to ``decimals``, or None where it is NaN or infinite."""
    v = float(value)
    return round(v, decimals) if math.isfinite(v) else None


def point(lon: float, lat: float) -> dict[str, Any]:
    """A GeoJSON Point at WGS84 degrees, rounded to ``GEOJSON_DECIMALS``."""
    return {
        "type": "Point",
        "coordinates": [round(float(lon), GEOJSON_DECIMALS), round(float(lat), GEOJSON_DECIMALS)],
    }


def feature(feature_id: Any, geometry: Any, properties: Mapping[str, Any]) -> Feature:
    """A GeoJSON Feature; properties pass through :func:`json_value`."""
    return {
        "type": "Feature",
        "id": feature_id,
        "geometry": geometry,
        "properties": json_object(properties),
    }
