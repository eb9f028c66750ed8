"""The demo's walking network: its streets, a river and a rail line with few crossings,
and a few gated compounds (封闭小区) with one or two gates.

A one-kilometre circle promises more than a one-kilometre walk delivers; the
demo must show by how much. So, drawn deterministically from the demo's seed
(a random stream of its own, so nothing else in the demo changes with it):

- every street edge (table ``street``) is a walking edge, two-way;
- a river (``RIVER_NAME``) meanders north-south across the whole district;
  the street edges that cross it end on either bank except ``BRIDGES``
  bridges (``kind='bridge'``);
- a rail line (``RAIL_NAME``) runs east-west across the district; the main
  roads cross it on overpasses (``bridge``) and one smaller street by an
  underpass (``tunnel``); the other streets crossing it end on either side;
- the other grids are open: lanes run through each, east-west and
  north-south through its middle and every ``LANE_SPACING_M`` beside it,
  from street to street (``path``), stopping short of the river and the rail;
- ``COMPOUNDS`` grids away from both become gated compounds: a wall
  (``walk_barrier`` kind ``wall``) ``WALL_INSET_M`` inside the grid's outline
  (the demo's buildings stay 4 m inside), one or two gates from the middle of
  a street on its edge through the wall, and paths inside from the gates to a
  cross of lanes through the compound, so its buildings join the network
  inside the wall and walk out through a gate.

Every line is noded where it meets another (a gate splits the street it
leaves from); edges keep their street's name and kind.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from gis.demo.spec import METRIC_CRS, OUTPUT_CRS
from gis.network.store import snap_nodes

RIVER_NAME = "虞河"
RAIL_NAME = "胶济铁路"
BRIDGES = 3
"""Street crossings of the river kept, spread along it."""
COMPOUNDS = 6
"""Gated compounds (grids walled in)."""
WALL_INSET_M = 2.5
"""How far inside its grid's outline a compound's wall runs (buildings stay 4 m inside)."""
GATE_DEPTH_M = 15.0
"""How far a gate's path runs from the street into the compound."""
LANE_INSET_M = 10.0
"""How far inside the wall the compound's inner lanes end."""
LANE_SPACING_M = 350.0
"""Lanes through an open grid run this far apart (large grids get several)."""
RIVER_AMPLITUDE_M = 150.0
RIVER_WAVELENGTH_M = 2600.0
_AWAY_M = 60.0
"""Compounds keep at least this far from the river and the rail line."""


def make_walk(
    streets: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    district: BaseGeometry,
    seed: int,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Walking edges and barriers (both EPSG:4326) from the demo's ``streets`` and ``grids``.

    ``streets`` (EPSG:4326, columns ``name``, ``kind``) is the noded street
    network of ``gis.demo._streets``; ``grids`` (any CRS, columns ``code``,
    ``name``); ``district`` the district's outline in EPSG:4326. Edges: columns
    ``name``, ``kind`` (``street``, ``bridge``, ``tunnel``, ``gate``, ``path``),
    ``forward``, ``backward``; barriers: ``kind``, ``name``.
    """
    rng = np.random.default_rng([seed, 14])
    lines = np.asarray(streets.to_crs(METRIC_CRS).geometry.array, dtype=object)
    names = [str(n) for n in streets["name"]]
    street_kinds = [str(k) for k in streets["kind"]]
    area = gpd.GeoSeries([district], crs=OUTPUT_CRS).to_crs(METRIC_CRS).iloc[0]

    river = _river(area, rng)
    rail = _rail(area, rng)
    kinds = ["street"] * len(lines)
    keep = np.ones(len(lines), dtype=bool)

    crosses_river = np.flatnonzero(shapely.intersects(lines, river))
    for i in _spread(crosses_river, lines, river, street_kinds, axis=1):
        kinds[i] = "bridge"
    keep[[i for i in crosses_river if kinds[i] != "bridge"]] = False

    crosses_rail = np.flatnonzero(shapely.intersects(lines, rail))
    smaller = [i for i in crosses_rail.tolist() if street_kinds[i] != "main" and keep[i]]
    underpass = _middle(smaller, lines, rail, axis=0)
    for i in crosses_rail.tolist():
        if street_kinds[i] == "main":
            kinds[i] = "bridge"
        elif i == underpass:
            kinds[i] = "tunnel"
        else:
            keep[i] = False

    for i in _reconnecting(lines, keep, np.union1d(crosses_river, crosses_rail)):
        keep[i] = True
        kinds[i] = "bridge" if i in set(crosses_river.tolist()) else "tunnel"
    kept = np.flatnonzero(keep)
    walk_lines: list[BaseGeometry] = [lines[i] for i in kept]
    walk_names: list[str | None] = [names[i] for i in kept]
    walk_kinds = [kinds[i] for i in kept]
    # A street that crossed where no bridge is now ends on either bank.
    banks = shapely.union_all([river, rail]).buffer(_AWAY_M / 10)
    for i in np.flatnonzero(~keep).tolist():
        ends = shapely.points(shapely.get_coordinates(lines[i])[[0, -1]])
        for part in shapely.get_parts(lines[i].difference(banks)):
            if (
                part.geom_type == "LineString"
                and part.length > 5
                and shapely.dwithin(part, ends, 1e-6).any()
            ):
                walk_lines.append(part)
                walk_names.append(names[i])
                walk_kinds.append("street")

    walls: list[BaseGeometry] = []
    wall_names: list[str] = []
    grid_m = grids.to_crs(METRIC_CRS).reset_index(drop=True)
    street_tree = shapely.STRtree(np.asarray(walk_lines, dtype=object))
    compounds = _compound_grids(grid_m, area, river, rail, rng)
    for lane in _open_lanes(grid_m, compounds, river, rail, street_tree):
        walk_lines.append(lane)
        walk_names.append(None)
        walk_kinds.append("lane")
    for g in compounds:
        outline = grid_m.geometry.iloc[g]
        inner = outline.buffer(-WALL_INSET_M, join_style="mitre")
        if inner.geom_type != "Polygon":
            continue
        gates, paths = _gates_and_paths(outline, inner, walk_lines, street_tree, rng)
        if not gates:
            continue
        walls.append(LineString(inner.exterior.coords))
        wall_names.append(f"{grid_m['name'].iloc[g]}围墙")
        walk_lines += gates + paths
        walk_names += [None] * (len(gates) + len(paths))
        walk_kinds += ["gate"] * len(gates) + ["path"] * len(paths)

    edges, edge_names, edge_kinds = _noded(walk_lines, walk_names, walk_kinds)
    # Bits cut off by the barriers (a street's stub between the river and the rail line,
    # with no junction of its own) go: a walker there could reach nothing.
    source, target = snap_nodes(edges)
    label, sizes = _labels(source, target, int(max(source.max(), target.max())) + 1)
    main = label[source] == int(np.argmax(sizes))
    edges = edges[main]
    edge_names = [n for n, m in zip(edge_names, main, strict=True) if m]
    edge_kinds = [k for k, m in zip(edge_kinds, main, strict=True) if m]
    edge_frame = gpd.GeoDataFrame(
        {
            "name": edge_names,
            "kind": edge_kinds,
            "forward": np.ones(len(edges), dtype=bool),
            "backward": np.ones(len(edges), dtype=bool),
        },
        geometry=gpd.GeoSeries(edges, crs=METRIC_CRS),
    ).to_crs(OUTPUT_CRS)
    barrier_frame = gpd.GeoDataFrame(
        {
            "kind": ["river", "rail"] + ["wall"] * len(walls),
            "name": [RIVER_NAME, RAIL_NAME, *wall_names],
        },
        geometry=gpd.GeoSeries([river, rail, *walls], crs=METRIC_CRS),
    ).to_crs(OUTPUT_CRS)
    return edge_frame, barrier_frame


def _river(area: BaseGeometry, rng: np.random.Generator) -> BaseGeometry:
    """A meandering north-south line across the district, through its dense western part."""
    minx, miny, maxx, maxy = area.bounds
    x0 = minx + (maxx - minx) * rng.uniform(0.26, 0.34)
    phase = rng.uniform(0, 2 * np.pi)
    ys = np.arange(miny - 200.0, maxy + 200.0, 40.0)
    xs = x0 + RIVER_AMPLITUDE_M * np.sin(2 * np.pi * (ys - miny) / RIVER_WAVELENGTH_M + phase)
    line = LineString(np.column_stack([xs, ys]))
    return _within(line, area)


def _rail(area: BaseGeometry, rng: np.random.Generator) -> BaseGeometry:
    """A nearly straight east-west line across the district, a little south of its middle."""
    minx, miny, maxx, maxy = area.bounds
    y0 = miny + (maxy - miny) * rng.uniform(0.40, 0.46)
    rise = (maxy - miny) * rng.uniform(-0.04, 0.04)
    line = LineString([(minx - 200.0, y0), (maxx + 200.0, y0 + rise)])
    # Vertices every 20 m: a straight line of the plane is not one in degrees, and the
    # crossings must be the same in both.
    return _within(shapely.segmentize(line, 20.0), area)


def _within(line: BaseGeometry, area: BaseGeometry) -> BaseGeometry:
    """``line`` within 200 m of the district (a map shows where it comes from and goes)."""
    clipped = shapely.intersection(line, area.buffer(200.0))
    return shapely.line_merge(clipped) if clipped.geom_type == "MultiLineString" else clipped


def _crossing_at(lines: NDArray[np.object_], i: int, barrier: BaseGeometry, axis: int) -> float:
    point = shapely.intersection(lines[i], barrier)
    return float(shapely.get_coordinates(point)[:, axis].mean())


def _spread(
    crossing: NDArray[np.int64],
    lines: NDArray[np.object_],
    barrier: BaseGeometry,
    kinds: list[str],
    axis: int,
) -> list[int]:
    """``BRIDGES`` crossings spread along the barrier, main roads first, then secondary."""
    ranked = [i for i in crossing if kinds[i] == "main"]
    if len(ranked) < BRIDGES:
        ranked += [i for i in crossing if kinds[i] == "secondary"]
    if len(ranked) < BRIDGES:
        ranked = list(crossing)
    if not ranked:
        return []
    ranked.sort(key=lambda i: _crossing_at(lines, i, barrier, axis))
    picks = np.linspace(0, len(ranked) - 1, BRIDGES + 2)[1:-1]
    return sorted({ranked[round(p)] for p in picks})


def _middle(
    candidates: list[int], lines: NDArray[np.object_], barrier: BaseGeometry, axis: int
) -> int | None:
    if not candidates:
        return None
    ordered = sorted(candidates, key=lambda i: _crossing_at(lines, i, barrier, axis))
    return ordered[len(ordered) // 2]


def _reconnecting(
    lines: NDArray[np.object_], keep: NDArray[np.bool_], removed: NDArray[np.int64]
) -> list[int]:
    """Removed crossings to put back, one at a time, until the streets are one network
    again: a part of the district whose only links crossed the river or the rail line
    keeps one of them (on the demo, the south-east beyond the rail line)."""
    source, target = snap_nodes(lines)
    n = int(max(source.max(initial=0), target.max(initial=0))) + 1
    keep = keep.copy()
    restored: list[int] = []
    while True:
        label, sizes = _labels(source[keep], target[keep], n)
        if (sizes > 0).sum() <= 1:
            return restored
        joining = [
            int(i)
            for i in removed
            if not keep[i]
            and label[source[i]] != label[target[i]]
            and sizes[label[source[i]]] > 0
            and sizes[label[target[i]]] > 0
        ]
        if not joining:
            return restored
        keep[joining[0]] = True
        restored.append(joining[0])


def _labels(
    source: NDArray[np.int64], target: NDArray[np.int64], n: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Component label per node, and edges per component."""
    graph = coo_matrix((np.ones(len(source)), (source, target)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    return label, np.bincount(label[source], minlength=n)


def _compound_grids(
    grids: gpd.GeoDataFrame,
    area: BaseGeometry,
    river: BaseGeometry,
    rail: BaseGeometry,
    rng: np.random.Generator,
) -> list[int]:
    """``COMPOUNDS`` grid rows: inside the district (streets all round), nearly convex,
    of a compound's size, away from the river and the rail line."""
    geoms = np.asarray(grids.geometry.array, dtype=object)
    inside = shapely.within(shapely.buffer(geoms, 1.0), area)
    convex = shapely.area(geoms) / shapely.area(shapely.convex_hull(geoms)) > 0.97
    size = (shapely.area(geoms) > 40_000) & (shapely.area(geoms) < 250_000)
    away = ~shapely.dwithin(geoms, river, _AWAY_M) & ~shapely.dwithin(geoms, rail, _AWAY_M)
    candidates = np.flatnonzero(inside & convex & size & away)
    if len(candidates) == 0:
        return []
    chosen = rng.choice(candidates, size=min(COMPOUNDS, len(candidates)), replace=False)
    return sorted(int(c) for c in chosen)


def _gates_and_paths(
    outline: BaseGeometry,
    inner: BaseGeometry,
    streets: list[BaseGeometry],
    tree: shapely.STRtree,
    rng: np.random.Generator,
) -> tuple[list[BaseGeometry], list[BaseGeometry]]:
    """One or two gates from street vertices on the grid's edge through the wall, and the
    lanes inside: from each gate to the compound's middle, and a cross through it."""
    edge = outline.boundary
    near = [int(i) for i in tree.query(edge, predicate="dwithin", distance=0.5)]
    along = [i for i in near if edge.distance(streets[i].interpolate(0.5, normalized=True)) < 0.5]
    along.sort(key=lambda i: (-round(streets[i].length, 1), i))
    if not along:
        return [], []
    wanted = 1 if rng.random() < 0.5 else 2
    centre = inner.point_on_surface() if not inner.contains(inner.centroid) else inner.centroid
    gates: list[BaseGeometry] = []
    paths: list[BaseGeometry] = []
    used: list[Point] = []
    for i in along:
        if len(gates) == wanted:
            break
        outer = _middle_vertex(streets[i])
        if any(outer.distance(u) < 150.0 for u in used):
            continue
        dx, dy = centre.x - outer.x, centre.y - outer.y
        norm = float(np.hypot(dx, dy))
        if norm < 3 * GATE_DEPTH_M:
            continue
        inside = Point(outer.x + dx / norm * GATE_DEPTH_M, outer.y + dy / norm * GATE_DEPTH_M)
        if not inner.contains(inside):
            continue
        used.append(outer)
        gates.append(LineString([outer, inside]))
        paths.append(LineString([inside, centre]))
    lane_area = inner.buffer(-LANE_INSET_M)
    if gates and not lane_area.is_empty:
        minx, miny, maxx, maxy = lane_area.bounds
        cross = [
            LineString([(minx - 1, centre.y), (maxx + 1, centre.y)]),
            LineString([(centre.x, miny - 1), (centre.x, maxy + 1)]),
        ]
        for lane in cross:
            clipped = lane.intersection(lane_area)
            for part in shapely.get_parts(clipped):
                if part.geom_type == "LineString" and part.distance(centre) < 1e-6:
                    paths.append(part)
    return gates, paths


def _middle_vertex(line: BaseGeometry) -> Point:
    """The vertex of ``line`` nearest its middle (a vertex, so noding meets it exactly)."""
    coords = np.asarray(line.coords)
    mid = np.asarray(line.interpolate(0.5, normalized=True).coords[0])
    interior = coords[1:-1] if len(coords) > 2 else coords
    best = interior[np.argmin(np.hypot(*(interior - mid).T))]
    return Point(best)


def _open_lanes(
    grids: gpd.GeoDataFrame,
    compounds: list[int],
    river: BaseGeometry,
    rail: BaseGeometry,
    streets: shapely.STRtree,
) -> list[BaseGeometry]:
    """Lanes through the open grids (all but the compounds), as the alleys of an open
    neighbourhood let people through: east-west and north-south through the grid's
    middle and every ``LANE_SPACING_M`` beside it, from street to street. A lane stops
    ``_AWAY_M``/10 short of the river and the rail line; only lanes that meet a street
    are kept. Each runs 1 m past the grid's outline, so that noding splits the streets it
    meets; the stubs go after."""
    geoms = np.asarray(grids.geometry.array, dtype=object)
    barriers = shapely.union_all([river, rail]).buffer(_AWAY_M / 10)
    lanes: list[BaseGeometry] = []
    skip = set(compounds)
    for g, outline in enumerate(geoms):
        if g in skip:
            continue
        centre = (
            outline.centroid if outline.contains(outline.centroid) else outline.point_on_surface()
        )
        minx, miny, maxx, maxy = outline.bounds
        reach = outline.buffer(1.0)
        ys = centre.y + LANE_SPACING_M * np.arange(-20, 21)
        xs = centre.x + LANE_SPACING_M * np.arange(-20, 21)
        lines = [LineString([(minx - 2, y), (maxx + 2, y)]) for y in ys if miny < y < maxy]
        lines += [LineString([(x, miny - 2), (x, maxy + 2)]) for x in xs if minx < x < maxx]
        parts: list[BaseGeometry] = []
        for line in lines:
            inside = line.intersection(reach)
            if inside.intersects(barriers):
                inside = inside.difference(barriers)
            parts += [
                p for p in shapely.get_parts(inside) if p.geom_type == "LineString" and p.length > 5
            ]
        meeting = [p for p in parts if len(streets.query(p, predicate="intersects"))]
        rest = [p for p in parts if not len(streets.query(p, predicate="intersects"))]
        while meeting and rest:  # lanes that meet a kept lane are kept too
            joined = [p for p in rest if any(p.intersects(m) for m in meeting)]
            if not joined:
                break
            meeting += joined
            rest = [p for p in rest if not any(p is j for j in joined)]
        for part in rest:
            # A lane no street or kept lane meets (a grid on the district's outline, where
            # no street runs): a path from its middle to the nearest street that crosses
            # no barrier, if there is one within reach.
            middle = part.interpolate(0.5, normalized=True)
            near = streets.geometries[streets.query(middle.buffer(1000.0))]
            for street in sorted(near, key=middle.distance):
                link = LineString([middle, street.interpolate(street.project(middle))])
                if not link.intersects(barriers):
                    meeting += [part, link]
                    break
        lanes += meeting
    return lanes


def _noded(
    lines: list[BaseGeometry], names: list[str | None], kinds: list[str]
) -> tuple[NDArray[np.object_], list[str | None], list[str]]:
    """The lines split where they meet, each piece with its line's name and kind."""
    source = np.asarray(lines, dtype=object)
    merged = shapely.union_all(source)
    pieces = np.asarray([p for p in shapely.get_parts(merged) if p.length > 0.01], dtype=object)
    middles = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    tree = shapely.STRtree(source)
    piece_idx, line_idx = tree.query(middles, predicate="dwithin", distance=0.01)
    owner = np.full(len(pieces), -1, dtype=np.int64)
    # The first line (streets come first) owns a piece two lines share.
    order = np.lexsort((line_idx, piece_idx))
    piece_idx, line_idx = piece_idx[order], line_idx[order]
    first = np.r_[True, piece_idx[1:] != piece_idx[:-1]]
    owner[piece_idx[first]] = line_idx[first]
    found = owner >= 0
    pieces, owner = pieces[found], owner[found]
    middles = middles[found]
    stub = np.array([kinds[o] == "lane" for o in owner]) & (shapely.length(pieces) < 1.5)
    pieces, owner, middles = pieces[~stub], owner[~stub], middles[~stub]
    key = np.round(shapely.get_coordinates(middles), 2)
    order = np.lexsort((key[:, 0], key[:, 1]))
    pieces, owner = pieces[order], owner[order]
    kind = ["path" if kinds[o] == "lane" else kinds[o] for o in owner]
    return pieces, [names[o] for o in owner], kind
