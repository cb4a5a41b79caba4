"""Live CPU, memory and pids of one container as sparklines over the last few minutes."""

from __future__ import annotations

from collections import deque

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from core.models import ContainerStats
from tui.output import human_size

HISTORY = 120  # samples kept (one a second: two minutes)


class StatsView(Vertical):
    """Feed it samples with :meth:`add`; it keeps HISTORY of each and redraws the three sparklines."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cpu: deque[float] = deque(maxlen=HISTORY)
        self.mem: deque[float] = deque(maxlen=HISTORY)
        self.pids: deque[float] = deque(maxlen=HISTORY)
        self.last: ContainerStats | None = None

    def compose(self) -> ComposeResult:
        yield Static("CPU %: waiting for the first sample…", id="cpu-label", classes="stats-label")
        yield Sparkline([], id="cpu", summary_function=max)
        yield Static("Memory", id="mem-label", classes="stats-label")
        yield Sparkline([], id="mem", summary_function=max)
        yield Static("PIDs", id="pids-label", classes="stats-label")
        yield Sparkline([], id="pids", summary_function=max)

    def not_running(self, name: str, status: str) -> None:
        """The container is not running (the Top tab says the same): no numbers, and the graphs of the
        samples taken while it ran stay as they were."""
        self.last = None
        word = f"{name} is not running ({status})"
        self.query_one("#cpu-label", Static).update(f"CPU: {word}")
        self.query_one("#mem-label", Static).update("Memory: -")
        self.query_one("#pids-label", Static).update("PIDs: -")

    def add(self, s: ContainerStats) -> None:
        self.last = s
        self.cpu.append(s.cpu_percent)
        self.mem.append(float(s.memory_usage))
        self.pids.append(float(s.pids))
        pct = 100.0 * s.memory_usage / s.memory_limit if s.memory_limit else 0.0
        self.query_one("#cpu-label", Static).update(
            f"CPU {s.cpu_percent:6.2f}%   (peak {max(self.cpu):.2f}%)"
        )
        self.query_one("#mem-label", Static).update(
            f"Memory {human_size(s.memory_usage)} / {human_size(s.memory_limit)}  ({pct:.2f}%)"
        )
        self.query_one("#pids-label", Static).update(f"PIDs {s.pids}")
        self.query_one("#cpu", Sparkline).data = _series(self.cpu)
        self.query_one("#mem", Sparkline).data = _series(self.mem)
        self.query_one("#pids", Sparkline).data = _series(self.pids)


def _series(values: deque[float]) -> list[float]:
    """A full window, newest on the right: zeros before the first sample, so the scale starts at zero and
    the first few samples are not stretched across the whole width."""
    return [0.0] * (HISTORY - len(values)) + list(values)
