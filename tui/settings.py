"""The workbench's config file: key bindings by Binding id and a theme.

``$DOCKYARD_TUI_CONFIG`` or ``$XDG_CONFIG_HOME/dockyard/tui.toml`` (``~/.config/dockyard/tui.toml``)::

    theme = "textual-dark"        # any Textual theme name (the command palette lists them)
    stats_interval = 5.0          # seconds between CPU/memory samples in the containers list; 0 turns it off
    detail_panel = true           # the selected container's logs, stats, env, ports, inspect beside the list
                                  # (v toggles it, and the workbench writes the choice here)

    [keymap]                      # Binding id = keys (comma-separated); ids are in the help screen (?)
    "container.stop" = "x"
    "app.quit" = "q,Q"

    [[custom_commands.containers]]   # c on a row: see tui.custom_commands
    name = "disk usage"
    command = "dockyard exec {{ .ID }} du -sh /"

A theme chosen in the app (the command palette's "Change theme") is saved with :func:`save_theme`, which
rewrites only the ``theme`` line of this file (comments and the rest are kept).

A missing file is the defaults; a broken one is an error that names the file and the problem, because a
silently ignored keymap is worse than a refusal to start.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InvalidArgument
from tui.custom_commands import CustomCommand, parse_table
from tui.keymap import ACTIONS, WIDGET_ID_PREFIXES

DEFAULT_THEME = "textual-dark"
# on a terminal with 16 colours (Rich's "standard" colour system: no COLORTERM=truecolor/24bit, a TERM
# without -256color), unless the file names a theme: the terminal's own named ANSI colours
ANSI_THEME = "ansi-dark"


@dataclass
class Settings:
    theme: str = DEFAULT_THEME
    theme_chosen: bool = False  # the file names a theme (else a 16-colour terminal gets ANSI_THEME)
    keymap: dict[str, str] = field(default_factory=dict)
    stats_interval: float = 5.0
    custom_commands: dict[str, list[CustomCommand]] = field(default_factory=dict)  # kind -> commands
    detail_panel: bool = True
    path: Path | None = None  # where they came from (None: defaults)
    save_to: Path | None = (
        None  # where choices made in the workbench are written (None: nowhere, as in tests)
    )


def config_path() -> Path:
    explicit = os.environ.get("DOCKYARD_TUI_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "dockyard" / "tui.toml"


def load(path: Path | None = None) -> Settings:
    path = path or config_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings(save_to=path)
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"cannot read {path}: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise InvalidArgument(f"{path}: {err}") from err
    settings = parse(data, path)
    settings.save_to = path
    return settings


def parse(data: dict[str, object], path: Path | None = None) -> Settings:
    where = str(path) if path else "settings"
    unknown = set(data) - {"theme", "keymap", "stats_interval", "custom_commands", "detail_panel"}
    if unknown:
        raise InvalidArgument(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    theme = data.get("theme", DEFAULT_THEME)
    if not isinstance(theme, str) or not theme:
        raise InvalidArgument(f"{where}: theme must be a theme name")
    interval = data.get("stats_interval", 5.0)
    if not isinstance(interval, int | float) or interval < 0:
        raise InvalidArgument(f"{where}: stats_interval must be a number of seconds >= 0")
    panel = data.get("detail_panel", True)
    if not isinstance(panel, bool):
        raise InvalidArgument(f"{where}: detail_panel must be true or false")
    raw = data.get("keymap", {})
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{where}: [keymap] must be a table of binding id = keys")
    known = {a.id for a in ACTIONS}
    keymap: dict[str, str] = {}
    for binding_id, keys in raw.items():
        if binding_id not in known and not binding_id.startswith(WIDGET_ID_PREFIXES):
            raise InvalidArgument(
                f"{where}: unknown binding id {binding_id!r} in [keymap] (see the help screen)"
            )
        if not isinstance(keys, str) or not keys.strip():
            raise InvalidArgument(f"{where}: keys for {binding_id!r} must be a non-empty string")
        keymap[binding_id] = keys.replace(" ", "")
    try:
        custom = parse_table(data.get("custom_commands", {}), where)
    except ValueError as err:
        raise InvalidArgument(str(err)) from None
    return Settings(
        theme=theme,
        theme_chosen="theme" in data,
        keymap=keymap,
        stats_interval=float(interval),
        custom_commands=custom,
        detail_panel=panel,
        path=path,
    )


def save_theme(theme: str, path: Path | None = None) -> Path:
    """Keep ``theme`` in the config file (see :func:`remember`)."""
    path = path or config_path()
    remember(path, "theme", theme)
    return path


def remember(path: Path, name: str, value: bool | str) -> None:
    """Write one top-level ``name = value`` into the config file at ``path`` (made if missing), keeping
    every other line as the user wrote it: the line that sets it is replaced, else one goes first (a
    top-level key must come before any table). Written atomically (a temp file, then rename). Raises
    OSError when it cannot be written."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = text.splitlines()
    line = f"{name} = {json.dumps(value)}"  # JSON's true/false and quoted strings are TOML's too
    first_table = next((i for i, x in enumerate(lines) if x.lstrip().startswith("[")), len(lines))
    for i, x in enumerate(lines[:first_table]):
        if "=" in x and x.split("=", 1)[0].strip() == name:
            lines[i] = line
            break
    else:
        lines.insert(0, line)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
