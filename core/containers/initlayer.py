"""A container's init layer: what docker puts between the image and the writable layer.

``containers/<id>/init/`` holds the files every container has whatever its image: ``/.dockerenv``, the
mountpoints of the system mounts and the /etc files dockyard binds, and ``/etc/mtab`` as a link to
``/proc/mounts`` (docker's daemon/initlayer). It is the top of the overlay's lower layers, so the image's
own files under those names are hidden, and ``diff``, ``commit`` and ``export``'s layer never carry it.
"""

from __future__ import annotations

import os
from pathlib import Path

# docker's set (moby daemon/initlayer/setup_unix.go): directories, empty files (mode 0755 as docker makes
# them), and symlinks
_DIRS = ("dev/pts", "dev/shm", "proc", "sys")
_FILES = (".dockerenv", "etc/resolv.conf", "etc/hosts", "etc/hostname", "dev/console")
_LINKS = (("etc/mtab", "/proc/mounts"),)


def make_init_layer(path: Path) -> None:
    """Create the init layer at ``path`` (a directory that does not exist yet)."""
    path.mkdir(mode=0o755)
    for d in _DIRS:
        os.makedirs(path / d, mode=0o755, exist_ok=True)
    for f in _FILES:
        os.makedirs((path / f).parent, mode=0o755, exist_ok=True)
        fd = os.open(path / f, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o755)
        os.fchmod(fd, 0o755)  # the umask must not make it 0644
        os.close(fd)
    for link, target in _LINKS:
        os.makedirs((path / link).parent, mode=0o755, exist_ok=True)
        os.symlink(target, path / link)
    for p in (path, *(q for q in path.rglob("*") if q.is_dir() and not q.is_symlink())):
        os.chmod(p, 0o755)


def init_layer(container_dir: Path) -> Path | None:
    """The container's init layer, or None for a container made before dockyard had one."""
    path = container_dir / "init"
    return path if path.is_dir() else None
