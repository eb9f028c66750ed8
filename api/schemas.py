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

This module holds the shapes of logins, the audit trail, health, the map's light
collections and the collections' example features, and the examples' shared
values (``GRID``, ``AT``, ``SQUARE``); each domain's answers have a module of
their own: ``api.incident_schemas``, ``api.coverage_schemas``,
``api.open311_schemas``, ``api.basemap_schemas``, ``api.people_schemas``,
``api.norms_schemas``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from api.responses import FeatureDoc, Link, collection_example, example_config

_example = example_config

GRID = "370705001001001"
GRID_NAME = "东苑第一网格"
AT = "2026-11-02T09:14:00+08:00"

SQUARE: dict[str, Any] = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[119.1, 36.7], [119.125, 36.7], [119.125, 36.76], [119.1, 36.76], [119.1, 36.7]]]
    ],
}
"""A grid's outline in the examples."""

# ---- accounts -------------------------------------------------------------------------


class TokenDoc(BaseModel):
    """A bearer login (OAuth2 password flow)."""

    model_config = _example(
        {
            "access_token": "3q2fT0kq8Yw1bX7rN5cV9uLzA4sD6eHk",
            "token_type": "bearer",
            "expires_in": 28800,
        }
    )

    access_token: str = Field(description="Send as ``Authorization: Bearer <access_token>``.")
    token_type: str = Field(description="Always ``bearer``.", examples=["bearer"])
    expires_in: int = Field(description="Seconds the login lasts.")


class LogoutDoc(BaseModel):
    model_config = _example({"status": "logged out"})
    status: str = Field(examples=["logged out"])


class MeDoc(BaseModel):
    """Who is calling."""

    model_config = _example(
        {
            "kind": "person",
            "username": f"grid-{GRID}",
            "name": "张伟",
            "role": "grid_manager",
            "role_zh": "网格员",
            "areas": [GRID],
            "scopes": [],
            "home": {
                "kind": "grid",
                "url": f"/grid/{GRID}",
                "grid_code": GRID,
                "grid_name": GRID_NAME,
            },
            "home_grids": [{"code": GRID, "name": GRID_NAME, "primary": True}],
        }
    )

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
    model_config = _example(
        {
            "numberMatched": 1,
            "numberReturned": 1,
            "entries": [
                {
                    "id": 5821,
                    "at": AT,
                    "principal": f"grid-{GRID}",
                    "role": "grid_manager",
                    "action": "incident.report",
                    "object": "incident:1024",
                    "area": GRID,
                    "client": "10.2.3.4",
                    "detail": {"category": "exposed_garbage"},
                }
            ],
        }
    )
    numberMatched: int = Field(description="Entries matching the filters, over all pages.")
    numberReturned: int = Field(description="Entries in this answer.")
    entries: list[AuditEntryDoc] = Field(description="Newest first.")


class HealthDoc(BaseModel):
    model_config = _example({"status": "ok", "database": "PostgreSQL 17.2"})
    status: str = Field(examples=["ok"])
    database: str = Field(description="The database server's version.")


# ---- the district map ------------------------------------------------------------------


class LightCollectionDoc(BaseModel):
    """A GeoJSON FeatureCollection of light features, every one at once (no pages)."""

    model_config = _example(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": 31,
                    "geometry": {"type": "Point", "coordinates": [119.11342, 36.71273]},
                    "properties": {"id": 31, "type": "kindergarten", "name": "东苑幼儿园"},
                }
            ],
        }
    )

    type: str = "FeatureCollection"
    features: list[FeatureDoc]


class MapOutlinesDoc(BaseModel):
    """The areas of the district map, simplified (``tolerance_m``) and rounded (``decimals``).

    Each feature's properties: ``code``, ``name``, ``households``, ``parent_code``,
    ``parent_name`` (a grid's community, a community's subdistrict) and ``label``
    (``[lon, lat]`` inside the area, where its name is drawn)."""

    model_config = _example(
        {
            "tolerance_m": 2.0,
            "decimals": 5,
            **{
                key: {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "id": code,
                            "geometry": SQUARE,
                            "properties": {
                                "code": code,
                                "name": name,
                                "households": 812,
                                "parent_code": code[:-3] or None,
                                "parent_name": None,
                                "label": [119.1125, 36.73],
                            },
                        }
                    ],
                }
                for key, code, name in (
                    ("district", "370705", "奎文区"),
                    ("subdistricts", "370705001", "东关街道"),
                    ("communities", "370705001001", "东苑社区"),
                    ("grids", GRID, GRID_NAME),
                )
            },
        }
    )

    tolerance_m: float
    decimals: int
    district: LightCollectionDoc
    subdistricts: LightCollectionDoc
    communities: LightCollectionDoc
    grids: LightCollectionDoc


# ---- examples of the collections' features (api.responses.collection_responses) ----------

AREA_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": "370705001001",
    "geometry": SQUARE,
    "properties": {
        "code": "370705001001",
        "name": "东苑社区",
        "level": "community",
        "parent_code": "370705001",
        "households": 2410,
        "population": 6630,
        "floating_population": 410,
        "valid_from": "2020-01-01",
        "valid_to": None,
    },
}
GRID_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": GRID,
    "geometry": SQUARE,
    "properties": {
        "code": GRID,
        "name": GRID_NAME,
        "community_code": "370705001001",
        "community_name": "东苑社区",
        "households": 812,
        "population": 2230,
        "valid_from": "2020-01-01",
        "valid_to": None,
    },
}
GRID_DETAIL_FEATURE: dict[str, Any] = {
    **GRID_FEATURE,
    "properties": {
        **GRID_FEATURE["properties"],
        "community": {"code": "370705001001", "name": "东苑社区"},
        "subdistrict": {"code": "370705001", "name": "东关街道"},
        "managers": [
            {
                "name": "张伟",
                "role": "grid_manager",
                "specialist_duty": None,
                "is_primary": True,
                "phone": "170****1234",
            }
        ],
        "buildings_count": 23,
    },
}
BUILDING_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": 4711,
    "geometry": {"type": "Point", "coordinates": [119.1121734, 36.7214402]},
    "properties": {
        "id": 4711,
        "ext_id": "DEMO-B-004711",
        "grid_code": GRID,
        "households": 48,
        "floors": 6,
        "name": "3号楼",
        "address": "东关街道东苑社区 3号楼",
        "has_footprint": True,
    },
}
INCIDENT_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": 1024,
    "geometry": {"type": "Point", "coordinates": [119.1134521, 36.7127304]},
    "properties": {
        "id": 1024,
        "category": "exposed_garbage",
        "status": "dispatched",
        "grid_code": GRID,
        "reported_at": AT,
        "deadline_at": "2026-11-03T09:14:00+08:00",
        "handling_level": "grid",
        "version": 3,
        "description": "楼下垃圾堆放三天未清运",
        "source": "hotline",
        "masked": False,
    },
}
FACILITY_TYPE_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": "kindergarten",
    "geometry": None,
    "properties": {
        "code": "kindergarten",
        "name_zh": "幼儿园",
        "name_en": "Kindergarten",
        "radius_m": 300,
        "life_circle": "5min",
        "norm_source": "GB 50180-2018",
        "facilities": 41,
    },
}


FACILITY_TYPES_EXAMPLE = collection_example(FACILITY_TYPE_FEATURE, url="/api/v1/facility-types")


class AttributeFeatureDoc(BaseModel):
    """A feature without a place (``geometry`` null)."""

    type: str = "Feature"
    id: str | int
    geometry: None
    properties: dict[str, Any]


class FacilityTypesDoc(BaseModel):
    """Facility types as features without geometry."""

    model_config = _example(FACILITY_TYPES_EXAMPLE)

    type: str = "FeatureCollection"
    features: list[AttributeFeatureDoc]
    numberMatched: int
    numberReturned: int
    links: list[Link]
