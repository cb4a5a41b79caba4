"""A container's size as docker reports it (``inspect -s``, ``ps -s``): SizeRw is the bytes of what the
container changed (its writable layer: the apparent size of every file, link and device in it, each inode
once, directories not counted, as dockerd's overlay2 DiffSize), SizeRootFs that plus its image's size."""

from __future__ import annotations

import os
from pathlib import Path


def writable_size(upper: Path) -> int:
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _dirnames, filenames in os.walk(upper):
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key not in seen:
                seen.add(key)
                total += st.st_size
    return total
