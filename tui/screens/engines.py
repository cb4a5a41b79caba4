"""The Engines screen (E): the Engines pane and the fleet view (F) as two tabs, with what their rows ask
for answered on the row's own engine (its logs, a shell, attach, the detail view, a confirmation)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Log, Static, TabbedContent, TabPane

from tui.failure import one_line
from tui.widgets.engines import EngineBar, EnginesPane, fleet_of, update_engine_bars
from tui.widgets.fleet import FleetPane

if TYPE_CHECKING:
    from core.interface import Engine, LogStream
    from tui.app import DockyardApp

TABS = ("engines", "fleet")


class EnginesScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "close", "Back", id="engines_screen.close"),
        Binding("1", "tab('engines')", "Engines", show=False, id="engines_screen.tab1"),
        Binding("2", "tab('fleet')", "Fleet", show=False, id="engines_screen.tab2"),
    ]

    def __init__(self, tab: str = "engines") -> None:
        super().__init__(id="engines-screen")
        self.initial = tab if tab in TABS else "engines"

    @property
    def dapp(self) -> DockyardApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield EngineBar()
        with TabbedContent(id="engine-tabs", initial=self.initial):
            with TabPane("1 Engines", id="engines"):
                yield EnginesPane(id="engines-pane")
            with TabPane("2 Fleet", id="fleet"):
                yield FleetPane(id="fleet-pane")
        yield Footer()

    def on_mount(self) -> None:
        fleet_of(self.dapp)
        self._focus(self.initial)

    def _focus(self, tab: str) -> None:
        self.query_one(f"#{tab}-pane", EnginesPane if tab == "engines" else FleetPane).focus_table()

    def show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self._focus(tab)

    @on(TabbedContent.TabActivated)
    def _activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id in TABS:
            self._focus(event.pane.id)

    def action_tab(self, tab: str) -> None:
        self.show_tab(tab)

    def action_close(self) -> None:
        self.dismiss(None)

    # --------------------------------------------------------------- what the panes ask

    @on(EnginesPane.Switched)
    def _switched(self, event: EnginesPane.Switched) -> None:
        event.stop()
        update_engine_bars(self.dapp)
        self.dismiss(None)  # back to the panes, now over that engine

    @on(EnginesPane.ShowFleet)
    def _show_fleet(self, event: EnginesPane.ShowFleet) -> None:
        event.stop()
        self.query_one(FleetPane).fleet_changed(None)
        self.show_tab("fleet")

    @on(FleetPane.Confirm)
    def _confirm(self, event: FleetPane.Confirm) -> None:
        from tui.screens.confirm import ConfirmScreen

        event.stop()
        then = event.then

        def answered(ok: bool | None) -> None:
            if ok:
                then()

        self.app.push_screen(ConfirmScreen(event.title, event.body), answered)

    @on(FleetPane.Action)
    def _action(self, event: FleetPane.Action) -> None:
        event.stop()
        if event.what == "logs":
            self.app.push_screen(
                FleetLogsScreen(event.engine, event.engine_name, event.container, event.name)
            )
        elif event.what == "detail":
            from tui.screens.inspect import DetailScreen

            self.app.push_screen(
                DetailScreen("container", event.container, event.name, tab=event.tab, engine=event.engine)
            )
        elif event.what in ("shell", "attach"):
            from tui.screens.shell import SHELL, _terminal_available

            if not _terminal_available():
                self.notify("The embedded terminal is not available in this build", severity="warning")
                return
            from tui.screens.terminal_screen import AttachScreen, ExecScreen

            if event.what == "shell":
                self.app.push_screen(ExecScreen(event.container, event.name, SHELL, engine=event.engine))
            else:
                self.app.push_screen(AttachScreen(event.container, event.name, engine=event.engine))


class FleetLogsScreen(Screen[None]):
    """One fleet row's log, from its own engine: the huge-log viewer (search, filter, follow) when the
    engine's log file is on this machine, else the engine's log stream (``logs -f --tail 1000``), followed
    as it grows."""

    # before the log viewer's own Esc (which clears its search, filter or selection): that first, then back
    BINDINGS = [Binding("escape", "close", "Back", id="fleet_logs.close", priority=True)]
    TAIL = 1000
    DEFAULT_CSS = """
    FleetLogsScreen > .fleet-log-view, FleetLogsScreen > #fleet-log {
        height: 1fr;
    }
    """

    def __init__(self, engine: Engine, engine_name: str, container: str, name: str) -> None:
        super().__init__(classes="fleet-logs")
        self.engine = engine
        self.engine_name = engine_name
        self.container = container
        self.container_name = name
        self._stream: LogStream | None = None
        self.lines = 0  # lines shown, for tests

    def compose(self) -> ComposeResult:
        yield Static(
            f"Logs of {self.container_name} on {self.engine_name}   (Esc: back)",
            id="logs-title",
            markup=False,
        )
        yield Footer()

    def on_mount(self) -> None:
        self._open()

    @work(thread=True, exclusive=True, group="fleet-logs-open", exit_on_error=False)
    def _open(self) -> None:
        try:
            path = self.engine.container_log_path(self.container)
        except Exception:
            path = None
        self.app.call_from_thread(self._mount_viewer, path)

    def _mount_viewer(self, path: Any) -> None:
        if path is not None:
            from tui.widgets.logview import LogView

            viewer: Any = LogView(path, follow=True, json_lines=True)
            viewer.add_class("fleet-log-view")
        else:
            viewer = Log(max_lines=20_000, id="fleet-log")
        self.mount(viewer, after="#logs-title")
        viewer.focus()
        if path is None:
            self._follow()

    def visible_text(self) -> list[str]:
        """What the screen shows of the log (for tests): the viewer's visible lines, or the streamed ones."""
        from tui.widgets.logview import LogView

        for view in self.query(LogView):
            return list(view.visible_text())
        return [str(line) for line in self.query_one(Log).lines]

    def on_unmount(self) -> None:
        if self._stream is not None:
            self._stream.close()

    @work(thread=True, exclusive=True, group="fleet-logs", exit_on_error=False)
    def _follow(self) -> None:
        try:
            stream = self.engine.container_logs(self.container, follow=True, tail=self.TAIL)
        except Exception as err:
            self.app.call_from_thread(self._write, [f"No logs: {one_line(err)}"])
            return
        self._stream = stream
        try:
            for line in stream:
                self.app.call_from_thread(self._write, [line.text.rstrip("\n")])
        except Exception as err:
            self.app.call_from_thread(self._write, [f"(the log stream ended: {one_line(err)})"])

    def _write(self, lines: list[str]) -> None:
        self.lines += len(lines)
        self.query_one(Log).write_lines(lines)

    def action_close(self) -> None:
        from tui.widgets.logview import LogView

        for view in self.query(LogView):
            busy = ("_prompt_kind", "_cursor", "_search", "_filter")
            if any(getattr(view, name, None) for name in busy):
                view.action_clear()
                return
        self.dismiss(None)


def open_engines(app: Any, tab: str = "engines") -> None:
    """E (Engines) and F (fleet): open the Engines screen on that tab, or switch to it if it is up."""
    screen = app.screen
    if isinstance(screen, EnginesScreen):
        screen.show_tab(tab)
        return
    app.push_screen(EnginesScreen(tab))
