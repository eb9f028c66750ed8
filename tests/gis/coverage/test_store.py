"""Coverage read from the database agrees with PostGIS's own geodesic answer."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Engine, text

from gis.coverage import store as coverage_store
from gis.coverage.store import build_coverage, load_areas, load_buildings
from gis.errors import InvalidParameterError


def test_areas_and_buildings_match_the_tables(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        areas = load_areas(conn)
        buildings = load_buildings(conn, areas)
        n, hh = conn.execute(text("SELECT count(*), sum(households) FROM building")).one()
    assert (len(areas.grid_codes), len(areas.community_codes), len(areas.subdistrict_codes)) == (
        400,
        137,
        10,
    )
    assert areas.district_code == "370705"
    assert len(buildings.ids) == n and int(buildings.households.sum()) == hh
    # Every building's grid index points at the grid it is stored under.
    with demo_engine.connect() as conn:
        sample = conn.execute(
            text("SELECT b.id, g.code FROM building b JOIN grid g ON g.id = b.grid_id LIMIT 50")
        ).all()
    pos = {int(i): k for k, i in enumerate(buildings.ids)}
    for bid, code in sample:
        assert areas.grid_codes[buildings.grid[pos[bid]]] == code


def test_parallel_read_equals_serial(demo_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coverage_store, "PARALLEL_MIN_ROWS", 0)
    with demo_engine.connect() as conn:
        areas = load_areas(conn)
        serial = load_buildings(conn, areas, parts=1)
        parallel = load_buildings(conn, areas, parts=3)
    order_s, order_p = np.argsort(serial.ids), np.argsort(parallel.ids)
    assert np.array_equal(serial.ids[order_s], parallel.ids[order_p])
    assert np.array_equal(serial.lon[order_s], parallel.lon[order_p])
    assert np.array_equal(serial.households[order_s], parallel.households[order_p])
    assert np.array_equal(serial.grid[order_s], parallel.grid[order_p])


@pytest.mark.parametrize(
    ("type_code", "radius"), [("community_health_station", 1000), ("kindergarten", 300)]
)
def test_households_covered_equal_postgis_geography(
    demo_engine: Engine, type_code: str, radius: int
) -> None:
    with demo_engine.connect() as conn:
        model = build_coverage(conn, type_code, radius)
        per_grid = dict(
            conn.execute(
                text(
                    """
                    SELECT g.code, coalesce(sum(b.households) FILTER (WHERE EXISTS (
                        SELECT 1 FROM facility f WHERE f.type_code = :t
                          AND ST_DWithin(f.geom::geography, b.location::geography, :r))), 0)
                    FROM grid g LEFT JOIN building b ON b.grid_id = g.id
                    GROUP BY g.code
                    """
                ),
                {"t": type_code, "r": radius},
            ).all()
        )
    ours = model.index.rollup().households_covered
    assert {code: int(ours[i]) for i, code in enumerate(model.areas.grid_codes)} == per_grid


def test_unknown_type_and_bad_radius_are_refused(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        with pytest.raises(InvalidParameterError, match="known types"):
            build_coverage(conn, "swimming_pool", 500)
        with pytest.raises(InvalidParameterError, match="radius"):
            build_coverage(conn, "kindergarten", 0)


def test_streamed_build_equals_build_from_loaded_buildings(
    demo_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coverage_store, "PARALLEL_MIN_ROWS", 0)
    with demo_engine.connect() as conn:
        areas = load_areas(conn)
        streamed = build_coverage(conn, "kindergarten", 500, areas, parts=3)
        loaded = build_coverage(conn, "kindergarten", 500, areas, load_buildings(conn, areas, 1))
    s, lo = np.argsort(streamed.buildings.ids), np.argsort(loaded.buildings.ids)
    assert np.array_equal(streamed.buildings.ids[s], loaded.buildings.ids[lo])
    assert np.allclose(streamed.index.nearest_m[s], loaded.index.nearest_m[lo])
    assert np.array_equal(
        streamed.index.nearest_facility_id[s], loaded.index.nearest_facility_id[lo]
    )
    assert np.array_equal(
        streamed.index.rollup().households_covered, loaded.index.rollup().households_covered
    )
