"""The demo's walking network: its streets, a river and a rail line crossed only where the
demo says, gated compounds left only through their gates, one network, the same every load."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from gis.demo import load as demo_module
from gis.demo.spec import DEFAULT_SEED
from gis.network.store import network_summary


def _scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_the_demo_has_one_walking_network_with_its_barriers(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        summary = network_summary(conn)
        barriers = dict(
            conn.execute(text("SELECT kind, count(*) FROM walk_barrier GROUP BY kind")).all()
        )
    kinds = dict(summary.kinds)
    assert summary.components == 1 and summary.origins == ("demo",)
    assert summary.edges >= _scalar(demo_engine, "SELECT count(*) FROM street") - 40
    assert kinds["bridge"] >= 2 and kinds["tunnel"] >= 1 and 4 <= kinds["gate"] <= 12
    assert barriers["river"] == 1 and barriers["rail"] == 1 and 4 <= barriers["wall"] <= 6
    assert summary.one_way == 0


@pytest.mark.parametrize(("barrier", "crossings"), [("river", "bridge"), ("rail", "bridge|tunnel")])
def test_rivers_and_rails_are_crossed_only_on_bridges_and_underpasses(
    demo_engine: Engine, barrier: str, crossings: str
) -> None:
    allowed = ", ".join(f"'{k}'" for k in crossings.split("|"))
    crossing = _scalar(
        demo_engine,
        f"""SELECT count(*) FROM walk_edge e JOIN walk_barrier b ON ST_Intersects(e.geom, b.geom)
            WHERE b.kind = '{barrier}' AND e.kind NOT IN ({allowed})""",
    )
    assert crossing == 0
    allowed_crossings = _scalar(
        demo_engine,
        f"""SELECT count(*) FROM walk_edge e JOIN walk_barrier b ON ST_Intersects(e.geom, b.geom)
            WHERE b.kind = '{barrier}'""",
    )
    assert 1 <= allowed_crossings <= 8


def test_compounds_are_walled_with_their_buildings_inside_and_left_by_gates(
    demo_engine: Engine,
) -> None:
    through_walls = _scalar(
        demo_engine,
        """SELECT count(*) FROM walk_edge e JOIN walk_barrier b ON ST_Intersects(e.geom, b.geom)
           WHERE b.kind = 'wall' AND e.kind <> 'gate'""",
    )
    assert through_walls == 0
    with demo_engine.connect() as conn:
        rows = conn.execute(
            text(
                """SELECT b.id,
                          count(*) FILTER (WHERE ST_Within(x.location, ST_MakePolygon(b.geom))),
                          count(x.id)
                   FROM walk_barrier b
                   JOIN grid g ON ST_Within(ST_MakePolygon(b.geom), g.geom)
                   JOIN building x ON x.grid_id = g.id
                   WHERE b.kind = 'wall' GROUP BY b.id"""
            )
        ).all()
        gates = conn.execute(
            text(
                """SELECT b.id, count(e.id) FROM walk_barrier b
                   JOIN walk_edge e ON e.kind = 'gate' AND ST_Intersects(e.geom, b.geom)
                   WHERE b.kind = 'wall' GROUP BY b.id"""
            )
        ).all()
    assert rows and all(inside == total > 0 for _, inside, total in rows)
    assert len(gates) == len(rows) and all(1 <= n <= 2 for _, n in gates)


def test_a_district_loaded_without_a_network_gets_the_same_one(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        before = network_summary(conn)
        shapes = conn.execute(
            text("SELECT md5(string_agg(ST_AsEWKB(geom)::text, '' ORDER BY id)) FROM walk_edge")
        ).scalar_one()
        try:
            conn.execute(text("DELETE FROM walk_edge"))
            conn.execute(text("DELETE FROM walk_barrier"))
            written = demo_module._write_walk(conn, DEFAULT_SEED)
            again = network_summary(conn)
            shapes_again = conn.execute(
                text("SELECT md5(string_agg(ST_AsEWKB(geom)::text, '' ORDER BY id)) FROM walk_edge")
            ).scalar_one()
        finally:
            conn.rollback()
    assert written == before.edges and again == before and shapes_again == shapes
