"""A shell in a container (exec) or the container's own terminal (attach), in an embedded terminal.

The terminal widget is tui.widgets.terminal; this module only starts the process through the Engine and
hands the widget its file descriptor."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.app import DockyardApp

# bash when the image has it, else sh: what people expect from "exec a shell"
SHELL = ["/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi"]


def _terminal_available() -> bool:
    try:
        import tui.widgets.terminal  # noqa: F401
    except ImportError:
        return False
    return True


def open_shell(app: DockyardApp, container: str, name: str) -> None:
    if not _terminal_available():
        app.notify("The embedded terminal is not available in this build", severity="warning", timeout=4)
        return
    from tui.screens.terminal_screen import ExecScreen

    app.push_screen(ExecScreen(container, name, SHELL))


def open_attach(app: DockyardApp, container: str, name: str, *, start: bool = False) -> None:
    if not _terminal_available():
        app.notify("The embedded terminal is not available in this build", severity="warning", timeout=4)
        return
    from tui.screens.terminal_screen import AttachScreen

    app.push_screen(AttachScreen(container, name, start=start))
