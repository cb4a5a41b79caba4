"""The shim: one small detached supervisor per running container, like podman's conmon.

Started through ``core.supervisor.shimstart`` (spawned by ``Engine.start``, or forked by ``dockyard run``) in
a new session with no terminal, named ``dockyard-shim ROOT``. It makes the cgroup, forks the container
(``core.runtime.init``), copies the container's output into the json log and to attached clients, serves
the socket protocol (``core.runtime.protocol``: attach, resize, stop, kill), records the exit (code, OOM
kill), tears down what the start made, and restarts the container by its restart policy. The containers
outlive the CLI and the TUI.

It imports only the standard library and the runtime modules it needs (no httpx, pyroute2, rich, textual):
its RSS is what every running container costs.

Liveness: the shim holds ``locks/shim-<id>.lock`` for its whole life. Anyone who can take that lock knows
the shim is gone, and reconciles the container's state (see ``core.containers.lifecycle``).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import selectors
import signal
import socket
import sys
import time
from pathlib import Path

from core.config import Paths
from core.errors import DockyardError
from core.record import field, record
from core.runtime import protocol
from core.state.locks import FileLock
from core.timestamps import now_rfc3339

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from core.runtime.cgroupfs import Primer
    from core.runtime.cgroups import Cgroup
    from core.supervisor.container_process import Spawned
    from core.supervisor.exec_sessions import ExecSessions
    from core.supervisor.health import HealthMonitor


READ_SIZE = 256 * 1024
CLIENT_BUFFER_LIMIT = 4 * 1024 * 1024  # beyond this per client, stop reading the container (backpressure)
MAX_REQUEST = 1 << 20  # the request line (an exec's carries its command and environment)
MAX_REQUEST_FDS = 8  # an exec's sync socket, stdio and status file
DRAIN_AFTER_EXIT = 2.0  # seconds to keep reading output after PID 1 died (its pipes may linger)


@record
class Client:
    sock: socket.socket
    op: str
    want_stdin: bool = False
    outbuf: bytearray = field(default_factory=bytearray)
    reader: protocol.FrameReader = field(default_factory=protocol.FrameReader)
    closing: bool = False


class Shim:
    def __init__(self, paths: Paths, cid: str, ready_fd: int | None) -> None:
        self.paths = paths
        self.cid = cid
        self.cdir = paths.container(cid)
        self.runtime: dict[str, Any] = json.loads((self.cdir / "runtime.json").read_bytes())
        self.ready_fd = ready_fd
        self.sel = selectors.DefaultSelector()
        self.clients: list[Client] = []
        self.listener: socket.socket | None = None
        self.sock_path = paths.shim_socket(cid)
        self.pid = 0
        self.exit_status: int | None = None
        self.manual_stop = False
        self.removing = False
        self.kill_deadline: float | None = None
        self.stop_waiters: list[Client] = []
        self.out_fds: dict[int, str] = {}  # fd -> stream name
        self.stdin_fd: int | None = None
        self.pty_master: int | None = None
        self.log: Any = None
        self.log_error = ""  # why the log cannot be written, while it cannot
        self.cgroup: Cgroup | None = None
        self.paused_reading = False
        self.tty_size: tuple[int, int] | None = None
        self.health: HealthMonitor | None = None  # the health check's probes, when the container has one
        self.execs: ExecSessions | None = None  # the processes started for `exec`, from the first one
        sig_r, sig_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.sig_r = sig_r
        signal.set_wakeup_fd(sig_w)
        for s in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, lambda *_: None)
        self.sel.register(sig_r, selectors.EVENT_READ, "signal")

    # ------------------------------------------------------------------ state

    def update_state(self, **changes: Any) -> dict[str, Any]:
        """Change the container's state record. On a full disk (or over quota) this waits for room, trying
        again with a growing pause and serving the socket meanwhile: a start or an exit that is not
        recorded would leave readers with a state that is false while we live."""
        return self._update_state(changes)

    def _update_state(
        self, changes: dict[str, Any], on_wait: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        """:meth:`update_state`; ``on_wait`` is called once if it has to wait for room."""
        delay = 0.25
        while True:
            if self.removing:
                # `rm -f` (asked now or while we waited) deletes the record: nobody will read this, and the
                # removal, which is what frees the disk, must not wait for room
                return changes
            try:
                return self._write_state(changes)
            except OSError as err:
                if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                with contextlib.suppress(OSError):
                    os.write(
                        2, f"shim: cannot record the state of {self.cid}: {err}; trying again\n".encode()
                    )
            if on_wait is not None:
                on_wait()
                on_wait = None
            self.poll(delay)
            delay = min(delay * 2, 5.0)

    def _write_state(self, changes: dict[str, Any]) -> dict[str, Any]:
        from core.state.records import read_json, write_json

        with FileLock(self.paths.locks, f"container-{self.cid}"):
            try:
                state = read_json(self.cdir / "state.json")
            except FileNotFoundError:
                state = {}
            state.update(changes)
            # a container removed under us (`rm -f`) stays removed: writing would make its directory again
            if self.cdir.is_dir():
                write_json(self.cdir / "state.json", state)
        return state

    def event(self, action: str, **attrs: str) -> None:
        try:
            import core.events as events

            events.emit(
                self.paths,
                "container",
                action,
                self.cid,
                {"name": self.runtime.get("name", ""), "image": self.runtime.get("image", ""), **attrs},
            )
        except Exception:  # an event log problem must never take a container down
            pass

    def log_dropping(self, dropped: int, err: OSError | None) -> None:
        """The log writer lost output (``err``) or, with ``err`` None, writes again after losing ``dropped``
        bytes. The first event may itself not fit on the full disk; the second tells the whole story."""
        if err is not None:
            reason = err.strerror or str(err)
            self.log_error = reason[:1].lower() + reason[1:]
            with contextlib.suppress(OSError):  # shim.log is most likely on the same full disk
                # unbuffered: a failed sys.stderr.write would keep its text and fail again on later writes
                os.write(2, f"shim: cannot write the log of {self.cid}: {reason}; dropping output\n".encode())
            self.event("log_write_failed", error=self.log_error, droppedBytes=str(dropped))
        else:
            self.event("log_write_resumed", droppedBytes=str(dropped))

    def ready(self, obj: dict[str, Any]) -> None:
        if self.ready_fd is None:
            return
        try:
            os.write(self.ready_fd, json.dumps(obj).encode() + b"\n")
        except OSError:
            pass
        if obj.get("final"):
            os.close(self.ready_fd)
            self.ready_fd = None

    # ----------------------------------------------------------------- socket

    def listen(self) -> None:
        self.paths.shims.mkdir(parents=True, exist_ok=True)
        try:
            os.unlink(self.sock_path)
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        s.bind(str(self.sock_path))
        os.chmod(self.sock_path, 0o600)
        s.listen(16)
        self.listener = s
        self.sel.register(s, selectors.EVENT_READ, "listener")

    def accept(self, blocking_timeout: float | None = None) -> Client | None:
        assert self.listener is not None
        if blocking_timeout is not None:
            self.listener.settimeout(blocking_timeout)
        try:
            conn, _ = self.listener.accept()
        except (BlockingIOError, TimeoutError, InterruptedError):
            return None
        finally:
            self.listener.setblocking(False)
        conn.settimeout(2.0)
        fds: list[int] = []
        try:
            line, fds = _read_request_line(conn)
            req = json.loads(line or b"{}")
            if not isinstance(req, dict):
                raise ValueError("not a request")
        except (OSError, ValueError):
            for fd in fds:
                os.close(fd)
            conn.close()
            return None
        conn.setblocking(False)
        client = Client(conn, str(req.get("op", "attach")), bool(req.get("stdin")))
        if req.get("rows") and req.get("cols"):
            self.tty_size = (int(req["rows"]), int(req["cols"]))
            self.resize(*self.tty_size)
        self.clients.append(client)
        self.sel.register(conn, selectors.EVENT_READ, client)
        if client.op == "exec":
            if self.execs is None:
                from core.supervisor.exec_sessions import ExecSessions

                self.execs = ExecSessions(self)
            self.execs.start(client, req, fds)
        else:
            for fd in fds:
                os.close(fd)
            self.handle_request(client, req)
        return client

    def handle_request(self, client: Client, req: dict[str, Any]) -> None:
        op = client.op
        if op == "attach":
            if self.pid and self.exit_status is None:
                self.send(client, protocol.encode_json(protocol.STARTED, {"pid": self.pid}))
            return
        if op == "stop":
            timeout = req.get("timeout")
            self.stop(float(timeout) if timeout is not None else float(self.runtime.get("stop_timeout", 10)))
            if self.pid and self.exit_status is None:
                self.stop_waiters.append(client)
            else:
                self.reply(client, {"ok": True, "running": False})
            return
        if op == "kill":
            if req.get("remove"):
                # `rm -f`: the state record goes with the container, and no restart policy brings it back
                self.removing = self.manual_stop = True
            sig = int(req.get("signal", signal.SIGKILL))
            if self.pid and self.exit_status is None:
                if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
                    self.manual_stop = bool(req.get("manual", True))
                self.event("kill", signal=str(sig))  # before the signal: its die comes after it
                try:
                    os.kill(self.pid, sig)
                except ProcessLookupError:
                    pass
                self.reply(client, {"ok": True})
            else:
                self.reply(client, {"ok": False, "error": "container is not running"})
            return
        if op == "status":
            answer: dict[str, Any] = {
                "ok": True,
                "pid": self.pid,
                "running": bool(self.pid and self.exit_status is None),
            }
            if self.exit_status is not None:  # exited, maybe not recorded yet (a full disk): what `ps` lists
                code = os.waitstatus_to_exitcode(self.exit_status)
                answer["exit_code"] = 128 - code if code < 0 else code
            self.reply(client, answer)
            return
        self.reply(client, {"ok": False, "error": f"unknown request {op!r}"})

    def reply(self, client: Client, obj: dict[str, Any]) -> None:
        self.send(client, protocol.encode_json(protocol.REPLY, obj))
        client.closing = True
        self.flush_client(client)

    def send(self, client: Client, data: bytes) -> None:
        client.outbuf += data
        self.flush_client(client)

    def flush_client(self, client: Client) -> None:
        while client.outbuf:
            try:
                n = client.sock.send(client.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.drop_client(client)
                return
            del client.outbuf[:n]
        if client.closing and not client.outbuf:
            self.drop_client(client)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.outbuf else 0)
        try:
            self.sel.modify(client.sock, events, client)
        except (KeyError, ValueError):
            pass

    def drop_client(self, client: Client) -> None:
        if client in self.clients:
            self.clients.remove(client)
        try:
            self.sel.unregister(client.sock)
        except (KeyError, ValueError):
            pass
        client.sock.close()

    def client_input(self, client: Client) -> None:
        try:
            data = client.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            if not (self.execs is not None and client.op == "exec" and self.execs.caller_left(client)):
                self.drop_client(client)
            return
        try:
            frames = client.reader.feed(data)
        except ValueError:
            self.drop_client(client)
            return
        for kind, payload in frames:
            if kind == protocol.SIGNAL and client.op == "exec" and self.execs is not None:
                self.execs.signal(client, payload)
            elif kind == protocol.STDIN and client.want_stdin:
                self.write_stdin(payload)
            elif kind == protocol.STDIN_EOF and client.want_stdin:
                self.close_stdin()
            elif kind == protocol.RESIZE:
                size = json.loads(payload)
                self.resize(int(size["rows"]), int(size["cols"]))

    def write_stdin(self, data: bytes) -> None:
        fd = self.pty_master if self.pty_master is not None else self.stdin_fd
        if fd is None:
            return
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except OSError:
                return
            view = view[n:]

    def close_stdin(self) -> None:
        if self.stdin_fd is not None:
            os.close(self.stdin_fd)
            self.stdin_fd = None
        elif self.pty_master is not None:
            self.write_stdin(b"\x04")  # a terminal's EOF is ^D

    def resize(self, rows: int, cols: int) -> None:
        if self.pty_master is not None:
            from core.runtime.linux import set_window_size

            try:
                set_window_size(self.pty_master, rows, cols)
            except OSError:
                pass

    def broadcast(self, kind: int, payload: bytes) -> None:
        frame = protocol.encode(kind, payload)
        for c in list(self.clients):
            if c.op == "attach":
                self.send(c, frame)
        self.apply_backpressure()

    def apply_backpressure(self) -> None:
        full = any(len(c.outbuf) > CLIENT_BUFFER_LIMIT for c in self.clients)
        if full and not self.paused_reading:
            for fd in self.out_fds:
                self.sel.unregister(fd)
            self.paused_reading = True
        elif not full and self.paused_reading:
            for fd in self.out_fds:
                self.sel.register(fd, selectors.EVENT_READ, "output")
            self.paused_reading = False

    # -------------------------------------------------------------- container

    def stop(self, timeout: float) -> None:
        self.manual_stop = True
        if not self.pid or self.exit_status is not None:
            return
        from core.errors import InvalidArgument
        from core.runtime.signals import parse_signal

        try:
            sig = parse_signal(self.runtime.get("stop_signal") or "SIGTERM")
        except InvalidArgument:  # the image's StopSignal is not checked at create: docker's default then
            sig = signal.SIGTERM
        self.event("kill", signal=str(int(sig)))  # docker's order: kill, (kill 9,) die, stop
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + max(0.0, timeout)
        self.kill_deadline = deadline if self.kill_deadline is None else min(self.kill_deadline, deadline)

    def take_over(self, started: Spawned) -> None:
        """Serve a container just spawned: its cgroup, its output (watched), its stdin or terminal."""
        self.pid = started.pid
        self.cgroup = started.cgroup
        self.pty_master = started.console_fd
        self.stdin_fd = started.stdin_fd
        for fd, stream in started.outputs.items():
            os.set_blocking(fd, False)
            self.out_fds[fd] = stream
            self.sel.register(fd, selectors.EVENT_READ, "output")

    def read_output(self, fd: int) -> None:
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as err:
            if err.errno != errno.EIO:  # EIO: the pty's last slave closed
                raise
            data = b""
        stream = self.out_fds[fd]
        if not data:
            if not self.paused_reading:
                self.sel.unregister(fd)
            del self.out_fds[fd]
            os.close(fd)
            if fd == self.pty_master:
                self.pty_master = None
            return
        self.log.write(stream, data)
        self.broadcast(protocol.STDOUT if stream == "stdout" else protocol.STDERR, data)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            held = sys.modules.get("core.network.ports")  # the userland proxy, a child of ours
            if pid == self.pid:
                self.exit_status = status
                if self.execs is not None:
                    self.execs.container_ended()  # its namespaces must not outlive it in our hands
            elif self.execs is not None and self.execs.reaped(pid, status):
                pass
            elif held is not None and held.proxy_reaped(pid):
                sys.stderr.write(f"shim: the userland proxy (pid {pid}) ended: {status:#x}\n")
            elif self.health is not None:
                self.health.reaped(pid)

    def run_once(self) -> int:
        """One life of the container: start, serve until it exits, record the exit. Returns the exit code."""
        from core.supervisor.container_process import spawn

        try:
            started = spawn(self.cid, self.runtime, self.tty_size)
        except DockyardError as err:
            code, msg = err.exit_code, str(err) or "container failed to start"
            # a --rm container that cannot start goes too (as docker's), before the starter hears why
            if not (self.runtime.get("auto_remove") and self.remove_self(code)):
                self.update_state(
                    status="exited", pid=0, exit_code=code, error=msg, finished_at=now_rfc3339()
                )
            self.broadcast(protocol.ERROR, json.dumps({"code": code, "message": msg}).encode())
            self.ready({"ok": False, "code": code, "message": msg, "final": True})
            self.finish_clients(code, False, msg)
            return code
        self.take_over(started)
        self.exit_status = None
        health = self.start_health()
        self.update_state(
            status="running",
            pid=self.pid,
            shim_pid=os.getpid(),
            started_at=now_rfc3339(),
            exit_code=0,
            error="",
            oom_killed=False,
            finished_at="",
            **({"health": health} if health is not None else {}),
        )
        self.event("start")
        self.broadcast(protocol.STARTED, json.dumps({"pid": self.pid}).encode())
        self.ready({"ok": True, "pid": self.pid, "final": True})
        self.loop_until_exit()
        final_health = self.health.stop() if self.health is not None else None
        status = self.exit_status if self.exit_status is not None else 0
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
        oom = False
        if self.cgroup is not None:
            try:
                oom = bool(self.cgroup.oom_killed())
            except OSError:
                oom = False
            if oom:
                code = 137
        self.log.flush()
        if self.log.dropped:
            # still failing as the container ends: no marker record will say it, the event does
            self.event("log_write_failed", error=self.log_error, droppedBytes=str(self.log.dropped))
        if self.runtime.get("auto_remove") and self.remove_self(code):
            self.finish_clients(code, oom, "")
            return code
        # (a --rm container that could not be hidden, see shim.log, stays exited for `rm` to finish)
        told = False

        def tell() -> None:
            nonlocal told
            told = True
            self.event("die", exitCode=str(code))  # before the clients hear of the exit, as docker's
            self.finish_clients(code, oom, "")

        exited: dict[str, Any] = dict(
            status="exited", pid=0, exit_code=code, oom_killed=oom, finished_at=now_rfc3339()
        )
        if final_health is not None:
            exited["health"] = final_health
        # on a full disk the record waits for room; whoever waits for the exit (stop, an attached run)
        # hears of it meanwhile
        self._update_state({**exited, "manual_stop": self.manual_stop}, on_wait=tell)
        if not told:
            tell()
        self.teardown_run()
        return code

    def finish_clients(self, code: int, oom: bool, error: str) -> None:
        payload = json.dumps({"code": code, "oom_killed": oom, "error": error}).encode()
        for c in list(self.clients):
            if c.op == "attach":
                self.send(c, protocol.encode(protocol.EXIT, payload))
                c.closing = True
                self.flush_client(c)
        for c in self.stop_waiters:
            self.reply(c, {"ok": True, "exit_code": code})
        self.stop_waiters.clear()
        # give slow clients a moment to take their last bytes
        deadline = time.monotonic() + 2.0
        while any(c.outbuf for c in self.clients) and time.monotonic() < deadline:
            self.poll(0.05)

    def loop_until_exit(self) -> None:
        exit_seen_at: float | None = None
        while True:
            if self.exit_status is not None:
                if exit_seen_at is None:
                    exit_seen_at = time.monotonic()
                if not self.out_fds or time.monotonic() - exit_seen_at > DRAIN_AFTER_EXIT:
                    break
            timeout = 1.0
            if self.kill_deadline is not None:
                timeout = max(0.0, min(timeout, self.kill_deadline - time.monotonic()))
            if exit_seen_at is not None:
                timeout = min(timeout, 0.05)
            elif self.health is not None:
                timeout = min(timeout, self.health.wait_time())
            self.poll(timeout)
            if self.health is not None and self.exit_status is None:
                self.health.tick()
            if self.kill_deadline is not None and time.monotonic() >= self.kill_deadline:
                self.kill_deadline = None
                if self.exit_status is None:
                    self.event("kill", signal=str(int(signal.SIGKILL)))  # the stop timeout ran out
                    self.kill_all()
        for fd in list(self.out_fds):
            # output still open after the drain window: whoever holds it is gone from our pid namespace
            self.read_output(fd) if not self.paused_reading else None
            if fd in self.out_fds:
                if not self.paused_reading:
                    self.sel.unregister(fd)
                os.close(fd)
                del self.out_fds[fd]
        self.kill_deadline = None

    def kill_all(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.cgroup is not None:
            try:
                self.cgroup.kill_all(signal.SIGKILL)
            except OSError:
                pass

    def poll(self, timeout: float) -> None:
        for key, mask in self.sel.select(timeout):
            tag = key.data
            if tag == "signal":
                self.on_signal()
            elif tag == "listener":
                self.accept()
            elif tag == "output":
                self.read_output(key.fd)
            elif tag == "health":
                if self.health is not None:
                    self.health.on_readable()
            elif tag == "exec":
                if self.execs is not None:
                    self.execs.on_readable(key.fd)
            elif isinstance(tag, Client):
                if mask & selectors.EVENT_WRITE:
                    self.flush_client(tag)
                    self.apply_backpressure()
                if mask & selectors.EVENT_READ and tag in self.clients:
                    self.client_input(tag)

    def on_signal(self) -> None:
        try:
            data = os.read(self.sig_r, 512)
        except BlockingIOError:
            data = b""
        for signum in data:
            if signum == signal.SIGCHLD:
                self.reap()
            elif signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                # the host is shutting down or someone asked the shim to go: stop the container cleanly
                self.stop(float(self.runtime.get("stop_timeout", 10)))
        self.reap()

    def start_health(self) -> dict[str, Any] | None:
        """The health check's probes begin with this start: State.Health to record with it (starting), or
        None when the container has no health check."""
        hc = self.runtime.get("healthcheck")
        if not hc:
            return None
        from core.containers.health import Settings

        settings = Settings.of(hc, self.runtime.get("shell") or None)
        if settings is None:
            return None  # NONE, or a type docker ignores
        from core.supervisor.health import HealthMonitor

        if self.health is None:
            self.health = HealthMonitor(self, settings)
        try:
            previous = json.loads((self.cdir / "state.json").read_bytes()).get("health")
        except (OSError, ValueError):
            previous = None
        return self.health.start(previous)

    def teardown_run(self) -> None:
        if self.stdin_fd is not None:
            os.close(self.stdin_fd)
            self.stdin_fd = None
        if self.pty_master is not None:
            os.close(self.pty_master)
            self.pty_master = None
        if self.cgroup is not None:
            try:
                self.cgroup.destroy()
            except OSError:
                pass
            self.cgroup = None

    # ---------------------------------------------------------------- restart

    def should_restart(self, code: int) -> bool:
        self._reread_updatable()
        policy = self.runtime.get("restart", {"name": "no", "max": 0})
        name, maximum = policy.get("name", "no"), int(policy.get("max", 0))
        if name == "no" or self.runtime.get("auto_remove"):
            return False
        if self.manual_stop:
            return False
        if name == "on-failure":
            if code == 0:
                return False
            state = json.loads((self.cdir / "state.json").read_bytes())
            return not (maximum and int(state.get("restart_count", 0)) >= maximum)
        return name in ("always", "unless-stopped")

    def _reread_updatable(self) -> None:
        """``docker update`` rewrites the restart policy and the limits in runtime.json while we run."""
        try:
            latest = json.loads((self.cdir / "runtime.json").read_bytes())
        except (OSError, ValueError):
            return
        for key in ("restart", "cgroup"):
            if key in latest:
                self.runtime[key] = latest[key]

    def serve(self, wait_attach: bool) -> int:
        from core.logs import LogWriter

        log_cfg = self.runtime.get("log", {})
        # a log that cannot be written (disk full, quota) loses output, never the container's supervisor
        self.log = (
            LogWriter(
                Path(log_cfg["path"]),
                max_size=log_cfg.get("max_size"),
                max_file=int(log_cfg.get("max_file", 1)),
                on_drop=self.log_dropping,
                attrs=log_cfg.get("attrs"),
            )
            if log_cfg.get("path")
            else _NoLog()  # --log-driver none
        )
        self.listen()
        self.ready({"listening": True})
        if wait_attach:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(c.op == "attach" for c in self.clients):
                self.accept(blocking_timeout=max(0.01, deadline - time.monotonic()))
        backoff = 0.1
        while True:
            started = time.monotonic()
            code = self.run_once()
            if not self.should_restart(code):
                break
            if time.monotonic() - started >= 10:
                backoff = 0.1  # docker resets its backoff once a container stayed up 10 s
            state = self.update_state(status="restarting")
            self.update_state(restart_count=int(state.get("restart_count", 0)) + 1)
            self.event("restart")
            wake = time.monotonic() + backoff
            while time.monotonic() < wake and not self.manual_stop:
                self.poll(max(0.0, wake - time.monotonic()))
            if self.manual_stop:
                self.update_state(status="exited")
                break
            backoff = min(backoff * 2, 60.0)
        self.log.close()
        self.close()
        # networks (and anything else that lives as long as the shim): released while we still hold our
        # lock, so a new start of this container waits for it
        from core.supervisor.container_process import cleanup_after_shim

        cleanup_after_shim(self.paths, self.cid)
        return 0

    def remove_self(self, code: int) -> bool:
        """``--rm``: remove the container before any client hears of its exit, as docker's ``run --rm``
        waits for the removal: when it returns, nothing of the container is left (an ``rmi`` of its image
        right after must not find it using the image, nor a ``.tmp-*`` directory of it). Hide it first (one
        rename: gone from every listing), record die and destroy, then the network, cgroup, files and
        anonymous volumes. False if it could not be hidden (it stays, for ``rm``)."""
        from core.containers.remove import announce_removal, purge_hidden

        hidden = self.hide()
        if hidden is None:
            return False
        self.event("die", exitCode=str(code))
        announce_removal(self.paths, hidden)
        # networks: free the address, veth, netns and published ports (core.network); a start that wants
        # one of the ports meanwhile waits for this
        from core.network import shimside

        shimside.release(self.paths, self.cid)
        self.teardown_run()
        purge_hidden(self.paths, hidden)
        return True

    def hide(self) -> Any:
        self.log.close()
        try:
            from core.containers.remove import hide_container

            with FileLock(self.paths.locks, f"container-{self.cid}") as lock:
                hidden = hide_container(self.paths, self.cid, volumes=True)
                lock.release(remove=True)  # the container is gone: its lock file goes too
            return hidden
        except Exception as err:  # the record stays; `rm` can finish it
            sys.stderr.write(f"shim: auto-remove of {self.cid} failed: {err}\n")
            return None

    def close(self) -> None:
        if self.execs is not None:
            self.execs.close()
        for c in list(self.clients):
            self.drop_client(c)
        if self.listener is not None:
            self.sel.unregister(self.listener)
            self.listener.close()
            self.listener = None
        try:
            os.unlink(self.sock_path)
        except FileNotFoundError:
            pass


def _read_request_line(conn: socket.socket) -> tuple[bytes, list[int]]:
    """The request's JSON line and the fds that came with it, and not a byte more: what follows (an
    attach's first input, sent before the container has started) stays in the socket until it can be
    used. Each round peeks at what is there (a peek leaves the fds queued) and takes it up to the line's
    end, or all of it, after which the next peek waits for more."""
    data = b""
    fds: list[int] = []
    try:
        while not data.endswith(b"\n"):
            peeked = conn.recv(65536, socket.MSG_PEEK)
            if not peeked or len(data) + len(peeked) > MAX_REQUEST:
                raise ValueError("no request line")
            end = peeked.find(b"\n")
            chunk, got, _flags, _addr = socket.recv_fds(
                conn, end + 1 if end >= 0 else len(peeked), MAX_REQUEST_FDS
            )
            for fd in got:
                # received fds come inheritable: an exec's sync socket must not outlive the execve
                os.set_inheritable(fd, False)
            fds += got
            if not chunk:
                raise ValueError("no request line")
            data += chunk
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return data[:-1], fds


def _warm_up() -> None:
    """Load what a start needs while the starter is still creating the container (it pre-spawns us)."""
    import core.events
    import core.logs  # noqa: F401
    from core.runtime import cgroups, init, seccomp  # noqa: F401
    from core.runtime.spec import DEFAULT_CAPABILITIES
    from core.supervisor import container_process  # noqa: F401

    try:  # the default profile for the default capabilities: the common case, compiled once and cached
        seccomp.build_filter(seccomp.default_profile(), list(DEFAULT_CAPABILITIES))
    except Exception:
        pass


def _read_order(ctl_fd: int) -> dict[str, Any] | None:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(ctl_fd, 4096)
        if not chunk:
            return None  # the starter gave up (create failed, or it was interrupted)
        data += chunk
    os.close(ctl_fd)
    order: dict[str, Any] = json.loads(data)
    return order


def serve(root: str, run: str, ready_fd: int, ctl_fd: int, primer: Primer) -> int:
    """Warm up, wait for ``{"id": ..., "attach": bool}`` on the control pipe, then run that container until
    it is done. The starter launches us before its container exists, to overlap our start-up with its own
    work (``core.supervisor.shimstart``), which started ``primer``."""
    _warm_up()
    order = _read_order(ctl_fd)
    primer.stop()  # before any fork: no thread may be running then
    if order is None:
        return 0
    cid = str(order["id"])
    paths = Paths(Path(root), Path(run))
    # our own diagnostics go to the container's shim.log from now on
    log_fd = os.open(
        paths.container(cid) / "shim.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600
    )
    os.dup2(log_fd, 2)
    os.close(log_fd)
    lock = FileLock(paths.locks, f"shim-{cid}")
    if not lock.acquire(blocking=False):
        os.write(
            ready_fd,
            b'{"ok": false, "code": 125, "message": "container is already running", "final": true}\n',
        )
        return 1
    from core.runtime.linux import set_child_subreaper

    # orphans of the container (its PID 1's middle process) come back to us, so we can wait() for them
    set_child_subreaper()
    shim = Shim(paths, cid, ready_fd)
    try:
        return shim.serve(wait_attach=bool(order.get("attach")))
    except BaseException as err:
        shim.ready({"ok": False, "code": 125, "message": f"shim failed: {err}", "final": True})
        try:
            # once, without update_state's waiting for room: we are going down
            shim._write_state(
                dict(
                    status="exited",
                    pid=0,
                    exit_code=125,
                    error=f"shim failed: {err}",
                    finished_at=now_rfc3339(),
                )
            )
        except Exception:
            pass
        raise
    finally:
        # a removed container's shim lock goes with it (`run --rm`, or `rm -f` while we were finishing)
        lock.release(remove=not paths.container(cid).exists())


class _NoLog:
    """``--log-driver none``: the output goes to attached clients only."""

    dropped = 0

    def write(self, stream: str, data: bytes) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
