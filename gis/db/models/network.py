"""The base map's streets and the walking network (migrations 0010, 0012)."""

from __future__ import annotations

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    Identity,
    Index,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gis.db.models.base import SRID, Base


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
