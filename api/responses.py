"""GeoJSON responses in the style of OGC API Features, and CSV for spreadsheets.

A collection answers ``{"type": "FeatureCollection", "features": [...],
"numberMatched": N, "numberReturned": n, "links": [...]}`` with the media type
``application/geo+json``; ``next``/``prev`` links carry the same filters with
the offset moved by one page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.dependencies import Paging
from gis.geo.geojson import Feature, Page

GEOJSON = "application/geo+json"


class GeoJSONResponse(JSONResponse):
    media_type = GEOJSON


class Link(BaseModel):
    href: str
    rel: str
    type: str = GEOJSON


class FeatureCollectionDoc(BaseModel):
    """The documented shape of every collection response (not used to validate)."""

    type: str = "FeatureCollection"
    features: list[dict[str, Any]]
    numberMatched: int = Field(description="Features matching the filters, over all pages.")
    numberReturned: int = Field(description="Features in this response.")
    links: list[Link]


class FeatureDoc(BaseModel):
    type: str = "Feature"
    id: str | int
    geometry: dict[str, Any] | None
    properties: dict[str, Any]


class ErrorDoc(BaseModel):
    """The shape of every error response."""

    status: int
    code: str = Field(description="Short machine-readable name, e.g. InvalidParameter.")
    description: str = Field(description="What was wrong and how to fix it.")
    errors: list[dict[str, Any]] | None = None


def feature_collection(page: Page, request: Request, paging: Paging) -> GeoJSONResponse:
    """The page as a FeatureCollection with self/next/prev links."""
    links = [Link(href=str(request.url), rel="self").model_dump()]
    if paging.offset + len(page.features) < page.number_matched and page.features:
        url = request.url.include_query_params(offset=paging.offset + paging.limit)
        links.append(Link(href=str(url), rel="next").model_dump())
    if paging.offset > 0:
        url = request.url.include_query_params(offset=max(0, paging.offset - paging.limit))
        links.append(Link(href=str(url), rel="prev").model_dump())
    body = {
        "type": "FeatureCollection",
        "numberMatched": page.number_matched,
        "numberReturned": len(page.features),
        "links": links,
        "features": page.features,
    }
    return GeoJSONResponse(body)


def feature(item: Feature) -> GeoJSONResponse:
    return GeoJSONResponse(item)


COLLECTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": FeatureCollectionDoc, "content": {GEOJSON: {}}},
    400: {"model": ErrorDoc, "description": "A parameter is malformed or out of range."},
    503: {"model": ErrorDoc, "description": "The database cannot be reached."},
}


def csv_response(df: pd.DataFrame, filename: str) -> Response:
    """A table as CSV in UTF-8 with a byte-order mark, so that Excel shows Chinese names."""
    return Response(
        df.to_csv(index=False).encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def features_table(features: list[Feature]) -> pd.DataFrame:
    """Point features as rows: ``lon``, ``lat`` (WGS84) then their properties."""
    rows = []
    for f in features:
        geometry = f.get("geometry") or {}
        lon, lat = (geometry.get("coordinates") or (None, None))[:2]
        rows.append({"lon": lon, "lat": lat, **f["properties"]})
    return pd.DataFrame(rows)


HEAVY_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorDoc,
        "description": "ServerBusy: as many analyses as the server runs at once are "
        "running; QueryTimeout: this one ran past its time limit (ask for a shorter period "
        "or a smaller area); DatabaseUnavailable. Retry after ``Retry-After`` seconds.",
    }
}
"""The 503 a heavy route documents (``responses={**HEAVY_RESPONSES, ...}``)."""
