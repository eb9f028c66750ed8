"""The walking network in PostGIS: written whole, nodes snapped, true metres, notified,
read back for the numeric core, refused by the database where it must never be wrong."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import psycopg
import pytest
from shapely.geometry import LineString, Polygon
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gis.db.engine import connect_params
from gis.errors import InvalidParameterError
from gis.geo.metric import MetricPlane
from gis.network.store import (
    load_barriers,
    load_network,
    network_summary,
    replace_network,
    snap_nodes,
    true_lengths_m,
)

LON, LAT = 119.16, 36.71
D = 0.001  # about 89 m east-west, 111 m north-south here


def _square_network() -> gpd.GeoDataFrame:
    """A square block plus a one-way spur; the corner ends differ in the 9th decimal."""
    a, b, c, d = (LON, LAT), (LON + D, LAT), (LON + D, LAT + D), (LON, LAT + D)
    lines = [
        LineString([a, b]),
        LineString([(b[0] + 1e-9, b[1]), c]),  # 0.1 mm off: the same node
        LineString([c, d]),
        LineString([d, a]),
        LineString([c, (c[0] + D, c[1])]),
    ]
    return gpd.GeoDataFrame(
        {
            "forward": [True, True, True, True, True],
            "backward": [True, True, True, True, False],
            "kind": ["street", "street", "footway", "street", "path"],
            "name": ["胜利东街", None, None, "", "小路"],
        },
        geometry=lines,
        crs=4326,
    )


def _river() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"kind": ["river", "wall"], "name": ["白浪河", None]},
        geometry=[
            LineString([(LON - D, LAT + D / 2), (LON + 3 * D, LAT + D / 2)]),
            Polygon(
                [
                    (LON + 2 * D, LAT),
                    (LON + 3 * D, LAT),
                    (LON + 3 * D, LAT + D / 3),
                    (LON + 2 * D, LAT),
                ]
            ),
        ],
        crs=4326,
    )


def test_nodes_are_snapped_ends_and_lengths_true_metres(db: Session) -> None:
    summary = replace_network(db, _square_network(), _river(), "file:test.gpkg")
    assert (summary.edges, summary.nodes, summary.components) == (5, 5, 1)
    assert summary.one_way == 1 and summary.barriers == 2
    # 1/1000 degree of latitude is ~110.95 m at 36.7°N, of longitude ~89.4 m.
    assert summary.km == pytest.approx((2 * 89.43 + 2 * 110.95 + 89.43) / 1000, rel=2e-3)
    rows = db.execute(
        text("SELECT source, target, length_m, name, kind, origin FROM walk_edge ORDER BY id")
    ).all()
    assert [(r.source, r.target) for r in rows] == [(1, 2), (2, 3), (3, 4), (4, 1), (3, 5)]
    geography = (
        db.execute(text("SELECT ST_Length(geom::geography) FROM walk_edge ORDER BY id"))
        .scalars()
        .all()
    )
    assert [r.length_m for r in rows] == pytest.approx(geography, abs=0.01)
    assert [r.name for r in rows] == ["胜利东街", None, None, None, "小路"]
    assert {r.origin for r in rows} == {"file:test.gpkg"}
    assert network_summary(db) == summary


def test_a_second_network_replaces_the_first_whole(db: Session) -> None:
    replace_network(db, _square_network(), _river(), "first")
    one = _square_network().iloc[:2]
    summary = replace_network(db, one, None, "second")
    assert (summary.edges, summary.nodes, summary.barriers) == (2, 3, 0)
    stored = network_summary(db)
    assert stored.origins == ("second",) and stored.edges == 2 and stored.barriers == 0


def test_read_back_for_the_numeric_core(db: Session) -> None:
    replace_network(db, _square_network(), _river(), "demo")
    plane = MetricPlane.around(LON)
    network = load_network(db, plane)
    assert network.edge_count == 5 and network.node_count == 5
    ids = db.execute(text("SELECT id FROM walk_edge ORDER BY id")).scalars().all()
    assert list(network.edge_ids) == ids
    assert list(network.backward) == [True, True, True, True, False]
    # Plane metres: the first edge runs ~89.4 m east from the plane point of (LON, LAT).
    start = plane.to_plane([LON], [LAT])[0]
    assert np.allclose(network.geoms[0].coords[0], start, atol=1e-6)
    assert network.geoms[0].length == pytest.approx(89.43, rel=2e-3)
    barriers = load_barriers(db, plane)
    assert [g.geom_type for g in barriers] == ["LineString", "Polygon"]


def test_an_empty_network_reads_as_empty(db: Session) -> None:
    db.execute(text("DELETE FROM walk_edge"))
    network = load_network(db, MetricPlane.around(LON))
    assert network.edge_count == 0
    assert network_summary(db).edges == 0


def test_frames_that_are_not_wgs84_lines_are_refused(db: Session) -> None:
    projected = _square_network().to_crs(4549)
    with pytest.raises(InvalidParameterError, match="WGS84"):
        replace_network(db, projected, None, "x")
    nowhere = _square_network()
    nowhere["forward"] = False
    nowhere["backward"] = [True, False, True, True, True]
    with pytest.raises(InvalidParameterError, match=r"neither direction .* row 2"):
        replace_network(db, nowhere, None, "x")
    odd = _square_network()
    odd["kind"] = "motorway"
    with pytest.raises(InvalidParameterError, match="motorway"):
        replace_network(db, odd, None, "x")


@pytest.mark.parametrize(
    ("statement", "constraint"),
    [
        (
            "INSERT INTO walk_edge (source, target, geom, length_m, forward, backward, origin)"
            " VALUES (1, 2, ST_GeomFromText('LINESTRING(119 36, 119.1 36)', 4326), 1, false,"
            " false, 'x')",
            "walkable",
        ),
        (
            "INSERT INTO walk_edge (source, target, geom, length_m, origin)"
            " VALUES (1, 2, ST_GeomFromText('LINESTRING(119 36, 119.1 36)', 4326), -1, 'x')",
            "length_nonnegative",
        ),
        (
            "INSERT INTO walk_edge (source, target, geom, length_m, kind, origin)"
            " VALUES (1, 2, ST_GeomFromText('LINESTRING(119 36, 119.1 36)', 4326), 1, 'road',"
            " 'x')",
            "kind_known",
        ),
        (
            "INSERT INTO walk_barrier (kind, geom, origin)"
            " VALUES ('river', ST_GeomFromText('POINT(119 36)', 4326), 'x')",
            "geom_type",
        ),
        (
            "INSERT INTO walk_barrier (kind, geom, origin) VALUES ('river',"
            " ST_GeomFromText('LINESTRING(119 36, 119.1 36)', 4490), 'x')",
            "SRID",
        ),
    ],
)
def test_the_database_refuses_what_must_never_be_wrong(
    db: Session, statement: str, constraint: str
) -> None:
    with pytest.raises(DBAPIError, match=constraint), db.begin_nested():
        db.execute(text(statement))


def test_a_replaced_network_notifies_once_per_table(engine: Engine) -> None:
    params = connect_params(engine)
    with psycopg.connect(**params, autocommit=True) as listener:
        listener.execute("LISTEN gridmap_changes")
        with Session(engine) as session:
            replace_network(session, _square_network(), _river(), "notify")
            session.commit()
        try:
            seen = [json.loads(n.payload) for n in listener.notifies(timeout=2, stop_after=4)]
        finally:
            with Session(engine) as session:
                session.execute(text("DELETE FROM walk_edge"))
                session.execute(text("DELETE FROM walk_barrier"))
                session.commit()
    tables = sorted(c["table"] for c in seen)
    assert tables == ["walk_barrier", "walk_barrier", "walk_edge", "walk_edge"]
    assert {c["id"] for c in seen} == {None}


def test_the_app_role_may_read_and_write_the_network(engine: Engine) -> None:
    with engine.connect() as conn:
        rights = conn.execute(
            text(
                "SELECT t, has_table_privilege('gridmap_app', t, 'SELECT, INSERT, DELETE')"
                " FROM unnest(ARRAY['walk_edge', 'walk_barrier']) AS t"
            )
        ).all()
    assert dict(rights) == {"walk_edge": True, "walk_barrier": True}


def test_snapping_and_lengths_without_a_database() -> None:
    lines = np.array(
        [LineString([(0, 0), (0.001, 0)]), LineString([(0.001, 0.0000001), (0.002, 0)])],
        dtype=object,
    )
    source, target = snap_nodes(lines, snap_m=0.05)
    assert list(source) == [1, 2] and list(target) == [2, 3]  # 1.1 cm apart: one node
    source, target = snap_nodes(lines, snap_m=0.005)
    assert list(source) == [1, 3] and list(target) == [2, 4]
    assert true_lengths_m(lines) == pytest.approx([111.32, 111.32], abs=0.01)
