"""The offline base map's streets: a noded network read per view, thinned and simplified by zoom.

A street row is one edge between junctions (lines meet at shared end points),
so that the same rows can later carry a walking network. A map asks for the
streets in its view at its zoom: only main roads below ``SECONDARY_MIN_ZOOM``
(a whole district on a phone is a few hundred pixels wide and local lanes
would be a grey smear), secondary roads from there, local ones from
``LOCAL_MIN_ZOOM``. The edges of one named road in view are merged into one
feature (long lines take their name once) and simplified to
half a screen pixel at that zoom.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from psycopg import Cursor
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db.copy import copy_rows, hex_ewkb
from gis.errors import InvalidParameterError
from gis.geo.geojson import BBox, Feature, feature


class StreetKind(enum.StrEnum):
    """How important a road is, which decides the zooms that draw it and its width."""

    MAIN = "main"
    """主干路: between and along subdistricts."""
    SECONDARY = "secondary"
    """次干路: along communities."""
    LOCAL = "local"
    """支路, 巷: along grids and blocks."""


SECONDARY_MIN_ZOOM = 14
LOCAL_MIN_ZOOM = 15
MIN_ZOOM = 0
MAX_ZOOM = 22
MAX_STREETS = 5000
"""Most lines one answer carries: a whole district at the highest zoom holds fewer."""

_MIN_ZOOM_OF = {
    StreetKind.MAIN: MIN_ZOOM,
    StreetKind.SECONDARY: SECONDARY_MIN_ZOOM,
    StreetKind.LOCAL: LOCAL_MIN_ZOOM,
}


def kinds_at(zoom: int) -> tuple[StreetKind, ...]:
    """The kinds of street a map draws at ``zoom`` (Web Mercator levels), main first."""
    check_zoom(zoom)
    return tuple(kind for kind in StreetKind if zoom >= _MIN_ZOOM_OF[kind])


def check_zoom(zoom: int) -> None:
    if not MIN_ZOOM <= zoom <= MAX_ZOOM:
        raise InvalidParameterError(
            f"zoom {zoom} is outside {MIN_ZOOM}..{MAX_ZOOM}; send the map's zoom level "
            "(Leaflet's map.getZoom(), rounded)"
        )


def tolerance_deg(zoom: int) -> float:
    """Half a screen pixel at ``zoom``, in degrees of longitude: what simplifying may move."""
    return 360.0 / (256 * 2**zoom) / 2


_STREETS_SQL = """
WITH hit AS (
  SELECT name, kind, geom FROM street
  WHERE geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326) AND kind = ANY(:kinds)
), merged AS (
  SELECT name, kind, ST_LineMerge(ST_Collect(geom)) AS geom FROM hit GROUP BY name, kind
)
SELECT name, kind, ST_AsGeoJSON(ST_Simplify(geom, :tol, true), 6)::json AS geometry,
       ST_Length(geom::geography) AS length_m
FROM merged
ORDER BY array_position(CAST(:order AS text[]), kind), ST_Length(geom) DESC, name
LIMIT :limit
"""

_WORLD = BBox(-180.0, -90.0, 180.0, 90.0)


def streets_in(
    session: Session, bbox: BBox | None, zoom: int, *, limit: int = MAX_STREETS
) -> list[Feature]:
    """The streets a map shows in ``bbox`` at ``zoom``: one feature per named road, main first.

    A road's edges in view are merged into a LineString, or a MultiLineString
    where they do not join up (a road leaving the view and coming back).
    Properties: ``name``, ``kind`` (``main``, ``secondary``, ``local``),
    ``length_m`` (metres of the road in the answer). The id is the road's rank
    in this answer (a merged road has no row of its own).
    """
    kinds = kinds_at(zoom)
    box = bbox or _WORLD
    rows = session.execute(
        text(_STREETS_SQL),
        {
            "w": box.min_lon,
            "s": box.min_lat,
            "e": box.max_lon,
            "n": box.max_lat,
            "kinds": [k.value for k in kinds],
            "order": [k.value for k in StreetKind],
            "tol": tolerance_deg(zoom),
            "limit": limit,
        },
    ).all()
    return [
        feature(
            i,
            row.geometry,
            {"name": row.name, "kind": row.kind, "length_m": round(float(row.length_m), 1)},
        )
        for i, row in enumerate(rows, start=1)
    ]


def street_count(session: Session) -> int:
    return int(session.execute(text("SELECT count(*) FROM street")).scalar_one())


def write_streets(
    cur: Cursor[Any],
    names: Sequence[str],
    kinds: Sequence[str],
    lines: Sequence[BaseGeometry],
    lengths_m: Sequence[float],
) -> int:
    """COPY streets (lon/lat LineStrings in EPSG:4326) into ``street``; returns the rows written."""
    unknown = set(kinds) - {k.value for k in StreetKind}
    if unknown:
        raise InvalidParameterError(
            f"street kinds {sorted(unknown)} are unknown; use main, secondary or local"
        )
    geoms = hex_ewkb(lines)
    rows = zip(names, kinds, geoms, (float(x) for x in lengths_m), strict=True)
    columns = ["name", "kind", "geom", "length_m"]
    written = copy_rows(cur, "street", columns, (list(r) for r in rows))
    cur.execute("ANALYZE street")
    return written
