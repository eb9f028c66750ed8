"""The collections of the OGC API - Features and what each item holds.

A :class:`Collection` names its properties (name, JSON type, title in both
languages), its geometry type, its temporal extent (none, an instant such as
an incident's report time, or the validity of a versioned boundary) and the
access layer the API's rules guard it with. ``source(principal)`` is a select
with the columns ``id``, ``geom`` (WGS84) and the properties, the caller's
narrowing and masking already applied (``gis.incidents.listing.visible_incidents``):
everything the API filters, counts and pages is built on it, so no filter can
reach a value the caller may not see.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from gis.coverage import tables
from gis.coverage.catalogue import resolve_radius
from gis.coverage.store import CoverageModel, build_coverage
from gis.db.models import AdminArea, AreaLevel, Building, Facility, FacilityType, Grid
from gis.db.select import AnySelect
from gis.errors import NotFoundError
from gis.incidents.listing import visible_incidents
from gis.lang import Texts
from gis.network.store import has_network
from gis.participation import items as participation_items
from gis.principal import Principal

JSON_TYPES = ("string", "integer", "number", "boolean", "date", "date-time")
"""Property types: JSON Schema types, with dates and times as strings of that format."""


@dataclass(frozen=True)
class Property:
    """One property of a collection's items: its name, JSON type and title."""

    name: str
    type: str
    title: Texts

    def __post_init__(self) -> None:
        if self.type not in JSON_TYPES:
            raise ValueError(f"property {self.name}: type {self.type!r} is not one of {JSON_TYPES}")


class Temporal(enum.StrEnum):
    """What ``datetime=`` selects by."""

    NONE = "none"
    """No time: ``datetime`` is refused."""
    INSTANT = "instant"
    """One moment per item (``temporal_columns[0]``, e.g. an incident's report time)."""
    VALIDITY = "validity"
    """A boundary's validity ``[valid_from, valid_to)``; without ``datetime`` the versions
    in force today."""


class Access(enum.StrEnum):
    """Which rule of the API guards a collection (``api/access.py`` maps them)."""

    MAP = "map"
    """Areas, grids, buildings: no personal data (the REST map layers' rule)."""
    FACILITIES = "facilities"
    """Facilities: a public facility map may open them."""
    INCIDENTS = "incidents"
    """Cases: narrowed to the caller's areas and masked where they are not responsible."""
    ANALYSIS = "analysis"
    """Coverage figures and blind spots: aggregates without personal data."""
    PARTICIPATION = "participation"
    """Councils' and residents' items: no personal data, for everyone logged in."""


Source = Callable[[Principal], AnySelect]
WalkModels = Callable[[str, float], CoverageModel]
"""A facility type's walking coverage model at a radius: in the API a snapshot of the
live cache's (kept current by notifications); where none is given, built afresh."""


@dataclass(frozen=True)
class Collection:
    """One collection: id, texts, geometry type, properties, time and access, its source."""

    id: str
    title: Texts
    description: Texts
    geometry_type: str
    properties: tuple[Property, ...]
    source: Source = field(compare=False, repr=False)
    access: Access = Access.MAP
    temporal: Temporal = Temporal.NONE
    temporal_columns: tuple[str, ...] = ()
    id_type: str = "integer"
    """JSON type of the feature ids: ``integer``, or ``string`` (blind spots,
    ``<community_code>-<part>``)."""

    @property
    def property_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties)


def _t(zh: str, en: str) -> Texts:
    return Texts(zh, en)


_CODE = Property("code", "string", _t("代码", "code"))
_NAME = Property("name", "string", _t("名称", "name"))
_HOUSEHOLDS = Property("households", "integer", _t("户数", "households"))
_POPULATION = Property("population", "integer", _t("人口", "population (people)"))
_VALID_FROM = Property("valid_from", "date", _t("生效日期", "in force from"))
_VALID_TO = Property("valid_to", "date", _t("失效日期", "in force until (excluded)"))

_AREA_PROPERTIES = (
    _CODE,
    _NAME,
    Property("parent_code", "string", _t("上级区域代码", "code of the parent area")),
    _HOUSEHOLDS,
    _POPULATION,
    Property("floating_population", "integer", _t("流动人口", "floating population")),
    _VALID_FROM,
    _VALID_TO,
)


def _areas_of(level: AreaLevel) -> Source:
    def source(_: Principal) -> AnySelect:
        parent = aliased(AdminArea)
        return (
            select(
                AdminArea.id,
                AdminArea.code,
                AdminArea.name,
                parent.code.label("parent_code"),
                AdminArea.households,
                AdminArea.population,
                AdminArea.floating_population,
                AdminArea.valid_from,
                AdminArea.valid_to,
                AdminArea.geom,
            )
            .outerjoin(parent, parent.id == AdminArea.parent_id)
            .where(AdminArea.level == level)
        )

    return source


def _grids(_: Principal) -> AnySelect:
    community = aliased(AdminArea)
    return select(
        Grid.id,
        Grid.code,
        Grid.name,
        community.code.label("community_code"),
        community.name.label("community_name"),
        Grid.households,
        Grid.population,
        Grid.valid_from,
        Grid.valid_to,
        Grid.geom,
    ).join(community, community.id == Grid.community_id)


def _buildings(_: Principal) -> AnySelect:
    """The grid code as a scalar subquery rather than a join: a count (``numberMatched``
    of every page) then reads the building table alone, PostgreSQL dropping the unused
    column; a page looks up its few grids by primary key either way."""
    grid_code = select(Grid.code).where(Grid.id == Building.grid_id).scalar_subquery()
    return select(
        Building.id,
        Building.ext_id,
        grid_code.label("grid_code"),
        Building.households,
        Building.floors,
        Building.name,
        Building.address,
        Building.location.label("geom"),
    )


def _facilities_of(type_code: str | None) -> Source:
    def source(_: Principal) -> AnySelect:
        community = aliased(AdminArea)
        stmt = (
            select(
                Facility.id,
                Facility.ext_id,
                Facility.type_code.label("type"),
                FacilityType.name_zh.label("type_name_zh"),
                Facility.name,
                Facility.capacity,
                Facility.floor_area_m2,
                Facility.opening_hours,
                Facility.address,
                community.code.label("community_code"),
                FacilityType.radius_m,
                Facility.version,
                Facility.geom,
            )
            .join(FacilityType, FacilityType.code == Facility.type_code)
            .outerjoin(community, community.id == Facility.community_id)
        )
        return stmt if type_code is None else stmt.where(Facility.type_code == type_code)

    return source


_FACILITY_PROPERTIES = (
    Property("ext_id", "string", _t("外部编号", "id in the source system")),
    Property("type", "string", _t("设施类型代码", "facility type code")),
    Property("type_name_zh", "string", _t("设施类型", "facility type (Chinese)")),
    _NAME,
    Property("capacity", "integer", _t("容量（位）", "capacity (places)")),
    Property("floor_area_m2", "number", _t("建筑面积（平方米）", "floor area (m²)")),
    Property("opening_hours", "string", _t("开放时间", "opening hours")),
    Property("address", "string", _t("地址", "address")),
    Property("community_code", "string", _t("社区代码", "community code")),
    Property("radius_m", "integer", _t("服务半径（米）", "service radius of the type (m)")),
    Property("version", "integer", _t("版本", "version (quote it when changing it)")),
)

_LEVELS = (
    ("districts", AreaLevel.DISTRICT, _t("区", "Districts")),
    ("subdistricts", AreaLevel.SUBDISTRICT, _t("街道", "Subdistricts")),
    ("communities", AreaLevel.COMMUNITY, _t("社区", "Communities")),
)


def _fixed() -> list[Collection]:
    out = [
        Collection(
            id=cid,
            title=title,
            description=_t(
                f"{title.zh}边界（默认现行版本；datetime 查询某日或某时段有效的版本）",
                f"{title.en} boundaries (the versions in force today unless datetime asks "
                "for a date or a period)",
            ),
            geometry_type="MultiPolygon",
            properties=_AREA_PROPERTIES,
            source=_areas_of(level),
            temporal=Temporal.VALIDITY,
            temporal_columns=("valid_from", "valid_to"),
        )
        for cid, level, title in _LEVELS
    ]
    out.append(
        Collection(
            id="grids",
            title=_t("单元网格", "Unit grids"),
            description=_t(
                "单元网格（15 位代码；默认现行版本）",
                "Unit grids (15-digit codes; the versions in force today unless datetime "
                "asks otherwise)",
            ),
            geometry_type="MultiPolygon",
            properties=(
                _CODE,
                _NAME,
                Property("community_code", "string", _t("社区代码", "community code")),
                Property("community_name", "string", _t("社区名称", "community name")),
                _HOUSEHOLDS,
                _POPULATION,
                _VALID_FROM,
                _VALID_TO,
            ),
            source=_grids,
            temporal=Temporal.VALIDITY,
            temporal_columns=("valid_from", "valid_to"),
        )
    )
    out.append(
        Collection(
            id="buildings",
            title=_t("楼栋", "Buildings"),
            description=_t(
                "楼栋（位置点；轮廓见矢量瓦片）",
                "Buildings as their location points (footprints are in the vector tiles)",
            ),
            geometry_type="Point",
            properties=(
                Property("ext_id", "string", _t("外部编号", "id in the source system")),
                Property("grid_code", "string", _t("网格代码", "grid code")),
                _HOUSEHOLDS,
                Property("floors", "integer", _t("层数", "floors")),
                _NAME,
                Property("address", "string", _t("地址", "address")),
            ),
            source=_buildings,
        )
    )
    out.append(
        Collection(
            id="facilities",
            title=_t("服务设施", "Service facilities"),
            description=_t("全部服务设施", "Every service facility"),
            geometry_type="Point",
            properties=_FACILITY_PROPERTIES,
            source=_facilities_of(None),
            access=Access.FACILITIES,
        )
    )
    out.append(
        Collection(
            id="incidents",
            title=_t("案件", "Incidents"),
            description=_t(
                "案件：仅调用者辖区内的；调用者不负责的涉及个人信息的案件已脱敏"
                "（位置为所在网格的代表点，描述为“已隐藏”），筛选只作用于脱敏后的值",
                "Cases of the caller's areas; a personal case the caller is not responsible "
                "for comes masked (at its grid's representative point, description 已隐藏), "
                "and filters apply to the masked values",
            ),
            geometry_type="Point",
            properties=(
                Property("ext_id", "string", _t("外部编号", "id in the source system")),
                Property("category", "string", _t("类别代码", "category code")),
                Property("status", "string", _t("状态", "workflow state")),
                Property("grid_code", "string", _t("网格代码", "grid code")),
                Property("reported_at", "date-time", _t("上报时间", "reported at")),
                Property("deadline_at", "date-time", _t("处置时限", "handling deadline")),
                Property("handling_level", "string", _t("处置层级", "handling level")),
                Property("version", "integer", _t("版本", "version")),
                Property("description", "string", _t("描述", "description (已隐藏 if masked)")),
                Property("source", "string", _t("来源", "source")),
                Property("masked", "boolean", _t("已脱敏", "masked")),
            ),
            source=visible_incidents,
            access=Access.INCIDENTS,
            temporal=Temporal.INSTANT,
            temporal_columns=("reported_at",),
        )
    )
    out.append(
        Collection(
            id="participation",
            title=_t("居民议事事项", "Residents' items"),
            description=_t(
                "民生微实事、由民做主事项和议事会议题：在其地点，否则在其设施，否则在其社区的"
                "标注点（located 说明是哪一种）",
                "Micro-projects (民生微实事), 由民做主 items and council matters: at their "
                "place, else their facility, else their community's label point (located says "
                "which)",
            ),
            geometry_type="Point",
            properties=_PARTICIPATION_PROPERTIES,
            source=_participation,
            access=Access.PARTICIPATION,
        )
    )
    return out


def _participation(_: Principal) -> AnySelect:
    return participation_items.items_select()


_PARTICIPATION_PROPERTIES = (
    Property("ext_id", "string", _t("外部编号", "id in the source system")),
    Property(
        "kind", "string", _t("类型代码", "kind: micro_project, people_decide, council_matter")
    ),
    Property("title", "string", _t("标题", "title")),
    Property("description", "string", _t("说明", "description")),
    Property("community_code", "string", _t("社区代码", "community code")),
    Property("community_name", "string", _t("社区名称", "community name")),
    Property("grid_code", "string", _t("网格代码", "grid code")),
    Property("status", "string", _t("状态", "status")),
    Property("proposed_on", "date", _t("提议日期", "proposed on")),
    Property("discussed_on", "date", _t("议事日期", "discussed on")),
    Property("decided_on", "date", _t("决定日期", "decided on")),
    Property("carried_out_on", "date", _t("实施日期", "carried out on")),
    Property("evaluated_on", "date", _t("评议日期", "evaluated on")),
    Property("ended_on", "date", _t("终止日期", "rejected or withdrawn on")),
    Property("budget_cny", "number", _t("预算（元）", "budget (CNY)")),
    Property("spent_cny", "number", _t("已支出（元）", "spent (CNY)")),
    Property("facility_id", "integer", _t("设施编号", "facility id")),
    Property("facility_name", "string", _t("设施名称", "facility name")),
    Property("council_id", "integer", _t("议事会编号", "council id")),
    Property("council_name", "string", _t("议事会", "council")),
    Property(
        "located", "string", _t("位置来源", "where the point is from: place, facility, community")
    ),
    Property("version", "integer", _t("版本", "version")),
)


def _type_rows(session: Session, code: str | None = None) -> list[Any]:
    stmt = select(FacilityType.code, FacilityType.name_zh, FacilityType.name_en).order_by(
        FacilityType.code
    )
    if code is not None:
        stmt = stmt.where(FacilityType.code == code)
    return list(session.execute(stmt).all())


def _properties(columns: tuple[tables.Column, ...]) -> tuple[Property, ...]:
    return tuple(Property(c.name, c.json_type, c.title) for c in columns)


def _coverage_of(select_of: Callable[[str], AnySelect], code: str) -> Source:
    def source(_: Principal) -> AnySelect:
        return select_of(code)

    return source


def _blind_spots_of(session: Session, code: str) -> Source:
    """Blind spots are computed (geometry unions) when first read, once per collection
    object: a request's count and page share them."""
    made: list[AnySelect] = []

    def source(_: Principal) -> AnySelect:
        if not made:
            made.append(tables.blind_spots_select(session, code))
        return made[0]

    return source


def _walk_of(session: Session, code: str, per: str, walk_models: WalkModels | None) -> Source:
    """Walking coverage per grid or per building, from a walking model read when the
    collection is first read (a request's count and page share it)."""
    made: list[AnySelect] = []

    def source(_: Principal) -> AnySelect:
        if not made:
            radius = resolve_radius(session, code, None)
            if walk_models is not None:
                model = walk_models(code, radius)
            else:
                model = build_coverage(session.connection(), code, radius, method="network")
            if per == "grids":
                made.append(tables.grids_select(code, session, model=model))
            else:
                made.append(tables.model_buildings_select(model))
        return made[0]

    return source


def _walking(
    session: Session, code: str, name_zh: str, name_en: str, walk_models: WalkModels | None
) -> list[Collection]:
    """Coverage of one facility type by walking distance, per grid and per building."""
    return [
        Collection(
            id=f"coverage-walk-{code}-grids",
            title=_t(f"{name_zh}步行覆盖率（按网格）", f"Walking coverage by {name_en}, per grid"),
            description=_t(
                f"每个现行网格的户数、步行{name_zh}服务半径内的户数与覆盖率（0-1），"
                "按步行路网计算（与 GET /api/v1/coverage?method=network 相同）",
                f"Each grid in force: households, households within a walk of the service "
                f"radius of a {name_en} over the walking network, and the coverage rate (0-1) "
                "(as GET /api/v1/coverage?method=network)",
            ),
            geometry_type="MultiPolygon",
            properties=_properties(tables.GRID_COLUMNS),
            source=_walk_of(session, code, "grids", walk_models),
            access=Access.ANALYSIS,
        ),
        Collection(
            id=f"coverage-walk-{code}-buildings",
            title=_t(
                f"{name_zh}步行覆盖（按楼栋）", f"Walking coverage by {name_en}, per building"
            ),
            description=_t(
                f"每栋楼的户数、是否在步行{name_zh}服务半径内、步行最近设施及步行距离（米）",
                f"Each building: households, whether a {name_en} is within a walk of its "
                "service radius, the nearest by walk and the walking distance to it (m)",
            ),
            geometry_type="Point",
            properties=_properties(tables.BUILDING_COLUMNS),
            source=_walk_of(session, code, "buildings", walk_models),
            access=Access.ANALYSIS,
        ),
    ]


def _per_type(
    session: Session,
    code: str,
    name_zh: str,
    name_en: str,
    walk: bool = False,
    walk_models: WalkModels | None = None,
) -> list[Collection]:
    """The collections of one facility type: its facilities, its coverage per grid and
    per building, its blind spots; with ``walk``, its walking coverage too."""
    walking = _walking(session, code, name_zh, name_en, walk_models) if walk else []
    return [
        Collection(
            id=f"facilities-{code}",
            title=_t(name_zh, name_en),
            description=_t(f"{name_zh}（服务设施）", f"Service facilities: {name_en}"),
            geometry_type="Point",
            properties=_FACILITY_PROPERTIES,
            source=_facilities_of(code),
            access=Access.FACILITIES,
        ),
        Collection(
            id=f"coverage-{code}-grids",
            title=_t(f"{name_zh}覆盖率（按网格）", f"Coverage by {name_en}, per grid"),
            description=_t(
                f"每个现行网格的户数、{name_zh}服务半径内的户数与覆盖率（0-1）",
                f"Each grid in force: households, households within the service radius of a "
                f"{name_en}, and the coverage rate (0-1)",
            ),
            geometry_type="MultiPolygon",
            properties=_properties(tables.GRID_COLUMNS),
            source=_coverage_of(tables.grids_select, code),
            access=Access.ANALYSIS,
        ),
        Collection(
            id=f"coverage-{code}-buildings",
            title=_t(f"{name_zh}覆盖（按楼栋）", f"Coverage by {name_en}, per building"),
            description=_t(
                f"每栋楼的户数、是否在{name_zh}服务半径内、最近设施及距离（米）",
                f"Each building: households, whether a {name_en} is within its service "
                "radius, the nearest one and the distance to it (m)",
            ),
            geometry_type="Point",
            properties=_properties(tables.BUILDING_COLUMNS),
            source=_coverage_of(tables.buildings_select, code),
            access=Access.ANALYSIS,
        ),
        Collection(
            id=f"blind-spots-{code}",
            title=_t(f"{name_zh}服务盲区", f"Blind spots of {name_en}"),
            description=_t(
                f"社区内不在任何{name_zh}服务半径内的片区（与 GET /api/v1/coverage/blind-spots "
                "相同）",
                f"Parts of each community outside every {name_en}'s service radius (as GET "
                "/api/v1/coverage/blind-spots)",
            ),
            geometry_type="MultiPolygon",
            properties=_properties(tables.BLIND_SPOT_COLUMNS),
            source=_blind_spots_of(session, code),
            access=Access.ANALYSIS,
            id_type="string",
        ),
        *walking,
    ]


def catalogue(session: Session, walk_models: WalkModels | None = None) -> list[Collection]:
    """Every collection, in the order a landing page lists them: the fixed ones, then per
    facility type its facilities, coverage per grid and per building, blind spots, and
    (where a walking network is stored) walking coverage per grid and per building."""
    out = _fixed()
    walk = has_network(session)
    for type_code, name_zh, name_en in _type_rows(session):
        out += _per_type(session, type_code, name_zh, name_en, walk, walk_models)
    return out


def find(session: Session, cid: str, walk_models: WalkModels | None = None) -> Collection:
    """The collection ``cid``; ``NotFoundError`` naming where the list is otherwise.

    A walking collection is found whether or not a network is stored: reading it
    without one is the ``NoNetworkError`` that says how to import one."""
    for coll in _fixed():
        if coll.id == cid:
            return coll
    for prefix, suffix in (
        ("facilities-", ""),
        ("coverage-", "-grids"),
        ("coverage-", "-buildings"),
        ("coverage-walk-", "-grids"),
        ("coverage-walk-", "-buildings"),
        ("blind-spots-", ""),
    ):
        if cid.startswith(prefix) and cid.endswith(suffix) and len(cid) > len(prefix + suffix):
            code = cid[len(prefix) : len(cid) - len(suffix)]
            walk = prefix == "coverage-walk-"
            for _, name_zh, name_en in _type_rows(session, code):
                for coll in _per_type(session, code, name_zh, name_en, walk, walk_models):
                    if coll.id == cid:
                        return coll
    raise NotFoundError(
        f"there is no collection {cid!r}: GET /ogc/collections lists them",
        zh=f"没有名为 {cid!r} 的数据集合：GET /ogc/collections 可列出全部",
    )
