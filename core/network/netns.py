"""Network namespaces that outlive their processes: ``<run>/netns/<container id>``, a bind mount of the
namespace file, as ``ip netns add`` makes them, so the container's setup process, ``exec`` and the link
set-up can all join it by path. Plain syscalls (core.runtime.linux), no netlink library: ``run`` pays
nothing for them.

The directory is made a shared mount point (again as iproute2 does with /run/netns): a namespace's bind
mount is copied into every mount namespace created while it exists, and without shared propagation our
unmount would not reach those copies, which would keep the namespace, and its veth, alive.

Removing the bind mount drops the last reference once the container's processes are gone; the kernel then
destroys the namespace, and a veth inside it takes its host-side peer along.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from core.runtime import linux

_THREAD_NET = "/proc/thread-self/ns/net"


def mount_points() -> set[str]:
    """Where something is mounted in our mount namespace (from /proc/self/mountinfo)."""
    out = set()
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            parts = line.split(b" ", 5)
            if len(parts) > 4:
                # octal escapes (\040 for a space) as the kernel writes them
                out.add(parts[4].decode("unicode_escape", "replace"))
    return out


def ensure_shared_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if str(directory) in mount_points():
        return
    try:
        linux.mount("none", str(directory), None, linux.MS_SHARED | linux.MS_REC)
    except OSError as err:
        if err.errno != errno.EINVAL:  # EINVAL: not a mount point yet
            raise
        linux.mount(str(directory), str(directory), None, linux.MS_BIND | linux.MS_REC)
        linux.mount("none", str(directory), None, linux.MS_SHARED | linux.MS_REC)


def is_netns(path: Path) -> bool:
    """True if ``path`` is a live namespace bind mount (nsfs), not just the empty file under it."""
    try:
        return os.stat(path).st_dev != os.stat(path.parent).st_dev
    except OSError:
        return False


def create(path: Path) -> None:
    """A new, empty network namespace bound at ``path`` (kept if it is one already)."""
    if is_netns(path):
        return
    ensure_shared_dir(path.parent)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o444)
    os.close(fd)
    # namespaces belong to threads: only this thread moves, and it moves back before anything else runs
    orig = os.open(_THREAD_NET, os.O_RDONLY | os.O_CLOEXEC)
    try:
        linux.unshare(linux.CLONE_NEWNET)
        try:
            linux.mount(_THREAD_NET, str(path), None, linux.MS_BIND)
        finally:
            linux.setns(orig, linux.CLONE_NEWNET)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    finally:
        os.close(orig)


def remove(path: Path) -> None:
    """Unmount and delete ``path``; safe when it is half made or already gone."""
    try:
        linux.umount2(str(path), linux.MNT_DETACH)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOENT):
            raise
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@contextlib.contextmanager
def entered(path: str | Path) -> Iterator[None]:
    """Run the body with this thread inside the namespace at ``path`` (sockets made there stay there)."""
    orig = os.open(_THREAD_NET, os.O_RDONLY | os.O_CLOEXEC)
    try:
        linux.setns_path(str(path), linux.CLONE_NEWNET)
        try:
            yield
        finally:
            linux.setns(orig, linux.CLONE_NEWNET)
    finally:
        os.close(orig)
