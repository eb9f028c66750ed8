"""The only real inputs of the demo: Kuiwen's outline and the statistics bureau's division list.

Everything else is invented, so what is real (codes, names, which committees
are villages) is read and checked here, before any generator runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.demo.spec import DISTRICT_CODE
from gis.errors import InvalidParameterError, NotFoundError

BOUNDARY_FILE = "kuiwen_370705.geojson"
DIVISIONS_FILE = "kuiwen_divisions.csv"


def boundary_dir() -> Path:
    """Where the boundary and division files are: ``GRIDMAP_BOUNDARY_DIR`` or the repo's."""
    explicit = os.environ.get("GRIDMAP_BOUNDARY_DIR")
    if explicit:
        return Path(explicit)
    return Path(__file__).resolve().parents[2] / "data" / "boundaries"


def read_inputs(directory: Path | None = None) -> tuple[BaseGeometry, pd.DataFrame]:
    """The district outline (lon/lat) and the statistics-bureau division table."""
    directory = directory or boundary_dir()
    boundary_path, divisions_path = directory / BOUNDARY_FILE, directory / DIVISIONS_FILE
    for path in (boundary_path, divisions_path):
        if not path.is_file():
            raise NotFoundError(
                f"Demo input {path} is missing. Restore data/boundaries from the repository "
                "or point GRIDMAP_BOUNDARY_DIR at a directory holding "
                f"{BOUNDARY_FILE} and {DIVISIONS_FILE}."
            )
    frame = gpd.read_file(boundary_path)
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    divisions = pd.read_csv(divisions_path, dtype=str, keep_default_na=False)
    return shapely.union_all(frame.geometry.to_numpy()), divisions


@dataclass
class Unit:
    """An administrative unit being built (metric geometry)."""

    code: str
    name: str
    parent_code: str
    geom: BaseGeometry | None = None
    children: list[Unit] = field(default_factory=list)


#: Committee titles in the statistics bureau's names, and what the place is called instead.
_TITLES = {"居民委员会": "社区", "居委会": "社区", "村民委员会": "村", "村委会": "村", "办事处": ""}


def _clean_name(name: str) -> str:
    """The place a committee serves: 中学街社区居民委员会 → 中学街社区, 邢石村村委会 → 邢石村."""
    name = name.strip()
    for title, place in _TITLES.items():
        if name.endswith(title):
            name = name.removesuffix(title)
            return name if name.endswith(place) else name + place
    return name


def units_from_divisions(divisions: pd.DataFrame) -> tuple[Unit, list[str], int]:
    """The district with its subdistricts and the communities that become demo areas."""
    missing = {"code", "name", "level", "parent_code"} - set(divisions.columns)
    if missing:
        raise InvalidParameterError(
            f"divisions table lacks columns {sorted(missing)}; expected code,name,level,parent_code"
        )
    df = divisions.astype({"code": str, "parent_code": str, "level": str, "name": str})
    district_rows = df[(df["level"] == "district") & (df["code"] == DISTRICT_CODE)]
    if district_rows.empty:
        raise InvalidParameterError(f"divisions table has no district row {DISTRICT_CODE}")
    district = Unit(DISTRICT_CODE, _clean_name(district_rows.iloc[0]["name"]), "")
    subs = df[(df["level"] == "subdistrict") & (df["parent_code"] == DISTRICT_CODE)]
    if subs.empty:
        raise InvalidParameterError("divisions table has no subdistricts of 370705")
    villages_as_communities: list[str] = []
    villages_folded = 0
    for row in subs.sort_values("code").itertuples():
        sub = Unit(str(row.code), _clean_name(str(row.name)), DISTRICT_CODE)
        kids = df[df["parent_code"] == sub.code].sort_values("code")
        communities = kids[kids["level"] == "community"]
        villages = kids[kids["level"] == "village"]
        if communities.empty:
            communities = villages
            villages_as_communities.extend(villages["code"].tolist())
        else:
            villages_folded += len(villages)
        for c in communities.itertuples():
            sub.children.append(Unit(str(c.code), _clean_name(str(c.name)), sub.code))
        if not sub.children:
            raise InvalidParameterError(
                f"subdistrict {sub.code} has neither communities nor villages"
            )
        district.children.append(sub)
    return district, villages_as_communities, villages_folded
