"""Every workbench action in one table: its Binding id, default keys, where it applies and what it does.

The table is the single source for the BINDINGS of the app and its panes, the help screen and the command
palette, so a key can never be shown in one place and bound differently in another. Users rebind by id in
the config file (``[keymap]`` in tui.toml, see :mod:`tui.settings`), which Textual applies through
``App.set_keymap``.
"""

from __future__ import annotations

from dataclasses import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from textual.binding import Binding

    BindingList = list[Binding | tuple[str, str] | tuple[str, str, str]]


@dataclass(frozen=True)
class Action:
    id: str  # Binding id, e.g. "container.stop": what the keymap config names
    keys: str  # Textual key string, comma-separated alternatives
    action: str  # Textual action name, run on the node that owns the binding
    description: str  # footer / help text
    scope: str  # "app", "containers", "images", "networks", "volumes", "list", "logs", "detail"
    show: bool = True  # shown in the footer (the help screen shows everything)
    palette: bool = True  # offered by the command palette
    priority: bool = False  # taken before the focused widget sees the key (Textual's priority binding)


ACTIONS: tuple[Action, ...] = (
    # anywhere
    Action("app.help", "question_mark,f1", "help", "Help", "app"),
    # q: only from the lists (never from a form, a dialog or a terminal); ctrl+q: from anywhere but a shell
    # or attach, whose keys are the container's; both ask first while a shell, attach, pull or build runs
    Action("app.quit", "q", "quit_key", "Quit", "app", palette=False),
    Action(
        "app.quit_anywhere",
        "ctrl+q",
        "quit",
        "Quit from any screen (asks while a shell, attach, pull or build runs)",
        "app",
        show=False,
        priority=True,
    ),
    Action("app.pane.containers", "1", "pane('containers')", "Containers", "app", show=False),
    Action("app.pane.images", "2", "pane('images')", "Images", "app", show=False),
    Action("app.pane.networks", "3", "pane('networks')", "Networks", "app", show=False),
    Action("app.pane.volumes", "4", "pane('volumes')", "Volumes", "app", show=False),
    Action("app.pane.logs", "5", "pane('logs')", "Logs pane", "app", show=False),
    Action("app.pull", "P", "pull", "Pull", "app"),
    Action("app.run", "n", "run_form", "Run", "app"),
    Action("app.refresh", "ctrl+r,f5", "refresh", "Refresh", "app", show=False),
    Action("app.screenshot", "f12", "screenshot", "Save a screenshot", "app", show=False),
    Action("app.engines", "E", "engines", "Engines", "app", show=False),
    Action("app.fleet", "F", "fleet", "Fleet (every engine's containers)", "app", show=False),
    # every list pane
    Action("list.filter", "slash", "filter", "Filter", "list"),
    Action("list.mark", "space", "mark", "Mark", "list", show=False),
    Action("list.mark_all", "A", "mark_all", "Mark all", "list", show=False),
    Action("list.inspect", "i,enter", "inspect", "Inspect", "list"),
    Action("list.copy_id", "y", "copy_id", "Copy id", "list", show=False),
    Action("list.copy_name", "Y", "copy_name", "Copy name", "list", show=False),
    Action("list.remove", "d,delete", "remove", "Remove", "list"),
    Action("list.prune", "X", "prune", "Prune", "list", show=False),
    Action("list.custom", "c", "custom_command", "Custom command (tui.toml)", "list", show=False),
    Action("list.first", "g,home", "first_row", "First row", "list", show=False, palette=False),
    Action("list.last", "G,end", "last_row", "Last row", "list", show=False, palette=False),
    # containers
    Action("container.logs", "l", "logs", "Logs", "containers"),
    Action("container.shell", "e", "shell", "Shell", "containers"),
    Action("container.attach", "a", "attach", "Attach", "containers", show=False),
    Action("container.start", "u", "start", "Start", "containers"),
    Action("container.stop", "s", "stop", "Stop", "containers"),
    Action("container.restart", "r", "restart", "Restart", "containers"),
    Action("container.kill", "K", "kill", "Kill", "containers", show=False),
    Action("container.pause", "p", "pause", "Pause/unpause", "containers", show=False),
    # S, not g: g and G jump to the first and last row (list.first, list.last), as in less and vi
    Action("container.stats", "S", "stats", "Stats", "containers", show=False),
    Action("container.top", "T", "top", "Top", "containers", show=False),
    Action(
        "container.open_port",
        "w",
        "open_port",
        "Open a published port (URL, copied)",
        "containers",
        show=False,
    ),
    # the master-detail layout: the detail panel beside (or under) the list follows the cursor
    Action("container.panel", "v", "toggle_panel", "Detail panel", "containerlist"),
    Action(
        "container.panel_next",
        "right_square_bracket",
        "panel_tab(1)",
        "Panel: next tab",
        "containerlist",
        show=False,
    ),
    Action(
        "container.panel_prev",
        "left_square_bracket",
        "panel_tab(-1)",
        "Panel: previous tab",
        "containerlist",
        show=False,
    ),
    Action("container.sort", "o", "sort", "Sort by the next column", "containerlist", show=False),
    Action("container.sort_reverse", "O", "sort_reverse", "Reverse the sort", "containerlist", show=False),
    Action("container.hide_stopped", "H", "hide_stopped", "Hide/show stopped", "containerlist", show=False),
    # a compose project's row in the Containers pane (the same keys as a container's, for the project)
    Action("project.up", "u", "project_up", "Up", "projects"),
    Action("project.down", "d,delete", "project_down", "Down", "projects"),
    Action("project.stop", "s", "project_stop", "Stop", "projects"),
    Action("project.restart", "r", "project_restart", "Restart", "projects"),
    Action("project.logs", "l", "project_logs", "Logs", "projects"),
    Action("project.fold", "z", "fold", "Fold", "projects"),
    # a project's logs, merged (tui.screens.project_logs)
    Action("projectlogs.close", "escape", "close", "Back", "projectlogs", palette=False),
    Action("projectlogs.all", "0", "show_all", "All services", "projectlogs", palette=False),
    *(
        Action(
            f"projectlogs.service{i}",
            str(i),
            f"toggle_service({i})",
            f"Show/hide service {i}",
            "projectlogs",
            show=False,
            palette=False,
        )
        for i in range(1, 10)
    ),
    Action("projectlogs.timestamps", "t", "timestamps", "Timestamps", "projectlogs", palette=False),
    Action("projectlogs.end", "G,end", "end", "Follow", "projectlogs", palette=False),
    # images
    Action("image.run", "R", "run_image", "Run image", "images"),
    # networks and volumes
    Action("network.create", "N", "create", "Create", "networks"),
    Action("network.connect", "C", "connect", "Connect", "networks"),
    Action("network.disconnect", "D", "disconnect", "Disconnect", "networks"),
    Action("volume.create", "N", "create", "Create", "volumes"),
    # the Engines pane (E) and the fleet view (F)
    Action("engines.use", "u", "use_engine", "Use this engine in every pane", "engines"),
    Action("engines.retry", "r", "retry", "Look again now", "engines"),
    Action("engines.fleet", "F", "fleet", "Fleet of the marked engines (all if none)", "engines", show=False),
    Action("fleet.retry", "ctrl+r", "retry", "Reconnect the lost engines now", "fleet", show=False),
    # detail screen
    Action("detail.close", "escape", "close", "Back", "detail"),
    Action("detail.next", "right_square_bracket,tab", "next_tab", "Next tab", "detail", show=False),
    Action("detail.prev", "left_square_bracket,shift+tab", "prev_tab", "Previous tab", "detail", show=False),
)

SCOPE_TITLES = {
    "app": "Anywhere",
    "list": "Every list (containers, images, networks, volumes)",
    "containers": "Containers",
    "containerlist": "Containers list: the detail panel beside it, sorting, hiding the stopped",
    "images": "Images",
    "networks": "Networks (d offers remove or disconnect-then-remove, X prunes)",
    "volumes": "Volumes (d offers remove or force, X prunes anonymous or all unused)",
    "engines": "Engines pane (E): Space marks engines for the fleet view, Enter or u switches to one",
    "fleet": "Fleet view (F): every engine's containers; the container keys act on the row's engine",
    "logs": "Logs pane (the log viewer's own keys)",
    "projects": "Compose projects (on a project's row in Containers; Enter folds it too)",
    "projectlogs": "A project's logs (merged; 1-9 show or hide a service)",
    "detail": "Detail view (inspect, stats, top, ports, env, mounts, health)",
    "terminal": "Shell and attach (every key is the container's but Ctrl+], which gives them back)",
}


# Binding ids owned by widgets rather than this table (the log viewer, the terminal, dialogs); the config
# file may rebind them too
WIDGET_ID_PREFIXES = (
    "logview.",
    "terminal.",
    "json.",
    "confirm.",
    "run.",
    "pull.",
    "help.",
    "detail.",
    "menu.",
    "form.",
    "links.",
    "custom.",
)


def by_id(binding_id: str) -> Action:
    for a in ACTIONS:
        if a.id == binding_id:
            return a
    raise KeyError(binding_id)


def bindings(*scopes: str) -> BindingList:
    """Textual Bindings for the actions of ``scopes`` (imported lazily: this module is Textual-free)."""
    from textual.binding import Binding

    return [
        Binding(a.keys, a.action, a.description, show=a.show, id=a.id, priority=a.priority)
        for a in ACTIONS
        if a.scope in scopes
    ]


def key_label(keys: str) -> str:
    """What a person types: "question_mark,f1" -> "? / F1"."""
    names = {
        "question_mark": "?",
        "slash": "/",
        "space": "Space",
        "enter": "Enter",
        "escape": "Esc",
        "delete": "Del",
        "right_square_bracket": "]",
        "left_square_bracket": "[",
        "tab": "Tab",
        "shift+tab": "Shift+Tab",
        "ctrl+right_square_bracket": "Ctrl+]",
        "pageup": "PgUp",
        "pagedown": "PgDn",
        "shift+pageup": "Shift+PgUp",
        "shift+pagedown": "Shift+PgDn",
    }
    out = []
    for k in keys.split(","):
        k = k.strip()
        if k in names:
            out.append(names[k])
        elif k.startswith("ctrl+"):
            out.append("Ctrl+" + k[5:].upper())
        elif len(k) > 1 and k[0] == "f" and k[1:].isdigit():
            out.append(k.upper())
        else:
            out.append(k)
    return " / ".join(out)
