"""The coverage map's classes and legend, as a planner reads them."""

from __future__ import annotations

import json

import pytest

from layers.coverage import COVERAGE_RAMP, RateClass, RateRamp, coverage_style


def test_legend_labels_read_as_whole_percent_ranges() -> None:
    labels = [label for _, label in COVERAGE_RAMP.legend_rows()]
    assert labels == ["<50%", "50–70%", "70–85%", "85–95%", "≥95%", "无住户"]


@pytest.mark.parametrize(
    ("rate", "index"), [(0.0, 0), (0.4999, 0), (0.5, 1), (0.849, 2), (0.85, 3), (0.95, 4), (1.0, 4)]
)
def test_each_rate_takes_its_class_colour(rate: float, index: int) -> None:
    assert COVERAGE_RAMP.colour_for(rate) == COVERAGE_RAMP.classes[index].colour


def test_an_area_without_households_has_its_own_colour() -> None:
    assert COVERAGE_RAMP.colour_for(None) == COVERAGE_RAMP.no_data_colour
    assert COVERAGE_RAMP.no_data_colour not in {c.colour for c in COVERAGE_RAMP.classes}


@pytest.mark.parametrize("minimums", [(0.5, 0.2), (0.1, 0.5), (0.0, 1.5), ()])
def test_ramps_must_start_at_zero_and_ascend(minimums: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        RateRamp(tuple(RateClass(m, "#000000") for m in minimums), "#ccc", "无")


def test_style_is_json_and_names_the_hatch_pattern() -> None:
    style = json.loads(json.dumps(coverage_style()))
    assert style["blindSpot"]["fillColor"] == f"url(#{style['hatch']['id']})"
    assert style["buildingCovered"]["fillColor"] != style["buildingUncovered"]["fillColor"]
    assert style["uncoveredMinZoom"] < style["allBuildingsMinZoom"]
    assert 300 in style["radiusChoices"]


def test_overstated_buildings_have_a_colour_of_no_other_layer() -> None:
    style = coverage_style()
    others = {c for c, _ in COVERAGE_RAMP.legend_rows()} | {
        style[k][attr]
        for k in ("grid", "circle", "buildingCovered", "buildingUncovered", "facility", "whatIf")
        for attr in ("color", "fillColor")
    }
    others |= {style["blindSpot"]["color"], style["hatch"]["colour"]}
    assert style["overstated"]["color"] not in others
    assert style["overstated"]["radius"] > style["buildingUncovered"]["radius"]  # a ring round it
    assert style["labels"]["method_circle"] == "服务圈（直线）"
    assert style["labels"]["method_walk"] == "步行距离"
