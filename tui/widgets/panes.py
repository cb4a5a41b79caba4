"""The four list panes: what each shows and what its keys do. Every engine call goes through
``app.engine_call`` (a thread worker), so a slow stop or a locked store never freezes the screen.

What opens another screen (a question, the detail view, a shell, the logs) is a message the pane posts;
the main screen that hosts the panes answers it, so widgets never import screens."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import DataTable

from core.models import RUNNING_STATES, STOPPED_STATES
from tui.failure import one_line
from tui.keymap import bindings
from tui.output import human_size
from tui.widgets.listpane import MARK, ListPane
from tui.widgets.rows import (
    COMPOSE_PROJECT,
    CONTAINER_COLUMNS,
    CONTAINER_PRIORITY,
    IMAGE_COLUMNS,
    NETWORK_COLUMNS,
    PROJECT_KEY,
    VOLUME_COLUMNS,
    Project,
    Row,
    compose_projects,
    container_row,
    image_ref,
    image_row,
    member_row,
    network_row,
    project_row,
    replica_name,
    service_of,
    volume_row,
)

if TYPE_CHECKING:
    from core.interface import Engine
    from core.models import ContainerSummary
    from tui.app import DockyardApp, Snapshot

# what a container's row offers and a project's row does not (it has its own: tui.keymap "projects")
CONTAINER_ONLY = frozenset(
    {"logs", "shell", "attach", "start", "stop", "restart", "kill", "pause", "stats", "top", "remove"}
)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# what a failed action's toast says it could not do (its label says what was done when it worked)
_INFINITIVE = {
    "Started": "start",
    "Stopped": "stop",
    "Restarted": "restart",
    "Killed": "kill",
    "Paused": "pause",
    "Unpaused": "unpause",
    "Removed": "remove",
    "Force-removed": "force-remove",
    "Disconnected": "disconnect",
    "Connected": "connect",
}


def ask_custom_command(pane: ListPane, kind: str, fields: dict[str, Any] | None, item: str) -> None:
    """lazydocker's ``c`` on a list row of ``kind`` (container, image, ...): the commands tui.toml gives
    for it (a menu when there are several), rendered with the row's ``fields``, run in a dialog. Any pane
    of the workbench: the Containers pane and the fleet view alike."""
    from tui.custom_commands import CommandError, render

    kinds = kind + "s"
    app = cast("DockyardApp", pane.app)
    commands = app.settings.custom_commands.get(kinds, [])
    if not commands:
        pane.notify(
            f"No custom commands for {kinds}: add [[custom_commands.{kinds}]] to tui.toml "
            "(name, command; see the README)",
            severity="warning",
            timeout=6,
        )
        return
    if fields is None:
        pane.notify(f"No {kind} selected", severity="warning", timeout=3)
        return

    def chosen(index: Any) -> None:
        if index is None:
            return
        cmd = commands[int(index)]
        try:
            line = render(cmd, fields)
        except CommandError as err:
            pane.notify(f"Custom command {err}", severity="error", timeout=8)
            return
        args = {"name": cmd.name, "command": line, "attach": cmd.attach, "item": item}
        pane.post_message(EnginePane.Ask("custom-run", args))

    if len(commands) == 1:
        chosen(0)
        return
    choices = [(str(i), c.name) for i, c in enumerate(commands)]
    pane.post_message(
        EnginePane.Ask("menu", {"title": f"Run a custom command on {item}", "choices": choices}, chosen)
    )


def ask_port_links(pane: ListPane, container: ContainerSummary | None, engine: Engine | None) -> None:
    """``w``: the URLs of ``container``'s published ports on ``engine``'s host, shown as links (OSC 8) in a
    dialog, the first one copied."""
    from tui.widgets.links import port_urls

    if container is None:
        pane.notify("No container selected", severity="warning", timeout=3)
        return
    urls = port_urls(container.ports, getattr(engine, "host_address", None))
    if not urls:
        pane.notify(f"{container.name} publishes no port", severity="warning", timeout=4)
        return
    pane.app.copy_to_clipboard(urls[0][1])
    title = f"{container.name}: published ports (the first URL is copied)"
    pane.post_message(EnginePane.Ask("links", {"title": title, "urls": urls}))


class EnginePane(ListPane):
    KIND = ""  # container | image | volume | network

    class ConfirmAction(Message):
        """Ask ``title`` (with ``body`` lines) before a destructive action; ``then`` runs on yes."""

        def __init__(self, title: str, body: list[str], then: Callable[[], None]) -> None:
            super().__init__()
            self.title = title
            self.body = body
            self.then = then

    class OpenDetail(Message):
        """Show the detail view of one item, on its ``tab``."""

        def __init__(self, kind: str, key: str, name: str, tab: str = "inspect") -> None:
            super().__init__()
            self.kind = kind
            self.key = key
            self.name = name
            self.tab = tab

    class Ask(Message):
        """Open the dialog ``what`` (tui.app.DIALOGS: a menu, a form, a pick list, a command's output)
        with ``args``; ``then`` gets its answer (None when it was cancelled)."""

        def __init__(
            self, what: str, args: dict[str, Any], then: Callable[[Any], None] | None = None
        ) -> None:
            super().__init__()
            self.what = what
            self.args = args
            self.then = then

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # a transitional state shown in a row's status cell while its action runs ("Stopping…"): key ->
        # (text, the snapshot's list when the action ended, or None while it runs); the row shows the text
        # until a list read after the end replaces it
        self.pending: dict[str, tuple[str, object]] = {}

    @property
    def dapp(self) -> DockyardApp:
        return self.app  # type: ignore[return-value]

    def refresh_from(self, snap: Snapshot) -> None:
        """Show ``snap``'s rows of this pane's kind (each subclass: containers, images, volumes, networks)."""
        raise NotImplementedError(f"{type(self).__name__} must say which rows it shows")

    def set_rows(self, rows: Sequence[Row]) -> None:
        if self.pending:
            rows = [self._with_pending(r) for r in rows]
        if self.KIND == "container" and self.dapp.settings.stats_interval <= 0:
            rows = [self._stats_off(r) for r in rows]
        super().set_rows(rows)

    def _stats_off(self, row: Row) -> Row:
        """``stats_interval = 0``: the CPU and memory cells say the sampling is off, not "…" forever."""
        columns = [i for i, title in enumerate(self.COLUMNS) if title in ("CPU %", "MEM")]
        if not any(i < len(row.cells) and row.cells[i] == "…" for i in columns):
            return row
        cells = [("off" if i in columns and c == "…" else c) for i, c in enumerate(row.cells)]
        return Row(row.key, row.name, tuple(cells), row.style, row.health)

    def _with_pending(self, row: Row) -> Row:
        entry = self.pending.get(row.key)
        if entry is None or self.STATUS_COLUMN < 0:
            return row
        text, ended_with = entry
        if ended_with is not None and ended_with is not self._listed():
            del self.pending[row.key]  # a list read since the action ended: the row says what is now
            return row
        cells = list(row.cells)
        cells[self.STATUS_COLUMN] = text
        return Row(row.key, row.name, tuple(cells), row.style, "")

    def _listed(self) -> object:
        """The snapshot's list this pane shows (its identity tells a new read from a re-render)."""
        return self.dapp.snapshot.containers

    def _pending_start(self, keys: list[str], text: str) -> None:
        for key in keys:
            self.pending[key] = (text, None)
            row = self.by_key.get(key)
            if row is not None:
                self.update_row(self._with_pending(row))

    def _pending_end(self, keys: list[str]) -> None:
        listed = self._listed()
        for key in keys:
            if key in self.pending:
                self.pending[key] = (self.pending[key][0], listed)
        self.dapp.schedule_refresh("containers")

    def _bulk(
        self, verb: str, fn: Callable[[str], Any], rows: list[Row] | None = None, *, pending: str = ""
    ) -> None:
        rows = rows if rows is not None else self.targets()
        if not rows:
            self.notify(f"No {self.KIND} selected", severity="warning", timeout=3)
            return
        names = [r.name for r in rows]
        keys = [r.key for r in rows]

        def call() -> None:
            failures = []
            for key, name in zip(keys, names, strict=True):
                try:
                    fn(key)
                except Exception as err:
                    failures.append(f"{name}: {one_line(err)}" if len(names) > 1 else one_line(err))
            if failures:
                raise RuntimeError("; ".join(failures))

        label = f"{verb} {names[0]}" if len(names) == 1 else f"{verb} {_plural(len(names), self.KIND)}"
        doing = _INFINITIVE.get(verb, verb.lower())
        failed = (
            f"Could not {doing} {names[0]}" if len(names) == 1 else f"Could not {doing} every {self.KIND}"
        )
        self.marked.clear()
        if pending:
            self._pending_start(keys, pending)
        self.dapp.engine_call(
            label,
            call,
            refresh=("containers", "images", "volumes", "networks"),
            failed=failed,
            finally_=(lambda: self._pending_end(keys)) if pending else None,
        )
        for key in keys:
            if key in self.shown:
                self.table.update_cell(key, "_mark", " ")

    def _ask(self, what: str, args: dict[str, Any], then: Callable[[Any], None] | None = None) -> None:
        self.post_message(self.Ask(what, args, then))

    # ------------------------------------------------------------ custom commands (c)

    def custom_fields(self, row: Row) -> dict[str, Any] | None:
        """The placeholders of ``row``'s object for a custom command (each subclass: its kind's fields)."""
        return None

    def action_custom_command(self) -> None:
        row = self.cursor_row_data()
        fields = self.custom_fields(row) if row is not None else None
        ask_custom_command(self, self.KIND, fields, row.name if row is not None else "")

    def _confirm(self, title: str, body: list[str], then: Callable[[], None]) -> None:
        self.post_message(self.ConfirmAction(title, body, then))

    def request_engine_filter(self, filters: dict[str, list[str]]) -> None:
        """The engine's answer to a ``key=value`` filter, from a thread (the engine reads its records)."""
        from core.errors import DockyardError

        def ask() -> None:
            try:
                keys, error = self.engine_filter_keys(filters), ""
            except DockyardError as err:
                keys, error = set(), str(err)
            self.app.call_from_thread(self._answer_filter, filters, keys, error)

        self.run_worker(ask, thread=True, exclusive=True, group=f"filter-{self.KIND}", exit_on_error=False)

    def _answer_filter(self, asked: dict[str, list[str]], keys: set[str], error: str) -> None:
        if asked == self.engine_filter:  # not a filter the user has typed over since
            self.apply_engine_filter(keys, error)

    def engine_filter_keys(self, filters: dict[str, list[str]]) -> set[str]:
        """The keys of the rows the engine's list with ``filters`` has (each subclass: its kind's list)."""
        raise NotImplementedError(f"{type(self).__name__} must say how its list is filtered")

    def action_inspect(self) -> None:
        row = self.cursor_row_data()
        if row is None:
            return
        self.post_message(self.OpenDetail(self.KIND, self.inspect_key(row), row.name))

    def inspect_key(self, row: Row) -> str:
        return row.key


class ContainersPane(EnginePane):
    KIND = "container"
    COLUMNS = CONTAINER_COLUMNS
    PRIORITY = CONTAINER_PRIORITY
    STATUS_COLUMN = 2
    EMPTY = "No containers. Press n to run one, P to pull an image."
    # "list" again: a key bound here hides the base class's binding of that key (Textual merges by key),
    # and a project's "d" (down) must not hide a container's (remove)
    BINDINGS = bindings("list", "containers", "projects", "containerlist")

    class ShowLogs(Message):
        """Follow this container's log in the Logs pane."""

        def __init__(self, container: str, name: str) -> None:
            super().__init__()
            self.container = container
            self.name = name

    class OpenShell(Message):
        """A shell in this running container, in the embedded terminal."""

        def __init__(self, container: str, name: str) -> None:
            super().__init__()
            self.container = container
            self.name = name

    class OpenAttach(Message):
        """The container's own terminal (its main process's stdio), in the embedded terminal."""

        def __init__(self, container: str, name: str) -> None:
            super().__init__()
            self.container = container
            self.name = name

    class TogglePanel(Message):
        """Show or hide the detail panel beside the list."""

    class PanelTab(Message):
        """The detail panel's next (``step`` 1) or previous (-1) tab."""

        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    class ShowProjectLogs(Message):
        """The merged logs of a compose project's containers."""

        def __init__(self, project: str, containers: list[tuple[str, str, str]]) -> None:
            super().__init__()
            self.project = project
            self.containers = containers  # (id, "web-1", service)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.projects: dict[str, Project] = {}
        self.group_of: dict[str, str] = {}  # container id -> its project's row key
        self.collapsed: set[str] = set()  # project row keys folded to one line
        self.busy: dict[str, str] = {}  # project name -> the latest line of an action running on it
        self._on_project = False
        self.sort_column: int | None = None  # index into COLUMNS; None: the engine's order
        self.sort_reverse = False
        self.hide_stopped = False
        self._snap: Snapshot | None = None

    def refresh_from(self, snap: Snapshot) -> None:
        """Compose projects first (by name), each a row with its containers under it; then the containers
        of no project, as ``docker ps`` lists them. A sort orders the projects among themselves, each
        project's containers under it, and the rest; hide-stopped leaves out what does not run (and a
        project none of whose containers does)."""
        self._snap = snap
        containers = snap.containers
        if self.hide_stopped:
            containers = [c for c in containers if c.status in RUNNING_STATES]
        projects, rest = compose_projects(containers)
        self.projects = {p.key: p for p in projects}
        self.group_of = {c.id: p.key for p in projects for c in p.containers}
        self.collapsed &= set(self.projects)
        groups: list[tuple[Row, list[Row]]] = []
        for p in projects:
            head = project_row(
                p, snap.stats, collapsed=p.key in self.collapsed, busy=self.busy.get(p.name, "")
            )
            members = [container_row(c, snap.stats.get(c.id)) for c in p.containers]
            groups.append((head, self._sorted(members)))
        if self.sort_column is not None:
            members_of = {h.key: m for h, m in groups}
            groups = [(h, members_of[h.key]) for h in self._sorted([h for h, _ in groups])]
        by_id = {c.id: c for p in projects for c in p.containers}
        rows: list[Row] = []
        for head, members in groups:
            rows.append(head)
            last = len(members) - 1
            rows += [
                member_row(by_id[r.key], snap.stats.get(r.key), last=i == last) for i, r in enumerate(members)
            ]
        rows += self._sorted([container_row(c, snap.stats.get(c.id)) for c in rest])
        self.set_rows(rows)

    # ------------------------------------------------------------ sorting, hiding

    def _sorted(self, rows: list[Row]) -> list[Row]:
        col = self.sort_column
        if col is None:
            return rows
        return sorted(rows, key=lambda r: r.sort_value(col), reverse=self.sort_reverse)

    def column_title(self, index: int) -> str | Text:
        title = self.COLUMNS[index]
        if index == self.sort_column:
            return Text(f"{title} {'▼' if self.sort_reverse else '▲'}", style="bold")
        return title

    def sort_by(self, column: int | None, reverse: bool = False) -> None:
        self.sort_column, self.sort_reverse = column, reverse
        if self._snap is not None:
            self.refresh_from(self._snap)
        self.rebuild_columns()  # the arrow moves
        if column is None:
            self.notify("Sorted as the engine lists them", timeout=2)
        else:
            way = "descending" if reverse else "ascending"
            self.notify(f"Sorted by {self.COLUMNS[column]}, {way}", timeout=2)

    def action_sort(self) -> None:
        """The next column shown (ascending); after the last, the engine's order again."""
        shown = list(self.columns_shown)
        if self.sort_column is None or self.sort_column not in shown:
            nxt: int | None = shown[0]
        else:
            i = shown.index(self.sort_column)
            nxt = shown[i + 1] if i + 1 < len(shown) else None
        self.sort_by(nxt)

    def action_sort_reverse(self) -> None:
        self.sort_by(self.sort_column if self.sort_column is not None else 0, not self.sort_reverse)

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        """A click on a column's header sorts by it; a second click reverses."""
        event.stop()
        title = str(event.column_key.value or "")
        if title not in self.COLUMNS:
            return
        column = self.COLUMNS.index(title)
        self.sort_by(column, not self.sort_reverse if column == self.sort_column else False)

    def action_hide_stopped(self) -> None:
        self.hide_stopped = not self.hide_stopped
        if self._snap is not None:
            self.refresh_from(self._snap)
        self.notify(
            "Stopped containers hidden" if self.hide_stopped else "Showing every container", timeout=2
        )

    def action_toggle_panel(self) -> None:
        self.post_message(self.TogglePanel())

    def action_panel_tab(self, step: int) -> None:
        self.post_message(self.PanelTab(step))

    def visible_rows(self) -> list[Row]:
        """A project's row stays while any of its containers passes the filter (or its name does); a folded
        project hides its containers."""
        kept = {r.key for r in super().visible_rows()}
        if self.engine_filter is not None and self.engine_keys is not None:
            kept |= {self.group_of[k] for k in self.engine_keys if k in self.group_of}
        else:
            # a project whose row the filter chose (its name) brings all its containers
            for key in [k for k in kept if k in self.projects]:
                kept |= {c.id for c in self.projects[key].containers}
            kept |= {self.group_of[k] for k in kept if k in self.group_of}
        return [r for r in self.rows if r.key in kept and self.group_of.get(r.key) not in self.collapsed]

    def engine_filter_keys(self, filters: dict[str, list[str]]) -> set[str]:
        return {c.id for c in self.dapp.engine.list_containers(all=True, filters=filters)}

    # ---------------------------------------------------------------- projects

    def cursor_project(self) -> Project | None:
        key = self.cursor_key()
        return self.projects.get(key) if key else None

    def cursor_moved(self, key: str | None) -> None:
        on_project = key is not None and key.startswith(PROJECT_KEY)
        if on_project != self._on_project:
            self._on_project = on_project
            self.refresh_bindings()  # the footer offers the project's actions, or the container's

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action.startswith("project_"):
            return self.cursor_project() is not None
        if action in CONTAINER_ONLY or action == "inspect":
            return self.cursor_project() is None
        if action == "fold":
            key = self.cursor_key()
            return key is not None and (key in self.projects or key in self.group_of)
        return True

    def targets(self) -> list[Row]:
        return [r for r in super().targets() if r.key not in self.projects]

    def action_fold(self) -> None:
        """Fold the project under the cursor (or the one its container belongs to) to its one row, or
        unfold it."""
        key = self.cursor_key()
        if key is None:
            return
        project = key if key in self.projects else self.group_of.get(key)
        if project is None:
            return
        self.collapsed ^= {project}
        row = self.by_key[project]
        folded = ("▸ " if project in self.collapsed else "▾ ") + row.name
        self.update_row(Row(row.key, row.name, (folded, *row.cells[1:]), row.style, row.health, row.order))
        self._render_rows()
        self.select_key(project)

    def enter_action(self) -> str:
        return "fold" if self.cursor_project() is not None else "inspect"  # Enter on a project folds it

    def action_mark(self) -> None:
        p = self.cursor_project()
        if p is None:
            super().action_mark()
            return
        keys = {c.id for c in p.containers}
        if keys <= self.marked:
            self.marked -= keys
        else:
            self.marked |= keys
        for key in keys & set(self.shown):
            self.table.update_cell(key, "_mark", MARK if key in self.marked else " ")
        self.table.action_cursor_down()

    def action_mark_all(self) -> None:
        super().action_mark_all()
        self.marked -= set(self.projects)
        for key in set(self.shown) & set(self.projects):
            self.table.update_cell(key, "_mark", " ")

    def _project_call(
        self, p: Project, label: str, fn: Callable[[Engine, Callable[[str], None]], Any], running: str
    ) -> None:
        """Run one compose action on ``p`` in a thread; its progress lines show in the project's row."""
        engine = self.dapp.engine
        name = p.name
        self.busy[name] = running
        self._show_busy(name)

        def report(line: str) -> None:
            self.app.call_from_thread(self._progress, name, line)

        def call() -> Any:
            try:
                return fn(engine, report)
            finally:
                self.app.call_from_thread(self._progress, name, None)

        self.dapp.engine_call(label, call, refresh=("containers", "images", "volumes", "networks"))

    def _progress(self, project: str, line: str | None) -> None:
        if line is None:
            self.busy.pop(project, None)
        elif project in self.busy:
            self.busy[project] = " ".join(line.split())
        self._show_busy(project)

    def _show_busy(self, project: str) -> None:
        key = PROJECT_KEY + project
        row = self.by_key.get(key)
        p = self.projects.get(key)
        if row is None or p is None:
            return
        snap = self.dapp.snapshot
        self.update_row(
            project_row(p, snap.stats, collapsed=key in self.collapsed, busy=self.busy.get(project, ""))
        )

    def action_project_up(self) -> None:
        p = self.cursor_project()
        if p is None:
            return
        files, workdir, env_files = p.config_files, p.working_dir, p.env_files
        if not files:
            self.notify(
                f"{p.name}: its containers do not say which compose files made them", severity="error"
            )
            return

        def up(engine: Engine, report: Callable[[str], None]) -> None:
            """``docker compose -p NAME -f FILE... up -d`` from the project's directory, the services it has
            enabled (a profile's service that runs stays up)."""
            from compose import orchestrate
            from compose.loader import LoadOptions, load_project

            options = LoadOptions(
                files=files,
                project_name=p.name,
                project_directory=workdir or None,
                env_files=env_files,
                enable_services=p.services,
                cwd=workdir or None,
            )
            orchestrate.up(engine, load_project(options), report=report)

        self._project_call(p, f"Up {p.name}", up, "Starting…")

    def action_project_down(self) -> None:
        p = self.cursor_project()
        if p is None:
            return
        networks = sorted(
            n.name for n in self.dapp.snapshot.networks if n.labels.get(COMPOSE_PROJECT) == p.name
        )
        body = [f"  container {c.name}  ({c.status})" for c in p.containers[:10]]
        if len(p.containers) > 10:
            body.append(f"  … and {len(p.containers) - 10} more containers")
        body += [f"  network {n}" for n in networks]
        body += ["", "Its volumes are kept (dockyard compose down -v removes them)."]

        def down(engine: Engine, report: Callable[[str], None]) -> None:
            from compose import orchestrate

            orchestrate.down(engine, p.name, report=report)

        self._confirm(
            f"Down {p.name}? Stop and remove:",
            body,
            lambda: self._project_call(p, f"Down {p.name}", down, "Stopping…"),
        )

    def action_project_stop(self) -> None:
        self._project_verb("stop", "Stopped", "Stopping…")

    def action_project_restart(self) -> None:
        self._project_verb("restart", "Restarted", "Restarting…")

    def _project_verb(self, verb: str, done: str, running: str) -> None:
        """``orchestrate.stop``/``restart`` of the project under the cursor (compose imported only now)."""
        p = self.cursor_project()
        if p is None:
            return

        def call(engine: Engine, report: Callable[[str], None]) -> None:
            from compose import orchestrate

            getattr(orchestrate, verb)(engine, p.name, report=report)

        self._project_call(p, f"{done} {p.name}", call, running)

    def action_project_logs(self) -> None:
        p = self.cursor_project()
        if p is None:
            return
        self.post_message(
            self.ShowProjectLogs(p.name, [(c.id, replica_name(c), service_of(c)) for c in p.containers])
        )

    def copy_id_text(self, row: Row) -> str:
        return row.key

    def _status(self, key: str) -> str:
        row = self.by_key.get(key)
        return row.style if row else ""

    def action_start(self) -> None:
        self._bulk("Started", lambda k: self.dapp.engine.start_container(k))

    def action_stop(self) -> None:
        self._bulk("Stopped", lambda k: self.dapp.engine.stop_container(k), pending="Stopping…")

    def action_restart(self) -> None:
        self._bulk("Restarted", lambda k: self.dapp.engine.restart_container(k), pending="Restarting…")

    def action_kill(self) -> None:
        self._bulk("Killed", lambda k: self.dapp.engine.kill_container(k), pending="Killing…")

    def _summary(self, row: Row | None) -> ContainerSummary | None:
        """The container of ``row`` as the last list read has it."""
        if row is None:
            return None
        return next((c for c in self.dapp.snapshot.containers if c.id == row.key), None)

    def custom_fields(self, row: Row) -> dict[str, Any] | None:
        from tui.custom_commands import container_fields

        c = self._summary(row)
        return container_fields(c) if c is not None else None

    def action_open_port(self) -> None:
        """``w``: the URL of the container's published port(s), shown as a link (OSC 8) and copied."""
        ask_port_links(self, self._summary(self.cursor_row_data()), self.dapp.engine)

    def action_pause(self) -> None:
        engine = self.dapp.engine

        def toggle(key: str) -> None:
            if self._status(key) == "paused":
                engine.unpause_container(key)
            else:
                engine.pause_container(key)

        rows = self.targets()
        verb = "Unpaused" if rows and all(self._status(r.key) == "paused" for r in rows) else "Paused"
        self._bulk(verb, toggle, rows)

    def action_remove(self) -> None:
        rows = self.targets()
        if not rows:
            return
        running = [r.name for r in rows if r.style in RUNNING_STATES]
        body = [f"  {r.name}  ({r.cells[2]})" for r in rows[:12]]
        if len(rows) > 12:
            body.append(f"  … and {len(rows) - 12} more")
        if running:
            body.append("")
            body.append(f"{_plural(len(running), 'running container')} will be killed first.")
        title = f"Remove {rows[0].name}?" if len(rows) == 1 else f"Remove {_plural(len(rows), 'container')}?"
        engine = self.dapp.engine

        def chosen(how: Any) -> None:
            volumes = how == "volumes"
            if how is not None:
                self._bulk("Removed", lambda k: engine.remove_container(k, force=True, volumes=volumes), rows)

        self._ask(
            "menu",
            {
                "title": title,
                "body": body,
                "danger": True,
                "choices": [
                    ("remove", "Remove (docker rm -f)"),
                    ("volumes", "Remove with its anonymous volumes (docker rm -f -v)"),
                ],
            },
            chosen,
        )

    def action_prune(self) -> None:
        stopped = [r for r in self.rows if r.style in STOPPED_STATES]
        if not stopped:
            self.notify("No stopped containers to prune", timeout=3)
            return

        def done(result: Any) -> None:
            ids, freed = result
            self.notify(f"Pruned {_plural(len(ids), 'container')}, {human_size(freed)} freed", timeout=5)

        self._confirm(
            f"Remove all {_plural(len(stopped), 'stopped container')}?",
            [f"  {r.name}" for r in stopped[:12]],
            lambda: self.dapp.engine_call(
                "Prune containers",
                self.dapp.engine.prune_containers,
                done=done,
                failed="Could not prune containers",
            ),
        )

    def action_logs(self) -> None:
        row = self.cursor_row_data()
        if row is None:
            return
        self.post_message(self.ShowLogs(row.key, row.name))

    def _detail(self, tab: str) -> None:
        row = self.cursor_row_data()
        if row is None:
            return
        self.post_message(self.OpenDetail("container", row.key, row.name, tab))

    def action_stats(self) -> None:
        self._detail("stats")

    def action_top(self) -> None:
        self._detail("top")

    def action_shell(self) -> None:
        row = self.cursor_row_data()
        if row is None:
            return
        if row.style not in ("running",):
            self.notify(f"{row.name} is not running", severity="warning", timeout=3)
            return
        self.post_message(self.OpenShell(row.key, row.name))

    def action_attach(self) -> None:
        row = self.cursor_row_data()
        if row is None:
            return
        if row.style not in RUNNING_STATES:
            self.notify(f"{row.name} is not running", severity="warning", timeout=3)
            return
        self.post_message(self.OpenAttach(row.key, row.name))


class ImagesPane(EnginePane):
    KIND = "image"
    COLUMNS = IMAGE_COLUMNS
    EMPTY = "No images. Press P to pull one."
    BINDINGS = bindings("images")

    def refresh_from(self, snap: Snapshot) -> None:
        self.set_rows([row for img in snap.images for row in image_row(img)])

    def engine_filter_keys(self, filters: dict[str, list[str]]) -> set[str]:
        # a reference filter keeps only the tags it matches, so rows (one a tag) are chosen one by one
        return {row.key for img in self.dapp.engine.list_images(filters=filters) for row in image_row(img)}

    def copy_id_text(self, row: Row) -> str:
        return image_ref(row.key)[0]

    def inspect_key(self, row: Row) -> str:
        image_id, tag = image_ref(row.key)
        return tag or image_id

    def custom_fields(self, row: Row) -> dict[str, Any] | None:
        from tui.custom_commands import image_fields

        return image_fields(*image_ref(row.key))

    def action_remove(self) -> None:
        rows = self.targets()
        if not rows:
            return
        used = [r.name for r in rows if r.cells[4] not in ("", "-")]
        body = [f"  {r.name}  {r.cells[1]}  {r.cells[2]}" for r in rows[:12]]
        if used:
            body += ["", "Images used by containers are refused unless those are removed first."]
        title = f"Remove {rows[0].name}?" if len(rows) == 1 else f"Remove {_plural(len(rows), 'image')}?"
        self._confirm(
            title,
            body,
            lambda: self._bulk(
                "Removed", lambda k: self.dapp.engine.remove_image(image_ref(k)[1] or image_ref(k)[0]), rows
            ),
        )

    def action_prune(self) -> None:
        def done(result: Any) -> None:
            removed, freed = result
            n = len(removed.deleted)
            self.notify(f"Deleted {_plural(n, 'image')}, {human_size(freed)} freed", timeout=5)

        self._confirm(
            "Remove dangling images?",
            ["Images with no tag that no container uses are deleted."],
            lambda: self.dapp.engine_call(
                "Prune images",
                self.dapp.engine.prune_images,
                done=done,
                refresh=("images",),
                failed="Could not prune images",
            ),
        )

    def action_run_image(self) -> None:
        row = self.cursor_row_data()
        if row is None:
            return
        image_id, tag = image_ref(row.key)
        self.dapp.action_run_form(tag or image_id.removeprefix("sha256:")[:12])


class VolumesPane(EnginePane):
    KIND = "volume"
    COLUMNS = VOLUME_COLUMNS
    EMPTY = "No volumes. Press N to create one."
    BINDINGS = bindings("volumes")

    def refresh_from(self, snap: Snapshot) -> None:
        self.set_rows([volume_row(v, snap.volume_users, snap.volume_sizes.get(v.name)) for v in snap.volumes])

    def engine_filter_keys(self, filters: dict[str, list[str]]) -> set[str]:
        return {v.name for v in self.dapp.engine.list_volumes(filters=filters)}

    def custom_fields(self, row: Row) -> dict[str, Any] | None:
        from tui.custom_commands import volume_fields

        v = next((v for v in self.dapp.snapshot.volumes if v.name == row.key), None)
        return volume_fields(v) if v is not None else None

    def action_create(self) -> None:
        """``docker volume create [NAME] [--label K=V]``, from a small form."""
        engine = self.dapp.engine

        def made(answer: Any) -> None:
            if answer is None:
                return
            name, labels = answer["name"] or None, answer["labels"]
            self.dapp.engine_call(
                f"Created volume {name or '(anonymous)'}",
                lambda: engine.create_volume(name, labels=labels),
                refresh=("volumes",),
                failed=f"Could not create volume {name or '(anonymous)'}",
            )

        self._ask("volume-create", {}, made)

    def action_remove(self) -> None:
        rows = self.targets()
        if not rows:
            return
        used = [r for r in rows if r.cells[3]]
        body = [f"  {r.name}" + (f"  (used by {r.cells[3]})" if r.cells[3] else "") for r in rows[:12]]
        if used:
            body += ["", "A volume in use is refused (docker volume rm); force removes it from the list of"]
            body += ["the containers that use it only once they are removed."]
        title = (
            f"Remove volume {rows[0].name}?" if len(rows) == 1 else f"Remove {_plural(len(rows), 'volume')}?"
        )
        engine = self.dapp.engine

        def chosen(how: Any) -> None:
            if how == "remove":
                self._bulk("Removed", lambda k: engine.remove_volume(k), rows)
            elif how == "force":
                self._bulk("Force-removed", lambda k: engine.remove_volume(k, force=True), rows)

        self._ask(
            "menu",
            {
                "title": title,
                "body": body,
                "danger": True,
                "choices": [
                    ("remove", "Remove (docker volume rm)"),
                    ("force", "Force (docker volume rm -f)"),
                ],
            },
            chosen,
        )

    def action_prune(self) -> None:
        engine = self.dapp.engine

        def done(result: Any) -> None:
            names, freed = result
            self.notify(f"Pruned {_plural(len(names), 'volume')}, {human_size(freed)} freed", timeout=5)

        def chosen(how: Any) -> None:
            if how is not None:
                every = how == "all"
                self.dapp.engine_call(
                    "Prune volumes",
                    lambda: engine.prune_volumes(all=every),
                    done=done,
                    refresh=("volumes",),
                    quiet=True,
                    failed="Could not prune volumes",
                )

        self._ask(
            "menu",
            {
                "title": "Prune volumes? Their data is deleted.",
                "danger": True,
                "choices": [
                    ("anonymous", "Unused anonymous volumes (docker volume prune)"),
                    ("all", "Every unused volume, named ones too (docker volume prune -a)"),
                ],
            },
            chosen,
        )


class NetworksPane(EnginePane):
    KIND = "network"
    COLUMNS = NETWORK_COLUMNS
    EMPTY = "No networks. Press N to create one."
    BINDINGS = bindings("networks")
    PREDEFINED = frozenset({"bridge", "host", "none"})

    def refresh_from(self, snap: Snapshot) -> None:
        self.set_rows([network_row(n) for n in snap.networks])

    def engine_filter_keys(self, filters: dict[str, list[str]]) -> set[str]:
        return {network_row(n).key for n in self.dapp.engine.list_networks(filters=filters)}

    def _network(self, row: Row) -> Any:
        return next((n for n in self.dapp.snapshot.networks if n.name == row.name), None)

    def custom_fields(self, row: Row) -> dict[str, Any] | None:
        from tui.custom_commands import network_fields

        n = self._network(row)
        return network_fields(n) if n is not None else None

    def action_create(self) -> None:
        """``docker network create [--subnet] [--gateway] [--internal] [--label] NAME``, from a form."""
        engine = self.dapp.engine

        def made(answer: Any) -> None:
            if answer is None:
                return
            name = answer["name"]
            self.dapp.engine_call(
                f"Created network {name}",
                lambda: engine.create_network(
                    name,
                    subnet=answer["subnet"] or None,
                    gateway=answer["gateway"] or None,
                    internal=answer["internal"],
                    labels=answer["labels"],
                ),
                refresh=("networks",),
                failed=f"Could not create network {name}",
            )

        self._ask("network-create", {}, made)

    def action_connect(self) -> None:
        """``docker network connect NETWORK CONTAINER``: pick the container from those not on it."""
        row = self.cursor_row_data()
        net = self._network(row) if row is not None else None
        if row is None or net is None:
            self.notify("No network selected", severity="warning", timeout=3)
            return
        on = set(net.containers)
        choices = [
            (c.id, f"{c.name}  ({c.status})") for c in self.dapp.snapshot.containers if c.name not in on
        ]
        if not choices:
            self.notify(f"Every container is on {net.name} already", severity="warning", timeout=4)
            return
        engine, network = self.dapp.engine, net.name
        names = {c.id: c.name for c in self.dapp.snapshot.containers}

        def chosen(cid: Any) -> None:
            if cid is not None:
                self.dapp.engine_call(
                    f"Connected {names[cid]} to {network}",
                    lambda: engine.connect_network(network, cid),
                    refresh=("networks", "containers"),
                    failed=f"Could not connect {names[cid]} to {network}",
                )

        self._ask("menu", {"title": f"Connect a container to {network}", "choices": choices}, chosen)

    def action_disconnect(self) -> None:
        """``docker network disconnect [-f] NETWORK CONTAINER``: pick one of the containers on it."""
        row = self.cursor_row_data()
        net = self._network(row) if row is not None else None
        if row is None or net is None:
            self.notify("No network selected", severity="warning", timeout=3)
            return
        if not net.containers:
            self.notify(f"No container is on {net.name}", severity="warning", timeout=4)
            return
        engine, network = self.dapp.engine, net.name

        def chosen(name: Any) -> None:
            if name is not None:
                self.dapp.engine_call(
                    f"Disconnected {name} from {network}",
                    lambda: engine.disconnect_network(network, name),
                    refresh=("networks", "containers"),
                    failed=f"Could not disconnect {name} from {network}",
                )

        self._ask(
            "menu",
            {"title": f"Disconnect a container from {network}", "choices": [(n, n) for n in net.containers]},
            chosen,
        )

    def action_remove(self) -> None:
        rows = self.targets()
        if not rows:
            return
        engine = self.dapp.engine
        nets = {r.key: self._network(r) for r in rows}
        used = {r.name: list(n.containers) for r in rows if (n := nets[r.key]) is not None and n.containers}
        body = [
            f"  {r.name}" + (f"  (used by {', '.join(used[r.name])})" if r.name in used else "")
            for r in rows[:12]
        ]
        if used:
            body += ["", "A network with containers on it is refused unless they are disconnected first."]

        def remove(key: str, force: bool) -> None:
            name = self.by_key[key].name if key in self.by_key else key
            if force:
                # the members now, not the list's: a container connected since the last refresh is one too
                current = next((n for n in engine.list_networks() if n.name == name), None)
                for container in current.containers if current is not None else []:
                    engine.disconnect_network(name, container, force=True)
            engine.remove_network(name)

        def chosen(how: Any) -> None:
            if how == "remove":
                self._bulk("Removed", lambda k: remove(k, False), rows)
            elif how == "force":
                self._bulk("Removed", lambda k: remove(k, True), rows)

        title = (
            f"Remove network {rows[0].name}?"
            if len(rows) == 1
            else f"Remove {_plural(len(rows), 'network')}?"
        )
        self._ask(
            "menu",
            {
                "title": title,
                "body": body,
                "danger": True,
                "choices": [
                    ("remove", "Remove (docker network rm)"),
                    ("force", "Disconnect its containers (-f), then remove"),
                ],
            },
            chosen,
        )

    def action_prune(self) -> None:
        def done(result: Any) -> None:
            self.notify(
                f"Pruned {_plural(len(result), 'network')}" + (f": {', '.join(result)}" if result else ""),
                timeout=5,
            )

        self._confirm(
            "Remove unused networks?",
            ["User networks with no containers are removed (docker network prune)."],
            lambda: self.dapp.engine_call(
                "Prune networks",
                self.dapp.engine.prune_networks,
                done=done,
                quiet=True,
                refresh=("networks",),
                failed="Could not prune networks",
            ),
        )

    def inspect_key(self, row: Row) -> str:
        return row.name
