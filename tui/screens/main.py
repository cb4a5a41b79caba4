"""The main screen: Containers, Images, Networks, Volumes and Logs panes under number keys 1-5.

The panes ask for other screens with messages (a question, the detail view, a shell, an attach, the
logs); this screen answers them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Container
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, TabbedContent, TabPane

from tui.widgets.detail_panel import DetailPanel
from tui.widgets.engines import EngineBar
from tui.widgets.logs_pane import LogsPane
from tui.widgets.panes import ContainersPane, EnginePane, ImagesPane, NetworksPane, VolumesPane

if TYPE_CHECKING:
    from tui.app import DockyardApp
    from tui.keymap import Action

PANES = ("containers", "images", "networks", "volumes", "logs")
TITLES = {
    "containers": "Containers",
    "images": "Images",
    "networks": "Networks",
    "volumes": "Volumes",
    "logs": "Logs",
}
# the detail panel goes beside the list from this many columns on, under it below (80x24: under)
WIDE = 120


class MainScreen(Screen[None]):
    def __init__(self) -> None:
        super().__init__(id="main")
        self.selected: tuple[str, str] | None = None  # (container id, name) under the Containers cursor

    def compose(self) -> ComposeResult:
        yield EngineBar()  # which engine the panes talk to, when not the in-process one (tui.widgets.engines)
        with TabbedContent(id="panes", initial="containers"):
            for i, name in enumerate(PANES, 1):
                with TabPane(f"{i} {TITLES[name]}", id=name):
                    if name == "containers":
                        # master-detail: the list, and the selected container's detail beside or under it
                        with Container(id="containers-split"):
                            yield self._pane(name)
                            yield DetailPanel(id="detail-panel")
                    else:
                        yield self._pane(name)
        yield Footer()

    @staticmethod
    def _pane(name: str) -> Widget:
        return {
            "containers": ContainersPane,
            "images": ImagesPane,
            "networks": NetworksPane,
            "volumes": VolumesPane,
            "logs": LogsPane,
        }[name](id=f"{name}-pane")

    @property
    def dapp(self) -> DockyardApp:
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        self.pane("containers").focus_table()
        self._layout(self.app.size.width)
        self.panel.display = self.dapp.settings.detail_panel
        self._panel_live()
        self.apply(frozenset(self.dapp.snapshot.loaded))
        interval = self.dapp.settings.stats_interval
        if interval > 0:
            self.set_interval(interval, self._sample_stats)

    # ----------------------------------------------------------------- panes

    def pane(self, name: str) -> Any:
        return self.query_one(f"#{name}-pane")

    @property
    def current(self) -> str:
        return self.query_one("#panes", TabbedContent).active or "containers"

    # ------------------------------------------------------------ the detail panel

    @property
    def panel(self) -> DetailPanel:
        return self.query_one("#detail-panel", DetailPanel)

    def _layout(self, width: int) -> None:
        """The panel beside the list on a wide terminal, under it on a narrow one."""
        self.query_one("#containers-split").set_class(width >= WIDE, "-wide")

    def on_resize(self, event: events.Resize) -> None:
        self._layout(event.size.width)

    def _panel_live(self) -> None:
        """The panel works only while someone can see it."""
        live = bool(self.panel.display) and self.current == "containers" and self.app.screen is self
        self.panel.set_live(live)

    def on_screen_suspend(self) -> None:
        self.panel.set_live(False)

    def on_screen_resume(self) -> None:
        self.call_after_refresh(self._panel_live)

    @on(ContainersPane.TogglePanel)
    @on(DetailPanel.Hide)
    def _toggle_panel(self, event: ContainersPane.TogglePanel | DetailPanel.Hide) -> None:
        event.stop()
        panel = self.panel
        panel.display = not panel.display
        if not panel.display:
            self.pane("containers").focus_table()  # the focus may have been in the panel
        settings = self.dapp.settings
        settings.detail_panel = bool(panel.display)
        self._panel_live()
        if panel.display:
            self._follow_cursor()
        if settings.save_to is not None:
            from tui.settings import remember

            try:
                remember(settings.save_to, "detail_panel", settings.detail_panel)
            except OSError as err:
                self.notify(
                    f"Could not save the panel choice in {settings.save_to}: {err}", severity="warning"
                )

    @on(ContainersPane.PanelTab)
    def _panel_tab(self, event: ContainersPane.PanelTab) -> None:
        event.stop()
        if self.panel.display:
            self.panel.next_tab(event.step)

    def _follow_cursor(self) -> None:
        pane = self.pane("containers")
        key = pane.cursor_key()
        if key is None:
            self.panel.follow(None, "No container selected.")
        elif key in pane.projects:
            project = pane.projects[key]
            self.panel.follow(None, f"Compose project {project.name}: {', '.join(project.services)}")
        else:
            row = pane.by_key.get(key)
            self.panel.follow(key, row.name if row else key[:12])

    def active_pane(self) -> Widget:
        return self.pane(self.current)

    def show_pane(self, name: str) -> None:
        self.query_one("#panes", TabbedContent).active = name
        self._focus_pane(name)

    def _focus_pane(self, name: str) -> None:
        pane = self.pane(name)
        if isinstance(pane, LogsPane):
            if self.selected is not None and pane.container != self.selected[0]:
                pane.show(*self.selected)
            pane.focus_viewer()
        else:
            pane.focus_table()
        if name == "volumes":
            self.dapp.load_volume_sizes()

    @on(TabbedContent.TabActivated, "#panes")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            self._focus_pane(event.pane.id)
        self._panel_live()

    def show_logs(self, container: str, name: str) -> None:
        self.selected = (container, name)
        self.pane("logs").show(container, name)
        self.show_pane("logs")

    @on(EnginePane.Highlighted)
    def _highlighted(self, event: EnginePane.Highlighted) -> None:
        if (
            isinstance(event.pane, ContainersPane)
            and event.key is not None
            and event.key not in event.pane.projects  # a compose project's row is no container
        ):
            row = event.pane.by_key.get(event.key)
            if row is not None:
                self.selected = (row.key, row.name)
        if isinstance(event.pane, ContainersPane) and self.panel.display:
            self._follow_cursor()

    # --------------------------------------------------- what the panes ask

    @on(EnginePane.ConfirmAction)
    def _confirm(self, event: EnginePane.ConfirmAction) -> None:
        from tui.screens.confirm import ConfirmScreen

        event.stop()
        then = event.then

        def answered(ok: bool | None) -> None:
            if ok:
                then()

        self.app.push_screen(ConfirmScreen(event.title, event.body), answered)

    @on(EnginePane.OpenDetail)
    def _open_detail(self, event: EnginePane.OpenDetail) -> None:
        from tui.screens.inspect import DetailScreen

        event.stop()
        self.app.push_screen(DetailScreen(event.kind, event.key, event.name, tab=event.tab))

    @on(ContainersPane.ShowLogs)
    def _show_logs(self, event: ContainersPane.ShowLogs) -> None:
        event.stop()
        self.show_logs(event.container, event.name)

    @on(ContainersPane.ShowProjectLogs)
    def _show_project_logs(self, event: ContainersPane.ShowProjectLogs) -> None:
        from tui.screens.project_logs import ProjectLogsScreen
        from tui.widgets.project_logs import Source

        event.stop()
        sources = [Source(cid, name, service) for cid, name, service in event.containers]
        self.app.push_screen(ProjectLogsScreen(self.dapp.engine, event.project, sources))

    @on(ContainersPane.OpenShell)
    def _open_shell(self, event: ContainersPane.OpenShell) -> None:
        from tui.screens.shell import open_shell

        event.stop()
        open_shell(self.dapp, event.container, event.name)

    @on(ContainersPane.OpenAttach)
    def _open_attach(self, event: ContainersPane.OpenAttach) -> None:
        from tui.screens.shell import open_attach

        event.stop()
        open_attach(self.dapp, event.container, event.name)

    def action_target(self, action: Action) -> Widget | None:
        """Where a palette command runs: the pane it belongs to (switching to it if needed)."""
        if action.scope in ("containers", "projects", "logs", "containerlist"):
            self.show_pane("logs" if action.scope == "logs" else "containers")
            return self.active_pane()
        if action.scope in ("images", "networks", "volumes"):
            self.show_pane(action.scope)
            return self.active_pane()
        pane = self.active_pane()
        name = action.action.split("(")[0]
        return pane if hasattr(pane, f"action_{name}") else None

    # ------------------------------------------------------------------ data

    def apply(self, kinds: frozenset[str]) -> None:
        """Show what changed in the app's snapshot: ``kinds`` are DataLoaded kinds, or "tick" (the clock
        moved, so uptimes did)."""
        snap = self.dapp.snapshot
        if not all(self.query(f"#{name}-pane") for name in PANES):
            # a list read can land before every pane is mounted (a busy machine, a screen pushed at once):
            # show it once they are, never fail on a pane that is not there yet
            self.call_after_refresh(self.apply, kinds)
            return
        if kinds & {"containers", "stats", "tick"} and "containers" in snap.loaded:
            self.pane("containers").refresh_from(snap)
            if self.panel.display:
                self._follow_cursor()  # the first rows, or the row under the cursor removed
                shown = self.panel.container
                for c in snap.containers if shown else ():
                    if c.id == shown:
                        self.panel.note_state(c.id, c.status)
        if "images" in kinds and "images" in snap.loaded:
            self.pane("images").refresh_from(snap)
        if kinds & {"volumes", "volume_sizes"} and "volumes" in snap.loaded:
            self.pane("volumes").refresh_from(snap)
        if "networks" in kinds and "networks" in snap.loaded:
            self.pane("networks").refresh_from(snap)
        if "containers" in kinds:
            logs = self.pane("logs")
            if logs.container and all(c.id != logs.container for c in snap.containers):
                logs.show(None)

    def _sample_stats(self) -> None:
        # only while someone can see the numbers: the list is in view and this screen is on top
        if self.app.screen is self and self.current == "containers":
            self.dapp.sample_stats()
