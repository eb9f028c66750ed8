"""How the norms map looks: which figure shades the communities, its classes and legend.

One definition for ``GET /api/v1/norms/communities`` (which sends the classes
with the rows, so every map of the answer draws the same) and the norms page
(``api/static/js/norms.js``, which only compares with ``>=``). Three measures:

- the floor area missing for 60 m² per 100 households (m²) and the grid
  managers and community workers missing for their ratios (persons): fixed
  classes, the first (0) meaning the norm is met, in a pale blue no shortfall
  shares; shortfalls in ColorBrewer OrRd, darker for more missing;
- the funds due a year (CNY): quantile classes of the communities' totals in
  ColorBrewer Blues, since more is neither better nor worse and the totals sit
  in a narrow band above the Party fund's minimum (fixed breaks would paint one
  colour); breaks rounded to 1,000 CNY.

Labels come in both languages (``label_zh``, ``label_en``); the page picks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from layers.catalogue import Style
from layers.incidents import NO_DATA_COLOUR, check_breaks

MET_COLOUR = "#deebf7"
"""A community that meets the norm: pale blue, apart from every shortfall colour."""
SHORTFALL_RAMP = ("#fdcc8a", "#fc8d59", "#e34a33", "#b30000")
"""ColorBrewer OrRd: a small shortfall to a large one."""
FUNDING_RAMP = ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c")
"""ColorBrewer Blues 5: less to more funds due."""
FUNDING_CLASSES = 5
FUNDING_STEP_CNY = 1000.0
"""Quantile breaks of the funds are rounded to whole thousands of yuan."""


@dataclass(frozen=True)
class NormMeasure:
    """A column of the norms table the map can shade the communities by.

    ``breaks``: class minimums, the first 0 (a value belongs to the last class
    whose minimum it reaches); None for quantile breaks of the data.
    ``met``: the first class is "the norm is met" (a shortfall of 0).
    """

    column: str
    label_zh: str
    label_en: str
    unit_zh: str
    unit_en: str
    breaks: tuple[float, ...] | None
    met: bool
    whole: bool = False
    """Counts of whole things (persons): a class reads 3–4, not 3–5."""

    def __post_init__(self) -> None:
        if self.breaks is not None:
            check_breaks(self.breaks)


DEFAULT_MEASURE = "floor_area_shortfall_m2"
MEASURES: tuple[NormMeasure, ...] = (
    NormMeasure(
        DEFAULT_MEASURE,
        "服务用房缺口",
        "Floor area shortfall",
        "平方米",
        " m²",
        breaks=(0.0, 0.1, 50.0, 100.0, 200.0),
        met=True,
    ),
    NormMeasure(
        "staff_shortfall",
        "人员缺口（网格员＋社区工作者）",
        "Staff shortfall (grid managers + community workers)",
        "人",
        " staff",
        breaks=(0.0, 1.0, 2.0, 3.0, 5.0),
        met=True,
        whole=True,
    ),
    NormMeasure(
        "total_cny",
        "应拨经费合计（每年）",
        "Funds due a year",
        "元",
        " CNY",
        breaks=None,
        met=False,
    ),
)
_BY_COLUMN = {m.column: m for m in MEASURES}

COMMUNITY_STYLE = Style(color="#555555", weight=0.8, opacity=0.9, fill_opacity=0.75)
SELECTED_STYLE = Style(color="#08519c", weight=3.0, opacity=1.0, fill_opacity=0.75)
DISTRICT_STYLE = Style(color="#1f2d3d", weight=2.5, fill_opacity=0.0)


def measure_for(column: str) -> NormMeasure:
    """The measure of ``column`` (KeyError for a column the map does not shade)."""
    return _BY_COLUMN[column]


def quantile_breaks(
    values: Iterable[float | None],
    classes: int = FUNDING_CLASSES,
    step: float = FUNDING_STEP_CNY,
) -> list[float]:
    """``[0, q1, …]``: the quantiles of the finite ``values`` (linear interpolation),
    rounded to ``step`` and deduplicated, so close values get fewer classes rather
    than empty ones; ``[0]`` without data."""
    data = sorted(float(v) for v in values if v is not None and math.isfinite(float(v)))
    breaks = [0.0]
    n = len(data)
    for i in range(1, classes if n else 1):
        position = i / classes * (n - 1)
        low = math.floor(position)
        high = min(low + 1, n - 1)
        q = data[low] + (data[high] - data[low]) * (position - low)
        b = math.floor(q / step + 0.5) * step
        if b > breaks[-1]:
            breaks.append(b)
    return breaks


def class_colours(measure: NormMeasure, classes: int) -> list[str]:
    """One colour per class: met then the shortfall ramp, or the funding ramp spread out."""
    if measure.met:
        return [MET_COLOUR, *SHORTFALL_RAMP][:classes]
    if classes <= 1:
        return [FUNDING_RAMP[-1]]
    last = len(FUNDING_RAMP) - 1
    return [FUNDING_RAMP[round(i * last / (classes - 1))] for i in range(classes)]


def _amount(value: float, lang: str, measure: NormMeasure) -> str:
    if measure.column == "total_cny":
        return f"{value / 10000:g}万" if lang == "zh" else f"{value / 1000:,.0f}k"
    return f"{value:g}"


def legend_rows(measure: NormMeasure, breaks: Sequence[float]) -> list[dict[str, str]]:
    """``{colour, label_zh, label_en}`` per class, lowest first: met (or <a), a–b, …, ≥z;
    a class of whole persons reads 1人, 3–4人."""
    check_breaks(breaks)
    colours = class_colours(measure, len(breaks))
    rows = []
    last = len(breaks) - 1
    for i, (minimum, colour) in enumerate(zip(breaks, colours, strict=True)):
        labels = {}
        for lang, unit in (("zh", measure.unit_zh), ("en", measure.unit_en)):
            low = _amount(minimum, lang, measure)
            if measure.met and i == 0:
                label = "达标（无缺口）" if lang == "zh" else "norm met (no shortfall)"
            elif last == 0:
                label = "全部" if lang == "zh" else "all"
            elif i == last:
                label = f"≥{low}{unit}"
            elif i == 0 or (measure.met and i == 1 and minimum < 1):
                label = f"<{_amount(breaks[i + 1], lang, measure)}{unit}"
            elif measure.whole and breaks[i + 1] - minimum == 1:
                label = f"{low}{unit}"
            elif measure.whole:
                label = f"{low}–{_amount(breaks[i + 1] - 1, lang, measure)}{unit}"
            else:
                label = f"{low}–{_amount(breaks[i + 1], lang, measure)}{unit}"
            labels[f"label_{lang}"] = label
        rows.append({"colour": colour, **labels})
    return rows


def classes_of(measure: NormMeasure, values: Iterable[float | None]) -> dict[str, Any]:
    """Everything a map of ``measure`` over ``values`` needs, JSON-ready: the measure's
    names, ``method`` (fixed or quantile), ``breaks``, ``colours`` and ``legend``."""
    breaks = list(measure.breaks) if measure.breaks is not None else quantile_breaks(values)
    return {
        "column": measure.column,
        "label_zh": measure.label_zh,
        "label_en": measure.label_en,
        "method": "fixed" if measure.breaks is not None else "quantile",
        "breaks": breaks,
        "colours": class_colours(measure, len(breaks)),
        "legend": legend_rows(measure, breaks),
    }


def norms_classes(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per measure (``MEASURES``' order), its classes over the table's ``rows``."""
    return {m.column: classes_of(m, [r.get(m.column) for r in rows]) for m in MEASURES}


LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "社区配置标准",
        "other_lang": "English",
        "map_link": "网格地图",
        "coverage_link": "服务覆盖分析",
        "docs_link": "API 文档",
        "norms": "标准及依据",
        "norm": "标准",
        "figure": "数值",
        "source": "依据",
        "set_by": "设置",
        "shade_by": "地图着色",
        "table": "各社区情况",
        "community": "社区",
        "subdistrict": "街道",
        "households": "户数",
        "floor_required": "应有用房（平方米）",
        "floor_present": "现有用房（平方米）",
        "floor_shortfall": "用房缺口（平方米）",
        "grid_managers": "网格员 现有/应配",
        "community_workers": "社区工作者 现有/应配",
        "staff_shortfall": "人员缺口",
        "community_work": "社区工作经费（元）",
        "grid_service": "网格服务工作经费（元）",
        "party_service": "党组织为民服务专项经费（元）",
        "total": "合计（元/年）",
        "district_total": "全区合计",
        "csv": "下载表格 CSV",
        "legend": "图例",
        "loading": "加载中…",
        "failed": "加载失败：",
        "sort_hint": "点击表头排序",
        "per_100_households": "平方米/百户",
        "households_per_person": "户/人",
        "per_1000_households": "元/千户·年",
        "per_community": "元/社区·年",
        "summary": "{communities} 个社区，{households} 户；每年应拨经费 {total} 元",
        "shortfalls": "用房缺口 {floor} 平方米（{floor_n} 个社区），"
        "人员缺口 {staff} 人（{staff_n} 个社区）",
    },
    "en": {
        "title": "Community norms",
        "other_lang": "中文",
        "map_link": "Grid map",
        "coverage_link": "Service coverage",
        "docs_link": "API docs",
        "norms": "Norms and their sources",
        "norm": "Norm",
        "figure": "Figure",
        "source": "Source",
        "set_by": "Set by",
        "shade_by": "Shade the map by",
        "table": "Per community",
        "community": "Community",
        "subdistrict": "Subdistrict",
        "households": "Households",
        "floor_required": "Floor area required (m²)",
        "floor_present": "Floor area present (m²)",
        "floor_shortfall": "Floor area shortfall (m²)",
        "grid_managers": "Grid managers present/needed",
        "community_workers": "Community workers present/needed",
        "staff_shortfall": "Staff shortfall",
        "community_work": "Community work fund (CNY)",
        "grid_service": "Grid service fund (CNY)",
        "party_service": "Party service fund (CNY)",
        "total": "Total (CNY a year)",
        "district_total": "District total",
        "csv": "Download table (CSV)",
        "legend": "Legend",
        "loading": "Loading…",
        "failed": "Failed to load: ",
        "sort_hint": "Click a heading to sort",
        "per_100_households": "m² per 100 households",
        "households_per_person": "households per person",
        "per_1000_households": "CNY per 1,000 households a year",
        "per_community": "CNY per community a year",
        "summary": "{communities} communities, {households} households; funds due a year: "
        "{total} CNY",
        "shortfalls": "floor area short by {floor} m² ({floor_n} communities), staff short by "
        "{staff} ({staff_n} communities)",
    },
}
"""The page's words in each language (the norms' own names come with the API answer)."""


UNIT_LABELS = {
    "m2_per_100_households": "per_100_households",
    "households_per_person": "households_per_person",
    "cny_per_1000_households_year": "per_1000_households",
    "cny_per_community_year": "per_community",
}
"""A norm's ``unit`` (``gis.coverage.norms_table.norm_figures``) → its key in ``LABELS``."""


def unit_label(unit: str, lang: str) -> str:
    """How the page writes a norm's unit in ``lang``."""
    return LABELS["en" if lang == "en" else "zh"][UNIT_LABELS[unit]]


def norms_style(lang: str) -> dict[str, Any]:
    """What the norms page needs to draw, in ``lang`` (zh or en), JSON-ready."""
    return {
        "measures": [
            {"column": m.column, "label": m.label_zh if lang == "zh" else m.label_en}
            for m in MEASURES
        ],
        "defaultMeasure": DEFAULT_MEASURE,
        "community": COMMUNITY_STYLE.leaflet(),
        "selected": SELECTED_STYLE.leaflet(),
        "district": DISTRICT_STYLE.leaflet(),
        "noData": NO_DATA_COLOUR,
        "labels": LABELS["en" if lang == "en" else "zh"],
    }
