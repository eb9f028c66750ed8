"""Circle vs walk: households a service circle promises that a walk does not deliver.

Both models are of the same facility type and radius over the same buildings,
one straight-line (``circle``) and one walking (``network``). A walk is never
shorter than the straight line, so a building covered by walk is covered by the
circle too; ``overstated`` counts the households inside the circle but beyond
the walk: "the circle overstates coverage here by N households".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gis.areas.codes import Level
from gis.areas.hierarchy import area_groups
from gis.coverage.report import DISTANCE_DECIMALS, selected_rows
from gis.coverage.store import CoverageModel
from gis.errors import InvalidParameterError
from gis.geo.geojson import BBox, Feature, Page, point, rounded

COMPARE_COLUMNS = [
    "code",
    "name",
    "households",
    "households_circle",
    "households_walk",
    "households_overstated",
    "buildings_overstated",
    "rate_circle",
    "rate_walk",
    "overstated_share",
]


def _check_pair(circle: CoverageModel, walk: CoverageModel) -> None:
    if circle.method != "circle" or walk.method != "network":
        raise InvalidParameterError("compare a circle model with a walking (network) model")
    if circle.type_code != walk.type_code or circle.index.radius_m != walk.index.radius_m:
        raise InvalidParameterError("both models must be of one facility type and radius")
    if not np.array_equal(circle.buildings.ids, walk.buildings.ids):
        raise InvalidParameterError("both models must be built over the same buildings")


def overstated(circle: CoverageModel, walk: CoverageModel) -> NDArray[np.bool_]:
    """Per building: inside a circle of the radius but beyond a walk of it."""
    _check_pair(circle, walk)
    return circle.index.covered & ~walk.index.covered


def circle_vs_walk(
    circle: CoverageModel, walk: CoverageModel, level: Level | str = Level.COMMUNITY
) -> pd.DataFrame:
    """One row per area of ``level`` (sorted by code; ``COMPARE_COLUMNS``).

    ``households_circle`` and ``households_walk`` are the households covered
    each way, ``households_overstated`` and ``buildings_overstated`` those in
    the circle but beyond the walk, rates 0-1 by households (NaN without
    households) and ``overstated_share`` the overstated part of the circle's
    households (NaN where the circle covers none).
    """
    over = overstated(circle, walk)
    codes, names, of_grid = area_groups(circle.areas, level)
    group = of_grid[circle.buildings.grid] if len(of_grid) else np.zeros(0, dtype=np.int64)
    keep = group >= 0
    g, n = group[keep], len(codes)
    hh = circle.index.households[keep].astype(np.float64)

    def households(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        return np.bincount(g, weights=hh * mask[keep], minlength=n).astype(np.int64)

    total = np.bincount(g, weights=hh, minlength=n).astype(np.int64)
    by_circle = households(circle.index.covered)
    by_walk = households(walk.index.covered)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame = pd.DataFrame(
            {
                "code": codes,
                "name": names,
                "households": total,
                "households_circle": by_circle,
                "households_walk": by_walk,
                "households_overstated": households(over),
                "buildings_overstated": np.bincount(g, weights=over[keep], minlength=n).astype(
                    np.int64
                ),
                "rate_circle": np.where(total > 0, by_circle / total, np.nan),
                "rate_walk": np.where(total > 0, by_walk / total, np.nan),
                "overstated_share": np.where(
                    by_circle > 0, households(over) / np.maximum(by_circle, 1), np.nan
                ),
            },
            columns=COMPARE_COLUMNS,
        )
    return frame.sort_values("code", kind="stable").reset_index(drop=True)


def overstated_page(
    circle: CoverageModel,
    walk: CoverageModel,
    *,
    grid_code: str | None = None,
    bbox: BBox | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> Page:
    """The buildings inside the circle but beyond the walk, as GeoJSON points by id.

    Properties: ``id``, ``grid_code``, ``households``, ``circle_m`` (straight
    true metres to the nearest facility) and ``walk_m`` (walking metres to the
    nearest by walk; None where no walk reaches one).
    """
    b = circle.buildings
    rows = selected_rows(circle, overstated(circle, walk), grid_code, bbox)
    features: list[Feature] = []
    for row in rows[offset : offset + limit].tolist():
        features.append(
            {
                "type": "Feature",
                "id": int(b.ids[row]),
                "geometry": point(b.lon[row], b.lat[row]),
                "properties": {
                    "id": int(b.ids[row]),
                    "grid_code": circle.areas.grid_codes[int(circle.index.group[row])],
                    "households": int(circle.index.households[row]),
                    "circle_m": rounded(circle.index.nearest_m[row], DISTANCE_DECIMALS),
                    "walk_m": rounded(walk.index.nearest_m[row], DISTANCE_DECIMALS),
                },
            }
        )
    return Page(features, len(rows))
