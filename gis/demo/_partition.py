"""Subdistricts and communities as capacity-constrained power diagrams.

Cells sized by their share of households, not of area, give the dense old town
small units and the outskirts large ones, as real divisions do; each cell stays
one connected piece, as an area on a map must.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry


def _power_partition(
    xy: NDArray[np.float64],
    mass: NDArray[np.float64],
    targets: NDArray[np.float64],
    sites: NDArray[np.float64],
    cell_area: float,
    iterations: int = 80,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sites and power weights (m²) whose power cells hold ``targets`` shares of ``mass``.

    Lloyd steps move each site to the mass centroid of its cell while the weights
    grow cells that hold too little mass (capacity-constrained power diagram).
    ``cell_area`` is the area (m²) one sample point stands for.
    """
    k = len(targets)
    share = targets / targets.sum() * mass.sum()
    origin = xy.mean(axis=0)
    local = xy - origin
    sites = sites - origin
    weights = np.zeros(k)
    for _ in range(iterations):
        # |x - s|² - w, without the |x|² term that is the same for every site
        d = (sites**2).sum(axis=1) - weights - 2.0 * (local @ sites.T)
        label = d.argmin(axis=1)
        got = np.bincount(label, weights=mass, minlength=k)
        count = np.bincount(label, minlength=k)
        has = got > 0
        for axis in (0, 1):
            moment = np.bincount(label, weights=mass * local[:, axis], minlength=k)
            sites[has, axis] = moment[has] / got[has]
        area = np.maximum(count, 1) * cell_area
        err = np.clip((share - got) / share, -0.5, 1.0)
        if np.abs(err).max() < 0.01:
            break
        weights += 0.6 * err * area / math.pi
        weights -= weights.mean()
    return sites + origin, weights


def _power_cells(
    sites: NDArray[np.float64], weights: NDArray[np.float64], bounds: tuple[float, ...]
) -> list[BaseGeometry]:
    """The power diagram of ``sites`` around ``bounds``, one convex polygon per site."""
    minx, miny, maxx, maxy = bounds
    pad = max(maxx - minx, maxy - miny)
    origin = np.array([(minx + maxx) / 2, (miny + maxy) / 2])
    local = sites - origin
    frame = shapely.box(-pad, -pad, pad, pad)
    big = 10 * pad
    cells = []
    for j in range(len(sites)):
        others = np.delete(np.arange(len(sites)), j)
        n = local[others] - local[j]
        norm = np.hypot(n[:, 0], n[:, 1])[:, None]
        # Points x with n·x <= h are nearer (in power distance) to j than to the other site.
        h = (
            (local[others] ** 2).sum(axis=1) - local[j] @ local[j] - weights[others] + weights[j]
        ) / 2
        unit = n / norm
        base = unit * (h[:, None] / norm)
        t = np.column_stack([-unit[:, 1], unit[:, 0]])
        ring = np.stack(
            [
                base + big * t,
                base - big * t,
                base - big * t - big * unit,
                base + big * t - big * unit,
            ],
            axis=1,
        )
        halves = shapely.polygons(ring)
        cell = shapely.intersection_all(np.append(halves, frame))
        cells.append(shapely.transform(cell, lambda c: c + origin))
    return cells


def merge_fragments(pieces: list[BaseGeometry]) -> list[BaseGeometry]:
    """Give each piece only its largest part; smaller parts join the neighbour they touch most."""
    main: list[BaseGeometry] = []
    orphans: list[tuple[int, BaseGeometry]] = []
    for j, geom in enumerate(pieces):
        parts = [p for p in shapely.get_parts(geom) if p.area > 0]
        if not parts:
            main.append(shapely.Polygon())
            continue
        parts.sort(key=lambda p: -p.area)
        main.append(parts[0])
        orphans.extend((j, p) for p in parts[1:])
    orphans.sort(key=lambda jp: -jp[1].area)
    for own, part in orphans:
        halo = part.buffer(0.05)
        shared = [
            shapely.length(shapely.intersection(halo, m.boundary))
            if j != own and not m.is_empty
            else 0.0
            for j, m in enumerate(main)
        ]
        best = int(np.argmax(shared)) if max(shared) > 0 else own
        main[best] = shapely.union(main[best], part)
    return main


def partition(
    parent: BaseGeometry,
    xy: NDArray[np.float64],
    mass: NDArray[np.float64],
    targets: NDArray[np.float64],
    init: NDArray[np.float64],
    cell_area: float,
) -> list[BaseGeometry]:
    """Split ``parent`` into ``len(targets)`` connected pieces holding those shares of mass."""
    if len(targets) == 1:
        return [parent]
    stride = max(1, len(xy) // 8000)  # ~8,000 points place ten cells well enough
    sites, weights = _power_partition(
        xy[::stride], mass[::stride], targets, init, cell_area * stride
    )
    cells = _power_cells(sites, weights, parent.bounds)
    pieces = [shapely.intersection(c, parent) for c in cells]
    if any(p.is_empty for p in pieces):  # a starved cell: fall back to the plain Voronoi split
        cells = _power_cells(sites, np.zeros(len(sites)), parent.bounds)
        pieces = [shapely.intersection(c, parent) for c in cells]
    return merge_fragments(pieces)


def seed_sites(
    xy: NDArray[np.float64], mass: NDArray[np.float64], k: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """k-means++ initial sites drawn in proportion to mass."""
    p = mass / mass.sum()
    first = rng.choice(len(xy), p=p)
    sites = [xy[first]]
    d2 = ((xy - sites[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        w = d2 * mass
        nxt = rng.choice(len(xy), p=w / w.sum())
        sites.append(xy[nxt])
        d2 = np.minimum(d2, ((xy - xy[nxt]) ** 2).sum(axis=1))
    return np.array(sites)
