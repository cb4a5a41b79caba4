"""fcntl locks under the run dir: two dockyard processes may run at once, so changes take locks, not luck.

A lock whose subject goes away (a removed container's ``container-<id>`` and ``shim-<id>``) is deleted by
its last holder, :meth:`FileLock.release` with ``remove=True``, so the run dir does not collect two files a
container forever. Deleting a flock file is safe only because every :meth:`FileLock.acquire` checks, once
it holds the lock, that the file it locked is still the one at the path, and starts again if not: a waiter
that had opened the deleted file never goes on holding a lock nobody else can see.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType


class FileLock:
    """An exclusive (or shared) ``flock`` on ``<locks>/<name>.lock``; released when the process dies."""

    def __init__(self, locks_dir: Path, name: str, shared: bool = False) -> None:
        self.path = locks_dir / f"{name}.lock"
        self.shared = shared
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        op = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        if not blocking:
            op |= fcntl.LOCK_NB
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except FileNotFoundError:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                continue
            try:
                fcntl.flock(fd, op)
            except BlockingIOError:
                os.close(fd)
                return False
            if _same_file(fd, self.path):
                self._fd = fd
                return True
            os.close(fd)  # its holder deleted it while we waited: lock the file that is there now

    def release(self, *, remove: bool = False) -> None:
        """Unlock; with ``remove``, delete the lock file first (its subject is gone for good). Releasing an
        unheld lock does nothing, so a ``with`` block may release early."""
        if self._fd is not None:
            if remove:
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def held(locks_dir: Path, name: str) -> bool:
    """Does some process hold ``<locks>/<name>.lock``? A probe: it never creates the file."""
    try:
        fd = os.open(locks_dir / f"{name}.lock", os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def remove_unheld(locks_dir: Path, name: str) -> None:
    """Delete ``<locks>/<name>.lock`` unless someone holds it (a removed container's shim lock)."""
    lock = FileLock(locks_dir, name)
    if os.path.exists(lock.path) and lock.acquire(blocking=False):
        lock.release(remove=True)


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)
