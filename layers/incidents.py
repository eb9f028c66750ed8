"""How incidents look on a map: rate choropleths, Gi* hot spots, workflow states, legends.

One definition for the pages (``api/static/js/incidents.js`` and
the field app's ``field-*.js`` receive these styles as JSON). Breaks, class colours and
legends are computed only here: fixed breaks where a measure has meaningful
ones (the on-time rate), else the quantiles of the grids' values rounded to two
significant figures; the statistics answer carries them (:func:`measure_classes`)
and the page draws what it is sent. Every ramp runs from good to bad, so red
always means "look here". Pure: no database, no HTTP.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from gis.areas.codes import Level
from gis.incidents.workflow import NOTE_REQUIRED, TRANSITIONS, Action, Rating, State
from layers.catalogue import Style

Unit = Literal["per_1000", "fraction"]

# --------------------------------------------------------------------------- Gi* hot spots

HOT_SPOT_COLOURS: dict[str, str] = {
    "hot 99%": "#b2182b",
    "hot 95%": "#ef8a62",
    "hot 90%": "#fddbc7",
    "not significant": "#f7f7f7",
    "cold 90%": "#d1e5f0",
    "cold 95%": "#67a9cf",
    "cold 99%": "#2166ac",
}
"""Gi* class (as ``gis.incidents.stats.HOT_SPOT_CLASSES`` names them) → fill, hottest first."""

HOT_SPOT_LABELS_ZH: dict[str, str] = {
    "hot 99%": "热点（99%置信度）",
    "hot 95%": "热点（95%置信度）",
    "hot 90%": "热点（90%置信度）",
    "not significant": "不显著",
    "cold 90%": "冷点（90%置信度）",
    "cold 95%": "冷点（95%置信度）",
    "cold 99%": "冷点（99%置信度）",
}
HOT_SPOT_NO_CLASS_COLOUR = "#d9d9d9"
"""A grid the test gave no class (should not happen; drawn grey rather than hidden)."""


def hot_spot_colour(label: str | None) -> str:
    """The fill of a Gi* class; grey for a missing or unknown class."""
    return HOT_SPOT_COLOURS.get(label or "", HOT_SPOT_NO_CLASS_COLOUR)


def hot_spot_legend() -> list[dict[str, str]]:
    """``{class, colour, label}`` per Gi* class, hottest first."""
    return [
        {"class": c, "colour": colour, "label": HOT_SPOT_LABELS_ZH[c]}
        for c, colour in HOT_SPOT_COLOURS.items()
    ]


# --------------------------------------------------------------------------- rate choropleth

RAMP_BAD_HIGH = ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000")
"""ColorBrewer OrRd 5, pale to dark red: for measures where more is worse (incident rates)."""
RAMP_GOOD_HIGH = ("#d73027", "#fc8d59", "#fee090", "#91bfdb", "#4575b4")
"""ColorBrewer RdYlBu 5, red to blue: for measures where more is better (on-time rates)."""
NO_DATA_COLOUR = "#d9d9d9"
NO_DATA_LABEL_ZH = "无数据"
CLASSES = 5


def check_breaks(breaks: Sequence[float]) -> None:
    """Class minimums must start at 0 and ascend strictly."""
    values = list(breaks)
    if not values or values[0] != 0.0 or values != sorted(set(values)):
        raise ValueError(f"class minimums must start at 0 and ascend strictly: {values}")


@dataclass(frozen=True)
class Measure:
    """A column of the statistics rows the choropleth can show.

    ``breaks`` are fixed class minimums (the first is 0) or None for quantile
    breaks of the data; ``higher_is_worse`` orients the colour ramp.
    """

    column: str
    label_zh: str
    unit: Unit
    higher_is_worse: bool
    breaks: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.breaks is not None:
            check_breaks(self.breaks)
            if len(self.breaks) > CLASSES:
                raise ValueError(f"at most {CLASSES} classes: {self.breaks}")

    @property
    def ramp(self) -> tuple[str, ...]:
        return RAMP_BAD_HIGH if self.higher_is_worse else RAMP_GOOD_HIGH


DEFAULT_MEASURE = "per_1000_households"
MEASURES: tuple[Measure, ...] = (
    Measure(DEFAULT_MEASURE, "每千户事件数", "per_1000", higher_is_worse=True),
    Measure("closure_rate", "结案率", "fraction", higher_is_worse=False),
    Measure(
        "on_time_rate",
        "按期结案率",
        "fraction",
        higher_is_worse=False,
        breaks=(0.0, 0.5, 0.7, 0.85, 0.95),
    ),
    Measure("handling_rate", "办结率", "fraction", higher_is_worse=False),
    Measure("on_the_spot_rate", "当场办结率", "fraction", higher_is_worse=False),
    Measure("rework_rate", "返工率", "fraction", higher_is_worse=True),
)
"""Measures the page knows by name; other ``*_rate`` columns are shown as fractions
with quantile breaks under their column name (:func:`measure_for`)."""
_BY_COLUMN = {m.column: m for m in MEASURES}


def is_measure_column(column: str) -> bool:
    """Whether a statistics column is a rate the choropleth can show."""
    return column in _BY_COLUMN or column.endswith("_rate") or column.startswith("per_1000")


def measure_for(column: str) -> Measure:
    """The measure of a column; an unknown ``*_rate`` column is a fraction, more is worse."""
    known = _BY_COLUMN.get(column)
    if known is not None:
        return known
    unit: Unit = "per_1000" if column.startswith("per_1000") else "fraction"
    return Measure(column, column, unit, higher_is_worse=True)


def two_significant(value: float) -> float:
    """``value`` (> 0) rounded half up to two significant figures.

    Half up, as people round a legend's numbers (``round`` would take 36.5 to
    36). The scale is found by comparing the scaled value itself with 10 and
    100, not from log10, whose float rounding can pick the wrong power of ten
    just below one (99.99999999999999 has a log10 of exactly 2.0).
    """
    if not value > 0 or not math.isfinite(value):
        return 0.0
    if not 1e-9 <= value <= 1e12:
        return value  # beyond any rate a map shows; left as is
    scale = 1.0
    while value * scale < 10:
        scale *= 10
    while value * scale >= 100:
        scale /= 10
    return math.floor(value * scale + 0.5) / scale


def quantile_breaks(values: Iterable[float | None], classes: int = CLASSES) -> list[float]:
    """Class minimums at the quantiles of the finite ``values``: ``[0, q1, …]``.

    Quantiles interpolate linearly between sorted values (numpy's default),
    are rounded to two significant figures and deduplicated, so a skewed or
    small sample gets fewer classes rather than empty ones. No data: ``[0]``.
    """
    data = sorted(v for v in values if v is not None and math.isfinite(v))
    breaks = [0.0]
    if not data:
        return breaks
    n = len(data)
    for i in range(1, classes):
        position = i / classes * (n - 1)
        low = math.floor(position)
        high = min(low + 1, n - 1)
        q = data[low] + (data[high] - data[low]) * (position - low)
        b = two_significant(q)
        if b > breaks[-1]:
            breaks.append(b)
    return breaks


def class_colours(measure: Measure, classes: int) -> list[str]:
    """Colours of ``classes`` classes, spread over the measure's ramp from good to bad."""
    ramp = measure.ramp
    if classes <= 1:
        return [ramp[0] if measure.higher_is_worse else ramp[-1]]
    return [ramp[round(i * (len(ramp) - 1) / (classes - 1))] for i in range(classes)]


def breaks_for(measure: Measure, values: Iterable[float | None]) -> list[float]:
    """The measure's fixed breaks, or the quantile breaks of ``values``."""
    return list(measure.breaks) if measure.breaks is not None else quantile_breaks(values)


def colour_for(value: float | None, breaks: Sequence[float], colours: Sequence[str]) -> str:
    """The colour of the class ``value`` falls in; the no-data colour for None or NaN."""
    if value is None or not math.isfinite(value):
        return NO_DATA_COLOUR
    colour = colours[0]
    for minimum, c in zip(breaks, colours, strict=True):
        if value >= minimum:
            colour = c
    return colour


def format_value(value: float, unit: Unit) -> str:
    """A break as the legend writes it: per cent for fractions, ``%g`` otherwise."""
    if unit == "fraction":
        return f"{value * 100:g}%"
    return f"{value:g}"


def legend_rows(measure: Measure, breaks: Sequence[float]) -> list[dict[str, str]]:
    """``{colour, label}`` per class, lowest first (<a, a–b, …, ≥z), then no data."""
    check_breaks(breaks)
    colours = class_colours(measure, len(breaks))
    rows = []
    for i, (minimum, colour) in enumerate(zip(breaks, colours, strict=True)):
        if len(breaks) == 1:
            label = "全部" if minimum == 0 else f"≥{format_value(minimum, measure.unit)}"
        elif i == 0:
            label = f"<{format_value(breaks[1], measure.unit)}"
        elif i == len(breaks) - 1:
            label = f"≥{format_value(minimum, measure.unit)}"
        else:
            label = (
                f"{format_value(minimum, measure.unit)}–{format_value(breaks[i + 1], measure.unit)}"
            )
        rows.append({"colour": colour, "label": label})
    rows.append({"colour": NO_DATA_COLOUR, "label": NO_DATA_LABEL_ZH})
    return rows


def measure_json(measure: Measure) -> dict[str, Any]:
    """A measure as the statistics answer and the page name it (snake_case, like the rows)."""
    return {
        "column": measure.column,
        "label_zh": measure.label_zh,
        "unit": measure.unit,
        "higher_is_worse": measure.higher_is_worse,
    }


def classes_of(measure: Measure, values: Iterable[float | None]) -> dict[str, Any]:
    """Everything a choropleth of ``measure`` over ``values`` needs, JSON-ready.

    ``breaks`` are class minimums: a value belongs to the last class whose
    minimum it reaches, so a client needs no arithmetic beyond ``>=``.
    """
    breaks = breaks_for(measure, values)
    return {
        "measure": measure_json(measure),
        "method": "fixed" if measure.breaks is not None else "quantile",
        "breaks": breaks,
        "colours": class_colours(measure, len(breaks)),
        "legend": legend_rows(measure, breaks),
    }


def measure_classes(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per measure column of the statistics ``rows`` (in their order), its map classes.

    Computed over the rows as they are sent, so the page, which only draws
    these, and any other reader of the answer see the same classes. Without
    rows there is nothing to cut: the default measure alone, in one class.
    """
    columns = [c for c in rows[0] if is_measure_column(c)] if rows else [DEFAULT_MEASURE]
    return {c: classes_of(measure_for(c), [row.get(c) for row in rows]) for c in columns}


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in local dates (the API reads a date as its midnight in Beijing time)."""

    key: str
    label_zh: str
    start: dt.date
    end: dt.date


def _month_start(day: dt.date, months_back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def period_choices(latest: dt.date) -> list[Period]:
    """Periods offered for data whose latest report is on ``latest``, the first the default.

    The twelve whole months ending with ``latest``'s month (the demo's year),
    then its four quarters and twelve months, newest first.
    """
    end = _month_start(latest, -1)
    year = Period("12m", f"近12个月（{_month_start(end, 12):%Y-%m}至{latest:%Y-%m}）",
                  _month_start(end, 12), end)  # fmt: skip
    quarters = []
    for q in range(4):
        start = _month_start(end, 3 * (q + 1))
        last = _month_start(end, 3 * q + 1)
        tail = f"{last:%m月}" if last.year == start.year else f"{last:%Y年%m月}"
        quarters.append(
            Period(f"q{q + 1}", f"{start:%Y年%m月}–{tail}", start, _month_start(end, 3 * q))
        )
    months = [
        Period(
            f"m{m + 1}",
            f"{_month_start(end, m + 1):%Y年%m月}",
            _month_start(end, m + 1),
            _month_start(end, m),
        )
        for m in range(12)
    ]
    return [year, *quarters, *months]


# --------------------------------------------------------------------------- workflow labels

STATE_LABELS_ZH: dict[State, str] = {
    State.REPORTED: "待受理",
    State.ACCEPTED: "已立案",
    State.DISPATCHED: "已派遣",
    State.HANDLED: "已处置",
    State.FEEDBACK: "已反馈",
    State.CLOSED: "已结案",
    State.EVALUATED: "已评价",
    State.CANCELLED: "已作废",
}
"""What a case's state reads as; the page adds the step of the seven-step loop (step_zh)."""

ACTION_LABELS_ZH: dict[Action, str] = {
    Action.ACCEPT: "受理",
    Action.CANCEL: "作废",
    Action.DISPATCH: "派遣",
    Action.REDISPATCH: "改派",
    Action.HANDLE: "处置",
    Action.FEEDBACK: "反馈",
    Action.VERIFY: "核查结案",
    Action.REWORK: "返工",
    Action.EVALUATE: "评价",
    Action.ESCALATE: "上报升级",
    Action.URGE: "督办",
    Action.HAND_OVER: "交办",
    Action.SETTLE: "当场办结",
}
"""Button labels, as the grid manager's worklist names the steps (受理 opens the case:
gis.incidents.workflow calls it 立案; 处置 is its 处理)."""

HANDLER_ACTIONS: frozenset[Action] = frozenset({Action.DISPATCH, Action.REDISPATCH})
"""Steps that name the case's (new) handler: the worklist asks whom before posting
``handler_staff_id``."""

STATE_COLOURS: dict[State, str] = {
    State.REPORTED: "#6a3d9a",
    State.ACCEPTED: "#1f78b4",
    State.DISPATCHED: "#ff7f00",
    State.HANDLED: "#33a02c",
    State.FEEDBACK: "#b15928",
    State.CLOSED: "#999999",
    State.EVALUATED: "#bbbbbb",
    State.CANCELLED: "#dddddd",
}
"""Marker fill per state (ColorBrewer Paired, qualitative); closed cases fade to grey."""
OVERDUE_COLOUR = "#e31a1c"
"""Ring and row highlight of an open case past its deadline."""

INCIDENT_MARKER = Style(color="#ffffff", weight=1.0, fill_opacity=0.9, radius=5.0)
WORK_MARKER = Style(color="#ffffff", weight=2.0, fill_opacity=0.95, radius=8.0)
SELECTED_WEIGHT = 4.0
GRID_OUTLINE = Style(color="#444444", weight=0.6, opacity=0.8, fill_opacity=0.6)
HOT_SPOT_OUTLINE = Style(color="#666666", weight=0.5, opacity=0.8, fill_opacity=0.75)
OWN_GRID_STYLE = Style(color="#08519c", weight=2.5, opacity=0.9, fill_opacity=0.05)

INCIDENT_POINTS_MIN_ZOOM = 15.0
"""From this zoom on the planner's map draws the incidents in view (a year of a
district is ~4,000 points: too many to read at district scale)."""


def state_label(state: State | str) -> str:
    """``已派遣 · 任务派遣``: the state and the step of the loop that produced it."""
    s = State(state)
    return f"{STATE_LABELS_ZH[s]} · {s.step_zh}"


LABELS_ZH = {
    "title": "事件分析地图",
    "worklist_title": "网格员工作台",
    "measure": "指标",
    "period": "时段",
    "category": "类别",
    "all_categories": "全部类别",
    "hot_spots": "热点分析（Gi*）",
    "rates": "网格事件指标",
    "incidents": "事件点位",
    "zoom_for_points": f"放大至{INCIDENT_POINTS_MIN_ZOOM:g}级显示事件点位",
    "map_link": "网格地图",
    "households": "户",
    "received": "受理事件",
    "overdue": "已超期",
    "remaining": "剩余",
    "no_deadline": "未计时",
    "actor": "操作人",
    "note": "说明",
    "confirm": "确认",
    "cancel_form": "取消",
    "stale": "该事件已被他人修改，已重新载入最新状态，请确认后再操作。",
    "history": "处理记录",
    "no_open": "本网格暂无待办事件",
    "handler": "处置人",
    "choose_handler": "请选择处置人",
    "grid_staff": "本网格",
    "community_staff": "本社区",
    "primary_manager": "主责",
    "current_handler": "现处置人",
    "note_optional": "说明（选填）",
}


def incident_map_style() -> dict[str, Any]:
    """What the planner's incident map draws with besides the statistics answer.

    The rate classes are not here: they depend on the data, and come with
    each statistics answer (:func:`measure_classes`). The default measure is,
    so the measure picker can name it before the first answer arrives.
    """
    return {
        "defaultMeasure": measure_json(measure_for(DEFAULT_MEASURE)),
        "noDataColour": NO_DATA_COLOUR,
        "hotSpots": hot_spot_legend(),
        "hotSpotNoClass": HOT_SPOT_NO_CLASS_COLOUR,
        "grid": GRID_OUTLINE.leaflet(),
        "hotSpot": HOT_SPOT_OUTLINE.leaflet(),
        "incident": {**INCIDENT_MARKER.leaflet(), "radius": INCIDENT_MARKER.radius},
        "pointsMinZoom": INCIDENT_POINTS_MIN_ZOOM,
        **_workflow_style(),
        "labels": LABELS_ZH,
    }


def _workflow_style() -> dict[str, Any]:
    return {
        "states": {
            s.value: {
                "label": state_label(s),
                "colour": STATE_COLOURS[s],
                "open": not s.is_terminal,
            }
            for s in State
        },
        "actions": {
            a.value: {
                "label": ACTION_LABELS_ZH[a],
                "needsNote": a in NOTE_REQUIRED,
                "choosesHandler": a in HANDLER_ACTIONS,
                "needsRating": a is Action.EVALUATE,
            }
            for a in Action
        },
        "ratings": {r.value: r.name_zh for r in Rating},
        "levels": {level.value: level.name_zh for level in Level},
        "overdue": OVERDUE_COLOUR,
    }


def worklist_style() -> dict[str, Any]:
    """What the grid manager's worklist page draws: states, actions, markers, labels."""
    return {
        **_workflow_style(),
        "marker": {**WORK_MARKER.leaflet(), "radius": WORK_MARKER.radius},
        "selectedWeight": SELECTED_WEIGHT,
        "grid": OWN_GRID_STYLE.leaflet(),
        "transitions": {s.value: [a.value for a in TRANSITIONS[s]] for s in State},
        "labels": LABELS_ZH,
    }
