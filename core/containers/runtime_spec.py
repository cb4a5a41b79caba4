"""From a container record to what the shim runs: the ContainerSpec plus the shim's own settings
(cgroup limits, log options, restart policy), written to ``containers/<id>/runtime.json`` at each start."""

from __future__ import annotations

import os
import resource
from pathlib import Path

from core.config import Paths
from core.containers.resolve import parse_restart
from core.containers.store import ContainerRecord
from core.errors import InvalidArgument
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


def _security_opts(opts: list[str]) -> tuple[bool, bool]:
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


def _rlimits(ulimits: dict[str, Any]) -> list[Rlimit]:
    out = []
    for name, (soft, hard) in ulimits.items():
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


def validate_run(run: dict[str, Any]) -> None:
    """The checks ``create`` makes so that a bad flag fails before any container exists."""
    from core.logopts import parse_log_opts
    from core.runtime.capabilities import resolve_capabilities

    _security_opts(run.get("security_opt", []))
    _rlimits(run.get("ulimits") or {})
    parse_log_opts(run.get("log_opts") or {})
    resolve_capabilities(run.get("cap_add", []), run.get("cap_drop", []), bool(run.get("privileged")))
    for d in run.get("devices", []):
        host = d.split(":")[0]
        if not host.startswith("/") or not os.path.exists(host):
            raise InvalidArgument(
                f"error gathering device information while adding device {host!r}: no such file or directory"
            )


def build_spec(
    paths: Paths, layers: LayerStore, volumes: VolumeStore, rec: ContainerRecord, netns: str
) -> ContainerSpec:
    from core.runtime.capabilities import resolve_capabilities

    run = rec.run
    proc = rec.process
    cdir = paths.container(rec.id)
    nnp, unconfined = _security_opts(run.get("security_opt", []))
    privileged = bool(run.get("privileged"))
    caps = resolve_capabilities(run.get("cap_add", []), run.get("cap_drop", []), privileged)
    # Docker's default profile by name: the shim loads it (already compiled in its warm-up), so the CLI
    # neither parses nor stores the 13 kB profile
    seccomp = None if privileged or unconfined else DEFAULT_SECCOMP
    user = proc.get("user") or ""
    mounts: list[MountSpec] = []
    for m in run.get("mounts", []):
        opts = ["ro" if m.get("read_only") else "rw"]
        if m["type"] == "tmpfs":
            o = m.get("options") or {}
            opts += ["nosuid", "nodev", "noexec"]
            if o.get("size"):
                opts.append(f"size={o['size']}")
            if o.get("mode"):
                opts.append(f"mode={o['mode']}")
            mounts.append(MountSpec("tmpfs", m["target"], "", opts))
        elif m["type"] == "volume":
            vol, new = volumes.create(m.get("source") or None)
            if new and (m.get("options") or {}).get("nocopy") != "true":
                from core.containers.copy import populate_volume

                populate_volume(paths, layers, rec, m["target"], Path(vol.mountpoint))
            mounts.append(MountSpec("bind", m["target"], vol.mountpoint, ["rbind", *opts]))
        else:
            src = m["source"]
            if not os.path.exists(src):
                raise InvalidArgument(f"invalid mount config: bind source path does not exist: {src}")
            prop = (m.get("options") or {}).get("propagation", "rprivate")
            mounts.append(MountSpec("bind", m["target"], src, ["rbind", prop, *opts]))
    targets = {m.destination.rstrip("/") for m in mounts}
    for name in ("hostname", "hosts", "resolv.conf"):
        if f"/etc/{name}" not in targets and (cdir / name).exists():
            mounts.append(MountSpec("bind", f"/etc/{name}", str(cdir / name), ["rbind", "rprivate", "rw"]))
    devices = []
    for d in run.get("devices", []):
        parts = d.split(":")
        devices.append(DeviceSpec(parts[0], parts[1] if len(parts) > 1 and parts[1].startswith("/") else ""))
    lower = [str(layers.diff_dir(cid)) for cid in reversed(rec.layers)]
    spec = ContainerSpec(
        rootfs=RootfsSpec(
            lower=lower, mountpoint=str(cdir / "rootfs"), upper=str(cdir / "upper"), work=str(cdir / "work")
        ),
        process=ProcessSpec(
            args=list(proc["args"]),
            env=list(proc["env"]),
            cwd=proc.get("cwd") or "/",
            user=UserSpec(name=user),
            tty=bool(proc.get("tty")),
            capabilities=caps,
            no_new_privs=nnp,
            seccomp=seccomp,
            rlimits=_rlimits(run.get("ulimits") or {}),
        ),
        readonly_rootfs=bool(run.get("read_only")),
        hostname=proc.get("hostname", "") if run.get("network") != "host" else "",
        mounts=mounts,
        devices=devices,
        netns=netns,
        utsns="host" if run.get("network") == "host" else "new",
        shm_size=int(run.get("shm_size") or 64 * 1024 * 1024),
        init=bool(run.get("init")),
    )
    if privileged:
        spec.masked_paths = []
        spec.readonly_paths = []
    spec.validate()
    return spec


def build_runtime(
    paths: Paths, layers: LayerStore, volumes: VolumeStore, rec: ContainerRecord, netns: str
) -> dict[str, Any]:
    run = rec.run
    proc = rec.process
    name, maximum = parse_restart(run.get("restart") or "no")
    from core.logopts import parse_log_opts

    log_opts = run.get("log_opts") or {}
    max_size, max_file = parse_log_opts(log_opts)
    cpus = run.get("cpus")
    return {
        "name": rec.name,
        "image": rec.image,
        "spec": build_spec(paths, layers, volumes, rec, netns).to_dict(),
        "stdin": bool(proc.get("stdin")),
        "tty": bool(proc.get("tty")),
        "cgroup": {
            "memory": run.get("memory"),
            "memory_swap": run.get("memory_swap"),
            "cpu_quota": int(cpus * 100000) if cpus else None,
            "pids": run.get("pids_limit"),
        },
        "log": {
            "path": str(paths.container(rec.id) / f"{rec.id}-json.log"),
            "max_size": max_size,
            "max_file": max_file,
        },
        "restart": {"name": name, "max": maximum},
        "auto_remove": bool(run.get("auto_remove")),
        "stop_signal": proc.get("stop_signal", "SIGTERM"),
        "stop_timeout": proc.get("stop_timeout", 10),
    }
