"""What rows are checked against, loaded from the database before any row is checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.db.models import AdminArea, Grid
from gis.errors import NoDistrictError
from gis.imports._spec import AREA_LAYERS, TABLES
from gis.settings import IncidentSettings


@dataclass(frozen=True)
class Area:
    """A current admin area or grid as the validator needs it.

    ``parent_id`` is the admin area it belongs to (a grid's community), where
    coverage of the parent is reported.
    """

    id: int
    code: str
    level: str
    geom: BaseGeometry | None = None
    parent_id: int | None = None


@dataclass
class ReferenceData:
    """What is already in the database that rows are checked against.

    Only the parts the layer needs are filled in. ``grids`` and
    ``communities`` are sorted by code, so that a point on the shared edge of
    two areas goes to the one with the lower code, every time. ``district``
    is None only while districts themselves are imported. ``peers`` are the
    current areas of the layer's own level (subdistricts, communities or
    grids), which new rows must not overlap.
    """

    district_codes: list[str]
    district: BaseGeometry | None
    parents: dict[str, Area] = field(default_factory=dict)  # code -> district/subdistrict
    communities: list[Area] = field(default_factory=list)
    peers: list[Area] = field(default_factory=list)
    grids: list[Area] = field(default_factory=list)
    facility_types: set[str] = field(default_factory=set)
    taken: dict[str, str] = field(default_factory=dict)  # code/ext_id -> why it is taken
    staff: dict[int, str] = field(default_factory=dict)  # id -> name, for incident handlers
    # How far (metres) a point may lie outside the district before the validator
    # refuses it; None = BOUNDARY_TOLERANCE_M. Incidents pass the snap tolerance,
    # so that routing, not this check, decides about points on the boundary road.
    district_tolerance_m: float | None = None


_CURRENT = "valid_from <= CURRENT_DATE AND (valid_to IS NULL OR valid_to > CURRENT_DATE)"


def _areas(session: Session, sql: str, **params: Any) -> list[Area]:
    rows = session.execute(text(sql), params).all()
    return [
        Area(
            id=int(r.id),
            code=str(r.code),
            level=str(r.level),
            geom=shapely.from_wkb(bytes(r.wkb)) if r.wkb is not None else None,
            parent_id=None if r.parent_id is None else int(r.parent_id),
        )
        for r in rows
    ]


def _admin_areas(session: Session, *levels: str) -> list[Area]:
    """Current admin areas of ``levels`` with their geometry, sorted by code."""
    return _areas(
        session,
        "SELECT id, code, level::text AS level, parent_id, ST_AsBinary(geom) AS wkb"
        f" FROM admin_area WHERE level::text = ANY(:levels) AND {_CURRENT} ORDER BY code",
        levels=list(levels),
    )


def _current_grids(session: Session) -> list[Area]:
    return _areas(
        session,
        "SELECT id, code, 'grid' AS level, community_id AS parent_id, ST_AsBinary(geom) AS wkb"
        f" FROM grid WHERE {_CURRENT} ORDER BY code",
    )


NO_DISTRICT_MESSAGE = (
    "no district boundary is loaded (admin_area, level 'district', in force today), so rows "
    "cannot be checked against it: import one with `gridmap import districts FILE --datum ...`, "
    "then its subdistricts (`gridmap import subdistricts FILE --datum ...`), before importing "
    "communities, grids or anything inside them."
)


def load_reference(session: Session, layer: str, idents: list[str]) -> ReferenceData:
    """What the layer's rows are checked against: district, parents, peers, grids, taken ids.

    Districts are the one layer imported without a district already loaded.
    """
    if layer == "districts":
        ref = ReferenceData(district_codes=[], district=None)
        ref.taken = _taken(session, layer, idents)
        return ref
    districts = _admin_areas(session, "district")
    if not districts:
        raise NoDistrictError(NO_DISTRICT_MESSAGE)
    district = shapely.union_all([d.geom for d in districts])
    ref = ReferenceData(district_codes=[d.code for d in districts], district=district)
    if layer == "subdistricts":
        ref.parents = {d.code: d for d in districts}
        ref.peers = _admin_areas(session, "subdistrict")
    if layer == "communities":
        ref.parents = {p.code: p for p in [*districts, *_admin_areas(session, "subdistrict")]}
        ref.peers = _admin_areas(session, "community")
    if layer in ("grids", "facilities"):
        ref.communities = _admin_areas(session, "community")
    if layer == "grids":
        ref.peers = _current_grids(session)
    if layer == "buildings":
        ref.grids = _current_grids(session)
    if layer == "incidents":
        ref.staff = {
            int(r.id): str(r.name) for r in session.execute(text("SELECT id, name FROM staff"))
        }
        ref.district_tolerance_m = IncidentSettings().snap_tolerance_m
    if layer == "facilities":
        ref.facility_types = set(session.execute(text("SELECT code FROM facility_type")).scalars())
    ref.taken = _taken(session, layer, idents)
    return ref


def _server_default(column: Any) -> str:
    return str(column.server_default.arg)


def _taken(session: Session, layer: str, idents: list[str]) -> dict[str, str]:
    """Codes or ext_ids of the file already in the database, with a word on why they clash."""
    if not idents:
        return {}
    if layer in AREA_LAYERS:
        # Imported rows start at the column's server default and stay open, so
        # they clash with every stored version of the code still valid after it
        # (the exclusion constraints ex_admin_area_code_period and
        # ex_grid_code_period would refuse them).
        model = Grid if layer == "grids" else AdminArea
        valid_from = _server_default(model.__table__.c.valid_from)
        rows = session.execute(
            text(
                f"SELECT code, valid_from, valid_to FROM {model.__tablename__}"
                " WHERE code = ANY(:codes) AND (valid_to IS NULL OR valid_to > CAST(:vf AS date))"
            ),
            {"codes": idents, "vf": valid_from},
        ).all()
        return {
            r.code: (
                "already in the database"
                + (f" (version valid until {r.valid_to})" if r.valid_to else "")
            )
            for r in rows
        }
    table = TABLES[layer]
    stored = session.execute(
        text(f"SELECT ext_id FROM {table} WHERE ext_id = ANY(:ids)"), {"ids": idents}
    ).scalars()
    return {str(ext_id): "already in the database" for ext_id in stored}
