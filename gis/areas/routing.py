"""Which district, community and grid a point belongs to, and who runs that grid.

The rules, one home for every caller (live intake, bulk ingest, facilities,
worklists): a point belongs to the current area whose polygon covers it, the
lowest code winning on a shared edge; a point outside every grid but within a
tolerance of one goes to the nearest grid; a grid's handler by default is its
primary grid manager (the lowest staff id among them). The fragments are SQL
text to embed, written for one point (``point`` is any SQL expression of a
WGS84 point) or, where a batch must be routed set-based, for a table of points.
"""

from __future__ import annotations

from gis.errors import OutsideDistrictError
from gis.geo.datum import Datum, outside_hint

KNN_CANDIDATES = 8
"""Grids the index hands over nearest-first before exact ties are broken by code."""


def covering_grid(point: str) -> str:
    """SELECT ``id, code`` of the current grid covering ``point``."""
    return (
        f"SELECT g.id, g.code FROM grid g WHERE g.valid_to IS NULL AND ST_Covers(g.geom, {point})"
        " ORDER BY g.code LIMIT 1"
    )


def covering_grids(points: str, key: str) -> str:
    """SELECT ``{key}, grid_id``: the covering grid of every row of the table ``points``.

    Set-based for a batch: grids drive the join (each polygon tested against
    the points its bounding box meets, through the points' GiST index on
    ``geom``), so PostGIS prepares each polygon once instead of once per point.
    Rows no grid covers are absent.
    """
    return (
        f"SELECT DISTINCT ON (s.{key}) s.{key}, g.id AS grid_id"
        f" FROM grid g JOIN {points} s ON ST_Covers(g.geom, s.geom)"
        f" WHERE g.valid_to IS NULL ORDER BY s.{key}, g.code"
    )


def nearest_grid(point: str) -> str:
    """SELECT ``id, code, distance_m`` (true metres) of the current grid nearest ``point``."""
    return (
        f"SELECT c.id, c.code, ST_Distance(c.geom::geography, ({point})::geography)"
        " AS distance_m FROM ("
        f" SELECT g.id, g.code, g.geom, g.geom <-> {point} AS d FROM grid g"
        f" WHERE g.valid_to IS NULL ORDER BY g.geom <-> {point} LIMIT {KNN_CANDIDATES}) c"
        " ORDER BY c.d, c.code LIMIT 1"
    )


def current_district(point: str) -> str:
    """SELECT ``code, name, geom`` of the current district nearest ``point`` (covering it)."""
    return (
        "SELECT d.code, d.name, d.geom FROM admin_area d"
        " WHERE d.level = 'district' AND d.valid_to IS NULL"
        f" ORDER BY d.geom <-> {point}, d.code LIMIT 1"
    )


def covering_community(point: str) -> str:
    """SELECT ``id`` of the current community covering ``point``."""
    return (
        "SELECT c.id FROM admin_area c WHERE c.level = 'community' AND c.valid_to IS NULL"
        f" AND ST_Covers(c.geom, {point}) ORDER BY c.code LIMIT 1"
    )


def grid_areas(grid_id: str) -> str:
    """SELECT ``grid_code, community_id, community_code, subdistrict_id, subdistrict_code``
    of the grid ``grid_id``: the areas an incident in it is filed under (the subdistrict is
    the community's parent when that is a subdistrict, as the incident trigger derives it)."""
    return (
        "SELECT g.code AS grid_code, g.community_id, c.code AS community_code,"
        " s.id AS subdistrict_id, s.code AS subdistrict_code"
        " FROM grid g JOIN admin_area c ON c.id = g.community_id"
        " LEFT JOIN admin_area s ON s.id = c.parent_id AND s.level = 'subdistrict'"
        f" WHERE g.id = {grid_id}"
    )


def primary_manager(grid_id: str) -> str:
    """SELECT ``id, name`` of the primary grid manager of the grid ``grid_id``."""
    return (
        "SELECT s.id, s.name FROM staff_grid sg JOIN staff s ON s.id = sg.staff_id"
        f" WHERE sg.grid_id = {grid_id} AND sg.is_primary AND s.role = 'grid_manager'"
        " ORDER BY s.id LIMIT 1"
    )


def primary_managers() -> str:
    """SELECT ``grid_id, staff_id``: the primary grid manager of every grid that has one."""
    return (
        "SELECT DISTINCT ON (sg.grid_id) sg.grid_id, st.id AS staff_id"
        " FROM staff_grid sg JOIN staff st ON st.id = sg.staff_id"
        " WHERE sg.is_primary AND st.role = 'grid_manager' ORDER BY sg.grid_id, st.id"
    )


def outside_district_message(
    lon: float, lat: float, distance_m: float, name: str, code: str, datum: Datum
) -> str:
    """Why a WGS84 point given in ``datum`` is refused: how far outside, and what to check."""
    return (
        f"the point ({lon:.6f}, {lat:.6f}) in WGS84 lies {distance_m:,.0f} m outside the "
        f"district {name} ({code}). Check the coordinates: lon comes first, and "
        f"{outside_hint(datum)}."
    )


def outside_district(
    lon: float, lat: float, distance_m: float, name: str, code: str, datum: Datum
) -> OutsideDistrictError:
    """The error for a point outside the district (see :func:`outside_district_message`)."""
    return OutsideDistrictError(outside_district_message(lon, lat, distance_m, name, code, datum))
