"""API keys of other systems (a city hotline, the big-data centre, a phone app).

A key is ``gm_<prefix>_<secret>``, shown once at creation and stored as the
SHA-256 of the whole key; ``prefix`` names it in lists. A key has scopes
(what it may call), an optional area (where), an expiry, and can be revoked.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.accounts import tokens
from gis.areas.codes import level_of
from gis.errors import ConflictError, InvalidParameterError, NotFoundError
from gis.localtime import utc_now
from gis.principal import Principal

SCOPES: Mapping[str, str] = {
    "incidents:write": "report incidents (POST /api/v1/incidents)",
    "incidents:read": "read incidents and their status, personal data masked",
    "features:read": "read the map layers: areas, grids, buildings, facilities, coverage",
    "open311": "Open311 GeoReport v2: file service requests and read their status",
    "devices:write": "send device positions and emergency calls of people served and "
    "home-care workers (POST /api/v1/devices/...), and record a call's arrival and end",
}
"""Every scope a key may have, and what it allows."""

DEFAULT_LIFETIME = dt.timedelta(days=365)
KEY_PREFIX = "gm_"


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    area_code: str | None
    created_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > utc_now())

    def principal(self) -> Principal:
        return Principal(
            "system",
            f"key:{self.name}",
            scopes=frozenset(self.scopes),
            areas=None if self.area_code is None else (self.area_code,),
            ref=f"key:{self.id}",
        )


_COLUMNS = "id, name, prefix, scopes, area_code, created_at, expires_at, revoked_at, last_used_at"


def _info(row: Mapping[Any, Any]) -> KeyInfo:
    return KeyInfo(**{**row, "scopes": tuple(row["scopes"])})


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(s.strip() for s in scopes if s.strip()))
    if not wanted:
        raise InvalidParameterError(f"a key needs at least one scope: {', '.join(SCOPES)}")
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise InvalidParameterError(
            f"unknown scope {', '.join(unknown)}; scopes: {', '.join(SCOPES)}"
        )
    return wanted


def create_key(
    session: Session,
    name: str,
    scopes: Iterable[str],
    *,
    area_code: str | None = None,
    lifetime: dt.timedelta | None = DEFAULT_LIFETIME,
) -> tuple[KeyInfo, str]:
    """A new key and its secret text (shown once: only its digest is kept)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidParameterError("a key needs a name of 1-100 characters (who uses it)")
    wanted = check_scopes(scopes)
    if area_code is not None:
        level_of(area_code)  # a malformed code is refused here
        exists = session.execute(
            text(
                "SELECT 1 FROM admin_area WHERE code = :c AND valid_to IS NULL "
                "UNION ALL SELECT 1 FROM grid WHERE code = :c AND valid_to IS NULL"
            ),
            {"c": area_code},
        ).first()
        if exists is None:
            raise NotFoundError(f"no current area or grid has the code {area_code}")
    if session.execute(
        text("SELECT 1 FROM api_key WHERE name = :n AND revoked_at IS NULL"), {"n": name}
    ).first():
        raise ConflictError(f"a key named {name!r} exists already; revoke it or choose another")
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{tokens.new_secret()}"
    row = (
        session.execute(
            text(
                f"""INSERT INTO api_key (name, prefix, key_digest, scopes, area_code, expires_at)
                    VALUES (:n, :p, :d, :s, :a, :e) RETURNING {_COLUMNS}"""
            ),
            {
                "n": name,
                "p": prefix,
                "d": tokens.digest(key),
                "s": list(wanted),
                "a": area_code,
                "e": None if lifetime is None else utc_now() + lifetime,
            },
        )
        .mappings()
        .one()
    )
    return _info(row), key


def list_keys(session: Session) -> list[KeyInfo]:
    rows = session.execute(text(f"SELECT {_COLUMNS} FROM api_key ORDER BY id")).mappings()
    return [_info(r) for r in rows]


def revoke_key(session: Session, key: str) -> KeyInfo:
    """By prefix, id or name; revoking twice keeps the first time."""
    row = (
        session.execute(
            text(
                f"""UPDATE api_key SET revoked_at = coalesce(revoked_at, now())
                     WHERE prefix = :k OR name = :k OR CAST(id AS text) = :k
                 RETURNING {_COLUMNS}"""
            ),
            {"k": key},
        )
        .mappings()
        .all()
    )
    if not row:
        raise NotFoundError(
            f"no key has the prefix, id or name {key!r}",
            zh=f"没有前缀、编号或名称为 {key!r} 的密钥",
        )
    if len(row) > 1:
        raise ConflictError(f"{key!r} names {len(row)} keys; give its prefix")
    return _info(row[0])


def key_principal(session: Session, key: str) -> Principal | None:
    """The system holding this live key, or None (unknown, expired or revoked)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    row = (
        session.execute(
            text(
                f"""SELECT {_COLUMNS} FROM api_key WHERE key_digest = :d AND revoked_at IS NULL
                       AND (expires_at IS NULL OR expires_at > now())"""
            ),
            {"d": tokens.digest(key)},
        )
        .mappings()
        .first()
    )
    return None if row is None else _info(row).principal()
