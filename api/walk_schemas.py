"""The documented shapes of the walking-distance answers (issue 13): circle vs walk, service areas.

As in ``api.schemas``: these describe answers for /openapi.json (checked by
tests/api/test_schemathesis.py), they do not build them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.responses import FeatureDoc, example_config
from api.schemas import GRID, GRID_NAME, SQUARE

COMPARE_ROW_EXAMPLE: dict[str, Any] = {
    "code": GRID,
    "name": GRID_NAME,
    "households": 512,
    "households_circle": 480,
    "households_walk": 233,
    "households_overstated": 247,
    "buildings_overstated": 6,
    "rate_circle": 0.9375,
    "rate_walk": 0.4551,
    "overstated_share": 0.5146,
}


class CompareRowDoc(BaseModel):
    code: str
    name: str | None
    households: int
    households_circle: int = Field(description="Households within the radius as the crow flies.")
    households_walk: int = Field(description="Households within a walk of the radius.")
    households_overstated: int = Field(description="Inside the circle, beyond the walk.")
    buildings_overstated: int
    rate_circle: float | None = Field(description="0-1 by households; null without any.")
    rate_walk: float | None = Field(description="0-1 by households; null without any.")
    overstated_share: float | None = Field(
        description="Overstated households over the circle's; null where the circle covers none."
    )


class CompareDoc(BaseModel):
    """Circle vs walk per area and for the district."""

    model_config = example_config(
        {
            "facility_type": "kindergarten",
            "facility_type_name": "幼儿园",
            "radius_m": 300,
            "by": "grid",
            "rows": [COMPARE_ROW_EXAMPLE],
            "total": {**COMPARE_ROW_EXAMPLE, "code": "370705", "name": "奎文区"},
        }
    )

    facility_type: str
    facility_type_name: str
    radius_m: float
    by: str
    rows: list[CompareRowDoc]
    total: CompareRowDoc


OVERSTATED_BUILDING_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": 4711,
    "geometry": {"type": "Point", "coordinates": [119.1121734, 36.7214402]},
    "properties": {
        "id": 4711,
        "grid_code": GRID,
        "households": 48,
        "circle_m": 281.4,
        "walk_m": 655.2,
    },
}


class ServiceAreaCollectionDoc(BaseModel):
    """Merged walking service areas of a facility type, one per cut-off."""

    model_config = example_config(
        {
            "type": "FeatureCollection",
            "facility_type": "kindergarten",
            "radii_m": [300, 500],
            "numberMatched": 2,
            "numberReturned": 2,
            "features": [
                {
                    "type": "Feature",
                    "id": f"kindergarten-{cut}",
                    "geometry": SQUARE,
                    "properties": {
                        "type_code": "kindergarten",
                        "cutoff_m": cut,
                        "facilities": 33,
                        "area_m2": area,
                    },
                }
                for cut, area in ((300, 1482711.5), (500, 3581224.0))
            ],
        }
    )

    type: str = "FeatureCollection"
    facility_type: str
    radii_m: list[float]
    numberMatched: int
    numberReturned: int
    features: list[FeatureDoc]
