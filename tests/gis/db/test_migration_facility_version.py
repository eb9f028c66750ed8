"""Migration 0006: facilities get a version, 1 for those that exist, raised on every change."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from gis.db import schema
from gis.db.engine import drop_database, make_engine, recreate_database

NAME = "gridmap_migration_facility_version"


def test_existing_facilities_start_at_one_and_every_update_raises_it(server_url: str) -> None:
    engine = make_engine(recreate_database(server_url, NAME))
    try:
        schema.upgrade(engine, "0005")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO facility_type (code, name_zh, name_en, radius_m, life_circle,"
                    " norm_source) VALUES ('kindergarten', '幼儿园', 'kindergarten', 300,"
                    " '5min', 'GB 50180-2018')"
                )
            )
            facility = conn.execute(
                text(
                    "INSERT INTO facility (type_code, name, geom) VALUES ('kindergarten', '园',"
                    " ST_SetSRID(ST_MakePoint(119.1, 36.7), 4326)) RETURNING id"
                )
            ).scalar_one()
        schema.upgrade(engine)
        with engine.begin() as conn:
            version = text("SELECT version FROM facility WHERE id = :i")
            assert conn.execute(version, {"i": facility}).scalar_one() == 1
            for expected in (2, 3):
                conn.execute(text("UPDATE facility SET name = 'x' WHERE id = :i"), {"i": facility})
                assert conn.execute(version, {"i": facility}).scalar_one() == expected
            # An UPDATE cannot set it back: the trigger decides.
            conn.execute(text("UPDATE facility SET version = 1 WHERE id = :i"), {"i": facility})
            assert conn.execute(version, {"i": facility}).scalar_one() == 4
        cfg = schema.alembic_config(engine)
        with engine.begin() as conn:  # and it goes away cleanly
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005")
        with engine.connect() as conn:
            columns = text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'facility'"
            )
            assert "version" not in set(conn.execute(columns).scalars())
    finally:
        engine.dispose()
        drop_database(server_url, NAME)
