"""Progress for long steps, one shared console: rich bars on a terminal, plain lines
elsewhere (CI logs, nohup, Ray workers), where a bar would collapse into fragments."""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# The two output channels: `console` (stderr) for logs and progress, `say` / `report_console`
# (stdout) for what a command produces, so `cmd > file` keeps results and nothing else.
console = Console(stderr=True, soft_wrap=True)  # log lines are never broken at 80 columns
REPORT_WIDTH = 100  # tables on stdout when it is not a terminal (logs, files)


def say(text: str = "") -> None:
    """One result line on stdout, verbatim (no markup, no wrapping)."""
    sys.stdout.write(f"{text}\n")
    sys.stdout.flush()


def report_console(width: int = REPORT_WIDTH) -> Console:
    """A rich console on stdout for tables: the terminal's width, else `width` columns."""
    return Console(width=None if sys.stdout.isatty() else width)


def error_line(message: str) -> None:
    """The one line a failed command prints on stderr (verbatim: a path may hold brackets)."""
    sys.stderr.write(f"error: {message}\n")
PLAIN_INTERVAL_S = 10.0  # at most one plain progress line per step this often


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[..., None]]:
    """Yields `advance(n=1, info="", total=None, force=False)`; `info` is shown beside the bar
    (e.g. the loss); `total` sets the length once it is known; `force` prints a plain line
    even within the rate limit (a result such as a held-out check)."""
    if not console.is_terminal or os.environ.get("LORARECYCLE_PLAIN_PROGRESS"):
        with plain_progress(description, total) as advance:
            yield advance
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(description, total=total, info="")

        def advance(n: int = 1, info: str = "", total: int | None = None, force: bool = False) -> None:
            progress.update(task, advance=n, info=info, **({"total": total} if total is not None else {}))

        yield advance


def format_progress(description: str, done: int, total: int | None, elapsed: float, info: str,
                    eta: bool = True) -> str:
    """`description: done/total elapsed rate [eta] info`; the ETA (remaining steps at the rate
    so far) once a step has finished and some remain, as a grid's cells or a training's steps."""
    rate = f"{done / elapsed:.2f}/s" if elapsed > 0 else "-"
    count = f"{done}/{total}" if total is not None else str(done)
    left = f"eta {elapsed / done * (total - done):.0f}s" if eta and total and 0 < done < total and elapsed > 0 else ""
    return " ".join(p for p in (f"{description}:", count, f"{elapsed:.0f}s", rate, left, info) if p)


@contextmanager
def plain_progress(description: str, total: int | None,
                   interval: float = PLAIN_INTERVAL_S, clock: Callable[[], float] = time.monotonic,
                   emit: Callable[[str], None] | None = None) -> Iterator[Callable[..., None]]:
    """Plain progress lines: the start (a slow first step is not silence), the first step,
    then at most one per `interval`, and the end."""
    emit = emit or (lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True))
    state = {"done": 0, "total": total, "info": "", "last": None}
    start = clock()

    def line(final: bool = False) -> str:  # the last line has no ETA: a stage may stop early
        return format_progress(description, state["done"], state["total"], clock() - start, state["info"],
                               eta=not final)

    def advance(n: int = 1, info: str = "", total: int | None = None, force: bool = False) -> None:
        state["done"] += n
        state["info"] = info or state["info"]
        if total is not None:
            state["total"] = total
        now = clock()
        if force or state["last"] is None or now - state["last"] >= interval:
            state["last"] = now
            emit(line())

    emit(line())
    yield advance
    emit(line(final=True) + " done")
