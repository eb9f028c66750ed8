"""The grid model in PostGIS: administrative areas, grids, buildings, staff,
facilities and incidents.

Storage datum is WGS84 (EPSG:4326) for every geometry column; CGCS2000
(EPSG:4490) input is accepted as identical at map scale, GCJ-02/BD-09 input is
converted on the way in (see ``gis.geo.datum``). Distances are never computed in
these degrees: analysis uses the geography type or EPSG:4549 (CGCS2000
Gauss-Krüger zone 40, central meridian 120°E, which covers Weifang).

What must never be wrong is enforced by the database itself (see the initial
migration): valid geometries, declared SRIDs, unique codes per validity period,
code layout and parent prefixes, grid household totals kept equal to the sum of
their buildings.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SRID = 4326
METRIC_SRID = 4549
OPEN_END = None  # valid_to of a boundary still in force


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class AreaLevel(enum.StrEnum):
    DISTRICT = "district"
    SUBDISTRICT = "subdistrict"
    COMMUNITY = "community"


class StaffRole(enum.StrEnum):
    GRID_MANAGER = "grid_manager"
    COMMUNITY_WORKER = "community_worker"
    MEDIATOR = "mediator"


class AdminArea(Base):
    """District, subdistrict (optional level) or community, one row per version.

    A community merged or split later keeps its old rows with ``valid_to`` set,
    so history stays queryable; two versions of one code never overlap in time.
    """

    __tablename__ = "admin_area"
    __table_args__ = (
        CheckConstraint(
            "(level = 'district' AND code ~ '^[0-9]{6}$')"
            " OR (level = 'subdistrict' AND code ~ '^[0-9]{9}$')"
            " OR (level = 'community' AND code ~ '^[0-9]{12}$')",
            name="code_layout",
        ),
        CheckConstraint("(level = 'district') = (parent_id IS NULL)", name="parent_level"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity"),
        CheckConstraint(
            "households >= 0 AND population >= 0 AND floating_population >= 0",
            name="counts_nonnegative",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), index=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[AreaLevel] = mapped_column(
        Enum(AreaLevel, name="area_level", values_callable=lambda e: [m.value for m in e])
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_area.id", ondelete="RESTRICT"), index=True
    )
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )
    households: Mapped[int] = mapped_column(Integer, default=0)
    population: Mapped[int] = mapped_column(Integer, default=0)
    floating_population: Mapped[int] = mapped_column(Integer, default=0)
    valid_from: Mapped[dt.date] = mapped_column(Date, server_default="2000-01-01")
    valid_to: Mapped[dt.date | None] = mapped_column(Date)

    parent: Mapped[AdminArea | None] = relationship(remote_side=[id])


class Grid(Base):
    """A unit grid (网格) of roughly 200-300 households, one row per version.

    ``households`` is maintained by a trigger as the sum of its buildings.
    """

    __tablename__ = "grid"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{15}$'", name="code_layout"),
        CheckConstraint("ST_IsValid(geom)", name="geom_valid"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="validity"),
        CheckConstraint("households >= 0 AND population >= 0", name="counts_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(15), index=True)
    name: Mapped[str] = mapped_column(Text)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("admin_area.id", ondelete="RESTRICT"), index=True
    )
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )
    households: Mapped[int] = mapped_column(Integer, default=0)
    population: Mapped[int] = mapped_column(Integer, default=0)
    valid_from: Mapped[dt.date] = mapped_column(Date, server_default="2000-01-01")
    valid_to: Mapped[dt.date | None] = mapped_column(Date)

    community: Mapped[AdminArea] = relationship()
    assignments: Mapped[list[StaffGrid]] = relationship(back_populates="grid")


class Building(Base):
    """A residential or mixed building (楼栋): a point always, a footprint if known."""

    __tablename__ = "building"
    __table_args__ = (
        CheckConstraint("footprint IS NULL OR ST_IsValid(footprint)", name="footprint_valid"),
        CheckConstraint("households >= 0", name="households_nonnegative"),
        CheckConstraint("floors IS NULL OR floors > 0", name="floors_positive"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ext_id: Mapped[str | None] = mapped_column(Text, unique=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id", ondelete="RESTRICT"), index=True)
    location: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    footprint: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )
    households: Mapped[int] = mapped_column(Integer)
    floors: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)


class Staff(Base):
    """Grid managers and community workers.

    ``specialist_duty`` is the A post of seed 002's "AB post" system (e.g.
    civil affairs); the grids in ``assignments`` are the B post (all affairs of
    those grids). Phone numbers are personal data: the API shows them only to
    roles responsible for the grid.
    """

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[StaffRole] = mapped_column(
        Enum(StaffRole, name="staff_role", values_callable=lambda e: [m.value for m in e])
    )
    specialist_duty: Mapped[str | None] = mapped_column(Text)
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_area.id", ondelete="RESTRICT"), index=True
    )

    assignments: Mapped[list[StaffGrid]] = relationship(back_populates="staff")


class StaffGrid(Base):
    """Which grids a staff member is responsible for."""

    __tablename__ = "staff_grid"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    grid_id: Mapped[int] = mapped_column(
        ForeignKey("grid.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    is_primary: Mapped[bool] = mapped_column(Boolean, default=True)

    staff: Mapped[Staff] = relationship(back_populates="assignments")
    grid: Mapped[Grid] = relationship(back_populates="assignments")


class FacilityType(Base):
    """Catalogue of service facility types and their default service radius (metres)."""

    __tablename__ = "facility_type"
    __table_args__ = (CheckConstraint("radius_m > 0", name="radius_positive"),)

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    radius_m: Mapped[int] = mapped_column(Integer)
    life_circle: Mapped[str] = mapped_column(String(10))
    norm_source: Mapped[str] = mapped_column(Text)


class Facility(Base):
    """A service facility at a point, e.g. a community health station.

    ``version`` rises by one with every change (a trigger, migration 0006), so
    that a write based on a stale read is refused.
    """

    __tablename__ = "facility"
    __table_args__ = (
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_nonnegative"),
        CheckConstraint("floor_area_m2 IS NULL OR floor_area_m2 > 0", name="floor_area_positive"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ext_id: Mapped[str | None] = mapped_column(Text, unique=True)
    type_code: Mapped[str] = mapped_column(
        ForeignKey("facility_type.code", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    capacity: Mapped[int | None] = mapped_column(Integer)
    floor_area_m2: Mapped[float | None] = mapped_column(Numeric(10, 1))
    opening_hours: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("admin_area.id", ondelete="RESTRICT"), index=True
    )
    version: Mapped[int] = mapped_column(Integer, server_default="1")


INCIDENT_STATES = (
    "reported",
    "accepted",
    "cancelled",
    "dispatched",
    "handled",
    "feedback",
    "closed",
    "evaluated",
)
"""gis.incidents.workflow.State values; the database checks ``status`` (migration 0003)."""
_STATES_IN = ", ".join(f"'{s}'" for s in INCIDENT_STATES)
OPEN_INCIDENT_STATES = ("reported", "accepted", "dispatched", "handled", "feedback")
"""The states of a case still in handling (not cancelled, closed or evaluated)."""
_OPEN_STATES_IN = ", ".join(f"'{s}'" for s in OPEN_INCIDENT_STATES)


class Incident(Base):
    """An incident located on the map and its place in the seven-step loop (gis.incidents.workflow).

    ``community_id``/``subdistrict_id`` follow ``grid_id`` (a trigger keeps
    them in step; ``subdistrict_id`` is NULL where the district has no such
    level). ``deadline_at`` is set when the clock starts (dispatch, rework) in
    working time; ``version`` rises by one with every change so that a write
    based on a stale read is refused. ``snapped_m`` is how far (metres) a point
    outside every grid lay from the grid it was snapped to. A merged duplicate
    keeps its row and points at the case it duplicates (``duplicate_of``).
    """

    __tablename__ = "incident"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATES_IN})", name="status"),
        CheckConstraint(
            "handling_level IN ('grid', 'community', 'subdistrict', 'district')",
            name="handling_level",
        ),
        CheckConstraint("rework_count >= 0 AND version >= 1", name="counters"),
        CheckConstraint("duplicate_of IS NULL OR duplicate_of <> id", name="not_own_duplicate"),
        CheckConstraint("snapped_m IS NULL OR snapped_m >= 0", name="snapped"),
        CheckConstraint(
            "media_url IS NULL OR (media_url ~ '^https?://' AND length(media_url) <= 2000)",
            name="media_url",
        ),
        # Only open cases are looked up by status, only merged duplicates point anywhere.
        Index(
            "ix_incident_open_status",
            "status",
            postgresql_where=text(f"status IN ({_OPEN_STATES_IN})"),
        ),
        Index(
            "ix_incident_duplicate_of",
            "duplicate_of",
            postgresql_where=text("duplicate_of IS NOT NULL"),
        ),
        # The sweep reads the open cases by when they next go up (0008).
        Index(
            "ix_incident_open_supervise_due_at",
            "supervise_due_at",
            postgresql_where=text(f"status IN ({_OPEN_STATES_IN})"),
        ),
        # A report's Idempotency-Key, unique per principal (0008).
        Index(
            "ux_incident_idempotency",
            "reported_by",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ext_id: Mapped[str | None] = mapped_column(Text, unique=True)
    category: Mapped[str] = mapped_column(String(40))
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    reported_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="reported")
    grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid.id", ondelete="RESTRICT"), index=True
    )
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(20))
    # Copies of grid → community → subdistrict, kept by triggers (migration 0004).
    community_id: Mapped[int | None] = mapped_column(Integer)
    subdistrict_id: Mapped[int | None] = mapped_column(Integer)
    handler_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    handling_level: Mapped[str] = mapped_column(String(12), server_default="grid")
    deadline_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    clock_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rework_count: Mapped[int] = mapped_column(Integer, server_default="0")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="RESTRICT"))
    location_datum: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    snapped_m: Mapped[float | None] = mapped_column(Float)
    media_url: Mapped[str | None] = mapped_column(Text)
    """Link to the reporter's photo (http or https, at most 2,000 characters; 0005)."""
    supervise_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    """When the escalation sweep next raises the case (督办时限; gis.incidents.deadlines, 0008)."""
    reported_by: Mapped[str | None] = mapped_column(String(40))
    """The reporting principal's ``ref`` (``account:12``, ``key:3``; 0008)."""
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    """The report's ``Idempotency-Key`` header, unique per ``reported_by`` (0008)."""
    idempotency_digest: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 (hex) of the report's body, so a replay with another body is refused (0008)."""
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("mediation_unit.id", ondelete="RESTRICT")
    )
    """The mediation unit the case was handed to (交办, ``hand_over``; 0015)."""
    on_the_spot: Mapped[bool] = mapped_column(Boolean, server_default="false")
    """Settled at registration (当场办结, ``settle``; cleared by a rework; 0015)."""


class IncidentTransition(Base):
    """One step of a case: who did what and when, with the level before and after."""

    __tablename__ = "incident_transition"
    __table_args__ = (
        CheckConstraint(f"to_state IN ({_STATES_IN})", name="to_state"),
        CheckConstraint(f"from_state IS NULL OR from_state IN ({_STATES_IN})", name="from_state"),
        CheckConstraint("length(btrim(actor)) > 0", name="actor"),
        CheckConstraint(
            "rating IS NULL OR rating IN ('satisfied', 'basically_satisfied', 'unsatisfied')",
            name="rating",
        ),
        Index("ix_incident_transition_incident_id_at", "incident_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(Text)
    actor_ref: Mapped[str | None] = mapped_column(String(40))
    """The acting identity ("account:12", "key:3", "system"; 0007); ``actor`` is its name."""
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    from_level: Mapped[str | None] = mapped_column(String(12))
    to_level: Mapped[str | None] = mapped_column(String(12))
    rating: Mapped[str | None] = mapped_column(String(24))
    """An evaluation's rating: satisfied, basically_satisfied or unsatisfied (0008)."""
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("mediation_unit.id", ondelete="SET NULL")
    )
    """The unit a ``hand_over`` step handed the case to (0015)."""
    unit_head: Mapped[str | None] = mapped_column(Text)
    """The unit head's name at that moment, as the history shows it (0015)."""


ACCOUNT_ROLES = (
    "admin",
    "district",
    "subdistrict",
    "community",
    "grid_manager",
    "mediator",
    "planner",
)
_AREA_CODE_CHECK = "area_code IS NULL OR area_code ~ '^[0-9]{6}([0-9]{3}){0,3}$'"


class Account(Base):
    """A person who logs in: one role and the area it applies to (migration 0007).

    ``area_code`` is the district, subdistrict or community the role covers; a
    grid manager's grids are those of their ``staff`` record (AB posts included);
    admin and planner cover the whole district. ``password_hash`` is argon2id.
    """

    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint(
            "role IN (" + ", ".join(f"'{r}'" for r in ACCOUNT_ROLES) + ")", name="ck_account_role"
        ),
        CheckConstraint(_AREA_CODE_CHECK, name="ck_account_area_code"),
        CheckConstraint("length(username) BETWEEN 1 AND 64", name="ck_account_username"),
        Index("ux_account_username", text("lower(username)"), unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(20))
    area_code: Mapped[str | None] = mapped_column(String(15))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    display_name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKey(Base):
    """Another system's key: scopes, an optional area, expiry and revocation (0007).

    Only the SHA-256 digest of the key is stored; ``prefix`` (its first
    characters) names it in lists and logs.
    """

    __tablename__ = "api_key"
    __table_args__ = (CheckConstraint(_AREA_CODE_CHECK, name="ck_api_key_area_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(String(12), unique=True)
    key_digest: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    area_code: Mapped[str | None] = mapped_column(String(15))
    created_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class AuthSession(Base):
    """A login: a browser cookie or a bearer token, by its SHA-256 digest (0007)."""

    __tablename__ = "auth_session"
    __table_args__ = (CheckConstraint("kind IN ('cookie', 'bearer')", name="ck_auth_session_kind"),)

    token_digest: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    client: Mapped[str | None] = mapped_column(Text)


class LoginFailure(Base):
    """A failed login, per name typed (whether or not it exists), for throttling (0007)."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key_at", "username_key", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username_key: Mapped[str] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuditEntry(Base):
    """One audited event: a write, a login, a read of personal data (0007).

    Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE, and the
    application's database role may only insert and select.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_principal_at", "principal", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    principal: Mapped[str] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    object: Mapped[str | None] = mapped_column(Text)
    area: Mapped[str | None] = mapped_column(Text)
    client: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class Street(Base):
    """One edge of the base map's street network (0010): it ends where it meets another.

    ``kind`` (``main``, ``secondary``, ``local``) decides from which zoom a map
    draws it (``gis.basemap.streets``); ``length_m`` is metres along the ground.
    """

    __tablename__ = "street"
    __table_args__ = (
        CheckConstraint("kind IN ('main', 'secondary', 'local')", name="kind_known"),
        CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geom_valid"),
        CheckConstraint("length_m >= 0", name="length_nonnegative"),
        CheckConstraint("length(name) BETWEEN 1 AND 100", name="name_length"),
        Index("ix_street_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(Geometry("LINESTRING", srid=SRID, spatial_index=False))
    length_m: Mapped[float] = mapped_column(Float)


WALK_EDGE_KINDS = (
    "street",
    "path",
    "footway",
    "steps",
    "crossing",
    "bridge",
    "tunnel",
    "gate",
    "other",
)
"""What a walking edge is on the ground (migration 0012)."""
WALK_BARRIER_KINDS = ("river", "canal", "rail", "wall", "fence", "other")
"""What a walker cannot cross except along an edge (migration 0012)."""


def _kind_in(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


class WalkEdge(Base):
    """One edge of the walking network (0012), from node ``source`` to node ``target``.

    Nodes are numbers shared by the edges whose ends meet (no table of their
    own); ``length_m`` is true metres along the edge; ``forward`` says it may
    be walked from source to target, ``backward`` the other way (one of the
    two at least). ``origin``: ``demo``, ``osm:<file>`` or ``file:<file>``.
    """

    __tablename__ = "walk_edge"
    __table_args__ = (
        CheckConstraint(_kind_in(WALK_EDGE_KINDS), name="kind_known"),
        CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geom_valid"),
        CheckConstraint("length_m >= 0", name="length_nonnegative"),
        CheckConstraint("forward OR backward", name="walkable"),
        CheckConstraint("name IS NULL OR length(name) BETWEEN 1 AND 200", name="name_length"),
        CheckConstraint("length(origin) BETWEEN 1 AND 300", name="origin_length"),
        Index("ix_walk_edge_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    source: Mapped[int] = mapped_column(BigInteger)
    target: Mapped[int] = mapped_column(BigInteger)
    geom: Mapped[WKBElement] = mapped_column(Geometry("LINESTRING", srid=SRID, spatial_index=False))
    length_m: Mapped[float] = mapped_column(Float)
    forward: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    backward: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    kind: Mapped[str] = mapped_column(Text, server_default="street")
    name: Mapped[str | None] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(Text)


class WalkBarrier(Base):
    """A river, canal, rail line, wall or fence (0012): crossed only along a walking edge.

    ``geom`` is a (multi)line or (multi)polygon; a building's or facility's
    straight leg to the network must not cross it either.
    """

    __tablename__ = "walk_barrier"
    __table_args__ = (
        CheckConstraint(_kind_in(WALK_BARRIER_KINDS), name="kind_known"),
        CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geom_valid"),
        CheckConstraint(
            "GeometryType(geom) IN ('LINESTRING', 'MULTILINESTRING', 'POLYGON', 'MULTIPOLYGON')",
            name="geom_type",
        ),
        CheckConstraint("name IS NULL OR length(name) BETWEEN 1 AND 200", name="name_length"),
        CheckConstraint("length(origin) BETWEEN 1 AND 300", name="origin_length"),
        Index("ix_walk_barrier_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(Geometry("GEOMETRY", srid=SRID, spatial_index=False))
    origin: Mapped[str] = mapped_column(Text)


PHOTO_STAGES = ("intake", "handling", "verification")


class IncidentPhoto(Base):
    """An evidence photo of a case (migration 0009), stored as the platform re-encoded it.

    ``image`` a JPEG of at most 2048 px, ``thumb`` one of at most 320 px, both
    without any metadata; ``digest`` the image's SHA-256 (hex, its ETag);
    ``taken_at`` and ``geom`` what the camera's EXIF said (WGS84);
    ``client_key`` the sender's key for an idempotent replay, unique per case.
    """

    __tablename__ = "incident_photo"
    __table_args__ = (
        CheckConstraint(
            "stage IN (" + ", ".join(f"'{s}'" for s in PHOTO_STAGES) + ")", name="stage"
        ),
        CheckConstraint("width > 0 AND height > 0 AND original_bytes > 0", name="sizes"),
        CheckConstraint(
            "client_key IS NULL OR length(client_key) BETWEEN 1 AND 64", name="client_key"
        ),
        Index("ix_incident_photo_incident_id", "incident_id", "id"),
        Index(
            "ux_incident_photo_client_key",
            "incident_id",
            "client_key",
            unique=True,
            postgresql_where=text("client_key IS NOT NULL"),
        ),
        Index("ix_incident_photo_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(12))
    client_key: Mapped[str | None] = mapped_column(String(64))
    image: Mapped[bytes] = mapped_column(LargeBinary)
    thumb: Mapped[bytes] = mapped_column(LargeBinary)
    digest: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    original_type: Mapped[str] = mapped_column(String(10))
    original_bytes: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False)
    )
    uploaded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    uploaded_by: Mapped[str] = mapped_column(Text)
    uploaded_by_role: Mapped[str | None] = mapped_column(String(20))
    uploaded_by_ref: Mapped[str | None] = mapped_column(String(40))


PERSON_CATEGORIES = ("elderly_alone", "elderly", "disabled", "other")
"""Who a person served is (migration 0013 checks them); their names in both languages
are ``gis.people.categories.CATEGORIES``."""


class Person(Base):
    """A person the district serves (0013): an elderly or disabled resident, at home.

    ``grid_id`` is their home building's grid, written by ``gis.people.registry``;
    ``consent_*`` who agreed to the registration (the person or a named
    guardian), when and to what; ``safe_radius_m`` and ``safe_area`` the
    geofence of a later slice; ``version`` raised by a trigger as facility's.
    Who may see a row is ``gis.people.visibility``.
    """

    __tablename__ = "person"
    __table_args__ = (
        CheckConstraint(
            "category IN (" + ", ".join(f"'{c}'" for c in PERSON_CATEGORIES) + ")",
            name="category_known",
        ),
        CheckConstraint("length(name) BETWEEN 1 AND 100", name="name_length"),
        CheckConstraint("phone IS NULL OR length(phone) BETWEEN 1 AND 20", name="phone_length"),
        CheckConstraint(
            "household IS NULL OR length(household) BETWEEN 1 AND 100", name="household_length"
        ),
        CheckConstraint(
            "length(btrim(consent_given_by)) BETWEEN 1 AND 200", name="consent_given_by_length"
        ),
        CheckConstraint(
            "length(btrim(consent_scope)) BETWEEN 1 AND 500", name="consent_scope_length"
        ),
        CheckConstraint("safe_radius_m BETWEEN 10 AND 10000", name="safe_radius_range"),
        CheckConstraint(
            "safe_area IS NULL OR (ST_IsValid(safe_area) AND NOT ST_IsEmpty(safe_area))",
            name="safe_area_valid",
        ),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_person_safe_area", "safe_area", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    category: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    building_id: Mapped[int] = mapped_column(
        ForeignKey("building.id", ondelete="RESTRICT"), index=True
    )
    household: Mapped[str | None] = mapped_column(Text)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id", ondelete="RESTRICT"), index=True)
    responsible_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    consent_given_by: Mapped[str] = mapped_column(Text)
    consent_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    consent_scope: Mapped[str] = mapped_column(Text)
    safe_radius_m: Mapped[int] = mapped_column(Integer, server_default="300")
    safe_area: Mapped[WKBElement | None] = mapped_column(
        Geometry("POLYGON", srid=SRID, spatial_index=False)
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class CareWorker(Base):
    """A home-care worker (0014) of a community's home-care service centre (居家养老服务中心,
    seed 003): not grid staff. ``available`` says whether they can be sent to a call now;
    where they are is their ``device``'s last position."""

    __tablename__ = "care_worker"
    __table_args__ = (
        CheckConstraint("length(btrim(name)) BETWEEN 1 AND 100", name="name_length"),
        CheckConstraint("phone IS NULL OR length(phone) BETWEEN 1 AND 20", name="phone_length"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("admin_area.id", ondelete="RESTRICT"), index=True
    )
    available: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    version: Mapped[int] = mapped_column(Integer, server_default="1")


DEVICE_ID_PATTERN = "^[A-Za-z0-9._:-]{1,64}$"


class Device(Base):
    """A person's or a worker's locating device (0014), its last position and, for a
    person's, the geofence state (``gis.care.fences``: inside/outside and how many reports
    in a row said otherwise)."""

    __tablename__ = "device"
    __table_args__ = (
        CheckConstraint(f"id ~ '{DEVICE_ID_PATTERN}'", name="id_format"),
        CheckConstraint("num_nonnulls(person_id, worker_id) = 1", name="one_holder"),
        CheckConstraint("fence_state IN ('inside', 'outside')", name="fence_state_known"),
        CheckConstraint("fence_streak >= 0", name="fence_streak_positive"),
        CheckConstraint("(last_at IS NULL) = (last_geom IS NULL)", name="last_complete"),
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), unique=True
    )
    worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("care_worker.id", ondelete="CASCADE"), unique=True
    )
    registered_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False)
    )
    last_accuracy_m: Mapped[float | None] = mapped_column(Float)
    fence_state: Mapped[str] = mapped_column(Text, server_default="inside")
    fence_streak: Mapped[int] = mapped_column(Integer, server_default="0")


class PositionReport(Base):
    """One position a device reported (0014): kept ``GRIDMAP_POSITION_RETENTION_DAYS``."""

    __tablename__ = "position_report"
    __table_args__ = (
        CheckConstraint("datum IN ('wgs84', 'cgcs2000', 'gcj02', 'bd09')", name="datum_known"),
        CheckConstraint(
            "accuracy_m IS NULL OR accuracy_m BETWEEN 0 AND 100000", name="accuracy_range"
        ),
        Index("ix_position_report_at", "at", postgresql_using="brin"),
    )

    device_id: Mapped[str] = mapped_column(Text, primary_key=True)
    """The device (no foreign key: a trigger on ``device`` deletes its history; 0014)."""
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    datum: Mapped[str] = mapped_column(Text, server_default="wgs84")
    received_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class GeofenceAlarm(Base):
    """A person left their safe area (0014): when, where, how far out, the case filed."""

    __tablename__ = "geofence_alarm"
    __table_args__ = (
        CheckConstraint("outside_m >= 0", name="outside_positive"),
        Index("ix_geofence_alarm_person_id", "person_id", "at"),
        Index("ix_geofence_alarm_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    outside_m: Mapped[float] = mapped_column(Float)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="SET NULL"))
    returned_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class EmergencyCall(Base):
    """The emergency button was pressed (0014): the case, the worker sent, the times."""

    __tablename__ = "emergency_call"
    __table_args__ = (
        CheckConstraint("method IS NULL OR method IN ('walk', 'line')", name="method_known"),
        CheckConstraint("worker_id IS NULL OR dispatched_at IS NOT NULL", name="dispatch_complete"),
        CheckConstraint(
            "arrived_at IS NULL OR arrived_at >= dispatched_at", name="arrival_after_dispatch"
        ),
        Index("ix_emergency_call_person_id", "person_id", "at"),
        Index("ix_emergency_call_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="SET NULL"))
    worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("care_worker.id", ondelete="SET NULL"), index=True
    )
    distance_m: Mapped[float | None] = mapped_column(Float)
    method: Mapped[str | None] = mapped_column(Text)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    arrived_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class MediationUnit(Base):
    """A responsible unit of a mediation centre (社会矛盾调处中心, seed 003; 0015).

    ``area_code`` is the area it belongs to (a district, subdistrict, community or
    grid code; it takes the cases of that area), ``categories`` the incident
    categories it takes (top-level or subclass codes; empty: all), ``head_staff_id``
    its head (一把手), to whom a case handed to the unit goes; ``staff`` its other
    members. ``version`` is raised by a trigger (``gridmap_bump_version``).
    """

    __tablename__ = "mediation_unit"
    __table_args__ = (
        CheckConstraint("length(btrim(name_zh)) BETWEEN 1 AND 100", name="name_zh_length"),
        CheckConstraint(
            "name_en IS NULL OR length(btrim(name_en)) BETWEEN 1 AND 200", name="name_en_length"
        ),
        CheckConstraint("area_code ~ '^[0-9]{6}([0-9]{3}){0,3}$'", name="area_code_layout"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text, unique=True)
    name_en: Mapped[str | None] = mapped_column(Text)
    area_code: Mapped[str] = mapped_column(String(15))
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default="{}")
    head_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class MediationUnitStaff(Base):
    """The staff of a mediation unit besides its head: they handle its cases too (0015)."""

    __tablename__ = "mediation_unit_staff"

    unit_id: Mapped[int] = mapped_column(
        ForeignKey("mediation_unit.id", ondelete="CASCADE"), primary_key=True
    )
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True, index=True
    )


PARTICIPATION_KINDS = ("micro_project", "people_decide", "council_matter")
"""What a participation item is (migration 0016): 民生微实事, 由民做主, 议事会议题; their
names in both languages are ``gis.participation.kinds.KINDS``."""
PARTICIPATION_STEPS = ("proposed", "discussed", "decided", "carried_out", "evaluated")
"""The five steps of an item, in order (居民提、居民议、居民决、实施、评议)."""
PARTICIPATION_ENDS = ("rejected", "withdrawn")
"""How an item may end before it is carried out."""


class Council(Base):
    """A community's resident council (居民议事会, 0016): its members as a count and a
    composition text (no names); ``version`` raised by a trigger as facility's."""

    __tablename__ = "council"
    __table_args__ = (
        CheckConstraint("length(btrim(name)) BETWEEN 1 AND 200", name="name_length"),
        CheckConstraint(
            "ext_id IS NULL OR length(btrim(ext_id)) BETWEEN 1 AND 100", name="ext_id_length"
        ),
        CheckConstraint(
            "composition IS NULL OR length(btrim(composition)) BETWEEN 1 AND 500",
            name="composition_length",
        ),
        CheckConstraint("members IS NULL OR members BETWEEN 1 AND 10000", name="members_range"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ext_id: Mapped[str | None] = mapped_column(Text, unique=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("admin_area.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    members: Mapped[int | None] = mapped_column(Integer)
    composition: Mapped[str | None] = mapped_column(Text)
    established_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    version: Mapped[int] = mapped_column(Integer, server_default="1")


class ParticipationItem(Base):
    """A micro-project, 由民做主 item or council matter of a community (0016).

    ``status`` one of ``PARTICIPATION_STEPS`` or ``PARTICIPATION_ENDS``, with the date of
    each step reached (the check ``status_dates`` of the migration ties them together);
    ``grid_id`` optional and in the community, ``council_id`` the community's council
    (a trigger checks both); ``facility_id`` or ``place`` (WGS84) what it concerns.
    How an item moves is ``gis.participation.items``.
    """

    __tablename__ = "participation_item"
    __table_args__ = (Index("ix_participation_item_place", "place", postgresql_using="gist"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ext_id: Mapped[str | None] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("admin_area.id", ondelete="RESTRICT"), index=True
    )
    grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(Text, server_default="proposed", index=True)
    proposed_on: Mapped[dt.date] = mapped_column(Date)
    discussed_on: Mapped[dt.date | None] = mapped_column(Date)
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    carried_out_on: Mapped[dt.date | None] = mapped_column(Date)
    evaluated_on: Mapped[dt.date | None] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    budget_cny: Mapped[float | None] = mapped_column(Numeric(14, 2))
    spent_cny: Mapped[float | None] = mapped_column(Numeric(14, 2))
    facility_id: Mapped[int | None] = mapped_column(
        ForeignKey("facility.id", ondelete="SET NULL"), index=True
    )
    place: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False)
    )
    council_id: Mapped[int | None] = mapped_column(
        ForeignKey("council.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    version: Mapped[int] = mapped_column(Integer, server_default="1")
