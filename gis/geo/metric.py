"""A metric plane for distance work: CGCS2000 3-degree Gauss-Krüger zones.

Coverage distances must be true metres. Gauss-Krüger distances are longer than
true ones by the point scale factor k = 1 + e²/(2R²) (e = distance east of the
zone's central meridian): 6e-5 at Kuiwen, 6 cm per kilometre. Dividing a
short distance by k at one of its ends leaves about 2 mm per kilometre of
error, far below what a service radius means; the nearest-neighbour search
itself runs on plane coordinates, where k is monotone and smooth.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer

from gis.errors import InvalidParameterError

FIRST_ZONE_EPSG = 4534  # CGCS2000 / 3-degree Gauss-Kruger CM 75E
FIRST_ZONE_CM = 75
LAST_ZONE_CM = 135
FALSE_EASTING = 500_000.0
EARTH_RADIUS_M = 6_371_000.0


def zone_epsg(lon: float) -> int:
    """EPSG code of the CGCS2000 3° Gauss-Krüger zone (no zone prefix) containing ``lon``."""
    cm = round(lon / 3.0) * 3
    if not FIRST_ZONE_CM <= cm <= LAST_ZONE_CM:
        raise InvalidParameterError(
            f"longitude {lon:.3f} lies outside China's Gauss-Krüger zones (73.5°E-136.5°E)"
        )
    return FIRST_ZONE_EPSG + (cm - FIRST_ZONE_CM) // 3


@lru_cache(maxsize=16)
def _transformer(epsg: int) -> Transformer:
    return Transformer.from_crs(4326, epsg, always_xy=True)


@dataclass(frozen=True)
class MetricPlane:
    """Lon/lat ↔ Gauss-Krüger plane metres, and the scale factor back to true metres."""

    epsg: int

    @classmethod
    def around(cls, lon: float) -> MetricPlane:
        return cls(epsg=zone_epsg(lon))

    def to_plane(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
        """(n, 2) plane coordinates (metres on the projection)."""
        x, y = _transformer(self.epsg).transform(
            np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        )
        return np.column_stack([np.atleast_1d(x), np.atleast_1d(y)])

    def to_lonlat(self, xy: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        pts = np.asarray(xy, dtype=float).reshape(-1, 2)
        lon, lat = _transformer(self.epsg).transform(pts[:, 0], pts[:, 1], direction="INVERSE")
        return np.asarray(lon), np.asarray(lat)

    @staticmethod
    def scale_at(x: ArrayLike) -> NDArray[np.float64]:
        """Point scale factor k at plane easting ``x``: plane metres per true metre."""
        e = np.asarray(x, dtype=float) - FALSE_EASTING
        return 1.0 + e * e / (2.0 * EARTH_RADIUS_M**2)
