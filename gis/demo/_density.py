"""Where the demo's households live: an invented density field over the real outline.

Every split below the district (subdistricts, communities, grids) balances
households, so all of them weigh the same sample points of this one field.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from gis.demo.spec import (
    OLD_TOWN_LONLAT,
)


class DensityField:
    """Invented household density (households per km²) over the district, metric coordinates."""

    def __init__(self, boundary: BaseGeometry, to_metric: Transformer, rng: np.random.Generator):
        x0, y0 = to_metric.transform(*OLD_TOWN_LONLAT)
        core = shapely.Point(x0, y0)
        if not boundary.contains(core):
            core = shapely.get_point(shapely.shortest_line(boundary.buffer(-500), core), 0)
        self.core = (core.x, core.y)
        # A newer second centre 4-7 km from the old town, inside the district.
        for _ in range(200):
            angle = rng.uniform(0, 2 * math.pi)
            dist = rng.uniform(4000, 7000)
            p = shapely.Point(core.x + dist * math.cos(angle), core.y + dist * math.sin(angle))
            if boundary.buffer(-1000).contains(p):
                break
        else:
            p = boundary.representative_point()
        self.second = (p.x, p.y)
        minx, miny, maxx, maxy = boundary.bounds
        n = 14
        self.bumps = np.column_stack(
            [
                rng.uniform(minx, maxx, n),
                rng.uniform(miny, maxy, n),
                rng.uniform(500, 1300, n),
                rng.uniform(-0.75, 0.9, n),
            ]
        )

    def __call__(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
        r0 = np.hypot(x - self.core[0], y - self.core[1])
        r1 = np.hypot(x - self.second[0], y - self.second[1])
        d = 150.0 + 5200.0 * np.exp(-((r0 / 2800.0) ** 2)) + 2300.0 * np.exp(-((r1 / 1600.0) ** 2))
        factor = np.ones_like(d)
        for bx, by, s, a in self.bumps:
            factor *= 1.0 + a * np.exp(-(((x - bx) ** 2 + (y - by) ** 2) / s**2))
        return d * factor


def sample_points(
    geom: BaseGeometry, spacing: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Jittered lattice points inside ``geom``, one per ``spacing``² square metres."""
    minx, miny, maxx, maxy = geom.bounds
    xs = np.arange(minx + spacing / 2, maxx, spacing)
    ys = np.arange(miny + spacing / 2, maxy, spacing)
    gx, gy = np.meshgrid(xs, ys)
    gx = gx.ravel() + rng.uniform(-0.4, 0.4, gx.size) * spacing
    gy = gy.ravel() + rng.uniform(-0.4, 0.4, gy.size) * spacing
    shapely.prepare(geom)
    inside = shapely.contains_xy(geom, gx, gy)
    return np.column_stack([gx[inside], gy[inside]])
