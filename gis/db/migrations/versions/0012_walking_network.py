"""walk_edge, walk_barrier: the walking network and what walkers cannot cross

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 07:10:00.000000

Coverage by walking distance (issue 13, ``gis.network``) routes over a noded
network of edges: each ``walk_edge`` runs between two nodes, ``source`` and
``target`` (node ids numbered by the import that wrote them; ends that meet
share an id), with its length in true metres and whether it may be walked
from source to target (``forward``) and back (``backward``). ``kind`` says
what it is on the ground (a street, a footway, a bridge, a compound's gate),
``origin`` where it came from (``demo``, ``osm:<file>``, ``file:<file>``).

A ``walk_barrier`` is a river, canal, rail line, wall or fence: nobody walks
across it except along an edge (a bridge, an underpass, a gate). Buildings
and facilities join the network by a straight leg, which must not cross a
barrier either.

Both tables notify once per statement with a null id on ``gridmap_changes``
(``gridmap_notify_table``, migration 0002): a network is replaced as a whole,
and a cache simply rebuilds it. ``gridmap_app`` gets its rights from the
default privileges of migration 0007.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

EDGE_KINDS = (
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
BARRIER_KINDS = ("river", "canal", "rail", "wall", "fence", "other")


def _known(values: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "walk_edge",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("source", sa.BigInteger(), nullable=False),
        sa.Column("target", sa.BigInteger(), nullable=False),
        sa.Column("geom", Geometry("LINESTRING", srid=4326, spatial_index=False), nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.Column("forward", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("backward", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("kind", sa.Text(), nullable=False, server_default="street"),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.CheckConstraint(_known(EDGE_KINDS), name="kind_known"),
        sa.CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geom_valid"),
        sa.CheckConstraint("length_m >= 0", name="length_nonnegative"),
        sa.CheckConstraint("forward OR backward", name="walkable"),
        sa.CheckConstraint("name IS NULL OR length(name) BETWEEN 1 AND 200", name="name_length"),
        sa.CheckConstraint("length(origin) BETWEEN 1 AND 300", name="origin_length"),
    )
    op.execute("CREATE INDEX ix_walk_edge_geom ON walk_edge USING gist (geom)")
    op.create_table(
        "walk_barrier",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.CheckConstraint(_known(BARRIER_KINDS), name="kind_known"),
        sa.CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geom_valid"),
        sa.CheckConstraint(
            "GeometryType(geom) IN ('LINESTRING', 'MULTILINESTRING', 'POLYGON', 'MULTIPOLYGON')",
            name="geom_type",
        ),
        sa.CheckConstraint("name IS NULL OR length(name) BETWEEN 1 AND 200", name="name_length"),
        sa.CheckConstraint("length(origin) BETWEEN 1 AND 300", name="origin_length"),
    )
    op.execute("CREATE INDEX ix_walk_barrier_geom ON walk_barrier USING gist (geom)")
    for table in ("walk_edge", "walk_barrier"):
        op.execute(
            f"""CREATE TRIGGER {table}_notify AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE
            ON {table} FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_table()"""
        )


def downgrade() -> None:
    op.drop_table("walk_barrier")
    op.drop_table("walk_edge")
