"""``system reset`` (podman's): everything of this engine goes, through each room's own removal code, and
then what only a reset removes: the default bridge, the nft table, the run dir's bind mounts, the cgroup
parent and the state directories.

Order matters: containers first (their shims release addresses, veths, published ports and cgroups as they
end), then volumes and images (no container names them any more), then networks (no endpoint is left on
them), then what the engine keeps for all of them. Every step is tried even when an earlier one failed, so a
second reset finishes what a first could not; the first problem is raised at the end.

The settings file ``<root>/daemon.json`` is configuration, not state, and stays (podman keeps its
containers.conf too). Only entries of the root and run dir that the engine makes are deleted, so a
mistaken ``--root`` cannot wipe a directory that was never the engine's.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from core.config import Config
from core.errors import DockyardError, RuntimeFailure

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from collections.abc import Callable

    from core.containers.lifecycle import Lifecycle
    from core.images.store import ImageStore
    from core.network.manager import NetworkManager
    from core.storage.layers import LayerStore
    from core.volumes import VolumeStore

SHIM_EXIT_TIMEOUT = 15.0


def reset(
    config: Config,
    lifecycle: Lifecycle,
    images: ImageStore,
    layers: LayerStore,
    volumes: VolumeStore,
    networks: NetworkManager,
) -> None:
    """Remove every container, volume, image and network of the engine and everything it made on the host.
    Raises :class:`RuntimeFailure` naming the first thing that could not be removed (after trying all)."""
    problems: list[str] = []
    cids = lifecycle.store.ids()
    # each step is tried whatever became of the ones before it: the state directories, above all, are
    # what a second reset needs gone to find nothing more to do
    _try(problems, "containers", _remove_containers, lifecycle, cids, problems)
    _try(problems, "containers", _wait_for_shims, config, cids, problems)
    _try(problems, "containers", _release_leftovers, config, cids, problems)
    _try(problems, "volumes", _remove_volumes, volumes, problems)
    _try(problems, "images", _remove_images, images, layers, problems)
    _try(problems, "networks", _remove_networks, config, networks, problems)
    _try(problems, "cgroups", _remove_cgroup_parent, config)
    _try(problems, "mounts", _unmount_under, config, problems)
    _try(problems, "state", _remove_state, config, problems)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise RuntimeFailure(f"system reset: {problems[0]}{more}; run it again once that is fixed")


def _try(
    problems: list[str], what: str, step: Callable[..., object], *args: object, **kwargs: object
) -> None:
    """One removal; a failure is noted and the reset goes on with the rest."""
    try:
        step(*args, **kwargs)
    except (DockyardError, OSError) as err:
        problems.append(f"{what}: {err}")


def _remove_containers(lifecycle: Lifecycle, cids: list[str], problems: list[str]) -> None:
    """``rm -f -v`` of each container (its shim stops it and frees its network and cgroup)."""
    from core.errors import ContainerNotFound, CorruptState

    for cid in cids:
        try:
            lifecycle.remove(cid, force=True, volumes=True)
        except (ContainerNotFound, CorruptState):
            # a half-made or damaged record: what it may run is ended with its cgroup and network below,
            # its files go with the state directories
            continue
        except (DockyardError, OSError) as err:
            problems.append(f"cannot remove container {cid[:12]}: {err}")


def _wait_for_shims(config: Config, cids: list[str], problems: list[str]) -> None:
    """A removed container's shim may still be releasing its network; what it frees must not be pulled out
    from under it (nor its files recreated after the run dir is gone)."""
    from core.state.locks import held

    locks = config.paths.locks
    deadline = time.monotonic() + SHIM_EXIT_TIMEOUT
    waiting = [cid for cid in cids if held(locks, f"shim-{cid}")]
    while waiting and time.monotonic() < deadline:
        time.sleep(0.02)
        waiting = [cid for cid in waiting if held(locks, f"shim-{cid}")]
    for cid in waiting:
        problems.append(f"the supervisor (shim) of container {cid[:12]} is still running")


def _release_leftovers(config: Config, cids: list[str], problems: list[str]) -> None:
    """What a crashed start or a killed shim left: attachments (veths, netns mounts, addresses, ports) and
    the containers' cgroups."""
    from core.network import endpoints
    from core.network.layout import NetPaths
    from core.network.teardown import release

    np = NetPaths(config.paths)
    attached = [att.cid for att in endpoints.all_attachments(np)]
    for cid in dict.fromkeys([*cids, *attached]):
        _try(problems, f"network of container {cid[:12]}", release, config.paths, cid)
        _try(problems, f"cgroup of container {cid[:12]}", _destroy_cgroup, cid, config.cgroup_parent)


def _destroy_cgroup(cid: str, parent: str) -> None:
    from core.errors import NotFound
    from core.runtime import cgroups

    try:
        group = cgroups.Cgroup.open(cid, parent=parent)
    except NotFound:
        return
    group.destroy()


def _remove_volumes(volumes: VolumeStore, problems: list[str]) -> None:
    for vol in volumes.all():
        _try(problems, f"cannot remove volume {vol.name}", volumes.remove, vol.name, in_use_by=[], force=True)


def _remove_images(images: ImageStore, layers: LayerStore, problems: list[str]) -> None:
    """``image prune -a`` with no container left: every image, its layers and blobs, and what interrupted
    pulls left. Layers and blobs no record names are deleted with the state directories."""
    from core.images.manage import prune_images

    _try(problems, "cannot remove the images", prune_images, images, layers, all_unused=True, in_use={})


def _remove_networks(config: Config, networks: NetworkManager, problems: list[str]) -> None:
    """Every user network, then the default one (its bridge is made again on its next use), then bridges
    whose network record is gone (a crash in ``network create`` between the two), then the nft table."""
    from core.errors import CorruptState
    from core.network import nat, rtnl
    from core.network.store import DEFAULT_ALIASES

    try:
        records = networks.store.records()
    except CorruptState:
        # a damaged record fails every lookup by name or id: the bridges go by their markers below, the
        # records with the state directories
        records = []
    for n in records:
        _try(problems, f"cannot remove network {n.name}", networks.remove, n.id)
    default = networks.store.default()
    if _bridge_ports(default.bridge):
        # another engine configured with the same bridge name has containers on it: not ours to cut
        problems.append(
            f"bridge {default.bridge} still has interfaces of another engine on it; it was left in place"
        )
    else:
        _try(problems, f"cannot remove bridge {default.bridge}", networks.remove, DEFAULT_ALIASES[0])
    np = networks.np
    for marker in nat.bridge_markers(np):
        name = str(marker.get("bridge", ""))
        if name and name != default.bridge:
            _try(problems, f"cannot remove bridge {name}", rtnl.delete_link, name)
        with contextlib.suppress(FileNotFoundError, DockyardError):
            os.unlink(np.bridge_marker(str(marker.get("id", ""))))
    # with no bridge marker and no published port left, sync deletes the table
    _try(problems, f"cannot delete nft table {config.nft_table}", nat.sync, np, config.nft_table)


def _bridge_ports(bridge: str) -> list[str]:
    try:
        return os.listdir(f"/sys/class/net/{bridge}/brif")
    except OSError:
        return []


def _remove_cgroup_parent(config: Config) -> None:
    """The parent folders every container cgroup lives under; they go only if no cgroup is left in them
    (another engine may share the parent)."""
    from core.runtime import cgroups

    with contextlib.suppress(DockyardError, OSError):
        cgroups.Cgroup.remove_parent(config.cgroup_parent)


def _unmount_under(config: Config, problems: list[str]) -> None:
    """Every mount below the root and the run dir, deepest first: the shared netns dir (bind-mounted on
    itself), stale namespace binds, overlays a crashed copy left."""
    from core.network.netns import mount_points
    from core.runtime import linux

    tops = [os.path.realpath(config.paths.root), os.path.realpath(config.paths.run)]
    inside = [m for m in mount_points() if any(m.startswith(top + "/") for top in tops)]
    for mount in sorted(set(inside), key=lambda m: m.count("/"), reverse=True):
        for _ in range(16):  # stacked mounts come off one at a time
            if mount not in mount_points():
                break
            try:
                linux.umount2(mount, linux.MNT_DETACH)
            except OSError as err:
                problems.append(f"cannot unmount {mount}: {err}")
                break


def _state_entries(config: Config) -> list[Path]:
    """What the engine makes in its root and run dir (never the settings file, never a stranger's file)."""
    paths = config.paths
    root_entries = [
        paths.blobs.parent,
        paths.layers,
        paths.images,
        paths.containers,
        paths.volumes,
        paths.networks,
        paths.tmp,
        paths.events,
        paths.events.with_name(paths.events.name + ".1"),  # the rotated half of the event log
        paths.root / "build-cache",
    ]
    from core.state.records import TEMP_PREFIX

    temps = []
    for top in (paths.root, paths.run):
        with contextlib.suppress(FileNotFoundError):
            temps += [top / n for n in os.listdir(top) if n.startswith(TEMP_PREFIX)]
    # "seccomp": the compiled-filter cache of core.runtime.seccomp
    run_entries = [paths.locks, paths.netns, paths.shims, paths.run / "network", paths.run / "seccomp"]
    return [*root_entries, *run_entries, *temps]


def _remove_state(config: Config, problems: list[str]) -> None:
    from core.state.records import remove_tree

    for entry in _state_entries(config):
        _try(problems, f"cannot remove {entry}", remove_tree, entry)
    # the run dir holds nothing else and is made again by the next command
    with contextlib.suppress(OSError):
        config.paths.run.rmdir()


__all__ = ["reset"]
