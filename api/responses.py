"""GeoJSON responses in the style of OGC API Features, and CSV for spreadsheets.

A collection answers ``{"type": "FeatureCollection", "features": [...],
"numberMatched": N, "numberReturned": n, "links": [...]}`` with the media type
``application/geo+json``; ``next``/``prev`` links carry the same filters with
the offset moved by one page. The same links go out as an RFC 8288 ``Link``
header, with the total in ``X-Total-Count`` (``paging_headers``), on every paged
answer, CSV pages included: nothing is cut short without saying so.

Coordinates leave in the datum the caller asked for (``datum=``,
``api.dependencies.DatumOutDep``), converted here and only here, one helper per
kind of answer, all on ``gis.geo.datum``: ``geojson_out`` for GeoJSON bodies
(geometries and ``bbox`` members), ``lonlat_out`` for explicit ``lon``/``lat``
fields, ``table_out`` for the ``lon``/``lat`` columns of a CSV, ``frame_out`` for
a GeoDataFrame written to a file. The stored numbers are WGS84; WGS84 and
CGCS2000 answers are them unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import URL

from api.dependencies import Paging
from gis.geo.datum import (
    CGCS2000,
    WGS84,
    Datum,
    from_wgs84,
    geojson_from_wgs84,
    geometry_from_wgs84,
    passes_through,
)
from gis.geo.geojson import GEOJSON_DECIMALS, Feature, Page

GEOJSON = "application/geo+json"


def example_config(
    example: Any, *, extra: Literal["allow", "ignore", "forbid"] | None = None
) -> ConfigDict:
    """A documented answer's model config with one example of it: /openapi.json shows it,
    and tests/api/test_openapi_schemas.py checks it against the model's schema."""
    config = ConfigDict(json_schema_extra={"examples": [example]})
    if extra is not None:
        config["extra"] = extra
    return config


def example_of(model: type[BaseModel]) -> Any:
    """The example ``example_config`` gave ``model``."""
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict), f"{model.__name__} has no example"
    examples = extra["examples"]
    assert isinstance(examples, list)
    return examples[0]


def restore_examples(document: dict[str, Any], routes: Iterable[Any]) -> None:
    """Put the examples back into ``document`` as written, nulls included.

    FastAPI encodes the generated OpenAPI document with ``exclude_none``, which drops
    every null of an example too (``"closed_at": null`` of an open case), so that an
    example no longer matches its own schema. The examples of the models
    (``example_config``) and of the routes' ``responses`` content are set again.
    """
    schemas = document.get("components", {}).get("schemas", {})
    for model in _models(BaseModel):
        extra = model.model_config.get("json_schema_extra")
        ours = model.__module__.startswith("api.") and model.__name__ in schemas
        if ours and isinstance(extra, dict) and "examples" in extra:
            schemas[model.__name__]["examples"] = extra["examples"]
    for route in routes:
        for method in getattr(route, "methods", None) or ():
            operation = document.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            for status, response in (getattr(route, "responses", None) or {}).items():
                documented = operation["responses"].get(str(status), {}).get("content", {})
                for media_type, entry in (response.get("content") or {}).items():
                    if "example" in entry and media_type in documented:
                        documented[media_type]["example"] = entry["example"]


def _models(cls: type[BaseModel]) -> Iterable[type[BaseModel]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _models(sub)


class GeoJSONResponse(JSONResponse):
    """GeoJSON encoded by orjson: a district's polygons are megabytes of floats, and the
    standard library's encoder held the GIL for a tenth of a second per hot-spot map,
    long enough to stall /healthz behind a burst of analyses (tests/api/test_burst.py).
    NaN and infinities become null, as GeoJSON has no other spelling for them."""

    media_type = GEOJSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


class Link(BaseModel):
    href: str
    rel: str
    type: str = GEOJSON


FACILITY_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": 31,
    "geometry": {"type": "Point", "coordinates": [119.1134221, 36.7127304]},
    "properties": {
        "id": 31,
        "type": "kindergarten",
        "type_name_zh": "幼儿园",
        "name": "东苑幼儿园",
        "capacity": 180,
        "floor_area_m2": 2400.0,
        "opening_hours": "07:30-17:30",
        "address": "东关街道东苑社区 12号",
        "community_code": "370705001001",
        "radius_m": 300,
        "ext_id": None,
        "version": 4,
    },
}
"""A facility as GET /api/v1/facilities/{id} answers it: the example of a feature."""


def collection_example(*features: dict[str, Any], url: str = "/api/v1/facilities") -> Any:
    """A one-page FeatureCollection of ``features`` that has a next page."""
    base = f"https://gridmap.example.cn{url}"
    return {
        "type": "FeatureCollection",
        "numberMatched": 2417,
        "numberReturned": len(features),
        "links": [
            {"href": f"{base}?limit=1000", "rel": "self", "type": GEOJSON},
            {"href": f"{base}?limit=1000&offset=1000", "rel": "next", "type": GEOJSON},
        ],
        "features": list(features),
    }


class FeatureDoc(BaseModel):
    model_config = example_config(FACILITY_FEATURE)

    type: str = "Feature"
    id: str | int
    geometry: dict[str, Any] | None
    properties: dict[str, Any]


class FeatureCollectionDoc(BaseModel):
    """The documented shape of every collection response (not used to validate)."""

    model_config = example_config(collection_example(FACILITY_FEATURE))

    type: str = "FeatureCollection"
    features: list[FeatureDoc]
    numberMatched: int = Field(description="Features matching the filters, over all pages.")
    numberReturned: int = Field(description="Features in this response.")
    links: list[Link]


class ErrorDoc(BaseModel):
    """The shape of every error response."""

    model_config = example_config(
        {
            "status": 400,
            "code": "InvalidParameter",
            "description": "datum 'gcj-03' is not one coordinates can be answered in; use one "
            "of: wgs84, cgcs2000, gcj02, bd09",
            "errors": None,
        }
    )

    status: int
    code: str = Field(description="Short machine-readable name, e.g. InvalidParameter.")
    description: str = Field(description="What was wrong and how to fix it.")
    errors: list[dict[str, Any]] | None = None


def page_links(url: URL, offset: int, limit: int, returned: int, matched: int) -> dict[str, str]:
    """``next`` and ``prev`` URLs of a page: the same query with the offset moved by a page."""
    links: dict[str, str] = {}
    if returned and offset + returned < matched:
        links["next"] = str(url.include_query_params(offset=offset + limit))
    if offset > 0:
        links["prev"] = str(url.include_query_params(offset=max(0, offset - limit)))
    return links


def paging_headers(
    request: Request, offset: int, limit: int, returned: int, matched: int
) -> dict[str, str]:
    """``Link`` (RFC 8288, rel next/prev where there are such pages) and ``X-Total-Count``
    (every matching item over all pages): what a client that reads only headers (a CSV
    download, a spreadsheet) needs to know the page is not everything."""
    links = page_links(request.url, offset, limit, returned, matched)
    headers = {"X-Total-Count": str(matched)}
    if links:
        headers["Link"] = ", ".join(f'<{href}>; rel="{rel}"' for rel, href in links.items())
    return headers


PAGING_HEADERS: dict[str, Any] = {
    "Link": {
        "description": 'RFC 8288 links to the neighbouring pages: <url>; rel="next", '
        '<url>; rel="prev" (absent on a single page). Follow rel="next" until there is '
        "none to read every matching item.",
        "schema": {"type": "string"},
    },
    "X-Total-Count": {
        "description": "How many items match over all pages (numberMatched).",
        "schema": {"type": "integer"},
    },
}
"""The headers of every paged answer, as /openapi.json documents them."""


def feature_collection(
    page: Page, request: Request, paging: Paging, datum: Datum = WGS84
) -> GeoJSONResponse:
    """The page as a FeatureCollection with self/next/prev links (in the body and in a
    ``Link`` header, with ``X-Total-Count``), its coordinates in ``datum``."""
    links = [Link(href=str(request.url), rel="self").model_dump()]
    found = page_links(
        request.url, paging.offset, paging.limit, len(page.features), page.number_matched
    )
    links.extend(Link(href=href, rel=rel).model_dump() for rel, href in found.items())
    body = {
        "type": "FeatureCollection",
        "numberMatched": page.number_matched,
        "numberReturned": len(page.features),
        "links": links,
        "features": geojson_out(page.features, datum),
    }
    headers = paging_headers(
        request, paging.offset, paging.limit, len(page.features), page.number_matched
    )
    return GeoJSONResponse(body, headers=headers)


def feature(item: Feature, datum: Datum = WGS84, **headers: str) -> GeoJSONResponse:
    return GeoJSONResponse(geojson_out(item, datum), headers=headers or None)


# ---- coordinates out, in the datum asked for ------------------------------------------


def geojson_out(body: Any, datum: Datum, decimals: int = GEOJSON_DECIMALS) -> Any:
    """``body`` (a geometry, Feature, FeatureCollection, a list of them or any JSON holding
    them) with every geometry and ``bbox`` in ``datum``, rounded to ``decimals`` as the
    stored coordinates were (WGS84 and CGCS2000: ``body`` itself)."""
    if passes_through(datum):
        return body
    return _rounded(geojson_from_wgs84(body, datum), decimals)


def _rounded(value: Any, decimals: int) -> Any:
    """``value`` with the numbers of every ``coordinates`` and ``bbox`` member rounded."""
    if isinstance(value, list):
        return [_rounded(v, decimals) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        k: _numbers(v, decimals) if k in ("coordinates", "bbox") else _rounded(v, decimals)
        for k, v in value.items()
    }


def _numbers(value: Any, decimals: int) -> Any:
    if isinstance(value, float):
        return round(value, decimals)
    if isinstance(value, list):
        return [_numbers(v, decimals) for v in value]
    return value


def pairs_out(
    pairs: Iterable[tuple[float, float]], datum: Datum, decimals: int = GEOJSON_DECIMALS
) -> list[tuple[float, float]]:
    """WGS84 (lon, lat) pairs in ``datum``, rounded to ``decimals``: one conversion call."""
    listed = list(pairs)
    if passes_through(datum) or not listed:
        return listed
    lon, lat = from_wgs84([p[0] for p in listed], [p[1] for p in listed], datum)
    return [
        (round(x, decimals), round(y, decimals))
        for x, y in zip(lon.tolist(), lat.tolist(), strict=True)
    ]


def lonlat_out(
    items: list[dict[str, Any]], datum: Datum, decimals: int = GEOJSON_DECIMALS
) -> list[dict[str, Any]]:
    """Copies of ``items`` with their ``lon``/``lat`` fields (where not null) and a
    four-number ``bbox`` field in ``datum``; WGS84 and CGCS2000: ``items`` themselves."""
    if passes_through(datum):
        return items
    out = [dict(item) for item in items]
    located = [o for o in out if o.get("lon") is not None and o.get("lat") is not None]
    for o, (lon, lat) in zip(
        located, pairs_out(((o["lon"], o["lat"]) for o in located), datum, decimals), strict=True
    ):
        o["lon"], o["lat"] = lon, lat
    for o in out:
        box = o.get("bbox")
        if isinstance(box, list) and len(box) == 4:
            (x0, y0), (x1, y1) = pairs_out([(box[0], box[1]), (box[2], box[3])], datum, decimals)
            o["bbox"] = [x0, y0, x1, y1]
    return out


def table_out(table: pd.DataFrame, datum: Datum, decimals: int = GEOJSON_DECIMALS) -> pd.DataFrame:
    """A table's ``lon``/``lat`` columns in ``datum`` (rows without a position keep nulls)."""
    if passes_through(datum) or "lon" not in table or "lat" not in table or table.empty:
        return table
    out = table.copy()
    lon = np.array(pd.to_numeric(out["lon"], errors="coerce"), dtype=float)  # a copy:
    lat = np.array(pd.to_numeric(out["lat"], errors="coerce"), dtype=float)  # written below
    known = np.isfinite(lon) & np.isfinite(lat)
    if known.any():
        x, y = from_wgs84(lon[known], lat[known], datum)
        lon[known], lat[known] = np.round(x, decimals), np.round(y, decimals)
    out["lon"], out["lat"] = lon, lat
    return out


def frame_out(frame: gpd.GeoDataFrame, datum: Datum) -> gpd.GeoDataFrame:
    """A GeoDataFrame (EPSG:4326) with its geometries and ``lon``/``lat`` columns in
    ``datum``, for a file: its CRS EPSG:4326, EPSG:4490 for CGCS2000, and none for GCJ-02
    and BD-09 (they have no EPSG code; the file's name and the request say which)."""
    if passes_through(datum):
        return frame.set_crs(4490, allow_override=True) if datum == CGCS2000 else frame
    out = table_out(frame, datum)
    moved = [None if g is None else geometry_from_wgs84(g, datum) for g in frame.geometry]
    return gpd.GeoDataFrame(out.drop(columns=frame.geometry.name), geometry=moved, crs=None)


def collection_responses(
    example: Any, model: type[BaseModel] = FeatureCollectionDoc
) -> dict[int | str, dict[str, Any]]:
    """The responses of a paged collection whose page looks like ``example``."""
    return {
        200: {
            "model": model,
            "content": {GEOJSON: {"example": example}},
            "headers": PAGING_HEADERS,
        },
        400: {"model": ErrorDoc, "description": "A parameter is malformed or out of range."},
        503: {"model": ErrorDoc, "description": "The database cannot be reached."},
    }


COLLECTION_RESPONSES = collection_responses(collection_example(FACILITY_FEATURE))
"""The responses of a paged collection of facilities (``collection_responses`` for others)."""


def csv_response(
    df: pd.DataFrame, filename: str, headers: dict[str, str] | None = None
) -> Response:
    """A table as CSV in UTF-8 with a byte-order mark, so that Excel shows Chinese names."""
    return Response(
        df.to_csv(index=False).encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **(headers or {})},
    )


def features_table(features: list[Feature], datum: Datum = WGS84) -> pd.DataFrame:
    """Point features as rows: ``lon``, ``lat`` (in ``datum``) then their properties."""
    rows = []
    for f in geojson_out(features, datum):
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
