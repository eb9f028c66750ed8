"""The map layers: what each shows, where its data comes from and how it looks.

One definition serves the web map (``layers.webmap``) and anything else that
draws the same data (a legend, a future vector-tile style): the API collection
and filters that feed a layer, its Chinese title, its style in screen pixels
and opacities (0-1), the property drawn as a permanent label, and the
properties shown on hover and on click with their Chinese labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlencode


@dataclass(frozen=True)
class Field:
    """A feature property shown to the user, with its Chinese label."""

    prop: str
    label_zh: str


@dataclass(frozen=True)
class Style:
    """Leaflet path style: widths and radii in screen pixels, opacities 0-1."""

    color: str
    weight: float = 1.0
    opacity: float = 1.0
    fill_color: str | None = None
    fill_opacity: float = 0.0
    dash_array: str | None = None
    radius: float = 6.0
    """Circle-marker radius (pixels), for point layers only."""

    def leaflet(self, fill_color: str | None = None) -> dict[str, object]:
        """The style as Leaflet path options; ``fill_color`` overrides the layer's."""
        options: dict[str, object] = {
            "color": self.color,
            "weight": self.weight,
            "opacity": self.opacity,
            "fillColor": fill_color or self.fill_color or self.color,
            "fillOpacity": self.fill_opacity,
        }
        if self.dash_array:
            options["dashArray"] = self.dash_array
        return options


@dataclass(frozen=True)
class MapLayer:
    """One switchable layer of the web map."""

    key: str
    title_zh: str
    collection: str
    """The API collection under /api/v1 that feeds the layer, e.g. ``areas``."""
    style: Style
    geometry: str = "polygon"
    """``polygon`` (outlines and fills) or ``point`` (circle markers)."""
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Filters of the collection, e.g. ``{"level": "community"}``."""
    label: str | None = None
    """Property drawn as a permanent label at each feature's representative point."""
    tooltip: tuple[Field, ...] = ()
    popup: tuple[Field, ...] = ()
    colour_by: str | None = None
    """Property whose value picks the fill colour (see :func:`category_colours`)."""
    show: bool = True
    """Switched on when the page opens."""

    @property
    def api_path(self) -> str:
        """Where a client fetches this layer's data, e.g. ``/api/v1/areas?level=community``."""
        query = f"?{urlencode(dict(self.params))}" if self.params else ""
        return f"/api/v1/{self.collection}{query}"


DISTRICT = MapLayer(
    key="district",
    title_zh="区界",
    collection="areas",
    params=MappingProxyType({"level": "district"}),
    style=Style(color="#1f2d3d", weight=3.0, fill_opacity=0.0),
    tooltip=(Field("name", "区"),),
)

SUBDISTRICTS = MapLayer(
    key="subdistricts",
    title_zh="街道",
    collection="areas",
    params=MappingProxyType({"level": "subdistrict"}),
    style=Style(color="#6c4f9c", weight=2.0, dash_array="6 4", fill_opacity=0.0),
    tooltip=(Field("name", "街道"),),
    popup=(
        Field("name", "街道"),
        Field("code", "编码"),
        Field("households", "户数"),
        Field("population", "人口"),
    ),
    show=False,
)

COMMUNITIES = MapLayer(
    key="communities",
    title_zh="社区",
    collection="areas",
    params=MappingProxyType({"level": "community"}),
    style=Style(color="#2b6cb0", weight=1.5, fill_color="#90cdf4", fill_opacity=0.25),
    label="name",
    tooltip=(Field("name", "社区"),),
    popup=(
        Field("name", "社区"),
        Field("code", "编码"),
        Field("households", "户数"),
        Field("population", "人口"),
        Field("floating_population", "流动人口"),
    ),
)

GRIDS = MapLayer(
    key="grids",
    title_zh="网格",
    collection="grids",
    style=Style(color="#c05621", weight=0.8, opacity=0.8, fill_opacity=0.0),
    tooltip=(Field("code", "网格编码"), Field("name", "网格")),
    popup=(
        Field("name", "网格"),
        Field("code", "网格编码"),
        Field("community_name", "所属社区"),
        Field("households", "户数"),
        Field("population", "人口"),
    ),
)

FACILITIES = MapLayer(
    key="facilities",
    title_zh="服务设施",
    collection="facilities",
    geometry="point",
    style=Style(color="#ffffff", weight=1.0, fill_opacity=0.9, radius=6.0),
    colour_by="type",
    tooltip=(Field("name", "名称"),),
    popup=(
        Field("type_name_zh", "类型"),
        Field("name", "名称"),
        Field("capacity", "容量"),
        Field("radius_m", "服务半径(米)"),
        Field("address", "地址"),
    ),
)

MAP_LAYERS: tuple[MapLayer, ...] = (DISTRICT, SUBDISTRICTS, COMMUNITIES, GRIDS, FACILITIES)
"""The layers of the district map, bottom to top."""

CATEGORY_PALETTE: tuple[str, ...] = (
    "#e69f00",
    "#56b4e9",
    "#009e73",
    "#d55e00",
    "#cc79a7",
    "#0072b2",
    "#f0e442",
    "#8c564b",
    "#7f7f7f",
    "#17becf",
    "#bcbd22",
    "#9467bd",
)
"""Okabe-Ito colours (safe for colour-blind readers) extended with Tableau ones."""


def category_colours(values: Iterable[str]) -> dict[str, str]:
    """A colour per category, assigned in sorted order of the values.

    Pass the whole catalogue (every facility-type code), not only the values
    on screen, so a type keeps its colour from one view to the next. More
    categories than colours reuse the palette from the start.
    """
    return {
        value: CATEGORY_PALETTE[i % len(CATEGORY_PALETTE)]
        for i, value in enumerate(sorted(set(values)))
    }
