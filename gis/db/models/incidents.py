"""Incidents, their steps and evidence photos, and the mediation units cases are handed to."""

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
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gis.db.models.base import SRID, Base

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
