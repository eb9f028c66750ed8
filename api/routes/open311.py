"""Open311 GeoReport v2 under /open311/v2, so hotlines and city apps plug in unchanged.

``services.json`` (one service per incident category), ``services/{code}.json``
(the ``datum`` and ``source`` attributes), ``requests.json`` GET (the spec's
filters, 90-day window; extensions ``page``, ``bbox``, ``updated_after``, and
``datum`` for lat/long in WGS84, CGCS2000, GCJ-02 or BD-09) and
form-encoded POST (filed as ordinary intake), ``requests/{id}.json`` and
``discovery.json``. Parameters are read by ``api.open311.params``, answers
written by ``api.open311.render`` (JSON or XML, the spec's error shape).
Contact fields are accepted and not stored. Names, notices and status notes are
Chinese unless the request's ``Accept-Language`` prefers English (``api.lang``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api import access
from api.audited import record_read, record_report
from api.dependencies import DatumOutDep, SessionDep
from api.fields import TEXT_MAX, Text
from api.lang import LangDep
from api.open311.params import (
    CONTACT_FIELDS,
    DATUMS,
    DEFAULT_SOURCE,
    DESCRIPTION_LIMIT,
    MAX_REQUESTS,
    SERVICES,
    SOURCES,
    attribute_values,
    choice,
    field,
    location,
    optional_time,
    parse_request_ids,
    parse_statuses,
    read_form,
    report_window,
    service_codes,
)
from api.open311.render import (
    XML_TYPE,
    answer_format,
    attributes,
    filing_notice,
    render,
    request_records,
    service,
    to_xml,
)
from api.open311_schemas import (
    FILED_REQUEST_EXAMPLE,
    SERVICE_EXAMPLE,
    SERVICE_REQUEST_EXAMPLE,
    DiscoveryDoc,
    FiledRequestDoc,
    ServiceDefinitionDoc,
    ServiceDoc,
    ServiceRequestDoc,
)
from api.responses import example_of
from api.routing import ReadRetryRoute
from gis.errors import InvalidParameterError, NotFoundError
from gis.geo.datum import parse_datum
from gis.geo.geojson import parse_bbox
from gis.incidents import open311 as sr
from gis.incidents.catalogue import CATEGORIES
from gis.incidents.intake import Report, create_incident
from gis.lang import Texts
from gis.localtime import utc_now
from gis.principal import Principal

PREFIX = "/open311"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-23T00:00:00+08:00"
"""When this endpoint's services or behaviour last changed (discovery's ``changeset``)."""

router = APIRouter(
    route_class=ReadRetryRoute,
    prefix=PREFIX,
    tags=["open311"],
    responses={
        200: {"content": {XML_TYPE.split(";")[0]: {"schema": {"type": "string"}}}},
        404: {
            "description": "jurisdiction_id is not this server's district, or no such "
            "service or request (errors in the spec's shape: api.error_docs)"
        },
    },
)
FormDep = Annotated[FormData, Depends(read_form)]


def _answers(model: Any, example: Any, root: str) -> dict[int | str, dict[str, Any]]:
    """The 200 of a GeoReport route: ``model`` as JSON, the same fields as XML (document
    element ``root``), each with ``example`` in its format."""
    xml = {"schema": {"type": "string"}, "example": to_xml(root, example).decode()}
    return {
        200: {
            "model": model,
            "content": {"application/json": {"example": example}, XML_TYPE.split(";")[0]: xml},
        }
    }


def _check_jurisdiction(session: Session, jurisdiction_id: str | None) -> None:
    """Absent (or empty) is this server's district; otherwise it must be a district code."""
    if jurisdiction_id is None or not jurisdiction_id.strip():
        return
    known = sr.jurisdictions(session)
    if jurisdiction_id.strip() not in known:
        listed = ", ".join(f"{code} ({name})" for code, name in known.items()) or "none loaded"
        raise NotFoundError(
            f"jurisdiction_id {jurisdiction_id!r} is not served here; this server's "
            f"jurisdiction is {listed}, and jurisdiction_id may be left out",
            zh=f"本服务器不受理 jurisdiction_id {jurisdiction_id!r}；本服务器的辖区是 {listed}，"
            "jurisdiction_id 也可以不写",
        )


FormatPath = Annotated[
    str,
    # Documented, not validated here: answer_format refuses others in the spec's words.
    Path(description="json or xml.", json_schema_extra={"enum": ["json", "xml"]}),
]
QueryText = Annotated[Text, Field(max_length=TEXT_MAX)]
Jurisdiction = Annotated[
    QueryText | None,
    Query(description="The district's code (e.g. 370705); optional, this server has one."),
]


@router.get(
    "/v2/services.{format}",
    dependencies=[Depends(access.PUBLIC)],
    summary="Open311: the services (incident categories)",
    responses=_answers(list[ServiceDoc], [SERVICE_EXAMPLE], "services"),
)
def list_services(
    session: SessionDep, format: FormatPath, lang: LangDep, jurisdiction_id: Jurisdiction = None
) -> Response:
    """One service per category; ``group`` is its top-level class, ``metadata``
    says it has attributes (every service takes ``datum`` and ``source``). Names and
    descriptions in Chinese, or English with ``Accept-Language: en``."""
    fmt = answer_format(format)
    _check_jurisdiction(session, jurisdiction_id)
    return render([service(c, lang) for c in CATEGORIES], fmt, "services", lang=lang)


@router.get(
    "/v2/services/{service_code}.{format}",
    dependencies=[Depends(access.PUBLIC)],
    summary="Open311: a service definition",
    responses=_answers(
        ServiceDefinitionDoc, example_of(ServiceDefinitionDoc), "service_definition"
    ),
)
def get_service_definition(
    session: SessionDep,
    service_code: Annotated[str, Path(description="A service_code from services.json.")],
    format: FormatPath,
    lang: LangDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """The attributes of the service: ``datum`` of lat/long and ``source``."""
    fmt = answer_format(format)
    _check_jurisdiction(session, jurisdiction_id)
    if service_code not in SERVICES:
        raise NotFoundError(
            f"service_code {service_code!r} is not a service here; "
            "GET /open311/v2/services.json lists them",
            zh=f"service_code {service_code!r} 不是本服务器的服务；"
            "GET /open311/v2/services.json 列出全部服务",
        )
    body = {"service_code": service_code, "attributes": attributes(lang)}
    return render(body, fmt, "service_definition", lang=lang)


# --------------------------------------------------------------------------- POST requests


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
    "api_key": "Required: an API key with the open311 scope (the case's history names the key).",
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
    responses=_answers(list[FiledRequestDoc], [FILED_REQUEST_EXAMPLE], "service_requests"),
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
    request: Request,
    session: SessionDep,
    format: FormatPath,
    form: FormDep,
    principal: Annotated[Principal, Depends(access.OPEN311_POST)],
    lang: LangDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """Files the report as an incident routed to its grid; answers
    ``[{"service_request_id", "service_notice", "account_id": null}]``.
    ``jurisdiction_id`` may come in the form or the query string. The form's
    ``api_key`` (or the X-API-Key header) must be a key with the ``open311``
    scope; the case's history names the key (``key:<name>``)."""
    fmt = answer_format(format)
    _check_jurisdiction(session, field(form, "jurisdiction_id") or jurisdiction_id)
    code = field(form, "service_code")
    if code is None:
        raise InvalidParameterError(
            "service_code is required; services.json lists them",
            zh="必须填写 service_code；services.json 列出全部服务",
        )
    cat = SERVICES.get(code)
    if cat is None:
        raise InvalidParameterError(
            f"service_code {code!r} is not a service here; "
            "GET /open311/v2/services.json lists them",
            zh=f"service_code {code!r} 不是本服务器的服务；"
            "GET /open311/v2/services.json 列出全部服务",
        )
    given = attribute_values(form)
    datum = parse_datum(choice(given.get("datum"), "attribute[datum]", DATUMS, "wgs84"))
    source = choice(given.get("source"), "attribute[source]", SOURCES, DEFAULT_SOURCE)
    description = field(form, "description", DESCRIPTION_LIMIT)
    lon, lat, building_id, address = location(session, form)
    report = Report(
        category=cat.code,
        lon=lon,
        lat=lat,
        datum=datum,
        building_id=building_id,
        address=address,
        description=description,
        source=source,
        media_url=field(form, "media_url"),
    )
    record = create_incident(session, report, principal)
    record_report(session, request, principal, record, via="open311")
    session.commit()
    body = [
        {
            "service_request_id": str(record.id),
            "service_notice": filing_notice(cat, record, lang),
            "account_id": None,
        }
    ]
    response = render(body, fmt, "service_requests", lang=lang)
    response.headers["Location"] = f"{PREFIX}/v2/requests/{record.id}.{fmt}"
    return response


# --------------------------------------------------------------------------- GET requests


W3C = "W3C datetime, e.g. 2026-03-01T09:00:00+08:00 (no zone: Asia/Shanghai)."


Reader = Annotated[Principal, Depends(access.OPEN311_READ)]


def _audit(session: Session, request: Request, principal: Principal, found: list[Any]) -> None:
    """A reader responsible for a personal request sees it in full: an audited read."""
    shown = [r.id for r in found if r.personal and not r.masked]
    if len(shown) == 1 and len(found) == 1:
        record_read(session, request, principal, f"incident:{shown[0]}")
    elif shown:
        record_read(session, request, principal, "list:open311", detail={"incidents": shown})


@router.get(
    "/v2/requests.{format}",
    summary="Open311: service requests",
    responses=_answers(list[ServiceRequestDoc], [SERVICE_REQUEST_EXAMPLE], "service_requests"),
)
def list_requests(
    request: Request,
    session: SessionDep,
    principal: Reader,
    format: FormatPath,
    lang: LangDep,
    datum: DatumOutDep,
    jurisdiction_id: Jurisdiction = None,
    service_request_id: Annotated[
        QueryText | None,
        Query(description="Comma-separated ids; when given, the other filters are ignored."),
    ] = None,
    service_code: Annotated[
        QueryText | None, Query(description="Comma-separated service codes.")
    ] = None,
    start_date: Annotated[
        QueryText | None, Query(description=f"Earliest report time; {W3C}")
    ] = None,
    end_date: Annotated[QueryText | None, Query(description=f"Latest report time; {W3C}")] = None,
    status: Annotated[QueryText | None, Query(description="open, closed or open,closed.")] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Extension: page, from 1.")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_REQUESTS, description="Extension: requests per page.")
    ] = MAX_REQUESTS,
    bbox: Annotated[
        QueryText | None,
        Query(description="Extension: minLon,minLat,maxLon,maxLat in WGS84 (whatever datum=)."),
    ] = None,
    updated_after: Annotated[
        QueryText | None, Query(description=f"Extension: changed after this time; {W3C}")
    ] = None,
) -> Response:
    """Requests reported in the window (default the last 90 days; a start/end
    range may not span more), newest first, at most 1000 per page. lat/long
    are WGS84, or in ``datum`` (gcj02 for an Amap or Tencent map, bd09 for Baidu's).
    Only the requests of the caller's areas (a key with an area: that
    area); disputes, petitions and help requests only to those responsible for
    them (by id, others see them at their grid's representative point without
    description or notes)."""
    fmt = answer_format(format)
    _check_jurisdiction(session, jurisdiction_id)
    if service_request_id is not None and service_request_id.strip():
        found = sr.service_requests_by_id(session, parse_request_ids(service_request_id), principal)
        _audit(session, request, principal, found)
        return render(request_records(found, lang, datum), fmt, "service_requests", lang=lang)
    start, end = report_window(
        optional_time(start_date, "start_date"),
        optional_time(end_date, "end_date"),
        utc_now(),
    )
    where = sr.RequestFilter(
        start=start,
        end=end,
        service_codes=service_codes(service_code),
        statuses=parse_statuses(status),
        bbox=parse_bbox(bbox),
        updated_after=optional_time(updated_after, "updated_after"),
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    found = sr.list_service_requests(session, where, principal)
    _audit(session, request, principal, found)
    return render(request_records(found, lang, datum), fmt, "service_requests", lang=lang)


@router.get(
    "/v2/requests/{service_request_id}.{format}",
    summary="Open311: one service request",
    responses=_answers(list[ServiceRequestDoc], [SERVICE_REQUEST_EXAMPLE], "service_requests"),
)
def get_request(
    request: Request,
    session: SessionDep,
    principal: Reader,
    service_request_id: Annotated[str, Path(description="The id POST requests answered.")],
    format: FormatPath,
    lang: LangDep,
    datum: DatumOutDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """A one-element array, as the spec has it; 404 if no request has this id or it is
    outside the caller's areas. lat/long are WGS84, or in ``datum``."""
    fmt = answer_format(format)
    _check_jurisdiction(session, jurisdiction_id)
    ident = service_request_id.strip()
    found = (
        sr.service_requests_by_id(session, [int(ident)], principal)
        if ident.isdigit() and len(ident) < 19
        else []
    )
    if not found:
        raise NotFoundError(
            f"no service request has id {service_request_id!r}",
            zh=f"没有编号为 {service_request_id!r} 的服务请求",
        )
    _audit(session, request, principal, found)
    return render(request_records(found[:1], lang, datum), fmt, "service_requests", lang=lang)


@router.get(
    "/discovery.{format}",
    dependencies=[Depends(access.PUBLIC)],
    summary="Open311: service discovery",
    responses=_answers(DiscoveryDoc, example_of(DiscoveryDoc), "discovery"),
)
def discovery(request: Request, format: FormatPath, lang: LangDep) -> Response:
    """Where the GeoReport v2 endpoint is and which formats it speaks."""
    fmt = answer_format(format)
    base = str(request.base_url).rstrip("/")
    body = {
        "changeset": CHANGESET,
        "contact": Texts(
            "区网格化管理中心。", "The district's grid management centre (网格化管理中心)."
        ).pick(lang),
        "key_service": Texts(
            "上报须使用具有 open311 权限的 api_key；请向区网格化管理中心申请"
            "（gridmap keys create --scopes open311）。",
            "Filing needs an api_key with the open311 scope; ask the district's "
            "grid management centre for one (gridmap keys create --scopes open311).",
        ).pick(lang),
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
    return render(body, fmt, "discovery", lang=lang)
