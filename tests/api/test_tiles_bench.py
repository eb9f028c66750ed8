"""The tiles benchmark still measures (benchmarks/tiles_bench.py, bench_city.py, tiles_clients.py).

On a small synthetic city (3,000 buildings) in a database of its own: the
generator puts every building inside its grid with the grids' households
summed, the tile picker finds the same occupied tiles twice, and the load
generator fetches them from the real app's tile route (cold, once each, then
warm for a second) with every answer a 200 holding features. tipg's side is
not run here (it needs its own virtualenv from the package index).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import Engine, text

from api.app import create_app
from gis.db import schema
from gis.db.embedded import free_port
from gis.db.engine import drop_database, make_engine, recreate_database
from gis.settings import ServerSettings
from tests.servers import served

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
BUILDINGS = 3_000


def bench_module(name: str) -> ModuleType:
    """A script of benchmarks/ (not a package; its siblings are importable while it loads)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def city(server_url: str) -> Iterator[tuple[str, Engine]]:
    url = recreate_database(server_url, "tiles_bench_test")
    engine = make_engine(url)
    schema.upgrade(engine)
    bench_module("bench_city").generate_city(engine, BUILDINGS, 0.5)
    yield url, engine
    engine.dispose()
    drop_database(server_url, "tiles_bench_test")


def test_the_city_has_every_building_in_its_grid(city: tuple[str, Engine]) -> None:
    _, engine = city
    with engine.connect() as conn:
        n, outside, invalid = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE NOT ST_Covers(g.geom, b.location)),"
                " count(*) FILTER (WHERE NOT ST_IsValid(b.footprint))"
                " FROM building b JOIN grid g ON g.id = b.grid_id"
            )
        ).one()
        mismatched = conn.execute(
            text(
                "SELECT count(*) FROM grid g WHERE g.households <> COALESCE("
                " (SELECT sum(households) FROM building b WHERE b.grid_id = g.id), 0)"
            )
        ).scalar_one()
        levels = dict(
            conn.execute(text("SELECT level::text, count(*) FROM admin_area GROUP BY 1")).all()
        )
    assert (n, outside, invalid, mismatched) == (BUILDINGS, 0, 0, 0)
    assert levels["district"] == 1 and levels["subdistrict"] >= 1 and levels["community"] >= 1


def test_the_tiles_are_picked_alike_and_answered_by_the_app(city: tuple[str, Engine]) -> None:
    url, city_engine = city
    bench = bench_module("tiles_bench")
    tiles = bench.pick_tiles(url, 12, 3)
    assert tiles == bench.pick_tiles(url, 12, 3)
    assert sorted({t.z for t in tiles}) == [14, 15, 16] and len(tiles) == 12

    headers = bench.bearer_headers(city_engine, "bench-test", "admin")
    paths = [bench.OUR_TILE_PATH.format(z=t.z, x=t.x, y=t.y) for t in tiles]
    port = free_port()
    app = create_app(ServerSettings.model_validate({"GRIDMAP_PORT": port}), engine=city_engine)
    with served(app, port, log_level="warning"):
        cold = bench.load(port, paths, headers, "once", 4, 1, 0, 0)
        warm = bench.load(port, paths, headers, "repeat", 4, 2, 1.0, 0)
        features = [bench.tile_features(port, path, headers) for path in paths]
    assert cold["statuses"] == {"200": len(paths)} and not cold["errors"]
    assert len(cold["latencies_ms"]) == len(paths) and cold["bytes"] > 0
    assert set(warm["statuses"]) == {"200"} and sum(warm["statuses"].values()) > len(paths)
    assert min(features) > 0


def test_a_profile_is_summarised_by_inclusive_share(tmp_path: Path) -> None:
    bench = bench_module("tiles_bench")
    collapsed = tmp_path / "p.txt"
    collapsed.write_text("proc;main;a;b 3\nproc;main;a 1\nproc;main;c 4\n")
    summary = dict((frame, share) for share, frame in bench.profile_summary(collapsed))
    assert summary == {"a": 0.5, "c": 0.5, "b": 0.375}
