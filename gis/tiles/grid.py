"""The tile grid: OGC's WebMercatorQuad (EPSG:3857, 256-pixel tiles), from morecantile.

A tile is addressed as the OGC API does, ``{tileMatrix}/{tileRow}/{tileCol}``
(z/y/x, row 0 at the top). ``tile_at`` checks an address against the matrix
set and a layer's zoom limits: a zoom or a row/column that does not exist is
``NotFoundError`` (the tile does not exist), never an error of the server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import morecantile

from gis.errors import NotFoundError

TMS_ID = "WebMercatorQuad"
EXTENT = 4096
"""MVT coordinates per tile side (the Mapbox Vector Tile default)."""
BUFFER = 64
"""MVT units drawn beyond each edge, so lines and symbols are not cut at tile edges."""


@cache
def matrix_set() -> morecantile.TileMatrixSet:
    """WebMercatorQuad as morecantile defines it (OGC 2D Tile Matrix Set 2.0)."""
    return morecantile.tms.get(TMS_ID)


@cache
def max_zoom() -> int:
    return int(matrix_set().maxzoom)


@dataclass(frozen=True)
class TileAddress:
    """A tile of WebMercatorQuad: zoom ``z``, row ``y`` (0 at the top) and column ``x``."""

    z: int
    y: int
    x: int

    def bounds_wgs84(self, pad: float = 0.0) -> tuple[float, float, float, float]:
        """(west, south, east, north) in WGS84 degrees, widened by ``pad`` of a tile side.

        Web Mercator's closed form (what morecantile's ``bounds`` computes through
        pyproj, at a fraction of the cost per tile); ``pad`` is applied in Mercator, as
        the MVT buffer is.
        """
        n = float(1 << self.z)
        x0, x1 = self.x - pad, self.x + 1 + pad
        y0, y1 = self.y - pad, self.y + 1 + pad
        return (_lon(x0, n), _lat(y1, n), _lon(x1, n), _lat(y0, n))

    def __str__(self) -> str:
        return f"{self.z}/{self.y}/{self.x}"


def _lon(x: float, n: float) -> float:
    return x / n * 360.0 - 180.0


def _lat(y: float, n: float) -> float:
    y = min(max(y, 0.0), n)  # the padded edge of a polar tile stays on the map
    return math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * y / n))))


def tile_at(z: int, y: int, x: int, minzoom: int = 0, maxzoom: int | None = None) -> TileAddress:
    """The tile z/y/x if it exists within ``minzoom``..``maxzoom``; NotFoundError otherwise."""
    top = max_zoom() if maxzoom is None else min(maxzoom, max_zoom())
    if not minzoom <= z <= top:
        raise NotFoundError(
            f"no tile matrix {z} here: this tile set has zoom levels {minzoom} to {top}",
            zh=f"没有第 {z} 级瓦片：此瓦片集的级别为 {minzoom} 至 {top}",
        )
    side = 1 << z
    if not (0 <= y < side and 0 <= x < side):
        raise NotFoundError(
            f"no tile {z}/{y}/{x}: at zoom {z} rows and columns run from 0 to {side - 1}",
            zh=f"没有瓦片 {z}/{y}/{x}：第 {z} 级的行号和列号为 0 至 {side - 1}",
        )
    return TileAddress(z, y, x)
