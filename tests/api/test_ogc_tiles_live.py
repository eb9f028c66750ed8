"""Cached tiles follow the database's change notifications, and nothing else.

A database of this module's own holds the small district, committed, and the
app listens to it as it would in production. Changes are committed by plain
SQL on another connection, as another system would make them, or through the
API. ``service.sync()`` waits until the notifications committed so far have
reached the caches (a marker sent through the same channel): after it, the
very next tile shows the change. A change made with the notification triggers
disabled is *not* seen, however long one waits: the cache neither looks at the
database again per request nor expires on a clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import create_app
from api.warm_tiles import WarmTiles
from gis.db import schema
from gis.db.engine import drop_database, make_engine, recreate_database
from gis.settings import ServerSettings
from gis.tiles.service import TileService
from tests.accounts import committed_headers, key_headers
from tests.api.conftest import load_small_district
from tests.tile_checks import decode, features, point_of, tile_of

DB_NAME = "gridmap_tiles_live_test"
KG = "新华幼儿园"
OLD = (119.17, 36.72)
NEW = (119.13, 36.745)
Z = 14


@pytest.fixture(scope="module")
def engine_live(server_url: str) -> Iterator[Engine]:
    eng = make_engine(recreate_database(server_url, DB_NAME))
    schema.upgrade(eng)
    with Session(eng) as session:
        load_small_district(session)
        session.commit()
    yield eng
    eng.dispose()
    drop_database(server_url, DB_NAME)


@pytest.fixture(scope="module")
def live(engine_live: Engine) -> Iterator[TestClient]:
    headers = committed_headers(engine_live, "tile-admin", "admin")
    with TestClient(create_app(ServerSettings(), engine=engine_live), headers=headers) as c:
        assert service_of(c).feed.listening
        yield c


def service_of(client: TestClient) -> TileService:
    service: TileService = client.app.state.tiles  # type: ignore[attr-defined]
    return service


def sql(engine: Engine, statement: str, **params: Any) -> Any:
    with engine.begin() as conn:
        return conn.execute(text(statement), params)


def kindergarten_tile(client: TestClient, lon: float, lat: float) -> tuple[Any, list[Any]]:
    z, y, x = tile_of(lon, lat, Z)
    answer = client.get(f"/ogc/collections/facilities/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert answer.status_code in (200, 204), answer.text
    found = features(answer.content, "facilities") if answer.status_code == 200 else []
    return answer, [f for f in found if f["properties"]["name"] == KG]


def move(engine: Engine, lon: float, lat: float, *, notify: bool = True) -> None:
    with engine.begin() as conn:
        if not notify:  # the owner may switch a trigger off within the transaction
            conn.execute(text("ALTER TABLE facility DISABLE TRIGGER facility_notify_upd"))
        conn.execute(
            text(
                "UPDATE facility SET geom = ST_SetSRID(ST_MakePoint(:x, :y), 4326) WHERE name = :n"
            ),
            {"x": lon, "y": lat, "n": KG},
        )
        if not notify:
            conn.execute(text("ALTER TABLE facility ENABLE TRIGGER facility_notify_upd"))


@pytest.fixture
def at_old_place(engine_live: Engine, live: TestClient) -> Iterator[None]:
    move(engine_live, *OLD)
    assert service_of(live).sync()
    yield
    move(engine_live, *OLD)
    assert service_of(live).sync()


def test_a_facility_moved_in_the_database_shows_in_the_next_tile(
    live: TestClient, engine_live: Engine, at_old_place: None
) -> None:
    service = service_of(live)
    before, here = kindergarten_tile(live, *OLD)
    assert len(here) == 1
    hits = service.cache.stats.hits
    again, _ = kindergarten_tile(live, *OLD)
    assert service.cache.stats.hits == hits + 1  # served from the cache
    assert again.headers["etag"] == before.headers["etag"]
    assert kindergarten_tile(live, *NEW)[1] == []

    dropped = service.cache.stats.dropped
    move(engine_live, *NEW)
    assert service.sync()
    assert service.cache.stats.dropped > dropped  # the notification dropped the tiles
    after, gone = kindergarten_tile(live, *OLD)
    assert gone == []
    assert after.headers.get("etag") != before.headers["etag"]
    assert len(kindergarten_tile(live, *NEW)[1]) == 1
    stale = live.get(
        before.url.path, headers={"If-None-Match": before.headers["etag"]}
    )  # the client's kept copy is no longer current
    assert stale.status_code != 304


def test_without_a_notification_the_cached_tile_stays_as_it_was(
    live: TestClient, engine_live: Engine, at_old_place: None
) -> None:
    """No timer, no look at the database per request: only the notification refreshes."""
    service = service_of(live)
    _, here = kindergarten_tile(live, *OLD)
    position = point_of(here[0])
    move(engine_live, *NEW, notify=False)
    assert service.sync()
    time.sleep(1.5)
    for _ in range(3):
        _, still = kindergarten_tile(live, *OLD)
        assert [point_of(f) for f in still] == [position]  # stale, and by design
    sql(
        engine_live,
        """SELECT pg_notify('gridmap_changes', json_build_object(
             'op', 'update', 'table', 'facility', 'id', id, 'ts', 0)::text)
           FROM facility WHERE name = :n""",
        n=KG,
    )
    assert service.sync()
    assert kindergarten_tile(live, *OLD)[1] == []
    assert len(kindergarten_tile(live, *NEW)[1]) == 1


def test_a_move_through_the_api_shows_in_the_writers_next_tile(
    live: TestClient, engine_live: Engine, at_old_place: None
) -> None:
    kindergarten_tile(live, *OLD)
    (facility_id,) = sql(engine_live, "SELECT id FROM facility WHERE name = :n", n=KG).one()
    answer = live.patch(
        f"/api/v1/facilities/{facility_id}",
        json={"lon": NEW[0], "lat": NEW[1]},
        headers={"If-Match": "*"},
    )
    assert answer.status_code == 200, answer.text
    assert kindergarten_tile(live, *OLD)[1] == []  # no sync here: the handler waited
    assert len(kindergarten_tile(live, *NEW)[1]) == 1


def test_an_incident_filed_shows_in_the_next_tile(live: TestClient, engine_live: Engine) -> None:
    z, y, x = tile_of(119.113, 36.713, 12)
    url = f"/ogc/collections/incidents/tiles/WebMercatorQuad/{z}/{y}/{x}"
    before = {f["id"] for f in features(live.get(url).content, "incidents")}
    answer = live.post(
        "/api/v1/incidents",
        json={
            "category": "city_appearance",
            "lon": 119.113,
            "lat": 36.713,
            "description": "路灯不亮",
        },
    )
    assert answer.status_code == 201, answer.text
    filed = answer.json()["id"]
    after = {f["id"] for f in features(live.get(url).content, "incidents")}
    assert after == before | {filed}
    (other,) = sql(
        engine_live,
        """INSERT INTO incident (category, geom, reported_at, status, grid_id)
           SELECT 'street_order', ST_SetSRID(ST_MakePoint(119.114, 36.714), 4326), now(),
                  'reported', id FROM grid WHERE code = '370705001001001'
           RETURNING id""",
    ).one()
    assert service_of(live).sync()
    assert {f["id"] for f in features(live.get(url).content, "incidents")} == after | {other}


def test_an_ended_login_is_refused_even_for_a_cached_tile(
    live: TestClient, engine_live: Engine
) -> None:
    headers = committed_headers(engine_live, "tile-reader", "planner")
    z, y, x = tile_of(*OLD, Z)
    url = f"/ogc/collections/buildings/tiles/WebMercatorQuad/{z}/{y}/{x}"
    for _ in range(2):
        assert live.get(url, headers=headers).status_code in (200, 204)
    token = headers["Authorization"].removeprefix("Bearer ")
    assert service_of(live).credentials.lookup("bearer", token) is not None  # remembered
    assert live.post("/api/v1/auth/logout", headers=headers).status_code in (200, 204)
    assert service_of(live).sync()
    answer = live.get(url, headers=headers)
    assert answer.status_code == 401, answer.text


# ---- a missed tile drawn before routing (api.warm_tiles) ------------------------------


class Seen:
    """Put between ``api.warm_tiles.WarmTiles`` and the rest of the app: the paths that
    went on to routing. Forwards everything unchanged."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture
def routed(live: TestClient) -> Iterator[Seen]:
    """What reached routing during the test (the app's own WarmTiles, its inner app spied)."""
    layer: Any = live.app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(layer, WarmTiles):
        layer = layer.app
    seen = Seen(layer.app)
    layer.app = seen
    yield seen
    layer.app = seen.app


def committed_key(engine: Engine, name: str, scopes: tuple[str, ...]) -> dict[str, str]:
    with Session(engine) as session:
        headers = key_headers(session, name, scopes)
        session.commit()
    return {**headers, "Authorization": ""}  # not the client's admin login


SAME = ("etag", "content-type", "content-encoding", "cache-control", "vary", "content-length")


def same_answer(a: Any, b: Any) -> None:
    assert (a.status_code, a.content) == (b.status_code, b.content)
    assert {h: a.headers.get(h) for h in SAME} == {h: b.headers.get(h) for h in SAME}
    assert set(a.headers) == set(b.headers)  # the security headers too


@pytest.mark.parametrize(
    ("path", "scopes"),
    [
        ("/ogc/collections/buildings/tiles/WebMercatorQuad", ("features:read",)),
        ("/ogc/collections/grids/tiles/WebMercatorQuad", ("features:read",)),
        ("/ogc/tiles/WebMercatorQuad", ("features:read",)),  # narrowed: no incidents layer
    ],
)
def test_a_missed_tile_is_drawn_before_routing_as_the_route_draws_it(
    live: TestClient, engine_live: Engine, routed: Seen, path: str, scopes: tuple[str, ...]
) -> None:
    headers = committed_key(engine_live, f"cold-{path}", scopes)
    lon, lat = sql(engine_live, "SELECT ST_X(location), ST_Y(location) FROM building").first()
    z, y, x = tile_of(lon, lat, Z)
    url = f"{path}/{z}/{y}/{x}"
    cache = service_of(live).cache
    cache.clear()
    by_route = live.get(url, headers=headers)  # a credential not yet remembered: routed
    assert by_route.status_code == 200, by_route.text
    assert routed.paths == [url]
    assert "incidents" not in decode(by_route.content)  # gzip undone by the client
    cache.clear()
    stored = cache.stats.stored
    before = live.get(url, headers=headers)  # remembered now, the tile missed: drawn here
    assert routed.paths == [url]
    assert cache.stats.stored == stored + 1
    same_answer(before, by_route)
    hit = live.get(url, headers={**headers, "If-None-Match": before.headers["etag"]})
    assert (hit.status_code, routed.paths) == (304, [url])


def test_a_missed_tile_before_routing_is_refused_as_the_route_refuses_it(
    live: TestClient, engine_live: Engine, routed: Seen
) -> None:
    z, y, x = tile_of(*OLD, Z)
    url = f"/ogc/collections/buildings/tiles/WebMercatorQuad/{z}/{y}/{x}"
    cache = service_of(live).cache
    anonymous = live.get(url, headers={"Authorization": ""})
    assert anonymous.status_code == 401, anonymous.text  # no layer opened to the public
    no_features = committed_key(engine_live, "cold-open311", ("open311",))
    for _ in range(2):  # the second time remembered
        cache.clear()
        answer = live.get(url, headers=no_features)
        assert answer.status_code == 403, answer.text
    reader = committed_key(engine_live, "cold-incidents", ("features:read", "incidents:read"))
    incidents = f"/ogc/collections/incidents/tiles/WebMercatorQuad/{z}/{y}/{x}"
    dataset = f"/ogc/tiles/WebMercatorQuad/{z}/{y}/{x}"
    for _ in range(2):  # personal data: always through the route (its audit), even remembered
        cache.clear()
        assert live.get(incidents, headers=reader).status_code in (200, 204)
        assert live.get(dataset, headers=reader).status_code in (200, 204)
    outside = "/ogc/collections/buildings/tiles/WebMercatorQuad/3/0/0"
    assert live.get(outside, headers=reader).status_code == 404
    assert routed.paths == [url] * 3 + [incidents, dataset] * 2 + [outside]
