"""Mounts the engine makes on the host, outside any container, for as long as containers use them: a
``shareable`` container's /dev/shm (its IPC peers bind the same tmpfs) and the local volume driver's
``type``/``device``/``o`` volumes. Docker keeps the same two under its root (``containers/<id>/mounts/shm``,
``volumes/<name>/_data``).

Each is a mount on a directory the engine owns; it is found in ``/proc/self/mountinfo`` (never guessed) and
lazily detached, so a container that still holds it keeps its own reference."""

from __future__ import annotations

import os

from core.runtime import linux
from core.runtime.cgroupfs import unescape

# mount(8)'s option words that are flags; everything else in ``o=`` is passed to the filesystem as data
_FLAGS: dict[str, tuple[int, bool]] = {
    "ro": (linux.MS_RDONLY, True),
    "rw": (linux.MS_RDONLY, False),
    "nosuid": (linux.MS_NOSUID, True),
    "suid": (linux.MS_NOSUID, False),
    "nodev": (linux.MS_NODEV, True),
    "dev": (linux.MS_NODEV, False),
    "noexec": (linux.MS_NOEXEC, True),
    "exec": (linux.MS_NOEXEC, False),
    "sync": (linux.MS_SYNCHRONOUS, True),
    "async": (linux.MS_SYNCHRONOUS, False),
    "dirsync": (linux.MS_DIRSYNC, True),
    "noatime": (linux.MS_NOATIME, True),
    "atime": (linux.MS_NOATIME, False),
    "nodiratime": (linux.MS_NODIRATIME, True),
    "diratime": (linux.MS_NODIRATIME, False),
    "relatime": (linux.MS_RELATIME, True),
    "norelatime": (linux.MS_RELATIME, False),
    "strictatime": (linux.MS_STRICTATIME, True),
    "bind": (linux.MS_BIND, True),
    "rbind": (linux.MS_BIND | linux.MS_REC, True),
    "private": (linux.MS_PRIVATE, True),
    "rprivate": (linux.MS_PRIVATE | linux.MS_REC, True),
    "slave": (linux.MS_SLAVE, True),
    "rslave": (linux.MS_SLAVE | linux.MS_REC, True),
    "shared": (linux.MS_SHARED, True),
    "rshared": (linux.MS_SHARED | linux.MS_REC, True),
}


def parse_options(text: str) -> tuple[int, str]:
    """``o=`` text (``size=10m,uid=1000,ro``) as mount(2)'s flags and data, as docker's mount.ParseOptions."""
    flags = 0
    data = []
    for opt in filter(None, text.split(",")):
        known = _FLAGS.get(opt)
        if known is None:
            data.append(opt)
        elif known[1]:
            flags |= known[0]
        else:
            flags &= ~known[0]
    return flags, ",".join(data)


def is_mounted(path: str | os.PathLike[str]) -> bool:
    """Is something mounted exactly at ``path`` (in this process's mount namespace)?"""
    where = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo") as f:
            return any(unescape(line.split()[4]) == where for line in f)
    except OSError:
        return False


def mount(source: str, target: str | os.PathLike[str], fstype: str, options: str) -> None:
    """Mount ``source`` on ``target`` with ``o=``-style ``options``; OSError as mount(2) fails. A bind
    ignores the type (as mount(8)); the mount is made private, so it never propagates to other mounts."""
    flags, data = parse_options(options)
    target = os.fspath(target)
    propagation = flags & (linux.MS_PRIVATE | linux.MS_SLAVE | linux.MS_SHARED)
    flags &= ~(linux.MS_PRIVATE | linux.MS_SLAVE | linux.MS_SHARED)
    linux.mount(source, target, None if flags & linux.MS_BIND else fstype, flags, data or None)
    linux.mount(None, target, None, (propagation or linux.MS_PRIVATE) | (flags & linux.MS_REC))


def mount_flags(options: str) -> int:
    return parse_options(options)[0]


def unmount(path: str | os.PathLike[str]) -> bool:
    """Detach whatever is mounted at ``path`` (all of it, if mounted more than once); True if it was."""
    found = False
    while is_mounted(path):
        try:
            linux.umount2(os.fspath(path), linux.MNT_DETACH)
        except OSError:
            return found
        found = True
    return found


def mount_shm(target: str | os.PathLike[str], size: int) -> None:
    """A container's /dev/shm as a host tmpfs (``--ipc shareable``), unless already there."""
    if is_mounted(target):
        return
    os.makedirs(target, mode=0o755, exist_ok=True)
    linux.mount(
        "shm",
        os.fspath(target),
        "tmpfs",
        linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC,
        f"mode=1777,size={size}",
    )
    linux.mount(None, os.fspath(target), None, linux.MS_PRIVATE)
