"""incident workflow: routing, handler, deadlines, versions and transition history

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 18:30:00.000000

Issue 4 stores the seven-step closed loop of ``gis.incidents.workflow`` on ``incident``:
who handles a case and at which level (四级联动 grid → community → subdistrict
→ district), when its clock started and when it is due (working time, see
``gis.incidents.workcalendar``), when it closed, how often it was sent back, which case
it duplicates, and a ``version`` for optimistic locking (two dispatchers
working on one case cannot both win). Every step is a row of
``incident_transition``.

``status`` is checked against the workflow's states. Databases holding the
0001/0002 demo carry the vocabulary ``reported``, ``dispatched``,
``processing``, ``closed`` and ``cancelled``; ``processing`` (the unit is at
work on it) is the workflow's ``dispatched`` (``handled`` means the work is
done), the others keep their names. The community and subdistrict of existing
rows are derived from their grid.

A trigger keeps ``community_id``/``subdistrict_id`` in step with ``grid_id``
on every insert or re-routing, whoever writes (``gridmap import``, the demo
loader, psql).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STATES = (
    "reported",
    "accepted",
    "cancelled",
    "dispatched",
    "handled",
    "feedback",
    "closed",
    "evaluated",
)
"""gis.incidents.workflow.State values, frozen here as this revision knew them."""
LEVELS = ("grid", "community", "subdistrict", "district")
"""gis.incidents.workflow.Level values, lowest first."""
LEGACY_STATUS = {"processing": "dispatched"}
"""Status names of the 0001/0002 demo that are not workflow states → the state they mean."""

_IN = ", ".join(f"'{s}'" for s in STATES)
_LEVELS_IN = ", ".join(f"'{s}'" for s in LEVELS)

DERIVE_FUNCTION = """
CREATE FUNCTION incident_derive_areas() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.grid_id IS NULL THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' OR NEW.grid_id IS DISTINCT FROM OLD.grid_id THEN
    SELECT g.community_id, CASE WHEN p.level = 'subdistrict' THEN p.id END
      INTO NEW.community_id, NEW.subdistrict_id
      FROM grid g
      JOIN admin_area c ON c.id = g.community_id
      LEFT JOIN admin_area p ON p.id = c.parent_id
     WHERE g.id = NEW.grid_id;
  END IF;
  RETURN NEW;
END $$
"""


def upgrade() -> None:
    op.add_column("incident", sa.Column("community_id", sa.Integer(), nullable=True))
    op.add_column("incident", sa.Column("subdistrict_id", sa.Integer(), nullable=True))
    op.add_column("incident", sa.Column("handler_staff_id", sa.Integer(), nullable=True))
    op.add_column(
        "incident",
        sa.Column("handling_level", sa.String(12), server_default="grid", nullable=False),
    )
    for name in ("deadline_at", "clock_started_at", "closed_at"):
        op.add_column("incident", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "incident", sa.Column("rework_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "incident", sa.Column("version", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column("incident", sa.Column("duplicate_of", sa.BigInteger(), nullable=True))
    op.add_column("incident", sa.Column("location_datum", sa.Text(), nullable=True))
    op.add_column("incident", sa.Column("address", sa.Text(), nullable=True))
    op.add_column("incident", sa.Column("snapped_m", sa.Float(), nullable=True))
    op.create_foreign_key(
        "fk_incident_community_id_admin_area",
        "incident",
        "admin_area",
        ["community_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_foreign_key(
        "fk_incident_subdistrict_id_admin_area",
        "incident",
        "admin_area",
        ["subdistrict_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_foreign_key(
        "fk_incident_handler_staff_id_staff",
        "incident",
        "staff",
        ["handler_staff_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_foreign_key(
        "fk_incident_duplicate_of_incident",
        "incident",
        "incident",
        ["duplicate_of"],
        ["id"],
        ondelete="RESTRICT",
    )
    for column in ("community_id", "subdistrict_id", "handler_staff_id", "duplicate_of"):
        op.create_index(f"ix_incident_{column}", "incident", [column])
    op.create_index("ix_incident_deadline_at", "incident", ["deadline_at"])

    # Existing rows: legacy status names, areas from the grid.
    for old, new in LEGACY_STATUS.items():
        op.execute(sa.text(f"UPDATE incident SET status = '{new}' WHERE status = '{old}'"))
    op.execute(
        """
        UPDATE incident i
           SET community_id = g.community_id,
               subdistrict_id = CASE WHEN p.level = 'subdistrict' THEN p.id END
          FROM grid g
          JOIN admin_area c ON c.id = g.community_id
          LEFT JOIN admin_area p ON p.id = c.parent_id
         WHERE g.id = i.grid_id
        """
    )
    op.create_check_constraint("ck_incident_status", "incident", f"status IN ({_IN})")
    op.create_check_constraint(
        "ck_incident_handling_level", "incident", f"handling_level IN ({_LEVELS_IN})"
    )
    op.create_check_constraint(
        "ck_incident_counters", "incident", "rework_count >= 0 AND version >= 1"
    )
    op.create_check_constraint(
        "ck_incident_not_own_duplicate", "incident", "duplicate_of IS NULL OR duplicate_of <> id"
    )
    op.create_check_constraint(
        "ck_incident_snapped", "incident", "snapped_m IS NULL OR snapped_m >= 0"
    )
    op.execute(DERIVE_FUNCTION)
    op.execute(
        """CREATE TRIGGER incident_derive_areas BEFORE INSERT OR UPDATE OF grid_id ON incident
        FOR EACH ROW EXECUTE FUNCTION incident_derive_areas()"""
    )

    op.create_table(
        "incident_transition",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("from_state", sa.String(20), nullable=True),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("from_level", sa.String(12), nullable=True),
        sa.Column("to_level", sa.String(12), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name="fk_incident_transition_incident_id_incident",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_transition"),
        sa.CheckConstraint(f"to_state IN ({_IN})", name="ck_incident_transition_to_state"),
        sa.CheckConstraint(
            f"from_state IS NULL OR from_state IN ({_IN})",
            name="ck_incident_transition_from_state",
        ),
        sa.CheckConstraint("length(btrim(actor)) > 0", name="ck_incident_transition_actor"),
    )
    op.create_index(
        "ix_incident_transition_incident_id_at", "incident_transition", ["incident_id", "at"]
    )


def downgrade() -> None:
    op.drop_table("incident_transition")
    op.execute("DROP TRIGGER IF EXISTS incident_derive_areas ON incident")
    op.execute("DROP FUNCTION IF EXISTS incident_derive_areas()")
    for name in ("status", "handling_level", "counters", "not_own_duplicate", "snapped"):
        op.drop_constraint(f"ck_incident_{name}", "incident", type_="check")
    for column in ("community_id", "subdistrict_id", "handler_staff_id", "duplicate_of"):
        op.drop_index(f"ix_incident_{column}", table_name="incident")
    op.drop_index("ix_incident_deadline_at", table_name="incident")
    for column in (
        "community_id",
        "subdistrict_id",
        "handler_staff_id",
        "handling_level",
        "deadline_at",
        "clock_started_at",
        "closed_at",
        "rework_count",
        "version",
        "duplicate_of",
        "location_datum",
        "address",
        "snapped_m",
    ):
        op.drop_column("incident", column)
