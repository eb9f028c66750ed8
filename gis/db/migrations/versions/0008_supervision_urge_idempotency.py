"""Supervision limits, urging, evaluation ratings and idempotent reports

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 00:30:00.000000

- ``incident.supervise_due_at``: when the escalation sweep next raises the case
  (督办时限 per level, 受理时限 before dispatch; ``gis.incidents.deadlines``). Until
  now a case was raised once and then waited at community level forever. Existing
  open cases are filled from their history (``fill_supervise_due``, the same code
  the demo's load runs), so the first sweep after the upgrade brings stuck cases up.
- ``incident.reported_by``, ``idempotency_key``, ``idempotency_digest``: a report's
  ``Idempotency-Key`` header, unique per reporting principal, and the SHA-256 of its
  body, so that an offline phone's replay answers the first case instead of a second.
- ``incident_transition.rating``: an evaluation's rating (综合评价: satisfied,
  basically_satisfied, unsatisfied). An urge (督办) is a transition like any other step.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OPEN = "status IN ('reported', 'accepted', 'dispatched', 'handled', 'feedback')"


def upgrade() -> None:
    op.add_column("incident", sa.Column("supervise_due_at", sa.DateTime(timezone=True)))
    op.add_column("incident", sa.Column("reported_by", sa.String(40)))
    op.add_column("incident", sa.Column("idempotency_key", sa.String(64)))
    op.add_column("incident", sa.Column("idempotency_digest", sa.String(64)))
    op.create_index(
        "ix_incident_open_supervise_due_at",
        "incident",
        ["supervise_due_at"],
        postgresql_where=sa.text(OPEN),
    )
    op.create_index(
        "ux_incident_idempotency",
        "incident",
        ["reported_by", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.add_column("incident_transition", sa.Column("rating", sa.String(24)))
    op.create_check_constraint(
        "ck_incident_transition_rating",
        "incident_transition",
        "rating IS NULL OR rating IN ('satisfied', 'basically_satisfied', 'unsatisfied')",
    )
    # Who reported each case: the first step's actor_ref (0007), where it has one.
    op.execute(
        """UPDATE incident i SET reported_by = t.actor_ref
           FROM incident_transition t
           WHERE t.incident_id = i.id AND t.action = 'reported' AND t.actor_ref IS NOT NULL"""
    )
    from gis.incidents.escalation import fill_supervise_due

    fill_supervise_due(Session(bind=op.get_bind()))


def downgrade() -> None:
    op.drop_constraint("ck_incident_transition_rating", "incident_transition", type_="check")
    op.drop_column("incident_transition", "rating")
    op.drop_index("ux_incident_idempotency", "incident")
    op.drop_index("ix_incident_open_supervise_due_at", "incident")
    op.drop_column("incident", "idempotency_digest")
    op.drop_column("incident", "idempotency_key")
    op.drop_column("incident", "reported_by")
    op.drop_column("incident", "supervise_due_at")
