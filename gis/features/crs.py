"""Coordinate reference systems of the OGC API - Features (Part 2, CRS by reference).

Stored coordinates are WGS84 lon/lat (CRS84). Items can be answered in, and
``bbox``/``filter`` geometries read from:

- CRS84 ``http://www.opengis.net/def/crs/OGC/1.3/CRS84`` (the default, lon/lat);
- EPSG:4326 (WGS84) and EPSG:4490 (CGCS2000), both in their **lat/lon** axis order as
  the EPSG registry defines them (CGCS2000 equals WGS84 within centimetres, so the
  numbers are the stored ones, swapped);
- GCJ-02 and BD-09, the datums of Amap/Tencent and Baidu base maps, which have no
  EPSG code: this server's own URIs ``{base}/ogc/crs/gcj02`` and ``{base}/ogc/crs/bd09``
  (lon/lat, documented at those URLs), converted with ``gis.geo.datum``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.errors import InvalidParameterError
from gis.geo.datum import BD09, CGCS2000, GCJ02, WGS84, Datum, passes_through, to_wgs84
from gis.geo.geojson import BBox, parse_bbox

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG_4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
OWN_CRS_PATH = "/ogc/crs/"
"""This server's CRS documents live under ``{base}/ogc/crs/{name}``."""
OWN_CRS_NAMES = ("gcj02", "bd09")


@dataclass(frozen=True)
class Crs:
    """A CRS items can be answered in: its URI, its datum, whether axes are lat/lon."""

    uri: str
    datum: Datum
    lat_lon: bool = False

    @property
    def stored(self) -> bool:
        """Whether coordinates are the stored numbers (maybe swapped): no conversion."""
        return passes_through(self.datum)


def supported(base: str) -> list[Crs]:
    """Every CRS of this server, CRS84 first, with its URIs under ``base`` (no trailing /)."""
    return [
        Crs(CRS84, WGS84),
        Crs(EPSG_4326, WGS84, lat_lon=True),
        Crs(EPSG_4490, CGCS2000, lat_lon=True),
        Crs(f"{base}{OWN_CRS_PATH}gcj02", GCJ02),
        Crs(f"{base}{OWN_CRS_PATH}bd09", BD09),
    ]


_ALIASES = {
    "crs84": CRS84,
    "ogc:crs84": CRS84,
    "urn:ogc:def:crs:ogc:1.3:crs84": CRS84,
    "https://www.opengis.net/def/crs/ogc/1.3/crs84": CRS84,
    "epsg:4326": EPSG_4326,
    "urn:ogc:def:crs:epsg::4326": EPSG_4326,
    "https://www.opengis.net/def/crs/epsg/0/4326": EPSG_4326,
    "epsg:4490": EPSG_4490,
    "urn:ogc:def:crs:epsg::4490": EPSG_4490,
    "https://www.opengis.net/def/crs/epsg/0/4490": EPSG_4490,
}


def find_crs(value: str, base: str, what: str = "crs") -> Crs:
    """The CRS a ``crs``/``bbox-crs``/``filter-crs`` value names (its URI, or a short form
    such as ``EPSG:4326``); a 400 listing the URIs otherwise."""
    text = value.strip().strip("<>")
    known = supported(base)
    lowered = _ALIASES.get(text.lower(), text).lower()
    for crs in known:
        if crs.uri.lower() == lowered:
            return crs
    for name, crs in zip(OWN_CRS_NAMES, known[3:], strict=True):
        if lowered == name or lowered.endswith(f"{OWN_CRS_PATH}{name}"):
            return crs
    uris = ", ".join(c.uri for c in known)
    shown = text[:80].encode("unicode_escape").decode("ascii")
    raise InvalidParameterError(
        f"{what} {shown!r} is not a CRS this server answers in; use one of: {uris}",
        zh=f"不支持的坐标参考系 {what}={shown!r}；请使用以下之一：{uris}",
    )


def geometry_to_wgs84(geometry: BaseGeometry, crs: Crs) -> BaseGeometry:
    """A geometry given in ``crs`` (a filter's literal) as stored: lon/lat WGS84."""
    if crs.lat_lon:
        geometry = shapely.transform(geometry, lambda xy: xy[:, ::-1])
    if crs.stored:
        return geometry
    datum = crs.datum

    def convert(xy: np.ndarray) -> np.ndarray:
        x, y = to_wgs84(xy[:, 0], xy[:, 1], datum)
        return np.column_stack([x, y])

    converted: BaseGeometry = shapely.transform(geometry, convert)
    return converted


def bbox_to_wgs84(value: str, crs: Crs) -> BBox | None:
    """``bbox`` given in ``crs`` (lat/lon order for EPSG:4326/4490) as a WGS84 box.

    A GCJ-02/BD-09 box is converted corner by corner and widened to hold all four:
    the offsets vary by metres over a district, so the box stays a box.
    """
    parts = [p.strip() for p in value.split(",")]
    if crs.lat_lon and len(parts) == 4:
        parts = [parts[1], parts[0], parts[3], parts[2]]
    box = parse_bbox(",".join(parts))
    if box is None or crs.stored:
        return box
    xs = np.array([box.min_lon, box.max_lon, box.min_lon, box.max_lon])
    ys = np.array([box.min_lat, box.min_lat, box.max_lat, box.max_lat])
    lon, lat = to_wgs84(xs, ys, crs.datum)
    return BBox(float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
