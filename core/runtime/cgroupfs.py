"""Where the cgroup filesystems are mounted and which cgroups a process is in, read from /proc; and the
primer that makes a container's cgroup move cheap (:class:`Primer`).

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
        dirs = cgroups_of(os.getpid())
        try:
            self.fd = os.open(os.path.join(dirs[0], "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
        except (IndexError, OSError):
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
