"""Norms under /api/v1/norms and the norms page at /norms (issue 14).

``/api/v1/norms/funding``: the funds each area is due by its households (seed
004). ``/api/v1/norms/communities``: every household norm per community side by
side (floor area, staff, funds; ``gis.coverage.norms_table``), as JSON with the
map's classes (``layers.norms``) or as CSV. ``/norms``: the page that shows that
table, a map shaded by one of its measures and the norms applied, in Chinese or
(``?lang=en``, kept in the ``gm_lang`` cookie) English; for those who plan and fund
communities (``access.NORMS_PAGE``), a refusal page for other roles
(:func:`refusal_page`, registered for ``/norms`` in ``api.app``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from api import access
from api.dependencies import SessionDep
from api.field_text import keep_lang, lang_of
from api.norms_schemas import NORMS_CSV_EXAMPLE, FundingDoc, NormsTableDoc
from api.pages import error_page, landing, render_page, script_json
from api.responses import csv_response
from api.routing import ReadRetryRoute
from gis.areas.codes import Level
from gis.coverage.funding import FUNDING_SOURCE, FundingNorms, load_funding
from gis.coverage.norms_table import load_norms_table, norm_figures
from gis.geo.geojson import records
from layers.norms import norms_classes, norms_style, unit_label

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


@router.get(
    "/api/v1/norms/communities",
    dependencies=[Depends(access.ANALYSIS)],
    summary="Every household norm per community: floor area, staff and funds due",
    responses={
        200: {
            "model": NormsTableDoc,
            "content": {"text/csv": {"example": NORMS_CSV_EXAMPLE}},
        }
    },
)
def community_norms(
    session: SessionDep,
    format: Annotated[
        Literal["json", "csv"],
        Query(description="csv: the rows (no total, norms or classes), UTF-8 with a BOM."),
    ] = "json",
) -> Response:
    """Per current community, by code: ``households`` of its grids; the service floor
    area the norm requires (60 m² per 100 households), present and missing
    (``floor_area_shortfall_m2``, 0 when met); grid managers (one per 200 households)
    and community workers (one per 300) present and needed, and ``staff_shortfall``
    (both missing, summed); the funds due a year (as ``/api/v1/norms/funding``).
    ``total``: the district's sums; ``norms``: each norm's figure as set now, its
    source and what sets it; ``classes``: per measure the map shades by, its class
    minimums, colours and legend (fixed for the shortfalls, quantiles of these rows
    for the funds)."""
    table, total = load_norms_table(session.connection())
    if format == "csv":
        return csv_response(table, "norms-communities.csv")
    rows = records(table)
    return JSONResponse(
        {
            "norms": norm_figures(FundingNorms.from_settings()),
            "rows": rows,
            "total": total,
            "classes": norms_classes(rows),
        }
    )


@router.get(
    "/norms",
    dependencies=[Depends(access.NORMS_PAGE)],
    response_class=HTMLResponse,
    include_in_schema=False,
)
def norms_page(request: Request) -> HTMLResponse:
    """The norms page: the norms with their figures and sources, the district's totals, a
    map of the communities shaded by a shortfall or the funds, and the table (CSV too)."""
    lang = lang_of(request)
    style = norms_style(lang)
    labels = style["labels"]
    config = {"api": "/api/v1", "basemap": "/api/v1/basemap", "lang": lang, "style": style}
    html = render_page(
        "norms.html",
        request,
        title=labels["title"],
        lang="en" if lang == "en" else "zh-CN",
        en=lang == "en",
        other_lang="zh" if lang == "en" else "en",
        t=labels,
        norms=[
            {**n, "unit_label": unit_label(n["unit"], lang)}
            for n in norm_figures(FundingNorms.from_settings())
        ],
        config=script_json(config),
    )
    response = HTMLResponse(html, headers={"Cache-Control": "no-cache"})
    keep_lang(request, response)
    return response


def refusal_page(request: Request, status: int, description: str) -> Response:
    """An error on /norms as a page (a browser opened it): a role without access reads why,
    with a way back to its own start page; scripts get the same status."""
    lang = lang_of(request)
    heading = {403: ("无权访问", "Not allowed")}.get(status, ("出错了", "Something went wrong"))
    html = error_page(
        request,
        status,
        heading[1 if lang == "en" else 0],
        description,
        landing(access.principal_of(request)),
    )
    return HTMLResponse(html, status_code=status)


__all__ = ["refusal_page", "router"]
