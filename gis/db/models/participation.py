"""Resident councils and participation items (migration 0016)."""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from gis.db.models.base import SRID, Base

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
