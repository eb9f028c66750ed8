"""The demo's accounts: every role, every area, a grid manager who can log in for every grid."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
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


def test_a_district_loaded_before_accounts_existed_gets_them(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An install from before migration 0007 has the district and no account: `gridmap
    demo` must make them (and say the password), or nobody could log in."""
    from gis.db import schema
    from gis.db.engine import make_engine, recreate_database
    from gis.demo import inputs as demo_inputs
    from gis.demo import load as demo_module
    from gis.demo.inputs import read_inputs
    from gis.demo.load import load_demo

    real = demo_inputs.boundary_dir()
    shutil.copy(real / demo_inputs.BOUNDARY_FILE, tmp_path)
    divisions = read_inputs(real)[1]
    small = divisions[
        divisions["code"].str.startswith("370705001") | (divisions["code"] == "370705")
    ]
    small.head(4).to_csv(tmp_path / demo_inputs.DIVISIONS_FILE, index=False)
    monkeypatch.setenv("GRIDMAP_BOUNDARY_DIR", str(tmp_path))
    original = demo_module.generate_demo
    monkeypatch.setattr(
        demo_module, "generate_demo", lambda b, d, seed: original(b, d, seed, households=1_000)
    )
    engine = make_engine(recreate_database(server_url, "gridmap_demo_accounts_test"))
    try:
        schema.upgrade(engine)
        assert load_demo(engine, password=DEMO_PASSWORD).loaded_now
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM account"))
        again = load_demo(engine, password=DEMO_PASSWORD)
        assert again.loaded_now and again.accounts > 0
        assert not load_demo(engine, password=DEMO_PASSWORD).loaded_now
    finally:
        engine.dispose()
