"""Areas, grids and buildings as the API and the map read them: pages of GeoJSON features.

Order is stable (by code, or by id) so that pages never overlap or skip rows
(``gis.db.select``).

Areas and grids are versioned: by default only the versions in force now
(``valid_to IS NULL``) are returned; ``at`` asks for the versions in force on a
given date instead.

Phone numbers of staff are personal data: :func:`get_grid` returns them masked
(``170****1234``).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session, aliased

from gis.areas.codes import Level, check_code, check_level
from gis.db.models import AdminArea, AreaLevel, Building, Grid, Staff, StaffGrid
from gis.db.select import (
    AnySelect,
    execute,
    features,
    geojson_column,
    in_force,
    intersects_bbox,
    paged,
)
from gis.errors import InvalidParameterError, NotFoundError
from gis.geo.datum import STORAGE_SRID
from gis.geo.geojson import BBox, Feature, Page, feature


class BuildingGeometry(enum.StrEnum):
    """Which geometry a building feature carries."""

    POINT = "point"
    """Its ``location``: always known, small, enough for dots and counts."""
    FOOTPRINT = "footprint"
    """Its footprint (MultiPolygon) where known, else its point: what a zoomed-in map draws."""


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
            geojson_column(AdminArea.geom).label("geometry"),
        )
        .outerjoin(parent, parent.id == AdminArea.parent_id)
        .where(in_force(AdminArea, at))
    )
    if level is not None:
        stmt = stmt.where(AdminArea.level == level)
    if parent_code is not None:
        stmt = stmt.where(parent.code == parent_code)
    if bbox is not None:
        stmt = stmt.where(intersects_bbox(AdminArea.geom, bbox))
    rows, total = paged(session, stmt, [AdminArea.code, AdminArea.valid_from], limit, offset)
    return Page(features(rows, "code"), total)


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
            geojson_column(Grid.geom).label("geometry"),
        )
        .join(community, community.id == Grid.community_id)
        .where(in_force(Grid, at))
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
        stmt = stmt.where(intersects_bbox(Grid.geom, bbox))
    rows, total = paged(session, stmt, [Grid.code, Grid.valid_from], limit, offset)
    return Page(features(rows, "code", drop=("id",)), total)


def get_grid(
    session: Session, code: str, *, at: dt.date | None = None, phones_in_full: bool = False
) -> Feature:
    """One grid as a GeoJSON feature with its community, staff and counts.

    Properties: those of :func:`list_grids` plus ``community`` and
    ``subdistrict`` (``{code, name}``; subdistrict None where that level was
    abolished), ``managers`` (``name``, ``role``, ``specialist_duty``,
    ``is_primary``, ``phone``: masked unless ``phones_in_full``, which the
    caller decides: ``gis.incidents.visibility.responsible_for_grid``) and
    ``buildings_count``.
    """
    check_code(code, "grid")
    rows = execute(session, _grid_select(at).where(Grid.code == code))
    if not rows:
        when = "now" if at is None else f"on {at.isoformat()}"
        raise NotFoundError(
            f"No grid with code {code} is in force {when}. "
            "List grids with GET /api/v1/grids to find valid codes."
        )
    grid = rows[0]
    subdistrict = aliased(AdminArea)
    community = aliased(AdminArea)
    parent_rows = execute(
        session,
        select(subdistrict.code, subdistrict.name, subdistrict.level)
        .select_from(Grid)
        .join(community, community.id == Grid.community_id)
        .join(subdistrict, subdistrict.id == community.parent_id)
        .where(Grid.id == grid.id),
    )
    parent = parent_rows[0] if parent_rows else None
    staff_rows = execute(
        session,
        select(Staff.name, Staff.role, Staff.specialist_duty, Staff.phone, StaffGrid.is_primary)
        .join(StaffGrid, StaffGrid.staff_id == Staff.id)
        .where(StaffGrid.grid_id == grid.id)
        .order_by(StaffGrid.is_primary.desc(), Staff.role, Staff.name, Staff.id),
    )
    buildings_count = execute(
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
            "phone": s.phone if phones_in_full else mask_phone(s.phone),
        }
        for s in staff_rows
    ]
    props["buildings_count"] = int(buildings_count)
    return feature(grid.code, geometry, props)


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
        geojson_column(shape).label("geometry"),
    ).join(Grid, Grid.id == Building.grid_id)
    if grid_code is not None:
        check_code(grid_code, "grid")
        stmt = stmt.where(Grid.code == grid_code)
    if bbox is not None:
        stmt = stmt.where(intersects_bbox(Building.location, bbox))
    rows, total = paged(session, stmt, [Building.id], limit, offset)
    return Page(features(rows, "id"), total)


def current_grid_geometries(session: Session, codes: Sequence[str]) -> dict[str, Any]:
    """GeoJSON geometry (EPSG:4326) of each current grid among ``codes``, by code."""
    stmt = select(Grid.code, geojson_column(Grid.geom)).where(
        Grid.code.in_(list(codes)), in_force(Grid, None)
    )
    return {code: geometry for code, geometry in execute(session, stmt)}


def area_outlines(conn: Connection, level: Level | str) -> gpd.GeoDataFrame:
    """Current outlines of the areas of ``level`` (EPSG:4326), with code and name, by code."""
    level = check_level(level)
    if level is Level.GRID:
        sql = "SELECT code, name, ST_AsBinary(geom) FROM grid WHERE valid_to IS NULL ORDER BY code"
        params: dict[str, Any] = {}
    else:
        sql = """SELECT code, name, ST_AsBinary(geom) FROM admin_area
                 WHERE level = CAST(:level AS area_level) AND valid_to IS NULL ORDER BY code"""
        params = {"level": level.value}
    rows = conn.execute(text(sql), params).all()
    return gpd.GeoDataFrame(
        {"code": [r[0] for r in rows], "name": [r[1] for r in rows]},
        geometry=gpd.GeoSeries(
            shapely.from_wkb([bytes(r[2]) for r in rows]) if rows else [],
            crs=f"EPSG:{STORAGE_SRID}",
        ),
    )


OUTLINE_DECIMALS = 5
"""Decimals of an outline's coordinates: 1e-5 degrees is about 1 m (1.1 m north-south,
0.9 m east-west at 36.7°N), finer than a map of the district can show."""
OUTLINE_TOLERANCE_M = 1.0
"""Default simplification of outlines for a map: vertices closer than this to the line
through their neighbours go. On the demo district it keeps one vertex in ten (the
boundaries are densified straight edges) and moves no edge by more than a metre."""
METRES_PER_DEGREE = 111_320.0
"""Metres per degree of latitude (and of longitude at the equator): turns a tolerance in
metres into degrees. East-west it is the cos(latitude) share of that, so a tolerance
given in metres is applied a little tighter east-west: on the safe side."""

_OUTLINE_SQL = {
    Level.GRID: """
        SELECT g.code, g.name, g.households, c.code AS parent_code, c.name AS parent_name,
               ST_AsGeoJSON(ST_SimplifyPreserveTopology(g.geom, :tol), :decimals) AS shape,
               ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
        FROM grid g JOIN admin_area c ON c.id = g.community_id
        WHERE g.valid_to IS NULL ORDER BY g.code""",
    "area": """
        SELECT a.code, a.name, a.households, p.code AS parent_code, p.name AS parent_name,
               ST_AsGeoJSON(ST_SimplifyPreserveTopology(a.geom, :tol), :decimals) AS shape,
               ST_X(ST_PointOnSurface(a.geom)) AS lon, ST_Y(ST_PointOnSurface(a.geom)) AS lat
        FROM admin_area a LEFT JOIN admin_area p ON p.id = a.parent_id
        WHERE a.level = CAST(:level AS area_level) AND a.valid_to IS NULL ORDER BY a.code""",
}


def outlines(
    session: Session,
    level: Level | str,
    *,
    tolerance_m: float = OUTLINE_TOLERANCE_M,
    decimals: int = OUTLINE_DECIMALS,
) -> list[Feature]:
    """The current areas of ``level`` as light features for a map, ordered by code.

    Geometry simplified within ``tolerance_m`` metres (topology kept: no ring
    crosses itself) with ``decimals`` decimals; properties ``code``, ``name``,
    ``households``, ``parent_code`` and ``parent_name`` (the community of a grid,
    the subdistrict of a community) and ``label``: ``[lon, lat]`` of a point inside
    the area where its name goes. About a tenth of the bytes of the full outlines
    (``list_areas``, ``list_grids``) for a picture that differs by under a metre.
    """
    level = check_level(level)
    if not (0.0 <= tolerance_m <= 1000.0) or not (0 <= decimals <= 7):
        raise InvalidParameterError("tolerance_m must be 0-1000 metres and decimals 0-7")
    sql = _OUTLINE_SQL[Level.GRID] if level is Level.GRID else _OUTLINE_SQL["area"]
    params: dict[str, Any] = {
        "tol": tolerance_m / METRES_PER_DEGREE,
        "decimals": decimals,
        "level": level.value,
    }
    rows = session.execute(text(sql), params).all()
    return [
        {
            "type": "Feature",
            "id": r.code,
            "geometry": json.loads(r.shape),
            "properties": {
                "code": r.code,
                "name": r.name,
                "households": r.households,
                "parent_code": r.parent_code,
                "parent_name": r.parent_name,
                "label": [round(r.lon, decimals), round(r.lat, decimals)],
            },
        }
        for r in rows
    ]


def district_names(session: Session) -> list[str]:
    """Names of the current districts, by code (one for a deployment; none before an import)."""
    sql = """SELECT name FROM admin_area
             WHERE level = CAST('district' AS area_level) AND valid_to IS NULL ORDER BY code"""
    return [r[0] for r in session.execute(text(sql)).all()]


def current_extent(session: Session) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of the current grids in degrees, None without grids:
    where a map of the district opens before its outlines have arrived."""
    sql = """SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
             FROM (SELECT ST_Extent(geom) AS e FROM grid WHERE valid_to IS NULL) AS x"""
    row = session.execute(text(sql)).one()
    if row[0] is None:
        return None
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def area_names(session: Session, level: Level | str) -> dict[str, str]:
    """Code → name of the current areas of ``level`` (district, subdistrict, community)."""
    level = check_level(level)
    if level is Level.GRID:
        sql = "SELECT code, name FROM grid WHERE valid_to IS NULL"
    else:
        sql = """SELECT code, name FROM admin_area
                 WHERE level = CAST(:level AS area_level) AND valid_to IS NULL"""
    return {r[0]: r[1] for r in session.execute(text(sql), {"level": level.value}).all()}
