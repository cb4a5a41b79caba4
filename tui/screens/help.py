"""Every key, from the same table that binds them (tui.keymap), with the id to rebind it by."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui import keymap
from tui.settings import config_path


class HelpScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark,f1", "app.pop_screen", "Close", id="help.close"),
        Binding("j", "scroll('down')", "Down", show=False),
        Binding("k", "scroll('up')", "Up", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self._intro(), classes="help-intro")
            for scope, title in keymap.SCOPE_TITLES.items():
                yield Static(self._table(scope, title), classes="help-table")
        yield Footer()

    def _intro(self) -> Text:
        text = Text()
        text.append("dockyard workbench", style="bold")
        text.append(
            "  —  Ctrl+P opens the command palette (every action below, and themes). "
            "Arrows or j/k move, Tab moves between widgets, Esc goes back. Marked rows (Space) are what "
            "bulk actions act on. Keys are rebound by id in "
        )
        text.append(str(config_path()), style="bold")
        text.append(' ([keymap] "id" = "keys").')
        return text

    def _table(self, scope: str, title: str) -> Table:
        table = Table(
            title=title,
            title_justify="left",
            title_style="bold",
            expand=True,
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        table.add_column("Key", no_wrap=True, min_width=12)
        table.add_column("Action")
        table.add_column("Binding id", style="dim", no_wrap=True)
        for row in self.entries(scope):
            table.add_row(*row)
        return table

    def entries(self, scope: str) -> list[tuple[str, str, str]]:
        """(keys as typed, what it does, binding id) for one scope, with the user's keymap applied."""
        app = self.app
        out = []
        if scope == "terminal":
            from tui.screens.terminal_screen import _TerminalScreen
            from tui.widgets.terminal import TerminalView

            for b in [*TerminalView.BINDINGS, *_TerminalScreen.BINDINGS]:
                bid = getattr(b, "id", None) or ""
                keys = app._keymap.get(bid) or b.key  # type: ignore[union-attr]
                description = b.description  # type: ignore[union-attr]
                if bid != "terminal.release":
                    description += " (once Ctrl+] has given the keys back)"
                out.append((keymap.key_label(keys), description, bid))
            return out
        if scope == "logs":
            from tui.widgets.logview import LogBody, LogView

            for b in [*LogView.BINDINGS, *LogBody.BINDINGS]:
                bid = getattr(b, "id", None) or ""
                keys = app._keymap.get(bid) or b.key  # type: ignore[union-attr]
                out.append((keymap.key_label(keys), b.description, bid))  # type: ignore[union-attr]
            return out
        for a in keymap.ACTIONS:
            if a.scope == scope:
                keys = app.effective_keys(a.id) if hasattr(app, "effective_keys") else a.keys
                out.append((keymap.key_label(keys), a.description, a.id))
        return out

    def action_scroll(self, where: str) -> None:
        box = self.query_one("#help", VerticalScroll)
        box.scroll_relative(y=1 if where == "down" else -1, animate=False)
