"""incident areas derived without per-row cost for bulk writes; leaner incident indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 19:40:00.000000

A year of hotline history arrives as one bulk ingest (``gis.incidents.ingest``)
that already knows each row's grid, community and subdistrict. In 0003 every
inserted incident paid a row-level plpgsql trigger deriving the two areas, two
foreign-key checks on them and five btree insertions, most of a 100,000-row
ingest's time (benchmarks/README.md). The two columns are copies of
grid → community → subdistrict, so:

* the BEFORE INSERT trigger fires only for rows that arrive with a grid but
  without their community (live intake, old import files, psql);
* rows that do name their community and subdistrict are checked once per
  statement against their grid (an AFTER trigger over the statement's new
  rows): a wrong pair is refused with the incident's id;
* an UPDATE that changes the grid *or either copy* re-derives both from the
  grid, so the copies can never drift;
* with that, their foreign keys add nothing (the grid's own keys guarantee the
  areas exist) and go, with their indexes (no query selects incidents by
  community or subdistrict id; statistics group by grid);
* ``category`` is never selective on its own (every filter on it goes with a
  period or a grid), so its index goes; ``status`` is only ever searched for
  open cases, so its index holds only those; ``duplicate_of`` is NULL but for
  merged duplicates, so its index holds only those.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OPEN_STATES = ("reported", "accepted", "dispatched", "handled", "feedback")
"""gis.incidents.workflow states that are not terminal, frozen as this revision knew them."""
_OPEN_IN = ", ".join(f"'{s}'" for s in OPEN_STATES)

DERIVE_ALWAYS = """
CREATE OR REPLACE FUNCTION incident_derive_areas() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.grid_id IS NULL THEN
    RETURN NEW;
  END IF;
  SELECT g.community_id, CASE WHEN p.level = 'subdistrict' THEN p.id END
    INTO NEW.community_id, NEW.subdistrict_id
    FROM grid g
    JOIN admin_area c ON c.id = g.community_id
    LEFT JOIN admin_area p ON p.id = c.parent_id
   WHERE g.id = NEW.grid_id;
  RETURN NEW;
END $$
"""
"""Called only when the WHEN clauses below say the copies are missing or touched."""

DERIVE_0003 = """
CREATE OR REPLACE FUNCTION incident_derive_areas() RETURNS trigger LANGUAGE plpgsql AS $$
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

CHECK_FUNCTION = """
CREATE FUNCTION incident_check_areas() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad record;
BEGIN
  SELECT n.id, n.grid_id INTO bad
    FROM incident_inserted n
    JOIN grid g ON g.id = n.grid_id
    JOIN admin_area c ON c.id = g.community_id
    LEFT JOIN admin_area p ON p.id = c.parent_id
   WHERE n.community_id IS DISTINCT FROM g.community_id
      OR n.subdistrict_id IS DISTINCT FROM CASE WHEN p.level = 'subdistrict' THEN p.id END
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'incident % names a community or subdistrict other than those of its grid %',
      bad.id, bad.grid_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_incident_areas_follow_grid',
            HINT = 'leave community_id and subdistrict_id empty: they follow grid_id';
  END IF;
  RETURN NULL;
END $$
"""

_AREA_KEYS = (
    ("fk_incident_community_id_admin_area", "community_id"),
    ("fk_incident_subdistrict_id_admin_area", "subdistrict_id"),
)


def upgrade() -> None:
    op.execute("DROP TRIGGER incident_derive_areas ON incident")
    op.execute(DERIVE_ALWAYS)
    op.execute(
        """CREATE TRIGGER incident_derive_areas_insert BEFORE INSERT ON incident
        FOR EACH ROW WHEN (NEW.grid_id IS NOT NULL AND NEW.community_id IS NULL)
        EXECUTE FUNCTION incident_derive_areas()"""
    )
    op.execute(
        """CREATE TRIGGER incident_derive_areas_update
        BEFORE UPDATE OF grid_id, community_id, subdistrict_id ON incident
        FOR EACH ROW WHEN (NEW.grid_id IS DISTINCT FROM OLD.grid_id
          OR NEW.community_id IS DISTINCT FROM OLD.community_id
          OR NEW.subdistrict_id IS DISTINCT FROM OLD.subdistrict_id)
        EXECUTE FUNCTION incident_derive_areas()"""
    )
    op.execute(CHECK_FUNCTION)
    op.execute(
        """CREATE TRIGGER incident_check_areas AFTER INSERT ON incident
        REFERENCING NEW TABLE AS incident_inserted
        FOR EACH STATEMENT EXECUTE FUNCTION incident_check_areas()"""
    )
    for name, column in _AREA_KEYS:
        op.drop_constraint(name, "incident", type_="foreignkey")
        op.drop_index(f"ix_incident_{column}", table_name="incident")
    op.drop_index("ix_incident_category", table_name="incident")
    op.drop_index("ix_incident_status", table_name="incident")
    op.create_index(
        "ix_incident_open_status",
        "incident",
        ["status"],
        postgresql_where=sa.text(f"status IN ({_OPEN_IN})"),
    )
    op.drop_index("ix_incident_duplicate_of", table_name="incident")
    op.create_index(
        "ix_incident_duplicate_of",
        "incident",
        ["duplicate_of"],
        postgresql_where=sa.text("duplicate_of IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_incident_duplicate_of", table_name="incident")
    op.create_index("ix_incident_duplicate_of", "incident", ["duplicate_of"])
    op.drop_index("ix_incident_open_status", table_name="incident")
    op.create_index("ix_incident_status", "incident", ["status"])
    op.create_index("ix_incident_category", "incident", ["category"])
    for name, column in _AREA_KEYS:
        op.create_index(f"ix_incident_{column}", "incident", [column])
        op.create_foreign_key(name, "incident", "admin_area", [column], ["id"], ondelete="RESTRICT")
    op.execute("DROP TRIGGER incident_check_areas ON incident")
    op.execute("DROP FUNCTION incident_check_areas()")
    op.execute("DROP TRIGGER incident_derive_areas_update ON incident")
    op.execute("DROP TRIGGER incident_derive_areas_insert ON incident")
    op.execute(DERIVE_0003)
    op.execute(
        """CREATE TRIGGER incident_derive_areas BEFORE INSERT OR UPDATE OF grid_id ON incident
        FOR EACH ROW EXECUTE FUNCTION incident_derive_areas()"""
    )
