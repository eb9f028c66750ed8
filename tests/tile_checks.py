"""Reading vector tiles as a client does (mapbox-vector-tile), shared by the tile tests."""

from __future__ import annotations

from typing import Any

import mapbox_vector_tile
import morecantile

TMS = morecantile.tms.get("WebMercatorQuad")
EXTENT = 4096


def decode(data: bytes) -> dict[str, Any]:
    """Layers by name, each ``{"features": [...]}``; coordinates in tile units, y down."""
    if not data:
        return {}
    decoded: dict[str, Any] = mapbox_vector_tile.decode(
        data, default_options={"y_coord_down": True}
    )
    return decoded


def features(data: bytes, layer: str) -> list[dict[str, Any]]:
    return list(decode(data).get(layer, {}).get("features", []))


def lonlat(z: int, y: int, x: int, gx: float, gy: float) -> tuple[float, float]:
    """WGS84 (or whatever datum the tile was drawn in) of tile coordinates gx, gy."""
    b = TMS.xy_bounds(morecantile.Tile(x, y, z))
    mx = b.left + gx / EXTENT * (b.right - b.left)
    my = b.top - gy / EXTENT * (b.top - b.bottom)
    point = TMS.lnglat(mx, my)
    return point.x, point.y


def point_of(feature: dict[str, Any]) -> tuple[float, float]:
    geometry = feature["geometry"]
    assert geometry["type"] == "Point", geometry
    gx, gy = geometry["coordinates"]
    return float(gx), float(gy)


def inside(feature: dict[str, Any], margin: float = 0.0) -> bool:
    """Whether a point feature lies in the tile proper (not its buffer), ``margin`` units in."""
    gx, gy = point_of(feature)
    return margin <= gx <= EXTENT - margin and margin <= gy <= EXTENT - margin


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """(z, y, x) of the tile holding a point."""
    t = TMS.tile(lon, lat, z)
    return z, t.y, t.x


def bbox_of(z: int, y: int, x: int, shrink: float = 0.0) -> str:
    """The tile's WGS84 bounds as a bbox= value, ``shrink`` of a side inside each edge."""
    b = TMS.bounds(morecantile.Tile(x, y, z))
    dx, dy = (b.right - b.left) * shrink, (b.top - b.bottom) * shrink
    return f"{b.left + dx},{b.bottom + dy},{b.right - dx},{b.top - dy}"
