"""A small district inserted in the test's rolled-back transaction, and a client on it.

Layout (WGS84 degrees): district 370705 covers 119.10-119.20 E, 36.70-36.76 N,
one subdistrict covers all of it, community 001 the west half and 002 the east
half. Community 001 has grids 001 (west) and 002 (east); community 002 has
grid 001, whose boundary changed on 2020-01-01 (the old version is kept).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from geoalchemy2 import WKTElement
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.dependencies import get_session
from gis.db.models import (
    AdminArea,
    AreaLevel,
    Building,
    Facility,
    FacilityType,
    Grid,
    Incident,
    Staff,
    StaffGrid,
    StaffRole,
)
from gis.settings import ServerSettings
from tests.accounts import login_headers

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its test client but still works with httpx,
    # which the dev dependencies install; the deprecation is not ours to fix here.
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

MAX_PAGE_SIZE = 50


def box(x0: float, y0: float, x1: float, y1: float) -> WKTElement:
    ring = f"{x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}"
    return WKTElement(f"MULTIPOLYGON((({ring})))", srid=4326)


def point(x: float, y: float) -> WKTElement:
    return WKTElement(f"POINT({x} {y})", srid=4326)


@dataclass
class SmallDistrict:
    communities: int = 2
    current_grids: int = 3
    buildings: int = 3
    facilities: int = 2
    incidents: int = 2
    west_grid: str = "370705001001001"
    east_community_grid: str = "370705001002001"


def load_small_district(session: Session) -> SmallDistrict:
    district = AdminArea(
        code="370705",
        name="奎文区",
        level=AreaLevel.DISTRICT,
        geom=box(119.10, 36.70, 119.20, 36.76),
    )
    session.add(district)
    session.flush()
    sub = AdminArea(
        code="370705001",
        name="东关街道",
        level=AreaLevel.SUBDISTRICT,
        parent_id=district.id,
        geom=box(119.10, 36.70, 119.20, 36.76),
    )
    session.add(sub)
    session.flush()
    west = AdminArea(
        code="370705001001",
        name="东苑社区",
        level=AreaLevel.COMMUNITY,
        parent_id=sub.id,
        geom=box(119.10, 36.70, 119.15, 36.76),
        households=400,
        population=1100,
    )
    east = AdminArea(
        code="370705001002",
        name="新华社区",
        level=AreaLevel.COMMUNITY,
        parent_id=sub.id,
        geom=box(119.15, 36.70, 119.20, 36.76),
        households=200,
        population=560,
    )
    session.add_all([west, east])
    session.flush()
    g1 = Grid(
        code="370705001001001",
        name="东苑第一网格",
        community_id=west.id,
        geom=box(119.10, 36.70, 119.125, 36.76),
    )
    g2 = Grid(
        code="370705001001002",
        name="东苑第二网格",
        community_id=west.id,
        geom=box(119.125, 36.70, 119.15, 36.76),
    )
    g3_old = Grid(
        code="370705001002001",
        name="新华网格(旧)",
        community_id=east.id,
        geom=box(119.15, 36.70, 119.18, 36.76),
        valid_from=dt.date(2000, 1, 1),
        valid_to=dt.date(2020, 1, 1),
    )
    g3 = Grid(
        code="370705001002001",
        name="新华网格",
        community_id=east.id,
        geom=box(119.15, 36.70, 119.20, 36.76),
        valid_from=dt.date(2020, 1, 1),
    )
    session.add_all([g1, g2, g3_old, g3])
    session.flush()
    session.add_all(
        [
            Building(grid_id=g1.id, location=point(119.11, 36.72), households=120, floors=6),
            Building(grid_id=g1.id, location=point(119.12, 36.74), households=80, floors=5),
            Building(grid_id=g3.id, location=point(119.17, 36.73), households=200, floors=18),
        ]
    )
    manager = Staff(name="张伟", phone="17012341234", role=StaffRole.GRID_MANAGER)
    worker = Staff(
        name="李娜", phone="13800001111", role=StaffRole.COMMUNITY_WORKER, specialist_duty="民政"
    )
    session.add_all([manager, worker])
    session.flush()
    session.add_all(
        [
            StaffGrid(staff_id=manager.id, grid_id=g1.id, is_primary=True),
            StaffGrid(staff_id=worker.id, grid_id=g1.id, is_primary=False),
        ]
    )
    session.add_all(
        [
            FacilityType(
                code="health_station",
                name_zh="社康中心",
                name_en="Community health station",
                radius_m=1000,
                life_circle="15min",
                norm_source="GB 50180-2018",
            ),
            FacilityType(
                code="kindergarten",
                name_zh="幼儿园",
                name_en="Kindergarten",
                radius_m=300,
                life_circle="5min",
                norm_source="GB 50180-2018",
            ),
        ]
    )
    session.flush()
    session.add_all(
        [
            Facility(
                type_code="health_station",
                name="东苑社康中心",
                geom=point(119.12, 36.73),
                capacity=None,
                community_id=west.id,
            ),
            Facility(
                type_code="kindergarten",
                name="新华幼儿园",
                geom=point(119.17, 36.72),
                capacity=180,
                community_id=east.id,
            ),
            Incident(
                category="city_appearance",
                reported_at=dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC),
                deadline_at=dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC),
                status="reported",
                geom=point(119.11, 36.71),
                grid_id=g1.id,
            ),
            Incident(
                category="street_order",
                reported_at=dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC),
                status="closed",
                geom=point(119.18, 36.75),
                grid_id=g3.id,
            ),
        ]
    )
    session.flush()
    return SmallDistrict()


@pytest.fixture
def small_district(db: Session) -> SmallDistrict:
    return load_small_district(db)


@pytest.fixture
def client(engine: Engine, db: Session, small_district: SmallDistrict) -> Iterator[TestClient]:
    """A client whose requests read the test's own (rolled-back) session."""
    app = create_app(
        ServerSettings.model_validate({"GRIDMAP_MAX_PAGE_SIZE": MAX_PAGE_SIZE}), engine=engine
    )
    app.dependency_overrides[get_session] = lambda: db
    with TestClient(app, headers=login_headers(db, "admin", "admin")) as test_client:
        yield test_client


@pytest.fixture
def anonymous(engine: Engine, db: Session, small_district: SmallDistrict) -> Iterator[TestClient]:
    """A client on the same district that sends no credentials."""
    app = create_app(
        ServerSettings.model_validate({"GRIDMAP_MAX_PAGE_SIZE": MAX_PAGE_SIZE}), engine=engine
    )
    app.dependency_overrides[get_session] = lambda: db
    with TestClient(app) as test_client:
        yield test_client
