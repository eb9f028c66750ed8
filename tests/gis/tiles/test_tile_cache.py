"""The tile cache: bounded by bytes, emptied per table by notifications, never by a clock."""

from __future__ import annotations

from gis.accounts.remembered import RememberedCredentials
from gis.geo.datum import GCJ02, WGS84, Datum
from gis.incidents.visibility import Scope
from gis.principal import Principal, Role
from gis.tiles.cache import TileCache, TileKey, encoded, tile_key
from gis.tiles.grid import tile_at

BUILDINGS = frozenset({"building"})
INCIDENTS = frozenset({"incident", "grid"})


def listening() -> bool:
    return True


def key(x: int, collection: str = "buildings", datum: Datum = WGS84) -> TileKey:
    return tile_key(collection, tile_at(14, 0, x), datum, None)


def test_a_stored_tile_is_found_and_its_etag_names_its_bytes() -> None:
    cache = TileCache(1_000_000, listening)
    tile = encoded(b"x" * 2000, (), BUILDINGS)
    assert cache.put(key(1), tile, cache.generations(BUILDINGS))
    assert cache.get(key(1)) is tile
    assert cache.get(key(1, datum=GCJ02)) is None
    assert tile.gzipped is not None and len(tile.gzipped) < 100
    assert encoded(b"x" * 2000, (), BUILDINGS).etag == tile.etag
    assert encoded(b"y" * 2000, (), BUILDINGS).etag != tile.etag


def test_memory_is_bounded_least_recently_used_first() -> None:
    size = encoded(bytes(1000), (), BUILDINGS).size
    cache = TileCache(3 * size, listening)
    for x in range(3):
        cache.put(key(x), encoded(bytes(1000), (), BUILDINGS), cache.generations(BUILDINGS))
    cache.get(key(0))
    cache.put(key(3), encoded(bytes(1000), (), BUILDINGS), cache.generations(BUILDINGS))
    assert cache.bytes <= 3 * size
    assert cache.get(key(1)) is None
    assert cache.get(key(0)) is not None and cache.get(key(3)) is not None
    assert cache.stats.evicted == 1


def test_a_notification_drops_the_tiles_of_its_table_only() -> None:
    cache = TileCache(1_000_000, listening)
    cache.put(key(1), encoded(b"b", (), BUILDINGS), cache.generations(BUILDINGS))
    cache.put(key(1, "incidents"), encoded(b"i", (), INCIDENTS), cache.generations(INCIDENTS))
    cache.changed([{"op": "update", "table": "incident", "id": 7}])
    assert cache.get(key(1, "incidents")) is None
    assert cache.get(key(1)) is not None
    cache.changed([{"op": "update", "table": "grid", "id": None}])
    cache.changed([{"op": "insert", "table": "building", "id": None}])
    assert len(cache) == 0 and cache.bytes == 0


def test_a_tile_drawn_while_its_data_changed_is_not_kept() -> None:
    cache = TileCache(1_000_000, listening)
    before = cache.generations(BUILDINGS)
    cache.changed([{"op": "update", "table": "building", "id": 1}])
    assert not cache.put(key(1), encoded(b"old", (), BUILDINGS), before)
    assert cache.get(key(1)) is None
    before = cache.generations(BUILDINGS)
    cache.clear()  # the feed reconnected: whatever was drawn before may have missed changes
    assert not cache.put(key(1), encoded(b"old", (), BUILDINGS), before)


def test_nothing_is_kept_while_the_feed_does_not_listen() -> None:
    cache = TileCache(1_000_000, lambda: False)
    assert not cache.put(key(1), encoded(b"b", (), BUILDINGS), cache.generations(BUILDINGS))
    assert TileCache(0, listening).put(key(1), encoded(b"b", (), BUILDINGS), (0, (0,))) is False


def test_callers_who_see_differently_get_different_keys() -> None:
    planner = Principal("person", "p", role=Role.PLANNER)
    district = Principal("person", "d", role=Role.DISTRICT, areas=("370705",))
    community = Principal("person", "c", role=Role.COMMUNITY, areas=("370705001001",))
    other = Principal("person", "c2", role=Role.COMMUNITY, areas=("370705001001",))
    keys = {
        p.name: tile_key("incidents", tile_at(14, 0, 0), WGS84, Scope.of(p))
        for p in (planner, district, community, other)
    }
    assert len({keys["p"], keys["d"], keys["c"]}) == 3
    assert keys["c"] == keys["c2"]  # the same rules: the same tile


def test_remembered_credentials_are_forgotten_when_logins_change() -> None:
    remembered = RememberedCredentials(listening)
    who = Principal("person", "p", role=Role.PLANNER)
    remembered.remember("bearer", "secret", who, remembered.generation())
    assert remembered.lookup("bearer", "secret") is who
    remembered.changed([{"table": "facility", "op": "update", "id": 1}])
    assert remembered.lookup("bearer", "secret") is who
    remembered.changed([{"table": "auth_session", "op": "update", "id": None}])
    assert remembered.lookup("bearer", "secret") is None
    stale = remembered.generation()
    remembered.changed([{"table": "api_key", "op": "update", "id": None}])
    remembered.remember("bearer", "secret", who, stale)  # looked up before the change
    assert remembered.lookup("bearer", "secret") is None


def test_remembered_credentials_expire_and_need_a_listener() -> None:
    who = Principal("person", "p", role=Role.PLANNER)
    short = RememberedCredentials(listening, ttl_s=0.0)
    short.remember("key", "gm_x", who, short.generation())
    assert short.lookup("key", "gm_x") is None
    deaf = RememberedCredentials(lambda: False)
    deaf.remember("key", "gm_x", who, deaf.generation())
    assert deaf.lookup("key", "gm_x") is None
