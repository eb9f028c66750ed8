"""Chinese datum handling: everything is stored in WGS84 (EPSG:4326).

Coordinates reach the platform in several datums: official data in CGCS2000
(EPSG:4490, or one of its Gauss-Krüger projections), consumer phones and map
apps in GCJ-02, Baidu in BD-09. The rule is to accept them only when the
caller names the datum, and to convert at the edge so that storage never mixes
them. CGCS2000 and WGS84 differ by centimetres, far below the accuracy of the
data we handle, so CGCS2000 geographic coordinates pass through unchanged.

GCJ-02 and BD-09 are not EPSG CRSs (they are deliberate obfuscations), so
pyproj cannot handle them; `prcoords` (public domain) supplies the forward
formulas and iterative inverses whose error is below 1 cm, whereas the
single-step inverses found in many libraries are off by 1-4 m.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import numpy as np
import prcoords
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from gis.errors import InvalidFeatureError

__all__ = [
    "BD09",
    "CGCS2000",
    "GCJ02",
    "GEOGRAPHIC_DATUMS",
    "STORAGE_SRID",
    "WGS84",
    "Datum",
    "DatumKind",
    "UnknownDatumError",
    "from_wgs84",
    "geojson_from_wgs84",
    "geometry_from_wgs84",
    "outside_hint",
    "parse_datum",
    "parse_geographic_datum",
    "passes_through",
    "to_storage_point",
    "to_wgs84",
]

STORAGE_SRID = 4326
"""Every geometry is stored in WGS84 lon/lat (EPSG:4326)."""

FloatArray = NDArray[np.float64]
_Convert = Callable[[prcoords.Coords], prcoords.Coords]


class UnknownDatumError(ValueError):
    """Raised for a datum name the platform will not guess at.

    A ValueError subclass so that API layers can turn it into a 400 without
    importing this module.
    """


class DatumKind(StrEnum):
    WGS84 = "wgs84"
    CGCS2000 = "cgcs2000"
    GCJ02 = "gcj02"
    BD09 = "bd09"
    EPSG = "epsg"


@dataclass(frozen=True, slots=True)
class Datum:
    """A coordinate reference the platform accepts.

    `epsg` is set for everything pyproj understands; GCJ-02 and BD-09 have no
    EPSG code, which is why this is not simply a `pyproj.CRS`.
    """

    kind: DatumKind
    epsg: int | None = None

    @property
    def label(self) -> str:
        """Canonical spelling, accepted back by `parse_datum` (for APIs and logs)."""
        if self.kind is DatumKind.EPSG:
            return f"EPSG:{self.epsg}"
        return self.kind.value

    @property
    def is_geographic(self) -> bool:
        """True when x/y are lon/lat degrees rather than projected metres."""
        if self.kind is not DatumKind.EPSG:
            return True
        assert self.epsg is not None
        return bool(_crs(self.epsg).is_geographic)

    @property
    def display_name(self) -> str:
        """How messages name it: WGS84, CGCS2000, GCJ-02, BD-09 or EPSG:xxxx."""
        return _DISPLAY.get(self.kind, self.label)

    def __str__(self) -> str:
        return self.label


WGS84 = Datum(DatumKind.WGS84, 4326)
CGCS2000 = Datum(DatumKind.CGCS2000, 4490)
GCJ02 = Datum(DatumKind.GCJ02)
BD09 = Datum(DatumKind.BD09)

_DISPLAY = {
    DatumKind.WGS84: "WGS84",
    DatumKind.CGCS2000: "CGCS2000",
    DatumKind.GCJ02: "GCJ-02",
    DatumKind.BD09: "BD-09",
}
GEOGRAPHIC_DATUMS = ("wgs84", "cgcs2000", "gcj02", "bd09")
"""Datums a lon/lat pair may be sent in (projected EPSG codes have no lon/lat)."""

_NAMED: dict[str, Datum] = {
    "wgs84": WGS84,
    "cgcs2000": CGCS2000,
    "gcj02": GCJ02,
    "bd09": BD09,
}
_BY_EPSG: dict[int, Datum] = {4326: WGS84, 4490: CGCS2000}

# "EPSG:4549", "epsg::4549", "4549" and the OGC URN used by GeoJSON "crs" members
# ("urn:ogc:def:crs:EPSG::4490", optionally with a version between the colons).
_EPSG_RE = re.compile(r"^(?:urn:ogc:def:crs:epsg:[0-9.]*:|epsg::?)?(\d{4,6})$")

_ACCEPTED = (
    "wgs84, cgcs2000, gcj02 (or gcj-02), bd09 (or bd-09), or an EPSG code for a "
    "horizontal CRS known to pyproj, e.g. EPSG:4326, 4490, EPSG:4549, EPSG:3857 "
    "(case-insensitive)"
)


def parse_datum(text: str) -> Datum:
    """Turn user or API input into a Datum, refusing anything ambiguous.

    Refusal matters more than convenience here: silently assuming WGS84 for an
    unrecognised GCJ-02 label would shift every point by hundreds of metres.
    """
    raw = text.strip().lower() if isinstance(text, str) else ""
    if not raw:
        raise UnknownDatumError(
            f"the datum is empty; leave it out for WGS84, or name one: {_ACCEPTED}"
        )
    compact = re.sub(r"[\s_-]", "", raw)
    if compact in _NAMED:
        return _NAMED[compact]
    match = _EPSG_RE.match(raw.replace(" ", ""))
    if match is None:
        raise UnknownDatumError(f"unknown datum {text!r}; accepted: {_ACCEPTED}")
    code = int(match.group(1))
    if code in _BY_EPSG:
        return _BY_EPSG[code]
    try:
        crs = _crs(code)
    except CRSError as exc:
        raise UnknownDatumError(
            f"EPSG:{code} is not known to pyproj; accepted: {_ACCEPTED}"
        ) from exc
    if not (crs.is_geographic or crs.is_projected):
        raise UnknownDatumError(
            f"EPSG:{code} ({crs.name}) is not a horizontal CRS; accepted: {_ACCEPTED}"
        )
    return Datum(DatumKind.EPSG, code)


@lru_cache(maxsize=64)
def _crs(epsg: int) -> CRS:
    return CRS.from_epsg(epsg)


@lru_cache(maxsize=64)
def _transformer(src_epsg: int, dst_epsg: int) -> Transformer:
    # Building a Transformer costs milliseconds (PROJ database lookups); reuse
    # it. pyproj >= 3.1 makes a Transformer safe to share between threads.
    return Transformer.from_crs(f"EPSG:{src_epsg}", f"EPSG:{dst_epsg}", always_xy=True)


def _as_pair(x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same shape, got {xa.shape} and {ya.shape}")
    return xa, ya


def _pointwise(
    lon: FloatArray, lat: FloatArray, convert: _Convert
) -> tuple[FloatArray, FloatArray]:
    # prcoords works on one (lat, lon) pair at a time; a single list
    # comprehension over plain floats keeps the Python overhead to one call per
    # point (about 30 us per GCJ-02 inverse, i.e. ~3 s for 100k points).
    pairs = [
        convert(prcoords.Coords(la, lo))
        for la, lo in zip(lat.ravel().tolist(), lon.ravel().tolist(), strict=True)
    ]
    out = np.array(pairs, dtype=np.float64).reshape(-1, 2)
    return out[:, 1].reshape(lon.shape), out[:, 0].reshape(lat.shape)


# Outside prcoords' China box GCJ-02 is defined as the identity. We test the box
# ourselves and call prcoords with check_china=False, because prcoords' own
# check warns on every such point (and the test suite turns warnings into
# errors). BD-09 applies its offset everywhere, as Baidu does.
_in_china = prcoords.sanity_in_china_p


def _wgs_to_gcj(c: prcoords.Coords) -> prcoords.Coords:
    return prcoords.wgs_gcj(c, False) if _in_china(c) else c


def _gcj_to_wgs(c: prcoords.Coords) -> prcoords.Coords:
    return prcoords.gcj_wgs_bored(c, False) if _in_china(c) else c


def _wgs_to_bd(c: prcoords.Coords) -> prcoords.Coords:
    return prcoords.gcj_bd(_wgs_to_gcj(c))


def _bd_to_wgs(c: prcoords.Coords) -> prcoords.Coords:
    return _gcj_to_wgs(prcoords.Coords(*prcoords.bd_gcj_bored(c, False)))


_POINTWISE: dict[DatumKind, tuple[_Convert, _Convert]] = {
    DatumKind.GCJ02: (_gcj_to_wgs, _wgs_to_gcj),
    DatumKind.BD09: (_bd_to_wgs, _wgs_to_bd),
}
"""Consumer datums: (to WGS84, from WGS84) for one point."""


def _convert(
    x: ArrayLike, y: ArrayLike, datum: Datum, *, to_storage: bool
) -> tuple[FloatArray, FloatArray]:
    xa, ya = _as_pair(x, y)
    if datum.kind in (DatumKind.WGS84, DatumKind.CGCS2000):
        return xa.copy(), ya.copy()
    if datum.kind in _POINTWISE:
        inverse, forward = _POINTWISE[datum.kind]
        return _pointwise(xa, ya, inverse if to_storage else forward)
    assert datum.epsg is not None
    src, dst = (datum.epsg, 4326) if to_storage else (4326, datum.epsg)
    out_x, out_y = _transformer(src, dst).transform(xa, ya)
    return np.asarray(out_x, dtype=np.float64), np.asarray(out_y, dtype=np.float64)


def to_wgs84(x: ArrayLike, y: ArrayLike, datum: Datum) -> tuple[FloatArray, FloatArray]:
    """Convert coordinates in `datum` to WGS84 lon/lat (the storage datum).

    x/y are lon/lat for geographic datums and easting/northing for projected
    EPSG codes; arrays of any shape are accepted and the shape is kept.
    """
    return _convert(x, y, datum, to_storage=True)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, datum: Datum) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 lon/lat to `datum`: the reverse of `to_wgs84`.

    Used to export to consumer maps and to simulate what a phone would send.
    """
    return _convert(lon, lat, datum, to_storage=False)


def passes_through(datum: Datum) -> bool:
    """True when stored WGS84 coordinates are already in ``datum`` (WGS84, CGCS2000)."""
    return datum.kind in (DatumKind.WGS84, DatumKind.CGCS2000)


def _from_wgs84_xy(datum: Datum) -> Callable[[FloatArray], FloatArray]:
    def convert(xy: FloatArray) -> FloatArray:
        x, y = from_wgs84(xy[:, 0], xy[:, 1], datum)
        return np.column_stack([x, y])

    return convert


def geometry_from_wgs84(geometry: BaseGeometry, datum: Datum) -> BaseGeometry:
    """A stored (WGS84) shapely geometry with every vertex in ``datum``, on the way out.

    The one conversion every output uses (REST, OGC API Features, tiles, exports),
    so that a point read back in the datum it was sent in lands where it was sent
    (the inverses here are iterative, below 1 cm).
    """
    if passes_through(datum):
        return geometry
    converted: BaseGeometry = shapely.transform(geometry, _from_wgs84_xy(datum))
    return converted


_GEOMETRY_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
)


def geojson_from_wgs84(value: Any, datum: Datum) -> Any:
    """A copy of ``value`` (a GeoJSON geometry, Feature, FeatureCollection or any JSON
    holding them) with every geometry's coordinates in ``datum``; the rest is shared.

    A ``bbox`` member is converted corner by corner. WGS84 and CGCS2000 return
    ``value`` itself.
    """
    if passes_through(datum):
        return value
    return _walk(value, _from_wgs84_xy(datum))


def _walk(value: Any, convert: Callable[[FloatArray], FloatArray]) -> Any:
    if isinstance(value, list):
        return [_walk(item, convert) for item in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("type")
    if kind in _GEOMETRY_TYPES and "coordinates" in value:
        out = dict(value)
        out["coordinates"] = _coordinates(value["coordinates"], convert)
        return out
    out = {}
    for key, item in value.items():
        if key == "bbox" and isinstance(item, list) and len(item) == 4:
            corners = convert(np.array([[item[0], item[1]], [item[2], item[3]]], dtype=float))
            out[key] = [*corners[0].tolist(), *corners[1].tolist()]
        else:
            out[key] = _walk(item, convert)
    return out


def _coordinates(coords: Any, convert: Callable[[FloatArray], FloatArray]) -> Any:
    """Nested GeoJSON positions converted in one call (extra ordinates such as z kept)."""
    flat: list[list[float]] = []

    def collect(c: Any) -> None:
        if c and isinstance(c[0], (int, float)):
            flat.append(c)
        else:
            for part in c:
                collect(part)

    collect(coords)
    if not flat:
        return coords
    xy = convert(np.array([p[:2] for p in flat], dtype=float)).tolist()
    it = iter(xy)

    def rebuild(c: Any) -> Any:
        if c and isinstance(c[0], (int, float)):
            return [*next(it), *c[2:]]
        return [rebuild(part) for part in c]

    return rebuild(coords)


def parse_geographic_datum(text: str) -> Datum:
    """``parse_datum`` for a lon/lat pair: a projected EPSG code (metres) is refused too."""
    datum = parse_datum(text)
    if not datum.is_geographic:
        raise UnknownDatumError(
            f"datum {text!r} is projected (metres), but lon/lat are degrees; "
            f"use one of: {', '.join(GEOGRAPHIC_DATUMS)}"
        )
    return datum


def to_storage_point(lon: float, lat: float, datum: Datum = WGS84) -> tuple[float, float]:
    """WGS84 (lon, lat) degrees of one point sent in a geographic ``datum``.

    Refuses (``InvalidFeatureError``) values that are not finite degrees or out
    of range, with a hint when lon and lat look swapped, and a point whose
    conversion leaves the earth (BD-09 at -180, -90 lands beyond the pole).
    """
    for name, value, limit in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidFeatureError(f"{name} must be a finite number of degrees, got {value!r}")
        if not -limit <= value <= limit:
            raise InvalidFeatureError(
                f"{name} {value:g} is outside -{limit:g}..{limit:g} degrees; "
                "were lon and lat swapped?"
            )
    if not datum.is_geographic:
        raise InvalidFeatureError(
            f"datum {datum.label} is projected (metres), but lon/lat are degrees; "
            f"use one of: {', '.join(GEOGRAPHIC_DATUMS)}"
        )
    x, y = to_wgs84([lon], [lat], datum)
    out_lon, out_lat = float(x[0]), float(y[0])
    if not (
        math.isfinite(out_lon)
        and math.isfinite(out_lat)
        and -180.0 <= out_lon <= 180.0
        and -90.0 <= out_lat <= 90.0
    ):
        raise InvalidFeatureError(
            f"lon/lat ({lon:g}, {lat:g}) in {datum.display_name} have no WGS84 position "
            f"(the conversion gives ({out_lon:g}, {out_lat:g})); {datum.display_name} "
            "offsets are meant for points in China: check lon, lat and datum"
        )
    return out_lon, out_lat


def outside_hint(datum: Datum) -> str:
    """What to check when a point given in ``datum`` lands outside the district.

    Taken for WGS84, a phone's GCJ-02 point lies 500-700 m off, often beyond
    the boundary; a point already converted may have been in another datum.
    """
    if datum.kind in (DatumKind.WGS84, DatumKind.CGCS2000):
        return (
            "a point from a phone map app (Amap, Tencent, WeChat) is GCJ-02: send "
            "datum=gcj02; Baidu is datum=bd09"
        )
    return f"it was converted from {datum.label}; check that the datum is really {datum.label}"
