"""``--init``: a minimal PID 1 that reaps zombies, forwards signals to the command and exits with its code.

Docker runs tini (a static C binary it bind-mounts at /sbin/docker-init) as PID 1. We have no such binary to
exec, and exec'ing our Python interpreter from inside the container would hand the container a path to it
(the CVE-2019-5736 shape). So with ``init: true`` the container's PID 1 simply *stays* the Python process
that set the container up: it forks the real command, which finishes the set-up and execs, and PID 1 runs
:func:`supervise` until the command exits.

Trade-off: PID 1 is a forked copy of the shim's interpreter, ~10 MB of RSS that is mostly shared copy-on-write
with the shim (pages it touches while it loops are not), against tini's ~1 MB. It holds no fd, its cwd is the
container's "/", it is non-dumpable (other processes cannot open its /proc/1/{exe,mem,fd,root}) and it gets
the same capabilities and seccomp filter as the command. ``/proc/1/cmdline`` is rewritten to what tini's
shows (``/sbin/docker-init -- CMD...``, cut to the length of the shim's own command line, which would show
host paths); ``comm`` is set to "init".

Signals: everything a terminal or ``docker kill`` may send is blocked and collected with ``sigwaitinfo``
(a PID 1 ignores signals it has no handler for, but blocked ones stay pending and can be waited for - tini's
method), then forwarded to the command. Synchronous signals (SIGSEGV, SIGFPE...) and SIGKILL/SIGSTOP cannot
be forwarded and are left alone.
"""

from __future__ import annotations

import os
import signal

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import NoReturn


# tini's list of signals never forwarded: they are raised by the faulting process itself.
_NOT_FORWARDED = {
    signal.SIGFPE,
    signal.SIGILL,
    signal.SIGSEGV,
    signal.SIGBUS,
    signal.SIGABRT,
    signal.SIGTRAP,
    signal.SIGSYS,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGKILL,
    signal.SIGSTOP,
    signal.SIGCHLD,  # ours: it tells us to reap
}
FORWARDED: frozenset[int] = frozenset(int(s) for s in signal.valid_signals() if s not in _NOT_FORWARDED)
_WAITED: frozenset[int] = FORWARDED | {int(signal.SIGCHLD)}


def block_signals() -> None:
    """Block what :func:`supervise` waits for. Call before forking the command, so nothing is missed; the
    command unblocks everything before its execve."""
    signal.pthread_sigmask(signal.SIG_BLOCK, _WAITED)


def exit_code(status: int) -> int:
    """A wait status as a shell (and docker) reports it: the exit code, or 128 + the killing signal."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return 125


def supervise(child: int) -> NoReturn:
    """Forward signals to ``child`` and reap every zombie until ``child`` exits, then exit with its code.

    When PID 1 exits the kernel kills whatever is left in the namespace, so no orphan outlives us.
    """
    while True:
        signo = signal.sigwaitinfo(_WAITED).si_signo
        if signo != signal.SIGCHLD:
            try:
                os.kill(child, signo)
            except ProcessLookupError:
                pass
            continue
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                os._exit(125)  # the command vanished without us seeing its status
            if pid == 0:
                break
            if pid == child:
                os._exit(exit_code(status))
