"""The page-load benchmark still measures (benchmarks/page_load_bench.py, page_load_browser.py).

Its measuring function, once, on its floor page served by the real app: a cold
and a warm visit under the phone profile (CPU and network throttled through
CDP), timed to the ``gm-usable`` mark that GM.ready() sets on every map page.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import Engine

from api.app import create_app
from gis.db.embedded import free_port
from gis.settings import ServerSettings
from tests.servers import served

pytestmark = pytest.mark.browser

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def bench_module() -> ModuleType:
    """benchmarks/page_load_browser.py, the benchmark's browser side (a script's sibling,
    not a package: the folder is on sys.path while it loads)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(
            "page_load_browser", BENCHMARKS / "page_load_browser.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_the_floor_page_is_timed_to_its_mark_on_the_phone_profile(
    browser: Any, engine: Engine
) -> None:
    bench = bench_module()
    port = free_port()
    app = create_app(ServerSettings.model_validate({"GRIDMAP_PORT": port}), engine=engine)
    bench.add_floor(app)
    with served(app, port, log_level="warning") as base:
        cold, warm = bench.measure_view(browser, base + bench.FLOOR_PATH, bench.PHONE, None, 20)
    for load in (cold, warm):
        assert load.status == 200, load.url
        assert load.timed_by == "mark"
        assert load.ms is not None and 0 < load.ms < 20_000
        assert load.errors == []
    # Leaflet (about 40 KB gzipped) crossed the throttled network once, then came from cache.
    assert cold.bytes > 30_000
    assert warm.bytes < cold.bytes / 2
    assert cold.navigation["responseEnd"] > 0
    assert cold.metrics["TaskDuration"] > 0
