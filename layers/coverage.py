"""How the coverage map looks: colours, classes, legend labels and zoom thresholds.

One definition for the browser page (``api/static/js/coverage.js`` receives
:func:`coverage_style` as JSON) and anything else that draws coverage. Widths
and radii are screen pixels, opacities 0-1, rates fractions 0-1 and radii of
service circles metres.

Colours: the grid choropleth uses ColorBrewer RdYlBu (readable by colour-blind
people): red for grids where few households are covered, blue where nearly all
are. Buildings sit on top in two colours that belong to neither end of that
ramp: green when covered, magenta when not. Blind spots are hatched, not
filled, so the choropleth stays readable beneath them. With walking distance
(``method=network``), buildings the service circle covers but no walk of the
radius reaches ("the circle overstates") are near-black rings around their dot:
a colour of no other layer, and a ring for "inside the circle".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from layers.catalogue import Style


@dataclass(frozen=True)
class RateClass:
    """Areas whose coverage rate is at least ``minimum`` (and below the next class's)."""

    minimum: float
    colour: str


@dataclass(frozen=True)
class RateRamp:
    """Classes of a rate 0-1, labelled in whole per cent (<50%, 50–70%, …, ≥95%)."""

    classes: tuple[RateClass, ...]
    no_data_colour: str
    no_data_label_zh: str

    def __post_init__(self) -> None:
        minimums = [c.minimum for c in self.classes]
        if not minimums or minimums != sorted(set(minimums)) or minimums[0] != 0.0:
            raise ValueError(f"rate classes must start at 0 and ascend strictly: {minimums}")
        if not all(0.0 <= m <= 1.0 for m in minimums):
            raise ValueError(f"rate class minimums are fractions 0-1: {minimums}")

    def colour_for(self, rate: float | None) -> str:
        """The class colour of ``rate``; None (an area without households) has its own."""
        if rate is None:
            return self.no_data_colour
        colour = self.classes[0].colour
        for c in self.classes:
            if rate >= c.minimum:
                colour = c.colour
        return colour

    def legend_rows(self) -> list[tuple[str, str]]:
        """``(colour, label)`` per class, lowest first, then the no-data row."""
        rows = []
        for c, following in zip(self.classes, (*self.classes[1:], None), strict=True):
            lo = round(c.minimum * 100)
            if following is None:
                label = f"≥{lo}%"
            elif lo == 0:
                label = f"<{round(following.minimum * 100)}%"
            else:
                label = f"{lo}–{round(following.minimum * 100)}%"
            rows.append((c.colour, label))
        rows.append((self.no_data_colour, self.no_data_label_zh))
        return rows


COVERAGE_RAMP = RateRamp(
    classes=(
        RateClass(0.0, "#d73027"),
        RateClass(0.5, "#fc8d59"),
        RateClass(0.7, "#fee090"),
        RateClass(0.85, "#91bfdb"),
        RateClass(0.95, "#4575b4"),
    ),
    no_data_colour="#d9d9d9",
    no_data_label_zh="无住户",
)
"""Breaks where planning reads a difference: under half covered is a gap to fix
first; 95 % and above counts as fully served (the last buildings are often
just beyond the radius)."""

GRID_STYLE = Style(color="#555555", weight=0.6, opacity=0.8, fill_opacity=0.55)
CIRCLE_STYLE = Style(color="#08519c", weight=1.2, opacity=0.8, fill_opacity=0.04, dash_array="4 3")
BUILDING_COVERED = Style(
    color="#ffffff", weight=0.5, fill_color="#1a9850", fill_opacity=0.9, radius=3.0
)
BUILDING_UNCOVERED = Style(
    color="#ffffff", weight=0.5, fill_color="#c51b7d", fill_opacity=0.95, radius=3.5
)
OVERSTATED_STYLE = Style(
    color="#1b1b1b", weight=1.6, opacity=0.95, fill_color="#ffffff", fill_opacity=0.0, radius=5.5
)
"""Buildings inside the circle but beyond the walk (``/api/v1/coverage/compare/buildings``)."""
BLIND_SPOT_STYLE = Style(color="#67001f", weight=1.5, opacity=0.9, fill_opacity=1.0)
FACILITY_STYLE = Style(
    color="#ffffff", weight=1.5, fill_color="#542788", fill_opacity=1.0, radius=6.0
)
WHAT_IF_STYLE = Style(
    color="#e66101", weight=2.0, fill_color="#fdb863", fill_opacity=0.15, radius=7.0
)

HATCH_PATTERN_ID = "gm-hatch"
HATCH_COLOUR = "#67001f"
HATCH_SPACING_PX = 6

ALL_BUILDINGS_MIN_ZOOM = 16.0
"""From this zoom on the page draws every building in view, covered or not."""
UNCOVERED_MIN_ZOOM = 13.0
"""From this zoom on (and below ``ALL_BUILDINGS_MIN_ZOOM``) only uncovered
buildings are drawn: a district has ~20,000 buildings, too many dots to read
or fetch at once, and the uncovered ones are what a planner looks for."""

RADIUS_CHOICES_M = (300, 500, 1000)
"""Radii offered beside each type's catalogue radius (GB 50180 life circles)."""

LABELS_ZH = {
    "title": "服务覆盖分析",
    "facility_type": "设施类型",
    "radius": "服务半径",
    "default_radius": "默认",
    "rate_legend": "网格覆盖率（按户）",
    "covered": "已覆盖楼栋",
    "uncovered": "未覆盖楼栋",
    "circles": "服务圈",
    "blind_spots": "服务盲区",
    "facilities": "设施",
    "what_if": "新增设施模拟",
    "what_if_hint": "点击地图任意位置，模拟在此新增一处设施",
    "what_if_close": "模拟关闭此设施",
    "households": "户",
    "metres": "米",
    "zoom_for_buildings": f"放大至{UNCOVERED_MIN_ZOOM:g}级显示未覆盖楼栋，"
    f"{ALL_BUILDINGS_MIN_ZOOM:g}级显示全部楼栋",
    "map_link": "网格地图",
    "method": "距离算法",
    "method_circle": "服务圈（直线）",
    "method_walk": "步行距离",
    "walk_distance": "步行",
    "walk_areas": "步行服务区",
    "overstated": "圆形高估",
    "overstated_legend": "圆形高估楼栋（直线圈内、步行不可达）",
    "method_fallback": "已改用直线距离",
}


def coverage_style() -> dict[str, Any]:
    """Everything the coverage page needs to draw, as JSON-ready values."""
    return {
        "ramp": {
            "classes": [[c.minimum, c.colour] for c in COVERAGE_RAMP.classes],
            "noData": COVERAGE_RAMP.no_data_colour,
            "legend": [
                {"colour": colour, "label": label} for colour, label in COVERAGE_RAMP.legend_rows()
            ],
        },
        "grid": GRID_STYLE.leaflet(),
        "circle": CIRCLE_STYLE.leaflet(),
        "buildingCovered": {**BUILDING_COVERED.leaflet(), "radius": BUILDING_COVERED.radius},
        "buildingUncovered": {**BUILDING_UNCOVERED.leaflet(), "radius": BUILDING_UNCOVERED.radius},
        "overstated": {**OVERSTATED_STYLE.leaflet(), "radius": OVERSTATED_STYLE.radius},
        "blindSpot": {**BLIND_SPOT_STYLE.leaflet(fill_color=f"url(#{HATCH_PATTERN_ID})")},
        "hatch": {"id": HATCH_PATTERN_ID, "colour": HATCH_COLOUR, "spacing": HATCH_SPACING_PX},
        "facility": {**FACILITY_STYLE.leaflet(), "radius": FACILITY_STYLE.radius},
        "whatIf": {**WHAT_IF_STYLE.leaflet(), "radius": WHAT_IF_STYLE.radius},
        "allBuildingsMinZoom": ALL_BUILDINGS_MIN_ZOOM,
        "uncoveredMinZoom": UNCOVERED_MIN_ZOOM,
        "radiusChoices": list(RADIUS_CHOICES_M),
        "labels": LABELS_ZH,
    }
