"""Styles of the incident maps: hot-spot classes, rate classes, periods, workflow labels."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gis.incidents.hotspots import HOT_SPOT_CLASSES
from gis.incidents.workflow import NOTE_REQUIRED, Action, State
from layers.incidents import (
    ACTION_LABELS_ZH,
    DEFAULT_MEASURE,
    HOT_SPOT_COLOURS,
    HOT_SPOT_NO_CLASS_COLOUR,
    NO_DATA_COLOUR,
    RAMP_BAD_HIGH,
    RAMP_GOOD_HIGH,
    STATE_LABELS_ZH,
    Measure,
    breaks_for,
    class_colours,
    colour_for,
    hot_spot_colour,
    hot_spot_legend,
    incident_map_style,
    is_measure_column,
    legend_rows,
    measure_classes,
    measure_for,
    period_choices,
    quantile_breaks,
    state_label,
    two_significant,
    worklist_style,
)


def test_every_gi_class_has_a_colour_hot_red_cold_blue() -> None:
    assert list(HOT_SPOT_COLOURS) == list(HOT_SPOT_CLASSES)
    assert hot_spot_colour("hot 99%") == "#b2182b"
    assert hot_spot_colour("cold 99%") == "#2166ac"
    assert hot_spot_colour("not significant") == "#f7f7f7"
    assert hot_spot_colour(None) == HOT_SPOT_NO_CLASS_COLOUR
    assert hot_spot_colour("lukewarm") == HOT_SPOT_NO_CLASS_COLOUR
    legend = hot_spot_legend()
    assert [row["label"] for row in legend][:3] == [
        "热点（99%置信度）",
        "热点（95%置信度）",
        "热点（90%置信度）",
    ]
    assert legend[3]["label"] == "不显著"
    assert len({row["colour"] for row in legend}) == 7


def test_two_significant_rounds_half_up() -> None:
    assert two_significant(37.49) == 37.0
    assert two_significant(37.5) == 38.0
    assert two_significant(0.0456) == 0.046
    assert two_significant(1234.0) == 1200.0
    assert two_significant(0.0) == 0.0
    assert two_significant(float("nan")) == 0.0


def test_quantile_breaks_interpolate_like_numpy_and_skip_nan() -> None:
    values = [float(v) for v in range(1, 101)] + [float("nan")]
    breaks = quantile_breaks([*values, None])
    expected = [two_significant(float(q)) for q in np.quantile(range(1, 101), [0.2, 0.4, 0.6, 0.8])]
    assert breaks == [0.0, *expected] == [0.0, 21.0, 41.0, 60.0, 80.0]


def test_quantile_breaks_of_skewed_or_empty_data_have_fewer_classes() -> None:
    assert quantile_breaks([]) == [0.0]
    assert quantile_breaks([None, float("nan")]) == [0.0]
    assert quantile_breaks([0.0] * 50) == [0.0]
    assert quantile_breaks([0.0] * 90 + [5.0] * 10) == [0.0]
    assert quantile_breaks([0.0] * 70 + [5.0] * 30) == [0.0, 5.0]


@given(st.lists(st.floats(min_value=0, max_value=1e5, allow_nan=False), max_size=60))
def test_quantile_breaks_start_at_zero_and_ascend(values: list[float]) -> None:
    breaks = quantile_breaks(values)
    assert breaks[0] == 0.0
    assert breaks == sorted(set(breaks))
    assert len(breaks) <= 5


def test_colour_for_picks_the_class_and_no_data() -> None:
    measure = measure_for(DEFAULT_MEASURE)
    breaks = [0.0, 10.0, 20.0, 30.0, 40.0]
    colours = class_colours(measure, len(breaks))
    assert colours == list(RAMP_BAD_HIGH)
    assert colour_for(0.0, breaks, colours) == RAMP_BAD_HIGH[0]
    assert colour_for(9.99, breaks, colours) == RAMP_BAD_HIGH[0]
    assert colour_for(10.0, breaks, colours) == RAMP_BAD_HIGH[1]
    assert colour_for(1000.0, breaks, colours) == RAMP_BAD_HIGH[4]
    assert colour_for(None, breaks, colours) == NO_DATA_COLOUR
    assert colour_for(math.nan, breaks, colours) == NO_DATA_COLOUR


def test_fewer_classes_spread_over_the_ramp_red_always_bad() -> None:
    worse = measure_for(DEFAULT_MEASURE)
    assert class_colours(worse, 2) == [RAMP_BAD_HIGH[0], RAMP_BAD_HIGH[-1]]
    assert class_colours(worse, 3) == [RAMP_BAD_HIGH[0], RAMP_BAD_HIGH[2], RAMP_BAD_HIGH[4]]
    better = measure_for("on_time_rate")
    assert not better.higher_is_worse
    assert class_colours(better, 5) == list(RAMP_GOOD_HIGH)
    assert RAMP_GOOD_HIGH[0] == "#d73027"  # a low on-time rate is red


def test_legend_rows_read_as_ranges() -> None:
    per_1000 = measure_for(DEFAULT_MEASURE)
    rows = legend_rows(per_1000, [0.0, 12.0, 25.0, 37.0, 60.0])
    assert [r["label"] for r in rows] == ["<12", "12–25", "25–37", "37–60", "≥60", "无数据"]
    assert rows[-1]["colour"] == NO_DATA_COLOUR
    on_time = measure_for("on_time_rate")
    labels = [r["label"] for r in legend_rows(on_time, breaks_for(on_time, []))]
    assert labels == ["<50%", "50%–70%", "70%–85%", "85%–95%", "≥95%", "无数据"]
    assert [r["label"] for r in legend_rows(per_1000, [0.0])] == ["全部", "无数据"]
    with pytest.raises(ValueError):
        legend_rows(per_1000, [5.0, 1.0])


def test_unknown_rate_columns_are_fractions_and_other_columns_are_not_measures() -> None:
    assert is_measure_column("per_1000_households")
    assert is_measure_column("handling_rate")
    assert is_measure_column("satisfaction_rate")
    for column in ("received", "households", "open", "city_appearance", "code"):
        assert not is_measure_column(column)
    unknown = measure_for("satisfaction_rate")
    assert unknown.unit == "fraction" and unknown.breaks is None
    assert breaks_for(unknown, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) == [0.0, 0.2, 0.3, 0.4, 0.5]
    with pytest.raises(ValueError):
        Measure("x_rate", "x", "fraction", True, breaks=(0.1, 0.5))


def test_periods_default_to_the_twelve_months_of_the_data() -> None:
    periods = period_choices(dt.date(2026, 10, 31))
    year = periods[0]
    assert (year.key, year.start, year.end) == ("12m", dt.date(2025, 11, 1), dt.date(2026, 11, 1))
    quarters = [p for p in periods if p.key.startswith("q")]
    assert (quarters[0].start, quarters[0].end) == (dt.date(2026, 8, 1), dt.date(2026, 11, 1))
    assert quarters[-1].label_zh == "2025年11月–2026年01月"
    months = [p for p in periods if p.key.startswith("m")]
    assert len(months) == 12
    assert (months[0].label_zh, months[0].start) == ("2026年10月", dt.date(2026, 10, 1))
    assert months[-1].start == dt.date(2025, 11, 1)
    # A report on the 1st of a month still gets its whole month.
    assert period_choices(dt.date(2026, 1, 1))[0].end == dt.date(2026, 2, 1)


def test_workflow_labels_cover_every_state_and_action() -> None:
    assert set(STATE_LABELS_ZH) == set(State)
    assert set(ACTION_LABELS_ZH) == set(Action)
    assert ACTION_LABELS_ZH[Action.ACCEPT] == "受理"
    assert ACTION_LABELS_ZH[Action.HANDLE] == "处置"
    assert ACTION_LABELS_ZH[Action.VERIFY] == "核查结案"
    assert state_label(State.DISPATCHED) == "已派遣 · 任务派遣"
    style = worklist_style()
    needs_note = {a for a, v in style["actions"].items() if v["needsNote"]}
    assert (
        needs_note
        == {a.value for a in NOTE_REQUIRED}
        == {
            "cancel",
            "rework",
            "redispatch",
            "escalate",
            "urge",
        }
    )
    chooses = {a for a, v in style["actions"].items() if v["choosesHandler"]}
    assert chooses == {"dispatch", "redispatch"}
    assert style["transitions"]["reported"] == ["accept", "cancel", "settle", "escalate", "urge"]
    assert style["states"]["closed"]["open"] is False
    assert style["levels"]["community"] == "社区"


def test_page_styles_are_json() -> None:
    style = json.loads(json.dumps(incident_map_style()))
    assert style["defaultMeasure"]["column"] == DEFAULT_MEASURE
    assert style["defaultMeasure"]["label_zh"] == "每千户事件数"
    assert [h["class"] for h in style["hotSpots"]] == list(HOT_SPOT_CLASSES)
    assert style["noDataColour"] == NO_DATA_COLOUR
    # Rate classes come with the data (measure_classes), not with the page.
    assert not {"measures", "ramps", "classes"} & set(style)
    json.dumps(worklist_style())


def _row(
    code: str, per_1000: float | None, on_time: float | None, rework: float | None
) -> dict[str, Any]:
    """A statistics row: measure columns among counts, a mean and a category."""
    return {
        "code": code,
        "households": 100,
        "received": 3,
        "on_time_rate": on_time,
        "hours_reported_accepted": 2.5,
        "per_1000_households": per_1000,
        "rework_rate": rework,
        "city_appearance": 1,
    }


def test_measure_classes_cut_each_measure_column_of_the_rows() -> None:
    rows = [_row(f"g{i}", float(i), 0.1 * (i % 10), None) for i in range(1, 101)]
    rows.append(_row("empty", None, None, None))
    classes = json.loads(json.dumps(measure_classes(rows)))
    assert list(classes) == ["on_time_rate", "per_1000_households", "rework_rate"]

    per_1000 = classes["per_1000_households"]
    assert per_1000["measure"] == {
        "column": "per_1000_households",
        "label_zh": "每千户事件数",
        "unit": "per_1000",
        "higher_is_worse": True,
    }
    assert per_1000["method"] == "quantile"
    assert per_1000["breaks"] == [0.0, 21.0, 41.0, 60.0, 80.0]
    assert per_1000["colours"] == list(RAMP_BAD_HIGH)
    assert [r["label"] for r in per_1000["legend"]] == [
        "<21", "21–41", "41–60", "60–80", "≥80", "无数据",
    ]  # fmt: skip
    assert [r["colour"] for r in per_1000["legend"]] == [*RAMP_BAD_HIGH, NO_DATA_COLOUR]

    on_time = classes["on_time_rate"]
    assert on_time["method"] == "fixed"
    assert on_time["breaks"] == [0.0, 0.5, 0.7, 0.85, 0.95]
    assert on_time["colours"] == list(RAMP_GOOD_HIGH)
    assert on_time["measure"]["higher_is_worse"] is False
    assert on_time["legend"][0]["label"] == "<50%"

    rework = classes["rework_rate"]  # no values: one class
    assert (rework["breaks"], rework["method"]) == ([0.0], "quantile")
    assert [r["label"] for r in rework["legend"]] == ["全部", "无数据"]


def test_measure_classes_without_rows_offer_the_default_measure() -> None:
    classes = measure_classes([])
    assert list(classes) == [DEFAULT_MEASURE]
    assert classes[DEFAULT_MEASURE]["breaks"] == [0.0]
    assert [r["label"] for r in classes[DEFAULT_MEASURE]["legend"]] == ["全部", "无数据"]


def test_every_rate_of_the_statistics_has_a_chinese_label() -> None:
    from gis.incidents.stats import RATE_COLUMNS

    labels = {column: measure_for(column).label_zh for column in RATE_COLUMNS}
    assert labels["on_time_rate"] == "按期结案率"
    assert labels["rework_rate"] == "返工率"
    assert all(label != column for column, label in labels.items())
    assert all(is_measure_column(column) for column in RATE_COLUMNS)
    assert measure_for("rework_rate").higher_is_worse
    assert not measure_for("closure_rate").higher_is_worse
