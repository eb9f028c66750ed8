"""The tile service of one server process: its change feed, tile cache and remembered logins.

``start()`` in the app's lifespan opens the change feed (``gis.db.changes``);
from then on tiles and credentials are cached, and each notification drops
what it makes stale. Without ``start()`` every tile is drawn afresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.accounts.remembered import RememberedCredentials
from gis.db.changes import ChangeFeed
from gis.geo.datum import Datum
from gis.incidents.visibility import Scope
from gis.tiles.cache import CachedTile, TileCache, encoded, tile_key
from gis.tiles.grid import TileAddress
from gis.tiles.layers import TileLayer, check_layer
from gis.tiles.render import render

MB = 1024 * 1024


@dataclass(frozen=True)
class Bounds:
    """The data's extent in WGS84 degrees (west, south, east, north)."""

    west: float
    south: float
    east: float
    north: float


class TileService:
    """Tiles for the API: cached while the change feed listens, drawn on a miss."""

    def __init__(self, engine: Engine, *, cache_mb: float = 256.0) -> None:
        self.feed = ChangeFeed(engine)
        self.cache = TileCache(int(cache_mb * MB), lambda: self.feed.listening)
        self.credentials = RememberedCredentials(lambda: self.feed.listening)
        self.feed.subscribe(self.cache.changed, self.cache.clear)
        self.feed.subscribe(self.credentials.changed, self.credentials.forget)

    def start(self) -> bool:
        return self.feed.start()

    def stop(self) -> None:
        self.feed.stop()

    def sync(self) -> bool:
        """Wait until changes committed so far have reached the caches (after a write)."""
        return self.feed.sync()

    def cached(
        self,
        collection: str,
        tile: TileAddress,
        datum: Datum,
        scope: Scope | None,
        *,
        count_miss: bool = True,
    ) -> CachedTile | None:
        """The cached tile, or None: no database work (the warm path)."""
        return self.cache.get(tile_key(collection, tile, datum, scope), count_miss=count_miss)

    def draw(
        self,
        session: Session,
        collection: str,
        layers: Sequence[TileLayer],
        tile: TileAddress,
        datum: Datum,
        scope: Scope | None,
    ) -> CachedTile:
        """Draw the tile of ``layers`` (checking a per-type layer's type exists) and cache it.

        ``scope`` is None unless a layer depends on the caller (then it is theirs).
        """
        for layer in layers:
            check_layer(session, layer)
        tables = frozenset().union(*(layer.tables for layer in layers))
        generations = self.cache.generations(tables)
        drawn = render(session, layers, tile, datum, scope)
        made = encoded(drawn.data, drawn.personal_ids, tables)
        self.cache.put(tile_key(collection, tile, datum, scope), made, generations)
        return made


def data_bounds(session: Session) -> Bounds | None:
    """The extent of the current grids and the buildings (None in an empty database)."""
    row = session.execute(
        text(
            """SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
                 SELECT ST_Extent(g) AS e FROM (
                   SELECT geom AS g FROM grid WHERE valid_to IS NULL
                   UNION ALL SELECT ST_Envelope(ST_Collect(location)) FROM building) x) y"""
        )
    ).one()
    if row[0] is None:
        return None
    return Bounds(float(row[0]), float(row[1]), float(row[2]), float(row[3]))
