"""Detail view of one item. Containers get seven tabs: inspect (foldable JSON), stats (sparklines), top,
ports, env, mounts, health (the check and its last probes' output); images, volumes and networks get the
inspect tab.

Stats and top are sampled only while their tab is showing (stats once a second, top every 3 s), each
sample in a thread worker: ``container_stats`` sleeps ~0.2 s to measure CPU."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from tui.failure import one_line
from tui.keymap import bindings
from tui.widgets.json_tree import JsonTree
from tui.widgets.stats import StatsView

if TYPE_CHECKING:
    from core.interface import Engine
    from core.models import ContainerStats
    from tui.app import DockyardApp

CONTAINER_TABS = ("inspect", "stats", "top", "ports", "env", "mounts", "health")
STATS_EVERY = 1.0
TOP_EVERY = 3.0
HEALTH_EVERY = 2.0


def ports_rows(info: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(container port/proto, host ip, host port) from docker-shaped inspect output."""
    out = []
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    if not ports:
        ports = {k: v for k, v in ((info.get("HostConfig") or {}).get("PortBindings") or {}).items()}
    for port, binds in sorted(ports.items()):
        if not binds:
            out.append((port, "", "(not published)"))
        for b in binds or []:
            out.append((port, b.get("HostIp", "") or "0.0.0.0", str(b.get("HostPort", ""))))
    return out


def env_rows(info: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for item in (info.get("Config") or {}).get("Env") or []:
        k, _, v = str(item).partition("=")
        out.append((k, v))
    return out


def mount_rows(info: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out = []
    for m in info.get("Mounts") or []:
        source = m.get("Name") or m.get("Source") or ""
        out.append(
            (
                str(m.get("Type", "")),
                str(source),
                str(m.get("Destination", "")),
                "rw" if m.get("RW") else "ro",
            )
        )
    return out


def state_text(info: dict[str, Any]) -> str:
    """The detail title's state: "running", with its health check's "(healthy)", "(health: starting)" or
    "(unhealthy, 3 failing)" and the last probe's output when it failed."""
    state = info.get("State") or {}
    status = str(state.get("Status", ""))
    health = state.get("Health")
    if not health:
        return status
    what = str(health.get("Status", ""))
    text = "health: starting" if what == "starting" else what
    streak = int(health.get("FailingStreak") or 0)
    if streak:
        text += f", {streak} failing"
    log = health.get("Log") or []
    last = log[-1] if log else None
    if last and last.get("ExitCode") != 0:
        output = " ".join(str(last.get("Output") or "").split())
        text += f"; last check exit {last.get('ExitCode')}" + (f": {output[:60]}" if output else "")
    return f"{status} ({text})"


def _seconds(ns: Any, default: str) -> str:
    n = int(ns or 0)
    if not n:
        return default
    return f"{n / 1e9:g}s"


def health_text(info: dict[str, Any]) -> Text:
    """The health tab: the check as configured, its state, and its last probes (docker keeps five) with
    what each printed, newest last."""
    from tui.output import parse_time

    text = Text()
    check = (info.get("Config") or {}).get("Healthcheck") or {}
    test = [str(t) for t in check.get("Test") or []]
    health = (info.get("State") or {}).get("Health")
    if not test or test == ["NONE"] or not health:
        text.append("No health check." if not test or test == ["NONE"] else "Not checked yet.")
        if test and test != ["NONE"] and not health:
            text.append("\nTest: " + " ".join(test))
        return text
    status = str(health.get("Status", ""))
    style = {"healthy": "green", "unhealthy": "bold red", "starting": "yellow"}.get(status, "")
    text.append("Status: ", style="bold")
    text.append(status, style=style)
    text.append(f"   failing streak {int(health.get('FailingStreak') or 0)}\n")
    kind, words = (test[0], test[1:]) if test[0] in ("CMD", "CMD-SHELL") else ("CMD", test)
    text.append("Test: ", style="bold")
    text.append(f"{kind} {' '.join(words)}\n")
    text.append(
        f"Every {_seconds(check.get('Interval'), '30s')}, timeout {_seconds(check.get('Timeout'), '30s')}, "
        f"start period {_seconds(check.get('StartPeriod'), '0s')}, {int(check.get('Retries') or 3)} retries\n"
    )
    log = health.get("Log") or []
    text.append(
        f"\nLast {len(log)} probes, newest last:\n" if log else "\nNo probe has run yet.\n", style="bold"
    )
    for probe in log:
        start, end = parse_time(str(probe.get("Start", ""))), parse_time(str(probe.get("End", "")))
        when = start.astimezone().strftime("%Y-%m-%d %H:%M:%S") if start else str(probe.get("Start", ""))
        took = f"  {(end - start).total_seconds():.3f} s" if start and end else ""
        code = int(probe.get("ExitCode", -1))
        text.append(f"{when}  ")
        text.append(f"exit {code}", style="green" if code == 0 else "bold red")
        text.append(f"{took}\n")
        for line in str(probe.get("Output") or "").rstrip("\n").splitlines() or ["(no output)"]:
            text.append(f"    {line}\n", style="" if line != "(no output)" else "dim")
    return text


class DetailScreen(Screen[None]):
    BINDINGS = [
        *bindings("detail"),
        Binding("1", "tab(0)", "Inspect", show=False, id="detail.tab1"),
        Binding("2", "tab(1)", "Stats", show=False, id="detail.tab2"),
        Binding("3", "tab(2)", "Top", show=False, id="detail.tab3"),
        Binding("4", "tab(3)", "Ports", show=False, id="detail.tab4"),
        Binding("5", "tab(4)", "Env", show=False, id="detail.tab5"),
        Binding("6", "tab(5)", "Mounts", show=False, id="detail.tab6"),
        Binding("7", "tab(6)", "Health", show=False, id="detail.tab7"),
    ]

    def __init__(
        self, kind: str, key: str, name: str, *, tab: str = "inspect", engine: Engine | None = None
    ) -> None:
        super().__init__(classes="detail-screen")
        self._engine = engine  # another engine than the workbench's (a fleet row's), else None
        self.kind = kind
        self.key = key
        self.item_name = name
        self.tabs = CONTAINER_TABS if kind == "container" else ("inspect",)
        self.initial = tab if tab in self.tabs else "inspect"
        self.info: dict[str, Any] | None = None

    @property
    def dapp(self) -> DockyardApp:
        return self.app  # type: ignore[return-value]

    @property
    def engine(self) -> Engine:
        return self._engine or self.dapp.engine

    def compose(self) -> ComposeResult:
        yield Static(f"{self.kind.capitalize()} {self.item_name}", id="detail-title")
        with TabbedContent(id="detail-tabs", initial=self.initial):
            for i, tab in enumerate(self.tabs, 1):
                with TabPane(f"{i} {tab.capitalize()}", id=tab):
                    yield self._body(tab)
        yield Footer()

    def _body(self, tab: str) -> Any:
        if tab == "inspect":
            return JsonTree(id="json")
        if tab == "stats":
            return StatsView(id="stats-view")
        if tab == "health":
            return VerticalScroll(Static("", id="health-view"), id="health-scroll", can_focus=True)
        table: DataTable[str] = DataTable(id=f"{tab}-table", cursor_type="row")
        return table

    def on_mount(self) -> None:
        self._load_inspect()
        self._focus_tab(self.initial)
        if self.kind == "container":
            self.set_interval(STATS_EVERY, self._stats_tick)
            self.set_interval(TOP_EVERY, self._top_tick)
            self.set_interval(HEALTH_EVERY, self._health_tick)
            if self.initial == "stats":
                self._stats_tick()
            if self.initial == "top":
                self._top_tick()

    # -------------------------------------------------------------- loading

    @work(thread=True, exclusive=True, group="inspect", exit_on_error=False)
    def _load_inspect(self) -> None:
        engine = self.engine
        fn = {
            "container": engine.inspect_container,
            "image": engine.inspect_image,
            "volume": engine.inspect_volume,
            "network": engine.inspect_network,
        }[self.kind]
        try:
            info = fn(self.key)
        except Exception as err:
            self.app.call_from_thread(self._failed, one_line(err))
            return
        self.app.call_from_thread(self._show_inspect, info)

    def _failed(self, message: str) -> None:
        self.query_one("#detail-title", Static).update(
            f"{self.kind.capitalize()} {self.item_name}: {message}"
        )

    def _show_inspect(self, info: dict[str, Any]) -> None:
        if self.kind == "network":
            from tui.screens.network_forms import network_view

            info = network_view(info)  # its containers by name, not by 64-hex id
        self.info = info
        self.query_one(JsonTree).load(info)
        if self.kind != "container":
            return
        self._fill("ports", ("CONTAINER PORT", "HOST IP", "HOST PORT"), ports_rows(info))
        self._fill("env", ("NAME", "VALUE"), env_rows(info))
        self._fill("mounts", ("TYPE", "SOURCE", "DESTINATION", "MODE"), mount_rows(info))
        self._show_health(info)
        self.query_one("#detail-title", Static).update(
            f"Container {self.item_name}  {info.get('Id', '')[:12]}  {state_text(info)}"
        )

    def _fill(self, tab: str, columns: tuple[str, ...], rows: list[tuple[str, ...]] | list[Any]) -> None:
        table = self.query_one(f"#{tab}-table", DataTable)
        table.clear(columns=True)
        table.add_columns(*columns)
        for row in rows:
            table.add_row(*row)

    def _stats_tick(self) -> None:
        if self.app.screen is self and self._active() == "stats":
            self._sample_stats()

    @work(thread=True, exclusive=True, group="stats", exit_on_error=False)
    def _sample_stats(self) -> None:
        from core.models import LIVE_STATES

        try:
            # a stopped container has no live numbers: say so, as the Top tab does (not a row of zeros)
            status = self.engine.container(self.key).status
            s = self.engine.container_stats(self.key) if status in LIVE_STATES else None
        except Exception as err:
            self.app.call_from_thread(self._failed, one_line(err))
            return
        if s is None:
            self.app.call_from_thread(self.query_one(StatsView).not_running, self.item_name, status)
            return
        self.app.call_from_thread(self._add_stats, s)

    def _add_stats(self, s: ContainerStats) -> None:
        self.query_one(StatsView).add(s)

    def _show_health(self, info: dict[str, Any]) -> None:
        self.query_one("#health-view", Static).update(health_text(info))

    def _health_tick(self) -> None:
        if self.app.screen is self and self._active() == "health":
            self._load_health()

    @work(thread=True, exclusive=True, group="health", exit_on_error=False)
    def _load_health(self) -> None:
        """The probes go on while the tab shows: read them again (not the inspect tree, which keeps its
        folds)."""
        try:
            info = self.engine.inspect_container(self.key)
        except Exception as err:
            self.app.call_from_thread(self._failed, one_line(err))
            return
        self.app.call_from_thread(self._show_health, info)

    def _top_tick(self) -> None:
        if self.app.screen is self and self._active() == "top":
            self._sample_top()

    @work(thread=True, exclusive=True, group="top", exit_on_error=False)
    def _sample_top(self) -> None:
        try:
            titles, rows = self.engine.container_top(self.key)
        except Exception as err:
            titles, rows = ["TOP"], [[one_line(err)]]
            try:
                status = self.engine.container(self.key).status
            except Exception:
                status = ""
            if status and status not in ("running", "paused", "restarting"):
                rows = [[f"{self.item_name} is not running ({status})"]]
        self.app.call_from_thread(self._fill, "top", tuple(titles), [tuple(r) for r in rows])

    # ------------------------------------------------------------ navigation

    def _active(self) -> str:
        return self.query_one(TabbedContent).active or "inspect"

    def _focus_tab(self, tab: str) -> None:
        if tab == "inspect":
            self.query_one(JsonTree).focus()
        elif tab == "health":
            self.query_one("#health-scroll", VerticalScroll).focus()
        elif tab != "stats":
            self.query_one(f"#{tab}-table", DataTable).focus()

    @on(TabbedContent.TabActivated)
    def _activated(self, event: TabbedContent.TabActivated) -> None:
        tab = event.pane.id or "inspect"
        self._focus_tab(tab)
        if tab == "stats":
            self._sample_stats()
        elif tab == "top":
            self._sample_top()
        elif tab == "health":
            self._load_health()

    def action_tab(self, index: int) -> None:
        if index < len(self.tabs):
            self.query_one(TabbedContent).active = self.tabs[index]

    def action_next_tab(self) -> None:
        i = self.tabs.index(self._active())
        self.query_one(TabbedContent).active = self.tabs[(i + 1) % len(self.tabs)]

    def action_prev_tab(self) -> None:
        i = self.tabs.index(self._active())
        self.query_one(TabbedContent).active = self.tabs[(i - 1) % len(self.tabs)]

    def action_close(self) -> None:
        self.dismiss(None)
