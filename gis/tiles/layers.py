"""The tile layers: what each shows, at which zooms, and the SQL that selects it.

A layer's name in a tile is its collection id (``grids``, ``buildings``,
``facilities``, ``facilities-<type>``, ``incidents``,
``coverage-<type>-grids``, ``coverage-<type>-buildings``). Its source SQL
selects ``id``, ``geom`` (WGS84, as stored) and the fields, only the rows
whose geometry meets the box ``:w :s :e :n`` (WGS84 degrees), so that the
GiST index of the stored column does the selecting; the 3857 geometry of
the tile is made from these few rows only (``render.py``).

Zooms (WebMercatorQuad): grids from 8 (a district fills a screen at 11-12),
facilities and incidents from 10, buildings and the per-building coverage
from 13 (at 1,000,000 buildings a z12 tile would hold tens of thousands of
points); every layer up to 18, where clients over-zoom. Buildings are points
below zoom 16 and their footprints (where known) from 16 on.

Incidents are narrowed and masked as ``GET /api/v1/incidents`` does, by the
same ``gis.incidents.visibility.Scope``: a case out of the caller's reach is
not in the tile, a personal case they are not responsible for lies at its
grid's representative point (none without a grid) with ``masked`` true, and
the box selects by the point shown. No text of a case is in a tile
(description, address): tiles draw, the case page tells.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.coverage import tables
from gis.errors import NotFoundError
from gis.incidents.visibility import Scope
from gis.lang import Texts

FOOTPRINT_ZOOM = 16
"""From this zoom on a building is drawn as its footprint where one is known."""
MAX_ZOOM = 18
"""Deepest zoom served; clients over-zoom beyond (TileJSON ``maxzoom``)."""

FieldKind = Literal["String", "Number", "Boolean"]
"""TileJSON's ``vector_layers[].fields`` types."""


@dataclass(frozen=True)
class TileField:
    """A property of a layer's features: its SQL type (for encoding converted rows), its
    TileJSON type and what it means."""

    name: str
    sql_type: str
    kind: FieldKind
    description: str


def _f(name: str, sql_type: str, description: str) -> TileField:
    kind: FieldKind = (
        "Number"
        if sql_type in ("integer", "bigint", "double precision")
        else "Boolean"
        if sql_type == "boolean"
        else "String"
    )
    return TileField(name, sql_type, kind, description)


@dataclass(frozen=True)
class TileLayer:
    """One layer of the tiles; ``type_code`` for the per-facility-type layers."""

    id: str
    kind: str
    title: Texts
    geometry: str
    """``Point``, ``Polygon`` or ``Point, Polygon`` (buildings: footprints at high zoom)."""
    minzoom: int
    maxzoom: int
    fields: tuple[TileField, ...]
    tables: frozenset[str]
    """The tables whose change (a notification) makes this layer's cached tiles stale."""
    per_viewer: bool = False
    """What a tile holds depends on who asks (incidents): cached per visibility class."""
    type_code: str | None = None
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_coverage(self) -> bool:
        return self.kind.startswith("coverage-")

    def source(self, z: int, scope: Scope | None) -> tuple[str, dict[str, Any]]:
        """SQL selecting ``id``, ``geom`` (WGS84) and the fields (incidents also
        ``personal_full``) of the rows in the box ``:w :s :e :n``, and its parameters."""
        return _SOURCES[self.kind](self, z, scope)


BOX = "ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
REPORTED_AT = "to_char({col} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+08:00\"')"

GRID_FIELDS = (
    _f("code", "text", "the grid's 15-digit code"),
    _f("name", "text", "the grid's name"),
    _f("households", "integer", "households living in the grid"),
    _f("population", "integer", "residents of the grid"),
)
BUILDING_FIELDS = (
    _f("households", "integer", "households living in the building"),
    _f("floors", "integer", "floors (absent if unknown)"),
    _f("name", "text", "the building's name (absent if it has none)"),
)
FACILITY_FIELDS = (
    _f("type", "text", "the facility type's code (facility_type)"),
    _f("name", "text", "the facility's name"),
    _f("capacity", "integer", "places (absent if unknown)"),
)
INCIDENT_FIELDS = (
    _f("category", "text", "the case's category code"),
    _f("status", "text", "its step in the loop (reported ... evaluated)"),
    _f("grid_code", "text", "the grid it lies in (absent outside every grid)"),
    _f("reported_at", "text", "when it was reported (ISO 8601, +08:00)"),
    _f("deadline_at", "text", "its handling deadline (ISO 8601, +08:00; absent before dispatch)"),
    _f("handling_level", "text", "grid, community, subdistrict or district"),
    _f("masked", "boolean", "true: a personal case shown at its grid's representative point"),
)
_SQL_TYPES = {"string": "text", "integer": "bigint", "number": "double precision"}


def _coverage_fields(columns: tuple[tables.Column, ...]) -> tuple[TileField, ...]:
    return tuple(_f(c.name, _SQL_TYPES.get(c.json_type, c.json_type), c.title.en) for c in columns)


COVERAGE_GRID_FIELDS = _coverage_fields(tables.GRID_COLUMNS)
COVERAGE_BUILDING_FIELDS = _coverage_fields(tables.BUILDING_COLUMNS)


def _grids(layer: TileLayer, z: int, scope: Scope | None) -> tuple[str, dict[str, Any]]:
    return (
        f"""SELECT g.id, g.geom, g.code, g.name, g.households, g.population
              FROM grid g WHERE g.valid_to IS NULL AND g.geom && {BOX}""",
        {},
    )


def _buildings(layer: TileLayer, z: int, scope: Scope | None) -> tuple[str, dict[str, Any]]:
    if z < FOOTPRINT_ZOOM:
        return (
            f"""SELECT b.id, b.location AS geom, b.households, b.floors, b.name
                  FROM building b WHERE b.location && {BOX}""",
            {},
        )
    # A footprint may reach into the tile from a building whose point lies outside it.
    return (
        f"""SELECT b.id, COALESCE(b.footprint, b.location) AS geom, b.households, b.floors,
                   b.name
              FROM building b WHERE b.location && {BOX} OR b.footprint && {BOX}""",
        {},
    )


def _facilities(layer: TileLayer, z: int, scope: Scope | None) -> tuple[str, dict[str, Any]]:
    where = "" if layer.type_code is None else " AND f.type_code = :layer_type"
    return (
        f"""SELECT f.id, f.geom, f.type_code AS type, f.name, f.capacity
              FROM facility f WHERE f.geom && {BOX}{where}""",
        {} if layer.type_code is None else {"layer_type": layer.type_code},
    )


def _incidents(layer: TileLayer, z: int, scope: Scope | None) -> tuple[str, dict[str, Any]]:
    assert scope is not None, "incident tiles are drawn for a caller"
    full = scope.full_sql("g.code", "i.category")
    reach = scope.reach_sql("g.code", "i.category")
    if scope.masks_nothing:
        shown = "i.geom"
        where = f"i.geom && {BOX}"
    else:
        shown = f"CASE WHEN {full} THEN i.geom ELSE ST_PointOnSurface(g.geom) END"
        # Each branch can use its own index: the case's point, or its grid's outline.
        where = (
            f"(({full}) AND i.geom && {BOX})"
            f" OR (NOT ({full}) AND g.geom && {BOX} AND ST_PointOnSurface(g.geom) && {BOX})"
        )
    return (
        f"""SELECT i.id, {shown} AS geom, i.category, i.status, g.code AS grid_code,
                   {REPORTED_AT.format(col="i.reported_at")} AS reported_at,
                   {REPORTED_AT.format(col="i.deadline_at")} AS deadline_at,
                   i.handling_level, NOT ({full}) AS masked,
                   (i.category = ANY(:vis_personal) AND ({full})) AS personal_full
              FROM incident i LEFT JOIN grid g ON g.id = i.grid_id
             WHERE {reach} AND ({where})""",
        scope.params(),
    )


def _coverage(layer: TileLayer, z: int, scope: Scope | None) -> tuple[str, dict[str, Any]]:
    raise TypeError("coverage layers are drawn from coverage_select (SQLAlchemy), not text")


def coverage_select(layer: TileLayer) -> Any:
    """The coverage table of a ``coverage-*`` layer (``gis.coverage.tables``): a select with
    ``id``, ``geom`` and the fields, for ``render`` to box and encode."""
    assert layer.type_code is not None
    if layer.kind == "coverage-buildings":
        return tables.buildings_select(layer.type_code)
    return tables.grids_select(layer.type_code)


_SOURCES = {
    "grids": _grids,
    "buildings": _buildings,
    "facilities": _facilities,
    "incidents": _incidents,
    "coverage-buildings": _coverage,
    "coverage-grids": _coverage,
}

GRIDS = TileLayer(
    "grids",
    "grids",
    Texts("网格", "Grids"),
    "Polygon",
    8,
    MAX_ZOOM,
    GRID_FIELDS,
    frozenset({"grid", "building"}),
)
BUILDINGS = TileLayer(
    "buildings",
    "buildings",
    Texts("楼栋", "Buildings"),
    "Point, Polygon",
    13,
    MAX_ZOOM,
    BUILDING_FIELDS,
    frozenset({"building"}),
)
FACILITIES = TileLayer(
    "facilities",
    "facilities",
    Texts("服务设施", "Service facilities"),
    "Point",
    10,
    MAX_ZOOM,
    FACILITY_FIELDS,
    frozenset({"facility", "facility_type"}),
)
INCIDENTS = TileLayer(
    "incidents",
    "incidents",
    Texts("事件", "Incidents"),
    "Point",
    10,
    MAX_ZOOM,
    INCIDENT_FIELDS,
    frozenset({"incident", "grid"}),
    per_viewer=True,
)
MAIN_LAYERS = (GRIDS, BUILDINGS, FACILITIES, INCIDENTS)
"""The dataset tiles' layers, bottom to top."""
_STATIC = {layer.id: layer for layer in MAIN_LAYERS}

_TYPE_CODE = r"[a-z][a-z0-9_]{0,39}"
_FACILITY_TYPE = re.compile(rf"^facilities-({_TYPE_CODE})$")
_COVERAGE = re.compile(rf"^coverage-({_TYPE_CODE})-(grids|buildings)$")


def _not_found(cid: str) -> NotFoundError:
    return NotFoundError(
        f"no tile collection {cid!r}: GET /ogc/collections lists them",
        zh=f"没有瓦片集合 {cid!r}：集合列表见 GET /ogc/collections",
    )


def layer_named(cid: str) -> TileLayer:
    """The layer of collection ``cid``, without asking the database whether a facility
    type it names exists (:func:`check_layer` does); NotFoundError for any other id."""
    found = _STATIC.get(cid)
    if found is not None:
        return found
    match = _FACILITY_TYPE.match(cid)
    if match:
        code = match.group(1)
        return TileLayer(
            cid,
            "facilities",
            Texts(f"服务设施：{code}", f"Service facilities: {code}"),
            "Point",
            FACILITIES.minzoom,
            MAX_ZOOM,
            FACILITY_FIELDS,
            FACILITIES.tables,
            type_code=code,
        )
    match = _COVERAGE.match(cid)
    if match:
        code, what = match.group(1), match.group(2)
        per_building = what == "buildings"
        return TileLayer(
            cid,
            f"coverage-{what}",
            Texts(
                f"覆盖：{code}（{'楼栋' if per_building else '网格'}）",
                f"Coverage by {code} per {'building' if per_building else 'grid'}",
            ),
            "Point" if per_building else "Polygon",
            BUILDINGS.minzoom if per_building else GRIDS.minzoom,
            MAX_ZOOM,
            COVERAGE_BUILDING_FIELDS if per_building else COVERAGE_GRID_FIELDS,
            COVERAGE_TABLES,
            type_code=code,
        )
    raise _not_found(cid)


COVERAGE_TABLES = frozenset({"building", "grid", "admin_area", "facility", "facility_type"})
"""What a coverage figure depends on: buildings and their households, grids, facilities and
the radii of the catalogue."""


def check_layer(session: Session, layer: TileLayer) -> None:
    """NotFoundError when ``layer`` names a facility type the catalogue does not hold."""
    if layer.type_code is None:
        return
    if layer.is_coverage:
        tables.check_type(session, layer.type_code)
        return
    exists = session.execute(
        text("SELECT 1 FROM facility_type WHERE code = :c"), {"c": layer.type_code}
    ).first()
    if exists is None:
        raise _not_found(layer.id)


def facility_type_codes(session: Session) -> list[str]:
    """The facility types of the catalogue, for the per-type collections."""
    return list(session.execute(text("SELECT code FROM facility_type ORDER BY code")).scalars())
