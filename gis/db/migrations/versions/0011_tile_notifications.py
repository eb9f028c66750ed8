"""tile and login notifications: what vector tiles and cached logins depend on says when it changes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 03:00:00.000000

Vector tiles (``gis.tiles``) are cached in the server's memory and dropped
when the data they were drawn from changes, told by the same channel the
coverage caches follow (``gridmap_changes``, migration 0002). Migration 0002
notifies only what coverage reads; tiles show more:

- ``incident`` (not notified before): inserts, deletes, and updates of what a
  tile shows or what decides who sees a case (``geom``, ``category``,
  ``status``, ``grid_id``, ``handling_level``, ``deadline_at``,
  ``reported_at``); per row, one bulk notification above ``BULK_ROWS``.
- ``facility``: its ``name`` too (0002 only ``geom`` and ``type_code``).
- ``building``: ``footprint``, ``floors`` and ``name`` too (0002 only
  ``households``, ``location`` and ``grid_id``).

Tile routes answer a warm tile without the database, so who is calling is
remembered per credential for a short while (``gis.accounts.remembered``) and
forgotten the moment a login, key or account changes: ``auth_session``
(ended or cut short), ``api_key`` (revoked, rescoped, re-areaed, expiring),
``account`` (role, area, staff record, disabled) and ``staff_grid`` (a grid
manager's grids) notify once per statement with a null id. A new login needs
no notification: nothing about it is remembered yet.

Payloads are the shape of 0002's, ``{"op", "table", "id", "ts"}``; the
coverage listener ignores tables it does not know and reads a facility or
building id back, finding nothing it uses changed.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BULK_ROWS = 200
"""Rows per statement above which one bulk notification replaces per-row ones (as 0002)."""

_CHANGED = {
    "incident": (
        "geom",
        "category",
        "status",
        "grid_id",
        "handling_level",
        "deadline_at",
        "reported_at",
    ),
    "facility": ("name",),
    "building": ("footprint", "floors", "name"),
}
"""Per table, the columns whose change this migration's row triggers report."""


def _rows_function(table: str, columns: tuple[str, ...]) -> str:
    changed = " OR ".join(f"n.{c} IS DISTINCT FROM o.{c}" for c in columns if c != "geom")
    if "geom" in columns:
        changed = f"NOT ST_Equals(n.geom, o.geom) OR {changed}"
    if "footprint" in columns:
        changed = changed.replace(
            "n.footprint IS DISTINCT FROM o.footprint",
            "(n.footprint IS NULL) <> (o.footprint IS NULL)"
            " OR NOT ST_Equals(n.footprint, o.footprint)",
        )
    with_inserts = table == "incident"
    return f"""CREATE FUNCTION gridmap_notify_tiles_{table}() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
      ids bigint[];
      op text := lower(TG_OP);
      ts double precision := extract(epoch FROM clock_timestamp());
    BEGIN
      IF TG_OP = 'INSERT' AND {str(with_inserts).lower()} THEN
        SELECT array_agg(id) INTO ids FROM changed_new;
      ELSIF TG_OP = 'DELETE' AND {str(with_inserts).lower()} THEN
        SELECT array_agg(id) INTO ids FROM changed_old;
      ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(n.id) INTO ids FROM changed_new n JOIN changed_old o USING (id)
        WHERE {changed};
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
    END $$"""


UPGRADE_SQL: list[str] = []
for _table, _columns in _CHANGED.items():
    UPGRADE_SQL.append(_rows_function(_table, _columns))
    UPGRADE_SQL.append(
        f"""CREATE TRIGGER {_table}_notify_tiles_upd AFTER UPDATE ON {_table}
        REFERENCING NEW TABLE AS changed_new OLD TABLE AS changed_old
        FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_tiles_{_table}()"""
    )
# Incidents notify nothing before this migration: inserts, deletes and truncation too.
UPGRADE_SQL += [
    """CREATE TRIGGER incident_notify_ins AFTER INSERT ON incident
    REFERENCING NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_tiles_incident()""",
    """CREATE TRIGGER incident_notify_del AFTER DELETE ON incident
    REFERENCING OLD TABLE AS changed_old
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_tiles_incident()""",
    """CREATE TRIGGER incident_notify_truncate AFTER TRUNCATE ON incident
    FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_tiles_incident()""",
]
_LOGIN_EVENTS = {
    "auth_session": "DELETE OR TRUNCATE OR UPDATE OF revoked_at, expires_at, account_id, kind",
    "api_key": "DELETE OR TRUNCATE OR UPDATE OF key_digest, scopes, area_code, expires_at,"
    " revoked_at",
    "account": "DELETE OR TRUNCATE OR UPDATE OF role, area_code, staff_id, disabled_at,"
    " display_name, username",
    "staff_grid": "INSERT OR DELETE OR TRUNCATE OR UPDATE",
}
for _table, _events in _LOGIN_EVENTS.items():
    UPGRADE_SQL.append(
        f"""CREATE TRIGGER {_table}_notify AFTER {_events} ON {_table}
        FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_table()"""
    )

DOWNGRADE_SQL = [
    *(f"DROP TRIGGER IF EXISTS {t}_notify ON {t}" for t in _LOGIN_EVENTS),
    *(f"DROP FUNCTION IF EXISTS gridmap_notify_tiles_{t}() CASCADE" for t in _CHANGED),
]


def upgrade() -> None:
    for statement in UPGRADE_SQL:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE_SQL:
        op.execute(statement)
