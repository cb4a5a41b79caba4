"""The Logs pane: the log of the container selected in the Containers pane, followed as it grows.

The viewer itself is ``tui.widgets.logview`` (a huge-log viewer with an index of line offsets) when it is
there; this pane only decides *which* container to show and swaps viewers when the selection moves.
Until that widget exists the pane falls back to :class:`FollowLog`, which streams the engine's
``container_logs`` into Textual's ``Log`` (fine for ordinary logs, not for gigabytes).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Log, Static

from tui.keymap import bindings

if TYPE_CHECKING:
    from core.engine import Engine

TAIL = 5000  # lines the fallback viewer starts with


class FollowLog(Log):
    """Fallback viewer: the last TAIL lines, then new ones as the container writes them."""

    def __init__(self, engine: Engine, container: str, *, id: str | None = None) -> None:
        super().__init__(max_lines=50_000, highlight=False, auto_scroll=True, id=id)
        self.engine = engine
        self.container = container
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._buffer: list[str] = []

    def on_mount(self) -> None:
        self._pump()

    def on_unmount(self) -> None:
        self._stop.set()

    @property
    def following(self) -> bool:
        return self.auto_scroll

    def set_following(self, on: bool) -> None:
        self.auto_scroll = on
        if on:
            self.scroll_end(animate=False)

    @work(thread=True, exit_on_error=False)
    def _pump(self) -> None:
        try:
            for line in self.engine.container_logs(self.container, follow=True, tail=TAIL):
                if self._stop.is_set():
                    return
                with self._lock:
                    first = not self._buffer
                    self._buffer.append(line.text.rstrip("\n"))
                # one screen update per 50 ms, however fast the container writes
                if first:
                    self.app.call_from_thread(self.set_timer, 0.05, self._flush)
        except Exception as err:
            if not self._stop.is_set():
                self.app.call_from_thread(self.write_line, f"[logs unavailable: {err}]")

    def _flush(self) -> None:
        with self._lock:
            lines, self._buffer = self._buffer, []
        if lines:
            self.write_lines(lines)


def make_viewer(engine: Engine, container: str) -> Widget:
    """The log viewer for one container: the logview widget if it is there, else the fallback."""
    try:
        from tui.widgets import logview  # noqa: F401
    except ImportError:
        return FollowLog(engine, container, id="log-view")
    return _logview_widget(engine, container)


def _logview_widget(engine: Engine, container: str) -> Widget:
    from tui.widgets import logview

    maker: Any = getattr(logview, "for_container", None)
    if maker is not None:
        widget: Widget = maker(engine, container)
        widget.id = "log-view"
        return widget
    return FollowLog(engine, container, id="log-view")


class LogsPane(Vertical):
    BINDINGS = bindings("logs")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.container: str | None = None
        self.container_name = ""

    def compose(self) -> ComposeResult:
        yield Static("Select a container in the Containers pane (1) to see its logs.", id="logs-title")
        yield Vertical(id="log-host")

    @property
    def engine(self) -> Engine:
        return self.app.engine  # type: ignore[attr-defined,no-any-return]

    def show(self, container: str | None, name: str = "") -> None:
        if container == self.container:
            return
        self.container = container
        self.container_name = name
        host = self.query_one("#log-host", Vertical)
        host.remove_children()
        if container is None:
            self._title("Select a container in the Containers pane (1) to see its logs.")
            return
        host.mount(make_viewer(self.engine, container))
        self._title(None)

    def viewer(self) -> Widget | None:
        found = self.query("#log-view")
        return found.first() if found else None

    def _title(self, text: str | None) -> None:
        if text is None:
            v = self.viewer()
            following = bool(getattr(v, "following", True))
            text = f"Logs of {self.container_name}" + ("  [following]" if following else "  [paused]")
        self.query_one("#logs-title", Static).update(text)

    def action_toggle_follow(self) -> None:
        v = self.viewer()
        if v is None:
            return
        setter = getattr(v, "set_following", None)
        if setter is not None:
            setter(not getattr(v, "following", True))
        self._title(None)

    def focus_viewer(self) -> None:
        v = self.viewer()
        if v is not None:
            v.focus()
