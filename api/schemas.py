"""The documented shapes of the API's answers: what /openapi.json promises a client.

Handlers answer plain dicts or ``JSONResponse``s built from ``gis``' dataclasses;
where an answer is such a dataclass as it is (a history step, a worklist item) the
dataclass itself is its schema, so the two cannot drift. These models describe the
other answers for the OpenAPI document
(``responses={200: {"model": ...}}``) and are not used to build or filter them.
tests/api/test_schemathesis.py checks every answer against them, as every role
sees it: a field is nullable wherever some caller may get null (a masked
description, a case without a handler), and no model forbids fields it does not
name, so a field added to an answer does not break a client of the document.
Errors are ``api.responses.ErrorDoc`` (documented by ``api.error_docs``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.responses import FeatureDoc
from gis.basemap.search import Hit
from gis.incidents.inbox import InboxCounts, InboxItem
from gis.incidents.monthly import MonthFigures
from gis.incidents.records import HistoryEntry
from gis.incidents.worklists import HandlerChoice, StaffName, WorkItem

# ---- accounts -------------------------------------------------------------------------


class TokenDoc(BaseModel):
    """A bearer login (OAuth2 password flow)."""

    access_token: str = Field(description="Send as ``Authorization: Bearer <access_token>``.")
    token_type: str = Field(description="Always ``bearer``.", examples=["bearer"])
    expires_in: int = Field(description="Seconds the login lasts.")


class LogoutDoc(BaseModel):
    status: str = Field(examples=["logged out"])


class MeDoc(BaseModel):
    """Who is calling."""

    kind: str = Field(description="``person`` (an account) or ``system`` (an API key).")
    username: str | None = Field(description="The account's name; null for a key.")
    name: str = Field(description="The person's or the key's name.")
    role: str | None = Field(description="A person's role code; null for a key.")
    role_zh: str | None = Field(description="The role in Chinese.")
    areas: list[str] | None = Field(
        description="Codes of the grids or areas covered; null: the whole district."
    )
    scopes: list[str] = Field(description="A key's scopes; empty for a person.")
    home: HomeDoc | None = Field(
        None,
        description="Where the person lands: a grid manager's primary grid (``kind`` grid), "
        "other staff and mediators their inbox, a planner the district map; null for a key.",
    )
    home_grids: list[HomeGridDoc] = Field(
        default_factory=list,
        description="A grid manager's grids, the primary (A post) first, then B posts.",
    )


class HomeDoc(BaseModel):
    kind: str = Field(description="grid, inbox or map.")
    url: str = Field(examples=["/grid/370705001001001", "/inbox"])
    grid_code: str | None
    grid_name: str | None


class HomeGridDoc(BaseModel):
    code: str
    name: str
    primary: bool = Field(description="An A post (the person's own grid); false: a B post.")


class AuditEntryDoc(BaseModel):
    id: int
    at: dt.datetime
    principal: str = Field(description="A username, key:<name>, or the name a failed login gave.")
    role: str | None
    action: str = Field(examples=["login", "incident.report", "personal.read"])
    object: str | None = Field(description='What was acted on, e.g. "incident:12".')
    area: str | None = Field(description="The area code of the object.")
    client: str | None = Field(description="The client's address.")
    detail: dict[str, Any] | None


class AuditDoc(BaseModel):
    entries: list[AuditEntryDoc] = Field(description="Newest first.")


class HealthDoc(BaseModel):
    status: str = Field(examples=["ok"])
    database: str = Field(description="The database server's version.")


# ---- incidents ------------------------------------------------------------------------


class IncidentDoc(BaseModel):
    """An incident as the caller may see it (personal data masked where they are not
    responsible: text hidden, the point snapped to the grid's)."""

    id: int
    category: str
    status: str = Field(description="reported, accepted, dispatched, handled, ... closed.")
    lon: float = Field(description="WGS84 degrees.")
    lat: float = Field(description="WGS84 degrees.")
    grid_id: int | None
    grid_code: str | None
    community_id: int | None
    subdistrict_id: int | None
    community_code: str | None
    subdistrict_code: str | None
    handler_staff_id: int | None
    handler: StaffName | None
    handling_level: str = Field(description="grid, community, subdistrict or district.")
    reported_at: dt.datetime
    deadline_at: dt.datetime | None
    clock_started_at: dt.datetime | None
    closed_at: dt.datetime | None
    rework_count: int
    version: int = Field(description="Quote it as expected_version (or its ETag in If-Match).")
    duplicate_of: int | None
    location_datum: str | None
    address: str | None
    description: str | None
    source: str | None
    snapped_m: float | None = Field(description="Metres the point was moved into a grid.")
    media_url: str | None
    supervise_due_at: dt.datetime | None = Field(
        None,
        description="When the escalation sweep next raises the case a level (督办时限; "
        "受理时限 before dispatch).",
    )
    source_zh: str | None = Field(None, description="The source as pages name it (12345热线 …).")
    photos: list[PhotoInfoDoc] | None = Field(
        None,
        description="GET of one incident: its evidence photos, oldest first, for those "
        "responsible for it; null for anyone else (a planner, a key).",
    )


class PhotoInfoDoc(BaseModel):
    """An evidence photo of a case, as those responsible for the case see it."""

    id: int
    incident_id: int
    stage: str = Field(description="intake, handling or verification.")
    width: int = Field(description="Pixels of the stored JPEG.")
    height: int = Field(description="Pixels of the stored JPEG.")
    bytes: int = Field(description="Bytes of the stored JPEG.")
    taken_at: dt.datetime | None = Field(description="When the camera took it (EXIF).")
    uploaded_at: dt.datetime
    uploaded_by_label: str = Field(examples=["张伟（网格员）"])
    client_key: str | None = Field(description="The uploader's key of this upload.")
    lon: float | None = Field(description="Where the camera was (EXIF GPS), WGS84 degrees.")
    lat: float | None = Field(description="Where the camera was (EXIF GPS), WGS84 degrees.")
    url: str = Field(examples=["/api/v1/photos/12"])
    thumb_url: str = Field(examples=["/api/v1/photos/12/thumb"])


class DuplicateDoc(BaseModel):
    id: int
    distance_m: float
    hours_apart: float
    status: str


class IncidentCreatedDoc(IncidentDoc):
    possible_duplicates: list[DuplicateDoc] = Field(
        description="Open cases of the category within 50 m and 72 h, nearest first."
    )


class CurrentStepDoc(BaseModel):
    action: str
    at: dt.datetime
    actor: str


class CurrentStateDoc(BaseModel):
    """The case as it stands now, for a client to show a conflict."""

    status: str
    version: int
    handling_level: str
    last_step: CurrentStepDoc | None


class StaleStepDoc(BaseModel):
    """A step based on a stale version: what is stored now."""

    status: int
    code: str
    description: str
    current_version: int | None = None
    etag: str | None = None
    current: CurrentStateDoc | None = Field(
        None, description="The case now: status, version, handling_level, last_step."
    )
    state: str | None = Field(None, description="A step the state does not allow: the state.")
    allowed: list[str] | None = Field(None, description="The actions the state allows.")


class IncidentHistoryDoc(BaseModel):
    incident_id: int
    history: list[HistoryEntry] = Field(description="Oldest first.")


class StatisticsRowDoc(BaseModel):
    """One area's counts; then one count per top-level category (named by its code)."""

    model_config = ConfigDict(extra="allow")

    level: str
    code: str
    name: str | None
    households: int | None
    received: int
    closed: int
    cancelled: int
    open: int
    closure_rate: float | None
    on_time_rate: float | None
    handling_rate: float | None
    rework_rate: float | None
    per_1000_households: float | None


class MeasureDoc(BaseModel):
    column: str
    label_zh: str
    unit: str
    higher_is_worse: bool


class LegendItemDoc(BaseModel):
    colour: str | None
    label: str


class MeasureClassesDoc(BaseModel):
    measure: MeasureDoc
    method: str = Field(description="fixed or quantile.")
    breaks: list[float]
    colours: list[str]
    legend: list[LegendItemDoc]


class IncidentStatisticsDoc(BaseModel):
    level: str
    start: dt.datetime
    end: dt.datetime
    category: str | None
    incidents_without_grid: int
    rows: list[StatisticsRowDoc]
    classes: dict[str, MeasureClassesDoc]


class HotSpotPropertiesDoc(BaseModel):
    code: str
    name: str | None
    community_code: str | None
    households: int | None
    received: int
    rate: float | None
    gi_z: float | None
    p_norm: float | None
    p_sim: float | None
    class_: str = Field(alias="class")


class HotSpotFeatureDoc(FeatureDoc):
    properties: HotSpotPropertiesDoc  # type: ignore[assignment]  # narrower than FeatureDoc's


class HotSpotsDoc(BaseModel):
    type: str = "FeatureCollection"
    numberMatched: int
    numberReturned: int
    weights: str
    inference: str
    classes: list[str]
    features: list[HotSpotFeatureDoc]


class WorklistGridDoc(BaseModel):
    code: str
    name: str
    community_code: str
    community_name: str
    households: int
    geometry: dict[str, Any]


class WorklistDoc(BaseModel):
    grid: WorklistGridDoc
    manager: StaffName | None
    now: dt.datetime
    overdue: int
    incidents: list[WorkItem]
    handlers: list[HandlerChoice]


class InboxDoc(BaseModel):
    now: dt.datetime
    counts: InboxCounts
    items: list[InboxItem] = Field(description="Overdue first, then by the sooner due time.")


class GridMonthDoc(BaseModel):
    grid_code: str
    grid_name: str
    community_code: str
    community_name: str
    month: str = Field(examples=["2026-10"])
    start: dt.datetime
    end: dt.datetime
    now: dt.datetime
    grid: MonthFigures
    community_average: MonthFigures = Field(
        description="The community's totals per current grid (its pooled on-time rate)."
    )
    community_grids: int


# ---- the district map ------------------------------------------------------------------


class LightCollectionDoc(BaseModel):
    """A GeoJSON FeatureCollection of light features, every one at once (no pages)."""

    type: str = "FeatureCollection"
    features: list[FeatureDoc]


class MapOutlinesDoc(BaseModel):
    """The areas of the district map, simplified (``tolerance_m``) and rounded (``decimals``).

    Each feature's properties: ``code``, ``name``, ``households``, ``parent_code``,
    ``parent_name`` (a grid's community, a community's subdistrict) and ``label``
    (``[lon, lat]`` inside the area, where its name is drawn)."""

    tolerance_m: float
    decimals: int
    district: LightCollectionDoc
    subdistricts: LightCollectionDoc
    communities: LightCollectionDoc
    grids: LightCollectionDoc


# ---- coverage -------------------------------------------------------------------------


class CoverageRowDoc(BaseModel):
    code: str
    name: str | None
    households: int
    households_covered: int
    households_uncovered: int
    buildings: int
    buildings_covered: int
    coverage_rate: float | None = Field(description="0-1 by households; null without any.")
    mean_distance_m: float | None
    p90_distance_m: float | None


class CoverageRankedRowDoc(CoverageRowDoc):
    rank: int = Field(description="1 = the worst served.")


class CoverageRankingDoc(BaseModel):
    """The worst-served areas, worst first."""

    facility_type: str
    facility_type_name: str
    radius_m: float
    by: str
    rows: list[CoverageRankedRowDoc]


class CoverageRingDoc(BaseModel):
    radius_m: float
    rows: list[CoverageRowDoc]
    total: CoverageRowDoc


class CoverageDoc(BaseModel):
    """One radius: ``radius_m``, ``rows`` and ``total``; several: ``radii_m`` and ``rings``."""

    facility_type: str
    facility_type_name: str
    by: str
    radius_m: float | None = None
    rows: list[CoverageRowDoc] | None = None
    total: CoverageRowDoc | None = None
    radii_m: list[float] | None = None
    rings: list[CoverageRingDoc] | None = None


class DerivedCollectionDoc(BaseModel):
    """Circles or blind spots of a facility type at a radius."""

    type: str = "FeatureCollection"
    facility_type: str
    radius_m: float
    numberMatched: int
    numberReturned: int
    features: list[FeatureDoc]


class GridChangeDoc(BaseModel):
    code: str
    name: str | None
    net_households: int


class WhatIfDoc(BaseModel):
    facility_type: str
    facility_type_name: str
    radius_m: float
    households_gained: int
    households_lost: int
    net_households: int
    buildings_gained: int
    buildings_lost: int
    by_grid: list[GridChangeDoc] = Field(description="Largest change first.")
    households: int
    households_covered_before: int
    households_covered_after: int
    coverage_rate_before: float | None
    coverage_rate_after: float | None


class CoverageStyleDoc(BaseModel):
    """Classes, colours and labels of the coverage map (Leaflet path options)."""

    model_config = ConfigDict(extra="allow")

    ramp: dict[str, Any]
    labels: dict[str, str]
    radiusChoices: list[float]


class CoverageStatusDoc(BaseModel):
    listening: bool
    building: bool = Field(description="A model is being built right now.")
    models: dict[str, int] = Field(description='"<type>@<radius>": revision of each cached model.')
    buildings: int | None
    hits: int
    misses: int
    builds: int
    build_ms_last: float | None
    notifications: int
    incremental_updates: int
    invalidations: int
    last_change: dict[str, Any] | None


# ---- Open311 (JSON; the XML carries the same fields) ------------------------------------


class ServiceDoc(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class ServiceDefinitionDoc(BaseModel):
    service_code: str
    attributes: list[dict[str, Any]]


class ServiceRequestDoc(BaseModel):
    """A GeoReport v2 service request; lat/long in the ``datum`` asked for (default WGS84)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "service_request_id": "1042",
                    "status": "open",
                    "status_notes": None,
                    "service_name": "暴露垃圾",
                    "service_code": "exposed_garbage",
                    "description": "垃圾桶旁堆放生活垃圾",
                    "agency_responsible": "东苑社区 网格001",
                    "service_notice": "暴露垃圾：派遣后 4 工作小时内处理",
                    "requested_datetime": "2026-11-23T09:15:00+08:00",
                    "updated_datetime": "2026-11-23T09:20:00+08:00",
                    "expected_datetime": "2026-11-23T13:20:00+08:00",
                    "address": "东苑小区7号楼",
                    "address_id": None,
                    "zipcode": None,
                    "lat": 36.7197443,
                    "long": 119.1192154,
                    "media_url": None,
                }
            ]
        }
    )

    service_request_id: str
    status: str = Field(description="open or closed.")
    status_notes: str | None
    service_name: str | None
    service_code: str | None
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str | None
    updated_datetime: str | None
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None = Field(
        description="Latitude, degrees (7 decimals), in datum= (default WGS84; gcj02 for "
        "an Amap or Tencent map, bd09 for Baidu's).",
        examples=[36.7197443],
    )
    long: float | None = Field(
        description="Longitude, degrees (7 decimals), in the same datum as lat.",
        examples=[119.1192154],
    )
    media_url: str | None


class FiledRequestDoc(BaseModel):
    service_request_id: str
    service_notice: str | None
    account_id: str | None


class EndpointDoc(BaseModel):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class DiscoveryDoc(BaseModel):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[EndpointDoc]


# ---- basemap and search (issue 11) ---------------------------------------------------------


class TileLayerDoc(BaseModel):
    """A Leaflet tile layer (``L.tileLayer(url, {subdomains, attribution, maxZoom})``)."""

    url: str = Field(description="URL template with {z}, {x}, {y} (and {s}).")
    subdomains: str
    attribution: str
    maxZoom: int


class BasemapDoc(BaseModel):
    """The base map a page draws under its data."""

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


class StreetFeatureDoc(FeatureDoc):
    properties: StreetPropertiesDoc  # type: ignore[assignment]  # narrower than FeatureDoc's


class StreetsDoc(BaseModel):
    type: str = "FeatureCollection"
    zoom: int
    kinds: list[str] = Field(description="The kinds of street drawn at this zoom.")
    numberReturned: int
    features: list[StreetFeatureDoc]


class PlacePropertiesDoc(BaseModel):
    code: str
    name: str
    level: str = Field(description="subdistrict, community or grid.")


class PlaceFeatureDoc(FeatureDoc):
    properties: PlacePropertiesDoc  # type: ignore[assignment]  # narrower than FeatureDoc's


class PlacesDoc(BaseModel):
    type: str = "FeatureCollection"
    zoom: int
    levels: list[str]
    numberReturned: int
    features: list[PlaceFeatureDoc]


class SearchDoc(BaseModel):
    """Search results, best first."""

    items: list[Hit]


# ---- OGC API - Features (issue 12) -----------------------------------------------------


def _example(value: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [value]})


class OgcLinkDoc(BaseModel):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


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
        }
    )
    id: str
    uri: str
    name: str
    axes: list[str]
    base: str
    description: str
    description_zh: str
