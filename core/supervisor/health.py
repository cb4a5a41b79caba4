"""The shim's health checks: probes run as execs in the container, on docker's schedule, without ever
blocking the shim.

Each probe runs in a *runner*: a process forked from the shim for that one probe. The runner starts the
command in the container with the exec machinery (``core.runtime.exec``: it asks the shim over its socket,
as ``dockyard exec`` does, for the same namespaces, cgroup, user and security), collects its stdout and
stderr (the first 4096 bytes), kills it when it outlives the timeout, waits for it, records docker's
``exec_create`` / ``exec_start`` / ``exec_die`` events, and writes the result as one JSON object into a pipe
that the shim watches in its selector next to the container's output and its clients. So the shim copies
logs and serves attach while a probe starts, runs or hangs; it reaps the runner and the probe's process on
SIGCHLD like any child.

The shim alone writes State.Health (through its state updates, under the container's lock), and emits
``health_status: healthy|unhealthy`` when the status changes, as docker's daemon does.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import selectors
import signal
import time

from core.containers import health as rules
from core.timestamps import now_rfc3339

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    import selectors as _selectors
    from pathlib import Path
    from typing import Any, NoReturn, Protocol

    from core.config import Paths

    class Shim(Protocol):
        """What the probes need of their shim (a protocol, so this module and the shim's import no
        circle)."""

        cid: str
        cdir: Path
        paths: Paths
        runtime: dict[str, Any]

        @property
        def sel(self) -> _selectors.BaseSelector: ...

        pid: int
        exit_status: int | None

        def update_state(self, **changes: Any) -> dict[str, Any]: ...
        def event(self, action: str, **attrs: str) -> None: ...


_READ = 65536


class HealthMonitor:
    """One container's probes, for the life of its shim (a restart starts the schedule again)."""

    def __init__(self, shim: Shim, settings: rules.Settings) -> None:
        import core.runtime.exec  # noqa: F401  (loaded once here, not again in every runner)

        self.shim = shim
        self.settings = settings
        self.health: dict[str, Any] = {}
        self.started = 0.0  # monotonic time the container started
        self.due: float | None = None  # when the next probe starts; None: stopped
        self.runner = 0  # pid of the runner of the probe in flight, until reaped
        self.result_fd: int | None = None  # its result pipe, until read to the end
        self.result = bytearray()
        self.probe_started = 0.0

    # -------------------------------------------------------------------------------------- schedule

    def start(self, previous: dict[str, Any] | None) -> dict[str, Any]:
        """The container has just started: State.Health is starting (to be recorded by the caller with
        the start), the first probe after the first interval."""
        self._abandon()
        self.started = time.monotonic()
        self.health = rules.starting(previous)
        self.due = self.started + rules.next_delay(self.settings, 0.0, rules.STARTING)
        return self.health

    def wait_time(self) -> float:
        """Seconds until a probe is due (the shim's poll timeout); an hour when none is."""
        if self.due is None or self.result_fd is not None:
            return 3600.0
        return max(0.0, self.due - time.monotonic())

    def tick(self) -> None:
        """Start the probe that is due, if one is and none is in flight."""
        now = time.monotonic()
        if self.due is None or self.result_fd is not None or now < self.due:
            return
        if self.runner:  # its result is in; it is normally reaped by now (SIGCHLD), else see to it here
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(self.runner, os.WNOHANG)[0] == 0:
                    return
            self.runner = 0
        if self._paused():
            # docker stops probing a paused container; exec into a frozen cgroup would hang until it thaws
            self.due = now + self.settings.interval
            return
        self._launch()

    def stop(self) -> dict[str, Any] | None:
        """The container has exited: no more probes (one in flight is killed); its final State.Health,
        unhealthy as docker reports a stopped container, or None if it never had one."""
        self.due = None
        self._abandon()
        return rules.stopped(self.health) if self.health else None

    def _container_ended(self) -> bool:
        """The container's init has exited though the shim has not reaped it yet: the runner's pipe and the
        SIGCHLD can come out of one select in either order, and a probe killed by the end of its pid
        namespace must not count as a failure. WNOWAIT looks without reaping (the shim's reap does that)."""
        if self.shim.pid <= 0:
            return True  # between runs: no container to probe
        try:
            return os.waitid(os.P_PID, self.shim.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True  # reaped already: ended

    def _paused(self) -> bool:
        try:
            with open(self.shim.cdir / "state.json", "rb") as f:
                return bool(json.load(f).get("status") == "paused")
        except (OSError, ValueError):
            return False

    # ----------------------------------------------------------------------------------------- probes

    def _launch(self) -> None:
        r, w = os.pipe2(os.O_CLOEXEC)
        self.probe_started = time.monotonic()
        start = now_rfc3339()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the runner; it reports through the pipe
            try:
                os.close(r)
                _runner(self.shim, self.settings, start, w)
            finally:
                os._exit(0)
        os.close(w)
        os.set_blocking(r, False)
        self.runner, self.result_fd = pid, r
        self.result.clear()
        self.shim.sel.register(r, selectors.EVENT_READ, "health")

    def on_readable(self) -> None:
        """The runner's pipe is readable: more of the result, or its end."""
        fd = self.result_fd
        if fd is None:
            return
        try:
            data = os.read(fd, _READ)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.result += data
            return
        self._close_pipe()
        try:
            result = json.loads(bytes(self.result))
            if not isinstance(result, dict) or "ExitCode" not in result:
                raise ValueError("no result")
        except ValueError:
            now = now_rfc3339()
            lost = "health check ended without a result"
            result = {"Start": now, "End": now, "ExitCode": -1, "Output": lost}
        self._record(result)

    def reaped(self, pid: int) -> bool:
        """The shim reaped ``pid``: True if it was our runner."""
        if pid and pid == self.runner:
            self.runner = 0
            return True
        return False

    def _record(self, result: dict[str, Any]) -> None:
        if self.due is None or self.shim.exit_status is not None or self._container_ended():
            return  # the container has ended meanwhile: as docker, a probe cut short by that is not counted
        before = self.health.get("Status")
        since_start = self.probe_started - self.started
        self.health = rules.record_result(self.health, result, self.settings, since_start)
        self.shim.update_state(health=self.health)
        after = self.health["Status"]
        if after != before:
            self.shim.event(f"health_status: {after}")
        now = time.monotonic()
        self.due = now + rules.next_delay(self.settings, now - self.started, after)

    def _close_pipe(self) -> None:
        fd, self.result_fd = self.result_fd, None
        if fd is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.shim.sel.unregister(fd)
            os.close(fd)

    def _abandon(self) -> None:
        """Forget a probe in flight: its runner is killed (the shim reaps it), its result never read."""
        self._close_pipe()
        if self.runner:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.runner, signal.SIGKILL)


# ------------------------------------------------------------------------------------------- runner


def _runner(shim: Shim, s: rules.Settings, start: str, out_fd: int) -> NoReturn:
    """In the process forked for one probe: run it, write its result to ``out_fd``, exit."""
    gc.disable()  # the shim's objects are not ours: none may be finalized here (their fds are closed)
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    from core.runtime import linux

    linux.set_name("dockyard-probe")
    # nothing of the shim's stays open here: the container's stdin must see EOF when the shim closes it
    linux.close_fds_above(out_fd)
    result = _probe(shim, s, start)
    data = json.dumps(result).encode()
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(out_fd, view) :]
        except OSError:
            break
    os._exit(0)


def _probe(shim: Shim, s: rules.Settings, start: str) -> dict[str, Any]:
    from core.errors import DockyardError
    from core.runtime.exec import ExecOptions, Target, exec_in_container
    from core.state.ids import new_id

    exec_id = new_id()
    # as docker's events name it: the entrypoint, then the arguments joined by spaces
    described = f"{s.args[0]} {' '.join(s.args[1:])}"
    shim.event(f"exec_create: {described}", execID=exec_id)
    target = Target(
        shim.cid,
        str(shim.runtime.get("name", "")),
        "running",
        shim.pid,
        shim.cdir,
        shim.paths.shim_socket(shim.cid),
    )
    try:
        handle = exec_in_container(target, ExecOptions(list(s.args)))
    except DockyardError as err:
        return {"Start": start, "End": now_rfc3339(), "ExitCode": -1, "Output": str(err)}
    shim.event(f"exec_start: {described}", execID=exec_id)
    kept = bytearray()
    truncated = False

    def take(fd: int) -> bool:
        """Read what ``fd`` has now; False at its end or when it has nothing more for now."""
        nonlocal truncated
        try:
            data = os.read(fd, _READ)
        except BlockingIOError:
            return False
        if not data:
            return False
        room = rules.MAX_OUTPUT - len(kept)
        kept.extend(data[: max(0, room)])
        truncated = truncated or len(data) > room
        return True

    outputs = {fd for fd in (handle.stdout, handle.stderr) if fd is not None}
    deadline = time.monotonic() + s.timeout
    timed_out = False
    with handle:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([*outputs, handle.exit_fd], [], [], remaining)
            if handle.exit_fd in ready:
                break
            for fd in ready:
                if not take(fd):
                    outputs.discard(fd)
        if timed_out:
            handle.kill(signal.SIGKILL)
        code = handle.wait()
        for fd in outputs:  # what it wrote before it ended (a child of it may hold the pipe open: no wait)
            os.set_blocking(fd, False)
            for _ in range(64):  # bounded: a child of it may go on writing
                if not take(fd):
                    break
    shim.event("exec_die", execID=exec_id, exitCode=str(code))
    output = rules.kept_output(bytes(kept), truncated)
    if timed_out:
        code, output = -1, rules.timeout_output(s, output)
    return {"Start": start, "End": now_rfc3339(), "ExitCode": code, "Output": output}


__all__ = ["HealthMonitor"]
