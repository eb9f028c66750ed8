"""initial grid model

Revision ID: 0001
Revises:
Create Date: 2026-11-23 16:25:33.951066
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# What the database itself must guarantee, beyond what the ORM declares:
# GiST indexes on every geometry, one version of a code at any time, codes that
# extend their parent's code, and grid households equal to their buildings' sum.
CONSTRAINTS_SQL = [
    "CREATE INDEX ix_admin_area_geom ON admin_area USING gist (geom)",
    "CREATE INDEX ix_grid_geom ON grid USING gist (geom)",
    "CREATE INDEX ix_building_location ON building USING gist (location)",
    "CREATE INDEX ix_building_footprint ON building USING gist (footprint)",
    "CREATE INDEX ix_facility_geom ON facility USING gist (geom)",
    "CREATE INDEX ix_incident_geom ON incident USING gist (geom)",
    """ALTER TABLE admin_area ADD CONSTRAINT ex_admin_area_code_period
       EXCLUDE USING gist (code WITH =, daterange(valid_from, valid_to) WITH &&)""",
    """ALTER TABLE grid ADD CONSTRAINT ex_grid_code_period
       EXCLUDE USING gist (code WITH =, daterange(valid_from, valid_to) WITH &&)""",
    """CREATE FUNCTION check_admin_area_parent() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE p admin_area%ROWTYPE;
    BEGIN
      IF NEW.parent_id IS NULL THEN RETURN NEW; END IF;
      SELECT * INTO p FROM admin_area WHERE id = NEW.parent_id;
      IF p.level = 'community' OR (p.level = 'subdistrict' AND NEW.level <> 'community') THEN
        RAISE EXCEPTION 'a % cannot have a % as parent', NEW.level, p.level
          USING ERRCODE = 'check_violation';
      END IF;
      IF left(NEW.code, length(p.code)) <> p.code THEN
        RAISE EXCEPTION 'code % does not extend its parent code %', NEW.code, p.code
          USING ERRCODE = 'check_violation';
      END IF;
      RETURN NEW;
    END $$""",
    """CREATE TRIGGER admin_area_parent BEFORE INSERT OR UPDATE OF code, parent_id, level
       ON admin_area FOR EACH ROW EXECUTE FUNCTION check_admin_area_parent()""",
    """CREATE FUNCTION check_grid_community() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE p admin_area%ROWTYPE;
    BEGIN
      SELECT * INTO p FROM admin_area WHERE id = NEW.community_id;
      IF p.level <> 'community' THEN
        RAISE EXCEPTION 'grid % must belong to a community, not a %', NEW.code, p.level
          USING ERRCODE = 'check_violation';
      END IF;
      IF left(NEW.code, 12) <> p.code THEN
        RAISE EXCEPTION 'grid code % does not extend its community code %', NEW.code, p.code
          USING ERRCODE = 'check_violation';
      END IF;
      RETURN NEW;
    END $$""",
    """CREATE TRIGGER grid_community BEFORE INSERT OR UPDATE OF code, community_id
       ON grid FOR EACH ROW EXECUTE FUNCTION check_grid_community()""",
    # Statement-level triggers with transition tables: a bulk load of 40,000
    # buildings updates each touched grid once, not once per building.
    """CREATE FUNCTION refresh_grid_households() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE ids int[];
    BEGIN
      IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT grid_id) INTO ids FROM changed_new;
      ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT grid_id) INTO ids FROM changed_old;
      ELSE
        SELECT array_agg(DISTINCT grid_id) INTO ids
          FROM (SELECT grid_id FROM changed_new UNION SELECT grid_id FROM changed_old) c;
      END IF;
      UPDATE grid g SET households = COALESCE(
          (SELECT sum(b.households) FROM building b WHERE b.grid_id = g.id), 0)
      WHERE g.id = ANY(ids);
      RETURN NULL;
    END $$""",
    """CREATE TRIGGER building_households_ins AFTER INSERT ON building
       REFERENCING NEW TABLE AS changed_new
       FOR EACH STATEMENT EXECUTE FUNCTION refresh_grid_households()""",
    """CREATE TRIGGER building_households_upd AFTER UPDATE ON building
       REFERENCING NEW TABLE AS changed_new OLD TABLE AS changed_old
       FOR EACH STATEMENT EXECUTE FUNCTION refresh_grid_households()""",
    """CREATE TRIGGER building_households_del AFTER DELETE ON building
       REFERENCING OLD TABLE AS changed_old
       FOR EACH STATEMENT EXECUTE FUNCTION refresh_grid_households()""",
]

DROP_SQL = [
    "DROP FUNCTION IF EXISTS refresh_grid_households() CASCADE",
    "DROP FUNCTION IF EXISTS check_grid_community() CASCADE",
    "DROP FUNCTION IF EXISTS check_admin_area_parent() CASCADE",
]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_geospatial_table(
        "admin_area",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "level",
            sa.Enum("district", "subdistrict", "community", name="area_level"),
            nullable=False,
        ),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("floating_population", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), server_default="2000-01-01", nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "(level = 'district' AND code ~ '^[0-9]{6}$') OR (level = 'subdistrict' AND code ~ '^[0-9]{9}$') OR (level = 'community' AND code ~ '^[0-9]{12}$')",
            name=op.f("ck_admin_area_code_layout"),
        ),
        sa.CheckConstraint(
            "(level = 'district') = (parent_id IS NULL)", name=op.f("ck_admin_area_parent_level")
        ),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_admin_area_geom_valid")),
        sa.CheckConstraint(
            "households >= 0 AND population >= 0 AND floating_population >= 0",
            name=op.f("ck_admin_area_counts_nonnegative"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_admin_area_validity")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["admin_area.id"],
            name=op.f("fk_admin_area_parent_id_admin_area"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_area")),
    )
    op.create_index(op.f("ix_admin_area_code"), "admin_area", ["code"], unique=False)
    op.create_index(op.f("ix_admin_area_parent_id"), "admin_area", ["parent_id"], unique=False)
    op.create_table(
        "facility_type",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("radius_m", sa.Integer(), nullable=False),
        sa.Column("life_circle", sa.String(length=10), nullable=False),
        sa.Column("norm_source", sa.Text(), nullable=False),
        sa.CheckConstraint("radius_m > 0", name=op.f("ck_facility_type_radius_positive")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_facility_type")),
    )
    op.create_geospatial_table(
        "facility",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ext_id", sa.Text(), nullable=True),
        sa.Column("type_code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("floor_area_m2", sa.Numeric(precision=10, scale=1), nullable=True),
        sa.Column("opening_hours", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "capacity IS NULL OR capacity >= 0", name=op.f("ck_facility_capacity_nonnegative")
        ),
        sa.CheckConstraint(
            "floor_area_m2 IS NULL OR floor_area_m2 > 0",
            name=op.f("ck_facility_floor_area_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["admin_area.id"],
            name=op.f("fk_facility_community_id_admin_area"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["type_code"],
            ["facility_type.code"],
            name=op.f("fk_facility_type_code_facility_type"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facility")),
        sa.UniqueConstraint("ext_id", name=op.f("uq_facility_ext_id")),
    )
    op.create_index(op.f("ix_facility_community_id"), "facility", ["community_id"], unique=False)
    op.create_index(op.f("ix_facility_type_code"), "facility", ["type_code"], unique=False)
    op.create_geospatial_table(
        "grid",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=15), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), server_default="2000-01-01", nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.CheckConstraint("code ~ '^[0-9]{15}$'", name=op.f("ck_grid_code_layout")),
        sa.CheckConstraint("ST_IsValid(geom)", name=op.f("ck_grid_geom_valid")),
        sa.CheckConstraint(
            "households >= 0 AND population >= 0", name=op.f("ck_grid_counts_nonnegative")
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_grid_validity")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["admin_area.id"],
            name=op.f("fk_grid_community_id_admin_area"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid")),
    )
    op.create_index(op.f("ix_grid_code"), "grid", ["code"], unique=False)
    op.create_index(op.f("ix_grid_community_id"), "grid", ["community_id"], unique=False)
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column(
            "role",
            sa.Enum("grid_manager", "community_worker", "mediator", name="staff_role"),
            nullable=False,
        ),
        sa.Column("specialist_duty", sa.Text(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["admin_area.id"],
            name=op.f("fk_staff_community_id_admin_area"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
    )
    op.create_index(op.f("ix_staff_community_id"), "staff", ["community_id"], unique=False)
    op.create_geospatial_table(
        "building",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("ext_id", sa.Text(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column(
            "location",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "footprint",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("floors", sa.Integer(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "floors IS NULL OR floors > 0", name=op.f("ck_building_floors_positive")
        ),
        sa.CheckConstraint(
            "footprint IS NULL OR ST_IsValid(footprint)", name=op.f("ck_building_footprint_valid")
        ),
        sa.CheckConstraint("households >= 0", name=op.f("ck_building_households_nonnegative")),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_building_grid_id_grid"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_building")),
        sa.UniqueConstraint("ext_id", name=op.f("uq_building_ext_id")),
    )
    op.create_index(op.f("ix_building_grid_id"), "building", ["grid_id"], unique=False)
    op.create_geospatial_table(
        "incident",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("ext_id", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "reported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_incident_grid_id_grid"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
        sa.UniqueConstraint("ext_id", name=op.f("uq_incident_ext_id")),
    )
    op.create_index(op.f("ix_incident_category"), "incident", ["category"], unique=False)
    op.create_index(op.f("ix_incident_grid_id"), "incident", ["grid_id"], unique=False)
    op.create_index(op.f("ix_incident_reported_at"), "incident", ["reported_at"], unique=False)
    op.create_index(op.f("ix_incident_status"), "incident", ["status"], unique=False)
    op.create_table(
        "staff_grid",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_staff_grid_grid_id_grid"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_grid_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("staff_id", "grid_id", name=op.f("pk_staff_grid")),
    )
    op.create_index(op.f("ix_staff_grid_grid_id"), "staff_grid", ["grid_id"], unique=False)
    for statement in CONSTRAINTS_SQL:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_SQL:
        op.execute(statement)
    op.drop_index(op.f("ix_staff_grid_grid_id"), table_name="staff_grid")
    op.drop_table("staff_grid")
    op.drop_index(op.f("ix_incident_status"), table_name="incident")
    op.drop_index(op.f("ix_incident_reported_at"), table_name="incident")
    op.drop_index(op.f("ix_incident_grid_id"), table_name="incident")
    op.drop_index(op.f("ix_incident_category"), table_name="incident")
    op.drop_geospatial_table("incident")
    op.drop_index(op.f("ix_building_grid_id"), table_name="building")
    op.drop_geospatial_table("building")
    op.drop_index(op.f("ix_staff_community_id"), table_name="staff")
    op.drop_table("staff")
    op.drop_index(op.f("ix_grid_community_id"), table_name="grid")
    op.drop_index(op.f("ix_grid_code"), table_name="grid")
    op.drop_geospatial_table("grid")
    op.drop_index(op.f("ix_facility_type_code"), table_name="facility")
    op.drop_index(op.f("ix_facility_community_id"), table_name="facility")
    op.drop_geospatial_table("facility")
    op.drop_table("facility_type")
    op.drop_index(op.f("ix_admin_area_parent_id"), table_name="admin_area")
    op.drop_index(op.f("ix_admin_area_code"), table_name="admin_area")
    op.drop_geospatial_table("admin_area")
    op.execute("DROP TYPE IF EXISTS area_level")
    op.execute("DROP TYPE IF EXISTS staff_role")
