"""What a planner takes away from the coverage map: the buildings and grids of a box
with their coverage figures, and the facilities drawn beside them, as GeoDataFrames.

One extract feeds the GeoPackage and CSV exports and the printable map
(``layers.printmap``): what is in the file is what is on the paper. The
figures are those of ``gis.coverage.report`` for the model's facility type and
radius; names and addresses come from the database, so a file stands on its
own. The extract is bounded: a box holding more than ``max_buildings``
buildings is refused with the count and what to do, never cut short silently.

Units: distances in true metres, rates 0-1 (by households), coordinates WGS84.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from gis.areas.codes import Level
from gis.coverage.report import area_rollups, building_results
from gis.coverage.store import CoverageModel
from gis.errors import InvalidParameterError
from gis.geo.datum import STORAGE_SRID
from gis.geo.geojson import BBox

EXPORT_MAX_BUILDINGS = 50_000
"""At most this many buildings in one extract (the demo district has ~21,000): a
GeoPackage of that size is ~10 MB and takes a few seconds to write."""

CRS = f"EPSG:{STORAGE_SRID}"

BUILDING_COLUMNS = [
    "id",
    "address",
    "building_name",
    "grid_code",
    "grid_name",
    "community_code",
    "community_name",
    "households",
    "covered",
    "nearest_m",
    "nearest_facility_id",
    "nearest_facility_name",
    "facilities_within",
    "lon",
    "lat",
]
GRID_COLUMNS = [
    "code",
    "name",
    "community_code",
    "community_name",
    "households",
    "households_covered",
    "households_uncovered",
    "buildings",
    "buildings_covered",
    "coverage_rate",
    "mean_distance_m",
    "p90_distance_m",
]


@dataclass(frozen=True)
class CoverageExtract:
    """The contents of one export or printed map."""

    facility_type: str
    radius_m: float
    bbox: BBox | None
    buildings: gpd.GeoDataFrame
    """Points, one per building in the box: ``BUILDING_COLUMNS``."""
    grids: gpd.GeoDataFrame
    """Outlines of the grids that meet the box: ``GRID_COLUMNS`` (the whole grid's figures)."""
    facilities: gpd.GeoDataFrame
    """Points of the type's facilities in the box: ``id``, ``name``, ``address``."""


def coverage_extract(
    conn: Connection,
    model: CoverageModel,
    bbox: BBox | None = None,
    *,
    max_buildings: int | None = None,
) -> CoverageExtract:
    """The buildings, grids and facilities of ``bbox`` (the whole district if None) with
    the coverage figures of ``model``.

    Raises InvalidParameterError when the box holds more than ``max_buildings``
    buildings (default ``EXPORT_MAX_BUILDINGS``): zoom in, or export a smaller box.
    """
    if max_buildings is None:
        max_buildings = EXPORT_MAX_BUILDINGS
    results = building_results(model)
    if bbox is not None:
        results = results[bbox.contains(results["lon"].to_numpy(), results["lat"].to_numpy())]
    if len(results) > max_buildings:
        raise InvalidParameterError(
            f"this box holds {len(results):,} buildings, more than the {max_buildings:,} one "
            "export may hold; zoom in or export a smaller box (bbox)",
            zh=f"该范围内有 {len(results):,} 栋楼，超过单次导出上限 {max_buildings:,} 栋："
            "请放大地图或缩小导出范围 (bbox)",
        )
    grids = _grids(conn, model, bbox)
    buildings = _buildings(conn, results, grids)
    facilities = _facilities(conn, model.type_code, bbox)
    return CoverageExtract(
        model.type_code, float(model.index.radius_m), bbox, buildings, grids, facilities
    )


def _box_filter(bbox: BBox | None, column: str) -> tuple[str, dict[str, float]]:
    if bbox is None:
        return "", {}
    west, south, east, north = bbox.as_list()
    clause = (
        f" AND ST_Intersects({column}, ST_MakeEnvelope(:west, :south, :east, :north, "
        f"{STORAGE_SRID}))"
    )
    return clause, {"west": west, "south": south, "east": east, "north": north}


def _grids(conn: Connection, model: CoverageModel, bbox: BBox | None) -> gpd.GeoDataFrame:
    where, params = _box_filter(bbox, "g.geom")
    rows = conn.execute(
        text(
            "SELECT g.code, c.code, c.name, ST_AsBinary(g.geom) FROM grid g "
            "JOIN admin_area c ON c.id = g.community_id "
            f"WHERE g.valid_to IS NULL{where} ORDER BY g.code"
        ),
        params,
    ).all()
    figures = area_rollups(model, Level.GRID).set_index("code")
    codes = [r[0] for r in rows]
    table = figures.reindex(codes).reset_index()
    table.insert(2, "community_code", [r[1] for r in rows])
    table.insert(3, "community_name", [r[2] for r in rows])
    geometry = shapely.from_wkb([bytes(r[3]) for r in rows]) if rows else []
    return gpd.GeoDataFrame(table[GRID_COLUMNS], geometry=geometry, crs=CRS)


def _buildings(
    conn: Connection, results: pd.DataFrame, grids: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    ids = [int(i) for i in results["id"]]
    details = conn.execute(
        text(
            "SELECT b.id, b.address, b.name, c.name FROM building b "
            "JOIN grid g ON g.id = b.grid_id JOIN admin_area c ON c.id = g.community_id "
            "WHERE b.id = ANY(:ids)"
        ),
        {"ids": ids},
    ).all()
    by_id = {int(r[0]): (r[1], r[2], r[3]) for r in details}
    fids = sorted({int(f) for f in results["nearest_facility_id"] if f >= 0})
    found = conn.execute(text("SELECT id, name FROM facility WHERE id = ANY(:ids)"), {"ids": fids})
    names: dict[int, str] = {int(r[0]): r[1] for r in found}
    grid_names = dict(zip(grids["code"], grids["name"], strict=True))
    table = results.assign(
        address=[by_id.get(i, (None, None, None))[0] for i in ids],
        building_name=[by_id.get(i, (None, None, None))[1] for i in ids],
        community_name=[by_id.get(i, (None, None, None))[2] for i in ids],
        grid_name=[grid_names.get(code) for code in results["grid_code"]],
        nearest_facility_id=pd.array(
            [int(f) if f >= 0 else None for f in results["nearest_facility_id"]], dtype="Int64"
        ),
        nearest_facility_name=[names.get(int(f)) for f in results["nearest_facility_id"]],
        nearest_m=np.round(results["nearest_m"].to_numpy(dtype=float), 1),
        covered=results["covered"].astype(bool),
    )
    geometry = shapely.points(table["lon"].to_numpy(), table["lat"].to_numpy())
    return gpd.GeoDataFrame(
        table[BUILDING_COLUMNS].reset_index(drop=True), geometry=geometry, crs=CRS
    )


def _facilities(conn: Connection, type_code: str, bbox: BBox | None) -> gpd.GeoDataFrame:
    where, params = _box_filter(bbox, "geom")
    rows = conn.execute(
        text(
            "SELECT id, name, address, ST_X(geom), ST_Y(geom) FROM facility "
            f"WHERE type_code = :type{where} ORDER BY id"
        ),
        {"type": type_code, **params},
    ).all()
    return gpd.GeoDataFrame(
        {
            "id": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "address": [r[2] for r in rows],
        },
        geometry=shapely.points([r[3] for r in rows], [r[4] for r in rows]) if rows else [],
        crs=CRS,
    )
