"""The workbench on a full disk: every engine call that fails with an OSError (ENOSPC from a write under
the root) is told in one line — a notification, or the screen's own error line — and the app goes on; no
``[Errno 28]``, no traceback, no crash. The fake engine raises the OSError a real one would let through."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path
from typing import Any

from tests.tui.fakeengine import FakeEngine
from tests.tui.tuikit import Notified, wait_for
from tui.app import DockyardApp
from tui.screens.main import MainScreen
from tui.settings import Settings

SIZE = (100, 30)
WHERE = "/var/lib/dockyard/containers/0123/state.json"
LINE = f"{WHERE}: no space left on device"


def _full() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), WHERE)


class FullDisk(FakeEngine):
    """Writes fail with ENOSPC; with ``reads_fail`` the lists do too (a listing that had to write)."""

    reads_fail = False

    def list_containers(self, *, all: bool = False) -> Any:
        if self.reads_fail:
            raise _full()
        return super().list_containers(all=all)

    def stop_container(self, *args: Any, **kwargs: Any) -> Any:
        raise _full()

    def remove_container(self, *args: Any, **kwargs: Any) -> Any:
        raise _full()

    def inspect_container(self, name: str) -> dict[str, Any]:
        raise _full()

    def container_log_path(self, name: str) -> Path:
        raise _full()

    def pull(self, *args: Any, **kwargs: Any) -> Any:
        raise _full()


def _one_line_about_the_disk(text: str) -> bool:
    return LINE in text and "\n" not in text and "Errno" not in text and "Traceback" not in text


def test_engine_oserrors_become_one_line_notifications(tmp_path: Path) -> None:
    engine = FullDisk(tmp_path)
    first = engine.containers[0]

    async def scenario() -> None:
        app = Notified(engine, Settings(stats_interval=0), follow_events=False)
        async with app.run_test(size=SIZE) as pilot:
            main = next(s for s in app.screen_stack if isinstance(s, MainScreen))
            pane = main.pane("containers")
            await wait_for(pilot, lambda: first.id in pane.shown, what="the list")
            pane.select_key(first.id)
            await pilot.pause()

            await pilot.press("s")  # stop
            await wait_for(
                pilot, lambda: any("Could not stop" in m for m in app.told), what="the stop's notice"
            )
            stop = next(m for m in app.told if "Could not stop" in m)
            assert _one_line_about_the_disk(stop), stop

            await pilot.press("i")  # inspect: the detail screen says why, in its title line
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "DetailScreen", what="detail")
            title = app.screen.query_one("#detail-title")
            await wait_for(pilot, lambda: LINE in str(title.render()), what="the detail's error line")
            assert _one_line_about_the_disk(str(title.render()).split(": ", 1)[1])
            await pilot.press("escape")

            await pilot.press("l")  # logs: the pane says why
            await wait_for(pilot, lambda: "No logs: " + LINE in _texts(app), what="the logs pane's line")

            engine.reads_fail = True
            before = len(app.told)
            app.load("containers")
            await wait_for(pilot, lambda: len(app.told) > before, what="the failed list's notice")
            assert any(m.startswith("containers: ") and _one_line_about_the_disk(m) for m in app.told)
            assert app.is_running and app.return_code is None

    asyncio.run(scenario())


def _texts(app: DockyardApp) -> str:
    from textual.widgets import Static

    return "\n".join(str(w.render()) for w in app.screen.query(Static))
