"""Helpers for the workbench tests: a real engine with busybox, and waiting for the app to reach a state."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tui.app
from core.config import Config
from core.engine import LocalEngine
from core.models import ContainerConfig, ContainerCreate, HostConfig, Mount
from tui.app import DockyardApp

# a container that idles until stopped, and stops at once: a plain `sleep 300` as PID 1 ignores SIGTERM, so
# every stop in a test waited docker's 10 s before the SIGKILL
IDLE = ["sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait"]


@dataclass
class Bench:
    engine: LocalEngine
    config: Config
    ref: str  # the test bed's busybox reference (127.0.0.1:PORT/busybox:latest)

    def run(
        self,
        name: str,
        *command: str,
        env: list[str] | None = None,
        mounts: list[Mount] | None = None,
        tty: bool = False,
        interactive: bool = False,
    ) -> str:
        """Create and start a busybox container; returns its id."""
        config = ContainerConfig(
            image="busybox",
            cmd=list(command) or IDLE,
            env=env or [],
            tty=tty,
            open_stdin=interactive,
            attach_stdin=interactive,
        )
        c = self.engine.create_container(ContainerCreate(config, HostConfig(mounts=mounts or []), name=name))
        self.engine.start_container(c.id)
        return c.id

    def status(self, name: str) -> str:
        return self.engine.container(name).status


class Notified(DockyardApp):
    """The app, keeping every notice it shows (the toasts' text, which a timed-out wait_for reports)."""

    CSS_PATH = str(Path(tui.app.__file__).with_name("app.tcss"))  # a relative one is read beside the test

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.told: list[str] = []

    def notify(self, message: str, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.told.append(message)
        super().notify(message, *args, **kwargs)


async def wait_for(pilot: object, cond: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    """Let the app run until ``cond()`` is true (workers are threads: give them real time). On a timeout
    the message has what a Notified app told (an engine call's error is often the why)."""
    deadline = time.monotonic() + timeout
    error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if cond():
                return
            error = None
        except Exception as err:
            error = err
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    told = getattr(getattr(pilot, "app", None), "told", None)
    raise AssertionError(
        f"timed out waiting for {what or cond}"
        + (f" (the check raised {error!r})" if error is not None else "")
        + (f"; the app told: {told}" if told else "")
    )


def detail_panel_settled(app: DockyardApp, log_lines: int) -> bool:
    """Whether the main screen's detail panel shows, in full, the row the cursor rests on: read after its
    debounce, inspect answered, and (on its Logs tab, when it can be seen) all ``log_lines`` lines drawn.
    The panel draws the first line of a burst at once and the rest a repaint interval later: a loaded
    machine once took a snapshot between the two."""
    from textual.widgets import Log

    from tui.screens.main import MainScreen

    main = next((s for s in app.screen_stack if isinstance(s, MainScreen)), None)
    if main is None or not main.panel.display:
        return True
    panel = main.panel
    wanted, name = panel._wanted
    if panel._debounce is not None or panel.container != wanted:
        return False
    if panel.container is None:
        return panel.item_name == name
    if panel.info is None:
        return False
    if panel.active_tab != "logs" or not panel.live:  # not live (a screen on top): its log is not read
        return True
    return len(panel.query_one("#panel-log", Log).lines) == log_lines and panel._flush_timer is None
