"""GeoReport v2 parameters: what a client sends, checked and turned into typed values.

Query parameters (the 90-day window, W3C datetimes, comma lists, ids,
open/closed) and the form of a filed request (fields, ``attribute[code]``
values, where the report is) are the protocol's; what they mean for an
incident is ``gis.incidents``'. A wrong value is an ``InvalidParameterError``
(400) that names the parameter.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import AsyncGenerator, Mapping, Sequence

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, MutableHeaders, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from api.bodies import body_limit, form_codec, read_limited, url_encoded_pairs
from api.fields import TEXT_MAX, refuse_unstorable
from gis.errors import InvalidParameterError, PayloadTooLargeError
from gis.incidents import open311 as sr
from gis.incidents.catalogue import CATEGORIES, Category
from gis.incidents.open311 import OpenClosed
from gis.lang import Texts
from gis.localtime import CITY_TZ

WINDOW = dt.timedelta(days=90)
"""Without dates the last 90 days; a start/end range may not span more."""
MAX_REQUESTS = 1000
"""At most 1000 requests per answer (page on with ``page``)."""
SERVICES: Mapping[str, Category] = {c.code: c for c in CATEGORIES}
"""Every incident category is a service, subclasses included."""
DATUMS: tuple[tuple[str, Texts], ...] = (
    ("wgs84", Texts("WGS84（GPS、北斗原始坐标）", "WGS84 (GPS, BeiDou raw coordinates)")),
    ("cgcs2000", Texts("CGCS2000（国家2000，官方地图）", "CGCS2000 (official maps)")),
    ("gcj02", Texts("GCJ-02（高德、腾讯、微信地图）", "GCJ-02 (Amap, Tencent, WeChat map apps)")),
    ("bd09", Texts("BD-09（百度地图）", "BD-09 (Baidu maps)")),
)
"""The ``datum`` attribute's values: key and name in both languages (``api.lang`` picks)."""
SOURCES: tuple[tuple[str, Texts], ...] = (
    ("app", Texts("手机应用", "phone or web app")),
    ("hotline", Texts("热线（12345）", "hotline (12345)")),
    ("patrol", Texts("网格员巡查", "grid manager's patrol")),
    ("video", Texts("视频监控", "video surveillance")),
    ("visit", Texts("入户走访", "home visit")),
)
"""The ``source`` attribute's values."""
DEFAULT_SOURCE = "app"
CONTACT_FIELDS = ("email", "device_id", "account_id", "first_name", "last_name", "phone")
DESCRIPTION_LIMIT = 4000
"""Characters: GeoReport v2's limit on a request's description."""

_UNESCAPED_PLUS = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


def parse_w3c_datetime(value: str, name: str) -> dt.datetime:
    """An aware datetime from a W3C (ISO 8601) date or datetime.

    A date is its midnight and a time without zone is read in Asia/Shanghai.
    A ``+08:00`` that arrived as `` 08:00`` (the ``+`` left unescaped in the
    query string, a common client slip) is read as meant.
    """
    raw = value.strip()
    raw = _UNESCAPED_PLUS.sub(r"\1+\2", raw)
    try:
        parsed = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidParameterError(
            f"{name} {value!r} is not a W3C datetime; use e.g. 2026-03-01T09:00:00+08:00, "
            "2026-03-01T01:00:00Z or 2026-03-01 (escape '+' as %2B in a URL)"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=CITY_TZ)
    return parsed


def comma_list(value: str | None) -> list[str]:
    """The non-empty items of a comma-separated parameter."""
    if value is None:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_request_ids(value: str) -> list[int]:
    """``service_request_id``: comma-separated ids (at most 1000), in the order given."""
    ids: list[int] = []
    for part in comma_list(value):
        if not part.isdigit() or not 1 <= int(part) <= 2**63 - 1:
            raise InvalidParameterError(
                f"service_request_id {part!r} is not a request id; ids are positive integers, "
                "several separated by commas"
            )
        if int(part) not in ids:
            ids.append(int(part))
    if not ids:
        raise InvalidParameterError("service_request_id is empty; give one or more ids")
    if len(ids) > MAX_REQUESTS:
        raise InvalidParameterError(
            f"service_request_id lists {len(ids)} ids; ask for at most {MAX_REQUESTS} at a time"
        )
    return ids


def parse_statuses(value: str | None) -> tuple[OpenClosed, ...]:
    """``status``: open, closed or both (comma-separated); empty means both."""
    statuses: list[OpenClosed] = []
    for part in comma_list(value):
        lowered = part.lower()
        if lowered == "open":
            statuses.append("open")
        elif lowered == "closed":
            statuses.append("closed")
        else:
            raise InvalidParameterError(
                f"status {part!r} is not an Open311 status; use open or closed"
            )
    return tuple(dict.fromkeys(statuses))


def report_window(
    start: dt.datetime | None, end: dt.datetime | None, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """The report-time range of GET requests: GeoReport's 90-day rule.

    Neither date: the last 90 days up to ``now``; only one: 90 days from it
    (or up to it); both: that range, which may not be reversed nor span more
    than 90 days.
    """
    if start is None and end is None:
        return now - WINDOW, now
    if start is None:
        assert end is not None
        if end.replace(tzinfo=None) - dt.datetime.min < WINDOW:
            raise InvalidParameterError(
                f"end_date {end.date().isoformat()} is too early: the 90 days before it "
                "precede year 1; give a date of this era"
            )
        return end - WINDOW, end
    if end is None:
        if dt.datetime.max - start.replace(tzinfo=None) < WINDOW + dt.timedelta(days=1):
            raise InvalidParameterError(
                f"start_date {start.date().isoformat()} is too late: the 90 days after it "
                "pass year 9999; give a date of this era"
            )
        return start, start + WINDOW
    if end < start:
        raise InvalidParameterError(
            f"end_date {end.isoformat()} is before start_date {start.isoformat()}"
        )
    if end - start > WINDOW:
        raise InvalidParameterError(
            f"start_date to end_date spans {(end - start).days} days; GeoReport v2 allows at "
            f"most {WINDOW.days}: ask for the period in slices of 90 days"
        )
    return start, end


def service_codes(value: str | None) -> tuple[str, ...]:
    codes = comma_list(value)
    for code in codes:
        if code not in SERVICES:
            raise InvalidParameterError(
                f"service_code {code!r} is not a service here; GET /open311/v2/services.json "
                "lists them"
            )
    return tuple(codes)


def optional_time(value: str | None, name: str) -> dt.datetime | None:
    if value is None or not value.strip():
        return None
    return parse_w3c_datetime(value, name)


async def _stream(raw: bytes) -> AsyncGenerator[bytes, None]:
    yield raw


def url_encoded(raw: bytes, codec: str = "utf-8") -> FormData:
    """A url-encoded form in ``codec`` whose bytes that are not text in it stay visible to
    :func:`field`.

    Starlette's parser reads UTF-8 only and replaces other bytes with U+FFFD,
    storing a garbled report without a word; decoded with ``surrogateescape``
    they become unpaired surrogates, which :func:`field` refuses naming the field.
    """
    return FormData([(k, v) for k, v in url_encoded_pairs(raw, codec)])


def _latin1_headers(request: Request) -> MutableHeaders:
    """The request's headers with its multipart Content-Type declaring latin-1.

    Starlette's multipart parser falls back to latin-1 when a field is not text in
    the declared charset (garbling it); told latin-1 it keeps every byte, and
    :func:`_multipart_text` decodes them with the declared charset, strictly.
    """
    headers = MutableHeaders(raw=list(request.headers.raw))
    declared = headers.get("content-type", "")
    params = [p for p in declared.split(";") if not p.strip().lower().startswith("charset=")]
    headers["content-type"] = "; ".join([*(p.strip() for p in params), "charset=latin-1"])
    return headers


def _multipart_text(form: FormData, codec: str) -> FormData:
    """The fields of a multipart form read as latin-1, decoded with ``codec``."""

    def text(value: str) -> str:
        return value.encode("latin-1").decode(codec, "surrogateescape")

    return FormData(
        [(text(k), text(v) if isinstance(v, str) else v) for k, v in form.multi_items()]
    )


async def read_form(request: Request) -> FormData:
    """The form body, size-limited: url-encoded or multipart, no files.

    A photo belongs on a server of its own; the report carries its media_url.
    Decoded by its declared charset (UTF-8 unless it says GBK, GB2312 or
    GB18030; any other is a 415, ``api.bodies.form_codec``).
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise InvalidParameterError(
            f"the body is {content_type or 'not typed'}; GeoReport v2 posts the fields "
            "form-encoded (application/x-www-form-urlencoded) or as multipart/form-data"
        )
    codec = form_codec(request)
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
            parsed = await MultiPartParser(_latin1_headers(request), _stream(raw)).parse()
            form = _multipart_text(parsed, codec)
        else:
            form = url_encoded(raw, codec)
    except MultiPartException as exc:
        raise InvalidParameterError(f"the multipart body is malformed: {exc.message}") from None
    if any(isinstance(value, UploadFile) for _, value in form.multi_items()):
        raise InvalidParameterError(
            "files are not accepted; upload the photo elsewhere and send its link as media_url"
        )
    api_key = form.get("api_key")
    if isinstance(api_key, str) and api_key.strip():
        request.state.form_api_key = api_key.strip()  # the spec's credential (api.access)
    return form


def field(form: FormData, name: str, max_length: int = TEXT_MAX) -> str | None:
    """The first non-empty value of ``name``, trimmed; None if absent or empty.

    Refuses (400, naming the field) text that cannot be stored or is longer
    than ``max_length`` characters.
    """
    for value in form.getlist(name):
        if isinstance(value, str) and value.strip():
            return checked_text(value.strip(), name, max_length)
    return None


def checked_text(value: str, name: str, max_length: int = TEXT_MAX) -> str:
    """``value`` of parameter ``name``, or a 400 saying why it cannot be stored."""
    try:
        refuse_unstorable(value)
    except ValueError as exc:
        raise InvalidParameterError(f"{name}: {exc}") from None
    if len(value) > max_length:
        raise InvalidParameterError(
            f"{name} has {len(value)} characters; at most {max_length} are accepted"
        )
    return value


def degrees(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InvalidParameterError(f"{name} {value!r} is not a number of degrees") from None
    if not math.isfinite(number):
        raise InvalidParameterError(f"{name} must be a finite number of degrees")
    return number


def choice(
    value: str | None, name: str, choices: Sequence[tuple[str, object]], default: str
) -> str:
    if value is None:
        return default
    keys = [key for key, _ in choices]
    if value.lower() not in keys:
        raise InvalidParameterError(
            f"{name} {value!r} is not one of the listed values: {', '.join(keys)}"
        )
    return value.lower()


def attribute_values(form: FormData) -> dict[str, str | None]:
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
            found[code] = field(form, key)
    return found


def location(
    session: Session, form: FormData
) -> tuple[float | None, float | None, int | None, str | None]:
    """lon, lat, building id and address of the report, from whichever the client sent.

    lat and long win; else ``address_id`` (a building id); else an
    ``address_string`` that names exactly one known building address.
    """
    lat, lon = field(form, "lat"), field(form, "long")
    address = field(form, "address_string")
    if lat is not None or lon is not None:
        if lat is None or lon is None:
            raise InvalidParameterError("send both lat and long (degrees), or neither")
        return degrees(lon, "long"), degrees(lat, "lat"), None, address
    address_id = field(form, "address_id")
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
