"""person: the registry of people served (elderly, disabled) and their consent

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 21:00:00.000000

Issue 14 (seed 003, Kaifu's "一点通"): a district locates the elderly and
disabled people it serves, so that a home-care worker can reach them. Each
``person`` lives in a building (``building_id``), which gives their grid
(``grid_id``: written by ``gis.people.registry`` from the building, never
taken from input), has a responsible worker (``responsible_staff_id``, a staff
row; set to null if that row goes) and a consent record: who agreed
(``consent_given_by``: the person or a named guardian), when (``consent_at``)
and to what (``consent_scope``). Without consent there is no row: the three
are NOT NULL and non-blank.

``safe_radius_m`` (300 m by default) and ``safe_area`` (a polygon, WGS84 as
every geometry) are for the geofence slice that follows; ``version`` rises with
every change (``gridmap_bump_version``, migration 0006), so a write based on a
stale read is refused. The category codes are listed in ``gis.db.models``
(``PERSON_CATEGORIES``) with their names in ``gis.people.categories``.

A change notifies ``gridmap_changes`` once per statement with a null id
(``gridmap_notify_table``, migration 0002): nothing personal leaves the table.
``gridmap_app`` gets its rights from the default privileges of migration 0007.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CATEGORIES = ("elderly_alone", "elderly", "disabled", "other")


def _length(column: str, most: int, nullable: bool = False) -> str:
    check = f"length({column}) BETWEEN 1 AND {most}"
    return f"{column} IS NULL OR {check}" if nullable else check


def upgrade() -> None:
    op.create_table(
        "person",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column(
            "building_id",
            sa.BigInteger(),
            sa.ForeignKey("building.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("household", sa.Text(), nullable=True),
        sa.Column(
            "grid_id",
            sa.Integer(),
            sa.ForeignKey("grid.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "responsible_staff_id",
            sa.Integer(),
            sa.ForeignKey("staff.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("consent_given_by", sa.Text(), nullable=False),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_scope", sa.Text(), nullable=False),
        sa.Column("safe_radius_m", sa.Integer(), nullable=False, server_default="300"),
        sa.Column("safe_area", Geometry("POLYGON", srid=4326, spatial_index=False), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.CheckConstraint(
            "category IN (" + ", ".join(f"'{c}'" for c in CATEGORIES) + ")",
            name="category_known",
        ),
        sa.CheckConstraint(_length("name", 100), name="name_length"),
        sa.CheckConstraint(_length("phone", 20, nullable=True), name="phone_length"),
        sa.CheckConstraint(_length("household", 100, nullable=True), name="household_length"),
        sa.CheckConstraint(
            "length(btrim(consent_given_by)) BETWEEN 1 AND 200",
            name="consent_given_by_length",
        ),
        sa.CheckConstraint(
            "length(btrim(consent_scope)) BETWEEN 1 AND 500", name="consent_scope_length"
        ),
        sa.CheckConstraint("safe_radius_m BETWEEN 10 AND 10000", name="safe_radius_range"),
        sa.CheckConstraint(
            "safe_area IS NULL OR (ST_IsValid(safe_area) AND NOT ST_IsEmpty(safe_area))",
            name="safe_area_valid",
        ),
        sa.CheckConstraint("version >= 1", name="version_positive"),
    )
    op.create_index("ix_person_grid_id", "person", ["grid_id"])
    op.create_index("ix_person_building_id", "person", ["building_id"])
    op.create_index("ix_person_responsible_staff_id", "person", ["responsible_staff_id"])
    op.execute("CREATE INDEX ix_person_safe_area ON person USING gist (safe_area)")
    op.execute(
        """CREATE TRIGGER person_version BEFORE UPDATE ON person
        FOR EACH ROW EXECUTE FUNCTION gridmap_bump_version()"""
    )
    op.execute(
        """CREATE TRIGGER person_notify AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE
        ON person FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_table()"""
    )


def downgrade() -> None:
    op.drop_table("person")
