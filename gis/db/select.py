"""Paged reads that come out as GeoJSON: the SQL side of every feature list.

Each list is a select with a ``geometry`` column made by ``geojson_column``,
counted whole and cut to one page in a stable order, so clients page with
``limit``/``offset`` and pages never overlap or skip rows. A database that
stops answering is a ``DatabaseUnavailableError`` (503), not a driver error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, ColumnElement, Row, Select, cast, func, or_, select
from sqlalchemy.orm import Session

from gis.db.models import AdminArea, Grid
from gis.errors import InvalidParameterError
from gis.geo.datum import STORAGE_SRID
from gis.geo.geojson import GEOJSON_DECIMALS, BBox, Feature, feature

AnySelect = Select[*tuple[Any, ...]]


def geojson_column(column: Any) -> ColumnElement[Any]:
    """A geometry column as GeoJSON (``GEOJSON_DECIMALS`` decimals), decoded to a dict."""
    return cast(func.ST_AsGeoJSON(column, GEOJSON_DECIMALS), JSON)


def intersects_bbox(column: Any, bbox: BBox) -> ColumnElement[bool]:
    """True geometric intersection with the box; ST_Intersects uses the GiST index (&&)."""
    envelope = func.ST_MakeEnvelope(*bbox.as_list(), STORAGE_SRID)
    return func.ST_Intersects(column, envelope)


def in_force(model: type[AdminArea] | type[Grid], at: dt.date | None) -> ColumnElement[bool]:
    """Versions of a boundary in force now (``at`` None) or on the date ``at``."""
    if at is None:
        return model.valid_to.is_(None)
    return (model.valid_from <= at) & or_(model.valid_to.is_(None), model.valid_to > at)


def execute(session: Session, stmt: AnySelect, params: dict[str, Any] | None = None) -> list[Any]:
    """All rows of ``stmt``. Driver errors pass unchanged: the edge tells a lost
    connection (503, a read tried once more) from a cancelled statement (503, ask for
    less) from a bug (500), in one place (api/errors.py, cli/errors.py)."""
    return list(session.execute(stmt, params).all())


def paged(
    session: Session, stmt: AnySelect, order_by: Sequence[Any], limit: int, offset: int
) -> tuple[list[Any], int]:
    """Rows of one page and the total number of matching rows."""
    if limit < 0 or offset < 0:
        raise InvalidParameterError("limit and offset must not be negative.")
    total_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
    total = int(execute(session, total_stmt)[0][0])
    if limit == 0 or offset >= total:
        return [], total
    rows = execute(session, stmt.order_by(*order_by).limit(limit).offset(offset))
    return rows, total


def features(rows: Sequence[Row[Any]], id_key: str, drop: tuple[str, ...] = ()) -> list[Feature]:
    """Rows with a ``geometry`` column (GeoJSON) as features identified by ``id_key``."""
    out = []
    for row in rows:
        props = row._asdict()
        geometry = props.pop("geometry")
        for key in drop:
            props.pop(key)
        out.append(feature(getattr(row, id_key), geometry, props))
    return out
