"""``exec``: start a new process inside a running container (runc's ``exec``, in Python).

The container's supervisor starts it, as containerd-shim does: the shim (:mod:`core.supervisor.shim`) is
already running, small and warm, it is the parent of the container's PID 1 (so that pid cannot be
recycled under it), and it outlives any caller::

    caller (CLI / TUI / API server)  ── request + fds over the shim's socket ──▶  shim
                                                                                   │ setns(pid) for its
                                                                                   │ children, then back
                                                                                   └─ fork ──▶ process

The **caller** (:func:`exec_in_container`) works out the process (``docker exec``'s flags over the
container's spec), makes the exec's stdio pipes and a sync socket, and sends them with ``{"op": "exec"}``.
The **shim** (:func:`start_requested`) opens the container's namespaces, root and cgroup.procs from its
PID 1, points its own ``pid_for_children`` at the container's pid namespace for one fork and back, and
forks the process. It is the process's parent: it reaps it (an exec'd process never becomes a zombie under
the container's PID 1), writes the exit code to the exec's status file and sends it to the caller as an
``EXIT`` frame on the request's connection (:meth:`ExecHandle.wait`). With a terminal it keeps a copy of
the pty master: once the caller goes away (EOF on the connection: detach keys, ``-d``, a closed TUI pane)
it drains the terminal, so the process keeps running instead of blocking on a full pty or dying of SIGHUP.
The **process**, born in the container's pid namespace, takes the exec's stdio as 0/1/2, joins the
container's cgroup, then its cgroup, ipc, uts, net and mount namespaces, checks its root is the
container's, then terminal, user, rlimits, capabilities, no_new_privs, seccomp (the container's filter,
which the shim compiled when it started the container), closes every fd above 2 and execs.

Before, a middle process forked from the caller did the shim's part here: two forks of the caller (a 40 MB
server) per exec, ~4 ms of a 24 ms ``docker exec``.

Synchronisation, on one SOCK_SEQPACKET pair (JSON messages, as :mod:`core.runtime.init`):

* shim → caller: ``{"type": "pid", "pid": N}`` with a pidfd of the process, or the shim's
  ``{"type": "error", ...}`` when it cannot start it;
* process → caller: ``{"type": "console"}`` with the pty master (-t); ``{"type": "error", "code":
  125|126|127, "message": ...}``, then it exits;
* end of file: every copy of the sync socket is closed: the shim closed its own after the pid message, the
  process's is close-on-exec, so EOF without an error means the command was exec'd.

Security (the CVEs that shaped runc's exec):

* The namespace fds, the container's root fd and the cgroup.procs fds are opened by the shim from its own
  child, PID 1, and the process closes each one right after using it; every fd above 2 except the sync
  socket is closed before the working directory is entered, and the sync socket is close-on-exec
  (CVE-2024-21626: no fd of the host survives, and a cwd outside the root, ``(unreachable)/...``, is
  refused by :func:`init._chdir`). The process closes every fd of the shim's it does not need first thing.
* The process is non-dumpable from birth (CVE-2019-5736): the shim makes itself non-dumpable before its
  first exec and fork passes that on, so no process in the container can open /proc/<pid>/{exe,fd,mem} of
  our interpreter while it runs there; execve replaces it.
* setns(CLONE_NEWNS) sets root and cwd to the namespace's root mount, which after the container's
  pivot_root is the container's root. The process checks that (same device and inode as
  ``/proc/<PID 1>/root``) before it touches any path.
* The host terminal is never handed to the container (TIOCSTI injection, /proc/self/fd reopen): stdio are
  pipes, /dev/null (swapped for the container's own before the command starts) or a pty from the
  container's own devpts instance whose master goes to the caller and the shim (runc's console socket).
* The shim's socket is root's only (0600). The process's own pid reaches the caller as a pidfd, so signals
  never hit a recycled pid.
"""

from __future__ import annotations

import _signal  # signal's C module: see _forget_signal_handlers
import contextlib
import errno
import fcntl
import gc
import json
import os
import select
import signal
import socket
from pathlib import Path
from typing import Any, NoReturn

from core.errors import (
    Conflict,
    DockyardError,
    InvalidArgument,
    RuntimeFailure,
    error_for_exit_code,
)
from core.record import field, record
from core.runtime import cgroups, init, linux, protocol, rootfs
from core.runtime.capabilities import last_cap
from core.runtime.rootfs import SetupError
from core.runtime.spec import ContainerSpec, ProcessSpec, UserSpec, merge_env

# Joined by the process, in this order. cgroup first: it must be joined after the move into the container's
# cgroup (the move is checked against the writer's cgroup namespace); mount last, so that every path used
# before it is still the host's.
_JOIN = (
    ("cgroup", linux.CLONE_NEWCGROUP),
    ("ipc", linux.CLONE_NEWIPC),
    ("uts", linux.CLONE_NEWUTS),
    ("net", linux.CLONE_NEWNET),
    ("mnt", linux.CLONE_NEWNS),
)
_NS_KINDS = ("pid", *(kind for kind, _flag in _JOIN))


# ========================================================================================= the request ====


@record
class Target:
    """A container to exec into, as the engine found it."""

    id: str
    name: str
    status: str  # the record's status: only "running" is accepted
    pid: int  # its PID 1, in our pid namespace
    directory: Path  # containers/<id>, holding runtime.json (the ContainerSpec it was started with)
    shim_socket: Path  # its supervisor's socket, which starts the process


@record
class ExecOptions:
    """``docker exec``'s flags, as :meth:`core.engine.Engine.exec` takes them."""

    args: list[str]
    env: list[str] = field(default_factory=list)  # "K=V", or "K" to copy the caller's value
    user: str | None = None  # docker's -u: "name", "uid", "name:group", "uid:gid"; None = the container's
    workdir: str | None = None  # None = the container's working directory
    tty: bool = False
    stdin: bool = False
    detach: bool = False
    privileged: bool = False
    tty_size: tuple[int, int] | None = None  # (rows, cols) of the terminal before the command starts
    # where the exit code goes when the process ends, written by its supervisor (the shim), so it is known
    # even when nobody waits for it (a detached exec, a caller that went away); None: nowhere
    status_path: Path | None = None


def check_exec_target(cid: str, status: str, pid: int) -> None:
    """Docker's refusals (its words, with the container's full id) for an exec into a container that is not
    running."""
    if status == "paused":
        raise Conflict(f"Container {cid} is paused, unpause the container before exec")
    if status == "restarting":
        raise Conflict(f"Container {cid} is restarting, wait until the container is running")
    if status != "running" or pid <= 0:
        raise Conflict(f"Container {cid} is not running")


def exec_in_container(target: Target, opts: ExecOptions) -> ExecHandle:
    """Start ``opts.args`` in the running container ``target``; returns once the command was exec'd.

    Raises Conflict (125) when the container is not running or paused, InvalidArgument for bad options,
    CommandNotFound (127), CannotInvoke (126) or RuntimeFailure (125) when the command cannot start.
    """
    check_exec_target(target.id, target.status, target.pid)
    process = process_spec(_how_started(target).process, opts)
    return spawn(
        target.name,
        target.shim_socket,
        process,
        stdin=opts.stdin,
        detach=opts.detach,
        status_path=opts.status_path,
    )


# the last few containers' start records as parsed: runtime.json's bytes -> the spec
_STARTED_KEEP = 32
_started: dict[str, tuple[bytes, ContainerSpec]] = {}


def _how_started(target: Target) -> ContainerSpec:
    """The container's spec, from the runtime.json its start wrote. Parsed again only when the file's bytes
    changed since the last exec into it: a restart writes a new one."""
    try:
        data = (target.directory / "runtime.json").read_bytes()
    except OSError as err:
        raise RuntimeFailure(f"cannot read how container {target.name} was started: {err}") from err
    key = str(target.directory)
    known = _started.get(key)
    if known is not None and known[0] == data:
        return known[1]
    try:
        spec = ContainerSpec.from_dict(json.loads(data)["spec"])
    except (ValueError, KeyError) as err:
        raise RuntimeFailure(f"cannot read how container {target.name} was started: {err}") from err
    if len(_started) >= _STARTED_KEEP:
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):  # another thread's exec did it
            _started.pop(next(iter(_started)))
    _started[key] = (data, spec)
    return spec


def process_spec(container: ProcessSpec, opts: ExecOptions) -> ProcessSpec:
    """The exec'd process: the container's env (plus ``-e``), cwd, user, capabilities, no_new_privs,
    seccomp profile and rlimits, with docker exec's overrides."""
    from core.runtime.capabilities import resolve_capabilities

    args = list(opts.args)
    if not args or not args[0]:
        raise InvalidArgument("no command given: exec needs a command to run in the container")
    if any("\0" in a for a in args):
        raise InvalidArgument("command arguments cannot contain NUL bytes")
    if opts.workdir is not None and not opts.workdir.startswith("/"):
        raise InvalidArgument(
            f"the working directory {opts.workdir!r} is invalid: it needs to be an absolute path"
        )
    env = merge_env(container.env, list(opts.env))
    for item in env:
        if "\0" in item:
            raise InvalidArgument("environment entries cannot contain NUL bytes")
    if opts.tty and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")  # docker exec -t does the same
    if opts.tty_size is not None and not all(0 < n < 65536 for n in opts.tty_size):
        raise InvalidArgument(f"invalid terminal size {opts.tty_size}")
    # -u replaces the user, not the container's --group-add groups (as docker's exec)
    user = (
        UserSpec(name=opts.user, additional_groups=list(container.user.additional_groups))
        if opts.user
        else container.user
    )
    caps = resolve_capabilities(privileged=True) if opts.privileged else list(container.capabilities)
    return ProcessSpec(
        args=args,
        env=env,
        cwd=opts.workdir or container.cwd,
        user=user,
        tty=opts.tty,
        tty_size=opts.tty_size if opts.tty else None,
        capabilities=caps,
        no_new_privs=container.no_new_privs,
        seccomp=container.seccomp,
        rlimits=list(container.rlimits),
    )


# ========================================================================================== the handle ====


class ExecHandle:
    """A started exec. Close it (or use it as a context manager) when done.

    * ``pid`` - the process, in our pid namespace; ``master_fd`` - its terminal (``tty``), else
      ``stdin`` (a pipe to write, with ``stdin``), ``stdout`` and ``stderr`` (pipes to read). All are
      blocking and close-on-exec; None when not asked for or after :meth:`detach`.
    * ``exit_fd`` - readable once the process has exited (the connection its supervisor reports the exit
      on): select() on it next to the output fds, then drain them and call :meth:`wait`.
    * :meth:`wait` - the exit code (128+N if killed by signal N); :meth:`resize`, :meth:`kill`.
    * :meth:`detach` - let go of the process: its supervisor drains its terminal and reaps it.
    """

    def __init__(
        self,
        *,
        pid: int,
        pidfd: int,
        supervisor: socket.socket,
        master_fd: int | None = None,
        stdin: int | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
    ) -> None:
        self.pid = pid
        self.master_fd = master_fd
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self._pidfd: int | None = pidfd
        self._supervisor: socket.socket | None = supervisor  # the request's connection to the shim
        self._detached = False
        self._code: int | None = None

    @property
    def exit_fd(self) -> int:
        if self._supervisor is None:
            raise ValueError("the exec handle is closed")
        return self._supervisor.fileno()

    def poll(self) -> int | None:
        """The exit code if the process has exited, else None (never blocks)."""
        if self._code is None and self._supervisor is not None:
            ready, _, _ = select.select([self._supervisor], [], [], 0)
            if ready:
                self._code = _read_exit(self._supervisor)
        return self._code

    def wait(self, timeout: float | None = None) -> int:
        """Block until the process exits; its exit code. Raises TimeoutError after ``timeout`` seconds."""
        if self._code is not None:
            return self._code
        if self._supervisor is None:
            raise ValueError("the exec handle is closed")
        wait_for = None if timeout is None else max(0.0, timeout)
        ready, _, _ = select.select([self._supervisor], [], [], wait_for)
        if not ready:
            raise TimeoutError(f"exec'd process {self.pid} still running after {timeout} s")
        self._code = _read_exit(self._supervisor)
        return self._code

    def resize(self, rows: int, cols: int) -> None:
        """Set the terminal's window size (the process gets SIGWINCH); nothing without a terminal."""
        if self.master_fd is not None and rows > 0 and cols > 0:
            with contextlib.suppress(OSError):
                linux.set_window_size(self.master_fd, rows, cols)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the process (a no-op once it has exited: the pidfd never hits a recycled pid)."""
        if self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, sig)

    def close_stdin(self) -> None:
        """EOF on the process's stdin (a pipe); with a terminal, type the EOF character (^D)."""
        if self.stdin is not None:
            os.close(self.stdin)
            self.stdin = None
        elif self.master_fd is not None:
            with contextlib.suppress(OSError):
                os.write(self.master_fd, b"\x04")

    def detach(self) -> None:
        """Close our side without waiting: the process keeps running, its supervisor drains its terminal
        and reaps it (its output without a terminal goes nowhere: writes fail with EPIPE). :meth:`wait`
        still works."""
        for name in ("master_fd", "stdin", "stdout", "stderr"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)
        if self._supervisor is not None and not self._detached:
            self._detached = True
            with contextlib.suppress(OSError):
                self._supervisor.shutdown(socket.SHUT_WR)  # the shim's cue that nobody reads any more

    def close(self) -> None:
        """Release everything we hold; a process still running is detached (see :meth:`detach`)."""
        self.detach()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        if self._supervisor is not None:
            self._supervisor.close()
            self._supervisor = None

    def __enter__(self) -> ExecHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ExecHandle pid={self.pid} code={self._code}>"


def _read_exit(conn: socket.socket) -> int:
    """The exit code from the shim's EXIT frame; 137 if the shim went away without one (killed, as the
    process most likely was with it: a process whose supervisor is gone is not ours to report on)."""
    reader = protocol.FrameReader()
    while True:
        try:
            data = conn.recv(4096)
        except OSError:
            data = b""
        if not data:
            return 128 + signal.SIGKILL
        for kind, payload in reader.feed(data):
            if kind == protocol.EXIT:
                return int(json.loads(payload)["code"])


# ====================================================================================== the caller side ====


def spawn(
    name: str,
    shim_socket: Path,
    process: ProcessSpec,
    *,
    stdin: bool = False,
    detach: bool = False,
    status_path: Path | None = None,
) -> ExecHandle:
    """Have the supervisor at ``shim_socket`` start ``process`` in its container (``name`` names it in
    messages). See the module docstring."""
    mine: list[int] = []  # ours to keep (until the handle closes them)
    theirs: list[int] = []  # sent to the shim, closed here once sent
    sent: list[str] = []  # what each of theirs is, in order
    ours: dict[str, int | None] = {"stdin": None, "stdout": None, "stderr": None}
    sock: socket.socket | None = None
    conn: socket.socket | None = None

    def give(what: str, fd: int) -> int:
        theirs.append(fd)
        sent.append(what)
        return fd

    try:
        sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        give("sync", child_sock.detach())
        if not process.tty and not detach:
            if stdin:
                r, w = os.pipe2(os.O_CLOEXEC)
                give("stdin", r)
                ours["stdin"] = w
                mine.append(w)
            for stream in ("stdout", "stderr"):
                r, w = os.pipe2(os.O_CLOEXEC)
                ours[stream] = r
                mine.append(r)
                give(stream, w)
        if status_path is not None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
            give("status", os.open(status_path, flags, 0o600))
        proc = process.to_dict()
        proc["seccomp"] = None  # the shim loads the container's own filter, compiled when it started it
        request = json.dumps({"op": "exec", "process": proc, "fds": sent}).encode() + b"\n"
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            conn.connect(str(shim_socket))
            socket.send_fds(conn, [request], theirs)
        except (FileNotFoundError, ConnectionRefusedError):
            raise Conflict(f"container {name} is not running") from None
        except OSError as err:
            raise RuntimeFailure(f"cannot reach the supervisor of container {name}: {err.strerror}") from None
    except BaseException:
        for fd in theirs + mine:
            os.close(fd)
        for s in (sock, conn):
            if s is not None:
                s.close()
        raise
    for fd in theirs:
        os.close(fd)
    assert sock is not None and conn is not None
    try:
        report = init.read_start(sock)
    except BaseException:
        # interrupted (^C): the process must not start behind our back
        with contextlib.suppress(OSError):
            conn.sendall(protocol.encode_json(protocol.SIGNAL, {"signal": int(signal.SIGKILL)}))
        conn.close()
        for fd in mine:
            os.close(fd)
        raise
    finally:
        sock.close()
    pid, pidfd, master, error = report.pid, report.pidfd, report.console, report.error
    if error is not None or pid is None or pidfd is None:
        for fd in [*mine, *(x for x in (pidfd, master) if x is not None)]:
            os.close(fd)
        if pid is not None:
            # the process failed before the exec and exits: its supervisor writes the exit code to the
            # status file as it reaps it, then sends it here. Wait for that, so the exec's record says it
            # (`exec inspect`'s ExitCode) by the time the caller hears of the failure
            conn.settimeout(10)
            _read_exit(conn)
        conn.close()
        if error is None:
            raise RuntimeFailure(
                f"exec in {name} failed: its supervisor did not start it (a container started by an older"
                " dockyard: restart it)"
            )
        message = str(error.get("message", "exec failed"))
        if error.get("conflict"):
            raise Conflict(message)
        raise error_for_exit_code(int(error.get("code", 125)), message)
    handle = ExecHandle(
        pid=pid,
        pidfd=_above_stdio(pidfd),
        supervisor=conn,
        master_fd=_above_stdio(master) if master is not None else None,
        stdin=ours["stdin"],
        stdout=ours["stdout"],
        stderr=ours["stderr"],
    )
    if detach:
        handle.detach()
    return handle


def _above_stdio(fd: int) -> int:
    """Never hand out 0, 1 or 2 (free when our own stdio is closed): a later dup2 would clobber it."""
    if fd > 2:
        return fd
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return high


# ===================================================================================== the shim's side ====


@record
class Forked:
    """A process the shim forked for an exec request."""

    pid: int
    console: int | None  # where the process sends the pty master (with -t), for the shim to keep a copy
    status_fd: int | None  # the exec's status file, for its exit code


_own_pidns: int | None = None  # pid_for_children as the shim had it, to go back to after each fork


@record
class Joinable:
    """What an exec's process joins, opened from the container's PID 1 by its supervisor (PID 1's parent,
    so the pid cannot be another process's while it holds these): the namespaces not shared with the
    supervisor, the root, and every ``cgroup.procs`` of PID 1's cgroups. Kept for the container's run, so
    an exec opens nothing (about 0.5 ms of its start); closed when PID 1 ends, so that no namespace of the
    container outlives it."""

    pid1: int
    ns: dict[str, int]
    root_fd: int
    procs_fds: list[int]

    @classmethod
    def open(cls, name: str, pid1: int) -> Joinable:
        opened: list[int] = []

        def keep(fd: int) -> int:
            opened.append(fd)
            return fd

        try:
            ns: dict[str, int] = {}
            for kind in _NS_KINDS:
                try:
                    fd = keep(os.open(f"/proc/{pid1}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC))
                except FileNotFoundError:
                    raise Conflict(f"container {name} is not running") from None
                if not _same_file(fd, f"/proc/self/ns/{kind}"):  # shared with us (--network host): skip
                    ns[kind] = fd
                else:
                    os.close(opened.pop())
            root_fd = keep(os.open(f"/proc/{pid1}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
            procs = [
                keep(os.open(d / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC))
                for d in cgroups.cgroups_of(pid1)
            ]
        except BaseException:
            for fd in opened:
                os.close(fd)
            raise
        return cls(pid1, ns, root_fd, procs)

    def close(self) -> None:
        for fd in (*self.ns.values(), self.root_fd, *self.procs_fds):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.ns, self.procs_fds, self.root_fd = {}, [], -1


def start_requested(
    request: dict[str, Any], fds: list[int], *, name: str, container: Joinable, seccomp_bpf: bytes | None
) -> Forked | None:
    """Serve one ``{"op": "exec"}`` request in the container's supervisor: fork the process into
    ``container`` and tell the caller its pid (or why not) on the request's sync socket. Takes ownership of
    ``fds``; None when the caller was told of an error."""
    sync, status_fd, stdio = _take_fds(request, fds)
    if sync is None:
        return None
    child = -1
    console_r = None
    try:
        try:
            process = ProcessSpec.from_dict(request["process"])
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise InvalidArgument(f"malformed exec request: {err}") from None
        child, console_r = _fork_process(name, container, process, seccomp_bpf, sync, stdio)
        pidfd = os.pidfd_open(child)
        try:
            init.send_message(sync, json.dumps({"type": "pid", "pid": child}).encode(), [pidfd])
        finally:
            os.close(pidfd)
    except (DockyardError, OSError) as err:
        if child > 0:
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGKILL)  # the shim's reaper takes it
        _tell_error(sync, err)
        for extra in (status_fd, console_r):
            if extra is not None:
                os.close(extra)
        return None
    finally:
        for fd in (sync, *stdio):
            if fd is not None:
                os.close(fd)
    return Forked(child, console_r, status_fd)


def refuse_requested(request: dict[str, Any], fds: list[int], why: BaseException) -> None:
    """Answer an exec request with an error without starting anything; takes ownership of ``fds``."""
    sync, status_fd, stdio = _take_fds(request, fds)
    if sync is not None:
        _tell_error(sync, why)
    for fd in (sync, status_fd, *stdio):
        if fd is not None:
            os.close(fd)


def _take_fds(
    request: dict[str, Any], fds: list[int]
) -> tuple[int | None, int | None, tuple[int | None, int | None, int | None]]:
    """(sync, status, (stdin, stdout, stderr)) from the fds that came with a request, named by its
    ``fds`` list; whatever else came is closed, and without a sync socket everything is."""
    named = dict(zip(request.get("fds") or [], fds, strict=False))
    for fd in fds[len(named) :]:
        os.close(fd)
    sync = named.pop("sync", None)
    status_fd = named.pop("status", None)
    stdio = (named.pop("stdin", None), named.pop("stdout", None), named.pop("stderr", None))
    for fd in named.values():
        os.close(fd)
    if sync is None:
        for fd in (status_fd, *stdio):
            if fd is not None:
                os.close(fd)
        return None, None, (None, None, None)
    return sync, status_fd, stdio


def _tell_error(sync: int, err: BaseException) -> None:
    code = err.exit_code if isinstance(err, DockyardError) else 125
    # a Conflict (the container is not running) stays one for the caller: the API answers it with 409
    message = {"type": "error", "code": code, "message": str(err), "conflict": isinstance(err, Conflict)}
    with contextlib.suppress(OSError):
        os.write(sync, json.dumps(message).encode())


def _fork_process(
    name: str,
    container: Joinable,
    process: ProcessSpec,
    seccomp_bpf: bytes | None,
    sync: int,
    stdio: tuple[int | None, int | None, int | None],
) -> tuple[int, int | None]:
    """Fork the process (see :func:`_process`) into ``container``: (its pid, the shim's end of its console
    socket with -t)."""
    global _own_pidns
    if _own_pidns is None:
        _own_pidns = os.open("/proc/self/ns/pid_for_children", os.O_RDONLY | os.O_CLOEXEC)
    console_r = console_w = -1
    if process.tty:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        console_r, console_w = a.detach(), b.detach()
    try:
        ns = dict(container.ns)  # the process joins all but pid, which it is born into
        pidns = ns.pop("pid", None)
        plan = _Plan(
            name, process, seccomp_bpf, sync, stdio, ns, container.root_fd, container.procs_fds, console_w
        )
        linux.have_openat2()  # probe once here; the children inherit the answer
        last_cap()  # read once here too, not from /proc in every process's capability drop
        if pidns is not None:
            # our children only; our own pid namespace stays ours. No thread may do it for us: a process
            # dies with the thread that forked it (PR_SET_PDEATHSIG), and a thread's end is soon
            linux.setns(pidns, linux.CLONE_NEWPID)
        try:
            try:
                child = os.fork()
            except OSError as err:
                if err.errno == errno.ENOMEM:  # a pid namespace whose init has exited takes no new process
                    raise Conflict(f"container {name} is not running") from None
                raise
            if child == 0:  # pragma: no cover - runs in the process; reported through the sync socket
                try:
                    _process(plan)
                finally:
                    os._exit(125)
        finally:
            if pidns is not None:
                # back, before anything else forks: the container's next PID 1 gets a namespace of its own
                linux.setns(_own_pidns, linux.CLONE_NEWPID)
    except BaseException:
        if console_r >= 0:
            os.close(console_r)
        raise
    finally:
        if console_w >= 0:
            os.close(console_w)
    return child, (console_r if console_r >= 0 else None)


def _same_file(fd: int, path: str) -> bool:
    a, b = os.fstat(fd), os.stat(path)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


# ===================================================================================== the process ====


@record
class _Plan:
    """What the process needs; every fd is inherited through fork."""

    name: str
    process: ProcessSpec
    seccomp_bpf: bytes | None
    sync_fd: int
    stdio: tuple[int | None, int | None, int | None]
    ns: dict[str, int]
    root_fd: int
    procs_fds: list[int]
    console_fd: int  # -1 without a terminal


def _process(plan: _Plan) -> NoReturn:
    """Forked from the shim, in the container's pid namespace: join the rest of the container, then exec."""
    gc.disable()  # objects of the shim's must never be finalized here: their fds are not ours
    step = init._Step()
    proc = plan.process
    sync = plan.sync_fd
    try:
        step.name = "start the exec"
        linux.set_dumpable(False)
        # die with the shim until the command runs
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
        _forget_signal_handlers()
        linux.set_name("dockyard-exec")
        step.name = "set up stdio"
        init._setup_stdio(plan.stdio, sync)
        # nothing of the shim's (its log, its clients, the container's output) comes along
        _close_all_but({0, 1, 2, sync, plan.root_fd, plan.console_fd, *plan.ns.values(), *plan.procs_fds})
        step.name = "join the container's cgroup"
        for fd in plan.procs_fds:
            os.write(fd, b"0")  # "0" moves the writer itself
            os.close(fd)
        for kind, flag in _JOIN:
            nsfd = plan.ns.pop(kind, None)
            if nsfd is not None:
                step.name = f"join the container's {kind} namespace"
                linux.setns(nsfd, flag)
                os.close(nsfd)
        step.name = "check the root"
        _check_root(plan.root_fd)
        os.close(plan.root_fd)
        os.chdir("/")
        step.name = "reopen stdio"
        rootfs.reopen_dev_null_stdio()  # the host's /dev/null becomes the container's
        step.name = "setsid"
        os.setsid()
        if proc.tty:
            step.name = "set up the terminal"
            # the master to the caller (on the sync socket) and to the shim, which keeps it to drain once
            # the caller is gone
            init.setup_terminal(proc, [plan.console_fd, sync], console=False)
            os.close(plan.console_fd)
        step.name = "close file descriptors"
        linux.close_fds_above(sync)  # before the cwd is entered: no fd of the host is left to escape by
        os.umask(0o022)
        linux.prctl(linux.PR_SET_PDEATHSIG, 0)  # from here on the command lives its own life
        init._exec(proc, sync, plan.seccomp_bpf, step)
    except BaseException as exc:
        init._fail(sync, exc, step)


def _forget_signal_handlers() -> None:
    """The shim's Python handlers and wakeup fd mean nothing here, and the fd number of a wakeup fd may
    soon be one of ours (a signal would write a byte into the pty): drop them."""
    signal.set_wakeup_fd(-1)
    for sig in range(1, signal.NSIG):  # on plain ints, as init._reset_signals (for the same reason)
        with contextlib.suppress(OSError, ValueError):
            if callable(_signal.getsignal(sig)):
                _signal.signal(sig, _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, ())


def _close_all_but(keep: set[int]) -> None:
    low = 0
    for fd in sorted(f for f in keep if f >= 0):
        linux.close_range(low, fd - 1)
        low = fd + 1
    linux.close_range(low)


def _check_root(root_fd: int) -> None:
    """setns(CLONE_NEWNS) made our root the namespace's root: it must be the container's (PID 1's) root."""
    want = os.fstat(root_fd)
    have = os.stat("/")
    if (want.st_dev, want.st_ino) != (have.st_dev, have.st_ino):
        raise SetupError("the container's mount namespace root is not its root filesystem; refusing to exec")


__all__ = [
    "ExecHandle",
    "ExecOptions",
    "Forked",
    "Joinable",
    "Target",
    "exec_in_container",
    "process_spec",
    "refuse_requested",
    "spawn",
    "start_requested",
]
