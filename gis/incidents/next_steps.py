"""The steps a person may take on a case now: the buttons of the field app's case page.

What the case's state allows (``workflow.allowed``) narrowed to what the caller
may do (``permissions.allowed_for``), looked up for one case without locking
it: the page only offers buttons; ``transitions.transition`` checks again on the
locked row when one is pressed.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.incidents import permissions, workflow
from gis.incidents.records import IncidentRecord
from gis.incidents.units import UNIT_STAFF_SQL
from gis.principal import Principal


def handled_by(session: Session, incident_id: int) -> frozenset[str]:
    """The ``ref`` of everyone who took a ``handle`` or ``settle`` step of the case."""
    return frozenset(
        session.execute(
            text(
                "SELECT DISTINCT actor_ref FROM incident_transition"
                " WHERE incident_id = :i AND action = ANY(:handling) AND actor_ref IS NOT NULL"
            ),
            {"i": incident_id, "handling": list(permissions.HANDLING_ACTIONS)},
        ).scalars()
    )


def unit_staff(session: Session, incident_id: int) -> frozenset[int]:
    """The staff of the unit the case was handed to (head and members), who handle it."""
    found = session.execute(
        text(f"SELECT {UNIT_STAFF_SQL} FROM incident i WHERE i.id = :i"), {"i": incident_id}
    ).scalar()
    return frozenset(found or ())


def next_steps(session: Session, record: IncidentRecord, principal: Principal) -> list[str]:
    """The actions ``principal`` may take on ``record`` in its current state, in workflow
    order (empty for a finished case or one out of their reach)."""
    facts = permissions.CaseFacts(
        id=record.id,
        grid_code=record.grid_code,
        category=record.category,
        level=record.handling_level,
        handler_staff_id=record.handler_staff_id,
        handled_by=handled_by(session, record.id),
        unit_staff=unit_staff(session, record.id) if record.unit_id is not None else frozenset(),
    )
    actions = workflow.allowed(record.status)
    return [a.value for a in permissions.allowed_for(principal, facts, actions)]


__all__ = ["handled_by", "next_steps", "unit_staff"]
