"""The demo's street network (gis/demo/_streets.py as loaded) and its reads by view and zoom."""

from __future__ import annotations

from collections.abc import Iterator

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.areas.queries import area_outlines
from gis.basemap import places, streets
from gis.demo.load import _write_streets
from gis.demo.spec import DEFAULT_SEED, METRIC_CRS
from gis.errors import InvalidParameterError
from gis.geo.geojson import BBox

OLD_TOWN = BBox(119.11, 36.70, 119.14, 36.72)


@pytest.fixture(scope="module")
def network(demo_engine: Engine) -> gpd.GeoDataFrame:
    with demo_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT name, kind, length_m, ST_AsBinary(geom) AS wkb FROM street ORDER BY id")
        ).all()
    return gpd.GeoDataFrame(
        {
            "name": [r.name for r in rows],
            "kind": [r.kind for r in rows],
            "length_m": [r.length_m for r in rows],
        },
        geometry=shapely.from_wkb([bytes(r.wkb) for r in rows]),
        crs="EPSG:4326",
    )


@pytest.fixture
def session(demo_engine: Engine) -> Iterator[Session]:
    with Session(demo_engine) as s:
        yield s


def test_every_street_is_named_and_of_a_known_kind(network: gpd.GeoDataFrame) -> None:
    assert len(network) > 500
    assert network["name"].str.len().min() >= 2
    assert network["name"].str[-1].isin(["路", "街", "巷"]).all()
    assert set(network["kind"]) == {"main", "secondary", "local"}
    # A road keeps its name over several edges; long main roads are named in halves.
    edges_per_name = network.groupby("name").size()
    assert edges_per_name.max() > 3
    assert network["name"].str.contains("[东西南北][街路]$").any()
    assert (network.geometry.geom_type == "LineString").all()


def test_streets_are_noded_lines_meet_only_at_their_end_points(
    network: gpd.GeoDataFrame,
) -> None:
    lines = network.geometry.to_numpy()
    ends = {
        tuple(np.round(c, 9))
        for line in lines
        for c in (shapely.get_coordinates(line)[0], shapely.get_coordinates(line)[-1])
    }
    left, right = shapely.STRtree(lines).query(lines, predicate="intersects")
    pairs = [(a, b) for a, b in zip(left, right, strict=True) if a < b]
    assert pairs
    for a, b in pairs:
        meet = shapely.intersection(lines[a], lines[b])
        assert meet.geom_type in ("Point", "MultiPoint"), (network.iloc[a], network.iloc[b])
        for c in shapely.get_coordinates(meet):
            assert tuple(np.round(c, 9)) in ends


def test_most_of_every_grid_boundary_runs_along_a_street(
    demo_engine: Engine, network: gpd.GeoDataFrame
) -> None:
    with demo_engine.connect() as conn:
        grids = area_outlines(conn, "grid").to_crs(METRIC_CRS)
        district = area_outlines(conn, "district").to_crs(METRIC_CRS)
    roads = shapely.union_all(network.to_crs(METRIC_CRS).geometry.to_numpy()).buffer(3.0)
    # The district's outline is left without a road; every other grid edge has one.
    inner = shapely.difference(
        shapely.union_all(shapely.boundary(grids.geometry.to_numpy())),
        shapely.boundary(district.geometry.iloc[0]).buffer(1.0),
    )
    along = shapely.intersection(inner, roads).length / inner.length
    assert along > 0.98
    # Kinds follow the areas: main roads on subdistrict edges, no road through a grid.
    assert network.groupby("kind")["length_m"].sum()["main"] > 10_000
    interiors = shapely.union_all(grids.buffer(-5.0).geometry.to_numpy())
    crossing = shapely.intersection(
        shapely.union_all(network.to_crs(METRIC_CRS).geometry.to_numpy()), interiors
    )
    assert crossing.length < 1.0


def test_the_demo_command_adds_streets_to_a_district_loaded_without_them(
    demo_engine: Engine, network: gpd.GeoDataFrame
) -> None:
    with demo_engine.connect() as conn:
        outer = conn.begin()
        try:
            conn.execute(text("DELETE FROM street"))
            written = _write_streets(conn, DEFAULT_SEED)
            again = conn.execute(text("SELECT name FROM street ORDER BY id")).scalars().all()
        finally:
            outer.rollback()
    assert written == len(network)
    assert sorted(again) == sorted(network["name"])  # the same seed, the same names


def test_low_zooms_read_main_roads_only_and_simplified(session: Session) -> None:
    far = streets.streets_in(session, OLD_TOWN, 12)
    near = streets.streets_in(session, OLD_TOWN, 16)
    assert far and {f["properties"]["kind"] for f in far} == {"main"}
    assert {f["properties"]["kind"] for f in streets.streets_in(session, OLD_TOWN, 14)} == {
        "main",
        "secondary",
    }
    assert {f["properties"]["kind"] for f in near} == {"main", "secondary", "local"}
    kinds = [f["properties"]["kind"] for f in near]
    assert kinds == sorted(kinds, key=["main", "secondary", "local"].index)  # main first

    stored = session.execute(
        text(
            """SELECT sum(ST_NPoints(geom)) FROM street WHERE kind = 'main'
               AND geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"""
        ),
        dict(zip("wsen", OLD_TOWN.as_list(), strict=True)),
    ).scalar_one()
    drawn = sum(len(shapely.get_coordinates(shapely.geometry.shape(f["geometry"]))) for f in far)
    assert drawn < stored / 2  # straight edges drawn by their ends, not every 50 m
    names = {f["properties"]["name"] for f in near}
    assert len(names) == len(near)  # one feature per named road


def test_a_view_reads_only_what_lies_in_it(session: Session) -> None:
    inside = streets.streets_in(session, OLD_TOWN, 16)
    everything = streets.streets_in(session, None, 16)
    assert 0 < len(inside) < len(everything)
    view = shapely.box(*OLD_TOWN.as_list())
    for f in inside:
        assert shapely.geometry.shape(f["geometry"]).intersects(view.buffer(1e-6))
    assert streets.streets_in(session, BBox(100.0, 20.0, 100.1, 20.1), 16) == []


def test_zoom_out_of_range_is_refused(session: Session) -> None:
    with pytest.raises(InvalidParameterError, match="zoom 23"):
        streets.streets_in(session, OLD_TOWN, 23)


def test_place_names_follow_the_zoom(session: Session) -> None:
    assert {f["properties"]["level"] for f in places.places_in(session, None, 11)} == {
        "subdistrict"
    }
    communities = places.places_in(session, OLD_TOWN, 14)
    assert communities and {f["properties"]["level"] for f in communities} == {"community"}
    grids = places.places_in(session, OLD_TOWN, 17)
    assert grids and all(f["properties"]["name"].endswith("网格") for f in grids)
