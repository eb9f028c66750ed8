"""Logins at the gis level: what a password check accepts, and what the tables keep."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.accounts import logins, passwords
from gis.errors import NotAuthenticatedError
from tests.accounts import PASSWORD, make_account


def _count(db: Session, sql: str, **params: object) -> int:
    return int(db.execute(text(sql), params).scalar_one())


def test_a_password_longer_than_any_account_has_never_logs_in(db: Session) -> None:
    """Only the first MAX_LENGTH characters are hashed; a longer password whose start
    matches must still fail (no account can have set it)."""
    stored = passwords.hash_password("p" * passwords.MAX_LENGTH)
    assert passwords.verify(stored, "p" * passwords.MAX_LENGTH)
    assert not passwords.verify(stored, "p" * (passwords.MAX_LENGTH + 1))
    assert not passwords.verify(None, PASSWORD)


def test_a_new_login_clears_the_accounts_expired_ones(db: Session) -> None:
    account = make_account(db, "returning", "planner")
    logins.open_login(db, account, "bearer", dt.timedelta(hours=1))
    db.execute(text("UPDATE auth_session SET expires_at = now() - interval '1 day'"))
    live = logins.open_login(db, account, "cookie", dt.timedelta(hours=1))
    assert _count(db, "SELECT count(*) FROM auth_session WHERE account_id = :a", a=account.id) == 1
    assert logins.login_principal(db, live, "cookie") is not None
    assert logins.login_principal(db, live, "bearer") is None  # a cookie is not a bearer token


def test_failures_older_than_the_window_go_as_new_ones_come(db: Session) -> None:
    make_account(db, "forgetful", "planner")
    for _ in range(3):
        with pytest.raises(NotAuthenticatedError):
            logins.check_password(db, "forgetful", "wrong-password")
    db.execute(text("UPDATE login_failure SET at = at - interval '1 day'"))
    with pytest.raises(NotAuthenticatedError):
        logins.check_password(db, "Forgetful", "wrong-password")
    kept = _count(db, "SELECT count(*) FROM login_failure WHERE username_key = 'forgetful'")
    assert kept == 1
    assert logins.check_password(db, "forgetful", PASSWORD).username == "forgetful"
    assert _count(db, "SELECT count(*) FROM login_failure WHERE username_key = 'forgetful'") == 0
