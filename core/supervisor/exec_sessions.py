"""The shim's execs: the processes it starts in its container for ``docker exec`` (see
:mod:`core.runtime.exec` for the request and the process), from the fork to the exit.

The shim is their parent. For each it keeps the request's connection (the caller's handle waits on it for
the ``EXIT`` frame; its EOF means the caller went away), the exec's status file (the exit code goes there
too, for ``exec inspect`` when nobody waits), and with a terminal a copy of the pty master, which it reads
and drops once the caller is gone, so the process never blocks on a full terminal.

Loaded on the first exec request: a shim that is never asked costs nothing more.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import time

from core.errors import Conflict, DockyardError, RuntimeFailure
from core.record import record
from core.runtime import exec as runtime_exec
from core.runtime import init, linux, protocol, tini
from core.runtime.spec import ProcessSpec

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    import selectors as _selectors
    from typing import Any, Protocol

    class Client(Protocol):
        """A connection to the shim (a protocol, so this module and the shim's import no circle)."""

        sock: socket.socket
        closing: bool

    class Shim(Protocol):
        """What the execs need of their shim."""

        cid: str
        runtime: dict[str, Any]
        pid: int
        exit_status: int | None

        @property
        def sel(self) -> _selectors.BaseSelector: ...
        @property
        def clients(self) -> list[Any]: ...

        def send(self, client: Any, data: bytes) -> None: ...
        def flush_client(self, client: Any) -> None: ...


_DRAIN_SIZE = 64 * 1024


@record
class Session:
    pid: int
    client: Client
    status_fd: int | None
    console: int | None  # the process sends its pty master here (-t), once
    master: int | None = None
    caller_gone: bool = False
    draining: bool = False


class ExecSessions:
    def __init__(self, shim: Shim) -> None:
        self.shim = shim
        self.by_pid: dict[int, Session] = {}
        self.by_fd: dict[int, Session] = {}  # console sockets and drained masters in the shim's selector
        self._seccomp: tuple[bytes | None] | None = None  # the container's filter, built once
        self._container: runtime_exec.Joinable | None = None  # what the processes join, while PID 1 lives
        # Forked into the container's pid namespace, a process must be non-dumpable from birth (CVE-2019-5736:
        # no process of the container may open /proc/<pid>/{exe,mem} of our interpreter), and it inherits
        # the flag from us: the shim gives up being dumpable (core dumps of a supervisor) for that.
        linux.set_dumpable(False)

    def start(self, client: Client, request: dict[str, Any], fds: list[int]) -> None:
        """``{"op": "exec"}``: fork the process; the caller hears of it on its sync socket."""
        shim = self.shim
        name = str(shim.runtime.get("name") or shim.cid)
        started = None
        try:
            bpf = self._container_filter()
            container = self._joinable(name)
        except (DockyardError, OSError) as err:
            runtime_exec.refuse_requested(request, fds, err)
        else:
            started = runtime_exec.start_requested(
                request, fds, name=name, container=container, seccomp_bpf=bpf
            )
        if started is None:
            client.closing = True
            shim.flush_client(client)
            return
        session = Session(started.pid, client, started.status_fd, started.console)
        self.by_pid[started.pid] = session
        if started.console is not None:
            self.by_fd[started.console] = session
            shim.sel.register(started.console, selectors.EVENT_READ, "exec")

    def _joinable(self, name: str) -> runtime_exec.Joinable:
        """The running container's namespaces, root and cgroups, opened at its first exec."""
        shim = self.shim
        if not shim.pid or shim.exit_status is not None:
            self.container_ended()
            raise Conflict(f"container {name} is not running")
        if self._container is not None and self._container.pid1 != shim.pid:
            self.container_ended()  # restarted: another PID 1
        if self._container is None:
            self._container = runtime_exec.Joinable.open(name, shim.pid)
        return self._container

    def container_ended(self) -> None:
        """PID 1 is gone (or going): let go of its namespaces."""
        if self._container is not None:
            self._container.close()
            self._container = None

    def _container_filter(self) -> bytes | None:
        """The filter the container's PID 1 runs under (the shim compiled it for the start: a cache hit)."""
        if self._seccomp is None:
            try:
                spec = ProcessSpec.from_dict(self.shim.runtime["spec"]["process"])
            except (KeyError, TypeError, ValueError, IndexError) as err:
                raise RuntimeFailure(f"cannot read the container's seccomp profile: {err}") from None
            self._seccomp = (init.prepare_seccomp(spec),)
        return self._seccomp[0]

    def signal(self, client: Client, payload: bytes) -> None:
        """A SIGNAL frame: the caller gave up while the process started."""
        for session in self.by_pid.values():
            if session.client is client:
                with contextlib.suppress(ProcessLookupError, ValueError, KeyError):
                    os.kill(session.pid, int(json.loads(payload)["signal"]))  # not reaped yet: still ours

    def caller_left(self, client: Client) -> bool:
        """EOF from an exec's caller (detached, or gone): keep the connection for the exit, drain the
        terminal. False if ``client`` is no exec's."""
        for session in self.by_pid.values():
            if session.client is client:
                session.caller_gone = True
                with contextlib.suppress(KeyError, ValueError):
                    self.shim.sel.unregister(client.sock)
                self._drain(session)
                return True
        return False

    def on_readable(self, fd: int) -> None:
        session = self.by_fd.get(fd)
        if session is None:
            return
        if fd == session.console:
            self._forget(fd)
            session.master = _receive_fd(fd)  # None: the process failed (or exec'd) before making one
            os.close(fd)
            session.console = None
            self._drain(session)
            return
        try:
            data = os.read(fd, _DRAIN_SIZE)
        except BlockingIOError:
            # the terminal's open file is shared with the caller's copy, which a stream may have made
            # non-blocking: nothing to read after all, keep watching
            return
        except OSError:  # EIO: no slave open any more
            data = b""
        if not data:
            self._forget(fd)
            session.draining = False

    def reaped(self, pid: int, status: int) -> bool:
        """A child of the shim ended: if it was an exec's process, record and report its exit."""
        session = self.by_pid.pop(pid, None)
        if session is None:
            return False
        code = tini.exit_code(status)
        if session.status_fd is not None:
            with contextlib.suppress(OSError):  # a full disk must not lose the exit for the caller
                os.write(session.status_fd, str(code).encode())
            os.close(session.status_fd)
        for fd in (session.console, session.master):
            if fd is not None:
                self._forget(fd)
                os.close(fd)
        client = session.client
        if client in self.shim.clients:
            self.shim.send(client, protocol.encode_json(protocol.EXIT, {"code": code}))
            client.closing = True
            self.shim.flush_client(client)
        return True

    def close(self) -> None:
        """The shim is going: the processes of a container whose PID 1 ended die with its pid namespace;
        report them (a moment at most), then let go of the rest."""
        deadline = time.monotonic() + 2.0
        while self.by_pid and time.monotonic() < deadline:
            for pid in list(self.by_pid):
                try:
                    done, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done, status = pid, 128 + signal.SIGKILL
                if done:
                    self.reaped(pid, status)
            if self.by_pid:
                time.sleep(0.01)
        for session in list(self.by_pid.values()):
            for fd in (session.console, session.master, session.status_fd):
                if fd is not None:
                    self._forget(fd)
                    os.close(fd)
        self.by_pid.clear()
        self.container_ended()

    def _drain(self, session: Session) -> None:
        if session.caller_gone and session.master is not None and not session.draining:
            session.draining = True
            self.by_fd[session.master] = session
            self.shim.sel.register(session.master, selectors.EVENT_READ, "exec")

    def _forget(self, fd: int) -> None:
        if self.by_fd.pop(fd, None) is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.shim.sel.unregister(fd)


def _receive_fd(sock_fd: int) -> int | None:
    sock = socket.socket(fileno=sock_fd)
    try:
        _data, fds, _flags, _addr = socket.recv_fds(sock, 256, 1)
    except OSError:
        return None
    finally:
        sock.detach()
    for extra in fds[1:]:
        os.close(extra)
    if fds:
        os.set_inheritable(fds[0], False)
    return fds[0] if fds else None
