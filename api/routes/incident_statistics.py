"""Incident statistics and hot spots under /api/v1/incidents: the heavy reads of a period.

Counts and rates per area read ``gis.incidents.stats``, Getis-Ord hot spots
``gis.incidents.hotspots``; both hold a heavy slot (``api.limits``) and narrow to
the caller's areas (``gis.incidents.visibility.statistics_areas``). This router is
included before ``api.routes.incidents``, so /statistics and /hot-spots are never
taken for an incident id.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from api import access, limits
from api.dependencies import DatumOutDep, SessionDep
from api.incident_schemas import HotSpotsDoc, IncidentStatisticsDoc
from api.responses import (
    GEOJSON,
    HEAVY_RESPONSES,
    ErrorDoc,
    GeoJSONResponse,
    csv_response,
    geojson_out,
)
from api.routes.incidents import Category
from api.routing import ReadRetryRoute
from gis.areas import queries
from gis.areas.codes import Level
from gis.geo.geojson import records
from gis.incidents import hotspots, stats, visibility
from gis.localtime import as_instant
from gis.principal import Principal
from layers.incidents import measure_classes

router = APIRouter(
    route_class=ReadRetryRoute,
    prefix="/api/v1",
    tags=["incidents"],
    default_response_class=JSONResponse,
)


StatisticsReader = Annotated[Principal, Depends(access.INCIDENT_STATISTICS)]
AreaQuery = Annotated[
    str | None,
    Query(
        description="Only the rows under this area or grid (6-15 digits); it must be one you "
        "cover. Without it, callers bound to an area get the rows of their areas.",
        pattern=r"^[0-9]{6,15}$",
    ),
]
_NOT_COVERED = {"model": ErrorDoc, "description": "``area`` is not one the caller covers."}


@router.get(
    "/incidents/statistics",
    dependencies=[limits.HEAVY],
    summary="Incident counts and closed-loop rates per grid, community, subdistrict or district",
    responses={
        200: {
            "model": IncidentStatisticsDoc,
            "content": {
                "text/csv": {
                    "example": "level,code,name,households,received,closed,cancelled,open,"
                    "closure_rate,on_time_rate,handling_rate,on_the_spot,on_the_spot_rate,"
                    "rework_rate,per_1000_households\r\n"
                    "grid,370705001001001,东苑第一网格,812,37,31,2,4,0.94,0.88,0.89,12,0.39,0.06,"
                    "45.6\r\n"
                }
            },
        },
        400: {"model": ErrorDoc, "description": "A parameter is malformed or out of range."},
        403: _NOT_COVERED,
        **HEAVY_RESPONSES,
    },
)
def incident_statistics(
    session: SessionDep,
    principal: StatisticsReader,
    start: Annotated[
        dt.datetime, Query(description="Start of the period (included); a date is its midnight.")
    ],
    end: Annotated[dt.datetime, Query(description="End of the period (excluded).")],
    level: Annotated[Level, Query(description="The areas to count per.")] = Level.GRID,
    category: Annotated[
        Category | None,
        Query(description="Only this category (a top-level code includes subclasses)."),
    ] = None,
    format: Annotated[
        Literal["json", "csv"], Query(description="csv: UTF-8 with a BOM, for Excel.")
    ] = "json",
    area: AreaQuery = None,
) -> Response:
    """Per area of ``level`` for ``[start, end)`` (naive times in Asia/Shanghai),
    zeros included, summed from the grids (rates from the summed counts):

    - received (reported in the period); of those, closed, cancelled, open now;
    - accepted, dispatched, closed_in_period: accept, dispatch and verify steps
      in the period; reworked: of the closed, those sent back at least once;
    - due (应结案数): cases whose deadline falls in the period; due_closed,
      due_on_time: of those, closed, and closed by the deadline;
    - closure_rate = due_closed / due; on_time_rate = due_on_time / due;
      handling_rate = closed / (received - cancelled) (办结率; a mediation
      centre's 调处率, handled / received); on_the_spot: of the received now
      closed, those settled on the spot (当场办结); on_the_spot_rate (当场办结率) =
      on_the_spot / closed; rework_rate = reworked / closed_in_period (0-1, null
      without a denominator);
    - escalations, escalated_cases: escalate steps and cases escalated;
    - hours_reported_accepted … hours_closed_evaluated: mean elapsed hours of
      each step, for steps ending in the period (null if none);
    - per_1000_households (received), then received per category.

    ``incidents_without_grid`` counts those received in no current grid (0 when
    the rows are narrowed to areas: such incidents are in none).

    Rows: only those under ``area``, else under the caller's areas (admin,
    district-wide and planner callers: all).

    ``classes`` (JSON only): how a map colours each measure column of the rows
    (per_1000_households and every ``*_rate``), in the rows' column order, so
    that every map of the answer draws the same classes (the incident map
    draws exactly these). Per column: ``measure`` (column, label_zh, unit:
    per_1000 or fraction, higher_is_worse); ``method``: fixed breaks, or
    quantile (the quantiles of these rows' values, rounded to two significant
    figures; fewer classes when they coincide); ``breaks``: class minimums,
    the first 0, ascending (a value is in the last class whose minimum it
    reaches); ``colours``: one per class, red meaning worse; ``legend``:
    ``{colour, label}`` per class, lowest first, then no data (null)."""
    within = visibility.statistics_areas(principal, area)
    df = stats.incident_counts(
        session.connection(), start, end, level=level, category=category, within=within
    )
    if format == "csv":
        return csv_response(df, f"incidents-{level}.csv")
    rows = records(df)
    return JSONResponse(
        {
            "level": level,
            "start": as_instant(start).isoformat(),
            "end": as_instant(end).isoformat(),
            "category": category,
            "incidents_without_grid": int(df.attrs["incidents_without_grid"]),
            "rows": rows,
            "classes": measure_classes(rows),
        }
    )


@router.get(
    "/incidents/hot-spots",
    dependencies=[limits.HEAVY],
    summary="Hot and cold spots of incidents per grid (Getis-Ord Gi*)",
    response_class=GeoJSONResponse,
    responses={
        200: {
            "model": HotSpotsDoc,
            "content": {
                GEOJSON: {},
                "text/csv": {
                    "example": "code,name,community_code,households,received,"
                    "per_1000_households,gi_z,p_norm,p_sim,hot_spot\r\n"
                    "370705001001001,东苑第一网格,370705001001,812,37,45.6,2.71,0.0067,0.008,"
                    "hot 99%\r\n"
                },
            },
        },
        400: {"model": ErrorDoc, "description": "A parameter is malformed or out of range."},
        403: _NOT_COVERED,
        **HEAVY_RESPONSES,
    },
)
def incident_hot_spots(
    session: SessionDep,
    principal: StatisticsReader,
    start: Annotated[dt.datetime, Query(description="Start of the period (included).")],
    end: Annotated[dt.datetime, Query(description="End of the period (excluded).")],
    datum: DatumOutDep,
    category: Annotated[Category | None, Query(description="Only this category.")] = None,
    format: Annotated[
        Literal["geojson", "csv"],
        Query(description="csv: the table without geometry, UTF-8 with a BOM, for Excel."),
    ] = "geojson",
    area: AreaQuery = None,
) -> Response:
    """A FeatureCollection of the current grids: ``rate`` (incidents per 1,000
    households, null without households), ``gi_z``, ``p_norm``, ``p_sim`` and
    ``class`` ('hot 99%' … 'not significant' … 'cold 99%'); or that table as CSV.
    Gi* is computed over the whole district; the grids answered are those
    under ``area``, else under the caller's areas."""
    within = visibility.statistics_areas(principal, area)
    df = hotspots.hot_spots(session.connection(), start, end, category=category, within=within)
    if format == "csv":
        return csv_response(df, "incident-hot-spots.csv")
    geometries = queries.current_grid_geometries(session, list(df["code"]))
    features = []
    for row in records(df):
        properties = {
            "code": row["code"],
            "name": row["name"],
            "community_code": row["community_code"],
            "households": row["households"],
            "received": row["received"],
            "rate": row["per_1000_households"],
            "gi_z": row["gi_z"],
            "p_norm": row["p_norm"],
            "p_sim": row["p_sim"],
            "class": row["hot_spot"],
        }
        features.append(
            {
                "type": "Feature",
                "id": row["code"],
                "geometry": geometries.get(row["code"]),
                "properties": properties,
            }
        )
    return GeoJSONResponse(
        {
            "type": "FeatureCollection",
            "numberMatched": len(features),
            "numberReturned": len(features),
            "weights": df.attrs["weights"],
            "inference": df.attrs["inference"],
            "classes": list(hotspots.HOT_SPOT_CLASSES),
            "features": geojson_out(features, datum),
        }
    )
