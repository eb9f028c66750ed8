"""The documented shapes of the vector-tile answers (OGC API - Tiles, TileJSON, styles).

Like ``api.schemas`` (kept apart so the tile routes' documents stay in one place):
models for /openapi.json only, each with an example; answers are built as dicts
in ``api.routes.tiles`` and checked against these by the schemathesis test.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.ogc_docs import OgcLinkDoc

MVT = "application/vnd.mapbox-vector-tile"

_WMQ_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"


class TileMatrixSetRefDoc(BaseModel):
    id: str = Field(examples=["WebMercatorQuad"])
    title: str | None = Field(default=None, examples=["Google Maps Compatible for the World"])
    uri: str | None = Field(default=None, examples=[_WMQ_URI])
    links: list[OgcLinkDoc]


class TileMatrixSetsDoc(BaseModel):
    """The tile matrix sets this server tiles in (OGC API - Tiles, /tileMatrixSets)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tileMatrixSets": [
                        {
                            "id": "WebMercatorQuad",
                            "title": "Google Maps Compatible for the World",
                            "uri": _WMQ_URI,
                            "links": [
                                {
                                    "href": "http://localhost:8000/ogc/tileMatrixSets/WebMercatorQuad",
                                    "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                                    "type": "application/json",
                                }
                            ],
                        }
                    ]
                }
            ]
        }
    )

    tileMatrixSets: list[TileMatrixSetRefDoc]


class TileMatrixDoc(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(examples=["14"])
    scaleDenominator: float
    cellSize: float
    pointOfOrigin: list[float]
    tileWidth: int = Field(examples=[256])
    tileHeight: int = Field(examples=[256])
    matrixWidth: int
    matrixHeight: int


class TileMatrixSetDoc(BaseModel):
    """A tile matrix set as OGC Two Dimensional Tile Matrix Set 2.0 JSON (morecantile's)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "id": "WebMercatorQuad",
                    "uri": _WMQ_URI,
                    "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
                    "tileMatrices": [
                        {
                            "id": "0",
                            "scaleDenominator": 559082264.0287178,
                            "cellSize": 156543.03392804097,
                            "pointOfOrigin": [-20037508.342789244, 20037508.342789244],
                            "tileWidth": 256,
                            "tileHeight": 256,
                            "matrixWidth": 1,
                            "matrixHeight": 1,
                        }
                    ],
                }
            ]
        },
    )

    id: str | None = Field(default=None, examples=["WebMercatorQuad"])
    crs: Any = Field(examples=["http://www.opengis.net/def/crs/EPSG/0/3857"])
    tileMatrices: list[TileMatrixDoc]


class TileMatrixLimitsDoc(BaseModel):
    tileMatrix: str = Field(examples=["14"])
    minTileRow: int
    maxTileRow: int
    minTileCol: int
    maxTileCol: int


class GeospatialDataDoc(BaseModel):
    """A layer of a vector tile set (OGC API - Tiles ``layers``)."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(examples=["buildings"])
    title: str | None = None
    dataType: str = Field(examples=["vector"])
    geometryDimension: int | None = Field(default=None, examples=[0, 2])
    minTileMatrix: str | None = Field(default=None, examples=["13"])
    maxTileMatrix: str | None = Field(default=None, examples=["18"])
    propertiesSchema: dict[str, Any] | None = None


class TileSetDoc(BaseModel):
    """A tile set's metadata (OGC API - Tiles ``tileSet``)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "title": "Buildings",
                    "dataType": "vector",
                    "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
                    "tileMatrixSetURI": _WMQ_URI,
                    "tileMatrixSetLimits": [
                        {
                            "tileMatrix": "13",
                            "minTileRow": 0,
                            "maxTileRow": 8191,
                            "minTileCol": 0,
                            "maxTileCol": 8191,
                        }
                    ],
                    "layers": [
                        {
                            "id": "buildings",
                            "dataType": "vector",
                            "geometryDimension": 0,
                            "minTileMatrix": "13",
                            "maxTileMatrix": "18",
                        }
                    ],
                    "links": [
                        {
                            "href": "http://localhost:8000/ogc/collections/buildings/tiles/"
                            "WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}",
                            "rel": "item",
                            "type": MVT,
                            "templated": True,
                        }
                    ],
                }
            ]
        },
    )

    title: str | None = None
    dataType: str = Field(examples=["vector"])
    crs: Any = Field(examples=["http://www.opengis.net/def/crs/EPSG/0/3857"])
    tileMatrixSetURI: str | None = Field(default=None, examples=[_WMQ_URI])
    tileMatrixSetLimits: list[TileMatrixLimitsDoc] | None = None
    layers: list[GeospatialDataDoc] | None = None
    links: list[OgcLinkDoc]


class TileSetRefDoc(BaseModel):
    model_config = ConfigDict(extra="allow")

    title: str | None = None
    dataType: str = Field(examples=["vector"])
    crs: Any = Field(examples=["http://www.opengis.net/def/crs/EPSG/0/3857"])
    tileMatrixSetURI: str | None = Field(default=None, examples=[_WMQ_URI])
    links: list[OgcLinkDoc]


class TileSetsDoc(BaseModel):
    """The tile sets of a collection or of the dataset (OGC API - Tiles ``tilesets``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tilesets": [
                        {
                            "title": "Buildings",
                            "dataType": "vector",
                            "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
                            "tileMatrixSetURI": _WMQ_URI,
                            "links": [
                                {
                                    "href": "http://localhost:8000/ogc/collections/buildings/"
                                    "tiles/WebMercatorQuad",
                                    "rel": "self",
                                    "type": "application/json",
                                }
                            ],
                        }
                    ]
                }
            ]
        }
    )

    tilesets: list[TileSetRefDoc]


class VectorLayerDoc(BaseModel):
    id: str = Field(examples=["buildings"])
    fields: dict[str, str] = Field(examples=[{"households": "Number", "name": "String"}])
    description: str | None = None
    minzoom: int | None = Field(default=None, examples=[13])
    maxzoom: int | None = Field(default=None, examples=[18])


class TileJSONDoc(BaseModel):
    """TileJSON 3.0.0: where the tiles are and what their layers hold (MapLibre, QGIS)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "tilejson": "3.0.0",
                    "name": "buildings",
                    "tiles": [
                        "http://localhost:8000/ogc/collections/buildings/tiles/WebMercatorQuad/"
                        "{z}/{y}/{x}"
                    ],
                    "minzoom": 13,
                    "maxzoom": 18,
                    "bounds": [119.09, 36.6, 119.3, 36.77],
                    "center": [119.2, 36.69, 14],
                    "vector_layers": [
                        {
                            "id": "buildings",
                            "fields": {"households": "Number", "floors": "Number"},
                            "minzoom": 13,
                            "maxzoom": 18,
                        }
                    ],
                }
            ]
        },
    )

    tilejson: str = Field(examples=["3.0.0"])
    tiles: list[str]
    name: str | None = None
    description: str | None = None
    minzoom: int
    maxzoom: int
    bounds: list[float] | None = Field(default=None, examples=[[119.09, 36.6, 119.3, 36.77]])
    center: list[float] | None = None
    vector_layers: list[VectorLayerDoc]


class StyleDoc(BaseModel):
    """A Mapbox GL / MapLibre style (version 8) drawing the tile layers with gridmap's colours."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "version": 8,
                    "name": "gridmap",
                    "sources": {
                        "gridmap": {
                            "type": "vector",
                            "url": "http://localhost:8000/ogc/tiles/WebMercatorQuad/tilejson.json",
                        }
                    },
                    "layers": [
                        {
                            "id": "grids-fill",
                            "type": "fill",
                            "source": "gridmap",
                            "source-layer": "grids",
                            "paint": {"fill-color": "#3182bd", "fill-opacity": 0.08},
                        }
                    ],
                }
            ]
        },
    )

    version: int = Field(examples=[8])
    name: str | None = None
    sources: dict[str, Any]
    layers: list[dict[str, Any]]


class StylesDoc(BaseModel):
    """The styles this server offers (OGC API - Styles' list shape)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "styles": [
                        {
                            "id": "default",
                            "title": "gridmap",
                            "links": [
                                {
                                    "href": "http://localhost:8000/ogc/styles/default",
                                    "rel": "stylesheet",
                                    "type": "application/vnd.mapbox.style+json",
                                }
                            ],
                        }
                    ]
                }
            ]
        }
    )

    styles: list[dict[str, Any]]
