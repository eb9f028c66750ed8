"""How long work reports its progress without drawing anything.

``gis`` never writes to the terminal: a long job takes a ``Progress`` (a
factory of tasks: description and total → a function advancing that task by
n) and the edge that called it draws the bars (``cli.progress``).
"""

from __future__ import annotations

from collections.abc import Callable

Advance = Callable[[int], None]
"""Advance a task by n units (rows, steps)."""
Progress = Callable[[str, int], Advance]
"""Start a task: description, total units → its ``Advance``."""


def _ignore(n: int) -> None:
    return None


def silent(description: str, total: int) -> Advance:
    """A ``Progress`` that reports to nobody."""
    return _ignore
