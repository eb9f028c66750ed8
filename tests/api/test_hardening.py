"""What comes with letting people in: CORS, media types, security headers, gzip, charsets, and
parameters that would change an answer's meaning.

The cross-site attack these close: a page of another site could POST a
``text/plain`` body (no CORS preflight needed) that the API read as JSON, and
so file or cancel incidents in the name of whoever had the map open. Most
tests use the ``client`` fixture (an admin's bearer login on the small
district, rolled back); CORS needs an app built with ``GRIDMAP_CORS_ORIGINS``.
"""

from __future__ import annotations

import gzip
import re
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from api.app import create_app
from api.dependencies import get_session
from api.routing import MEANINGFUL_PARAMETERS, declared_query_names
from api.security import content_security_policy, with_script_nonces
from gis.accounts.accounts import add_account
from gis.accounts.keys import create_key
from gis.db.models import Incident
from gis.settings import ServerSettings
from tests.accounts import login_headers
from tests.api.conftest import MAX_PAGE_SIZE, SmallDistrict
from tests.http_checks import assert_error, ok

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

LISTED = "https://hotline.example.gov.cn"
OTHER = "https://evil.example.com"
WEST = (119.11, 36.72)  # inside the west grid of the small district
DESCRIPTION = "北门垃圾堆放两天未清，𠮷祥小区东侧"  # 𠮷 (U+20BB7) is in GB18030, not in GBK


def report_body(**kw: Any) -> dict[str, Any]:
    return {
        "category": "exposed_garbage",
        "description": "暴露垃圾",
        "source": "patrol",
        "lon": WEST[0],
        "lat": WEST[1],
        **kw,
    }


def incidents_stored(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(Incident)) or 0)


def description(response: Any) -> str:
    body = response.json()
    return str(body[0]["description"] if isinstance(body, list) else body["description"])


# --------------------------------------------------------------------------- CORS


@pytest.fixture
def cors_client(engine: Engine, db: Session, small_district: SmallDistrict) -> Iterator[TestClient]:
    """The admin's client on an app that lets ``LISTED`` (only) call from its pages."""
    settings = ServerSettings.model_validate(
        {"GRIDMAP_MAX_PAGE_SIZE": MAX_PAGE_SIZE, "GRIDMAP_CORS_ORIGINS": f" {LISTED} ,"}
    )
    app = create_app(settings, engine=engine)
    app.dependency_overrides[get_session] = lambda: db
    with TestClient(app, headers=login_headers(db, "cors-admin", "admin")) as test_client:
        yield test_client


def preflight(client: TestClient, origin: str, method: str = "POST") -> Any:
    return client.options(
        "/api/v1/incidents",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_by_default_there_is_no_cors_at_all(client: TestClient) -> None:
    answer = client.get("/api/v1/grids", headers={"Origin": LISTED})
    assert answer.status_code == 200
    assert not [h for h in answer.headers if h.lower().startswith("access-control-")]
    refused = preflight(client, LISTED)
    assert refused.status_code == 405
    assert "access-control-allow-origin" not in refused.headers


def test_a_listed_origin_may_call_with_credentials(cors_client: TestClient) -> None:
    answer = cors_client.get("/api/v1/grids", headers={"Origin": LISTED})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == LISTED
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in answer.headers["vary"]
    assert "etag" in answer.headers["access-control-expose-headers"].lower()

    allowed = preflight(cors_client, LISTED)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == LISTED
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert {"authorization", "content-type"} <= {
        h.strip().lower() for h in allowed.headers["access-control-allow-headers"].split(",")
    }


def test_an_unlisted_origin_gets_no_cors_headers(cors_client: TestClient) -> None:
    answer = cors_client.get("/api/v1/grids", headers={"Origin": OTHER})
    assert answer.status_code == 200  # the browser, not the server, withholds it from the page
    assert "access-control-allow-origin" not in answer.headers  # without it nothing else counts
    refused = preflight(cors_client, OTHER)
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    # A method the API does not offer cross-site is refused even to a listed origin.
    assert preflight(cors_client, LISTED, "PUT").status_code == 400


@pytest.mark.parametrize(
    "value",
    ["*", "https://*.example.gov.cn", f"{LISTED}/", f"{LISTED}/api", "hotline.example.gov.cn"],
)
def test_cors_origins_must_be_exact_origins(value: str) -> None:
    with pytest.raises(ValidationError, match="GRIDMAP_CORS_ORIGINS"):
        ServerSettings.model_validate({"GRIDMAP_CORS_ORIGINS": value})


def test_cors_origins_are_read_as_a_list() -> None:
    settings = ServerSettings.model_validate(
        {"GRIDMAP_CORS_ORIGINS": f"{LISTED}, http://10.0.0.5:8080,{LISTED}"}
    )
    assert settings.cors_origin_list == (LISTED, "http://10.0.0.5:8080")
    assert ServerSettings.model_validate({}).cors_origin_list == ()


# --------------------------------------------------------------------------- JSON bodies only


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
        "application/json; charset=gbk",
        "application/geo+json",  # no GeoJSON is posted here
    ],
)
def test_a_report_that_is_not_declared_json_is_415_and_files_nothing(
    client: TestClient, db: Session, content_type: str | None
) -> None:
    import json

    before = incidents_stored(db)
    headers = {"content-type": content_type} if content_type else {}
    raw = json.dumps(report_body()).encode()
    response = client.post("/api/v1/incidents", content=raw, headers=headers)
    body = assert_error(response, 415, "application/json")
    assert body["code"] == "UnsupportedMediaType"
    assert incidents_stored(db) == before


def test_a_json_report_is_still_filed(client: TestClient, db: Session) -> None:
    before = incidents_stored(db)
    ok(client.post("/api/v1/incidents", json=report_body()), 201)
    charset = client.post(
        "/api/v1/incidents",
        content=__import__("json").dumps(report_body()).encode(),
        headers={"content-type": "application/json; charset=UTF-8"},
    )
    ok(charset, 201)
    assert incidents_stored(db) == before + 2


def test_a_cross_site_text_plain_cancel_is_refused(client: TestClient) -> None:
    """The simple request a foreign page can send without a preflight does nothing."""
    import json

    case = ok(client.post("/api/v1/incidents", json=report_body()), 201)
    step = json.dumps({"action": "cancel", "note": "spam", "expected_version": case["version"]})
    response = client.post(
        f"/api/v1/incidents/{case['id']}/transitions",
        content=step.encode(),
        headers={"content-type": "text/plain"},
    )
    assert_error(response, 415, "application/json")
    after = ok(client.get(f"/api/v1/incidents/{case['id']}"))
    assert after.get("properties", after)["status"] == case["status"]


def test_a_facility_may_be_posted_as_geojson(client: TestClient) -> None:
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [119.12, 36.73]},
        "properties": {"type": "kindergarten", "name": "东苑幼儿园"},
    }
    import json

    raw = json.dumps(feature, ensure_ascii=False).encode()
    created = client.post(
        "/api/v1/facilities", content=raw, headers={"content-type": "application/geo+json"}
    )
    assert ok(created, 201)["properties"]["name"] == "东苑幼儿园"
    refused = client.post("/api/v1/facilities", content=raw, headers={"content-type": "text/plain"})
    assert "application/geo+json" in assert_error(refused, 415)["description"]
    media = client.get("/openapi.json").json()["paths"]["/api/v1/facilities"]["post"]
    assert set(media["requestBody"]["content"]) == {"application/json", "application/geo+json"}
    assert "UnsupportedMediaType" in media["responses"]["415"]["description"]


# --------------------------------------------------------------------------- security headers


def assert_security_headers(response: Any) -> str:
    """The response's CSP (checked) and its script nonce."""
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    policy = response.headers["content-security-policy"]
    directives = {
        name: value for name, _, value in (d.strip().partition(" ") for d in policy.split(";"))
    }
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    found = re.search(r"'nonce-([A-Za-z0-9_-]{20,})'", directives["script-src"])
    assert found, policy
    return found.group(1)


def test_every_kind_of_answer_carries_the_security_headers(
    client: TestClient, anonymous: TestClient
) -> None:
    assert_security_headers(ok_response(client.get("/api/v1/grids")))
    assert_security_headers(client.get("/api/v1/nothing-here"))  # 404
    assert_security_headers(anonymous.get("/api/v1/grids"))  # 401
    assert_security_headers(client.post("/api/v1/incidents", content=b"{}"))  # 415
    assert_security_headers(client.get("/static/js/common.js"))  # a mounted static file


def ok_response(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response


def inline_scripts(page: str) -> list[str]:
    """The opening tags of the page's scripts that have no src."""
    return [tag for tag in re.findall(r"<script\b[^>]*>", page) if "src=" not in tag]


@pytest.mark.parametrize("path", ["/", "/docs", "/docs/oauth2-redirect", "/coverage", "/incidents"])
def test_each_pages_inline_scripts_carry_this_responses_nonce(
    client: TestClient, path: str
) -> None:
    first = ok_response(client.get(path))
    nonce = assert_security_headers(first)
    scripts = inline_scripts(first.text)
    assert scripts, "the page has inline scripts, so the check means something"
    assert all(f'nonce="{nonce}"' in tag for tag in scripts), scripts
    again = assert_security_headers(ok_response(client.get(path)))
    assert again != nonce  # a fresh nonce per response: one seen once cannot be replayed


def test_only_bare_script_tags_get_the_nonce() -> None:
    page = '<script src="/a.js"></script><script>go()</script><SCRIPT>x()</SCRIPT>'
    assert with_script_nonces(page, "abc") == (
        '<script src="/a.js"></script><script nonce="abc">go()</script>'
        '<script nonce="abc">x()</SCRIPT>'
    )
    assert "'nonce-abc'" in content_security_policy("abc")


def test_the_docs_load_only_vendored_assets(client: TestClient) -> None:
    page = ok_response(client.get("/docs")).text
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url.startswith("/static/vendor/swagger-ui/"), url


# --------------------------------------------------------------------------- gzip


def test_a_large_geojson_page_is_gzipped_when_asked(client: TestClient) -> None:
    plain = client.get("/api/v1/grids", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert len(plain.content) > 1024, "the page must be over the gzip threshold"
    zipped = client.get("/api/v1/grids", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["vary"]
    assert zipped.headers["content-type"].startswith("application/geo+json")
    assert zipped.json() == plain.json()
    assert zipped.json()["numberReturned"] == 3


def test_a_gzipped_page_streams_to_a_whole_document(client: TestClient) -> None:
    plain = client.get("/api/v1/areas", headers={"Accept-Encoding": "identity"}).content
    with client.stream("GET", "/api/v1/areas", headers={"Accept-Encoding": "gzip"}) as stream:
        assert stream.headers["content-encoding"] == "gzip"
        raw = b"".join(stream.iter_raw())
    assert len(raw) < len(plain)
    if "content-length" in stream.headers:
        assert int(stream.headers["content-length"]) == len(raw)
    assert gzip.decompress(raw) == plain


def test_a_small_answer_is_not_gzipped(client: TestClient) -> None:
    small = client.get("/api/v1/me", headers={"Accept-Encoding": "gzip"})
    assert small.status_code == 200 and len(small.content) < 1024
    assert "content-encoding" not in small.headers


# --------------------------------------------------------------------------- form charsets


@pytest.fixture
def hotline(anonymous: TestClient, db: Session) -> tuple[TestClient, str]:
    """A client without a login, and an Open311 key (sent as the spec's api_key)."""
    _, key = create_key(db, f"hotline-{uuid.uuid4().hex[:6]}", ("open311",))
    db.flush()
    return anonymous, key


def form(fields: dict[str, str], encoding: str) -> bytes:
    """``fields`` url-encoded in ``encoding``, percent-escaped as a browser would."""
    from urllib.parse import urlencode

    return urlencode(fields, encoding=encoding).encode("ascii")


def filing(key: str, text: str = DESCRIPTION) -> dict[str, str]:
    """An Open311 request's fields (the key goes in X-API-Key: see file_request)."""
    return {
        "service_code": "exposed_garbage",
        "lat": str(WEST[1]),
        "long": str(WEST[0]),
        "description": text,
    }


def file_request(client: TestClient, key: str, body: bytes, content_type: str) -> Any:
    return client.post(
        "/open311/v2/requests.json",
        content=body,
        headers={"content-type": content_type, "X-API-Key": key},
    )


def stored_description(client: TestClient, key: str, response: Any) -> str:
    [answer] = ok(response)
    url = f"/open311/v2/requests/{answer['service_request_id']}.json"
    [record] = ok(client.get(url, headers={"X-API-Key": key}))
    return str(record["description"])


@pytest.mark.parametrize(
    ("charset", "encoding", "text"),
    [
        ("gbk", "gbk", "北门垃圾堆放两天未清，镕基小区东侧"),  # 镕: GBK, not GB2312
        ("GB2312", "gb2312", "北门垃圾堆放两天未清"),
        ("gb18030", "gb18030", DESCRIPTION),
        ("utf-8", "utf-8", DESCRIPTION),
        (None, "utf-8", DESCRIPTION),
    ],
)
def test_an_open311_form_is_read_by_its_declared_charset(
    hotline: tuple[TestClient, str], charset: str | None, encoding: str, text: str
) -> None:
    client, key = hotline
    content_type = "application/x-www-form-urlencoded" + (f"; charset={charset}" if charset else "")
    response = file_request(client, key, form(filing(key, text), encoding), content_type)
    assert stored_description(client, key, response) == text


def test_gbk_sent_as_raw_bytes_arrives_intact(hotline: tuple[TestClient, str]) -> None:
    """Some hotline systems do not percent-escape: the GBK bytes themselves are in the body."""
    client, key = hotline
    fields = filing(key, "东苑小区北门垃圾")
    raw = "&".join(f"{k}={v}" for k, v in fields.items()).encode("gbk")
    response = file_request(client, key, raw, "application/x-www-form-urlencoded; charset=gbk")
    assert stored_description(client, key, response) == "东苑小区北门垃圾"


def test_a_multipart_form_is_read_by_its_declared_charset(hotline: tuple[TestClient, str]) -> None:
    client, key = hotline
    parts = b"".join(
        b'--b0undary\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (name.encode(), value.encode("gb18030"))
        for name, value in filing(key).items()
    )
    response = file_request(
        client,
        key,
        parts + b"--b0undary--\r\n",
        "multipart/form-data; boundary=b0undary; charset=gbk",
    )
    assert stored_description(client, key, response) == DESCRIPTION


def test_gbk_declared_as_utf8_is_refused_not_stored_garbled(
    hotline: tuple[TestClient, str], db: Session
) -> None:
    client, key = hotline
    before = incidents_stored(db)
    for content_type in (
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
    ):
        response = file_request(client, key, form(filing(key, "北门垃圾"), "gbk"), content_type)
        assert response.status_code == 400, response.text
        assert "description" in description(response)
    assert incidents_stored(db) == before


@pytest.mark.parametrize("charset", ["big5", "iso-8859-1", "shift_jis", "no-such-charset"])
def test_any_other_charset_is_415(
    hotline: tuple[TestClient, str], db: Session, charset: str
) -> None:
    client, key = hotline
    before = incidents_stored(db)
    response = file_request(
        client,
        key,
        form(filing(key, "garbage"), "utf-8"),
        f"application/x-www-form-urlencoded; charset={charset}",
    )
    assert response.status_code == 415, response.text
    assert response.json()[0]["code"] == 415  # Open311's error shape
    assert charset in description(response)
    assert incidents_stored(db) == before


CHINESE_PASSWORD = "网格员密码𠮷2026"


@pytest.fixture
def chinese_password(db: Session) -> str:
    """A user whose password is Chinese, as a hotline system's operator typed it."""
    name = f"op-{uuid.uuid4().hex[:6]}"
    add_account(db, name, CHINESE_PASSWORD, "admin")
    db.flush()
    return name


def token(client: TestClient, body: bytes, content_type: str) -> Any:
    return client.post("/api/v1/auth/token", content=body, headers={"content-type": content_type})


@pytest.mark.parametrize(
    ("charset", "encoding"), [("gb18030", "gb18030"), ("utf-8", "utf-8"), (None, "utf-8")]
)
def test_the_token_endpoint_reads_the_declared_charset(
    anonymous: TestClient, chinese_password: str, charset: str | None, encoding: str
) -> None:
    fields = {"username": chinese_password, "password": CHINESE_PASSWORD}
    content_type = "application/x-www-form-urlencoded" + (f"; charset={charset}" if charset else "")
    answer = ok(token(anonymous, form(fields, encoding), content_type))
    assert answer["token_type"] == "bearer"
    me = anonymous.get("/api/v1/me", headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert ok(me)["username"] == chinese_password


def test_the_token_endpoint_refuses_what_it_cannot_read(
    anonymous: TestClient, chinese_password: str
) -> None:
    fields = {"username": chinese_password, "password": CHINESE_PASSWORD}
    wrong_bytes = token(anonymous, form(fields, "gb18030"), "application/x-www-form-urlencoded")
    assert "password" in assert_error(wrong_bytes, 400)["description"]
    other = token(
        anonymous, form(fields, "utf-8"), "application/x-www-form-urlencoded; charset=big5"
    )
    assert assert_error(other, 415, "big5")["code"] == "UnsupportedMediaType"


# --------------------------------------------------------------------------- unknown parameters


@pytest.mark.parametrize(
    "query",
    [
        "datum=gcj02",
        "crs=http://www.opengis.net/def/crs/EPSG/0/3857",
        "srs=EPSG:3857",
        "bbox-crs=EPSG:4490",
        "f=json",
        "format=csv",
        "FORMAT=csv",
    ],
)
def test_a_meaning_changing_parameter_a_route_lacks_is_400(client: TestClient, query: str) -> None:
    name = query.split("=")[0].lower()
    response = client.get(f"/api/v1/facility-types?{query}")  # no coordinates, one format
    body = assert_error(response, 400, name, "暂不支持", "/api/v1/facility-types")
    assert body["code"] == "InvalidParameter"


def test_writes_and_open311_refuse_them_too(client: TestClient, db: Session) -> None:
    before = incidents_stored(db)
    assert_error(client.post("/api/v1/incidents?crs=EPSG:3857", json=report_body()), 400, "crs")
    assert incidents_stored(db) == before
    open311 = client.get("/open311/v2/requests.json?format=xml")
    assert open311.status_code == 400
    assert open311.json()[0]["code"] == 400 and "format" in description(open311)


def test_declared_and_harmless_parameters_still_work(client: TestClient) -> None:
    csv = client.get("/api/v1/incidents?format=csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert ok(client.get("/api/v1/grids?_=1733400000"))["numberReturned"] == 3


def test_every_route_knows_which_of_them_it_declares(client: TestClient) -> None:
    from fastapi.routing import APIRoute

    routes: dict[tuple[str, str], frozenset[str]] = {}
    for included in client.app.router.routes:  # type: ignore[attr-defined]
        inner = getattr(included, "original_router", None)
        for route in inner.routes if inner is not None else [included]:
            if isinstance(route, APIRoute):
                routes.update({(route.path, m): declared_query_names(route) for m in route.methods})
    assert len(routes) >= 35
    assert "format" in routes[("/api/v1/incidents", "GET")]
    assert MEANINGFUL_PARAMETERS.keys() & routes[("/api/v1/grids", "GET")] == {"datum"}
    assert not MEANINGFUL_PARAMETERS.keys() & routes[("/api/v1/facility-types", "GET")]
