"""The documented shapes of the OGC API - Features answers (landing page, conformance,
collections, queryables, items, CRS documents).

Models for /openapi.json only, each with an example, like ``api.schemas`` (kept apart
as ``api.tile_docs`` is for the tiles); the answers are built as dicts in
``api.routes.ogc`` and checked against these by the schemathesis test.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.responses import FeatureDoc
from api.responses import example_config as _example


class OgcLinkDoc(BaseModel):
    """A link as OGC API documents carry them; ``templated`` for URL templates."""

    model_config = ConfigDict(extra="allow")

    href: str = Field(examples=["http://localhost:8000/ogc/tileMatrixSets/WebMercatorQuad"])
    rel: str = Field(examples=["self", "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"])
    type: str | None = Field(default=None, examples=["application/json"])
    title: str | None = None
    templated: bool | None = None


class LandingPageDoc(BaseModel):
    """The OGC API landing page: where the API's description, conformance and data are."""

    model_config = _example(
        {
            "title": "gridmap",
            "description": "网格化管理数据（OGC API - Features）",
            "links": [
                {"href": "http://localhost:8000/ogc", "rel": "self", "type": "application/json"},
                {
                    "href": "http://localhost:8000/ogc/collections",
                    "rel": "data",
                    "type": "application/json",
                },
            ],
        }
    )
    title: str
    description: str
    links: list[OgcLinkDoc]


class ConformanceDoc(BaseModel):
    """The conformance classes this server implements (URIs)."""

    model_config = _example(
        {"conformsTo": ["http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"]}
    )
    conformsTo: list[str]


class ExtentDoc(BaseModel):
    spatial: dict[str, Any] = Field(description="``bbox`` [[west, south, east, north]], ``crs``.")
    temporal: dict[str, Any] | None = Field(
        None, description="``interval`` [[start, end]] (null: open), ``trs``."
    )


class OgcCollectionDoc(BaseModel):
    """One collection: what it holds, its extent, CRSs, and links to its items."""

    model_config = _example(
        {
            "id": "buildings",
            "title": "楼栋",
            "description": "楼栋（位置点）",
            "itemType": "feature",
            "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
            "storageCrs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            "extent": {
                "spatial": {
                    "bbox": [[119.09, 36.61, 119.3, 36.77]],
                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                }
            },
            "links": [
                {
                    "href": "http://localhost:8000/ogc/collections/buildings/items",
                    "rel": "items",
                    "type": "application/geo+json",
                }
            ],
        }
    )
    id: str
    title: str
    description: str
    itemType: str
    crs: list[str]
    storageCrs: str
    extent: ExtentDoc | None = None
    links: list[OgcLinkDoc]


class OgcCollectionsDoc(BaseModel):
    """The collections the caller may read."""

    model_config = _example(
        {
            "links": [
                {
                    "href": "http://localhost:8000/ogc/collections",
                    "rel": "self",
                    "type": "application/json",
                }
            ],
            "collections": [],
            "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        }
    )
    links: list[OgcLinkDoc]
    collections: list[OgcCollectionDoc]
    crs: list[str] | None = None


class QueryablesDoc(BaseModel):
    """A collection's queryables as JSON Schema (OGC API - Features Part 3)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "$id": "http://localhost:8000/ogc/collections/buildings/queryables",
                    "type": "object",
                    "title": "Buildings",
                    "properties": {"floors": {"type": "integer", "title": "floors"}},
                }
            ]
        },
    )
    schema_: str = Field(alias="$schema")
    id_: str = Field(alias="$id")
    type: str
    title: str
    properties: dict[str, dict[str, Any]]


class OgcFeatureCollectionDoc(BaseModel):
    """A page of items: GeoJSON with ``numberMatched``, ``numberReturned`` and
    ``next``/``prev`` links (keyset: ``after``/``before`` an item id)."""

    model_config = _example(
        {
            "type": "FeatureCollection",
            "numberMatched": 20843,
            "numberReturned": 1,
            "timeStamp": "2026-05-01T08:00:00Z",
            "links": [
                {
                    "href": "http://localhost:8000/ogc/collections/buildings/items?limit=1&after=1",
                    "rel": "next",
                    "type": "application/geo+json",
                }
            ],
            "features": [
                {
                    "type": "Feature",
                    "id": 1,
                    "geometry": {"type": "Point", "coordinates": [119.1118819, 36.7316617]},
                    "properties": {"grid_code": "370705001001003", "households": 36},
                }
            ],
        }
    )
    type: str = "FeatureCollection"
    numberMatched: int = Field(description="Items matching the query, over all pages.")
    numberReturned: int = Field(description="Items in this page.")
    timeStamp: str
    links: list[OgcLinkDoc]
    features: list[FeatureDoc]


class OgcFeatureDoc(FeatureDoc):
    """One item (GeoJSON Feature) with its links."""

    model_config = _example(
        {
            "type": "Feature",
            "id": 1,
            "geometry": {"type": "Point", "coordinates": [119.1118819, 36.7316617]},
            "properties": {"grid_code": "370705001001003", "households": 36},
            "links": [],
        }
    )
    links: list[OgcLinkDoc] | None = None


class CrsDefinitionDoc(BaseModel):
    """What one of this server's own CRS URIs (GCJ-02, BD-09) means."""

    model_config = _example(
        {
            "id": "gcj02",
            "uri": "http://localhost:8000/ogc/crs/gcj02",
            "name": "GCJ-02",
            "axes": ["longitude (degrees east)", "latitude (degrees north)"],
            "base": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            "description": "The offset datum of Chinese consumer maps (Amap, Tencent).",
            "description_zh": "国内消费级地图（高德、腾讯）使用的偏移坐标系。",
        }
    )
    id: str
    uri: str
    name: str
    axes: list[str]
    base: str
    description: str
    description_zh: str
