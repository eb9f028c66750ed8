"""Tiles kept in memory until the data they show changes.

A tile is cached under its collection (or the dataset), z/y/x, datum and,
for per-viewer layers (incidents), the caller's ``Scope``: the frozen set of
rules that decide which cases they reach and which they see in full. Two
callers with the same scope see exactly the same tile; a caller who may see
less never gets another's tile, since their scopes differ.

Each entry remembers the tables its layers read (``TileLayer.tables``); a
change notification of one of those tables (``gis.db.changes``, triggers of
migrations 0002 and 0011) drops the entries at once. No timer is involved:
an entry lives until its data changes or memory runs short (least recently
used first, bounded in bytes by ``GRIDMAP_TILE_CACHE_MB``). A tile drawn from
data that changed while it was drawn is not stored (the tables' generations
are read before the statement and checked before storing), and nothing is
stored while the feed is not listening.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gis.geo.datum import Datum
from gis.incidents.visibility import Scope
from gis.tiles.grid import TileAddress

GZIP_LEVEL = 1
"""Level 1: a Mapbox Vector Tile (varint-packed) gains almost nothing from harder work.
Measured on 118 buildings tiles of the 1,000,000-building city (z14-16, 21 KB each):
level 1 gives 10.15 KB in 0.26 ms, level 4 9.92 KB in 0.35 ms, level 6 10.09 KB in
1.38 ms, level 9 10.06 KB in 5.7 ms; level 6 was a tenth of a drawn tile's CPU."""
GZIP_MINIMUM_BYTES = 512
"""Smaller tiles are sent as they are."""
ENTRY_OVERHEAD_BYTES = 300
"""What an entry costs beyond its bytes (key, object headers), for the byte bound."""


@dataclass(frozen=True)
class TileKey:
    collection: str
    """A collection id, or ``""`` for the dataset tiles (every main layer)."""
    tile: TileAddress
    datum: str
    scope: Scope | None
    """The caller's visibility class for per-viewer layers; None when no layer depends on it."""


@dataclass
class CachedTile:
    """An encoded tile, its gzip (None if not worth it), ETag, and who has been audited."""

    data: bytes
    gzipped: bytes | None
    etag: str
    personal_ids: tuple[int, ...]
    tables: frozenset[str]
    audited: set[str] = field(default_factory=set)
    """Principals whose read of this tile's personal cases is already in the audit trail."""

    @property
    def size(self) -> int:
        return len(self.data) + len(self.gzipped or b"") + ENTRY_OVERHEAD_BYTES


def encoded(data: bytes, personal_ids: tuple[int, ...], tables: frozenset[str]) -> CachedTile:
    """A tile ready to send: its strong ETag and, for larger tiles, its gzip."""
    etag = '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'
    gz = gzip.compress(data, GZIP_LEVEL, mtime=0) if len(data) >= GZIP_MINIMUM_BYTES else None
    return CachedTile(data, gz, etag, personal_ids, tables)


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    stored: int = 0
    refused: int = 0
    """Tiles drawn but not stored: a change arrived meanwhile, or not listening."""
    dropped: int = 0
    """Entries dropped by notifications."""
    evicted: int = 0
    """Entries dropped for memory."""
    notifications: int = 0


class TileCache:
    """A byte-bounded LRU of tiles, emptied per table by change notifications."""

    def __init__(self, max_bytes: int, listening: Callable[[], bool]) -> None:
        self.max_bytes = max_bytes
        self._listening = listening
        self._entries: OrderedDict[TileKey, CachedTile] = OrderedDict()
        self._bytes = 0
        self._generations: dict[str, int] = {}
        self._epoch = 0
        self._lock = threading.Lock()
        self.stats = CacheStats()

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: TileKey, *, count_miss: bool = True) -> CachedTile | None:
        """The tile under ``key``; ``count_miss`` False for a look that a miss passes on."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.stats.misses += count_miss
                return None
            self._entries.move_to_end(key)
            self.stats.hits += 1
            return found

    def generations(self, tables: Iterable[str]) -> tuple[int, tuple[int, ...]]:
        """Read before drawing a tile from ``tables``; hand to :meth:`put`."""
        with self._lock:
            return self._epoch, tuple(self._generations.get(t, 0) for t in sorted(tables))

    def put(self, key: TileKey, tile: CachedTile, generations: tuple[int, tuple[int, ...]]) -> bool:
        """Store ``tile`` unless its tables changed since ``generations`` were read."""
        if self.max_bytes <= 0 or tile.size > self.max_bytes:
            return False
        with self._lock:
            if not self._listening() or generations != (
                self._epoch,
                tuple(self._generations.get(t, 0) for t in sorted(tile.tables)),
            ):
                self.stats.refused += 1
                return False
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = tile
            self._bytes += tile.size
            self.stats.stored += 1
            while self._bytes > self.max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size
                self.stats.evicted += 1
            return True

    def changed(self, changes: Sequence[dict[str, Any]]) -> None:
        """Drop every entry that read a table named in ``changes`` (the feed calls this)."""
        tables = {str(c.get("table")) for c in changes}
        with self._lock:
            self.stats.notifications += len(changes)
            for table in tables:
                self._generations[table] = self._generations.get(table, 0) + 1
            stale = [k for k, v in self._entries.items() if not v.tables.isdisjoint(tables)]
            for k in stale:
                self._bytes -= self._entries.pop(k).size
            self.stats.dropped += len(stale)

    def clear(self) -> None:
        """Forget everything (the feed lost or (re)opened its connection)."""
        with self._lock:
            self._epoch += 1
            self._entries.clear()
            self._bytes = 0


def tile_key(collection: str, tile: TileAddress, datum: Datum, scope: Scope | None) -> TileKey:
    return TileKey(collection, tile, datum.label, scope)
