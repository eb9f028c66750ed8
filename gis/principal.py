"""Who is acting: a person with a role and an area, or a system with scopes.

Code that acts on someone's behalf (filing a report, taking a step of the
closed loop, importing a file, the escalation sweep) takes a ``Principal``;
histories store its ``actor`` text. Until accounts exist (issue 10) the HTTP
API builds a person from the name the caller gives (``Principal.claimed``):
a claim, not a login, which ``verified`` says.
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


@dataclass(frozen=True)
class Principal:
    """Who is acting.

    ``kind`` person or system; ``name`` what histories show (a person's name,
    ``system``, ``open311:key-…``, ``import:file.csv``); ``role`` a person's
    role (None while unverified); ``areas`` the codes of the areas or grids
    the principal answers for (empty: no restriction recorded); ``scopes``
    what a system may do (``incidents:write`` …); ``verified`` whether the
    identity was checked (a login or an API key) rather than claimed.
    """

    kind: Literal["person", "system"]
    name: str
    role: Role | None = None
    areas: tuple[str, ...] = ()
    scopes: frozenset[str] = frozenset()
    verified: bool = False

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
        """A person known only by the name they give (no login yet)."""
        return cls("person", name)

    @classmethod
    def system(cls, name: str, scopes: Iterable[str] = ()) -> Principal:
        """The program itself or another system, allowed ``scopes``."""
        return cls("system", name, scopes=frozenset(scopes), verified=True)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


SYSTEM = Principal.system("system", scopes=("incidents:escalate",))
"""The program acting on its own: the escalation sweep."""
