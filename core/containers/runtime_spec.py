"""From a container record to what the shim runs: the ContainerSpec plus the shim's own settings
(cgroup limits, log options, restart policy), written to ``containers/<id>/runtime.json`` at each start."""

from __future__ import annotations

import os
import resource
from pathlib import Path

from core.config import Paths
from core.containers.initlayer import init_layer
from core.containers.resolve import process_env
from core.containers.store import ContainerRecord
from core.errors import InvalidArgument
from core.models import DEFAULT_SHM_SIZE, Ulimit
from core.runtime.spec import (
    DEFAULT_SECCOMP,
    ContainerSpec,
    DeviceSpec,
    MountSpec,
    ProcessSpec,
    Rlimit,
    RootfsSpec,
    UserSpec,
    rlimit_name,
)
from core.storage.layers import LayerStore
from core.volumes import VolumeStore

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any


def security_opts(opts: list[str]) -> tuple[bool, bool]:
    """(no_new_privs, seccomp_unconfined) from ``--security-opt``."""
    nnp = False
    unconfined = False
    for opt in opts:
        key, sep, value = opt.partition("=") if "=" in opt else opt.partition(":")
        if key == "no-new-privileges":
            nnp = value.lower() in ("", "true", "1") if sep else True
        elif key == "seccomp":
            if value != "unconfined":
                raise InvalidArgument(
                    f"--security-opt seccomp={value}: only 'unconfined' is supported "
                    "(custom profiles are not yet)"
                )
            unconfined = True
        elif key in ("label", "apparmor"):
            continue  # no LSM here; docker ignores these when the host has none
        else:
            raise InvalidArgument(f"invalid --security-opt {opt!r}")
    return nnp, unconfined


def rlimits(ulimits: list[Ulimit]) -> list[Rlimit]:
    """The rlimits to set; refuses a hard limit above the host's that this host cannot raise."""
    out = []
    for u in ulimits:
        name, soft, hard = u.name, u.soft, u.hard
        kind = rlimit_name(name)
        res = getattr(resource, f"RLIMIT_{kind.upper()}", None)
        if res is not None:
            _cur_soft, cur_hard = resource.getrlimit(res)
            limit = hard if hard != -1 else resource.RLIM_INFINITY
            if cur_hard != resource.RLIM_INFINITY and (limit == resource.RLIM_INFINITY or limit > cur_hard):
                raise InvalidArgument(
                    f"--ulimit {name}={soft}:{hard}: the host's hard limit is {cur_hard} and "
                    "this host cannot raise it (no CAP_SYS_RESOURCE)"
                )
        out.append(Rlimit(kind, int(soft), int(hard)))
    return out


def build_spec(
    paths: Paths, layers: LayerStore, volumes: VolumeStore, rec: ContainerRecord, netns: str
) -> ContainerSpec:
    from core.runtime.capabilities import resolve_capabilities

    h = rec.run.host_config
    proc = rec.process
    cdir = paths.container(rec.id)
    nnp, unconfined = security_opts(h.security_opt)
    privileged = h.privileged
    caps = resolve_capabilities(h.cap_add, h.cap_drop, privileged)
    # Docker's default profile by name: the shim loads it (already compiled in its warm-up), so the CLI
    # neither parses nor stores the 13 kB profile
    seccomp = None if privileged or unconfined else DEFAULT_SECCOMP
    user = proc.get("user") or ""
    mounts: list[MountSpec] = []
    for m in h.mounts:
        opts = ["ro" if m.read_only else "rw"]
        if m.type == "tmpfs":
            opts += ["nosuid", "nodev", "noexec"]
            if m.tmpfs_options is not None and m.tmpfs_options.size_bytes:
                opts.append(f"size={m.tmpfs_options.size_bytes}")
            if m.tmpfs_options is not None and m.tmpfs_options.mode:
                opts.append(f"mode={m.tmpfs_options.mode:o}")
            mounts.append(MountSpec("tmpfs", m.target, "", opts))
        elif m.type == "volume":
            vol, new = volumes.create(m.source or None)
            if new and not (m.volume_options is not None and m.volume_options.no_copy):
                from core.containers.copy import populate_volume

                populate_volume(paths, layers, rec, m.target, Path(vol.mountpoint))
            mounts.append(MountSpec("bind", m.target, vol.mountpoint, ["rbind", *opts]))
        else:
            src = m.source
            if not os.path.exists(src):
                raise InvalidArgument(f"invalid mount config: bind source path does not exist: {src}")
            prop = (m.bind_options.propagation if m.bind_options is not None else "") or "rprivate"
            mounts.append(MountSpec("bind", m.target, src, ["rbind", prop, *opts]))
    targets = {m.destination.rstrip("/") for m in mounts}
    for name in ("hostname", "hosts", "resolv.conf"):
        if f"/etc/{name}" not in targets and (cdir / name).exists():
            mounts.append(MountSpec("bind", f"/etc/{name}", str(cdir / name), ["rbind", "rprivate", "rw"]))
    devices = [DeviceSpec(d.path_on_host, d.path_in_container) for d in h.devices]
    lower = [str(layers.diff_dir(cid)) for cid in reversed(rec.layers)]
    init = init_layer(cdir)
    if init is not None:
        lower.insert(0, str(init))  # the top of the lower layers, as docker's <id>-init layer
    host_network = h.network_mode == "host"
    spec = ContainerSpec(
        rootfs=RootfsSpec(
            lower=lower, mountpoint=str(cdir / "rootfs"), upper=str(cdir / "upper"), work=str(cdir / "work")
        ),
        process=ProcessSpec(
            args=list(proc["args"]),
            env=process_env(proc),
            cwd=proc.get("cwd") or "/",
            user=UserSpec(name=user),
            tty=bool(proc.get("tty")),
            capabilities=caps,
            no_new_privs=nnp,
            seccomp=seccomp,
            rlimits=rlimits(h.ulimits),
        ),
        readonly_rootfs=h.readonly_rootfs,
        hostname=proc.get("hostname", "") if not host_network else "",
        mounts=mounts,
        devices=devices,
        netns=netns,
        utsns="host" if host_network else "new",
        shm_size=h.shm_size or DEFAULT_SHM_SIZE,
        init=h.init,
    )
    if privileged:
        spec.masked_paths = []
        spec.readonly_paths = []
    spec.validate()
    return spec


def build_runtime(
    paths: Paths, layers: LayerStore, volumes: VolumeStore, rec: ContainerRecord, netns: str
) -> dict[str, Any]:
    h = rec.run.host_config
    proc = rec.process
    from core.logopts import log_attrs, parse_log_opts

    max_size, max_file = parse_log_opts(h.log_config.config)
    attrs = log_attrs(h.log_config.config, dict(proc.get("labels") or {}), list(proc.get("env") or []))
    return {
        "name": rec.name,
        "image": rec.image,
        "spec": build_spec(paths, layers, volumes, rec, netns).to_dict(),
        "stdin": bool(proc.get("stdin")),
        "tty": bool(proc.get("tty")),
        "cgroup": {
            "memory": h.memory or None,
            "memory_swap": h.memory_swap or None,
            # a quota of µs per 100000 µs period: --cpus 1.5 is 150000
            "cpu_quota": h.nano_cpus // 10000 if h.nano_cpus else None,
            "pids": h.pids_limit,
        },
        "log": {
            "path": str(paths.container(rec.id) / f"{rec.id}-json.log"),
            "max_size": max_size,
            "max_file": max_file,
            **({"attrs": attrs} if attrs else {}),
        },
        "restart": {"name": h.restart_policy.name, "max": h.restart_policy.maximum_retry_count},
        "auto_remove": h.auto_remove,
        "stop_signal": proc.get("stop_signal", "SIGTERM"),
        "stop_timeout": proc.get("stop_timeout", 10),
    }
