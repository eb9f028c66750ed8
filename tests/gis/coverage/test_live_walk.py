"""Walking coverage kept current by the database's notifications, like the circles.

A committed lattice district of its own (NOTIFY fires on commit) with a street
lattice cut by a river (``tests.coverage_district.add_walk_network``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from test_live import HEALTH, KG, _insert_facility, _sql, assert_same_coverage

from gis.coverage.compare import circle_vs_walk
from gis.coverage.live import CoverageService
from gis.coverage.store import CoverageModel, build_coverage
from gis.errors import NoNetworkError
from tests.coverage_district import (
    BRIDGE_LAT,
    LatticeDistrict,
    add_walk_network,
    drop_database,
    fresh_coverage_database,
)

MODELS = ((KG, 300.0), (KG, 800.0), (HEALTH, 1000.0))


@pytest.fixture(scope="module")
def district(server_url: str) -> Iterator[LatticeDistrict]:
    made = fresh_coverage_database(server_url, "gridmap_coverage_walk_test")
    add_walk_network(made.engine)
    yield made
    drop_database(server_url, made)


@pytest.fixture
def service(district: LatticeDistrict) -> Iterator[CoverageService]:
    svc = CoverageService(district.engine)
    assert svc.start(), "the listener did not start"
    try:
        yield svc
    finally:
        svc.stop()


def _walk(engine: Engine, type_code: str, radius_m: float) -> CoverageModel:
    with engine.connect() as conn:
        return build_coverage(conn, type_code, radius_m, method="network")


def test_walking_models_are_cached_beside_the_circles_and_share_the_walk(
    service: CoverageService,
) -> None:
    with service.view(KG, 300, method="network") as walk_300:
        pass
    with service.view(KG, 800, method="network") as walk_800, service.view(KG, 800) as circle:
        assert walk_800.walk is walk_300.walk and walk_300.walk is not None
        assert circle.method == "circle" and circle.buildings is walk_300.buildings
        # A walk is never shorter than the line: what the walk covers, the circle covers.
        assert not (walk_800.index.covered & ~circle.index.covered).any()
        assert walk_800.index.hh_covered.sum() < circle.index.hh_covered.sum()
    models = {f"{KG}@300/network", f"{KG}@800/network", f"{KG}@800"}
    assert set(service.stats()["models"]) == models


def test_facility_open_move_retype_close_reach_the_walking_models_incrementally(
    service: CoverageService, district: LatticeDistrict
) -> None:
    engine = district.engine
    for type_code, radius in MODELS:
        service.coverage_model(type_code, radius, method="network")
    builds = service.stats()["builds"]

    def check() -> None:
        assert service.sync(), "the change did not reach the service"
        stats = service.stats()
        assert stats["builds"] == builds, "a change caused a rebuild"
        assert stats["last_change"]["mode"] == "incremental"
        for type_code, radius in MODELS:
            with service.view(type_code, radius, method="network") as cached:
                assert_same_coverage(cached, _walk(engine, type_code, radius))

    # East of the river, beside the bridge: the west bank walks round by it.
    facility = _insert_facility(engine, KG, 119.153, BRIDGE_LAT + 0.01)
    try:
        check()
        _sql(
            engine,
            "UPDATE facility SET geom = ST_SetSRID(ST_MakePoint(119.149, 36.705), 4326)"
            " WHERE id = :id",
            id=facility,
        )
        check()
        _sql(engine, "UPDATE facility SET type_code = :t WHERE id = :id", t=HEALTH, id=facility)
        check()
    finally:
        _sql(engine, "DELETE FROM facility WHERE id = :id", id=facility)
    check()


def test_a_new_network_drops_only_the_walking_models(
    service: CoverageService, district: LatticeDistrict
) -> None:
    engine = district.engine
    with service.view(KG, 300, method="network") as before:
        covered_before = int(before.index.hh_covered.sum())
    service.coverage_model(KG, 300)
    try:
        add_walk_network(engine, bridges=(36.71, BRIDGE_LAT, 36.75))
        assert service.sync()
        stats = service.stats()
        assert stats["last_change"]["mode"] == "rebuild"
        assert set(stats["models"]) == {f"{KG}@300"}
        with service.view(KG, 300, method="network") as after:
            assert_same_coverage(after, _walk(engine, KG, 300))
            assert int(after.index.hh_covered.sum()) >= covered_before
    finally:
        add_walk_network(engine)
        assert service.sync()


def test_the_circle_overstates_by_its_households_beyond_the_walk(
    district: LatticeDistrict,
) -> None:
    with district.engine.connect() as conn:
        circle = build_coverage(conn, HEALTH, 1000)
        walk = build_coverage(conn, HEALTH, 1000, circle.areas, circle.buildings, method="network")
    table = circle_vs_walk(circle, walk, "grid")
    gap = table["households_circle"] - table["households_walk"]
    assert (table["households_overstated"] == gap).all() and gap.sum() > 0
    # No walk is shorter than the straight line to the nearest station.
    assert (walk.index.nearest_m >= circle.index.nearest_m - 1e-6).all()
    assert (walk.index.nearest_m > circle.index.nearest_m * 1.2).mean() > 0.3


def test_no_network_is_a_clear_error(server_url: str) -> None:
    made = fresh_coverage_database(server_url, "gridmap_coverage_nowalk_test")
    try:
        with made.engine.connect() as conn:
            with pytest.raises(NoNetworkError, match="gridmap network import") as caught:
                build_coverage(conn, KG, 300, method="network")
            assert "步行路网" in (caught.value.zh or "")
            assert conn.execute(text("SELECT count(*) FROM walk_edge")).scalar() == 0
    finally:
        drop_database(server_url, made)
