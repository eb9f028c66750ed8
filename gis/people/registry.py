"""The registry of people served: register, read, change, remove on request, count.

Every function takes the acting ``Principal`` and applies ``visibility``:
a person out of sight is a ``NotFoundError`` worded as for a missing id.
The caller commits, and records the audit row in the same transaction
(``api/audited.py``): ``Removed`` and ``PersonRecord.audit_detail`` say what an
audit row may carry (the id, grid and category, never a name or a phone).

Rules the registry keeps, whoever calls it:

- **The home building gives the grid.** ``grid_id`` is read from the building
  in the same statement that writes the person; no caller can place someone
  in a grid they do not live in (and so out of their workers' sight).
- **No consent, no registration.** Who agreed (the person or a named
  guardian), when, and to what are required and non-blank
  (``ConsentRequiredError``, in both languages); the database checks it too.
- **A change names the version it is based on** (``expected_version``); a
  stale one is a ``StaleVersionError`` and changes nothing.
- **Removal on request deletes** the person and everything that belongs to
  them (today the row; the position history of the next slice goes with it by
  ``ON DELETE CASCADE``). What remains is the audit row, without personal data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import false, func, literal, or_, select, text
from sqlalchemy.orm import Session, aliased

from gis.db.models import AdminArea, Building, Grid, Person, Staff
from gis.errors import ForbiddenError, InvalidParameterError, StaleVersionError
from gis.people import visibility
from gis.people.categories import CATEGORIES, check_category
from gis.principal import Principal

NAME_MAX = 100
PHONE_MAX = 20
HOUSEHOLD_MAX = 100
CONSENT_BY_MAX = 200
CONSENT_SCOPE_MAX = 500
"""Characters of each text, as migration 0013 checks them."""
SAFE_RADIUS_MIN, SAFE_RADIUS_MAX, SAFE_RADIUS_DEFAULT = 10, 10_000, 300
"""Metres around home a person may go before the geofence (a later slice) speaks."""
CONSENT_AHEAD = dt.timedelta(minutes=10)
"""How far in the future a consent time may lie (clock skew), no more."""

UPDATABLE = frozenset(
    {
        "category",
        "name",
        "phone",
        "household",
        "building_id",
        "responsible_staff_id",
        "consent_given_by",
        "consent_at",
        "consent_scope",
        "safe_radius_m",
    }
)
"""What a change may set (``grid_id`` follows the building; ``version`` is the database's)."""


class ConsentRequiredError(InvalidParameterError):
    """A registration without a complete consent record (who, when, to what)."""


@dataclass(frozen=True)
class Consent:
    """Who agreed to the registration (the person or a named guardian), when, to what."""

    given_by: str
    at: dt.datetime
    scope: str


@dataclass(frozen=True)
class NewPerson:
    category: str
    name: str
    building_id: int
    consent: Consent | None
    phone: str | None = None
    household: str | None = None
    responsible_staff_id: int | None = None
    safe_radius_m: int = SAFE_RADIUS_DEFAULT


@dataclass(frozen=True)
class PersonRecord:
    """A person as those who look after them see it."""

    id: int
    category: str
    name: str
    phone: str | None
    building_id: int
    building_address: str | None
    household: str | None
    grid_code: str
    grid_name: str
    community_code: str
    responsible_staff_id: int | None
    responsible_staff_name: str | None
    consent_given_by: str
    consent_at: dt.datetime
    consent_scope: str
    safe_radius_m: int
    created_at: dt.datetime
    version: int

    @property
    def category_name(self) -> str:
        return CATEGORIES[self.category].zh

    @property
    def audit_detail(self) -> dict[str, Any]:
        """What an audit row may say about this person: nothing personal."""
        return {"category": self.category}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Removed:
    """What is left of a removed person: enough for the audit row, nothing personal."""

    id: int
    grid_code: str
    category: str


@dataclass(frozen=True)
class AreaCount:
    """People served in one area (grid or community), per category: no personal data."""

    code: str
    name: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


# ---- checks ---------------------------------------------------------------------------


def _text(
    value: str | None, field: str, zh: str, most: int, *, required: bool = True
) -> str | None:
    """``value`` stripped; None for blank if not required; InvalidParameterError otherwise."""
    if value is None or not value.strip():
        if required:
            raise InvalidParameterError(f"{field} must not be empty", zh=f"{zh}不能为空")
        return None
    value = value.strip()
    if len(value) > most or "\x00" in value:
        raise InvalidParameterError(
            f"{field} is longer than {most} characters or holds a NUL",
            zh=f"{zh}超过 {most} 个字符或含有 NUL",
        )
    return value


def check_consent(consent: Consent | None, now: dt.datetime | None = None) -> Consent:
    """The consent record cleaned, or ConsentRequiredError saying what is missing."""
    missing_en, missing_zh = [], []
    by = consent.given_by.strip() if consent and consent.given_by else ""
    scope = consent.scope.strip() if consent and consent.scope else ""
    if not by:
        missing_en.append("who agreed (consent_given_by)")
        missing_zh.append("同意人（consent_given_by）")
    if consent is None or consent.at is None:
        missing_en.append("when (consent_at)")
        missing_zh.append("同意时间（consent_at）")
    if not scope:
        missing_en.append("to what (consent_scope)")
        missing_zh.append("同意范围（consent_scope）")
    if missing_en:
        raise ConsentRequiredError(
            "a person is registered only with their consent (or a named guardian's): "
            f"give {', '.join(missing_en)}",
            zh=f"登记服务对象须经本人（或具名监护人）同意：请填写{'、'.join(missing_zh)}",
        )
    assert consent is not None
    at = consent.at
    if at.tzinfo is None:
        raise InvalidParameterError(
            "consent_at needs a time zone (e.g. +08:00)", zh="同意时间须带时区（如 +08:00）"
        )
    if at > (now or dt.datetime.now(dt.UTC)) + CONSENT_AHEAD:
        raise InvalidParameterError("consent_at lies in the future", zh="同意时间不能晚于现在")
    given_by = _text(by, "consent_given_by", "同意人", CONSENT_BY_MAX)
    scope_text = _text(scope, "consent_scope", "同意范围", CONSENT_SCOPE_MAX)
    assert given_by is not None and scope_text is not None
    return Consent(given_by, at, scope_text)


def _radius(value: int) -> int:
    if not SAFE_RADIUS_MIN <= value <= SAFE_RADIUS_MAX:
        raise InvalidParameterError(
            f"safe_radius_m must lie between {SAFE_RADIUS_MIN} and {SAFE_RADIUS_MAX}",
            zh=f"安全半径须在 {SAFE_RADIUS_MIN} 至 {SAFE_RADIUS_MAX} 米之间",
        )
    return value


def _building_grid(session: Session, building_id: int) -> tuple[int, str]:
    """The grid id and code of a building, or InvalidParameterError for an unknown one."""
    row = session.execute(
        select(Grid.id, Grid.code)
        .join(Building, Building.grid_id == Grid.id)
        .where(Building.id == building_id)
    ).one_or_none()
    if row is None:
        raise InvalidParameterError(
            f"no building has id {building_id}: a person is registered at their home building",
            zh=f"没有编号为 {building_id} 的楼栋：服务对象须登记在其居住的楼栋",
        )
    return int(row[0]), str(row[1])


def _check_staff(session: Session, staff_id: int | None) -> None:
    if staff_id is None:
        return
    if session.get(Staff, staff_id) is None:
        raise InvalidParameterError(
            f"no staff record has id {staff_id}", zh=f"没有编号为 {staff_id} 的工作人员"
        )


def _refuse_register(grid_code: str) -> ForbiddenError:
    return ForbiddenError(
        f"you do not look after grid {grid_code}: only admin, its community and its grid "
        "managers register people there",
        zh=f"您不负责网格 {grid_code}：只有管理员、所属社区和该网格的网格员可以在此登记服务对象",
    )


# ---- reads ----------------------------------------------------------------------------

_Community = aliased(AdminArea)


def _select() -> Any:
    return (
        select(
            Person.id,
            Person.category,
            Person.name,
            Person.phone,
            Person.building_id,
            Building.address.label("building_address"),
            Person.household,
            Grid.code.label("grid_code"),
            Grid.name.label("grid_name"),
            _Community.code.label("community_code"),
            Person.responsible_staff_id,
            Staff.name.label("responsible_staff_name"),
            Person.consent_given_by,
            Person.consent_at,
            Person.consent_scope,
            Person.safe_radius_m,
            Person.created_at,
            Person.version,
        )
        .join(Building, Building.id == Person.building_id)
        .join(Grid, Grid.id == Person.grid_id)
        .join(_Community, _Community.id == Grid.community_id)
        .outerjoin(Staff, Staff.id == Person.responsible_staff_id)
    )


def _record(row: Mapping[Any, Any]) -> PersonRecord:
    return PersonRecord(**dict(row))


def get_person(session: Session, principal: Principal, person_id: int) -> PersonRecord:
    """One person, if ``principal`` sees them; NotFoundError otherwise (as if missing)."""
    row = session.execute(_select().where(Person.id == person_id)).mappings().one_or_none()
    if row is None:
        raise visibility.not_found(person_id)
    record = _record(row)
    visibility.check_sees(principal, person_id, record.grid_code, record.responsible_staff_id)
    return record


def list_people(
    session: Session,
    principal: Principal,
    *,
    grid: str | None = None,
    category: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[PersonRecord], int]:
    """The people ``principal`` sees (by id), narrowed to ``grid`` (a grid or area code
    prefix) and ``category``; a page of them and how many there are in all."""
    scope = visibility.PersonScope.of(principal)
    query = _select().where(scope.where(Grid.code, Person.responsible_staff_id))
    if grid is not None:
        query = query.where(Grid.code.startswith(grid, autoescape=True))
    if category is not None:
        query = query.where(Person.category == check_category(category))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(Person.id).limit(limit).offset(offset)).mappings()
    return [_record(r) for r in rows], int(total)


def counts(
    session: Session, principal: Principal, by: Literal["grid", "community"] = "grid"
) -> list[AreaCount]:
    """People served per grid or community and category, in the areas ``principal``
    covers (``visibility.count_areas``): no names, no ids, no personal data."""
    area = Grid if by == "grid" else _Community
    query = (
        select(area.code, area.name, Person.category, func.count())
        .select_from(Person)
        .join(Grid, Grid.id == Person.grid_id)
        .join(_Community, _Community.id == Grid.community_id)
        .group_by(area.code, area.name, Person.category)
        .order_by(area.code, Person.category)
    )
    areas = visibility.count_areas(principal)
    if areas is not None:
        query = query.where(func.coalesce(_prefixes(Grid.code, areas), False))
    found: dict[str, AreaCount] = {}
    for code, name, category, n in session.execute(query):
        entry = found.setdefault(code, AreaCount(code, name, dict.fromkeys(CATEGORIES, 0)))
        entry.counts[category] = int(n)
    return list(found.values())


def _prefixes(column: Any, prefixes: tuple[str, ...]) -> Any:
    if not prefixes:
        return false()
    return or_(*(column.startswith(literal(p)) for p in prefixes))


# ---- writes ---------------------------------------------------------------------------


def register(session: Session, principal: Principal, new: NewPerson) -> PersonRecord:
    """Register a person at their home building (whose grid they are in), with consent.

    ConsentRequiredError without a complete consent record, InvalidParameterError for
    an unknown building, category or staff row, ForbiddenError when ``principal`` does
    not look after the building's grid (``visibility.may_register``).
    """
    consent = check_consent(new.consent)
    category = check_category(new.category)
    name = _text(new.name, "name", "姓名", NAME_MAX)
    phone = _text(new.phone, "phone", "电话", PHONE_MAX, required=False)
    household = _text(new.household, "household", "户（门牌）", HOUSEHOLD_MAX, required=False)
    radius = _radius(new.safe_radius_m)
    grid_id, grid_code = _building_grid(session, new.building_id)
    if not visibility.may_register(principal, grid_code):
        raise _refuse_register(grid_code)
    _check_staff(session, new.responsible_staff_id)
    person_id = session.execute(
        text(
            """INSERT INTO person (category, name, phone, building_id, household, grid_id,
                   responsible_staff_id, consent_given_by, consent_at, consent_scope,
                   safe_radius_m)
               VALUES (:category, :name, :phone, :building, :household, :grid, :staff,
                   :by, :at, :scope, :radius)
               RETURNING id"""
        ),
        {
            "category": category,
            "name": name,
            "phone": phone,
            "building": new.building_id,
            "household": household,
            "grid": grid_id,
            "staff": new.responsible_staff_id,
            "by": consent.given_by,
            "at": consent.at,
            "scope": consent.scope,
            "radius": radius,
        },
    ).scalar_one()
    return get_person(session, principal, int(person_id))


def _lock(
    session: Session, principal: Principal, person_id: int, expected_version: int | None
) -> PersonRecord:
    """The person locked until the transaction ends, seen by ``principal``, at the version
    they read (StaleVersionError otherwise)."""
    locked = session.execute(
        text("SELECT version FROM person WHERE id = :id FOR UPDATE"), {"id": person_id}
    ).scalar()
    if locked is None:
        raise visibility.not_found(person_id)
    record = get_person(session, principal, person_id)
    if expected_version is not None and record.version != expected_version:
        raise StaleVersionError(person_id, expected_version, record.version, thing="person")
    return record


def update(
    session: Session,
    principal: Principal,
    person_id: int,
    values: Mapping[str, Any],
    *,
    expected_version: int | None,
) -> PersonRecord:
    """Change the fields in ``values`` (``UPDATABLE``; None clears phone, household and
    the responsible worker) of a person ``principal`` sees, based on ``expected_version``.

    A new building moves the person to its grid, which ``principal`` must be allowed
    to register in; a new consent replaces the old one whole (who, when, to what).
    """
    unknown = set(values) - UPDATABLE
    if unknown:
        raise InvalidParameterError(
            f"these fields cannot be changed: {', '.join(sorted(unknown))}",
            zh=f"以下字段不能修改：{', '.join(sorted(unknown))}",
        )
    current = _lock(session, principal, person_id, expected_version)
    sets: dict[str, Any] = {}
    if "category" in values:
        sets["category"] = check_category(values["category"])
    if "name" in values:
        sets["name"] = _text(values["name"], "name", "姓名", NAME_MAX)
    if "phone" in values:
        sets["phone"] = _text(values["phone"], "phone", "电话", PHONE_MAX, required=False)
    if "household" in values:
        sets["household"] = _text(
            values["household"], "household", "户（门牌）", HOUSEHOLD_MAX, required=False
        )
    if "safe_radius_m" in values:
        sets["safe_radius_m"] = _radius(values["safe_radius_m"] or SAFE_RADIUS_DEFAULT)
    if "responsible_staff_id" in values:
        _check_staff(session, values["responsible_staff_id"])
        sets["responsible_staff_id"] = values["responsible_staff_id"]
    consent_fields = {"consent_given_by", "consent_at", "consent_scope"} & set(values)
    if consent_fields:
        consent = check_consent(
            Consent(
                values.get("consent_given_by", current.consent_given_by),
                values.get("consent_at", current.consent_at),
                values.get("consent_scope", current.consent_scope),
            )
        )
        sets |= {
            "consent_given_by": consent.given_by,
            "consent_at": consent.at,
            "consent_scope": consent.scope,
        }
    if "building_id" in values:
        grid_id, grid_code = _building_grid(session, values["building_id"])
        if not visibility.may_register(principal, grid_code):
            raise _refuse_register(grid_code)
        sets |= {"building_id": values["building_id"], "grid_id": grid_id}
    if sets:
        # Column names come from UPDATABLE (checked above), values are bound.
        assignments = ", ".join(f"{column} = :{column}" for column in sets)
        session.execute(
            text(f"UPDATE person SET {assignments} WHERE id = :id"),
            {**sets, "id": person_id},
        )
    return _get_any(session, person_id)


def _get_any(session: Session, person_id: int) -> PersonRecord:
    """The person as stored (after a write that may have moved them out of sight)."""
    row = session.execute(_select().where(Person.id == person_id)).mappings().one()
    return _record(row)


def remove(
    session: Session, principal: Principal, person_id: int, *, expected_version: int | None = None
) -> Removed:
    """Remove a person on their (or their guardian's) request: the row and everything that
    belongs to them. NotFoundError if ``principal`` does not see them, ForbiddenError if
    they see them but may not remove (``visibility.may_remove``)."""
    current = _lock(session, principal, person_id, expected_version)
    if not visibility.may_remove(principal, current.grid_code):
        raise ForbiddenError(
            "only admin and the person's community remove a person from the registry",
            zh="只有管理员和服务对象所在社区可以将其从登记中删除",
        )
    session.execute(text("DELETE FROM person WHERE id = :id"), {"id": person_id})
    return Removed(person_id, current.grid_code, current.category)
