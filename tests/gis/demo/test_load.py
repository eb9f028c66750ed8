"""The demo district as stored in PostGIS: tiling, households and codes checked in SQL."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.areas.codes import reading_order
from gis.coverage.catalogue import CATALOGUE, seed_facility_types
from gis.demo import inputs as demo_inputs
from gis.demo import load as demo_module
from gis.demo._grids import grid_row_height
from gis.demo.inputs import read_inputs
from gis.demo.load import DemoCounts, demo_counts, load_demo
from gis.lang import Texts
from gis.progress import Advance, Description

AREA = "ST_Area(ST_Transform({}, 4549))"


def _scalar(engine: Engine, sql: str, **params: object) -> float:
    with engine.connect() as conn:
        return float(conn.execute(text(sql), params).scalar_one())


def _row_counts(engine: Engine) -> dict[str, int]:
    tables = ("admin_area", "grid", "building", "staff", "staff_grid", "facility", "incident")
    return {t: int(_scalar(engine, f"SELECT count(*) FROM {t}")) for t in tables}


def test_counts_look_like_kuiwen(demo_engine: Engine) -> None:
    counts = demo_counts(demo_engine)
    assert counts.subdistricts == 10
    assert 60 <= counts.communities <= 200
    assert 350 <= counts.grids <= 450
    assert counts.buildings >= 15_000
    assert 90_000 <= counts.households <= 110_000
    assert counts.staff > counts.households / 200
    assert set(counts.facilities_by_type) == {spec.code for spec in CATALOGUE}
    assert min(counts.facilities_by_type.values()) > 0
    assert 3000 <= counts.incidents <= 5000


@pytest.mark.parametrize(
    ("child_sql", "parent_sql"),
    [
        (
            "SELECT parent_id AS pid, geom FROM admin_area WHERE level = 'subdistrict'",
            "SELECT id, geom FROM admin_area WHERE level = 'district'",
        ),
        (
            "SELECT parent_id AS pid, geom FROM admin_area WHERE level = 'community'",
            "SELECT id, geom FROM admin_area WHERE level = 'subdistrict'",
        ),
        (
            "SELECT community_id AS pid, geom FROM grid",
            "SELECT id, geom FROM admin_area WHERE level = 'community'",
        ),
    ],
    ids=["subdistricts-tile-district", "communities-tile-subdistricts", "grids-tile-communities"],
)
def test_children_tile_their_parent_without_gaps_or_overlaps(
    demo_engine: Engine, child_sql: str, parent_sql: str
) -> None:
    worst_gap = _scalar(
        demo_engine,
        f"""WITH c AS ({child_sql}), p AS ({parent_sql}),
                u AS (SELECT pid, ST_Union(geom) AS geom FROM c GROUP BY pid)
            SELECT max({AREA.format("ST_SymDifference(u.geom, p.geom)")})
            FROM p JOIN u ON u.pid = p.id""",
    )
    parents_without_children = _scalar(
        demo_engine,
        f"""WITH c AS ({child_sql}), p AS ({parent_sql})
            SELECT count(*) FROM p WHERE NOT EXISTS (SELECT 1 FROM c WHERE c.pid = p.id)""",
    )
    overlap = _scalar(
        demo_engine,
        f"""WITH c AS (SELECT row_number() OVER () AS n, * FROM ({child_sql}) s)
            SELECT COALESCE(sum({AREA.format("ST_Intersection(a.geom, b.geom)")}), 0)
            FROM c a JOIN c b ON a.n < b.n AND ST_Intersects(a.geom, b.geom)""",
    )
    assert worst_gap < 1.0
    assert parents_without_children == 0
    assert overlap < 1.0


def test_every_building_is_in_exactly_one_grid_its_own(demo_engine: Engine) -> None:
    not_in_one = _scalar(
        demo_engine,
        """SELECT count(*) FROM building b
           WHERE (SELECT count(*) FROM grid g WHERE ST_Covers(g.geom, b.location)) <> 1""",
    )
    outside_own = _scalar(
        demo_engine,
        """SELECT count(*) FROM building b JOIN grid g ON g.id = b.grid_id
           WHERE NOT ST_Covers(g.geom, b.location) OR NOT ST_Covers(g.geom, b.footprint)""",
    )
    assert not_in_one == 0
    assert outside_own == 0


def test_grid_households_are_the_sum_of_their_buildings_and_200_to_300(
    demo_engine: Engine,
) -> None:
    mismatched = _scalar(
        demo_engine,
        """SELECT count(*) FROM grid g
           WHERE g.households <> (SELECT sum(households) FROM building b WHERE b.grid_id = g.id)""",
    )
    lo = _scalar(demo_engine, "SELECT min(households) FROM grid")
    hi = _scalar(demo_engine, "SELECT max(households) FROM grid")
    assert mismatched == 0
    assert lo >= 200 and hi <= 300


def test_codes_have_15_digits_and_extend_their_community(demo_engine: Engine) -> None:
    bad = _scalar(
        demo_engine,
        """SELECT count(*) FROM grid g
           JOIN admin_area c ON c.id = g.community_id
           JOIN admin_area s ON s.id = c.parent_id
           JOIN admin_area d ON d.id = s.parent_id
           WHERE g.code !~ '^[0-9]{15}$' OR left(g.code, 12) <> c.code
              OR left(c.code, 9) <> s.code OR d.code <> '370705'""",
    )
    grids = _scalar(demo_engine, "SELECT count(*) FROM grid")
    assert bad == 0 and grids > 0


def test_grid_codes_follow_reading_order(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        community = conn.execute(
            text(
                "SELECT community_id FROM grid GROUP BY community_id"
                " ORDER BY count(*) DESC, community_id LIMIT 1"
            )
        ).scalar_one()
        rows = conn.execute(
            text(
                """SELECT code, ST_X(p), ST_Y(p), area FROM (
                     SELECT code, ST_Centroid(ST_Transform(geom, 4549)) AS p,
                            ST_Area(ST_Transform(geom, 4549)) AS area
                     FROM grid WHERE community_id = :c) s"""
            ),
            {"c": community},
        ).all()
    assert len(rows) >= 3
    order = reading_order(
        [r[1] for r in rows], [r[2] for r in rows], grid_row_height([r[3] for r in rows])
    )
    sequences = [int(rows[i][0][12:]) for i in order]
    assert sequences == list(range(1, len(rows) + 1))


def test_a_few_communities_lack_a_health_station(demo_engine: Engine) -> None:
    without = _scalar(
        demo_engine,
        """SELECT count(*) FROM admin_area c WHERE c.level = 'community' AND NOT EXISTS (
             SELECT 1 FROM facility f
             WHERE f.community_id = c.id AND f.type_code = 'community_health_station')""",
    )
    assert 3 <= without <= 5


def test_every_grid_has_a_primary_grid_manager(demo_engine: Engine) -> None:
    without = _scalar(
        demo_engine,
        """SELECT count(*) FROM grid g WHERE NOT EXISTS (
             SELECT 1 FROM staff_grid sg JOIN staff s ON s.id = sg.staff_id
             WHERE sg.grid_id = g.id AND sg.is_primary AND s.role = 'grid_manager')""",
    )
    assert without == 0


def test_incidents_lie_in_their_grid(demo_engine: Engine) -> None:
    outside = _scalar(
        demo_engine,
        """SELECT count(*) FROM incident i LEFT JOIN grid g ON g.id = i.grid_id
           WHERE g.id IS NULL OR NOT ST_Covers(g.geom, i.geom)""",
    )
    assert outside == 0


def test_loading_again_inserts_nothing(demo_engine: Engine) -> None:
    before = _row_counts(demo_engine)
    counts = load_demo(demo_engine)
    assert _row_counts(demo_engine) == before
    assert counts == demo_counts(demo_engine)
    assert isinstance(counts, DemoCounts) and counts.grids == before["grid"]


def test_a_load_reports_its_steps_as_one_task(demo_engine: Engine) -> None:
    tasks: list[tuple[Description, int]] = []
    steps: list[tuple[int, Description | None]] = []

    def record(description: Description, total: int, /) -> Advance:
        tasks.append((description, total))

        def advance(n: int = 1, /, description: Description | None = None) -> None:
            steps.append((n, description))

        return advance

    load_demo(demo_engine, progress=record)
    assert len(tasks) == 1
    assert sum(n for n, _ in steps) == tasks[0][1]
    assert steps[-1][1] == Texts("演示区 奎文区 已加载", "Demo district Kuiwen already loaded")


def test_a_failed_load_leaves_nothing_behind(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small district from GRIDMAP_BOUNDARY_DIR, broken while writing incidents."""
    real = demo_inputs.boundary_dir()
    shutil.copy(real / demo_inputs.BOUNDARY_FILE, tmp_path)
    divisions = read_inputs(real)[1]
    small = divisions[
        divisions["code"].isin(["370705", "370705001"])
        | divisions["code"].str.startswith("370705001")
    ]
    small.head(4).to_csv(tmp_path / demo_inputs.DIVISIONS_FILE, index=False)
    monkeypatch.setenv("GRIDMAP_BOUNDARY_DIR", str(tmp_path))
    original = demo_module.generate_demo
    monkeypatch.setattr(
        demo_module, "generate_demo", lambda b, d, seed: original(b, d, seed, households=1_000)
    )
    real_copy = demo_module.copy_rows
    written: list[str] = []

    def copy_until_incidents(cur, table, columns, rows):  # type: ignore[no-untyped-def]
        if table == "incident":
            raise RuntimeError("disk full")
        real_copy(cur, table, columns, rows)
        written.append(table)

    monkeypatch.setattr(demo_module, "copy_rows", copy_until_incidents)
    with pytest.raises(RuntimeError, match="disk full"):
        load_demo(engine)
    assert {"admin_area", "grid", "building", "facility"} <= set(written)
    assert _scalar(engine, "SELECT count(*) FROM admin_area WHERE code LIKE '370705%'") == 0
    assert _scalar(engine, "SELECT count(*) FROM building") == 0


def test_facility_types_are_seeded_once_and_kept_in_step(db: Session) -> None:
    assert seed_facility_types(db) == len(CATALOGUE)
    db.execute(text("UPDATE facility_type SET radius_m = 1 WHERE code = 'kindergarten'"))
    seed_facility_types(db)
    rows = {c: r for c, r in db.execute(text("SELECT code, radius_m FROM facility_type"))}
    assert rows == {spec.code: spec.radius_m for spec in CATALOGUE}
    assert rows["kindergarten"] == 300 and rows["mediation_station"] == 1000


def test_incidents_carry_their_workflow_and_history(demo_engine: Engine) -> None:
    """Columns as gis.incidents.transitions.transition leaves them, and one intake row per case."""
    with demo_engine.connect() as conn:
        bad = conn.execute(
            text(
                """
                WITH h AS (
                  SELECT incident_id, count(*) AS n,
                         count(*) FILTER (WHERE action = 'reported' AND from_state IS NULL
                                          AND to_level = 'grid') AS intake,
                         count(*) FILTER (WHERE action = 'escalate') AS escalations
                  FROM incident_transition GROUP BY incident_id)
                SELECT count(*) FILTER (WHERE h.n IS NULL OR h.intake <> 1),
                       count(*) FILTER (WHERE i.version <> h.n),
                       count(*) FILTER (WHERE (i.handling_level = 'grid') <> (h.escalations = 0)),
                       count(*) FILTER (WHERE (i.handler_staff_id IS NULL)
                                              <> (i.handling_level <> 'grid')),
                       count(*) FILTER (WHERE (i.closed_at IS NOT NULL)
                                              <> (i.status IN ('closed', 'evaluated'))),
                       count(*) FILTER (WHERE (i.deadline_at IS NOT NULL)
                                              <> (i.clock_started_at IS NOT NULL)),
                       count(*)
                FROM incident i LEFT JOIN h ON h.incident_id = i.id
                """
            )
        ).one()
        last_state = conn.execute(
            text(
                """SELECT count(*) FROM incident i JOIN LATERAL (
                     SELECT to_state FROM incident_transition t WHERE t.incident_id = i.id
                     ORDER BY at DESC, id DESC LIMIT 1) t ON true
                   WHERE t.to_state <> i.status"""
            )
        ).scalar_one()
        handler = conn.execute(
            text(
                """SELECT count(*) FROM incident i WHERE i.handler_staff_id IS DISTINCT FROM (
                     SELECT min(s.id) FROM staff_grid sg JOIN staff s ON s.id = sg.staff_id
                     WHERE sg.grid_id = i.grid_id AND sg.is_primary
                       AND s.role = 'grid_manager') AND i.handling_level = 'grid'
                     AND i.unit_id IS NULL"""
            )
        ).scalar_one()
        # A dispute handed over (交办) is its unit's head's, and its history says so.
        handed, not_head, unnamed = conn.execute(
            text(
                """SELECT count(*), count(*) FILTER (WHERE i.handler_staff_id <> u.head_staff_id),
                          count(*) FILTER (WHERE NOT EXISTS (
                            SELECT FROM incident_transition t WHERE t.incident_id = i.id
                               AND t.action = 'hand_over' AND t.unit_id = u.id
                               AND t.unit_head = (
                                 SELECT name FROM staff WHERE id = u.head_staff_id)))
                     FROM incident i JOIN mediation_unit u ON u.id = i.unit_id"""
            )
        ).one()
        transitions = _scalar(demo_engine, "SELECT count(*) FROM incident_transition")
    assert tuple(bad[:-1]) == (0, 0, 0, 0, 0, 0) and bad[-1] == 4027
    assert last_state == 0 and handler == 0
    assert handed > 30 and not_head == 0 and unnamed == 0
    assert 20_000 < transitions < 35_000


def test_a_demo_history_reads_like_a_live_one(demo_engine: Engine) -> None:
    from gis.incidents.records import get_incident, history

    with Session(demo_engine) as session:
        reworked = session.execute(
            text("SELECT id FROM incident WHERE rework_count > 0 ORDER BY id LIMIT 1")
        ).scalar_one()
        steps = history(session, reworked)
        record = get_incident(session, reworked)
    actions = [s.action for s in steps]
    assert actions[:3] == ["reported", "accept", "dispatch"]
    assert "rework" in actions and actions.index("rework") < actions.index("verify")
    assert record.version == len(steps) and record.closed_at == steps[actions.index("verify")].at
    assert all(a.at <= b.at for a, b in itertools.pairwise(steps))
