"""Norms under /api/v1/norms: the funds each area is due by its households (seed 004)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api import access
from api.dependencies import SessionDep
from api.norms_schemas import FundingDoc
from api.routing import ReadRetryRoute
from gis.areas.codes import Level
from gis.coverage.funding import FUNDING_SOURCE, FundingNorms, load_funding
from gis.geo.geojson import records

router = APIRouter(route_class=ReadRetryRoute, tags=["norms"])


@router.get(
    "/api/v1/norms/funding",
    dependencies=[Depends(access.ANALYSIS)],
    summary="Funds due a year by the households norms (社区工作经费, 网格服务工作经费, ...)",
    responses={200: {"model": FundingDoc}},
)
def funding(
    session: SessionDep,
    by: Annotated[
        Level,
        Query(description="Area level of the rows: community, subdistrict or district."),
    ] = Level.COMMUNITY,
) -> JSONResponse:
    """Per area: ``households`` of its current grids, ``community_work_cny`` and
    ``grid_service_cny`` (households / 1,000 × the norm's yearly rate),
    ``party_service_cny`` (the least per community × its communities) and
    ``total_cny``; ``total`` for the district and the ``norms`` applied (settings
    ``GRIDMAP_FUNDING_*``). A grid level has no funding row: a 400."""
    norms = FundingNorms.from_settings()
    conn = session.connection()
    rows = load_funding(conn, by, norms)
    total = load_funding(conn, Level.DISTRICT, norms)
    return JSONResponse(
        {
            "by": by,
            "norms": norms.describe(),
            "source": FUNDING_SOURCE,
            "rows": records(rows),
            "total": records(total)[0] if len(total) else None,
        }
    )
