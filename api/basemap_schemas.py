"""Documented answers about the base map and search.

As in ``api.schemas`` (whose module docstring says how these are used and checked).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.responses import FeatureDoc, example_config
from api.schemas import GRID, GRID_NAME
from gis.basemap.search import Hit

_example = example_config


# ---- basemap and search (issue 11) ---------------------------------------------------------


class TileLayerDoc(BaseModel):
    """A Leaflet tile layer (``L.tileLayer(url, {subdomains, attribution, maxZoom})``)."""

    url: str = Field(description="URL template with {z}, {x}, {y} (and {s}).")
    subdomains: str
    attribution: str
    maxZoom: int


class BasemapDoc(BaseModel):
    """The base map a page draws under its data."""

    model_config = _example(
        {
            "source": "offline",
            "datum": "wgs84",
            "display": "wgs84",
            "tiles": [],
            "labels": True,
            "streets_url": "/api/v1/basemap/streets",
            "places_url": "/api/v1/basemap/places",
        }
    )

    source: str = Field(examples=["offline", "tianditu", "amap", "tencent", "xyz", "wmts"])
    datum: str = Field(description="The datum the base map is drawn in (wgs84, cgcs2000, gcj02).")
    display: str = Field(
        description="The datum overlays must be converted to before drawing: wgs84 or gcj02."
    )
    tiles: list[TileLayerDoc] = Field(description="Tile layers, bottom first; none offline.")
    labels: bool = Field(description="The page draws its own street and place names.")
    streets_url: str
    places_url: str


class StreetPropertiesDoc(BaseModel):
    name: str
    kind: str = Field(description="main, secondary or local.")
    length_m: float


STREET_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": "东风东街",
    "geometry": {"type": "LineString", "coordinates": [[119.101, 36.7105], [119.1243, 36.7106]]},
    "properties": {"name": "东风东街", "kind": "main", "length_m": 2081.4},
}


class StreetFeatureDoc(FeatureDoc):
    model_config = _example(STREET_FEATURE)

    properties: StreetPropertiesDoc  # type: ignore[assignment]  # narrower than FeatureDoc's


class StreetsDoc(BaseModel):
    model_config = _example(
        {
            "type": "FeatureCollection",
            "zoom": 16,
            "kinds": ["main", "secondary", "local"],
            "numberReturned": 1,
            "features": [STREET_FEATURE],
        }
    )
    type: str = "FeatureCollection"
    zoom: int
    kinds: list[str] = Field(description="The kinds of street drawn at this zoom.")
    numberReturned: int
    features: list[StreetFeatureDoc]


class PlacePropertiesDoc(BaseModel):
    code: str
    name: str
    level: str = Field(description="subdistrict, community or grid.")


PLACE_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": GRID,
    "geometry": {"type": "Point", "coordinates": [119.1125, 36.73]},
    "properties": {"code": GRID, "name": GRID_NAME, "level": "grid"},
}


class PlaceFeatureDoc(FeatureDoc):
    model_config = _example(PLACE_FEATURE)

    properties: PlacePropertiesDoc  # type: ignore[assignment]  # narrower than FeatureDoc's


class PlacesDoc(BaseModel):
    model_config = _example(
        {
            "type": "FeatureCollection",
            "zoom": 16,
            "levels": ["grid"],
            "numberReturned": 1,
            "features": [PLACE_FEATURE],
        }
    )
    type: str = "FeatureCollection"
    zoom: int
    levels: list[str]
    numberReturned: int
    features: list[PlaceFeatureDoc]


class SearchDoc(BaseModel):
    """Search results, best first."""

    model_config = _example(
        {
            "items": [
                {
                    "kind": "grid",
                    "kind_zh": "网格",
                    "label": GRID_NAME,
                    "sublabel": "东关街道 东苑社区",
                    "code": GRID,
                    "id": None,
                    "lon": 119.1125,
                    "lat": 36.73,
                    "bbox": [119.1, 36.7, 119.125, 36.76],
                    "url": f"/grid/{GRID}",
                }
            ]
        }
    )

    items: list[Hit]
