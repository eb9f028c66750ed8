"""Accounts, API keys, login sessions, failed logins and the audit trail (migration 0007)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis.db.models.base import Base

ACCOUNT_ROLES = (
    "admin",
    "district",
    "subdistrict",
    "community",
    "grid_manager",
    "mediator",
    "planner",
)
_AREA_CODE_CHECK = "area_code IS NULL OR area_code ~ '^[0-9]{6}([0-9]{3}){0,3}$'"


class Account(Base):
    """A person who logs in: one role and the area it applies to (migration 0007).

    ``area_code`` is the district, subdistrict or community the role covers; a
    grid manager's grids are those of their ``staff`` record (AB posts included);
    admin and planner cover the whole district. ``password_hash`` is argon2id.
    """

    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint(
            "role IN (" + ", ".join(f"'{r}'" for r in ACCOUNT_ROLES) + ")", name="ck_account_role"
        ),
        CheckConstraint(_AREA_CODE_CHECK, name="ck_account_area_code"),
        CheckConstraint("length(username) BETWEEN 1 AND 64", name="ck_account_username"),
        Index("ux_account_username", text("lower(username)"), unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(20))
    area_code: Mapped[str | None] = mapped_column(String(15))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    display_name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """Another system's key: scopes, an optional area, expiry and revocation (0007).

    Only the SHA-256 digest of the key is stored; ``prefix`` (its first
    characters) names it in lists and logs.
    """

    __tablename__ = "api_key"
    __table_args__ = (CheckConstraint(_AREA_CODE_CHECK, name="ck_api_key_area_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(String(12), unique=True)
    key_digest: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    area_code: Mapped[str | None] = mapped_column(String(15))
    created_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuthSession(Base):
    """A login: a browser cookie or a bearer token, by its SHA-256 digest (0007)."""

    __tablename__ = "auth_session"
    __table_args__ = (CheckConstraint("kind IN ('cookie', 'bearer')", name="ck_auth_session_kind"),)

    token_digest: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    client: Mapped[str | None] = mapped_column(Text)


class LoginFailure(Base):
    """A failed login, per name typed (whether or not it exists), for throttling (0007)."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key_at", "username_key", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username_key: Mapped[str] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuditEntry(Base):
    """One audited event: a write, a login, a read of personal data (0007).

    Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE, and the
    application's database role may only insert and select.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_principal_at", "principal", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    principal: Mapped[str] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    object: Mapped[str | None] = mapped_column(Text)
    area: Mapped[str | None] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
