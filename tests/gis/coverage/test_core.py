"""Coverage numeric core against brute force, and incremental against full."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from gis.coverage.core import CoverageIndex, count_within, nearest_facility, rollup
from gis.geo.metric import MetricPlane

GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid; WGS84's differs by 0.1 mm in b
EARTH_R = 6_371_008.8


def haversine(lon1, lat1, lon2, lat2):  # type: ignore[no-untyped-def]
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_R * np.arcsin(np.sqrt(a))


def _lonlat_case(seed: int, n_b: int, n_f: int, radius: float):  # type: ignore[no-untyped-def]
    """Random buildings, and facilities some of which sit right at the radius."""
    rng = np.random.default_rng(seed)
    blon = rng.uniform(119.09, 119.30, n_b)
    blat = rng.uniform(36.61, 36.77, n_b)
    flon = rng.uniform(119.09, 119.30, n_f)
    flat = rng.uniform(36.61, 36.77, n_f)
    # Half the facilities placed at radius ± a few centimetres from a building.
    k = n_f // 2
    pick = rng.integers(0, n_b, k)
    az = rng.uniform(0, 360, k)
    dist = radius + rng.choice([-0.05, -0.02, 0.02, 0.05], k)
    flon[:k], flat[:k], _ = GEOD.fwd(blon[pick], blat[pick], az, dist)
    return blon, blat, flon, flat


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), radius=st.sampled_from([300.0, 500.0, 1000.0]))
def test_nearest_and_covered_match_a_geodesic_brute_force(seed: int, radius: float) -> None:
    blon, blat, flon, flat = _lonlat_case(seed, 300, 40, radius)
    plane = MetricPlane.around(119.2)
    bxy, fxy = plane.to_plane(blon, blat), plane.to_plane(flon, flat)
    dist, idx = nearest_facility(bxy, fxy, plane.scale_at)

    _, _, d = GEOD.inv(
        np.repeat(blon, len(flon)),
        np.repeat(blat, len(flon)),
        np.tile(flon, len(blon)),
        np.tile(flat, len(blon)),
    )
    d = d.reshape(len(blon), len(flon))
    truth = d.min(axis=1)
    assert np.abs(dist - truth).max() < 0.002  # 2 mm
    # Facilities sit 2 cm or more from the radius: the covered flag must be exact.
    assert np.array_equal(dist <= radius, truth <= radius)
    assert np.array_equal(count_within(bxy, fxy, radius, plane.scale_at), (d <= radius).sum(axis=1))
    # The spherical haversine reference agrees to its own accuracy (0.5 %).
    h = haversine(blon[:, None], blat[:, None], flon[None, :], flat[None, :]).min(axis=1)
    assert np.allclose(dist, h, rtol=5e-3)
    assert np.allclose(d[np.arange(len(blon)), idx], truth, atol=0.005)


def test_no_facility_means_nobody_is_covered() -> None:
    dist, idx = nearest_facility(np.zeros((3, 2)), np.zeros((0, 2)))
    assert np.isinf(dist).all() and (idx == -1).all()
    r = rollup(dist, dist <= 300, np.array([5, 5, 5]), np.array([0, 0, 1]), 2)
    assert r.households_covered.tolist() == [0, 0]
    assert np.isnan(r.mean_distance_m).all()


def test_rollup_is_household_weighted() -> None:
    dist = np.array([100.0, 200.0, 900.0, 50.0])
    hh = np.array([10, 10, 80, 0])
    group = np.array([0, 0, 0, 1])
    r = rollup(dist, dist <= 300, hh, group, 3)
    assert r.households.tolist() == [100, 0, 0]
    assert r.households_covered.tolist() == [20, 0, 0]
    assert r.coverage_rate[0] == pytest.approx(0.2)
    assert np.isnan(r.coverage_rate[1]) and np.isnan(r.coverage_rate[2])
    assert r.mean_distance_m[0] == pytest.approx((1000 + 2000 + 72000) / 100)
    assert r.p90_distance_m[0] == 900.0
    assert r.buildings.tolist() == [3, 1, 0] and r.buildings_covered.tolist() == [2, 1, 0]


def _planar(seed: int, n_b: int = 2000, n_f: int = 30, size: float = 5000.0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    bxy = rng.uniform(0, size, (n_b, 2))
    fxy = rng.uniform(0, size, (n_f, 2))
    hh = rng.integers(1, 60, n_b)
    group = (bxy[:, 0] // 1000).astype(np.int64) * 5 + (bxy[:, 1] // 1000).astype(np.int64)
    return bxy, fxy, hh, group


def _full(bxy, fxy, ids, hh, group, radius):  # type: ignore[no-untyped-def]
    return CoverageIndex(bxy, hh, group, 25, ids, fxy, radius)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    ops=st.lists(
        st.tuples(st.sampled_from(["add", "remove", "move", "households"]), st.integers(0, 10**6)),
        min_size=1,
        max_size=12,
    ),
)
def test_incremental_equals_full_recompute(seed: int, ops: list[tuple[str, int]]) -> None:
    bxy, fxy, hh, group = _planar(seed)
    radius = 400.0
    ids = list(range(len(fxy)))
    index = _full(bxy, fxy, ids, hh, group, radius)
    positions = {i: fxy[i] for i in ids}
    households = hh.copy()
    rng = np.random.default_rng(seed + 1)
    next_id = 1000
    for op, r in ops:
        if op == "add" or not positions:
            p = rng.uniform(-500, 5500, 2)
            index.add_facility(next_id, p)
            positions[next_id] = p
            next_id += 1
        elif op == "remove":
            fid = sorted(positions)[r % len(positions)]
            index.remove_facility(fid)
            del positions[fid]
        elif op == "move":
            fid = sorted(positions)[r % len(positions)]
            p = rng.uniform(0, 5000, 2)
            index.move_facility(fid, p)
            positions[fid] = p
        else:
            b = r % len(bxy)
            households[b] = r % 97
            index.set_households(b, int(households[b]))
    fids = sorted(positions)
    full = _full(
        bxy, np.array([positions[f] for f in fids]).reshape(-1, 2), fids, households, group, radius
    )
    assert np.allclose(index.nearest_m, full.nearest_m)
    assert np.array_equal(index.covered, full.covered)
    assert np.array_equal(index.hh_covered, full.rollup().households_covered)
    assert np.array_equal(index.rollup().households_covered, full.rollup().households_covered)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_add=st.integers(0, 3), n_remove=st.integers(0, 3))
def test_what_if_predicts_the_real_change(seed: int, n_add: int, n_remove: int) -> None:
    bxy, fxy, hh, group = _planar(seed)
    index = _full(bxy, fxy, list(range(len(fxy))), hh, group, 400.0)
    rng = np.random.default_rng(seed)
    adds = [rng.uniform(0, 5000, 2) for _ in range(n_add)]
    removes = [int(i) for i in rng.choice(len(fxy), n_remove, replace=False)]
    before = index.hh_covered.sum()
    predicted = index.what_if(add=adds, remove=removes)
    assert index.hh_covered.sum() == before  # what-if changes nothing
    for i, p in enumerate(adds):
        index.add_facility(10_000 + i, p)
    for f in removes:
        index.remove_facility(f)
    assert index.hh_covered.sum() - before == predicted.net_households
    actual = index.hh_covered - _full(bxy, fxy, list(range(len(fxy))), hh, group, 400.0).hh_covered
    assert {g: int(v) for g, v in enumerate(actual) if v} == predicted.by_group
