"""The web map page: built from layer definitions, offline, and safe with odd names."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from layers import webmap
from layers.catalogue import (
    BUILDINGS,
    CATEGORY_PALETTE,
    COMMUNITIES,
    FACILITIES,
    GRIDS,
    MAP_LAYERS,
    category_colours,
)
from layers.webmap import (
    SCRIPT_BASE,
    VENDORED_ASSETS,
    VIEWPORT_SCRIPT,
    OfflineAssetError,
    render_map,
    vendored_url,
    viewport_config,
)

STATIC = Path(webmap.__file__).parents[1] / "api" / "static"


def in_script(text: str) -> str:
    """``text`` as folium writes it into the page's script (JSON, non-ASCII escaped)."""
    return json.dumps(text)[1:-1].replace("<", "\\u003c").replace(">", "\\u003e")


def square(x: float, y: float, size: float = 0.01) -> dict[str, Any]:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "MultiPolygon", "coordinates": [[ring]]}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


COMMUNITY_DATA = collection(
    {
        "type": "Feature",
        "id": "370705001001",
        "geometry": square(119.10, 36.70),
        "properties": {
            "code": "370705001001",
            "name": "东苑社区",
            "households": 400,
            "population": 1100,
            "floating_population": None,
        },
    },
    {
        "type": "Feature",
        "id": "370705001002",
        "geometry": square(119.12, 36.70),
        "properties": {
            "code": "370705001002",
            "name": "<script>alert(1)</script>",
            "households": 1,
            "population": 2,
            "floating_population": 0,
        },
    },
)
FACILITY_DATA = collection(
    {
        "type": "Feature",
        "id": 1,
        "geometry": {"type": "Point", "coordinates": [119.105, 36.705]},
        "properties": {
            "id": 1,
            "type": "kindergarten",
            "type_name_zh": "幼儿园",
            "name": "新华幼儿园",
            "capacity": 180,
            "radius_m": 300,
            "address": None,
        },
    }
)


@pytest.fixture(scope="module")
def page() -> str:
    return render_map(
        {"communities": COMMUNITY_DATA, "facilities": FACILITY_DATA},
        category_names={"kindergarten": "幼儿园", "health_station": "社康中心"},
    )


def test_every_asset_is_served_locally(page: str) -> None:
    assets = re.findall(r"<(?:script[^>]*src|link[^>]*href)=\"([^\"]+)\"", page)
    assert assets
    assert all(url.startswith(("/static/vendor/", "/static/js/", "data:")) for url in assets), (
        assets
    )
    assert f"{SCRIPT_BASE}/{VIEWPORT_SCRIPT}" in assets
    assert "https://" not in page.split("<body>")[0]


def test_vendored_assets_exist_in_the_package() -> None:
    vendor = STATIC / "vendor"
    missing = [path for path in VENDORED_ASSETS.values() if not (vendor / path).is_file()]
    assert missing == []
    assert SCRIPT_BASE == "/static/js"
    assert "function gridmapViewportLayer(" in (STATIC / "js" / VIEWPORT_SCRIPT).read_text()


def test_layers_have_chinese_titles_in_order(page: str) -> None:
    control = page[page.index("overlays") :]
    positions = [control.index(f'"{in_script(layer.title_zh)}"') for layer in MAP_LAYERS]
    assert positions == sorted(positions)


def test_community_labels_are_escaped(page: str) -> None:
    assert page.count("gm-label gm-label-communities") == 2
    assert in_script("东苑社区") in page
    assert "alert(1)</script>" not in page
    escaped = in_script("&lt;script&gt;alert(1)&lt;/script&gt;").replace("&", "\\u0026")
    assert page.count(escaped) == 2  # the label and the feature's properties


def test_facility_legend_names_the_types_on_the_map(page: str) -> None:
    legend = page[page.index('<div class="gm-legend">') :]
    legend = legend[: legend.index("</div></div>")]
    assert "幼儿园" in legend
    assert "社康中心" not in legend  # in the catalogue but not on this map


def test_buildings_are_not_embedded_but_fetched_by_the_page(page: str) -> None:
    assert f'"{in_script(BUILDINGS.title_zh)}"' in page[page.index("overlays") :]
    assert page.count("gridmapViewportLayer(map_") == 1
    assert '<div class="gm-hint" id="gm-hint-buildings"></div>' in page
    config = viewport_config(BUILDINGS)
    assert config["url"] == "/api/v1/buildings?geometry=footprint"
    assert config["minZoom"] == 15
    assert config["messages"]["zoomIn"] == "放大至15级显示楼栋"
    assert {"{matched}", "{returned}"} <= set(
        re.findall(r"\{\w+\}", config["messages"]["truncated"])
    )
    assert [label for _, label in config["popup"]] == ["地址", "户数", "楼层", "网格"]
    assert config["messages"]["zoomIn"] in page  # the config is written as UTF-8 JSON


def test_household_legend_entry(page: str) -> None:
    legend = page[page.index('id="gm-legend-buildings"') :]
    legend = legend[: legend.index("</div></div>")]
    assert "楼栋户数" in legend
    for label in ("0–2户", "3–9户", "≥60户"):
        assert label in legend


def test_page_never_asks_for_more_than_the_api_page_limit() -> None:
    assert viewport_config(BUILDINGS)["limit"] == BUILDINGS.viewport.limit  # type: ignore[union-attr]
    assert viewport_config(BUILDINGS, max_page_size=500)["limit"] == 500
    page = render_map({}, max_page_size=500)
    assert '"limit": 500' in page
    with pytest.raises(ValueError, match="embedded"):
        viewport_config(COMMUNITIES)


def test_empty_map_says_there_is_no_data() -> None:
    page = render_map({})
    assert "暂无数据" in page
    assert all(in_script(layer.title_zh) in page for layer in MAP_LAYERS)


def test_unvendored_asset_fails_loudly() -> None:
    assert vendored_url("leaflet", "https://cdn.example/leaflet.js") == (
        "/static/vendor/leaflet/leaflet.js"
    )
    assert vendored_url("anything", "/static/x.js") == "/static/x.js"
    with pytest.raises(OfflineAssetError, match=r"scripts/vendor_assets\.sh"):
        vendored_url("d3", "https://cdn.example/d3.min.js")


def test_layer_catalogue() -> None:
    assert COMMUNITIES.api_path == "/api/v1/areas?level=community"
    assert GRIDS.api_path == "/api/v1/grids"
    assert FACILITIES.colour_by == "type"
    assert len({layer.key for layer in MAP_LAYERS}) == len(MAP_LAYERS)


def test_category_colours_are_stable_and_distinct() -> None:
    codes = ["kindergarten", "health_station", "elderly_daycare"]
    colours = category_colours(codes)
    assert colours == category_colours(reversed(codes))
    assert len(set(colours.values())) == 3
    assert set(colours.values()) <= set(CATEGORY_PALETTE)
