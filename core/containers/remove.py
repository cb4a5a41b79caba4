"""Removing a container's files: used by ``rm`` and by the shim for ``--rm``. Safe to re-run after a crash:
the directory is renamed to a temp name first, so a half-removed container is swept, never half-listed."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from core.config import Paths
from core.state.records import remove_tree, temp_name


def remove_container_files(paths: Paths, cid: str, *, volumes: bool = False) -> None:
    cdir = paths.container(cid)
    cfg: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        cfg = json.loads((cdir / "config.json").read_bytes())
    anon = [
        m.get("source", "")
        for m in cfg.get("run", {}).get("mounts", [])
        if m.get("type") == "volume" and m.get("anonymous")
    ]
    rootfs = cdir / "rootfs"
    if os.path.ismount(rootfs):
        # a stale overlay from a crashed cp/export would pin the upper dir
        from core.runtime.linux import MNT_DETACH, umount2

        with contextlib.suppress(OSError):
            umount2(str(rootfs), MNT_DETACH)
    if cdir.exists():
        tmp = temp_name(cdir)
        os.rename(cdir, tmp)
        remove_tree(tmp)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(paths.shim_socket(cid))
    if volumes and anon:
        from core.volumes import VolumeStore

        store = VolumeStore(paths)
        for name in anon:
            with contextlib.suppress(Exception):
                store.remove(name, in_use_by=[])
    with contextlib.suppress(Exception):
        import core.events as events

        events.emit(paths, "container", "destroy", cid, {"name": str(cfg.get("name", ""))})
