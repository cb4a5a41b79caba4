"""How the workbench reads the engine's lists: each kind in its own exclusive worker, whose result reaches
the snapshot and the screen only as a DataLoaded message on the event loop. On the fake engine, made slow
where the race is."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import tui.app
from core.models import ContainerSummary
from tests.tui.fakeengine import FakeEngine
from tests.tui.tuikit import wait_for
from tui.app import DataLoaded, DockyardApp
from tui.screens.main import MainScreen
from tui.settings import Settings

SIZE = (80, 24)


class StallOnce(FakeEngine):
    """Once ``stall`` is set, the next ``list_containers`` reads the list, then waits for ``release``
    before returning it: an old list that arrives late."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.stall = False
        self.stalled = threading.Event()
        self.release = threading.Event()

    def list_containers(self, *, all: bool = False) -> list[ContainerSummary]:
        seen = super().list_containers(all=all)
        if self.stall:
            self.stall = False
            self.stalled.set()
            self.release.wait(10)
        return seen


class SlowLists(FakeEngine):
    """Every ``list_containers`` takes longer than the app's debounce."""

    def list_containers(self, *, all: bool = False) -> list[ContainerSummary]:
        seen = super().list_containers(all=all)
        time.sleep(0.3)
        return seen


class Recorder(DockyardApp):
    """Keeps every DataLoaded that reaches the app (Textual then runs DockyardApp's own handler too)."""

    CSS_PATH = str(Path(tui.app.__file__).with_name("app.tcss"))  # a relative one is read beside this file

    def __init__(self, engine: Any) -> None:
        super().__init__(engine, Settings(stats_interval=0), follow_events=False)
        self.delivered: list[DataLoaded] = []

    def on_data_loaded(self, event: DataLoaded) -> None:
        self.delivered.append(event)


def shown(app: DockyardApp) -> list[str]:
    main = next(s for s in app.screen_stack if isinstance(s, MainScreen))
    keys: list[str] = main.pane("containers").shown
    return keys


def test_a_slow_older_load_does_not_overwrite_a_newer_one(tmp_path: Path) -> None:
    engine = StallOnce(tmp_path)
    gone = engine.containers[0]

    async def scenario() -> None:
        app = Recorder(engine)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: gone.id in shown(app), what="the first list")
            engine.stall = True
            app.load("containers")  # reads the list with `gone` in it, then stalls
            await asyncio.to_thread(engine.stalled.wait, 10)
            with engine.lock:
                engine.containers.remove(gone)
            app.load("containers")  # the newer read, without `gone`
            await wait_for(pilot, lambda: gone.id not in shown(app), what="the newer list")
            before = len(app.delivered)
            engine.release.set()  # now the older read returns its list, with `gone`

            def late() -> list[DataLoaded]:
                return [e for e in app.delivered[before:] if e.kind == "containers"]

            await wait_for(pilot, late, what="the older list delivered")
            await pilot.pause(0.1)
            assert gone in (late()[0].containers or []) and late()[0].superseded
            assert gone.id not in shown(app)
            assert gone not in app.snapshot.containers
            assert len(app.snapshot.containers) == len(engine.containers)

    asyncio.run(scenario())


def test_loads_finish_while_events_keep_coming(tmp_path: Path) -> None:
    # A refresh does not cancel the load still running: events arriving faster than a load takes would
    # otherwise cancel every load, and the list would not change until they stopped.
    engine = SlowLists(tmp_path)
    gone = engine.containers[0]

    async def scenario() -> None:
        app = DockyardApp(engine, Settings(stats_interval=0), follow_events=False)  # type: ignore[arg-type]
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: gone.id in shown(app), what="the first list")
            with engine.lock:
                engine.containers.remove(gone)
            for _ in range(30):  # 1.5 s of events, one every 50 ms
                app.schedule_refresh("containers")
                await pilot.pause(0.05)
            assert gone.id not in shown(app)

    asyncio.run(scenario())


class TickWhileClosing(DockyardApp):
    """A status tick that fires while Textual is taking the screens apart (the app stopped running, the
    containers pane's table already removed): what a full suite once met at a test's end."""

    CSS_PATH = str(Path(tui.app.__file__).with_name("app.tcss"))
    ticked_while_closing = False

    async def _close_all(self) -> None:  # Textual's shutdown step that prunes the screens
        main = next(s for s in self.screen_stack if isinstance(s, MainScreen))
        await main.pane("containers").table.remove()
        self._last_tick = 0.0
        self._tick()
        self.ticked_while_closing = True
        await super()._close_all()


def test_a_tick_during_shutdown_shows_nothing_and_raises_nothing(tmp_path: Path) -> None:
    engine = FakeEngine(tmp_path)

    async def scenario() -> TickWhileClosing:
        app = TickWhileClosing(engine, Settings(stats_interval=0), follow_events=False)  # type: ignore[arg-type]
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: len(shown(app)) == len(engine.containers), what="the list")
        return app

    assert asyncio.run(scenario()).ticked_while_closing
