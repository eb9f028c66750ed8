"""Read what coverage needs from PostGIS into arrays, fast.

A million buildings must reach the numeric core in a fraction of a second, so
rows travel packed into a few bytea values decoded by numpy in one step, not
as one Python object per row; large tables are read in id ranges on parallel
connections that share one exported snapshot, so the parts are consistent.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from sqlalchemy import Connection, text

from gis.areas.hierarchy import AreaTables, load_areas
from gis.coverage.catalogue import CoverageMethod, check_radius, facility_type
from gis.coverage.core import CoverageIndex, true_distance
from gis.coverage.network import NetworkCoverageIndex, WalkContext, load_walk
from gis.db.packed import EWKB_POINT, packed_rows
from gis.geo.metric import MetricPlane
from gis.settings import WalkSettings


@dataclass(frozen=True)
class BuildingArrays:
    """Buildings as arrays; ``xy`` caches plane coordinates in ``plane_epsg`` when known."""

    ids: NDArray[np.int64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    households: NDArray[np.int64]
    grid: NDArray[np.int64]  # index into AreaTables.grid_ids
    xy: NDArray[np.float64] | None = None
    plane_epsg: int | None = None

    def plane_xy(self, plane: MetricPlane) -> NDArray[np.float64]:
        if self.xy is not None and self.plane_epsg == plane.epsg:
            return self.xy
        return plane.to_plane(self.lon, self.lat).reshape(-1, 2)


BUILDING_FIELDS = [
    ("id", ">i8", "id"),
    ("p", EWKB_POINT, "location"),
    ("hh", ">i4", "households"),
    ("grid", ">i4", "grid_id"),
]
PARALLEL_MIN_ROWS = 200_000
READERS = 2  # connections reading ahead at once


def _building_chunks(conn: Connection, parts: int) -> Iterator[NDArray[np.void]]:
    """Buildings in id-range chunks, in order, each read while the previous is processed.

    Chunks come from extra connections that share ``conn``'s snapshot, so the
    server reads ahead on its own cores while the caller computes.
    """
    lo, hi, estimate = conn.execute(
        text(
            "SELECT min(id), max(id) + 1,"
            " (SELECT reltuples FROM pg_class WHERE oid = 'building'::regclass) FROM building"
        )
    ).one()
    if lo is None or parts <= 1 or (estimate or 0) < PARALLEL_MIN_ROWS:
        yield packed_rows(conn, "building", "", BUILDING_FIELDS)
        return
    snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
    edges = np.linspace(int(lo), int(hi), parts + 1).astype(np.int64)

    def part(bounds: tuple[int, int]) -> NDArray[np.void]:
        with conn.engine.connect().execution_options(isolation_level="REPEATABLE READ") as c:
            c.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            return packed_rows(
                c,
                "building",
                "WHERE id >= %(lo)s AND id < %(hi)s",
                BUILDING_FIELDS,
                {"lo": bounds[0], "hi": bounds[1]},
            )

    with ThreadPoolExecutor(max_workers=READERS) as pool:
        yield from pool.map(part, zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


def _to_arrays(rows: NDArray[np.void], areas: AreaTables) -> BuildingArrays:
    """Decode packed rows; buildings of grids no longer current drop out."""
    lookup = np.full(int(max(areas.grid_ids.max(), rows["grid"].max(initial=0))) + 1, -1)
    lookup[areas.grid_ids] = np.arange(len(areas.grid_ids))
    grid = lookup[rows["grid"].astype(np.int64)]
    keep = grid >= 0
    return BuildingArrays(
        ids=rows["id"][keep].astype(np.int64),
        lon=rows["p_x"][keep].astype(np.float64),
        lat=rows["p_y"][keep].astype(np.float64),
        households=rows["hh"][keep].astype(np.int64),
        grid=grid[keep].astype(np.int64),
    )


def load_buildings(conn: Connection, areas: AreaTables, parts: int = 8) -> BuildingArrays:
    """Every building of a current grid (in storage order, with its id).

    ``parts`` > 1 reads a large table in that many id ranges on extra
    connections, all seeing the snapshot of ``conn``'s transaction.
    """
    chunks = list(_building_chunks(conn, parts))
    return _to_arrays(np.concatenate(chunks) if len(chunks) > 1 else chunks[0], areas)


@dataclass(frozen=True)
class FacilityArrays:
    ids: NDArray[np.int64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]


def load_facilities(conn: Connection, type_code: str) -> FacilityArrays:
    facility_type(conn, type_code)
    rows = conn.execute(
        text("SELECT id, ST_X(geom), ST_Y(geom) FROM facility WHERE type_code = :c ORDER BY id"),
        {"c": type_code},
    ).all()
    return FacilityArrays(
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        lon=np.array([r[1] for r in rows], dtype=np.float64),
        lat=np.array([r[2] for r in rows], dtype=np.float64),
    )


@dataclass
class CoverageModel:
    """One facility type's coverage over the current buildings, with what it was built from.

    ``walk`` is set for coverage by walking distance (``index`` is then a
    ``NetworkCoverageIndex``), None for straight-line circles.
    """

    type_code: str
    areas: AreaTables
    buildings: BuildingArrays
    plane: MetricPlane
    index: CoverageIndex
    walk: WalkContext | None = None

    @property
    def method(self) -> CoverageMethod:
        return "network" if self.walk is not None else "circle"


def build_coverage(
    conn: Connection,
    type_code: str,
    radius_m: float,
    areas: AreaTables | None = None,
    buildings: BuildingArrays | None = None,
    parts: int = 8,
    walk: WalkContext | None = None,
    method: CoverageMethod = "circle",
) -> CoverageModel:
    """Coverage of ``type_code`` at ``radius_m`` metres from the database state.

    Without ``buildings`` the buildings are streamed: each chunk is projected
    and matched to its nearest facility while the server reads the next one,
    which is what keeps a million buildings within the two-second budget.
    With ``walk`` (built by ``load_walk`` for these ``buildings`` on the plane
    around ``areas.centre_lon``) or ``method="network"`` (the walk is read here)
    distances are walks over the network.
    """
    check_radius(radius_m)
    areas = areas or load_areas(conn)
    facilities = load_facilities(conn, type_code)
    plane = MetricPlane.around(areas.centre_lon)
    fxy = plane.to_plane(facilities.lon, facilities.lat).reshape(-1, 2)
    if method == "network" and walk is None:
        buildings = buildings or load_buildings(conn, areas, parts)
        walk = load_walk(conn, plane, buildings.plane_xy(plane), WalkSettings().max_leg_m)
    if walk is not None:
        if buildings is None:
            raise ValueError("a walking model needs the buildings its walk context was built for")
        network_index = NetworkCoverageIndex(
            buildings.plane_xy(plane),
            buildings.households,
            buildings.grid,
            len(areas.grid_ids),
            facilities.ids.tolist(),
            fxy,
            radius_m,
            walk,
            scale_at=plane.scale_at,
        )
        return CoverageModel(type_code, areas, buildings, plane, network_index, walk)
    if buildings is None:
        tree = cKDTree(fxy) if len(fxy) else None
        parts_out: list[tuple[BuildingArrays, NDArray[np.float64], NDArray[np.int64]]] = []
        for rows in _building_chunks(conn, parts):
            chunk = _to_arrays(rows, areas)
            xy = plane.to_plane(chunk.lon, chunk.lat).reshape(-1, 2)
            if tree is None:
                idx = np.full(len(xy), -1, dtype=np.int64)
            else:
                idx = np.asarray(tree.query(xy, k=1, workers=-1)[1], dtype=np.int64)
            parts_out.append((replace(chunk, xy=xy, plane_epsg=plane.epsg), xy, idx))
        buildings = _concat_buildings([p[0] for p in parts_out], plane.epsg)
        idx = np.concatenate([p[2] for p in parts_out])
        if len(fxy):
            dist = true_distance(buildings.plane_xy(plane), fxy[idx], plane.scale_at)
        else:
            dist = np.full(len(idx), np.inf)
        nearest: tuple[NDArray[np.float64], NDArray[np.int64]] | None = (dist, idx)
    else:
        nearest = None
    index = CoverageIndex(
        buildings.plane_xy(plane),
        buildings.households,
        buildings.grid,
        len(areas.grid_ids),
        facilities.ids.tolist(),
        fxy,
        radius_m,
        scale_at=plane.scale_at,
        nearest=nearest,
    )
    return CoverageModel(type_code, areas, buildings, plane, index)


def _concat_buildings(chunks: list[BuildingArrays], epsg: int) -> BuildingArrays:
    if len(chunks) == 1:
        return chunks[0]
    xys = [c.xy for c in chunks if c.xy is not None]
    return BuildingArrays(
        ids=np.concatenate([c.ids for c in chunks]),
        lon=np.concatenate([c.lon for c in chunks]),
        lat=np.concatenate([c.lat for c in chunks]),
        households=np.concatenate([c.households for c in chunks]),
        grid=np.concatenate([c.grid for c in chunks]),
        xy=np.concatenate(xys) if len(xys) == len(chunks) else None,
        plane_epsg=epsg,
    )
