"""Open311 GeoReport v2 under /open311/v2, so hotlines and city apps plug in unchanged.

* ``GET services.json``: one service per incident category of
  ``gis.incidents.catalogue``, subclasses included (they are what a caller
  files: 暴露垃圾 rather than 市容环境); ``group`` is the top-level class.
* ``GET services/{service_code}.json``: the attributes every service takes:
  ``datum`` of lat/long (a phone map app sends GCJ-02: ``attribute[datum]=gcj02``)
  and ``source`` (app, hotline, ...).
* ``POST requests.json``: a form-encoded (or multipart) report, filed through
  ``gis.incidents.cases.create_incident``: routed to its grid and its grid manager,
  snapped within the tolerance, refused outside the district. Answers 200
  with ``[{service_request_id, service_notice, account_id}]`` as the spec's
  examples do (clients such as FixMyStreet accept any 2xx).
* ``GET requests.json`` (filters of the spec, 90-day window, at most 1000
  requests; extensions ``page``/``page_size``, ``bbox``, ``updated_after``) and
  ``GET requests/{id}.json`` (a one-element array).
* ``GET /open311/discovery.json``: the service discovery document.

Every resource answers ``.json`` or ``.xml`` (the spec's required format, which
FixMyStreet's client uses). Errors have the spec's shape,
``[{"code": 400, "description": "..."}]`` (or ``<errors><error>``), with the
same HTTP status: 400 for a bad parameter, a missing field, an unknown
service_code or a point outside the district, 404 for an unknown request or
jurisdiction, 413 for an oversized body (``api.errors`` hands them to
:func:`error_response`).

Contact fields (email, phone, names, device_id, account_id) are accepted and
**not stored** (no authentication yet, so nobody could be allowed to read them
back); no GET shows them. lat/long are always answered in WGS84, whatever
datum they were sent in.
"""

from __future__ import annotations

import datetime as dt
import math
import xml.etree.ElementTree as ET
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from api.bodies import body_limit, read_limited
from api.dependencies import SessionDep
from gis.areas.queries import parse_bbox
from gis.errors import InvalidParameterError, NotFoundError, PayloadTooLargeError
from gis.incidents import open311 as sr
from gis.incidents.cases import IncidentRecord
from gis.incidents.catalogue import CATEGORIES, Category, category_by_name_zh

PREFIX = "/open311"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-23T00:00:00+08:00"
"""When this endpoint's services or behaviour last changed (discovery's ``changeset``)."""

Format = Literal["json", "xml"]
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"

DATUMS: tuple[tuple[str, str], ...] = (
    ("wgs84", "WGS84 (GPS, 北斗/GPS 原始坐标)"),
    ("cgcs2000", "CGCS2000 (国家2000, official maps)"),
    ("gcj02", "GCJ-02 (高德/腾讯/微信 phone map apps)"),
    ("bd09", "BD-09 (百度地图 Baidu)"),
)
SOURCES: tuple[tuple[str, str], ...] = (
    ("app", "手机应用 phone or web app"),
    ("hotline", "热线 hotline (12345)"),
    ("patrol", "巡查 grid manager's patrol"),
    ("video", "视频 video surveillance"),
    ("visit", "走访 home visit"),
)
DEFAULT_SOURCE = "app"
CONTACT_FIELDS = ("email", "device_id", "account_id", "first_name", "last_name", "phone")
DESCRIPTION_LIMIT = 4000
"""Characters: GeoReport v2's limit on a request's description."""
URL_LIMIT = 2000

router = APIRouter(prefix=PREFIX, tags=["open311"])

_BY_CODE: Mapping[str, Category] = {c.code: c for c in CATEGORIES}
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


def render(data: Any, fmt: Format, root: str, status: int = 200) -> Response:
    """The answer in the asked format; ``root`` names the XML document element."""
    if fmt == "xml":
        return Response(to_xml(root, data), status_code=status, media_type=XML_TYPE)
    return JSONResponse(data, status_code=status, media_type=JSON_TYPE)


def error_response(request: Request, status: int, description: str) -> Response:
    """An error in GeoReport's shape, in the format the URL asked for.

    Open311 knows no 422: a report the platform refuses (unknown category,
    point outside the district) is a 400, like a missing field.
    """
    status = 400 if status == 422 else status
    fmt: Format = "xml" if request.url.path.endswith(".xml") else "json"
    return render([{"code": status, "description": description}], fmt, "errors", status)


def _format(value: str) -> Format:
    if value == "json":
        return "json"
    if value == "xml":
        return "xml"
    raise InvalidParameterError(
        f"format {value!r} is not served here; end the resource in .json or .xml"
    )


def _time(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(sr.TIMEZONE).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- services


def _category(code: str) -> Category | None:
    return _BY_CODE.get(code) or category_by_name_zh(code)


def _service_notice(cat: Category) -> str:
    return (
        f"{cat.name_zh}：派遣后 {cat.deadline} 内处理 "
        f"(handled within {cat.deadline} of dispatch to the grid's team)"
    )


def _service(cat: Category) -> dict[str, Any]:
    parent = _BY_CODE[cat.parent] if cat.parent else cat
    subclasses = [c for c in CATEGORIES if c.parent == cat.code]
    description = f"{cat.name_en}. Deadline: {cat.deadline} from dispatch (派遣)."
    if subclasses:
        listed = ", ".join(f"{c.code} ({c.name_zh})" for c in subclasses)
        description += f" Choose a more precise service where one fits: {listed}."
    if cat.personal:
        description += (
            " Private (个人信息): requests are not listed; GET requests/{id} shows their status"
            " without place, description or notes."
        )
    keywords = dict.fromkeys([cat.name_zh, cat.name_en.lower(), parent.name_zh, cat.code])
    return {
        "service_code": cat.code,
        "service_name": cat.name_zh,
        "description": description,
        "metadata": True,
        "type": "realtime",
        "keywords": ",".join(keywords),
        "group": parent.name_zh,
    }


def _attributes() -> list[dict[str, Any]]:
    return [
        {
            "variable": True,
            "code": "datum",
            "datatype": "singlevaluelist",
            "required": False,
            "datatype_description": (
                "Datum of lat/long; default wgs84. A point from a phone map app (Amap, Tencent, "
                "WeChat) is gcj02, from Baidu bd09: sent as WGS84 it lands 100-700 m away."
            ),
            "order": 1,
            "description": "坐标系 Coordinate datum of lat and long",
            "values": [{"key": key, "name": name} for key, name in DATUMS],
        },
        {
            "variable": True,
            "code": "source",
            "datatype": "singlevaluelist",
            "required": False,
            "datatype_description": f"How the report came in; default {DEFAULT_SOURCE}.",
            "order": 2,
            "description": "来源 Source of the report",
            "values": [{"key": key, "name": name} for key, name in SOURCES],
        },
    ]


def _check_jurisdiction(session: Session, jurisdiction_id: str | None) -> None:
    """Absent (or empty) is this server's district; otherwise it must be a district code."""
    if jurisdiction_id is None or not jurisdiction_id.strip():
        return
    known = sr.jurisdictions(session)
    if jurisdiction_id.strip() not in known:
        listed = ", ".join(f"{code} ({name})" for code, name in known.items()) or "none loaded"
        raise NotFoundError(
            f"jurisdiction_id {jurisdiction_id!r} is not served here; this server's "
            f"jurisdiction is {listed}, and jurisdiction_id may be left out"
        )


FormatPath = Annotated[str, Path(description="json or xml.")]
Jurisdiction = Annotated[
    str | None,
    Query(description="The district's code (e.g. 370705); optional, this server has one."),
]


@router.get("/v2/services.{format}", summary="Open311: the services (incident categories)")
def list_services(
    session: SessionDep, format: FormatPath, jurisdiction_id: Jurisdiction = None
) -> Response:
    """One service per category; ``group`` is its top-level class, ``metadata``
    says it has attributes (every service takes ``datum`` and ``source``)."""
    fmt = _format(format)
    _check_jurisdiction(session, jurisdiction_id)
    return render([_service(c) for c in CATEGORIES], fmt, "services")


@router.get("/v2/services/{service_code}.{format}", summary="Open311: a service definition")
def get_service_definition(
    session: SessionDep,
    service_code: Annotated[str, Path(description="A service_code from services.json.")],
    format: FormatPath,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """The attributes of the service: ``datum`` of lat/long and ``source``."""
    fmt = _format(format)
    _check_jurisdiction(session, jurisdiction_id)
    if service_code not in _BY_CODE:
        raise NotFoundError(
            f"service_code {service_code!r} is not a service here; "
            "GET /open311/v2/services.json lists them"
        )
    body = {"service_code": service_code, "attributes": _attributes()}
    return render(body, fmt, "service_definition")


# --------------------------------------------------------------------------- POST requests


async def _stream(raw: bytes) -> AsyncGenerator[bytes, None]:
    yield raw


async def read_form(request: Request) -> FormData:
    """The form body, size-limited: url-encoded or multipart, no files.

    A photo belongs on a server of its own; the report carries its media_url.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise InvalidParameterError(
            f"the body is {content_type or 'not typed'}; GeoReport v2 posts the fields "
            "form-encoded (application/x-www-form-urlencoded) or as multipart/form-data"
        )
    limit = body_limit(request)
    try:
        raw = await read_limited(request, limit)
    except PayloadTooLargeError:
        raise PayloadTooLargeError(
            f"the request body is larger than {limit:,} bytes, the limit for a report; "
            "send a photo as a link in media_url, not as a file"
        ) from None
    try:
        if content_type == "multipart/form-data":
            form = await MultiPartParser(request.headers, _stream(raw)).parse()
        else:
            form = await FormParser(request.headers, _stream(raw)).parse()
    except MultiPartException as exc:
        raise InvalidParameterError(f"the multipart body is malformed: {exc.message}") from None
    if any(isinstance(value, UploadFile) for _, value in form.multi_items()):
        raise InvalidParameterError(
            "files are not accepted; upload the photo elsewhere and send its link as media_url"
        )
    return form


FormDep = Annotated[FormData, Depends(read_form)]


def _field(form: FormData, name: str) -> str | None:
    """The first non-empty value of ``name``, trimmed; None if absent or empty."""
    for value in form.getlist(name):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _degrees(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InvalidParameterError(f"{name} {value!r} is not a number of degrees") from None
    if not math.isfinite(number):
        raise InvalidParameterError(f"{name} must be a finite number of degrees")
    return number


def _choice(value: str | None, name: str, choices: Sequence[tuple[str, str]], default: str) -> str:
    if value is None:
        return default
    keys = [key for key, _ in choices]
    if value.lower() not in keys:
        raise InvalidParameterError(
            f"{name} {value!r} is not one of the listed values: {', '.join(keys)}"
        )
    return value.lower()


def _attribute_values(form: FormData) -> dict[str, str | None]:
    """``attribute[code]`` fields by code; an unknown code is refused, not guessed at."""
    codes = {"datum", "source"}
    found: dict[str, str | None] = {}
    for key in form:
        if key.startswith("attribute[") and key.endswith("]"):
            code = key[len("attribute[") : -1]
            if code not in codes:
                raise InvalidParameterError(
                    f"{key} is not an attribute of this service; its attributes are "
                    "attribute[datum] and attribute[source] (see the service definition)"
                )
            found[code] = _field(form, key)
    return found


def _media_url(form: FormData) -> str | None:
    url = _field(form, "media_url")
    if url is None:
        return None
    if not url.lower().startswith(("http://", "https://")) or any(c.isspace() for c in url):
        raise InvalidParameterError(f"media_url {url[:80]!r} is not an http(s) URL")
    if len(url) > URL_LIMIT:
        raise InvalidParameterError(f"media_url is longer than {URL_LIMIT} characters")
    return url


def _location(
    session: Session, form: FormData
) -> tuple[float | None, float | None, int | None, str | None]:
    """lon, lat, building id and address of the report, from whichever the client sent.

    lat and long win; else ``address_id`` (a building id); else an
    ``address_string`` that names exactly one known building address.
    """
    lat, lon = _field(form, "lat"), _field(form, "long")
    address = _field(form, "address_string")
    if lat is not None or lon is not None:
        if lat is None or lon is None:
            raise InvalidParameterError("send both lat and long (degrees), or neither")
        return _degrees(lon, "long"), _degrees(lat, "lat"), None, address
    address_id = _field(form, "address_id")
    if address_id is not None:
        building = int(address_id) if address_id.isdigit() and len(address_id) < 19 else None
        exists, building_address = (
            sr.building_exists(session, building) if building else (False, None)
        )
        if building is None or not exists:
            raise InvalidParameterError(
                f"address_id {address_id!r} is not a building id known here; "
                "send lat and long instead"
            )
        return None, None, building, address or building_address
    if address is not None:
        building = sr.building_at_address(session, address)
        if building is None:
            raise InvalidParameterError(
                f"address_string {address!r} does not match exactly one building address "
                "known here; send lat and long (and attribute[datum]) as well"
            )
        return None, None, building, address
    raise InvalidParameterError(
        "a location is required: lat and long, or address_id, or address_string"
    )


def _notice(cat: Category, record: IncidentRecord) -> str:
    notice = _service_notice(cat)
    if record.snapped_m is not None:
        notice += (
            f"; the point lay {record.snapped_m:g} m outside every grid and was given to "
            "the nearest one"
        )
    return notice


_FORM_FIELDS = {
    "service_code": "A service_code from services.json (required).",
    "lat": "Latitude, degrees, in attribute[datum] (default WGS84).",
    "long": "Longitude, degrees, in attribute[datum].",
    "address_string": "Address; without lat/long it must match one building address exactly.",
    "address_id": "A building id, instead of lat/long.",
    "attribute[datum]": "wgs84 (default), cgcs2000, gcj02 or bd09.",
    "attribute[source]": "app (default), hotline, patrol, video or visit.",
    "description": f"What is wrong, at most {DESCRIPTION_LIMIT} characters.",
    "media_url": "Link to a photo.",
    "api_key": "Identifies the client (not checked yet; stored only as a fingerprint).",
    "jurisdiction_id": "The district's code; optional.",
    **{name: "Accepted and not stored (personal data)." for name in CONTACT_FIELDS},
}
_FORM_SCHEMA = {
    "type": "object",
    "required": ["service_code"],
    "properties": {name: {"type": "string", "description": d} for name, d in _FORM_FIELDS.items()},
}


@router.post(
    "/v2/requests.{format}",
    summary="Open311: file a service request (form-encoded)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": _FORM_SCHEMA},
                "multipart/form-data": {"schema": _FORM_SCHEMA},
            },
        }
    },
)
def post_request(
    session: SessionDep, format: FormatPath, form: FormDep, jurisdiction_id: Jurisdiction = None
) -> Response:
    """Files the report as an incident routed to its grid; answers
    ``[{"service_request_id", "service_notice", "account_id": null}]``.
    ``jurisdiction_id`` may come in the form or the query string."""
    fmt = _format(format)
    _check_jurisdiction(session, _field(form, "jurisdiction_id") or jurisdiction_id)
    code = _field(form, "service_code")
    if code is None:
        raise InvalidParameterError("service_code is required; services.json lists them")
    cat = _BY_CODE.get(code)
    if cat is None:
        raise InvalidParameterError(
            f"service_code {code!r} is not a service here; GET /open311/v2/services.json lists them"
        )
    attributes = _attribute_values(form)
    datum = _choice(attributes.get("datum"), "attribute[datum]", DATUMS, "wgs84")
    source = _choice(attributes.get("source"), "attribute[source]", SOURCES, DEFAULT_SOURCE)
    description = _field(form, "description")
    if description is not None and len(description) > DESCRIPTION_LIMIT:
        raise InvalidParameterError(
            f"description has {len(description)} characters; at most {DESCRIPTION_LIMIT}"
        )
    media_url = _media_url(form)
    lon, lat, building_id, address = _location(session, form)
    record = sr.file_service_request(
        session,
        category=cat.code,
        lon=lon,
        lat=lat,
        datum=datum,
        building_id=building_id,
        address=address,
        description=description,
        source=source,
        api_key=_field(form, "api_key"),
        media_url=media_url,
    )
    session.commit()
    body = [
        {
            "service_request_id": str(record.id),
            "service_notice": _notice(cat, record),
            "account_id": None,
        }
    ]
    response = render(body, fmt, "service_requests")
    response.headers["Location"] = f"{PREFIX}/v2/requests/{record.id}.{fmt}"
    return response


# --------------------------------------------------------------------------- GET requests


def _record(request: sr.ServiceRequest) -> dict[str, Any]:
    cat = _category(request.category)
    return {
        "service_request_id": str(request.id),
        "status": request.status,
        "status_notes": request.status_notes,
        "service_name": cat.name_zh if cat else request.category,
        "service_code": cat.code if cat else request.category,
        "description": request.description,
        "agency_responsible": request.agency,
        "service_notice": _service_notice(cat) if cat else None,
        "requested_datetime": _time(request.requested_at),
        "updated_datetime": _time(request.updated_at),
        "expected_datetime": _time(request.expected_at),
        "address": request.address,
        "address_id": None if request.building_id is None else str(request.building_id),
        "zipcode": None,
        "lat": None if request.lat is None else round(request.lat, 7),
        "long": None if request.lon is None else round(request.lon, 7),
        "media_url": request.media_url,
    }


def _service_codes(value: str | None) -> tuple[str, ...]:
    codes = sr.comma_list(value)
    for code in codes:
        if code not in _BY_CODE:
            raise InvalidParameterError(
                f"service_code {code!r} is not a service here; GET /open311/v2/services.json "
                "lists them"
            )
    return tuple(codes)


def _optional_time(value: str | None, name: str) -> dt.datetime | None:
    if value is None or not value.strip():
        return None
    return sr.parse_w3c_datetime(value, name)


W3C = "W3C datetime, e.g. 2026-03-01T09:00:00+08:00 (no zone: Asia/Shanghai)."


@router.get("/v2/requests.{format}", summary="Open311: service requests")
def list_requests(
    session: SessionDep,
    format: FormatPath,
    jurisdiction_id: Jurisdiction = None,
    service_request_id: Annotated[
        str | None,
        Query(description="Comma-separated ids; when given, the other filters are ignored."),
    ] = None,
    service_code: Annotated[str | None, Query(description="Comma-separated service codes.")] = None,
    start_date: Annotated[str | None, Query(description=f"Earliest report time; {W3C}")] = None,
    end_date: Annotated[str | None, Query(description=f"Latest report time; {W3C}")] = None,
    status: Annotated[str | None, Query(description="open, closed or open,closed.")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Extension: page, from 1.")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=sr.MAX_REQUESTS, description="Extension: requests per page.")
    ] = sr.MAX_REQUESTS,
    bbox: Annotated[
        str | None, Query(description="Extension: minLon,minLat,maxLon,maxLat in WGS84.")
    ] = None,
    updated_after: Annotated[
        str | None, Query(description=f"Extension: changed after this time; {W3C}")
    ] = None,
) -> Response:
    """Requests reported in the window (default the last 90 days; a start/end
    range may not span more), newest first, at most 1000 per page. lat/long
    are WGS84."""
    fmt = _format(format)
    _check_jurisdiction(session, jurisdiction_id)
    if service_request_id is not None and service_request_id.strip():
        found = sr.service_requests_by_id(session, sr.parse_request_ids(service_request_id))
        return render([_record(r) for r in found], fmt, "service_requests")
    start, end = sr.report_window(
        _optional_time(start_date, "start_date"),
        _optional_time(end_date, "end_date"),
        dt.datetime.now(dt.UTC),
    )
    where = sr.RequestFilter(
        start=start,
        end=end,
        service_codes=_service_codes(service_code),
        statuses=sr.parse_statuses(status),
        bbox=parse_bbox(bbox),
        updated_after=_optional_time(updated_after, "updated_after"),
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    found = sr.list_service_requests(session, where)
    return render([_record(r) for r in found], fmt, "service_requests")


@router.get("/v2/requests/{service_request_id}.{format}", summary="Open311: one service request")
def get_request(
    session: SessionDep,
    service_request_id: Annotated[str, Path(description="The id POST requests answered.")],
    format: FormatPath,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """A one-element array, as the spec has it; 404 if no request has this id."""
    fmt = _format(format)
    _check_jurisdiction(session, jurisdiction_id)
    ident = service_request_id.strip()
    found = (
        sr.service_requests_by_id(session, [int(ident)])
        if ident.isdigit() and len(ident) < 19
        else []
    )
    if not found:
        raise NotFoundError(f"no service request has id {service_request_id!r}")
    return render([_record(found[0])], fmt, "service_requests")


@router.get("/discovery.{format}", summary="Open311: service discovery")
def discovery(request: Request, format: FormatPath) -> Response:
    """Where the GeoReport v2 endpoint is and which formats it speaks."""
    fmt = _format(format)
    base = str(request.base_url).rstrip("/")
    body = {
        "changeset": CHANGESET,
        "contact": "The district's grid management centre (网格化管理中心).",
        "key_service": "No key is needed yet; api_key identifies the client when sent.",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": f"{base}{PREFIX}/v2",
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }
    return render(body, fmt, "discovery")
