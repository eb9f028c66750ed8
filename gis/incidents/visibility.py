"""Who sees what of a case: the one home of the rule every read of incidents follows.

Two questions, asked of a principal and a case (its grid code and category):

- **reach**: may they see the case at all? Admin, district and planner see
  every case; the area-bound roles (subdistrict, community, grid manager) and
  API keys with an area see the cases whose grid they cover
  (``Principal.covers``); a mediator only the disputes (``dispute`` and its
  subclasses) of their area; a key without an area every case. A case out of
  reach is answered as if it did not exist (``NotFoundError``, 404).
- **responsibility**: may they see its personal data in full? Reports of
  personal categories (``Category.personal``: disputes, petitions, help
  requests) carry where a person lives and what they said; only those
  responsible for the grid see that: admin, district, subdistrict, community
  and grid manager where they cover the grid, a mediator for the disputes of
  their area. A planner never (they plan for the whole district and need no
  names), a system key never. Everyone else gets the case masked: the point
  snapped to its grid's representative point (``ST_PointOnSurface``, computed
  in SQL), description, address and notes ``已隐藏``, the photo link and the
  building dropped.

The same rule decides whether a grid's staff phones are shown in full
(``responsible_for_grid``). The rules are pure functions; ``Scope`` turns them
into SQL for lists (one clause for reach, one for "in full"), so that a list
and a record cannot disagree (``tests/gis/incidents/test_visibility_rules.py``
checks the two against each other).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, literal, not_, or_, true

from gis.areas.codes import level_of
from gis.errors import ForbiddenError, NotFoundError
from gis.incidents.catalogue import PERSONAL_CATEGORIES, codes_under
from gis.principal import Principal, Role

HIDDEN = "已隐藏"
"""What a masked text field (description, address, history note) says instead."""

DISPUTES: frozenset[str] = frozenset(codes_under("dispute"))
"""The categories a mediator handles: disputes and their subclasses."""

_EVERY_CASE = frozenset({Role.ADMIN, Role.DISTRICT, Role.PLANNER})
"""Roles that see every case of the district (masked where not responsible)."""
_RESPONSIBLE = frozenset(
    {Role.ADMIN, Role.DISTRICT, Role.SUBDISTRICT, Role.COMMUNITY, Role.GRID_MANAGER}
)
"""Roles that handle the cases of their area and so see their personal data."""


# ---- the rules ------------------------------------------------------------------------


def reaches(principal: Principal, grid_code: str | None, category: str) -> bool:
    """Whether ``principal`` may see a case of ``category`` in grid ``grid_code`` at all."""
    if principal.kind == "person" and principal.role in _EVERY_CASE:
        return True
    if principal.kind == "person" and principal.role is Role.MEDIATOR:
        return category in DISPUTES and principal.covers(grid_code)
    return principal.covers(grid_code)


def responsible_for(principal: Principal, grid_code: str | None, category: str) -> bool:
    """Whether ``principal`` handles cases of ``category`` in grid ``grid_code`` (and so may
    see their personal data in full)."""
    if principal.kind != "person" or principal.role is None:
        return False
    if principal.role is Role.MEDIATOR:
        return category in DISPUTES and principal.covers(grid_code)
    return principal.role in _RESPONSIBLE and principal.covers(grid_code)


def is_personal(category: str) -> bool:
    return category in PERSONAL_CATEGORIES


def in_full(principal: Principal, grid_code: str | None, category: str) -> bool:
    """Whether a case is shown unmasked: it holds no personal data, or the caller is
    responsible for it."""
    return not is_personal(category) or responsible_for(principal, grid_code, category)


def personal_in_full(principal: Principal, grid_code: str | None, category: str) -> bool:
    """Whether showing this case shows personal data in full: a read the audit records."""
    return is_personal(category) and responsible_for(principal, grid_code, category)


def sees_photos(principal: Principal, grid_code: str | None, category: str) -> bool:
    """Whether ``principal`` may see a case's photos (and where and when they were taken).

    Those responsible for the case, whatever its category: a street photo shows
    faces, number plates and doorways, and its EXIF where the photographer
    stood. A planner, a system key, anyone else: not even that there are any.
    """
    return responsible_for(principal, grid_code, category)


def responsible_for_grid(principal: Principal, grid_code: str) -> bool:
    """Whether ``principal`` answers for the grid (its staff's phone numbers in full)."""
    return (
        principal.kind == "person"
        and principal.role in _RESPONSIBLE
        and principal.covers(grid_code)
    )


def check_reach(
    principal: Principal, incident_id: int, grid_code: str | None, category: str
) -> None:
    """NotFoundError, worded as for a missing id, when the case is out of reach."""
    if not reaches(principal, grid_code, category):
        raise NotFoundError(
            f"no incident has id {incident_id}", zh=f"没有编号为 {incident_id} 的案件"
        )


def statistics_areas(principal: Principal, area: str | None) -> tuple[str, ...] | None:
    """The area codes a statistics answer keeps rows under (None: every row).

    ``area`` asked for must be covered by the caller (ForbiddenError otherwise);
    without it an area-bound caller gets the rows of their own areas. Counts
    are not personal, so a mediator's rows are not limited to disputes.
    """
    if area is not None:
        level_of(area)  # a malformed code is a 400
        if not principal.covers(area):
            yours = ", ".join(principal.areas or ())
            raise ForbiddenError(
                f"you do not cover area {area}: ask for one of "
                f"{yours or 'your areas'} or leave out area",
                zh=f"无权查看区域 {area} 的统计：请查询 {yours or '您负责的区域'} 之一，"
                "或不写 area",
            )
        return (area,)
    return principal.areas


def keeps_row(code: str, areas: tuple[str, ...] | None) -> bool:
    """Whether a statistics row of area ``code`` lies under one of ``areas``."""
    return areas is None or any(code.startswith(a) for a in areas)


# ---- the same rules as SQL --------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The rules above for one principal, in the form SQL needs.

    ``reach_all`` no reach clause at all; else ``reach_areas`` (grid-code
    prefixes; None: any grid) and ``reach_categories`` (None: any). ``full_areas`` the
    grid-code prefixes where personal data is shown in full (None: every
    grid, cases without a grid too; empty: nowhere) and ``full_categories``
    (None: any) there.
    """

    reach_all: bool
    reach_areas: tuple[str, ...] | None
    reach_categories: tuple[str, ...] | None
    full_areas: tuple[str, ...] | None
    full_categories: tuple[str, ...] | None

    @classmethod
    def of(cls, principal: Principal) -> Scope:
        person = principal.kind == "person"
        mediator = person and principal.role is Role.MEDIATOR
        disputes = tuple(sorted(DISPUTES)) if mediator else None
        reach_all = (person and principal.role in _EVERY_CASE) or (
            not mediator and principal.areas is None
        )
        responsible = person and (principal.role in _RESPONSIBLE or mediator)
        return cls(
            reach_all=reach_all,
            reach_areas=principal.areas,
            reach_categories=disputes,
            full_areas=principal.areas if responsible else (),
            full_categories=disputes,
        )

    @property
    def masks_nothing(self) -> bool:
        """Every case in reach is shown in full (no CASE needed)."""
        return self.full_areas is None and self.full_categories is None

    # SQLAlchemy expressions, for lists built with the ORM's tables.

    def reach(self, grid_code: Any, category: Any) -> ColumnElement[bool] | None:
        """The WHERE clause of the cases in reach; None when every case is."""
        if self.reach_all:
            return None
        clause = true() if self.reach_areas is None else _prefixed(grid_code, self.reach_areas)
        if self.reach_categories is not None:
            clause = and_(clause, category.in_(self.reach_categories))
        return clause

    def full(self, grid_code: Any, category: Any) -> ColumnElement[bool]:
        """True for a case shown in full (never NULL)."""
        if self.masks_nothing:
            return true()
        personal = category.in_(sorted(PERSONAL_CATEGORIES))
        if self.full_areas is None:
            responsible: ColumnElement[bool] = true()
        else:
            responsible = func.coalesce(_prefixed(grid_code, self.full_areas), false())
        if self.full_categories is not None:
            responsible = and_(responsible, category.in_(self.full_categories))
        return or_(not_(personal), responsible)

    # Text SQL, for queries written as SQL (Open311); parameters named ``vis_*``.

    def reach_sql(self, grid_code: str, category: str) -> str:
        """The reach clause over the columns named ``grid_code`` and ``category``."""
        if self.reach_all:
            return "true"
        clauses = []
        if self.reach_areas is not None:
            clauses.append(f"COALESCE({grid_code} LIKE ANY(:vis_reach_areas), false)")
        if self.reach_categories is not None:
            clauses.append(f"{category} = ANY(:vis_reach_categories)")
        return f"({' AND '.join(clauses) or 'true'})"

    def full_sql(self, grid_code: str, category: str) -> str:
        """True for a case shown in full (never NULL)."""
        if self.masks_nothing:
            return "true"
        parts = ["true" if self.full_areas is None else f"{grid_code} LIKE ANY(:vis_full_areas)"]
        if self.full_categories is not None:
            parts.append(f"{category} = ANY(:vis_full_categories)")
        responsible = f"COALESCE({' AND '.join(parts)}, false)"
        return f"({category} <> ALL(:vis_personal) OR {responsible})"

    def params(self) -> dict[str, Any]:
        """The values of the ``vis_*`` parameters of the SQL above."""
        return {
            "vis_reach_areas": [f"{a}%" for a in self.reach_areas or ()],
            "vis_reach_categories": list(self.reach_categories or ()),
            "vis_full_areas": [f"{a}%" for a in self.full_areas or ()],
            "vis_full_categories": list(self.full_categories or ()),
            "vis_personal": sorted(PERSONAL_CATEGORIES),
        }


def _prefixed(column: Any, prefixes: tuple[str, ...]) -> ColumnElement[bool]:
    if not prefixes:
        return false()
    return or_(*(column.startswith(literal(p)) for p in prefixes))
