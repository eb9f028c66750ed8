"""Counting, paging and streaming the items of a collection.

Every read starts from the collection's source (narrowed and masked for the
caller), wrapped as a subquery, so that ``bbox``, ``datetime`` and ``filter`` apply
to what the caller may see. Pages are cut by **keyset** (``id > after`` in id order,
or ``id < before`` backwards), so the millionth building costs what the first does
where an OFFSET would read and drop every row before it; ``offset`` is still
accepted for clients that jump. Each feature is built as GeoJSON text by PostgreSQL
(``json_build_object``, coordinates with 7 decimals, about 1 cm), so a page is the
database's bytes joined, not Python objects re-serialised. ``batches`` streams the
selection through a server-side cursor for exports (geometry as WKB).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pandas as pd
from sqlalchemy import ColumnElement, Subquery, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import JSON as _JSON_TYPE
from sqlalchemy.orm import Session
from sqlalchemy.types import Text as _TEXT_TYPE

from gis.db.select import intersects_bbox
from gis.errors import InvalidParameterError, NotFoundError
from gis.features.collections import Collection, Temporal
from gis.features.crs import Crs
from gis.features.filters import property_equals, to_clause
from gis.geo.geojson import GEOJSON_DECIMALS, BBox, Feature
from gis.localtime import CITY_TZ
from gis.principal import Principal

_JSON = _JSON_TYPE()
_TEXT = _TEXT_TYPE()

DEFAULT_LIMIT = 100
"""Items per page when the client does not say (the maximum is the server's page size)."""


@dataclass(frozen=True)
class Interval:
    """A ``datetime`` selection: an instant (``start is end``) or a period, either end
    open (None). Dates stand for whole days in the city's time zone."""

    start: dt.date | None
    end: dt.date | None

    @property
    def instant(self) -> bool:
        return self.start is not None and self.start == self.end


@dataclass(frozen=True)
class ItemQuery:
    """What a client asked of a collection's items.

    ``bbox`` in WGS84 degrees; ``datetime`` the period; ``filter`` CQL2 in
    ``filter_lang`` with geometries in ``filter_crs`` (default CRS84); ``limit``
    items from ``offset``, or the keyset cursors ``after``/``before`` (an item id).
    """

    bbox: BBox | None = None
    datetime: Interval | None = None
    filter: str | None = None
    filter_lang: str = "cql2-text"
    filter_crs: Crs | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    after: int | str | None = None
    before: int | str | None = None
    equals: tuple[tuple[str, str], ...] = ()
    """``(property, value as text)`` pairs every item must equal (queryables as query
    parameters); the text is read by the property's type."""


@dataclass
class Page:
    """One page: features as GeoJSON text, and where the neighbouring pages start."""

    features: list[str] = field(default_factory=list)
    ids: list[Any] = field(default_factory=list)
    has_next: bool = False
    has_prev: bool = False


INT8_MAX = 2**63 - 1


def parse_id(coll: Collection, text: str, what: str = "id") -> int | str:
    """An item id as the collection's ids are typed (``after=``, ``before=``, a path)."""
    if coll.id_type != "integer":
        return text
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= INT8_MAX:
        shown = text[:40].encode("unicode_escape").decode("ascii")
        raise InvalidParameterError(
            f"{what} {shown!r} is not an id of {coll.id} (whole numbers)",
            zh=f"{what} {shown!r} 不是 {coll.id} 的编号（应为整数）",
        )
    return value


def parse_datetime(value: str) -> Interval:
    """``datetime`` as OGC API Features reads it: an instant (``2024-05-01`` or
    ``2024-05-01T08:00:00Z``) or an interval ``start/end`` with ``..`` (or nothing) for
    an open end. Times without an offset are Beijing time."""
    parts = value.split("/")
    if len(parts) > 2 or not value.strip():
        raise _bad_datetime(value)
    moments = [_moment(p.strip(), value) for p in parts]
    if len(moments) == 1:
        if moments[0] is None:
            raise _bad_datetime(value)
        return Interval(moments[0], moments[0])
    start, end = moments
    if start is not None and end is not None and _as_instant(start) >= _as_instant(end, True):
        raise InvalidParameterError(
            f"datetime {value[:60]!r}: the start is after the end",
            zh=f"datetime {value[:60]!r}：开始时间晚于结束时间",
        )
    return Interval(start, end)


def _moment(part: str, whole: str) -> dt.date | None:
    if part in ("", ".."):
        return None
    if len(part) == 11 and part.endswith("T"):
        part = part[:-1]  # GDAL 3.6 writes a date as 2024-05-01T
    try:
        if len(part) == 10:
            return dt.date.fromisoformat(part)
        moment = dt.datetime.fromisoformat(part)
    except ValueError:
        raise _bad_datetime(whole) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CITY_TZ)


def _bad_datetime(value: str) -> InvalidParameterError:
    shown = value[:60].encode("unicode_escape").decode("ascii")
    return InvalidParameterError(
        f"datetime {shown!r} is not an instant or interval: write e.g. 2024-05-01, "
        "2024-05-01T08:00:00Z, 2024-05-01/2024-05-31 or 2024-05-01T00:00:00Z/..",
        zh=f"datetime {shown!r} 不是时间点或时间段：应写作如 2024-05-01、"
        "2024-05-01T08:00:00Z、2024-05-01/2024-05-31 或 2024-05-01T00:00:00Z/..",
    )


def _as_instant(moment: dt.date, end_of_day: bool = False) -> dt.datetime:
    if isinstance(moment, dt.datetime):
        return moment
    day = moment + dt.timedelta(days=1) if end_of_day else moment
    return dt.datetime.combine(day, dt.time(0), CITY_TZ)


def _as_date(moment: dt.date) -> dt.date:
    if isinstance(moment, dt.datetime):
        return moment.astimezone(CITY_TZ).date()
    return moment


def _temporal(coll: Collection, src: Subquery, when: Interval | None) -> list[Any]:
    if coll.temporal is Temporal.VALIDITY:
        start_col, end_col = (src.c[n] for n in coll.temporal_columns[:2])
        if when is None:
            return [end_col.is_(None)]
        clauses: list[Any] = []
        if when.end is not None:
            clauses.append(start_col <= _as_date(when.end))
        if when.start is not None:
            clauses.append(or_(end_col.is_(None), end_col > _as_date(when.start)))
        return clauses
    if when is None:
        return []
    if coll.temporal is Temporal.NONE:
        raise InvalidParameterError(
            f"{coll.id} has no time, so datetime cannot select its items; leave it out",
            zh=f"{coll.id} 没有时间属性，不能用 datetime 筛选；请去掉 datetime",
        )
    column = src.c[coll.temporal_columns[0]]
    clauses = []
    if when.start is not None:
        clauses.append(column >= _as_instant(when.start))
    if when.end is not None:
        if isinstance(when.end, dt.datetime):
            clauses.append(column <= when.end)
        else:
            clauses.append(column < _as_instant(when.end, end_of_day=True))
    return clauses


def _selection(coll: Collection, principal: Principal, q: ItemQuery) -> tuple[Subquery, list[Any]]:
    """The source as a subquery and the WHERE clauses of ``q`` over it."""
    src = coll.source(principal).subquery("src")
    where: list[Any] = []
    if q.bbox is not None:
        where.append(intersects_bbox(src.c.geom, q.bbox))
    where += _temporal(coll, src, q.datetime)
    if q.filter is not None and q.filter.strip():
        columns = {c.name: c for c in src.c}
        where.append(to_clause(coll, columns, q.filter, lang=q.filter_lang, crs=q.filter_crs))
    for name, value in q.equals:
        where.append(property_equals(coll, src.c, name, value))
    return src, where


def _feature_json(coll: Collection, src: Subquery, lat_lon: bool) -> ColumnElement[Any]:
    geom = func.ST_FlipCoordinates(src.c.geom) if lat_lon else src.c.geom
    pairs: list[Any] = []
    for name in coll.property_names:
        pairs += [literal(name), src.c[name]]
    return func.json_build_object(
        text("'type'"),
        text("'Feature'"),
        text("'id'"),
        src.c.id,
        text("'geometry'"),
        func.ST_AsGeoJSON(geom, GEOJSON_DECIMALS).cast(_JSON),
        text("'properties'"),
        func.json_build_object(*pairs),
    ).cast(_TEXT)


def count(session: Session, coll: Collection, principal: Principal, q: ItemQuery) -> int:
    """How many items match ``q`` (all pages)."""
    src, where = _selection(coll, principal, q)
    return int(session.execute(select(func.count()).select_from(src).where(*where)).scalar_one())


def page_json(
    session: Session,
    coll: Collection,
    principal: Principal,
    q: ItemQuery,
    *,
    lat_lon: bool = False,
) -> Page:
    """One page of items as GeoJSON feature texts (WGS84; axes swapped with ``lat_lon``)."""
    if q.limit < 0 or q.offset < 0:
        raise InvalidParameterError(
            "limit and offset must not be negative", zh="limit 与 offset 不能为负数"
        )
    src, where = _selection(coll, principal, q)
    stmt = select(src.c.id, _feature_json(coll, src, lat_lon)).select_from(src).where(*where)
    backwards = q.before is not None and q.after is None
    if q.after is not None:
        stmt = stmt.where(src.c.id > q.after).order_by(src.c.id)
    elif backwards:
        stmt = stmt.where(src.c.id < q.before).order_by(src.c.id.desc())
    else:
        stmt = stmt.order_by(src.c.id).offset(q.offset)
    fetched = session.execute(stmt.limit(q.limit + 1)).all()
    more = len(fetched) > q.limit
    rows = list(fetched[: q.limit])
    if backwards:
        rows.reverse()
    result = Page(features=[r[1] for r in rows], ids=[r[0] for r in rows])
    if backwards:
        result.has_prev, result.has_next = more, True
    else:
        result.has_next = more
        result.has_prev = q.after is not None or q.offset > 0
    return result


def page(session: Session, coll: Collection, principal: Principal, q: ItemQuery) -> list[Feature]:
    """One page of items as GeoJSON features (dicts, WGS84 lon/lat)."""
    return [orjson.loads(f) for f in page_json(session, coll, principal, q).features]


def item_json(
    session: Session, coll: Collection, principal: Principal, fid: Any, *, lat_lon: bool = False
) -> str:
    """One item as GeoJSON text; ``NotFoundError`` when it does not exist for the caller
    (out of their reach reads the same as missing)."""
    try:
        key = parse_id(coll, str(fid))
    except InvalidParameterError:
        key = None
    src = coll.source(principal).subquery("src")
    # Any version of a boundary by its id, in force or not: an id names one version.
    stmt = select(_feature_json(coll, src, lat_lon)).where(src.c.id == key)
    found = None if key is None else session.execute(stmt).scalar()
    if found is None:
        raise NotFoundError(
            f"{coll.id} has no item {fid}; list them with GET /ogc/collections/{coll.id}/items",
            zh=f"{coll.id} 中没有编号为 {fid} 的要素；可用 GET /ogc/collections/{coll.id}/items "
            "列出",
        )
    return str(found)


def batches(
    session: Session,
    coll: Collection,
    principal: Principal,
    q: ItemQuery,
    size: int = 10_000,
) -> Iterator[pd.DataFrame]:
    """The whole selection of ``q`` (no paging) in id order, ``size`` rows at a time,
    through a server-side cursor: columns ``id``, the properties, and ``geometry`` as
    WKB (WGS84 lon/lat)."""
    src, where = _selection(coll, principal, q)
    names = ["id", *coll.property_names]
    stmt = (
        select(*(src.c[n] for n in names), func.ST_AsBinary(src.c.geom).label("geometry"))
        .where(*where)
        .order_by(src.c.id)
    )
    result = session.execute(stmt.execution_options(yield_per=size))
    for rows in result.partitions(size):
        frame = pd.DataFrame([tuple(r) for r in rows], columns=[*names, "geometry"])
        frame["geometry"] = frame["geometry"].map(lambda b: None if b is None else bytes(b))
        yield frame


def temporal_extent(session: Session, coll: Collection, principal: Principal) -> list[Any] | None:
    """``[first, last]`` of the collection's time (None for an open end); None without time."""
    if coll.temporal is Temporal.NONE:
        return None
    src = coll.source(principal).subquery("src")
    if coll.temporal is Temporal.VALIDITY:
        start_col, end_col = (src.c[n] for n in coll.temporal_columns[:2])
        start, open_end, last = session.execute(
            select(func.min(start_col), func.bool_or(end_col.is_(None)), func.max(end_col))
        ).one()
        end = None if open_end or last is None else last
        return [_iso(start), _iso(end)]
    column = src.c[coll.temporal_columns[0]]
    first, last = session.execute(select(func.min(column), func.max(column))).one()
    return [_iso(first), _iso(last)]


def _iso(value: dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return dt.datetime.combine(value, dt.time(0), CITY_TZ).isoformat()


def spatial_extent(session: Session) -> list[float] | None:
    """``[west, south, east, north]`` (CRS84) of the current district: every collection's
    items lie within it (facilities are refused outside it, buildings and cases are in
    its grids), and it costs one row where the extent of a million buildings costs a scan."""
    row = session.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom)"
            " AS e FROM admin_area WHERE level = 'district' AND valid_to IS NULL) AS x"
        )
    ).one()
    if row[0] is None:
        return None
    return [float(v) for v in row]
