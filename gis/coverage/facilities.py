"""Service facilities: open, change or move, close, and read them.

Planners and other systems change facilities through the API; this module is
where those writes meet the database. Every point is stored in WGS84: a
caller sending GCJ-02 (phones, Amap) or BD-09 (Baidu) names the datum and the
point is converted here (``gis.geo.datum``), never guessed. A facility must lie
inside the current district boundary: a point outside it is almost always a
datum or lon/lat mix-up, so it is refused with the distance to the boundary
rather than stored. The community is assigned by point-in-polygon and kept in
step when the facility moves.

Each facility has a ``version`` the database raises with every change
(migration 0006). A write may name the version it was based on
(``expected_version``); the row is locked first, so of two writers that read
the same version exactly one succeeds and the other gets StaleVersionError.

Nothing here commits: the caller owns the transaction. Coverage caches learn
of the change from the database's own notifications once it commits (see the
migration ``0002_coverage_notifications`` and ``gis.coverage.live``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, aliased

from gis.areas.codes import Level, check_code
from gis.areas.routing import covering_community, current_district, outside_district
from gis.coverage.catalogue import facility_type
from gis.db.models import AdminArea, Facility, FacilityType
from gis.db.select import AnySelect, execute, features, geojson_column, intersects_bbox, paged
from gis.errors import InvalidFeatureError, NoDistrictError, NotFoundError, StaleVersionError
from gis.geo.datum import WGS84, Datum, to_storage_point
from gis.geo.geojson import BBox, Feature, Page, feature

WRITABLE_FIELDS = (
    "type_code",
    "name",
    "capacity",
    "floor_area_m2",
    "opening_hours",
    "address",
    "ext_id",
)
"""Columns a write may set besides the position."""

_FIELD = {"type_code": "type", "name": "name"}
"""Column → the field name callers use."""
MAX_TEXT = 500
"""Characters allowed in a name, address or opening-hours text."""
MAX_FLOOR_AREA_M2 = 999_999_999.9
"""The column holds NUMERIC(10, 1)."""


def _place(session: Session, lon: float, lat: float, datum: Datum) -> int | None:
    """The community containing the WGS84 point, after checking it lies in the district.

    Refuses a point outside the current district with the distance (metres)
    to its boundary and what to check about ``datum`` (the one it was sent
    in); a point in the district but in no community gets None.
    """
    point = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
    row = session.execute(
        text(
            f"""
            WITH d AS ({current_district(point)})
            SELECT d.code, d.name, ST_Covers(d.geom, {point}) AS inside,
                   ST_Distance(d.geom::geography, ({point})::geography) AS distance_m,
                   ({covering_community(point)}) AS community_id
            FROM d
            """
        ),
        {"lon": lon, "lat": lat},
    ).first()
    if row is None:
        raise NoDistrictError(
            "no district boundary is loaded, so a facility cannot be placed: "
            "run `gridmap demo` or import the district first"
        )
    if not row.inside:
        raise outside_district(lon, lat, row.distance_m, row.name, row.code, datum)
    return int(row.community_id) if row.community_id is not None else None


def _check_fields(session: Session, values: Mapping[str, Any]) -> None:
    """Refuse values the database would refuse too, but with a sentence a caller can act on."""
    if "type_code" in values:
        facility_type(session, str(values["type_code"]), InvalidFeatureError)
    if "name" in values:
        name = values["name"]
        if not isinstance(name, str) or not name.strip():
            raise InvalidFeatureError("name must be a non-empty text, e.g. 东苑社区卫生服务站")
    for key in ("name", "opening_hours", "address", "ext_id"):
        value = values.get(key)
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise InvalidFeatureError(f"{key} is longer than {MAX_TEXT} characters")
    capacity = values.get("capacity")
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int)):
        raise InvalidFeatureError(f"capacity must be a whole number of places, got {capacity!r}")
    if capacity is not None and not 0 <= capacity <= 2_000_000_000:
        raise InvalidFeatureError(f"capacity must be 0 or more places, got {capacity}")
    area = values.get("floor_area_m2")
    if area is not None:
        if isinstance(area, bool) or not isinstance(area, int | float) or not math.isfinite(area):
            raise InvalidFeatureError(f"floor_area_m2 must be a number of m², got {area!r}")
        if not 0 < area <= MAX_FLOOR_AREA_M2:
            raise InvalidFeatureError(f"floor_area_m2 must be above 0 m², got {area:g}")


def create_facility(
    session: Session,
    *,
    lon: float,
    lat: float,
    datum: Datum = WGS84,
    values: Mapping[str, Any],
) -> int:
    """Insert a facility at (lon, lat) degrees in ``datum`` and return its id.

    ``values`` holds ``type_code`` and ``name`` (required) and any of the other
    :data:`WRITABLE_FIELDS`. Capacity counts places (beds, children, seats);
    ``floor_area_m2`` is in square metres.
    """
    for required in ("type_code", "name"):
        if values.get(required) is None:
            raise InvalidFeatureError(f"{_FIELD[required]} is required for a new facility")
    unknown = set(values) - set(WRITABLE_FIELDS)
    if unknown:
        raise InvalidFeatureError(f"cannot set {', '.join(sorted(unknown))}")
    _check_fields(session, values)
    lon, lat = to_storage_point(lon, lat, datum)
    community_id = _place(session, lon, lat, datum)
    columns = dict(values)
    columns["community_id"] = community_id
    names = ", ".join(columns)
    params = ", ".join(f":{c}" for c in columns)
    return int(
        session.execute(
            text(
                f"INSERT INTO facility ({names}, geom) "
                f"VALUES ({params}, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"
            ),
            {**columns, "lon": lon, "lat": lat},
        ).scalar_one()
    )


def update_facility(
    session: Session,
    facility_id: int,
    *,
    values: Mapping[str, Any],
    lon: float | None = None,
    lat: float | None = None,
    datum: Datum = WGS84,
    expected_version: int | None = None,
) -> None:
    """Change a facility's fields and/or move it to (lon, lat) degrees in ``datum``.

    Moving re-assigns the community. A field present in ``values`` with the
    value None clears it (except ``type_code`` and ``name``, which are required).
    With ``expected_version``, a facility changed since (at another version)
    is left alone and StaleVersionError says its current version; None
    writes whatever is stored (the caller chose to). A change with nothing to
    set leaves the version as it is.
    """
    _lock(session, facility_id, expected_version)
    unknown = set(values) - set(WRITABLE_FIELDS)
    if unknown:
        raise InvalidFeatureError(f"cannot set {', '.join(sorted(unknown))}")
    for required in ("type_code", "name"):
        if required in values and values[required] is None:
            raise InvalidFeatureError(f"{_FIELD[required]} cannot be cleared")
    _check_fields(session, values)
    sets = [f"{c} = :{c}" for c in values]
    params: dict[str, Any] = {**values, "id": facility_id}
    if (lon is None) != (lat is None):
        raise InvalidFeatureError("a move needs both lon and lat")
    if lon is not None and lat is not None:
        lon, lat = to_storage_point(lon, lat, datum)
        params.update(lon=lon, lat=lat, community_id=_place(session, lon, lat, datum))
        sets += [
            "geom = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)",
            "community_id = :community_id",
        ]
    if sets:
        session.execute(text(f"UPDATE facility SET {', '.join(sets)} WHERE id = :id"), params)


def delete_facility(
    session: Session, facility_id: int, *, expected_version: int | None = None
) -> None:
    """Remove a facility (closed for good); coverage falls back to the next nearest one.

    ``expected_version`` as in :func:`update_facility`.
    """
    _lock(session, facility_id, expected_version)
    session.execute(text("DELETE FROM facility WHERE id = :id"), {"id": facility_id})


def _lock(session: Session, facility_id: int, expected_version: int | None) -> int:
    """Lock the facility's row until the transaction ends and check the version read.

    The lock makes the check and the write one step: a concurrent writer waits
    here and then sees the version the first one left.
    """
    version = session.execute(
        text("SELECT version FROM facility WHERE id = :id FOR UPDATE"), {"id": facility_id}
    ).scalar()
    if version is None:
        raise NotFoundError(
            f"no facility has id {facility_id}; list them with GET /api/v1/facilities"
        )
    if expected_version is not None and version != expected_version:
        raise StaleVersionError(facility_id, expected_version, int(version), thing="facility")
    return int(version)


def get_facility(session: Session, facility_id: int) -> Feature:
    """One facility as a GeoJSON feature with the properties of :func:`list_facilities`."""
    rows = execute(session, _facility_select().where(Facility.id == facility_id))
    if not rows:
        raise NotFoundError(
            f"no facility has id {facility_id}; list them with GET /api/v1/facilities"
        )
    return features(rows, "id")[0]


def _facility_select() -> AnySelect:
    community = aliased(AdminArea)
    return (
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
            Facility.version,
            geojson_column(Facility.geom).label("geometry"),
        )
        .join(FacilityType, FacilityType.code == Facility.type_code)
        .outerjoin(community, community.id == Facility.community_id)
    )


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
    type's service radius, metres), ``version`` (quote it when changing the
    facility).
    """
    stmt = _facility_select()
    if type_code is not None:
        stmt = stmt.where(Facility.type_code == type_code)
    if community_code is not None:
        check_code(community_code, Level.COMMUNITY)
        stmt = stmt.where(stmt.selected_columns.community_code == community_code)
    if bbox is not None:
        stmt = stmt.where(intersects_bbox(Facility.geom, bbox))
    rows, total = paged(session, stmt, [Facility.id], limit, offset)
    return Page(features(rows, "id"), total)


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
            .where(intersects_bbox(Facility.geom, bbox))
            .exists()
        )
        stmt = stmt.where(inside)
    rows, total = paged(session, stmt, [FacilityType.code], limit, offset)
    return Page([feature(row.code, None, row._asdict()) for row in rows], total)


def facility_points(session: Session, *, decimals: int = 5) -> list[Feature]:
    """Every facility as a light point for a map, ordered by id: properties ``id``,
    ``type`` (facility-type code) and ``name``; coordinates with ``decimals`` decimals
    (5: about 1 m). The rest of a facility is one ``get_facility`` away."""
    rows = session.execute(
        text(
            "SELECT id, type_code, name, ST_X(geom) AS lon, ST_Y(geom) AS lat "
            "FROM facility ORDER BY id"
        )
    ).all()
    return [
        {
            "type": "Feature",
            "id": r.id,
            "geometry": {
                "type": "Point",
                "coordinates": [round(r.lon, decimals), round(r.lat, decimals)],
            },
            "properties": {"id": r.id, "type": r.type_code, "name": r.name},
        }
        for r in rows
    ]
