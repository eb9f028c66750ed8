"""Demo streets: a named, noded street network along the demo's grid, community and
subdistrict edges.

The demo's blocks are its grids (straight household-balanced cuts; buildings
stay ``FOOTPRINT_MARGIN_M`` inside), so its streets run along their edges:
every grid edge is a road, a community edge a secondary road, a subdistrict
edge a main road. The district's own outline is left without a road (it
follows rivers and fields as often as roads). The edges are
noded where they meet (each street row ends at a junction), so that a walking
network can later route over them.

Names follow the city's habit (Weifang's east-west roads are 街, north-south
ones 路; short local roads 巷): edges that continue one another straight through a
junction form one road (a "stroke") and share its name; a long main road
through the district's middle is named in halves, 东/西 or 南/北 (胜利东街,
胜利西街). Names come from a random stream of their own, seeded from the
demo's seed, so the rest of the demo does not change with them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from itertools import combinations

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from gis.basemap.streets import StreetKind
from gis.demo.spec import METRIC_CRS, OUTPUT_CRS

#: Two edges continue one another when they deviate from straight by less than this.
STRAIGHT_DEG = 35.0
#: A main road at least this long (metres) that crosses the district's middle is named in halves.
HALVES_MIN_M = 2500.0
#: How close (metres) an edge's midpoint lies to an area boundary to run along it.
ON_BOUNDARY_M = 0.5
#: A local road longer than this (metres) is a 街 or 路, not a lane (巷).
LANE_MAX_M = 800.0
#: Metres from a junction that give an edge's direction there.
DIRECTION_M = 25.0

_MAIN_STEMS_TEXT = (
    "胜利 东风 健康 福寿 文化 鸢飞 北宫 宝通 四平 虞河 新华 和平 潍州 北海 长松 民生 "
    "友谊 幸福 人民 建设 光明 育才 振兴 永安 清平 月河 白浪 金马 银海 华安 玉清 樱前 "
    "春晖 丰华 瑞祥 卧龙 怡园 青年 向阳 团结 曙光 兴华"
)
_SECONDARY_STEMS_TEXT = (
    "安顺 福乐 樱园 松园 柏园 梅园 兰亭 竹园 菊园 桃园 杏林 柳荫 槐荫 榆林 枫林 桂花 "
    "荷花 牡丹 海棠 芙蓉 丁香 玉兰 紫薇 石榴 葵花 麦香 稻香 清源 泉源 碧水 青山 云峰 "
    "彩虹 星光 月明 朝阳 晨曦 晚霞 东明 西城 南苑 北苑 中兴 广文 崇文 尚德 明德 厚德 "
    "至善 敬业 乐群 惠民 利民 便民 安居 乐业 康庄 通达"
)
_NUMERALS = "一二三四五六七八九十"
_LANE_CHARS = "安康福顺和平兴隆永宁华荣瑞祥嘉泰春秋松柏梅兰竹菊桃李杏柳槐榆仁义礼信忠孝德善"


def make_streets(
    grids: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    subdistricts: gpd.GeoDataFrame,
    seed: int,
) -> gpd.GeoDataFrame:
    """Streets along the edges of ``grids`` (any CRS), named, in EPSG:4326.

    Columns: ``name``, ``kind`` (``main``, ``secondary``, ``local``),
    ``length_m`` (metres), ``geometry`` (LineString). Each row is one edge
    between junctions; rows meet only at shared end points.
    """
    grid_m = grids.to_crs(METRIC_CRS).geometry.to_numpy()
    comm_m = communities.to_crs(METRIC_CRS).geometry.to_numpy()
    sub_m = subdistricts.to_crs(METRIC_CRS).geometry.to_numpy()
    edges = _edges(grid_m)
    kind_or_none = _kinds(edges, comm_m, sub_m)
    edges = edges[np.array([k is not None for k in kind_or_none], dtype=bool)]
    kinds = [k for k in kind_or_none if k is not None]
    stroke = _strokes(edges, kinds)
    names = _names(edges, kinds, stroke, sub_m, np.random.default_rng([seed, 13]))
    lengths = shapely.length(edges)
    out = gpd.GeoDataFrame(
        {"name": names, "kind": kinds, "length_m": np.round(lengths, 1)},
        geometry=gpd.GeoSeries(edges, crs=METRIC_CRS),
    ).to_crs(OUTPUT_CRS)
    return out.reset_index(drop=True)


def _edges(grids: NDArray[np.object_]) -> NDArray[np.object_]:
    """The grids' boundaries as one noded network: an edge from junction to junction.

    The grids tile exactly (identical shared vertices), so the union of their
    boundaries dissolves each shared edge into one line and nodes them where
    three or more grids meet; merging then joins the pieces between junctions.
    """
    network = shapely.union_all(shapely.boundary(grids))
    merged = shapely.line_merge(network)
    lines = [g for g in shapely.get_parts(merged) if g.length > 0]
    lines.sort(key=lambda g: tuple(np.round(g.centroid.coords[0], 3)))
    return np.array(lines, dtype=object)


def _kinds(
    edges: NDArray[np.object_], communities: NDArray[np.object_], subdistricts: NDArray[np.object_]
) -> list[str | None]:
    """Each edge's kind by the boundaries its midpoint lies on; None on the district's outline."""
    mids = shapely.line_interpolate_point(edges, 0.5, normalized=True)
    outer = shapely.boundary(shapely.union_all(subdistricts))
    subs = shapely.union_all(shapely.boundary(subdistricts))
    comms = shapely.union_all(shapely.boundary(communities))
    for geom in (outer, subs, comms):
        shapely.prepare(geom)
    on_outer = shapely.dwithin(mids, outer, ON_BOUNDARY_M)
    on_sub = shapely.dwithin(mids, subs, ON_BOUNDARY_M)
    on_comm = shapely.dwithin(mids, comms, ON_BOUNDARY_M)
    return [
        None
        if o
        else StreetKind.MAIN.value
        if s
        else StreetKind.SECONDARY.value
        if c
        else StreetKind.LOCAL.value
        for o, s, c in zip(on_outer, on_sub, on_comm, strict=True)
    ]


def _direction(line: BaseGeometry, at_start: bool) -> tuple[float, float]:
    """Unit vector leaving the junction at one end of ``line``, over its first metres."""
    length = line.length
    step = min(DIRECTION_M, length / 2)
    node = line.interpolate(0.0 if at_start else length)
    ahead = line.interpolate(step if at_start else length - step)
    dx, dy = ahead.x - node.x, ahead.y - node.y
    norm = math.hypot(dx, dy) or 1.0
    return dx / norm, dy / norm


def _strokes(edges: NDArray[np.object_], kinds: list[str]) -> NDArray[np.int64]:
    """A road id per edge: edges of a kind continuing straight through a junction share one.

    At each junction the straightest pairs of the same kind join first
    (greedy, as in the "natural roads" of street-network analysis).
    """
    parent = np.arange(len(edges))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    ends: dict[tuple[float, float], list[tuple[int, tuple[float, float]]]] = defaultdict(list)
    for i, line in enumerate(edges):
        coords = shapely.get_coordinates(line)
        for at_start, xy in ((True, coords[0]), (False, coords[-1])):
            key = (round(float(xy[0]), 3), round(float(xy[1]), 3))
            ends[key].append((i, _direction(line, at_start)))
    limit = math.cos(math.radians(180.0 - STRAIGHT_DEG))
    for incident in ends.values():
        pairs = []
        for (a, da), (b, db) in combinations(incident, 2):
            if a == b or kinds[a] != kinds[b]:
                continue
            cosine = da[0] * db[0] + da[1] * db[1]  # -1: straight on
            if cosine <= limit:
                pairs.append((cosine, a, b))
        used: set[int] = set()
        for _, a, b in sorted(pairs):
            if a in used or b in used:
                continue
            used.update((a, b))
            parent[find(a)] = find(b)
    return np.array([find(i) for i in range(len(edges))], dtype=np.int64)


def _stems(rng: np.random.Generator) -> tuple[list[str], list[str], list[str]]:
    """Name stems for main roads, secondary roads and lanes, each list in a seeded order."""
    lanes = [a + b for a, b in combinations(_LANE_CHARS, 2)]
    return (
        [str(s) for s in rng.permutation(_MAIN_STEMS_TEXT.split())],
        [str(s) for s in rng.permutation(_SECONDARY_STEMS_TEXT.split())],
        [str(s) for s in rng.permutation(lanes)],
    )


def _names(
    edges: NDArray[np.object_],
    kinds: list[str],
    stroke: NDArray[np.int64],
    subdistricts: NDArray[np.object_],
    rng: np.random.Generator,
) -> list[str]:
    """One name per road; a long main road across the middle gets 东/西 (南/北) halves."""
    main, secondary, lanes = _stems(rng)
    unused = {StreetKind.MAIN.value: main, StreetKind.SECONDARY.value: secondary}
    spare = iter(lanes)
    rounds = 0

    def spare_stem() -> str:
        """The next unused lane stem; numbered once all have been used (安康二, ...)."""
        nonlocal spare, rounds
        for stem in spare:
            return stem if rounds == 0 else f"{stem}{_NUMERALS[rounds % len(_NUMERALS)]}"
        rounds += 1
        spare = iter(lanes)
        return spare_stem()

    centre = shapely.centroid(shapely.union_all(subdistricts))
    mids = shapely.get_coordinates(shapely.line_interpolate_point(edges, 0.5, normalized=True))
    lengths = shapely.length(edges)
    names = [""] * len(edges)
    members_of: dict[int, list[int]] = defaultdict(list)
    for i, road in enumerate(stroke.tolist()):
        members_of[road].append(i)
    # The longest roads get the first stems; ties by their first edge, for a stable order.
    roads = sorted(members_of, key=lambda r: (-float(lengths[members_of[r]].sum()), r))
    for road in roads:
        members = np.array(members_of[road])
        kind = kinds[members[0]]
        coords = np.vstack([shapely.get_coordinates(edges[i]) for i in members])
        east_west = float(np.ptp(coords[:, 0])) >= float(np.ptp(coords[:, 1]))
        if kind == StreetKind.LOCAL.value:
            long_road = float(lengths[members].sum()) >= LANE_MAX_M
            lane = f"{spare_stem()}{('街' if east_west else '路') if long_road else '巷'}"
            for i in members:
                names[i] = lane
            continue
        pool = unused[kind]
        stem = pool.pop(0) if pool else spare_stem()
        suffix = "街" if east_west else "路"
        axis, cut = (0, centre.x) if east_west else (1, centre.y)
        side = mids[members, axis] >= cut
        halves = (
            kind == StreetKind.MAIN.value
            and float(lengths[members].sum()) >= HALVES_MIN_M
            and side.any()
            and not side.all()
        )
        for i, high in zip(members, side, strict=True):
            if halves:
                half = ("东" if high else "西") if east_west else ("北" if high else "南")
                names[i] = f"{stem}{half}{suffix}"
            else:
                names[i] = f"{stem}{suffix}"
    return names
