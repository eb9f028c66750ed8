"""mediation units with their heads; cases handed to a unit (交办) and settled on the spot

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 23:00:00.000000

Issue 14, seed 003 (Kaifu's 社会矛盾调处中心): a visitor's case is registered,
routed to the responsible unit and "交办至各责任单位一把手", handed to the
unit's head, a named person, who is then urged (跟踪督办); the centre reports
how many cases were settled on the spot (当场调处).

- ``mediation_unit``: a responsible unit (name in Chinese and English), the area
  it belongs to (``area_code``: a district, subdistrict, community or grid code;
  it takes cases of that area only), the categories it takes (``categories``,
  top-level or subclass codes; empty: every category), its head
  (``head_staff_id``, a staff row: their account, through ``account.staff_id``,
  is how the head logs in) and ``version`` (raised by ``gridmap_bump_version``,
  migration 0006, so a change based on a stale read is refused).
- ``mediation_unit_staff``: the unit's other staff, who handle its cases with
  the head.
- ``incident.unit_id``: the unit the case was handed to (``hand_over``);
  ``incident.on_the_spot``: settled at registration (``settle``), cleared when
  a verification sends the case back.
- ``incident_transition.unit_id`` and ``unit_head``: the unit and its head's
  name (as at the moment) of a ``hand_over`` step, so the history reads
  "交办至 <unit> <head>" even after the head changes.

``gridmap_app`` gets its rights from the default privileges of migration 0007.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mediation_unit",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("area_code", sa.String(15), nullable=False),
        sa.Column(
            "categories",
            postgresql.ARRAY(sa.String(40)),
            nullable=False,
            server_default="{}",
        ),
        sa.Column(
            "head_staff_id",
            sa.Integer(),
            sa.ForeignKey("staff.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.CheckConstraint("length(btrim(name_zh)) BETWEEN 1 AND 100", name="name_zh_length"),
        sa.CheckConstraint(
            "name_en IS NULL OR length(btrim(name_en)) BETWEEN 1 AND 200", name="name_en_length"
        ),
        sa.CheckConstraint("area_code ~ '^[0-9]{6}([0-9]{3}){0,3}$'", name="area_code_layout"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        sa.UniqueConstraint("name_zh", name="uq_mediation_unit_name_zh"),
    )
    op.create_index("ix_mediation_unit_head_staff_id", "mediation_unit", ["head_staff_id"])
    op.execute(
        """CREATE TRIGGER mediation_unit_version BEFORE UPDATE ON mediation_unit
        FOR EACH ROW EXECUTE FUNCTION gridmap_bump_version()"""
    )
    op.create_table(
        "mediation_unit_staff",
        sa.Column(
            "unit_id",
            sa.Integer(),
            sa.ForeignKey("mediation_unit.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "staff_id",
            sa.Integer(),
            sa.ForeignKey("staff.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index("ix_mediation_unit_staff_staff_id", "mediation_unit_staff", ["staff_id"])
    op.add_column(
        "incident",
        sa.Column(
            "unit_id",
            sa.Integer(),
            sa.ForeignKey("mediation_unit.id", ondelete="RESTRICT"),
            nullable=True,
        ),
    )
    op.add_column(
        "incident",
        sa.Column("on_the_spot", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index(
        "ix_incident_unit_id",
        "incident",
        ["unit_id"],
        postgresql_where=sa.text("unit_id IS NOT NULL"),
    )
    op.add_column(
        "incident_transition",
        sa.Column(
            "unit_id",
            sa.Integer(),
            sa.ForeignKey("mediation_unit.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.add_column("incident_transition", sa.Column("unit_head", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("incident_transition", "unit_head")
    op.drop_column("incident_transition", "unit_id")
    op.drop_index("ix_incident_unit_id", table_name="incident")
    op.drop_column("incident", "on_the_spot")
    op.drop_column("incident", "unit_id")
    op.drop_table("mediation_unit_staff")
    op.drop_table("mediation_unit")
