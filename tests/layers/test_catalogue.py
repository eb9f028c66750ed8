"""Layer definitions: the buildings layer is loaded per view, coloured by households."""

from __future__ import annotations

import pytest

from layers.catalogue import (
    BUILDINGS,
    GRIDS,
    HOUSEHOLD_RAMP,
    MAP_LAYERS,
    ColourRamp,
    RampStep,
    ViewportLoading,
)


def test_buildings_are_fetched_per_view_not_embedded() -> None:
    assert BUILDINGS in MAP_LAYERS
    assert not BUILDINGS.embedded
    assert [layer.key for layer in MAP_LAYERS if not layer.embedded] == ["buildings"]
    assert BUILDINGS.title_zh == "楼栋"
    assert BUILDINGS.api_path == "/api/v1/buildings?geometry=footprint"
    assert BUILDINGS.viewport is not None
    assert BUILDINGS.viewport.min_zoom == 15
    assert BUILDINGS.viewport.zoom_hint(BUILDINGS.title_zh) == "放大至15级显示楼栋"
    assert 1 <= BUILDINGS.viewport.limit <= 5000  # within the API's default page limit


def test_buildings_popup_says_address_households_floors_and_grid() -> None:
    popup = {f.label_zh: f.prop for f in BUILDINGS.popup}
    assert popup == {
        "地址": "address",
        "户数": "households",
        "楼层": "floors",
        "网格": "grid_code",
    }
    assert "households" in {f.prop for f in BUILDINGS.tooltip}


def test_grid_hover_shows_households() -> None:
    assert ("households", "户数") in {(f.prop, f.label_zh) for f in GRIDS.tooltip}


@pytest.mark.parametrize(
    ("households", "step"),
    [
        (None, 0),
        (0, 0),
        (2, 0),
        (3, 1),
        (9, 1),
        (10, 2),
        (29, 2),
        (30, 3),
        (59, 3),
        (60, 4),
        (117, 4),
    ],
)
def test_household_ramp_colours(households: int | None, step: int) -> None:
    assert BUILDINGS.ramp is HOUSEHOLD_RAMP
    assert HOUSEHOLD_RAMP.colour_for(households) == HOUSEHOLD_RAMP.steps[step].colour


def test_household_ramp_legend_reads_as_ranges() -> None:
    labels = [label for _, label in HOUSEHOLD_RAMP.legend_rows()]
    assert labels == ["0–2户", "3–9户", "10–29户", "30–59户", "≥60户"]
    colours = [colour for colour, _ in HOUSEHOLD_RAMP.legend_rows()]
    assert len(set(colours)) == len(colours)


def test_ramp_steps_must_ascend() -> None:
    with pytest.raises(ValueError, match="ascending"):
        ColourRamp("households", "户数", "户", (RampStep(5, "#000"), RampStep(1, "#fff")))
    with pytest.raises(ValueError, match="ascending"):
        ColourRamp("households", "户数", "户", ())
    single = ColourRamp("households", "户数", "户", (RampStep(1, "#000"), RampStep(2, "#fff")))
    assert [label for _, label in single.legend_rows()] == ["1户", "≥2户"]


def test_viewport_loading_rejects_an_empty_page() -> None:
    with pytest.raises(ValueError, match="limit"):
        ViewportLoading(limit=0)
