"""facility.version: optimistic locking for facility writes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 10:00:00.000000

Two planners editing the same facility each read it, change it and write it
back; without a version the second write silently undoes the first. Every
facility now carries a ``version`` that rises by one with every change, and a
write names the version it was based on (HTTP ``If-Match`` or
``expected_version``, see ``api/routes/facilities.py``); a stale one is refused.

The database raises the version itself, in a row trigger, so that every
writer (the API, a DBA in psql, another system) moves it and an ETag never
stays the same across a change. A writer cannot set it: the trigger overrides
whatever an UPDATE says. Existing facilities start at version 1.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "facility", sa.Column("version", sa.Integer(), server_default="1", nullable=False)
    )
    op.create_check_constraint("ck_facility_version_positive", "facility", "version >= 1")
    op.execute(
        """CREATE FUNCTION gridmap_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          NEW.version := OLD.version + 1;
          RETURN NEW;
        END $$"""
    )
    op.execute(
        """CREATE TRIGGER facility_version BEFORE UPDATE ON facility
        FOR EACH ROW EXECUTE FUNCTION gridmap_bump_version()"""
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS facility_version ON facility")
    op.execute("DROP FUNCTION IF EXISTS gridmap_bump_version()")
    op.drop_constraint("ck_facility_version_positive", "facility", type_="check")
    op.drop_column("facility", "version")
