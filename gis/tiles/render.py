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
from shapely.geometry import GeometryCollection
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gis.geo.datum import Datum, geometry_from_wgs84, passes_through, to_wgs84
from gis.incidents.visibility import Scope
from gis.tiles.grid import BUFFER, EXTENT, TileAddress
from gis.tiles.layers import TileLayer, coverage_select

PAD = BUFFER / EXTENT
"""The buffer as a fraction of the tile side: rows are selected this much beyond the edges."""
DATUM_MARGIN_DEG = 0.002
"""Extra degrees around the converted box (the offsets vary by metres within a tile)."""


SERIAL = text("SELECT set_config('max_parallel_workers_per_gather', '0', true)")
"""For the rest of the transaction: no parallel plan. A tile's few thousand rows cost less
than starting two parallel workers (processes, shared memory) for them: measured on the
1,000,000-building city (``benchmarks/tiles_bench.py``), 13 ms per tile instead of 25 ms."""


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
    if not any(layer.is_coverage for layer in drawn):  # coverage figures gain from workers
        session.execute(SERIAL)
    if passes_through(datum):
        return _render_stored(session, drawn, tile, scope)
    return _render_converted(session, drawn, tile, datum, scope)


def _box(w: float, s: float, e: float, n: float) -> Any:
    return func.ST_MakeEnvelope(w, s, e, n, 4326)


def _coverage_stored(session: Session, layer: TileLayer, tile: TileAddress) -> bytes:
    """A coverage layer's tile: its ``gis.coverage.tables`` select boxed and encoded."""
    src = coverage_select(layer).subquery("cov")
    geom = func.ST_AsMVTGeom(
        func.ST_Transform(src.c.geom, 3857),
        func.ST_TileEnvelope(tile.z, tile.x, tile.y),
        EXTENT,
        BUFFER,
        True,
    ).label("geom")
    rows = (
        select(src.c.id, *(src.c[f.name] for f in layer.fields), geom)
        .where(src.c.geom.op("&&")(_box(*tile.bounds_wgs84(PAD))))
        .subquery("t")
    )
    mvt = func.ST_AsMVT(rows.table_valued(), layer.id, EXTENT, "geom", "id")
    query = select(func.coalesce(mvt, b"")).select_from(rows).where(rows.c.geom.is_not(None))
    return bytes(session.execute(query).scalar_one())


def _coverage_rows(session: Session, layer: TileLayer, box: dict[str, float]) -> list[Any]:
    src = coverage_select(layer).subquery("cov")
    query = select(
        src.c.id,
        func.ST_AsBinary(src.c.geom).label("wkb"),
        *(src.c[f.name] for f in layer.fields),
    ).where(src.c.geom.op("&&")(_box(box["w"], box["s"], box["e"], box["n"])))
    return list(session.execute(query).all())


def _render_stored(
    session: Session, layers: Sequence[TileLayer], tile: TileAddress, scope: Scope | None
) -> RenderedTile:
    coverage = b"".join(
        _coverage_stored(session, layer, tile) for layer in layers if layer.is_coverage
    )
    layers = [layer for layer in layers if not layer.is_coverage]
    if not layers:
        return RenderedTile(coverage)
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
    return RenderedTile(bytes(row.mvt) + coverage, tuple(sorted(row.personal or ())))


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
        names = [f.name for f in layer.fields]
        if layer.is_coverage:
            rows = _coverage_rows(session, layer, box)
        else:
            rows_sql, extra = layer.source(tile.z, scope)
            keep = ", s.personal_full" if layer.per_viewer else ""
            sql = (
                f"SELECT s.id, ST_AsBinary(s.geom) AS wkb, {', '.join(f's.{c}' for c in names)}"
                f"{keep} FROM ({rows_sql}) s WHERE s.geom IS NOT NULL"
            )
            rows = list(session.execute(text(sql), {**box, **extra}).all())
        if not rows:
            continue
        if layer.per_viewer:
            personal += [int(r.id) for r in rows if r.personal_full]
        # One conversion call for the whole tile: as a collection, every vertex at once.
        collection = GeometryCollection(list(shapely.from_wkb([bytes(r.wkb) for r in rows])))
        converted = list(geometry_from_wgs84(collection, datum).geoms)
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
