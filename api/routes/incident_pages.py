"""The incident pages: the planner's incident map and the grid manager's worklist.

``/incidents`` maps a chosen rate per grid (per 1,000 households by default)
for a period and category, with a switchable Gi* hot-spot layer and, zoomed
in, the incidents themselves; everything it shows comes from the statistics,
hot-spot and list endpoints of ``api.routes.incidents``. ``/incidents/grid``
lists the grids with their grid managers, each linking to its page in the field
app (``/grid/{code}``, ``api.routes.field``), whose data is
``GET /api/v1/worklists/{code}`` (here). The picker lists, and the worklist
answers, only the grids the person covers: another grid's worklist is a 404, as
if it did not exist (``api.access.WORKLIST``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse

from api import access
from api.dependencies import DatumOutDep, GridCodePath, SessionDep, SettingsDep
from api.incident_schemas import GridMonthDoc, WorklistDoc
from api.pages import render_page, script_json
from api.responses import ErrorDoc, geojson_out, lonlat_out
from api.routing import ReadRetryRoute
from gis.areas import queries
from gis.areas.codes import Level, parent_code
from gis.errors import NotFoundError
from gis.incidents import monthly, worklists
from gis.incidents.catalogue import subclasses, top_level
from gis.localtime import CITY_TZ
from gis.principal import Principal
from layers.incidents import LABELS_ZH, incident_map_style, period_choices

router = APIRouter(route_class=ReadRetryRoute)

PickerDep = Annotated[Principal, Depends(access.INCIDENT_PAGE)]
WorklistDep = Annotated[Principal, Depends(access.WORKLIST)]
GridMonthDep = Annotated[Principal, Depends(access.GRID_MONTH)]


def _not_covered(grid_code: str) -> NotFoundError:
    """Another's grid answers as an unknown one: its existence is not revealed."""
    return NotFoundError(
        f"没有编码为 {grid_code} 的网格，或不在您的负责范围内 (no grid {grid_code} among the "
        "grids you cover; open the worklist of one of your own grids)"
    )


def _json_ready(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def _categories() -> list[dict[str, Any]]:
    """Top-level categories with their subclasses, for the category picker."""
    return [
        {
            "code": top.code,
            "name": top.name_zh,
            "subclasses": [{"code": s.code, "name": s.name_zh} for s in subclasses(top.code)],
        }
        for top in top_level()
    ]


@router.get(
    "/incidents",
    dependencies=[Depends(access.INCIDENT_PAGE)],
    response_class=HTMLResponse,
    include_in_schema=False,
)
def incident_map_page(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """The planner's map: per-grid rates, Gi* hot spots and incidents, by period and category."""
    latest = worklists.latest_report_date(session) or dt.datetime.now(CITY_TZ).date()
    periods = [
        {"key": p.key, "label": p.label_zh, "start": p.start.isoformat(), "end": p.end.isoformat()}
        for p in period_choices(latest)
    ]
    config = {
        "style": incident_map_style(),
        "periods": periods,
        "categories": _categories(),
        "maxPageSize": settings.max_page_size,
        "api": "/api/v1",
    }
    html = render_page(
        "incidents.html", request, config=script_json(config), title=LABELS_ZH["title"]
    )
    return HTMLResponse(html)


@router.get("/incidents/grid", response_class=HTMLResponse, include_in_schema=False)
def grid_picker_page(request: Request, session: SessionDep, principal: PickerDep) -> HTMLResponse:
    """The grids the caller covers with their grid managers and open/overdue cases, each
    linking to its worklist; searched (code, name, community, manager) and filtered
    (subdistrict, community, overdue only) in the page (``grid-picker.js``), the choice
    kept in the address (``?q=&subdistrict=&community=&overdue=1``)."""
    rows = [r for r in worklists.grid_managers(session) if principal.covers(r.grid_code)]
    subdistrict_names = queries.area_names(session, Level.SUBDISTRICT)
    grids = []
    for r in rows:
        community = parent_code(r.grid_code) or ""
        subdistrict = parent_code(community) or ""
        grids.append(
            {
                **dataclasses.asdict(r),
                "community_code": community,
                "subdistrict_code": subdistrict,
                "subdistrict_name": subdistrict_names.get(subdistrict, ""),
            }
        )
    subdistricts = sorted({(g["subdistrict_code"], g["subdistrict_name"]) for g in grids})
    communities = sorted(
        {(g["community_code"], g["community_name"], g["subdistrict_code"]) for g in grids}
    )
    html = render_page(
        "grid_picker.html",
        request,
        rows=grids,
        subdistricts=[s for s in subdistricts if s[0]],
        communities=communities,
        title=LABELS_ZH["worklist_title"],
        open_total=sum(r.open for r in rows),
        overdue_total=sum(r.overdue for r in rows),
    )
    return HTMLResponse(html)


@router.get(
    "/api/v1/worklists/{grid_code}",
    tags=["incidents"],
    summary="A grid manager's worklist: the grid's open incidents by deadline",
    responses={
        200: {"model": WorklistDoc},
        400: {"model": ErrorDoc, "description": "The code is not 15 digits."},
        404: {
            "model": ErrorDoc,
            "description": "No current grid has this code, or the caller does not cover it.",
        },
    },
)
def grid_worklist(
    session: SessionDep, grid_code: GridCodePath, principal: WorklistDep, datum: DatumOutDep
) -> JSONResponse:
    """``grid`` (code, name, community, households, geometry), ``manager`` (the
    primary grid manager, ``{id, name}`` or null), ``now``, ``overdue`` and
    ``incidents``: open cases, soonest deadline first (overdue ones lead;
    cases not yet dispatched, without a deadline, follow by report time). Each
    has ``version`` and ``allowed`` (actions the workflow accepts now and you may take),
    ``remaining_s`` (calendar seconds to the deadline, negative when overdue)
    and ``remaining_working_s`` (working seconds left, for working-time limits),
    ``handler`` (``{id, name}`` or null). ``handlers``: whom a case can be
    dispatched or redispatched to (``handler_staff_id``): ``id``, ``name``,
    ``role`` (Chinese label), ``role_code``, ``duty`` (specialist duty),
    ``in_grid`` (assigned to this grid, else the community's) and
    ``primary_manager``; the grid's primary grid managers first.
    No contact details of reporters or staff. Only for a grid the caller covers
    (another grid is a 404, as an unknown one)."""
    if not principal.covers(grid_code):
        raise _not_covered(grid_code)
    w = worklists.grid_worklist(session, grid_code, principal=principal)
    return JSONResponse(
        {
            "grid": {
                "code": w.grid_code,
                "name": w.grid_name,
                "community_code": w.community_code,
                "community_name": w.community_name,
                "households": w.households,
                "geometry": geojson_out(w.geometry, datum),
            },
            "manager": dataclasses.asdict(w.manager) if w.manager else None,
            "now": w.now.isoformat(),
            "overdue": w.overdue,
            "incidents": lonlat_out(
                [_json_ready(dataclasses.asdict(item)) for item in w.items], datum
            ),
            "handlers": [dataclasses.asdict(h) for h in w.handlers],
        }
    )


@router.get(
    "/api/v1/grids/{grid_code}/month",
    tags=["incidents"],
    summary="A grid's figures for a month beside its community's average per grid",
    responses={
        200: {"model": GridMonthDoc},
        400: {"model": ErrorDoc, "description": "The code is not 15 digits or month not YYYY-MM."},
        404: {
            "model": ErrorDoc,
            "description": "No current grid has this code, or the caller does not cover it.",
        },
    },
)
def grid_month(
    session: SessionDep,
    grid_code: GridCodePath,
    principal: GridMonthDep,
    month: Annotated[
        str | None,
        Query(description="YYYY-MM (Asia/Shanghai); default this month.", max_length=7),
    ] = None,
) -> JSONResponse:
    """For the month: ``received`` (reported in it), ``closed`` (closed in it),
    ``closed_on_time`` (of those, by their deadline), ``on_time_rate`` (0-1, null
    without closed cases); now: ``open_now`` and ``overdue_now`` (deadline or
    supervision limit passed). ``grid``: this grid's; ``community_average``: its
    community's totals divided by its ``community_grids`` current grids (the rate
    pooled). Only for a grid the caller covers (another is a 404, as an unknown one)."""
    if not principal.covers(grid_code):
        raise _not_covered(grid_code)
    figures = monthly.grid_month(session, grid_code, month)
    return JSONResponse(jsonable_encoder(figures))
