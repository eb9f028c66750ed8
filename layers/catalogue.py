"""The map layers: what each shows, where its data comes from and how it looks.

One definition serves the web map (``layers.webmap``) and anything else that
draws the same data (a legend, a future vector-tile style): the API collection
and filters that feed a layer, its Chinese title, its style in screen pixels
and opacities (0-1), the property drawn as a permanent label, and the
properties shown on hover and on click with their Chinese labels. Layers too
large to embed in the page (buildings) say so with :class:`ViewportLoading`:
the page then fetches only the features in view, once zoomed in far enough.
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
class RampStep:
    """Features whose value is at least ``minimum`` (and below the next step's) take ``colour``."""

    minimum: int
    colour: str


@dataclass(frozen=True)
class ColourRamp:
    """A sequential colour ramp over a count, e.g. households per building.

    Light colours for small counts, dark for large; values below the first
    step take its colour. The legend reads the classes as ranges of whole
    numbers (3–9户), so steps are integers in ascending order.
    """

    prop: str
    title_zh: str
    unit_zh: str
    steps: tuple[RampStep, ...]

    def __post_init__(self) -> None:
        minimums = [step.minimum for step in self.steps]
        if not minimums or minimums != sorted(set(minimums)):
            raise ValueError(f"ramp steps must be non-empty and strictly ascending: {minimums}")

    def colour_for(self, value: float | None) -> str:
        """The colour of ``value``; a missing value takes the lowest class."""
        colour = self.steps[0].colour
        for step in self.steps:
            if value is not None and value >= step.minimum:
                colour = step.colour
        return colour

    def legend_rows(self) -> list[tuple[str, str]]:
        """``(colour, label)`` per class, e.g. ``("#feb24c", "3–9户")``, the last ``≥60户``."""
        rows = []
        for step, following in zip(self.steps, (*self.steps[1:], None), strict=True):
            if following is None:
                label = f"≥{step.minimum}{self.unit_zh}"
            elif following.minimum - 1 == step.minimum:
                label = f"{step.minimum}{self.unit_zh}"
            else:
                label = f"{step.minimum}–{following.minimum - 1}{self.unit_zh}"
            rows.append((step.colour, label))
        return rows


@dataclass(frozen=True)
class ViewportLoading:
    """Fetch the layer's features for the visible area instead of embedding them all.

    The page asks ``<api_path>&bbox=<view>&limit=<limit>`` after each pan or
    zoom settles (``debounce_ms`` milliseconds, so a drag is one request, not
    dozens), and only from zoom ``min_zoom`` on: below it a view holds too many
    features to be useful or quick. ``limit`` (features) is capped by the
    server's maximum page size; when a view holds more, the page says so.
    """

    min_zoom: float = 15.0
    limit: int = 2000
    debounce_ms: int = 300
    unit_zh: str = "个"
    """Measure word for counting features in messages, e.g. 栋 for buildings."""
    z_index: int = 420
    """Leaflet pane z-index: above the embedded areas and grids (400), so the
    features can be hovered and clicked, below point layers and labels."""

    def __post_init__(self) -> None:
        if self.limit < 1 or self.debounce_ms < 0:
            raise ValueError("limit must be at least 1 and debounce_ms not negative")

    def zoom_hint(self, title_zh: str) -> str:
        """What the page says below ``min_zoom``, e.g. 放大至15级显示楼栋."""
        return f"放大至{self.min_zoom:g}级显示{title_zh}"


@dataclass(frozen=True)
class MapLayer:
    """One switchable layer of the web map."""

    key: str
    title_zh: str
    collection: str
    """The API collection under /api/v1 that feeds the layer, e.g. ``areas``."""
    style: Style
    geometry: str = "polygon"
    """``polygon`` (outlines and fills) or ``point`` (circle markers). A viewport
    layer draws its features without a polygon as circle markers among the polygons."""
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Filters of the collection, e.g. ``{"level": "community"}``."""
    label: str | None = None
    """Property drawn as a permanent label at each feature's representative point."""
    tooltip: tuple[Field, ...] = ()
    popup: tuple[Field, ...] = ()
    colour_by: str | None = None
    """Property whose value picks the fill colour (see :func:`category_colours`)."""
    ramp: ColourRamp | None = None
    """Sequential fill colours by a count (see :class:`ColourRamp`)."""
    viewport: ViewportLoading | None = None
    """Set for layers loaded by the page for the current view, not embedded in it."""
    show: bool = True
    """Switched on when the page opens."""

    @property
    def embedded(self) -> bool:
        """True if the page carries the layer's features; False if it fetches them per view."""
        return self.viewport is None

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
    tooltip=(Field("code", "网格编码"), Field("name", "网格"), Field("households", "户数")),
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

HOUSEHOLD_RAMP = ColourRamp(
    prop="households",
    title_zh="楼栋户数",
    unit_zh="户",
    steps=(
        RampStep(0, "#fed976"),
        RampStep(3, "#feb24c"),
        RampStep(10, "#fd8d3c"),
        RampStep(30, "#f03b20"),
        RampStep(60, "#bd0026"),
    ),
)
"""ColorBrewer YlOrRd. The demo's buildings are mostly bungalows of 1-4
households with blocks of flats up to ~120, so the classes widen upwards."""

BUILDINGS = MapLayer(
    key="buildings",
    title_zh="楼栋",
    collection="buildings",
    params=MappingProxyType({"geometry": "footprint"}),
    style=Style(color="#7b341e", weight=0.6, opacity=0.9, fill_opacity=0.85, radius=4.0),
    ramp=HOUSEHOLD_RAMP,
    tooltip=(Field("address", "地址"), Field("households", "户数")),
    popup=(
        Field("address", "地址"),
        Field("households", "户数"),
        Field("floors", "楼层"),
        Field("grid_code", "网格"),
    ),
    viewport=ViewportLoading(min_zoom=15.0, limit=5000, unit_zh="栋"),
)
"""Footprints where known, points otherwise; 20,000+ in a district, so loaded per view."""

MAP_LAYERS: tuple[MapLayer, ...] = (
    DISTRICT,
    SUBDISTRICTS,
    COMMUNITIES,
    GRIDS,
    BUILDINGS,
    FACILITIES,
)
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
