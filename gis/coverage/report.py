"""Coverage tables a planner reads: roll-ups per area, rankings, per-building results, rings.

Pure analysis over a ``CoverageModel`` (``gis.coverage.store.build_coverage``):
no SQL, no HTTP. Every table is a pandas DataFrame with plain columns, so the
CLI prints it, the API serialises it (``records`` turns NaN into ``None``) and
a GeoPackage stores it.

Units: distances in true metres, counts in households and buildings, rates as
0-1 floats (household-weighted). A rate is NaN for an area without households;
distances are NaN where no facility of the type exists.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gis.areas.codes import Level
from gis.areas.hierarchy import area_groups
from gis.coverage.core import I64, Rollup, rollup
from gis.coverage.store import CoverageModel
from gis.errors import InvalidParameterError
from gis.geo.geojson import BBox, Feature, Page, point, rounded

DEFAULT_RINGS_M: tuple[int, ...] = (300, 500, 1000)

ROLLUP_COLUMNS = [
    "code",
    "name",
    "households",
    "households_covered",
    "households_uncovered",
    "buildings",
    "buildings_covered",
    "coverage_rate",
    "mean_distance_m",
    "p90_distance_m",
]


def area_rollups(model: CoverageModel, level: Level | str = Level.COMMUNITY) -> pd.DataFrame:
    """Coverage per area of ``level``, sorted by code (columns: ``ROLLUP_COLUMNS``).

    Households and buildings count the current buildings of the area's grids;
    ``coverage_rate`` is households covered over households (NaN without
    households); mean and 90th-percentile distances to the nearest facility are
    household-weighted, in metres. Uses the index's current state, so a model
    changed incrementally (facility opened, moved, closed) reports the change.
    At the subdistrict level, a district without subdistricts yields no rows.
    """
    codes, names, group = _building_groups(model, level)
    keep = group >= 0
    index = model.index
    r = rollup(
        index.nearest_m[keep],
        index.covered[keep],
        index.households[keep],
        group[keep],
        len(codes),
    )
    frame = _rollup_frame(codes, names, r)
    return frame.sort_values("code", kind="stable").reset_index(drop=True)


def _building_groups(model: CoverageModel, level: Level | str) -> tuple[list[str], list[str], I64]:
    """The areas of ``level`` and, per building, the index of its area (-1: none)."""
    codes, names, of_grid = area_groups(model.areas, level)
    group = of_grid[model.buildings.grid] if len(of_grid) else np.zeros(0, dtype=np.int64)
    return codes, names, group


def _rollup_frame(codes: list[str], names: list[str], r: Rollup) -> pd.DataFrame:
    """A roll-up as a table with ``ROLLUP_COLUMNS``, in the areas' order."""
    return pd.DataFrame(
        {
            "code": codes,
            "name": names,
            "households": r.households,
            "households_covered": r.households_covered,
            "households_uncovered": r.households_uncovered,
            "buildings": r.buildings,
            "buildings_covered": r.buildings_covered,
            "coverage_rate": r.coverage_rate.astype(float),
            "mean_distance_m": r.mean_distance_m.astype(float),
            "p90_distance_m": r.p90_distance_m.astype(float),
        },
        columns=ROLLUP_COLUMNS,
    )


def worst(rollups: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` worst-served areas: lowest coverage rate, then most households uncovered.

    Areas without households have no rate and are not ranked. Ties after both
    keys go by code, so the ranking is stable. A ``rank`` column (1 = worst) leads.
    """
    if n < 0:
        raise InvalidParameterError("n must be zero or more")
    ranked = rollups[rollups["households"] > 0].sort_values(
        ["coverage_rate", "households_uncovered", "code"],
        ascending=[True, False, True],
        kind="stable",
    )
    ranked = ranked.head(n).reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    return ranked


def building_results(model: CoverageModel) -> pd.DataFrame:
    """One row per building: nearest facility and distance, redundancy, covered.

    ``nearest_m`` is the true distance (metres) to the nearest open facility,
    NaN when the type has none; ``facilities_within`` counts facilities inside
    the radius (redundancy: 2+ means a closure would not leave it uncovered).
    """
    index, b, areas = model.index, model.buildings, model.areas
    nearest = np.where(np.isfinite(index.nearest_m), index.nearest_m, np.nan)
    grid_codes = np.asarray(areas.grid_codes, dtype=object)
    community_codes = np.asarray(areas.community_codes, dtype=object)
    return pd.DataFrame(
        {
            "id": b.ids,
            "grid_code": grid_codes[b.grid] if len(b.ids) else [],
            "community_code": (
                community_codes[areas.community_of_grid[b.grid]] if len(b.ids) else []
            ),
            "households": index.households,
            "nearest_m": nearest,
            "nearest_facility_id": index.nearest_facility_id,
            "facilities_within": index.count_within(),
            "covered": index.covered,
            "lon": b.lon,
            "lat": b.lat,
        }
    )


def uncovered(model: CoverageModel, grid_code: str | None = None) -> pd.DataFrame:
    """Uncovered buildings (optionally of one grid), farthest from a facility first.

    The visiting list of a grid manager; ties go by building id. Addresses are
    in the database: ``gis.coverage.geometry.uncovered_buildings`` adds them.
    """
    results = building_results(model)
    if grid_code is not None:
        if grid_code not in set(model.areas.grid_codes):
            raise InvalidParameterError(f"no current grid with code {grid_code!r}")
        results = results[results["grid_code"] == grid_code]
    results = results[~results["covered"]]
    order = results.assign(_d=results["nearest_m"].fillna(np.inf)).sort_values(
        ["_d", "id"], ascending=[False, True], kind="stable"
    )
    return order.drop(columns="_d").reset_index(drop=True)


def rings(
    model: CoverageModel,
    radii_m: Sequence[float] = DEFAULT_RINGS_M,
    level: Level | str = Level.COMMUNITY,
) -> pd.DataFrame:
    """Coverage at several radii (the 5/10/15-minute circles), one row per radius per area.

    The nearest-facility distance does not depend on the radius, so one model
    (any radius) answers every ring: only the covered flags change. Columns:
    ``radius_m`` then ``ROLLUP_COLUMNS``; mean and p90 distance repeat per radius.
    Pivot with ``rings_wide`` for one row per area.
    """
    radii = sorted({float(r) for r in radii_m})
    if not radii or radii[0] <= 0:
        raise InvalidParameterError("radii must be positive metres, at least one")
    codes, names, group = _building_groups(model, level)
    keep = group >= 0
    index = model.index
    frames = []
    for radius in radii:
        r = rollup(
            index.nearest_m[keep],
            index.nearest_m[keep] <= radius,
            index.households[keep],
            group[keep],
            len(codes),
        )
        frame = _rollup_frame(codes, names, r)
        frame.insert(0, "radius_m", int(radius) if radius.is_integer() else radius)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["code", "radius_m"], kind="stable").reset_index(drop=True)


def rings_wide(ring_table: pd.DataFrame) -> pd.DataFrame:
    """One row per area: households and the coverage rate at each radius (``rate_300m`` ...)."""
    rates = ring_table.pivot(index="code", columns="radius_m", values="coverage_rate")
    rates.columns = [f"rate_{r}m" for r in rates.columns]
    base = ring_table.drop_duplicates("code").set_index("code")[
        ["name", "households", "mean_distance_m", "p90_distance_m"]
    ]
    return base.join(rates).reset_index()


DISTANCE_DECIMALS = 1
"""Decimals of a distance in metres (10 cm) in per-building answers."""


def selected_rows(
    model: CoverageModel,
    keep: NDArray[np.bool_],
    grid_code: str | None = None,
    bbox: BBox | None = None,
) -> I64:
    """The building rows ``keep`` selects, narrowed to one grid and a box, by building id
    (the order every per-building page keeps)."""
    b = model.buildings
    keep = keep.copy()
    if grid_code is not None:
        try:
            keep &= model.index.group == model.areas.grid_codes.index(grid_code)
        except ValueError:
            keep[:] = False
    if bbox is not None:
        keep &= bbox.contains(b.lon, b.lat)
    rows = np.flatnonzero(keep)
    return rows[np.argsort(b.ids[rows], kind="stable")]


def building_page(
    model: CoverageModel,
    *,
    covered: bool | None = None,
    grid_code: str | None = None,
    bbox: BBox | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> Page:
    """Per-building results as GeoJSON points, ordered by building id.

    Properties: ``id``, ``grid_code``, ``households``, ``nearest_m`` (true
    metres to the nearest facility, None if the type has none),
    ``nearest_facility_id``, ``facilities_within`` (facilities within the
    radius: redundancy) and ``covered``.
    """
    b = model.buildings
    index = model.index
    keep = np.ones(len(b.ids), dtype=bool)
    if covered is not None:
        keep &= index.covered == covered
    rows = selected_rows(model, keep, grid_code, bbox)
    page_rows = rows[offset : offset + limit]
    within = index.count_within(page_rows) if len(page_rows) else np.zeros(0, np.int64)
    nearest_id = index.nearest_facility_id
    features: list[Feature] = []
    for row, n_within in zip(page_rows.tolist(), within.tolist(), strict=True):
        facility = int(nearest_id[row])
        features.append(
            {
                "type": "Feature",
                "id": int(b.ids[row]),
                "geometry": point(b.lon[row], b.lat[row]),
                "properties": {
                    "id": int(b.ids[row]),
                    "grid_code": model.areas.grid_codes[int(index.group[row])],
                    "households": int(index.households[row]),
                    "nearest_m": rounded(index.nearest_m[row], DISTANCE_DECIMALS),
                    "nearest_facility_id": facility if facility >= 0 else None,
                    "facilities_within": int(n_within),
                    "covered": bool(index.nearest_m[row] <= index.radius_m),
                },
            }
        )
    return Page(features, len(rows))
