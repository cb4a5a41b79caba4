"""DockyardApp: the full-screen workbench over one engine (:class:`core.interface.Engine`).

Only ``dockyard`` without arguments imports this module (Textual costs ~150 ms to import).

Threads: every Engine call blocks (files, locks, the kernel, registries), so it runs in a thread worker
and its result comes back on the event loop (Harlequin's pattern). The lists are refreshed from the
engine's event log, followed by one thread; events arrive in bursts (``run`` = create + start), so they
are debounced into one refresh. Nothing polls while the app is idle except that follower (a ``stat`` of
the event log every 100 ms, in the engine) and, while containers run and the list is in view, a CPU and
memory sample every ``stats_interval`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import App, SystemCommand
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message
from textual.screen import Screen
from textual.worker import get_current_worker

from core.models import LIVE_STATES
from tui import keymap
from tui.failure import one_line
from tui.settings import ANSI_THEME, Settings
from tui.widgets.keyinput import TypeaheadToInput

if TYPE_CHECKING:
    from textual.worker import Worker

    from core.interface import Engine
    from core.models import ContainerStats, ContainerSummary, EngineProbe, ImageSummary, NetworkSummary
    from tui.widgets.engines import Fleet, FleetMessage

DEBOUNCE = 0.15  # seconds: one refresh for a burst of events
LISTS = ("containers", "images", "volumes", "networks")  # what app.load reads, each in its own worker
STATUS_TICK = 10.0  # seconds between re-renders of "Up 3 minutes" (no engine call)
FRESH_TICK = 1.0  # ... and while a container started or stopped in the last minute ("Up 5 seconds")
GC_EVERY = 60.0  # seconds between full garbage collections, done only when no key was pressed lately
# what the app's keys do (its table's, Textual's ctrl+q, ctrl+p, ctrl+c): none while a terminal has the keys
KEY_ACTIONS = frozenset(
    {a.action.partition("(")[0] for a in keymap.ACTIONS if a.scope == "app"}
    | {"quit", "command_palette", "help_quit"}
)
# the screens where q quits (the lists and the detail view: no form, dialog or terminal among them)
Q_QUITS = frozenset({"tui.screens.main.MainScreen", "tui.screens.inspect.DetailScreen"})
# worker groups whose work a quit would cut short, and how the quit question names them
BUSY_WORK = {"pull": "a pull", "run": "a run (pulling its image)", "build": "a build"}


@dataclass
class Snapshot:
    """What the engine said last; the panes render from this. Only the event loop writes it (from
    :class:`DataLoaded` messages), so a worker thread never changes it under a pane that is rendering."""

    containers: list[ContainerSummary] = field(default_factory=list)
    images: list[ImageSummary] = field(default_factory=list)
    volumes: list[Any] = field(default_factory=list)
    volume_users: dict[str, list[str]] = field(default_factory=dict)
    volume_sizes: dict[str, int] = field(default_factory=dict)
    networks: list[NetworkSummary] = field(default_factory=list)
    stats: dict[str, ContainerStats] = field(default_factory=dict)
    loaded: set[str] = field(default_factory=set)  # which of the LISTS have been read at least once

    def take(self, loaded: DataLoaded) -> None:
        """Keep what ``loaded`` carries in place of what was there."""
        kind = loaded.kind
        if kind == "containers" and loaded.containers is not None:
            self.containers = loaded.containers
        elif kind == "images" and loaded.images is not None:
            self.images = loaded.images
        elif kind == "volumes" and loaded.volumes is not None:
            self.volumes = loaded.volumes
            self.volume_users = loaded.volume_users or {}
        elif kind == "networks" and loaded.networks is not None:
            self.networks = loaded.networks
        elif kind == "volume_sizes" and loaded.volume_sizes is not None:
            self.volume_sizes = loaded.volume_sizes
        elif kind == "stats" and loaded.stats is not None:
            self.stats = loaded.stats
        if kind in LISTS:
            self.loaded.add(kind)


class EngineEvent(Message):
    def __init__(self, kind: str, action: str, actor: str) -> None:
        super().__init__()
        self.kind = kind
        self.action = action
        self.actor = actor


class EngineState(Message):
    """A look at the app's engine by its watcher (core.interface.watch_engine): reachable or not, and the
    seconds to its next try."""

    def __init__(self, engine: Engine, probe: EngineProbe, retry_in: float) -> None:
        super().__init__()
        self.engine = engine
        self.probe = probe
        self.retry_in = retry_in


class DataLoaded(Message):
    """What one worker read from the engine, handed to the event loop, where the app keeps it in
    ``app.snapshot`` and the main screen shows it.

    ``kind`` names the one thing it carries: ``containers``, ``images``, ``volumes`` (with
    ``volume_users``), ``networks``, ``volume_sizes`` or ``stats``.
    ``worker`` is the worker that read it: when a newer read of the same kind has started since, that
    worker is cancelled and this older result is dropped.
    """

    def __init__(
        self,
        kind: str,
        *,
        containers: list[ContainerSummary] | None = None,
        images: list[ImageSummary] | None = None,
        volumes: list[Any] | None = None,
        volume_users: dict[str, list[str]] | None = None,
        networks: list[NetworkSummary] | None = None,
        volume_sizes: dict[str, int] | None = None,
        stats: dict[str, ContainerStats] | None = None,
        worker: Worker[None] | None = None,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.containers = containers
        self.images = images
        self.volumes = volumes
        self.volume_users = volume_users
        self.networks = networks
        self.volume_sizes = volume_sizes
        self.stats = stats
        self.worker = worker

    @property
    def superseded(self) -> bool:
        return self.worker is not None and self.worker.is_cancelled


class ActionsProvider(Provider):
    """The command palette reaches every action of the table in :mod:`tui.keymap`."""

    def _commands(self) -> Iterable[tuple[str, str, Callable[[], Any]]]:
        app = self.app
        assert isinstance(app, DockyardApp)
        screen = self.screen
        for a in keymap.ACTIONS:
            if not a.palette or a.scope == "detail":
                continue
            keys = keymap.key_label(app.effective_keys(a.id))
            title = (
                a.description if a.scope in ("app", "list") else f"{a.scope.capitalize()}: {a.description}"
            )
            if a.scope == "list":
                title = f"Selected item: {a.description}"
            yield title, f"{keys}  ({a.id})", _dispatch(app, screen, a)

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(f"{title} {help_text}")
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)


def _dispatch(app: DockyardApp, screen: Screen[Any], a: keymap.Action) -> Callable[[], Any]:
    async def run() -> None:
        if a.scope == "app":
            await app.run_action(a.action)
            return
        target = getattr(screen, "action_target", None)
        node = target(a) if callable(target) else None
        if node is None:
            app.notify(f"{a.description}: not available here", severity="warning", timeout=3)
            return
        await node.run_action(a.action)

    return run


class DockyardApp(TypeaheadToInput, App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "dockyard"
    BINDINGS = keymap.bindings("app")
    COMMANDS = App.COMMANDS | {ActionsProvider}
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        engine: Engine,
        settings: Settings | None = None,
        *,
        follow_events: bool = True,
        screenshot_dir: Path | None = None,
        settings_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.settings = settings or Settings()
        if settings_file is not None:  # where choices made in the app are kept (None: nowhere, as in tests)
            self.settings.save_to = settings_file
        self._theme_ready = False
        self.snapshot = Snapshot()
        self.follow_events = follow_events
        self.screenshot_dir = screenshot_dir or Path.cwd()
        self._stop = threading.Event()
        self._watch: Any = None  # the follower of the engine's events (core.interface.watch_engine)
        self.fleet: Fleet | None = None  # every engine of the Engines pane (tui.widgets.engines), once opened
        self.engine_name = ""  # the Engines pane's name of the engine every pane talks to
        self.engine_problem = ""  # why the engine does not answer now ("" while it does)
        self._refresh_timer: Any = None
        self._pending: set[str] = set()
        self._loads: dict[str, Worker[None]] = {}  # the latest load worker of each of the LISTS
        self._gc_frozen = False
        self._last_key = 0.0
        self._last_tick = 0.0
        self._newest: tuple[object, float] = (None, 0.0)  # (the containers list, its newest start/stop)
        self._asking_quit = False
        self.events_seen = 0  # for tests: how many engine events reached the app
        self.refreshes = 0

    # -------------------------------------------------------------- lifecycle

    def on_mount(self) -> None:
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        if not self.settings.theme_chosen and self.colour_system() == "standard":
            self.theme = ANSI_THEME  # 16 colours: the terminal's named ones, not RGB rounded to them
        elif self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        else:
            self.notify(f"Unknown theme {self.settings.theme!r}; using {self.theme}", severity="warning")
        self._theme_ready = True
        # paint first, then load: the engine's imports and reads in worker threads would compete with the
        # first frame for the GIL
        self.call_after_refresh(self._start)

    def colour_system(self) -> str | None:
        """What the terminal has, as Rich decided from COLORTERM and TERM ("standard": 16 colours,
        "256", "truecolor"); a headless app (tests, snapshots) draws with its defaults."""
        return None if self.is_headless else self.console.color_system

    def watch_theme(self, theme: str) -> None:
        """A theme chosen in the app (the palette's "Change theme") is kept in the settings file."""
        where = self.settings.save_to
        if not self._theme_ready or where is None or theme == self.settings.theme:
            return
        from tui.settings import save_theme

        try:
            save_theme(theme, where)
        except OSError as err:
            self.notify(f"Could not save the theme to {where}: {err}", severity="error")
            return
        self.settings.theme, self.settings.theme_chosen = theme, True

    def _start(self) -> None:
        self.load(*LISTS)
        if self.follow_events:
            self._follow_events()
        self.set_interval(FRESH_TICK, self._tick)
        self.set_interval(GC_EVERY, self._idle_gc)

    def get_default_screen(self) -> Screen[Any]:
        from tui.screens.main import MainScreen

        return MainScreen()

    def on_unmount(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()  # closes the open event stream, which ends the follower
        if self.fleet is not None:
            self.fleet.stop()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self._last_key = time.monotonic()
        await super().on_event(event)

    def _idle_gc(self) -> None:
        if self._gc_frozen and time.monotonic() - self._last_key > 5.0:
            import gc

            gc.collect()

    def effective_keys(self, binding_id: str) -> str:
        return self._keymap.get(binding_id) or keymap.by_id(binding_id).keys

    # ----------------------------------------------------------------- events

    def _follow_events(self) -> None:
        """Follow the engine's events from now on, one message per event, in a thread of its own
        (core.interface.watch_engine). When a remote engine's connection is lost (it stopped, its socket
        went, ssh died) the engine bar says so and the watcher tries again after 1, 2, 4 ... 30 s; once it
        answers, every list is read again."""
        from core.interface import watch_engine

        engine = self.engine
        self._watch = watch_engine(
            engine,
            lambda probe, wait: self.post_message(EngineState(engine, probe, wait)),
            lambda ev: self.post_message(EngineEvent(ev.type, ev.action, ev.id)),
            light=True,
        )
        self._watch.start()

    def on_engine_state(self, event: EngineState) -> None:
        from tui.widgets.engines import update_engine_bars

        if event.engine is not self.engine:
            return  # from the engine before a switch
        was = self.engine_problem
        if event.probe.reachable:
            self.engine_problem = ""
            if was:
                self.load(*LISTS)
                self.notify("Reconnected to the engine", timeout=4)
        else:
            self.engine_problem = f"connection lost ({event.probe.error}); retrying in {event.retry_in:.0f} s"
        if was != self.engine_problem:
            update_engine_bars(self)

    def on_fleet_message(self, message: FleetMessage) -> None:
        if self.fleet is not None:
            self.fleet.handle(message)

    def switch_engine(self, name: str, engine: Engine) -> None:
        """Talk to ``engine`` from now on, in every pane (the Engines pane's switch): the lists are emptied,
        read from it, and followed through its events."""
        from tui.widgets.engines import update_engine_bars

        if engine is self.engine:
            self.engine_name = name
            update_engine_bars(self)
            return
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        self.engine, self.engine_name, self.engine_problem = engine, name, ""
        self.snapshot = Snapshot(loaded=set(LISTS))
        self._show(frozenset({*LISTS, "stats"}))
        self.load(*LISTS)
        if self.follow_events and not self._stop.is_set():
            self._follow_events()
        update_engine_bars(self)

    def on_engine_event(self, event: EngineEvent) -> None:
        self.events_seen += 1
        kinds = {"container": {"containers", "images", "volumes", "networks"}}.get(
            event.kind, {event.kind + "s"}
        )
        self.schedule_refresh(*kinds)

    def schedule_refresh(self, *kinds: str) -> None:
        """Coalesce refresh requests for DEBOUNCE seconds."""
        self._pending.update(kinds)
        if self._refresh_timer is None:
            self._refresh_timer = self.set_timer(DEBOUNCE, self._flush_refresh)

    def _flush_refresh(self) -> None:
        self._refresh_timer = None
        kinds, self._pending = set(self._pending), set()
        # A kind whose load is still running is asked again once it is done, not now: starting another
        # would cancel it (each kind's loads are exclusive), and events coming faster than a load takes
        # would then cancel every load before it showed anything.
        busy = {kind for kind in kinds if kind in self._loads and not self._loads[kind].is_finished}
        if kinds - busy:
            self.load(*(kinds - busy))
        if busy:
            self.schedule_refresh(*busy)

    def on_data_loaded(self, event: DataLoaded) -> None:
        if event.superseded:
            return  # a newer read of the same kind has started: its result is the one to show
        self.snapshot.take(event)
        if event.kind in LISTS:
            self.refreshes += 1
        self._show(frozenset({event.kind}))
        if event.kind == "containers" and not self.snapshot.stats and self.settings.stats_interval > 0:
            self.sample_stats()  # (stats_interval = 0: no samples at all, the list says "off")
        if not self._gc_frozen and event.kind == "containers":
            self._gc_frozen = True
            self.call_after_refresh(_calm_gc)

    def _show(self, kinds: frozenset[str]) -> None:
        from tui.screens.main import MainScreen

        if not self.is_running:
            # shutting down: Textual takes the screens apart while a tick or a finished load may still be
            # delivered, and a pane whose table has gone has nothing to show it in
            return
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.apply(kinds)

    def _tick(self) -> None:
        """Uptimes and "x minutes ago" move with the clock, not with events: re-render from the snapshot,
        every second while some container's status counts seconds ("Up Less than a second", "Exited (0) 5
        seconds ago"), else every STATUS_TICK."""
        if not self.snapshot.containers:
            return
        now = time.monotonic()
        if now - self._last_tick >= STATUS_TICK - 0.5 or self._counting_seconds():
            self._last_tick = now
            self._show(frozenset({"tick"}))

    def _counting_seconds(self) -> bool:
        """Whether a container started or stopped less than a minute ago (the newest such time is worked
        out once per list read, not every second)."""
        containers = self.snapshot.containers
        if self._newest[0] is not containers:
            from tui.output import parse_time

            newest = 0.0
            for c in containers:
                stamp = c.started_at if c.status in LIVE_STATES else c.finished_at
                when = parse_time(stamp) if stamp else None
                if when is not None:
                    newest = max(newest, when.timestamp())
            self._newest = (containers, newest)
        return time.time() - self._newest[1] < 62

    # ------------------------------------------------------------------- data

    def load(self, *kinds: str) -> None:
        """Read these LISTS again, each in its own worker; a load of a kind cancels the one still running,
        whose older result is then dropped (see on_data_loaded)."""
        loaders = {
            "containers": self._load_containers,
            "images": self._load_images,
            "volumes": self._load_volumes,
            "networks": self._load_networks,
        }
        for kind in sorted(set(kinds) & loaders.keys()):
            self._loads[kind] = loaders[kind]()

    @work(thread=True, exclusive=True, group="load-containers", exit_on_error=False)
    def _load_containers(self) -> None:
        self._read(
            "containers", lambda: DataLoaded("containers", containers=self.engine.list_containers(all=True))
        )

    @work(thread=True, exclusive=True, group="load-images", exit_on_error=False)
    def _load_images(self) -> None:
        self._read("images", lambda: DataLoaded("images", images=self.engine.list_images()))

    @work(thread=True, exclusive=True, group="load-volumes", exit_on_error=False)
    def _load_volumes(self) -> None:
        self._read(
            "volumes",
            lambda: DataLoaded(
                "volumes", volumes=self.engine.list_volumes(), volume_users=self.engine.volume_users()
            ),
        )

    @work(thread=True, exclusive=True, group="load-networks", exit_on_error=False)
    def _load_networks(self) -> None:
        self._read("networks", lambda: DataLoaded("networks", networks=self.engine.list_networks()))

    def _read(self, kind: str, read: Callable[[], DataLoaded]) -> None:
        """In a load worker: post what ``read`` got from the engine, or say why it failed."""
        try:
            loaded = read()
        except Exception as err:
            self.call_from_thread(self.notify, f"{kind}: {one_line(err)}", severity="error")
            return
        loaded.worker = get_current_worker()
        self.post_message(loaded)

    def load_volume_sizes(self) -> None:
        """Sizes walk the volume's files: only when the Volumes pane is looked at."""
        self._load_volume_sizes([vol.name for vol in self.snapshot.volumes])

    @work(thread=True, group="volume-sizes", exclusive=True, exit_on_error=False)
    def _load_volume_sizes(self, names: list[str]) -> None:
        sizes = {}
        for name in names:
            try:
                sizes[name] = self.engine.volume_size(name)
            except Exception:
                continue
        self.post_message(DataLoaded("volume_sizes", volume_sizes=sizes, worker=get_current_worker()))

    def sample_stats(self) -> None:
        """CPU/memory for every running container, sampled in a thread worker."""
        running = [c.id for c in self.snapshot.containers if c.status in LIVE_STATES]
        if running:
            self._sample_stats(running)

    @work(thread=True, group="stats", exclusive=True, exit_on_error=False)
    def _sample_stats(self, running: list[str]) -> None:
        # each sample sleeps ~0.2 s to measure CPU, so they run side by side
        from concurrent.futures import ThreadPoolExecutor

        def one(cid: str) -> ContainerStats | None:
            try:
                return self.engine.container_stats(cid)
            except Exception:
                return None

        with ThreadPoolExecutor(max_workers=min(8, len(running)), thread_name_prefix="stats") as pool:
            results = list(pool.map(one, running))
        stats = {s.id: s for s in results if s is not None}
        self.post_message(DataLoaded("stats", stats=stats, worker=get_current_worker()))

    # ---------------------------------------------------------------- actions

    def engine_call(
        self,
        label: str,
        fn: Callable[[], Any],
        *,
        done: Callable[[Any], None] | None = None,
        refresh: Iterable[str] = ("containers",),
        quiet: bool = False,
        failed: str | None = None,
        finally_: Callable[[], None] | None = None,
    ) -> None:
        """Run one blocking Engine call in a thread; report failure as a notification that begins with
        ``failed`` ("Could not remove web"), or with ``label`` when it is not given; ``finally_`` runs on
        the event loop once the call is over, whatever its outcome."""
        self._engine_call(label, fn, done, tuple(refresh), quiet, failed or label, finally_)

    @work(thread=True, group="actions", exit_on_error=False)
    def _engine_call(
        self,
        label: str,
        fn: Callable[[], Any],
        done: Callable[[Any], None] | None,
        refresh: tuple[str, ...],
        quiet: bool,
        failed: str,
        finally_: Callable[[], None] | None,
    ) -> None:
        try:
            result = fn()
        except Exception as err:
            self.call_from_thread(self.notify, f"{failed}: {one_line(err)}", severity="error", timeout=8)
            self.call_from_thread(self.schedule_refresh, *refresh)
            return
        finally:
            if finally_ is not None:
                self.call_from_thread(finally_)
        if not quiet:
            self.call_from_thread(self.notify, label, timeout=3)
        if done is not None:
            self.call_from_thread(done, result)
        if refresh:
            self.call_from_thread(self.schedule_refresh, *refresh)

    # ------------------------------------------------------------------ quitting

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in KEY_ACTIONS and getattr(self.focused, "takes_every_key", False):
            # a shell or attach has the keyboard: even ctrl+q and ctrl+p (priority bindings) are the
            # container's, and the footer shows none of the app's keys
            return False
        if action == "quit_key":
            return self.q_quits_here()
        return True

    def q_quits_here(self) -> bool:
        """``q`` quits from the lists and the detail view (where a text box, which takes ``q`` as a letter,
        is not focused); never from a form, a dialog or a terminal: those screens are not on this list."""
        kind = type(self.screen)
        return f"{kind.__module__}.{kind.__qualname__}" in Q_QUITS  # by name: no import for a footer render

    def busy(self) -> list[str]:
        """What quitting now would cut short: shells and attaches still open, pulls, runs and builds."""
        reasons = []
        for screen in self.screen_stack:
            reason = getattr(screen, "busy_reason", None)
            text = reason() if callable(reason) else None
            if text:
                reasons.append(text)
        for worker in self.workers:
            what = BUSY_WORK.get(worker.group or "")
            if what and not worker.is_finished and what not in reasons:
                reasons.append(what)
        return reasons

    async def action_quit(self) -> None:
        """Ctrl+Q (and the palette's Quit): quit, asking first while something is in progress."""
        self.request_quit()

    def action_quit_key(self) -> None:
        """``q``: where :meth:`q_quits_here` says (check_action)."""
        self.request_quit()

    def request_quit(self) -> None:
        if self._asking_quit:
            return
        reasons = self.busy()
        if not reasons:
            self.exit()
            return
        from tui.screens.confirm import ConfirmScreen

        def answer(yes: bool | None) -> None:
            self._asking_quit = False
            if yes:
                self.exit()

        self._asking_quit = True
        body = [
            f"In progress: {', '.join(reasons)}.",
            "Quitting ends them (an attached container keeps running).",
        ]
        self.push_screen(ConfirmScreen("Quit dockyard?", body), answer)

    # ------------------------------------------------------------------ screens

    def on_engine_pane_ask(self, message: Any) -> None:
        """A pane's ``EnginePane.Ask`` (tui.widgets.panes): open the dialog it names; its answer goes to
        the pane's ``then``."""
        from tui.screens import custom_command as cc
        from tui.screens import network_forms as nf

        message.stop()
        args = message.args
        screen: Screen[Any]
        if message.what == "menu":
            screen = nf.MenuScreen(
                args["title"], args["choices"], args.get("body"), danger=args.get("danger", False)
            )
        elif message.what == "network-create":
            screen = nf.NetworkCreateScreen()
        elif message.what == "volume-create":
            screen = nf.VolumeCreateScreen()
        elif message.what == "links":
            screen = nf.LinksScreen(args["title"], args["urls"])
        elif message.what == "custom-run":
            kind = cc.CommandTerminalScreen if args["attach"] else cc.CommandOutputScreen
            screen = kind(args["name"], args["command"], args["item"])
        else:
            raise ValueError(f"no dialog {message.what!r}")
        self.push_screen(screen, message.then)

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_pane(self, name: str) -> None:
        from tui.screens.main import MainScreen

        if isinstance(self.screen, MainScreen):
            self.screen.show_pane(name)

    def action_pull(self, reference: str = "") -> None:
        from tui.screens.pull import PullScreen

        self.push_screen(PullScreen(reference))

    def action_run_form(self, image: str = "") -> None:
        from tui.screens.run_form import RunFormScreen

        self.push_screen(RunFormScreen(image))

    def action_refresh(self) -> None:
        self.load(*LISTS)

    def action_engines(self) -> None:
        from tui.screens.engines import open_engines

        open_engines(self, "engines")

    def action_fleet(self) -> None:
        from tui.screens.engines import open_engines

        open_engines(self, "fleet")

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        path = self.save_screenshot(path=str(self.screenshot_dir))
        self.notify(f"Saved {path}", timeout=4)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Textual's own (theme, keys, screenshot, quit) minus "Keys": our help screen lists every key
        for cmd in super().get_system_commands(screen):
            if cmd.title != "Keys":
                yield cmd
        yield SystemCommand("Help", "Every key and what it does", self.action_help)


def _calm_gc() -> None:
    """Once the first lists are on screen: move everything alive into the permanent generation and leave
    full collections to idle moments. A full collection over Textual's object graph takes 50-250 ms, which
    showed up as dropped frames while scrolling long lists (bench/tui.py); frozen objects are not scanned
    again."""
    import gc

    gc.collect()
    gc.freeze()
    # full collections only when the app is idle (see DockyardApp._idle_gc), not in the middle of a scroll
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, 1_000_000)


def run(engine: Engine) -> int:
    """``dockyard`` with no arguments."""
    from core.errors import DockyardError
    from tui import settings as settings_mod

    try:
        settings = settings_mod.load()
    except DockyardError as err:
        import sys

        sys.stderr.write(f"Error: {err}\n")
        return err.exit_code
    app = DockyardApp(engine, settings)  # load() set where choices made in the app are kept
    result = app.run()
    return int(result or 0)
