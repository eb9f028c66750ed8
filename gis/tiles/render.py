"""Drawing a tile: one statement of ``ST_AsMVT`` per request, or a converted round trip.

WGS84 and CGCS2000 (the same numbers at map scale, ``gis.geo.datum.passes_through``):
each layer's rows are selected by the stored column's GiST index in WGS84,
only they are transformed to EPSG:3857, clipped and quantised by
``ST_AsMVTGeom`` and encoded by ``ST_AsMVT``; the layers of a dataset tile are
concatenated in the same statement (an MVT is a list of layers, so the bytes
of two one-layer tiles put together are one tile of both).

GCJ-02 and BD-09 (Amap/Tencent and Baidu base maps): PostGIS cannot convert
to them, so the rows of a box wide enough for the datum's offset (the tile's
corners converted back to WGS84, plus the buffer) come to Python as WKB, each
vertex is converted by ``gis.geo.datum.geometry_from_wgs84`` (the one
conversion every output uses), and the converted geometries go back to
PostGIS to be clipped, quantised and encoded by the same ``ST_AsMVTGeom`` /
``ST_AsMVT`` as the fast path: one encoder, so a GCJ-02 tile differs from the
WGS84 one only by where its features lie (the ``mapbox-vector-tile``
library would encode too, but clipping, simplification and the feature
order would then differ between the two paths).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.geo.datum import Datum, geometry_from_wgs84, passes_through, to_wgs84
from gis.incidents.visibility import Scope
from gis.tiles.grid import BUFFER, EXTENT, TileAddress
from gis.tiles.layers import TileLayer

PAD = BUFFER / EXTENT
"""The buffer as a fraction of the tile side: rows are selected this much beyond the edges."""
DATUM_MARGIN_DEG = 0.002
"""Extra degrees around the converted box (the offsets vary by metres within a tile)."""


@dataclass(frozen=True)
class RenderedTile:
    """A tile's bytes (empty: no feature) and the personal cases it shows in full."""

    data: bytes
    personal_ids: tuple[int, ...] = ()


def _mvt_select(layer: TileLayer, rows: str) -> str:
    columns = ", ".join(f"s.{f.name}" for f in layer.fields)
    if layer.per_viewer:
        columns += ", s.personal_full"
    return f"""SELECT s.id, {columns},
                      ST_AsMVTGeom(ST_Transform(s.geom, 3857), ST_TileEnvelope(:z, :x, :y),
                                   {EXTENT}, {BUFFER}, true) AS geom
                 FROM ({rows}) s"""


def _personal(layer: TileLayer) -> str:
    return "array_agg(t.id) FILTER (WHERE t.personal_full)" if layer.per_viewer else "NULL"


def render(
    session: Session,
    layers: Sequence[TileLayer],
    tile: TileAddress,
    datum: Datum,
    scope: Scope | None,
) -> RenderedTile:
    """The tile ``tile`` of ``layers`` (those whose zooms include it) in ``datum``.

    ``scope``: who asks, for per-viewer layers (incidents).
    """
    drawn = [layer for layer in layers if layer.minzoom <= tile.z <= layer.maxzoom]
    if not drawn:
        return RenderedTile(b"")
    if passes_through(datum):
        return _render_stored(session, drawn, tile, scope)
    return _render_converted(session, drawn, tile, datum, scope)


def _render_stored(
    session: Session, layers: Sequence[TileLayer], tile: TileAddress, scope: Scope | None
) -> RenderedTile:
    w, s, e, n = tile.bounds_wgs84(PAD)
    params: dict[str, Any] = {"z": tile.z, "x": tile.x, "y": tile.y, "w": w, "s": s, "e": e, "n": n}
    parts = []
    for i, layer in enumerate(layers):
        rows, extra = layer.source(tile.z, scope)
        params.update(extra)
        select = _mvt_select(layer, rows)
        parts.append(
            f"""(SELECT COALESCE(ST_AsMVT(t, :name{i}, {EXTENT}, 'geom', 'id'), ''::bytea) AS mvt,
                        {_personal(layer)} AS personal
                   FROM ({select}) t WHERE t.geom IS NOT NULL) l{i}"""
            if not layer.per_viewer
            else f"""(SELECT COALESCE(ST_AsMVT(m, :name{i}, {EXTENT}, 'geom', 'id'), ''::bytea)
                        AS mvt, {_personal(layer)} AS personal
                   FROM ({select}) t,
                        LATERAL (SELECT t.id, {", ".join(f"t.{f.name}" for f in layer.fields)},
                                        t.geom) m
                  WHERE t.geom IS NOT NULL) l{i}"""
        )
        params[f"name{i}"] = layer.id
    mvt = " || ".join(f"l{i}.mvt" for i in range(len(layers)))
    personal = next(
        (f"l{i}.personal" for i, layer in enumerate(layers) if layer.per_viewer), "NULL"
    )
    sql = f"SELECT {mvt} AS mvt, {personal} AS personal FROM {', '.join(parts)}"
    row = session.execute(text(sql), params).one()
    return RenderedTile(bytes(row.mvt), tuple(sorted(row.personal or ())))


def _converted_box(tile: TileAddress, datum: Datum) -> tuple[float, float, float, float]:
    """The WGS84 box whose rows, converted to ``datum``, may fall into the tile's buffer."""
    w, s, e, n = tile.bounds_wgs84(PAD)
    xs = np.array([w, e, w, e, (w + e) / 2])
    ys = np.array([s, s, n, n, (s + n) / 2])
    lon, lat = to_wgs84(xs, ys, datum)
    return (
        float(min(lon.min(), w)) - DATUM_MARGIN_DEG,
        float(min(lat.min(), s)) - DATUM_MARGIN_DEG,
        float(max(lon.max(), e)) + DATUM_MARGIN_DEG,
        float(max(lat.max(), n)) + DATUM_MARGIN_DEG,
    )


def _render_converted(
    session: Session,
    layers: Sequence[TileLayer],
    tile: TileAddress,
    datum: Datum,
    scope: Scope | None,
) -> RenderedTile:
    w, s, e, n = _converted_box(tile, datum)
    box = {"w": w, "s": s, "e": e, "n": n}
    parts: list[bytes] = []
    personal: list[int] = []
    for layer in layers:
        rows_sql, extra = layer.source(tile.z, scope)
        names = [f.name for f in layer.fields]
        keep = ", s.personal_full" if layer.per_viewer else ""
        select = (
            f"SELECT s.id, ST_AsBinary(s.geom) AS wkb, {', '.join(f's.{c}' for c in names)}"
            f"{keep} FROM ({rows_sql}) s WHERE s.geom IS NOT NULL"
        )
        rows = session.execute(text(select), {**box, **extra}).all()
        if not rows:
            continue
        if layer.per_viewer:
            personal += [int(r.id) for r in rows if r.personal_full]
        geometries = shapely.from_wkb([bytes(r.wkb) for r in rows])
        converted = [geometry_from_wgs84(g, datum) for g in geometries]
        arrays: dict[str, Any] = {
            "ids": [int(r.id) for r in rows],
            "wkbs": [shapely.to_wkb(g) for g in converted],
        }
        columns = []
        for k, f in enumerate(layer.fields):
            arrays[f"p{k}"] = [getattr(r, f.name) for r in rows]
            columns.append(f"CAST(:p{k} AS {f.sql_type}[])")
        aliases = ", ".join(names)
        encode = f"""SELECT COALESCE(ST_AsMVT(t, :name, {EXTENT}, 'geom', 'id'), ''::bytea)
              FROM (SELECT u.id, {", ".join(f"u.{c}" for c in names)},
                           ST_AsMVTGeom(ST_Transform(ST_GeomFromWKB(u.wkb, 4326), 3857),
                                        ST_TileEnvelope(:z, :x, :y), {EXTENT}, {BUFFER}, true)
                             AS geom
                      FROM unnest(CAST(:ids AS bigint[]), CAST(:wkbs AS bytea[]),
                                  {", ".join(columns)}) AS u(id, wkb, {aliases})) t
             WHERE t.geom IS NOT NULL"""
        data = session.execute(
            text(encode), {**arrays, "name": layer.id, "z": tile.z, "x": tile.x, "y": tile.y}
        ).scalar_one()
        parts.append(bytes(data))
    return RenderedTile(b"".join(parts), tuple(sorted(personal)))
