"""Documented answers about coverage: per area, rings, the worst, circles, blind spots,
what-if, style, status, and (issue 13) circle vs walk and walking service areas.

As in ``api.schemas`` (whose module docstring says how these are used and checked).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.responses import FeatureDoc, example_config
from api.schemas import GRID, GRID_NAME, SQUARE
from layers.coverage import coverage_style

_example = example_config


# ---- coverage -------------------------------------------------------------------------


COVERAGE_ROW_EXAMPLE: dict[str, Any] = {
    "code": "370705001001",
    "name": "东苑社区",
    "households": 2410,
    "households_covered": 1938,
    "households_uncovered": 472,
    "buildings": 61,
    "buildings_covered": 50,
    "coverage_rate": 0.804,
    "mean_distance_m": 212.5,
    "p90_distance_m": 388.0,
}


class CoverageRowDoc(BaseModel):
    code: str
    name: str | None
    households: int
    households_covered: int
    households_uncovered: int
    buildings: int
    buildings_covered: int
    coverage_rate: float | None = Field(description="0-1 by households; null without any.")
    mean_distance_m: float | None
    p90_distance_m: float | None


class CoverageRankedRowDoc(CoverageRowDoc):
    rank: int = Field(description="1 = the worst served.")


class CoverageRankingDoc(BaseModel):
    """The worst-served areas, worst first."""

    model_config = _example(
        {
            "facility_type": "kindergarten",
            "facility_type_name": "幼儿园",
            "radius_m": 300,
            "by": "community",
            "rows": [{"rank": 1, **COVERAGE_ROW_EXAMPLE}],
        }
    )

    facility_type: str
    facility_type_name: str
    radius_m: float
    by: str
    rows: list[CoverageRankedRowDoc]


class CoverageRingDoc(BaseModel):
    radius_m: float
    rows: list[CoverageRowDoc]
    total: CoverageRowDoc


class CoverageDoc(BaseModel):
    """One radius: ``radius_m``, ``rows`` and ``total``; several: ``radii_m`` and ``rings``."""

    model_config = _example(
        {
            "facility_type": "kindergarten",
            "facility_type_name": "幼儿园",
            "by": "community",
            "radius_m": 300,
            "rows": [COVERAGE_ROW_EXAMPLE],
            "total": {**COVERAGE_ROW_EXAMPLE, "code": "370705", "name": "奎文区"},
        }
    )

    facility_type: str
    facility_type_name: str
    by: str
    radius_m: float | None = None
    rows: list[CoverageRowDoc] | None = None
    total: CoverageRowDoc | None = None
    radii_m: list[float] | None = None
    rings: list[CoverageRingDoc] | None = None


class DerivedCollectionDoc(BaseModel):
    """Circles or blind spots of a facility type at a radius."""

    model_config = _example(
        {
            "type": "FeatureCollection",
            "facility_type": "kindergarten",
            "radius_m": 300,
            "numberMatched": 1,
            "numberReturned": 1,
            "features": [
                {
                    "type": "Feature",
                    "id": "370705001001-1",
                    "geometry": SQUARE,
                    "properties": {
                        "community_code": "370705001001",
                        "community_name": "东苑社区",
                        "part": 1,
                        "area_m2": 48211.5,
                        "households": 472,
                        "buildings_uncovered": 11,
                    },
                }
            ],
        }
    )

    type: str = "FeatureCollection"
    facility_type: str
    radius_m: float
    numberMatched: int
    numberReturned: int
    features: list[FeatureDoc]


class GridChangeDoc(BaseModel):
    code: str
    name: str | None
    net_households: int


class WhatIfDoc(BaseModel):
    model_config = _example(
        {
            "facility_type": "kindergarten",
            "facility_type_name": "幼儿园",
            "radius_m": 300,
            "households_gained": 472,
            "households_lost": 0,
            "net_households": 472,
            "buildings_gained": 11,
            "buildings_lost": 0,
            "by_grid": [{"code": GRID, "name": GRID_NAME, "net_households": 472}],
            "households": 86210,
            "households_covered_before": 61022,
            "households_covered_after": 61494,
            "coverage_rate_before": 0.7078,
            "coverage_rate_after": 0.7133,
        }
    )
    facility_type: str
    facility_type_name: str
    radius_m: float
    households_gained: int
    households_lost: int
    net_households: int
    buildings_gained: int
    buildings_lost: int
    by_grid: list[GridChangeDoc] = Field(description="Largest change first.")
    households: int
    households_covered_before: int
    households_covered_after: int
    coverage_rate_before: float | None
    coverage_rate_after: float | None


class CoverageStyleDoc(BaseModel):
    """Classes, colours and labels of the coverage map (Leaflet path options)."""

    model_config = _example(coverage_style(), extra="allow")

    ramp: dict[str, Any]
    labels: dict[str, str]
    radiusChoices: list[float]


class CoverageStatusDoc(BaseModel):
    model_config = _example(
        {
            "listening": True,
            "building": False,
            "models": {"kindergarten@300": 4},
            "buildings": 20843,
            "hits": 311,
            "misses": 2,
            "builds": 2,
            "build_ms_last": 412.7,
            "notifications": 3,
            "incremental_updates": 3,
            "invalidations": 0,
            "last_change": {"table": "facility", "op": "UPDATE", "id": 31, "lag_ms": 18.2},
        }
    )
    listening: bool
    building: bool = Field(description="A model is being built right now.")
    models: dict[str, int] = Field(description='"<type>@<radius>": revision of each cached model.')
    buildings: int | None
    hits: int
    misses: int
    builds: int
    build_ms_last: float | None
    notifications: int
    incremental_updates: int
    invalidations: int
    last_change: dict[str, Any] | None


COVERAGE_BUILDING_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": 4711,
    "geometry": {"type": "Point", "coordinates": [119.1121734, 36.7214402]},
    "properties": {
        "id": 4711,
        "grid_code": GRID,
        "households": 48,
        "nearest_m": 412.3,
        "nearest_facility_id": 31,
        "facilities_within": 0,
        "covered": False,
    },
}


# ---- circle vs walk, service areas (issue 13) ----------------------------------------------


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
