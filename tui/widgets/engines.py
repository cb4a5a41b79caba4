"""Many engines in one workbench: the :class:`Fleet` (every engine of the Engines pane, each followed by a
watcher of its own), the Engines pane, and the engine bar over the main screen's panes.

The fleet is made the first time the Engines pane or the fleet view opens (:func:`fleet_of`), and lives
as long as the app. Each engine is followed by :func:`core.interface.watch_engine` in a thread: one look
(kind, version, counts, within a short timeout), then its event stream; when the connection is lost it says
so and looks again after 1, 2, 4 ... 30 s. What the watchers find comes to the event loop as
:class:`FleetMessage` (the app hands them to :meth:`Fleet.handle`); container lists are read again from
each engine's events (debounced), never polled. The panes that show the fleet register as views and are
told which engine changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from textual.message import Message
from textual.widgets import Static

from core.models import EngineProbe, EngineTarget
from tui.failure import one_line
from tui.keymap import bindings
from tui.widgets.listpane import ListPane
from tui.widgets.rows import Row

if TYPE_CHECKING:
    from core.interface import Engine
    from core.models import ContainerSummary, Event
    from tui.app import DockyardApp

DEBOUNCE = 0.2  # seconds: one container list read for a burst of one engine's events
ENGINE_COLUMNS = ("ENGINE", "ENDPOINT", "STATE", "KIND", "VERSION", "API", "CONTAINERS", "IMAGES")


class FleetMessage(Message):
    """From a watcher or a list read, for the event loop: ``kind`` is ``state`` (a look at the engine:
    ``probe``, ``retry_in``), ``event`` (one of its events) or ``containers`` (its container list)."""

    def __init__(
        self,
        kind: str,
        name: str,
        *,
        probe: EngineProbe | None = None,
        retry_in: float = 0.0,
        event: Event | None = None,
        containers: list[ContainerSummary] | None = None,
        error: str = "",
        generation: int = 0,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.name = name
        self.probe = probe
        self.retry_in = retry_in
        self.event = event
        self.containers = containers
        self.error = error
        self.generation = generation


@dataclass
class EngineEntry:
    """One engine of the fleet, as the event loop knows it."""

    target: EngineTarget
    engine: Engine | None = None
    probe: EngineProbe | None = None  # None: not looked at yet
    retry_in: float = 0.0
    retry_at: float = 0.0  # monotonic time of the next look when unreachable
    lost_since: float | None = None  # when it stopped answering after having answered
    containers: list[ContainerSummary] = field(default_factory=list)
    loaded: bool = False  # its container list was read at least once
    watch: Any = None
    generation: int = 0  # bumped when its engine object is replaced (a switch reuses it)
    reads: int = 0  # container list reads, for tests

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def connected(self) -> bool:
        return self.probe is not None and self.probe.reachable

    def state_text(self, now: float | None = None) -> str:
        if self.target.error:
            return f"unusable: {self.target.error}"
        if self.probe is None:
            return "looking…"
        if self.probe.reachable:
            return "connected"
        wait = max(0, round(self.retry_at - (now if now is not None else time.monotonic())))
        head = "lost" if self.lost_since is not None else "unreachable"
        return f"{head} (retry in {wait} s)" if wait else f"{head} (retrying)"

    def banner(self) -> str:
        """The one line shown over a lost engine's rows: what happened, and when it is tried again."""
        if self.connected or self.probe is None:
            return ""
        error = self.probe.error if self.probe else ""
        return f"⚠ {self.name} ({self.target.endpoint}): {self.state_text()} — {error}"


class FleetView(Protocol):
    def fleet_changed(self, name: str | None) -> None: ...


class Fleet:
    """Every engine the Engines pane lists, each watched; lives on the event loop (only :meth:`handle` and
    the methods called from widgets change it)."""

    def __init__(
        self,
        app: DockyardApp,
        *,
        find: Callable[[Engine], list[EngineTarget]] | None = None,
        opener: Callable[[EngineTarget], Engine] | None = None,
    ) -> None:
        """``find`` and ``opener`` say which engines there are and make one (default: docker's contexts
        through core.interface.engine_targets and open_engine)."""
        self.app = app
        self.find = find
        self.opener = opener
        self.entries: dict[str, EngineEntry] = {}
        self.marked: set[str] = set()  # engines chosen for the fleet view (none: all)
        self.views: list[FleetView] = []
        self._timers: dict[str, Any] = {}
        self.started = False

    # ------------------------------------------------------------------ set-up

    def start(self) -> None:
        """Find the engines (docker's context store) in a thread, then watch each."""
        if self.started:
            return
        self.started = True
        current = self.app.engine

        def find() -> None:
            from core.interface import engine_targets

            try:
                found = (self.find or engine_targets)(current)
            except Exception as err:
                self.app.call_from_thread(self.app.notify, f"Engines: {one_line(err)}", severity="error")
                return
            self.app.call_from_thread(self._found, found)

        self.app.run_worker(find, thread=True, group="fleet-find", exit_on_error=False)

    def _found(self, targets: list[EngineTarget]) -> None:
        current_name = self.app.engine_name
        for target in targets:
            if target.name in self.entries:
                continue
            entry = EngineEntry(target)
            if (current_name and target.name == current_name) or (not current_name and target.current):
                entry.engine = self.app.engine
                if not current_name:
                    self.app.engine_name = target.name
            elif not current_name and target.endpoint == "in-process" and _in_process(self.app.engine):
                entry.engine = self.app.engine
                self.app.engine_name = target.name
            self.entries[target.name] = entry
            self._watch(entry)
        self._changed(None)

    def _watch(self, entry: EngineEntry) -> None:
        if entry.target.error:
            return
        if entry.engine is None:
            try:
                from core.interface import open_engine

                entry.engine = (self.opener or open_engine)(entry.target)
            except Exception as err:
                entry.probe = EngineProbe(False, error=one_line(err))
                return
        from core.interface import watch_engine

        name, generation, app = entry.name, entry.generation, self.app
        entry.watch = watch_engine(
            entry.engine,
            lambda probe, wait: app.post_message(
                FleetMessage("state", name, probe=probe, retry_in=wait, generation=generation)
            ),
            lambda ev: app.post_message(FleetMessage("event", name, event=ev, generation=generation)),
        )
        entry.watch.start()

    def stop(self) -> None:
        for entry in self.entries.values():
            if entry.watch is not None:
                entry.watch.stop()
        deadline = time.monotonic() + 1.0  # a look in progress (an ssh connect) is not waited for long
        for entry in self.entries.values():
            if entry.watch is not None:
                entry.watch.join(max(0.0, deadline - time.monotonic()))
            if entry.engine is not None and entry.engine is not self.app.engine:
                close = getattr(entry.engine, "close", None)
                if callable(close):
                    try:
                        close()
                    except Exception:
                        pass

    # --------------------------------------------------------------- the loop

    def handle(self, msg: FleetMessage) -> None:
        entry = self.entries.get(msg.name)
        if entry is None or msg.generation != entry.generation:
            return
        if msg.kind == "state" and msg.probe is not None:
            was = entry.connected
            entry.probe = msg.probe
            entry.retry_in = msg.retry_in
            entry.retry_at = time.monotonic() + msg.retry_in
            if msg.probe.reachable:
                entry.lost_since = None
                self.load(entry.name)
            elif was:
                entry.lost_since = time.time()
            self._changed(entry.name)
        elif msg.kind == "event" and msg.event is not None:
            if msg.event.type == "container" or msg.event.type == "image":
                self.schedule_load(entry.name)
        elif msg.kind == "containers":
            if msg.containers is not None:
                entry.containers = msg.containers
                entry.loaded = True
                if entry.probe is not None and entry.probe.reachable:
                    running = sum(1 for c in msg.containers if c.status == "running")
                    p = entry.probe
                    entry.probe = EngineProbe(
                        True, p.kind, p.version, p.api_version, len(msg.containers), running, p.images
                    )
            self._changed(entry.name)

    def schedule_load(self, name: str) -> None:
        if name not in self._timers:
            self._timers[name] = self.app.set_timer(DEBOUNCE, lambda: self._flush(name))

    def _flush(self, name: str) -> None:
        self._timers.pop(name, None)
        self.load(name)

    def load(self, name: str) -> None:
        """Read one engine's containers again (and its image count), in a thread."""
        entry = self.entries.get(name)
        if entry is None or entry.engine is None:
            return
        engine, generation, app = entry.engine, entry.generation, self.app
        entry.reads += 1

        def read() -> None:
            try:
                containers = engine.list_containers(all=True)
            except Exception as err:
                app.post_message(FleetMessage("containers", name, error=one_line(err), generation=generation))
                return
            app.post_message(FleetMessage("containers", name, containers=containers, generation=generation))

        self.app.run_worker(
            read, thread=True, group=f"fleet-load-{name}", exclusive=True, exit_on_error=False
        )

    def load_all(self, names: list[str]) -> None:
        for name in names:
            self.schedule_load(name)

    def retry(self, names: list[str] | None = None) -> None:
        for entry in self.entries.values():
            if (names is None or entry.name in names) and entry.watch is not None:
                entry.watch.retry()
                if entry.connected:
                    self.load(entry.name)

    def _changed(self, name: str | None) -> None:
        for view in list(self.views):
            view.fleet_changed(name)

    # ---------------------------------------------------------------- queries

    def shown(self) -> list[EngineEntry]:
        """The engines of the fleet view: the marked ones, else all."""
        entries = list(self.entries.values())
        chosen = [e for e in entries if e.name in self.marked]
        return chosen or entries

    def engine(self, name: str) -> Engine | None:
        entry = self.entries.get(name)
        return entry.engine if entry else None

    def switch(self, name: str) -> bool:
        """Make the workbench talk to engine ``name`` in every pane."""
        entry = self.entries.get(name)
        if entry is None or entry.engine is None:
            return False
        self.app.switch_engine(name, entry.engine)
        self._changed(None)
        return True


def _in_process(engine: Engine) -> bool:
    from core.interface import engine_url

    return engine_url(engine) == "in-process"


def fleet_of(app: DockyardApp) -> Fleet:
    """The app's fleet, made (and its engines found and watched) on first use."""
    fleet: Fleet | None = getattr(app, "fleet", None)
    if fleet is None:
        fleet = Fleet(app)
        app.fleet = fleet
    fleet.start()
    return fleet


# ====================================================================== the Engines pane


ENDPOINT_WIDTH = 32


def short_endpoint(url: str, width: int = ENDPOINT_WIDTH) -> str:
    """A long endpoint shortened in the middle (``unix://…/dockerd/docker.sock``): its scheme and its end
    say which it is; the whole of it is in the filter's reach and the fleet banner."""
    if len(url) <= width:
        return url
    scheme, sep, rest = url.partition("://")
    head = f"{scheme}{sep}" if sep else ""
    keep = max(8, width - len(head) - 1)
    return f"{head}…{rest[-keep:]}"


def engine_row(entry: EngineEntry, current: str) -> Row:
    p = entry.probe
    live = p is not None and p.reachable
    name = entry.name + ("  *" if entry.name == current else "")
    style = "running" if live else ("created" if p is None and not entry.target.error else "exited")
    return Row(
        entry.name,
        entry.name,
        (
            name,
            short_endpoint(entry.target.endpoint),
            entry.state_text(),
            p.kind if live and p else "",
            p.version if live and p else "",
            p.api_version if live and p else "",
            f"{p.containers} ({p.running} up)" if live and p else "",
            str(p.images) if live and p else "",
        ),
        style,
    )


class EnginesPane(ListPane):
    """Every engine (docker's contexts, ``-H``, the in-process engine): where it is, whether it answers,
    what it is, what it holds. Enter or u switches the workbench to it; Space marks it for the fleet."""

    COLUMNS = ENGINE_COLUMNS
    STATUS_COLUMN = 2
    EMPTY = "Looking for engines (docker's contexts, -H, the in-process engine)…"
    BINDINGS = bindings("engines")

    class Switched(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class ShowFleet(Message):
        pass

    @property
    def dapp(self) -> DockyardApp:
        return self.app  # type: ignore[return-value]

    @property
    def fleet(self) -> Fleet:
        return fleet_of(self.dapp)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # the list keys that mean nothing for an engine (remove, prune) are neither shown nor bound here
        return action not in ("remove", "prune")

    def on_mount(self) -> None:
        self.fleet.views.append(self)
        self.marked = set(self.fleet.marked)
        self.fleet_changed(None)
        self.set_interval(1.0, self._tick)  # the "retry in N s" countdown; only while this pane is up

    def on_unmount(self) -> None:
        fleet = getattr(self.dapp, "fleet", None)
        if fleet is not None and self in fleet.views:
            fleet.views.remove(self)

    def _tick(self) -> None:
        if any(e.probe is not None and not e.probe.reachable for e in self.fleet.entries.values()):
            self.fleet_changed(None)

    def fleet_changed(self, name: str | None) -> None:
        fleet = self.fleet
        rows = [engine_row(e, self.dapp.engine_name) for e in fleet.entries.values()]
        if rows or fleet.entries:
            self.set_rows(rows)

    def action_mark(self) -> None:
        super().action_mark()
        self.fleet.marked = set(self.marked)

    def action_mark_all(self) -> None:
        super().action_mark_all()
        self.fleet.marked = set(self.marked)

    def action_inspect(self) -> None:  # Enter
        self.action_use_engine()

    def action_use_engine(self) -> None:
        row = self.cursor_row_data()
        if row is None:
            return
        entry = self.fleet.entries.get(row.key)
        if entry is None or entry.engine is None or not entry.connected:
            why = entry.banner() or entry.state_text() if entry else "unknown"
            self.notify(f"Not switched: {why} (r looks again)", severity="error", timeout=6)
            return
        if self.fleet.switch(row.key):
            self.notify(f"Every pane now talks to {row.name} ({entry.target.endpoint})", timeout=4)
            self.post_message(self.Switched(row.key))

    def action_retry(self) -> None:
        names = [r.key for r in self.targets()]
        self.fleet.retry(names or None)
        self.notify("Looking again: " + ", ".join(names), timeout=3)

    def action_fleet(self) -> None:
        self.post_message(self.ShowFleet())


# ====================================================================== the engine bar


class EngineBar(Static):
    """One line over the main screen's panes: which engine every pane talks to, and a banner while its
    connection is lost. Hidden while the workbench is on the in-process engine it started with."""

    DEFAULT_CSS = """
    EngineBar {
        height: 1;
        padding: 0 1;
        background: $boost;
        display: none;
    }
    EngineBar.-shown {
        display: block;
    }
    EngineBar.-lost {
        background: $error;
        color: $text;
        text-style: bold;
    }
    """

    def __init__(self) -> None:
        super().__init__("", id="engine-bar", markup=False)

    def on_mount(self) -> None:
        self.show_state()

    def show_state(self) -> None:
        app: DockyardApp = self.app  # type: ignore[assignment]
        from core.interface import engine_url

        url = engine_url(app.engine)
        name = app.engine_name or ("-H" if url != "in-process" else "local")
        problem = app.engine_problem
        text = f"engine {name}: {url}"
        if problem:
            text = f"⚠ {text}: {problem}"
        self.update(text)
        self.set_class(bool(problem) or url != "in-process" or bool(app.engine_name), "-shown")
        self.set_class(bool(problem), "-lost")


def update_engine_bars(app: DockyardApp) -> None:
    """Show the app's engine and its connection on every screen's engine bar."""
    app.title = f"dockyard — {app.engine_name}" if app.engine_name else "dockyard"
    for screen in app.screen_stack:
        for bar in screen.query(EngineBar):
            bar.show_state()


def banner_for(entries: list[EngineEntry]) -> str:
    return "\n".join(b for b in (e.banner() for e in entries) if b)
