"""The walking network as arrays and points joined to it at their nearest edge point."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gis.errors import InvalidParameterError
from gis.network import Attachment, Network, attach


def lines(*coords: list[tuple[float, float]]) -> np.ndarray:
    return np.array([shapely.LineString(c) for c in coords], dtype=object)


def test_ends_within_snap_distance_are_one_node() -> None:
    net = Network.from_lines(
        lines([(0, 0), (100, 0)], [(100.005, 0), (200, 0)], [(200.5, 0), (300, 0)])
    )
    assert net.edge_count == 3
    assert net.target[0] == net.source[1]  # 5 mm apart: one node
    assert net.target[1] != net.source[2]  # 50 cm apart: two
    assert net.node_count == 5
    assert net.component_count() == 2
    np.testing.assert_allclose(net.length_m, [100, 99.995, 99.5])


def test_crossing_lines_without_a_shared_end_do_not_meet() -> None:
    # A bridge over a street: they cross, but no one steps from one to the other.
    net = Network.from_lines(lines([(-100, 0), (100, 0)], [(0, -100), (0, 100)]))
    assert net.node_count == 4
    assert net.component_count() == 2


def test_from_edges_renumbers_database_node_ids() -> None:
    net = Network.from_edges(
        [9_000_000_001, 42],
        [42, 7],
        lines([(0, 0), (10, 0)], [(10, 0), (20, 0)]),
        edge_ids=[501, 502],
        length_m=[10.001, 9.999],
        forward=[True, True],
        backward=[True, False],
    )
    assert net.node_count == 3
    assert net.target[0] == net.source[1]
    assert net.edge_ids.tolist() == [501, 502]
    assert net.length_m.tolist() == [10.001, 9.999]


def test_reversed_graph_has_one_arc_per_walkable_direction() -> None:
    net = Network.from_lines(
        lines([(0, 0), (10, 0)], [(10, 0), (20, 0)]), forward=[True, True], backward=[True, False]
    )
    csr = net.reversed_csr()
    arcs = {
        (r, int(c))
        for r in range(csr.node_count)
        for c in csr.indices[csr.indptr[r] : csr.indptr[r + 1]]
    }
    a, b, c = int(net.source[0]), int(net.target[0]), int(net.target[1])
    # walk a→b, b→a, b→c; reversed: b→a, a→b, c→b
    assert arcs == {(b, a), (a, b), (c, b)}
    assert net.reversed_csr() is csr  # built once


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.array([shapely.Point(0, 0)], dtype=object), "LineStrings"),
        (np.array([shapely.LineString()], dtype=object), "LineStrings"),
    ],
)
def test_edges_must_be_linestrings(bad: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        Network.from_lines(bad)


def test_mismatched_flags_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="direction flags"):
        Network.from_lines(lines([(0, 0), (1, 0)]), forward=[True, False])
    with pytest.raises(InvalidParameterError, match="lengths"):
        Network.from_lines(lines([(0, 0), (1, 0)]), length_m=[-1.0])


def test_points_join_at_the_nearest_point_of_an_edge_not_its_nearest_node() -> None:
    net = Network.from_lines(lines([(0, 0), (1000, 0)], [(1000, 0), (1000, 1000)]))
    att = attach(net, [[400, 30], [1030, 600], [-3, -4]])
    assert att.edge.tolist() == [0, 1, 0]
    np.testing.assert_allclose(att.fraction, [0.4, 0.6, 0.0])
    np.testing.assert_allclose(att.leg_m, [30, 30, 5])


def test_legs_are_true_metres_by_the_edge_true_to_plane_ratio() -> None:
    net = Network.from_lines(lines([(0, 0), (1000, 0)]), length_m=[999.9])
    att = attach(net, [[500, 100]])
    np.testing.assert_allclose(att.leg_m, [99.99])


def test_points_beyond_the_longest_leg_stay_unattached() -> None:
    net = Network.from_lines(lines([(0, 0), (100, 0)]))
    att = attach(net, [[50, 499], [50, 501]], max_leg_m=500)
    assert att.edge.tolist() == [0, -1]
    assert att.leg_m[1] == np.inf
    assert att.attached.tolist() == [True, False]


def test_a_leg_crossing_a_wall_joins_the_next_nearest_edge() -> None:
    # Street at y=0 outside the wall (y=30), the compound's path at y=100 inside.
    net = Network.from_lines(lines([(-500, 0), (500, 0)], [(-500, 100), (500, 100)]))
    wall = np.array([shapely.LineString([(-1000, 30), (1000, 30)])], dtype=object)
    att = attach(net, [[0, 35], [0, 20], [0, -10]], barriers=wall)
    assert att.edge.tolist() == [1, 0, 0]
    np.testing.assert_allclose(att.leg_m, [65, 20, 10])
    # Without the wall the street is nearer.
    assert attach(net, [[0, 35]]).edge.tolist() == [0]


def test_a_walled_compound_polygon_counts_by_its_outline() -> None:
    net = Network.from_lines(lines([(-500, 0), (500, 0)], [(-20, 50), (20, 50)]))
    compound = np.array([shapely.box(-100, 10, 100, 200)], dtype=object)
    att = attach(net, [[0, 15], [0, 5]], barriers=compound)
    assert att.edge.tolist() == [1, 0]  # inside joins its path, outside the street


def test_a_point_walled_off_from_every_edge_is_unattached() -> None:
    net = Network.from_lines(lines([(-500, 0), (500, 0)]))
    ring = np.array([shapely.box(-50, 10, 50, 60).exterior], dtype=object)
    att = attach(net, [[0, 30]], barriers=ring)
    assert att.edge.tolist() == [-1]


def test_a_leg_ending_on_a_barrier_does_not_cross_it() -> None:
    # The bridge crosses the river; a point on the river bank joins the bridge.
    net = Network.from_lines(lines([(0, -100), (0, 100)]))
    river = np.array([shapely.LineString([(-1000, 0), (1000, 0)])], dtype=object)
    att = attach(net, [[20, 0], [20, 5]], barriers=river)
    assert att.edge.tolist() == [0, 0]


def test_take_selects_rows() -> None:
    att = Attachment(
        edge=np.array([3, -1, 5]),
        fraction=np.array([0.1, 0.0, 0.9]),
        leg_m=np.array([1, np.inf, 2]),
    )
    sub = att.take(np.array([2, 0]))
    assert sub.edge.tolist() == [5, 3]
    assert sub.leg_m.tolist() == [2, 1]
    assert len(att.take(att.attached)) == 2


@pytest.mark.parametrize("seed", range(4))
def test_joins_are_the_nearest_edge_points_by_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    starts = rng.uniform(0, 1000, (60, 2))
    ends = starts + rng.normal(0, 120, (60, 2))
    mids = (starts + ends) / 2 + rng.normal(0, 20, (60, 2))
    net = Network.from_lines(shapely.linestrings(np.stack([starts, mids, ends], axis=1)))
    xy = rng.uniform(-400, 1400, (2000, 2))  # some far enough for every search ring
    att = attach(net, xy, max_leg_m=300)
    d = shapely.distance(shapely.points(xy)[:, None], net.geoms[None, :])
    nearest = d.min(axis=1)
    on = nearest <= 300
    assert (att.edge >= 0).tolist() == on.tolist()
    np.testing.assert_allclose(att.leg_m[on], nearest[on], atol=1e-9)
    np.testing.assert_allclose(d[np.flatnonzero(on), att.edge[on]], nearest[on], atol=1e-9)
    at = shapely.line_interpolate_point(net.geoms[att.edge[on]], att.fraction[on], normalized=True)
    np.testing.assert_allclose(shapely.distance(shapely.points(xy[on]), at), nearest[on], atol=1e-6)
