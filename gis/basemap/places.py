"""Place names of the base map: subdistricts, communities and grids at a point inside each.

Which level a map labels follows its zoom, as the streets do: subdistricts
while a whole district is in view, communities from ``COMMUNITY_MIN_ZOOM``,
grids from ``GRID_MIN_ZOOM`` (a grid of 250 households is a few hundred
pixels wide there). The point is ``ST_PointOnSurface``: always inside the
area, also for a concave one whose centroid falls outside.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.basemap.streets import check_zoom
from gis.geo.geojson import BBox, Feature, feature

COMMUNITY_MIN_ZOOM = 13
GRID_MIN_ZOOM = 16

_PLACES_SQL = """
SELECT code, name, level, ST_AsGeoJSON(ST_PointOnSurface(geom), 6)::json AS geometry
FROM (
  SELECT code, name, level::text AS level, geom FROM admin_area
  WHERE valid_to IS NULL AND level::text = ANY(:levels)
  UNION ALL
  SELECT code, name, 'grid', geom FROM grid WHERE valid_to IS NULL AND :grids
) AS area
WHERE geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)
ORDER BY code
"""


def levels_at(zoom: int) -> tuple[str, ...]:
    """The levels whose names a map shows at ``zoom``."""
    check_zoom(zoom)
    if zoom >= GRID_MIN_ZOOM:
        return ("grid",)
    if zoom >= COMMUNITY_MIN_ZOOM:
        return ("community",)
    return ("subdistrict",)


def places_in(session: Session, bbox: BBox | None, zoom: int) -> list[Feature]:
    """Point features of the areas a map labels in ``bbox`` at ``zoom``, by code.

    Properties: ``code``, ``name``, ``level`` (``subdistrict``, ``community``, ``grid``).
    """
    levels = levels_at(zoom)
    box = bbox or BBox(-180.0, -90.0, 180.0, 90.0)
    rows = session.execute(
        text(_PLACES_SQL),
        {
            "levels": [lv for lv in levels if lv != "grid"],
            "grids": "grid" in levels,
            "w": box.min_lon,
            "s": box.min_lat,
            "e": box.max_lon,
            "n": box.max_lat,
        },
    ).all()
    return [
        feature(row.code, row.geometry, {"code": row.code, "name": row.name, "level": row.level})
        for row in rows
    ]
