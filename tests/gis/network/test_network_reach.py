"""Walking distances over hand-made networks with known answers, and against networkx."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from network_reference import reference_distances

from gis.errors import InvalidParameterError
from gis.network import Attachment, Network, attach, distances_from, nearest_sources, reached


def lines(*coords: list[tuple[float, float]]) -> np.ndarray:
    return np.array([shapely.LineString(c) for c in coords], dtype=object)


def test_partial_edges_at_the_cut_off_count() -> None:
    # Facility at A; B is 980 m away; homes 10 m and 30 m along B→C.
    net = Network.from_lines(lines([(0, 0), (980, 0)], [(980, 0), (1980, 0)]))
    fac = attach(net, [[0, 0]])
    homes = attach(net, [[990, 0], [1010, 0], [990, 5], [990, 15]])
    got = nearest_sources(net, fac, homes, 1000.0)
    np.testing.assert_allclose(got.distance_m, [990, np.inf, 995, np.inf])
    assert got.source.tolist() == [0, -1, 0, -1]
    np.testing.assert_allclose(
        nearest_sources(net, fac, homes, 1100).distance_m, [990, 1010, 995, 1005]
    )


def test_at_exactly_the_cut_off_is_covered() -> None:
    net = Network.from_lines(lines([(0, 0), (600, 0)], [(600, 0), (1600, 0)]))
    got = nearest_sources(net, attach(net, [[0, 0]]), attach(net, [[1000, 0]]), 1000.0)
    assert got.distance_m.tolist() == [1000.0]


def test_same_edge_is_walked_directly() -> None:
    net = Network.from_lines(lines([(0, 0), (1000, 0)]))
    fac = attach(net, [[200, 10]])
    homes = attach(net, [[700, 5], [100, 0], [200, 0]])
    got = nearest_sources(net, fac, homes, 5000)
    np.testing.assert_allclose(got.distance_m, [515, 110, 10])


def test_one_way_edges_are_walked_from_home_towards_the_facility() -> None:
    # A→B one way (forward), B→C→D→A two way around: 500 + 1000 + 500.
    net = Network.from_lines(
        lines(
            [(0, 0), (1000, 0)],
            [(1000, 0), (1000, 500)],
            [(1000, 500), (0, 500)],
            [(0, 500), (0, 0)],
        ),
        forward=[True, True, True, True],
        backward=[False, True, True, True],
    )
    fac = attach(net, [[600, 0]])
    homes = attach(net, [[100, 0], [700, 0], [1000, 250]])
    got = nearest_sources(net, fac, homes, 10_000)
    # 100: forward 500 m. 700: on to B (300), round (2000), A→600 (600) = 2900.
    # (1000,250): round to A (250+1000+500) then 600 = 2350, never back along A←B.
    np.testing.assert_allclose(got.distance_m, [500, 2900, 2350])
    np.testing.assert_allclose(got.distance_m, reference_distances(net, fac, homes, 10_000))


def test_one_way_decides_which_facility_is_nearest() -> None:
    net = Network.from_lines(lines([(0, 0), (1000, 0)]), forward=[True], backward=[False])
    facs = attach(net, [[300, 0], [900, 0]])
    got = nearest_sources(net, facs, attach(net, [[400, 0], [100, 0], [950, 0]]), 5000)
    np.testing.assert_allclose(got.distance_m, [500, 200, np.inf])
    assert got.source.tolist() == [1, 0, -1]


def test_another_component_and_unattached_points_are_unreachable() -> None:
    net = Network.from_lines(lines([(0, 0), (100, 0)], [(5000, 0), (5100, 0)]))
    fac = attach(net, [[0, 0]])
    homes = attach(net, [[50, 0], [5050, 0], [50, 9000]], max_leg_m=500)
    got = nearest_sources(net, fac, homes, 1e9)
    np.testing.assert_allclose(got.distance_m, [50, np.inf, np.inf])
    assert got.source.tolist() == [0, -1, -1]


def test_nearest_of_several_sources_and_none() -> None:
    net = Network.from_lines(lines([(0, 0), (1000, 0)], [(1000, 0), (2000, 0)]))
    facs = attach(net, [[0, 0], [2000, 0], [1900, 9000]])  # the last is unattached
    got = nearest_sources(net, facs, attach(net, [[800, 0], [1200, 0]]), 3000)
    assert got.source.tolist() == [0, 1]
    np.testing.assert_allclose(got.distance_m, [800, 800])
    none = nearest_sources(net, facs.take(np.array([2])), attach(net, [[800, 0]]), 3000)
    assert none.distance_m.tolist() == [np.inf]
    assert none.source.tolist() == [-1]


def test_distances_from_one_new_facility() -> None:
    net = Network.from_lines(lines([(0, 0), (1000, 0)], [(1000, 0), (1000, 1000)]))
    d = distances_from(net, attach(net, [[1000, 0]]), attach(net, [[500, 3], [1000, 800]]), 600)
    np.testing.assert_allclose(d, [503, np.inf])


def test_reached_edge_parts_stop_at_the_cut_off() -> None:
    net = Network.from_lines(
        lines([(0, 0), (1000, 0)], [(1000, 0), (2000, 0)], [(0, 0), (0, 300)], [(0, 500), (0, 900)])
    )
    edge, lo, hi = reached(net, attach(net, [[600, 0]]), 700)
    assert edge.tolist() == [0, 1, 2]  # not the detached edge 3
    np.testing.assert_allclose(lo, [0, 0, 0])
    np.testing.assert_allclose(hi, [1, 0.3, 1 / 3])
    edge, lo, hi = reached(net, attach(net, [[600, 0]]), 500)
    assert edge.tolist() == [0, 1]
    np.testing.assert_allclose(lo, [0.1, 0])
    np.testing.assert_allclose(hi, [1, 0.1])
    # Only the middle of one edge: both sides of a facility on it.
    edge, lo, hi = reached(net, attach(net, [[500, 0]]), 100)
    assert edge.tolist() == [0]
    np.testing.assert_allclose([lo[0], hi[0]], [0.4, 0.6])


def test_reached_honours_one_way_towards_the_facility() -> None:
    net = Network.from_lines(lines([(0, 0), (1000, 0)]), forward=[True], backward=[False])
    _edge, lo, hi = reached(net, attach(net, [[500, 0]]), 100)
    np.testing.assert_allclose([lo[0], hi[0]], [0.4, 0.5])  # only from behind


def test_negative_or_nan_cut_off_is_refused() -> None:
    net = Network.from_lines(lines([(0, 0), (1, 0)]))
    a = attach(net, [[0, 0]])
    for bad in (-1.0, float("nan")):
        with pytest.raises(InvalidParameterError, match="cut-off"):
            nearest_sources(net, a, a, bad)


def _random_lattice(seed: int, n: int = 9, spacing: float = 100.0) -> Network:
    rng = np.random.default_rng(seed)
    segs = []
    for i in range(n):
        for j in range(n):
            x, y = i * spacing + rng.uniform(-20, 20), j * spacing
            if i + 1 < n:
                segs.append([(i * spacing, y), (x + spacing / 2, y + 15), ((i + 1) * spacing, y)])
            if j + 1 < n:
                segs.append([(i * spacing, y), (i * spacing, (j + 1) * spacing)])
    keep = rng.random(len(segs)) > 0.15
    geoms = lines(*[s for s, k in zip(segs, keep, strict=True) if k])
    e = len(geoms)
    oneway = rng.random(e) < 0.2
    flip = rng.random(e) < 0.5
    return Network.from_lines(
        geoms,
        forward=~(oneway & flip),
        backward=~(oneway & ~flip),
        length_m=shapely.length(geoms) * rng.uniform(1.0, 1.3, e),  # slopes, stairs
    )


@pytest.mark.parametrize("seed", range(8))
def test_random_networks_agree_with_networkx(seed: int) -> None:
    net = _random_lattice(seed)
    rng = np.random.default_rng(100 + seed)
    fac = attach(net, rng.uniform(-50, 850, (6, 2)))
    homes = attach(net, rng.uniform(-50, 850, (300, 2)))
    homes_on_fac_edges = attach(net, shapely.get_coordinates(
        shapely.line_interpolate_point(net.geoms[fac.edge], rng.random(6), normalized=True)
    ))  # fmt: skip
    for cutoff in (150.0, 400.0, 5000.0):
        for h in (homes, homes_on_fac_edges):
            got = nearest_sources(net, fac, h, cutoff).distance_m
            want = reference_distances(net, fac, h, cutoff)
            np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_reached_parts_hold_exactly_the_points_within_the_cut_off(seed: int) -> None:
    # What a service area draws and what coverage counts must be the same walk.
    net = _random_lattice(seed)
    rng = np.random.default_rng(200 + seed)
    fac = attach(net, rng.uniform(0, 800, (4, 2)))
    on_edges = rng.integers(0, net.edge_count, 3000)
    frac = rng.random(3000)
    pts = Attachment(edge=on_edges, fraction=frac, leg_m=np.zeros(3000))  # on the edges
    cutoff = 350.0
    d = nearest_sources(net, fac, pts, cutoff).distance_m
    edge, lo, hi = reached(net, fac, cutoff)
    inside = np.zeros(3000, dtype=bool)
    for e, a, b in zip(edge, lo, hi, strict=True):
        inside |= (on_edges == e) & (frac >= a - 1e-9) & (frac <= b + 1e-9)
    clear = np.abs(np.where(np.isfinite(d), d, 1e9) - cutoff) > 1e-6
    assert (inside[clear] == np.isfinite(d)[clear]).all()


def test_no_sources_no_targets_no_edges() -> None:
    net = Network.from_lines(lines([(0, 0), (10, 0)]))
    none = Attachment.empty()
    one = attach(net, [[1, 1]])
    assert nearest_sources(net, none, one, 100).source.tolist() == [-1]
    assert len(nearest_sources(net, one, none, 100).distance_m) == 0
    assert len(reached(net, none, 100)[0]) == 0
    bare = Network.from_lines(np.zeros(0, dtype=object))
    lost = attach(bare, [[0, 0]])
    assert bare.node_count == 0 and lost.edge.tolist() == [-1]
    assert nearest_sources(bare, lost, lost, 5).distance_m.tolist() == [np.inf]
