"""Progress bars (rich) that show on a terminal and stay quiet anywhere else.

Bars and logs go to stderr, so a command's ``--json`` output on stdout stays one clean object.
They are hidden when stderr is not a TTY (pipes, CI logs) or when ``LLMPATH_PROGRESS=0``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")

stderr_console = Console(stderr=True)
"""The console for logs and progress: always stderr."""


def progress_enabled() -> bool:
    """True when bars should be drawn: stderr is a terminal and ``LLMPATH_PROGRESS`` is not 0."""
    if os.environ.get("LLMPATH_PROGRESS", "").strip() in {"0", "false", "no"}:
        return False
    return sys.stderr.isatty()


def make_progress(*, transient: bool = True) -> Progress:
    """A :class:`rich.progress.Progress` on stderr, disabled when not on a terminal."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console,
        transient=transient,
        disable=not progress_enabled(),
    )


def track(
    iterable: Iterable[T], *, total: int | None = None, description: str = "working"
) -> Iterator[T]:
    """Iterate with a progress bar, like :func:`rich.progress.track` but quiet off a terminal."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with make_progress() as bar:
        task = bar.add_task(description, total=total)
        for item in iterable:
            yield item
            bar.advance(task)


def log(message: str) -> None:
    """Print a log line on stderr (never on stdout, which belongs to the result)."""
    stderr_console.print(message, highlight=False)


__all__ = ["log", "make_progress", "progress_enabled", "stderr_console", "track"]
