"""A container's terminal in the workbench: a shell started with ``exec`` (ExecScreen) or the container's own
stdio with ``attach`` (AttachScreen), drawn by tui.widgets.terminal.TerminalView.

Every key goes to the container (ctrl+q, ctrl+p, ctrl+c, ctrl+t and docker's ctrl+p ctrl+q too) except the one
escape key, Ctrl+]: it gives the keyboard back to the workbench. Then Esc leaves (a shell is hung up, an
attached container keeps running: that is detaching), Enter returns to the terminal, Ctrl+T hands it the
whole terminal (Ctrl+] comes back from there too), PageUp/PageDown browse its scrollback and Ctrl+Q quits
(asking first). When the process ends the screen closes by itself and says how it ended.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.failure import one_line
from tui.widgets.terminal import TerminalView

if TYPE_CHECKING:
    from core.interface import Engine
    from tui.app import DockyardApp
    from tui.widgets.stream_bridge import StreamBridge

ESCAPE_KEY = "Ctrl+]"  # the terminal's one escape key (tui.widgets.terminal, binding terminal.release)
HINT = f"every key is the container's; {ESCAPE_KEY} gives them back"
RELEASED_HINT = "Enter back in, Esc leaves, Ctrl+T full terminal"


class _TerminalScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "leave", "Leave", id="terminal_screen.leave"),
        Binding("enter", "focus_terminal", "Back to the terminal", id="terminal_screen.focus"),
        Binding("ctrl+t", "fullscreen", "Full terminal", id="terminal.fullscreen"),
        Binding("pageup,shift+pageup", "scrollback(-1)", "Scroll back", show=False, id="terminal.scroll_up"),
        Binding(
            "pagedown,shift+pagedown",
            "scrollback(1)",
            "Scroll forward",
            show=False,
            id="terminal.scroll_down",
        ),
    ]
    VERB = ""

    def __init__(self, container: str, name: str, *, engine: Engine | None = None) -> None:
        super().__init__(classes="terminal-screen")
        self._engine = engine  # another engine than the workbench's (a fleet row's), else None
        self.container = container
        self.container_name = name
        self.terminal: TerminalView | None = None
        self.exit_code: int | None = None
        self.closed = False

    @property
    def dapp(self) -> DockyardApp:
        return self.app  # type: ignore[return-value]

    @property
    def engine(self) -> Engine:
        return self._engine or self.dapp.engine

    def compose(self) -> ComposeResult:
        yield Static(
            f"{self.VERB} {self.container_name}: starting…   {HINT}", id="terminal-title", markup=False
        )
        yield Footer()

    def _term_size(self) -> tuple[int, int]:
        # the terminal gets the screen less the title and footer lines
        return max(2, self.size.height - 2), max(10, self.size.width)

    def show_terminal(self, master_fd: int, wait: Any, *, close_fd: bool) -> None:
        self.terminal = TerminalView(master_fd, wait=wait, close_fd=close_fd, id="terminal")
        self.mount(self.terminal, after="#terminal-title")
        self.terminal.focus()
        self._title(HINT)

    def _title(self, hint: str) -> None:
        self.query_one("#terminal-title", Static).update(f"{self.VERB} {self.container_name}   {hint}")

    def on_descendant_focus(self) -> None:
        if self.terminal is not None and self.terminal.has_focus:
            self._title(HINT)

    def on_descendant_blur(self) -> None:
        if self.terminal is not None and not self.closed:
            self._title(RELEASED_HINT)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # while the terminal has the keys, they are the container's: the footer offers only Ctrl+]
        return not (self.terminal is not None and self.terminal.has_focus and self.terminal.takes_every_key)

    def busy_reason(self) -> str | None:
        """What quitting now would cut short (DockyardApp asks before it quits)."""
        if self.closed or self.exit_code is not None:
            return None
        what = "a shell in" if isinstance(self, ExecScreen) else "attached to"
        return f"{what} {self.container_name}"

    def action_fullscreen(self) -> None:
        if self.terminal is not None:
            self.terminal.action_fullscreen(f"{self.VERB} {self.container_name}")

    def action_scrollback(self, direction: int) -> None:
        if self.terminal is not None:
            self.terminal.action_scrollback(direction)

    def failed(self, message: str) -> None:
        self.notify(f"{self.VERB} {self.container_name}: {message}", severity="error", timeout=8)
        self.dismiss(None)

    @on(TerminalView.Exited)
    def _exited(self, event: TerminalView.Exited) -> None:
        self.exit_code = event.code
        self.finished(event.code)
        if not self.closed:
            self.closed = True
            self.dismiss(None)

    def finished(self, code: int | None) -> None:
        if code is not None:
            self.notify(f"{self.container_name}: exited with code {code}", timeout=4)

    def action_focus_terminal(self) -> None:
        if self.terminal is not None:
            self.terminal.focus()

    def action_leave(self) -> None:
        if not self.closed:
            self.closed = True
            self.hang_up()
            self.dismiss(None)

    def hang_up(self) -> None:
        """End the session the way its kind must (each subclass: exec ends its process, attach detaches)."""
        raise NotImplementedError(f"{type(self).__name__} must say how it hangs up")


class ExecScreen(_TerminalScreen):
    VERB = "Shell in"

    def __init__(self, container: str, name: str, argv: list[str], *, engine: Engine | None = None) -> None:
        super().__init__(container, name, engine=engine)
        self.argv = argv
        self.bridge: StreamBridge | None = None

    def on_mount(self) -> None:
        self._start_exec(self._term_size())

    @work(thread=True, exclusive=True, group="exec", exit_on_error=False)
    def _start_exec(self, size: tuple[int, int]) -> None:
        from core.models import ExecConfig
        from tui.widgets.stream_bridge import StreamBridge

        config = ExecConfig(cmd=self.argv, tty=True, attach_stdin=True, console_size=size)
        try:
            stream = self.engine.exec(self.container, config)
        except Exception as err:
            self.app.call_from_thread(self.failed, one_line(err))
            return
        self.bridge = bridge = StreamBridge(stream)
        self.app.call_from_thread(self.show_terminal, bridge.master_fd, bridge.wait, close_fd=True)

    def finished(self, code: int | None) -> None:
        if self.bridge is not None:
            self.bridge.close()
        if code:
            self.notify(f"Shell in {self.container_name} exited with code {code}", timeout=4)

    def hang_up(self) -> None:
        bridge = self.bridge
        if bridge is None:
            return
        bridge.kill(signal.SIGHUP)
        if self.terminal is not None:
            self.terminal.remove()  # stops reading the master before the bridge goes
        self._reap(bridge)

    @work(thread=True, group="exec-reap", exit_on_error=False)
    def _reap(self, bridge: StreamBridge) -> None:
        if not bridge.ended(5):
            bridge.kill(signal.SIGKILL)
            bridge.wait(5)
        bridge.close()


class AttachScreen(_TerminalScreen):
    VERB = "Attached to"

    def __init__(
        self, container: str, name: str, *, start: bool = False, engine: Engine | None = None
    ) -> None:
        super().__init__(container, name, engine=engine)
        self.start = start
        self.bridge: StreamBridge | None = None

    def on_mount(self) -> None:
        self._connect_attach()

    @work(thread=True, exclusive=True, group="attach", exit_on_error=False)
    def _connect_attach(self) -> None:
        from tui.widgets.stream_bridge import StreamBridge

        engine = self.engine
        try:
            if self.start:
                # `run -it`: connect before the process starts, so nothing it prints first is lost
                stream = engine.start_attached(self.container, stdin=True)
            else:
                stream = engine.attach_container(self.container, stdin=True)
        except Exception as err:
            message = one_line(err)
            if self.start:  # the run form's container, whose start failed: it does not stay behind
                from tui.screens.run_form import discard_created

                message += discard_created(engine, self.container)
            self.app.call_from_thread(self.failed, message)
            return
        self.bridge = bridge = StreamBridge(stream)
        self.app.call_from_thread(self.show_terminal, bridge.master_fd, bridge.wait, close_fd=True)
        self.app.call_from_thread(self.dapp.schedule_refresh, "containers")

    def hang_up(self) -> None:
        if self.bridge is not None:
            self.bridge.close()
            self.notify(f"Detached from {self.container_name}; it keeps running", timeout=4)
