"""Pull/push progress for the command line: Rich bars on a terminal, plain lines otherwise (like docker)."""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any

from core.models import PullProgress


class PlainProgress:
    """One line per layer state change; byte counts are not repeated (logs stay short)."""

    def __init__(self, out: Any = None) -> None:
        self.out = out or sys.stdout
        self._last: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, p: PullProgress) -> None:
        with self._lock:
            if not p.layer:
                self.out.write(f"{p.status}: {p.message}\n" if p.message else f"{p.status}\n")
                return
            if self._last.get(p.layer) == p.status:
                return
            self._last[p.layer] = p.status
            self.out.write(f"{p.layer}: {p.status}\n")
            self.out.flush()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.out.flush()


class BarProgress:
    """A Rich bar per layer, updated from the engine's worker threads."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.fields[layer]}"),
            TextColumn("{task.description:<16}"),
            BarColumn(bar_width=40),
            DownloadColumn(binary_units=False),
            TransferSpeedColumn(),
            transient=False,
        )
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, p: PullProgress) -> None:
        with self._lock:
            if not p.layer:
                self._progress.console.print(f"{p.status}: {p.message}" if p.message else p.status)
                return
            task = self._tasks.get(p.layer)
            if task is None:
                task = self._progress.add_task(p.status, total=p.total or None, layer=p.layer)
                self._tasks[p.layer] = task
            done = p.status in (
                "Pull complete",
                "Already exists",
                "Pushed",
                "Layer already exists",
            ) or p.status.startswith("Mounted")
            self._progress.update(
                task, description=p.status, completed=p.total if done else p.current, total=p.total or None
            )

    def __enter__(self) -> BarProgress:
        self._progress.__enter__()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.__exit__(et, e, tb)


def progress_for(quiet: bool = False) -> Any:
    if quiet:
        return _Quiet()
    return BarProgress() if sys.stdout.isatty() else PlainProgress()


class _Quiet:
    def __call__(self, p: PullProgress) -> None:
        pass

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        pass
