"""The demo's accounts: every role, every area, a grid manager who can log in for every grid."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.accounts.accounts import list_accounts
from gis.accounts.logins import check_password
from gis.demo.accounts import ROLES_TO_TRY, accounts_to_try
from gis.demo.load import demo_counts
from gis.principal import Role
from tests.accounts import DEMO_PASSWORD


def _codes(engine: Engine, sql: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text(sql)).scalars())


def test_every_role_has_an_account(demo_engine: Engine) -> None:
    with Session(demo_engine) as session:
        accounts = list_accounts(session)
    assert {a.role for a in accounts} == set(Role)
    assert not any(a.disabled for a in accounts)
    assert demo_counts(demo_engine).accounts == len(accounts)


def test_every_current_grid_has_a_grid_manager_who_can_log_in(demo_engine: Engine) -> None:
    grids = _codes(demo_engine, "SELECT code FROM grid WHERE valid_to IS NULL")
    with Session(demo_engine) as session:
        managers = list_accounts(session, role=Role.GRID_MANAGER)
    covered = {code for m in managers for code in m.areas or ()}
    assert len(grids) > 300 and grids <= covered
    # named by a grid they are primary for, and covering it
    for m in managers:
        assert m.username.startswith("grid-") and m.areas and m.username[5:] in m.areas


def test_every_subdistrict_and_community_has_its_account(demo_engine: Engine) -> None:
    for level in ("subdistrict", "community"):
        areas = _codes(
            demo_engine,
            f"SELECT code FROM admin_area WHERE level = '{level}' AND valid_to IS NULL",
        )
        with Session(demo_engine) as session:
            accounts = list_accounts(session, role=Role(level))
        assert {a.username for a in accounts} == {f"{level}-{code}" for code in areas}
        assert all(a.areas == (a.username.split("-", 1)[1],) for a in accounts)


def test_the_accounts_to_try_log_in_with_the_demo_password(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        tried = accounts_to_try(conn)
    assert [role for _, role, _ in tried] == list(ROLES_TO_TRY)
    assert [u for u, _, _ in tried][:3] == ["admin", "planner", "district"]
    with Session(demo_engine) as session:
        for username, role, _ in tried:
            assert check_password(session, username, DEMO_PASSWORD).role == Role(role)
        session.rollback()
