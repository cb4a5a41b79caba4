"""A custom command (tui.toml's ``[custom_commands]``, :mod:`tui.custom_commands`) run with ``sh -c``:
its output in a screen of its own, or, with ``attach = true``, in the embedded terminal (a pty, for
commands that ask or draw).

The command runs on the machine the workbench runs on, in the workbench's directory and environment; its
stdin is /dev/null when its output is captured. The screen says how it ended (exit code or signal), and
Esc stops a command still running (SIGTERM to its process group, then SIGKILL) before it closes."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Log, Static

from tui.screens.terminal_screen import _TerminalScreen

MAX_LINES = 20_000  # kept in the output view


def _ended(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def _stop(proc: subprocess.Popen[Any]) -> None:
    """End the command and whatever it started (its own process group), by its pid."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


class CommandOutputScreen(Screen[None]):
    BINDINGS = [Binding("escape", "close", "Back (stops it)", id="custom.close")]

    def __init__(self, name: str, command: str, item: str) -> None:
        super().__init__(classes="custom-screen")
        self.command_name = name
        self.command = command
        self.item = item
        self.proc: subprocess.Popen[bytes] | None = None
        self.exit_code: int | None = None
        self._lock = threading.Lock()

    def compose(self) -> ComposeResult:
        yield Static(f"{self.command_name} on {self.item}: running…", id="custom-title", markup=False)
        yield Static(f"$ {self.command}", id="custom-command", markup=False)
        yield Log(id="custom-output", max_lines=MAX_LINES)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Log).focus()
        self._run()

    @work(thread=True, exclusive=True, group="custom-command", exit_on_error=False)
    def _run(self) -> None:
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", self.command],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as err:
            self.app.call_from_thread(self._finished, None, f"could not start: {err}")
            return
        with self._lock:
            self.proc = proc
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            self.app.call_from_thread(self._line, raw.decode("utf-8", "replace"))
        code = proc.wait()
        self.app.call_from_thread(self._finished, code, None)

    def _line(self, text: str) -> None:
        self.query_one(Log).write(text)

    def _finished(self, code: int | None, error: str | None) -> None:
        self.exit_code = code
        how = error or _ended(code if code is not None else -1)
        title = self.query_one("#custom-title", Static)
        title.update(f"{self.command_name} on {self.item}: {how}   (Esc goes back)")
        if error or code:
            title.add_class("custom-failed")
            self.notify(
                f"Custom command {self.command_name} on {self.item}: {how}", severity="error", timeout=6
            )

    def output(self) -> str:
        return "\n".join(self.query_one(Log).lines)

    def busy_reason(self) -> str | None:
        if self.proc is not None and self.proc.poll() is None:
            return f"the custom command {self.command_name}"
        return None

    def action_close(self) -> None:
        with self._lock:
            proc = self.proc
        if proc is not None:
            threading.Thread(target=_stop, args=(proc,), daemon=True).start()
        self.dismiss(None)


class CommandTerminalScreen(_TerminalScreen):
    """``attach = true``: the command in the embedded terminal; when it ends the screen stays, saying how,
    until Esc."""

    VERB = "Custom command"

    def __init__(self, name: str, command: str, item: str) -> None:
        super().__init__(item, f"{name} on {item}")
        self.command = command
        self.proc: subprocess.Popen[bytes] | None = None

    def on_mount(self) -> None:
        import pty

        lines, columns = self._term_size()
        master, slave = pty.openpty()
        from tui.widgets.terminal import set_winsize

        set_winsize(slave, lines, columns)
        try:
            self.proc = subprocess.Popen(
                ["/bin/sh", "-c", self.command],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
                env={**os.environ, "TERM": "xterm-256color"},
            )
        except OSError as err:
            os.close(master)
            os.close(slave)
            self.failed(f"could not start: {err}")
            return
        os.close(slave)
        proc = self.proc
        self.show_terminal(master, proc.wait, close_fd=True)

    def finished(self, code: int | None) -> None:
        self.closed = True  # stay: the output is what the user came for
        how = _ended(code) if code is not None else "ended"
        self._title(f"{how}   (Esc goes back)")
        if code:
            self.notify(f"{self.container_name}: {how}", severity="error", timeout=6)

    def busy_reason(self) -> str | None:
        if self.proc is not None and self.proc.poll() is None:
            return f"the custom command {self.container_name}"
        return None

    def action_leave(self) -> None:
        self.closed = True
        self.hang_up()
        self.dismiss(None)

    def hang_up(self) -> None:
        if self.proc is not None:
            threading.Thread(target=_stop, args=(self.proc,), daemon=True).start()
