"""The fleet view: the containers of every engine (or of the engines marked in the Engines pane) in one
list with an ENGINE column. Every action on a row goes to that row's engine; the ``/`` filter works across
engines (plain text over every cell, ENGINE included; ``key=value`` filters asked of each engine). A lost
engine keeps its last rows, marked lost, under a banner that says when it is tried again.

Rows are the Containers pane's (tui.widgets.rows.container_row) with the engine in front; the keys are
``<engine>/<container id>``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Static

from core.models import RUNNING_STATES
from tui.failure import one_line
from tui.keymap import bindings
from tui.widgets.engines import Fleet, fleet_of
from tui.widgets.listpane import ListPane
from tui.widgets.rows import CONTAINER_COLUMNS, Row, container_row

if TYPE_CHECKING:
    from core.interface import Engine
    from core.models import ContainerSummary
    from tui.app import DockyardApp

# the Containers pane's columns less the sampled ones (CPU %, MEM: the fleet samples no stats)
_KEPT = tuple(i for i, c in enumerate(CONTAINER_COLUMNS) if c not in ("CPU %", "MEM"))
FLEET_COLUMNS = ("ENGINE", *(CONTAINER_COLUMNS[i] for i in _KEPT))
SEP = "/"


def fleet_key(engine: str, container_id: str) -> str:
    return f"{engine}{SEP}{container_id}"


def split_key(key: str) -> tuple[str, str]:
    engine, _, cid = key.rpartition(SEP)
    return engine, cid


def fleet_row(engine: str, c: ContainerSummary, *, lost: bool = False) -> Row:
    base = container_row(c)
    cells = [base.cells[i] for i in _KEPT]
    status = CONTAINER_COLUMNS.index("STATUS")
    if lost:
        cells[_KEPT.index(status)] = f"{cells[_KEPT.index(status)]} (engine lost)"
    return Row(fleet_key(engine, c.id), c.name, (engine, *cells), "dead" if lost else base.style)


class FleetPane(ListPane):
    COLUMNS = FLEET_COLUMNS
    STATUS_COLUMN = 1 + _KEPT.index(CONTAINER_COLUMNS.index("STATUS"))
    EMPTY = "No containers on the engines of the fleet (Engines pane: Space marks engines, none: all)."
    BINDINGS = [*bindings("containers"), *bindings("fleet")]

    DEFAULT_CSS = """
    FleetPane > #fleet-banner {
        display: none;
        height: auto;
        max-height: 4;
        padding: 0 1;
        background: $error;
        color: $text;
        text-style: bold;
    }
    FleetPane.-lost > #fleet-banner {
        display: block;
    }
    """

    class Action(Message):
        """Open something for a row on its engine: ``what`` is logs, shell, attach or detail (``tab``)."""

        def __init__(
            self, what: str, engine_name: str, engine: Engine, container: str, name: str, tab: str = ""
        ) -> None:
            super().__init__()
            self.what = what
            self.engine_name = engine_name
            self.engine = engine
            self.container = container
            self.name = name
            self.tab = tab

    class Confirm(Message):
        def __init__(self, title: str, body: list[str], then: Callable[[], None]) -> None:
            super().__init__()
            self.title = title
            self.body = body
            self.then = then

    def compose(self) -> ComposeResult:
        yield Static("", id="fleet-banner", markup=False)
        yield from super().compose()

    @property
    def dapp(self) -> DockyardApp:
        return self.app  # type: ignore[return-value]

    @property
    def fleet(self) -> Fleet:
        return fleet_of(self.dapp)

    def on_mount(self) -> None:
        self.fleet.views.append(self)
        self.fleet_changed(None)
        self.set_interval(1.0, self._tick)

    def on_unmount(self) -> None:
        fleet = getattr(self.dapp, "fleet", None)
        if fleet is not None and self in fleet.views:
            fleet.views.remove(self)

    def _tick(self) -> None:
        if self.has_class("-lost"):
            self._banner()

    def _banner(self) -> None:
        lines = [e.banner() for e in self.fleet.shown()]
        text = "\n".join(line for line in lines if line)
        self.query_one("#fleet-banner", Static).update(text)
        self.set_class(bool(text), "-lost")

    def fleet_changed(self, name: str | None) -> None:
        rows: list[Row] = []
        for entry in self.fleet.shown():
            lost = entry.probe is not None and not entry.probe.reachable
            rows += [fleet_row(entry.name, c, lost=lost) for c in entry.containers]
        self.set_rows(rows)
        self._banner()

    # ------------------------------------------------------------ filters

    def request_engine_filter(self, filters: dict[str, list[str]]) -> None:
        """A ``key=value`` filter is asked of every connected engine of the fleet, in a thread."""
        engines = [(e.name, e.engine) for e in self.fleet.shown() if e.engine is not None and e.connected]

        def ask() -> None:
            keys: set[str] = set()
            errors = []
            for name, engine in engines:
                try:
                    keys |= {fleet_key(name, c.id) for c in engine.list_containers(all=True, filters=filters)}
                except Exception as err:
                    errors.append(f"{name}: {one_line(err)}")
            self.app.call_from_thread(self._answer, filters, keys, "; ".join(errors))

        self.run_worker(ask, thread=True, exclusive=True, group="filter-fleet", exit_on_error=False)

    def _answer(self, asked: dict[str, list[str]], keys: set[str], error: str) -> None:
        if asked == self.engine_filter:
            self.apply_engine_filter(keys, error)

    # ------------------------------------------------------------ actions

    def _engine_of(self, row: Row) -> tuple[str, Engine | None, str]:
        name, cid = split_key(row.key)
        return name, self.fleet.engine(name), cid

    def _bulk(self, verb: str, fn: Callable[[Engine, str], Any], rows: list[Row] | None = None) -> None:
        rows = rows if rows is not None else self.targets()
        if not rows:
            self.notify("No container selected", severity="warning", timeout=3)
            return
        work = []
        for row in rows:
            name, engine, cid = self._engine_of(row)
            if engine is not None:
                work.append((name, engine, cid, row.name))
        touched = sorted({w[0] for w in work})

        def call() -> None:
            failures = []
            for name, engine, cid, cname in work:
                try:
                    fn(engine, cid)
                except Exception as err:
                    failures.append(f"{cname} on {name}: {one_line(err)}")
            if failures:
                raise RuntimeError("; ".join(failures))

        if len(work) == 1:
            label = f"{verb} {work[0][3]} on {work[0][0]}"
        else:
            label = f"{verb} {len(work)} containers on {', '.join(touched)}"
        self.marked.clear()
        for row in rows:
            if row.key in self.shown:
                self.table.update_cell(row.key, "_mark", " ")
        fleet = self.fleet
        # each engine's events refresh its rows; a failure or an engine without events is read again too
        self.dapp.engine_call(label, call, refresh=(), done=lambda _: fleet.load_all(touched))

    def action_start(self) -> None:
        self._bulk("Started", lambda e, c: e.start_container(c))

    def action_stop(self) -> None:
        self._bulk("Stopped", lambda e, c: e.stop_container(c))

    def action_restart(self) -> None:
        self._bulk("Restarted", lambda e, c: e.restart_container(c))

    def action_kill(self) -> None:
        self._bulk("Killed", lambda e, c: e.kill_container(c))

    def action_pause(self) -> None:
        rows = self.targets()
        paused = bool(rows) and all(r.style == "paused" for r in rows)
        if paused:
            self._bulk("Unpaused", lambda e, c: e.unpause_container(c), rows)
        else:
            self._bulk("Paused", lambda e, c: e.pause_container(c), rows)

    def action_remove(self) -> None:
        rows = self.targets()
        if not rows:
            return
        body = [f"  {r.name}  on {r.cells[0]}  ({r.cells[self.STATUS_COLUMN]})" for r in rows[:12]]
        if len(rows) > 12:
            body.append(f"  … and {len(rows) - 12} more")
        if any(r.style in RUNNING_STATES for r in rows):
            body += ["", "Running containers will be killed first."]
        title = (
            f"Remove {rows[0].name} on {rows[0].cells[0]}?"
            if len(rows) == 1
            else f"Remove {len(rows)} containers?"
        )
        self.post_message(
            self.Confirm(
                title,
                body,
                lambda: self._bulk("Removed", lambda e, c: e.remove_container(c, force=True), rows),
            )
        )

    def action_prune(self) -> None:
        self.notify("Prune acts on one engine: switch to it (Engines pane) and prune there", timeout=4)

    def _open(self, what: str, tab: str = "", running: bool = False) -> None:
        row = self.cursor_row_data()
        if row is None:
            return
        name, engine, cid = self._engine_of(row)
        if engine is None:
            self.notify(f"{name}: no connection", severity="error", timeout=4)
            return
        if running and row.style not in RUNNING_STATES:
            self.notify(f"{row.name} is not running", severity="warning", timeout=3)
            return
        self.post_message(self.Action(what, name, engine, cid, row.name, tab))

    def action_logs(self) -> None:
        self._open("logs")

    def action_shell(self) -> None:
        self._open("shell", running=True)

    def action_attach(self) -> None:
        self._open("attach", running=True)

    def action_inspect(self) -> None:
        self._open("detail", "inspect")

    def action_stats(self) -> None:
        self._open("detail", "stats")

    def action_top(self) -> None:
        self._open("detail", "top")

    def action_retry(self) -> None:
        self.fleet.retry()

    def _summary(self, row: Row | None) -> tuple[ContainerSummary | None, Engine | None]:
        """The container of ``row`` as its engine last listed it, and that engine."""
        if row is None:
            return None, None
        name, engine, cid = self._engine_of(row)
        entry = self.fleet.entries.get(name)
        containers = entry.containers if entry is not None else []
        return next((c for c in containers if c.id == cid), None), engine

    def action_open_port(self) -> None:
        """``w``: the container's published ports as links, on its own engine's host."""
        from tui.widgets.panes import ask_port_links

        c, engine = self._summary(self.cursor_row_data())
        ask_port_links(self, c if engine is not None else None, engine)  # an engine gone: nothing to open

    def action_custom_command(self) -> None:
        """lazydocker's ``c``: the containers' custom commands of tui.toml, on the row's container."""
        from tui.custom_commands import container_fields
        from tui.widgets.panes import ask_custom_command

        row = self.cursor_row_data()
        c, _engine = self._summary(row)
        fields = container_fields(c) if c is not None else None
        ask_custom_command(self, "container", fields, row.name if row is not None else "")

    def copy_id_text(self, row: Row) -> str:
        return split_key(row.key)[1]
