"""Documented answers of Open311 GeoReport v2 (JSON; the XML carries the same fields).

As in ``api.schemas`` (whose module docstring says how these are used and checked).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.responses import example_config
from api.schemas import AT

_example = example_config


# ---- Open311 (JSON; the XML carries the same fields) ------------------------------------


SERVICE_EXAMPLE: dict[str, Any] = {
    "service_code": "exposed_garbage",
    "service_name": "暴露垃圾",
    "description": "城市管理 · 市容环境：暴露垃圾",
    "metadata": True,
    "type": "realtime",
    "keywords": "垃圾,环境卫生",
    "group": "城市管理",
}
SERVICE_REQUEST_EXAMPLE: dict[str, Any] = {
    "service_request_id": "1024",
    "status": "open",
    "status_notes": "已派遣",
    "service_name": "暴露垃圾",
    "service_code": "exposed_garbage",
    "description": "楼下垃圾堆放三天未清运",
    "agency_responsible": "东苑社区",
    "service_notice": "网格员将在 1 个工作日内处理",
    "requested_datetime": AT,
    "updated_datetime": AT,
    "expected_datetime": "2026-11-03T09:14:00+08:00",
    "address": "东关街道东苑社区 3号楼",
    "address_id": None,
    "zipcode": None,
    "lat": 36.7127304,
    "long": 119.1134521,
    "media_url": None,
}
FILED_REQUEST_EXAMPLE: dict[str, Any] = {
    "service_request_id": "1024",
    "service_notice": "网格员将在 1 个工作日内处理",
    "account_id": None,
}


class ServiceDoc(BaseModel):
    model_config = _example(SERVICE_EXAMPLE)
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class ServiceDefinitionDoc(BaseModel):
    model_config = _example(
        {
            "service_code": "exposed_garbage",
            "attributes": [
                {
                    "variable": True,
                    "code": "building_id",
                    "datatype": "number",
                    "required": False,
                    "datatype_description": "楼栋编号",
                    "order": 1,
                    "description": "事发楼栋（可选）",
                }
            ],
        }
    )
    service_code: str
    attributes: list[dict[str, Any]]


class ServiceRequestDoc(BaseModel):
    """A GeoReport v2 service request; lat/long in the ``datum`` asked for (default WGS84)."""

    model_config = _example(SERVICE_REQUEST_EXAMPLE)
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
    model_config = _example(FILED_REQUEST_EXAMPLE)
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
    model_config = _example(
        {
            "changeset": "2026-11-23T00:00:00+08:00",
            "contact": "奎文区网格化服务管理中心",
            "key_service": "向区网格中心申请 API 密钥",
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": "https://gridmap.example.cn/open311/v2",
                    "changeset": "2026-11-23T00:00:00+08:00",
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        }
    )
    changeset: str
    contact: str
    key_service: str
    endpoints: list[EndpointDoc]
