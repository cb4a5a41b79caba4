"""Where the cgroup filesystems are mounted and which cgroups a process is in, read from /proc; and the
primers that make a cgroup move cheap: a starting shim's (:class:`Primer`), and the engine's, for the moves
of exec'd processes (:class:`MovePrimer`, :func:`move_primer`).

Apart from ``core.runtime.cgroups`` (~5 ms of imports) and using only ``os`` and ``threading``, because a
starting shim runs its primer before it imports anything else.
"""

from __future__ import annotations

import os
import threading
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms); mypy knows the name
if TYPE_CHECKING:
    from typing import TypeAlias

    Mount: TypeAlias = tuple[str, str, str, frozenset[str]]

_mounts: tuple[Mount, ...] | None = None


def unescape(path: str) -> str:
    r"""A path from /proc/*/mountinfo, where space, tab, newline and backslash are written ``\ooo``."""
    if "\\" not in path:
        return path
    out, i = [], 0
    while i < len(path):
        octal = path[i + 1 : i + 4]
        if path[i] == "\\" and len(octal) == 3 and all(c in "01234567" for c in octal):
            out.append(chr(int(octal, 8)))
            i += 4
        else:
            out.append(path[i])
            i += 1
    return "".join(out)


def mounts() -> tuple[Mount, ...]:
    """(mount point, fs type, root inside the fs, super options) of every cgroup mount, read once."""
    global _mounts
    if _mounts is None:
        found = []
        with open("/proc/self/mountinfo") as f:
            for line in f:
                pre, _, post = line.partition(" - ")
                fields = pre.split()
                fstype, _source, superopts = [*post.split(), "", "", ""][:3]
                if fstype in ("cgroup", "cgroup2"):
                    found.append(
                        (unescape(fields[4]), fstype, unescape(fields[3]), frozenset(superopts.split(",")))
                    )
        _mounts = tuple(found)
    return _mounts


def cgroups_of(pid: int) -> list[str]:
    """The cgroup directories ``pid`` is in, one per mounted hierarchy, from /proc/<pid>/cgroup."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            text = f.read()
    except OSError:
        return []
    at_root = [m for m in mounts() if m[2] == "/"]  # hierarchies mounted at their root
    found: list[str] = []
    for line in text.splitlines():
        hid, _, rest = line.partition(":")
        names, _, path = rest.partition(":")
        if not path.startswith("/") or "/.." in path:
            continue  # outside our cgroup namespace: not reachable from here
        if hid == "0" and not names:
            where = [m[0] for m in at_root if m[1] == "cgroup2"]
        else:
            wanted = set(names.split(","))
            where = [m[0] for m in at_root if m[1] == "cgroup" and wanted <= m[3]]
        if where:
            found.append(os.path.join(where[0], path.lstrip("/")))
    return list(dict.fromkeys(found))


def open_own_procs() -> int:
    """A write fd on the ``cgroup.procs`` of the first cgroup this process is in: writing our pid there is a
    no-op move (what both primers make). Raises OSError where there is none we may write to."""
    dirs = cgroups_of(os.getpid())
    if not dirs:
        raise FileNotFoundError("this process is in no cgroup we can see")
    return os.open(os.path.join(dirs[0], "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)


class Primer:
    """Pays ahead of time what the kernel charges the first cgroup move in a while.

    Every move of a process between cgroups (a write to ``cgroup.procs``, any hierarchy, v1 or v2) takes
    the kernel's global ``cgroup_threadgroup_rwsem`` for writing, and a writer waits for an RCU grace period
    unless another writer went through within the last ~15 ms: 6-13 ms for the first move here, then
    ~0.1 ms for the next ones (runc pays it too). A starting shim makes one of these first: a thread moves
    the shim into the cgroup it is already in (a no-op move under the same lock), and again every
    ``every`` seconds while the shim imports and waits for its order, so the container's own move is cheap
    however long the order takes. The file is opened before the thread starts, so the thread needs Python's
    lock only to enter the write. :meth:`stop` it before any fork (no thread may be running then).

    ``fd`` is -1 (and nothing runs) where there is no cgroup of ours to write to.
    """

    def __init__(self, every: float = 0.005, lasting: float = 30.0) -> None:
        self.fd = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            self.fd = open_own_procs()
        except OSError:
            return
        self._thread = threading.Thread(target=self._keep_primed, args=(every, lasting), daemon=True)
        self._thread.start()

    def _keep_primed(self, every: float, lasting: float) -> None:
        # only for ``lasting`` seconds: a shim prepared ahead (the API server keeps one warm) may wait for
        # its order for hours, and 200 moves a second cost ~1.5% of a core and take a global kernel lock;
        # an order that comes later pays the one slow move (6-13 ms) instead
        pid = str(os.getpid()).encode()
        until = time.monotonic() + lasting
        try:
            while time.monotonic() < until:
                os.write(self.fd, pid)
                if self._stop.wait(every):
                    return
        except OSError:
            pass

    def stop(self) -> None:
        """Stop moving and wait for the thread to be gone; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


# how long an exec announced by MovePrimer.expect keeps the moves primed if it is never started
PRIME_FOR = 2.0
PRIME_EVERY = 0.005  # a move this often keeps the kernel's fast path open (it closes ~20 ms after a move)
# how long a request to the engine keeps them primed: the docker CLI's exec sends its ping, an inspect and
# the exec's creation before the start whose process moves, ~10 ms in all; the slow move is 6-16 ms
HOLD_AFTER_REQUEST = 0.1


class MovePrimer:
    """The engine's primer: pays ahead of time, while an exec is on its way, what the kernel charges the
    first cgroup move in a while (see :class:`Primer`: 6-16 ms here, more than the rest of an exec's work).
    The exec'd process joins the container's cgroups. From :meth:`expect` (an exec created: Docker's API
    starts it a round trip later) until :meth:`started`, and for a moment after each :meth:`hold` (a client
    is talking to the engine: the docker CLI creates an exec two round trips after its first request, and a
    round trip is shorter than the slow move), a thread moves this process into the cgroup it is already in
    (a no-op move under the same lock) every few milliseconds, so the process's moves find the way open.
    Otherwise it sleeps without a timeout: an idle engine moves nothing and wakes for nothing."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting = 0
        self._until = 0.0  # the announced execs stop counting then (never started)
        self._held_until = 0.0
        self._thread: threading.Thread | None = None
        self._unavailable = False  # no cgroup of ours to write to: nothing to prime

    def expect(self) -> None:
        """An exec will start soon (it was just created); pair with :meth:`started`."""
        with self._cond:
            if self._unavailable:
                return
            self._waiting += 1
            self._until = time.monotonic() + PRIME_FOR
            self._wake()

    def started(self) -> None:
        """An expected exec started (or failed to)."""
        with self._cond:
            self._waiting = max(0, self._waiting - 1)

    def hold(self, seconds: float = HOLD_AFTER_REQUEST) -> None:
        """Keep the moves cheap for the next ``seconds``, whatever else is expected."""
        with self._cond:
            if self._unavailable:
                return
            self._held_until = max(self._held_until, time.monotonic() + seconds)
            self._wake()

    def _wake(self) -> None:  # with self._cond held
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="exec-cgroup-primer", daemon=True)
            self._thread.start()
        self._cond.notify()

    def _priming(self) -> bool:  # with self._cond held
        now = time.monotonic()
        if now >= self._until:
            self._waiting = 0
        return self._waiting > 0 or now < self._held_until

    def _run(self) -> None:
        try:
            fd = open_own_procs()
        except OSError:
            # no cgroup of ours to write to (not root, a read-only cgroupfs): moves cost what they cost
            with self._cond:
                self._unavailable = True
                self._thread = None
            return
        pid = str(os.getpid()).encode()
        try:
            while True:
                with self._cond:
                    while not self._priming():
                        self._cond.wait()
                os.write(fd, pid)
                time.sleep(PRIME_EVERY)
        except OSError:
            with self._cond:
                self._unavailable = True
                self._thread = None
        finally:
            os.close(fd)


_move_primer: MovePrimer | None = None
_move_primer_lock = threading.Lock()


def move_primer() -> MovePrimer:
    """This process's :class:`MovePrimer` (one thread at most, made on first use)."""
    global _move_primer
    with _move_primer_lock:
        if _move_primer is None:
            _move_primer = MovePrimer()
        return _move_primer
