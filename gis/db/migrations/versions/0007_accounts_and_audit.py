"""Accounts, API keys, login sessions, login throttling and the audit trail

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 18:30:00.000000

Until now every endpoint was open and every actor a name the caller typed.
A person now logs in to an ``account`` (one role, an area; a grid manager's
grids are those of their staff record), another system calls with an
``api_key`` (scopes, optional area, expiry, revocation). Login sessions, of
the browser cookie and of bearer tokens alike, are rows of ``auth_session``
so that logging out, disabling an account or revoking a key takes effect at
once. Tokens and keys are stored as SHA-256 digests only (they are random
with 256 bits, so a slow hash adds nothing); passwords as argon2id.

``login_failure`` counts failed logins per name typed, whether or not such
an account exists, so that throttling reveals nothing.

``audit_log`` is append-only: a trigger refuses UPDATE, DELETE and TRUNCATE,
and the application's own database role ``gridmap_app`` (created here when
missing, without login; ``gis.db.roles`` gives it a password and the app
connects as it) may only INSERT and SELECT it. The role gets the rights the
application needs on everything else and nothing more: no DDL, no ownership.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ROLES = ("admin", "district", "subdistrict", "community", "grid_manager", "mediator", "planner")
APP_ROLE = "gridmap_app"


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("area_code", sa.String(15), nullable=True),
        sa.Column(
            "staff_id", sa.Integer(), sa.ForeignKey("staff.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="ck_account_role"
        ),
        sa.CheckConstraint(
            "area_code IS NULL OR area_code ~ '^[0-9]{6}([0-9]{3}){0,3}$'",
            name="ck_account_area_code",
        ),
        sa.CheckConstraint("length(username) BETWEEN 1 AND 64", name="ck_account_username"),
    )
    op.create_index("ux_account_username", "account", [sa.text("lower(username)")], unique=True)

    # Who took a step, as an identity rather than a display name: "account:12", "key:3",
    # "system". The rule that whoever handled a case may not verify it compares these.
    op.add_column("incident_transition", sa.Column("actor_ref", sa.String(40), nullable=True))

    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.String(12), nullable=False, unique=True),
        sa.Column("key_digest", postgresql.BYTEA(), nullable=False, unique=True),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("area_code", sa.String(15), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "area_code IS NULL OR area_code ~ '^[0-9]{6}([0-9]{3}){0,3}$'",
            name="ck_api_key_area_code",
        ),
    )

    op.create_table(
        "auth_session",
        sa.Column("token_digest", postgresql.BYTEA(), primary_key=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("account.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('cookie', 'bearer')", name="ck_auth_session_kind"),
    )

    op.create_table(
        "login_failure",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("username_key", sa.Text(), nullable=False),
        sa.Column("client", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_login_failure_key_at", "login_failure", ["username_key", "at"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("principal", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("object", sa.Text(), nullable=True),
        sa.Column("area", sa.Text(), nullable=True),
        sa.Column("client", sa.Text(), nullable=True),
        sa.Column("detail", postgresql.JSONB(), nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_principal_at", "audit_log", ["principal", "at"])
    op.execute(
        """CREATE FUNCTION gridmap_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
        END $$"""
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION gridmap_audit_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION gridmap_audit_append_only()"
    )

    op.execute(
        f"""DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            CREATE ROLE {APP_ROLE} NOLOGIN;
          END IF;
        END $$"""
    )
    grant_app_rights()


def grant_app_rights() -> None:
    """What the application may do: read and write its tables, never change the audit."""
    op.execute(
        "DO $$ BEGIN EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO "
        f"{APP_ROLE}', current_database()); END $$"
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    # Tables of later migrations, created by the same owner, are the app's to use too.
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}"
    )
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON alembic_version FROM {APP_ROLE}")
    op.execute(f"GRANT SELECT ON alembic_version TO {APP_ROLE}")
    op.execute(f"REVOKE INSERT, UPDATE, DELETE ON spatial_ref_sys FROM {APP_ROLE}")


def downgrade() -> None:
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {APP_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM {APP_ROLE}"
    )
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON SCHEMA public FROM {APP_ROLE}")
    op.execute(
        "DO $$ BEGIN EXECUTE format('REVOKE ALL ON DATABASE %I FROM "
        f"{APP_ROLE}', current_database()); END $$"
    )
    op.execute("DROP TABLE audit_log")
    op.execute("DROP FUNCTION gridmap_audit_append_only()")
    op.drop_table("login_failure")
    op.drop_table("auth_session")
    op.drop_table("api_key")
    op.drop_table("account")
    op.drop_column("incident_transition", "actor_ref")
