"""Hostile input at the edge: every write route refuses what it cannot store, never with a 5xx.

The six causes of 500s the fuzzers found (issue 9) are each sent to every
write route and must come back a 4xx naming the field: a NUL character, a
lone surrogate, a NaN coordinate, an over-long text, an empty datum, and a
BD-09 point at (-180, -90). Then hypothesis feeds hostile text and numbers
into every field of every write route: nothing may answer 5xx, and what a
2xx stored must read back equal. Last, on a real uvicorn server, an error
(a 500 as well as a 4xx) must leave the keep-alive connection usable for the
next request.

Writes commit (the coverage caches learn of facility changes by
notification), so the module has a lattice district of its own. The client
is logged in as an admin (who may take any of these steps); Open311 requests
are filed with a key of the ``open311`` scope.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from api.app import create_app
from gis.accounts import keys
from gis.settings import ServerSettings
from tests.accounts import committed_headers
from tests.coverage_district import GRIDS, LatticeDistrict, add_grid_manager, committed_lattice
from tests.servers import served

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

LON, LAT = 119.113, 36.713
"""Inside grid 001 of the lattice district's west community."""
MANAGER = "王网格员"
Path = tuple[str | int, ...]
CREDENTIALS: dict[str, dict[str, str]] = {}
"""Headers of the logins the routes need, by name, made with the module's district."""


@pytest.fixture(scope="module")
def district(server_url: str) -> Iterator[LatticeDistrict]:
    with committed_lattice(server_url, "gridmap_hostile_input_test") as made:
        add_grid_manager(made.engine, MANAGER, GRIDS[0])
        yield made


@pytest.fixture(scope="module")
def admin(district: LatticeDistrict) -> dict[str, str]:
    with Session(district.engine) as session:
        _, key = keys.create_key(session, "hotline", ("open311",))
        session.commit()
    CREDENTIALS["open311"] = {"Authorization": f"Bearer {key}"}
    CREDENTIALS["admin"] = committed_headers(district.engine)
    return CREDENTIALS["admin"]


@pytest.fixture(scope="module")
def client(district: LatticeDistrict, admin: dict[str, str]) -> Iterator[TestClient]:
    app = create_app(ServerSettings(), engine=district.engine)
    with TestClient(app, raise_server_exceptions=False, headers=admin) as test_client:
        yield test_client


# --------------------------------------------------------------------------- the routes


@dataclass(frozen=True)
class Route:
    """A write route, a body it accepts, and the fields an attacker can fill."""

    name: str
    method: str
    url: Callable[[TestClient], str]
    body: Callable[[TestClient], dict[str, Any]]
    text: tuple[Path, ...]
    numbers: tuple[Path, ...]
    datum: Path | None = None
    point: tuple[Path, Path] | None = None
    form: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    """Headers the route needs besides the body (a facility change names its version)."""
    login: str | None = None
    """The ``CREDENTIALS`` the route is called with instead of the client's admin login."""
    read_back: Callable[[TestClient, Any, dict[str, Any]], dict[Path, Any]] | None = field(
        default=None, compare=False
    )


def report(client: TestClient, **extra: Any) -> dict[str, Any]:
    """A new incident (201) at a fresh point near LON, LAT."""
    body = {"category": "exposed_garbage", "lon": LON, "lat": LAT, **extra}
    response = client.post("/api/v1/incidents", json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def a_facility(client: TestClient) -> int:
    body = {"type": "kindergarten", "name": "测试幼儿园", "lon": LON, "lat": LAT}
    response = client.post("/api/v1/facilities", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _incident_back(client: TestClient, answer: Any, sent: dict[str, Any]) -> dict[Path, Any]:
    record = client.get(f"/api/v1/incidents/{answer['id']}").json()
    history = client.get(f"/api/v1/incidents/{answer['id']}/history").json()["history"]
    got: dict[Path, Any] = {
        (k,): record[k] for k in ("category", "description", "source", "address", "lon", "lat")
    }
    assert history[0]["actor"] == "test-admin"  # who logged in, whatever the body held
    return got


def _facility_back(client: TestClient, answer: Any, sent: dict[str, Any]) -> dict[Path, Any]:
    feature = client.get(f"/api/v1/facilities/{answer['id']}").json()
    props = feature["properties"]
    got: dict[Path, Any] = {(k,): props[k] for k in props}
    got[("type",)] = props["type"]
    got[("lon",)], got[("lat",)] = feature["geometry"]["coordinates"]
    return got


def _step_back(client: TestClient, answer: Any, sent: dict[str, Any]) -> dict[Path, Any]:
    step = client.get(f"/api/v1/incidents/{answer['id']}/history").json()["history"][-1]
    assert step["actor"] == "test-admin"
    return {("note",): step["note"]}


def _open311_back(client: TestClient, answer: Any, sent: dict[str, Any]) -> dict[Path, Any]:
    record = client.get(f"/api/v1/incidents/{answer[0]['service_request_id']}").json()
    return {("description",): record["description"], ("address_string",): record["address"]}


ROUTES = (
    Route(
        "report an incident",
        "POST",
        lambda c: "/api/v1/incidents",
        lambda c: {"category": "exposed_garbage", "lon": LON, "lat": LAT},
        text=(
            ("category",),
            ("description",),
            ("source",),
            ("address",),
            ("media_url",),
        ),
        numbers=(("lon",), ("lat",), ("building_id",)),
        datum=("datum",),
        point=(("lon",), ("lat",)),
        read_back=_incident_back,
    ),
    Route(
        "open a facility",
        "POST",
        lambda c: "/api/v1/facilities",
        lambda c: {"type": "kindergarten", "name": "测试幼儿园", "lon": LON, "lat": LAT},
        text=(("type",), ("name",), ("opening_hours",), ("address",), ("ext_id",)),
        numbers=(("lon",), ("lat",), ("capacity",), ("floor_area_m2",)),
        datum=("datum",),
        point=(("lon",), ("lat",)),
        read_back=_facility_back,
    ),
    Route(
        "open a facility as a Feature",
        "POST",
        lambda c: "/api/v1/facilities",
        lambda c: {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [LON, LAT]},
            "properties": {"type": "kindergarten", "name": "测试幼儿园"},
        },
        text=(("properties", "name"), ("properties", "address"), ("properties", "type")),
        numbers=(("geometry", "coordinates", 0), ("geometry", "coordinates", 1)),
        datum=("properties", "datum"),
        point=(("geometry", "coordinates", 0), ("geometry", "coordinates", 1)),
    ),
    Route(
        "change a facility",
        "PATCH",
        lambda c: f"/api/v1/facilities/{a_facility(c)}",
        lambda c: {"name": "改名幼儿园", "lon": LON, "lat": LAT},
        text=(("name",), ("opening_hours",), ("address",), ("ext_id",), ("type",)),
        numbers=(("lon",), ("lat",), ("capacity",), ("floor_area_m2",)),
        datum=("datum",),
        point=(("lon",), ("lat",)),
        headers={"If-Match": "*"},
        read_back=_facility_back,
    ),
    Route(
        "take a step",
        "POST",
        lambda c: f"/api/v1/incidents/{report(c)['id']}/transitions",
        lambda c: {"action": "accept", "expected_version": 1, "note": "受理"},
        text=(("action",), ("note",)),
        numbers=(("expected_version",), ("handler_staff_id",)),
        read_back=_step_back,
    ),
    Route(
        "merge a duplicate",
        "POST",
        lambda c: f"/api/v1/incidents/{report(c)['id']}/merge",
        lambda c: {"into": report(c)["id"], "note": "重复"},
        text=(("note",),),
        numbers=(("into",),),
        read_back=_step_back,
    ),
    Route(
        "ask what if",
        "POST",
        lambda c: "/api/v1/coverage/what-if",
        lambda c: {"facility_type": "kindergarten", "open": [{"lon": LON, "lat": LAT}]},
        text=(("facility_type",),),
        numbers=(("radius_m",), ("open", 0, "lon"), ("open", 0, "lat"), ("close",)),
        datum=("open", 0, "datum"),
        point=(("open", 0, "lon"), ("open", 0, "lat")),
    ),
    Route(
        "file an Open311 request",
        "POST",
        lambda c: "/open311/v2/requests.json",
        lambda c: {"service_code": "exposed_garbage", "lat": str(LAT), "long": str(LON)},
        text=(
            ("service_code",),
            ("description",),
            ("address_string",),
            ("media_url",),
            ("attribute[source]",),
            ("jurisdiction_id",),
        ),
        numbers=(("lat",), ("long",)),
        datum=("attribute[datum]",),
        point=(("long",), ("lat",)),
        form=True,
        login="open311",  # the key as a bearer token: the form's api_key is not stored text
        read_back=_open311_back,
    ),
)


def put(body: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """A copy of ``body`` with ``value`` at ``path`` (``close`` takes a list of ids)."""
    body = json.loads(json.dumps(body))
    if path == ("close",):
        value = [value]
    node: Any = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


def send(client: TestClient, route: Route, body: dict[str, Any]) -> Any:
    """``body`` sent as the route takes it; JSON keeps NaN and lone surrogates as escapes."""
    url = route.url(client)
    headers = {**route.headers, **(CREDENTIALS[route.login] if route.login else {})}
    if route.form:  # UTF-8, a lone surrogate as the bytes it would have (not UTF-8 then)
        form = "&".join(
            f"{quote(k)}={quote(str(v).encode('utf-8', 'surrogatepass'))}" for k, v in body.items()
        )
        return client.request(
            route.method,
            url,
            content=form.encode(),
            headers={"content-type": "application/x-www-form-urlencoded", **headers},
        )
    raw = json.dumps(body, ensure_ascii=True).encode()  # NaN stays NaN, "\ud800" an escape
    return client.request(
        route.method,
        url,
        content=raw,
        headers={"content-type": "application/json", **headers},
    )


def description(response: Any) -> str:
    """The error's description, in the API's shape or Open311's."""
    body = response.json()
    return str(body[0]["description"] if isinstance(body, list) else body["description"])


def refused(response: Any, *names: str) -> str:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    text = description(response)
    assert any(name in text for name in names), text
    return text


def label(path: Path) -> str:
    return ".".join(str(p) for p in path)


# --------------------------------------------------------------------------- (a) the six causes

TEXT_CASES = [
    (route, path, value)
    for route in ROUTES
    for path in route.text
    for value in ("x\x00y", "\ud800", "长" * 5000)
]


@pytest.mark.parametrize(
    ("route", "path", "value"),
    TEXT_CASES,
    ids=[
        f"{r.name}-{label(p)}-{['nul', 'surrogate', 'long'][i % 3]}"
        for i, (r, p, _) in enumerate(TEXT_CASES)
    ],
)
def test_unstorable_text_is_refused_naming_the_field(
    client: TestClient, route: Route, path: Path, value: str
) -> None:
    response = send(client, route, put(route.body(client), path, value))
    refused(response, str(path[-1]))


NUMBER_CASES = [(route, path) for route in ROUTES for path in route.numbers]


@pytest.mark.parametrize(
    ("route", "path"), NUMBER_CASES, ids=[f"{r.name}-{label(p)}" for r, p in NUMBER_CASES]
)
def test_nan_is_refused_naming_the_field(client: TestClient, route: Route, path: Path) -> None:
    value: Any = "NaN" if route.form else float("nan")
    response = send(client, route, put(route.body(client), path, value))
    refused(response, str(path[-1]))


DATUM_ROUTES = [r for r in ROUTES if r.datum is not None]


@pytest.mark.parametrize("route", DATUM_ROUTES, ids=[r.name for r in DATUM_ROUTES])
def test_an_empty_datum_is_refused_saying_so(client: TestClient, route: Route) -> None:
    assert route.datum is not None
    body = put(route.body(client), route.datum, "")
    if route.form:  # an empty form field is an absent one: WGS84 by default
        assert send(client, route, body).status_code == 200
        body = put(body, route.datum, " \t")
        assert send(client, route, body).status_code == 200
        return
    text = refused(send(client, route, body), "datum")
    assert "empty" in text and "wgs84" in text, text


POINT_ROUTES = [r for r in ROUTES if r.point is not None]


@pytest.mark.parametrize("route", POINT_ROUTES, ids=[r.name for r in POINT_ROUTES])
@pytest.mark.parametrize(("lon", "lat"), [(-180, -90), (180, 90), (-180, 90), (180, -90)])
def test_bd09_at_the_ends_of_the_earth_is_refused(
    client: TestClient, route: Route, lon: float, lat: float
) -> None:
    """Converted, BD-09 (-180, -90) lies beyond the pole (and -180 lon beyond the
    antimeridian): refused by every route. A corner with a WGS84 position is refused
    where it must lie in the district, answered (nothing gained) by what-if, which may
    ask about any point."""
    assert route.point is not None and route.datum is not None
    body = route.body(client)
    for path, value in zip(route.point, (lon, lat), strict=True):
        body = put(body, path, str(value) if route.form else value)
    response = send(client, route, put(body, route.datum, "bd09"))
    if route.name == "ask what if" and response.status_code == 200:
        assert (lon, lat) != (-180, -90)
        assert response.json()["households_gained"] == 0
        return
    text = refused(response, "lon", "lat", "long")
    if (lon, lat) == (-180, -90):
        assert "BD-09" in text and "no WGS84 position" in text, text
        if route.name == "ask what if":
            assert "open.0" in text, text


def test_over_long_source_is_refused_with_the_column_limit(client: TestClient) -> None:
    body = {"category": "exposed_garbage", "lon": LON, "lat": LAT, "source": "s" * 21}
    text = refused(client.post("/api/v1/incidents", json=body), "source")
    assert "21 characters; at most 20" in text, text
    assert report(client, source="s" * 20)["source"] == "s" * 20


@pytest.mark.parametrize(
    "raw",
    [
        b'{"category": "exposed_garbage", "lon": Infinity, "lat": 36.7}',
        b'{"category": "exposed_garbage", "lon": 119.1, "lat": -Infinity}',
        b'{"category": "exposed_garbage", "lon": 1e999, "lat": 36.7}',
        b'{"category": "exposed_garbage", "lon": 119.1, "lat": 36.7, "building_id": '
        + b"9" * 4000
        + b"}",
        b'{"category": "exposed_garbage", "lon": 119.1, "lat": 36.7, "building_id": '
        + b"9" * 5000
        + b"}",
        b'{"category": ' + b"[" * 20000 + b"]" * 20000 + b"}",
        b'{"category": "exposed_garbage", "lon": 119.1, "lat": 36.7, "description": ["a"]}',
        b'{"category": "\\u0000"}',
        b"\xff\xfe",
    ],
    ids=["inf", "-inf", "1e999", "4000 digits", "5000 digits", "deep", "list", "nul", "utf16"],
)
def test_hostile_json_is_a_4xx(client: TestClient, raw: bytes) -> None:
    response = client.post(
        "/api/v1/incidents", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/incidents?category=%00", "category"),
        ("/api/v1/incidents?status=%00", "status"),
        ("/api/v1/incidents?bbox=nan,nan,nan,nan", "bbox"),
        ("/api/v1/incidents?bbox=%00", "bbox"),
        ("/api/v1/incidents?limit=99999999999999999999999", "limit"),
        ("/api/v1/incidents?offset=99999999999999999999999", "offset"),
        ("/api/v1/incidents/99999999999999999999999", "incident_id"),
        ("/api/v1/facilities?type=%00", "type"),
        ("/api/v1/facilities/nan", "facility_id"),
        ("/api/v1/coverage?facility_type=%00", "facility_type"),
        ("/api/v1/coverage?facility_type=kindergarten&radius_m=nan", "radius_m"),
        ("/api/v1/coverage?facility_type=kindergarten&radius_m=%00", "radius_m"),
        ("/api/v1/incidents/statistics?start=2026-01-01&end=2026-02-01&category=%00", "category"),
        ("/api/v1/incidents/hot-spots?start=2026-01-01&end=2026-02-01&category=%00", "category"),
        ("/open311/v2/requests.json?service_code=%00", "service_code"),
        ("/open311/v2/requests.json?jurisdiction_id=%00", "jurisdiction_id"),
        ("/open311/v2/requests.json?status=%00", "status"),
        ("/open311/v2/requests.json?start_date=%00", "start_date"),
        ("/open311/v2/requests.json?bbox=%00", "bbox"),
        ("/open311/v2/requests.json?service_request_id=%00", "service_request_id"),
        ("/open311/v2/requests.json?end_date=0001-01-01", "end_date"),
        ("/open311/v2/requests.json?start_date=9999-12-31T23:59:59%2B14:00", "start_date"),
        ("/open311/v2/services.json?jurisdiction_id=" + quote("长" * 5000), "jurisdiction_id"),
    ],
)
def test_hostile_query_parameters_are_refused_naming_them(
    client: TestClient, url: str, name: str
) -> None:
    refused(client.get(url), name)


def test_delete_with_a_hostile_id_is_a_4xx(client: TestClient) -> None:
    for ident in ("nan", "%00", "-1", "0", "99999999999999999999", "1e3"):
        response = client.delete(f"/api/v1/facilities/{ident}")
        refused(response, "facility_id")


# --------------------------------------------------------------------------- (b) hypothesis

HOSTILE_TEXT = st.one_of(
    st.sampled_from(
        [
            "\x00",
            "a\x00b",
            "\ud800",
            "\udfff tail",
            "",
            " ",
            " \t\n ",
            "长" * 2001,
            "x" * 10_000,
            "\u202eevil\u202c",  # right-to-left override
            "a\u200bb\u200d",  # zero-width space and joiner
            "\ufeffbom",
            "😀👨‍👩‍👧",
            "\x01\x1f\x7f",
            "'; DROP TABLE incident; --",
            "%00",
            "\\u0000",
        ]
    ),
    st.text(
        st.characters(codec=None, categories=["L", "N", "P", "S", "Z", "Cc", "Cf", "Cs", "Co"]),
        max_size=40,
    ),
)
HOSTILE_NUMBER = st.one_of(
    st.sampled_from(
        [
            math.nan,
            math.inf,
            -math.inf,
            1e308,
            -1e308,
            5e-324,
            -0.0,
            0,
            -1,
            2**31,
            2**63,
            10**30,
            -(10**30),
            180,
            -180,
            90,
            -90,
            True,
            None,
            "1",
            [1],
            {"a": 1},
        ]
    ),
    st.floats(),
    st.integers(),
)


def _stored_equal(route: Route, path: Path, value: Any, got: Any) -> bool:
    """Whether ``got`` is ``value`` read back as the route stores it."""
    if path == ("note",) and route.name == "merge a duplicate":  # "duplicate of incident 7: …"
        expected = r"duplicate of incident \d+" + (re.escape(f": {value}") if value else "")
        return re.fullmatch(expected, str(got), re.DOTALL) is not None
    if path == ("note",) and value == "":  # an empty note is no note
        return got is None
    if isinstance(value, str) and route.form:
        value = value.strip() or None  # a form field is trimmed, an empty one absent
    if isinstance(value, float) and isinstance(got, int | float):
        digits = 1 if path[-1] == "floor_area_m2" else 9  # NUMERIC(10, 1); degrees to ~0.1 mm
        return math.isclose(round(value, digits), got, abs_tol=10**-digits)
    return bool(value == got)


def _check(client: TestClient, route: Route, path: Path, value: Any) -> None:
    body = put(route.body(client), path, value)
    response = send(client, route, body)
    assert response.status_code < 500, (label(path), value, response.text)
    if response.status_code >= 300 or route.read_back is None:
        return
    got = route.read_back(client, response.json(), body)
    key = path if path in got else path[-1:]
    if key in got:
        assert _stored_equal(route, path, value, got[key]), (label(path), value, got[key])


FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
@FUZZ
@given(data=st.data())
def test_hostile_text_never_5xx_and_reads_back(
    client: TestClient, route: Route, data: st.DataObject
) -> None:
    path = data.draw(st.sampled_from(route.text + ((route.datum,) if route.datum else ())))
    _check(client, route, path, data.draw(HOSTILE_TEXT))


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
@FUZZ
@given(data=st.data())
def test_hostile_numbers_never_5xx_and_read_back(
    client: TestClient, route: Route, data: st.DataObject
) -> None:
    path = data.draw(st.sampled_from(route.numbers))
    value = data.draw(HOSTILE_NUMBER)
    _check(client, route, path, str(value) if route.form else value)


# --------------------------------------------------------------------------- keep-alive


def _failing_app(district: LatticeDistrict) -> FastAPI:
    """The app with one test-only route that fails unexpectedly."""
    app = create_app(ServerSettings(), engine=district.engine)

    @app.get("/test-only/boom")
    def boom() -> None:
        raise RuntimeError("a bug the handlers did not foresee")

    return app


@pytest.fixture(scope="module")
def live(district: LatticeDistrict, admin: dict[str, str]) -> Iterator[str]:
    with served(_failing_app(district)) as base:
        yield base.removeprefix("http://")


def _exchange(
    conn: http.client.HTTPConnection, method: str, url: str, body: bytes | None = None
) -> tuple[int, bytes]:
    headers = {"content-type": "application/json"} if body is not None else {}
    conn.request(method, url, body=body, headers={**headers, **CREDENTIALS["admin"]})
    response = conn.getresponse()
    return response.status, response.read()


@pytest.mark.parametrize(
    ("method", "url", "body", "status"),
    [
        ("GET", "/test-only/boom", None, 500),
        ("POST", "/api/v1/incidents", b'{"description": "x\\u0000y"}', 422),
        ("POST", "/api/v1/incidents", b'{"category": "exposed_garbage", "lon": NaN}', 422),
        ("GET", "/api/v1/incidents?category=%00", None, 400),
        ("GET", "/nowhere", None, 404),
        ("POST", "/api/v1/coverage/what-if", b"{" * 1000, 422),
    ],
)
def test_an_error_leaves_the_connection_open(
    live: str, method: str, url: str, body: bytes | None, status: int
) -> None:
    conn = http.client.HTTPConnection(live, timeout=10)
    try:
        got, answer = _exchange(conn, method, url, body)
        assert got == status, answer
        error = json.loads(answer)
        assert error["status"] == status and error["description"], error
        if status == 500:
            assert "错误已记录" in error["description"] and "RuntimeError" not in answer.decode()
        sock = conn.sock
        assert sock is not None, "the server closed the connection after the error"
        got, answer = _exchange(conn, "GET", "/api/v1/facility-types?limit=1")
        assert got == 200, answer
        assert conn.sock is sock, "the next request needed a new connection"
    finally:
        conn.close()
