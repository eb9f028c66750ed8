"""Administrative areas, grids, buildings, staff and facilities: the grid model."""

from __future__ import annotations

import datetime as dt
import enum

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gis.db.models.base import SRID, Base


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
