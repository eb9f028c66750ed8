"""Who sees a person served: the one home of the rule every read and write of ``person`` follows.

A registered person is someone who may be found at home alone, with where they
live, their phone and who looks after them: the most sensitive rows the
platform holds (personal information of the vulnerable, PIPL art. 28). So the
rule is narrower than a case's (``gis.incidents.visibility``): a person is seen
**in full or not at all**, and only by those who look after them:

- **admin**: keeps the registry (and answers removal requests);
- **the responsible worker**: an account linked (``account.staff_id``) to the
  staff row named in ``person.responsible_staff_id``: they are the one who
  visits, even when the person lives outside the grids of their account (a
  community worker of the specialist A post looks after people across grids);
- **grid managers of the person's grid**: their account's areas are the grids
  of their staff record, so ``Principal.covers`` the person's grid code;
- **community accounts whose area contains the grid**: the community runs the
  service and answers for its residents.

Everyone else (subdistrict, district, planner, mediator, API keys) sees no
individual person: a district plans with counts per grid and category
(``registry.counts``, whose areas ``count_areas`` gives), never with names.
A person out of sight is answered as if they did not exist (404), so that even
existence does not leak.

Who may write follows the same lines: registering in a grid needs admin, the
grid's community or its grid manager (``may_register``); changing, anyone who
sees the person (``sees``); removing on request, admin or the community
(``may_remove``), because removal ends the service and is the community's
decision with the person.

The rules are pure functions; ``PersonScope`` is the same rule as SQL for lists,
so a list and a record cannot disagree (``tests/gis/people/test_people_visibility.py``
checks them against each other for every role).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, func, literal, or_, true

from gis.errors import NotFoundError
from gis.principal import Principal, Role

_AREA_ROLES = frozenset({Role.COMMUNITY, Role.GRID_MANAGER})
"""Roles that look after the people of their areas (grids for a grid manager)."""
LOOKS_AFTER = frozenset({Role.ADMIN, *_AREA_ROLES})
"""The roles that may see individual people at all (``api.access.PEOPLE_READ``): a
responsible worker's account is one of them (a grid manager's or a community
worker's); a district or subdistrict account linked to a staff row is not, because
those levels plan with counts."""


# ---- the rules ------------------------------------------------------------------------


def sees(principal: Principal, grid_code: str, responsible_staff_id: int | None) -> bool:
    """Whether ``principal`` may see (and change) a person of grid ``grid_code`` looked
    after by staff row ``responsible_staff_id``."""
    if principal.kind != "person" or principal.role not in LOOKS_AFTER:
        return False
    if principal.role is Role.ADMIN:
        return True
    if principal.staff_id is not None and principal.staff_id == responsible_staff_id:
        return True
    return principal.role in _AREA_ROLES and principal.covers(grid_code)


def may_register(principal: Principal, grid_code: str) -> bool:
    """Whether ``principal`` may register a person living in grid ``grid_code``."""
    if principal.kind != "person":
        return False
    if principal.role is Role.ADMIN:
        return True
    return principal.role in _AREA_ROLES and principal.covers(grid_code)


def may_remove(principal: Principal, grid_code: str) -> bool:
    """Whether ``principal`` may remove a person of ``grid_code`` (on their request)."""
    if principal.kind != "person":
        return False
    if principal.role is Role.ADMIN:
        return True
    return principal.role is Role.COMMUNITY and principal.covers(grid_code)


def count_areas(principal: Principal) -> tuple[str, ...] | None:
    """The area codes whose counts ``principal`` gets (None: the whole district).

    Counts carry no personal data, so every staff role reads them for the
    areas it covers (district and planner: all); a system key by its area.
    """
    return principal.areas


def not_found(person_id: int) -> NotFoundError:
    """The answer for a person that is missing or out of sight: the same words."""
    return NotFoundError(
        f"no person served has id {person_id}", zh=f"没有编号为 {person_id} 的服务对象"
    )


def check_sees(
    principal: Principal, person_id: int, grid_code: str, responsible_staff_id: int | None
) -> None:
    """NotFoundError, worded as for a missing id, when the person is out of sight."""
    if not sees(principal, grid_code, responsible_staff_id):
        raise not_found(person_id)


# ---- the same rule as SQL -------------------------------------------------------------


@dataclass(frozen=True)
class PersonScope:
    """:func:`sees` for one principal, in the form SQL needs.

    ``everyone`` no clause at all (admin); else ``areas`` the grid-code
    prefixes whose people are seen (empty: none by area) and ``staff_id`` the
    staff row whose people are seen (None: none by responsibility).
    """

    everyone: bool
    areas: tuple[str, ...]
    staff_id: int | None

    @classmethod
    def of(cls, principal: Principal) -> PersonScope:
        person = principal.kind == "person" and principal.role in LOOKS_AFTER
        if person and principal.role is Role.ADMIN:
            return cls(everyone=True, areas=(), staff_id=None)
        by_area = person and principal.role in _AREA_ROLES
        areas: tuple[str, ...] = ()
        if by_area:
            # A community or grid manager without areas (None) would cover everything.
            areas = ("",) if principal.areas is None else principal.areas
        return cls(
            everyone=False,
            areas=areas,
            staff_id=principal.staff_id if person else None,
        )

    @property
    def nobody(self) -> bool:
        """Sees no individual person (counts only)."""
        return not self.everyone and not self.areas and self.staff_id is None

    def where(self, grid_code: Any, responsible_staff_id: Any) -> ColumnElement[bool]:
        """The WHERE clause of the people seen, over these columns (never NULL)."""
        if self.everyone:
            return true()
        clauses: list[ColumnElement[bool]] = [
            grid_code.startswith(literal(prefix)) for prefix in self.areas
        ]
        if self.staff_id is not None:
            clauses.append(responsible_staff_id == literal(self.staff_id))
        return func.coalesce(or_(*clauses), false()) if clauses else false()
