"""Turn a forked process into a container process and exec the command (runc's ``init``, in Python).

Processes (the caller is the shim, a child subreaper)::

    shim ── fork ──▶ setup (run())           joins/creates the netns, unshares mnt/uts/ipc/pid/cgroup,
                       │                     makes "/" rslave, forks, reports the child's pid, exits
                       └─ fork ──▶ PID 1     mounts the rootfs, pivots, masks, sets hostname, terminal,
                                             rlimits, user, capabilities, no_new_privs, seccomp, closes
                                             every fd above 2, execs the command

The middle process exits at once, so PID 1 is re-parented to the shim (PR_SET_CHILD_SUBREAPER), which
waits for it directly: its exit status is the container's. With ``init: true`` PID 1 stays our Python
process and forks the command (see :mod:`core.runtime.tini`).

Synchronisation is one SOCK_SEQPACKET socket pair, each message one JSON object:

* parent → setup: ``{"type": "go"}`` once the caller has done what must precede the namespaces (moved the
  setup process into the container's cgroup, so that the cgroup namespace is rooted there);
* setup → parent: ``{"type": "pid", "pid": N}`` - PID 1's pid in the caller's pid namespace;
* PID 1 → parent: ``{"type": "console"}`` carrying the terminal's master fd (SCM_RIGHTS) when ``tty``;
  the terminal is made inside the container's own devpts, as runc does;
* anyone → parent: ``{"type": "error", "code": 125|126|127, "message": ...}`` then the sender exits;
* end of file: the child's end is close-on-exec, so EOF without an error means the command was exec'd.

Errors keep docker's classification: 127 when the command is not found, 126 when it cannot be invoked,
125 for anything else, with the failing step named.

Security notes (the CVEs that shaped runc):

* CVE-2019-5736: the setup processes are non-dumpable from the first step, so no process in the container
  can open our /proc/<pid>/exe (the interpreter) or fds; after execve nothing of ours remains: every fd
  above 2 is closed and the exec'd program replaces the interpreter.
* CVE-2024-21626: no directory fd survives pivot_root, cwd is set after it (inside the new root) and
  checked to be reachable, and all inherited fds are closed before execve.
* CVE-2025-31133: masking uses the container's /dev/null only after checking it is the 1:3 character
  device, and mounts on fds resolved inside the root (see :mod:`core.runtime.rootfs`).

Everything the children need is imported here, at import time: after the fork nothing is imported (no
file system access to the host's Python after pivot_root, and no import latency on the start path).
"""

from __future__ import annotations

import _signal  # signal's C module: the same calls on plain ints (see _reset_signals)
import contextlib
import fcntl
import json
import os
import resource
import signal
import socket
import stat
from collections.abc import Callable, Sequence

from core.errors import DockyardError, RuntimeFailure, error_for_exit_code
from core.record import record
from core.runtime import linux, rootfs, seccomp, security, tini
from core.runtime.rootfs import SetupError
from core.runtime.spec import (
    DEFAULT_PATH,
    DEFAULT_SECCOMP,
    RLIM_INFINITY,
    ContainerSpec,
    ProcessSpec,
    UserSpec,
    rlimit_name,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, NoReturn

_NAMESPACES = (
    ("net", linux.CLONE_NEWNET),
    ("ipc", linux.CLONE_NEWIPC),
    ("uts", linux.CLONE_NEWUTS),
    ("pid", linux.CLONE_NEWPID),
    ("cgroup", linux.CLONE_NEWCGROUP),
)
_PTMX = os.makedev(5, 2)  # /dev/pts/ptmx
_MAX_MESSAGE = 64 * 1024
_MAX_DB_FILE = 4 * 1024 * 1024


class ExecError(Exception):
    """The command cannot be started: ``code`` is docker's 126 or 127."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class _Step:
    """The step in progress, so an unexpected error still says where it happened."""

    name = "start"


# ===================================================================================== parent side ====


@record
class Started:
    """A container whose command was exec'd."""

    pid: int  # the container's PID 1, in the caller's pid namespace; wait for it with wait()
    console_fd: int | None = None  # the terminal's master side when spec.process.tty


def spawn(
    spec: ContainerSpec,
    *,
    stdio: Sequence[int | None] = (0, 1, 2),
    before_start: Callable[[int], None] | None = None,
) -> Started:
    """Fork the container and return once its command was exec'd (or raise, with docker's error class).

    ``stdio`` are the fds that become the command's 0, 1, 2 (None: /dev/null); ignored with a terminal.
    ``before_start(pid)`` runs once the setup process exists and before it creates any namespace: the place
    to move it into the container's cgroup. Makes the caller a child subreaper: it must wait() for PID 1
    (:func:`wait`), so SIGCHLD must not be ignored there. Blocks until the command is exec'd.
    Raises CommandNotFound (127), CannotInvoke (126) or RuntimeFailure (125).
    """
    if not linux.is_child_subreaper():
        linux.set_child_subreaper()
    seccomp_bpf = prepare_seccomp(spec.process)
    linux.have_openat2()  # probe once here; the children inherit the answer
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child; reported through the socket
        try:
            parent.close()
            fd = fcntl.fcntl(child.fileno(), fcntl.F_DUPFD_CLOEXEC, 3)  # never 0..2, which stdio takes
            child.close()
            _setup_stdio(stdio, fd)
            run(spec, sync_fd=fd, seccomp_bpf=seccomp_bpf)
        finally:
            os._exit(125)
    child.close()
    try:
        if before_start is not None:
            before_start(pid)
        parent.send(b'{"type": "go"}')
        report = read_start(parent)
        pid1, console, error = report.pid, report.console, report.error
    except BaseException:
        _kill_quietly(pid)
        raise
    finally:
        parent.close()
        os.waitpid(pid, 0)  # the setup process exits as soon as PID 1 exists
    if error is not None:
        if console is not None:
            os.close(console)
        if pid1 is not None:
            os.waitpid(pid1, 0)  # re-parented to us now that the setup process is gone; it is exiting
        message = str(error.get("message", "container init failed"))
        raise error_for_exit_code(int(error.get("code", 125)), message)
    if pid1 is None:
        raise RuntimeFailure("container init exited before starting the container")
    return Started(pid1, console)


def _setup_stdio(stdio: Sequence[int | None], keep: int) -> None:
    # copy the sources above 2 first, so a dup2 never overwrites a source it still needs
    sources = []
    for fd in stdio:
        opened = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC) if fd is None else -1
        sources.append(fcntl.fcntl(fd if fd is not None else opened, fcntl.F_DUPFD_CLOEXEC, 3))
        if opened >= 0:
            os.close(opened)
    for target, src in enumerate(sources):
        os.dup2(src, target)  # dup2 clears close-on-exec on the target
    for src in sources:
        if src != keep:
            os.close(src)


@record
class StartReport:
    """What the sync socket said until its end of file (every copy closed: the command was exec'd, or the
    one who failed said why first)."""

    pid: int | None = None  # the process started (PID 1, or an exec's process)
    pidfd: int | None = None  # a pidfd of it, when the message carried one (an exec's supervisor sends it)
    console: int | None = None  # the pty master, with a terminal
    error: dict[str, Any] | None = None  # the first {"type": "error", "code": ..., "message": ...}


def read_start(sock: socket.socket) -> StartReport:
    """Messages until EOF; the fds that came with them are close-on-exec here."""
    report = StartReport()
    while True:
        data, fds, _flags, _addr = socket.recv_fds(sock, _MAX_MESSAGE, 4)
        if not data and not fds:
            return report
        for fd in fds:
            os.set_inheritable(fd, False)
        try:
            msg = json.loads(data) if data else {}
        except ValueError:
            msg = {}
        kind = msg.get("type")
        if kind == "pid" and report.pid is None:
            report.pid = int(msg["pid"])
            if fds:
                report.pidfd = fds.pop(0)
        elif kind == "console" and report.console is None and fds:
            report.console = fds.pop(0)
        elif kind == "error" and report.error is None:
            report.error = msg
        for fd in fds:
            os.close(fd)


def send_message(fd: int, data: bytes, fds: Sequence[int] = ()) -> None:
    """One message on a sync socket (``fd``, left open), with ``fds`` passed along."""
    sock = socket.socket(fileno=fd)
    try:
        socket.send_fds(sock, [data], list(fds))
    finally:
        sock.detach()


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait(pid: int) -> int:
    """Wait for a container's PID 1 and return its exit code as docker reports it (128+N if killed)."""
    _pid, status = os.waitpid(pid, 0)
    return tini.exit_code(status)


def prepare_seccomp(proc: ProcessSpec, *, cache_dir: Path | None = None) -> bytes | None:
    """Build (or fetch from cache) the seccomp BPF now, while libseccomp and the cache are reachable.
    ``cache_dir``: the engine's cache (default: the one under $DOCKYARD_RUN)."""
    if proc.seccomp is None:
        return None
    try:
        profile = seccomp.default_profile() if proc.seccomp == DEFAULT_SECCOMP else proc.seccomp
        if not isinstance(profile, dict):
            raise RuntimeFailure(f"unknown seccomp profile {profile!r}")
        return seccomp.build_filter(profile, proc.capabilities, cache_dir=cache_dir)
    except DockyardError:
        raise
    except Exception as err:
        raise RuntimeFailure(f"cannot build the seccomp filter: {err}") from err


# ====================================================================================== child side ====


def run(
    spec: ContainerSpec, *, sync_fd: int, seccomp_bpf: bytes | None = None, wait_go: bool = True
) -> NoReturn:
    """The setup process: everything up to the fork of PID 1. Never returns.

    ``sync_fd`` is this side of the SOCK_SEQPACKET pair (see the module docstring). ``seccomp_bpf`` is the
    filter built by :func:`prepare_seccomp` in the parent; if None and the spec has a profile, it is built
    here (before pivot_root, where libseccomp is still visible).
    """
    step = _Step()
    try:
        os.set_inheritable(sync_fd, False)  # close-on-exec: EOF on the parent side means "exec'd"
        if wait_go:
            step.name = "wait for the go-ahead"
            if not os.read(sync_fd, _MAX_MESSAGE):
                os._exit(125)  # the caller went away
        # from here on no other process may open our /proc/<pid>/{exe,fd,mem} (CVE-2019-5736)
        linux.set_dumpable(False)
        if seccomp_bpf is None and spec.process.seccomp is not None:
            step.name = "build the seccomp filter"
            seccomp_bpf = prepare_seccomp(spec.process)
        flags = linux.CLONE_NEWNS
        for kind, flag in _NAMESPACES:
            where = getattr(spec, f"{kind}ns")
            if where == "new":
                flags |= flag
            elif where != "host":
                step.name = f"join {kind} namespace {where}"
                linux.setns_path(where, flag)
        step.name = "create namespaces"
        linux.unshare(flags)
        step.name = "make mounts slave"
        rootfs.make_mounts_slave()
        if spec.netns == "new":
            step.name = "bring up the loopback interface"
            linux.bring_up_loopback()
        step.name = "fork the container's PID 1"
        pid = os.fork()
    except BaseException as exc:
        _fail(sync_fd, exc, step)
    if pid == 0:
        _pid1(spec, sync_fd, seccomp_bpf)
    try:
        os.write(sync_fd, json.dumps({"type": "pid", "pid": pid}).encode())
    except OSError:
        _kill_quietly(pid)
        os._exit(125)
    os._exit(0)


def _pid1(spec: ContainerSpec, sync_fd: int, seccomp_bpf: bytes | None) -> NoReturn:
    """PID 1 in the new pid namespace: build the root, pivot into it, then exec (or supervise with --init)."""
    step = _Step()
    proc = spec.process
    try:
        step.name = "mount the root filesystem"
        rootfs.mount_overlay(spec.rootfs)
        rootfd = os.open(spec.rootfs.mountpoint, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            step.name = "mount filesystems in the container"
            rootfs.mount_all(spec, rootfd)
        finally:
            os.close(rootfd)
        step.name = "pivot_root"
        rootfs.pivot(spec.rootfs.mountpoint)
        rootfs.reopen_dev_null_stdio()
        step.name = "setsid"
        os.setsid()
        if proc.tty:
            step.name = "set up the terminal"
            setup_terminal(proc, [sync_fd], console=rootfs.owns_dev(spec))
        for key, value in spec.sysctls.items():
            step.name = f"set sysctl {key}"
            _write_sysctl(key, value)
        step.name = "mask paths"
        rootfs.mask_paths(spec.masked_paths)
        step.name = "make paths read-only"
        rootfs.readonly_paths(spec.readonly_paths)
        step.name = f"create working directory {proc.cwd}"
        _ensure_cwd(proc.cwd)
        if spec.readonly_rootfs:
            step.name = "make the root read-only"
            rootfs.readonly_root()
        if spec.hostname:
            step.name = "set hostname"
            linux.sethostname(spec.hostname)
        if spec.domainname:
            step.name = "set domain name"
            linux.setdomainname(spec.domainname)
        os.umask(0o022)
        if spec.init:
            step.name = "start the init process"
            tini.block_signals()
            child = os.fork()
            if child != 0:
                _become_init(proc, sync_fd, seccomp_bpf, child)
            if proc.tty:
                _take_terminal_foreground()
        _exec(proc, sync_fd, seccomp_bpf, step)
    except BaseException as exc:
        _fail(sync_fd, exc, step)


def _become_init(proc: ProcessSpec, sync_fd: int, seccomp_bpf: bytes | None, child: int) -> NoReturn:
    try:
        os.close(sync_fd)  # the command holds the only copy now: EOF for the parent means it exec'd
        linux.close_range(3)
        null = os.open("/dev/null", os.O_RDWR)  # do not hold the command's pipes open
        for std in (0, 1, 2):
            os.dup2(null, std)
        os.close(null)
        linux.set_name("init")
        # /proc/1/cmdline would show the shim's command line (host paths): show what tini's does instead
        linux.set_command_line(["/sbin/docker-init", "--", *proc.args])
        security.apply(proc.capabilities, proc.no_new_privs, seccomp_bpf)
    except BaseException:
        os.kill(child, signal.SIGKILL)
        os._exit(125)
    tini.supervise(child)


def _take_terminal_foreground() -> None:
    """With --init: the command gets its own process group and the terminal's foreground, so ^C reaches it."""
    os.setpgid(0, 0)
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # we are a background group until tcsetpgrp
    try:
        os.tcsetpgrp(0, os.getpgrp())
    finally:
        signal.signal(signal.SIGTTOU, old)


def _exec(proc: ProcessSpec, sync_fd: int, seccomp_bpf: bytes | None, step: _Step) -> NoReturn:
    env = _environ(proc.env)
    step.name = "resolve the user"
    uid, gid, groups, home = resolve_user(proc.user)
    env.setdefault("HOME", home)
    step.name = "set rlimits"
    _apply_rlimits(proc)
    step.name = "switch user"
    if uid != 0:
        security.prepare_user_switch()  # keep `permitted` across setuid, so apply() can still drop caps
    os.setgroups(groups)
    os.setgid(gid)
    os.setuid(uid)
    step.name = "chdir"
    _chdir(proc.cwd)
    step.name = "find the command"
    path = look_path(proc.args[0], env.get("PATH", DEFAULT_PATH))
    step.name = "reset signals"
    _reset_signals()
    step.name = "apply capabilities, no_new_privs and seccomp"
    security.apply(proc.capabilities, proc.no_new_privs, seccomp_bpf)
    step.name = "close file descriptors"
    linux.close_fds_above(sync_fd)
    try:
        os.execve(path, proc.args, env)
    except OSError as err:
        code = 127 if err.errno == 2 else 126
        raise ExecError(code, f"exec {path}: {_lower(err.strerror or str(err))}") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _fail(sync_fd: int, exc: BaseException, step: _Step) -> NoReturn:
    code = 125
    if isinstance(exc, ExecError):
        code, message = exc.code, str(exc)
    elif isinstance(exc, SetupError | DockyardError):
        message = str(exc)
    elif isinstance(exc, OSError):
        where = (
            f" ({exc.filename})" if exc.filename and not str(exc.filename).startswith("/proc/self/fd") else ""
        )
        message = f"{step.name}: {_lower(exc.strerror or str(exc))}{where}"
    else:
        message = f"{step.name}: {type(exc).__name__}: {exc}"
    try:
        os.write(sync_fd, json.dumps({"type": "error", "code": code, "message": message}).encode())
    except OSError:
        pass
    os._exit(code)


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


# -- the pieces ------------------------------------------------------------------------------------------


def setup_terminal(proc: ProcessSpec, send_to: Sequence[int], *, console: bool) -> None:
    """A pty from the container's own devpts (runc's console socket): the master goes on each socket of
    ``send_to`` (the parent's sync socket; for an exec, the caller's and the shim's), the slave becomes our
    controlling terminal and stdio. ``console``: also bind it to /dev/console."""
    master = os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        st = os.fstat(master)
        if not stat.S_ISCHR(st.st_mode) or st.st_rdev != _PTMX:
            raise SetupError("/dev/pts/ptmx in the container is not a pty multiplexer")
        linux.unlock_pty(master)
        slave = linux.open_pty_peer(master, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        if proc.tty_size is not None:
            linux.set_window_size(master, *proc.tty_size)
        for fd in send_to:
            send_message(fd, b'{"type": "console"}', [master])
    finally:
        os.close(master)
    if console:  # only in a /dev we made: never create or cover a node in a /dev the user mounted
        rootfs.make_console(slave)
    linux.set_controlling_tty(slave)
    for std in (0, 1, 2):
        os.dup2(slave, std)
    os.close(slave)


def _write_sysctl(key: str, value: str) -> None:
    path = "/proc/sys/" + key.replace(".", "/")
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _ensure_cwd(cwd: str) -> None:
    """Docker creates a missing working directory (as root, 0755) before the command starts."""
    try:
        os.makedirs(cwd, 0o755, exist_ok=True)
    except FileExistsError:
        raise SetupError(f"working directory {cwd} exists and is not a directory") from None


def _chdir(cwd: str) -> None:
    try:
        os.chdir(cwd)
    except PermissionError:
        raise ExecError(126, f"chdir to working directory {cwd}: permission denied") from None
    except OSError as err:
        raise SetupError(f"chdir to working directory {cwd}: {_lower(err.strerror or str(err))}") from None
    # a cwd outside the root shows as "(unreachable)..." (CVE-2024-21626's symptom): never exec there
    if not os.getcwd().startswith("/"):
        raise SetupError(f"working directory {cwd} is outside the container")


def _environ(env: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _reset_signals() -> None:
    """Python ignores SIGPIPE and SIGXFSZ, and ignored signals survive execve: the command must start with
    default dispositions and nothing blocked, as under docker."""
    # through _signal, not signal.py, which wraps every number and handler in an enum: over every signal,
    # in a child just forked (whose pages are all still shared), that was 0.37 ms of an exec's 8
    for sig in range(1, signal.NSIG):
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            handler = _signal.getsignal(sig)
        except (OSError, ValueError):
            continue
        if handler is None:  # 32 and 33: glibc's own, unknown to Python, refused by glibc's sigaction
            with contextlib.suppress(OSError):
                linux.default_signal_raw(sig)
        elif handler == _signal.SIG_IGN:
            _signal.signal(sig, _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, ())


def _apply_rlimits(proc: ProcessSpec) -> None:
    for limit in proc.rlimits:
        name = rlimit_name(limit.type)
        kind = getattr(resource, f"RLIMIT_{name.upper()}", None)
        if kind is None:
            raise SetupError(f"ulimit {name} is not supported on this system")
        soft = resource.RLIM_INFINITY if limit.soft == RLIM_INFINITY else limit.soft
        hard = resource.RLIM_INFINITY if limit.hard == RLIM_INFINITY else limit.hard
        try:
            resource.setrlimit(kind, (soft, hard))
        except (ValueError, OSError) as err:
            _cur, cur_hard = resource.getrlimit(kind)
            shown = "unlimited" if cur_hard == resource.RLIM_INFINITY else str(cur_hard)
            raise SetupError(
                f"cannot set ulimit {name}={_fmt_limit(limit.soft)}:{_fmt_limit(limit.hard)}: the hard limit"
                f" here is {shown} and raising it needs CAP_SYS_RESOURCE ({err})"
            ) from None


def _fmt_limit(value: int) -> str:
    return "unlimited" if value == RLIM_INFINITY else str(value)


def look_path(name: str, path_env: str) -> str:
    """Find the command like Go's exec.LookPath, with runc's (and so docker's) error messages."""
    if "/" in name:
        try:
            st = os.stat(name)
        except OSError as err:
            code = 127 if err.errno in (2, 20) else 126  # ENOENT, ENOTDIR
            raise ExecError(code, f'exec: "{name}": stat {name}: {_lower(err.strerror or "")}') from None
        if stat.S_ISDIR(st.st_mode) or not _executable(name, st):
            raise ExecError(126, f'exec: "{name}": permission denied')
        return name
    for directory in path_env.split(":"):
        candidate = os.path.join(directory or ".", name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) and _executable(candidate, st):
            return candidate
    raise ExecError(127, f'exec: "{name}": executable file not found in $PATH')


def _executable(path: str, st: os.stat_result) -> bool:
    return bool(st.st_mode & 0o111) and os.access(path, os.X_OK, effective_ids=True)


# -- users and groups, from the container's own /etc/passwd and /etc/group --------------------------------


def _read_db(path: str) -> list[list[str]]:
    """colon-separated records of a small regular file; [] if it is missing or odd (a FIFO, a device...)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return []
        data = os.read(fd, _MAX_DB_FILE)
    finally:
        os.close(fd)
    rows = []
    for line in data.decode("utf-8", "replace").splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


def _id(text: str) -> int | None:
    if text.isdigit() and int(text) < 2**32 - 1:
        return int(text)
    return None


def resolve_user(user: UserSpec) -> tuple[int, int, list[int], str]:
    """(uid, gid, supplementary gids, home) for ``user``, resolved like docker/runc inside the root."""
    passwd = _read_db("/etc/passwd")
    if user.name is None:
        home = next((r[5] for r in passwd if len(r) >= 7 and _id(r[2]) == user.uid), "/")
        added = _group_ids(user.additional_groups, _read_db("/etc/group")) if user.additional_groups else []
        return user.uid, user.gid, list(dict.fromkeys([*user.additional_gids, *added])), home or "/"
    name, _, group = user.name.partition(":")
    name = name or "0"  # docker: no user means root
    entry = None
    for row in passwd:
        valid = len(row) >= 7 and _id(row[2]) is not None and _id(row[3]) is not None
        if valid and (row[0] == name or (_id(name) is not None and _id(row[2]) == _id(name))):
            entry = row
            break
    if entry is not None:
        uid, gid, home, login = int(entry[2]), int(entry[3]), entry[5] or "/", entry[0]
    elif _id(name) is not None:
        uid, gid, home, login = int(name), 0, "/", ""
    else:
        raise SetupError(f"unable to find user {name}: no matching entries in passwd file")
    groups_db = _read_db("/etc/group")
    extra: list[int] = []
    if group:
        gid_value = _id(group)
        if gid_value is None:
            found = [r for r in groups_db if len(r) >= 3 and r[0] == group and _id(r[2]) is not None]
            if not found:
                raise SetupError(f"unable to find group {group}: no matching entries in group file")
            gid_value = int(found[0][2])
        gid = gid_value
    elif login:
        for row in groups_db:
            if len(row) >= 4 and _id(row[2]) is not None and login in row[3].split(","):
                extra.append(int(row[2]))
    # as docker's: the primary group is always among the supplementary ones, then the user's groups in
    # /etc/group (when no group was named), then --group-add's
    added = _group_ids(user.additional_groups, groups_db)
    return uid, gid, list(dict.fromkeys([gid, *extra, *user.additional_gids, *added])), home


def _group_ids(groups: list[str], groups_db: list[list[str]]) -> list[int]:
    """--group-add's names and ids as gids: a number is taken as it is, a name looked up (docker's
    GetAdditionalGroups, with its error)."""
    out = []
    for group in groups:
        found = [r for r in groups_db if len(r) >= 3 and r[0] == group and _id(r[2]) is not None]
        if found:
            out.append(int(found[0][2]))
        elif _id(group) is not None:
            out.append(int(group))
        else:
            raise SetupError(f"Unable to find group {group}: no matching entries in group file")
    return out
