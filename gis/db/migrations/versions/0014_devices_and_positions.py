"""care_worker, device, position_report, geofence_alarm, emergency_call: where people are

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 23:00:00.000000

Issue 14 (seed 003, Kaifu's "一点通"): the people served carry a device that
reports where they are; home-care workers (``care_worker``, of a home-care
service centre, not grid staff) carry one too, and say whether they are free.

- ``device``: one per person or per worker (exactly one of ``person_id``,
  ``worker_id``), with its **last known position** (``last_at``, ``last_geom``,
  ``last_accuracy_m``) and the **geofence state** of a person's device:
  ``fence_state`` inside/outside and ``fence_streak``, how many reports in a
  row contradicted that state (the hysteresis of ``gis.care.fences``).
  Deleting the person or the worker deletes the device and its history.
- ``position_report``: the history, one row per (device, time): a device that
  sends a batch again (its acknowledgement was lost) adds nothing. It goes with its
  device by a trigger (``device_history_delete``), not a foreign key: the ingest
  holds its devices' rows locked while it writes, so no report can outlive its
  device, and a key check per report cost a batch of 1,000 a fifth of its time. Kept
  ``GRIDMAP_POSITION_RETENTION_DAYS`` (30) and then deleted (``gis.care.retention``);
  a BRIN index on ``at`` makes that delete cheap (reports arrive in time order).
  Its ``geom`` has no spatial index: the history is read by device and time (a
  track), and a GiST index would cost every ingest batch its upkeep.
- ``geofence_alarm``: a person left their safe area: when, where, how far out,
  and the help-request case filed for it; deleted with the person.
- ``emergency_call``: the button was pressed: where, the case, the worker sent
  (how far, by walk or straight line), dispatched and arrived times.

No change notifications: nothing caches these rows. ``gridmap_app`` gets its
rights from the default privileges of migration 0007.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

DEVICE_ID_PATTERN = "^[A-Za-z0-9._:-]{1,64}$"


def _point() -> Geometry:
    return Geometry("POINT", srid=4326, spatial_index=False)


def upgrade() -> None:
    op.create_table(
        "care_worker",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column(
            "community_id",
            sa.Integer(),
            sa.ForeignKey("admin_area.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("available", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.CheckConstraint("length(btrim(name)) BETWEEN 1 AND 100", name="name_length"),
        sa.CheckConstraint("phone IS NULL OR length(phone) BETWEEN 1 AND 20", name="phone_length"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
    )
    op.create_index("ix_care_worker_community_id", "care_worker", ["community_id"])
    op.execute(
        """CREATE TRIGGER care_worker_version BEFORE UPDATE ON care_worker
        FOR EACH ROW EXECUTE FUNCTION gridmap_bump_version()"""
    )

    op.create_table(
        "device",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column(
            "person_id",
            sa.BigInteger(),
            sa.ForeignKey("person.id", ondelete="CASCADE"),
            nullable=True,
            unique=True,
        ),
        sa.Column(
            "worker_id",
            sa.Integer(),
            sa.ForeignKey("care_worker.id", ondelete="CASCADE"),
            nullable=True,
            unique=True,
        ),
        sa.Column(
            "registered_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_geom", _point(), nullable=True),
        sa.Column("last_accuracy_m", sa.Float(), nullable=True),
        sa.Column("fence_state", sa.Text(), nullable=False, server_default="inside"),
        sa.Column("fence_streak", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.CheckConstraint(f"id ~ '{DEVICE_ID_PATTERN}'", name="id_format"),
        sa.CheckConstraint("num_nonnulls(person_id, worker_id) = 1", name="one_holder"),
        sa.CheckConstraint("fence_state IN ('inside', 'outside')", name="fence_state_known"),
        sa.CheckConstraint("fence_streak >= 0", name="fence_streak_positive"),
        sa.CheckConstraint("(last_at IS NULL) = (last_geom IS NULL)", name="last_complete"),
    )
    # Every report rewrites its device's row: room on each page for the new version, and
    # no index on the columns it changes, so the update stays on the page (HOT).
    op.execute("ALTER TABLE device SET (fillfactor = 50)")

    op.create_table(
        "position_report",
        sa.Column("device_id", sa.Text(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("geom", _point(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("datum", sa.Text(), nullable=False, server_default="wgs84"),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.CheckConstraint("datum IN ('wgs84', 'cgcs2000', 'gcj02', 'bd09')", name="datum_known"),
        sa.CheckConstraint(
            "accuracy_m IS NULL OR accuracy_m BETWEEN 0 AND 100000", name="accuracy_range"
        ),
    )
    op.execute("CREATE INDEX ix_position_report_at ON position_report USING brin (at)")
    op.execute(
        """CREATE FUNCTION gridmap_device_history_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          DELETE FROM position_report p USING gone g WHERE p.device_id = g.id;
          RETURN NULL;
        END $$"""
    )
    op.execute(
        """CREATE TRIGGER device_history_delete AFTER DELETE ON device
        REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
        EXECUTE FUNCTION gridmap_device_history_delete()"""
    )

    op.create_table(
        "geofence_alarm",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "person_id",
            sa.BigInteger(),
            sa.ForeignKey("person.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("geom", _point(), nullable=False),
        sa.Column("outside_m", sa.Float(), nullable=False),
        sa.Column(
            "incident_id",
            sa.BigInteger(),
            sa.ForeignKey("incident.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("outside_m >= 0", name="outside_positive"),
    )
    op.create_index("ix_geofence_alarm_person_id", "geofence_alarm", ["person_id", "at"])
    op.execute("CREATE INDEX ix_geofence_alarm_geom ON geofence_alarm USING gist (geom)")

    op.create_table(
        "emergency_call",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "person_id",
            sa.BigInteger(),
            sa.ForeignKey("person.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("geom", _point(), nullable=False),
        sa.Column(
            "incident_id",
            sa.BigInteger(),
            sa.ForeignKey("incident.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "worker_id",
            sa.Integer(),
            sa.ForeignKey("care_worker.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("method", sa.Text(), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("method IS NULL OR method IN ('walk', 'line')", name="method_known"),
        sa.CheckConstraint(
            "worker_id IS NULL OR dispatched_at IS NOT NULL", name="dispatch_complete"
        ),
        sa.CheckConstraint(
            "arrived_at IS NULL OR arrived_at >= dispatched_at", name="arrival_after_dispatch"
        ),
    )
    op.create_index("ix_emergency_call_person_id", "emergency_call", ["person_id", "at"])
    op.create_index("ix_emergency_call_worker_id", "emergency_call", ["worker_id"])
    op.execute("CREATE INDEX ix_emergency_call_geom ON emergency_call USING gist (geom)")


def downgrade() -> None:
    for table in ("emergency_call", "geofence_alarm", "position_report", "device", "care_worker"):
        op.drop_table(table)
    op.execute("DROP FUNCTION gridmap_device_history_delete()")
