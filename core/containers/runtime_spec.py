"""From a container record to what the shim runs: the ContainerSpec plus the shim's own settings
(cgroup limits, log options, restart policy), written to ``containers/<id>/runtime.json`` at each start."""

from __future__ import annotations

import contextlib
import os
import resource
from pathlib import Path

from core.config import Paths
from core.containers.initlayer import init_layer
from core.containers.resolve import process_env
from core.containers.store import ContainerRecord, ContainerStore
from core.errors import InvalidArgument
from core.models import DEFAULT_SHM_SIZE, Mount, Ulimit
from core.record import replace
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
            raise InvalidArgument(f'Invalid --security-opt: "{opt}"')  # docker's words
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


def bind_source_missing(source: str) -> str:
    """Docker's words for a ``--mount type=bind`` whose source is not there."""
    return f'invalid mount config for type "bind": bind source path does not exist: {source}'


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
            # made by the container's create (docker's too); an older record's may not be there yet
            vol, _new = volumes.create(m.source or None, anonymous=m.source in rec.anonymous_volumes)
            if vol.options.get("type"):
                volumes.mount_for(vol.name, rec.id)  # the local driver's device, while containers use it
            # docker's copy-up: the image's files at the target go into the volume while it is empty
            nocopy = m.volume_options is not None and m.volume_options.no_copy
            if not nocopy and volumes.is_empty(vol.name):
                from core.containers.copy import populate_volume

                populate_volume(paths, layers, rec, m.target, Path(vol.mountpoint))
            mounts.append(MountSpec("bind", m.target, vol.mountpoint, ["rbind", *opts]))
        else:
            src = m.source
            if not os.path.exists(src):
                if m.bind_options is None or not m.bind_options.create_mountpoint:
                    raise InvalidArgument(bind_source_missing(src))
                # -v (HostConfig.Binds): made as docker makes it, a root-owned 0755 directory
                os.makedirs(src, 0o755, exist_ok=True)
            prop = (m.bind_options.propagation if m.bind_options is not None else "") or "rprivate"
            mounts.append(MountSpec("bind", m.target, src, ["rbind", prop, *opts]))
    targets = {m.destination.rstrip("/") for m in mounts}
    for name in ("hostname", "hosts", "resolv.conf"):
        if f"/etc/{name}" not in targets and (cdir / name).exists():
            mounts.append(MountSpec("bind", f"/etc/{name}", str(cdir / name), ["rbind", "rprivate", "rw"]))
    for d in h.devices:
        if not os.path.exists(d.path_on_host):
            from core.errors import CommandNotFound

            # docker's wording at start; its CLI ends a run whose start says "no such file or directory"
            # with 127, which is CommandNotFound's status
            raise CommandNotFound(
                "error gathering device information while adding custom device "
                f'"{d.path_on_host}": no such file or directory'
            )
    devices = [DeviceSpec(d.path_on_host, d.path_in_container) for d in h.devices]
    lower = [str(layers.diff_dir(cid)) for cid in reversed(rec.layers)]
    init = init_layer(cdir)
    if init is not None:
        lower.insert(0, str(init))  # the top of the lower layers, as docker's <id>-init layer
    host_network = h.network_mode == "host"
    pidns = _namespace(paths, h.pid_mode, "pid", rec.name)
    ipcns = _namespace(paths, h.ipc_mode, "ipc", rec.name)
    if "/dev/shm" not in targets:
        # the IPC namespace's shared memory goes with it: the host's, this shareable container's own
        # (a host tmpfs its peers can bind too), or the donor's
        shm = _shm_source(paths, rec, h.shm_size or DEFAULT_SHM_SIZE)
        if shm:
            mounts.append(MountSpec("bind", "/dev/shm", shm, ["rbind", "rprivate", "rw"]))
    host_uts = h.uts_mode == "host"
    spec = ContainerSpec(
        rootfs=RootfsSpec(
            lower=lower, mountpoint=str(cdir / "rootfs"), upper=str(cdir / "upper"), work=str(cdir / "work")
        ),
        process=ProcessSpec(
            args=list(proc["args"]),
            env=_with_link_env(paths, rec, process_env(proc)),
            cwd=proc.get("cwd") or "/",
            user=UserSpec(name=user, additional_groups=list(h.group_add)),
            tty=bool(proc.get("tty")),
            capabilities=caps,
            no_new_privs=nnp,
            seccomp=seccomp,
            rlimits=rlimits(h.ulimits),
        ),
        readonly_rootfs=h.readonly_rootfs,
        hostname=proc.get("hostname", "") if not (host_network or host_uts) else "",
        mounts=mounts,
        devices=devices,
        netns=netns,
        utsns="host" if host_network or host_uts else "new",
        pidns=pidns,
        ipcns=ipcns,
        shm_size=h.shm_size or DEFAULT_SHM_SIZE,
        shm=h.ipc_mode != "none",
        sysctls=dict(h.sysctls),
        init=h.init,
    )
    if privileged:
        spec.masked_paths = []
        spec.readonly_paths = []
    spec.validate()
    return spec


def volumes_from(store: ContainerStore, items: list[str]) -> list[Mount]:
    """``--volumes-from C[:ro|rw]``: C's volumes and binds, at the same targets, read-only as C has them
    unless a mode is given."""
    out: list[Mount] = []
    for item in items:  # checked at create (core.containers.validate.volumes_from_spec)
        name, _, mode = item.partition(":")
        other = store.resolve(name)
        for m in other.run.host_config.mounts:
            if m.type not in ("bind", "volume"):
                continue  # tmpfs mounts are the container's own, as docker's
            read_only = m.read_only if not mode else mode == "ro"
            out.append(replace(m, read_only=read_only, volume_options=None))
    return out


def link_hosts(store: ContainerStore, rec: ContainerRecord) -> list[str]:
    """``--link NAME:ALIAS`` as ``--add-host`` entries: "ALIAS HOSTNAME [NAME]:IP" (docker's order), the IP
    on a network both containers are on, else the linked container's first."""
    from core.errors import Conflict

    mine = set((rec.state.network or {}).get("networks") or {}) | {rec.run.host_config.network_mode}
    out = []
    for link in rec.run.host_config.links:
        name, _, alias = link.partition(":")
        other = store.resolve(name.lstrip("/"))
        if other.state.status != "running":
            raise Conflict(f"Cannot link to a non running container: /{other.name} AS /{rec.name}/{alias}")
        net = other.state.network or {}
        ip = str(net.get("ip") or "")
        for net_name, ep in (net.get("networks") or {}).items():
            if net_name in mine and ep.get("IPAddress"):
                ip = str(ep["IPAddress"])
                break
        if not ip:
            raise Conflict(f"cannot link to /{other.name}: it has no address on a network")
        names = [alias, str(other.process.get("hostname") or other.id[:12])]
        if alias != other.name:
            names.append(other.name)
        out.append(f"{' '.join(dict.fromkeys(names))}:{ip}")
    return out


def _shm_source(paths: Paths, rec: ContainerRecord, size: int) -> str:
    """The host directory to bind on /dev/shm for the container's IPC mode ("": a private tmpfs)."""
    mode = rec.run.host_config.ipc_mode
    if mode == "host":
        return "/dev/shm"
    if mode == "shareable":
        from core.runtime.hostmounts import mount_shm

        target = paths.container(rec.id) / "shm"
        try:
            mount_shm(target, size)
        except OSError as err:
            raise InvalidArgument(f"cannot make the shareable /dev/shm: {err.strerror}") from err
        return str(target)
    donor = mode.partition(":")[2] if mode.startswith("container:") else ""
    if donor:
        other = ContainerStore(paths).resolve(donor)
        if other.run.host_config.ipc_mode == "host":
            return "/dev/shm"
        return str(paths.container(other.id) / "shm")
    return ""


def release_host_mounts(paths: Paths, cid: str) -> None:
    """What a start mounted on the host for the container: its shareable /dev/shm, its uses of volumes
    with driver options. Safe to repeat (the shim's cleanup, reconcile, removal)."""
    shm = paths.container(cid) / "shm"
    if shm.is_dir():
        from core.runtime.hostmounts import unmount

        unmount(shm)
        with contextlib.suppress(OSError):
            shm.rmdir()
    VolumeStore(paths).release_user(cid)


def _with_link_env(paths: Paths, rec: ContainerRecord, env: list[str]) -> list[str]:
    """On the default bridge, docker's legacy links also set variables: ALIAS_NAME, ALIAS_PORT and
    ALIAS_PORT_<port>_<PROTO>[_ADDR|_PORT|_PROTO] for each exposed port, ALIAS_ENV_<K> for the linked
    container's environment. The container's own variables win."""
    h = rec.run.host_config
    if not h.links or h.network_mode not in ("default", "bridge"):
        return env
    own = {e.partition("=")[0] for e in env}
    store = ContainerStore(paths)
    extra: list[str] = []
    for entry, link in zip(link_hosts(store, rec), h.links, strict=True):
        ip = entry.rpartition(":")[2]
        name, _, alias = link.partition(":")
        other = store.resolve(name.lstrip("/"))
        prefix = alias.upper().replace("-", "_")
        ports: list[tuple[int, str]] = []
        for exposed in other.process.get("exposed_ports") or []:
            number, _, kind = str(exposed).partition("/")
            if number.isdigit():
                ports.append((int(number), kind or "tcp"))
        ports.sort()
        if ports:
            extra.append(f"{prefix}_PORT={ports[0][1]}://{ip}:{ports[0][0]}")
        for port, proto in ports:
            var = f"{prefix}_PORT_{port}_{proto.upper()}"
            extra += [
                f"{var}={proto}://{ip}:{port}",
                f"{var}_ADDR={ip}",
                f"{var}_PORT={port}",
                f"{var}_PROTO={proto}",
            ]
        extra.append(f"{prefix}_NAME=/{rec.name}/{alias}")
        for item in other.process.get("env") or []:
            key, sep, value = str(item).partition("=")
            if sep and key not in ("HOME", "PATH"):
                extra.append(f"{prefix}_ENV_{key}={value}")
    return [*env, *(e for e in extra if e.partition("=")[0] not in own)]


def _namespace(paths: Paths, mode: str, kind: str, name: str) -> str:
    """A ContainerSpec namespace for a ``--pid``/``--ipc`` mode: "new", "host", or the namespace of the
    running container that ``container:NAME`` names (as a /proc path)."""
    if mode == "host":
        return "host"
    if not mode.startswith("container:"):
        return "new"
    from core.errors import Conflict

    other = ContainerStore(paths).resolve(mode.partition(":")[2])
    why = ""
    if other.state.status != "running" or other.state.pid <= 0:
        why = f"container {other.id} is not running"
    elif kind == "ipc" and other.run.host_config.ipc_mode not in ("shareable", "host"):
        why = "non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
    if why:  # docker's words
        raise Conflict(why if kind == "pid" else f"can't join IPC of container {other.id}: {why}")
    if kind == "ipc" and other.run.host_config.ipc_mode == "host":
        return "host"
    return f"/proc/{other.state.pid}/ns/{kind}"


def build_runtime(
    paths: Paths, layers: LayerStore, volumes: VolumeStore, rec: ContainerRecord, netns: str
) -> dict[str, Any]:
    h = rec.run.host_config
    proc = rec.process
    from core.logopts import log_attrs, parse_log_opts

    cdir = paths.container(rec.id)
    max_size, max_file = parse_log_opts(h.log_config.config)
    attrs = log_attrs(h.log_config.config, dict(proc.get("labels") or {}), list(proc.get("env") or []))
    if h.log_config.type == "local":  # the local driver's defaults: 20 MB a file, 5 files
        max_size = max_size or 20 * 1024 * 1024
        max_file = max_file if "max-file" in h.log_config.config else 5
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
            "cpu_shares": h.cpu_shares or None,
            "cpuset_cpus": h.cpuset_cpus or None,
            "memory_reservation": h.memory_reservation or None,
            "oom_kill_disable": h.oom_kill_disable,
        },
        "log": {
            # --log-driver none: nothing is kept (the shim writes no log file)
            "path": "" if h.log_config.type == "none" else str(cdir / f"{rec.id}-json.log"),
            "max_size": max_size,
            "max_file": max_file,
            **({"attrs": attrs} if attrs else {}),
        },
        "restart": {"name": h.restart_policy.name, "max": h.restart_policy.maximum_retry_count},
        "auto_remove": h.auto_remove,
        "stop_signal": proc.get("stop_signal", "SIGTERM"),
        "stop_timeout": proc.get("stop_timeout", 10),
        # the shim probes it (core.supervisor.health); None: no health check
        "healthcheck": proc.get("healthcheck"),
        "shell": proc.get("shell") or [],
    }
