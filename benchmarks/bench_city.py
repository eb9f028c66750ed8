"""The databases of the tiles and Features benchmarks, kept between runs.

``tiles_bench.py`` and ``features_bench.py`` run on a PostGIS cluster of their
own in a data directory that outlives the run (``--data-dir``, by default
``/var/tmp/gridmap-bench``), so that the synthetic city of a million buildings
is generated once and found again by the next run:

* ``tiles_demo``: the demo district (奎文区, about 20,000 buildings), as
  ``gridmap demo`` loads it;
* ``tiles_city_<n>``: a synthetic city of ``n`` buildings in gridmap's own
  schema (Alembic migrations, triggers and indexes included), generated in SQL
  by ``generate_series`` in one transaction: a 40 km square (for a million;
  the side scales with the square root of ``n`` to keep the density) of 500 m
  grids in 2 km communities in 10 km subdistricts, and buildings inside them,
  half spread evenly and half around five centres, each with its grid id, a
  rectangular footprint of 8-24 m by 10-40 m, households, floors and an address.

A database counts as built when its ``bench_dataset`` table names the
generator's version; the table also says how long the generation took. Every
run brings the schema to the checkout's head (a new migration applies to the
cached data) and ``ANALYZE``\\s it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from gis.db import schema
from gis.db.embedded import EmbeddedPostgres
from gis.db.engine import make_engine, recreate_database
from gis.demo.load import load_demo

GENERATOR_VERSION = 2
"""Bumped whenever the generated data changes; a cached database of another version is rebuilt."""
ORIGIN = (420_000.0, 4_040_000.0)
"""South-west corner of the city in EPSG:4549 (CGCS2000 Gauss-Krüger, metres), near Weifang."""
GRID_M = 500
COMMUNITY_GRIDS = 4
SUBDISTRICT_COMMUNITIES = 5
DISTRICT = "370705"


@dataclass(frozen=True)
class Dataset:
    name: str
    """``demo`` or ``city-1,000,000``."""
    url: str
    buildings: int
    generated_s: float
    """How long generating it took when it was built (whether now or in an earlier run)."""
    reused: bool
    """Found built from an earlier run."""


@contextmanager
def cluster(data_dir: Path, options: Mapping[str, str], explicit_url: str | None) -> Iterator[str]:
    """The URL of the benchmark's server: ``explicit_url``, or the kept cluster under ``data_dir``.

    The kept cluster is started if it is not running and stopped again at the
    end if this run started it.
    """
    if explicit_url:
        yield explicit_url
        return
    pg = EmbeddedPostgres(data_dir / "cluster", db_name="postgres", server_options=dict(options))
    url = pg.start()
    try:
        yield url
    finally:
        if pg.started_here:
            pg.stop()


def _built(url: str) -> tuple[int, float] | None:
    """(buildings, generation seconds) recorded in a database built by this version, else None."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT buildings, generated_s FROM bench_dataset WHERE version = :v"),
                {"v": GENERATOR_VERSION},
            ).first()
    except (OperationalError, ProgrammingError):  # no such database or table: not built
        return None
    finally:
        engine.dispose()
    return None if row is None else (int(row[0]), float(row[1]))


def _record(engine: Engine, buildings: int, seconds: float) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE bench_dataset (version int, buildings int, generated_s float8,"
                " built_at timestamptz DEFAULT now())"
            )
        )
        conn.execute(
            text("INSERT INTO bench_dataset (version, buildings, generated_s) VALUES (:v, :b, :s)"),
            {"v": GENERATOR_VERSION, "b": buildings, "s": seconds},
        )


def _refresh(url: str) -> None:
    """Schema at the checkout's head, statistics fresh."""
    engine = make_engine(url)
    try:
        schema.upgrade(engine)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()


def _database_url(server_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def demo(server_url: str, rebuild: bool = False) -> Dataset:
    """The demo district in ``tiles_demo``, loaded unless an earlier run did."""
    name = "tiles_demo"
    url = _database_url(server_url, name)
    found = None if rebuild else _built(url)
    if found is None:
        started = time.perf_counter()
        url = recreate_database(server_url, name)
        engine = make_engine(url)
        try:
            schema.upgrade(engine)
            load_demo(engine)
            with engine.connect() as conn:
                n = conn.execute(text("SELECT count(*) FROM building")).scalar_one()
            seconds = time.perf_counter() - started
            _record(engine, n, seconds)
        finally:
            engine.dispose()
        found = (n, seconds)
        reused = False
    else:
        reused = True
    _refresh(url)
    return Dataset("demo", url, found[0], found[1], reused)


def city(server_url: str, n: int, seed: float = 0.12, rebuild: bool = False) -> Dataset:
    """A synthetic city of ``n`` buildings in ``tiles_city_<n>``, generated unless already there."""
    name = f"tiles_city_{n}"
    url = _database_url(server_url, name)
    found = None if rebuild else _built(url)
    if found is None:
        started = time.perf_counter()
        url = recreate_database(server_url, name)
        engine = make_engine(url)
        try:
            schema.upgrade(engine)
            generate_city(engine, n, seed)
            seconds = time.perf_counter() - started
            _record(engine, n, seconds)
        finally:
            engine.dispose()
        found = (n, seconds)
        reused = False
    else:
        reused = True
    _refresh(url)
    return Dataset(f"city {n:,}", url, found[0], found[1], reused)


def generate_city(engine: Engine, n: int, seed: float) -> None:
    """Areas, grids and ``n`` buildings, all in SQL (``generate_series``), in one transaction.

    The building table's GiST and GIN indexes are dropped during the insert and
    built again after it (the same definitions, read from ``pg_indexes`` first):
    building a GiST index over a million rows is several times faster than
    growing it row by row. The B-tree on ``grid_id`` stays: the statement
    trigger that sums each touched grid's households needs it.
    """
    side_cells = max(4, round(80 * (n / 1_000_000) ** 0.5))
    side = side_cells * GRID_M
    comm_side = -(-side_cells // COMMUNITY_GRIDS)
    sub_side = -(-comm_side // SUBDISTRICT_COMMUNITIES)
    x0, y0 = ORIGIN
    params = {"x0": x0, "y0": y0, "side": side, "n": n, "cells": side_cells}

    def env(x: str, y: str, size: float) -> str:
        return (
            f"ST_Multi(ST_Transform(ST_MakeEnvelope(:x0 + ({x}) * {size}, :y0 + ({y}) * {size},"
            f" :x0 + ({x} + 1) * {size}, :y0 + ({y} + 1) * {size}, 4549), 4326))"
        )

    sub_m = GRID_M * COMMUNITY_GRIDS * SUBDISTRICT_COMMUNITIES
    comm_m = GRID_M * COMMUNITY_GRIDS
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(:s)"), {"s": seed})
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        conn.execute(
            text(
                "INSERT INTO admin_area (code, name, level, geom, households, population,"
                " floating_population) VALUES (:code, '基准城', 'district',"
                f" {env('0', '0', side)}, 0, 0, 0)"
            ),
            {**params, "code": DISTRICT},
        )
        conn.execute(
            text(
                "INSERT INTO admin_area (code, name, level, parent_id, geom, households,"
                " population, floating_population)"
                " SELECT :code || lpad((si * :ss + sj + 1)::text, 3, '0'),"
                " '街道' || (si * :ss + sj + 1), 'subdistrict', d.id,"
                f" {env('sj', 'si', sub_m)}, 0, 0, 0"
                " FROM generate_series(0, :ss - 1) si, generate_series(0, :ss - 1) sj,"
                " admin_area d WHERE d.code = :code"
            ),
            {**params, "code": DISTRICT, "ss": sub_side},
        )
        conn.execute(
            text(
                "INSERT INTO admin_area (code, name, level, parent_id, geom, households,"
                " population, floating_population)"
                " SELECT s.code || lpad(((ci % :sc) * :sc + cj % :sc + 1)::text, 3, '0'),"
                " s.name || '社区' || ((ci % :sc) * :sc + cj % :sc + 1), 'community', s.id,"
                f" {env('cj', 'ci', comm_m)}, 0, 0, 0"
                " FROM generate_series(0, :cs - 1) ci, generate_series(0, :cs - 1) cj,"
                " admin_area s WHERE s.code = :code"
                "   || lpad(((ci / :sc) * :ss + cj / :sc + 1)::text, 3, '0')"
            ),
            {
                **params,
                "code": DISTRICT,
                "ss": sub_side,
                "sc": SUBDISTRICT_COMMUNITIES,
                "cs": comm_side,
            },
        )
        conn.execute(
            text(
                "CREATE TEMP TABLE cell (i int, j int, grid_id int, PRIMARY KEY (i, j))"
                " ON COMMIT DROP"
            )
        )
        conn.execute(
            text(
                "WITH g AS ("
                " INSERT INTO grid (code, name, community_id, geom, households, population)"
                " SELECT c.code || lpad(((i % :cg) * :cg + j % :cg + 1)::text, 3, '0'),"
                " '网格' || (i * :cells + j), c.id,"
                f" {env('j', 'i', GRID_M)}, 0, 0"
                " FROM generate_series(0, :cells - 1) i, generate_series(0, :cells - 1) j,"
                " admin_area c WHERE c.code = :code"
                "   || lpad(((i / :cg / :sc) * :ss + j / :cg / :sc + 1)::text, 3, '0')"
                "   || lpad((((i / :cg) % :sc) * :sc + (j / :cg) % :sc + 1)::text, 3, '0')"
                " RETURNING id, name)"
                " INSERT INTO cell SELECT k / :cells, k % :cells, id"
                " FROM (SELECT id, substr(name, 3)::int AS k FROM g) t"
            ),
            {
                **params,
                "code": DISTRICT,
                "cg": COMMUNITY_GRIDS,
                "sc": SUBDISTRICT_COMMUNITIES,
                "ss": sub_side,
            },
        )
        indexes = list(
            conn.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'building'"
                    " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
                    " AND indexdef !~ 'USING btree'"
                )
            ).all()
        )
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
        # Half the buildings spread evenly, half around five centres (normal, 3 km),
        # clamped into the square; metres east/north of the origin.
        conn.execute(
            text(
                """
                INSERT INTO building (grid_id, location, footprint, households, floors, address)
                SELECT c.grid_id,
                       ST_Transform(ST_SetSRID(ST_MakePoint(:x0 + x, :y0 + y), 4549), 4326),
                       ST_Multi(ST_Transform(ST_MakeEnvelope(
                           :x0 + x - w, :y0 + y - h, :x0 + x + w, :y0 + y + h, 4549), 4326)),
                       1 + floor(random() * 60)::int, 1 + floor(random() * 18)::int,
                       '基准城' || (k % 400 + 1) || '路' || k || '号'
                FROM (
                    -- at least a metre inside its grid's square (its polygon's edges are
                    -- straight in WGS84, not in these metres)
                    SELECT k, w, h,
                           least(greatest(x, floor(x / 500) * 500 + 1), floor(x / 500) * 500 + 499)
                             AS x,
                           least(greatest(y, floor(y / 500) * 500 + 1), floor(y / 500) * 500 + 499)
                             AS y
                    FROM (
                    SELECT k, w, h,
                           least(greatest(x, w + 0.01), :side - w - 0.01) AS x,
                           least(greatest(y, h + 0.01), :side - h - 0.01) AS y
                    FROM (
                        SELECT k, 4 + random() * 8 AS w, 5 + random() * 15 AS h,
                               CASE WHEN k % 2 = 0 THEN random() * :side
                                    ELSE (0.2 + 0.15 * (k % 5)) * :side
                                         + 3000 * sqrt(-2 * ln(1 - random()))
                                           * cos(2 * pi() * random()) END AS x,
                               CASE WHEN k % 2 = 0 THEN random() * :side
                                    ELSE (0.8 - 0.15 * (k % 5)) * :side
                                         + 3000 * sqrt(-2 * ln(1 - random()))
                                           * cos(2 * pi() * random()) END AS y
                        FROM generate_series(1, :n) k
                    ) raw
                    ) clamped
                ) b
                JOIN cell c ON c.i = least(floor(b.y / 500)::int, :cells - 1)
                           AND c.j = least(floor(b.x / 500)::int, :cells - 1)
                ORDER BY c.grid_id
                """
            ),
            params,
        )
        for _, definition in indexes:
            conn.execute(text(definition))
