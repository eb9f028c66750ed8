"""The database refuses what must never be wrong, whoever writes to it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

SQUARE = "MULTIPOLYGON(((119.10 36.70, 119.11 36.70, 119.11 36.71, 119.10 36.71, 119.10 36.70)))"
BOWTIE = "MULTIPOLYGON(((119.10 36.70, 119.11 36.71, 119.11 36.70, 119.10 36.71, 119.10 36.70)))"


def _area(db: Session, code: str, level: str, parent: int | None, wkt: str = SQUARE) -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO admin_area (code, name, level, parent_id, geom, households,"
                " population, floating_population)"
                " VALUES (:c, :n, :l, :p, ST_GeomFromText(:w, 4326), 0, 0, 0) RETURNING id"
            ),
            {"c": code, "n": f"area {code}", "l": level, "p": parent, "w": wkt},
        ).scalar_one()
    )


def _grid(db: Session, code: str, community: int, wkt: str = SQUARE) -> int:
    return int(
        db.execute(
            text(
                "INSERT INTO grid (code, name, community_id, geom, households, population)"
                " VALUES (:c, :n, :k, ST_GeomFromText(:w, 4326), 0, 0) RETURNING id"
            ),
            {"c": code, "n": f"grid {code}", "k": community, "w": wkt},
        ).scalar_one()
    )


def _refused(db: Session, fn, *args: object, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DBAPIError, match=match), db.begin_nested():
        fn(db, *args)


@pytest.fixture
def community(db: Session) -> int:
    district = _area(db, "370705", "district", None)
    street = _area(db, "370705001", "subdistrict", district)
    return _area(db, "370705001001", "community", street)


def test_self_intersecting_polygon_is_refused(db: Session) -> None:
    _refused(db, _area, "370705", "district", None, BOWTIE, match="geom_valid")


def test_wrong_srid_is_refused(db: Session) -> None:
    with pytest.raises(DBAPIError, match="SRID"), db.begin_nested():
        db.execute(
            text(
                "INSERT INTO admin_area (code, name, level, geom, households, population,"
                " floating_population) VALUES ('370705', 'x', 'district',"
                " ST_GeomFromText(:w, 4490), 0, 0, 0)"
            ),
            {"w": SQUARE},
        )


def test_code_layout_and_parent_prefix(db: Session, community: int) -> None:
    district = int(db.execute(text("SELECT id FROM admin_area WHERE code='370705'")).scalar_one())
    _refused(db, _area, "3707050", "subdistrict", district, match="code_layout")
    _refused(db, _area, "370706002", "subdistrict", district, match="does not extend")
    _refused(db, _grid, "370705001002001", community, match="does not extend")
    _refused(db, _grid, "37070500100101", community, match="code_layout")


def test_one_version_of_a_code_at_a_time(db: Session, community: int) -> None:
    _grid(db, "370705001001001", community)
    _refused(db, _grid, "370705001001001", community, match="ex_grid_code_period")
    # Closing the old version lets a new one start: history is kept.
    db.execute(text("UPDATE grid SET valid_to = '2024-01-01' WHERE code = '370705001001001'"))
    db.execute(
        text(
            "INSERT INTO grid (code, name, community_id, geom, households, population, valid_from)"
            " VALUES ('370705001001001', 'v2', :k, ST_GeomFromText(:w, 4326), 0, 0, '2024-01-01')"
        ),
        {"k": community, "w": SQUARE},
    )
    versions = db.execute(
        text("SELECT count(*) FROM grid WHERE code = '370705001001001'")
    ).scalar_one()
    assert versions == 2


def test_grid_households_follow_buildings(db: Session, community: int) -> None:
    a = _grid(db, "370705001001001", community)
    b = _grid(db, "370705001001002", community)
    db.execute(
        text(
            "INSERT INTO building (grid_id, location, households) VALUES"
            " (:a, ST_SetSRID(ST_MakePoint(119.105, 36.705), 4326), 120),"
            " (:a, ST_SetSRID(ST_MakePoint(119.106, 36.705), 4326), 80),"
            " (:b, ST_SetSRID(ST_MakePoint(119.107, 36.705), 4326), 30)"
        ),
        {"a": a, "b": b},
    )

    def households() -> dict[int, int]:
        rows = db.execute(
            text("SELECT id, households FROM grid WHERE id IN (:a, :b)"), {"a": a, "b": b}
        )
        return {int(i): int(h) for i, h in rows}

    assert households() == {a: 200, b: 30}
    db.execute(text("UPDATE building SET grid_id = :b WHERE households = 80"), {"b": b})
    assert households() == {a: 120, b: 110}
    db.execute(text("DELETE FROM building WHERE households = 120"))
    assert households() == {a: 0, b: 110}


UNINDEXED_GEOMETRY = {"position_report.geom", "device.last_geom"}
"""Geometry columns read by other keys only (migration 0014): a device's track is read by
device and time; last positions by device (a worker's nearest to a call is found among a
few hundred workers); a spatial index would cost every position batch its upkeep."""


def test_geometry_columns_have_gist_indexes(db: Session) -> None:
    rows = (
        db.execute(
            text(
                "SELECT f.f_table_name || '.' || f.f_geometry_column FROM geometry_columns f"
                " WHERE NOT EXISTS (SELECT 1 FROM pg_indexes i WHERE i.tablename = f.f_table_name"
                "   AND i.indexdef ILIKE '%USING gist (' || f.f_geometry_column || ')%')"
            )
        )
        .scalars()
        .all()
    )
    assert sorted(rows) == sorted(UNINDEXED_GEOMETRY)
    srids = db.execute(text("SELECT DISTINCT srid FROM geometry_columns")).scalars().all()
    assert srids == [4326]
