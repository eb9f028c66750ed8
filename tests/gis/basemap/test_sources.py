"""Which base map a deployment draws: offline by default, tile services with a declared datum."""

from __future__ import annotations

from typing import Any

import pytest

from gis.basemap.sources import OFFLINE, configured
from gis.errors import ConfigurationError
from gis.settings import BasemapSettings

KEY = "0123456789abcdef0123456789abcdef"


def settings(**env: Any) -> BasemapSettings:
    return BasemapSettings.model_validate(env)


def test_offline_is_the_default_and_needs_nothing() -> None:
    basemap = configured(BasemapSettings.model_validate({}))
    assert basemap == OFFLINE
    assert basemap.tiles == () and basemap.labels and basemap.display == "wgs84"
    assert basemap.image_origins == ()


def test_tianditu_is_cgcs2000_drawn_as_wgs84_with_vector_and_annotation_layers() -> None:
    basemap = configured(settings(GRIDMAP_BASEMAP="tianditu", GRIDMAP_TIANDITU_KEY=KEY))
    assert basemap.datum.label == "cgcs2000"
    assert basemap.display == "wgs84"  # centimetres from WGS84: overlays need no shift
    assert [t.url.split("/")[3] for t in basemap.tiles] == ["vec_w", "cva_w"]
    assert all(f"tk={KEY}" in t.url and "{z}" in t.url for t in basemap.tiles)
    assert basemap.image_origins == ("https://*.tianditu.gov.cn",)
    assert not basemap.labels


@pytest.mark.parametrize("key", [None, "", "short", "key with spaces and more than 8"])
def test_tianditu_without_a_usable_key_is_refused(key: str | None) -> None:
    with pytest.raises(ConfigurationError, match="GRIDMAP_TIANDITU_KEY"):
        configured(settings(GRIDMAP_BASEMAP="tianditu", GRIDMAP_TIANDITU_KEY=key))


@pytest.mark.parametrize("source", ["amap", "tencent", "AMAP"])
def test_amap_and_tencent_declare_gcj02(source: str) -> None:
    basemap = configured(settings(GRIDMAP_BASEMAP=source))
    assert basemap.datum.label == "gcj02" and basemap.display == "gcj02"
    assert len(basemap.tiles) == 1 and basemap.tiles[0].url.startswith("https://")


def test_xyz_needs_url_and_datum() -> None:
    with pytest.raises(ConfigurationError, match="GRIDMAP_BASEMAP_URL"):
        configured(settings(GRIDMAP_BASEMAP="xyz", GRIDMAP_BASEMAP_DATUM="wgs84"))
    with pytest.raises(ConfigurationError, match=r"GRIDMAP_BASEMAP_DATUM.*never guessed"):
        configured(
            settings(GRIDMAP_BASEMAP="xyz", GRIDMAP_BASEMAP_URL="https://t.example/{z}/{x}/{y}.png")
        )
    basemap = configured(
        settings(
            GRIDMAP_BASEMAP="xyz",
            GRIDMAP_BASEMAP_URL="https://{s}.tiles.example.gov.cn/{z}/{x}/{y}.png",
            GRIDMAP_BASEMAP_SUBDOMAINS="abc",
            GRIDMAP_BASEMAP_DATUM="GCJ-02",
            GRIDMAP_BASEMAP_ATTRIBUTION="© 市测绘院",
        )
    )
    assert basemap.display == "gcj02"
    assert basemap.tiles[0].attribution == "© 市测绘院"
    assert basemap.image_origins == ("https://*.tiles.example.gov.cn",)


@pytest.mark.parametrize(
    ("datum", "match"),
    [("bd09", "not a datum tiles"), ("EPSG:4549", "not a datum tiles"), ("mars", "unknown datum")],
)
def test_a_tile_datum_other_than_wgs84_cgcs2000_gcj02_is_refused(datum: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        configured(
            settings(
                GRIDMAP_BASEMAP="wmts",
                GRIDMAP_BASEMAP_URL="https://t.example/{z}/{x}/{y}",
                GRIDMAP_BASEMAP_DATUM=datum,
            )
        )


def test_wmts_template_names_become_leaflets() -> None:
    basemap = configured(
        settings(
            GRIDMAP_BASEMAP="wmts",
            GRIDMAP_BASEMAP_URL="https://map.example.gov.cn/wmts/vec/{TileMatrix}/{TileRow}/{TileCol}.png",
            GRIDMAP_BASEMAP_DATUM="cgcs2000",
        )
    )
    assert basemap.tiles[0].url == "https://map.example.gov.cn/wmts/vec/{z}/{y}/{x}.png"


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("ftp://t.example/{z}/{x}/{y}", "http"),
        ("https://t.example/tiles/{z}/{x}", r"lacks \{y\}"),
        ("https://{s}.t.example/{z}/{x}/{y}", "GRIDMAP_BASEMAP_SUBDOMAINS"),
    ],
)
def test_a_url_that_cannot_be_a_tile_template_is_refused(url: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        configured(
            settings(GRIDMAP_BASEMAP="xyz", GRIDMAP_BASEMAP_URL=url, GRIDMAP_BASEMAP_DATUM="wgs84")
        )


def test_an_unknown_source_is_refused_naming_the_choices() -> None:
    with pytest.raises(ConfigurationError, match="offline, tianditu, amap, tencent, xyz, wmts"):
        configured(settings(GRIDMAP_BASEMAP="google"))
