"""A compose project's logs, merged (``docker compose logs -f``): tui.widgets.project_logs on a screen of its
own, over the main screen; Esc goes back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from tui.keymap import bindings
from tui.widgets.project_logs import ProjectLogView, Source

if TYPE_CHECKING:
    from core.interface import Engine


class ProjectLogsScreen(Screen[None]):
    BINDINGS = bindings("projectlogs")

    def __init__(self, engine: Engine, project: str, sources: Sequence[Source]) -> None:
        super().__init__(classes="project-logs-screen")
        self.engine = engine
        self.project = project
        self.sources = list(sources)

    def compose(self) -> ComposeResult:
        yield ProjectLogView(self.engine, self.project, self.sources, id="project-logs")
        yield Footer()

    @property
    def view(self) -> ProjectLogView:
        return self.query_one(ProjectLogView)

    def on_mount(self) -> None:
        self.view.richlog.focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_toggle_service(self, number: int) -> None:
        self.view.toggle_service(number)

    def action_show_all(self) -> None:
        self.view.show_all()

    def action_timestamps(self) -> None:
        self.view.toggle_timestamps()

    def action_end(self) -> None:
        self.view.follow_end()
