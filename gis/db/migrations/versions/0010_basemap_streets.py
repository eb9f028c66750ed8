"""street: the offline base map's street network; bigram indexes for search

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-06 00:30:00.000000

Every map draws a base map of streets and place names without internet
access (``gis.basemap.streets``). A street is one edge of a noded network:
it ends where it meets another, so that a later walking network (issue 13)
can route over the same rows. ``kind`` says which zooms draw it.

Search (``gis.basemap.search``) finds buildings by address and streets by
name. pg_trgm extracts no trigrams from Chinese text under the cluster's C
locale (``show_trgm('胜利东街')`` is empty), so a trigram index would never be
used; the index here is GIN over each text's character bigrams
(``gridmap_bigrams``), the usual way to index CJK text, and a query's bigrams
must all be present before ``LIKE`` checks the rows that remain.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "street",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry("LINESTRING", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.CheckConstraint("kind IN ('main', 'secondary', 'local')", name="kind_known"),
        sa.CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geom_valid"),
        sa.CheckConstraint("length_m >= 0", name="length_nonnegative"),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 100", name="name_length"),
    )
    op.execute("CREATE INDEX ix_street_geom ON street USING gist (geom)")
    op.execute(
        """CREATE FUNCTION gridmap_bigrams(value text) RETURNS text[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
          SELECT COALESCE(array_agg(DISTINCT substr(lower(value), i, 2)), '{}')
          FROM generate_series(1, char_length(value) - 1) AS i
        $$"""
    )
    op.execute("CREATE INDEX ix_street_name_bigrams ON street USING gin (gridmap_bigrams(name))")
    op.execute(
        "CREATE INDEX ix_building_address_bigrams ON building USING gin (gridmap_bigrams(address))"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_building_address_bigrams")
    op.drop_table("street")
    op.execute("DROP FUNCTION IF EXISTS gridmap_bigrams(text)")
