"""The printable map drawn from GeoDataFrames alone (no database): bytes, pixels, scale."""

from __future__ import annotations

import datetime as dt
import io

import geopandas as gpd
import numpy as np
import pytest
from PIL import Image
from shapely.geometry import Point, box

from layers.printmap import PrintText, print_map, scale_length_m

TEXT = PrintText(
    "东苑社区 幼儿园服务覆盖图", "幼儿园 · 服务半径 300 米", "测试数据", dt.date(2026, 12, 6)
)
BOX = [119.10, 36.70, 119.12, 36.71]


def frames() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    grids = gpd.GeoDataFrame(
        {"coverage_rate": [0.2, np.nan]},
        geometry=[box(119.10, 36.70, 119.11, 36.71), box(119.11, 36.70, 119.12, 36.71)],
        crs="EPSG:4326",
    )
    buildings = gpd.GeoDataFrame(
        {"covered": [True, False]},
        geometry=[Point(119.105, 36.705), Point(119.115, 36.705)],
        crs="EPSG:4326",
    )
    facilities = gpd.GeoDataFrame(
        {"name": ["东苑幼儿园"]}, geometry=[Point(119.104, 36.704)], crs="EPSG:4326"
    )
    return grids, buildings, facilities


@pytest.mark.parametrize(
    ("width_m", "expected"), [(1000, 200), (1800, 250), (5000, 1000), (40, 50), (200_000, 20000)]
)
def test_the_scale_bar_is_a_round_fifth_of_the_map(width_m: float, expected: int) -> None:
    assert scale_length_m(width_m) == expected


def test_a_png_with_title_and_colours() -> None:
    grids, buildings, facilities = frames()
    data = print_map(
        grids=grids, buildings=buildings, facilities=facilities, bbox=BOX, radius_m=300, text=TEXT
    )
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    height, width, _ = image.shape
    title = image[int(height * 0.02) : int(height * 0.08), : int(width * 0.5)].min(axis=2)
    assert (title < 100).sum() > 500  # dark strokes of the title
    # The lowest class of the coverage ramp (#d73027 at 60 %) is on the map.
    reds = (image[..., 0] > 200) & (image[..., 1] < 150) & (image[..., 2] < 150)
    assert reds.sum() > 10_000


def test_a_pdf_and_an_empty_box() -> None:
    facilities = frames()[2]
    empty = gpd.GeoDataFrame({"coverage_rate": []}, geometry=[], crs="EPSG:4326")
    none = gpd.GeoDataFrame({"covered": []}, geometry=[], crs="EPSG:4326")
    data = print_map(
        grids=empty,
        buildings=none,
        facilities=facilities.iloc[0:0],
        bbox=BOX,
        radius_m=300,
        text=TEXT,
        fmt="pdf",
    )
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
