"""Load the demo district (潍坊市奎文区, 370705) into PostGIS.

``gridmap demo`` calls ``load_demo``: on a database without district 370705 it
reads the real boundary and division list from ``GRIDMAP_BOUNDARY_DIR``
(default: the repository's ``data/boundaries``), generates the district with
``gis.demo.generate`` and writes every layer in one transaction with ``COPY``,
so a failure leaves nothing behind and a second call (or a concurrent one,
serialised by an advisory lock) finds the district and loads nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from psycopg import Cursor
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from gis.coverage.catalogue import CATALOGUE, seed_facility_types
from gis.db.models import SRID
from gis.demo.generate import DemoDistrict, generate_demo
from gis.demo.inputs import read_inputs
from gis.demo.spec import DEFAULT_SEED, DISTRICT_CODE

#: Key of the transaction-level advisory lock that serialises concurrent loads.
_LOCK_KEY = 370_705_001
#: Steps the progress bar counts: read, generate, seven writes, done.
_STEPS = 10


@dataclass(frozen=True)
class DemoCounts:
    """What the database holds for the demo district (current versions only).

    ``households`` is the sum over grids; ``facilities_by_type`` lists every
    catalogue type, with 0 where none is stored.
    """

    subdistricts: int
    communities: int
    grids: int
    buildings: int
    households: int
    staff: int
    facilities_by_type: dict[str, int]
    incidents: int


def load_demo(engine: Engine, progress: bool = True, seed: int = DEFAULT_SEED) -> DemoCounts:
    """Generate and store the demo district unless the database already holds 370705.

    Returns the counts now in the database either way. Takes a few seconds to
    generate and a few to write; ``progress`` shows a bar on stderr.
    """
    with _steps(progress) as step, engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        if _district_exists(conn):
            step("Demo district 奎文区 already loaded", _STEPS)
        else:
            step("Reading the Kuiwen boundary and divisions")
            boundary, divisions = read_inputs()
            step("Generating subdistricts, communities, grids, buildings")
            demo = generate_demo(boundary, divisions, seed)
            _write(conn, demo, step)
            step("Demo district 奎文区 loaded")
    return demo_counts(engine)


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
    )


# --------------------------------------------------------------------------- writing

Step = Callable[..., None]


@contextlib.contextmanager
def _steps(show: bool) -> Iterator[Step]:
    """A ``step(description)`` callback that advances a rich progress bar (or does nothing)."""
    if not show:
        yield lambda description, advance=1: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("Demo district 奎文区", total=_STEPS)

        def step(description: str, advance: int = 1) -> None:
            bar.update(task, description=description, advance=advance)

        yield step


def _district_exists(conn: Connection) -> bool:
    return (
        conn.execute(
            text("SELECT 1 FROM admin_area WHERE code = :code AND level = 'district' LIMIT 1"),
            {"code": DISTRICT_CODE},
        ).first()
        is not None
    )


def _hex_ewkb(geoms: Iterable[BaseGeometry]) -> list[str]:
    """Hex EWKB with SRID 4326: what PostGIS's geometry input reads in COPY."""
    arr = shapely.set_srid(np.asarray(list(geoms), dtype=object), SRID)
    return list(shapely.to_wkb(arr, hex=True, include_srid=True))


def _plain(frame: pd.DataFrame, columns: Sequence[str]) -> list[list[Any]]:
    """Rows of ``columns`` as Python values, NaN/NA as None (COPY's NULL)."""
    sub = frame[list(columns)].astype(object)
    sub = sub.where(sub.notna(), None)
    return sub.to_numpy().tolist()


def _allocate_ids(cur: Cursor[Any], table: str, n: int) -> list[int]:
    """``n`` ids from the table's own sequence, so that later inserts never collide."""
    cur.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", (table, n)
    )
    return [int(r[0]) for r in cur.fetchall()]


def _copy(
    cur: Cursor[Any], table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _write(conn: Connection, demo: DemoDistrict, step: Step) -> None:
    """Every layer of ``demo`` in the transaction of ``conn``, parents before children."""
    step("Seeding facility types")
    with Session(bind=conn) as session:
        seed_facility_types(session)
        session.flush()
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        step("Writing district, subdistricts and communities")
        area_id: dict[str, int] = {}
        for level, frame in (
            ("district", demo.district),
            ("subdistrict", demo.subdistricts),
            ("community", demo.communities),
        ):
            ids = _allocate_ids(cur, "admin_area", len(frame))
            area_id |= dict(zip(frame["code"], ids, strict=True))
            parents = [area_id.get(p) if p else None for p in frame["parent_code"]]
            values = _plain(
                frame, ["code", "name", "households", "population", "floating_population"]
            )
            _copy(
                cur,
                "admin_area",
                [
                    "id",
                    "level",
                    "parent_id",
                    "geom",
                    "code",
                    "name",
                    "households",
                    "population",
                    "floating_population",
                ],
                (
                    [i, level, parent, geom, *rest]
                    for i, parent, geom, rest in zip(
                        ids, parents, _hex_ewkb(frame.geometry), values, strict=True
                    )
                ),
            )

        step("Writing grids")
        grids = demo.grids
        grid_ids = _allocate_ids(cur, "grid", len(grids))
        grid_id = dict(zip(grids["code"], grid_ids, strict=True))
        _copy(
            cur,
            "grid",
            ["id", "community_id", "geom", "code", "name", "households", "population"],
            (
                [i, area_id[c], geom, *rest]
                for i, c, geom, rest in zip(
                    grid_ids,
                    grids["community_code"],
                    _hex_ewkb(grids.geometry),
                    _plain(grids, ["code", "name", "households", "population"]),
                    strict=True,
                )
            ),
        )

        step("Writing buildings")
        b = demo.buildings
        _copy(
            cur,
            "building",
            [
                "grid_id",
                "location",
                "footprint",
                "ext_id",
                "households",
                "floors",
                "address",
                "name",
            ],
            (
                [grid_id[g], loc, fp, *rest]
                for g, loc, fp, rest in zip(
                    b["grid_code"],
                    _hex_ewkb(b.geometry),
                    _hex_ewkb(b["footprint"]),
                    _plain(b, ["ext_id", "households", "floors", "address", "name"]),
                    strict=True,
                )
            ),
        )

        step("Writing staff")
        staff_ids = _allocate_ids(cur, "staff", len(demo.staff))
        staff_id = dict(zip(demo.staff["staff_key"], staff_ids, strict=True))
        _copy(
            cur,
            "staff",
            ["id", "community_id", "name", "phone", "role", "specialist_duty"],
            (
                [i, area_id[c], *rest]
                for i, c, rest in zip(
                    staff_ids,
                    demo.staff["community_code"],
                    _plain(demo.staff, ["name", "phone", "role", "specialist_duty"]),
                    strict=True,
                )
            ),
        )
        _copy(
            cur,
            "staff_grid",
            ["staff_id", "grid_id", "is_primary"],
            (
                [staff_id[s], grid_id[g], bool(p)]
                for s, g, p in zip(
                    demo.staff_grids["staff_key"],
                    demo.staff_grids["grid_code"],
                    demo.staff_grids["is_primary"],
                    strict=True,
                )
            ),
        )

        step("Writing facilities")
        f = demo.facilities
        _copy(
            cur,
            "facility",
            [
                "community_id",
                "geom",
                "ext_id",
                "type_code",
                "name",
                "capacity",
                "floor_area_m2",
                "opening_hours",
                "address",
            ],
            (
                [area_id[c], geom, *rest]
                for c, geom, rest in zip(
                    f["community_code"],
                    _hex_ewkb(f.geometry),
                    _plain(
                        f,
                        [
                            "ext_id",
                            "type_code",
                            "name",
                            "capacity",
                            "floor_area_m2",
                            "opening_hours",
                            "address",
                        ],
                    ),
                    strict=True,
                )
            ),
        )

        step("Writing a year of incidents and their histories")
        _write_incidents(cur, demo, grid_id, staff_id)
        for table in (
            "admin_area",
            "grid",
            "building",
            "staff",
            "staff_grid",
            "facility",
            "incident",
            "incident_transition",
        ):
            cur.execute(f"ANALYZE {table}")


def _write_incidents(
    cur: Cursor[Any], demo: DemoDistrict, grid_id: dict[str, int], staff_id: dict[str, int]
) -> None:
    """Incidents with their place in the closed loop, then every transition, oldest first.

    Ids come from the incident sequence so the transitions can point at them;
    the transitions of a case are written in the order they happened, as the
    live code writes them (``gis.incidents.cases.history`` orders by time, then id).
    """
    inc = demo.incidents
    ids = _allocate_ids(cur, "incident", len(inc))
    incident_id = dict(zip(inc["ext_id"], ids, strict=True))
    times = [
        [None if pd.isna(t) else t.to_pydatetime() for t in inc[c]]
        for c in ("reported_at", "clock_started_at", "deadline_at", "closed_at")
    ]
    handlers = [staff_id[k] if isinstance(k, str) else None for k in inc["handler_staff_key"]]
    _copy(
        cur,
        "incident",
        [
            "id",
            "grid_id",
            "geom",
            "reported_at",
            "clock_started_at",
            "deadline_at",
            "closed_at",
            "handler_staff_id",
            "ext_id",
            "category",
            "status",
            "description",
            "source",
            "handling_level",
            "rework_count",
            "version",
        ],
        (
            [i, grid_id.get(g) if isinstance(g, str) else None, geom, *ts, h, *rest]
            for i, g, geom, *ts, h, rest in zip(
                ids,
                inc["grid_code"],
                _hex_ewkb(inc.geometry),
                *times,
                handlers,
                _plain(
                    inc,
                    [
                        "ext_id",
                        "category",
                        "status",
                        "description",
                        "source",
                        "handling_level",
                        "rework_count",
                        "version",
                    ],
                ),
                strict=True,
            )
        ),
    )
    tr = demo.incident_transitions
    columns = ["action", "from_state", "to_state", "actor", "note", "from_level", "to_level"]
    _copy(
        cur,
        "incident_transition",
        ["incident_id", "at", *columns],
        (
            [incident_id[e], t.to_pydatetime(), *rest]
            for e, t, rest in zip(tr["incident_ext_id"], tr["at"], _plain(tr, columns), strict=True)
        ),
    )
