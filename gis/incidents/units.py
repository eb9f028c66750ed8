"""Mediation units (责任单位) and their heads: where a case handed over (交办) goes.

Seed 003 (Kaifu's 社会矛盾调处中心): a visitor's case is registered and routed
to the responsible unit, "交办至各责任单位一把手": handed to the unit's head, a
named person, and then tracked and urged (跟踪督办). A unit (table
``mediation_unit``, migration 0015) has a name in Chinese and English, the area
it belongs to (``area_code``: it takes the cases of that area only), the
categories it takes (top-level codes take their subclasses; none: every
category), its head (a staff row: the head's account names it through
``account.staff_id``) and other staff who handle its cases with the head.

``workflow``'s ``hand_over`` step names a unit; :func:`unit_for_case` checks it
may take the case (it exists, has a head, covers the case's grid, takes its
category) and ``transitions.py`` makes its head the case's handler. So the case
lands in the head's inbox and worklist like any dispatched case, the head (or
the unit's staff) handles it, and an urge (督办) of it is read by the head.

Writes name the version they are based on (``version``, raised by a trigger),
as facilities' and people's do; the caller commits and audits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.areas.codes import Level, level_of
from gis.errors import ConflictError, InvalidParameterError, NotFoundError, StaleVersionError
from gis.incidents.catalogue import UnknownCategoryError, lookup
from gis.incidents.workflow import OPEN_STATES

NAME_ZH_MAX = 100
NAME_EN_MAX = 200
"""Characters of the names, as migration 0015 checks them."""
CATEGORIES_MAX = 50
STAFF_MAX = 200
UPDATABLE = frozenset({"name_zh", "name_en", "area_code", "categories", "head_staff_id", "staff"})
"""What a change may set (``version`` is the database's)."""
_OPEN = list(OPEN_STATES)
UNIT_STAFF_SQL = (
    "ARRAY(SELECT m.staff_id FROM mediation_unit_staff m WHERE m.unit_id = i.unit_id"
    " UNION SELECT u.head_staff_id FROM mediation_unit u"
    " WHERE u.id = i.unit_id AND u.head_staff_id IS NOT NULL)"
)
"""SQL of a case ``i``'s unit staff (head and members, who handle it), for ``CaseFacts``."""


@dataclass(frozen=True)
class UnitRecord:
    """A unit as the API answers it: its area's name, its head's and staff's names."""

    id: int
    name_zh: str
    name_en: str | None
    area_code: str
    area_name: str | None
    categories: list[str]
    head_staff_id: int | None
    head_name: str | None
    staff: list[dict[str, Any]]
    open_cases: int
    created_at: dt.datetime
    version: int

    def takes(self, category: str) -> bool:
        """Whether the unit takes cases of ``category`` (a subclass under its top-level code)."""
        if not self.categories:
            return True
        try:
            found = lookup(category)
        except UnknownCategoryError:
            return category in self.categories
        return found.code in self.categories or (found.parent or "") in self.categories

    def covers(self, grid_code: str | None) -> bool:
        """Whether the case's grid lies in the unit's area (codes are prefixes)."""
        return grid_code is not None and grid_code.startswith(self.area_code)


_SELECT = """
SELECT u.id, u.name_zh, u.name_en, u.area_code,
       COALESCE((SELECT a.name FROM admin_area a WHERE a.code = u.area_code
                  ORDER BY a.valid_to IS NULL DESC, a.valid_from DESC LIMIT 1),
                (SELECT g.name FROM grid g WHERE g.code = u.area_code
                  ORDER BY g.valid_to IS NULL DESC, g.valid_from DESC LIMIT 1)) AS area_name,
       u.categories, u.head_staff_id, h.name AS head_name,
       COALESCE((SELECT json_agg(json_build_object('id', s.id, 'name', s.name) ORDER BY s.id)
                   FROM mediation_unit_staff m JOIN staff s ON s.id = m.staff_id
                  WHERE m.unit_id = u.id), '[]'::json) AS staff,
       (SELECT count(*) FROM incident i
         WHERE i.unit_id = u.id
           AND i.status = ANY(:open))
         AS open_cases,
       u.created_at, u.version
FROM mediation_unit u LEFT JOIN staff h ON h.id = u.head_staff_id
"""


def _record(row: Mapping[Any, Any]) -> UnitRecord:
    values = dict(row)
    values["categories"] = list(values["categories"] or [])
    values["open_cases"] = int(values["open_cases"])
    return UnitRecord(**values)


def not_found(unit_id: int) -> NotFoundError:
    return NotFoundError(
        f"no mediation unit has id {unit_id}", zh=f"没有编号为 {unit_id} 的调处责任单位"
    )


def get_unit(session: Session, unit_id: int) -> UnitRecord:
    """One unit; NotFoundError without it."""
    row = (
        session.execute(text(_SELECT + " WHERE u.id = :id"), {"id": unit_id, "open": _OPEN})
        .mappings()
        .first()
    )
    if row is None:
        raise not_found(unit_id)
    return _record(row)


def list_units(
    session: Session, *, area: str | None = None, category: str | None = None
) -> list[UnitRecord]:
    """Every unit by id; ``area``: those that may take cases there (their area holds it,
    or it holds theirs); ``category``: those that take it."""
    rows = session.execute(
        text(
            _SELECT + " WHERE (CAST(:area AS text) IS NULL OR :area LIKE u.area_code || '%'"
            " OR u.area_code LIKE :area || '%') ORDER BY u.id"
        ),
        {"area": area, "open": _OPEN},
    ).mappings()
    units = [_record(r) for r in rows]
    if category is not None:
        units = [u for u in units if u.takes(category)]
    return units


def unit_for_case(
    session: Session, unit_id: int, grid_code: str | None, category: str
) -> UnitRecord:
    """The unit a case is handed to, checked: InvalidParameterError (400) when there is no
    such unit, it has no head, the case's grid is outside its area or it does not take
    the case's category."""
    try:
        unit = get_unit(session, unit_id)
    except NotFoundError:
        raise InvalidParameterError(
            f"no mediation unit has id {unit_id}; GET /api/v1/mediation-units lists them",
            zh=f"没有编号为 {unit_id} 的调处责任单位；可查询 GET /api/v1/mediation-units",
        ) from None
    if unit.head_staff_id is None:
        raise InvalidParameterError(
            f"mediation unit {unit_id} ({unit.name_zh}) has no head to hand the case to",
            zh=f"责任单位“{unit.name_zh}”未设负责人（一把手），不能交办",
        )
    if not unit.covers(grid_code):
        raise InvalidParameterError(
            f"mediation unit {unit_id} takes cases of area {unit.area_code}, and the case "
            f"lies in grid {grid_code}",
            zh=f"责任单位“{unit.name_zh}”只受理 {unit.area_code} 辖区的案件，"
            f"此案件位于网格 {grid_code}",
        )
    if not unit.takes(category):
        raise InvalidParameterError(
            f"mediation unit {unit_id} does not take {category} cases "
            f"(it takes: {', '.join(unit.categories)})",
            zh=f"责任单位“{unit.name_zh}”不受理此类案件（{category}）",
        )
    return unit


# ---- checks ---------------------------------------------------------------------------


def _name(value: Any, field: str, zh: str, most: int, *, required: bool) -> str | None:
    if value is None or not str(value).strip():
        if required:
            raise InvalidParameterError(f"{field} must not be empty", zh=f"{zh}不能为空")
        return None
    value = str(value).strip()
    if len(value) > most:
        raise InvalidParameterError(
            f"{field} is longer than {most} characters", zh=f"{zh}超过 {most} 个字符"
        )
    return value


def _area(session: Session, code: Any) -> str:
    """A code of a current area or grid of the district (InvalidParameterError otherwise)."""
    code = str(code or "")
    try:
        level = level_of(code)
    except (InvalidParameterError, ValueError):
        level = None
    table = "grid" if level is Level.GRID else "admin_area"
    known = (
        level is not None
        and session.execute(
            text(f"SELECT 1 FROM {table} WHERE code = :c AND valid_to IS NULL LIMIT 1"), {"c": code}
        ).first()
    )
    if not known:
        raise InvalidParameterError(
            f"no current district, subdistrict, community or grid has code {code!r}",
            zh=f"没有编码为 {code} 的现行区、街道、社区或网格",
        )
    return code


def _categories(values: Any) -> list[str]:
    codes = list(values or [])
    if len(codes) > CATEGORIES_MAX:
        raise InvalidParameterError(
            f"at most {CATEGORIES_MAX} categories", zh=f"受理类别最多 {CATEGORIES_MAX} 个"
        )
    out: list[str] = []
    for code in codes:
        try:
            found = lookup(str(code)).code
        except UnknownCategoryError as exc:
            raise InvalidParameterError(
                str(exc), zh=f"未知的案件类别：{code}（见 GET /api/v1/incidents/categories）"
            ) from None
        if found not in out:
            out.append(found)
    return out


def _staff(session: Session, ids: Sequence[int | None]) -> None:
    wanted = sorted({int(i) for i in ids if i is not None})
    if not wanted:
        return
    found = set(
        session.execute(text("SELECT id FROM staff WHERE id = ANY(:ids)"), {"ids": wanted})
        .scalars()
        .all()
    )
    missing = [i for i in wanted if i not in found]
    if missing:
        raise InvalidParameterError(
            f"no staff record has id {missing[0]}", zh=f"没有编号为 {missing[0]} 的工作人员"
        )


def _name_free(session: Session, name_zh: str, unit_id: int | None = None) -> None:
    """ConflictError when another unit has the name (the unique constraint backs this up)."""
    taken = session.execute(
        text("SELECT id FROM mediation_unit WHERE name_zh = :n AND id IS DISTINCT FROM :u"),
        {"n": name_zh, "u": unit_id},
    ).first()
    if taken is not None:
        raise ConflictError(
            f"mediation unit {taken.id} is already called {name_zh}",
            zh=f"已有名为“{name_zh}”的调处责任单位（编号 {taken.id}）",
        )


def _member_ids(values: Any) -> list[int]:
    ids = sorted({int(i) for i in (values or [])})
    if len(ids) > STAFF_MAX:
        raise InvalidParameterError(
            f"at most {STAFF_MAX} staff per unit", zh=f"每个单位最多 {STAFF_MAX} 名工作人员"
        )
    return ids


def _write_staff(session: Session, unit_id: int, staff: list[int]) -> None:
    session.execute(text("DELETE FROM mediation_unit_staff WHERE unit_id = :u"), {"u": unit_id})
    if staff:
        session.execute(
            text(
                "INSERT INTO mediation_unit_staff (unit_id, staff_id)"
                " SELECT :u, unnest(CAST(:s AS integer[]))"
            ),
            {"u": unit_id, "s": staff},
        )


# ---- writes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewUnit:
    name_zh: str
    area_code: str
    name_en: str | None = None
    categories: Sequence[str] = ()
    head_staff_id: int | None = None
    staff: Sequence[int] = ()


def create_unit(session: Session, new: NewUnit) -> UnitRecord:
    """Store a unit; InvalidParameterError for an empty or long name, an unknown area,
    category or staff row, ConflictError for a name another unit has."""
    name_zh = _name(new.name_zh, "name_zh", "单位名称", NAME_ZH_MAX, required=True)
    name_en = _name(new.name_en, "name_en", "英文名称", NAME_EN_MAX, required=False)
    assert name_zh is not None
    _name_free(session, name_zh)
    area = _area(session, new.area_code)
    categories = _categories(new.categories)
    members = _member_ids(new.staff)
    _staff(session, [new.head_staff_id, *members])
    unit_id = session.execute(
        text(
            "INSERT INTO mediation_unit (name_zh, name_en, area_code, categories, head_staff_id)"
            " VALUES (:zh, :en, :area, CAST(:cats AS varchar(40)[]), :head) RETURNING id"
        ),
        {"zh": name_zh, "en": name_en, "area": area, "cats": categories, "head": new.head_staff_id},
    ).scalar_one()
    _write_staff(session, int(unit_id), members)
    return get_unit(session, int(unit_id))


def update_unit(
    session: Session, unit_id: int, values: Mapping[str, Any], *, expected_version: int | None
) -> UnitRecord:
    """Change the fields in ``values`` (``UPDATABLE``; ``staff`` replaces the members
    whole), based on ``expected_version`` (StaleVersionError otherwise). A new head takes
    the unit's cases from now on; cases already handed over keep their handler."""
    unknown = set(values) - UPDATABLE
    if unknown:
        raise InvalidParameterError(
            f"these fields cannot be changed: {', '.join(sorted(unknown))}",
            zh=f"以下字段不能修改：{', '.join(sorted(unknown))}",
        )
    version = session.execute(
        text("SELECT version FROM mediation_unit WHERE id = :id FOR UPDATE"), {"id": unit_id}
    ).scalar()
    if version is None:
        raise not_found(unit_id)
    if expected_version is not None and version != expected_version:
        raise StaleVersionError(unit_id, expected_version, int(version), thing="mediation_unit")
    sets: dict[str, Any] = {}
    if "name_zh" in values:
        sets["name_zh"] = _name(
            values["name_zh"], "name_zh", "单位名称", NAME_ZH_MAX, required=True
        )
        _name_free(session, sets["name_zh"], unit_id)
    if "name_en" in values:
        sets["name_en"] = _name(
            values["name_en"], "name_en", "英文名称", NAME_EN_MAX, required=False
        )
    if "area_code" in values:
        sets["area_code"] = _area(session, values["area_code"])
    if "categories" in values:
        sets["categories"] = _categories(values["categories"])
    if "head_staff_id" in values:
        _staff(session, [values["head_staff_id"]])
        sets["head_staff_id"] = values["head_staff_id"]
    members = _member_ids(values["staff"]) if "staff" in values else None
    if members is not None:
        _staff(session, members)
    if sets or members is not None:
        # Column names come from UPDATABLE (checked above), values are bound; the trigger
        # raises the version once per UPDATE, so a change of members alone raises it too.
        assignments = ", ".join(
            f"{c} = CAST(:{c} AS varchar(40)[])" if c == "categories" else f"{c} = :{c}"
            for c in sets
        )
        session.execute(
            text(f"UPDATE mediation_unit SET {assignments or 'id = id'} WHERE id = :id"),
            {**sets, "id": unit_id},
        )
    if members is not None:
        _write_staff(session, unit_id, members)
    return get_unit(session, unit_id)
