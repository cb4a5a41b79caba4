"""The workbench's config file: key bindings by Binding id and a theme.

``$DOCKYARD_TUI_CONFIG`` or ``$XDG_CONFIG_HOME/dockyard/tui.toml`` (``~/.config/dockyard/tui.toml``)::

    theme = "textual-dark"        # any Textual theme name (the command palette lists them)
    stats_interval = 5.0          # seconds between CPU/memory samples in the containers list; 0 turns it off

    [keymap]                      # Binding id = keys (comma-separated); ids are in the help screen (?)
    "container.stop" = "x"
    "app.quit" = "q,Q"

A missing file is the defaults; a broken one is an error that names the file and the problem, because a
silently ignored keymap is worse than a refusal to start.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InvalidArgument
from tui.keymap import ACTIONS, WIDGET_ID_PREFIXES

DEFAULT_THEME = "textual-dark"


@dataclass
class Settings:
    theme: str = DEFAULT_THEME
    keymap: dict[str, str] = field(default_factory=dict)
    stats_interval: float = 5.0
    path: Path | None = None  # where they came from (None: defaults)


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
        return Settings()
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidArgument(f"cannot read {path}: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise InvalidArgument(f"{path}: {err}") from err
    return parse(data, path)


def parse(data: dict[str, object], path: Path | None = None) -> Settings:
    where = str(path) if path else "settings"
    unknown = set(data) - {"theme", "keymap", "stats_interval"}
    if unknown:
        raise InvalidArgument(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    theme = data.get("theme", DEFAULT_THEME)
    if not isinstance(theme, str) or not theme:
        raise InvalidArgument(f"{where}: theme must be a theme name")
    interval = data.get("stats_interval", 5.0)
    if not isinstance(interval, int | float) or interval < 0:
        raise InvalidArgument(f"{where}: stats_interval must be a number of seconds >= 0")
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
    return Settings(theme=theme, keymap=keymap, stats_interval=float(interval), path=path)
