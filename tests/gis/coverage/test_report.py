"""Coverage tables: exact figures on a hand-made district, and the demo's figures, stable."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from coverage_world import BUILDINGS, C1, C2, DISTRICT, G1, G2, SUBDISTRICT, build_world
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gis.coverage.catalogue import CATALOGUE
from gis.coverage.report import (
    ROLLUP_COLUMNS,
    area_rollups,
    building_results,
    rings,
    rings_wide,
    uncovered,
    worst,
)
from gis.coverage.store import CoverageModel, build_coverage, load_areas, load_buildings
from gis.demo.load import demo_counts
from gis.errors import InvalidParameterError
from gis.geo.geojson import records


@pytest.fixture
def world_model(db: Session) -> CoverageModel:
    build_world(db)
    return build_coverage(db.connection(), "kindergarten", 300)


def _row(frame: pd.DataFrame, code: str) -> pd.Series:
    return frame.set_index("code").loc[code]


def test_grid_rollups_are_exact(world_model: CoverageModel) -> None:
    grids = area_rollups(world_model, "grid")
    assert list(grids.columns) == ROLLUP_COLUMNS
    assert grids["code"].tolist() == [G1, G2]
    g1, g2 = _row(grids, G1), _row(grids, G2)
    assert (g1.households, g1.households_covered, g1.households_uncovered) == (60, 30, 30)
    assert (g1.buildings, g1.buildings_covered) == (3, 2)
    assert g1.coverage_rate == pytest.approx(0.5)
    # Household-weighted: (10·100 + 20·250 + 30·450) / 60 m; 90 % of 60 households is reached at b3.
    assert g1.mean_distance_m == pytest.approx(325.0, abs=0.01)
    assert g1.p90_distance_m == pytest.approx(450.0, abs=0.01)
    assert (g2.households, g2.households_covered, g2.buildings_covered) == (90, 40, 1)
    assert g2.coverage_rate == pytest.approx(40 / 90)
    assert g2.mean_distance_m == pytest.approx((40 * 200 + 50 * 600) / 90, abs=0.01)
    assert g2.p90_distance_m == pytest.approx(600.0, abs=0.01)


def test_upper_levels_add_up(world_model: CoverageModel) -> None:
    communities = area_rollups(world_model, "community")
    assert communities["code"].tolist() == [C1, C2]
    assert communities["name"].tolist() == ["西社区", "东社区"]
    sub = area_rollups(world_model, "subdistrict")
    assert sub["code"].tolist() == [SUBDISTRICT]
    district = area_rollups(world_model, "district")
    d = district.iloc[0]
    assert (d.code, d["name"]) == (DISTRICT, "奎文区")
    assert (d.households, d.households_covered, d.households_uncovered) == (150, 70, 80)
    assert (d.buildings, d.buildings_covered) == (5, 3)
    assert d.coverage_rate == pytest.approx(70 / 150)
    assert d.p90_distance_m == pytest.approx(600.0, abs=0.01)  # 135 of 150 reached at b5
    assert sub.iloc[0].households_covered == 70


def test_a_district_without_subdistricts_has_no_subdistrict_rows(db: Session) -> None:
    build_world(db, subdistricts=False)
    model = build_coverage(db.connection(), "kindergarten", 300)
    assert area_rollups(model, "subdistrict").empty
    assert area_rollups(model, "community")["households"].tolist() == [60, 90]
    assert area_rollups(model, "district").iloc[0].households_covered == 70


def test_worst_ranks_by_rate_then_uncovered_households(world_model: CoverageModel) -> None:
    ranked = worst(area_rollups(world_model, "community"), 5)
    assert ranked["code"].tolist() == [C2, C1]  # 44 % before 50 %
    assert ranked["rank"].tolist() == [1, 2]
    assert worst(area_rollups(world_model, "community"), 1)["code"].tolist() == [C2]


def test_worst_breaks_rate_ties_by_households_uncovered_and_skips_empty_areas() -> None:
    frame = pd.DataFrame(
        {
            "code": ["a", "b", "c", "d"],
            "households": [100, 300, 0, 50],
            "households_uncovered": [100, 300, 0, 10],
            "coverage_rate": [0.0, 0.0, math.nan, 0.8],
        }
    )
    assert worst(frame, 10)["code"].tolist() == ["b", "a", "d"]


def test_building_results(world_model: CoverageModel) -> None:
    results = building_results(world_model)
    assert sorted(results["id"]) == sorted(world_model.buildings.ids.tolist())
    rows = results.sort_values("nearest_m")
    assert rows["nearest_m"].round(2).tolist() == [100.0, 200.0, 250.0, 450.0, 600.0]
    assert rows["covered"].tolist() == [True, True, True, False, False]
    assert rows["households"].tolist() == [10, 40, 20, 30, 50]
    assert rows["grid_code"].tolist() == [G1, G2, G1, G1, G2]
    assert rows["community_code"].tolist() == [C1, C2, C1, C1, C2]
    assert rows["facilities_within"].tolist() == [1, 1, 1, 0, 0]
    f_of = dict(zip(world_model.index.fids.tolist(), ["F1", "F2"], strict=True))
    assert [f_of[int(f)] for f in rows["nearest_facility_id"]] == ["F1", "F2", "F1", "F1", "F2"]
    assert len(BUILDINGS) == len(rows)


def test_redundancy_counts_every_facility_within_the_radius(db: Session) -> None:
    build_world(db)
    model = build_coverage(db.connection(), "kindergarten", 3100)
    rows = building_results(model).sort_values("households")
    # F1 and F2 are 3 km apart: only b5 (3.6 km from F1) has a single facility in reach.
    assert rows["facilities_within"].tolist() == [2, 2, 2, 2, 1]


def test_uncovered_lists_farthest_first(world_model: CoverageModel) -> None:
    visit = uncovered(world_model)
    assert visit["nearest_m"].round(2).tolist() == [600.0, 450.0]
    assert uncovered(world_model, G1)["households"].tolist() == [30]
    with pytest.raises(InvalidParameterError, match="no current grid"):
        uncovered(world_model, "370705001009001")


def test_rings_reuse_one_nearest_distance(world_model: CoverageModel) -> None:
    table = rings(world_model, [1000, 300, 500], "grid")
    assert table["radius_m"].tolist() == [300, 500, 1000, 300, 500, 1000]
    assert table["households_covered"].tolist() == [30, 60, 60, 40, 40, 90]
    wide = rings_wide(table)
    assert wide.columns.tolist()[-3:] == ["rate_300m", "rate_500m", "rate_1000m"]
    assert wide.set_index("code").loc[G2, "rate_1000m"] == pytest.approx(1.0)
    # A ring equals a model built at that radius.
    at_500 = area_rollups(build_coverage_like(world_model, 500), "grid")
    assert (
        table[table["radius_m"] == 500]["households_covered"].tolist()
        == at_500["households_covered"].tolist()
    )
    with pytest.raises(InvalidParameterError):
        rings(world_model, [])


def build_coverage_like(model: CoverageModel, radius: float) -> CoverageModel:
    from gis.coverage.core import CoverageIndex

    index = CoverageIndex(
        model.index.bxy,
        model.index.households,
        model.index.group,
        model.index.n_groups,
        model.index.fids.tolist(),
        model.index.fxy,
        radius,
        scale_at=model.plane.scale_at,
    )
    return CoverageModel(model.type_code, model.areas, model.buildings, model.plane, index)


def test_incremental_changes_show_in_the_rollups(world_model: CoverageModel) -> None:
    f1 = int(world_model.index.fids[0])
    world_model.index.remove_facility(f1)
    g1 = _row(area_rollups(world_model, "grid"), G1)
    assert g1.households_covered == 0  # F2 is 1.5 km or more from every G1 building


def test_records_are_json_ready(world_model: CoverageModel) -> None:
    frame = pd.DataFrame({"a": [1.0, math.nan, math.inf], "b": np.array([1, 2, 3])})
    rows = records(frame)
    assert rows == [{"a": 1.0, "b": 1}, {"a": None, "b": 2}, {"a": None, "b": 3}]
    assert type(rows[0]["b"]) is int


def test_unknown_level_is_a_clear_error(world_model: CoverageModel) -> None:
    with pytest.raises(InvalidParameterError, match="grid, community, subdistrict, district"):
        area_rollups(world_model, "street")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- demo


@pytest.fixture(scope="module")
def demo_models(demo_engine: Engine) -> dict[str, CoverageModel]:
    with demo_engine.connect() as conn:
        areas = load_areas(conn)
        buildings = load_buildings(conn, areas)
        return {
            spec.code: build_coverage(conn, spec.code, spec.radius_m, areas, buildings)
            for spec in CATALOGUE
        }


def test_demo_rollups_are_consistent_at_every_level(
    demo_engine: Engine, demo_models: dict[str, CoverageModel]
) -> None:
    households = demo_counts(demo_engine).households
    for model in demo_models.values():
        district = area_rollups(model, "district").iloc[0]
        assert district.households == households
        for level in ("grid", "community", "subdistrict"):
            table = area_rollups(model, level)
            assert table["households"].sum() == district.households
            assert table["households_covered"].sum() == district.households_covered
            assert table["code"].is_monotonic_increasing
        assert 0.0 <= district.coverage_rate <= 1.0
        assert district.p90_distance_m >= district.mean_distance_m * 0.5


def test_demo_has_137_communities_and_10_subdistricts(
    demo_models: dict[str, CoverageModel],
) -> None:
    model = demo_models["kindergarten"]
    assert len(area_rollups(model, "community")) == 137
    assert len(area_rollups(model, "subdistrict")) == 10
    assert len(area_rollups(model, "grid")) == 400


def test_demo_figures_are_stable_across_loads(
    demo_engine: Engine, demo_models: dict[str, CoverageModel]
) -> None:
    with demo_engine.connect() as conn:
        again = build_coverage(conn, "community_health_station", 1000)
    first = area_rollups(demo_models["community_health_station"], "community")
    pd.testing.assert_frame_equal(first, area_rollups(again, "community"))
    pd.testing.assert_frame_equal(
        building_results(demo_models["community_health_station"]), building_results(again)
    )


def test_demo_rings_grow_with_the_radius(demo_models: dict[str, CoverageModel]) -> None:
    wide = rings_wide(rings(demo_models["primary_school"], (300, 500, 1000), "subdistrict"))
    assert len(wide) == 10
    assert (wide["rate_300m"] <= wide["rate_500m"]).all()
    assert (wide["rate_500m"] <= wide["rate_1000m"]).all()
    district = rings(demo_models["primary_school"], (500,), "district").iloc[0]
    assert (
        district.households_covered
        == area_rollups(demo_models["primary_school"], "district").iloc[0].households_covered
    )


def test_a_type_without_facilities_covers_nobody(db: Session) -> None:
    build_world(db)
    model = build_coverage(db.connection(), "primary_school", 500)
    district = area_rollups(model, "district")
    assert district.iloc[0].households_covered == 0 and district.iloc[0].coverage_rate == 0.0
    row = records(district)[0]
    assert row["mean_distance_m"] is None and row["p90_distance_m"] is None
    results = building_results(model)
    assert results["nearest_m"].isna().all() and (results["nearest_facility_id"] == -1).all()
