"""Coverage by walking distance: the network index against fresh searches after every change."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from gis.coverage.core import CoverageIndex
from gis.coverage.network import NetworkCoverageIndex, WalkContext
from gis.errors import InvalidParameterError, NotFoundError
from gis.network import Network, attach, distances_from, nearest_sources

STEP = 100.0
SIZE = 12  # blocks a side


def _lattice() -> tuple[Network, np.ndarray]:
    """A 1.2 km street lattice cut by a river along x = 550 with one bridge (y = 300)."""
    pieces = []
    for i in range(SIZE + 1):
        for j in range(SIZE):
            pieces.append(((j * STEP, i * STEP), ((j + 1) * STEP, i * STEP)))
            pieces.append(((i * STEP, j * STEP), (i * STEP, (j + 1) * STEP)))
    river = shapely.LineString([(550, -10), (550, SIZE * STEP + 10)])
    kept = [
        shapely.LineString(p)
        for p in pieces
        if not shapely.crosses(shapely.LineString(p), river) or p[0][1] == p[1][1] == 300
    ]
    barriers = np.array([river], dtype=object)
    return Network.from_lines(np.array(kept, dtype=object)), barriers


def _world(seed: int) -> tuple[WalkContext, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    network, barriers = _lattice()
    bxy = rng.uniform(5, SIZE * STEP - 5, size=(600, 2))
    households = rng.integers(1, 60, size=len(bxy))
    group = (bxy[:, 0] // 400).astype(np.int64) * 3 + (bxy[:, 1] // 400).astype(np.int64)
    walk = WalkContext(network, barriers, attach(network, bxy, barriers=barriers), 500.0)
    return walk, bxy, households, group


def _fresh(index: NetworkCoverageIndex) -> tuple[np.ndarray, np.ndarray]:
    """Distances and slots from a search over the open facilities, from scratch."""
    sources, slots = index.open_sources()
    near = nearest_sources(index.walk.network, sources, index.walk.buildings, math.inf)
    slot = np.full(len(near.source), -1)
    slot[near.source >= 0] = slots[near.source[near.source >= 0]]
    return near.distance_m, slot


def _index(seed: int, radius: float = 400.0) -> NetworkCoverageIndex:
    walk, bxy, hh, group = _world(seed)
    rng = np.random.default_rng(seed + 100)
    fxy = rng.uniform(0, SIZE * STEP, size=(6, 2))
    return NetworkCoverageIndex(bxy, hh, group, 9, [11, 12, 13, 14, 15, 16], fxy, radius, walk)


def test_walks_are_never_shorter_than_the_circle_and_the_river_makes_them_longer() -> None:
    index = _index(1)
    circle = CoverageIndex(index.bxy, index.households, index.group, 9, index.fids, index.fxy, 400)
    assert (index.nearest_m >= circle.nearest_m - 1e-6).all()
    assert index.hh_covered.sum() < circle.hh_covered.sum()
    # Buildings across the river from their nearest facility by line walk round by the bridge.
    across = (index.bxy[:, 0] < 550) != (index.fxy[circle.nearest_slot][:, 0] < 550)
    assert (index.nearest_m[across] - circle.nearest_m[across]).mean() > 200


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_changes_equal_a_fresh_search(seed: int) -> None:
    index = _index(seed)
    rng = np.random.default_rng(seed)
    for step in range(12):
        kind = step % 3
        open_ids = [int(f) for f, a in zip(index.fids, index.active, strict=True) if a]
        if kind == 0 or len(open_ids) < 2:
            delta = index.add_facility(100 + step, rng.uniform(0, SIZE * STEP, 2))
        elif kind == 1:
            delta = index.move_facility(open_ids[0], rng.uniform(0, SIZE * STEP, 2))
        else:
            delta = index.remove_facility(open_ids[-1])
        distance, _ = _fresh(index)
        np.testing.assert_allclose(index.nearest_m, distance, rtol=0, atol=1e-6)
        # Each building's slot is an open facility at exactly that walk (ties either way).
        assert ((index.nearest_slot >= 0) == np.isfinite(distance)).all()
        for s in np.unique(index.nearest_slot[index.nearest_slot >= 0]).tolist():
            assert index.active[s]
            rows = index.nearest_slot == s
            d = distances_from(
                index.walk.network, index._sources(np.array([s])), index.walk.buildings, math.inf
            )
            np.testing.assert_allclose(d[rows], index.nearest_m[rows], rtol=0, atol=1e-6)
        expected = np.bincount(
            index.group, weights=index.households * (distance <= index.radius_m), minlength=9
        )
        np.testing.assert_array_equal(index.hh_covered, expected.astype(np.int64))
        assert isinstance(delta.net_households, int)


def test_what_if_equals_making_the_change_and_changes_nothing() -> None:
    index = _index(4)
    before = index.nearest_m.copy()
    opened = [(300.0, 900.0), (1000.0, 200.0)]
    closed = [int(index.fids[0])]
    delta = index.what_if(add=opened, remove=closed)
    np.testing.assert_array_equal(index.nearest_m, before)
    covered_before = int(index.hh_covered.sum())
    index.remove_facility(closed[0])
    index.add_facility(900, opened[0])
    index.add_facility(901, opened[1])
    assert int(index.hh_covered.sum()) - covered_before == delta.net_households


def test_facilities_within_a_walk_are_counted_by_single_searches() -> None:
    index = _index(5, radius=600.0)
    counts = index.count_within()
    sources, slots = index.open_sources()
    expected = np.zeros(len(index.bxy), dtype=np.int64)
    for k in range(len(slots)):
        d = distances_from(index.walk.network, sources.take([k]), index.walk.buildings, 600.0)
        expected += d <= 600.0
    np.testing.assert_array_equal(counts, expected)
    assert (counts[index.covered] >= 1).all() and (counts[~index.covered] == 0).all()


def test_a_building_no_walk_reaches_is_uncovered_and_has_no_mean_distance() -> None:
    walk, bxy, hh, group = _world(6)
    far = np.vstack([bxy, [[5000.0, 5000.0]]])  # beyond the longest leg: never attached
    walk = WalkContext(walk.network, walk.barriers, attach(walk.network, far), 500.0)
    index = NetworkCoverageIndex(
        far, np.append(hh, 40), np.append(group, 8), 9, [1], [[600.0, 600.0]], 2000.0, walk
    )
    assert math.isinf(index.nearest_m[-1]) and not index.covered[-1]
    rollup = index.rollup()
    assert math.isnan(rollup.mean_distance_m[8])
    assert np.isfinite(rollup.mean_distance_m[:8][rollup.households[:8] > 0]).all()


def test_closing_the_last_facility_leaves_every_building_unreached() -> None:
    index = _index(7)
    for f in list(index.fids):
        index.remove_facility(int(f))
    assert np.isinf(index.nearest_m).all() and index.hh_covered.sum() == 0
    with pytest.raises(NotFoundError):
        index.remove_facility(11)
    with pytest.raises(InvalidParameterError):
        index.add_facility(12, (10.0, 10.0))
        index.add_facility(12, (20.0, 20.0))
