"""``exec``: start a new process inside a running container (runc's ``exec``, in Python).

Processes::

    caller (CLI / TUI) ── fork ──▶ middle       own session; takes the exec's stdio as 0/1/2; joins the
                                     │           container's pid namespace (for its children only); waits
                                     │           for the process and exits with its exit code
                                     └─ fork ──▶ process    born in the container's pid namespace: joins the
                                                 container's cgroup, then its cgroup, ipc, uts, net and
                                                 mount namespaces; checks its root is the container's;
                                                 terminal, user, rlimits, capabilities, no_new_privs,
                                                 seccomp (the container's ContainerSpec); closes every fd
                                                 above 2; execs

The middle stays in the host's namespaces (only ``pid_for_children`` is the container's), so no process in
the container can see it. It is the process's parent: it reaps it, so an exec'd process never becomes a
zombie under the container's PID 1, and it relays the exit code (128+N when killed by signal N) as its own
exit status to the caller, who waits for the middle (:meth:`ExecHandle.wait`). With a terminal it also keeps
a copy of the pty master: when the caller goes away (detach keys, ``-d``, a closed TUI pane) it drains the
terminal, so the process keeps running instead of blocking on a full pty or dying of SIGHUP. It learns
that the caller went away from EOF on a pipe only the caller holds.

Synchronisation, on one SOCK_SEQPACKET pair (JSON messages, as :mod:`core.runtime.init`):

* middle → caller: ``{"type": "pid", "pid": N}`` with a pidfd of the process (and the pty master with -t);
* process → caller: ``{"type": "error", "code": 125|126|127, "message": ...}``, then it exits;
* end of file: every copy of the child's end is closed: the middle closed its own after the pid message,
  the process's is close-on-exec, so EOF without an error means the command was exec'd.

Security (the CVEs that shaped runc's exec):

* The namespace fds, the container's root fd and the cgroup.procs fds are opened by the caller, and the
  process closes each one right after using it; every fd above 2 except the sync socket is closed before
  the working directory is entered, the sync socket is close-on-exec (CVE-2024-21626: no fd of the host
  survives, and a cwd outside the root, ``(unreachable)/...``, is refused by :func:`init._chdir`).
* Middle and process are non-dumpable from their first step (CVE-2019-5736): no process in the container
  can open /proc/<pid>/{exe,fd,mem} of our interpreter while it runs there; execve replaces it.
* setns(CLONE_NEWNS) sets root and cwd to the namespace's root mount, which after the container's
  pivot_root is the container's root. The process checks that (same device and inode as
  ``/proc/<PID 1>/root``) before it touches any path.
* The host terminal is never handed to the container (TIOCSTI injection, /proc/self/fd reopen): stdio are
  pipes, /dev/null (swapped for the container's own before the command starts) or a pty from the
  container's own devpts instance whose master comes back to the caller (runc's console socket).
* The pid of PID 1 is pinned with a pidfd and checked to be in the container's cgroup before its
  namespaces are opened, and to be still alive after: a recycled pid cannot send us into another process's
  namespaces. The process's own pid reaches the caller as a pidfd, so signals never hit a recycled pid.
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
import stat
from collections.abc import Sequence
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
from core.runtime import cgroups, init, linux, rootfs, tini
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
_MAX_MESSAGE = 64 * 1024
_PTMX = os.makedev(5, 2)
_DRAIN_SIZE = 64 * 1024


# ========================================================================================= the request ====


@record
class Target:
    """A container to exec into, as the engine found it."""

    id: str
    name: str
    status: str  # the record's status: only "running" is accepted
    pid: int  # its PID 1, in our pid namespace
    directory: Path  # containers/<id>, holding runtime.json (the ContainerSpec it was started with)
    seccomp_cache: Path | None = None  # the engine's filter cache (<run>/seccomp); None: $DOCKYARD_RUN's


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
    # where the exit code goes when the process ends, written by its supervising middle process, so it is
    # known even when nobody waits for it (a detached exec, a caller that went away); None: nowhere
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
    spec, seccomp_bpf, parent = _how_started(target)
    process = process_spec(spec.process, opts)
    try:
        cgroup = cgroups.Cgroup.open(target.id, parent=parent)
    except (DockyardError, OSError) as err:  # NotFound: the cgroup went with the container
        raise Conflict(f"container {target.name} is not running ({err})") from err
    cgroup_dirs = list(dict.fromkeys(cgroup.paths().values()))
    return spawn(
        target.name,
        target.pid,
        cgroup_dirs,
        process,
        seccomp_bpf,
        stdin=opts.stdin,
        detach=opts.detach,
        status_path=opts.status_path,
    )


# the last few containers' start records as parsed: runtime.json's bytes -> what an exec needs of them
_STARTED_KEEP = 32
_started: dict[tuple[str, str], tuple[bytes, ContainerSpec, bytes | None, str]] = {}


def _how_started(target: Target) -> tuple[ContainerSpec, bytes | None, str]:
    """The container's spec, its seccomp filter and its cgroup parent, from the runtime.json its start
    wrote. Parsed again (and the filter fetched again) only when the file's bytes changed since the last
    exec into it: a restart writes a new one."""
    try:
        data = (target.directory / "runtime.json").read_bytes()
    except OSError as err:
        raise RuntimeFailure(f"cannot read how container {target.name} was started: {err}") from err
    key = (str(target.directory), str(target.seccomp_cache))
    known = _started.get(key)
    if known is not None and known[0] == data:
        return known[1], known[2], known[3]
    try:
        runtime = json.loads(data)
    except ValueError as err:
        raise RuntimeFailure(f"cannot read how container {target.name} was started: {err}") from err
    spec = ContainerSpec.from_dict(runtime["spec"])
    # the container's own filter: built for the container's capabilities, as docker keeps it for
    # `exec --privileged` too; it comes from the cache the start filled
    seccomp_bpf = init.prepare_seccomp(spec.process, cache_dir=target.seccomp_cache)
    parent = str((runtime.get("cgroup") or {}).get("parent") or cgroups.DEFAULT_PARENT)
    if len(_started) >= _STARTED_KEEP:
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):  # another thread's exec did it
            _started.pop(next(iter(_started)))
    _started[key] = (data, spec, seccomp_bpf, parent)
    return spec, seccomp_bpf, parent


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
    * ``exit_fd`` - readable once the process has exited (a pidfd of the middle): select() on it next to
      the output fds, then drain them and call :meth:`wait`.
    * :meth:`wait` - the exit code (128+N if killed by signal N); :meth:`resize`, :meth:`kill`.
    * :meth:`detach` - let go of the process without waiting: the middle drains its terminal and reaps it.
    """

    def __init__(
        self,
        *,
        pid: int,
        pidfd: int,
        middle: int,
        middle_pidfd: int,
        alive_fd: int | None,
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
        self._middle = middle
        self._middle_pidfd: int | None = middle_pidfd
        self._alive_fd = alive_fd  # the middle drains the terminal once this closes
        self._code: int | None = None

    @property
    def exit_fd(self) -> int:
        if self._middle_pidfd is None:
            raise ValueError("the exec handle is closed")
        return self._middle_pidfd

    def poll(self) -> int | None:
        """The exit code if the process has exited, else None (never blocks)."""
        if self._code is None:
            pid, status = os.waitpid(self._middle, os.WNOHANG)
            if pid == 0:
                return None
            self._code = tini.exit_code(status)
        return self._code

    def wait(self, timeout: float | None = None) -> int:
        """Block until the process exits; its exit code. Raises TimeoutError after ``timeout`` seconds."""
        if self._code is not None:
            return self._code
        if timeout is not None and self._middle_pidfd is not None:
            ready, _, _ = select.select([self._middle_pidfd], [], [], max(0.0, timeout))
            if not ready:
                raise TimeoutError(f"exec'd process {self.pid} still running after {timeout} s")
        _pid, status = os.waitpid(self._middle, 0)
        self._code = tini.exit_code(status)
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
        """Close our side without waiting: the process keeps running, its middle drains its terminal and
        reaps it (its output without a terminal goes nowhere: writes fail with EPIPE)."""
        for name in ("master_fd", "stdin", "stdout", "stderr"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)
        if self._alive_fd is not None:
            os.close(self._alive_fd)
            self._alive_fd = None

    def close(self) -> None:
        """Release every fd we hold. If the process still runs it is detached (see :meth:`detach`) and
        the middle is left as our child: call :meth:`wait` later, or it stays a zombie until we exit."""
        self.detach()
        for name in ("_pidfd", "_middle_pidfd"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)

    def __enter__(self) -> ExecHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ExecHandle pid={self.pid} middle={self._middle} code={self._code}>"


# ====================================================================================== the caller side ====


@record
class _Plan:
    """What the middle and the process need; every fd is inherited through fork and is above 2."""

    name: str
    process: ProcessSpec
    seccomp_bpf: bytes | None
    sync_fd: int
    alive_fd: int
    stdio: tuple[int | None, int | None, int | None]
    ns: dict[str, int]
    root_fd: int
    procs_fds: list[int]
    status_fd: int = -1  # the middle writes the exit code here; -1: nowhere


def spawn(
    name: str,
    pid1: int,
    cgroup_dirs: Sequence[Path],
    process: ProcessSpec,
    seccomp_bpf: bytes | None,
    *,
    stdin: bool = False,
    detach: bool = False,
    status_path: Path | None = None,
) -> ExecHandle:
    """Start ``process`` in the namespaces and cgroup of ``pid1`` (a container's PID 1, member of
    ``cgroup_dirs``, the container's cgroup); the process joins every cgroup of ``pid1``. ``name`` names the
    container in messages. See the module docstring."""
    mine: list[int] = []  # ours to keep (until the handle closes them)
    theirs: list[int] = []  # inherited by the middle, closed here after the fork
    ours: dict[str, int | None] = {"stdin": None, "stdout": None, "stderr": None}
    sock: socket.socket | None = None

    def keep(fd: int, into: list[int]) -> int:
        fd = _above_stdio(fd)
        into.append(fd)
        return fd

    try:
        pidfd1 = keep(_pidfd_open(pid1, name), theirs)
        # every cgroup PID 1 is in (also hierarchies we do not manage: name=systemd, the hybrid unified
        # one), and that must include the container's own: else the pid is not the container's any more
        joined = cgroups.cgroups_of(pid1)
        if not cgroup_dirs or not all(d in joined for d in cgroup_dirs):
            raise Conflict(f"container {name} is not running")
        ns: dict[str, int] = {}
        for kind in _NS_KINDS:
            fd = keep(os.open(f"/proc/{pid1}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC), theirs)
            if not _same_file(fd, f"/proc/self/ns/{kind}"):  # shared with us (--network host): skip
                ns[kind] = fd
        root_fd = keep(os.open(f"/proc/{pid1}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC), theirs)
        procs = [keep(os.open(d / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC), theirs) for d in joined]
        if _has_exited(pidfd1):  # what we opened may be a recycled pid's: do not go there
            raise Conflict(f"container {name} is not running")

        stdio: list[int | None] = [None, None, None]  # None: /dev/null, the container's one in the end
        if not process.tty and not detach:
            if stdin:
                r, w = os.pipe2(os.O_CLOEXEC)
                stdio[0], ours["stdin"] = keep(r, theirs), keep(w, mine)
            for i, stream in ((1, "stdout"), (2, "stderr")):
                r, w = os.pipe2(os.O_CLOEXEC)
                ours[stream], stdio[i] = keep(r, mine), keep(w, theirs)
        alive_r, alive_w = os.pipe2(os.O_CLOEXEC)
        alive_r, alive_w = keep(alive_r, theirs), keep(alive_w, mine)
        status_fd = -1
        if status_path is not None:
            # close-on-exec: the middle (forked, never exec'd) keeps it, the container's process never sees it
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
            status_fd = keep(os.open(status_path, flags, 0o600), theirs)
        sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sync_fd = keep(child_sock.detach(), theirs)
        plan = _Plan(
            name,
            process,
            seccomp_bpf,
            sync_fd,
            alive_r,
            (stdio[0], stdio[1], stdio[2]),
            ns,
            root_fd,
            procs,
            status_fd,
        )
        linux.have_openat2()  # probe once here; the children inherit the answer
        last_cap()  # read once here too, not from /proc in every process's capability drop
        middle = os.fork()
        if middle == 0:  # pragma: no cover - runs in the middle; reported through the socket
            try:
                _middle(plan)
            finally:
                os._exit(125)
    except BaseException:
        for fd in theirs + mine:
            os.close(fd)
        if sock is not None:
            sock.close()
        raise
    for fd in theirs:
        os.close(fd)
    try:
        mine.append(_above_stdio(os.pidfd_open(middle)))  # our child: nobody else can reap it
        pid, pidfd, master, error = _read_start(sock)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.kill(middle, signal.SIGKILL)  # the process dies with it (PR_SET_PDEATHSIG) until it execs
        os.waitpid(middle, 0)
        for fd in mine:
            os.close(fd)
        raise
    finally:
        sock.close()
    if error is not None or pid is None or pidfd is None:
        for fd in [*mine, *(x for x in (pidfd, master) if x is not None)]:
            os.close(fd)
        _pid, status = os.waitpid(middle, 0)  # the middle exits as soon as the process has
        if error is None:
            raise RuntimeFailure(f"exec in {name} failed: its supervisor exited ({tini.exit_code(status)})")
        raise error_for_exit_code(int(error.get("code", 125)), str(error.get("message", "exec failed")))
    handle = ExecHandle(
        pid=pid,
        pidfd=_above_stdio(pidfd),
        middle=middle,
        middle_pidfd=mine[-1],
        alive_fd=alive_w,
        master_fd=_above_stdio(master) if master is not None else None,
        stdin=ours["stdin"],
        stdout=ours["stdout"],
        stderr=ours["stderr"],
    )
    if detach:
        handle.detach()
    return handle


def _pidfd_open(pid: int, name: str) -> int:
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        raise Conflict(f"container {name} is not running") from None
    except OSError as err:
        if err.errno == errno.ENOSYS:
            raise RuntimeFailure("exec needs Linux 5.3 or newer (pidfd_open)") from None
        raise


def _above_stdio(fd: int) -> int:
    """Never hand out 0, 1 or 2 (free when our own stdio is closed): the middle's dup2s would clobber it."""
    if fd > 2:
        return fd
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return high


def _same_file(fd: int, path: str) -> bool:
    a, b = os.fstat(fd), os.stat(path)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _has_exited(pidfd: int) -> bool:
    ready, _, _ = select.select([pidfd], [], [], 0)
    return bool(ready)


def _read_start(sock: socket.socket) -> tuple[int | None, int | None, int | None, dict[str, Any] | None]:
    """Messages until EOF: (the process's pid, its pidfd, the pty master, the first error)."""
    pid: int | None = None
    pidfd: int | None = None
    master: int | None = None
    error: dict[str, Any] | None = None
    while True:
        data, fds, _flags, _addr = socket.recv_fds(sock, _MAX_MESSAGE, 4)
        if not data and not fds:
            return pid, pidfd, master, error
        for fd in fds:
            os.set_inheritable(fd, False)
        try:
            msg = json.loads(data) if data else {}
        except ValueError:
            msg = {}
        kind = msg.get("type")
        if kind == "pid" and pid is None and fds:
            pid = int(msg["pid"])
            pidfd = fds.pop(0)
            if msg.get("console") and fds:
                master = fds.pop(0)
        elif kind == "error" and error is None:
            error = msg
        for fd in fds:
            os.close(fd)


# ====================================================================================== the middle ====


def _middle(plan: _Plan) -> NoReturn:
    """In the host's namespaces: become the parent of the process in the container's pid namespace."""
    gc.disable()  # objects of the caller (a TUI...) must never be finalized here: their fds are not ours
    step = init._Step()
    sync = plan.sync_fd
    try:
        step.name = "start the exec"
        linux.set_dumpable(False)
        _forget_signal_handlers()
        os.setsid()  # away from the caller's terminal: its ^C goes to the caller, which forwards it
        linux.set_name("dockyard-exec")
        step.name = "set up stdio"
        init._setup_stdio(plan.stdio, sync)
        _close_all_but(
            {0, 1, 2, sync, plan.alive_fd, plan.root_fd, plan.status_fd, *plan.ns.values(), *plan.procs_fds}
        )
        pidns = plan.ns.pop("pid", None)
        if pidns is not None:
            step.name = "join the container's pid namespace"
            linux.setns(pidns, linux.CLONE_NEWPID)
            os.close(pidns)
        console_r = console_w = -1
        if plan.process.tty:
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            console_r, console_w = a.detach(), b.detach()
        step.name = "fork into the container's pid namespace"
        try:
            child = os.fork()
        except OSError as err:
            if err.errno == errno.ENOMEM:  # a pid namespace whose init has exited takes no new process
                raise SetupError(f"container {plan.name} is not running") from None
            raise
    except BaseException as exc:
        init._fail(sync, exc, step)
    if child == 0:
        if console_r >= 0:
            os.close(console_r)
        _process(plan, console_w)
    try:
        # nothing of the process's stays open here: its pipes must see EOF when it exits
        _close_all_but({sync, plan.alive_fd, console_r, plan.status_fd})
        pidfd = os.pidfd_open(child)
        master = _receive_console(console_r) if console_r >= 0 else None
        fds = [pidfd] if master is None else [pidfd, master]
        msg = {"type": "pid", "pid": child, "console": master is not None}
        _send(sync, json.dumps(msg).encode(), fds)
        os.close(sync)
    except BaseException:
        with contextlib.suppress(OSError):
            os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        os._exit(125)
    _supervise(child, pidfd, plan.alive_fd, master, plan.status_fd)


def _forget_signal_handlers() -> None:
    """The caller's Python handlers and wakeup fd (asyncio's, in the TUI) mean nothing here, and the fd
    number of a wakeup fd may soon be one of ours (a signal would write a byte into the pty): drop them."""
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


def _receive_console(sock_fd: int) -> int | None:
    """The pty master from the process, or None if it failed (or exec'd) before making one."""
    sock = socket.socket(fileno=sock_fd)
    try:
        while True:
            data, fds, _flags, _addr = socket.recv_fds(sock, 256, 1)
            if fds:
                return fds[0]
            if not data:
                return None
    finally:
        sock.close()


def _send(fd: int, data: bytes, fds: list[int]) -> None:
    sock = socket.socket(fileno=fd)
    try:
        socket.send_fds(sock, [data], fds)
    finally:
        sock.detach()


def _supervise(child: int, pidfd: int, alive_fd: int, master: int | None, status_fd: int) -> NoReturn:
    """Wait for the process and exit with its code (written to ``status_fd`` first, when there is one);
    once the caller is gone, drain its terminal."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(alive_fd, select.POLLIN)
    while True:
        for fd, _events in poller.poll():
            if fd == pidfd:
                _pid, status = os.waitpid(child, 0)
                code = tini.exit_code(status)
                if status_fd >= 0:
                    with contextlib.suppress(
                        OSError
                    ):  # a full disk must not lose the exit code for the caller
                        os.write(status_fd, str(code).encode())
                os._exit(code)
            if fd == alive_fd:
                poller.unregister(alive_fd)  # the caller closed its end (detached, or went away)
                if master is not None:
                    poller.register(master, select.POLLIN)
            elif fd == master:
                try:
                    data = os.read(master, _DRAIN_SIZE)
                except OSError:
                    data = b""
                if not data:  # EIO: no slave open any more
                    poller.unregister(master)


# ===================================================================================== the process ====


def _process(plan: _Plan, console_fd: int) -> NoReturn:
    """In the container's pid namespace: join the rest of the container, then exec."""
    step = init._Step()
    proc = plan.process
    sync = plan.sync_fd
    try:
        linux.set_dumpable(False)  # inherited from the middle already; said again, it is what keeps us safe
        # die with the middle until the command runs: a caller that gives up (^C) kills the middle
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
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
            _setup_terminal(proc, console_fd)
        step.name = "close file descriptors"
        linux.close_fds_above(sync)  # before the cwd is entered: no fd of the host is left to escape by
        os.umask(0o022)
        linux.prctl(linux.PR_SET_PDEATHSIG, 0)  # from here on the command lives its own life
        init._exec(proc, sync, plan.seccomp_bpf, step)
    except BaseException as exc:
        init._fail(sync, exc, step)


def _check_root(root_fd: int) -> None:
    """setns(CLONE_NEWNS) made our root the namespace's root: it must be the container's (PID 1's) root."""
    want = os.fstat(root_fd)
    have = os.stat("/")
    if (want.st_dev, want.st_ino) != (have.st_dev, have.st_ino):
        raise SetupError("the container's mount namespace root is not its root filesystem; refusing to exec")


def _setup_terminal(proc: ProcessSpec, console_fd: int) -> None:
    """A pty from the container's own devpts (runc's console socket): the master goes to the middle, which
    passes it on to the caller; the slave becomes our controlling terminal and stdio."""
    master = os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        st = os.fstat(master)
        if not stat.S_ISCHR(st.st_mode) or st.st_rdev != _PTMX:
            raise SetupError("/dev/pts/ptmx in the container is not a pty multiplexer")
        linux.unlock_pty(master)
        slave = linux.open_pty_peer(master, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        if proc.tty_size is not None:
            linux.set_window_size(master, *proc.tty_size)
        _send(console_fd, b'{"type": "console"}', [master])
    finally:
        os.close(master)
    os.close(console_fd)
    linux.set_controlling_tty(slave)
    for std in (0, 1, 2):
        os.dup2(slave, std)
    os.close(slave)


__all__ = ["ExecHandle", "ExecOptions", "Target", "exec_in_container", "process_spec", "spawn"]
