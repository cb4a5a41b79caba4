"""Launching a container's shim process: see :class:`ShimLauncher`. Kept light (no engine imports), since
``run`` launches its shim before it has even parsed its flags."""

from __future__ import annotations

import os
import sys

_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "DOCKYARD_ROOT", "DOCKYARD_RUN", "DOCKYARD_CGROUP_PARENT")


def shim_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _KEEP_ENV}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    return env


def source_root() -> str:
    """The directory holding the ``core`` package, so the shim imports the same code as its starter."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _python_path() -> str:
    """Our source and the site-packages directories (pyseccomp, for a profile not compiled yet), which
    ``-S`` leaves out: the shim starts without the site module and the venv's .pth files (~2 ms)."""
    dirs = [source_root(), *(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))]
    return os.pathsep.join(dict.fromkeys(dirs))


def _spawn_shim(root: str, run: str, ready_w: int, ctl_r: int) -> int:
    # The shim gets its two pipe ends dup2'ed in the child to numbers above both (dup2 clears close-on-exec
    # there only): making ours inheritable instead would let a process that another thread of ours spawns
    # meanwhile inherit them, and the shim would never see the control pipe close.
    ready_fd = max(2, ready_w, ctl_r) + 1  # above both sources: the first dup2 cannot clobber the second
    ctl_fd = ready_fd + 1
    argv = [sys.executable, "-S", "-m", "core.supervisor.shimstart", root, run]
    argv += ["--ready-fd", str(ready_fd), "--ctl-fd", str(ctl_fd)]
    actions: list[tuple[int, ...] | tuple[int, int, str, int, int]] = [
        (os.POSIX_SPAWN_DUP2, ready_w, ready_fd),
        (os.POSIX_SPAWN_DUP2, ctl_r, ctl_fd),
    ]
    # stdio after the dup2s: a pipe end may itself be fd 0-2 when we were started with one closed
    actions += [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)]
    env = {**shim_env(), "PYTHONPATH": _python_path()}
    return os.posix_spawn(sys.executable, argv, env, file_actions=actions, setsid=True)


def _single_threaded() -> bool:
    """No other thread that a fork could catch holding a lock (the import lock, a stream's)."""
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


def _fork_shim(root: str, run: str, ready_w: int, ctl_r: int) -> int:
    for stream in (sys.stdout, sys.stderr):  # nothing buffered for the child to write a second time
        if stream is not None:
            stream.flush()
    pid = os.fork()
    if pid != 0:
        return pid
    code = 125
    try:
        # what the other way gets from posix_spawn: a session of our own first (the terminal's ctrl-c is no
        # longer ours), the pipes above stdio, stdio on /dev/null, only the environment shim_env keeps
        os.setsid()
        import fcntl

        ready_fd = fcntl.fcntl(ready_w, fcntl.F_DUPFD_CLOEXEC, 3)
        ctl_fd = fcntl.fcntl(ctl_r, fcntl.F_DUPFD_CLOEXEC, 3)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        keep = shim_env()
        os.environ.clear()
        os.environ.update(keep)
        from core.supervisor.shimstart import start

        code = start(root, run, ready_fd, ctl_fd)
    finally:
        os._exit(code)  # never back into our starter's code, whatever happened


class ShimLauncher:
    """A shim process started ahead of its container.

    Python start-up and the shim's imports take tens of milliseconds; ``run`` launches the shim first and
    creates the container meanwhile, then hands the shim the container's id through the control pipe.
    A launcher that is never ordered (create failed) is cancelled: its shim sees the pipe close and exits.

    The shim is started with ``posix_spawn`` (vfork + exec: about a millisecond, safe from a threaded
    process such as the workbench) in a session of its own; or, with ``fork=True`` and only from a process
    with a single thread, by forking this one (``dockyard run`` does, before it imports anything: the shim
    then skips an interpreter's start and the imports it shares with us). Either way it forks once more at
    once (``core.supervisor.shimstart``), so the shim proper is re-parented to init and never becomes our
    zombie; we reap the short-lived middle process.
    """

    def __init__(
        self, root: str | os.PathLike[str], run: str | os.PathLike[str], *, fork: bool = False
    ) -> None:
        self.ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
        ctl_r, self.ctl_w = os.pipe2(os.O_CLOEXEC)
        try:
            if fork and _single_threaded():
                self.pid = _fork_shim(os.fspath(root), os.fspath(run), ready_w, ctl_r)
            else:
                self.pid = _spawn_shim(os.fspath(root), os.fspath(run), ready_w, ctl_r)
        except BaseException:
            os.close(self.ready_r)
            os.close(self.ctl_w)
            raise
        finally:
            os.close(ready_w)
            os.close(ctl_r)

    def _reap(self, block: bool) -> None:
        """Collect the middle process (it exits as soon as the shim proper has forked)."""
        if self.pid <= 0:
            return
        try:
            done, _ = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # someone else reaped it (a SIGCHLD handler of the embedding app)
            done = self.pid
        if done:
            self.pid = 0

    def order(self, cid: str, attach: bool) -> int:
        """Hand the shim its container; returns the read end of its ready pipe, the caller's to read and
        close (the shim writes one JSON line when it listens on its socket, one when the container started
        or failed). The middle process is reaped before this returns (it exits before the shim can read the
        order, let alone answer it)."""
        import json

        try:
            os.write(self.ctl_w, json.dumps({"id": cid, "attach": attach}).encode() + b"\n")
        finally:
            os.close(self.ctl_w)
            self.ctl_w = -1
            self._reap(block=True)
        ready, self.ready_r = self.ready_r, -1
        return ready

    def cancel(self) -> None:
        for fd in (self.ctl_w, self.ready_r):
            if fd >= 0:
                os.close(fd)
        self.ctl_w = self.ready_r = -1
        self._reap(block=True)
