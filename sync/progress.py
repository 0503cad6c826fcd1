"""Progress bars for long operations: rich on a terminal, silent elsewhere (CI, pipes, tests)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

ProgressFn = Callable[[str, int, int], None]
"""Called as `progress(task, done, total)` by long operations in the lower packages."""


@contextmanager
def progress_bar(enabled: bool | None = None) -> Iterator[ProgressFn]:
    """Yield a `ProgressFn` that draws one rich bar per task name when stderr is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield lambda task, done, total: None
        return
    bars = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    )
    ids: dict[str, int] = {}

    def update(task: str, done: int, total: int) -> None:
        if task not in ids:
            ids[task] = bars.add_task(task, total=total)
        bars.update(ids[task], completed=done, total=total)  # type: ignore[arg-type]

    with bars:
        yield update
