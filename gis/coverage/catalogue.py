"""The catalogue of service facility types and the walking radius each is planned for.

Radii are straight-line service radii in metres. The national figures come from
the life circles of GB 50180-2018 (城市居住区规划设计标准: 5 minutes ~ 300 m,
10 minutes ~ 500 m, 15 minutes 800-1000 m); where a seed article names its own
circle ("一公里法律服务圈", "一公里文化圈") that figure is used. Types with no
national radius take the life circle of the level that runs them and say so in
``norm_source``, so a planner can see which radii are norms and which are
defaults. The table lives here as data; ``facility_type`` in the database is a
copy kept in step by ``seed_facility_types``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gis.db.models import FacilityType
from gis.errors import GridmapError, InvalidParameterError

MAX_RADIUS_M = 50_000.0
"""Largest service radius an analysis accepts (metres)."""

LifeCircle = Literal["5min", "10min", "15min"]

CoverageMethod = Literal["circle", "network"]
"""How a building's distance to a facility is measured: a straight line (the service
circle) or a walk over the street network (``gis.coverage.network``)."""
METHODS: tuple[CoverageMethod, ...] = ("circle", "network")


def radius_from_minutes(minutes: float, speed_m_per_min: float) -> float:
    """Metres walked in ``minutes`` at ``speed_m_per_min`` (the life circles are walks)."""
    if not (math.isfinite(minutes) and minutes > 0):
        raise InvalidParameterError(
            f"minutes must be a positive number, got {minutes}",
            zh=f"分钟数须为正数，收到 {minutes}",
        )
    return round(minutes * speed_m_per_min, 3)


@dataclass(frozen=True)
class FacilityTypeSpec:
    """One facility type; ``radius_m`` is the service radius in metres."""

    code: str
    name_zh: str
    name_en: str
    radius_m: int
    life_circle: LifeCircle
    norm_source: str


CATALOGUE: tuple[FacilityTypeSpec, ...] = (
    FacilityTypeSpec(
        code="community_health_station",
        name_zh="社区卫生服务站",
        name_en="Community health service station",
        radius_m=1000,
        life_circle="15min",
        norm_source=(
            "GB 50180-2018 life circles; standards.md: ≤ 1000 m, one per 5,000-10,000 "
            "people. Futian (seed 000) covers all 95 communities."
        ),
    ),
    FacilityTypeSpec(
        code="elderly_day_care",
        name_zh="老年人日间照料中心",
        name_en="Elderly day-care centre",
        radius_m=300,
        life_circle="5min",
        norm_source=(
            "GB 50180-2018 five-minute circle facility, ~300 m (reported). Futian (seed 000) "
            "has one in each of its 10 subdistricts."
        ),
    ),
    FacilityTypeSpec(
        code="kindergarten",
        name_zh="幼儿园",
        name_en="Kindergarten",
        radius_m=300,
        life_circle="5min",
        norm_source="GB 50180-2018: kindergarten / nursery service radius ≤ 300 m.",
    ),
    FacilityTypeSpec(
        code="primary_school",
        name_zh="小学",
        name_en="Primary school",
        radius_m=500,
        life_circle="10min",
        norm_source="GB 50180-2018: primary school service radius ≤ 500 m (10-minute circle).",
    ),
    FacilityTypeSpec(
        code="mediation_station",
        name_zh="人民调解站",
        name_en="People's mediation station",
        radius_m=1000,
        life_circle="15min",
        norm_source=(
            "Futian (seed 000): 爱心调解站点 forming a 一公里法律服务圈 (one-kilometre "
            "legal service circle)."
        ),
    ),
    FacilityTypeSpec(
        code="culture_room",
        name_zh="文化活动室",
        name_en="Community culture room",
        radius_m=1000,
        life_circle="15min",
        norm_source="Futian (seed 000): 一公里文化圈 (one-kilometre culture circle).",
    ),
    FacilityTypeSpec(
        code="volunteer_station",
        name_zh="志愿服务站（社区U站）",
        name_en="Volunteer station (community U-station)",
        radius_m=500,
        life_circle="10min",
        norm_source=(
            "No national radius. Futian (seed 000) built 13 社区U站 as places where residents "
            "join volunteering nearby; 13 stations serve a district, so each serves several "
            "communities and the 10-minute circle (500 m, GB 50180-2018) is the default."
        ),
    ),
    FacilityTypeSpec(
        code="community_service_centre",
        name_zh="党群服务中心（社区服务中心）",
        name_en="Community party-and-mass service centre",
        radius_m=300,
        life_circle="5min",
        norm_source=(
            "GB 50180-2018: 社区服务站 is a five-minute circle facility, ~300 m (reported); "
            "floor area 60 m² per 100 households (Tongguanshan, seed 002). Kuiwen "
            "(seed 004) reports every community centre up to standard."
        ),
    ),
    FacilityTypeSpec(
        code="social_work_station",
        name_zh="社工服务站",
        name_en="Social-work station",
        radius_m=1000,
        life_circle="15min",
        norm_source=(
            "Chaoyang (seed 001): one station of ≥ 50 m² in each community. No national "
            "radius; it serves its whole community, so the 15-minute circle (1000 m)."
        ),
    ),
    FacilityTypeSpec(
        code="gov_service_point",
        name_zh="政务服务代办点",
        name_en="Government-service agent point",
        radius_m=1000,
        life_circle="15min",
        norm_source=(
            "Futian (seed 000): 11 points in estate property offices, open 07:00-24:00. "
            "Radius of the 15-minute government-service circle (15分钟政务服务圈), 1000 m."
        ),
    ),
)

CATALOGUE_BY_CODE: dict[str, FacilityTypeSpec] = {spec.code: spec for spec in CATALOGUE}


def seed_facility_types(session: Session) -> int:
    """Insert or update every catalogue type in ``facility_type``; returns the row count.

    Idempotent: a second call changes nothing, and a radius edited here reaches an
    existing database on the next call. Types the database holds beyond the
    catalogue are left alone (facilities may still refer to them).
    """
    rows = [asdict(spec) for spec in CATALOGUE]
    stmt = insert(FacilityType).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[FacilityType.code],
        set_={
            column: stmt.excluded[column]
            for column in ("name_zh", "name_en", "radius_m", "life_circle", "norm_source")
        },
    )
    session.execute(stmt)
    return len(rows)


@dataclass(frozen=True)
class FacilityTypeInfo:
    """A facility type as stored; ``radius_m`` is its default service radius in metres."""

    code: str
    name_zh: str
    name_en: str
    radius_m: int


def facility_types(conn: Connection | Session) -> list[FacilityTypeInfo]:
    """Every stored facility type, by code (a few rows: read per request, never stale)."""
    rows = conn.execute(
        text("SELECT code, name_zh, name_en, radius_m FROM facility_type ORDER BY code")
    ).all()
    return [FacilityTypeInfo(r[0], r[1], r[2], int(r[3])) for r in rows]


def facility_type(
    conn: Connection | Session, code: str, error: type[GridmapError] = InvalidParameterError
) -> FacilityTypeInfo:
    """The stored type ``code``, or ``error`` listing the known codes and names."""
    known = facility_types(conn)
    for info in known:
        if info.code == code:
            return info
    listing = ", ".join(f"{t.code} ({t.name_zh})" for t in known) or "none loaded"
    raise error(
        f"unknown facility type {code!r}; known types: {listing}",
        zh=f"未知的设施类型 {code!r}；已有类型：{listing}",
    )


def check_radius(radius_m: float) -> float:
    """``radius_m`` (metres) if an analysis can use it, else a clear error."""
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise InvalidParameterError(
            "radius_m must be between 0 and 50,000 metres", zh="radius_m 须在 0 至 50,000 米之间"
        )
    return float(radius_m)


def resolve_radius(conn: Connection | Session, type_code: str, radius_m: float | None) -> float:
    """``radius_m`` if given (every analysis may override it), else the type's catalogue radius."""
    info = facility_type(conn, type_code)
    return float(info.radius_m) if radius_m is None else check_radius(radius_m)
