"""Councils and participation items: written, moved one step at a time, read.

Who writes: admin everywhere, a community's accounts in their community
(``may_write``), the program itself (the command line's imports, the demo);
everyone else reads (planners, district and subdistrict staff see every
community: the records carry no personal data). A write out of the caller's
community is a ``ForbiddenError``. Nothing here commits: the caller does.

Rules kept whoever calls:

- **An item belongs to a current community**; its grid, if given, lies in that
  community, and the council that decided it is that community's (checked here
  with a message, and by the trigger of migration 0016).
- **The status moves one step at a time** (``kinds.check_move``), each step's
  date recorded (today in the city's time zone unless given, never before the
  previous step's), against the version the caller read (``StaleVersionError``).
- **Budgets and spending are non-negative yuan** (or unknown: null).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

from sqlalchemy import Select, Table, case, func, insert, literal, select, text
from sqlalchemy.orm import Session, aliased

from gis.db.models import AdminArea, Council, Facility, Grid, ParticipationItem
from gis.errors import (
    ForbiddenError,
    InvalidParameterError,
    NotFoundError,
    StaleVersionError,
)
from gis.geo.datum import WGS84, outside_hint
from gis.localtime import CITY_TZ
from gis.participation.kinds import (
    DATE_COLUMN,
    KINDS,
    STATUSES,
    check_dates,
    check_kind,
    check_move,
    check_status,
)
from gis.principal import Principal, Role

TITLE_MAX = 200
DESCRIPTION_MAX = 2000
EXT_ID_MAX = 100
BUDGET_MAX = 1e12
"""Characters of each text and the largest amount (yuan), as migration 0016 checks them."""

DATE_FIELDS = ("proposed_on", "discussed_on", "decided_on", "carried_out_on", "evaluated_on")

UPDATABLE = frozenset(
    {
        "kind",
        "title",
        "description",
        "grid_code",
        "budget_cny",
        "spent_cny",
        "facility_id",
        "place",
        "council_id",
    }
)
"""What a change may set (the status moves by ``advance``; ``version`` is the database's)."""


@dataclass(frozen=True)
class NewItem:
    """An item to record. ``place`` is (lon, lat) in WGS84, already converted at the edge
    (``gis.geo.datum.to_storage_point``); ``dates`` the date of every step reached
    (``proposed_on`` … ``evaluated_on``, ``ended_on``)."""

    kind: str
    title: str
    community_code: str
    dates: Mapping[str, dt.date | None]
    status: str = "proposed"
    description: str | None = None
    grid_code: str | None = None
    budget_cny: float | None = None
    spent_cny: float | None = None
    facility_id: int | None = None
    place: tuple[float, float] | None = None
    council_id: int | None = None
    ext_id: str | None = None


@dataclass(frozen=True)
class ItemRecord:
    """An item as everyone reads it; ``lon``/``lat`` (WGS84) where the map shows it: its
    place, else its facility, else its community's label point (``located`` says which)."""

    id: int
    ext_id: str | None
    kind: str
    title: str
    description: str | None
    community_code: str
    community_name: str
    grid_code: str | None
    status: str
    proposed_on: dt.date
    discussed_on: dt.date | None
    decided_on: dt.date | None
    carried_out_on: dt.date | None
    evaluated_on: dt.date | None
    ended_on: dt.date | None
    budget_cny: float | None
    spent_cny: float | None
    facility_id: int | None
    facility_name: str | None
    council_id: int | None
    council_name: str | None
    located: str
    lon: float
    lat: float
    version: int

    @property
    def kind_name(self) -> str:
        return KINDS[self.kind].zh

    @property
    def status_name(self) -> str:
        return STATUSES[self.status].zh

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- who writes ------------------------------------------------------------------------


def may_write(principal: Principal, community_code: str) -> bool:
    """Admin, the program itself (a system covering everything), and community accounts
    whose areas hold ``community_code``."""
    if principal.kind == "system":
        return principal.areas is None
    if principal.role is Role.ADMIN:
        return True
    return principal.role is Role.COMMUNITY and principal.covers(community_code)


def check_may_write(principal: Principal, community_code: str) -> None:
    if not may_write(principal, community_code):
        raise ForbiddenError(
            f"you do not answer for community {community_code}: only admin and the "
            "community's own accounts record its councils and items",
            zh=f"您不负责社区 {community_code}：只有管理员和该社区的账号可以登记其议事会和事项",
        )


# ---- checks ----------------------------------------------------------------------------


def clean_text(
    value: str | None, field: str, zh: str, most: int, *, required: bool = True
) -> str | None:
    """``value`` stripped; None for blank if not required; InvalidParameterError otherwise."""
    if value is None or not str(value).strip():
        if required:
            raise InvalidParameterError(f"{field} must not be empty", zh=f"{zh}不能为空")
        return None
    value = str(value).strip()
    if len(value) > most or "\x00" in value:
        raise InvalidParameterError(
            f"{field} is longer than {most} characters or holds a NUL",
            zh=f"{zh}超过 {most} 个字符或含有 NUL",
        )
    return value


def check_amount(value: float | None, field: str, zh: str) -> float | None:
    """Yuan: a finite, non-negative number (two decimals kept), or None."""
    if value is None:
        return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidParameterError(f"{field} must be a number of yuan", zh=f"{zh}须为金额（元）")
    if value < 0:
        raise InvalidParameterError(
            f"{field} must not be negative (got {value:g})", zh=f"{zh}不能为负数（{value:g}）"
        )
    if value > BUDGET_MAX:
        raise InvalidParameterError(
            f"{field} is over {BUDGET_MAX:,.0f} yuan", zh=f"{zh}超过 {BUDGET_MAX:,.0f} 元"
        )
    return round(float(value), 2)


def community_id(session: Session, code: str) -> int:
    """The id of the current community ``code``, or InvalidParameterError."""
    found = session.execute(
        select(AdminArea.id).where(
            AdminArea.code == code,
            AdminArea.level == "community",
            AdminArea.valid_to.is_(None),
        )
    ).scalar()
    if found is None:
        raise InvalidParameterError(
            f"no current community has code {code!r} (12 digits)",
            zh=f"没有代码为 {code!r} 的现行社区（12 位）",
        )
    return int(found)


def grid_id(session: Session, code: str, in_community: int, community_code: str) -> int:
    """The id of the current grid ``code`` of the community, or InvalidParameterError."""
    row = session.execute(
        select(Grid.id, Grid.community_id).where(Grid.code == code, Grid.valid_to.is_(None))
    ).one_or_none()
    if row is None:
        raise InvalidParameterError(
            f"no current grid has code {code!r} (15 digits)", zh=f"没有代码为 {code!r} 的现行网格"
        )
    if int(row[1]) != in_community:
        raise InvalidParameterError(
            f"grid {code} does not lie in community {community_code}",
            zh=f"网格 {code} 不在社区 {community_code} 内",
        )
    return int(row[0])


def _check_facility(session: Session, facility_id: int | None) -> None:
    if facility_id is not None and session.get(Facility, facility_id) is None:
        raise InvalidParameterError(
            f"no facility has id {facility_id}", zh=f"没有编号为 {facility_id} 的设施"
        )


def _check_council(session: Session, council_id: int | None, community: int, code: str) -> None:
    if council_id is None:
        return
    found = session.execute(
        select(Council.community_id).where(Council.id == council_id)
    ).scalar_one_or_none()
    if found is None:
        raise InvalidParameterError(
            f"no council has id {council_id}", zh=f"没有编号为 {council_id} 的议事会"
        )
    if int(found) != community:
        raise InvalidParameterError(
            f"council {council_id} is not community {code}'s",
            zh=f"议事会 {council_id} 不属于社区 {code}",
        )


PLACE_TOLERANCE_DEG = 0.0005
"""How far (about 50 m) a place may lie beyond its community's boundary: a project on
the boundary road. A GCJ-02 point taken for WGS84 lies about 500 m off in Weifang."""


def check_place_in(
    session: Session, place: tuple[float, float] | None, community: int, code: str
) -> None:
    """Nothing if ``place`` (WGS84) lies in the community (or is None); otherwise an
    InvalidParameterError saying what to check (``gis.geo.datum.outside_hint``)."""
    if place is None:
        return
    inside = session.execute(
        text(
            "SELECT ST_DWithin(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :tol)"
            " FROM admin_area WHERE id = :id"
        ),
        {"lon": place[0], "lat": place[1], "tol": PLACE_TOLERANCE_DEG, "id": community},
    ).scalar()
    if not inside:
        raise InvalidParameterError(
            f"the place ({place[0]:.6f}, {place[1]:.6f}, WGS84) lies outside community {code}; "
            + outside_hint(WGS84)
            + " (if you named a datum already, check that it is the right one)",
            zh=f"地点（WGS84 {place[0]:.6f}, {place[1]:.6f}）不在社区 {code} 内；若坐标来自手机"
            "地图应用（高德、腾讯、微信），其为 GCJ-02，请注明 datum=gcj02（百度为 bd09）；"
            "已注明坐标系的，请核对是否正确",
        )


def _place_sql(place: tuple[float, float] | None) -> tuple[str, dict[str, Any]]:
    if place is None:
        return "NULL", {}
    lon, lat = place
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidParameterError(
            f"place ({lon}, {lat}) is not a lon/lat position", zh="地点不是有效的经纬度"
        )
    return "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)", {"lon": lon, "lat": lat}


# ---- reads -----------------------------------------------------------------------------

_Community = aliased(AdminArea)


def display_point() -> Any:
    """Where the map shows an item: its place, else its facility, else its community's
    label point (``ST_PointOnSurface``: inside even a concave community)."""
    return func.coalesce(
        ParticipationItem.place, Facility.geom, func.ST_PointOnSurface(_Community.geom)
    )


def items_select(point_label: str = "geom") -> Select[Any]:
    """Every item with its community, grid, facility and council names and its point
    (``point_label``, WGS84): the one select the list, the map and Features read."""
    return (
        select(
            ParticipationItem.id,
            ParticipationItem.ext_id,
            ParticipationItem.kind,
            ParticipationItem.title,
            ParticipationItem.description,
            _Community.code.label("community_code"),
            _Community.name.label("community_name"),
            Grid.code.label("grid_code"),
            ParticipationItem.status,
            *(getattr(ParticipationItem, c) for c in DATE_FIELDS),
            ParticipationItem.ended_on,
            ParticipationItem.budget_cny,
            ParticipationItem.spent_cny,
            ParticipationItem.facility_id,
            Facility.name.label("facility_name"),
            ParticipationItem.council_id,
            Council.name.label("council_name"),
            _located().label("located"),
            ParticipationItem.version,
            display_point().label(point_label),
        )
        .join(_Community, _Community.id == ParticipationItem.community_id)
        .outerjoin(Grid, Grid.id == ParticipationItem.grid_id)
        .outerjoin(Facility, Facility.id == ParticipationItem.facility_id)
        .outerjoin(Council, Council.id == ParticipationItem.council_id)
    )


def _located() -> Any:
    return case(
        (ParticipationItem.place.is_not(None), literal("place")),
        (Facility.geom.is_not(None), literal("facility")),
        else_=literal("community"),
    )


def _with_lonlat(query: Select[Any]) -> Select[Any]:
    point = display_point()
    return query.add_columns(func.ST_X(point).label("lon"), func.ST_Y(point).label("lat"))


def _record(row: Mapping[Any, Any]) -> ItemRecord:
    values = {k: row[k] for k in ItemRecord.__dataclass_fields__}
    for amount in ("budget_cny", "spent_cny"):
        if values[amount] is not None:
            values[amount] = float(values[amount])
    values["lon"], values["lat"] = round(float(values["lon"]), 7), round(float(values["lat"]), 7)
    return ItemRecord(**values)


def get_item(session: Session, item_id: int) -> ItemRecord:
    """One item (everyone reads every item); NotFoundError for an unknown id."""
    query = _with_lonlat(items_select()).where(ParticipationItem.id == item_id)
    row = session.execute(query).mappings().one_or_none()
    if row is None:
        raise not_found(item_id)
    return _record(row)


def not_found(item_id: int) -> NotFoundError:
    return NotFoundError(
        f"no participation item has id {item_id}", zh=f"没有编号为 {item_id} 的议事事项"
    )


@dataclass(frozen=True)
class ItemFilter:
    """What a list is narrowed to: an area (code prefix: district, subdistrict,
    community), a kind, a status, the year an item was proposed in."""

    area: str | None = None
    kind: str | None = None
    status: str | None = None
    year: int | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.area is not None:
            query = query.where(_Community.code.startswith(self.area, autoescape=True))
        if self.kind is not None:
            query = query.where(ParticipationItem.kind == check_kind(self.kind))
        if self.status is not None:
            query = query.where(ParticipationItem.status == check_status(self.status))
        if self.year is not None:
            start, end = dt.date(self.year, 1, 1), dt.date(self.year + 1, 1, 1)
            query = query.where(
                ParticipationItem.proposed_on >= start, ParticipationItem.proposed_on < end
            )
        return query


def list_items(
    session: Session, where: ItemFilter = ItemFilter(), *, limit: int = 100, offset: int = 0
) -> tuple[list[ItemRecord], int]:
    """A page of items by id, and how many match in all."""
    query = where.apply(_with_lonlat(items_select()))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(
        query.order_by(ParticipationItem.id).limit(limit).offset(offset)
    ).mappings()
    return [_record(r) for r in rows], int(total)


# ---- item writes -----------------------------------------------------------------------


def checked_row(session: Session, principal: Principal, new: NewItem) -> dict[str, Any]:
    """``new`` as the values of one INSERT, every rule checked (the importer checks rows
    with it before writing any)."""
    kind = check_kind(new.kind)
    status = check_status(new.status)
    dates = check_dates(status, dict(new.dates))
    title = clean_text(new.title, "title", "标题", TITLE_MAX)
    description = clean_text(
        new.description, "description", "说明", DESCRIPTION_MAX, required=False
    )
    ext_id = clean_text(new.ext_id, "ext_id", "外部编号", EXT_ID_MAX, required=False)
    budget = check_amount(new.budget_cny, "budget_cny", "预算")
    spent = check_amount(new.spent_cny, "spent_cny", "已支出")
    community = community_id(session, new.community_code)
    check_may_write(principal, new.community_code)
    grid = (
        None
        if new.grid_code is None
        else grid_id(session, new.grid_code, community, new.community_code)
    )
    _check_facility(session, new.facility_id)
    _check_council(session, new.council_id, community, new.community_code)
    _place_sql(new.place)
    check_place_in(session, new.place, community, new.community_code)
    place = None if new.place is None else f"SRID=4326;POINT({new.place[0]!r} {new.place[1]!r})"
    return {
        "ext_id": ext_id,
        "kind": kind,
        "title": title,
        "description": description,
        "community_id": community,
        "grid_id": grid,
        "status": status,
        **dates,
        "budget_cny": budget,
        "spent_cny": spent,
        "facility_id": new.facility_id,
        "place": place,
        "council_id": new.council_id,
    }


def insert_rows(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert checked rows (``checked_row``) in one statement; their ids, in row order."""
    if not rows:
        return []
    # Core, not the ORM's bulk insert: one multi-row statement per batch (the ORM sends one
    # statement per row here, 2 s for the demo's thousand items instead of 0.1 s).
    table = cast(Table, ParticipationItem.__table__)
    ids = session.connection().execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)
    )
    return [int(i) for (i,) in ids]


def create_item(session: Session, principal: Principal, new: NewItem) -> ItemRecord:
    """Record one item (admin, its community's accounts, the program): the record as
    stored. InvalidParameterError for unknown codes, kinds, dates; ForbiddenError out of
    the caller's community."""
    (item_id,) = insert_rows(session, [checked_row(session, principal, new)])
    return get_item(session, item_id)


def _lock(session: Session, item_id: int, expected_version: int | None) -> ItemRecord:
    locked = session.execute(
        text("SELECT version FROM participation_item WHERE id = :id FOR UPDATE"), {"id": item_id}
    ).scalar()
    if locked is None:
        raise not_found(item_id)
    if expected_version is not None and int(locked) != expected_version:
        raise StaleVersionError(item_id, expected_version, int(locked), thing="participation item")
    return get_item(session, item_id)


def update_item(
    session: Session,
    principal: Principal,
    item_id: int,
    values: Mapping[str, Any],
    *,
    expected_version: int | None,
) -> ItemRecord:
    """Change the fields in ``values`` (``UPDATABLE``; None clears the optional ones) of an
    item of a community ``principal`` writes for, based on ``expected_version``."""
    unknown = set(values) - UPDATABLE
    if unknown:
        raise InvalidParameterError(
            f"these fields cannot be changed here: {', '.join(sorted(unknown))} (the status "
            "moves by advancing it)",
            zh=f"以下字段不能在此修改：{', '.join(sorted(unknown))}（状态须逐步推进）",
        )
    current = _lock(session, item_id, expected_version)
    check_may_write(principal, current.community_code)
    community = community_id(session, current.community_code)
    sets: dict[str, Any] = {}
    place_sql = None
    if "kind" in values:
        sets["kind"] = check_kind(values["kind"])
    if "title" in values:
        sets["title"] = clean_text(values["title"], "title", "标题", TITLE_MAX)
    if "description" in values:
        sets["description"] = clean_text(
            values["description"], "description", "说明", DESCRIPTION_MAX, required=False
        )
    for amount, zh in (("budget_cny", "预算"), ("spent_cny", "已支出")):
        if amount in values:
            sets[amount] = check_amount(values[amount], amount, zh)
    if "grid_code" in values:
        code = values["grid_code"]
        sets["grid_id"] = (
            None if code is None else grid_id(session, code, community, current.community_code)
        )
    if "facility_id" in values:
        _check_facility(session, values["facility_id"])
        sets["facility_id"] = values["facility_id"]
    if "council_id" in values:
        _check_council(session, values["council_id"], community, current.community_code)
        sets["council_id"] = values["council_id"]
    params: dict[str, Any] = {}
    if "place" in values:
        place_sql, params = _place_sql(values["place"])
        check_place_in(session, values["place"], community, current.community_code)
    assignments = [f"{column} = :{column}" for column in sets]
    if place_sql is not None:
        assignments.append(f"place = {place_sql}")
    if assignments:
        # Column names come from UPDATABLE (checked above), values are bound.
        session.execute(
            text(f"UPDATE participation_item SET {', '.join(assignments)} WHERE id = :id"),
            {**sets, **params, "id": item_id},
        )
    return get_item(session, item_id)


def today() -> dt.date:
    """Today in the city (Asia/Shanghai): the date a step reached now is recorded with."""
    return dt.datetime.now(CITY_TZ).date()


def advance(
    session: Session,
    principal: Principal,
    item_id: int,
    to: str,
    *,
    on: dt.date | None = None,
    expected_version: int | None,
) -> ItemRecord:
    """Move an item to ``to``: the next step, or an early end (``kinds.allowed_moves``),
    dated ``on`` (today in the city by default; not before the step it follows).
    StepNotAllowedError (409) for a skip, a step back or a move of an ended item."""
    current = _lock(session, item_id, expected_version)
    check_may_write(principal, current.community_code)
    check_move(item_id, current.status, to)
    day = on or today()
    last = max(d for d in (getattr(current, c) for c in [*DATE_FIELDS, "ended_on"]) if d)
    if day < last:
        raise InvalidParameterError(
            f"{to} on {day} lies before the item's last step ({last})",
            zh=f"{STATUSES[to].zh}日期 {day} 早于该事项上一步的日期 {last}",
        )
    if day > today() + dt.timedelta(days=1):
        raise InvalidParameterError(
            f"{to} on {day} lies in the future", zh=f"{STATUSES[to].zh}日期 {day} 晚于今天"
        )
    column = DATE_COLUMN[to]
    session.execute(
        text(f"UPDATE participation_item SET status = :to, {column} = :day WHERE id = :id"),
        {"to": to, "day": day, "id": item_id},
    )
    return get_item(session, item_id)
