"""The Logs pane: the log of the container selected in the Containers pane, followed as it grows.

The viewer is :class:`tui.widgets.logview.LogView` (a Toolong-style huge-log viewer: line index built by a
thread, lazy ``pread`` of the visible rows, search, filter, follow). It reads the file the Engine names
with ``container_log_path`` — read-only, the shim is the only writer. This pane only decides *which*
container to show and swaps viewers when the selection moves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from tui.failure import one_line

if TYPE_CHECKING:
    from core.interface import Engine

HINT = "Select a container in the Containers pane (1) and press l, or come here with 5, to see its logs."


def make_viewer(engine: Engine, container: str) -> Widget:
    from tui.widgets.logview import LogView

    try:
        path = engine.container_log_path(container)
    except Exception as err:
        return Static(f"No logs: {one_line(err)}", markup=False)
    return LogView(path, follow=True, json_lines=True)


class LogsPane(Vertical):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.container: str | None = None
        self.container_name = ""
        self._viewer: Widget | None = None

    def compose(self) -> ComposeResult:
        yield Static(HINT, id="logs-title", markup=False)
        yield Vertical(id="log-host")

    @property
    def engine(self) -> Engine:
        return self.app.engine  # type: ignore[attr-defined]

    def show(self, container: str | None, name: str = "") -> None:
        if container == self.container:
            return
        self.container = container
        self.container_name = name
        if self._viewer is not None:
            self._viewer.remove()
            self._viewer = None
        title = self.query_one("#logs-title", Static)
        if container is None:
            title.update(HINT)
            return
        self._viewer = make_viewer(self.engine, container)
        self._viewer.add_class("log-view")
        self.query_one("#log-host", Vertical).mount(self._viewer)
        title.update(f"Logs of {name}   (/ search · f filter · F follow · t timestamps · r range)")

    def viewer(self) -> Widget | None:
        return self._viewer

    def focus_viewer(self) -> None:
        if self._viewer is not None:
            self._viewer.focus()
