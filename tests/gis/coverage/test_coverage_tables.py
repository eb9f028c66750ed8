"""Coverage as SQL selects: the same figures as the numeric core, on the demo district.

Every facility type's per-building flags, nearest facilities and per-grid rates
from ``gis.coverage.tables`` equal ``gis.coverage.report``'s; a facility added
in a transaction changes the answer at once; the blind spots are
``gis.coverage.geometry``'s; and the plans use the spatial indexes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from gis.coverage.catalogue import CATALOGUE, resolve_radius
from gis.coverage.geometry import blind_spots
from gis.coverage.report import area_rollups, building_results
from gis.coverage.store import build_coverage
from gis.coverage.tables import (
    BLIND_SPOT_COLUMNS,
    BUILDING_COLUMNS,
    GRID_COLUMNS,
    blind_spots_select,
    buildings_select,
    grids_select,
)
from gis.errors import InvalidParameterError, NotFoundError
from gis.lang import Lang
from tests.conftest import rolled_back

TYPES = [spec.code for spec in CATALOGUE]


@pytest.fixture
def demo(demo_engine: Engine) -> Iterator[Session]:
    """A session on the demo district whose writes are rolled back at the end."""
    with rolled_back(demo_engine) as session:
        yield session


def _frame(session: Session, stmt: object, columns: list[str]) -> pd.DataFrame:
    sub = stmt.subquery()  # type: ignore[attr-defined]
    rows = session.execute(select(*[sub.c[c] for c in columns])).all()
    return pd.DataFrame(rows, columns=columns)


@pytest.mark.parametrize("type_code", TYPES)
def test_buildings_and_grids_equal_the_report(demo: Session, type_code: str) -> None:
    model = build_coverage(demo.connection(), type_code, resolve_radius(demo, type_code, None))
    expected = building_results(model).set_index("id").sort_index()
    got = (
        _frame(demo, buildings_select(type_code), ["id", *[c.name for c in BUILDING_COLUMNS]])
        .set_index("id")
        .sort_index()
    )
    assert got.index.tolist() == expected.index.tolist()
    assert got["covered"].tolist() == expected["covered"].tolist()
    assert got["grid_code"].tolist() == expected["grid_code"].tolist()
    assert got["community_code"].tolist() == expected["community_code"].tolist()
    assert got["households"].tolist() == expected["households"].tolist()
    nearest = got["nearest_facility_id"].fillna(-1).astype(np.int64)
    assert nearest.tolist() == expected["nearest_facility_id"].tolist()
    # Same formula on the same projection: equal far below a millimetre.
    np.testing.assert_allclose(
        got["nearest_m"].astype(float), expected["nearest_m"], rtol=0, atol=1e-6
    )
    assert expected["covered"].any() and not expected["covered"].all()

    rollups = area_rollups(model, "grid").set_index("code")
    grids = (
        _frame(demo, grids_select(type_code), ["id", *[c.name for c in GRID_COLUMNS]])
        .set_index("code")
        .sort_index()
    )
    assert grids.index.tolist() == rollups.index.tolist()
    assert grids["name"].tolist() == rollups["name"].tolist()
    assert grids["households"].tolist() == rollups["households"].tolist()
    assert grids["covered_households"].tolist() == rollups["households_covered"].tolist()
    assert grids["buildings"].tolist() == rollups["buildings"].tolist()
    assert grids["covered_buildings"].tolist() == rollups["buildings_covered"].tolist()
    rate = grids["coverage_rate"].astype(float).to_numpy()
    np.testing.assert_array_equal(rate, rollups["coverage_rate"].to_numpy())


def test_a_type_without_facilities_covers_nobody(demo: Session) -> None:
    demo.execute(
        text(
            "INSERT INTO facility_type (code, name_zh, name_en, radius_m, life_circle,"
            " norm_source) VALUES ('library', '图书室', 'Library', 500, '10min', 'test')"
        )
    )
    model = build_coverage(demo.connection(), "library", 500)
    buildings = buildings_select("library", demo).subquery()
    row = demo.execute(
        select(
            func.count(),
            func.count().filter(buildings.c.covered),
            func.count(buildings.c.nearest_facility_id),
            func.count(buildings.c.nearest_m),
        )
    ).one()
    assert tuple(row) == (len(model.buildings.ids), 0, 0, 0)
    grids = grids_select("library", demo).subquery()
    totals = demo.execute(
        select(func.sum(grids.c.households), func.sum(grids.c.covered_households))
    ).one()
    assert totals[0] == int(model.index.households.sum()) > 0 and totals[1] == 0


def test_grids_from_a_model_equal_the_grids_in_sql(demo: Session) -> None:
    model = build_coverage(demo.connection(), "primary_school", 500)
    columns = ["id", *[c.name for c in GRID_COLUMNS]]
    in_sql = _frame(demo, grids_select("primary_school"), columns).sort_values("id")
    bound = _frame(demo, grids_select("primary_school", model=model), columns).sort_values("id")
    assert len(bound) == len(in_sql) == len(model.areas.grid_ids)
    pd.testing.assert_frame_equal(bound.reset_index(drop=True), in_sql.reset_index(drop=True))
    with pytest.raises(InvalidParameterError):
        grids_select("kindergarten", model=model)


def test_a_facility_added_in_the_transaction_counts_at_once(demo: Session) -> None:
    stmt = buildings_select("kindergarten").subquery()
    far = demo.execute(
        select(stmt.c.id, stmt.c.grid_code, stmt.c.households, stmt.c.nearest_m)
        .where(~stmt.c.covered)
        .order_by(stmt.c.nearest_m.desc(), stmt.c.id)
        .limit(1)
    ).one()
    grids = grids_select("kindergarten").subquery()
    before = demo.execute(
        select(grids.c.covered_households).where(grids.c.code == far.grid_code)
    ).scalar_one()
    facility = demo.execute(
        text(
            "INSERT INTO facility (type_code, name, geom)"
            " SELECT 'kindergarten', '新幼儿园', location FROM building WHERE id = :b"
            " RETURNING id"
        ),
        {"b": far.id},
    ).scalar_one()
    now = demo.execute(
        select(stmt.c.covered, stmt.c.nearest_facility_id, stmt.c.nearest_m).where(
            stmt.c.id == far.id
        )
    ).one()
    assert (now.covered, now.nearest_facility_id, now.nearest_m) == (True, facility, 0.0)
    after = demo.execute(
        select(grids.c.covered_households).where(grids.c.code == far.grid_code)
    ).scalar_one()
    assert after >= before + far.households


@pytest.mark.parametrize("type_code", ["kindergarten", "community_health_station"])
def test_blind_spots_equal_the_geometry(demo: Session, type_code: str) -> None:
    expected = blind_spots(demo.connection(), type_code)
    sub = blind_spots_select(demo, type_code).subquery()
    rows = demo.execute(
        select(sub, func.ST_AsBinary(sub.c.geom).label("wkb")).order_by(sub.c.id)
    ).all()
    got = pd.DataFrame([r._asdict() for r in rows])
    assert len(got) == len(expected) > 0
    expected = expected.assign(id=expected["community_code"] + "-" + expected["part"].astype(str))
    expected = expected.sort_values("id").reset_index(drop=True)
    assert got["id"].tolist() == expected["id"].tolist()
    for c in BLIND_SPOT_COLUMNS:
        assert got[c.name].tolist() == expected[c.name].tolist(), c.name
    geoms = shapely.from_wkb([bytes(w) for w in got["wkb"]])
    assert all(shapely.get_type_id(geoms) == shapely.GeometryType.MULTIPOLYGON)
    assert (shapely.get_num_geometries(geoms) == 1).all()  # each part is one polygon
    polygons = shapely.get_geometry(geoms, 0)
    assert shapely.equals_exact(polygons, expected.geometry.to_numpy(), tolerance=0).all()


def test_an_unknown_type_is_refused_in_both_languages(demo: Session) -> None:
    for make in (
        lambda: buildings_select("no_such_type", demo),
        lambda: grids_select("no_such_type", demo),
        lambda: blind_spots_select(demo, "no_such_type"),
    ):
        with pytest.raises(NotFoundError) as caught:
            make()
        assert "no_such_type" in str(caught.value)
        assert "未知的设施类型" in caught.value.text(Lang.ZH)
    # Without a session to check against, an unknown type selects nothing.
    sub = buildings_select("no_such_type").subquery()
    assert demo.execute(select(func.count()).select_from(sub)).scalar_one() == 0


def _plan(session: Session, stmt: object) -> str:
    compiled = stmt.compile(  # type: ignore[attr-defined]
        session.get_bind(), compile_kwargs={"literal_binds": True}
    )
    rows = session.execute(text(f"EXPLAIN (COSTS OFF) {compiled}")).scalars().all()
    return "\n".join(rows)


def test_a_bbox_uses_the_spatial_index_and_a_count_skips_the_distances(demo: Session) -> None:
    box = func.ST_MakeEnvelope(119.15, 36.70, 119.17, 36.72, 4326)
    buildings = buildings_select("kindergarten").subquery()
    in_box = select(buildings).where(func.ST_Intersects(buildings.c.geom, box))
    assert "ix_building_location" in _plan(demo, in_box)
    count = (
        select(func.count()).select_from(buildings).where(func.ST_Intersects(buildings.c.geom, box))
    )
    plan = _plan(demo, count)
    assert "ix_building_location" in plan
    assert "facility " not in plan and "st_transform" not in plan.lower()
    grids = grids_select("kindergarten").subquery()
    assert "ix_grid_geom" in _plan(demo, select(grids).where(func.ST_Intersects(grids.c.geom, box)))
