"""Resident councils (居民议事会, seed 000: one per community, 115 in Futian): recorded by
admin and the community, listed with the items each decided.

The rules they share with items (who writes, text and community checks) are
``gis.participation.items``'.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session, aliased

from gis.db.models import AdminArea, Council, ParticipationItem
from gis.errors import ConflictError, InvalidParameterError
from gis.participation.items import EXT_ID_MAX, check_may_write, clean_text, community_id
from gis.principal import Principal

COUNCIL_NAME_MAX = 200
COMPOSITION_MAX = 500
MEMBERS_MAX = 10_000
Community = aliased(AdminArea)


@dataclass(frozen=True)
class NewCouncil:
    community_code: str
    name: str
    members: int | None = None
    composition: str | None = None
    established_on: dt.date | None = None
    ext_id: str | None = None


@dataclass(frozen=True)
class CouncilRecord:
    id: int
    ext_id: str | None
    community_code: str
    community_name: str
    name: str
    members: int | None
    composition: str | None
    established_on: dt.date | None
    items_decided: int
    version: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def councils_select() -> Select[Any]:
    decided = (
        select(func.count())
        .where(
            ParticipationItem.council_id == Council.id,
            ParticipationItem.decided_on.is_not(None),
        )
        .scalar_subquery()
    )
    return select(
        Council.id,
        Council.ext_id,
        Community.code.label("community_code"),
        Community.name.label("community_name"),
        Council.name,
        Council.members,
        Council.composition,
        Council.established_on,
        decided.label("items_decided"),
        Council.version,
    ).join(Community, Community.id == Council.community_id)


def list_councils(session: Session, area: str | None = None) -> list[CouncilRecord]:
    """Councils by community code (``area``: a code prefix), with the items each decided."""
    query = councils_select().order_by(Community.code, Council.id)
    if area is not None:
        query = query.where(Community.code.startswith(area, autoescape=True))
    return [CouncilRecord(**dict(r)) for r in session.execute(query).mappings()]


def checked_council(session: Session, principal: Principal, new: NewCouncil) -> dict[str, Any]:
    name = clean_text(new.name, "name", "名称", COUNCIL_NAME_MAX)
    composition = clean_text(
        new.composition, "composition", "成员构成", COMPOSITION_MAX, required=False
    )
    ext_id = clean_text(new.ext_id, "ext_id", "外部编号", EXT_ID_MAX, required=False)
    if new.members is not None and not 1 <= new.members <= MEMBERS_MAX:
        raise InvalidParameterError(
            f"members must lie between 1 and {MEMBERS_MAX}",
            zh=f"成员数须在 1 至 {MEMBERS_MAX} 之间",
        )
    community = community_id(session, new.community_code)
    check_may_write(principal, new.community_code)
    return {
        "ext_id": ext_id,
        "community_id": community,
        "name": name,
        "members": new.members,
        "composition": composition,
        "established_on": new.established_on,
    }


_INSERT_COUNCIL = """INSERT INTO council (ext_id, community_id, name, members, composition,
        established_on)
    VALUES (:ext_id, :community_id, :name, :members, :composition, :established_on)
    RETURNING id"""


def create_council(session: Session, principal: Principal, new: NewCouncil) -> CouncilRecord:
    """Record a community's council (admin, the community, the program)."""
    row = checked_council(session, principal, new)
    taken = session.execute(
        select(Council.id).where(
            Council.community_id == row["community_id"], Council.name == row["name"]
        )
    ).scalar()
    if taken is not None:
        raise ConflictError(
            f"community {new.community_code} has a council named {row['name']!r} (id {taken})",
            zh=f"社区 {new.community_code} 已有名为 {row['name']!r} 的议事会（编号 {taken}）",
        )
    council = session.execute(text(_INSERT_COUNCIL), row).scalar_one()
    found = session.execute(councils_select().where(Council.id == council)).mappings().one()
    return CouncilRecord(**dict(found))


def insert_councils(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert checked councils (``checked_council``) in one round trip."""
    if rows:
        session.execute(text(_INSERT_COUNCIL.replace("RETURNING id", "")), list(rows))
