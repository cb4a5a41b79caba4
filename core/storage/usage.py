"""Disk usage of a directory tree (what ``du -s`` counts: allocated blocks, each inode once), and what
interrupted image work left behind: the temp entries of dead writers (a pull killed half way leaves its
partial blob in ``blobs/`` and its half-unpacked layer in ``tmp/``)."""

from __future__ import annotations

import os
from pathlib import Path

from core.config import Paths
from core.state.records import stale_temp_entries


def disk_usage(path: Path) -> int:
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            total += st.st_blocks * 512
    return total


def entry_usage(path: Path) -> int:
    """Like :func:`disk_usage`, for a file or a directory, the entry itself included."""
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    own = st.st_blocks * 512
    return own + disk_usage(path) if os.path.isdir(path) and not os.path.islink(path) else own


def image_leftovers(paths: Paths) -> list[Path]:
    """Temp entries under ``blobs/`` and ``tmp/`` whose writer is gone. An entry a live process is still
    writing (its pid is in its name, see core.state.records.temp_name) is not one of them."""
    return [*stale_temp_entries(paths.blobs), *stale_temp_entries(paths.tmp)]
