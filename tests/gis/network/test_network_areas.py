"""Service areas: reached edge parts as bands, enclosed blocks filled, walled ones not."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.ops import substring

from gis.errors import InvalidParameterError
from gis.network import Network, attach
from gis.network.areas import edge_parts, service_areas

METHODS = pytest.mark.parametrize("method", ["vector", "raster"])
TOL = {"vector": 1e-6, "raster": 0.5}


def lines(*coords: list[tuple[float, float]]) -> np.ndarray:
    return np.array([shapely.LineString(c) for c in coords], dtype=object)


def block(x0: float, y0: float, size: float) -> list[list[tuple[float, float]]]:
    x1, y1 = x0 + size, y0 + size
    return [[(x0, y0), (x1, y0)], [(x1, y0), (x1, y1)], [(x1, y1), (x0, y1)], [(x0, y1), (x0, y0)]]


@METHODS
def test_a_band_along_the_reached_part_of_one_street(method: str) -> None:
    net = Network.from_lines(lines([(0, 0), (1000, 0)]))
    (area,) = service_areas(net, attach(net, [[500, 0]]), [100], width_m=30, method=method)
    assert area.bounds == pytest.approx((385, -15, 615, 15), abs=TOL[method])
    assert area.area == pytest.approx(200 * 30 + np.pi * 15**2, rel=0.02)


@METHODS
def test_several_cut_offs_nest(method: str) -> None:
    net = Network.from_lines(lines(*block(0, 0, 200), [(200, 0), (1200, 0)]))
    areas = service_areas(net, attach(net, [[100, 0]]), [50, 300, 1000], method=method)
    sizes = [a.area for a in areas]
    assert sizes == sorted(sizes)
    grow = TOL[method]  # the raster's outline: within centimetres of the buffer's
    assert areas[2].buffer(grow).covers(areas[1]) and areas[1].buffer(grow).covers(areas[0])


@METHODS
def test_an_enclosed_block_is_filled(method: str) -> None:
    net = Network.from_lines(lines(*block(0, 0, 200)))
    (area,) = service_areas(net, attach(net, [[0, 0]]), [1000], method=method)
    assert area.covers(shapely.Point(100, 100))
    assert area.area == pytest.approx(230 * 230, rel=0.01)


@METHODS
def test_a_walled_compound_reached_only_around_its_outside_stays_empty(method: str) -> None:
    net = Network.from_lines(lines(*block(0, 0, 200)))
    wall = np.array([shapely.box(20, 20, 180, 180).exterior], dtype=object)
    (area,) = service_areas(net, attach(net, [[0, 0]]), [1000], barriers=wall, method=method)
    assert not area.covers(shapely.Point(100, 100))
    assert area.covers(shapely.Point(100, 5))
    assert area.area == pytest.approx(230 * 230 - 170 * 170, rel=0.02)


@METHODS
def test_a_river_without_a_bridge_is_not_jumped(method: str) -> None:
    # Two streets 200 m apart, a river between, a bridge only in the second network.
    streets = [
        [(0, 0), (500, 0)],
        [(500, 0), (1000, 0)],
        [(0, 200), (500, 200)],
        [(500, 200), (1000, 200)],
    ]
    river = np.array([shapely.LineString([(-100, 100), (1100, 100)])], dtype=object)
    bridge = [(500, 0), (500, 200)]
    no_bridge = Network.from_lines(lines(*streets))
    (area,) = service_areas(
        no_bridge, attach(no_bridge, [[500, 0]]), [600], barriers=river, method=method
    )
    assert area.covers(shapely.Point(500, 5)) and not area.covers(shapely.Point(500, 195))
    with_bridge = Network.from_lines(lines(*streets, bridge))
    (area,) = service_areas(
        with_bridge, attach(with_bridge, [[500, 0]]), [600], barriers=river, method=method
    )
    assert area.covers(shapely.Point(500, 195)) and area.covers(shapely.Point(850, 200))
    assert not area.covers(shapely.Point(950, 200))  # 200 + 450 m: beyond


def test_nothing_reached_is_an_empty_polygon() -> None:
    net = Network.from_lines(lines([(0, 0), (1000, 0)]))
    far = attach(net, [[500, 9000]])
    leg_too_long = attach(net, [[500, 80]])
    assert service_areas(net, far, [500])[0].is_empty
    assert service_areas(net, leg_too_long, [50])[0].is_empty
    assert service_areas(net, leg_too_long, []) == []
    with pytest.raises(InvalidParameterError, match="width"):
        service_areas(net, far, [500], width_m=0)


def test_edge_parts_are_the_substrings_of_the_edges() -> None:
    rng = np.random.default_rng(7)
    coords = np.cumsum(rng.normal(0, 50, (40, 6, 2)), axis=1)
    net = Network.from_lines(shapely.linestrings(coords))
    a, b = np.sort(rng.random((2, 40)), axis=0)
    a[:5], b[:5] = 0.0, 1.0
    got = edge_parts(net, np.arange(40), a, b)
    for e in range(40):
        want = substring(net.geoms[e], a[e], b[e], normalized=True)
        assert shapely.equals_exact(got[e], want, tolerance=1e-6), e


def test_raster_and_vector_areas_agree_on_a_real_network_sized_input() -> None:
    rng = np.random.default_rng(3)
    segs = []
    for i in range(12):
        for j in range(12):
            segs.append([(i * 90, j * 90), ((i + 1) * 90, j * 90)])
            segs.append([(i * 90, j * 90), (i * 90, (j + 1) * 90)])
    net = Network.from_lines(lines(*segs))
    wall = np.array([shapely.box(200, 200, 330, 330).exterior], dtype=object)
    fac = attach(net, rng.uniform(300, 700, (3, 2)))
    vec = service_areas(net, fac, [300, 600], barriers=wall, method="vector")
    ras = service_areas(net, fac, [300, 600], barriers=wall, method="raster")
    for v, r in zip(vec, ras, strict=True):
        assert shapely.symmetric_difference(v, r).area < 0.01 * v.area
        assert shapely.get_num_interior_rings(v) == shapely.get_num_interior_rings(r)
