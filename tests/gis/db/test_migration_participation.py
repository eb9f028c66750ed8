"""Migration 0016: the participation tables come and go cleanly on a database at 0013,
and the app's own role may write them (the default privileges of migration 0007)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from gis.db import schema
from gis.db.engine import drop_database, make_engine, recreate_database

NAME = "gridmap_migration_participation"
TABLES = text("SELECT count(*) FROM pg_tables WHERE tablename IN ('council', 'participation_item')")


def test_up_down_and_up_again(server_url: str) -> None:
    engine = make_engine(recreate_database(server_url, NAME))
    try:
        schema.upgrade(engine, "0013")
        with engine.connect() as conn:
            assert conn.execute(TABLES).scalar_one() == 0
        schema.upgrade(engine, "0016")
        with engine.connect() as conn:
            assert conn.execute(TABLES).scalar_one() == 2
            rights = conn.execute(
                text(
                    "SELECT has_table_privilege('gridmap_app', 'participation_item', 'INSERT')"
                    " AND has_table_privilege('gridmap_app', 'council', 'UPDATE')"
                )
            ).scalar_one()
            assert rights
        cfg = schema.alembic_config(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0013")
        with engine.connect() as conn:
            assert conn.execute(TABLES).scalar_one() == 0
            left = conn.execute(
                text("SELECT count(*) FROM pg_proc WHERE proname = 'gridmap_participation_areas'")
            ).scalar_one()
            assert left == 0
        schema.upgrade(engine, "0016")
        with engine.connect() as conn:
            assert conn.execute(TABLES).scalar_one() == 2
    finally:
        engine.dispose()
        drop_database(server_url, NAME)
