"""Accounts and keys for tests: made in the test's own session, logged in at once.

Hashing a password with argon2id takes a tenth of a second; the tests share
one hash of ``PASSWORD`` (the demo does the same for its accounts).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gis.accounts import keys, logins
from gis.accounts.accounts import AccountInfo, add_account, get_account
from gis.accounts.passwords import hash_password
from gis.errors import NotFoundError

PASSWORD = "test-password-1"
DEMO_PASSWORD = "demo-password-1"
"""The password of every demo account in the tests' demo database (``demo_engine``)."""


@cache
def password_hash() -> str:
    return hash_password(PASSWORD)


def make_account(
    session: Session,
    username: str,
    role: str,
    *,
    area_code: str | None = None,
    staff_id: int | None = None,
) -> AccountInfo:
    return add_account(
        session,
        username,
        PASSWORD,
        role,
        area_code=area_code,
        staff_id=staff_id,
        password_hash=password_hash(),
    )


def bearer(session: Session, account: AccountInfo) -> dict[str, str]:
    """Headers of a fresh bearer login of ``account``."""
    token = logins.open_login(session, account, "bearer", dt.timedelta(hours=1))
    session.flush()
    return {"Authorization": f"Bearer {token}"}


def login_headers(
    session: Session,
    username: str,
    role: str,
    *,
    area_code: str | None = None,
    staff_id: int | None = None,
) -> dict[str, str]:
    """A new account of ``role`` and the headers of its bearer login."""
    return bearer(
        session, make_account(session, username, role, area_code=area_code, staff_id=staff_id)
    )


def key_headers(
    session: Session, name: str, scopes: tuple[str, ...], area_code: str | None = None
) -> dict[str, str]:
    """A new API key with ``scopes`` and the header that sends it."""
    _, key = keys.create_key(session, name, scopes, area_code=area_code)
    session.flush()
    return {"X-API-Key": key}


def committed_headers(
    engine: Engine, username: str = "test-admin", role: str = "admin", **area: Any
) -> dict[str, str]:
    """Bearer headers of an account committed to ``engine``'s database (made if missing),
    for apps on a database of their own (not the test's rolled-back session)."""
    with Session(engine) as session:
        try:
            account = get_account(session, username)
        except NotFoundError:
            account = make_account(session, username, role, **area)
        headers = bearer(session, account)
        session.commit()
    return headers


def demo_login(client: Any, username: str) -> dict[str, str]:
    """Bearer headers of a demo account, logged in through the API with the demo password."""
    answer = client.post(
        "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}
