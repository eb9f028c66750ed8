"""Who holds a credential, remembered for a short while so a warm tile costs no query.

A vector-tile client asks for dozens of tiles per second with the same
login or key; looking the credential up each time (``logins.login_principal``,
``keys.key_principal``) would be the only database work of a cached tile.
``RememberedCredentials`` keeps the answer per credential digest for at most
``ttl_s`` seconds, and forgets **everything** as soon as the database says a
login, key, account or a grid manager's grids changed (migration 0011's
notifications on ``auth_session``, ``api_key``, ``account``, ``staff_grid``,
``grid``, delivered by ``gis.db.changes.ChangeFeed``): a revoked key or an
ended login is refused on the next request once the notification has arrived
(milliseconds), not after the TTL. The TTL only bounds how long a credential
that *expires* by the clock (``expires_at``) is still taken. Nothing is
remembered while the feed is not listening, and failures are never
remembered.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from gis.accounts import tokens
from gis.principal import Principal

TABLES = frozenset({"auth_session", "api_key", "account", "staff_grid", "grid", "staff"})
"""Tables whose change may change who holds a credential or what they cover."""
TTL_S = 30.0
"""Longest a remembered credential is taken without asking the database again."""
MAX_ENTRIES = 10_000


class RememberedCredentials:
    """A small map credential digest → principal, cleared by change notifications."""

    def __init__(
        self,
        listening: Callable[[], bool],
        *,
        ttl_s: float = TTL_S,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._listening = listening
        self._ttl_s = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, bytes], tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0

    def lookup(self, kind: str, secret: str) -> Principal | None:
        if not self._listening():
            return None
        key = (kind, tokens.digest(secret))
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            principal, until = found
            if time.monotonic() >= until:
                del self._entries[key]
                return None
            return principal

    def generation(self) -> int:
        """Read before looking a credential up; pass to :meth:`remember`."""
        return self._generation

    def remember(self, kind: str, secret: str, principal: Principal, generation: int) -> None:
        """Keep ``principal`` for ``secret`` unless a change arrived since ``generation``."""
        if not self._listening():
            return
        key = (kind, tokens.digest(secret))
        with self._lock:
            if generation != self._generation:
                return  # looked up before a change that may concern it
            self._entries[key] = (principal, time.monotonic() + self._ttl_s)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def changed(self, changes: Sequence[dict[str, Any]]) -> None:
        if any(c.get("table") in TABLES for c in changes):
            self.forget()

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
