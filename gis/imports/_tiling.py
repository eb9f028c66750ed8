"""Areas of one level tile their parent: overlaps are refused, gaps reported as coverage.

The national standard's division principles: each subdistrict, community and
grid overlaps no other area of its level, in the file or in the database
(give or take `OVERLAP_TOLERANCE_M2`). Gaps are not refused, since loading a
district piece by piece is normal; the notes say how much of each parent its
children now cover.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from gis.db.models import METRIC_SRID
from gis.geo.datum import Datum, DatumKind, from_wgs84
from gis.imports._reference import Area, ReferenceData

# Overlap (square metres, measured in EPSG:4549) two areas of one level may
# share before a row is refused. Neighbours digitised on shared vertices
# overlap by nothing, or by float noise far below this; a real overlap, where
# the same households would fall in two grids, is larger.
OVERLAP_TOLERANCE_M2 = 1.0
_METRIC = Datum(DatumKind.EPSG, METRIC_SRID)
# At most this many overlaps are listed per row; the rest are counted.
_MAX_OVERLAPS_LISTED = 5


# Layers that must tile their parent: (child level, record key of the parent's id).
TILED: dict[str, tuple[str, str]] = {
    "subdistricts": ("subdistrict", "parent_id"),
    "communities": ("community", "parent_id"),
    "grids": ("grid", "community_id"),
}
_PLURAL = {"subdistrict": "subdistricts", "community": "communities", "grid": "grids"}


def to_metric(geoms: Sequence[BaseGeometry | None] | NDArray[np.object_]) -> NDArray[np.object_]:
    """WGS84 geometries projected to EPSG:4549 (metres), where areas are measured.

    CGCS2000 Gauss-Krüger zone 40 (CM 120°E) is the project's metric CRS. Its
    area scale error grows away from 120°E: under 1% within 6° of it (114-126°E),
    a few percent further west. That is immaterial for a 1 m² overlap allowance
    and cancels out of a coverage share, which is a ratio of two areas.
    """

    def _project(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = from_wgs84(coords[:, 0], coords[:, 1], _METRIC)
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(np.asarray(geoms, dtype=object), _project), dtype=object)


def _m2(area: float) -> str:
    return f"{area:,.1f}" if area < 100 else f"{area:,.0f}"


def area_m2(geoms: Sequence[BaseGeometry | None] | NDArray[np.object_]) -> NDArray[np.float64]:
    """Area in square metres of WGS84 geometries, measured in EPSG:4549 (0 for None)."""
    return np.nan_to_num(np.asarray(shapely.area(to_metric(geoms)), dtype=np.float64))


def check_overlaps(
    codes: Sequence[str | None],
    geoms: NDArray[np.object_],
    peers: Sequence[Area],
    what: str,
    problems: list[list[str]],
) -> None:
    """Refuse rows overlapping another row or a current ``peer`` by over `OVERLAP_TOLERANCE_M2`.

    The standard's seamless tiling: one place, one grid (one community, one
    subdistrict). Candidate pairs come from an STRtree, so a file of 1,000
    grids costs a few thousand intersections of neighbours, not a million.
    Which parts overlap is decided in WGS84, the storage CRS in which the
    database assigns points to areas; only the overlap found is projected to
    be measured. (Projecting first would bend straight edges, so that two
    neighbours whose shared edge has a vertex on one side only would
    "overlap" by a sliver of a hundred square metres.) Shared edges overlap by
    0 m². A stored peer with the row's own code is skipped: that row is
    already refused as a duplicate code.
    """
    present = np.flatnonzero([g is not None for g in geoms])
    if present.size == 0:
        return
    mine = np.asarray(geoms[present], dtype=object)
    found: dict[int, list[tuple[float, str]]] = {}

    def _label(row: int) -> str:
        return f"row {row + 1}" + (f" ({codes[row]})" if codes[row] else "")

    left, right = STRtree(mine).query(mine, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    if left.size:
        areas = area_m2(shapely.intersection(mine[left], mine[right]))
        over = areas > OVERLAP_TOLERANCE_M2
        for a, b, area in zip(left[over], right[over], areas[over], strict=True):
            i, j = int(present[a]), int(present[b])
            found.setdefault(i, []).append((float(area), _label(j)))
            found.setdefault(j, []).append((float(area), _label(i)))

    stored = [p for p in peers if p.geom is not None]
    if stored:
        theirs = np.asarray([p.geom for p in stored], dtype=object)
        rows, hits = STRtree(theirs).query(mine, predicate="intersects")
        if rows.size:
            areas = area_m2(shapely.intersection(mine[rows], theirs[hits]))
            for r, h, area in zip(rows, hits, areas, strict=True):
                i, peer = int(present[r]), stored[int(h)]
                if area > OVERLAP_TOLERANCE_M2 and peer.code != codes[i]:
                    found.setdefault(i, []).append(
                        (float(area), f"{what} {peer.code} already in the database")
                    )

    for i, overlaps in found.items():
        overlaps.sort(key=lambda o: (-o[0], o[1]))
        for area, other in overlaps[:_MAX_OVERLAPS_LISTED]:
            problems[i].append(f"overlaps {other} by {_m2(area)} m²")
        if len(overlaps) > _MAX_OVERLAPS_LISTED:
            problems[i].append(
                f"overlaps {len(overlaps) - _MAX_OVERLAPS_LISTED} more {_PLURAL[what]} by over "
                f"{OVERLAP_TOLERANCE_M2:g} m² each"
            )


@dataclass(frozen=True)
class Coverage:
    """How much of one parent area its current children cover, in square metres."""

    parent: Area
    area_m2: float
    covered_m2: float
    children: int
    new: int

    @property
    def uncovered_m2(self) -> float:
        return max(self.area_m2 - self.covered_m2, 0.0)

    @property
    def share(self) -> float:
        """Covered fraction, 0-1; gaps under `OVERLAP_TOLERANCE_M2` count as none."""
        if self.area_m2 <= 0 or self.uncovered_m2 < OVERLAP_TOLERANCE_M2:
            return 1.0
        return min(self.covered_m2 / self.area_m2, 1.0)


def _percent(share: float) -> str:
    # Rounded down, so a parent with a real gap never reads 100.0%.
    return f"{math.floor(share * 1000) / 10:.1f}%"


def coverage_after_import(
    layer: str, records: list[dict[str, Any]], ref: ReferenceData
) -> list[Coverage]:
    """Coverage of every parent the imported rows belong to, by stored and new children together.

    The uncovered part is the parent minus the union of its children, worked
    out in WGS84 (see `check_overlaps` for why) and then measured in square
    metres; children sticking out of the parent (within the boundary
    tolerance) add nothing.
    """
    if layer not in TILED or not records:
        return []
    key = TILED[layer][1]
    candidates = ref.communities if layer == "grids" else list(ref.parents.values())
    parents = {a.id: a for a in candidates if a.geom is not None}
    touched = sorted({r[key] for r in records if r[key] in parents}, key=lambda p: parents[p].code)
    result = []
    for pid in touched:
        new = [r["geom"] for r in records if r[key] == pid]
        stored = [p.geom for p in ref.peers if p.parent_id == pid and p.geom is not None]
        outline = parents[pid].geom
        gap = shapely.difference(outline, shapely.union_all([*stored, *new]))
        total, uncovered = area_m2([outline, gap])
        result.append(
            Coverage(
                parent=parents[pid],
                area_m2=float(total),
                covered_m2=float(total - uncovered),
                children=len(stored) + len(new),
                new=len(new),
            )
        )
    return result


# Up to this many parents get a line each in the notes; more are summarised.
_COVERAGE_LINES = 10


def _count(n: int, level: str) -> str:
    return f"{n} {level if n == 1 else _PLURAL.get(level, level + 's')}"


def coverage_notes(layer: str, records: list[dict[str, Any]], ref: ReferenceData) -> list[str]:
    """What share of each parent the layer's children now cover (gaps are allowed, not hidden)."""
    coverage = coverage_after_import(layer, records, ref)
    if not coverage:
        return []
    child = TILED[layer][0]
    children = _PLURAL[child]
    if len(coverage) <= _COVERAGE_LINES:
        notes = []
        for c in coverage:
            gap = f"; {_m2(c.uncovered_m2)} m² not covered" if c.share < 1 else ""
            notes.append(
                f"{children} now cover {_percent(c.share)} of {c.parent.level} {c.parent.code} "
                f"({_count(c.children, child)}, {c.new} from this file{gap})"
            )
        return notes
    total = sum(c.area_m2 for c in coverage)
    uncovered = sum(c.uncovered_m2 for c in coverage if c.share < 1)
    full = sum(c.share >= 1 for c in coverage)
    levels = sorted({c.parent.level for c in coverage})
    parents = " and ".join(_PLURAL.get(lv, lv + "s") for lv in levels)
    note = (
        f"{children} now cover {_percent(1 - uncovered / total if total else 1.0)} of the "
        f"{len(coverage)} {parents} this file adds to ({full} fully covered)"
    )
    if full < len(coverage):
        least = sorted(coverage, key=lambda c: (c.share, c.parent.code))[:3]
        note += "; least covered: " + ", ".join(
            f"{c.parent.code} {_percent(c.share)}" for c in least if c.share < 1
        )
    return [note]
