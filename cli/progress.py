"""Progress bars on the terminal for the long jobs of ``gis`` (which only report progress).

A task's description is shown in the run's language (``cli.lang``).
"""

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

from cli.lang import lang
from gis.lang import Texts
from gis.progress import Advance, Description, Progress, silent


def _said(description: Description) -> str:
    return description.pick(lang()) if isinstance(description, Texts) else description


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

    def task(description: Description, total: int, /) -> Advance:
        task_id = bars.add_task(_said(description), total=total)

        def advance(n: int = 1, /, description: Description | None = None) -> None:
            said = None if description is None else _said(description)
            bars.update(task_id, advance=n, description=said)

        return advance

    with bars:
        yield task
