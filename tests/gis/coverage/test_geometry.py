"""Service circles and blind spots: true metres; blind-spot households = uncovered households."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from coverage_world import C1, C2, G1, G2, GEOD, build_world, building
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gis.areas.queries import area_outlines
from gis.coverage.catalogue import facility_types, resolve_radius
from gis.coverage.geometry import (
    BLIND_SPOT_COLUMNS,
    RESIDENTIAL_BUFFER_M,
    blind_spots,
    service_circles,
    uncovered_buildings,
)
from gis.coverage.report import area_rollups
from gis.coverage.store import CoverageModel, build_coverage
from gis.errors import InvalidParameterError


def _ring_distances(circle: shapely.Polygon, lon: float, lat: float) -> np.ndarray:
    ring = np.asarray(circle.exterior.coords)
    _, _, d = GEOD.inv(np.full(len(ring), lon), np.full(len(ring), lat), ring[:, 0], ring[:, 1])
    return np.asarray(d)


def test_circles_are_true_metre_circles_just_inside_the_radius(db: Session) -> None:
    w = build_world(db)
    circles = service_circles(db.connection(), "kindergarten", 300)
    assert circles.crs.to_epsg() == 4326
    assert len(circles) == 2
    assert set(circles["facility_id"]) == set(w.facility_ids.values())
    assert set(circles["name"]) == {"幼儿园F1", "幼儿园F2"}
    for row in circles.itertuples():
        key = "F1" if row.facility_id == w.facility_ids["F1"] else "F2"
        d = _ring_distances(row.geometry, *w.facility_lonlat[key])
        # Vertices on the true circle to the millimetre; never outside it.
        assert d.max() <= 300.0 + 1e-3
        assert d.min() >= 300.0 - 0.01
    default = service_circles(db.connection(), "kindergarten")
    assert (default["radius_m"] == 300).all()  # the catalogue radius


def test_blind_spots_hold_exactly_the_uncovered_households(db: Session) -> None:
    build_world(db)
    conn = db.connection()
    spots = blind_spots(conn, "kindergarten", 300)
    assert list(spots.columns) == BLIND_SPOT_COLUMNS
    assert spots.crs.to_epsg() == 4326
    assert spots["community_code"].tolist() == [C1, C2]
    assert spots["households"].tolist() == [30, 50]
    assert spots["buildings_uncovered"].tolist() == [1, 1]
    assert spots["part"].tolist() == [1, 1]
    # A 20 m square footprint grown by 25 m on every side, far from any circle.
    side = 20 + 2 * RESIDENTIAL_BUFFER_M
    assert spots["area_m2"].tolist() == pytest.approx([side * side] * 2, rel=2e-3)


def test_a_circle_cuts_a_blind_spot_and_close_buildings_share_one(db: Session) -> None:
    w = build_world(db)
    conn = db.connection()
    # 320 m north of F1: uncovered, but its grown footprint reaches into the circle.
    lon, lat, _ = GEOD.fwd(*w.facility_lonlat["F1"], 0, 320)
    building(db, w.area_ids[G1], (lon, lat), 7, "b6号楼")
    # 40 m east of b5: its area merges with b5's.
    lon, lat, _ = GEOD.fwd(*w.building_lonlat["b5"], 90, 40)
    building(db, w.area_ids[G2], (lon, lat), 5, "b7号楼", with_footprint=False)
    db.flush()
    spots = blind_spots(conn, "kindergarten", 300)
    c1 = spots[spots["community_code"] == C1]
    c2 = spots[spots["community_code"] == C2]
    assert len(c1) == 2 and sorted(c1["households"]) == [7, 30]
    cut = c1[c1["households"] == 7].iloc[0]
    assert cut.area_m2 < 70 * 70 - 100  # the circle took its share
    assert len(c2) == 1 and c2.iloc[0].households == 55 and c2.iloc[0].buildings_uncovered == 2
    circles = service_circles(conn, "kindergarten", 300)
    overlap = shapely.intersection(spots.union_all(), circles.union_all())
    assert overlap.area < 1e-12  # degrees²: nothing but rounding


def test_blind_spots_follow_an_incremental_change(db: Session) -> None:
    w = build_world(db)
    model = build_coverage(db.connection(), "kindergarten", 300)
    model.index.add_facility(999_999, model.plane.to_plane(*w.building_lonlat["b5"])[0])
    spots = blind_spots(db.connection(), "kindergarten", model=model)
    assert spots["households"].tolist() == [30]
    with pytest.raises(InvalidParameterError, match="model is of"):
        blind_spots(db.connection(), "primary_school", model=model)


def test_everything_covered_means_no_blind_spots(db: Session) -> None:
    build_world(db)
    spots = blind_spots(db.connection(), "kindergarten", 1000)
    assert spots.empty and list(spots.columns) == BLIND_SPOT_COLUMNS


def test_without_facilities_every_home_is_in_a_blind_spot(db: Session) -> None:
    build_world(db)
    spots = blind_spots(db.connection(), "primary_school", 500)
    assert spots.groupby("community_code")["households"].sum().to_dict() == {C1: 60, C2: 90}
    assert service_circles(db.connection(), "primary_school").empty


def test_uncovered_buildings_is_a_visiting_list(db: Session) -> None:
    w = build_world(db)
    model = build_coverage(db.connection(), "kindergarten", 300)
    visit = uncovered_buildings(db.connection(), model)
    assert visit["address"].tolist() == ["b5号楼", "b3号楼"]  # farthest first
    assert visit["nearest_m"].round(1).tolist() == [600.0, 450.0]
    assert visit["nearest_facility_name"].tolist() == ["幼儿园F2", "幼儿园F1"]
    assert visit["id"].tolist() == [w.building_ids["b5"], w.building_ids["b3"]]
    assert uncovered_buildings(db.connection(), model, G1)["address"].tolist() == ["b3号楼"]


def test_radius_and_type_resolution(db: Session) -> None:
    build_world(db)
    conn = db.connection()
    assert resolve_radius(conn, "community_health_station", None) == 1000
    assert resolve_radius(conn, "kindergarten", 450) == 450
    with pytest.raises(InvalidParameterError, match=r"known types: .*kindergarten"):
        resolve_radius(conn, "kinder", None)
    with pytest.raises(InvalidParameterError, match="radius"):
        resolve_radius(conn, "kindergarten", -5)
    assert "kindergarten" in {t.code for t in facility_types(conn)}


def test_area_outlines(db: Session) -> None:
    build_world(db)
    outlines = area_outlines(db.connection(), "community")
    assert outlines["code"].tolist() == [C1, C2]
    assert isinstance(outlines, gpd.GeoDataFrame) and outlines.crs.to_epsg() == 4326
    assert area_outlines(db.connection(), "grid")["code"].tolist() == [G1, G2]


# --------------------------------------------------------------------------- demo


@pytest.fixture(scope="module")
def kindergartens(demo_engine: Engine) -> tuple[CoverageModel, gpd.GeoDataFrame]:
    with demo_engine.connect() as conn:
        model = build_coverage(conn, "kindergarten", 300)
        return model, blind_spots(conn, "kindergarten", model=model)


@pytest.mark.parametrize("type_code, radius", [("kindergarten", 300), ("primary_school", 1000)])
def test_demo_blind_spot_households_equal_uncovered_households(
    demo_engine: Engine,
    kindergartens: tuple[CoverageModel, gpd.GeoDataFrame],
    type_code: str,
    radius: int,
) -> None:
    if type_code == "kindergarten":
        model, spots = kindergartens
    else:
        with demo_engine.connect() as conn:
            model = build_coverage(conn, type_code, radius)
            spots = blind_spots(conn, type_code, model=model)
    rollups = area_rollups(model, "community").set_index("code")
    uncovered = rollups["households_uncovered"][rollups["households_uncovered"] > 0]
    in_spots = spots.groupby("community_code")["households"].sum()
    assert in_spots.sort_index().to_dict() == uncovered.sort_index().to_dict()
    buildings = spots.groupby("community_code")["buildings_uncovered"].sum()
    expected = (rollups["buildings"] - rollups["buildings_covered"])[uncovered.index]
    assert buildings.sort_index().to_dict() == expected.sort_index().to_dict()
    assert (spots["area_m2"] > 0).all() and spots.geometry.is_valid.all()


def test_demo_blind_spots_are_outside_every_circle(
    demo_engine: Engine, kindergartens: tuple[CoverageModel, gpd.GeoDataFrame]
) -> None:
    model, spots = kindergartens
    with demo_engine.connect() as conn:
        circles = service_circles(conn, "kindergarten", model=model)
    assert len(circles) == 33
    overlap = shapely.intersection(spots.union_all(), circles.union_all()).area
    assert overlap < 1e-9 * shapely.area(spots.geometry.to_numpy()).sum()  # degrees²: rounding
    # Every uncovered building lies in a blind spot of its own community.
    uncovered = ~model.index.covered
    pts = gpd.GeoSeries(
        gpd.points_from_xy(model.buildings.lon[uncovered], model.buildings.lat[uncovered]),
        crs=4326,
    )
    hits = spots.sindex.query(pts, predicate="intersects")
    assert len(np.unique(hits[0])) == int(uncovered.sum())
