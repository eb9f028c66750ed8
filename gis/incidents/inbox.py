"""Every level's inbox: the cases a person acts on first, soonest due first.

Which cases belong in whose inbox is ``gis.incidents.permissions.in_inbox``
(the level a case has reached, its handler, the community for dispatch and
evaluation); each item also lists the actions the person may take now
(``permissions.allowed_for``), so an item is in the inbox only if there is
one. Closed cases wait for evaluation (综合评价) in the evaluator's inbox for
``EVALUATION_WINDOW_DAYS`` after closing; older ones are left to statistics.

A case is **overdue** when its handling deadline or its supervision limit
(``supervise_due_at``) has passed; overdue cases come first, then by the
sooner of the two. ``escalated``: the case reached its level by escalation.
``urge``: the latest 督办 of the case, if any. Those who act on a case are
responsible for it (``gis.incidents.visibility``), so an inbox shows its cases in
full; one the caller would see masked is left out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.areas.codes import Level
from gis.geo.geojson import GEOJSON_DECIMALS
from gis.incidents import permissions, visibility
from gis.incidents.records import local_minute, source_zh
from gis.incidents.units import UNIT_STAFF_SQL
from gis.incidents.workcalendar import WorkCalendar
from gis.incidents.workflow import OPEN_STATES, State
from gis.incidents.worklists import WorkItem, _item, handled_by
from gis.localtime import utc_now
from gis.principal import Principal, Role

EVALUATION_WINDOW_DAYS = 30
"""Days after closing a case waits in the evaluator's inbox for its 综合评价."""


@dataclass(frozen=True)
class Urge:
    """The latest urge (督办) of a case: when, by whom (as pages name them) and why."""

    at: dt.datetime
    at_local: str
    by_label: str
    note: str | None


@dataclass(frozen=True)
class InboxItem(WorkItem):
    """A worklist item with its place, its supervision clock and whether it came up by
    escalation or was urged; ``allowed`` is what the caller may take now."""

    grid_code: str | None
    grid_name: str | None
    community_name: str | None
    supervise_due_at: dt.datetime | None
    escalated: bool
    urge: Urge | None
    source_zh: str | None
    unit_name: str | None = None
    """The mediation unit the case was handed to (交办), if any."""


@dataclass(frozen=True)
class InboxCounts:
    total: int
    overdue: int
    urged: int
    escalated: int


@dataclass(frozen=True)
class Inbox:
    """One page of a person's inbox as of ``now``, with the counts of all its items."""

    now: dt.datetime
    counts: InboxCounts
    items: list[InboxItem] = field(default_factory=list)


_ROWS = """
SELECT i.id, i.ext_id, i.category, i.status, i.handling_level, g.code AS grid_code,
       g.name AS grid_name, c.name AS community_name,
       round(ST_X(i.geom)::numeric, :decimals)::float AS lon,
       round(ST_Y(i.geom)::numeric, :decimals)::float AS lat,
       i.reported_at, i.deadline_at, i.supervise_due_at, i.version, i.rework_count,
       i.description, i.address, i.source, i.handler_staff_id, s.name AS handler_name,
       (i.handling_level <> 'grid' AND EXISTS (
          SELECT FROM incident_transition e WHERE e.incident_id = i.id
             AND e.action = 'escalate' AND e.to_level = i.handling_level)) AS escalated,
       u.at AS urge_at, u.actor AS urge_actor, u.note AS urge_note,
       ua.display_name AS urge_person, ua.role AS urge_role,
       {unit_staff} AS unit_staff, mu.name_zh AS unit_name
FROM incident i
LEFT JOIN grid g ON g.id = i.grid_id
LEFT JOIN admin_area c ON c.id = i.community_id
LEFT JOIN staff s ON s.id = i.handler_staff_id
LEFT JOIN LATERAL (
  SELECT t.at, t.actor, t.actor_ref, t.note FROM incident_transition t
   WHERE t.incident_id = i.id AND t.action = 'urge' ORDER BY t.at DESC, t.id DESC LIMIT 1
) u ON true
LEFT JOIN account ua ON u.actor_ref = 'account:' || ua.id
LEFT JOIN mediation_unit mu ON mu.id = i.unit_id
WHERE i.duplicate_of IS NULL
  AND (i.status = ANY(:open) OR (i.status = 'closed' AND i.closed_at >= :closed_since))
  AND (i.handling_level = ANY(:levels) OR i.handler_staff_id = :staff
       OR i.unit_id IN (SELECT m.unit_id FROM mediation_unit_staff m WHERE m.staff_id = :staff
                        UNION SELECT h.id FROM mediation_unit h WHERE h.head_staff_id = :staff))
  AND {reach}
  AND (CAST(:grid AS text) IS NULL OR g.code = :grid)
  AND (CAST(:community AS text) IS NULL OR c.code = :community)
  AND (CAST(:status AS text) IS NULL OR i.status = :status)
"""


def _levels(principal: Principal) -> list[str]:
    """The levels whose cases may be in the inbox (``in_inbox`` decides each)."""
    tier = permissions.inbox_tier(principal)
    if tier is None:
        return []
    levels = [list(Level)[tier].value]
    if principal.role is Role.COMMUNITY:
        levels.append(Level.GRID.value)  # dispatch and evaluation of grid-level cases
    return levels


def is_overdue(item: InboxItem | Any, now: dt.datetime) -> bool:
    """An open case whose handling deadline or supervision limit has passed."""
    if item.status not in OPEN_STATES:
        return False
    return any(t is not None and t < now for t in (item.deadline_at, item.supervise_due_at))


def _due(item: InboxItem) -> dt.datetime | None:
    times = [t for t in (item.deadline_at, item.supervise_due_at) if t is not None]
    return min(times) if times else None


def inbox(
    session: Session,
    principal: Principal,
    *,
    grid: str | None = None,
    community: str | None = None,
    status: State | str | None = None,
    overdue: bool | None = None,
    limit: int = 100,
    offset: int = 0,
    now: dt.datetime | None = None,
    calendar: WorkCalendar | None = None,
) -> Inbox:
    """``principal``'s inbox (module docstring), filtered by grid or community code,
    status and overdue; ``limit`` items from ``offset``; counts of every matching item."""
    now = now or utc_now()
    scope = visibility.Scope.of(principal)
    levels = _levels(principal)
    if not levels:
        return Inbox(now, InboxCounts(0, 0, 0, 0))
    rows = session.execute(
        text(
            _ROWS.format(reach=scope.reach_sql("g.code", "i.category"), unit_staff=UNIT_STAFF_SQL)
        ),
        {
            **scope.params(),
            "decimals": GEOJSON_DECIMALS,
            "open": list(OPEN_STATES),
            "closed_since": now - dt.timedelta(days=EVALUATION_WINDOW_DAYS),
            "levels": levels,
            "staff": principal.staff_id,
            "grid": grid,
            "community": community,
            "status": None if status is None else State(status).value,
        },
    ).all()
    handled = handled_by(session, [int(r.id) for r in rows])
    items: list[InboxItem] = []
    for row in rows:
        refs = handled.get(int(row.id), frozenset())
        facts = permissions.CaseFacts(
            id=int(row.id),
            grid_code=row.grid_code,
            category=row.category,
            level=Level(row.handling_level),
            handler_staff_id=row.handler_staff_id,
            handled_by=refs,
            unit_staff=frozenset(row.unit_staff or ()),
        )
        if not permissions.in_inbox(principal, facts, row.status):
            continue
        if not visibility.in_full(principal, row.grid_code, row.category):
            continue  # never in practice: those who act on a case are responsible for it
        base = _item(row, now, calendar, principal, refs)
        if not base.allowed:
            continue
        item = InboxItem(
            **{f.name: getattr(base, f.name) for f in dataclasses.fields(WorkItem)},
            grid_code=row.grid_code,
            grid_name=row.grid_name,
            community_name=row.community_name,
            supervise_due_at=row.supervise_due_at,
            escalated=bool(row.escalated),
            urge=_urge(row),
            source_zh=source_zh(row.source),
            unit_name=row.unit_name,
        )
        items.append(item)
    items = [dataclasses.replace(i, overdue=is_overdue(i, now)) for i in items]
    if overdue is not None:
        items = [i for i in items if i.overdue is overdue]
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    items.sort(key=lambda i: (not i.overdue, _due(i) or far, i.reported_at, i.id))
    counts = InboxCounts(
        total=len(items),
        overdue=sum(i.overdue for i in items),
        urged=sum(i.urge is not None for i in items),
        escalated=sum(i.escalated for i in items),
    )
    return Inbox(now, counts, items[offset : offset + limit])


def _urge(row: Any) -> Urge | None:
    if row.urge_at is None:
        return None
    if row.urge_person is not None and row.urge_role is not None:
        by = f"{row.urge_person}（{Role(row.urge_role).name_zh}）"
    else:
        by = row.urge_actor
    return Urge(at=row.urge_at, at_local=local_minute(row.urge_at), by_label=by, note=row.urge_note)
