"""Who is acting: a person with a role and an area, or a system with scopes.

Code that acts on someone's behalf (filing a report, taking a step of the
closed loop, importing a file, the escalation sweep) takes a ``Principal``;
histories store its ``actor`` text and its ``ref`` (which account or key).
The HTTP API builds one from a login or an API key (``gis.accounts``); the
command line acts as the system.

Where a principal may act is a set of area codes: codes are hierarchical
(district 6 digits, subdistrict 9, community 12, grid 15, each starting with
its parent's), so a principal covers an area or grid when its code starts
with one of theirs. ``areas=None`` covers everything (admin, planner, the
district's own staff, the program itself); an empty tuple covers nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from gis.errors import InvalidParameterError

ACTOR_MAX = 200
"""Characters of an actor's name, as the API has always accepted."""


class Role(StrEnum):
    """A person's role; the area it applies to is ``Principal.areas``."""

    ADMIN = "admin"
    DISTRICT = "district"
    SUBDISTRICT = "subdistrict"
    COMMUNITY = "community"
    GRID_MANAGER = "grid_manager"
    MEDIATOR = "mediator"
    PLANNER = "planner"

    @property
    def name_zh(self) -> str:
        """The role as pages and histories name it."""
        return _ROLE_ZH[self]


_ROLE_ZH = {
    Role.ADMIN: "管理员",
    Role.DISTRICT: "区级",
    Role.SUBDISTRICT: "街道",
    Role.COMMUNITY: "社区",
    Role.GRID_MANAGER: "网格员",
    Role.MEDIATOR: "调解员",
    Role.PLANNER: "规划人员",
}


@dataclass(frozen=True)
class Principal:
    """Who is acting.

    ``kind`` person or system; ``name`` what histories show (a person's name,
    ``system``, ``key:热线``, ``import:file.csv``); ``role`` a person's role;
    ``areas`` the codes of the areas or grids the principal answers for (None:
    all of them); ``scopes`` what a system may do (``incidents:write`` …);
    ``ref`` the identity histories compare
    (``account:12``, ``key:3``, ``system``); ``staff_id`` a person's staff
    record; ``username`` what a person logs in with (the audit's name for them).
    """

    kind: Literal["person", "system"]
    name: str
    role: Role | None = None
    areas: tuple[str, ...] | None = None
    scopes: frozenset[str] = frozenset()
    ref: str | None = None
    staff_id: int | None = None
    username: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidParameterError("every action needs an actor: who does it")
        if len(self.name) > ACTOR_MAX:
            raise InvalidParameterError(f"actor is longer than {ACTOR_MAX} characters")

    @property
    def actor(self) -> str:
        """The text stored in a case's history."""
        return self.name

    @classmethod
    def claimed(cls, name: str) -> Principal:
        """A person known only by the name they give: tests and tools, never the API."""
        return cls("person", name)

    @classmethod
    def system(
        cls, name: str, scopes: Iterable[str] = (), areas: tuple[str, ...] | None = None
    ) -> Principal:
        """The program itself or another system, allowed ``scopes``."""
        return cls("system", name, scopes=frozenset(scopes), areas=areas, ref=name)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def covers(self, code: str | None) -> bool:
        """Whether the area or grid of ``code`` is one this principal answers for.

        Something with no area (an incident outside every grid) is covered only by
        a principal that covers everything.
        """
        if self.areas is None:
            return True
        if code is None:
            return False
        return any(code.startswith(area) for area in self.areas)

    @property
    def login(self) -> str:
        """How the audit names this principal: a person's username, else ``name``."""
        return self.username or self.name


SYSTEM = Principal.system("system", scopes=("incidents:escalate",))
"""The program acting on its own: the escalation sweep."""

ANONYMOUS = Principal("person", "anonymous", areas=(), ref="anonymous")
"""Nobody logged in: allowed only where a layer is opened to the public."""
