"""Removing a container's files: used by ``rm`` and by the shim for ``--rm``. Safe to re-run after a crash:
the directory is renamed to a temp name first, so a half-removed container is swept, never half-listed.

What a container holds outside its directory (network namespace, veths, addresses, port rules, cgroup, lock
files) is released by :func:`release_leftovers`; :func:`sweep_hidden` finishes removals whose remover (an
``rm`` or a ``--rm`` shim) was killed after the rename, which no listing shows any more.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from core.config import Paths
from core.record import record
from core.state.locks import FileLock, held, remove_unheld
from core.state.records import TEMP_PREFIX, remove_tree, temp_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any


@record
class Hidden:
    """A container renamed out of sight, waiting for :func:`purge_hidden`."""

    cid: str
    name: str
    tree: Path | None
    volumes: list[str]


def hide_container(paths: Paths, cid: str, *, volumes: bool = False) -> Hidden:
    """The quick half of removal: the container vanishes from every listing at once (one rename)."""
    cdir = paths.container(cid)
    cfg: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        cfg = json.loads((cdir / "config.json").read_bytes())
    from core.containers.store import anonymous_volumes

    anon = anonymous_volumes(cfg)
    if (cdir / "shm").exists() or (paths.run / "volume-users").exists():
        # a shareable /dev/shm must not be deleted through, nor a volume's device stay mounted for it
        from core.containers.runtime_spec import release_host_mounts

        with contextlib.suppress(Exception):
            release_host_mounts(paths, cid)
    rootfs = cdir / "rootfs"
    if os.path.ismount(rootfs):
        # a stale overlay from a crashed cp/export would pin the upper dir
        from core.runtime.linux import MNT_DETACH, umount2

        with contextlib.suppress(OSError):
            umount2(str(rootfs), MNT_DETACH)
    tmp: Path | None = None
    if cdir.exists():
        tmp = temp_name(cdir)
        os.rename(cdir, tmp)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(paths.shim_socket(cid))
    return Hidden(cid, str(cfg.get("name", "")), tmp, anon if volumes else [])


def purge_hidden(paths: Paths, hidden: Hidden) -> None:
    """The slow half: delete the renamed tree and the anonymous volumes."""
    if hidden.tree is not None:
        remove_tree(hidden.tree)
    if hidden.volumes:
        from core.volumes import VolumeStore

        store = VolumeStore(paths)
        for vol in hidden.volumes:
            with contextlib.suppress(Exception):
                store.remove(vol, in_use_by=[])


def announce_removal(paths: Paths, hidden: Hidden) -> None:
    """The ``destroy`` event: once hidden, the container is gone from every listing and its name is free."""
    with contextlib.suppress(Exception):
        import core.events as events

        events.emit(paths, "container", "destroy", hidden.cid, {"name": hidden.name})


def release_leftovers(paths: Paths, cid: str, cgroup_parent: str) -> None:
    """Free what a container whose shim is gone still holds outside its directory: the network (veths,
    namespace, endpoint record, port rules, and its addresses on every network, named by an endpoint
    record or not) and the cgroup with anything left in it. Best effort and safe to repeat; the caller
    holds the container's lock and has checked that no shim runs it."""
    from core.network import teardown
    from core.network.ipam import Ipam
    from core.network.layout import NetPaths

    with contextlib.suppress(Exception):
        teardown.release(paths, cid)
    with contextlib.suppress(Exception):
        Ipam(NetPaths(paths)).release_everywhere(cid)
    with contextlib.suppress(Exception):
        from core.containers.runtime_spec import release_host_mounts

        release_host_mounts(paths, cid)
    try:
        from core.runtime import cgroups

        cg = cgroups.Cgroup.open(cid, parent=cgroup_parent)
    except Exception:  # no cgroup (never started, or already gone), or no cgroup support at all
        return
    with contextlib.suppress(Exception):
        cg.destroy()  # kills what is left first


def _started_parent(directory: Path) -> str:
    """The cgroup parent a container was last started under (its ``--cgroup-parent``), from runtime.json."""
    try:
        runtime = json.loads((directory / "runtime.json").read_bytes())
        return str((runtime.get("cgroup") or {}).get("parent") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def has_hidden(paths: Paths) -> bool:
    """Is there anything renamed out of sight in ``containers/`` (one listdir)?"""
    try:
        return any(n.startswith(TEMP_PREFIX) for n in os.listdir(paths.containers))
    except FileNotFoundError:
        return False


def sweep_hidden(paths: Paths, cgroup_parent: str) -> int:
    """Finish the removals (and half-made creations) whose process died: each temp entry of a dead writer
    in ``containers/`` is released (:func:`release_leftovers`), deleted, and its lock files go. An entry
    whose shim still runs is left to it (it is tearing down); one whose lock another sweeper holds too.
    Returns how many entries went."""
    from core.state.ids import HEX64

    done = 0
    for entry in _dead_writers_entries(paths.containers):
        cid = entry.name[-64:]
        if not HEX64.fullmatch(cid) or paths.container(cid).exists():
            remove_tree(entry)  # not a container's directory, or a stale copy beside a live container
            done += 1
            continue
        if held(paths.locks, f"shim-{cid}"):
            continue
        lock = FileLock(paths.locks, f"container-{cid}")
        if not lock.acquire(blocking=False):
            continue
        try:
            release_leftovers(paths, cid, _started_parent(entry) or cgroup_parent)
            remove_tree(entry)
            remove_unheld(paths.locks, f"shim-{cid}")
        finally:
            lock.release(remove=True)
        done += 1
    return done


def _dead_writers_entries(directory: Path) -> list[Path]:
    """The temp entries in ``directory`` whose writer (the pid in the name) is gone. A zombie counts as
    gone: a killed shim whose parent (init, once the starter exited) has not reaped it yet holds nothing
    any more, and on a host whose init never reaps it would otherwise pin the entry for good."""
    try:
        names = [n for n in os.listdir(directory) if n.startswith(TEMP_PREFIX)]
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        pid = name[len(TEMP_PREFIX) :].split("-", 1)[0]
        if not (pid.isdigit() and int(pid) > 0 and _running(int(pid))):
            out.append(directory / name)
    return out


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: leave its entry alone
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] not in (b"Z", b"X")


def sweep_lock_files(paths: Paths) -> int:
    """Delete the ``container-<id>``/``shim-<id>`` lock files of containers that no longer exist (a remover
    killed between its last two steps), unless someone holds them. Returns how many went."""
    from core.state.ids import HEX64

    try:
        names = os.listdir(paths.locks)
    except FileNotFoundError:
        return 0
    try:
        present = os.listdir(paths.containers)
    except FileNotFoundError:
        present = []
    # a hidden (renamed) container keeps its locks until its sweep or its shim is done with them
    known = {n[-64:] for n in present}
    done = 0
    for name in names:
        kind, _, rest = name.partition("-")
        cid = rest.removesuffix(".lock")
        ours = kind in ("container", "shim") and name.endswith(".lock") and HEX64.fullmatch(cid)
        if ours and cid not in known:
            remove_unheld(paths.locks, f"{kind}-{cid}")
            done += 1
    return done
