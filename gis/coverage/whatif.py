"""What if facilities opened or closed: households gained and lost, per grid, without a change.

Answered from a cached coverage model in milliseconds, fast enough for a map
that asks on every click. Rates are fractions 0-1; a rate that does not exist
(a district without households) is None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gis.coverage.store import CoverageModel
from gis.errors import InvalidFeatureError
from gis.geo.geojson import rounded

RATE_DECIMALS = 4


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
        "coverage_rate_before": rounded(before / households, RATE_DECIMALS) if households else None,
        "coverage_rate_after": rounded(after / households, RATE_DECIMALS) if households else None,
    }
