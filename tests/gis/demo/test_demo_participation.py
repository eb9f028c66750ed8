"""The demo's councils, micro-projects and 由民做主 items: one council per community, a year
of plausible, clearly fictional records, the same ones again for the same seed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, text

from gis.demo._participation import FICTIONAL, write_participation
from gis.demo.spec import DEFAULT_SEED, INCIDENT_END, INCIDENT_START

_DIGEST = text(
    "SELECT count(*), md5(string_agg(concat_ws('|', kind, title, status, proposed_on,"
    " budget_cny, spent_cny, ST_AsText(place)), ',' ORDER BY id)) FROM participation_item"
)


def test_one_council_per_community_and_a_year_of_items(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        communities, councils, without = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM admin_area WHERE level = 'community'"
                "  AND valid_to IS NULL), (SELECT count(*) FROM council),"
                " (SELECT count(*) FROM admin_area a WHERE level = 'community'"
                "  AND NOT EXISTS (SELECT FROM council k WHERE k.community_id = a.id))"
            )
        ).one()
        kinds = {
            str(k): int(n)
            for k, n in conn.execute(
                text("SELECT kind, count(*) FROM participation_item GROUP BY kind")
            )
        }
        first, last, fictional, micro_budget = conn.execute(
            text(
                "SELECT min(proposed_on), max(proposed_on),"
                " bool_and(description LIKE :f || '%'),"
                " sum(budget_cny) FILTER (WHERE kind = 'micro_project')"
                " FROM participation_item"
            ),
            {"f": FICTIONAL},
        ).one()
    assert councils == communities and without == 0
    assert kinds["micro_project"] >= 3 * communities
    assert kinds["people_decide"] > 0 and kinds["council_matter"] > 0
    assert first >= INCIDENT_START and last <= INCIDENT_END
    assert fictional
    # Futian: 3,000万 a year over 115 communities, about 26万 each.
    assert 10e4 < float(micro_budget) / communities < 50e4
    assert isinstance(first, dt.date)


def test_the_same_seed_gives_the_same_records(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        before = conn.execute(_DIGEST).one()
        try:
            conn.execute(text("DELETE FROM participation_item"))
            conn.execute(text("DELETE FROM council"))
            councils, written = write_participation(conn, DEFAULT_SEED)
            again = conn.execute(_DIGEST).one()
            assert write_participation(conn, DEFAULT_SEED) == (0, 0)  # councils stored
        finally:
            conn.rollback()
    assert written == before[0] and again == before and councils > 0
