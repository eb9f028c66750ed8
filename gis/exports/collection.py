"""One collection's selection as a file: counted, then read in batches and written.

The API (``GET /ogc/collections/{cid}/export``) and the command line (``gridmap
export``) both come here. The query core (``gis.features.query``) counts the
selection and streams it; the count and the rows come from one snapshot of the
database when the export starts its own transaction (``consistent_snapshot``), so
the totals announced before the first feature are the features written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from gis.errors import InvalidParameterError
from gis.exports.writers import Export, ExportField, Format, Written, write_export
from gis.features.collections import Access, Collection
from gis.features.crs import CRS84, Crs
from gis.features.query import ItemQuery, batches, count
from gis.geo.datum import WGS84
from gis.incidents.visibility import is_personal
from gis.principal import Principal
from gis.progress import Advance, ignore

CRS84_LON_LAT = Crs(CRS84, WGS84)
"""The default CRS: WGS84 longitude, latitude."""

BATCH_ROWS = 10_000
"""Rows per batch read from the server-side cursor: a batch of buildings is ~5 MB."""


def consistent_snapshot(session: Session) -> None:
    """Make the session's next transaction REPEATABLE READ (and read only), so that a
    count and the reads after it see the same rows. Does nothing to a transaction
    already begun (a handler that already wrote), nor to a session bound to one
    connection (a test's, inside its own transaction)."""
    if not session.in_transaction() and not isinstance(session.get_bind(), Connection):
        session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )


def export_fields(coll: Collection) -> tuple[ExportField, ...]:
    return tuple(ExportField(p.name, p.type, p.title.zh) for p in coll.properties)


@dataclass(frozen=True)
class Selection:
    """What leaves: the collection, the query (its limit and offset cut the whole
    selection only when given), and the CRS of the coordinates."""

    collection: Collection
    query: ItemQuery
    crs: Crs = CRS84_LON_LAT
    limit: int | None = None
    offset: int = 0


def window(frames: Iterable[pd.DataFrame], offset: int, limit: int | None) -> Iterator[Any]:
    """The rows ``offset`` to ``offset + limit`` of the batches (all after ``offset`` with
    no limit); stops reading once the limit is reached."""
    skip, left = offset, limit
    for frame in frames:
        if skip:
            if skip >= len(frame):
                skip -= len(frame)
                continue
            frame = frame.iloc[skip:]
            skip = 0
        if left is not None:
            if left <= 0:
                return
            frame = frame.iloc[:left]
            left -= len(frame)
        yield frame
        if left is not None and left <= 0:
            return


def announce(
    session: Session, principal: Principal, selection: Selection, links: Sequence[dict[str, Any]]
) -> Export:
    """The export's head: its totals counted now (a bad filter fails here, before any byte)."""
    if (selection.limit is not None and selection.limit < 0) or selection.offset < 0:
        raise InvalidParameterError(
            "limit and offset must not be negative", zh="limit 与 offset 不能为负数"
        )
    coll = selection.collection
    matched = count(session, coll, principal, selection.query)
    left = max(0, matched - selection.offset)
    returned = left if selection.limit is None else min(left, selection.limit)
    return Export(
        collection=coll.id,
        title=coll.title,
        geometry_type=coll.geometry_type,
        fields=export_fields(coll),
        number_matched=matched,
        number_returned=returned,
        datum=selection.crs.datum,
        lat_lon=selection.crs.lat_lon,
        links=tuple(links),
        time_stamp=dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        crs_uri=selection.crs.uri,
    )


def write_selection(
    session: Session,
    principal: Principal,
    selection: Selection,
    export: Export,
    fmt: Format,
    folder: Path,
    advance: Advance = ignore,
) -> Written:
    """The announced export in ``fmt`` (see ``gis.exports.writers.write_export`` for when
    the batches are read)."""
    frames = batches(session, selection.collection, principal, selection.query, size=BATCH_ROWS)
    rows = window(frames, selection.offset, selection.limit)
    return write_export(fmt, export, rows, folder, advance)


def personal_in_full(session: Session, principal: Principal, selection: Selection) -> list[int]:
    """Ids of the cases of an incidents export that show personal data in full (a
    personal category the caller is responsible for, so not masked): what the audit
    trail records before the file leaves. Empty for any other collection."""
    if selection.collection.access is not Access.INCIDENTS:
        return []
    frames = batches(session, selection.collection, principal, selection.query, size=BATCH_ROWS)
    shown: list[int] = []
    for frame in window(frames, selection.offset, selection.limit):
        full = frame["category"].map(is_personal).astype(bool) & ~frame["masked"].astype(bool)
        shown += [int(i) for i in frame.loc[full, "id"]]
    return shown
