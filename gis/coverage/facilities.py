"""Writing service facilities: create, move or change, delete; and the type catalogue.

Planners and other systems change facilities through the API; this module is
where those writes meet the database. Every point is stored in WGS84: a
caller sending GCJ-02 (phones, Amap) or BD-09 (Baidu) names the datum and the
point is converted here (``gis.geo.datum``), never guessed. A facility must lie
inside the current district boundary: a point outside it is almost always a
datum or lon/lat mix-up, so it is refused with the distance to the boundary
rather than stored. The community is assigned by point-in-polygon and kept in
step when the facility moves.

Nothing here commits: the caller owns the transaction. Coverage caches learn
of the change from the database's own notifications once it commits (see the
migration ``0002_coverage_notifications`` and ``gis.coverage.live``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from gis.areas.queries import GEOJSON_DECIMALS, Feature
from gis.errors import (
    InvalidFeatureError,
    InvalidParameterError,
    NoDistrictError,
    NotFoundError,
    OutsideDistrictError,
)
from gis.geo.datum import UnknownDatumError, parse_datum, to_wgs84

GEOGRAPHIC_DATUMS = ("wgs84", "cgcs2000", "gcj02", "bd09")
"""Datums a lon/lat pair may be sent in (projected EPSG codes have no lon/lat)."""

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


@dataclass(frozen=True)
class FacilityTypeInfo:
    """One catalogue entry: its Chinese name and default service radius (metres)."""

    code: str
    name_zh: str
    radius_m: int


def facility_types(conn: Connection | Session) -> dict[str, FacilityTypeInfo]:
    """The facility-type catalogue by code (a few rows; read per request, never stale)."""
    rows = conn.execute(text("SELECT code, name_zh, radius_m FROM facility_type ORDER BY code"))
    return {r.code: FacilityTypeInfo(r.code, r.name_zh, int(r.radius_m)) for r in rows}


def known_type(
    types: Mapping[str, FacilityTypeInfo], code: str, error: type[Exception] = InvalidParameterError
) -> FacilityTypeInfo:
    """The catalogue entry for ``code``, or ``error`` listing the known codes."""
    info = types.get(code)
    if info is None:
        listing = ", ".join(f"{c} ({t.name_zh})" for c, t in types.items()) or "none loaded"
        raise error(f"unknown facility type {code!r}; known types: {listing}")
    return info


def to_storage_point(lon: float, lat: float, datum: str | None = "wgs84") -> tuple[float, float]:
    """WGS84 (lon, lat) degrees of a point sent in ``datum`` (wgs84, cgcs2000, gcj02, bd09)."""
    for name, value, limit in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidFeatureError(f"{name} must be a finite number of degrees, got {value!r}")
        if not -limit <= value <= limit:
            raise InvalidFeatureError(
                f"{name} {value:g} is outside -{limit:g}..{limit:g} degrees; "
                "were lon and lat swapped?"
            )
    try:
        parsed = parse_datum(datum or "wgs84")
    except UnknownDatumError as exc:
        raise InvalidFeatureError(f"{exc}. Use one of: {', '.join(GEOGRAPHIC_DATUMS)}") from None
    if not parsed.is_geographic:
        raise InvalidFeatureError(
            f"datum {datum!r} is projected (metres), but lon/lat are degrees; "
            f"use one of: {', '.join(GEOGRAPHIC_DATUMS)}"
        )
    x, y = to_wgs84([lon], [lat], parsed)
    return float(x[0]), float(y[0])


def _place(session: Session, lon: float, lat: float) -> int | None:
    """The community containing the WGS84 point, after checking it lies in the district.

    Refuses a point outside the current district with the distance (metres)
    to its boundary; a point in the district but in no community gets None.
    """
    row = session.execute(
        text(
            """
            WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g)
            SELECT d.code, d.name, ST_Covers(d.geom, p.g) AS inside,
                   ST_Distance(d.geom::geography, p.g::geography) AS distance_m,
                   (SELECT c.id FROM admin_area c
                     WHERE c.level = 'community' AND c.valid_to IS NULL
                       AND ST_Covers(c.geom, p.g)
                     ORDER BY c.code LIMIT 1) AS community_id
            FROM admin_area d, p
            WHERE d.level = 'district' AND d.valid_to IS NULL
            ORDER BY ST_Distance(d.geom, p.g), d.code
            LIMIT 1
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
        raise OutsideDistrictError(
            f"the point ({lon:.6f}, {lat:.6f}) in WGS84 lies {row.distance_m:,.0f} m outside "
            f"the district {row.name} ({row.code}). Check the coordinates: lon comes first, "
            "and a point from a phone map app is GCJ-02 (send datum=gcj02) or BD-09 "
            "(datum=bd09)."
        )
    return int(row.community_id) if row.community_id is not None else None


def _check_fields(session: Session, values: Mapping[str, Any]) -> None:
    """Refuse values the database would refuse too, but with a sentence a caller can act on."""
    if "type_code" in values:
        known_type(facility_types(session), str(values["type_code"]), InvalidFeatureError)
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


def create_facility(session: Session, *, lon: float, lat: float, values: Mapping[str, Any]) -> int:
    """Insert a facility at WGS84 (lon, lat) and return its id.

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
    community_id = _place(session, lon, lat)
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
) -> None:
    """Change a facility's fields and/or move it to WGS84 (lon, lat).

    Moving re-assigns the community. A field present in ``values`` with the
    value None clears it (except ``type_code`` and ``name``, which are required).
    """
    _require(session, facility_id)
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
        params.update(lon=lon, lat=lat, community_id=_place(session, lon, lat))
        sets += [
            "geom = ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)",
            "community_id = :community_id",
        ]
    if sets:
        session.execute(text(f"UPDATE facility SET {', '.join(sets)} WHERE id = :id"), params)


def delete_facility(session: Session, facility_id: int) -> None:
    """Remove a facility (closed for good); coverage falls back to the next nearest one."""
    _require(session, facility_id)
    session.execute(text("DELETE FROM facility WHERE id = :id"), {"id": facility_id})


def _require(session: Session, facility_id: int) -> None:
    found = session.execute(
        text("SELECT 1 FROM facility WHERE id = :id FOR UPDATE"), {"id": facility_id}
    ).first()
    if found is None:
        raise NotFoundError(
            f"no facility has id {facility_id}; list them with GET /api/v1/facilities"
        )


def get_facility(session: Session, facility_id: int) -> Feature:
    """One facility as a GeoJSON feature with the properties of ``GET /api/v1/facilities``."""
    row = session.execute(
        text(
            f"""
            SELECT f.id, f.ext_id, f.type_code AS type, t.name_zh AS type_name_zh, f.name,
                   f.capacity, f.floor_area_m2::float8 AS floor_area_m2, f.opening_hours,
                   f.address, c.code AS community_code, t.radius_m,
                   ST_AsGeoJSON(f.geom, {GEOJSON_DECIMALS})::json AS geometry
            FROM facility f
            JOIN facility_type t ON t.code = f.type_code
            LEFT JOIN admin_area c ON c.id = f.community_id
            WHERE f.id = :id
            """
        ),
        {"id": facility_id},
    ).first()
    if row is None:
        raise NotFoundError(
            f"no facility has id {facility_id}; list them with GET /api/v1/facilities"
        )
    props = row._asdict()
    geometry = props.pop("geometry")
    return {"type": "Feature", "id": row.id, "geometry": geometry, "properties": props}
