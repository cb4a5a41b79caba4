"""Long engine work (pull, push) as a :class:`core.interface.ProgressStream`: the work runs in a thread of
its own and reports Docker-shaped JSON messages into a queue that the stream's reader drains; closing the
stream makes the work's next report raise, which unwinds it the way any failure does (a pull keeps nothing
of what it had not finished)."""

from __future__ import annotations

import queue
import threading

from core.errors import DockyardError
from core.interface import ProgressStream

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    Report = Callable[[dict[str, Any]], None]

_END = object()


class Cancelled(DockyardError):
    """The stream was closed before its work finished."""


class ThreadedProgress(ProgressStream):
    def __init__(self, work: Callable[[Report], Any], *, name: str = "progress") -> None:
        self._messages: queue.Queue[Any] = queue.Queue()
        self._cancelled = threading.Event()
        self._error: BaseException | None = None
        self._work = work
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _report(self, message: dict[str, Any]) -> None:
        if self._cancelled.is_set():
            raise Cancelled("cancelled")
        self._messages.put(message)

    def _run(self) -> None:
        try:
            self.result = self._work(self._report)
        except BaseException as err:  # handed to the reader, who raises it where it can be handled
            self._error = err
        finally:
            self._messages.put(_END)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while (item := self._messages.get()) is not _END:
            yield item
        self._messages.put(_END)  # a second iteration ends at once too
        if self._error is not None and not isinstance(self._error, Cancelled):
            raise self._error

    def close(self) -> None:
        self._cancelled.set()
        if self._thread is not threading.current_thread():
            self._thread.join()  # what the work held is released when this returns
