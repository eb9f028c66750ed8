"""The demo district after load: the sweep, run at the demo's "now", has brought every stuck
case up the levels, so none waits at a level beyond its limit (issue 11: cases used to wait
at community level for up to 317 days)."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.demo.spec import DEMO_AS_OF
from gis.incidents.inbox import inbox
from gis.incidents.workflow import OPEN_STATES
from gis.principal import Principal, Role


def test_no_open_case_waits_beyond_its_levels_limit(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        rows = conn.execute(
            text(
                """SELECT handling_level, count(*) AS n,
                          count(*) FILTER (WHERE supervise_due_at IS NULL) AS without,
                          count(*) FILTER (WHERE supervise_due_at < :now) AS past
                   FROM incident WHERE status = ANY(:open) GROUP BY handling_level"""
            ),
            {"now": DEMO_AS_OF, "open": list(OPEN_STATES)},
        ).all()
        by_level = {r.handling_level: r for r in rows}
        assert sum(r.without for r in rows) == 0  # every open case has its clock
        for level in ("grid", "community", "subdistrict"):
            if level in by_level:
                assert by_level[level].past == 0, level  # the sweep raised them
        assert by_level["district"].n > 0  # the long-stuck ones reached the top, no further
        # the raises are in the histories, one level after another, each when a limit passed
        chains = conn.execute(
            text(
                """SELECT incident_id, array_agg(to_level ORDER BY at, id) AS levels,
                          bool_and(actor = 'system') AS by_system
                   FROM incident_transition WHERE action = 'escalate'
                   GROUP BY incident_id"""
            )
        ).all()
        full = [c for c in chains if len(c.levels) >= 2]
        assert full, "no case went up more than one level"
        for c in full:
            assert c.by_system
            assert c.levels[-1] in ("subdistrict", "district")
        audited = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'incident.escalate'")
        ).scalar_one()
        assert audited > 0


def test_a_subdistrict_finds_the_cases_raised_to_it_in_its_inbox(demo_engine: Engine) -> None:
    with Session(demo_engine) as session:
        row = session.execute(
            text(
                """SELECT s.code, count(*) AS n FROM incident i
                   JOIN admin_area s ON s.id = i.subdistrict_id
                   WHERE i.handling_level = 'subdistrict' AND i.status = ANY(:open)
                   GROUP BY s.code ORDER BY n DESC, s.code LIMIT 1"""
            ),
            {"open": list(OPEN_STATES)},
        ).one()
        who = Principal("person", "街道指挥中心", role=Role.SUBDISTRICT, areas=(row.code,))
        box = inbox(session, who, now=DEMO_AS_OF, limit=500)
        raised = [i for i in box.items if i.handling_level == "subdistrict"]
        assert len(raised) == row.n and all(i.escalated for i in raised)
        assert all(i.grid_code is not None and i.grid_code.startswith(row.code) for i in box.items)
        assert box.counts.escalated >= row.n
        assert all(i.supervise_due_at is not None for i in raised)
