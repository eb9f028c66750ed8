"""The query core on the demo district: keyset pages, counts, batches, masking, datetime."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import orjson
import pytest
import shapely
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.errors import InvalidParameterError, NotFoundError
from gis.features import collections, query
from gis.features.query import Interval, ItemQuery
from gis.localtime import CITY_TZ
from gis.principal import Principal, Role

ADMIN = Principal("person", "admin", role=Role.ADMIN, areas=None, ref="account:test-admin")
PLANNER = Principal("person", "planner", role=Role.PLANNER, areas=None, ref="account:test-pl")


@pytest.fixture
def session(demo_engine: Engine) -> Iterator[Session]:
    with Session(demo_engine) as s:
        yield s


def test_keyset_pages_cover_every_building_once(session: Session) -> None:
    coll = collections.find(session, "buildings")
    total = query.count(session, coll, ADMIN, ItemQuery())
    ids: list[int] = []
    after = None
    while True:
        page = query.page_json(session, coll, ADMIN, ItemQuery(limit=4000, after=after))
        ids += page.ids
        if not page.has_next:
            break
        after = page.ids[-1]
    assert ids == sorted(set(ids)) and len(ids) == total
    back = query.page_json(session, coll, ADMIN, ItemQuery(limit=5, before=ids[10]))
    assert back.ids == ids[5:10] and back.has_prev and back.has_next
    one = orjson.loads(query.page_json(session, coll, ADMIN, ItemQuery(limit=1)).features[0])
    assert set(one["properties"]) == set(coll.property_names)


def test_batches_stream_the_whole_selection_as_wkb(session: Session) -> None:
    coll = collections.find(session, "buildings")
    q = ItemQuery(filter="floors >= 6")
    frames = list(query.batches(session, coll, ADMIN, q, size=1000))
    assert sum(len(f) for f in frames) == query.count(session, coll, ADMIN, q)
    assert len(frames) > 1
    point = shapely.from_wkb(frames[0]["geometry"].iloc[0])
    assert point.geom_type == "Point" and 119 < point.x < 120


def test_masked_values_are_what_filters_see(session: Session) -> None:
    coll = collections.find(session, "incidents")
    hidden = session.execute(
        text(
            "SELECT id FROM incident WHERE category IN ('dispute', 'petition', 'help_request') "
            "ORDER BY id LIMIT 1"
        )
    ).scalar_one()
    q = ItemQuery(filter=f"id = {hidden} AND description = '已隐藏'")
    assert query.count(session, coll, PLANNER, q) == 1
    assert query.count(session, coll, ADMIN, q) == 0
    with pytest.raises(NotFoundError):
        query.item_json(
            session, coll, Principal("person", "x", role=Role.MEDIATOR, areas=()), hidden
        )


def test_datetime_instants_and_intervals() -> None:
    assert query.parse_datetime("2026-03-01") == Interval(dt.date(2026, 3, 1), dt.date(2026, 3, 1))
    assert query.parse_datetime("2026-03-01T").start == dt.date(2026, 3, 1)  # GDAL 3.6
    open_end = query.parse_datetime("2026-03-01T08:00:00Z/..")
    assert open_end.end is None and open_end.start == dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    naive = query.parse_datetime("../2026-03-01T08:00:00")
    assert naive.start is None and naive.end == dt.datetime(2026, 3, 1, 8, tzinfo=CITY_TZ)
    for bad in ("", "2026-13-01", "a/b/c", "2026-03-02/2026-03-01", "2026-03-01\x00"):
        with pytest.raises(InvalidParameterError):
            query.parse_datetime(bad)


def test_validity_selects_versions_in_force(session: Session) -> None:
    coll = collections.find(session, "grids")
    now = query.count(session, coll, ADMIN, ItemQuery())
    current = session.execute(text("SELECT count(*) FROM grid WHERE valid_to IS NULL")).scalar()
    assert now == current
    ever = query.count(session, coll, ADMIN, ItemQuery(datetime=Interval(None, None)))
    assert ever == session.execute(text("SELECT count(*) FROM grid")).scalar()


def test_every_collection_pages_and_unknown_ones_are_404(session: Session) -> None:
    for coll in collections.catalogue(session):
        if coll.id.startswith(("coverage-", "blind-spots-")) and "kindergarten" not in coll.id:
            continue
        page = query.page_json(session, coll, ADMIN, ItemQuery(limit=2))
        for text_ in page.features:
            feature = orjson.loads(text_)
            assert feature["type"] == "Feature"
            assert set(feature["properties"]) == set(coll.property_names), coll.id
    with pytest.raises(NotFoundError):
        collections.find(session, "facilities-nosuch")
