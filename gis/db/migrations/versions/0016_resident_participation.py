"""council, participation_item: residents who decide (居民议事会, 民生微实事, 由民做主)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 23:00:00.000000

Issue 14 (seeds 000 and 004): Futian runs one resident council (居民议事会) per
community, and micro-projects (民生微实事) that residents propose, discuss and
decide (居民提、居民议、居民决); Kuiwen lists 824 "由民做主" items. Both are
records of a community (and optionally one of its grids) that planners want on
the map and counted per community.

``council``: a community's resident council: name, members (count and a
composition text: 党组织、居委会、物业、居民代表…), established date.

``participation_item``: one micro-project, 由民做主 item or council matter
(``kind``). ``status`` moves through the five steps in order (proposed →
discussed → decided → carried_out → evaluated), or ends early as ``rejected``
(the residents decided against it) or ``withdrawn``; the date of each step
reached is kept (``proposed_on`` … ``evaluated_on``, ``ended_on`` for an early
end), and the check ``status_dates`` ties the dates to the status: the dates of
the steps reached are set, in order, the others null. ``gis.participation.items``
moves an item one step at a time against its version; the database refuses a
row whose dates contradict its status, whoever writes it.

Where an item is: its ``grid_id`` (optional) must lie in its community, its
council must be its community's (trigger ``participation_item_areas``); it
concerns a ``facility_id`` or a ``place`` (a point, WGS84 as every geometry),
or only its community. No personal data: no proposer's name is stored.

``version`` rises with every change (``gridmap_bump_version``, migration 0006);
a change notifies ``gridmap_changes`` once per statement
(``gridmap_notify_table``, migration 0002). ``gridmap_app`` gets its rights from
the default privileges of migration 0007.
"""

from __future__ import annotations

import itertools

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

KINDS = ("micro_project", "people_decide", "council_matter")
STEPS = ("proposed", "discussed", "decided", "carried_out", "evaluated")
ENDS = ("rejected", "withdrawn")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def status_dates_check() -> str:
    """Per status: the dates of the steps reached set, the later ones null; an early end
    (rejected, withdrawn) has ``ended_on`` and never reached carried_out."""
    dates = [f"{step}_on" for step in STEPS]
    cases = []
    for i, step in enumerate(STEPS):
        reached = " AND ".join(f"{d} IS NOT NULL" for d in dates[: i + 1])
        later = " AND ".join(f"{d} IS NULL" for d in [*dates[i + 1 :], "ended_on"])
        cases.append(f"(status = '{step}' AND {reached} AND {later})")
    cases.append(
        f"({_in('status', ENDS)} AND ended_on IS NOT NULL AND proposed_on IS NOT NULL"
        " AND carried_out_on IS NULL AND evaluated_on IS NULL"
        " AND (decided_on IS NULL OR discussed_on IS NOT NULL))"
    )
    return " OR ".join(cases)


def dates_in_order_check() -> str:
    pairs = [(f"{a}_on", f"{b}_on") for a, b in itertools.pairwise(STEPS)]
    pairs += [("proposed_on", "ended_on"), ("discussed_on", "ended_on"), ("decided_on", "ended_on")]
    return " AND ".join(f"({b} IS NULL OR {a} IS NULL OR {b} >= {a})" for a, b in pairs)


def _length(column: str, most: int, nullable: bool = False) -> str:
    check = f"length(btrim({column})) BETWEEN 1 AND {most}"
    return f"{column} IS NULL OR {check}" if nullable else check


def upgrade() -> None:
    op.create_table(
        "council",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("ext_id", sa.Text(), nullable=True, unique=True),
        sa.Column(
            "community_id",
            sa.Integer(),
            sa.ForeignKey("admin_area.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=True),
        sa.Column("composition", sa.Text(), nullable=True),
        sa.Column("established_on", sa.Date(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.CheckConstraint(_length("name", 200), name="name_length"),
        sa.CheckConstraint(_length("ext_id", 100, nullable=True), name="ext_id_length"),
        sa.CheckConstraint(_length("composition", 500, nullable=True), name="composition_length"),
        sa.CheckConstraint("members IS NULL OR members BETWEEN 1 AND 10000", name="members_range"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        sa.UniqueConstraint("community_id", "name", name="uq_council_community_id_name"),
    )
    op.create_table(
        "participation_item",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("ext_id", sa.Text(), nullable=True, unique=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "community_id",
            sa.Integer(),
            sa.ForeignKey("admin_area.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "grid_id", sa.Integer(), sa.ForeignKey("grid.id", ondelete="RESTRICT"), nullable=True
        ),
        sa.Column("status", sa.Text(), nullable=False, server_default="proposed"),
        *(sa.Column(f"{step}_on", sa.Date(), nullable=step != "proposed") for step in STEPS),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("budget_cny", sa.Numeric(14, 2), nullable=True),
        sa.Column("spent_cny", sa.Numeric(14, 2), nullable=True),
        sa.Column(
            "facility_id",
            sa.Integer(),
            sa.ForeignKey("facility.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("place", Geometry("POINT", srid=4326, spatial_index=False), nullable=True),
        sa.Column(
            "council_id",
            sa.BigInteger(),
            sa.ForeignKey("council.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.CheckConstraint(_in("kind", KINDS), name="kind_known"),
        sa.CheckConstraint(_in("status", STEPS + ENDS), name="status_known"),
        sa.CheckConstraint(status_dates_check(), name="status_dates"),
        sa.CheckConstraint(dates_in_order_check(), name="dates_in_order"),
        sa.CheckConstraint(_length("title", 200), name="title_length"),
        sa.CheckConstraint(_length("description", 2000, nullable=True), name="description_length"),
        sa.CheckConstraint(_length("ext_id", 100, nullable=True), name="ext_id_length"),
        sa.CheckConstraint("budget_cny IS NULL OR budget_cny >= 0", name="budget_nonnegative"),
        sa.CheckConstraint("spent_cny IS NULL OR spent_cny >= 0", name="spent_nonnegative"),
        sa.CheckConstraint(
            "place IS NULL OR (ST_IsValid(place) AND NOT ST_IsEmpty(place))", name="place_valid"
        ),
        sa.CheckConstraint("version >= 1", name="version_positive"),
    )
    op.create_index("ix_council_community_id", "council", ["community_id"])
    for column in ("community_id", "grid_id", "facility_id", "council_id", "status"):
        op.create_index(f"ix_participation_item_{column}", "participation_item", [column])
    op.execute("CREATE INDEX ix_participation_item_place ON participation_item USING gist (place)")
    op.execute(
        """CREATE FUNCTION gridmap_participation_areas() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_TABLE_NAME = 'council' OR TG_TABLE_NAME = 'participation_item' THEN
                IF NOT EXISTS (SELECT 1 FROM admin_area
                               WHERE id = NEW.community_id AND level = 'community') THEN
                    RAISE EXCEPTION 'participation: area % is not a community', NEW.community_id
                        USING ERRCODE = 'check_violation';
                END IF;
            END IF;
            IF TG_TABLE_NAME = 'participation_item' THEN
                IF NEW.grid_id IS NOT NULL AND NOT EXISTS (
                        SELECT 1 FROM grid
                        WHERE id = NEW.grid_id AND community_id = NEW.community_id) THEN
                    RAISE EXCEPTION 'participation: grid % does not lie in community %',
                        NEW.grid_id, NEW.community_id USING ERRCODE = 'check_violation';
                END IF;
                IF NEW.council_id IS NOT NULL AND NOT EXISTS (
                        SELECT 1 FROM council
                        WHERE id = NEW.council_id AND community_id = NEW.community_id) THEN
                    RAISE EXCEPTION 'participation: council % is not community %''s',
                        NEW.council_id, NEW.community_id USING ERRCODE = 'check_violation';
                END IF;
            END IF;
            RETURN NEW;
        END $$"""
    )
    for table in ("council", "participation_item"):
        op.execute(
            f"""CREATE TRIGGER {table}_areas BEFORE INSERT OR UPDATE ON {table}
            FOR EACH ROW EXECUTE FUNCTION gridmap_participation_areas()"""
        )
        op.execute(
            f"""CREATE TRIGGER {table}_version BEFORE UPDATE ON {table}
            FOR EACH ROW EXECUTE FUNCTION gridmap_bump_version()"""
        )
        op.execute(
            f"""CREATE TRIGGER {table}_notify AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE
            ON {table} FOR EACH STATEMENT EXECUTE FUNCTION gridmap_notify_table()"""
        )


def downgrade() -> None:
    op.drop_table("participation_item")
    op.drop_table("council")
    op.execute("DROP FUNCTION gridmap_participation_areas()")
