"""The master-detail panel: beside (or under) the containers list, the selected container's live logs,
stats, env, ports (with its networks' addresses) and inspect, as tabs that follow the list's cursor.

What it costs is bounded:

- the cursor moving quickly over the list starts nothing per row passed: :meth:`DetailPanel.follow` waits
  DEBOUNCE seconds of stillness before it reads anything;
- only the tab showing works, and only while the panel is live (shown, on the Containers pane, its screen
  on top): the logs tab follows the engine's ``container_logs`` stream from its last LOG_LINES lines and
  keeps no more than those; the stats tab samples every STATS_EVERY seconds; a hidden tab, a hidden
  panel, another pane or another screen on top closes the stream and stops the timers;
- env, ports and inspect come from one inspect read per selection.

The full-screen log viewer (the Logs pane) and the detail screen stay for deep work."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import DataTable, Log, Static, TabbedContent, TabPane

from tui.failure import one_line
from tui.keymap import bindings
from tui.widgets.json_tree import JsonTree
from tui.widgets.logfollow import REPAINT_EVERY
from tui.widgets.stats import StatsView

if TYPE_CHECKING:
    from core.interface import Engine, LogStream
    from core.models import ContainerStats

PANEL_TABS = ("logs", "stats", "env", "ports", "inspect")
TAB_TITLES = {"logs": "Logs", "stats": "Stats", "env": "Env", "ports": "Ports", "inspect": "Inspect"}
LOG_LINES = 500  # the logs tab keeps the last this many lines
DEBOUNCE = 0.25  # seconds the cursor must rest on a row before the panel reads its container
STATS_EVERY = 2.0  # seconds between stats samples while the stats tab shows


def network_rows(info: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(network, IPv4 address/prefix, gateway, MAC) of each network the container is on."""
    out = []
    networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
    for name, ep in sorted(networks.items()):
        ep = ep or {}
        ip = str(ep.get("IPAddress") or "")
        prefix = ep.get("IPPrefixLen")
        out.append(
            (
                str(name),
                f"{ip}/{prefix}" if ip and prefix else ip or "-",
                str(ep.get("Gateway") or ""),
                str(ep.get("MacAddress") or ""),
            )
        )
    return out


def summary_text(name: str, info: dict[str, Any]) -> str:
    """The panel's title: name, short id, state, addresses and the image's whole name (the list shortens a
    local registry's)."""
    state = (info.get("State") or {}).get("Status", "")
    ips = [r[1].split("/")[0] for r in network_rows(info) if r[1] != "-"]
    image = (info.get("Config") or {}).get("Image", "")
    parts = [name, str(info.get("Id", ""))[:12], str(state)]
    if ips:
        parts.append("IP " + ", ".join(ips))
    if image:
        parts.append(str(image))
    return "  ".join(p for p in parts if p)


class _LinesPending(Message, bubble=False):
    """The logs tab's reader has lines waiting to be drawn (posted from its thread)."""

    def __init__(self, gen: int) -> None:
        super().__init__()
        self.gen = gen


class DetailPanel(Vertical):
    """Call :meth:`follow` when the list's cursor moves and :meth:`set_live` when the panel can or cannot
    be seen; the engine is the app's (``app.engine``). Its keys (``[`` ``]`` tabs, ``v`` hide) work with
    the focus in it too (a click on its log), as they do from the list."""

    BINDINGS = [
        b
        for b in bindings("containerlist")
        if not isinstance(b, tuple) and b.action.startswith(("toggle_panel", "panel_tab"))
    ]

    class Hide(Message):
        """Hide the panel (its ``v``): the screen that hosts it does, and remembers the choice."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="detail-panel")
        self.container: str | None = None  # the container shown (after the debounce)
        self.item_name = ""
        self.info: dict[str, Any] | None = None
        self.live = False  # the panel can be seen: its tab may work
        self.generation = 0  # bumped at each new selection: late answers for an old one are dropped
        self.reads = 0  # for tests: how many selections were read (one per rest of the cursor)
        self._wanted: tuple[str | None, str] = (None, "")
        self._debounce: Timer | None = None
        self._stats_timer: Timer | None = None
        self._flush_timer: Timer | None = None  # a draw of new log lines, due
        self._last_flush = 0.0  # when new log lines were last drawn (time.monotonic)
        self._log_live = False  # the logs tab follows its container's log
        self._lock = threading.Lock()
        self._stream: LogStream | None = None
        self._log_gen = 0  # bumped whenever the log stream must stop
        self._pending: deque[str] = deque(maxlen=LOG_LINES)
        self.streams_opened = 0  # for tests: log streams opened
        self._state = ""  # the shown container's state as the list last said it

    def compose(self) -> ComposeResult:
        yield Static("No container selected.", id="panel-title")
        with TabbedContent(id="panel-tabs", initial="ptab-logs"):
            for tab in PANEL_TABS:
                with TabPane(TAB_TITLES[tab], id=f"ptab-{tab}"):
                    yield from self._body(tab)

    def _body(self, tab: str) -> ComposeResult:
        if tab == "logs":
            yield Log(id="panel-log", max_lines=LOG_LINES, auto_scroll=True)
        elif tab == "stats":
            yield StatsView(id="panel-stats")
        elif tab == "inspect":
            yield JsonTree(id="panel-json")
        elif tab == "ports":
            with Vertical(id="panel-ports-box"):
                yield DataTable(id="panel-ports-table", cursor_type="row")
                yield DataTable(id="panel-networks-table", cursor_type="row")
        else:
            yield DataTable(id="panel-env-table", cursor_type="row")

    @property
    def engine(self) -> Engine:
        return self.app.engine  # type: ignore[attr-defined]

    @property
    def active_tab(self) -> str:
        active = self.query_one("#panel-tabs", TabbedContent).active or "ptab-logs"
        return active.removeprefix("ptab-")

    # ------------------------------------------------------------ following

    def follow(self, container: str | None, name: str = "") -> None:
        """The list's cursor is on ``container`` (None: on no container, e.g. a compose project's row).
        Nothing is read until the cursor has rested DEBOUNCE seconds."""
        self._wanted = (container, name)
        if container == self.container and self._debounce is None and (container or name == self.item_name):
            return
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE, self._settle)

    def _settle(self) -> None:
        self._debounce = None
        container, name = self._wanted
        if container is None and self.container is None:
            self.item_name = name
            self.query_one("#panel-title", Static).update(name or "No container selected.")
            return
        if container == self.container:
            return
        self._stop_work()
        self.generation += 1
        self.container, self.item_name, self.info = container, name, None
        self._state = ""
        self._clear()
        if container is None:
            self.query_one("#panel-title", Static).update(name or "No container selected.")
            return
        self.reads += 1
        self.query_one("#panel-title", Static).update(f"{name}  …")
        self._load_inspect()
        if self.live:
            self._start_tab(self.active_tab)

    def note_state(self, container: str, state: str) -> None:
        """The list says the shown container is now ``state``: when that changed (stopped, started,
        restarted), read its inspect again and start the tab over (a follow stream ends with the container;
        a new one begins with its new lines)."""
        if container != self.container:
            return
        if self._state and state != self._state:
            self._stop_work()
            self._load_inspect()
            if self.live:
                self._start_tab(self.active_tab)
        self._state = state

    def set_live(self, live: bool) -> None:
        """Whether the panel can be seen: a hidden one closes its stream and stops its timers."""
        if live == self.live:
            return
        self.live = live
        if live and self.container is not None:
            self._start_tab(self.active_tab)
        elif not live:
            self._stop_work()

    def next_tab(self, step: int) -> None:
        i = PANEL_TABS.index(self.active_tab)
        self.query_one("#panel-tabs", TabbedContent).active = (
            "ptab-" + PANEL_TABS[(i + step) % len(PANEL_TABS)]
        )

    def action_panel_tab(self, step: int) -> None:
        self.next_tab(step)

    def action_toggle_panel(self) -> None:
        self.post_message(self.Hide())

    def show_tab(self, tab: str) -> None:
        self.query_one("#panel-tabs", TabbedContent).active = "ptab-" + tab

    @on(TabbedContent.TabActivated, "#panel-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        event.stop()  # the main screen's own tabs (the panes) must not hear the panel's
        focused = self.app.focused
        if focused is not None and self in focused.ancestors:
            # the focus was in the panel (on a tab now hidden): keep it there, so its keys still work
            body = {
                "logs": "#panel-log",
                "env": "#panel-env-table",
                "ports": "#panel-ports-table",
                "inspect": "#panel-json",
            }.get(self.active_tab)
            target: Widget = self.query_one(body) if body else self.query_one("#panel-tabs Tabs")
            target.focus()
        self._stop_work()
        if self.live and self.container is not None:
            self._start_tab(self.active_tab)

    # ------------------------------------------------------------- the work

    def _start_tab(self, tab: str) -> None:
        if tab == "logs":
            self._start_logs()
        elif tab == "stats":
            self._stats_timer = self.set_interval(STATS_EVERY, self._sample_stats)
            self._sample_stats()

    def _stop_work(self) -> None:
        with self._lock:
            self._log_gen += 1
            stream, self._stream = self._stream, None
            self._pending.clear()
        self._log_live = False
        if stream is not None:
            stream.close()
        for timer in (self._stats_timer, self._flush_timer):
            if timer is not None:
                timer.stop()
        self._stats_timer = self._flush_timer = None

    @property
    def working(self) -> bool:
        """Whether a tab of the panel is working: following a log or sampling stats (for tests: a hidden
        panel costs nothing)."""
        return self._log_live or self._stream is not None or self._stats_timer is not None

    def _clear(self) -> None:
        self.query_one("#panel-log", Log).clear()
        view = self.query_one("#panel-stats", StatsView)
        for series in (view.cpu, view.mem, view.pids):
            series.clear()
        view.last = None
        view.query_one("#cpu-label", Static).update("CPU %: waiting for the first sample…")
        for table_id in ("#panel-env-table", "#panel-ports-table", "#panel-networks-table"):
            self.query_one(table_id, DataTable).clear(columns=True)
        self.query_one("#panel-json", JsonTree).load({})

    def _start_logs(self) -> None:
        container = self.container
        if container is None:
            return
        engine = self.engine
        self.query_one("#panel-log", Log).clear()
        with self._lock:
            self._log_gen += 1
            gen = self._log_gen
        self._log_live = True
        self.streams_opened += 1

        def follow() -> None:
            try:
                stream = engine.container_logs(container, follow=True, tail=LOG_LINES)
            except Exception as err:
                self._add_line(gen, f"(no logs: {one_line(err)})")
                return
            with self._lock:
                if gen != self._log_gen:  # stopped while it opened
                    stream.close()
                    return
                self._stream = stream
            try:
                for line in stream:
                    if not self._add_line(gen, line.text.rstrip("\n")):
                        break
            except Exception as err:
                self._add_line(gen, f"(the log stream ended: {one_line(err)})")
            finally:
                stream.close()
                with self._lock:
                    if self._stream is stream:
                        self._stream = None

        self.run_worker(follow, thread=True, group="panel-logs", exit_on_error=False)

    def _add_line(self, gen: int, text: str) -> bool:
        """From the reader's thread: a line for the logs tab of stream ``gen`` (False: that stream was
        stopped). The first line since the last draw tells the UI; the others wait for that draw."""
        with self._lock:
            if gen != self._log_gen:
                return False
            tell = not self._pending  # the first since the last draw: the UI hears of it
            self._pending.append(text)
        if tell:
            self.post_message(_LinesPending(gen))
        return True

    def on__lines_pending(self, msg: _LinesPending) -> None:
        if msg.gen != self._log_gen or self._flush_timer is not None:
            return
        # a chatty container's lines are drawn once a REPAINT_EVERY, as the Logs pane draws them; nothing
        # runs while it is quiet
        wait = self._last_flush + REPAINT_EVERY - time.monotonic()
        if wait > 0:
            self._flush_timer = self.set_timer(wait, self._flush)
        else:
            self._flush()

    def _flush(self) -> None:
        self._flush_timer = None
        with self._lock:
            lines = list(self._pending)
            self._pending.clear()
        if lines:
            self._last_flush = time.monotonic()
            self.query_one("#panel-log", Log).write_lines(lines)

    def _sample_stats(self) -> None:
        container, gen = self.container, self.generation
        if container is None:
            return
        engine = self.engine

        def sample() -> None:
            try:
                s = engine.container_stats(container)
            except Exception as err:
                self.app.call_from_thread(self._stats_failed, gen, one_line(err))
                return
            self.app.call_from_thread(self._add_stats, gen, s)

        self.run_worker(sample, thread=True, exclusive=True, group="panel-stats", exit_on_error=False)

    def _add_stats(self, gen: int, s: ContainerStats) -> None:
        if gen == self.generation and self._stats_timer is not None:
            self.query_one("#panel-stats", StatsView).add(s)

    def _stats_failed(self, gen: int, message: str) -> None:
        if gen == self.generation:
            self.query_one("#panel-stats", StatsView).query_one("#cpu-label", Static).update(message)

    def _load_inspect(self) -> None:
        container, gen = self.container, self.generation
        if container is None:
            return
        engine = self.engine

        def read() -> None:
            try:
                info = engine.inspect_container(container)
            except Exception as err:
                self.app.call_from_thread(self._inspect_failed, gen, one_line(err))
                return
            self.app.call_from_thread(self._show_inspect, gen, info)

        self.run_worker(read, thread=True, exclusive=True, group="panel-inspect", exit_on_error=False)

    def _inspect_failed(self, gen: int, message: str) -> None:
        if gen == self.generation:
            self.query_one("#panel-title", Static).update(f"{self.item_name}: {message}")

    def _show_inspect(self, gen: int, info: dict[str, Any]) -> None:
        if gen != self.generation:
            return
        from tui.screens.inspect import env_rows, ports_rows  # the detail screen's own tables, same rules

        self.info = info
        self._state = self._state or str((info.get("State") or {}).get("Status") or "")
        self.query_one("#panel-title", Static).update(summary_text(self.item_name, info))
        self._fill("#panel-env-table", ("NAME", "VALUE"), env_rows(info))
        self._fill("#panel-ports-table", ("CONTAINER PORT", "HOST IP", "HOST PORT"), ports_rows(info))
        self._fill("#panel-networks-table", ("NETWORK", "IP ADDRESS", "GATEWAY", "MAC"), network_rows(info))
        self.query_one("#panel-json", JsonTree).load(info)

    def _fill(self, selector: str, columns: tuple[str, ...], rows: list[Any]) -> None:
        table = self.query_one(selector, DataTable)
        table.clear(columns=True)
        table.add_columns(*columns)
        for row in rows:
            table.add_row(*row)

    def on_unmount(self) -> None:
        self._stop_work()
