"""People served, home-care workers, devices, positions, alarms and emergency calls
(migrations 0013, 0014)."""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gis.db.models.base import SRID, Base

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
