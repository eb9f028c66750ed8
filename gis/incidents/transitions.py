"""The closed loop stored: each step of a case, checked by the workflow and locked.

The pure state machine of ``gis.incidents.workflow`` decides what is allowed,
``gis.incidents.permissions`` who may do it; this module checks both against the
locked row and stores the step with who took it (the principal's name and its
``ref``, the identity the rule "whoever handled a case does not verify it"
compares). Rows are locked ``FOR UPDATE`` and carry a ``version`` the caller
must quote (optimistic locking): a dispatcher acting on a stale screen gets
StaleVersionError, carrying the case as it stands now (``current_state``), instead
of overwriting a colleague's work. Deadlines run in working time from the moment
the clock starts; the supervision clock (``supervise_due_at``, see
``gis.incidents.deadlines``) starts again at escalation, dispatch, redispatch and
rework. An urge (督办) is stored as a step but changes nothing else of the case,
its version included, so the handler's screen stays current.

A hand-over (交办, seed 003) names a mediation unit (``gis.incidents.units``): the
case's ``unit_id`` is set and the unit's head becomes its handler, the step storing
the unit and the head's name (the history's "交办至 <unit> <head>"); a dispatch,
redispatch or escalation takes the case out of the unit's hands again. Settling on
the spot (当场办结) marks the case ``on_the_spot``; a rework clears it. Nothing here
commits: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.areas.codes import Level
from gis.errors import (
    ConflictError,
    InvalidFeatureError,
    InvalidParameterError,
    NotFoundError,
    StaleVersionError,
)
from gis.incidents import permissions, units, workflow
from gis.incidents.deadlines import deadline_after, supervise_due
from gis.incidents.records import IncidentRecord, get_incident
from gis.incidents.units import UNIT_STAFF_SQL
from gis.incidents.workcalendar import WorkCalendar
from gis.incidents.workflow import Action, CaseFlow, Rating, State, Transition
from gis.localtime import utc_now
from gis.principal import Principal

MERGE_ACTION = "merge"
"""Action stored when a duplicate is merged into another case (it is cancelled as such)."""


def current_state(session: Session, incident_id: int) -> dict[str, Any]:
    """The case as a conflict shows it: ``status``, ``version``, ``handling_level`` and
    its ``last_step`` (``action``, ``at``, ``actor``)."""
    row = session.execute(
        text(
            "SELECT i.status, i.version, i.handling_level, t.action, t.at, t.actor"
            " FROM incident i LEFT JOIN LATERAL (SELECT action, at, actor FROM"
            " incident_transition WHERE incident_id = i.id ORDER BY at DESC, id DESC LIMIT 1) t"
            " ON true WHERE i.id = :id"
        ),
        {"id": incident_id},
    ).one()
    last = (
        None
        if row.action is None
        else {"action": row.action, "at": row.at.isoformat(), "actor": row.actor}
    )
    return {
        "status": row.status,
        "version": int(row.version),
        "handling_level": row.handling_level,
        "last_step": last,
    }


def _stale(session: Session, incident_id: int, expected: int) -> StaleVersionError:
    state = current_state(session, incident_id)
    return StaleVersionError(incident_id, expected, state["version"], state=state)


def _lock(session: Session, incident_id: int, *, lock: bool = True) -> Any:
    row = session.execute(
        text(
            "SELECT i.id, i.category, i.status, i.handling_level, i.rework_count, i.version,"
            " i.subdistrict_id, i.community_id, i.deadline_at, i.duplicate_of,"
            " i.handler_staff_id, i.unit_id, i.on_the_spot,"
            " (SELECT g.code FROM grid g WHERE g.id = i.grid_id) AS grid_code,"
            f" {UNIT_STAFF_SQL} AS unit_staff"
            " FROM incident i WHERE i.id = :id" + (" FOR UPDATE OF i" if lock else "")
        ),
        {"id": incident_id},
    ).first()
    if row is None:
        raise NotFoundError(
            f"no incident has id {incident_id}", zh=f"没有编号为 {incident_id} 的案件"
        )
    return row


def _facts(session: Session, row: Any, action: Action | None) -> permissions.CaseFacts:
    """What the permission rules look at; who handled the case only where it matters."""
    handled_by: frozenset[str] = frozenset()
    if action in permissions.NOT_BY_HANDLER:
        handled_by = frozenset(
            session.execute(
                text(
                    "SELECT DISTINCT actor_ref FROM incident_transition"
                    " WHERE incident_id = :i AND action = ANY(:handling) AND actor_ref IS NOT NULL"
                ),
                {"i": row.id, "handling": list(permissions.HANDLING_ACTIONS)},
            ).scalars()
        )
    return permissions.CaseFacts(
        id=int(row.id),
        grid_code=row.grid_code,
        category=row.category,
        level=Level(row.handling_level),
        handler_staff_id=row.handler_staff_id,
        handled_by=handled_by,
        unit_staff=frozenset(row.unit_staff or ()),
    )


def locked_case(
    session: Session, incident_id: int, action: Action | None = None, *, lock: bool = True
) -> tuple[State, permissions.CaseFacts]:
    """The case's state and what the permission rules look at for ``action``, its row
    locked ``FOR UPDATE`` until the caller's transaction ends (so no step changes the
    state meanwhile; ``lock=False``: a look before slow work, checked again under the
    lock afterwards); NotFoundError without such a case."""
    row = _lock(session, incident_id, lock=lock)
    return State(row.status), _facts(session, row, action)


def _known_action(action: Action | str) -> Action | None:
    try:
        return Action(action)
    except ValueError:
        return None  # the workflow refuses it, listing the allowed ones


def _case(session: Session, row: Any) -> CaseFlow:
    """The workflow's view of a stored case; the last transition keeps times in order."""
    last = session.execute(
        text(
            "SELECT action, from_state, to_state, actor, at FROM incident_transition"
            " WHERE incident_id = :i ORDER BY at DESC, id DESC LIMIT 1"
        ),
        {"i": row.id},
    ).first()
    history: tuple[Transition, ...] = ()
    if last is not None:
        history = (
            Transition(
                action=Action.ACCEPT,  # only its time matters to apply()
                from_state=State(last.from_state or last.to_state),
                to_state=State(last.to_state),
                actor=last.actor,
                at=last.at,
            ),
        )
    return CaseFlow(
        state=State(row.status),
        rework_count=int(row.rework_count),
        level=Level(row.handling_level),
        history=history,
        on_the_spot=bool(row.on_the_spot),
    )


def transition(
    session: Session,
    incident_id: int,
    action: Action | str,
    *,
    principal: Principal,
    expected_version: int,
    note: str | None = None,
    at: dt.datetime | None = None,
    handler_staff_id: int | None = None,
    calendar: WorkCalendar | None = None,
    rating: Rating | str | None = None,
    unit_id: int | None = None,
) -> IncidentRecord:
    """``principal`` applies ``action`` to the case and it is stored; the case as it now stands.

    ``hand_over`` (交办) needs ``unit_id``, a unit that may take the case
    (``units.unit_for_case``: InvalidParameterError otherwise), whose head becomes the
    handler; other steps refuse a ``unit_id``, and a hand-over a ``handler_staff_id``.

    ``rating`` is required for ``evaluate`` and refused on other steps
    (RatingRequiredError). An urge needs a note and changes nothing but the history.

    ``expected_version`` is the version the caller read (StaleVersionError
    otherwise). Dispatch, redispatch and rework start the clock: the deadline
    is the category's time limit in working time after ``at`` on ``calendar``
    (default: the national calendar). ``handler_staff_id`` names the new
    handler (dispatch, redispatch); escalation raises the level and leaves the
    case without a handler until the new level assigns one. Who may take the
    step is ``gis.incidents.permissions``' rule: a case out of the principal's
    reach is NotFoundError, a step their role may not take ForbiddenError.
    """
    at = at or utc_now()
    row = _lock(session, incident_id)
    step = _known_action(action)
    facts = _facts(session, row, step)
    if step is None:
        permissions.check_reach(principal, facts)
    else:
        permissions.check_step(principal, step, facts)
    if row.version != expected_version:
        raise _stale(session, incident_id, expected_version)
    checked_rating = workflow.check_rating(action, rating) if step is not None else None
    unit = _unit_of_step(session, row, step, unit_id, handler_staff_id)
    after = workflow.apply(
        _case(session, row),
        action,
        actor=principal.actor,
        at=at,
        note=note or "",
        has_subdistrict=row.subdistrict_id is not None,
    )
    action = Action(action)
    t = after.history[-1]
    if action in workflow.HISTORY_ONLY:
        _write_transition(session, incident_id, t, action.value, principal.ref)
        return get_incident(session, incident_id)
    sets = ["status = :status", "handling_level = :level", "rework_count = :rework"]
    params: dict[str, Any] = {
        "id": incident_id,
        "expected": expected_version,
        "status": after.state.value,
        "level": after.level.value,
        "rework": after.rework_count,
    }
    deadline = row.deadline_at
    if action in workflow.CLOCK_STARTS:
        deadline = deadline_after(row.category, at, calendar)
        sets += ["clock_started_at = :at", "deadline_at = :deadline"]
        params.update(at=at, deadline=deadline)
    if action in workflow.SUPERVISION_RESTARTS:
        sets.append("supervise_due_at = :supervise")
        params["supervise"] = supervise_due(row.category, after.level, at, deadline, calendar)
    if action is Action.VERIFY:
        sets.append("closed_at = :at")
        params["at"] = at
    if after.on_the_spot != bool(row.on_the_spot):
        sets.append("on_the_spot = :on_the_spot")
        params["on_the_spot"] = after.on_the_spot
    if unit is not None:
        sets += ["unit_id = :unit", "handler_staff_id = :handler"]
        params.update(unit=unit.id, handler=unit.head_staff_id)
    elif action in (Action.ESCALATE, *workflow.ASSIGNS_HANDLER) and row.unit_id is not None:
        sets.append("unit_id = NULL")  # out of the unit's hands
    if action is Action.ESCALATE:
        sets.append("handler_staff_id = NULL")
    elif handler_staff_id is not None:
        known = session.execute(
            text("SELECT 1 FROM staff WHERE id = :h"), {"h": handler_staff_id}
        ).first()
        if known is None:
            raise InvalidFeatureError(
                f"no staff member has id {handler_staff_id}; GET /api/v1/worklists/{{grid}} "
                "lists who a grid's cases can go to"
            )
        sets.append("handler_staff_id = :handler")
        params["handler"] = handler_staff_id
    updated = session.execute(
        text(
            f"UPDATE incident SET {', '.join(sets)}, version = version + 1"
            " WHERE id = :id AND version = :expected RETURNING version"
        ),
        params,
    ).first()
    if updated is None:
        raise _stale(session, incident_id, expected_version)
    _write_transition(
        session, incident_id, t, action.value, principal.ref, checked_rating, unit=unit
    )
    return get_incident(session, incident_id)


def _unit_of_step(
    session: Session,
    row: Any,
    step: Action | None,
    unit_id: int | None,
    handler_staff_id: int | None,
) -> units.UnitRecord | None:
    """The unit a ``hand_over`` hands the case to, checked; None for other steps, which
    take no unit (InvalidParameterError)."""
    if step is not Action.HAND_OVER:
        if unit_id is not None:
            raise InvalidParameterError(
                "only hand_over (交办) names a unit (unit_id)", zh="只有交办需要指定责任单位"
            )
        return None
    if unit_id is None:
        raise InvalidParameterError(
            "hand_over (交办) needs unit_id: the unit whose head takes the case; "
            "GET /api/v1/mediation-units lists them",
            zh="交办须指定责任单位（unit_id）",
        )
    if handler_staff_id is not None:
        raise InvalidParameterError(
            "hand_over (交办) goes to the unit's head: give unit_id, not handler_staff_id",
            zh="交办至责任单位负责人：请指定 unit_id，而非 handler_staff_id",
        )
    return units.unit_for_case(session, unit_id, row.grid_code, row.category)


def merge_duplicate(
    session: Session,
    incident_id: int,
    into_id: int,
    *,
    principal: Principal,
    note: str | None = None,
    at: dt.datetime | None = None,
    expected_version: int | None = None,
) -> IncidentRecord:
    """Mark ``incident_id`` a duplicate of ``into_id``; both rows stay, linked.

    The duplicate is cancelled (作废) as such, so it leaves the open count;
    the workflow allows that before dispatch only (a dispatched case is
    somebody's work and is closed through the loop). Returns the duplicate.
    With ``expected_version``, a duplicate changed since is left alone
    (StaleVersionError). Those who may cancel the duplicate may merge it
    (ForbiddenError otherwise); both cases must be in their reach (NotFoundError).
    """
    if incident_id == into_id:
        raise InvalidFeatureError("an incident cannot be a duplicate of itself")
    at = at or utc_now()
    target = _lock(session, into_id)
    permissions.check_reach(principal, _facts(session, target, None))
    if target.duplicate_of is not None:
        raise ConflictError(
            f"incident {into_id} is itself a duplicate of {target.duplicate_of}; "
            f"merge into {target.duplicate_of} instead"
        )
    row = _lock(session, incident_id)
    permissions.check_merge(principal, _facts(session, row, None))
    if expected_version is not None and row.version != expected_version:
        raise _stale(session, incident_id, expected_version)
    if row.duplicate_of is not None:
        raise ConflictError(f"incident {incident_id} is already a duplicate of {row.duplicate_of}")
    reason = f"duplicate of incident {into_id}" + (f": {note}" if note else "")
    after = workflow.apply(
        _case(session, row), Action.CANCEL, actor=principal.actor, at=at, note=reason
    )
    session.execute(
        text(
            "UPDATE incident SET status = :s, duplicate_of = :into, version = version + 1"
            " WHERE id = :id"
        ),
        {"s": after.state.value, "into": into_id, "id": incident_id},
    )
    _write_transition(session, incident_id, after.history[-1], MERGE_ACTION, principal.ref)
    return get_incident(session, incident_id)


def _write_transition(
    session: Session,
    incident_id: int,
    t: Transition,
    action: str,
    actor_ref: str | None,
    rating: Rating | None = None,
    *,
    unit: units.UnitRecord | None = None,
) -> None:
    session.execute(
        text(
            "INSERT INTO incident_transition (incident_id, action, from_state, to_state, actor,"
            " actor_ref, at, note, from_level, to_level, rating, unit_id, unit_head)"
            " VALUES (:i, :a, :f, :t, :actor, :ref, :at, :note, :fl, :tl, :rating, :unit,"
            " :head)"
        ),
        {
            "i": incident_id,
            "a": action,
            "f": t.from_state.value,
            "t": t.to_state.value,
            "actor": t.actor,
            "ref": workflow.stored_ref(actor_ref),
            "at": t.at,
            "note": t.note or None,
            "fl": t.from_level.value,
            "tl": t.to_level.value,
            "rating": None if rating is None else rating.value,
            "unit": None if unit is None else unit.id,
            "head": None if unit is None else unit.head_name,
        },
    )
