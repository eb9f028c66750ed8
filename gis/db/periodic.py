"""A daemon thread that does one round of database work every interval until stopped.

Background work of the API server (the escalation sweep, deleting position history
past its retention) must outlive a database restart and never take the server
down: a failed round is logged (a short warning while the database cannot be
reached, a traceback otherwise) and tried again at the next interval.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod

from gis.db.engine import first_line, is_unreachable

log = logging.getLogger(__name__)


class PeriodicWork(ABC):
    """Calls :meth:`round` every ``interval_s`` seconds in a daemon thread named ``name``;
    ``rounds`` counts the rounds done (tests and status read it)."""

    def __init__(self, name: str, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive; disable the work instead")
        self.name = name
        self.interval_s = interval_s
        self.rounds = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def round(self) -> None:
        """One round of the work."""

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.round()
            except Exception as exc:  # a failed round must not kill the server
                if is_unreachable(exc):  # the database is restarting: no traceback each round
                    log.warning(
                        "%s skipped, database unreachable (%s); retrying in %.0f s",
                        self.name,
                        first_line(exc),
                        self.interval_s,
                    )
                else:
                    log.exception("%s failed; retrying in %.0f s", self.name, self.interval_s)
            self.rounds += 1
            self._stopping.wait(self.interval_s)
