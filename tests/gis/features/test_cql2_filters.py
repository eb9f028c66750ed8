"""CQL2 → SQLAlchemy: every value bound, names only from the queryables, nothing else.

Compiled against PostgreSQL's dialect without a database: what matters is the SQL text
(no literal from the filter in it) and the parameters (every literal there, typed).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from gis.errors import InvalidParameterError
from gis.features import collections, filters
from gis.features.crs import EPSG_4326, find_crs
from gis.principal import ANONYMOUS


def compiled(coll_id: str, text: str, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    coll = next(c for c in collections._fixed() if c.id == coll_id)
    src = coll.source(ANONYMOUS).subquery("src")
    clause = filters.to_clause(coll, {c.name: c for c in src.c}, text, **kwargs)
    sql = select(src.c.id).where(clause).compile(dialect=postgresql.dialect())
    return str(sql), dict(sql.params)


def test_values_are_bound_never_written_into_the_sql() -> None:
    sql, params = compiled("buildings", "name LIKE '%楼; DROP TABLE building; --%' AND floors >= 7")
    assert "DROP" not in sql and "楼" not in sql and "7" not in sql.split("WHERE")[1]
    assert "%楼; DROP TABLE building; --%" in params.values()
    assert 7 in params.values()


def test_types_follow_the_queryables() -> None:
    _, params = compiled("incidents", "reported_at >= TIMESTAMP('2026-03-01T00:00:00Z')")
    (moment,) = [v for v in params.values() if isinstance(v, dt.datetime)]
    assert moment == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    _, params = compiled("grids", "valid_from <= DATE('2020-01-01')")
    assert dt.date(2020, 1, 1) in params.values()
    with pytest.raises(InvalidParameterError, match="floors is integer"):
        compiled("buildings", "floors = 'six'")
    with pytest.raises(InvalidParameterError, match="masked is boolean"):
        compiled("incidents", "masked = 1")
    with pytest.raises(InvalidParameterError, match="LIKE needs a text property"):
        compiled("buildings", "floors LIKE '1%'")


def test_unknown_names_list_the_queryables() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        compiled("buildings", "password = 'x'")
    assert "password" in str(caught.value) and "floors" in str(caught.value)
    assert "没有可查询属性" in caught.value.text(__import__("gis.lang").lang.Lang.ZH)


def test_spatial_literals_are_wkb_in_wgs84_even_from_lat_lon() -> None:
    _, lonlat = compiled("buildings", "S_INTERSECTS(geometry, POINT(119.16 36.72))")
    crs = find_crs(EPSG_4326, "http://x")
    _, latlon = compiled("buildings", "S_INTERSECTS(geometry, POINT(36.72 119.16))", crs=crs)
    wkb = [v for v in lonlat.values() if isinstance(v, bytes)]
    assert wkb and wkb == [v for v in latlon.values() if isinstance(v, bytes)]


def test_cql2_json_is_read_too() -> None:
    text = (
        '{"op": "and", "args": [{"op": ">", "args": [{"property": "floors"}, 5]}, '
        '{"op": "isNull", "args": [{"property": "name"}]}]}'
    )
    sql, params = compiled("buildings", text, lang="cql2-json")
    assert "IS NULL" in sql and 5 in params.values()


def test_queryables_schema_names_every_property_with_its_type() -> None:
    coll = next(c for c in collections._fixed() if c.id == "grids")
    schema = filters.queryables(coll, "http://x/ogc/collections/grids/queryables")
    assert schema["properties"]["valid_from"]["format"] == "date"
    assert schema["properties"]["valid_from"]["x-ogc-role"] == "primary-interval-start"
    assert schema["properties"]["households"]["type"] == "integer"
    assert schema["properties"]["id"]["type"] == "integer"
    assert {q["id"] for q in schema["queryables"]} == set(schema["properties"])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_a_clause_or_a_400(text: str) -> None:
    with contextlib.suppress(InvalidParameterError):
        compiled("buildings", text)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["floors", "name", "households", "address", "nosuch", "geometry", "id"]),
    st.sampled_from(["=", "<>", "<", ">=", "LIKE", "IN", "BETWEEN", "IS NULL"]),
    st.one_of(st.integers(-(10**20), 10**20), st.floats(allow_nan=True), st.text(max_size=10)),
)
def test_generated_predicates_are_clauses_or_400s(name: str, op: str, value: Any) -> None:
    literal = f"'{value}'" if isinstance(value, str) else repr(value)
    text = {
        "IN": f"{name} IN ({literal}, {literal})",
        "BETWEEN": f"{name} BETWEEN {literal} AND {literal}",
        "IS NULL": f"{name} IS NULL",
    }.get(op, f"{name} {op} {literal}")
    with contextlib.suppress(InvalidParameterError):
        compiled("buildings", text)
