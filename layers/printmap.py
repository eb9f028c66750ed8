"""The printable coverage map: PNG or PDF with matplotlib, from GeoDataFrames.

Pure drawing: the caller passes the grids (with ``coverage_rate``), buildings
(with ``covered``), facilities and the box to show, all in WGS84, and gets the
file's bytes. The map is drawn in the Gauss-Krüger plane of the box's 3° zone
(CGCS2000, ``gis.geo.metric``), where a metre is a metre, so the scale bar is
true and north is up (the zone's grid north is within a degree of true north
anywhere in the district). An A4 landscape page carries what a printed map
must: title, legend, metric scale bar, north arrow, date and data source. Text
is set in Noto Sans CJK (installed with the app, see README); the colours are
those of the coverage page (``layers.coverage``).

matplotlib's object API is used without pyplot: no global figure state, safe in
the API's worker threads.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd

from gis.geo.metric import zone_epsg
from layers.coverage import (
    BUILDING_COVERED,
    BUILDING_UNCOVERED,
    CIRCLE_STYLE,
    COVERAGE_RAMP,
    FACILITY_STYLE,
    LABELS_ZH,
)

PrintFormat = Literal["png", "pdf"]

PAGE_INCHES = (11.69, 8.27)
"""A4 landscape."""
PNG_DPI = 150
"""1754 × 1240 pixels: sharp on paper, a few hundred kB."""
FONT_FAMILY = ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"]
"""Chinese text needs a CJK font; the first installed one is used."""
MAP_AXES = (0.03, 0.09, 0.72, 0.80)
"""left, bottom, width, height of the map on the page (fractions)."""
SCALE_STEPS_M = (50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000)
STREET_COLOUR = "#8a8a8a"
STREET_WIDTHS = {"main": 1.8, "secondary": 1.1, "local": 0.6}
"""Line widths (points) of the base map's streets by kind (``gis.basemap.streets``)."""


@dataclass(frozen=True)
class PrintText:
    """The words on the page."""

    title: str
    subtitle: str
    source: str
    date: dt.date


def scale_length_m(width_m: float) -> int:
    """A round scale-bar length about a fifth of the map's width (metres)."""
    target = max(width_m / 5.0, 1.0)
    return max((s for s in SCALE_STEPS_M if s <= target), default=SCALE_STEPS_M[0])


def _metric(frame: gpd.GeoDataFrame, epsg: int) -> gpd.GeoDataFrame:
    if len(frame) == 0:
        return frame.set_crs(frame.crs or "EPSG:4326", allow_override=True).to_crs(epsg)
    return frame.to_crs(epsg)


def print_map(
    *,
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    bbox: Sequence[float],
    radius_m: float,
    text: PrintText,
    fmt: PrintFormat = "png",
    streets: gpd.GeoDataFrame | None = None,
) -> bytes:
    """The page as PNG or PDF bytes.

    ``bbox``: west, south, east, north (WGS84) of what to show; ``grids`` with
    ``coverage_rate`` (0-1 or NaN), ``buildings`` with ``covered``,
    ``facilities`` points (each gets its service circle of ``radius_m``),
    ``streets`` optional lines with ``name`` drawn under everything.
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    west, south, east, north = (float(v) for v in bbox)
    epsg = zone_epsg((west + east) / 2.0)
    frame = gpd.GeoSeries.from_xy([west, east], [south, north], crs="EPSG:4326").to_crs(epsg)
    x0, x1 = sorted(frame.x)
    y0, y1 = sorted(frame.y)

    with rc_context({"font.family": FONT_FAMILY, "pdf.fonttype": 42, "axes.unicode_minus": False}):
        fig = Figure(figsize=PAGE_INCHES)
        ax = fig.add_axes(MAP_AXES)
        ax.set_facecolor("#f4f2ee")
        _draw_layers(ax, grids, buildings, facilities, streets, epsg, radius_m)
        _fit(ax, x0, x1, y0, y1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_ylabel("")
        for spine in ax.spines.values():
            spine.set_edgecolor("#333333")
        _scale_bar(ax)
        _north_arrow(ax)
        fig.text(0.03, 0.95, text.title, fontsize=17, fontweight="bold", va="center")
        fig.text(0.03, 0.915, text.subtitle, fontsize=10.5, color="#333333", va="center")
        _legend(fig, radius_m)
        fig.text(
            0.03,
            0.045,
            f"制图日期：{text.date.isoformat()}    数据来源：{text.source}",
            fontsize=8.5,
            color="#333333",
        )
        fig.text(
            0.03,
            0.022,
            f"坐标系：CGCS2000 / 3° 高斯-克吕格投影（EPSG:{epsg}），比例尺为真实米数",
            fontsize=7.5,
            color="#555555",
        )
        out = io.BytesIO()
        fig.savefig(out, format=fmt, dpi=PNG_DPI)
    return out.getvalue()


def _fit(ax: Any, x0: float, x1: float, y0: float, y1: float) -> None:
    """Show the box whole at equal scale, widened to the axes' shape."""
    width, height = MAP_AXES[2], MAP_AXES[3]
    aspect = (width * PAGE_INCHES[0]) / (height * PAGE_INCHES[1])
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)
    ax.set_aspect("equal", adjustable="box")


def _draw_layers(
    ax: Any,
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame | None,
    epsg: int,
    radius_m: float,
) -> None:
    from matplotlib.patches import Circle

    if streets is not None and len(streets):
        lines = _metric(streets, epsg)
        kinds = lines.get("kind")
        widths = [STREET_WIDTHS.get(k, 0.6) for k in kinds] if kinds is not None else 0.8
        lines.plot(ax=ax, color=STREET_COLOUR, linewidth=widths, zorder=2.5)
    if len(grids):
        g = _metric(grids, epsg)
        rates = g["coverage_rate"].astype(float)
        colours = [COVERAGE_RAMP.colour_for(None if math.isnan(r) else r) for r in rates]
        g.plot(ax=ax, color=colours, alpha=0.6, edgecolor="#555555", linewidth=0.5, zorder=2)
    if len(buildings):
        b = _metric(buildings, epsg)
        covered = b["covered"].astype(bool)
        for mask, style in ((covered, BUILDING_COVERED), (~covered, BUILDING_UNCOVERED)):
            if mask.any():
                b[mask].plot(
                    ax=ax,
                    color=style.fill_color,
                    markersize=7,
                    edgecolor="white",
                    linewidth=0.3,
                    zorder=4,
                )
    if len(facilities):
        f = _metric(facilities, epsg)
        for x, y in zip(f.geometry.x, f.geometry.y, strict=True):
            ax.add_patch(
                Circle(
                    (x, y),
                    radius_m,
                    fill=False,
                    edgecolor=CIRCLE_STYLE.color,
                    linestyle=(0, (4, 3)),
                    linewidth=0.9,
                    zorder=3,
                )
            )
        f.plot(
            ax=ax,
            color=FACILITY_STYLE.fill_color,
            markersize=36,
            edgecolor="white",
            linewidth=1.0,
            zorder=5,
        )


def _scale_bar(ax: Any) -> None:
    """A metric scale bar of two halves at the map's lower left."""
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = scale_length_m(x1 - x0)
    left = x0 + (x1 - x0) * 0.04
    bottom = y0 + (y1 - y0) * 0.04
    height = (y1 - y0) * 0.008
    ax.add_patch(
        Rectangle(
            (left - (x1 - x0) * 0.01, bottom - (y1 - y0) * 0.015),
            length + (x1 - x0) * 0.05,
            (y1 - y0) * 0.075,
            facecolor="white",
            alpha=0.85,
            edgecolor="none",
            zorder=9,
        )
    )
    for i, colour in enumerate(("#222222", "#ffffff")):
        ax.add_patch(
            Rectangle(
                (left + i * length / 2, bottom),
                length / 2,
                height,
                facecolor=colour,
                edgecolor="#222222",
                linewidth=0.8,
                zorder=10,
            )
        )
    unit = "千米" if length >= 1000 else "米"
    div = 1000 if length >= 1000 else 1

    def fmt(v: float) -> str:
        return f"{v / div:g}"

    for value in (0, length / 2, length):
        ax.text(
            left + value,
            bottom + height * 2.2,
            fmt(value),
            ha="center",
            va="bottom",
            fontsize=7.5,
            zorder=10,
        )
    ax.text(
        left + length + (x1 - x0) * 0.012,
        bottom + height / 2,
        unit,
        ha="left",
        va="center",
        fontsize=8,
        zorder=10,
    )


def _north_arrow(ax: Any) -> None:
    """An arrow pointing up (grid north) with 北 / N at the map's upper right."""
    ax.annotate(
        "",
        xy=(0.95, 0.95),
        xytext=(0.95, 0.85),
        xycoords="axes fraction",
        arrowprops={"facecolor": "#222222", "edgecolor": "#222222", "width": 4, "headwidth": 12},
        zorder=10,
    )
    ax.text(
        0.95,
        0.965,
        "北 N",
        transform=ax.transAxes,
        ha="center",
        va="bottom",
        fontsize=10,
        fontweight="bold",
        zorder=10,
    )


def _legend(fig: Any, radius_m: float) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [
        Patch(facecolor=colour, edgecolor="#555555", alpha=0.6, label=label)
        for colour, label in COVERAGE_RAMP.legend_rows()
    ]
    point: dict[str, Any] = {
        "marker": "o",
        "linestyle": "none",
        "markeredgecolor": "white",
        "markersize": 7,
    }
    handles += [
        Line2D([], [], color=BUILDING_COVERED.fill_color, label=LABELS_ZH["covered"], **point),
        Line2D([], [], color=BUILDING_UNCOVERED.fill_color, label=LABELS_ZH["uncovered"], **point),
        Line2D(
            [],
            [],
            color=FACILITY_STYLE.fill_color,
            label=LABELS_ZH["facilities"],
            **{**point, "markersize": 9},
        ),
        Line2D(
            [],
            [],
            color=CIRCLE_STYLE.color,
            linestyle=(0, (4, 3)),
            label=f"{LABELS_ZH['circles']}（{radius_m:g} 米）",
        ),
    ]
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.77, 0.89),
        title="图例　" + LABELS_ZH["rate_legend"],
        title_fontsize=10,
        fontsize=9,
        frameon=True,
        alignment="left",
    )
