"""What the incident pages read: a grid's worklist, the grids with their managers, the data's span.

A worklist is the grid's open cases, soonest deadline first, each with its
version and the actions the workflow allows now and the caller may take
(``gis.incidents.permissions.allowed_for``), so the page offers only buttons
that can succeed; dispatch offers the grid's and community's staff, by name
only (no phone numbers).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.areas.codes import Level, check_code
from gis.areas.routing import primary_manager
from gis.db.models import StaffRole
from gis.errors import NotFoundError
from gis.geo.geojson import GEOJSON_DECIMALS
from gis.incidents import permissions
from gis.incidents.catalogue import find
from gis.incidents.deadlines import runs_in_working_time
from gis.incidents.units import UNIT_STAFF_SQL
from gis.incidents.workcalendar import WorkCalendar, working_time_between
from gis.incidents.workflow import OPEN_STATES, Action, CaseFlow, State
from gis.localtime import CITY_TIMEZONE, utc_now
from gis.principal import Principal


@dataclass(frozen=True)
class StaffName:
    """A member of staff as pages show them: id and name, nothing else."""

    id: int
    name: str


ROLE_LABELS_ZH: dict[StaffRole, str] = {
    StaffRole.GRID_MANAGER: "网格员",
    StaffRole.COMMUNITY_WORKER: "社区工作者",
    StaffRole.MEDIATOR: "人民调解员",
}
"""What a staff role reads as on the pages."""


@dataclass(frozen=True)
class HandlerChoice:
    """Someone a grid's case can be dispatched to; no contact details.

    ``role`` is the role's Chinese label (``role_code`` the stored value);
    ``duty`` the A-post specialist duty, if any; ``in_grid`` whether they are
    assigned to this grid (otherwise they serve its community);
    ``primary_manager`` whether they are a primary grid manager of this grid.
    """

    id: int
    name: str
    role: str
    role_code: str
    duty: str | None
    in_grid: bool
    primary_manager: bool


@dataclass(frozen=True)
class WorkItem:
    """One open case of the worklist; times aware, durations in seconds.

    ``remaining_s`` is calendar time to the deadline (negative: overdue by
    that much); ``remaining_working_s`` the working time left on the
    calendar when the category's limit runs in working time (0 once
    overdue), else None. Both None without a deadline.
    """

    id: int
    ext_id: str | None
    category: str
    category_name: str
    status: str
    handling_level: str
    lon: float
    lat: float
    reported_at: dt.datetime
    deadline_at: dt.datetime | None
    remaining_s: float | None
    remaining_working_s: float | None
    overdue: bool
    version: int
    rework_count: int
    allowed: list[str]
    description: str | None
    address: str | None
    source: str | None
    handler: StaffName | None


@dataclass(frozen=True)
class GridWorklist:
    """A grid, its primary grid manager and its open cases by deadline, as of ``now``."""

    grid_code: str
    grid_name: str
    community_code: str
    community_name: str
    households: int
    geometry: dict[str, Any]
    manager: StaffName | None
    now: dt.datetime
    items: list[WorkItem] = field(default_factory=list)
    handlers: list[HandlerChoice] = field(default_factory=list)

    @property
    def overdue(self) -> int:
        return sum(item.overdue for item in self.items)


@dataclass(frozen=True)
class GridManagerRow:
    """A current grid with its primary grid manager's name and open/overdue case counts."""

    grid_code: str
    grid_name: str
    community_name: str
    manager: str | None
    open: int
    overdue: int


def _category_name(code: str) -> str:
    found = find(code)
    return found.name_zh if found is not None else code


def grid_worklist(
    session: Session,
    grid_code: str,
    *,
    now: dt.datetime | None = None,
    calendar: WorkCalendar | None = None,
    principal: Principal | None = None,
) -> GridWorklist:
    """The current grid ``grid_code``'s open cases, soonest deadline first.

    ``allowed`` of each case: what the workflow accepts now and, given a
    ``principal``, what they may take of it (without one: the workflow's list).

    NotFoundError if no current grid has the code; InvalidParameterError if
    it is not 15 digits.
    """
    check_code(grid_code, "grid")
    now = now or utc_now()
    grid = session.execute(
        text(
            f"""
            SELECT g.id, g.code, g.name, g.households, g.community_id, c.code AS community_code,
                   c.name AS community_name, ST_AsGeoJSON(g.geom, :decimals)::json AS geometry,
                   m.id AS manager_id, m.name AS manager_name
            FROM grid g JOIN admin_area c ON c.id = g.community_id
            LEFT JOIN LATERAL ({primary_manager("g.id")}) m ON true
            WHERE g.code = :code AND g.valid_to IS NULL
            ORDER BY g.valid_from DESC LIMIT 1
            """
        ),
        {"code": grid_code, "decimals": GEOJSON_DECIMALS},
    ).first()
    if grid is None:
        raise NotFoundError(
            f"no current grid has code {grid_code}", zh=f"没有编码为 {grid_code} 的网格"
        )
    manager = (
        None if grid.manager_id is None else StaffName(int(grid.manager_id), grid.manager_name)
    )
    rows = session.execute(
        text(
            f"""
            SELECT i.id, i.ext_id, i.category, i.status, i.handling_level, g.code AS grid_code,
                   round(ST_X(i.geom)::numeric, :decimals)::float AS lon,
                   round(ST_Y(i.geom)::numeric, :decimals)::float AS lat,
                   i.reported_at, i.deadline_at, i.version, i.rework_count,
                   i.description, i.address, i.source, i.handler_staff_id, s.name AS handler_name,
                   {UNIT_STAFF_SQL} AS unit_staff
            FROM incident i
            JOIN grid g ON g.id = i.grid_id
            LEFT JOIN staff s ON s.id = i.handler_staff_id
            WHERE g.code = :code AND i.status = ANY(:open)
            ORDER BY i.deadline_at ASC NULLS LAST, i.reported_at, i.id
            """
        ),
        {"code": grid_code, "open": list(OPEN_STATES), "decimals": GEOJSON_DECIMALS},
    ).all()
    handled = handled_by(session, [int(r.id) for r in rows]) if principal is not None else {}
    items = [
        _item(row, now, calendar, principal, handled.get(int(row.id), frozenset())) for row in rows
    ]
    return GridWorklist(
        grid_code=grid.code,
        grid_name=grid.name,
        community_code=grid.community_code,
        community_name=grid.community_name,
        households=int(grid.households or 0),
        geometry=grid.geometry,
        manager=manager,
        now=now,
        items=items,
        handlers=_handlers(session, int(grid.id), int(grid.community_id)),
    )


_HANDLERS = text(
    """
    SELECT s.id, s.name, s.role::text AS role, s.specialist_duty,
           EXISTS (SELECT FROM staff_grid sg
                    WHERE sg.staff_id = s.id AND sg.grid_id = :grid) AS in_grid,
           s.role = 'grid_manager' AND EXISTS (
             SELECT FROM staff_grid sg
              WHERE sg.staff_id = s.id AND sg.grid_id = :grid AND sg.is_primary
           ) AS primary_manager
    FROM staff s
    WHERE EXISTS (SELECT FROM staff_grid sg WHERE sg.staff_id = s.id AND sg.grid_id = :grid)
       OR (s.role IN ('community_worker', 'mediator')
           AND (s.community_id = :community
                OR EXISTS (SELECT FROM staff_grid sg JOIN grid cg ON cg.id = sg.grid_id
                            WHERE sg.staff_id = s.id AND cg.community_id = :community
                              AND cg.valid_to IS NULL)))
    ORDER BY primary_manager DESC, in_grid DESC,
             CASE s.role WHEN 'grid_manager' THEN 0 WHEN 'community_worker' THEN 1 ELSE 2 END,
             s.id
    """
)
"""The grid's staff, then the community's community workers and mediators; primary
grid managers first (the lowest id is the worklist's ``manager``), then by role and id."""


def _handlers(session: Session, grid_id: int, community_id: int) -> list[HandlerChoice]:
    rows = session.execute(_HANDLERS, {"grid": grid_id, "community": community_id}).all()
    return [
        HandlerChoice(
            id=int(r.id),
            name=r.name,
            role=ROLE_LABELS_ZH.get(StaffRole(r.role), r.role),
            role_code=r.role,
            duty=r.specialist_duty,
            in_grid=bool(r.in_grid),
            primary_manager=bool(r.primary_manager),
        )
        for r in rows
    ]


def grid_handlers(session: Session, grid_code: str) -> list[HandlerChoice]:
    """Whom the current grid ``grid_code``'s cases can be dispatched to (module docstring).

    NotFoundError if no current grid has the code; InvalidParameterError if
    it is not 15 digits.
    """
    check_code(grid_code, "grid")
    grid = session.execute(
        text(
            "SELECT id, community_id FROM grid WHERE code = :code AND valid_to IS NULL"
            " ORDER BY valid_from DESC LIMIT 1"
        ),
        {"code": grid_code},
    ).first()
    if grid is None:
        raise NotFoundError(
            f"no current grid has code {grid_code}", zh=f"没有编码为 {grid_code} 的网格"
        )
    return _handlers(session, int(grid.id), int(grid.community_id))


def handled_by(session: Session, ids: list[int]) -> dict[int, frozenset[str]]:
    """Per case, the ``ref`` of everyone who took a ``handle`` or ``settle`` step of it (the
    rule that whoever handled a case does not verify it needs them)."""
    if not ids:
        return {}
    rows = session.execute(
        text(
            "SELECT incident_id, array_agg(DISTINCT actor_ref) AS refs FROM incident_transition"
            " WHERE incident_id = ANY(:ids) AND action = ANY(:handling) AND actor_ref IS NOT NULL"
            " GROUP BY incident_id"
        ),
        {"ids": ids, "handling": list(permissions.HANDLING_ACTIONS)},
    ).all()
    return {int(r.incident_id): frozenset(r.refs) for r in rows}


def allowed_now(
    row: Any, principal: Principal | None, handled: frozenset[str], grid_code: str | None
) -> list[Action]:
    """What the workflow accepts of a case now and, given ``principal``, they may take."""
    flow = CaseFlow(state=State(row.status), level=Level(row.handling_level))
    actions = flow.allowed()
    if principal is None:
        return actions
    facts = permissions.CaseFacts(
        id=int(row.id),
        grid_code=grid_code,
        category=row.category,
        level=flow.level,
        handler_staff_id=row.handler_staff_id,
        handled_by=handled,
        unit_staff=frozenset(getattr(row, "unit_staff", None) or ()),
    )
    return permissions.allowed_for(principal, facts, actions)


def _item(
    row: Any,
    now: dt.datetime,
    calendar: WorkCalendar | None,
    principal: Principal | None = None,
    handled: frozenset[str] = frozenset(),
) -> WorkItem:
    deadline: dt.datetime | None = row.deadline_at
    remaining = working = None
    overdue = False
    if deadline is not None:
        remaining = (deadline - now).total_seconds()
        overdue = remaining < 0
        if runs_in_working_time(row.category):
            left = working_time_between(now, deadline, calendar=calendar) if not overdue else None
            working = left.total_seconds() if left is not None else 0.0
    allowed = allowed_now(row, principal, handled, getattr(row, "grid_code", None))
    handler = (
        StaffName(int(row.handler_staff_id), row.handler_name)
        if row.handler_staff_id is not None and row.handler_name is not None
        else None
    )
    return WorkItem(
        id=int(row.id),
        ext_id=row.ext_id,
        category=row.category,
        category_name=_category_name(row.category),
        status=row.status,
        handling_level=row.handling_level,
        lon=float(row.lon),
        lat=float(row.lat),
        reported_at=row.reported_at,
        deadline_at=deadline,
        remaining_s=remaining,
        remaining_working_s=working,
        overdue=overdue,
        version=int(row.version),
        rework_count=int(row.rework_count),
        allowed=[a.value for a in allowed],
        description=row.description,
        address=row.address,
        source=row.source,
        handler=handler,
    )


def grid_managers(session: Session, *, now: dt.datetime | None = None) -> list[GridManagerRow]:
    """Every current grid with its primary grid manager and open/overdue counts, by code."""
    now = now or utc_now()
    rows = session.execute(
        text(
            f"""
            SELECT g.code, g.name, c.name AS community_name,
                   (SELECT m.name FROM ({primary_manager("g.id")}) m) AS manager,
                   count(i.id) AS open,
                   count(i.id) FILTER (WHERE i.deadline_at < :now) AS overdue
            FROM grid g
            JOIN admin_area c ON c.id = g.community_id
            LEFT JOIN incident i ON i.grid_id = g.id AND i.status = ANY(:open)
            WHERE g.valid_to IS NULL
            GROUP BY g.id, g.code, g.name, c.name
            ORDER BY g.code
            """
        ),
        {"now": now, "open": list(OPEN_STATES)},
    ).all()
    return [
        GridManagerRow(r.code, r.name, r.community_name, r.manager, int(r.open), int(r.overdue))
        for r in rows
    ]


def latest_report_date(session: Session) -> dt.date | None:
    """The city's local date of the latest incident report; None without incidents."""
    return session.execute(
        text("SELECT (max(reported_at) AT TIME ZONE :tz)::date FROM incident"),
        {"tz": CITY_TIMEZONE},
    ).scalar()
