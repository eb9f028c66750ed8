"""Migration 0011: what tiles and remembered logins depend on says when it changes.

Committed changes on a database of this module's own, read off the channel by a
plain psycopg LISTEN, as ``gis.db.changes`` reads them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.db import schema
from gis.db.engine import connect_params, drop_database, make_engine, recreate_database
from tests.accounts import committed_headers, key_headers
from tests.api.conftest import load_small_district

DB_NAME = "gridmap_tile_notify_test"


@pytest.fixture(scope="module")
def notified(server_url: str) -> Iterator[Engine]:
    eng = make_engine(recreate_database(server_url, DB_NAME))
    schema.upgrade(eng)
    with Session(eng) as session:
        load_small_district(session)
        session.commit()
    yield eng
    eng.dispose()
    drop_database(server_url, DB_NAME)


def changes_of(engine: Engine, statement: str, **params: Any) -> list[dict[str, Any]]:
    """The notifications a committed statement sends (sync markers aside)."""
    with psycopg.connect(**connect_params(engine), autocommit=True) as listener:
        listener.execute("LISTEN gridmap_changes")
        with engine.begin() as conn:
            conn.execute(text(statement), params)
        found = [json.loads(n.payload) for n in listener.notifies(timeout=0.5)]
    return [{k: c[k] for k in ("op", "table", "id")} for c in found]


def test_incidents_notify_inserts_updates_and_deletes(notified: Engine) -> None:
    inserted = changes_of(
        notified,
        """INSERT INTO incident (category, geom, reported_at, status)
           VALUES ('street_order', ST_SetSRID(ST_MakePoint(119.11, 36.71), 4326), now(),
                   'reported')""",
    )
    assert [(c["op"], c["table"]) for c in inserted] == [("insert", "incident")]
    case = inserted[0]["id"]
    assert changes_of(
        notified, "UPDATE incident SET status = 'accepted' WHERE id = :i", i=case
    ) == [{"op": "update", "table": "incident", "id": case}]
    assert changes_of(notified, "UPDATE incident SET address = 'x' WHERE id = :i", i=case) == []
    assert changes_of(notified, "DELETE FROM incident WHERE id = :i", i=case) == [
        {"op": "delete", "table": "incident", "id": case}
    ]


def test_a_facility_renamed_and_a_footprint_drawn_notify(notified: Engine) -> None:
    renamed = changes_of(
        notified, "UPDATE facility SET name = name || '（新）' WHERE capacity = 180"
    )
    assert [(c["op"], c["table"]) for c in renamed] == [("update", "facility")]
    drawn = changes_of(
        notified,
        """UPDATE building SET footprint = ST_Multi(ST_Buffer(location, 0.0001, 2))
           WHERE households = 200""",
    )
    assert [(c["op"], c["table"]) for c in drawn] == [("update", "building")]
    assert changes_of(notified, "UPDATE building SET address = 'y' WHERE households = 200") == []


def test_ended_logins_and_revoked_keys_notify(notified: Engine) -> None:
    committed_headers(notified, "notify-admin", "admin")
    ended = changes_of(notified, "UPDATE auth_session SET revoked_at = now()")
    assert {(c["table"], c["id"]) for c in ended} == {("auth_session", None)}
    with Session(notified) as session:
        key_headers(session, "notify-key", ("features:read",))
        session.commit()
    revoked = changes_of(notified, "UPDATE api_key SET revoked_at = now()")
    assert {c["table"] for c in revoked} == {"api_key"}
    assert changes_of(notified, "UPDATE api_key SET last_used_at = now()") == []
    disabled = changes_of(
        notified, "UPDATE account SET disabled_at = now() WHERE username = 'notify-admin'"
    )
    assert {c["table"] for c in disabled} == {"account"}
