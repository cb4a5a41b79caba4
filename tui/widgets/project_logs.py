"""The logs of a compose project's containers, merged in time order as ``docker compose logs -f`` shows them:
each line prefixed ``web-1  | `` in its service's colour, with services shown or hidden one by one.

One thread a container reads its log through the engine interface (``container_logs``: the last ``TAIL``
lines, then following), so it works on a remote engine too; the threads only append to a queue, which the
event loop drains every ``DRAIN`` seconds. Lines are kept in time order (the containers' past lines arrive
in any order), at most ``KEEP`` of them. When a container's log ends (it stopped) its reader looks again
every ``REOPEN`` seconds whether it runs again, and reads on from the time of the last line it had, so a
restarted project keeps flowing.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import RichLog, Static

from core.models import RUNNING_STATES
from tui.failure import one_line

if TYPE_CHECKING:
    from core.interface import Engine, LogStream

TAIL = 200  # lines of each container's past
KEEP = 5000  # lines kept in all (the oldest go)
DRAIN = 0.1  # seconds between moves of new lines from the readers to the screen
REOPEN = 2.0  # seconds between looks at a container whose log ended
# docker compose's colours for its services, in its order (cmd/formatter/colors.go: the normal ones, then
# the intense ones); named ANSI colours, so a 16-colour terminal shows them too
COLOURS = (
    "cyan",
    "yellow",
    "green",
    "magenta",
    "blue",
    "bright_cyan",
    "bright_yellow",
    "bright_green",
    "bright_magenta",
    "bright_blue",
)


@dataclass(frozen=True)
class Source:
    id: str  # the container
    name: str  # "web-1": what its lines are prefixed with
    service: str


@dataclass(frozen=True)
class Line:
    # (seconds part, nanoseconds padded to 9 digits, source, its line number): sorts as time does, and lines
    # of one time by container, then as written
    order: tuple[str, str, int, int]
    time: str
    source: int  # index into the view's sources
    text: str


def time_order(stamp: str) -> tuple[str, str]:
    """An RFC 3339 time as a sortable key: docker's json-file trims the fraction's trailing zeros
    ("…:05.12Z" is later than "…:05.1Z" but sorts before it as text)."""
    head, dot, rest = stamp.partition(".")
    if not dot:
        return stamp.rstrip("Z"), "0" * 9
    digits = "".join(ch for ch in rest if ch.isdigit())
    return head, digits[:9].ljust(9, "0")


def _epoch(stamp: str) -> float | None:
    from tui.output import parse_time

    dt = parse_time(stamp)
    return dt.timestamp() if dt is not None else None


class ProjectLogView(Vertical):
    """Follows ``sources`` (the project's containers) until unmounted."""

    def __init__(
        self, engine: Engine, project: str, sources: Sequence[Source], *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.project = project
        self.sources = list(sources)
        self.services = sorted({s.service for s in self.sources})
        self.colour = {svc: COLOURS[i % len(COLOURS)] for i, svc in enumerate(self.services)}
        self.width = max((len(s.name) for s in self.sources), default=0)
        self.hidden: set[str] = set()  # services not shown
        self.timestamps = False
        self.lines: list[Line] = []
        self._queue: deque[Line | tuple[int, str]] = deque()  # a line, or (source, why its log failed)
        self._stop = threading.Event()
        self._streams: dict[int, LogStream] = {}
        self._lock = threading.Lock()
        self.errors: dict[int, str] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="project-logs-title")
        yield RichLog(id="project-log", max_lines=KEEP, wrap=False, markup=False, highlight=False)

    @property
    def richlog(self) -> RichLog:
        return self.query_one("#project-log", RichLog)

    def on_mount(self) -> None:
        self._title()
        for i in range(len(self.sources)):
            self.run_worker(lambda i=i: self._read(i), thread=True, group="project-logs", exit_on_error=False)
        self.set_interval(DRAIN, self._drain)

    def on_unmount(self) -> None:
        self._stop.set()
        with self._lock:
            streams = list(self._streams.values())
        for stream in streams:
            stream.close()

    # ------------------------------------------------------------- readers

    def _read(self, i: int) -> None:
        """In a thread: one container's log, its last TAIL lines and then what it writes; looked at again
        when it ends, from the last line's time (lines up to that time are not repeated)."""
        source = self.sources[i]
        last: tuple[str, str] | None = None
        last_time = ""
        seq = 0
        while not self._stop.is_set():
            since = _epoch(last_time) if last_time else None
            try:
                stream = self.engine.container_logs(
                    source.id, follow=True, tail=TAIL if last is None else None, since=since
                )
            except Exception as err:
                self._queue.append((i, one_line(err)))
                return
            with self._lock:
                self._streams[i] = stream
            if self._stop.is_set():
                stream.close()
                return
            try:
                for ll in stream:
                    order = time_order(ll.time)
                    if last is not None and order <= last:
                        continue  # seen before the log was opened again
                    last = order
                    last_time = ll.time
                    seq += 1
                    self._queue.append(Line((*order, i, seq), ll.time, i, ll.text.rstrip("\n")))
            except Exception as err:
                if not self._stop.is_set():
                    self._queue.append((i, one_line(err)))
            finally:
                stream.close()
            if last is None:
                last = ("", "")  # an empty log: from now on, only what comes
            # its log ended (it stopped): open it again once it runs again (a look at its state is cheap;
            # reading a long log from a time is not)
            while not self._stop.wait(REOPEN):
                try:
                    if self.engine.container(source.id).status in RUNNING_STATES:
                        break
                except Exception as err:  # removed (down): nothing more will come
                    self._queue.append((i, one_line(err)))
                    return

    # ------------------------------------------------------------- showing

    def _drain(self) -> None:
        if not self._queue:
            return
        fresh: list[Line] = []
        while self._queue:
            item = self._queue.popleft()
            if isinstance(item, Line):
                fresh.append(item)
            else:
                self.errors[item[0]] = item[1]
        if fresh:
            fresh.sort(key=lambda ln: ln.order)
            in_order = not self.lines or fresh[0].order >= self.lines[-1].order
            if in_order:
                self.lines += fresh
                for ln in fresh:
                    if self._shown(ln):
                        self.richlog.write(self._line_text(ln))
            else:  # past lines of another container: put them in their place and draw everything again
                for ln in fresh:
                    bisect.insort(self.lines, ln, key=lambda x: x.order)
            if len(self.lines) > KEEP:
                del self.lines[: len(self.lines) - KEEP]
            if not in_order:
                self.redraw()
        self._title()

    def _shown(self, ln: Line) -> bool:
        return self.sources[ln.source].service not in self.hidden

    def _line_text(self, ln: Line) -> Text:
        source = self.sources[ln.source]
        text = Text(f"{source.name:<{self.width}}  | ", style=self.colour[source.service])
        if self.timestamps:
            text.append(ln.time + " ")
        text.append(ln.text)
        return text

    def redraw(self) -> None:
        log = self.richlog
        log.clear()
        for ln in self.lines:
            if self._shown(ln):
                log.write(self._line_text(ln))

    def shown_text(self) -> list[str]:
        """The lines as shown now (for tests), oldest first."""
        return [self._line_text(ln).plain for ln in self.lines if self._shown(ln)]

    def _title(self) -> None:
        title = Text()
        title.append(f"Logs of {self.project}", style="bold")
        title.append("  ")
        for i, svc in enumerate(self.services, 1):
            hidden = svc in self.hidden
            title.append(f"{i}:", style="dim")
            title.append(svc, style="dim strike" if hidden else f"bold {self.colour[svc]}")
            title.append(" ")
        failed = [f"{self.sources[i].name}: {why}" for i, why in sorted(self.errors.items())]
        if failed:
            title.append("  " + "; ".join(failed), style="red")
        self.query_one("#project-logs-title", Static).update(title)

    # ------------------------------------------------------------- actions

    def toggle_service(self, number: int) -> None:
        """Show or hide the service numbered ``number`` in the title (1 is the first)."""
        if not 1 <= number <= len(self.services):
            return
        hidden = self.hidden ^ {self.services[number - 1]}
        if hidden >= set(self.services):  # the last one shown stays: 0 shows them all again
            return
        self.hidden = hidden
        self.redraw()
        self._title()

    def show_all(self) -> None:
        self.hidden.clear()
        self.redraw()
        self._title()

    def toggle_timestamps(self) -> None:
        self.timestamps = not self.timestamps
        self.redraw()

    def follow_end(self) -> None:
        self.richlog.auto_scroll = True
        self.richlog.scroll_end(animate=False)
