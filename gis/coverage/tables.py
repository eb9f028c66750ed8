"""Coverage of one facility type as SQL selectables: per building, per grid, blind spots.

The OGC Features collections, the vector tiles and the exports filter, page and
tile coverage in PostGIS, so each table here is a ``Select`` with an ``id``, a
WGS84 ``geom`` and its figures as columns. A caller wraps it as a subquery and
adds its own ``WHERE`` (bbox, CQL2), ``ORDER BY`` and ``LIMIT``; PostgreSQL
flattens the subquery and pushes those conditions down to the GiST index of
``building.location`` or ``grid.geom`` (see ``docs/coverage.md``, "Coverage in
SQL", for the plans and timings).

The figures are the numeric core's (``gis.coverage.core``), computed in SQL with
its own distance: both ends projected onto the district's CGCS2000
Gauss-Krüger plane (the zone of the current grids' centre, as
``gis.areas.hierarchy.load_areas`` picks it), the plane distance divided by the
mean point scale factor of its ends. So ``covered`` and the grids' rates equal
``gis.coverage.report``'s exactly, and ``nearest_m`` agrees to well under a
millimetre (PROJ in PostGIS and in pyproj run the same algorithm). Radii come
from the ``facility_type`` table; nothing here caches, so a facility added in
the caller's transaction changes the answer at once.

The spatial indexes do the searching, in degrees, with bounds proved wide
enough for the metric test that follows (a degree spans 110,574 m or more
north-south and 110,574·cos φ m or more east-west; at most 111,694 m in any
direction):

* a building's nearest facility: the nearest by degrees through the GiST KNN
  operator (``<->``), then every facility within that degree distance times
  1.012 / cos φ (``ST_DWithin``, index), ranked by true metres;
* within the radius r (the grids' roll-ups): the facilities within
  r / (110,574 · cos φ) degrees of the grid (``ST_DWithin``, index), once per
  grid; each building of the grid tested against them in metres.

The per-building work sits in one aggregate ``LEFT JOIN LATERAL`` (one row per
building), which PostgreSQL drops from a query that never reads its columns,
so counting a filtered selection costs no distance computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import shapely
from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    Integer,
    LargeBinary,
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    false,
    func,
    literal,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from gis.coverage.catalogue import facility_type
from gis.coverage.geometry import blind_spots
from gis.coverage.report import area_rollups
from gis.coverage.store import CoverageModel
from gis.db.models import SRID, AdminArea, Building, Facility, FacilityType, Grid
from gis.db.select import AnySelect
from gis.errors import InvalidParameterError, NotFoundError
from gis.geo.metric import EARTH_RADIUS_M, FALSE_EASTING, FIRST_ZONE_CM, FIRST_ZONE_EPSG
from gis.lang import Texts

METRES_PER_DEGREE_MIN = 110_574.0
"""Fewest metres a degree of latitude spans (at the equator, GRS80); a degree of
longitude spans at least this times cos φ."""
METRES_PER_DEGREE_MAX = 111_694.0
"""Most metres a degree of latitude or longitude spans anywhere (GRS80)."""
METRIC_MARGIN = 1.001
"""Relative slack for the plane-to-true correction and rounding (they differ by < 1e-5)."""
NEAREST_FACTOR = METRES_PER_DEGREE_MAX / METRES_PER_DEGREE_MIN * METRIC_MARGIN


class Column(NamedTuple):
    """A property column of a coverage select, for collection and queryable listings."""

    name: str
    json_type: str  # string | integer | number | boolean
    title: Texts


BUILDING_COLUMNS: tuple[Column, ...] = (
    Column("grid_code", "string", Texts("网格编码", "Grid code")),
    Column("community_code", "string", Texts("社区编码", "Community code")),
    Column("households", "integer", Texts("户数", "Households")),
    Column("covered", "boolean", Texts("在服务半径内", "Within the service radius")),
    Column("nearest_facility_id", "integer", Texts("最近设施编号", "Nearest facility id")),
    Column("nearest_m", "number", Texts("至最近设施距离（米）", "Distance to the nearest (m)")),
)
"""The properties of ``buildings_select`` besides ``id`` and ``geom``."""

GRID_COLUMNS: tuple[Column, ...] = (
    Column("code", "string", Texts("网格编码", "Grid code")),
    Column("name", "string", Texts("网格名称", "Grid name")),
    Column("community_code", "string", Texts("社区编码", "Community code")),
    Column("households", "integer", Texts("户数", "Households")),
    Column("covered_households", "integer", Texts("覆盖户数", "Households covered")),
    Column("buildings", "integer", Texts("楼栋数", "Buildings")),
    Column("covered_buildings", "integer", Texts("覆盖楼栋数", "Buildings covered")),
    Column("coverage_rate", "number", Texts("覆盖率（0-1）", "Coverage rate (0-1)")),
)
"""The properties of ``grids_select`` besides ``id`` and ``geom``."""

BLIND_SPOT_COLUMNS: tuple[Column, ...] = (
    Column("community_code", "string", Texts("社区编码", "Community code")),
    Column("community_name", "string", Texts("社区名称", "Community name")),
    Column("part", "integer", Texts("片区序号（1 为最大）", "Part (1 = largest)")),
    Column("area_m2", "number", Texts("面积（平方米）", "Area (m²)")),
    Column("households", "integer", Texts("户数", "Households")),
    Column("buildings_uncovered", "integer", Texts("未覆盖楼栋数", "Buildings uncovered")),
)
"""The properties of ``blind_spots_select`` besides ``id`` (``<community_code>-<part>``) and
``geom``."""


# --------------------------------------------------------------------------- the metric


def _zone_srid() -> ColumnElement[int]:
    """EPSG code of the Gauss-Krüger zone of the current grids' centre (as ``load_areas``)."""
    extent = func.ST_Extent(Grid.geom)
    centre = (func.ST_XMin(extent, type_=Float) + func.ST_XMax(extent, type_=Float)) / 2.0
    zone = cast(func.round(centre / 3.0), Integer)
    srid = FIRST_ZONE_EPSG + zone - FIRST_ZONE_CM // 3
    return (
        select(cast(srid, Integer)).where(Grid.valid_to.is_(None)).scalar_subquery().label("srid")
    )


def _true_metres(bx: Any, by: Any, fx: Any, fy: Any) -> ColumnElement[float]:
    """``gis.coverage.core.true_distance`` in SQL: plane metres over the mean scale factor."""
    plane = func.sqrt(func.power(bx - fx, 2) + func.power(by - fy, 2), type_=Float)
    k_sum = 2.0 + (
        func.power(bx - FALSE_EASTING, 2, type_=Float)
        + func.power(fx - FALSE_EASTING, 2, type_=Float)
    ) / (2.0 * EARTH_RADIUS_M**2)
    return type_coerce(plane * 2.0 / k_sum, Float)


FLAT_MARGIN = 1.01
"""How far the flat-earth estimate of ``_within_radius`` may be off, relative (it is
within 0.7 % for any distance up to the largest radius, 50 km)."""


def _within_radius(a: Any, b: Any, kind: Any) -> ColumnElement[bool]:
    """Points ``a`` and ``b`` (WGS84) lie within the type's radius, in the core's metres.

    A flat-earth estimate (mid-latitude cosine, a mean metres-per-degree)
    decides the pairs clearly inside or outside; only those within 1 % of the
    radius are projected and measured as the core measures them.
    """
    ax, ay, bx, by = func.ST_X(a), func.ST_Y(a), func.ST_X(b), func.ST_Y(b)
    east = (ax - bx) * 111_320.0 * func.cos(func.radians((ay + by) / 2.0, type_=Float))
    north = (ay - by) * 110_950.0
    estimate = func.sqrt(east * east + north * north, type_=Float)
    pa = func.ST_Transform(a, kind.c.srid)
    pb = func.ST_Transform(b, kind.c.srid)
    exact = _true_metres(func.ST_X(pa), func.ST_Y(pa), func.ST_X(pb), func.ST_Y(pb))
    r = kind.c.radius_m
    return case(
        (estimate <= r / FLAT_MARGIN, true()),
        (estimate > r * FLAT_MARGIN, false()),
        else_=exact <= r,
    )


def _degrees_within(metres: Any, lat: Any) -> ColumnElement[float]:
    """Degrees that surely reach ``metres`` true metres from a point at latitude ``lat``."""
    margin = metres / 50_000.0  # how far north the search can go, degrees (generous)
    return type_coerce(
        metres * METRIC_MARGIN / (METRES_PER_DEGREE_MIN * _cos_deg(func.abs(lat) + margin)), Float
    )


def _cos_deg(phi: Any) -> ColumnElement[float]:
    """cos φ for φ in degrees, φ capped short of the pole."""
    return func.cos(func.radians(func.least(phi, 89.9), type_=Float), type_=Float)


def _type_row(type_code: str) -> Any:
    """One row: the type's code, radius (m), the plane's SRID and whether it has any
    facility; no row for an unknown type."""
    any_facility = select(Facility.id).where(Facility.type_code == FacilityType.code).exists()
    return (
        select(
            FacilityType.code.label("code"),
            cast(FacilityType.radius_m, Float).label("radius_m"),
            _zone_srid(),
            any_facility.label("has_facilities"),
        )
        .where(FacilityType.code == literal(type_code, Text))
        .subquery("coverage_type")
    )


def check_type(session: Session, type_code: str) -> None:
    """Raise ``NotFoundError`` (English and Chinese) unless ``type_code`` is a stored type."""
    facility_type(session, type_code, NotFoundError)


# --------------------------------------------------------------------------- per building


def buildings_select(type_code: str, session: Session | None = None) -> AnySelect:
    """Every building of a current grid with its coverage by ``type_code``.

    Columns: ``id``, ``geom`` (WGS84 point), ``grid_code``, ``community_code``,
    ``households``, ``covered`` (a facility of the type within its catalogue
    radius, true metres), ``nearest_facility_id`` and ``nearest_m`` (true metres;
    both NULL when the type has no facility). With ``session`` an unknown type
    is a ``NotFoundError``; without one it selects no rows.
    """
    if session is not None:
        check_type(session, type_code)
    kind = _type_row(type_code)
    b = aliased(Building, name="b")
    g = aliased(Grid, name="g")
    c = aliased(AdminArea, name="c")
    nearest = _nearest_lateral(b, kind)
    return (
        select(
            b.id.label("id"),
            b.location.label("geom"),
            g.code.label("grid_code"),
            c.code.label("community_code"),
            b.households.label("households"),
            func.coalesce(nearest.c.nearest_m <= kind.c.radius_m, false()).label("covered"),
            nearest.c.nearest_facility_id.label("nearest_facility_id"),
            nearest.c.nearest_m.label("nearest_m"),
        )
        .select_from(b)
        .join(g, and_(g.id == b.grid_id, g.valid_to.is_(None)))
        .join(c, c.id == g.community_id)
        .join(kind, true())
        .outerjoin(nearest, true())
    )


def _nearest_lateral(b: Any, kind: Any) -> Any:
    """One row per building: its nearest facility of the type and the true metres to it.

    An aggregate without GROUP BY, so always exactly one row: PostgreSQL removes
    the join when nothing reads it.
    """
    f0 = aliased(Facility, name="f0")
    knn = (
        select(f0.geom.distance_centroid(b.location))
        .where(f0.type_code == kind.c.code)
        .order_by(f0.geom.distance_centroid(b.location))
        .limit(1)
        .correlate(b, kind)
        .scalar_subquery()
    )
    # OFFSET 0 keeps each projection a single call per point (no flattening).
    here = (
        select(
            func.ST_Transform(b.location, kind.c.srid).label("p"),
            # A type without facilities would have the KNN scan walk every facility.
            case((kind.c.has_facilities, type_coerce(knn, Float)), else_=None).label("g0"),
        )
        .correlate(b, kind)
        .offset(0)
        .lateral("here")
    )
    f = aliased(Facility, name="f")
    there = (
        select(func.ST_Transform(f.geom, kind.c.srid).label("q"))
        .correlate(f, kind)
        .offset(0)
        .lateral("there")
    )
    lat = func.ST_Y(b.location)
    reach = here.c.g0 * NEAREST_FACTOR / _cos_deg(func.abs(lat) + 2 * here.c.g0)
    d = _true_metres(
        func.ST_X(here.c.p), func.ST_Y(here.c.p), func.ST_X(there.c.q), func.ST_Y(there.c.q)
    )
    candidates = (
        select(f.id.label("fid"), d.label("d"))
        .select_from(here)
        .join(f, and_(f.type_code == kind.c.code, func.ST_DWithin(f.geom, b.location, reach)))
        .join(there, true())
        .correlate(b, kind)
        .subquery("candidate")
    )
    ranked = aggregate_order_by(candidates.c.fid, candidates.c.d, candidates.c.fid)
    first = func.array_agg(ranked)[1]
    return select(
        type_coerce(first, Integer).label("nearest_facility_id"),
        func.min(candidates.c.d).label("nearest_m"),
    ).lateral("nearest")


# --------------------------------------------------------------------------- per grid


def grids_select(
    type_code: str, session: Session | None = None, *, model: CoverageModel | None = None
) -> AnySelect:
    """Every grid in force with its coverage by ``type_code`` (``report.area_rollups``).

    Columns: ``id``, ``code``, ``name``, ``community_code``, ``geom`` (WGS84
    multipolygon), ``households`` and ``buildings`` (its current buildings),
    ``covered_households``, ``covered_buildings`` (a facility of the type within
    the catalogue radius) and ``coverage_rate`` (households covered over
    households, 0-1; NULL for a grid without households, where the report has NaN).

    Computed in SQL per grid (each grid's buildings, each tested against the
    facilities within reach), or, given ``model`` (the live cache's, which
    follows committed changes), its roll-up bound as arrays: a whole city's grids
    at once in milliseconds, for a map at district zoom.
    """
    if session is not None:
        check_type(session, type_code)
    kind = _type_row(type_code)
    g = aliased(Grid, name="g")
    c = aliased(AdminArea, name="c")
    if model is None:
        figures = _figures_in_sql(g, kind)
        on: ColumnElement[bool] = true()
    else:
        figures = _figures_of_model(model, type_code)
        on = figures.c.code == g.code
    households = cast(figures.c.households, BigInteger)
    covered_hh = cast(figures.c.covered_hh, BigInteger)
    return (
        select(
            g.id.label("id"),
            g.code.label("code"),
            g.name.label("name"),
            c.code.label("community_code"),
            g.geom.label("geom"),
            households.label("households"),
            covered_hh.label("covered_households"),
            cast(figures.c.buildings, BigInteger).label("buildings"),
            cast(figures.c.covered_buildings, BigInteger).label("covered_buildings"),
            (
                cast(covered_hh, Float) / func.nullif(cast(households, Float), 0.0, type_=Float)
            ).label("coverage_rate"),
        )
        .select_from(g)
        .join(c, c.id == g.community_id)
        .join(kind, true())
        .join(figures, on)
        .where(g.valid_to.is_(None))
    )


def _figures_in_sql(g: Any, kind: Any) -> Any:
    """Per grid (a lateral): households and buildings, all and covered.

    The facilities within reach of the grid are looked up once (GiST index)
    and kept as an array; each of the grid's buildings is tested against that
    handful (``_within_radius``), stopping at the first that covers it.
    """
    f = aliased(Facility, name="f")
    # The grid's farthest latitude from the equator, so the reach (and the index) holds for
    # every facility around it.
    lat = func.greatest(func.abs(func.ST_YMin(g.geom)), func.abs(func.ST_YMax(g.geom)))
    reach = _degrees_within(kind.c.radius_m, lat)
    nearby = (
        select(func.array_agg(f.geom).label("facilities"))
        .where(f.type_code == kind.c.code, func.ST_DWithin(f.geom, g.geom, reach))
        .correlate(g, kind)
        .subquery("nearby")
    )
    b = aliased(Building, name="b")
    one = func.unnest(nearby.c.facilities).table_valued("geom").render_derived(name="one")
    covered = (
        select(literal(1))
        .select_from(one)
        .where(_within_radius(b.location, one.c.geom, kind))
        .correlate(b, kind)
        .exists()
    )
    flags = (
        select(b.households.label("hh"), covered.label("covered"))
        .where(b.grid_id == g.id)
        .correlate(g, nearby, kind)
        .offset(0)  # each building's test once, though two sums read it
        .lateral("flag")
    )
    return (
        select(
            func.coalesce(func.sum(flags.c.hh), 0).label("households"),
            func.count().label("buildings"),
            func.coalesce(func.sum(flags.c.hh).filter(flags.c.covered), 0).label("covered_hh"),
            func.count().filter(flags.c.covered).label("covered_buildings"),
        )
        .select_from(nearby)
        .join(flags, true())
        .correlate(g, kind)
        .lateral("figures")
    )


def _figures_of_model(model: CoverageModel, type_code: str) -> Any:
    """Per grid code: the model's grid roll-up, bound as arrays."""
    if model.type_code != type_code:
        raise InvalidParameterError(f"the model is of {model.type_code!r}, not {type_code!r}")
    rollups = area_rollups(model, "grid")
    columns: Sequence[tuple[str, Any, list[Any]]] = (
        ("code", Text, [str(x) for x in rollups["code"]]),
        ("households", BigInteger, [int(x) for x in rollups["households"]]),
        ("buildings", BigInteger, [int(x) for x in rollups["buildings"]]),
        ("covered_hh", BigInteger, [int(x) for x in rollups["households_covered"]]),
        ("covered_buildings", BigInteger, [int(x) for x in rollups["buildings_covered"]]),
    )
    return _unnest(columns, "figures")


def _unnest(columns: Sequence[tuple[str, Any, list[Any]]], name: str) -> Any:
    """Rows from one bound array per column (a table of any length, empty included)."""
    return (
        func.unnest(*[bindparam(None, values, type_=ARRAY(kind)) for _, kind, values in columns])
        .table_valued(*[column(name, kind) for name, kind, _ in columns])
        .render_derived(name=name)
    )


# --------------------------------------------------------------------------- from a model


def model_buildings_select(model: CoverageModel) -> AnySelect:
    """Every building of ``model`` with the model's figures, bound as arrays.

    The columns of ``buildings_select`` (``BUILDING_COLUMNS``) for coverage SQL
    cannot compute: walks over the network (``model.method == "network"``:
    ``nearest_m`` is then walking metres, ``covered`` within a walk of the
    radius). ``nearest_m`` and ``nearest_facility_id`` are NULL where no
    facility is reached.
    """
    b, index, areas = model.buildings, model.index, model.areas
    nearest_id = index.nearest_facility_id
    finite = np.isfinite(index.nearest_m)
    grid_codes = np.asarray(areas.grid_codes, dtype=object)
    community_codes = np.asarray(areas.community_codes, dtype=object)
    columns: Sequence[tuple[str, Any, list[Any]]] = (
        ("id", BigInteger, b.ids.tolist()),
        ("grid_code", Text, grid_codes[b.grid].tolist() if len(b.ids) else []),
        (
            "community_code",
            Text,
            community_codes[areas.community_of_grid[b.grid]].tolist() if len(b.ids) else [],
        ),
        ("households", BigInteger, index.households.tolist()),
        ("covered", Boolean, index.covered.tolist()),
        (
            "nearest_facility_id",
            BigInteger,
            [int(f) if ok else None for f, ok in zip(nearest_id.tolist(), finite, strict=True)],
        ),
        (
            "nearest_m",
            Float,
            [
                float(d) if ok else None
                for d, ok in zip(index.nearest_m.tolist(), finite, strict=True)
            ],
        ),
    )
    rows = _unnest(columns, "walk")
    bb = aliased(Building, name="b")
    return (
        select(
            rows.c.id,
            bb.location.label("geom"),
            *[rows.c[name] for name, _, _ in columns[1:]],
        )
        .select_from(rows)
        .join(bb, bb.id == rows.c.id)
    )


# --------------------------------------------------------------------------- blind spots


def blind_spots_select(
    session: Session, type_code: str, *, model: CoverageModel | None = None
) -> AnySelect:
    """The blind spots of ``type_code`` (``gis.coverage.geometry.blind_spots``) as a select.

    Computed now, in the session's snapshot (or from ``model``), and bound as
    arrays: columns ``id`` (``<community_code>-<part>``), ``geom`` (WGS84
    multipolygon) and ``BLIND_SPOT_COLUMNS``. An unknown type is a ``NotFoundError``.
    """
    check_type(session, type_code)
    spots = blind_spots(session.connection(), type_code, model=model)
    multi = [
        shapely.to_wkb(g if g.geom_type == "MultiPolygon" else shapely.multipolygons([g]))
        for g in spots.geometry
    ]
    codes = [str(x) for x in spots["community_code"]]
    parts = [int(x) for x in spots["part"]]
    columns: Sequence[tuple[str, Any, list[Any]]] = (
        ("id", Text, [f"{code}-{part}" for code, part in zip(codes, parts, strict=True)]),
        ("wkb", LargeBinary, multi),
        ("community_code", Text, codes),
        ("community_name", Text, [str(x) for x in spots["community_name"]]),
        ("part", Integer, parts),
        ("area_m2", Float, [float(x) for x in spots["area_m2"]]),
        ("households", BigInteger, [int(x) for x in np.asarray(spots["households"])]),
        ("buildings_uncovered", BigInteger, [int(x) for x in spots["buildings_uncovered"]]),
    )
    rows = _unnest(columns, "blind_spot")
    return select(
        rows.c.id,
        func.ST_GeomFromWKB(rows.c.wkb, SRID).label("geom"),
        *[rows.c[name] for name, _, _ in columns[2:]],
    )
