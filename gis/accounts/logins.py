"""Logging in and staying logged in: password checks, throttling, login sessions.

A login is a row of ``auth_session`` (a browser cookie or a bearer token) found
by the SHA-256 of its token; it ends when it expires, at logout, or when its
account is disabled or its password reset. A wrong username and a wrong
password are the same failure, take the same time, and count alike against
the name typed, so throttling tells nobody which names exist.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.accounts import passwords, tokens
from gis.accounts.accounts import ACCOUNT_COLUMNS, AccountInfo, account_info
from gis.errors import NotAuthenticatedError, TooManyAttemptsError
from gis.lang import Texts
from gis.localtime import utc_now
from gis.principal import Principal

FAILURES_ALLOWED = 5
"""Failed logins for one name within ``FAILURE_WINDOW`` before it is refused for a while."""
FAILURE_WINDOW = dt.timedelta(minutes=15)

LoginKind = Literal["cookie", "bearer"]

BAD_LOGIN = Texts("用户名或密码错误", "wrong username or password")


def _key(username: str) -> str:
    return username.strip().lower()[:64]


def _throttled(session: Session, username: str) -> int | None:
    """Seconds until ``username`` may be tried again, or None if it may now."""
    row = session.execute(
        text(
            """SELECT count(*) AS n, min(at) AS first FROM (
                 SELECT at FROM login_failure WHERE username_key = :k AND at > :since
                 ORDER BY at DESC LIMIT :n) recent"""
        ),
        {"k": _key(username), "since": utc_now() - FAILURE_WINDOW, "n": FAILURES_ALLOWED},
    ).one()
    if row.n < FAILURES_ALLOWED:
        return None
    wait = (row.first + FAILURE_WINDOW - utc_now()).total_seconds()
    return max(1, math.ceil(wait))


def check_password(
    session: Session, username: str, password: str, client: str | None = None
) -> AccountInfo:
    """The account ``username`` and ``password`` name, or NotAuthenticatedError.

    TooManyAttemptsError after ``FAILURES_ALLOWED`` failures for the name within
    ``FAILURE_WINDOW``. A failure is recorded in the caller's session before the
    error is raised: the caller commits it even though the login is refused.
    """
    wait = _throttled(session, username)
    if wait is not None:
        raise TooManyAttemptsError(
            f"too many failed logins for this name; try again in {wait} s",
            retry_after_s=wait,
            zh=f"登录失败次数过多，请 {wait} 秒后再试",
        )
    row = (
        session.execute(
            text(
                f"SELECT {ACCOUNT_COLUMNS}, a.password_hash FROM account a "
                "WHERE lower(a.username) = lower(:u)"
            ),
            {"u": username.strip()[:64]},
        )
        .mappings()
        .first()
    )
    stored = row["password_hash"] if row is not None and row["disabled"] is False else None
    if not passwords.verify(stored, password):
        # The name's failures older than the window count no more: they go as new ones
        # come, so the table holds at most a window's worth per name typed.
        session.execute(
            text("DELETE FROM login_failure WHERE username_key = :k AND at <= :since"),
            {"k": _key(username), "since": utc_now() - FAILURE_WINDOW},
        )
        session.execute(
            text("INSERT INTO login_failure (username_key, client) VALUES (:k, :c)"),
            {"k": _key(username), "c": client},
        )
        raise NotAuthenticatedError(BAD_LOGIN.en, zh=BAD_LOGIN.zh)
    assert row is not None
    if passwords.needs_rehash(row["password_hash"]):
        session.execute(
            text("UPDATE account SET password_hash = :h WHERE id = :id"),
            {"h": passwords.hash_password(password), "id": row["id"]},
        )
    session.execute(
        text("DELETE FROM login_failure WHERE username_key = :k"), {"k": _key(username)}
    )
    return account_info(row)


def open_login(
    session: Session,
    account: AccountInfo,
    kind: LoginKind,
    lifetime: dt.timedelta,
    client: str | None = None,
) -> str:
    """A new login for ``account``; the token is returned once and stored as a digest.

    The account's logins that have expired are deleted here, so the table holds
    only the live logins of each account (and those ended by logout until then).
    """
    token = tokens.new_secret()
    session.execute(
        text("DELETE FROM auth_session WHERE account_id = :a AND expires_at < now()"),
        {"a": account.id},
    )
    session.execute(
        text(
            """INSERT INTO auth_session (token_digest, account_id, kind, expires_at, client)
               VALUES (:d, :a, :k, :e, :c)"""
        ),
        {
            "d": tokens.digest(token),
            "a": account.id,
            "k": kind,
            "e": utc_now() + lifetime,
            "c": client,
        },
    )
    return token


def login_principal(session: Session, token: str, kind: LoginKind) -> Principal | None:
    """Who holds this live login of ``kind``, or None (unknown, expired, ended, disabled)."""
    row = (
        session.execute(
            text(
                f"""SELECT {ACCOUNT_COLUMNS} FROM auth_session s JOIN account a
                      ON a.id = s.account_id
                     WHERE s.token_digest = :d AND s.kind = :k AND s.revoked_at IS NULL
                       AND s.expires_at > now() AND a.disabled_at IS NULL"""
            ),
            {"d": tokens.digest(token), "k": kind},
        )
        .mappings()
        .first()
    )
    return None if row is None else account_info(row).principal()


def close_login(session: Session, token: str) -> None:
    session.execute(
        text("UPDATE auth_session SET revoked_at = now() WHERE token_digest = :d"),
        {"d": tokens.digest(token)},
    )
