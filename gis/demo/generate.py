"""The demo district, Kuiwen (潍坊市奎文区, 370705), generated inside its real boundary.

Pure generation, no database. One function runs the generators in a fixed
order because they draw from one random stream: the same seed gives the same
district. docs/demo.md describes what comes out and why.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from gis.demo._buildings import make_buildings
from gis.demo._density import DensityField, sample_points
from gis.demo._facilities import make_facilities
from gis.demo._grids import as_multi, grid_frame, grid_pieces, in_reading_order
from gis.demo._histories import make_histories
from gis.demo._incidents import make_incidents
from gis.demo._mediation import apply_mediation, make_units
from gis.demo._partition import partition, seed_sites
from gis.demo._staff import make_staff
from gis.demo.inputs import Unit, units_from_divisions
from gis.demo.spec import (
    DEFAULT_SEED,
    DISTRICT_CODE,
    METRIC_CRS,
    OUTPUT_CRS,
    SAMPLE_SPACING_M,
    SNAP_M,
    TARGET_HOUSEHOLDS,
)
from gis.errors import InvalidParameterError


@dataclass(frozen=True)
class DemoNotes:
    """What the generator decided that a user of the demo may want to know."""

    villages_folded: int
    villages_as_communities: tuple[str, ...]
    communities_without_health_station: tuple[str, ...]


@dataclass(frozen=True)
class DemoDistrict:
    """Every layer of the demo district, in EPSG:4326.

    ``buildings`` has the point ``location`` as active geometry and the footprint
    in a second geometry column ``footprint``. ``staff`` rows are keyed by
    ``staff_key``; ``staff_grids`` links them to grid codes. ``incidents`` carry
    their place in the closed loop (handling level, handler's ``staff_key``,
    clock start, deadline, closing time, rework count, version) and
    ``incident_transitions`` every step of each, keyed by ``incident_ext_id``,
    in the order they happened. ``mediation_units`` (keyed by ``unit_key``) are the
    units disputes are handed to (``_mediation.py``; incidents and transitions name
    them by ``unit_key``).
    """

    district: gpd.GeoDataFrame
    subdistricts: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    incidents: gpd.GeoDataFrame
    incident_transitions: pd.DataFrame
    staff: pd.DataFrame
    staff_grids: pd.DataFrame
    mediation_units: pd.DataFrame
    notes: DemoNotes


def _metric_boundary(boundary_wgs84: BaseGeometry, to_metric: Transformer) -> BaseGeometry:
    """The district outline in metres, with vertices at most ~50 m apart."""
    geom = shapely.make_valid(shapely.segmentize(boundary_wgs84, 0.0005))
    geom = shapely.transform(geom, lambda c: np.column_stack(to_metric.transform(c[:, 0], c[:, 1])))
    polys = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 1.0]
    if not polys:
        raise InvalidParameterError("the district boundary holds no polygon")
    return shapely.set_precision(shapely.MultiPolygon(polys), SNAP_M)


def generate_demo(
    boundary_wgs84: BaseGeometry,
    divisions: pd.DataFrame,
    seed: int = DEFAULT_SEED,
    households: int = TARGET_HOUSEHOLDS,
) -> DemoDistrict:
    """The whole demo district inside ``boundary_wgs84`` (lon/lat), deterministic for ``seed``.

    ``divisions`` has columns code, name, level (district, subdistrict, community,
    village) and parent_code, as the statistics bureau lists them. ``households``
    is the district total to aim for; every community gets at least one grid, so
    the result holds at least ~250 households per community.
    """
    rng = np.random.default_rng(seed)
    district, villages_as_communities, villages_folded = units_from_divisions(divisions)
    to_metric = Transformer.from_crs(OUTPUT_CRS, METRIC_CRS, always_xy=True)
    boundary = _metric_boundary(boundary_wgs84, to_metric)
    density = DensityField(boundary, to_metric, rng)
    xy = sample_points(boundary, SAMPLE_SPACING_M, rng)
    mass = density(xy[:, 0], xy[:, 1])
    cell_area = SAMPLE_SPACING_M**2
    households_per_mass = households / mass.sum()

    # Subdistricts hold households in proportion to their number of communities.
    # Seeds nearer the old town take the lower (older) codes; balancing moves them.
    subs = district.children
    targets = np.array([len(s.children) for s in subs], dtype=float)
    init = seed_sites(xy, mass, len(subs), rng)
    init = init[np.argsort(np.hypot(*(init - np.array(density.core)).T), kind="stable")]
    for sub, geom in zip(
        subs, partition(boundary, xy, mass, targets, init, cell_area), strict=True
    ):
        sub.geom = geom

    # Communities, then the grids of each community.
    pieces: list[BaseGeometry] = []
    piece_comm: list[Unit] = []
    piece_households: list[int] = []
    for sub in subs:
        assert sub.geom is not None
        inside = shapely.contains_xy(sub.geom, xy[:, 0], xy[:, 1])
        sxy, smass = xy[inside], mass[inside]
        n = len(sub.children)
        shares = rng.uniform(0.75, 1.25, n)
        parts = (
            partition(sub.geom, sxy, smass, shares, seed_sites(sxy, smass, n, rng), cell_area)
            if n > 1
            else [sub.geom]
        )
        for unit, idx in zip(sub.children, in_reading_order(parts), strict=True):
            unit.geom = parts[idx]
        for comm in sub.children:
            assert comm.geom is not None
            inside = shapely.contains_xy(comm.geom, sxy[:, 0], sxy[:, 1])
            expected = smass[inside].sum() * households_per_mass
            split, split_households = grid_pieces(comm.geom, expected, density, rng)
            pieces.extend(split)
            piece_comm.extend([comm] * len(split))
            piece_households.extend(split_households)
    grids = grid_frame(pieces, piece_comm, piece_households, rng)

    buildings = make_buildings(grids, district, rng)
    built = buildings.groupby("grid_code")["households"].sum()
    assert (built.reindex(grids["code"]).to_numpy() == grids["households"].to_numpy()).all()

    comm_rows = []
    sub_name = {s.code: s.name for s in subs}
    for sub in subs:
        for comm in sub.children:
            g = grids[grids["community_code"] == comm.code]
            population = int(g["population"].sum())
            comm_rows.append(
                {
                    "code": comm.code,
                    "name": comm.name,
                    "parent_code": sub.code,
                    "subdistrict_code": sub.code,
                    "subdistrict_name": sub_name[sub.code],
                    "households": int(g["households"].sum()),
                    "population": population,
                    "floating_population": round(population * float(rng.uniform(0.2, 0.45))),
                    "geometry": as_multi(shapely.coverage_union_all(g.geometry.to_numpy())),
                }
            )
    communities = gpd.GeoDataFrame(comm_rows, geometry="geometry", crs=METRIC_CRS)
    subdistricts = _roll_up(communities, "subdistrict_code", subs, DISTRICT_CODE)
    district_frame = _roll_up(
        subdistricts.assign(district_code=DISTRICT_CODE), "district_code", [district], None
    )

    facilities, no_health = make_facilities(communities, buildings, district.name, rng)
    facilities.insert(0, "ext_id", [f"DEMO-F-{i + 1:05d}" for i in range(len(facilities))])
    staff, staff_grids = make_staff(grids, communities, rng)
    incidents = make_incidents(
        grids, buildings, shapely.union_all(grids.geometry.to_numpy()), district.name, rng
    )

    # Everything to lon/lat; grids first so that incidents fall into the stored grids.
    out = {
        name: frame.to_crs(OUTPUT_CRS)
        for name, frame in {
            "district": district_frame,
            "subdistricts": subdistricts,
            "communities": communities,
            "grids": grids,
            "facilities": facilities,
            "incidents": incidents,
        }.items()
    }
    out["communities"] = out["communities"].drop(columns=["subdistrict_code", "subdistrict_name"])
    b4326 = buildings.to_crs(OUTPUT_CRS)
    b4326["footprint"] = gpd.GeoSeries(buildings["footprint"], crs=METRIC_CRS).to_crs(OUTPUT_CRS)
    incidents = out["incidents"]
    tree = shapely.STRtree(out["grids"].geometry.to_numpy())
    hit_point, hit_grid = tree.query(incidents.geometry.to_numpy(), predicate="intersects")
    first = pd.Series(hit_grid).groupby(hit_point).min()
    incidents["grid_code"] = None
    incidents.loc[first.index, "grid_code"] = out["grids"]["code"].to_numpy()[first.to_numpy()]
    area_names = {
        code: name
        for frame in (out["district"], out["subdistricts"], out["communities"])
        for code, name in zip(frame["code"], frame["name"], strict=True)
    }
    incidents, transitions = make_histories(
        incidents, out["grids"], staff, staff_grids, area_names, seed
    )
    units = make_units(out["communities"], staff, area_names)
    incidents, transitions = apply_mediation(incidents, transitions, out["grids"], units, seed)
    return DemoDistrict(
        district=out["district"],
        subdistricts=out["subdistricts"],
        communities=out["communities"],
        grids=out["grids"],
        buildings=b4326,
        facilities=out["facilities"],
        incidents=incidents,
        incident_transitions=transitions,
        staff=staff,
        staff_grids=staff_grids,
        mediation_units=units,
        notes=DemoNotes(
            villages_folded=villages_folded,
            villages_as_communities=tuple(villages_as_communities),
            communities_without_health_station=no_health,
        ),
    )


def _roll_up(
    children: gpd.GeoDataFrame, key: str, units: list[Unit], parent_code: str | None
) -> gpd.GeoDataFrame:
    """Parent rows whose geometry is the coverage union of their children and counts their sums."""
    rows = []
    for unit in units:
        kids = children[children[key] == unit.code]
        rows.append(
            {
                "code": unit.code,
                "name": unit.name,
                "parent_code": parent_code,
                "households": int(kids["households"].sum()),
                "population": int(kids["population"].sum()),
                "floating_population": int(kids["floating_population"].sum()),
                "geometry": as_multi(shapely.coverage_union_all(kids.geometry.to_numpy())),
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
