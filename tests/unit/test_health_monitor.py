"""The shim's health monitor (core.supervisor.health) when a probe's result and the container's end race:
the runner's pipe and the shim's SIGCHLD come out of one select in either order, and a probe cut short by
the end of the container is not counted (docker's rule), even before the shim has reaped the container."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from core.containers import health as rules
from core.supervisor.health import HealthMonitor


class _Shim:
    """The little of a shim the monitor's bookkeeping reads and writes."""

    def __init__(self, pid: int) -> None:
        self.cid = "c" * 64
        self.cdir = Path("/nonexistent")
        self.pid = pid
        self.exit_status: int | None = None
        self.states: list[dict[str, Any]] = []
        self.events: list[str] = []

    def update_state(self, **changes: Any) -> dict[str, Any]:
        self.states.append(changes)
        return changes

    def event(self, action: str, **attrs: str) -> None:
        self.events.append(action)


def _failure() -> dict[str, Any]:
    return {"Start": "s", "End": "e", "ExitCode": 137, "Output": ""}


def _monitor(pid: int) -> tuple[HealthMonitor, _Shim]:
    shim = _Shim(pid)
    monitor = HealthMonitor(shim, rules.Settings(args=["true"], retries=1, start_period=0.0))  # type: ignore[arg-type]
    monitor.start(None)
    monitor.probe_started = time.monotonic()  # the probe began after the start (and its period of 0 s)
    return monitor, shim


def test_a_failure_while_the_container_runs_counts() -> None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the stand-in container
        time.sleep(30)
        os._exit(0)
    try:
        monitor, shim = _monitor(pid)
        monitor._record(_failure())
        assert (monitor.health["Status"], monitor.health["FailingStreak"]) == ("unhealthy", 1)
        assert shim.events == ["health_status: unhealthy"]
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_a_failure_after_the_container_ended_but_before_its_reap_is_not_counted() -> None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the stand-in container, which ends at once
        os._exit(3)
    try:
        # a zombie now: ended, not reaped (the shim's exit_status is still None)
        deadline = time.monotonic() + 5
        while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        monitor, shim = _monitor(pid)
        assert shim.exit_status is None
        monitor._record(_failure())
        assert (monitor.health["Status"], monitor.health["FailingStreak"]) == ("starting", 0)
        assert shim.states == [] and shim.events == []
        # and the monitor left the reap to the shim
        assert os.waitpid(pid, 0) == (pid, 3 << 8)
    finally:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
