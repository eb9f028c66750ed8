"""Store the demo district in PostGIS, once: ``gridmap demo`` on an empty database.

Its streets become the base map (table ``street``) and, with a river, a rail
line and gated compounds as barriers, its walking network (``walk_edge``,
``walk_barrier``; ``gis.demo._walk``). Its councils, micro-projects and 由民做主
items (``gis.demo._participation``) are drawn from what it stored; a district
loaded before migration 0016 gets them on the next load.

All layers go in one transaction with ``COPY`` under an advisory lock, so a
failed load leaves nothing behind and a second (or concurrent) one loads nothing.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from psycopg import Cursor
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from gis.accounts import audit
from gis.areas.queries import area_outlines
from gis.basemap.streets import write_streets
from gis.coverage.catalogue import CATALOGUE, seed_facility_types
from gis.coverage.facilities import WRITABLE_FIELDS
from gis.db.copy import copy_rows, hex_ewkb
from gis.demo._care import write_care
from gis.demo._histories import TRANSITION_COLUMNS
from gis.demo._participation import write_participation
from gis.demo._streets import make_streets
from gis.demo._walk import make_walk
from gis.demo.accounts import create_demo_accounts
from gis.demo.generate import DemoDistrict, generate_demo
from gis.demo.inputs import read_inputs
from gis.demo.spec import DEFAULT_SEED, DEMO_AS_OF, DISTRICT_CODE
from gis.incidents.escalation import escalate_overdue, fill_supervise_due
from gis.lang import Texts
from gis.network.store import has_network, replace_network
from gis.progress import Advance, Progress, silent

#: Key of the transaction-level advisory lock that serialises concurrent loads.
_LOCK_KEY = 370_705_001
#: Steps of the progress task: read, generate, seven writes, streets, walking network, people
#: served, done.
_STEPS = 13
_AREA_COLUMNS = ("code", "name", "households", "population", "floating_population")
_INCIDENT_TIMES = ("reported_at", "clock_started_at", "deadline_at", "closed_at")
_INCIDENT_COLUMNS = (
    "ext_id",
    "category",
    "status",
    "description",
    "source",
    "handling_level",
    "rework_count",
    "version",
    "on_the_spot",
)


@dataclass(frozen=True)
class DemoCounts:
    """What the database holds for the demo district (current versions only).

    ``households`` is the sum over grids; ``facilities_by_type`` lists every
    catalogue type, with 0 where none is stored; ``accounts`` every account
    that can log in. ``loaded_now``: this call made the demo's accounts (with the
    district, or for a district loaded before accounts existed).
    """

    subdistricts: int
    communities: int
    grids: int
    buildings: int
    households: int
    staff: int
    facilities_by_type: dict[str, int]
    incidents: int
    accounts: int = 0
    streets: int = 0
    walk_edges: int = 0
    walk_barriers: int = 0
    loaded_now: bool = field(default=False, compare=False)


def load_demo(
    engine: Engine,
    progress: Progress = silent,
    seed: int = DEFAULT_SEED,
    password: str | None = None,
) -> DemoCounts:
    """Generate and store the demo district unless the database already holds 370705.

    A district loaded before the base map existed (migration 0010) gets its
    demo streets now, drawn along its stored grids; one loaded before the
    walking network (migration 0012) gets its walking network from its streets.

    Returns the counts now in the database either way. Takes a few seconds to
    generate and a few to write; ``progress`` hears of each step. The district's
    accounts (``gis.demo.accounts``) get ``password``; without one, a random one
    nobody is told (reset one with ``gridmap users reset-password``). `gridmap
    demo` passes ``GRIDMAP_DEMO_PASSWORD`` or prints the random one it made
    when ``loaded_now`` says the accounts were made by this call.
    """
    advance = progress(Texts("演示区 奎文区", "Demo district Kuiwen"), _STEPS)
    loaded_now = False
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        if _district_exists(conn):
            advance(
                _STEPS,
                description=Texts("演示区 奎文区 已加载", "Demo district Kuiwen already loaded"),
            )
            if conn.execute(text("SELECT NOT EXISTS (SELECT FROM street)")).scalar():
                _write_streets(conn, seed)
            if not has_network(conn):
                _write_walk(conn, seed)
            if conn.execute(text("SELECT NOT EXISTS (SELECT FROM person)")).scalar():
                write_care(conn, seed)  # loaded before people served existed (0013/0014)
            write_participation(conn, seed)  # nothing if councils are stored (0016)
            if conn.execute(text("SELECT NOT EXISTS (SELECT FROM account)")).scalar():
                # Loaded before accounts existed (migration 0007): nobody could log in.
                create_demo_accounts(conn, password or secrets.token_urlsafe(18))
                loaded_now = True
        else:
            loaded_now = True
            advance(
                1,
                description=Texts(
                    "读取奎文区边界和区划", "Reading the Kuiwen boundary and divisions"
                ),
            )
            boundary, divisions = read_inputs()
            advance(
                1,
                description=Texts(
                    "生成街道、社区、网格、楼栋",
                    "Generating subdistricts, communities, grids, buildings",
                ),
            )
            demo = generate_demo(boundary, divisions, seed)
            _write(conn, demo, advance)
            advance(1, description=Texts("绘制并写入道路", "Drawing and writing the streets"))
            _write_streets(conn, seed)
            advance(
                1,
                description=Texts(
                    "生成步行路网 (河流、铁路、封闭小区)",
                    "Drawing the walking network (river, rail line, gated compounds)",
                ),
            )
            _write_walk(conn, seed)
            write_participation(conn, seed)
            create_demo_accounts(conn, password or secrets.token_urlsafe(18))
            _bring_up(conn)
            advance(
                1,
                description=Texts(
                    "服务对象、养老服务人员和一天的定位 (虚构)",
                    "People served, home-care workers and a day of positions (fictional)",
                ),
            )
            write_care(conn, seed)
            advance(1, description=Texts("演示区 奎文区 加载完成", "Demo district Kuiwen loaded"))
    return replace(demo_counts(engine), loaded_now=loaded_now)


def _bring_up(conn: Connection) -> list[int]:
    """Start every open case's supervision clock from its history and run the escalation
    sweep at the demo's "now" (``DEMO_AS_OF``), as a server would have all along: cases
    stuck past their level's limit go up, each raise at the moment the limit passed,
    audited. The ids raised (one per raise)."""
    with Session(bind=conn) as session:
        fill_supervise_due(session)
        raised = escalate_overdue(session, DEMO_AS_OF, audit=audit.record)
        session.flush()
    return raised


def demo_counts(engine: Engine) -> DemoCounts:
    """Counts of the demo district's current areas, grids and what hangs off them."""
    prefix = {"prefix": f"{DISTRICT_CODE}%"}
    with engine.connect() as conn:
        areas = conn.execute(
            text(
                """SELECT count(*) FILTER (WHERE level = 'subdistrict'),
                          count(*) FILTER (WHERE level = 'community')
                   FROM admin_area WHERE code LIKE :prefix AND valid_to IS NULL"""
            ),
            prefix,
        ).one()
        grids = conn.execute(
            text(
                """SELECT count(*), COALESCE(sum(households), 0) FROM grid
                   WHERE code LIKE :prefix AND valid_to IS NULL"""
            ),
            prefix,
        ).one()
        buildings, incidents = (
            conn.execute(
                text(
                    f"""SELECT count(*) FROM {table} t JOIN grid g ON g.id = t.grid_id
                        WHERE g.code LIKE :prefix AND g.valid_to IS NULL"""
                ),
                prefix,
            ).scalar_one()
            for table in ("building", "incident")
        )
        staff = conn.execute(
            text(
                """SELECT count(*) FROM staff s JOIN admin_area a ON a.id = s.community_id
                   WHERE a.code LIKE :prefix"""
            ),
            prefix,
        ).scalar_one()
        accounts = conn.execute(
            text("SELECT count(*) FROM account WHERE disabled_at IS NULL")
        ).scalar_one()
        streets = conn.execute(text("SELECT count(*) FROM street")).scalar_one()
        walk_edges, walk_barriers = conn.execute(
            text("SELECT (SELECT count(*) FROM walk_edge), (SELECT count(*) FROM walk_barrier)")
        ).one()
        by_type = dict.fromkeys((spec.code for spec in CATALOGUE), 0)
        for code, n in conn.execute(
            text(
                """SELECT f.type_code, count(*) FROM facility f
                   JOIN admin_area a ON a.id = f.community_id
                   WHERE a.code LIKE :prefix GROUP BY f.type_code ORDER BY f.type_code"""
            ),
            prefix,
        ):
            by_type[code] = int(n)
    return DemoCounts(
        subdistricts=int(areas[0]),
        communities=int(areas[1]),
        grids=int(grids[0]),
        buildings=int(buildings),
        households=int(grids[1]),
        staff=int(staff),
        facilities_by_type=by_type,
        incidents=int(incidents),
        accounts=int(accounts),
        streets=int(streets),
        walk_edges=int(walk_edges),
        walk_barriers=int(walk_barriers),
    )


def _write_streets(conn: Connection, seed: int) -> int:
    """The demo's streets along the grids, communities and subdistricts stored in ``conn``.

    Drawn from what the database holds (not from a fresh generation), so that a
    district loaded before streets existed gets streets along its own grids.
    """
    streets = make_streets(
        area_outlines(conn, "grid"),
        area_outlines(conn, "community"),
        area_outlines(conn, "subdistrict"),
        seed,
    )
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        return write_streets(
            cur,
            streets["name"].tolist(),
            streets["kind"].tolist(),
            streets.geometry.tolist(),
            streets["length_m"].tolist(),
        )


def _write_walk(conn: Connection, seed: int) -> int:
    """The demo's walking network from the streets, grids and district stored in ``conn``:
    the streets with a river, a rail line and gated compounds (``gis.demo._walk``)."""
    streets = conn.execute(
        text("SELECT name, kind, ST_AsBinary(geom) FROM street ORDER BY id")
    ).all()
    frame = gpd.GeoDataFrame(
        {"name": [r[0] for r in streets], "kind": [r[1] for r in streets]},
        geometry=gpd.GeoSeries(shapely.from_wkb([bytes(r[2]) for r in streets]), crs=4326),
    )
    district = area_outlines(conn, "district")
    edges, barriers = make_walk(
        frame, area_outlines(conn, "grid"), shapely.union_all(district.geometry.array), seed
    )
    return replace_network(conn, edges, barriers, "demo").edges


def _district_exists(conn: Connection) -> bool:
    return (
        conn.execute(
            text("SELECT 1 FROM admin_area WHERE code = :code AND level = 'district' LIMIT 1"),
            {"code": DISTRICT_CODE},
        ).first()
        is not None
    )


def _plain(frame: pd.DataFrame, columns: Sequence[str]) -> list[list[Any]]:
    """Rows of ``columns`` as Python values, NaN/NA as None (COPY's NULL)."""
    sub = frame[list(columns)].astype(object)
    sub = sub.where(sub.notna(), None)
    return sub.to_numpy().tolist()


def _times(values: Iterable[pd.Timestamp]) -> list[dt.datetime | None]:
    return [None if pd.isna(t) else t.to_pydatetime() for t in values]


def _allocate_ids(cur: Cursor[Any], table: str, n: int) -> list[int]:
    """``n`` ids from the table's own sequence, so that later inserts never collide."""
    cur.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", (table, n)
    )
    return [int(r[0]) for r in cur.fetchall()]


def _copy_frame(
    cur: Cursor[Any],
    table: str,
    lead: dict[str, Sequence[Any]],
    frame: pd.DataFrame,
    columns: Sequence[str],
) -> None:
    """COPY ``frame``'s ``columns`` into ``table``, each row after its ``lead`` values.

    ``lead`` holds what the frame cannot say itself: database ids, the ids of
    parents, geometries as hex EWKB.
    """
    rows = zip(*lead.values(), _plain(frame, columns), strict=True)
    copy_rows(cur, table, [*lead, *columns], ([*head, *rest] for *head, rest in rows))


def _write(conn: Connection, demo: DemoDistrict, advance: Advance) -> None:
    """Every layer of ``demo`` in the transaction of ``conn``, parents before children."""
    advance(1, description=Texts("写入设施类型", "Seeding facility types"))
    with Session(bind=conn) as session:
        seed_facility_types(session)
        session.flush()
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        advance(
            1,
            description=Texts(
                "写入区、街道和社区", "Writing district, subdistricts and communities"
            ),
        )
        area_id: dict[str, int] = {}
        for level, frame in (
            ("district", demo.district),
            ("subdistrict", demo.subdistricts),
            ("community", demo.communities),
        ):
            ids = _allocate_ids(cur, "admin_area", len(frame))
            area_id |= dict(zip(frame["code"], ids, strict=True))
            lead: dict[str, Sequence[Any]] = {
                "id": ids,
                "level": [level] * len(frame),
                "parent_id": [area_id.get(p) if p else None for p in frame["parent_code"]],
                "geom": hex_ewkb(frame.geometry),
            }
            _copy_frame(cur, "admin_area", lead, frame, _AREA_COLUMNS)

        advance(1, description=Texts("写入网格", "Writing grids"))
        grids = demo.grids
        grid_ids = _allocate_ids(cur, "grid", len(grids))
        grid_id = dict(zip(grids["code"], grid_ids, strict=True))
        lead = {
            "id": grid_ids,
            "community_id": [area_id[c] for c in grids["community_code"]],
            "geom": hex_ewkb(grids.geometry),
        }
        _copy_frame(cur, "grid", lead, grids, ["code", "name", "households", "population"])

        advance(1, description=Texts("写入楼栋", "Writing buildings"))
        b = demo.buildings
        lead = {
            "grid_id": [grid_id[g] for g in b["grid_code"]],
            "location": hex_ewkb(b.geometry),
            "footprint": hex_ewkb(b["footprint"]),
        }
        _copy_frame(cur, "building", lead, b, ["ext_id", "households", "floors", "address", "name"])

        advance(1, description=Texts("写入人员", "Writing staff"))
        staff, links = demo.staff, demo.staff_grids
        staff_ids = _allocate_ids(cur, "staff", len(staff))
        staff_id = dict(zip(staff["staff_key"], staff_ids, strict=True))
        lead = {"id": staff_ids, "community_id": [area_id[c] for c in staff["community_code"]]}
        _copy_frame(cur, "staff", lead, staff, ["name", "phone", "role", "specialist_duty"])
        copy_rows(
            cur,
            "staff_grid",
            ["staff_id", "grid_id", "is_primary"],
            (
                [staff_id[s], grid_id[g], bool(p)]
                for s, g, p in zip(
                    links["staff_key"], links["grid_code"], links["is_primary"], strict=True
                )
            ),
        )

        advance(1, description=Texts("写入设施", "Writing facilities"))
        f = demo.facilities
        lead = {
            "community_id": [area_id[c] for c in f["community_code"]],
            "geom": hex_ewkb(f.geometry),
        }
        _copy_frame(cur, "facility", lead, f, WRITABLE_FIELDS)

        advance(
            1,
            description=Texts(
                "写入一年的事件及其处置记录", "Writing a year of incidents and their histories"
            ),
        )
        unit_id = _write_units(cur, demo, staff_id)
        _write_incidents(cur, demo, grid_id, staff_id, unit_id)
        for table in (
            "admin_area",
            "grid",
            "building",
            "staff",
            "staff_grid",
            "facility",
            "incident",
            "incident_transition",
            "mediation_unit",
        ):
            cur.execute(f"ANALYZE {table}")


def _write_units(cur: Cursor[Any], demo: DemoDistrict, staff_id: dict[str, int]) -> dict[str, int]:
    """The mediation units (one per community with a mediator); their ids by ``unit_key``."""
    units = demo.mediation_units
    ids = _allocate_ids(cur, "mediation_unit", len(units))
    copy_rows(
        cur,
        "mediation_unit",
        ["id", "name_zh", "name_en", "area_code", "categories", "head_staff_id"],
        (
            [i, zh, en, area, list(cats), staff_id[head]]
            for i, zh, en, area, cats, head in zip(
                ids,
                units["name_zh"],
                units["name_en"],
                units["area_code"],
                units["categories"],
                units["head_staff_key"],
                strict=True,
            )
        ),
    )
    return dict(zip(units["unit_key"], ids, strict=True))


def _write_incidents(
    cur: Cursor[Any],
    demo: DemoDistrict,
    grid_id: dict[str, int],
    staff_id: dict[str, int],
    unit_id: dict[str, int],
) -> None:
    """Incidents with their place in the closed loop, then every transition, oldest first.

    Ids come from the incident sequence so the transitions can point at them;
    the transitions of a case are written in the order they happened, as the
    live code writes them (``gis.incidents.records.history`` orders by time, then id).
    """
    inc = demo.incidents
    ids = _allocate_ids(cur, "incident", len(inc))
    lead: dict[str, Sequence[Any]] = {
        "id": ids,
        "grid_id": [grid_id.get(g) if isinstance(g, str) else None for g in inc["grid_code"]],
        "geom": hex_ewkb(inc.geometry),
        **{c: _times(inc[c]) for c in _INCIDENT_TIMES},
        "handler_staff_id": [
            staff_id[k] if isinstance(k, str) else None for k in inc["handler_staff_key"]
        ],
        "unit_id": [unit_id[k] if isinstance(k, str) else None for k in inc["unit_key"]],
    }
    _copy_frame(cur, "incident", lead, inc, _INCIDENT_COLUMNS)
    incident_id = dict(zip(inc["ext_id"], ids, strict=True))
    tr = demo.incident_transitions
    lead = {
        "incident_id": [incident_id[e] for e in tr["incident_ext_id"]],
        "at": [t.to_pydatetime() for t in tr["at"]],
        "unit_id": [unit_id[k] if isinstance(k, str) else None for k in tr["unit_key"]],
    }
    _copy_frame(cur, "incident_transition", lead, tr, (*TRANSITION_COLUMNS, "unit_head"))
