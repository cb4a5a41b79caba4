"""Whole-engine summaries: ``info`` (what this engine is and holds) and ``system df`` (disk use by kind,
and what a prune could reclaim). Both return docker-shaped dicts, as the ``inspect`` family does."""

from __future__ import annotations

import os
import platform
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.config import Config
    from core.images.store import ImageStore
    from core.models import ContainerSummary, Volume
    from core.storage.layers import LayerStore


def dockyard_version() -> str:
    """The installed package's version ("unknown" when run from a tree that is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dockyard")
    except PackageNotFoundError:
        return "unknown"


def info(config: Config, containers: list[ContainerSummary], image_count: int) -> dict[str, Any]:
    from core.models import RUNNING_STATES
    from core.runtime import cgroups

    try:
        cgroup_version = "2" if cgroups.detect() == "v2" else "1"
    except Exception:
        cgroup_version = ""
    return {
        "ID": "",
        "Containers": len(containers),
        "ContainersRunning": sum(c.status == "running" for c in containers),
        "ContainersPaused": sum(c.status == "paused" for c in containers),
        "ContainersStopped": sum(c.status not in RUNNING_STATES for c in containers),
        "Images": image_count,
        "Driver": "overlay",
        "DockerRootDir": str(config.paths.root),
        "RunDir": str(config.paths.run),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "CgroupParent": config.cgroup_parent,
        "SecurityOptions": ["name=seccomp,profile=builtin"],
        "KernelVersion": os.uname().release,
        "OperatingSystem": _os_name(),
        "OSType": "linux",
        "Architecture": os.uname().machine,
        "NCPU": os.cpu_count() or 0,
        "MemTotal": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "Name": socket.gethostname(),
        "ServerVersion": dockyard_version(),
        "Python": platform.python_version(),
        "DefaultBridge": config.bridge,
        "InsecureRegistries": list(config.insecure_registries),
        "RegistryMirrors": list(config.registry_mirrors),
    }


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def version() -> dict[str, Any]:
    """``GET /version`` of this engine."""
    uname = os.uname()
    return {
        "Version": dockyard_version(),
        "Python": platform.python_version(),
        "Os": "linux",
        "Arch": uname.machine,
        "KernelVersion": uname.release,
        "Daemon": "none (in-process engine, one shim per running container)",
    }


def disk_usage(
    config: Config,
    images: ImageStore,
    layers: LayerStore,
    containers: list[ContainerSummary],
    volumes: list[Volume],
    volume_users: dict[str, list[str]],
    volume_size: Callable[[str], int],
    *,
    keep_layers: set[str] | None = None,
) -> list[dict[str, Any]]:
    """Rows like ``docker system df``: Type, TotalCount, Active, Size, Reclaimable (bytes).

    Docker has no row for what an interrupted writer left (partial blobs, half-unpacked layers, finished
    layers and blobs that no image record names and no writer claims, see core.images.claims): it is
    counted in the Images row's size and reclaimable, since ``image prune`` is what removes it.
    ``keep_layers`` are the layers containers are made of (never reclaimable)."""
    from core.images.claims import orphan_bytes
    from core.models import RUNNING_STATES
    from core.storage.usage import disk_usage as du
    from core.storage.usage import entry_usage, image_leftovers

    in_use = {c.image_id for c in containers}
    # images: each unpacked layer once, however many images share it
    layer_size: dict[str, int] = {}
    used_layers: set[str] = set()
    records = list(images.records())
    for rec in records:
        for layer in rec.layers:
            if layer.chain_id not in layer_size:
                try:
                    layer_size[layer.chain_id] = layers.size(layer.chain_id)
                except Exception:
                    layer_size[layer.chain_id] = 0
            if rec.id in in_use:
                used_layers.add(layer.chain_id)
    leftovers = sum(entry_usage(p) for p in image_leftovers(config.paths))
    leftovers += orphan_bytes(images, layers, keep_layers or ())
    images_size = sum(layer_size.values()) + leftovers
    images_reclaimable = images_size - sum(layer_size[c] for c in used_layers)
    # containers: their writable layers
    sizes = {c.id: du(config.paths.container(c.id) / "upper") for c in containers}
    running = [c for c in containers if c.status in RUNNING_STATES]
    # volumes: their files; a volume no container names is reclaimable
    users = volume_users
    vol_sizes = {v.name: volume_size(v.name) for v in volumes}
    return [
        _row("Images", len(records), len(in_use & {r.id for r in records}), images_size, images_reclaimable),
        _row(
            "Containers",
            len(containers),
            len(running),
            sum(sizes.values()),
            sum(sizes[c.id] for c in containers if c.status not in RUNNING_STATES),
        ),
        _row(
            "Local Volumes",
            len(volumes),
            sum(1 for v in volumes if users.get(v.name)),
            sum(vol_sizes.values()),
            sum(size for name, size in vol_sizes.items() if not users.get(name)),
        ),
        # docker's row for its builder's cache (BuildKit's records). dockyard's build cache, like docker's
        # classic builder's, is its intermediate images (core.build.cache: a step's key names the image it
        # made), counted in the Images row: nothing of its own, as docker's with no BuildKit cache
        _row("Build Cache", 0, 0, 0, 0),
    ]


def _row(kind: str, total: int, active: int, size: int, reclaimable: int) -> dict[str, Any]:
    return {"Type": kind, "TotalCount": total, "Active": active, "Size": size, "Reclaimable": reclaimable}
