"""Pull: a prompt for a reference, then one progress bar per layer; Esc cancels a running pull.

The engine reports progress from its download threads, many times a second per layer; the callback only
records the latest state under a lock and the screen redraws ten times a second while a pull runs.
Cancelling makes the next progress report raise :class:`PullCancelled` inside the engine, which unwinds
the download and removes its partial files (the engine cleans up on any exception)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Label, ProgressBar, Static

from tui.failure import one_line

if TYPE_CHECKING:
    from core.models import PullProgress, PullResult
    from tui.app import DockyardApp

DONE_STATES = ("Pull complete", "Already exists")


class PullCancelled(Exception):
    """Raised from the progress callback to stop a pull the user cancelled."""


class LayerRow(Horizontal):
    def __init__(self, layer: str) -> None:
        super().__init__(classes="layer-row")
        self.layer_id = layer
        self._pending: PullProgress | None = None
        self._ready = False  # children composed and mounted

    def compose(self) -> ComposeResult:
        yield Label(self.layer_id, classes="layer-id")
        yield Label("Waiting", classes="layer-status")
        yield ProgressBar(total=None, show_eta=False, classes="layer-bar")

    def on_mount(self) -> None:
        self._ready = True
        if self._pending is not None:
            self.set(self._pending)

    def set(self, p: PullProgress) -> None:
        """Show ``p``; a row whose children are not composed yet keeps it for its mount (the last report of
        a pull may arrive in that gap, and no later redraw would show it)."""
        if not self._ready:
            self._pending = p
            return
        self._pending = None
        self.query_one(".layer-status", Label).update(p.status)
        bar = self.query_one(ProgressBar)
        if p.status in DONE_STATES:
            bar.update(total=max(p.total, 1), progress=max(p.total, 1))
        elif p.total:
            bar.update(total=p.total, progress=min(p.current, p.total))

    def stop(self, word: str) -> None:
        """The pull ended before this layer did ("Cancelled", "Failed"): say so, and stop the bar where it
        was (a bar that never learned its size stops pulsing at empty)."""
        if not self._ready:
            self.call_after_refresh(self.stop, word)
            return
        status = self.query_one(".layer-status", Label)
        if str(status.content) in DONE_STATES:
            return
        status.update(word)
        self.add_class("layer-stopped")
        bar = self.query_one(ProgressBar)
        if bar.total is None:
            bar.update(total=1, progress=0)


class PullScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "cancel_or_close", "Cancel / back", id="pull.cancel"),
        Binding("ctrl+c", "cancel", "Cancel pull", show=False, id="pull.cancel_only"),
    ]

    def __init__(self, reference: str = "") -> None:
        super().__init__(classes="pull-screen")
        self.reference = reference
        self.running = False
        self.cancel = threading.Event()
        self._lock = threading.Lock()
        self._latest: dict[str, PullProgress] = {}
        self._order: list[str] = []
        self._messages: list[str] = []
        self._timer: Timer | None = None
        self.result: PullResult | None = None
        self.error: str | None = None

    @property
    def dapp(self) -> DockyardApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static("Pull an image", id="pull-title")
        yield Input(
            self.reference,
            placeholder="reference, e.g. busybox:latest or registry:5000/app:1",
            id="ref",
            compact=True,
        )
        yield Static("Enter pulls, Esc goes back.", id="pull-status")
        yield VerticalScroll(id="layers")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#ref", Input).focus()

    @on(Input.Submitted, "#ref")
    def _submit(self, event: Input.Submitted) -> None:
        ref = event.value.strip()
        if not ref or self.running:
            return
        self.start(ref)

    def start(self, ref: str) -> None:
        self.reference = ref
        self.running = True
        self.cancel.clear()
        self.result = None
        self.error = None
        self._latest.clear()
        self._order.clear()
        self._messages.clear()
        self.query_one("#layers").remove_children()
        self.query_one("#ref", Input).disabled = True
        self._status(f"Pulling {ref}…  (Esc cancels)")
        self._timer = self.set_interval(0.1, self._redraw)
        self._pull(ref)

    def _progress(self, p: PullProgress) -> None:
        # called from the engine's threads
        if self.cancel.is_set():
            raise PullCancelled("pull cancelled")
        with self._lock:
            if not p.layer:
                self._messages.append(f"{p.status}: {p.message}" if p.message else p.status)
                return
            if p.layer not in self._latest:
                self._order.append(p.layer)
            self._latest[p.layer] = p

    @work(thread=True, exclusive=True, group="pull", exit_on_error=False)
    def _pull(self, ref: str) -> None:
        try:
            result = self.dapp.engine.pull(ref, progress=self._progress)
        except PullCancelled:
            self.app.call_from_thread(self._finished, None, "Cancelled; nothing was kept.")
            return
        except Exception as err:
            self.app.call_from_thread(self._finished, None, f"Error: {one_line(err)}")
            return
        self.app.call_from_thread(self._finished, result, None)

    def _redraw(self) -> None:
        with self._lock:
            order = list(self._order)
            latest = dict(self._latest)
            messages = list(self._messages)
        box = self.query_one("#layers", VerticalScroll)
        rows = {r.layer_id: r for r in box.query(LayerRow)}
        for layer in order:
            row = rows.get(layer)
            if row is None:
                row = LayerRow(layer)
                rows[layer] = row
                row.set(latest[layer])  # kept until the row has composed
                box.mount(row)
            else:
                row.set(latest[layer])
        if messages and self.running:
            self._status(f"{messages[-1]}  (Esc cancels)")

    def _finished(self, result: PullResult | None, error: str | None) -> None:
        self._redraw()
        self.running = False
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.query_one("#ref", Input).disabled = False
        self.result = result
        self.error = error
        if result is not None:
            what = "Downloaded newer image for" if result.new else "Image is up to date for"
            self._status(f"Digest: {result.digest}\nStatus: {what} {result.reference}\nEsc goes back.")
            self.dapp.schedule_refresh("images")
        else:
            word = "Cancelled" if self.cancel.is_set() else "Failed"
            for row in self.query(LayerRow):
                row.stop(word)
            self._status(f"{error}\nEnter retries, Esc goes back.")
        self.query_one("#ref", Input).focus()

    def _status(self, text: str) -> None:
        self.query_one("#pull-status", Static).update(text)

    def action_cancel(self) -> None:
        if self.running:
            self.cancel.set()
            self._status("Cancelling…")

    def action_cancel_or_close(self) -> None:
        if self.running:
            self.action_cancel()
        else:
            self.dismiss(None)
