"""The selection side of an export: one snapshot for the count and the rows, and the
window a limit and an offset cut from the batches."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.exports.collection import consistent_snapshot, window


def test_an_export_reads_one_repeatable_read_snapshot(engine: Engine) -> None:
    with Session(engine) as session:
        session.execute(text("SELECT 1"))  # a lookup before (the API's login check)
        session.commit()
        consistent_snapshot(session)
        level = session.execute(text("SHOW transaction_isolation")).scalar()
        read_only = session.execute(text("SHOW transaction_read_only")).scalar()
        assert (level, read_only) == ("repeatable read", "on")
        session.commit()
        assert session.execute(text("SHOW transaction_isolation")).scalar() == "read committed"


def _frames() -> list[pd.DataFrame]:
    return [pd.DataFrame({"id": range(start, start + 4)}) for start in (0, 4, 8)]


def test_window_cuts_across_batches() -> None:
    def ids(offset: int, limit: int | None) -> list[int]:
        return [i for f in window(_frames(), offset, limit) for i in f["id"]]

    assert ids(0, None) == list(range(12))
    assert ids(3, 6) == [3, 4, 5, 6, 7, 8]
    assert ids(10, 5) == [10, 11]
    assert ids(12, None) == []


def test_window_stops_reading_at_the_limit() -> None:
    read: list[int] = []

    def frames():  # type: ignore[no-untyped-def]
        for f in _frames():
            read.append(int(f["id"].iloc[0]))
            yield f

    assert sum(len(f) for f in window(frames(), 0, 4)) == 4
    assert read == [0]
