"""Coverage as geometry: service circles, blind spots (盲点), visiting lists.

Geometry work runs in shapely on the metric plane of ``gis.geo.metric`` and is
reprojected to EPSG:4326 only on the way out. Circles are drawn inside the
numeric core's true-metre circles, so no uncovered household is ever drawn
inside one; how a blind spot is delimited is in ``docs/coverage.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, text

from gis.coverage.catalogue import check_radius, resolve_radius
from gis.coverage.network import NetworkCoverageIndex, WalkContext
from gis.coverage.report import uncovered
from gis.coverage.store import CoverageModel, build_coverage
from gis.db.models import SRID
from gis.errors import InvalidParameterError, NotFoundError
from gis.geo.metric import FALSE_EASTING, MetricPlane
from gis.network import service_areas

#: Metres around an uncovered building's footprint counted as its residential area.
RESIDENTIAL_BUFFER_M = 25.0
#: Segments per quarter circle of a service circle (256-gon: 7.5 cm sagitta per km).
CIRCLE_QUAD_SEGS = 64
WGS84 = f"EPSG:{SRID}"

CIRCLE_COLUMNS = ["facility_id", "name", "type_code", "address", "radius_m", "geometry"]
BLIND_SPOT_COLUMNS = [
    "community_code",
    "community_name",
    "part",
    "area_m2",
    "households",
    "buildings_uncovered",
    "geometry",
]


# --------------------------------------------------------------------------- geometry helpers


def _to_plane(geoms: NDArray[np.object_], plane: MetricPlane) -> NDArray[np.object_]:
    return shapely.transform(geoms, lambda xy: plane.to_plane(xy[:, 0], xy[:, 1]))


def _to_lonlat(geoms: NDArray[np.object_], plane: MetricPlane) -> NDArray[np.object_]:
    return shapely.transform(geoms, lambda xy: np.column_stack(plane.to_lonlat(xy)))


def _inscribed_circles(fxy: NDArray[np.float64], radius_m: float) -> NDArray[np.object_]:
    """Plane polygons inside the true-metre circles of ``gis.coverage.core``.

    The core covers a building at plane distance p when p <= r (k_f + k_b) / 2
    (k: scale factor). A plane circle of radius r (k_f + k_min) / 2, with k_min
    the smallest scale factor within reach, lies inside that set; its inscribed
    polygon (vertices on the circle) lies inside it too.
    """
    if len(fxy) == 0:
        return np.empty(0, dtype=object)
    x = fxy[:, 0]
    reach = radius_m * 1.01
    nearest_to_cm = np.clip(FALSE_EASTING, x - reach, x + reach)
    rho = radius_m * (MetricPlane.scale_at(x) + MetricPlane.scale_at(nearest_to_cm)) / 2.0
    return shapely.buffer(shapely.points(fxy), rho, quad_segs=CIRCLE_QUAD_SEGS)


def _true_area_m2(geoms: NDArray[np.object_]) -> NDArray[np.float64]:
    """Area in true m² of plane polygons (plane area over k² at the centroid)."""
    if len(geoms) == 0:
        return np.zeros(0)
    k = MetricPlane.scale_at(shapely.get_x(shapely.centroid(geoms)))
    return shapely.area(geoms) / (k * k)


def _facility_rows(conn: Connection, type_code: str) -> pd.DataFrame:
    rows = conn.execute(
        text(
            """SELECT id, name, type_code, address, ST_X(geom) AS lon, ST_Y(geom) AS lat
               FROM facility WHERE type_code = :c ORDER BY id"""
        ),
        {"c": type_code},
    ).all()
    return pd.DataFrame(rows, columns=["id", "name", "type_code", "address", "lon", "lat"])


def service_circles(
    conn: Connection,
    type_code: str,
    radius_m: float | None = None,
    *,
    model: CoverageModel | None = None,
) -> gpd.GeoDataFrame:
    """One service circle per facility of ``type_code`` (EPSG:4326), true metres.

    ``radius_m`` defaults to the type's catalogue radius. With ``model``, the
    circles are those of the model's open facilities (after any incremental
    change) drawn on its metric plane, and its radius applies; a walking model
    (``model.walk``) gives each facility's service area (where one can walk to
    it within the radius) instead of its circle.
    """
    if model is not None:
        if model.type_code != type_code:
            raise InvalidParameterError(f"the model is of {model.type_code!r}, not {type_code!r}")
        radius = model.index.radius_m
        facilities = _facility_rows(conn, type_code).set_index("id")
        slots = np.flatnonzero(model.index.active)
        ids = model.index.fids[slots]
        fxy = model.index.fxy[slots]
        plane = model.plane
        info = facilities.reindex(ids)
        names, addresses = info["name"].tolist(), info["address"].tolist()
    else:
        radius = resolve_radius(conn, type_code, radius_m)
        facilities = _facility_rows(conn, type_code)
        ids = facilities["id"].to_numpy(dtype=np.int64)
        plane = MetricPlane.around(float(np.median(facilities["lon"])) if len(ids) else 120.0)
        fxy = plane.to_plane(facilities["lon"], facilities["lat"]).reshape(-1, 2)
        names, addresses = facilities["name"].tolist(), facilities["address"].tolist()
    if model is not None and model.walk is not None:
        shapes = _facility_walk_areas(model, slots)
    else:
        shapes = _inscribed_circles(fxy, radius)
    polygons = _to_lonlat(shapes, plane)
    return gpd.GeoDataFrame(
        {
            "facility_id": ids.astype(np.int64),
            "name": names,
            "type_code": type_code,
            "address": addresses,
            "radius_m": radius,
        },
        geometry=gpd.GeoSeries(polygons, crs=WGS84),
        columns=CIRCLE_COLUMNS,
    )


# --------------------------------------------------------------------------- service areas

WALK_AREA_COLUMNS = ["type_code", "cutoff_m", "facilities", "area_m2", "geometry"]


def _facility_walk_areas(model: CoverageModel, slots: NDArray[np.int64]) -> NDArray[np.object_]:
    """Each open facility's own service area at the model's radius (plane polygons)."""
    walk, index = _walk_of(model), model.index
    assert isinstance(index, NetworkCoverageIndex)
    sources, open_slots = index.open_sources()
    row = {int(s): k for k, s in enumerate(open_slots.tolist())}
    out = [
        service_areas(
            walk.network, sources.take([row[int(s)]]), [index.radius_m], barriers=walk.barriers
        )[0]
        for s in slots.tolist()
    ]
    return np.array(out, dtype=object)


def _served_shapes(model: CoverageModel) -> NDArray[np.object_]:
    """What the model counts as served, as plane polygons: the circles of its open
    facilities, or the parts of the merged service area of a walking model."""
    index = model.index
    if model.walk is None:
        return _inscribed_circles(index.fxy[np.flatnonzero(index.active)], index.radius_m)
    assert isinstance(index, NetworkCoverageIndex)
    sources, _ = index.open_sources()
    area = service_areas(
        model.walk.network, sources, [index.radius_m], barriers=model.walk.barriers
    )[0]
    parts = shapely.get_parts(area)
    return np.asarray(parts[~shapely.is_empty(parts)], dtype=object)


def _walk_of(model: CoverageModel) -> WalkContext:
    if model.walk is None:
        raise InvalidParameterError(
            "service areas are walks: ask with method=network",
            zh="服务区按步行距离计算：请使用 method=network",
        )
    return model.walk


def walk_areas(
    model: CoverageModel, cutoffs_m: Sequence[float], facility_id: int | None = None
) -> gpd.GeoDataFrame:
    """Where one can walk to the nearest open facility of the model's type within each
    cut-off (EPSG:4326), one row per cut-off, all facilities merged (or only
    ``facility_id``'s: ``NotFoundError`` unless it is open in the model).

    Columns ``type_code``, ``cutoff_m``, ``facilities`` (open ones counted), ``area_m2``
    (true square metres) and the polygon. Barriers are never jumped and blocks
    no walk enters stay empty (``gis.network.areas``).
    """
    walk, index = _walk_of(model), model.index
    assert isinstance(index, NetworkCoverageIndex)
    cuts = sorted({check_radius(float(c)) for c in cutoffs_m})
    if facility_id is None:
        sources, slots = index.open_sources()
    else:
        slot = index.slot_of.get(int(facility_id))
        if slot is None or not index.active[slot]:
            raise NotFoundError(
                f"facility {facility_id} is not an open facility of type {model.type_code}; "
                f"list them with GET /api/v1/facilities?type={model.type_code}",
                zh=f"设施 {facility_id} 不是 {model.type_code} 类型的现有设施；"
                f"可用 GET /api/v1/facilities?type={model.type_code} 列出",
            )
        sources = index.facility_attachment(facility_id)
        slots = np.array([slot])
    polygons = np.array(
        service_areas(walk.network, sources, cuts, barriers=walk.barriers), dtype=object
    )
    return gpd.GeoDataFrame(
        {
            "type_code": model.type_code,
            "cutoff_m": cuts,
            "facilities": len(slots),
            "area_m2": np.round(np.nan_to_num(_true_area_m2(polygons)), 1),
        },
        geometry=gpd.GeoSeries(_to_lonlat(polygons, model.plane), crs=WGS84),
        columns=WALK_AREA_COLUMNS,
    )


# --------------------------------------------------------------------------- blind spots


def _community_polygons(conn: Connection, codes: list[str]) -> dict[str, BaseGeometry]:
    rows = conn.execute(
        text(
            """SELECT code, ST_AsBinary(geom) FROM admin_area
               WHERE level = 'community' AND valid_to IS NULL AND code = ANY(:codes)"""
        ),
        {"codes": codes},
    ).all()
    return {r[0]: shapely.from_wkb(bytes(r[1])) for r in rows}


def _footprints(conn: Connection, ids: NDArray[np.int64]) -> dict[int, BaseGeometry]:
    rows = conn.execute(
        text(
            """SELECT id, ST_AsBinary(footprint) FROM building
               WHERE footprint IS NOT NULL AND id = ANY(:ids)"""
        ),
        {"ids": [int(i) for i in ids]},
    ).all()
    geoms = shapely.from_wkb([bytes(r[1]) for r in rows]) if rows else []
    return dict(zip((int(r[0]) for r in rows), geoms, strict=True))


def blind_spots(
    conn: Connection,
    type_code: str,
    radius_m: float | None = None,
    *,
    model: CoverageModel | None = None,
) -> gpd.GeoDataFrame:
    """Blind spots per community (EPSG:4326), one row per connected part.

    Columns: ``community_code``, ``community_name``, ``part`` (1 = largest of
    the community), ``area_m2`` (true square metres), ``households`` and
    ``buildings_uncovered`` inside, polygon ``geometry``. Ordered by community
    code and part. Pass ``model`` to reuse a loaded coverage (and its
    incremental state); otherwise it is built at ``radius_m`` (default: the
    type's catalogue radius). See the module docstring for the definition.
    """
    if model is None:
        model = build_coverage(conn, type_code, resolve_radius(conn, type_code, radius_m))
    elif model.type_code != type_code:
        raise InvalidParameterError(f"the model is of {model.type_code!r}, not {type_code!r}")
    index, b, areas, plane = model.index, model.buildings, model.areas, model.plane
    rows = np.flatnonzero(~index.covered)
    if len(rows) == 0:
        return _empty_blind_spots()
    community = areas.community_of_grid[b.grid[rows]]
    points = shapely.points(index.bxy[rows])
    footprints = _footprints(conn, b.ids[rows])
    shapes = np.array(
        [footprints.get(int(i)) for i in b.ids[rows]],
        dtype=object,
    )
    has = np.array([s is not None for s in shapes], dtype=bool)
    if has.any():
        shapes[has] = _to_plane(shapes[has], plane)
        # A location outside its own footprint (an entrance point) still needs its area.
        outside = has.copy()
        outside[has] = ~shapely.covers(shapes[has], points[has])
        shapes[outside] = shapely.union(shapes[outside], points[outside])
    shapes[~has] = points[~has]
    # Mitred joins keep a grown rectangle a rectangle: a quarter of the vertices to union.
    grown = shapely.buffer(shapes, RESIDENTIAL_BUFFER_M, quad_segs=4, join_style="mitre")
    grid_of = b.grid[rows]

    circles = _served_shapes(model)
    circle_tree = shapely.STRtree(circles)
    codes_used = sorted({int(c) for c in community})
    outlines = _community_polygons(conn, [areas.community_codes[c] for c in codes_used])
    if outlines:
        plane_outlines = _to_plane(np.array(list(outlines.values()), dtype=object), plane)
        outlines = dict(zip(outlines, plane_outlines, strict=True))

    parts: list[BaseGeometry] = []
    part_comm: list[int] = []
    for c in codes_used:
        mine = np.flatnonzero(community == c)
        # Grid by grid, then the community: small unions first are several times faster.
        area = shapely.union_all(
            [shapely.union_all(grown[mine[grid_of[mine] == g]]) for g in np.unique(grid_of[mine])]
        )
        outline = outlines.get(areas.community_codes[c])
        clipped = area
        if outline is not None:
            clipped = shapely.intersection(area, outline)
        near = circle_tree.query(clipped)
        if len(near):
            clipped = shapely.difference(clipped, shapely.union_all(circles[near]))
        pieces = shapely.get_parts(clipped)
        pieces = pieces[shapely.get_type_id(pieces) == shapely.GeometryType.POLYGON]
        pieces = pieces[shapely.area(pieces) > 0]
        parts.extend(pieces.tolist())
        part_comm.extend([c] * len(pieces))
    part_geoms = np.array(parts, dtype=object)
    part_of = _assign_to_parts(points, community, part_geoms, np.array(part_comm))
    missing = part_of < 0
    if missing.any():
        # The community's whole area was clipped away (a building outside its own
        # community's outline): its buildings' areas stand unclipped.
        extra = [
            shapely.difference(g, shapely.union_all(circles[circle_tree.query(g)]))
            for g in grown[missing]
        ]
        start = len(part_geoms)
        part_geoms = np.concatenate([part_geoms, np.array(extra, dtype=object)])
        part_comm.extend(community[missing].tolist())
        part_of[missing] = np.arange(start, start + int(missing.sum()))
    households = np.bincount(
        part_of, weights=index.households[rows], minlength=len(part_geoms)
    ).astype(np.int64)
    buildings = np.bincount(part_of, minlength=len(part_geoms)).astype(np.int64)
    keep = buildings > 0
    frame = pd.DataFrame(
        {
            "community_index": np.array(part_comm, dtype=np.int64)[keep],
            "area_m2": _true_area_m2(part_geoms[keep]),
            "households": households[keep],
            "buildings_uncovered": buildings[keep],
        }
    )
    frame["geometry"] = part_geoms[keep]
    frame = frame.sort_values(
        ["community_index", "area_m2"], ascending=[True, False], kind="stable"
    ).reset_index(drop=True)
    frame["part"] = frame.groupby("community_index").cumcount() + 1
    frame["community_code"] = [areas.community_codes[i] for i in frame["community_index"]]
    frame["community_name"] = [areas.community_names[i] for i in frame["community_index"]]
    frame["area_m2"] = frame["area_m2"].round(1)
    geometry = gpd.GeoSeries(_to_lonlat(frame["geometry"].to_numpy(), plane), crs=WGS84)
    out = gpd.GeoDataFrame(frame.drop(columns=["geometry", "community_index"]), geometry=geometry)
    return out[BLIND_SPOT_COLUMNS].sort_values(["community_code", "part"]).reset_index(drop=True)


def _assign_to_parts(
    points: NDArray[np.object_],
    community: NDArray[np.int64],
    parts: NDArray[np.object_],
    part_comm: NDArray[np.int64],
) -> NDArray[np.int64]:
    """For each uncovered building, the part of its own community holding its location.

    A point on a part's edge within floating-point noise goes to the nearest
    part of its community; -1 where the community has no part at all.
    """
    out = np.full(len(points), -1, dtype=np.int64)
    if len(parts) == 0:
        return out
    tree = shapely.STRtree(parts)
    pt, pa = tree.query(points, predicate="intersects")
    same = part_comm[pa] == community[pt]
    pt, pa = pt[same], pa[same]
    out[pt[::-1]] = pa[::-1]  # the first hit wins where a point touches two parts
    for i in np.flatnonzero(out < 0):
        candidates = np.flatnonzero(part_comm == community[i])
        if len(candidates):
            d = shapely.distance(parts[candidates], points[i])
            out[i] = int(candidates[int(np.argmin(d))])
    return out


def _empty_blind_spots() -> gpd.GeoDataFrame:
    frame = pd.DataFrame(
        {
            "community_code": pd.Series([], dtype=object),
            "community_name": pd.Series([], dtype=object),
            "part": pd.Series([], dtype=np.int64),
            "area_m2": pd.Series([], dtype=float),
            "households": pd.Series([], dtype=np.int64),
            "buildings_uncovered": pd.Series([], dtype=np.int64),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=WGS84))[BLIND_SPOT_COLUMNS]


# --------------------------------------------------------------------------- visits


def uncovered_buildings(
    conn: Connection, model: CoverageModel, grid_code: str | None = None
) -> pd.DataFrame:
    """A grid manager's visiting list: uncovered buildings, farthest from a facility first.

    Columns: ``id``, ``grid_code``, ``community_code``, ``address``,
    ``building_name``, ``households``, ``nearest_m`` (true metres, NaN when the
    type has no facility), ``nearest_facility_id``, ``nearest_facility_name``,
    ``lon``, ``lat``.
    """
    frame = uncovered(model, grid_code)
    ids = [int(i) for i in frame["id"]]
    details = conn.execute(
        text("SELECT id, address, name FROM building WHERE id = ANY(:ids)"), {"ids": ids}
    ).all()
    by_id = {int(r[0]): (r[1], r[2]) for r in details}
    fids = sorted({int(f) for f in frame["nearest_facility_id"] if f >= 0})
    names: dict[int, str] = dict(
        conn.execute(
            text("SELECT id, name FROM facility WHERE id = ANY(:ids)"), {"ids": fids}
        ).all()
    )
    frame.insert(3, "address", [by_id.get(i, (None, None))[0] for i in ids])
    frame.insert(4, "building_name", [by_id.get(i, (None, None))[1] for i in ids])
    frame.insert(
        frame.columns.get_loc("nearest_facility_id") + 1,
        "nearest_facility_name",
        [names.get(int(f)) for f in frame["nearest_facility_id"]],
    )
    return frame.drop(columns=["covered", "facilities_within"])
