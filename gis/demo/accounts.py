"""The demo's accounts: one per role and area, from its staff, all with one password.

``admin``, ``planner`` and ``district`` cover the whole district;
``subdistrict-<code>`` and ``community-<code>`` their area;
``mediator-<community code>`` the community's mediator; ``grid-<code>`` the
grid's primary grid manager, named by the first grid they are primary for
(their account covers every grid of their staff record, B posts included),
so that every grid has a manager who can log in. One argon2id hash serves
them all: the demo's accounts share the password by design.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from gis.accounts.passwords import hash_password


def create_demo_accounts(conn: Connection, password: str) -> int:
    """Insert the accounts (the district must be loaded); returns how many."""
    password_hash = hash_password(password)
    result = conn.execute(
        text(
            """
            WITH district AS (
              SELECT code, name FROM admin_area
               WHERE level = 'district' AND valid_to IS NULL ORDER BY code LIMIT 1),
            wanted (username, role, area_code, staff_id, display_name) AS (
              SELECT 'admin', 'admin', NULL, NULL::int, '系统管理员'
              UNION ALL SELECT 'planner', 'planner', NULL, NULL, '规划人员'
              UNION ALL SELECT 'district', 'district', d.code, NULL, d.name || '区级指挥中心'
                FROM district d
              UNION ALL SELECT 'subdistrict-' || a.code, 'subdistrict', a.code, NULL, a.name
                FROM admin_area a WHERE a.level = 'subdistrict' AND a.valid_to IS NULL
              UNION ALL SELECT 'community-' || a.code, 'community', a.code, NULL, a.name
                FROM admin_area a WHERE a.level = 'community' AND a.valid_to IS NULL
              UNION ALL (SELECT DISTINCT ON (a.code) 'mediator-' || a.code, 'mediator', a.code,
                       s.id, s.name
                FROM staff s JOIN admin_area a ON a.id = s.community_id
               WHERE s.role = 'mediator' ORDER BY a.code, s.id)),
            managers AS (
              SELECT DISTINCT ON (s.id) 'grid-' || g.code AS username, s.id, s.name
                FROM staff s JOIN staff_grid sg ON sg.staff_id = s.id AND sg.is_primary
                JOIN grid g ON g.id = sg.grid_id AND g.valid_to IS NULL
               WHERE s.role = 'grid_manager' ORDER BY s.id, g.code)
            INSERT INTO account (username, password_hash, role, area_code, staff_id, display_name)
            SELECT username, :hash, role, area_code, staff_id, display_name FROM wanted
            UNION ALL
            SELECT username, :hash, 'grid_manager', NULL, id, name FROM managers
            ON CONFLICT DO NOTHING
            """
        ),
        {"hash": password_hash},
    )
    return int(result.rowcount or 0)


ROLES_TO_TRY = (
    "admin",
    "planner",
    "district",
    "subdistrict",
    "community",
    "grid_manager",
    "mediator",
)
"""The order `gridmap demo` and the README list the demo's accounts in."""


def accounts_to_try(conn: Connection) -> list[tuple[str, str, str]]:
    """``(username, role, display name)`` of one account per role, the first by name:
    what `gridmap demo` suggests logging in with."""
    rows = conn.execute(
        text(
            """SELECT DISTINCT ON (role) username, role, display_name FROM account
                WHERE disabled_at IS NULL AND role = ANY(:roles)
                ORDER BY role, username"""
        ),
        {"roles": list(ROLES_TO_TRY)},
    ).all()
    found = {r.role: (r.username, r.role, r.display_name) for r in rows}
    return [found[role] for role in ROLES_TO_TRY if role in found]
