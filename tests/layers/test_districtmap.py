"""The district map's configuration: what district.js draws and in which order."""

from __future__ import annotations

import json

from layers.catalogue import MAP_LAYERS, category_colours
from layers.districtmap import LABEL_ZOOMS, district_map_config, title_of


def test_layers_follow_the_catalogue_and_labels_go_from_large_to_small() -> None:
    config = district_map_config([("school", "小学"), ("kindergarten", "幼儿园")], None)
    keys = [layer["key"] for layer in config["layers"]]
    assert keys == ["district", "subdistricts", "communities", "grids"]
    assert [m.key for m in MAP_LAYERS if m.key not in keys] == ["buildings", "facilities"]
    starts = [LABEL_ZOOMS[k].min_zoom for k in ("subdistricts", "communities", "grids")]
    assert starts == sorted(starts)
    # buildings and cases are vector tiles drawn with the server's style: no colours here
    assert config["buildings"]["sourceLayer"] == "buildings"
    assert "ramp" not in config["buildings"] and "url" not in config["buildings"]
    assert config["tiles"]["style"].startswith("/ogc/styles/")
    assert config["incidents"] is None  # only for a person who may read cases
    assert config["bounds"] is None
    json.dumps(config)  # JSON-ready for the page


def test_facility_colours_are_those_of_the_whole_catalogue() -> None:
    types = [("school", "小学"), ("kindergarten", "幼儿园"), ("clinic", "卫生站")]
    config = district_map_config(types, (119.0, 36.6, 119.3, 36.8))
    colours = {t["code"]: t["colour"] for t in config["facilityTypes"]}
    assert colours == category_colours(code for code, _ in types)
    assert config["bounds"] == [[36.6, 119.0], [36.8, 119.3]]


def test_title() -> None:
    assert title_of(["奎文区"]) == "奎文区 网格化管理地图"
    assert title_of([]) == "网格化管理地图"


def test_the_cases_layer_names_categories_and_states() -> None:
    config = district_map_config([], None, incident_categories={"exposed_garbage": "暴露垃圾"})
    incidents = config["incidents"]
    assert incidents["sourceLayer"] == "incidents"
    assert incidents["names"]["category"] == {"exposed_garbage": "暴露垃圾"}
    assert incidents["names"]["status"]["reported"].startswith("待受理")
    assert [f[0] for f in incidents["popup"]][:3] == ["ext_id", "category", "status"]
