"""Cached coverage models stay equal to a rebuild as the database changes under them.

Changes are committed by plain SQL on another connection, as another system
would make them; the service learns of them only through NOTIFY. After each
change the cached model must equal one built from scratch, and the service's
counters must show an incremental update, not a rebuild, where one is possible.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
from sqlalchemy import Engine, text

from gis.coverage.live import CHANNEL, CoverageService, snapshot
from gis.coverage.store import CoverageModel, build_coverage
from tests.coverage_district import (
    LatticeDistrict,
    building_households,
    drop_database,
    fresh_coverage_database,
)

KG = "kindergarten"
HEALTH = "community_health_station"


@pytest.fixture(scope="module")
def district(server_url: str) -> Iterator[LatticeDistrict]:
    made = fresh_coverage_database(server_url, "gridmap_coverage_service_test")
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


def _sql(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.begin() as conn:
        return conn.execute(text(sql), params)


def _rebuilt(engine: Engine, type_code: str, radius_m: float) -> CoverageModel:
    with engine.connect() as conn:
        return build_coverage(conn, type_code, radius_m)


def assert_same_coverage(cached: CoverageModel, fresh: CoverageModel) -> None:
    """Same buildings, distances (to 1 mm), covered flags, nearest facilities, households."""
    a, b = cached.index, fresh.index
    order_a = np.argsort(cached.buildings.ids)
    order_b = np.argsort(fresh.buildings.ids)
    assert np.array_equal(cached.buildings.ids[order_a], fresh.buildings.ids[order_b])
    np.testing.assert_allclose(a.nearest_m[order_a], b.nearest_m[order_b], atol=1e-3)
    assert np.array_equal(a.covered[order_a], b.covered[order_b])
    assert np.array_equal(a.nearest_facility_id[order_a], b.nearest_facility_id[order_b])
    assert np.array_equal(a.households[order_a], b.households[order_b])
    assert np.array_equal(a.hh_covered, b.hh_covered)
    assert a.hh_covered.sum() == b.rollup().households_covered.sum()


def _insert_facility(engine: Engine, type_code: str, lon: float, lat: float) -> int:
    return int(
        _sql(
            engine,
            "INSERT INTO facility (type_code, name, geom)"
            " VALUES (:t, 'test', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id",
            t=type_code,
            lon=lon,
            lat=lat,
        ).scalar_one()
    )


def test_models_are_built_once_and_share_the_buildings(service: CoverageService) -> None:
    with service.view(KG, 300) as first:
        pass
    with service.view(KG, 300) as again:
        assert again is first
    with service.view(KG, 500) as wider, service.view(HEALTH, 1000) as health:
        assert wider.buildings is first.buildings is health.buildings
        assert wider.areas is first.areas
    stats = service.stats()
    assert stats["listening"] is True
    assert stats["builds"] == 3
    assert stats["hits"] == 1
    assert set(stats["models"]) == {f"{KG}@300", f"{KG}@500", f"{HEALTH}@1000"}


def test_a_status_read_does_not_wait_behind_a_model_being_built(
    service: CoverageService,
) -> None:
    """A build holds the service's lock for seconds; the status answers at once, saying so."""
    with service.view(KG, 300):
        pass
    assert service.stats()["building"] is False
    entered, release = threading.Event(), threading.Event()

    def build() -> None:
        with service.view(KG, 300):  # stands for a build: holds the lock
            entered.set()
            release.wait(10)

    builder = threading.Thread(target=build)
    builder.start()
    try:
        assert entered.wait(10)
        started = time.monotonic()
        stats = service.stats()
        assert time.monotonic() - started < 1.0
        assert stats["building"] is True and f"{KG}@300" in stats["models"]
    finally:
        release.set()
        builder.join(10)


def test_facility_open_move_retype_close_are_applied_incrementally(
    service: CoverageService, district: LatticeDistrict
) -> None:
    engine = district.engine
    for type_code, radius in ((KG, 300), (KG, 800), (HEALTH, 1000)):
        service.coverage_model(type_code, radius)
    builds = service.stats()["builds"]

    def check(expected_mode: str) -> None:
        assert service.sync(), "the change did not reach the service"
        stats = service.stats()
        assert stats["builds"] == builds, "a change caused a rebuild"
        assert stats["last_change"]["mode"] == expected_mode
        for type_code, radius in ((KG, 300), (KG, 800), (HEALTH, 1000)):
            with service.view(type_code, radius) as cached:
                assert_same_coverage(cached, _rebuilt(engine, type_code, radius))

    facility = _insert_facility(engine, KG, 119.13, 36.745)
    try:
        check("incremental")
        assert service.stats()["last_change"]["op"] == "insert"
        _sql(
            engine,
            "UPDATE facility SET geom = ST_SetSRID(ST_MakePoint(119.165, 36.705), 4326)"
            " WHERE id = :id",
            id=facility,
        )
        check("incremental")
        _sql(engine, "UPDATE facility SET type_code = :t WHERE id = :id", t=HEALTH, id=facility)
        check("incremental")
        with service.view(KG, 300) as kg, service.view(HEALTH, 1000) as health:
            assert facility not in kg.index.nearest_facility_id
            assert facility in health.index.nearest_facility_id
    finally:
        _sql(engine, "DELETE FROM facility WHERE id = :id", id=facility)
    check("incremental")
    assert service.stats()["last_change"]["op"] == "delete"
    assert service.stats()["incremental_updates"] >= 4


def test_closing_the_only_facility_of_a_type_leaves_everyone_uncovered(
    service: CoverageService, district: LatticeDistrict
) -> None:
    engine = district.engine
    only = _insert_facility(engine, "gov_service_point", 119.15, 36.73)
    try:
        assert service.sync()
        with service.view("gov_service_point", 1000) as model:
            assert model.index.covered.any()
        _sql(engine, "DELETE FROM facility WHERE id = :id", id=only)
        assert service.sync()
        with service.view("gov_service_point", 1000) as model:
            assert not model.index.covered.any()
            assert np.isinf(model.index.nearest_m).all()
            assert service.stats()["last_change"]["mode"] == "incremental"
    finally:
        _sql(engine, "DELETE FROM facility WHERE id = :id", id=only)


def test_household_change_is_applied_in_place(
    service: CoverageService, district: LatticeDistrict
) -> None:
    engine = district.engine
    model = service.coverage_model(KG, 300)
    covered_row = int(np.flatnonzero(model.index.covered)[0])
    building = int(model.buildings.ids[covered_row])
    before = int(model.index.households[covered_row])
    covered_before = int(model.index.hh_covered.sum())
    builds = service.stats()["builds"]
    _sql(engine, "UPDATE building SET households = :h WHERE id = :id", h=before + 50, id=building)
    try:
        assert service.sync()
        with service.view(KG, 300) as cached:
            assert int(cached.index.households[covered_row]) == before + 50
            assert int(cached.index.hh_covered.sum()) == covered_before + 50
            assert_same_coverage(cached, _rebuilt(engine, KG, 300))
        stats = service.stats()
        assert stats["builds"] == builds
        assert stats["last_change"]["table"] == "building"
        assert stats["last_change"]["mode"] == "incremental"
    finally:
        _sql(engine, "UPDATE building SET households = :h WHERE id = :id", h=before, id=building)
        assert service.sync()


def test_a_new_building_drops_the_caches_and_the_next_answer_includes_it(
    service: CoverageService, district: LatticeDistrict
) -> None:
    engine = district.engine
    service.coverage_model(KG, 300)
    invalidations = service.stats()["invalidations"]
    new_id = _sql(
        engine,
        "INSERT INTO building (grid_id, location, households)"
        " SELECT id, ST_SetSRID(ST_MakePoint(119.111, 36.711), 4326), 7 FROM grid"
        " WHERE code = '370705001001001' RETURNING id",
    ).scalar_one()
    try:
        assert service.sync()
        stats = service.stats()
        assert stats["invalidations"] == invalidations + 1
        assert stats["models"] == {}
        assert stats["last_change"]["mode"] == "rebuild"
        with service.view(KG, 300) as model:
            assert len(model.buildings.ids) == district.buildings + 1
            assert model.index.covered[model.buildings.ids == new_id].all()
    finally:
        _sql(engine, "DELETE FROM building WHERE id = :id", id=new_id)
        assert service.sync()
    assert len(service.coverage_model(KG, 300).buildings.ids) == district.buildings


@pytest.fixture
def raw_listener(district: LatticeDistrict) -> Iterator[psycopg.Connection[Any]]:
    url = district.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        yield conn


def _payloads(conn: psycopg.Connection[Any], wait: float = 0.3) -> list[dict[str, Any]]:
    return [json.loads(n.payload) for n in conn.notifies(timeout=wait)]


def test_triggers_notify_only_what_coverage_depends_on(
    district: LatticeDistrict, raw_listener: psycopg.Connection[Any]
) -> None:
    engine = district.engine
    _sql(engine, "UPDATE facility SET name = name || '' WHERE type_code = :t", t=KG)
    _sql(engine, "UPDATE building SET address = 'x' WHERE id IN (SELECT min(id) FROM building)")
    _sql(engine, "UPDATE grid SET households = households")  # kept by a trigger, not by people
    assert _payloads(raw_listener) == []

    _sql(
        engine, "UPDATE facility SET capacity = 5, type_code = type_code WHERE type_code = :t", t=KG
    )
    assert _payloads(raw_listener) == []

    moved = _sql(
        engine,
        "UPDATE facility SET geom = ST_Translate(geom, 0.0001, 0)"
        " WHERE id = (SELECT min(id) FROM facility) RETURNING id",
    ).scalar_one()
    _sql(engine, "UPDATE facility SET geom = ST_Translate(geom, -0.0001, 0) WHERE id = :i", i=moved)
    got = _payloads(raw_listener)
    assert [(p["op"], p["table"], p["id"]) for p in got] == [("update", "facility", moved)] * 2
    assert all(isinstance(p["ts"], float) for p in got)

    _sql(engine, "UPDATE grid SET name = name")
    assert [(p["table"], p["id"]) for p in _payloads(raw_listener)] == [("grid", None)]


def test_a_bulk_statement_sends_one_notification(
    district: LatticeDistrict, raw_listener: psycopg.Connection[Any]
) -> None:
    engine = district.engine
    _sql(engine, "UPDATE building SET households = households + 1")
    try:
        got = _payloads(raw_listener)
        assert [(p["op"], p["table"], p["id"]) for p in got] == [("update", "building", None)]
    finally:
        _sql(engine, "UPDATE building SET households = households - 1")


def test_nothing_is_cached_without_the_listener(district: LatticeDistrict) -> None:
    service = CoverageService(district.engine)
    first = service.coverage_model(KG, 300)
    second = service.coverage_model(KG, 300)
    assert first is not second
    stats = service.stats()
    assert stats["listening"] is False
    assert stats["builds"] == 2 and stats["hits"] == 0 and stats["models"] == {}
    assert service.sync() is False


def test_stop_is_prompt_and_drops_the_caches(district: LatticeDistrict) -> None:
    service = CoverageService(district.engine)
    assert service.start()
    service.coverage_model(KG, 300)
    started = time.monotonic()
    service.stop()
    assert time.monotonic() - started < 1.0
    assert service.stats()["models"] == {}
    assert service.listening is False


def test_a_lost_listener_connection_drops_the_caches_and_reconnects(
    service: CoverageService, district: LatticeDistrict
) -> None:
    service.coverage_model(KG, 300)
    killed = _sql(
        district.engine,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    ).all()
    assert killed
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if service.listening and service.stats()["models"] == {}:
            break
        time.sleep(0.05)
    # Wait for the reconnect (backoff 0.5 s), then everything works as before.
    while not service.listening and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.listening
    assert service.stats()["models"] == {}
    facility = _insert_facility(district.engine, KG, 119.13, 36.745)
    try:
        service.coverage_model(KG, 300)
        assert service.sync()
        with service.view(KG, 300) as cached:
            assert_same_coverage(cached, _rebuilt(district.engine, KG, 300))
    finally:
        _sql(district.engine, "DELETE FROM facility WHERE id = :id", id=facility)


def test_derived_answers_are_reused_until_the_model_changes(
    service: CoverageService, district: LatticeDistrict
) -> None:
    calls: list[int] = []

    def count_open(model: CoverageModel) -> int:
        calls.append(1)
        return int(model.index.active.sum())

    assert service.derived(KG, 300, "open", count_open) == 3
    assert service.derived(KG, 300, "open", count_open) == 3
    assert len(calls) == 1
    facility = _insert_facility(district.engine, KG, 119.13, 36.745)
    try:
        assert service.sync()
        assert service.derived(KG, 300, "open", count_open) == 4
        assert len(calls) == 2
    finally:
        _sql(district.engine, "DELETE FROM facility WHERE id = :id", id=facility)
        assert service.sync()


def test_a_snapshot_does_not_follow_later_changes(service: CoverageService) -> None:
    with service.view(KG, 300) as model:
        copied = snapshot(model)
        first = int(model.index.fids[0])
        model.index.remove_facility(first)
        assert not model.index.active[model.index.slot_of[first]]
    assert copied.index.active[copied.index.slot_of[first]]
    assert copied.index.hh_covered.sum() > model.index.hh_covered.sum()
    service.refresh()
    assert service.stats()["models"] == {}


def test_lattice_households_are_as_generated(district: LatticeDistrict) -> None:
    total = _sql(district.engine, "SELECT sum(households) FROM building").scalar_one()
    assert total == sum(building_households(i) for i in range(district.buildings))
