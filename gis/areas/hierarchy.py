"""The current district → subdistrict → community → grid tree as index arrays, and roll-ups.

Coverage and incident statistics both compute per grid and sum upwards; both
read the tree once (``load_areas``) and group grids by ``area_groups``, so
the levels always add up. Where a district has no subdistrict level
(Tongguanshan, seed 002) communities hang directly off the district.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, text

from gis.areas.codes import Level, check_level
from gis.errors import NotFoundError


@dataclass(frozen=True)
class AreaTables:
    """Current grids with their community and subdistrict, as index arrays.

    ``community_of_grid[g]`` indexes ``community_codes``; where a district has no
    subdistrict level the community's subdistrict index is -1.
    """

    grid_ids: NDArray[np.int64]
    grid_codes: list[str]
    grid_names: list[str]
    community_of_grid: NDArray[np.int64]
    community_codes: list[str]
    community_names: list[str]
    subdistrict_of_community: NDArray[np.int64]
    subdistrict_codes: list[str]
    subdistrict_names: list[str]
    district_code: str
    district_name: str
    centre_lon: float  # picks the Gauss-Krüger zone for distances


def load_areas(conn: Connection) -> AreaTables:
    """The current grids (by code) and the areas above them; NotFoundError without grids."""
    rows = conn.execute(
        text(
            """
            SELECT g.id, g.code, g.name, c.code, c.name, c.level::text,
                   s.code, s.name, s.level::text, d.code, d.name
            FROM grid g
            JOIN admin_area c ON c.id = g.community_id
            JOIN admin_area s ON s.id = c.parent_id
            LEFT JOIN admin_area d ON d.id = s.parent_id
            WHERE g.valid_to IS NULL
            ORDER BY g.code
            """
        )
    ).all()
    if not rows:
        raise NotFoundError("no grids are loaded: run `gridmap demo` or import grids first")
    communities: dict[str, int] = {}
    community_names: list[str] = []
    subdistricts: dict[str, int] = {}
    subdistrict_names: list[str] = []
    sub_of_comm: list[int] = []
    comm_of_grid: list[int] = []
    district = ("", "")
    for _, _, _, ccode, cname, _, scode, sname, slevel, dcode, dname in rows:
        if slevel == "district":  # no subdistrict level: the community hangs off the district
            district = (scode, sname)
            sidx = -1
        else:
            district = (dcode, dname)
            if scode not in subdistricts:
                subdistricts[scode] = len(subdistricts)
                subdistrict_names.append(sname)
            sidx = subdistricts[scode]
        if ccode not in communities:
            communities[ccode] = len(communities)
            community_names.append(cname)
            sub_of_comm.append(sidx)
        comm_of_grid.append(communities[ccode])
    return AreaTables(
        grid_ids=np.array([r[0] for r in rows], dtype=np.int64),
        grid_codes=[r[1] for r in rows],
        grid_names=[r[2] for r in rows],
        community_of_grid=np.array(comm_of_grid, dtype=np.int64),
        community_codes=list(communities),
        community_names=community_names,
        subdistrict_of_community=np.array(sub_of_comm, dtype=np.int64),
        subdistrict_codes=list(subdistricts),
        subdistrict_names=subdistrict_names,
        district_code=district[0],
        district_name=district[1],
        centre_lon=float(
            conn.execute(
                text(
                    "SELECT ST_X(ST_Centroid(ST_Extent(geom)::geometry)) FROM grid"
                    " WHERE valid_to IS NULL"
                )
            ).scalar_one()
        ),
    )


def grid_values(conn: Connection, areas: AreaTables, expression: str) -> list[Any]:
    """``expression`` (SQL over ``grid``, e.g. ``households``) of every grid of ``areas``,
    in the order of ``areas.grid_ids``."""
    rows = conn.execute(
        text(f"SELECT id, {expression} FROM grid WHERE id = ANY(:ids)"),
        {"ids": areas.grid_ids.tolist()},
    ).all()
    by_id = {int(i): value for i, value in rows}
    return [by_id[int(i)] for i in areas.grid_ids]


Orphans = Literal["drop", "own_row"]
"""At the subdistrict level, what becomes of a community without a subdistrict: left out
(-1), or a row of its own so that the rows still add up to the district."""


def area_groups(
    areas: AreaTables, level: Level | str, orphans: Orphans = "drop"
) -> tuple[list[str], list[str], NDArray[np.int64]]:
    """Codes and names of the areas of ``level`` and, per grid, the index of its area."""
    level = check_level(level)
    n_grids = len(areas.grid_ids)
    if level is Level.GRID:
        return list(areas.grid_codes), list(areas.grid_names), np.arange(n_grids, dtype=np.int64)
    if level is Level.COMMUNITY:
        return (
            list(areas.community_codes),
            list(areas.community_names),
            areas.community_of_grid.astype(np.int64),
        )
    if level is Level.DISTRICT:
        return [areas.district_code], [areas.district_name], np.zeros(n_grids, dtype=np.int64)
    codes, names = list(areas.subdistrict_codes), list(areas.subdistrict_names)
    of_community = areas.subdistrict_of_community.astype(np.int64).copy()
    if orphans == "own_row":
        lone = np.flatnonzero(of_community < 0)
        of_community[lone] = len(codes) + np.arange(len(lone))
        codes += [areas.community_codes[c] for c in lone]
        names += [areas.community_names[c] for c in lone]
    return codes, names, of_community[areas.community_of_grid]


def roll_up(
    areas: AreaTables, values: NDArray[np.generic], level: Level | str
) -> tuple[list[str], list[str], NDArray[np.generic]]:
    """Sum per-grid rows (first axis) up to ``level``: (codes, names, sums).

    A community without a subdistrict stands as its own row at the subdistrict
    level, so nothing is dropped and the rows still add up to the district.
    """
    values = np.asarray(values)
    codes, names, group = area_groups(areas, level, orphans="own_row")
    out = np.zeros((len(codes), *values.shape[1:]), dtype=values.dtype)
    np.add.at(out, group, values)
    return codes, names, out
