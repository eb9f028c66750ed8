"""How long work reports its progress without drawing anything.

``gis`` never writes to the terminal: a long job takes a ``Progress`` (a
factory of tasks: description and total → an ``Advance`` for that task) and
the edge that called it draws the bars (``cli.progress``).
"""

from __future__ import annotations

from typing import Protocol


class Advance(Protocol):
    """Advance a task by ``n`` units (rows, steps); ``description`` says what it does now."""

    def __call__(self, n: int = 1, /, description: str | None = None) -> None: ...


class Progress(Protocol):
    """Start a task of ``total`` units described by ``description``; returns its ``Advance``."""

    def __call__(self, description: str, total: int, /) -> Advance: ...


def ignore(n: int = 1, /, description: str | None = None) -> None:
    """An ``Advance`` that reports to nobody."""
    return None


def silent(description: str, total: int, /) -> Advance:
    """A ``Progress`` that reports to nobody."""
    return ignore
