"""Progress bars on the terminal for the long jobs of ``gis`` (which only report progress)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as Bars

from gis.progress import Advance, Progress, silent


@contextlib.contextmanager
def progress_bars(enabled: bool = True, console: Console | None = None) -> Iterator[Progress]:
    """A ``gis.progress.Progress`` drawing one bar per task on stderr; silent when disabled."""
    if not enabled:
        yield silent
        return
    bars = Bars(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
    )

    def task(description: str, total: int, /) -> Advance:
        task_id = bars.add_task(description, total=total)

        def advance(n: int = 1, /, description: str | None = None) -> None:
            bars.update(task_id, advance=n, description=description)

        return advance

    with bars:
        yield task
