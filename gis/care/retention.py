"""Position history is kept ``GRIDMAP_POSITION_RETENTION_DAYS`` (30) and then deleted.

Where a person was is the most sensitive thing the platform stores; it is kept only
as long as it serves them (a worker looking back over the last days). The API
server deletes what has aged out once an hour (``RetentionSweeper``), in chunks so
that ingest never waits long on the delete; ``gridmap positions prune`` does the
same by hand. A person removed on request loses their history at once
(``ON DELETE CASCADE``, migration 0014).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.db.periodic import PeriodicWork
from gis.localtime import utc_now

log = logging.getLogger(__name__)

CHUNK = 50_000
"""Rows one delete statement removes at most (each chunk commits on its own)."""
INTERVAL_S = 3600.0


def prune_chunk(session: Session, retention: dt.timedelta, now: dt.datetime) -> int:
    """Deletes up to ``CHUNK`` reports older than ``retention``; returns how many."""
    return int(
        session.connection()
        .execute(
            text(
                """DELETE FROM position_report WHERE ctid = ANY(ARRAY(
                     SELECT ctid FROM position_report WHERE at < :cut LIMIT :n))"""
            ),
            {"cut": now - retention, "n": CHUNK},
        )
        .rowcount
    )


def prune(engine: Engine, retention: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Deletes every report older than ``retention``, chunk by chunk; returns how many."""
    now = now or utc_now()
    total = 0
    while True:
        with Session(engine) as session, session.begin():
            deleted = prune_chunk(session, retention, now)
        total += deleted
        if deleted < CHUNK:
            return total


class RetentionSweeper(PeriodicWork):
    """Prunes the history every ``interval_s`` until stopped (``gis.db.periodic``)."""

    def __init__(
        self, engine: Engine, retention: dt.timedelta, interval_s: float = INTERVAL_S
    ) -> None:
        super().__init__("position-retention", interval_s)
        self.engine = engine
        self.retention = retention

    def round(self) -> None:
        deleted = prune(self.engine, self.retention)
        if deleted:
            log.info("deleted %d position report(s) past retention", deleted)
