"""Interactive coverage answers from a cached CoverageModel (no database, no HTTP).

A page of per-building results (filtered and paged without touching every
building) and what-if answers (which households would gain or lose coverage
if facilities opened or closed), both fast enough for a map that asks on
every click. Area tables, circles and blind spots are in ``gis.coverage.report``
and ``gis.coverage.geometry``. Distances are true metres, rates fractions 0-1,
and values that do not exist (the distance where a type has no facility) are
None so that they serialise as JSON null.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gis.areas.queries import GEOJSON_DECIMALS, BBox, Feature, Page
from gis.coverage.store import CoverageModel
from gis.errors import InvalidFeatureError

RATE_DECIMALS = 4
DISTANCE_DECIMALS = 1


def _number(value: float | np.floating[Any], decimals: int) -> float | None:
    v = float(value)
    return round(v, decimals) if math.isfinite(v) else None


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
    if grid_code is not None:
        try:
            keep &= index.group == model.areas.grid_codes.index(grid_code)
        except ValueError:
            keep[:] = False
    if bbox is not None:
        keep &= (b.lon >= bbox.min_lon) & (b.lon <= bbox.max_lon)
        keep &= (b.lat >= bbox.min_lat) & (b.lat <= bbox.max_lat)
    rows = np.flatnonzero(keep)
    rows = rows[np.argsort(b.ids[rows], kind="stable")]
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
                "geometry": {
                    "type": "Point",
                    "coordinates": [
                        round(float(b.lon[row]), GEOJSON_DECIMALS),
                        round(float(b.lat[row]), GEOJSON_DECIMALS),
                    ],
                },
                "properties": {
                    "id": int(b.ids[row]),
                    "grid_code": model.areas.grid_codes[int(index.group[row])],
                    "households": int(index.households[row]),
                    "nearest_m": _number(index.nearest_m[row], DISTANCE_DECIMALS),
                    "nearest_facility_id": facility if facility >= 0 else None,
                    "facilities_within": int(n_within),
                    "covered": bool(index.nearest_m[row] <= index.radius_m),
                },
            }
        )
    return Page(features, len(rows))


def what_if(
    model: CoverageModel,
    open_at: Sequence[tuple[float, float]] = (),
    close: Sequence[int] = (),
) -> dict[str, Any]:
    """How many households gain or lose coverage if facilities open at WGS84 ``open_at``
    (lon, lat) and the facilities ``close`` (ids) close; nothing is changed.

    ``by_grid`` lists the grids whose covered households change, largest change first.
    Rates are the district's share of households covered, 0-1.
    """
    index = model.index
    closing = list(dict.fromkeys(int(f) for f in close))
    for facility_id in closing:
        slot = index.slot_of.get(facility_id)
        if slot is None or not index.active[slot]:
            raise InvalidFeatureError(
                f"close: facility {facility_id} is not an open facility of type "
                f"{model.type_code}; list them with GET /api/v1/facilities?type={model.type_code}"
            )
    if open_at:
        lon, lat = np.asarray(open_at, dtype=np.float64).reshape(-1, 2).T
        xy = model.plane.to_plane(lon, lat)
    else:
        xy = np.zeros((0, 2))
    delta = index.what_if(add=xy, remove=closing)
    households = int(index.households.sum())
    before = int(index.hh_covered.sum())
    after = before + delta.net_households
    codes, names = model.areas.grid_codes, model.areas.grid_names
    by_grid = [
        {"code": codes[g], "name": names[g], "net_households": net}
        for g, net in sorted(delta.by_group.items(), key=lambda kv: (-abs(kv[1]), codes[kv[0]]))
    ]
    return {
        "facility_type": model.type_code,
        "radius_m": index.radius_m,
        "households_gained": delta.households_gained,
        "households_lost": delta.households_lost,
        "net_households": delta.net_households,
        "buildings_gained": len(delta.buildings_gained),
        "buildings_lost": len(delta.buildings_lost),
        "by_grid": by_grid,
        "households": households,
        "households_covered_before": before,
        "households_covered_after": after,
        "coverage_rate_before": _number(before / households, RATE_DECIMALS) if households else None,
        "coverage_rate_after": _number(after / households, RATE_DECIMALS) if households else None,
    }
