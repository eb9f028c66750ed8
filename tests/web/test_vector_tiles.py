"""The district map's vector tiles in headless Chromium: buildings and cases from MVT.

A database of its own (the lattice district of tests/coverage_district.py: 500 buildings
on a lattice, three grids), since cases are filed here: a grid manager of grid 001
(responsible for its cases) and a planner (sees every case, a personal one masked: at
its grid's representative point) each open the district map at /. The page draws the
buildings and cases from ``/ogc/tiles/WebMercatorQuad/{z}/{y}/{x}`` with the style
``/ogc/styles/...`` (api/static/js/vector-tiles.js on protomaps-leaflet) and asks the API
for no GeoJSON building list. What the renderer holds is read from the page
(``gridmapDistrict.tiles.features(layer)``: ids, properties, points' positions decoded
from the tiles), what it drew from the screenshot's pixels.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import morecantile
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.app import create_app
from gis.accounts.accounts import add_account
from gis.db.embedded import free_port
from gis.geo.datum import GCJ02, from_wgs84
from gis.settings import BasemapSettings, ServerSettings
from tests.accounts import PASSWORD, password_hash
from tests.coverage_district import GRIDS, LatticeDistrict, add_grid_manager, committed_lattice
from tests.servers import served
from tests.web.browser import artifact, bearer, login_state, open_page

pytestmark = pytest.mark.browser

READY = "() => document.documentElement.dataset.gmReady === '1'"
MANAGER, PLANNER = "tiles_manager", "tiles_planner"
CENTRE = (119.11, 36.715)
"""A point of grid 001 (119.10-119.125 E) among the lattice's buildings."""
ZOOM = 16
TILE = re.compile(r"^/ogc/collections/([a-z-]+)/tiles/WebMercatorQuad/(\d+)/(\d+)/(\d+)$")
"""A collection's tile: the page asks for each of its overlays from that collection's tiles."""
TMS = morecantile.tms.get("WebMercatorQuad")


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1]))
    dy = (a[1] - b[1]) * 110_540
    return math.hypot(dx, dy)


# --------------------------------------------------------------------------- the servers


@pytest.fixture(scope="module")
def district(server_url: str) -> Iterator[LatticeDistrict]:
    with committed_lattice(server_url, "gridmap_tiles_web") as lattice:
        staff = add_grid_manager(lattice.engine, "赵敏", GRIDS[0], in_community=True)
        with Session(lattice.engine) as s:
            add_account(
                s, MANAGER, PASSWORD, "grid_manager", staff_id=staff,
                password_hash=password_hash(),
            )  # fmt: skip
            add_account(s, PLANNER, PASSWORD, "planner", password_hash=password_hash())
            s.commit()
        yield lattice


@pytest.fixture(scope="module")
def base(district: LatticeDistrict) -> Iterator[str]:
    app = create_app(ServerSettings(), engine=district.engine)
    with served(app, log_level="warning") as url:
        yield url


@pytest.fixture(scope="module")
def gcj_base(district: LatticeDistrict) -> Iterator[str]:
    """The same district under a base map whose tiles are drawn in GCJ-02 (as Amap's and
    Tencent's are): here an image of this server, so nothing leaves the machine."""
    port = free_port()
    basemap = BasemapSettings.model_validate(
        {
            "GRIDMAP_BASEMAP": "xyz",
            "GRIDMAP_BASEMAP_URL": f"http://127.0.0.1:{port}/static/vendor/leaflet/images/"
            "layers.png?{z}/{x}/{y}",
            "GRIDMAP_BASEMAP_DATUM": "gcj02",
            "GRIDMAP_BASEMAP_ATTRIBUTION": "test",
        }
    )
    settings = ServerSettings.model_validate({"GRIDMAP_PORT": port})
    app = create_app(settings, engine=district.engine, basemap_settings=basemap)
    with served(app, port, log_level="warning") as url:
        yield url


def _report(base: str, category: str, lon: float, lat: float, description: str) -> int:
    answer = httpx.post(
        f"{base}/api/v1/incidents",
        headers=bearer(base, MANAGER, PASSWORD),
        json={"category": category, "lon": lon, "lat": lat, "description": description,
              "source": "patrol"},
        timeout=60,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    case: int = answer.json()["id"]
    return case


def _open_map(
    tab: Any, base: str, centre: tuple[float, float] = CENTRE, zoom: float = ZOOM
) -> None:
    response = tab.goto(f"{base}/")
    assert response is not None and response.status == 200
    tab.wait_for_function(READY, timeout=30000)
    tab.evaluate(
        "([lat, lon, zoom]) => window.gridmapDistrict.map.setView([lat, lon], zoom, "
        "{animate: false})",
        [centre[1], centre[0], zoom],
    )
    tab.wait_for_function("() => window.gridmapDistrict.tiles.layer !== null", timeout=30000)


def _features(tab: Any, layer: str, at_least: int = 1) -> list[dict[str, Any]]:
    """What the renderer holds of ``layer`` once at least ``at_least`` features came."""
    tab.wait_for_function(
        "([layer, n]) => window.gridmapDistrict.tiles.features(layer).length >= n",
        arg=[layer, at_least],
        timeout=30000,
    )
    tab.wait_for_timeout(300)  # the rest of the view's tiles
    found: list[dict[str, Any]] = tab.evaluate(
        "(layer) => window.gridmapDistrict.tiles.features(layer)", layer
    )
    return found


def _feature(tab: Any, layer: str, fid: int) -> dict[str, Any]:
    """The feature ``fid`` of ``layer`` once the renderer holds it."""
    found: dict[str, Any] = tab.wait_for_function(
        "([layer, id]) => window.gridmapDistrict.tiles.features(layer)"
        ".filter((f) => f.id === id)[0]",
        arg=[layer, fid],
        timeout=30000,
    ).json_value()
    return found


def _tile_requests(requests: list[str], collection: str | None = None) -> list[str]:
    found = [(u, TILE.match(urlsplit(u).path)) for u in requests]
    return [u for u, m in found if m and (collection is None or m.group(1) == collection)]


def _tile_addresses(urls: list[str]) -> set[tuple[int, int, int]]:
    """(z, y, x) of tile URLs."""
    out = set()
    for url in urls:
        m = TILE.match(urlsplit(url).path)
        assert m is not None
        out.add((int(m.group(2)), int(m.group(3)), int(m.group(4))))
    return out


SCREEN_POINTS = """(points) => points.map(([lon, lat]) => {
    const p = window.gridmapDistrict.map.latLngToContainerPoint([lat, lon]);
    return [Math.round(p.x), Math.round(p.y)];
})"""
"""Where [lon, lat] points are on the screen (the map fills the window)."""


def _changed(before: bytes, after: bytes) -> Any:
    """Pixels (a [y, x] mask) that differ between two screenshots."""
    a, b = (
        np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        for png in (before, after)
    )
    return np.abs(a - b).max(axis=2) > 24


# --------------------------------------------------------------------------- tests


def _buildings_in(
    district: LatticeDistrict, tiles: set[tuple[int, int, int]], pad: float
) -> set[int]:
    """Ids of the buildings within the tiles (each widened by ``pad`` of its side)."""
    found: set[int] = set()
    with district.engine.connect() as conn:
        for z, y, x in tiles:
            b = TMS.xy_bounds(morecantile.Tile(x, y, z))
            dx, dy = (b.right - b.left) * pad, (b.top - b.bottom) * pad
            found |= set(
                conn.execute(
                    text(
                        "SELECT id FROM building WHERE ST_Transform(location, 3857) && "
                        "ST_MakeEnvelope(:w, :s, :e, :n, 3857)"
                    ),
                    {"w": b.left - dx, "s": b.bottom - dy, "e": b.right + dx, "n": b.top + dy},
                ).scalars()
            )
    return found


def test_buildings_come_as_vector_tiles_not_as_a_geojson_list(
    browser: Any, base: str, district: LatticeDistrict
) -> None:
    state = login_state(browser, base, PLANNER, PASSWORD)
    with open_page(browser, state) as (tab, log):
        answered: list[str] = []
        tab.on(
            "response", lambda r: answered.append(r.url) if r.status in (200, 204, 304) else None
        )
        _open_map(tab, base)
        drawn = _features(tab, "buildings", at_least=5)
        tab.wait_for_load_state("networkidle")
        drawn = _features(tab, "buildings", at_least=len(drawn))
        shot = tab.screenshot(path=artifact("tiles-buildings.png"))
        assert _tile_requests(log.requests, "buildings"), log.requests
        assert not [u for u in log.requests if urlsplit(u).path == "/api/v1/buildings"]
        # what the renderer holds is what the database has in the tiles it was sent
        # (tiles reach a little beyond their edges: 64 of 4,096 units)
        loaded = tab.evaluate("() => window.gridmapDistrict.tiles.loaded('buildings')")
        tiles = {(z, y, x) for z, y, x in loaded}
        assert tiles and tiles <= _tile_addresses(_tile_requests(answered, "buildings"))
        ids = {int(f["id"]) for f in drawn}
        assert _buildings_in(district, tiles, 0.0) <= ids <= _buildings_in(district, tiles, 0.02)
        with district.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, households FROM building")).all()
        households = {int(r[0]): int(r[1]) for r in rows}
        assert all(f["props"]["households"] == households[int(f["id"])] for f in drawn)
        # ... and it drew them: with the buildings switched off the screen changes at each
        # building in view and hardly anywhere else
        tab.evaluate(
            "() => window.gridmapDistrict.map.removeLayer(window.gridmapDistrict.layers.buildings)"
        )
        tab.wait_for_timeout(800)
        changed = _changed(shot, tab.screenshot())
        points = tab.evaluate(SCREEN_POINTS, [f["lonLat"] for f in drawn])
        inside = [(x, y) for x, y in points if 20 <= x < 1100 and 120 <= y < 780]
        assert len(inside) >= 10, points
        hit = [changed[y - 2 : y + 3, x - 2 : x + 3].any() for x, y in inside]
        assert all(hit), (sum(hit), len(hit))
        # (the legend loses the buildings' part: only the map away from the panels counts)
        assert changed[120:780, 20:1100].sum() < len(inside) * 60
        assert log.errors == [], log.errors


def test_clicking_a_building_shows_its_households(
    browser: Any, base: str, district: LatticeDistrict
) -> None:
    state = login_state(browser, base, PLANNER, PASSWORD)
    with open_page(browser, state) as (tab, log):
        _open_map(tab, base)
        drawn = _features(tab, "buildings", at_least=5)
        building = min(drawn, key=lambda f: _metres(tuple(f["lonLat"]), CENTRE))
        point = tab.evaluate(
            "([lon, lat]) => { const p = window.gridmapDistrict.map.latLngToContainerPoint("
            "[lat, lon]); return [p.x, p.y]; }",
            building["lonLat"],
        )
        box = tab.locator("#gm-map").bounding_box()
        tab.mouse.click(box["x"] + point[0], box["y"] + point[1])
        popup = tab.locator(".leaflet-popup-content")
        popup.wait_for(timeout=10000)
        assert "户数" in popup.inner_text()
        assert str(building["props"]["households"]) in popup.inner_text()
        assert log.errors == [], log.errors


def test_a_case_filed_appears_on_the_map(browser: Any, base: str) -> None:
    """Filed while the map is open: the server's tiles follow the database (its cache is
    told by the notification the insert sends) and the page's next look brings it."""
    state = login_state(browser, base, MANAGER, PASSWORD)
    where = (CENTRE[0] + 0.0011, CENTRE[1] + 0.0007)
    with open_page(browser, state) as (tab, log):
        _open_map(tab, base)
        tab.wait_for_timeout(1500)
        before = {f["id"] for f in tab.evaluate(
            "() => window.gridmapDistrict.tiles.features('incidents')")}  # fmt: skip
        case = _report(base, "exposed_garbage", where[0], where[1], "瓦片测试：新上报")
        assert case not in before
        _open_map(tab, base)  # opened again: the browser revalidates what it holds
        found = _feature(tab, "incidents", case)
        assert _metres(tuple(found["lonLat"]), where) < 2
        assert found["props"]["status"] == "reported"
        assert log.errors == [], log.errors


def test_a_planner_sees_a_personal_case_only_at_its_grid_point(
    browser: Any, base: str, district: LatticeDistrict
) -> None:
    where = (119.103, 36.702)  # the south-west corner of grid 001, far from its middle
    case = _report(base, "dispute", where[0], where[1], "邻里纠纷：瓦片测试")
    with district.engine.connect() as conn:
        grid_point = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid "
                "WHERE code = :code) g"
            ),
            {"code": GRIDS[0]},
        ).one()
    assert _metres(where, tuple(grid_point)) > 300
    seen = {}
    # each looks where they will find it (a case is in the tiles once, where it is shown)
    for username, centre in ((MANAGER, where), (PLANNER, tuple(grid_point))):
        state = login_state(browser, base, username, PASSWORD)
        with open_page(browser, state) as (tab, log):
            _open_map(tab, base, centre=centre)
            seen[username] = _feature(tab, "incidents", case)
            assert log.errors == [], log.errors
    assert _metres(tuple(seen[MANAGER]["lonLat"]), where) < 2  # responsible: where it is
    assert seen[MANAGER]["props"]["masked"] is False
    assert _metres(tuple(seen[PLANNER]["lonLat"]), tuple(grid_point)) < 2  # masked
    assert seen[PLANNER]["props"]["masked"] is True
    assert "description" not in seen[PLANNER]["props"]


def test_on_a_gcj02_base_map_tiles_are_asked_for_in_gcj02(browser: Any, gcj_base: str) -> None:
    where = (CENTRE[0] - 0.0013, CENTRE[1] - 0.0009)
    case = _report(gcj_base, "exposed_garbage", where[0], where[1], "瓦片测试：火星坐标")
    state = login_state(browser, gcj_base, PLANNER, PASSWORD)
    with open_page(browser, state) as (tab, log):
        _open_map(tab, gcj_base, centre=where)
        found = _feature(tab, "incidents", case)
        tiles = _tile_requests(log.requests)
        assert tiles
        assert all(parse_qs(urlsplit(u).query).get("datum") == ["gcj02"] for u in tiles), tiles
        # the tiles are in GCJ-02: the case lies where an Amap base map draws the spot
        lon, lat = from_wgs84(np.array([where[0]]), np.array([where[1]]), GCJ02)
        shifted = (float(lon[0]), float(lat[0]))
        assert _metres(where, shifted) > 100
        assert _metres(tuple(found["lonLat"]), shifted) < 2
