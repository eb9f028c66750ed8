"""How long work reports its progress without drawing anything.

``gis`` never writes to the terminal: a long job takes a ``Progress`` (a
factory of tasks: description and total → an ``Advance`` for that task) and
the edge that called it draws the bars (``cli.progress``). A description is
given in both languages (``gis.lang.Texts``) where a person reads it; the edge
picks one.
"""

from __future__ import annotations

from typing import Protocol

from gis.lang import Texts

Description = str | Texts
"""What a task does now: plain text (a file name), or the same in Chinese and English."""


class Advance(Protocol):
    """Advance a task by ``n`` units (rows, steps); ``description`` says what it does now."""

    def __call__(self, n: int = 1, /, description: Description | None = None) -> None: ...


class Progress(Protocol):
    """Start a task of ``total`` units described by ``description``; returns its ``Advance``."""

    def __call__(self, description: Description, total: int, /) -> Advance: ...


def ignore(n: int = 1, /, description: Description | None = None) -> None:
    """An ``Advance`` that reports to nobody."""
    return None


def silent(description: Description, total: int, /) -> Advance:
    """A ``Progress`` that reports to nobody."""
    return ignore
