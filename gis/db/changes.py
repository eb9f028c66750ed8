"""The database's change notifications, delivered to in-process caches.

Triggers (migrations 0002 and 0011) ``pg_notify`` every committed change on
the channel ``gridmap_changes`` as ``{"op", "table", "id", "ts"}``. A
``ChangeFeed`` listens on a connection of its own in a thread and hands each
batch of changes to its subscribers; when the connection is lost it tells
them to forget everything (``reset``), since what was notified meanwhile is
lost, and reconnects. A cache that follows a feed keeps entries only while
``listening`` is true, so a missed notification never leaves a stale answer.

``gis.coverage.live`` has a listener of its own (it reads rows back on it);
this one is for caches that only need to know *that* a table changed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from sqlalchemy import Engine, text

from gis.db.engine import connect_params

log = logging.getLogger(__name__)

CHANNEL = "gridmap_changes"
POLL_SECONDS = 0.5
"""How long the listener waits for a notification before checking whether to stop."""
MAX_BACKOFF_SECONDS = 4.0
START_TIMEOUT_SECONDS = 5.0

Change = dict[str, Any]
"""One notification: ``op`` (insert, update, delete, truncate), ``table``, ``id`` (None for
many rows at once), ``ts`` (the trigger's clock, epoch seconds)."""


class ChangeFeed:
    """Listens on ``gridmap_changes`` and calls its subscribers with each batch of changes.

    ``subscribe(on_changes, on_reset)``: ``on_changes(changes)`` runs in the
    listener's thread for every batch; ``on_reset()`` whenever the listener
    starts or loses its connection (the subscriber drops what it holds).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._subscribers: list[tuple[Callable[[Sequence[Change]], None], Callable[[], None]]] = []
        self._listening = threading.Event()
        self._attempted = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._barriers: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.batches = 0
        """Batches delivered since the start (tests and status read it)."""

    def subscribe(
        self, on_changes: Callable[[Sequence[Change]], None], on_reset: Callable[[], None]
    ) -> None:
        with self._lock:
            self._subscribers.append((on_changes, on_reset))

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> bool:
        """Start listening; True once LISTEN is active (waits at most ``timeout`` s)."""
        if self._thread is None or not self._thread.is_alive():
            self._stopping.clear()
            self._attempted.clear()
            self._thread = threading.Thread(
                target=self._listen, name="gridmap-change-feed", daemon=True
            )
            self._thread.start()
        self._attempted.wait(timeout)
        return self.listening

    def stop(self, timeout: float = 5.0) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        if thread.is_alive() and self.listening:
            with contextlib.suppress(Exception):
                self._notify({"op": "wake"})
        thread.join(timeout)
        self._thread = None
        self._reset()

    def sync(self, timeout: float = 2.0) -> bool:
        """Wait until every change committed before this call has reached the subscribers.

        Sends a marker; notifications arrive in commit order, so once the marker
        is seen, what came before has been handled. False if not listening or on
        timeout.
        """
        if not self.listening:
            return False
        token = uuid.uuid4().hex
        event = threading.Event()
        self._barriers[token] = event
        try:
            self._notify({"op": "sync", "token": token})
            return event.wait(timeout)
        except Exception as exc:  # a write before it is committed: never fail it now
            log.warning("could not sync the tile caches (%s)", exc)
            return False
        finally:
            self._barriers.pop(token, None)

    def _notify(self, payload: dict[str, Any]) -> None:
        with self._engine.connect() as conn:
            conn.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": json.dumps(payload)},
            )
            conn.commit()

    def _reset(self) -> None:
        for _, on_reset in list(self._subscribers):
            try:
                on_reset()
            except Exception:  # one subscriber's failure must not stop the others
                log.exception("a change-feed subscriber failed to reset")

    def _listen(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                params = connect_params(self._engine)
                with psycopg.connect(**params, autocommit=True) as listener:
                    listener.execute(f"LISTEN {CHANNEL}")
                    self._reset()  # anything held from before LISTEN may be stale
                    self._listening.set()
                    self._attempted.set()
                    backoff = 0.5
                    while not self._stopping.is_set():
                        batch = list(listener.notifies(timeout=POLL_SECONDS, stop_after=1))
                        if batch:
                            batch += list(listener.notifies(timeout=0))
                            self._deliver([n.payload for n in batch])
            except Exception as exc:  # the listener must outlive any failure
                if not self._stopping.is_set():
                    log.warning(
                        "change feed lost its connection (%s); retrying in %.1f s", exc, backoff
                    )
            finally:
                self._listening.clear()
                self._attempted.set()
                self._reset()
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _deliver(self, payloads: Sequence[str]) -> None:
        changes: list[Change] = []
        tokens: list[str] = []
        for payload in payloads:
            try:
                message = json.loads(payload)
            except ValueError:
                log.warning("ignoring a malformed notification on %s: %.200s", CHANNEL, payload)
                continue
            if not isinstance(message, dict):
                continue
            if message.get("op") == "sync":
                tokens.append(str(message.get("token")))
            elif message.get("table"):
                changes.append(message)
        if changes:
            self.batches += 1
            for on_changes, on_reset in list(self._subscribers):
                try:
                    on_changes(changes)
                except Exception:
                    log.exception("a change-feed subscriber failed; resetting it")
                    with contextlib.suppress(Exception):
                        on_reset()
        for token in tokens:
            event = self._barriers.get(token)
            if event is not None:
                event.set()
