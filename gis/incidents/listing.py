"""Incidents as the API and the map list them: filters, orders, pages of GeoJSON points.

Filters by workflow state (or every open one), category with its subclasses,
grid, box and report period; orders by id, deadline (a worklist) or newest.
Categories whose reports are personal data can be left out (a public map) or
kept alone.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, case, func, literal, not_, null, select
from sqlalchemy.orm import Session, aliased

from gis.areas.codes import Level, check_code
from gis.db.models import AdminArea, Grid, Incident, MediationUnit, Staff
from gis.db.select import AnySelect, execute, features, geojson_column, intersects_bbox, paged
from gis.errors import InvalidParameterError, NotFoundError
from gis.geo.geojson import BBox, Page
from gis.incidents.catalogue import PERSONAL_CATEGORIES, UnknownCategoryError, codes_under
from gis.incidents.visibility import HIDDEN, Scope
from gis.incidents.workflow import OPEN_STATES, State
from gis.localtime import period
from gis.principal import Principal


class IncidentOrder(enum.StrEnum):
    """Orders of the incident list; each ends with the id so that pages are stable."""

    ID = "id"
    DEADLINE = "deadline"
    """Soonest deadline first (overdue cases lead), cases without a deadline last: a worklist."""
    NEWEST = "-reported_at"
    """Latest report first: what came in."""


OPEN_STATUSES = "open"
"""Status filter value that stands for every state of a case still in handling."""


def _status_values(status: str) -> list[str]:
    """Workflow states a comma-separated status filter names (``open``: all non-terminal)."""
    values: list[str] = []
    for part in (p.strip() for p in status.split(",")):
        if part == OPEN_STATUSES:
            values += OPEN_STATES
            continue
        try:
            values.append(State(part).value)
        except ValueError:
            raise InvalidParameterError(
                f"unknown status {part!r}; use one or more (comma-separated) of "
                f"{', '.join(s.value for s in State)}, or 'open' for every case still in handling"
            ) from None
    return values


def _category_values(category: str) -> list[str]:
    """Stored codes a category filter (a code or a Chinese name) matches: it and its subclasses."""
    try:
        return codes_under(category)
    except UnknownCategoryError as exc:
        raise InvalidParameterError(str(exc)) from None


def list_incidents(
    session: Session,
    *,
    viewer: Principal,
    bbox: BBox | None = None,
    status: str | None = None,
    category: str | None = None,
    grid_code: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    order: IncidentOrder | str = IncidentOrder.ID,
    personal: bool | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> Page:
    """Incidents as points.

    Filters: ``status`` (comma-separated workflow states, or ``open``),
    ``category`` (a code; a top-level class includes its subclasses),
    ``grid_code``, ``bbox``, and the report time in ``[start, end)`` (aware
    datetimes); ``personal=False`` leaves out the categories whose reports are
    personal data (disputes, petitions, help requests; what a map open to
    everyone must not pin), ``True`` keeps only them.

    Properties: ``id``, ``ext_id``, ``category``, ``status``,
    ``grid_code`` (None if the incident lies outside every grid), ``reported_at``
    and ``deadline_at`` (ISO 8601 with time zone; no deadline before dispatch),
    ``handling_level``, ``version`` (quote it when advancing the case),
    ``description``, ``source``, ``masked``.

    ``viewer`` is who reads (``gis.incidents.visibility``): only the cases in
    their reach are listed, and a personal case they are not responsible for
    comes masked (``masked`` true): its point is its grid's representative
    point (no point without a grid), its description ``已隐藏``. ``bbox``
    selects by the point shown, so a box cannot find where a masked case is.
    """
    try:
        order = IncidentOrder(order)
    except ValueError:
        raise InvalidParameterError(
            f"unknown order {order!r}; use one of {', '.join(o.value for o in IncidentOrder)}"
        ) from None
    for name, moment in (("start", start), ("end", end)):
        if moment is not None and moment.utcoffset() is None:
            raise InvalidParameterError(f"{name} {moment.isoformat()} has no time zone")
    if start is not None and end is not None:
        period(start, end)
    scope = Scope.of(viewer)
    full, shown, description = masked_columns(scope)
    stmt = select(
        Incident.id,
        Incident.ext_id,
        Incident.category,
        Incident.status,
        Grid.code.label("grid_code"),
        Incident.reported_at,
        Incident.deadline_at,
        Incident.handling_level,
        Incident.version,
        description.label("description"),
        Incident.source,
        not_(full).label("masked"),
        geojson_column(shown).label("geometry"),
    ).outerjoin(Grid, Grid.id == Incident.grid_id)
    reach = scope.reach(Grid.code, Incident.category)
    if reach is not None:
        stmt = stmt.where(reach)
    if status is not None:
        stmt = stmt.where(Incident.status.in_(_status_values(status)))
    if category is not None:
        stmt = stmt.where(Incident.category.in_(_category_values(category)))
    if grid_code is not None:
        check_code(grid_code, Level.GRID)
        stmt = stmt.where(Grid.code == grid_code)
    if bbox is not None:
        stmt = stmt.where(intersects_bbox(shown, bbox))
    if personal is not None:
        codes = sorted(PERSONAL_CATEGORIES)
        stmt = stmt.where(
            Incident.category.in_(codes) if personal else Incident.category.not_in(codes)
        )
    if start is not None:
        stmt = stmt.where(Incident.reported_at >= start)
    if end is not None:
        stmt = stmt.where(Incident.reported_at < end)
    orders: dict[IncidentOrder, list[Any]] = {
        IncidentOrder.ID: [Incident.id],
        IncidentOrder.DEADLINE: [Incident.deadline_at.asc().nulls_last(), Incident.id],
        IncidentOrder.NEWEST: [Incident.reported_at.desc(), Incident.id.desc()],
    }
    order_by = orders[order]
    rows, total = paged(session, stmt, order_by, limit, offset)
    return Page(features(rows, "id"), total)


def masked_columns(scope: Scope) -> tuple[Any, Any, Any]:
    """``(full, shown, description)`` of a list over ``incident`` outer-joined to ``grid``:
    whether the case is shown in full, the point shown (its grid's representative point
    where masked) and the description shown (``已隐藏`` where masked)."""
    full = scope.full(Grid.code, Incident.category)
    if scope.masks_nothing:
        return full, Incident.geom, Incident.description
    shown = case((full, Incident.geom), else_=func.ST_PointOnSurface(Grid.geom))
    description = case(
        (full, Incident.description),
        (Incident.description.is_(None), null()),
        else_=literal(HIDDEN),
    )
    return full, shown, description


def visible_incidents(viewer: Principal) -> AnySelect:
    """The cases ``viewer`` may see as they may see them, one row each: the columns of
    :func:`list_incidents`' properties, with ``geom`` the point shown (a masked case at its
    grid's representative point) and ``description`` masked the same way. Filters over it
    (wrapped as a subquery) apply to what the viewer sees, never to the hidden values
    (OGC API Features, exports, tiles)."""
    scope = Scope.of(viewer)
    full, shown, description = masked_columns(scope)
    stmt = select(
        Incident.id,
        Incident.ext_id,
        Incident.category,
        Incident.status,
        Grid.code.label("grid_code"),
        Incident.reported_at,
        Incident.deadline_at,
        Incident.handling_level,
        Incident.version,
        description.label("description"),
        Incident.source,
        not_(full).label("masked"),
        shown.label("geom"),
    ).outerjoin(Grid, Grid.id == Incident.grid_id)
    reach = scope.reach(Grid.code, Incident.category)
    return stmt if reach is None else stmt.where(reach)


@dataclass(frozen=True)
class IncidentPlace:
    """Codes of the areas an incident is routed to, its handler's name and the name of the
    mediation unit it was handed to (None if unset)."""

    community_code: str | None
    subdistrict_code: str | None
    handler_name: str | None
    unit_name: str | None = None


def _incident_place_statement() -> AnySelect:
    community = aliased(AdminArea)
    subdistrict = aliased(AdminArea)
    return (
        select(
            community.code.label("community_code"),
            subdistrict.code.label("subdistrict_code"),
            Staff.name.label("handler_name"),
            MediationUnit.name_zh.label("unit_name"),
        )
        .select_from(Incident)
        .outerjoin(community, community.id == Incident.community_id)
        .outerjoin(subdistrict, subdistrict.id == Incident.subdistrict_id)
        .outerjoin(Staff, Staff.id == Incident.handler_staff_id)
        .outerjoin(MediationUnit, MediationUnit.id == Incident.unit_id)
        .where(Incident.id == bindparam("incident_id"))
    )


_INCIDENT_PLACE = _incident_place_statement()
"""Built once: making the two aliases took a quarter of a GET's time in the app."""


def incident_place(session: Session, incident_id: int) -> IncidentPlace:
    """The community and subdistrict codes and handler name of an incident; NotFoundError."""
    rows = execute(session, _INCIDENT_PLACE, {"incident_id": incident_id})
    if not rows:
        raise NotFoundError(
            f"no incident has id {incident_id}", zh=f"没有编号为 {incident_id} 的案件"
        )
    return IncidentPlace(*rows[0])
