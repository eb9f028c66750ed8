"""Evidence photos of a case, stored in the database

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-06 00:30:00.000000

City-management practice asks for photos at intake, handling and
verification (before and after). They are stored here, in ``incident_photo``,
not in a media directory: a photo commits in the same transaction as the
request that adds it (acknowledged means stored, and a failed request leaves
nothing behind), pg_dump backs it up with its case, and it is read through the
same visibility rule as its case (``gis.incidents.photos``). What is stored is
the platform's own re-encoding (JPEG, at most 2048 px, every metadata block
removed) and a thumbnail (at most 320 px); the EXIF position (WGS84, as EXIF
declares) and time the camera recorded are kept in columns, shown only to
those who see the case in full. JPEG does not compress further, so the image
columns are stored EXTERNAL (out of line, never compressed).

``client_key`` makes an upload idempotent: the phone's offline queue sends the
same key again after a lost answer and gets the stored photo back.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_photo",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "incident_id",
            sa.BigInteger(),
            sa.ForeignKey("incident.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("stage", sa.String(12), nullable=False),
        sa.Column("client_key", sa.String(64), nullable=True),
        sa.Column("image", postgresql.BYTEA(), nullable=False),
        sa.Column("thumb", postgresql.BYTEA(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("original_type", sa.String(10), nullable=False),
        sa.Column("original_bytes", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "geom",
            Geometry("POINT", srid=4326, spatial_index=False),
            nullable=True,
        ),
        sa.Column(
            "uploaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("uploaded_by", sa.Text(), nullable=False),
        sa.Column("uploaded_by_role", sa.String(20), nullable=True),
        sa.Column("uploaded_by_ref", sa.String(40), nullable=True),
        sa.CheckConstraint(
            "stage IN ('intake', 'handling', 'verification')", name="ck_incident_photo_stage"
        ),
        sa.CheckConstraint(
            "width > 0 AND height > 0 AND original_bytes > 0", name="ck_incident_photo_sizes"
        ),
        sa.CheckConstraint(
            "client_key IS NULL OR length(client_key) BETWEEN 1 AND 64",
            name="ck_incident_photo_client_key",
        ),
    )
    op.create_index("ix_incident_photo_incident_id", "incident_photo", ["incident_id", "id"])
    op.create_index(
        "ux_incident_photo_client_key",
        "incident_photo",
        ["incident_id", "client_key"],
        unique=True,
        postgresql_where=sa.text("client_key IS NOT NULL"),
    )
    op.create_index("ix_incident_photo_geom", "incident_photo", ["geom"], postgresql_using="gist")
    op.execute("ALTER TABLE incident_photo ALTER COLUMN image SET STORAGE EXTERNAL")
    op.execute("ALTER TABLE incident_photo ALTER COLUMN thumb SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("incident_photo")
