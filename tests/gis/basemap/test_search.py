"""Search on the demo district: each kind found by what a person would type; cases narrowed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.basemap.search import search
from gis.errors import InvalidParameterError
from gis.incidents.visibility import PERSONAL_CATEGORIES
from gis.principal import Principal, Role

DISTRICT = Principal(kind="person", name="区级", role=Role.DISTRICT)
PLANNER = Principal(kind="person", name="规划", role=Role.PLANNER)


@pytest.fixture
def session(demo_engine: Engine) -> Iterator[Session]:
    with Session(demo_engine) as s:
        yield s


def one(session: Session, sql: str, **params: Any) -> Any:
    return session.execute(text(sql), params).one()


def kinds(hits: list[Any]) -> list[str]:
    return [h.kind for h in hits]


def test_a_grid_by_code_and_by_name(session: Session) -> None:
    grid = one(session, "SELECT code, name FROM grid ORDER BY code LIMIT 1")
    by_code = search(session, grid.code, DISTRICT)
    assert by_code[0].kind == "grid" and by_code[0].code == grid.code
    assert by_code[0].url == f"/grid/{grid.code}" and by_code[0].bbox is not None
    by_name = search(session, grid.name, DISTRICT)
    assert by_name[0].label == grid.name and by_name[0].sublabel  # its community


def test_communities_and_subdistricts_by_name(session: Session) -> None:
    community = one(session, "SELECT name FROM admin_area WHERE level = 'community' LIMIT 1")
    hits = search(session, community.name, DISTRICT)
    assert hits[0].kind == "community" and hits[0].label == community.name
    sub = one(session, "SELECT name FROM admin_area WHERE level = 'subdistrict' LIMIT 1")
    assert search(session, sub.name, DISTRICT)[0].kind == "subdistrict"


def test_an_address_by_its_words_and_a_building_by_its_number(session: Session) -> None:
    b = one(
        session,
        """SELECT b.id, b.ext_id, b.address, c.name AS community FROM building b
           JOIN grid g ON g.id = b.grid_id JOIN admin_area c ON c.id = g.community_id
           WHERE b.name IS NOT NULL ORDER BY b.id LIMIT 1""",
    )
    number = b.address.removeprefix(b.address.split(b.community)[0] + b.community)
    hits = search(session, f"{b.community} {number}", DISTRICT, limit=20)
    assert any(h.kind == "address" and h.id == b.id for h in hits)
    exact = search(session, b.address, DISTRICT)
    assert exact[0].kind == "address" and exact[0].label == b.address
    by_number = search(session, b.ext_id.lower(), DISTRICT)
    assert by_number[0].kind == "building" and by_number[0].id == b.id


def test_a_street_by_name(session: Session) -> None:
    street = one(session, "SELECT name FROM street WHERE kind = 'main' ORDER BY id LIMIT 1")
    hits = search(session, street.name, DISTRICT)
    assert hits[0].kind == "street" and hits[0].label == street.name
    assert hits[0].sublabel == "主干路" and hits[0].bbox is not None


def test_a_case_by_number_or_external_number(session: Session) -> None:
    case = one(session, "SELECT id, ext_id FROM incident ORDER BY id LIMIT 1")
    for q in (str(case.id), case.ext_id):
        hit = search(session, q, DISTRICT)[0]
        assert hit.kind == "incident" and hit.id == case.id and hit.url == f"/cases/{case.id}"
    assert "incident" not in kinds(search(session, case.ext_id, DISTRICT, include_incidents=False))


def test_a_case_out_of_reach_is_not_found(session: Session) -> None:
    case = one(
        session,
        """SELECT i.id, i.ext_id, g.code AS grid FROM incident i JOIN grid g ON g.id = i.grid_id
           ORDER BY i.id LIMIT 1""",
    )
    other = one(
        session, "SELECT code FROM grid WHERE code <> :c ORDER BY code LIMIT 1", c=case.grid
    )
    mine = Principal(kind="person", name="网格员", role=Role.GRID_MANAGER, areas=(case.grid,))
    elsewhere = Principal(kind="person", name="网格员", role=Role.GRID_MANAGER, areas=(other.code,))
    assert search(session, case.ext_id, mine)[0].id == case.id
    assert "incident" not in kinds(search(session, case.ext_id, elsewhere))
    assert "incident" not in kinds(search(session, str(case.id), elsewhere))


def test_a_personal_case_is_placed_at_its_grid_for_those_not_responsible(session: Session) -> None:
    case = one(
        session,
        """SELECT i.id, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
                  ST_X(ST_PointOnSurface(g.geom)) AS glon, ST_Y(ST_PointOnSurface(g.geom)) AS glat
           FROM incident i JOIN grid g ON g.id = i.grid_id
           WHERE i.category = ANY(:personal) ORDER BY i.id LIMIT 1""",
        personal=sorted(PERSONAL_CATEGORIES),
    )
    full = search(session, str(case.id), DISTRICT)[0]
    masked = search(session, str(case.id), PLANNER)[0]
    assert (full.lon, full.lat) == pytest.approx((case.lon, case.lat), abs=1e-6)
    assert (masked.lon, masked.lat) == pytest.approx((case.glon, case.glat), abs=1e-6)


def test_best_matches_first_and_at_most_limit(session: Session) -> None:
    hits = search(session, "社区", DISTRICT, limit=7)
    assert len(hits) == 7
    assert search(session, "%", DISTRICT) == []  # LIKE's wildcards are matched as text
    assert search(session, "没有这样的地方", DISTRICT) == []


@pytest.mark.parametrize("q", ["", "   ", "x" * 101, "a b c d e f"])
def test_an_empty_or_overlong_query_is_refused(session: Session, q: str) -> None:
    with pytest.raises(InvalidParameterError, match="q "):
        search(session, q, DISTRICT)
