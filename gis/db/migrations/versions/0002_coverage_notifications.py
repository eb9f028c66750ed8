"""coverage change notifications

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00.000000

Coverage caches (``gis.coverage.live``) stay current by listening on the
channel ``gridmap_changes``. Whoever writes (the API, ``gridmap import``, a
DBA in psql, another system), the database says what changed once the
transaction commits:

    {"op": "insert"|"update"|"delete"|"truncate", "table": "facility", "id": 17, "ts": 1.7e9}

``id`` is null when a statement touched more than ``BULK_ROWS`` rows (or
truncated the table): the listener then reloads what depends on that table
instead of reading the rows one by one. ``ts`` is the trigger's clock (epoch
seconds) so the listener can report its lag. Payloads stay far below
PostgreSQL's 8000-byte limit. Triggers are per statement with transition
tables, so a bulk load of 40,000 buildings costs one notification, not 40,000.

Facilities notify on insert, delete and updates of ``geom`` or ``type_code``;
buildings on insert, delete and updates of ``households``, ``location`` or
``grid_id`` (updates of other columns, e.g. the address, say nothing). Grids,
areas and the facility-type catalogue notify once per statement with a null
id: they change rarely and a cache simply reloads them.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BULK_ROWS = 200
"""Rows per statement above which one bulk notification replaces per-row ones."""

UPGRADE_SQL = [
    f"""CREATE FUNCTION gridmap_notify_rows() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      ids bigint[];
      op text := lower(TG_OP);
      ts double precision := extract(epoch FROM clock_timestamp());
    BEGIN
      IF TG_OP = 'INSERT' THEN
        SELECT array_agg(id) INTO ids FROM changed_new;
      ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(id) INTO ids FROM changed_old;
      ELSIF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'facility' THEN
        SELECT array_agg(n.id) INTO ids FROM changed_new n JOIN changed_old o USING (id)
        WHERE n.type_code IS DISTINCT FROM o.type_code OR NOT ST_Equals(n.geom, o.geom);
      ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(n.id) INTO ids FROM changed_new n JOIN changed_old o USING (id)
        WHERE n.households IS DISTINCT FROM o.households
           OR n.grid_id IS DISTINCT FROM o.grid_id
           OR NOT ST_Equals(n.location, o.location);
      END IF;
      IF TG_OP = 'TRUNCATE' OR cardinality(ids) > {BULK_ROWS} THEN
        PERFORM pg_notify('gridmap_changes', json_build_object(
          'op', op, 'table', TG_TABLE_NAME, 'id', NULL, 'ts', ts)::text);
      ELSIF cardinality(ids) > 0 THEN
        PERFORM pg_notify('gridmap_changes', json_build_object(
          'op', op, 'table', TG_TABLE_NAME, 'id', i, 'ts', ts)::text)
        FROM unnest(ids) AS i;
      END IF;
      RETURN NULL;
    END $$""",
    """CREATE FUNCTION gridmap_notify_table() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('gridmap_changes', json_build_object(
        'op', lower(TG_OP), 'table', TG_TABLE_NAME, 'id', NULL,
        'ts', extract(epoch FROM clock_timestamp()))::text);
      RETURN NULL;
    END $$""",
]

_ROW_TRIGGERS = {
    "ins": ("INSERT", "REFERENCING NEW TABLE AS changed_new"),
    "upd": ("UPDATE", "REFERENCING NEW TABLE AS changed_new OLD TABLE AS changed_old"),
    "del": ("DELETE", "REFERENCING OLD TABLE AS changed_old"),
}
for _table in ("facility", "building"):
    for _suffix, (_event, _referencing) in _ROW_TRIGGERS.items():
        UPGRADE_SQL.append(
            f"""CREATE TRIGGER {_table}_notify_{_suffix} AFTER {_event} ON {_table}
            {_referencing} FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_rows()"""
        )
    UPGRADE_SQL.append(
        f"""CREATE TRIGGER {_table}_notify_truncate AFTER TRUNCATE ON {_table}
        FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_rows()"""
    )
_TABLE_EVENTS = {
    # ``households`` of grids and areas is left out: a trigger keeps it in step
    # with the buildings, which notify themselves.
    "grid": "INSERT OR DELETE OR TRUNCATE OR UPDATE OF code, name, community_id, geom,"
    " valid_from, valid_to",
    "admin_area": "INSERT OR DELETE OR TRUNCATE OR UPDATE OF code, name, level, parent_id,"
    " geom, valid_from, valid_to",
    "facility_type": "INSERT OR DELETE OR TRUNCATE OR UPDATE",
}
for _table, _events in _TABLE_EVENTS.items():
    UPGRADE_SQL.append(
        f"""CREATE TRIGGER {_table}_notify AFTER {_events} ON {_table}
        FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_table()"""
    )

DOWNGRADE_SQL = [
    "DROP FUNCTION IF EXISTS gridmap_notify_rows() CASCADE",
    "DROP FUNCTION IF EXISTS gridmap_notify_table() CASCADE",
]


def upgrade() -> None:
    for statement in UPGRADE_SQL:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE_SQL:
        op.execute(statement)
