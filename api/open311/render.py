"""GeoReport v2 answers: services, service definitions and requests as JSON or XML.

Every resource answers ``.json`` or ``.xml`` (the spec's required format,
which FixMyStreet's client uses). Errors have the spec's shape
``[{"code": 400, "description": "..."}]`` (or ``<errors><error>``); Open311
knows no 422, so a report the platform refuses is a 400. Times are answered
in the city's zone (+08:00); lat/long in WGS84 whatever datum they came in,
or in the datum a reader asks for with ``datum=`` (``request_records``: the
one place the protocol's coordinates are written).

Words a person reads (service names and groups, descriptions, notices, the
system's status notes, the attributes' names) are in the request's language
(``api.lang``: Chinese unless ``Accept-Language`` prefers English); codes,
keys and ids never change, so clients that match on them keep working.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from api.lang import language_headers
from api.open311.params import DATUMS, DEFAULT_SOURCE, SERVICES, SOURCES
from gis.errors import InvalidParameterError
from gis.geo.datum import WGS84, Datum, from_wgs84, passes_through
from gis.geo.geojson import GEOJSON_DECIMALS
from gis.incidents import open311 as sr
from gis.incidents.catalogue import CATEGORIES, Category, find
from gis.incidents.records import IncidentRecord
from gis.lang import Lang, Texts
from gis.localtime import CITY_TZ

Format = Literal["json", "xml"]
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"

_XML_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


# --------------------------------------------------------------------------- rendering


def _xml_value(parent: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _xml_value(ET.SubElement(parent, key), inner)
    elif isinstance(value, list):
        for inner in value:
            _xml_value(ET.SubElement(parent, _XML_ITEMS.get(parent.tag, "item")), inner)
    elif isinstance(value, bool):
        parent.text = "true" if value else "false"
    elif value is not None:
        parent.text = str(value)


def to_xml(root: str, data: Any) -> bytes:
    """``data`` as the spec's XML: lists become repeated items (``services`` → ``service``)."""
    element = ET.Element(root)
    _xml_value(element, data)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="utf-8")


def render(
    data: Any, fmt: Format, root: str, status: int = 200, lang: Lang | None = None
) -> Response:
    """The answer in the asked format; ``root`` names the XML document element; ``lang``
    the language its words are in (said in ``Content-Language``)."""
    headers = language_headers(lang) if lang is not None else None
    if fmt == "xml":
        return Response(
            to_xml(root, data), status_code=status, media_type=XML_TYPE, headers=headers
        )
    return JSONResponse(data, status_code=status, media_type=JSON_TYPE, headers=headers)


def error_response(request: Request, status: int, description: str) -> Response:
    """An error in GeoReport's shape, in the format the URL asked for.

    Open311 knows no 422: a report the platform refuses (unknown category,
    point outside the district) is a 400, like a missing field.
    """
    status = 400 if status == 422 else status
    fmt: Format = "xml" if request.url.path.endswith(".xml") else "json"
    return render([{"code": status, "description": description}], fmt, "errors", status)


def answer_format(value: str) -> Format:
    if value == "json":
        return "json"
    if value == "xml":
        return "xml"
    raise InvalidParameterError(
        f"format {value!r} is not served here; end the resource in .json or .xml"
    )


def w3c_time(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(CITY_TZ).isoformat(timespec="seconds")


def service_notice(cat: Category, lang: Lang) -> str:
    return Texts(
        f"{cat.name_zh}：派遣后 {cat.deadline.zh}内处理",
        f"{cat.name_en}: handled within {cat.deadline} of dispatch to the grid's team",
    ).pick(lang)


def service_name(cat: Category, lang: Lang) -> str:
    return Texts(cat.name_zh, cat.name_en).pick(lang)


def _service_description(cat: Category, lang: Lang) -> str:
    subclasses = [c for c in CATEGORIES if c.parent == cat.code]
    zh = f"{cat.name_zh}。处理时限：派遣后 {cat.deadline.zh}。"
    en = f"{cat.name_en}. Deadline: {cat.deadline} from dispatch."
    if subclasses:
        zh += (
            "有更准确的服务时请选用："
            + "、".join(f"{c.code}（{c.name_zh}）" for c in subclasses)
            + "。"
        )
        en += " Choose a more precise service where one fits: "
        en += ", ".join(f"{c.code} ({c.name_en})" for c in subclasses) + "."
    if cat.personal:
        zh += (
            "涉及个人信息：请求只列给负责的工作人员；其他人用 GET requests/{id} 只能看到其状态，"
            "位置为所在网格的代表点，不含描述和备注。"
        )
        en += (
            " Private (personal data): requests are not listed except to the staff responsible;"
            " GET requests/{id} shows others their status at the grid's representative point,"
            " without description or notes."
        )
    return Texts(zh, en).pick(lang)


def service(cat: Category, lang: Lang) -> dict[str, Any]:
    parent = SERVICES[cat.parent] if cat.parent else cat
    keywords = dict.fromkeys(
        [cat.name_zh, cat.name_en.lower(), parent.name_zh, parent.name_en.lower(), cat.code]
    )
    return {
        "service_code": cat.code,
        "service_name": service_name(cat, lang),
        "description": _service_description(cat, lang),
        "metadata": True,
        "type": "realtime",
        "keywords": ",".join(keywords),
        "group": service_name(parent, lang),
    }


def attributes(lang: Lang) -> list[dict[str, Any]]:
    return [
        {
            "variable": True,
            "code": "datum",
            "datatype": "singlevaluelist",
            "required": False,
            "datatype_description": Texts(
                "经纬度的坐标系，默认 wgs84。手机地图应用（高德、腾讯、微信）的点是 gcj02，"
                "百度的是 bd09：当作 WGS84 发送会偏离 100-700 米。",
                "Datum of lat/long; default wgs84. A point from a phone map app (Amap, Tencent, "
                "WeChat) is gcj02, from Baidu bd09: sent as WGS84 it lands 100-700 m away.",
            ).pick(lang),
            "order": 1,
            "description": Texts("经纬度的坐标系", "Coordinate datum of lat and long").pick(lang),
            "values": [{"key": key, "name": name.pick(lang)} for key, name in DATUMS],
        },
        {
            "variable": True,
            "code": "source",
            "datatype": "singlevaluelist",
            "required": False,
            "datatype_description": Texts(
                f"上报渠道，默认 {DEFAULT_SOURCE}。",
                f"How the report came in; default {DEFAULT_SOURCE}.",
            ).pick(lang),
            "order": 2,
            "description": Texts("上报来源", "Source of the report").pick(lang),
            "values": [{"key": key, "name": name.pick(lang)} for key, name in SOURCES],
        },
    ]


def filing_notice(cat: Category, record: IncidentRecord, lang: Lang) -> str:
    notice = service_notice(cat, lang)
    if record.snapped_m is not None:
        notice += Texts(
            f"；该点在所有网格之外 {record.snapped_m:g} 米，已交给最近的网格",
            f"; the point lay {record.snapped_m:g} m outside every grid and was given to "
            "the nearest one",
        ).pick(lang)
    return notice


def request_records(
    requests: list[sr.ServiceRequest], lang: Lang, datum: Datum = WGS84
) -> list[dict[str, Any]]:
    """The requests as the spec's records, lat/long converted from storage to ``datum``.

    The one place the protocol's coordinates are written. ``gis.geo.datum.from_wgs84``
    is the reverse of the conversion points came in through (``attribute[datum]``),
    so a point filed in GCJ-02 and read back in GCJ-02 is where it was sent, within
    a centimetre (converted from the stored numbers, then rounded to 7 decimals).
    """
    lon: list[float | None] = [r.lon for r in requests]
    lat: list[float | None] = [r.lat for r in requests]
    located = [
        (i, r.lon, r.lat) for i, r in enumerate(requests) if r.lon is not None and r.lat is not None
    ]
    if located and not passes_through(datum):
        x, y = from_wgs84([p[1] for p in located], [p[2] for p in located], datum)
        for (i, _, _), xi, yi in zip(located, x.tolist(), y.tolist(), strict=True):
            lon[i], lat[i] = xi, yi
    return [_record(r, lang, x, y) for r, x, y in zip(requests, lon, lat, strict=True)]


def _record(
    request: sr.ServiceRequest, lang: Lang, lon: float | None, lat: float | None
) -> dict[str, Any]:
    cat = find(request.category)
    notes = request.status_notes
    return {
        "service_request_id": str(request.id),
        "status": request.status,
        "status_notes": notes.pick(lang) if isinstance(notes, Texts) else notes,
        "service_name": service_name(cat, lang) if cat else request.category,
        "service_code": cat.code if cat else request.category,
        "description": request.description,
        "agency_responsible": request.agency,
        "service_notice": service_notice(cat, lang) if cat else None,
        "requested_datetime": w3c_time(request.requested_at),
        "updated_datetime": w3c_time(request.updated_at),
        "expected_datetime": w3c_time(request.expected_at),
        "address": request.address,
        "address_id": None if request.building_id is None else str(request.building_id),
        "zipcode": None,
        "lat": None if lat is None else round(lat, GEOJSON_DECIMALS),
        "long": None if lon is None else round(lon, GEOJSON_DECIMALS),
        "media_url": request.media_url,
    }
