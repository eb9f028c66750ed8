"""Which base map a deployment draws, and the datum its tiles are in.

``offline`` (the default) is the app's own streets and place names from the
database: no internet, no key, drawn in WGS84 like the data. A tile service
may be configured instead (``gis.settings.BasemapSettings``):

- ``tianditu`` (天地图, the national platform): the vector map ``vec_w`` and
  its Chinese annotation layer ``cva_w`` in Web Mercator, with a browser key
  (``GRIDMAP_TIANDITU_KEY``). Its datum is CGCS2000, which differs from WGS84
  by centimetres (``gis.geo.datum``): far below a screen pixel at any zoom a
  map shows, so overlays in WGS84 need no shift.
- ``amap`` (高德) and ``tencent`` (腾讯): GCJ-02 by law, so every overlay must
  be shifted into GCJ-02 to line up (hundreds of metres otherwise); the page
  does it with ``GM.datum.toDisplay`` and sends clicks back with
  ``datum: "gcj02"``.
- ``xyz`` and ``wmts``: any tile URL template (``{z}``, ``{x}``, ``{y}``;
  a WMTS template may say ``{TileMatrix}``, ``{TileCol}``, ``{TileRow}``),
  with its datum declared in ``GRIDMAP_BASEMAP_DATUM``. Nobody can tell a
  GCJ-02 tile from a WGS84 one by looking at the URL, so a missing or
  unknown datum refuses to start rather than guess.

Configuration errors are ``ConfigurationError`` at start-up, naming the
setting and what to put in it.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from gis.errors import ConfigurationError
from gis.geo.datum import CGCS2000, GCJ02, WGS84, Datum, DatumKind, UnknownDatumError, parse_datum
from gis.settings import BasemapSettings

SOURCES = ("offline", "tianditu", "amap", "tencent", "xyz", "wmts")
TILE_DATUMS = ("wgs84", "cgcs2000", "gcj02")
"""Datums a tile source may be declared in (Baidu's BD-09 tiles use a grid of their own)."""

_TIANDITU = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)
_WMTS_NAMES = {"{TileMatrix}": "{z}", "{TileCol}": "{x}", "{TileRow}": "{y}"}


@dataclass(frozen=True)
class TileLayer:
    """One layer of tiles, as Leaflet's ``L.tileLayer`` takes it."""

    url: str
    subdomains: str
    attribution: str
    max_zoom: int


@dataclass(frozen=True)
class Basemap:
    """What a page draws under its data.

    ``datum`` is the datum the base map is drawn in; ``display`` the one
    overlays must be converted to (``wgs84`` or ``gcj02``: CGCS2000 is drawn
    as WGS84). ``labels``: the app draws its own street and place names (the
    offline map); tiles carry their own.
    """

    source: str
    datum: Datum
    tiles: tuple[TileLayer, ...]
    labels: bool

    @property
    def display(self) -> str:
        return "gcj02" if self.datum.kind is DatumKind.GCJ02 else "wgs84"

    @property
    def image_origins(self) -> tuple[str, ...]:
        """The origins tiles come from, as a Content-Security-Policy source list wants them
        (a ``{s}`` subdomain becomes ``*.``)."""
        origins = []
        for layer in self.tiles:
            parts = urllib.parse.urlsplit(layer.url.replace("{s}", "SUBDOMAIN"))
            host = parts.netloc
            if "SUBDOMAIN" in host:
                host = "*." + host.split(".", 1)[1]
            origins.append(f"{parts.scheme}://{host}")
        return tuple(dict.fromkeys(origins))


OFFLINE = Basemap(source="offline", datum=WGS84, tiles=(), labels=True)


def configured(settings: BasemapSettings) -> Basemap:
    """The base map ``settings`` ask for; ``ConfigurationError`` saying what to fix otherwise."""
    source = settings.source.strip().lower()
    if source == "offline":
        return OFFLINE
    if source == "tianditu":
        key = (settings.tianditu_key or "").strip()
        if not re.fullmatch(r"[0-9A-Za-z]{8,64}", key):
            raise ConfigurationError(
                "GRIDMAP_BASEMAP=tianditu needs GRIDMAP_TIANDITU_KEY, the 天地图 browser key "
                "(浏览器端 key, 32 letters and digits) from https://console.tianditu.gov.cn; "
                "or use GRIDMAP_BASEMAP=offline"
            )
        credit = "© 天地图 tianditu.gov.cn"
        return Basemap(
            source="tianditu",
            datum=CGCS2000,
            tiles=tuple(
                TileLayer(_TIANDITU.format(layer=layer, key=key), "01234567", credit, 18)
                for layer in ("vec", "cva")
            ),
            labels=False,
        )
    if source == "amap":
        return Basemap(
            source="amap",
            datum=GCJ02,
            tiles=(
                TileLayer(
                    "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
                    "&style=8&x={x}&y={y}&z={z}",
                    "1234",
                    "© 高德地图 AutoNavi",
                    18,
                ),
            ),
            labels=False,
        )
    if source == "tencent":
        return Basemap(
            source="tencent",
            datum=GCJ02,
            tiles=(
                TileLayer(
                    "https://rt{s}.map.gtimg.com/tile?z={z}&x={x}&y={-y}&styleid=1000"
                    "&scene=0&version=347",
                    "0123",
                    "© 腾讯地图 Tencent",
                    18,
                ),
            ),
            labels=False,
        )
    if source in ("xyz", "wmts"):
        return _template_source(source, settings)
    raise ConfigurationError(
        f"GRIDMAP_BASEMAP={settings.source!r} is not a base map source; use one of: "
        f"{', '.join(SOURCES)} (offline, the default, needs no internet)"
    )


def _template_source(source: str, settings: BasemapSettings) -> Basemap:
    url = (settings.url or "").strip()
    for name, value in _WMTS_NAMES.items():
        url = url.replace(name, value)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"GRIDMAP_BASEMAP={source} needs GRIDMAP_BASEMAP_URL, an http(s) tile URL template "
            "such as https://tiles.example.gov.cn/{z}/{x}/{y}.png"
        )
    missing = [
        p for p in ("{z}", "{x}", "{y}") if p not in url and not (p == "{y}" and "{-y}" in url)
    ]
    if missing:
        raise ConfigurationError(
            f"GRIDMAP_BASEMAP_URL {settings.url!r} lacks {', '.join(missing)}: a tile URL names "
            "the zoom {z}, column {x} and row {y} (WMTS: {TileMatrix}, {TileCol}, {TileRow})"
        )
    if "{s}" in url and not settings.subdomains:
        raise ConfigurationError(
            "GRIDMAP_BASEMAP_URL has {s}: list its subdomains in GRIDMAP_BASEMAP_SUBDOMAINS "
            "(e.g. abc)"
        )
    return Basemap(
        source=source,
        datum=tile_datum(settings.datum, source),
        tiles=(
            TileLayer(
                url, settings.subdomains or "", settings.attribution or "", settings.max_zoom
            ),
        ),
        labels=False,
    )


def tile_datum(text: str | None, source: str) -> Datum:
    """The declared datum of a tile source: wgs84, cgcs2000 or gcj02, never a guess."""
    accepted = ", ".join(TILE_DATUMS)
    if not text or not text.strip():
        raise ConfigurationError(
            f"GRIDMAP_BASEMAP={source} needs GRIDMAP_BASEMAP_DATUM, the datum its tiles are "
            f"drawn in ({accepted}): GCJ-02 tiles (most Chinese map services) taken for WGS84 "
            "put every overlay hundreds of metres off, so the datum is never guessed"
        )
    try:
        datum = parse_datum(text)
    except UnknownDatumError as exc:
        raise ConfigurationError(
            f"GRIDMAP_BASEMAP_DATUM: {exc}; tiles need one of {accepted}"
        ) from exc
    if datum.kind.value not in TILE_DATUMS:
        raise ConfigurationError(
            f"GRIDMAP_BASEMAP_DATUM={text!r} is not a datum tiles can be drawn in here; "
            f"use one of: {accepted}"
        )
    return datum
