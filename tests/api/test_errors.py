"""Wrong parameters are a 4xx with a JSON body that says what to fix; never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.dependencies import get_session
from gis.db.engine import make_engine
from gis.settings import ServerSettings
from tests.http_checks import assert_error


@pytest.mark.parametrize(
    ("bbox", "fragment"),
    [
        ("1,2,3", "expected 4"),
        ("a,b,c,d", "not a number"),
        ("119.2,36.70,119.1,36.76", "not below the maximum"),
        ("119.1,36.76,119.2,36.70", "not below the maximum"),
        ("36.70,119.10,36.76,119.20", "latitude values must lie in -90..90"),
        ("-181,0,10,10", "longitude values must lie in -180..180"),
        ("nan,0,1,1", "finite"),
        ("1,2,3,4,5", "expected 4"),
    ],
)
@pytest.mark.parametrize("collection", ["areas", "grids", "facilities", "incidents"])
def test_bad_bbox_is_400(client: TestClient, collection: str, bbox: str, fragment: str) -> None:
    response = client.get(f"/api/v1/{collection}?bbox={bbox}")
    body = assert_error(response, 400, fragment, "minLon,minLat,maxLon,maxLat")
    assert body["code"] == "InvalidParameter"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=-1", "limit"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("offset=-5", "offset"),
        ("offset=1.5", "offset"),
    ],
)
def test_bad_paging_is_400_naming_the_parameter(
    client: TestClient, query: str, parameter: str
) -> None:
    body = assert_error(client.get(f"/api/v1/grids?{query}"), 400, parameter)
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors[0]["parameter"] == parameter
    assert errors[0]["location"] == "query"


def test_limit_above_the_maximum_page_size_is_400(client: TestClient) -> None:
    assert_error(client.get("/api/v1/grids?limit=51"), 400, "maximum page size of 50")


def test_unknown_level_is_400_listing_the_levels(client: TestClient) -> None:
    assert_error(client.get("/api/v1/areas?level=street"), 400, "level", "district", "subdistrict")


def test_unknown_grid_is_404(client: TestClient) -> None:
    body = assert_error(
        client.get("/api/v1/grids/370705001001099"), 404, "370705001001099", "/api/v1/grids"
    )
    assert body["code"] == "NotFound"


def test_grid_that_did_not_exist_yet_is_404(client: TestClient) -> None:
    assert_error(client.get("/api/v1/grids/370705001001001?at=1999-01-01"), 404, "1999-01-01")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/grids/12345",
        "/api/v1/grids/abc",
        "/api/v1/grids?community=12",
        "/api/v1/buildings?grid=x",
        "/api/v1/incidents?grid=37070500100100",
        "/api/v1/grids?at=yesterday",
        "/api/v1/grids/370705001001001?at=2020-13-01",
    ],
)
def test_malformed_codes_and_dates_are_400(client: TestClient, url: str) -> None:
    assert_error(client.get(url), 400)


def test_unknown_path_is_a_json_404(client: TestClient) -> None:
    assert_error(client.get("/api/v1/nothing-here"), 404, "/docs")


def test_wrong_method_is_a_json_405(client: TestClient) -> None:
    assert_error(client.post("/api/v1/grids"), 405, "POST")


@pytest.fixture
def unreachable_client(engine: Engine) -> Iterator[TestClient]:
    """An app whose database refuses connections (port 1 on this machine)."""
    dead = make_engine("postgresql+psycopg://nobody:nothing@127.0.0.1:1/none")
    app = create_app(ServerSettings(), engine=dead)

    def dead_session() -> Iterator[Session]:
        with Session(dead) as session:
            yield session

    app.dependency_overrides[get_session] = dead_session
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    dead.dispose()


def test_database_down_is_503_not_500(unreachable_client: TestClient) -> None:
    """Checking a login needs the database too: down, that is a 503, not a 401 or a 500."""
    login = {"Authorization": "Bearer some-token-the-database-would-know"}
    assert_error(unreachable_client.get("/api/v1/grids", headers=login), 503, "数据库")
    assert_error(unreachable_client.get("/healthz"), 503, "Cannot reach the database")


def test_unexpected_failure_is_a_json_500_without_internals(engine: Engine) -> None:
    app = create_app(ServerSettings(), engine=engine)

    def broken_session() -> Iterator[Session]:
        raise RuntimeError("secret internals")
        yield  # pragma: no cover

    app.dependency_overrides[get_session] = broken_session
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/grids")
    body = assert_error(response, 500)
    assert "secret" not in response.text
    assert body["code"] == "InternalError"


def test_unknown_building_geometry_is_400_naming_the_choices(client: TestClient) -> None:
    assert_error(client.get("/api/v1/buildings?geometry=polygon"), 400, "footprint")


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


@pytest.mark.parametrize(
    ("path", "status", "zh", "en"),
    [
        ("/api/v1/nothing-here", 404, "处没有内容", "There is nothing at"),
        ("/api/v1/grids?limit=abc", 400, "查询参数 'limit'", "query parameter 'limit'"),
        ("/api/v1/incidents/999999999", 404, "没有编号为 999999999 的案件", "no incident has id"),
    ],
)
def test_an_error_is_chinese_by_default_and_english_when_asked(
    client: TestClient, path: str, status: int, zh: str, en: str
) -> None:
    chinese = client.get(path)
    body = assert_error(chinese, status, zh)
    assert chinese.headers["Content-Language"] == "zh-CN"
    english = client.get(path, headers={"Accept-Language": "en"})
    english_body = assert_error(english, status, en)
    assert not _has_chinese(str(english_body["description"]))
    assert english.headers["Content-Language"] == "en"
    assert "Accept-Language" in english.headers["Vary"]
    # the machine-readable fields do not change with the language
    same = {k: v for k, v in body.items() if k != "description"}
    assert same == {k: v for k, v in english_body.items() if k != "description"}


def test_a_domain_error_with_both_texts_gives_the_one_asked(anonymous: TestClient) -> None:
    zh = assert_error(anonymous.get("/api/v1/incidents"), 401, "请先登录")
    assert "log in first" not in str(zh["description"])
    en = anonymous.get("/api/v1/incidents", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert_error(en, 401, "log in first: POST /api/v1/auth/token")
    assert en.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_error_raised_in_english_only_is_english_either_way(client: TestClient) -> None:
    """Not every message has a Chinese text yet; those say it in English to both."""
    assert_error(client.get("/api/v1/grids?limit=51"), 400, "maximum page size of 50")
