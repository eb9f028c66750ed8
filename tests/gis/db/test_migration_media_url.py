"""Migration 0005: photo links kept in intake notes move to incident.media_url."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from gis.db import schema
from gis.db.engine import drop_database, make_engine, recreate_database

NAME = "gridmap_migration_media_url"


def test_links_in_intake_notes_move_to_the_column(server_url: str) -> None:
    engine = make_engine(recreate_database(server_url, NAME))
    try:
        schema.upgrade(engine, "0004")
        with engine.begin() as conn:
            ids = []
            for note in (
                "reported; media_url: https://img.example.cn/a.jpg",
                "reported",
                "reported; media_url: ftp://old.example.cn/b.jpg",
            ):
                incident_id = conn.execute(
                    text(
                        "INSERT INTO incident (category, status, geom) VALUES ('dispute',"
                        " 'reported', ST_SetSRID(ST_MakePoint(119.1, 36.7), 4326)) RETURNING id"
                    )
                ).scalar_one()
                conn.execute(
                    text(
                        "INSERT INTO incident_transition (incident_id, action, to_state, actor,"
                        " at, note, to_level) VALUES (:i, 'reported', 'reported', 'hotline',"
                        " now(), :n, 'grid')"
                    ),
                    {"i": incident_id, "n": note},
                )
                ids.append(incident_id)
        schema.upgrade(engine)
        with engine.connect() as conn:
            urls = conn.execute(
                text("SELECT media_url FROM incident WHERE id = ANY(:ids) ORDER BY id"),
                {"ids": ids},
            ).scalars()
            assert list(urls) == ["https://img.example.cn/a.jpg", None, None]
        with pytest.raises(Exception, match="ck_incident_media_url"), engine.begin() as conn:
            conn.execute(
                text("UPDATE incident SET media_url = 'javascript:alert(1)' WHERE id = :i"),
                {"i": ids[0]},
            )
    finally:
        engine.dispose()
        drop_database(server_url, NAME)
