"""Search: what a person types (an address, a building, a grid's name or code, a community,
a subdistrict, a street, a case number) and the places it names.

Each word of the query must appear (case-insensitively) in what a result is
found by; exact matches come first, then prefixes, then the rest, shorter
labels before longer ones. Buildings and streets are found through the
bigram GIN indexes of migration 0010 (``gridmap_bigrams``): pg_trgm sees no
trigrams in Chinese under the cluster's C locale. Areas and grids are a few
hundred rows each and are scanned.

Cases are found by number (``id``) or by the number of the system they came
from (``ext_id``), and only within the caller's reach
(``gis.incidents.visibility``: a case out of reach is not found, as if it did
not exist); a personal case the caller is not responsible for is placed at its
grid's point, as every masked case is.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InvalidParameterError
from gis.incidents.catalogue import UnknownCategoryError
from gis.incidents.catalogue import category as category_of
from gis.incidents.visibility import Scope
from gis.incidents.workflow import State
from gis.principal import Principal

MAX_QUERY = 100
"""Longest query (characters) searched."""
MIN_TEXT_QUERY = 2
"""Shortest query (characters) that searches addresses and streets."""
MAX_LIMIT = 50
DEFAULT_LIMIT = 10
_MAX_WORDS = 5


class Kind(enum.StrEnum):
    ADDRESS = "address"
    BUILDING = "building"
    GRID = "grid"
    COMMUNITY = "community"
    SUBDISTRICT = "subdistrict"
    INCIDENT = "incident"
    STREET = "street"


_KIND_ZH = {
    Kind.ADDRESS: "地址",
    Kind.BUILDING: "楼栋",
    Kind.GRID: "网格",
    Kind.COMMUNITY: "社区",
    Kind.SUBDISTRICT: "街道",
    Kind.INCIDENT: "案件",
    Kind.STREET: "道路",
}
_STREET_ZH = {"main": "主干路", "secondary": "次干路", "local": "支路"}


@dataclass(frozen=True)
class Hit:
    """One result: where to fly (``lon``, ``lat`` WGS84; ``bbox`` to fit, or None for a point).

    ``code`` for areas and grids, ``id`` for buildings and cases; ``url`` the
    page of the thing where it has one.
    """

    kind: str
    kind_zh: str
    label: str
    sublabel: str | None
    code: str | None
    id: int | None
    lon: float
    lat: float
    bbox: list[float] | None
    url: str | None


def words_of(query: str) -> list[str]:
    """The words of ``query`` (whitespace-separated), refusing an empty or overlong one."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidParameterError(
            "q is empty: type part of an address, a building, a grid's name or code, a "
            "community, a street or a case number"
        )
    if len(query) > MAX_QUERY:
        raise InvalidParameterError(f"q is longer than {MAX_QUERY} characters: type less")
    words = query.split()
    if len(words) > _MAX_WORDS:
        raise InvalidParameterError(f"q has more than {_MAX_WORDS} words: type fewer")
    return words


def _like(word: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", word) + "%"


def _all_words(column: str, words: list[str], params: dict[str, Any], indexed: bool) -> str:
    clauses = []
    for i, word in enumerate(words):
        params[f"w{i}"] = word
        params[f"l{i}"] = _like(word)
        if indexed:
            clauses.append(f"gridmap_bigrams({column}) @> gridmap_bigrams(:w{i})")
        clauses.append(f"{column} ILIKE :l{i}")
    return " AND ".join(clauses)


def _rank(column: str) -> str:
    """0 exact, 1 prefix, 2 anywhere: of the whole query against ``column``."""
    return f"""CASE WHEN lower({column}) = lower(:q) THEN 0
                    WHEN {column} ILIKE :prefix THEN 1 ELSE 2 END"""


_BOX = """ARRAY[ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)]"""


def search(
    session: Session,
    query: str,
    viewer: Principal,
    *,
    limit: int = DEFAULT_LIMIT,
    include_incidents: bool = True,
) -> list[Hit]:
    """Results for ``query``, best first, at most ``limit``.

    ``include_incidents`` False leaves cases out (a key that may read the map
    but not cases).
    """
    words = words_of(query)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameterError(f"limit must be 1..{MAX_LIMIT}, got {limit}")
    q = " ".join(words)
    params: dict[str, Any] = {
        "q": q,
        "prefix": re.sub(r"([\\%_])", r"\\\1", q) + "%",
        "limit": limit,
    }
    parts = [_areas_sql(words, params), _grids_sql(words, params)]
    if len(q) >= MIN_TEXT_QUERY:  # one character would match most of 20,000 addresses
        parts += [_streets_sql(words, params), _buildings_sql(words, params)]
    if include_incidents:
        parts.append(_incidents_sql(q, viewer, params))
    sql = f"""
      SELECT * FROM ({" UNION ALL ".join(f"({p})" for p in parts if p)}) AS hit
      ORDER BY rank, array_position(CAST(:kinds AS text[]), kind), char_length(label), label
      LIMIT :limit"""
    params["kinds"] = [k.value for k in Kind]
    rows = session.execute(text(sql), params).mappings().all()
    return [_hit(row) for row in rows]


def _hit(row: Any) -> Hit:
    kind = Kind(row["kind"])
    sublabel = row["sublabel"]
    if kind is Kind.INCIDENT:
        category, status = sublabel.split("|", 1)
        try:
            name = category_of(category).name_zh
        except UnknownCategoryError:  # a category retired from the catalogue: show its code
            name = category
        sublabel = f"{name} · {State(status).step_zh} · {row['extra'] or ''}".rstrip(" ·")
    elif kind is Kind.STREET:
        sublabel = _STREET_ZH.get(sublabel, sublabel)
    bbox = [round(float(v), 6) for v in row["bbox"]] if row["bbox"] is not None else None
    return Hit(
        kind=kind.value,
        kind_zh=_KIND_ZH[kind],
        label=row["label"],
        sublabel=sublabel,
        code=row["code"],
        id=row["id"],
        lon=round(float(row["lon"]), 7),
        lat=round(float(row["lat"]), 7),
        bbox=bbox,
        url=row["url"],
    )


def _areas_sql(words: list[str], params: dict[str, Any]) -> str:
    match = f"(({_all_words('a.name', words, params, indexed=False)}) OR a.code = :q)"
    return f"""
      SELECT a.level::text AS kind, a.name AS label, p.name AS sublabel, a.code, NULL::bigint AS id,
             ST_X(pt) AS lon, ST_Y(pt) AS lat, {_BOX} AS bbox, NULL AS url, NULL AS extra,
             CASE WHEN a.code = :q THEN 0 ELSE {_rank("a.name")} END AS rank
      FROM admin_area a LEFT JOIN admin_area p ON p.id = a.parent_id,
           LATERAL (SELECT ST_PointOnSurface(a.geom) AS pt, Box2D(a.geom) AS b) AS g
      WHERE a.valid_to IS NULL AND a.level::text IN ('subdistrict', 'community') AND {match}"""


def _grids_sql(words: list[str], params: dict[str, Any]) -> str:
    match = f"(({_all_words('g.name', words, params, indexed=False)}) OR g.code LIKE :code_prefix)"
    params["code_prefix"] = (params["q"] if params["q"].isdigit() else "-") + "%"
    return f"""
      SELECT 'grid' AS kind, g.name AS label, c.name AS sublabel, g.code, NULL::bigint AS id,
             ST_X(pt) AS lon, ST_Y(pt) AS lat, {_BOX} AS bbox, '/grid/' || g.code AS url,
             NULL AS extra,
             CASE WHEN g.code = :q THEN 0 WHEN g.code LIKE :code_prefix THEN 1
                  ELSE {_rank("g.name")} END AS rank
      FROM grid g JOIN admin_area c ON c.id = g.community_id,
           LATERAL (SELECT ST_PointOnSurface(g.geom) AS pt, Box2D(g.geom) AS b) AS x
      WHERE g.valid_to IS NULL AND {match}"""


def _streets_sql(words: list[str], params: dict[str, Any]) -> str:
    match = _all_words("name", words, params, indexed=True)
    return f"""
      SELECT 'street' AS kind, s.name AS label, s.kind AS sublabel, NULL AS code,
             NULL::bigint AS id, ST_X(pt) AS lon, ST_Y(pt) AS lat, {_BOX} AS bbox, NULL AS url,
             NULL AS extra, s.rank
      FROM (SELECT name, min(kind) AS kind, ST_Collect(geom) AS geom,
                   min({_rank("name")}) AS rank
            FROM street WHERE {match} GROUP BY name) AS s,
           LATERAL (SELECT ST_ClosestPoint(s.geom, ST_Centroid(s.geom)) AS pt,
                           Box2D(s.geom) AS b) AS x"""


def _buildings_sql(words: list[str], params: dict[str, Any]) -> str:
    match = _all_words("b.address", words, params, indexed=True)
    return f"""
      SELECT * FROM (
        SELECT 'address' AS kind, b.address AS label, g.name AS sublabel, NULL AS code,
               b.id, ST_X(b.location) AS lon, ST_Y(b.location) AS lat,
               CASE WHEN b.footprint IS NULL THEN NULL
                    ELSE ARRAY[ST_XMin(b.footprint), ST_YMin(b.footprint),
                               ST_XMax(b.footprint), ST_YMax(b.footprint)] END AS bbox,
               NULL AS url, NULL AS extra, {_rank("b.address")} AS rank
        FROM building b JOIN grid g ON g.id = b.grid_id
        WHERE {match}
        ORDER BY rank, char_length(b.address), b.id LIMIT :limit
      ) AS by_address
      UNION ALL
      SELECT 'building', coalesce(b.name, b.ext_id), b.address, b.ext_id, b.id,
             ST_X(b.location), ST_Y(b.location), NULL, NULL, NULL, 0
      FROM building b WHERE lower(b.ext_id) = lower(:q)"""


def _incidents_sql(q: str, viewer: Principal, params: dict[str, Any]) -> str:
    scope = Scope.of(viewer)
    params.update(scope.params())
    params["case_id"] = int(q) if q.isdigit() and len(q) <= 18 else None
    reach = scope.reach_sql("g.code", "i.category")
    full = scope.full_sql("g.code", "i.category")
    return f"""
      SELECT 'incident' AS kind, '案件 ' || coalesce(i.ext_id, i.id::text) AS label,
             i.category || '|' || i.status AS sublabel, g.code, i.id,
             ST_X(pt) AS lon, ST_Y(pt) AS lat, NULL::float8[] AS bbox,
             '/cases/' || i.id AS url, g.name AS extra, 0 AS rank
      FROM incident i LEFT JOIN grid g ON g.id = i.grid_id,
           LATERAL (SELECT CASE WHEN {full} OR g.geom IS NULL THEN i.geom
                                ELSE ST_PointOnSurface(g.geom) END AS pt) AS p
      WHERE (i.id = CAST(:case_id AS bigint) OR lower(i.ext_id) = lower(:q)) AND {reach}"""
