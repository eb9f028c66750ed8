"""The tile service of one server process: its change feed, tile cache and remembered logins.

``start()`` in the app's lifespan opens the change feed (``gis.db.changes``);
from then on tiles and credentials are cached, and each notification drops
what it makes stale. Without ``start()`` every tile is drawn afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from gis.accounts.remembered import RememberedCredentials
from gis.db.changes import ChangeFeed
from gis.geo.datum import Datum
from gis.incidents.visibility import Scope
from gis.tiles.cache import CachedTile, TileCache, encoded, tile_key
from gis.tiles.grid import TileAddress
from gis.tiles.layers import TileLayer, check_layer
from gis.tiles.render import render

MB = 1024 * 1024
WARM_UP = text(
    "SELECT ST_AsMVTGeom(ST_Transform(ST_SetSRID(ST_MakePoint(0, 0), 4326), 3857),"
    " ST_TileEnvelope(0, 0, 0))"
)
"""What a new connection's first tile would otherwise pay for: loading PostGIS, PROJ."""


@dataclass(frozen=True)
class Bounds:
    """The data's extent in WGS84 degrees (west, south, east, north)."""

    west: float
    south: float
    east: float
    north: float


class TileService:
    """Tiles for the API: cached while the change feed listens, drawn on a miss."""

    def __init__(self, engine: Engine, *, cache_mb: float = 256.0, draws: int = 4) -> None:
        self.feed = ChangeFeed(engine)
        self._engine = engine
        self.draws = draws
        self.drawing = threading.BoundedSemaphore(draws)
        """Held while a tile is drawn: at most ``draws`` at once
        (``gis.settings.DEFAULT_TILE_DRAWS``). A caller that opens the session for the
        drawing alone holds it around the session too (``draw_now``), so that the
        connection is back in the pool before the next drawing takes one."""
        self.cache = TileCache(int(cache_mb * MB), lambda: self.feed.listening)
        self.credentials = RememberedCredentials(lambda: self.feed.listening)
        self.feed.subscribe(self.cache.changed, self.cache.clear)
        self.feed.subscribe(self.credentials.changed, self.credentials.forget)

    def start(self) -> bool:
        """Listen for changes, and have the connections tiles will be drawn on ready."""
        listening = self.feed.start()
        if listening:  # else the database is not there (yet): nothing to wait for here
            self.warm_connections()
        return listening

    def warm_connections(self) -> None:
        """Open as many pooled connections as tiles are drawn at once, each with PostGIS
        loaded and PROJ's EPSG:4326 → 3857 set up, so that the first tiles a process
        draws do not pay for it (~23 ms of the database's CPU per new connection, against
        3-4 ms for a tile). Nothing stops the server from starting: a database that is
        not there yet is met by the first tile instead."""
        pool = self._engine.pool
        kept = pool.size() if isinstance(pool, QueuePool) else 0  # only what the pool keeps
        held = []
        try:
            for _ in range(min(self.draws, kept)):
                conn = self._engine.connect()
                held.append(conn)
                conn.execute(WARM_UP)
                conn.rollback()
        except Exception:  # a warm-up must never stop the server from starting
            pass
        finally:
            for conn in held:
                conn.close()

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
        At most ``draws`` at once: the session takes its connection only here.
        """
        with self.drawing:
            return self.draw_now(session, collection, layers, tile, datum, scope)

    def draw_now(
        self,
        session: Session,
        collection: str,
        layers: Sequence[TileLayer],
        tile: TileAddress,
        datum: Datum,
        scope: Scope | None,
    ) -> CachedTile:
        """``draw`` for a caller that holds ``drawing``."""
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
