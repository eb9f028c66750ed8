"""Read queries behind the HTTP API and the web map.

Every list function returns a :class:`Page`: GeoJSON features (geometry in
WGS84 longitude/latitude, 7 decimals, about 1 cm) ready to serialise, and the
number of features matching the filters regardless of paging, so clients can
page with ``limit``/``offset``. Order is stable (by code, or by id) so that
pages never overlap or skip rows.

Areas and grids are versioned: by default only the versions in force now
(``valid_to IS NULL``) are returned; ``at`` asks for the versions in force on a
given date instead.

Phone numbers of staff are personal data: :func:`get_grid` returns them masked
(``170****1234``).
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ColumnElement, Row, Select, bindparam, cast, func, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, aliased

from gis.db.models import (
    CODE_LENGTH,
    GRID_CODE_LENGTH,
    SRID,
    AdminArea,
    AreaLevel,
    Building,
    Facility,
    FacilityType,
    Grid,
    Incident,
    Staff,
    StaffGrid,
)
from gis.errors import DatabaseUnavailableError, InvalidParameterError, NotFoundError
from gis.incidents.catalogue import (
    PERSONAL_CATEGORIES,
    UnknownCategoryError,
    category_by_name_zh,
    subclasses,
)
from gis.incidents.catalogue import category as catalogue_category
from gis.incidents.workflow import State

GEOJSON_DECIMALS = 7
"""Coordinate decimals in GeoJSON output: 1e-7 degrees is about 1 cm."""

Feature = dict[str, Any]
AnySelect = Select[*tuple[Any, ...]]


class BuildingGeometry(enum.StrEnum):
    """Which geometry a building feature carries."""

    POINT = "point"
    """Its ``location``: always known, small, enough for dots and counts."""
    FOOTPRINT = "footprint"
    """Its footprint (MultiPolygon) where known, else its point: what a zoomed-in map draws."""


@dataclass(frozen=True)
class BBox:
    """A WGS84 bounding box in degrees: west, south, east, north."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def as_list(self) -> list[float]:
        return [self.min_lon, self.min_lat, self.max_lon, self.max_lat]


@dataclass
class Page:
    """One page of features and how many features match in total."""

    features: list[Feature] = field(default_factory=list)
    number_matched: int = 0


_BBOX_HELP = (
    "Give bbox as four comma-separated numbers minLon,minLat,maxLon,maxLat in WGS84 "
    "degrees, e.g. bbox=119.10,36.68,119.25,36.75."
)


def parse_bbox(value: str | Sequence[float] | None) -> BBox | None:
    """A validated :class:`BBox` from ``"minLon,minLat,maxLon,maxLat"``, or None if absent.

    Longitudes must lie in -180..180 and latitudes in -90..90 degrees, and each
    minimum must be below its maximum (boxes across the antimeridian are not
    supported: no Chinese district needs them).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    parts: list[Any] = value.split(",") if isinstance(value, str) else list(value)
    if len(parts) != 4:
        raise InvalidParameterError(f"bbox has {len(parts)} values, expected 4. {_BBOX_HELP}")
    try:
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"bbox {value!r} contains something that is not a number. {_BBOX_HELP}"
        ) from None
    if not all(math.isfinite(n) for n in numbers):
        raise InvalidParameterError(f"bbox values must be finite numbers. {_BBOX_HELP}")
    box = BBox(*numbers)
    for name, lo, hi, limit in (
        ("longitude", box.min_lon, box.max_lon, 180.0),
        ("latitude", box.min_lat, box.max_lat, 90.0),
    ):
        if not (-limit <= lo <= limit and -limit <= hi <= limit):
            raise InvalidParameterError(
                f"bbox {name} values must lie in -{limit:g}..{limit:g} degrees; "
                f"got {lo:g} and {hi:g}. Was the order lat/lon instead of lon/lat? {_BBOX_HELP}"
            )
        if lo >= hi:
            raise InvalidParameterError(
                f"bbox minimum {name} {lo:g} is not below the maximum {hi:g}. {_BBOX_HELP}"
            )
    return box


def check_code(code: str, level: str) -> str:
    """``code`` if it has the digit layout of ``level`` (district .. grid), else a clear error."""
    lengths = {**{str(k): v for k, v in CODE_LENGTH.items()}, "grid": GRID_CODE_LENGTH}
    length = lengths[level]
    if not re.fullmatch(rf"[0-9]{{{length}}}", code):
        raise InvalidParameterError(
            f"{code!r} is not a {level} code: a {level} code has exactly {length} digits."
        )
    return code


def mask_phone(phone: str | None) -> str | None:
    """A phone number with all but the first 3 and last 4 digits hidden: 170****1234.

    Numbers too short to keep 7 digits visible safely are hidden entirely.
    """
    if phone is None:
        return None
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 10:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def _json_value(value: Any) -> Any:
    """Column values as JSON-ready values: dates as ISO 8601, decimals as floats."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _geojson(column: Any) -> ColumnElement[Any]:
    return cast(func.ST_AsGeoJSON(column, GEOJSON_DECIMALS), JSON)


def _intersects_bbox(column: Any, bbox: BBox) -> ColumnElement[bool]:
    """True geometric intersection with the box; ST_Intersects uses the GiST index (&&)."""
    envelope = func.ST_MakeEnvelope(*bbox.as_list(), SRID)
    return func.ST_Intersects(column, envelope)


def _in_force(model: type[AdminArea] | type[Grid], at: dt.date | None) -> ColumnElement[bool]:
    """Versions in force now (``at`` None) or on the date ``at``."""
    if at is None:
        return model.valid_to.is_(None)
    return (model.valid_from <= at) & or_(model.valid_to.is_(None), model.valid_to > at)


def _execute(session: Session, stmt: AnySelect, params: dict[str, Any] | None = None) -> list[Any]:
    try:
        return list(session.execute(stmt, params).all())
    except OperationalError as exc:
        raise DatabaseUnavailableError(
            f"The database stopped answering: {exc.orig}. Try again shortly."
        ) from exc


def _page(
    session: Session, stmt: AnySelect, order_by: Sequence[Any], limit: int, offset: int
) -> tuple[list[Any], int]:
    """Rows of one page and the total number of matching rows."""
    if limit < 0 or offset < 0:
        raise InvalidParameterError("limit and offset must not be negative.")
    total_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
    total = int(_execute(session, total_stmt)[0][0])
    if limit == 0 or offset >= total:
        return [], total
    rows = _execute(session, stmt.order_by(*order_by).limit(limit).offset(offset))
    return rows, total


def _feature(feature_id: Any, geometry: Any, properties: dict[str, Any]) -> Feature:
    return {
        "type": "Feature",
        "id": feature_id,
        "geometry": geometry,
        "properties": {k: _json_value(v) for k, v in properties.items()},
    }


def _features(rows: Sequence[Row[Any]], id_key: str, drop: tuple[str, ...] = ()) -> list[Feature]:
    """Rows with a ``geometry`` column (GeoJSON) as features identified by ``id_key``."""
    features = []
    for row in rows:
        props = row._asdict()
        geometry = props.pop("geometry")
        for key in drop:
            props.pop(key)
        features.append(_feature(getattr(row, id_key), geometry, props))
    return features


def list_areas(
    session: Session,
    *,
    level: AreaLevel | str | None = None,
    bbox: BBox | None = None,
    parent_code: str | None = None,
    at: dt.date | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> Page:
    """Districts, subdistricts and communities, ordered by code.

    Properties: ``code``, ``name``, ``level``, ``parent_code``, ``households``,
    ``population``, ``floating_population`` (people), ``valid_from``, ``valid_to``.
    """
    if level is not None:
        try:
            level = AreaLevel(level)
        except ValueError:
            choices = ", ".join(m.value for m in AreaLevel)
            raise InvalidParameterError(
                f"level {level!r} is unknown; use one of: {choices}."
            ) from None
    parent = aliased(AdminArea)
    stmt = (
        select(
            AdminArea.code,
            AdminArea.name,
            AdminArea.level,
            parent.code.label("parent_code"),
            AdminArea.households,
            AdminArea.population,
            AdminArea.floating_population,
            AdminArea.valid_from,
            AdminArea.valid_to,
            _geojson(AdminArea.geom).label("geometry"),
        )
        .outerjoin(parent, parent.id == AdminArea.parent_id)
        .where(_in_force(AdminArea, at))
    )
    if level is not None:
        stmt = stmt.where(AdminArea.level == level)
    if parent_code is not None:
        stmt = stmt.where(parent.code == parent_code)
    if bbox is not None:
        stmt = stmt.where(_intersects_bbox(AdminArea.geom, bbox))
    rows, total = _page(session, stmt, [AdminArea.code, AdminArea.valid_from], limit, offset)
    return Page(_features(rows, "code"), total)


def _grid_select(at: dt.date | None) -> AnySelect:
    community = aliased(AdminArea)
    return (
        select(
            Grid.id,
            Grid.code,
            Grid.name,
            community.code.label("community_code"),
            community.name.label("community_name"),
            Grid.households,
            Grid.population,
            Grid.valid_from,
            Grid.valid_to,
            _geojson(Grid.geom).label("geometry"),
        )
        .join(community, community.id == Grid.community_id)
        .where(_in_force(Grid, at))
    )


def list_grids(
    session: Session,
    *,
    bbox: BBox | None = None,
    community_code: str | None = None,
    at: dt.date | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> Page:
    """Unit grids, ordered by their 15-digit code.

    Properties: ``code``, ``name``, ``community_code``, ``community_name``,
    ``households``, ``population``, ``valid_from``, ``valid_to``.
    """
    stmt = _grid_select(at)
    if community_code is not None:
        check_code(community_code, "community")
        stmt = stmt.where(stmt.selected_columns.community_code == community_code)
    if bbox is not None:
        stmt = stmt.where(_intersects_bbox(Grid.geom, bbox))
    rows, total = _page(session, stmt, [Grid.code, Grid.valid_from], limit, offset)
    features = _features(rows, "code", drop=("id",))
    return Page(features, total)


def get_grid(session: Session, code: str, *, at: dt.date | None = None) -> Feature:
    """One grid as a GeoJSON feature with its community, staff and counts.

    Properties: those of :func:`list_grids` plus ``community`` and
    ``subdistrict`` (``{code, name}``; subdistrict None where that level was
    abolished), ``managers`` (``name``, ``role``, ``specialist_duty``,
    ``is_primary``, ``phone`` masked) and ``buildings_count``.
    """
    check_code(code, "grid")
    rows = _execute(session, _grid_select(at).where(Grid.code == code))
    if not rows:
        when = "now" if at is None else f"on {at.isoformat()}"
        raise NotFoundError(
            f"No grid with code {code} is in force {when}. "
            "List grids with GET /api/v1/grids to find valid codes."
        )
    grid = rows[0]
    subdistrict = aliased(AdminArea)
    community = aliased(AdminArea)
    parent_rows = _execute(
        session,
        select(subdistrict.code, subdistrict.name, subdistrict.level)
        .select_from(Grid)
        .join(community, community.id == Grid.community_id)
        .join(subdistrict, subdistrict.id == community.parent_id)
        .where(Grid.id == grid.id),
    )
    parent = parent_rows[0] if parent_rows else None
    staff_rows = _execute(
        session,
        select(Staff.name, Staff.role, Staff.specialist_duty, Staff.phone, StaffGrid.is_primary)
        .join(StaffGrid, StaffGrid.staff_id == Staff.id)
        .where(StaffGrid.grid_id == grid.id)
        .order_by(StaffGrid.is_primary.desc(), Staff.role, Staff.name, Staff.id),
    )
    buildings_count = _execute(
        session, select(func.count()).select_from(Building).where(Building.grid_id == grid.id)
    )[0][0]
    props = grid._asdict()
    geometry = props.pop("geometry")
    props.pop("id")
    props["community"] = {"code": grid.community_code, "name": grid.community_name}
    props["subdistrict"] = (
        {"code": parent.code, "name": parent.name}
        if parent is not None and parent.level == AreaLevel.SUBDISTRICT
        else None
    )
    props["managers"] = [
        {
            "name": s.name,
            "role": str(s.role),
            "specialist_duty": s.specialist_duty,
            "is_primary": s.is_primary,
            "phone": mask_phone(s.phone),
        }
        for s in staff_rows
    ]
    props["buildings_count"] = int(buildings_count)
    return _feature(grid.code, geometry, props)


def list_buildings(
    session: Session,
    *,
    bbox: BBox | None = None,
    grid_code: str | None = None,
    geometry: BuildingGeometry | str = BuildingGeometry.POINT,
    limit: int = 1000,
    offset: int = 0,
) -> Page:
    """Buildings, ordered by id, as points (their ``location``) or footprints.

    With ``geometry="footprint"`` a building with a known footprint comes as
    its MultiPolygon and one without as its point (``has_footprint`` tells
    which). ``bbox`` selects by the building's point either way, so the same
    box finds the same buildings and counts in both forms.

    Properties: ``id``, ``ext_id``, ``grid_code``, ``households``, ``floors``,
    ``name``, ``address``, ``has_footprint``.
    """
    try:
        geometry = BuildingGeometry(geometry)
    except ValueError:
        choices = ", ".join(m.value for m in BuildingGeometry)
        raise InvalidParameterError(
            f"geometry {geometry!r} is unknown; use one of: {choices}."
        ) from None
    shape = (
        Building.location
        if geometry is BuildingGeometry.POINT
        else func.coalesce(Building.footprint, Building.location)
    )
    stmt = select(
        Building.id,
        Building.ext_id,
        Grid.code.label("grid_code"),
        Building.households,
        Building.floors,
        Building.name,
        Building.address,
        Building.footprint.is_not(None).label("has_footprint"),
        _geojson(shape).label("geometry"),
    ).join(Grid, Grid.id == Building.grid_id)
    if grid_code is not None:
        check_code(grid_code, "grid")
        stmt = stmt.where(Grid.code == grid_code)
    if bbox is not None:
        stmt = stmt.where(_intersects_bbox(Building.location, bbox))
    rows, total = _page(session, stmt, [Building.id], limit, offset)
    return Page(_features(rows, "id"), total)


def list_facilities(
    session: Session,
    *,
    bbox: BBox | None = None,
    type_code: str | None = None,
    community_code: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> Page:
    """Service facilities as points, ordered by id.

    Properties: ``id``, ``ext_id``, ``type`` (facility-type code),
    ``type_name_zh``, ``name``, ``capacity``, ``floor_area_m2`` (m²),
    ``opening_hours``, ``address``, ``community_code``, ``radius_m`` (the
    type's service radius, metres).
    """
    community = aliased(AdminArea)
    stmt = (
        select(
            Facility.id,
            Facility.ext_id,
            Facility.type_code.label("type"),
            FacilityType.name_zh.label("type_name_zh"),
            Facility.name,
            Facility.capacity,
            Facility.floor_area_m2,
            Facility.opening_hours,
            Facility.address,
            community.code.label("community_code"),
            FacilityType.radius_m,
            _geojson(Facility.geom).label("geometry"),
        )
        .join(FacilityType, FacilityType.code == Facility.type_code)
        .outerjoin(community, community.id == Facility.community_id)
    )
    if type_code is not None:
        stmt = stmt.where(Facility.type_code == type_code)
    if community_code is not None:
        check_code(community_code, "community")
        stmt = stmt.where(community.code == community_code)
    if bbox is not None:
        stmt = stmt.where(_intersects_bbox(Facility.geom, bbox))
    rows, total = _page(session, stmt, [Facility.id], limit, offset)
    return Page(_features(rows, "id"), total)


def list_facility_types(
    session: Session,
    *,
    bbox: BBox | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> Page:
    """The facility-type catalogue as features without geometry, ordered by code.

    With ``bbox``, only the types that have at least one facility inside the
    box (what a map legend for that view needs). Properties: ``code``,
    ``name_zh``, ``name_en``, ``radius_m`` (service radius, metres),
    ``life_circle``, ``norm_source``, ``facilities`` (how many exist).
    """
    counts = (
        select(Facility.type_code, func.count().label("n")).group_by(Facility.type_code).subquery()
    )
    stmt = select(
        FacilityType.code,
        FacilityType.name_zh,
        FacilityType.name_en,
        FacilityType.radius_m,
        FacilityType.life_circle,
        FacilityType.norm_source,
        func.coalesce(counts.c.n, 0).label("facilities"),
    ).outerjoin(counts, counts.c.type_code == FacilityType.code)
    if bbox is not None:
        inside = (
            select(Facility.id)
            .where(Facility.type_code == FacilityType.code)
            .where(_intersects_bbox(Facility.geom, bbox))
            .exists()
        )
        stmt = stmt.where(inside)
    rows, total = _page(session, stmt, [FacilityType.code], limit, offset)
    return Page([_feature(row.code, None, row._asdict()) for row in rows], total)


class IncidentOrder(enum.StrEnum):
    """Orders of the incident list; each ends with the id so that pages are stable."""

    ID = "id"
    DEADLINE = "deadline"
    """Soonest deadline first (overdue cases lead), cases without a deadline last: a worklist."""
    NEWEST = "-reported_at"
    """Latest report first: what came in."""


OPEN_STATUSES = "open"
"""Status filter value that stands for every state of a case still in handling."""


def _status_values(status: str) -> list[str]:
    """Workflow states a comma-separated status filter names (``open``: all non-terminal)."""
    values: list[str] = []
    for part in (p.strip() for p in status.split(",")):
        if part == OPEN_STATUSES:
            values += [s.value for s in State if not s.is_terminal]
            continue
        try:
            values.append(State(part).value)
        except ValueError:
            raise InvalidParameterError(
                f"unknown status {part!r}; use one or more (comma-separated) of "
                f"{', '.join(s.value for s in State)}, or 'open' for every case still in handling"
            ) from None
    return values


def _category_values(category: str) -> list[str]:
    """Stored codes a category filter (a code or a Chinese name) matches: it and its subclasses."""
    by_name = category_by_name_zh(category)
    code = by_name.code if by_name is not None else category
    try:
        catalogue_category(code)
    except UnknownCategoryError as exc:
        raise InvalidParameterError(str(exc)) from None
    return [code, *(c.code for c in subclasses(code))]


def list_incidents(
    session: Session,
    *,
    bbox: BBox | None = None,
    status: str | None = None,
    category: str | None = None,
    grid_code: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    order: IncidentOrder | str = IncidentOrder.ID,
    personal: bool | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> Page:
    """Incidents as points.

    Filters: ``status`` (comma-separated workflow states, or ``open``),
    ``category`` (a code; a top-level class includes its subclasses),
    ``grid_code``, ``bbox``, and the report time in ``[start, end)`` (aware
    datetimes); ``personal=False`` leaves out the categories whose reports are
    personal data (disputes, petitions, help requests; what a map open to
    everyone must not pin), ``True`` keeps only them.

    Properties: ``id``, ``ext_id``, ``category``, ``status``,
    ``grid_code`` (None if the incident lies outside every grid), ``reported_at``
    and ``deadline_at`` (ISO 8601 with time zone; no deadline before dispatch),
    ``handling_level``, ``version`` (quote it when advancing the case),
    ``description``, ``source``.
    """
    try:
        order = IncidentOrder(order)
    except ValueError:
        raise InvalidParameterError(
            f"unknown order {order!r}; use one of {', '.join(o.value for o in IncidentOrder)}"
        ) from None
    for name, moment in (("start", start), ("end", end)):
        if moment is not None and moment.utcoffset() is None:
            raise InvalidParameterError(f"{name} {moment.isoformat()} has no time zone")
    if start is not None and end is not None and end <= start:
        raise InvalidParameterError(
            f"the period [{start.isoformat()}, {end.isoformat()}) is empty or reversed: "
            "end must be after start (the end itself is excluded)"
        )
    stmt = select(
        Incident.id,
        Incident.ext_id,
        Incident.category,
        Incident.status,
        Grid.code.label("grid_code"),
        Incident.reported_at,
        Incident.deadline_at,
        Incident.handling_level,
        Incident.version,
        Incident.description,
        Incident.source,
        _geojson(Incident.geom).label("geometry"),
    ).outerjoin(Grid, Grid.id == Incident.grid_id)
    if status is not None:
        stmt = stmt.where(Incident.status.in_(_status_values(status)))
    if category is not None:
        stmt = stmt.where(Incident.category.in_(_category_values(category)))
    if grid_code is not None:
        check_code(grid_code, "grid")
        stmt = stmt.where(Grid.code == grid_code)
    if bbox is not None:
        stmt = stmt.where(_intersects_bbox(Incident.geom, bbox))
    if personal is not None:
        codes = sorted(PERSONAL_CATEGORIES)
        stmt = stmt.where(
            Incident.category.in_(codes) if personal else Incident.category.not_in(codes)
        )
    if start is not None:
        stmt = stmt.where(Incident.reported_at >= start)
    if end is not None:
        stmt = stmt.where(Incident.reported_at < end)
    orders: dict[IncidentOrder, list[Any]] = {
        IncidentOrder.ID: [Incident.id],
        IncidentOrder.DEADLINE: [Incident.deadline_at.asc().nulls_last(), Incident.id],
        IncidentOrder.NEWEST: [Incident.reported_at.desc(), Incident.id.desc()],
    }
    order_by = orders[order]
    rows, total = _page(session, stmt, order_by, limit, offset)
    return Page(_features(rows, "id"), total)


@dataclass(frozen=True)
class IncidentPlace:
    """Codes of the areas an incident is routed to and its handler's name (None if unset)."""

    community_code: str | None
    subdistrict_code: str | None
    handler_name: str | None


def _incident_place_statement() -> AnySelect:
    community = aliased(AdminArea)
    subdistrict = aliased(AdminArea)
    return (
        select(
            community.code.label("community_code"),
            subdistrict.code.label("subdistrict_code"),
            Staff.name.label("handler_name"),
        )
        .select_from(Incident)
        .outerjoin(community, community.id == Incident.community_id)
        .outerjoin(subdistrict, subdistrict.id == Incident.subdistrict_id)
        .outerjoin(Staff, Staff.id == Incident.handler_staff_id)
        .where(Incident.id == bindparam("incident_id"))
    )


_INCIDENT_PLACE = _incident_place_statement()
"""Built once: making the two aliases took a quarter of a GET's time in the app."""


def incident_place(session: Session, incident_id: int) -> IncidentPlace:
    """The community and subdistrict codes and handler name of an incident; NotFoundError."""
    rows = _execute(session, _INCIDENT_PLACE, {"incident_id": incident_id})
    if not rows:
        raise NotFoundError(f"no incident has id {incident_id}")
    return IncidentPlace(*rows[0])


def current_grid_geometries(session: Session, codes: Sequence[str]) -> dict[str, Any]:
    """GeoJSON geometry (EPSG:4326) of each current grid among ``codes``, by code."""
    stmt = select(Grid.code, _geojson(Grid.geom)).where(
        Grid.code.in_(list(codes)), _in_force(Grid, None)
    )
    return {code: geometry for code, geometry in _execute(session, stmt)}


__all__ = [
    "GEOJSON_DECIMALS",
    "BBox",
    "BuildingGeometry",
    "Feature",
    "IncidentPlace",
    "Page",
    "check_code",
    "current_grid_geometries",
    "get_grid",
    "incident_place",
    "list_areas",
    "list_buildings",
    "list_facilities",
    "list_facility_types",
    "list_grids",
    "list_incidents",
    "mask_phone",
    "parse_bbox",
]
