"""Norm checks per community and the health-station claim, on hand-made and demo data."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from coverage_world import C1, C2, GEOD, World, build_world, building, facility, staff
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.coverage.norms import (
    HouseholdNorms,
    evaluate_norms,
    health_station_claim,
    load_community_facts,
    norm_checks,
    norm_summary,
)


def _near(w: World, f: str, azimuth: float, metres: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(*w.facility_lonlat[f], azimuth, metres)
    return float(lon), float(lat)


@pytest.fixture
def staffed(db: Session) -> World:
    """C1: 250 households, 1 grid manager, 1 worker, 150 m² centre, a health station,
    a 45 m² social-work station. C2: 400 households, 2 managers, 1 worker, a 200 m²
    centre and a 100 m² culture room, no health station, a 60 m² social-work station."""
    w = build_world(db)  # C1 60 households, C2 90
    g1, g2 = w.area_ids["370705001001001"], w.area_ids["370705001002001"]
    building(db, g1, _near(w, "F1", 270, 150), 190, "c1-extra")
    building(db, g2, _near(w, "F2", 270, 150), 310, "c2-extra")
    c1, c2 = w.area_ids[C1], w.area_ids[C2]
    staff(db, "grid_manager", c1, [g1])
    staff(db, "grid_manager", c2, [g2])
    staff(db, "grid_manager", c2, [g2])
    staff(db, "community_worker", c1, [])
    staff(db, "community_worker", c2, [g2])  # counted once: community and grid
    staff(db, "mediator", c2, [g2])  # not a manager
    facility(db, "community_service_centre", "西党群服务中心", _near(w, "F1", 45, 50), 150.0)
    facility(db, "community_service_centre", "东党群服务中心", _near(w, "F2", 45, 50), 200.0)
    facility(db, "culture_room", "东文化活动室", _near(w, "F2", 135, 50), 100.0)
    facility(db, "community_health_station", "西卫生服务站", _near(w, "F1", 225, 50), 200.0)
    facility(db, "social_work_station", "西社工服务站", _near(w, "F1", 315, 50), 45.0)
    facility(db, "social_work_station", "东社工服务站", _near(w, "F2", 315, 50), 60.0)
    db.flush()
    return w


def _by_code(frame: pd.DataFrame) -> dict[str, pd.Series]:
    return {r["code"]: r for _, r in frame.iterrows()}


def test_facts_are_counted_per_community(db: Session, staffed: World) -> None:
    facts = _by_code(load_community_facts(db.connection()))
    c1, c2 = facts[C1], facts[C2]
    assert (c1.households, c1.grids, c1.grid_managers, c1.community_workers) == (250, 1, 1, 1)
    assert (c2.households, c2.grids, c2.grid_managers, c2.community_workers) == (400, 1, 2, 1)
    assert (c1.service_floor_m2, c2.service_floor_m2) == (150.0, 200.0)
    assert (c1.health_stations, c2.health_stations) == (1, 0)
    assert (c1.social_work_station_m2, c2.social_work_station_m2) == (45.0, 60.0)
    assert c1.subdistrict_code == "370705001"


def test_norms_pass_and_fail_where_a_planner_expects(db: Session, staffed: World) -> None:
    checks = _by_code(norm_checks(db.connection()))
    c1, c2 = checks[C1], checks[C2]
    # 150 m² for 250 households is exactly 60 m² per 100: passes.
    assert c1.floor_m2_per_100_households == pytest.approx(60.0)
    assert c1.floor_area_ok and c1.floor_area_shortfall_m2 == 0
    # 200 m² for 400 households: 50 per 100, 40 m² short of 240.
    assert c2.floor_m2_per_100_households == pytest.approx(50.0)
    assert not c2.floor_area_ok and c2.floor_area_shortfall_m2 == pytest.approx(40.0)
    # 250 households and one grid manager fail the 200 rule; 400 and two meet it exactly.
    assert c1.households_per_grid_manager == 250 and not c1.grid_manager_ok
    assert c1.grid_managers_needed == 2
    assert c2.households_per_grid_manager == 200 and c2.grid_manager_ok
    # 250 households per worker pass the 300 rule; 400 fail it.
    assert c1.community_worker_ok and not c2.community_worker_ok
    assert c2.community_workers_needed == 2
    assert c1.has_health_station and not c2.has_health_station
    assert not c1.social_work_station_ok and c2.social_work_station_ok


def test_wider_service_floor_reading(db: Session, staffed: World) -> None:
    checks = _by_code(norm_checks(db.connection(), ("community_service_centre", "culture_room")))
    assert checks[C2].service_floor_m2 == 300.0 and checks[C2].floor_area_ok


def test_summary_counts_failing_communities(db: Session, staffed: World) -> None:
    summary = norm_summary(norm_checks(db.connection())).set_index("column")
    assert summary.loc["floor_area_ok", "failing"] == 1
    assert summary.loc["grid_manager_ok", "failing"] == 1
    assert summary.loc["community_worker_ok", "failing"] == 1
    assert summary.loc["has_health_station", "failing"] == 1
    assert summary.loc["has_health_station", "pass_rate"] == pytest.approx(0.5)


def test_nobody_assigned_fails_and_no_households_passes() -> None:
    facts = pd.DataFrame(
        {
            "code": ["a", "b"],
            "households": [300, 0],
            "grid_managers": [0, 0],
            "community_workers": [0, 0],
            "service_floor_m2": [0.0, 0.0],
            "health_stations": [0, 0],
            "social_work_station_m2": [math.nan, math.nan],
        }
    )
    checks = evaluate_norms(facts)
    assert checks["grid_manager_ok"].tolist() == [False, True]
    assert math.isnan(checks.loc[0, "households_per_grid_manager"])
    assert checks["floor_area_ok"].tolist() == [False, True]
    assert checks["floor_area_shortfall_m2"].tolist() == [180.0, 0.0]
    assert checks["social_work_station_ok"].tolist() == [False, False]
    # Another district's figures: 30 m² per 100 households, 400 households a manager.
    other = evaluate_norms(facts.assign(grid_managers=[1, 0], service_floor_m2=[90.0, 0.0]),
                           HouseholdNorms(30.0, 400, 300))  # fmt: skip
    assert other["floor_area_ok"].tolist() == [True, True]
    assert other["grid_managers_needed"].tolist() == [1, 0]
    assert other["grid_manager_ok"].tolist() == [True, True]
    assert norm_summary(other, HouseholdNorms(30.0, 400, 300))["norm"].tolist()[:2] == [
        "service floor area ≥ 30 m² per 100 households",
        "≤ 400 households per grid manager",
    ]


def test_health_station_claim_names_the_failing_community(db: Session, staffed: World) -> None:
    claim = health_station_claim(db.connection())
    assert not claim.holds
    assert claim.communities == 2
    assert claim.without_station["code"].tolist() == [C2]
    # The only station is 3 km from C2: none of C2's households is within 1000 m.
    assert claim.radius_m == 1000
    assert claim.without_coverage["code"].tolist() == [C2]
    assert claim.coverage_rate == pytest.approx(250 / 650)
    assert "does not hold" in claim.summary() and "东社区" in claim.summary()
    wider = health_station_claim(db.connection(), 5000)
    assert not wider.holds and wider.holds_by_radius and wider.fully_covered == 2


# --------------------------------------------------------------------------- demo


@pytest.fixture(scope="module")
def demo_checks(demo_engine: Engine) -> pd.DataFrame:
    with demo_engine.connect() as conn:
        return norm_checks(conn)


def test_demo_norms_cover_every_community(demo_engine: Engine, demo_checks: pd.DataFrame) -> None:
    assert len(demo_checks) == 137
    with demo_engine.connect() as conn:
        managers = conn.execute(
            text("SELECT count(*) FROM staff WHERE role = 'grid_manager'")
        ).scalar_one()
        households = conn.execute(
            text("SELECT sum(households) FROM grid WHERE valid_to IS NULL")
        ).scalar_one()
    assert demo_checks["grid_managers"].sum() == managers  # each manages grids of one community
    assert demo_checks["households"].sum() == households
    assert (demo_checks["service_floor_m2"] > 0).all()  # every community has its centre


def test_demo_health_station_claim_agrees_with_the_recorded_communities(
    demo_engine: Engine, demo_checks: pd.DataFrame
) -> None:
    with demo_engine.connect() as conn:
        claim = health_station_claim(conn, checks=demo_checks)
        recorded = conn.execute(
            text(
                """SELECT a.code FROM admin_area a
                   WHERE a.level = 'community' AND a.valid_to IS NULL AND NOT EXISTS (
                     SELECT 1 FROM facility f WHERE f.community_id = a.id
                       AND f.type_code = 'community_health_station')
                   ORDER BY a.code"""
            )
        ).scalars()
        expected = list(recorded)
    assert not claim.holds
    assert 3 <= len(expected) <= 5  # the generator leaves 3-5 communities without
    assert claim.without_station["code"].tolist() == expected
    assert 0.5 < claim.coverage_rate < 1.0
