"""core.state.locks: flock files, and deleting one whose subject is gone without breaking a waiter."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from core.state.locks import FileLock, held, remove_unheld


def test_acquire_creates_the_file_and_release_can_delete_it(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "locks", "container-a")
    assert lock.acquire()
    assert lock.path.exists()
    lock.release(remove=True)
    assert not lock.path.exists()
    lock.release(remove=True)  # twice: nothing left to do


def test_a_second_holder_is_refused_while_the_first_holds(tmp_path: Path) -> None:
    first, second = FileLock(tmp_path, "x"), FileLock(tmp_path, "x")
    assert first.acquire()
    assert not second.acquire(blocking=False)
    first.release()
    assert second.acquire(blocking=False)
    second.release()


def test_a_waiter_on_a_deleted_lock_ends_up_holding_the_file_that_is_there(tmp_path: Path) -> None:
    """The waiter opened the file before its holder deleted it: it must not go on holding that orphan,
    which a third process could no longer see; it locks the new file at the path instead."""
    holder, waiter = FileLock(tmp_path, "c"), FileLock(tmp_path, "c")
    assert holder.acquire()
    got = threading.Event()
    thread = threading.Thread(target=lambda: (waiter.acquire(), got.set()))
    thread.start()
    time.sleep(0.05)  # the waiter has opened the file and sits in flock
    assert not got.is_set()
    holder.release(remove=True)
    thread.join(timeout=5)
    assert got.is_set()
    assert waiter._fd is not None
    on_disk, mine = os.stat(waiter.path), os.fstat(waiter._fd)
    assert (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino)
    assert not FileLock(tmp_path, "c").acquire(blocking=False)  # and a newcomer sees it held
    waiter.release()


def test_held_probes_without_creating(tmp_path: Path) -> None:
    assert not held(tmp_path, "shim-a")
    assert not (tmp_path / "shim-a.lock").exists()
    lock = FileLock(tmp_path, "shim-a")
    lock.acquire()
    assert held(tmp_path, "shim-a")
    lock.release()
    assert not held(tmp_path, "shim-a")


def test_remove_unheld_leaves_a_held_lock(tmp_path: Path) -> None:
    lock = FileLock(tmp_path, "shim-b")
    lock.acquire()
    remove_unheld(tmp_path, "shim-b")
    assert lock.path.exists()
    lock.release()
    remove_unheld(tmp_path, "shim-b")
    assert not lock.path.exists()
    remove_unheld(tmp_path, "shim-b")  # and nothing to remove is fine
