"""Docker's JSON for a container create request: the one mapping between core.models' records
(:class:`~core.models.ContainerCreate` and what it holds) and the body of the Engine API's
``POST /containers/create`` (the ``Config`` keys at the top, ``HostConfig``, ``NetworkingConfig``).
``inspect`` builds its ``Config`` and ``HostConfig`` with it; the API server and the remote engine are to
use it too.

Writing gives every key dockyard has a field for, zero values included, as docker's own clients send them;
every mount is written into ``HostConfig.Mounts``. Reading also takes what docker's clients send otherwise:
``HostConfig.Binds`` (``-v``), ``HostConfig.Tmpfs`` (``--tmpfs``) and ``Config.Volumes`` (anonymous volumes)
as mounts, null for an empty list or map or an unset number, "" for the default restart policy, network mode
and log driver. Keys dockyard has no field for are not read (:mod:`core.containers.validate` then checks
what was). The query's ``name`` and ``platform`` travel apart (:func:`create_query`); the Engine API never
pulls on create, so a request read here has ``pull`` "never" unless told otherwise.
"""

from __future__ import annotations

from core.errors import InvalidArgument
from core.models import (
    DEFAULT_SHM_SIZE,
    BindOptions,
    ContainerConfig,
    ContainerCreate,
    DeviceMapping,
    EndpointIPAMConfig,
    EndpointSettings,
    HealthConfig,
    HostConfig,
    HostPortBinding,
    LogConfig,
    Mount,
    NetworkingConfig,
    PullProgress,
    RestartPolicy,
    TmpfsOptions,
    Ulimit,
    VolumeOptions,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: ``run`` imports this for -v/--tmpfs
if TYPE_CHECKING:
    from typing import Any

    JSONDict = dict[str, Any]

# what a bind or volume accepts after the second colon of ``-v`` / ``Binds`` (selinux labels and macOS
# consistency modes are accepted and mean nothing here, as on docker for Linux without SELinux)
_PROPAGATIONS = ("rprivate", "private", "rslave", "slave", "rshared", "shared")
_BIND_MODES = frozenset({"ro", "rw", "z", "Z", "nocopy", "consistent", "cached", "delegated", *_PROPAGATIONS})
# ``--tmpfs`` options that are accepted and ignored: a container's tmpfs is always nosuid,nodev,noexec
_TMPFS_FLAGS = ("rw", "ro", "noexec", "exec", "nosuid", "suid", "nodev", "dev")


# ------------------------------------------------------------------------------------------------ writing


def create_to_docker(req: ContainerCreate) -> JSONDict:
    """The create body for ``req``."""
    return {
        **config_to_docker(req.config),
        "HostConfig": host_config_to_docker(req.host_config),
        "NetworkingConfig": networking_config_to_docker(req.networking_config),
    }


def create_query(req: ContainerCreate) -> dict[str, str]:
    """The create call's query parameters for ``req`` (those that are set)."""
    query = {}
    if req.name:
        query["name"] = req.name
    if req.platform:
        query["platform"] = req.platform
    return query


def config_to_docker(c: ContainerConfig) -> JSONDict:
    return {
        "Hostname": c.hostname,
        "User": c.user,
        "Tty": c.tty,
        "OpenStdin": c.open_stdin,
        "AttachStdin": c.attach_stdin,
        "AttachStdout": c.attach_stdout,
        "AttachStderr": c.attach_stderr,
        "Env": list(c.env),
        "Cmd": None if c.cmd is None else list(c.cmd),
        **({"Healthcheck": health_config_to_docker(c.healthcheck)} if c.healthcheck is not None else {}),
        "Image": c.image,
        "WorkingDir": c.working_dir,
        "Entrypoint": None if c.entrypoint is None else list(c.entrypoint),
        "Labels": dict(c.labels),
        "StopSignal": c.stop_signal,
        "StopTimeout": c.stop_timeout,
        "ExposedPorts": {p: {} for p in c.exposed_ports},
    }


def health_config_to_docker(h: HealthConfig) -> JSONDict:
    """Docker's HealthConfig: every key omitted when empty or zero, as docker writes it."""
    out: JSONDict = {
        "Test": list(h.test),
        "Interval": h.interval,
        "Timeout": h.timeout,
        "StartPeriod": h.start_period,
        "StartInterval": h.start_interval,
        "Retries": h.retries,
    }
    return {k: v for k, v in out.items() if v}


def mount_to_docker(m: Mount) -> JSONDict:
    out: JSONDict = {"Type": m.type, "Source": m.source, "Target": m.target, "ReadOnly": m.read_only}
    if m.bind_options is not None:
        out["BindOptions"] = {"Propagation": m.bind_options.propagation}
    if m.volume_options is not None:
        out["VolumeOptions"] = {"NoCopy": m.volume_options.no_copy}
    if m.tmpfs_options is not None:
        out["TmpfsOptions"] = {"SizeBytes": m.tmpfs_options.size_bytes, "Mode": m.tmpfs_options.mode}
    return out


def host_config_to_docker(h: HostConfig) -> JSONDict:
    # empty capability and security-option lists are null, as docker writes them
    return {
        "NetworkMode": h.network_mode,
        "PortBindings": {
            port: [{"HostIp": b.host_ip, "HostPort": b.host_port} for b in bindings]
            for port, bindings in h.port_bindings.items()
        },
        "PublishAllPorts": h.publish_all_ports,
        "RestartPolicy": {
            "Name": h.restart_policy.name,
            "MaximumRetryCount": h.restart_policy.maximum_retry_count,
        },
        "AutoRemove": h.auto_remove,
        "Mounts": [mount_to_docker(m) for m in h.mounts],
        "CapAdd": list(h.cap_add) or None,
        "CapDrop": list(h.cap_drop) or None,
        "Privileged": h.privileged,
        "ReadonlyRootfs": h.readonly_rootfs,
        "SecurityOpt": list(h.security_opt) or None,
        "Memory": h.memory,
        "MemorySwap": h.memory_swap,
        "NanoCpus": h.nano_cpus,
        "PidsLimit": h.pids_limit,
        "ShmSize": h.shm_size,
        "Init": h.init,
        "Ulimits": [{"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in h.ulimits],
        "Devices": [
            {"PathOnHost": d.path_on_host, "PathInContainer": d.path_in_container, "CgroupPermissions": "rwm"}
            for d in h.devices
        ],
        "Dns": list(h.dns),
        "ExtraHosts": list(h.extra_hosts),
        "LogConfig": {"Type": h.log_config.type, "Config": dict(h.log_config.config)},
        # empty lists that docker's clients send as null are null
        "PidMode": h.pid_mode,
        "IpcMode": h.ipc_mode,
        "UTSMode": h.uts_mode,
        "UsernsMode": h.userns_mode,
        "GroupAdd": list(h.group_add) or None,
        "VolumesFrom": list(h.volumes_from) or None,
        "DnsSearch": list(h.dns_search),
        "DnsOptions": list(h.dns_options),
        "Sysctls": dict(h.sysctls),
        "Links": list(h.links) or None,
        "CpuShares": h.cpu_shares,
        "CpusetCpus": h.cpuset_cpus,
        "MemoryReservation": h.memory_reservation,
        "OomKillDisable": h.oom_kill_disable,
        "CgroupParent": h.cgroup_parent,
        "Runtime": h.runtime,
        "ContainerIDFile": h.container_id_file,
    }


def networking_config_to_docker(n: NetworkingConfig) -> JSONDict:
    return {
        "EndpointsConfig": {
            name: {
                "IPAMConfig": None
                if ep.ipam_config is None
                else {"IPv4Address": ep.ipam_config.ipv4_address},
                "Aliases": list(ep.aliases),
            }
            for name, ep in n.endpoints_config.items()
        }
    }


def inspect_host_config(h: HostConfig) -> JSONDict:
    """``HostConfig`` as ``docker inspect`` shows it: binds as ``Binds`` and tmpfs mounts as ``Tmpfs`` (the
    forms ``-v`` and ``--tmpfs`` give), volumes in ``Mounts``, and the shm size a container gets when
    none was asked for. Each mount is in one place only, so the section can be posted back as a request."""
    out: JSONDict = {
        "Binds": [
            f"{m.source}:{m.target}{':ro' if m.read_only else ''}" for m in h.mounts if m.type == "bind"
        ]
    }
    for key, value in host_config_to_docker(h).items():
        if key == "Mounts":
            value = [m for m in value if m["Type"] == "volume"]
        elif key == "ShmSize":
            value = value or DEFAULT_SHM_SIZE
        elif key == "LogConfig":
            out["Tmpfs"] = {m.target: tmpfs_options_text(m) for m in h.mounts if m.type == "tmpfs"}
        out[key] = value
    return out


def tmpfs_options_text(m: Mount) -> str:
    """A tmpfs mount's options as ``--tmpfs``/``HostConfig.Tmpfs`` write them: ``size=N,mode=1777``."""
    o = m.tmpfs_options
    parts = []
    if o is not None and o.size_bytes:
        parts.append(f"size={o.size_bytes}")
    if o is not None and o.mode:
        parts.append(f"mode={o.mode:o}")
    return ",".join(parts)


# ------------------------------------------------------------------------------------------------ reading


def create_from_docker(
    body: JSONDict, query: dict[str, str] | None = None, *, pull: str = "never"
) -> ContainerCreate:
    """The request a create body (and its query) stands for."""
    body = _obj(body, "the create request")
    query = query or {}
    host = host_config_from_docker(_obj(body.get("HostConfig"), "HostConfig"))
    taken = {m.target.rstrip("/") for m in host.mounts}
    for target in _obj(body.get("Volumes"), "Volumes"):
        # docker's clients put `-v /path` (an anonymous volume) here
        if target.rstrip("/") not in taken:
            host.mounts.append(Mount("volume", target))
            taken.add(target.rstrip("/"))
    return ContainerCreate(
        config=config_from_docker(body),
        host_config=host,
        networking_config=networking_config_from_docker(
            _obj(body.get("NetworkingConfig"), "NetworkingConfig")
        ),
        name=str(query.get("name") or ""),
        platform=str(query.get("platform") or ""),
        pull=pull,
    )


def config_from_docker(d: JSONDict) -> ContainerConfig:
    exposed = []
    for port in _obj(d.get("ExposedPorts"), "ExposedPorts"):
        exposed.append(port if "/" in port else f"{port}/tcp")
    return ContainerConfig(
        image=_str(d, "Image"),
        hostname=_str(d, "Hostname"),
        user=_str(d, "User"),
        tty=_bool(d, "Tty"),
        open_stdin=_bool(d, "OpenStdin"),
        attach_stdin=_bool(d, "AttachStdin"),
        attach_stdout=_bool(d, "AttachStdout", True),
        attach_stderr=_bool(d, "AttachStderr", True),
        env=_strs(d, "Env"),
        cmd=_command(d, "Cmd"),
        working_dir=_str(d, "WorkingDir"),
        entrypoint=_command(d, "Entrypoint"),
        labels=_str_map(d, "Labels"),
        stop_signal=_str(d, "StopSignal"),
        stop_timeout=_opt_int(d, "StopTimeout"),
        exposed_ports=exposed,
        healthcheck=health_config_from_docker(_obj(d["Healthcheck"], "Healthcheck"))
        if d.get("Healthcheck") is not None
        else None,
    )


def health_config_from_docker(d: JSONDict) -> HealthConfig:
    return HealthConfig(
        test=_strs(d, "Test"),
        interval=_int(d, "Interval"),
        timeout=_int(d, "Timeout"),
        start_period=_int(d, "StartPeriod"),
        start_interval=_int(d, "StartInterval"),
        retries=_int(d, "Retries"),
    )


def mount_from_docker(d: JSONDict) -> Mount:
    d = _obj(d, "a mount")
    m = Mount(_str(d, "Type"), _str(d, "Target"), _str(d, "Source"), _bool(d, "ReadOnly"))
    if d.get("BindOptions") is not None:
        m.bind_options = BindOptions(_str(_obj(d["BindOptions"], "BindOptions"), "Propagation"))
    if d.get("VolumeOptions") is not None:
        m.volume_options = VolumeOptions(_bool(_obj(d["VolumeOptions"], "VolumeOptions"), "NoCopy"))
    if d.get("TmpfsOptions") is not None:
        o = _obj(d["TmpfsOptions"], "TmpfsOptions")
        m.tmpfs_options = TmpfsOptions(_int(o, "SizeBytes"), _int(o, "Mode"))
    return m


def host_config_from_docker(d: JSONDict) -> HostConfig:
    mounts = [parse_bind(spec) for spec in _strs(d, "Binds")]
    mounts += [mount_from_docker(m) for m in _list(d, "Mounts")]
    for target, options in _str_map(d, "Tmpfs").items():
        mounts.append(tmpfs_mount(target, options))
    bindings: dict[str, list[HostPortBinding]] = {}
    for port, entries in _obj(d.get("PortBindings"), "PortBindings").items():
        bindings[port] = [
            HostPortBinding(_str(b, "HostIp"), _str(b, "HostPort"))
            for b in (_obj(e, "a port binding") for e in entries or [])
        ]
    policy = _obj(d.get("RestartPolicy"), "RestartPolicy")
    log = _obj(d.get("LogConfig"), "LogConfig")
    return HostConfig(
        network_mode=_str(d, "NetworkMode") or "default",
        port_bindings=bindings,
        publish_all_ports=_bool(d, "PublishAllPorts"),
        restart_policy=RestartPolicy(_str(policy, "Name") or "no", _int(policy, "MaximumRetryCount")),
        auto_remove=_bool(d, "AutoRemove"),
        mounts=mounts,
        readonly_rootfs=_bool(d, "ReadonlyRootfs"),
        cap_add=_strs(d, "CapAdd"),
        cap_drop=_strs(d, "CapDrop"),
        privileged=_bool(d, "Privileged"),
        security_opt=_strs(d, "SecurityOpt"),
        memory=_int(d, "Memory"),
        memory_swap=_int(d, "MemorySwap"),
        nano_cpus=_int(d, "NanoCpus"),
        pids_limit=_opt_int(d, "PidsLimit"),
        shm_size=_int(d, "ShmSize"),
        init=_bool(d, "Init"),
        ulimits=[
            Ulimit(_str(u, "Name"), _int(u, "Soft"), _int(u, "Hard"))
            for u in (_obj(x, "a ulimit") for x in _list(d, "Ulimits"))
        ],
        devices=[
            DeviceMapping(_str(x, "PathOnHost"), _str(x, "PathInContainer") or _str(x, "PathOnHost"))
            for x in (_obj(v, "a device") for v in _list(d, "Devices"))
        ],
        dns=_strs(d, "Dns"),
        extra_hosts=_strs(d, "ExtraHosts"),
        log_config=LogConfig(_str(log, "Type") or "json-file", _str_map(log, "Config")),
        pid_mode=_str(d, "PidMode"),
        ipc_mode=_str(d, "IpcMode"),
        uts_mode=_str(d, "UTSMode"),
        userns_mode=_str(d, "UsernsMode"),
        group_add=_strs(d, "GroupAdd"),
        volumes_from=_strs(d, "VolumesFrom"),
        dns_search=_strs(d, "DnsSearch"),
        dns_options=_strs(d, "DnsOptions"),
        sysctls=_str_map(d, "Sysctls"),
        links=_strs(d, "Links"),
        cpu_shares=_int(d, "CpuShares"),
        cpuset_cpus=_str(d, "CpusetCpus"),
        memory_reservation=_int(d, "MemoryReservation"),
        oom_kill_disable=_bool(d, "OomKillDisable"),
        cgroup_parent=_str(d, "CgroupParent"),
        runtime=_str(d, "Runtime"),
        container_id_file=_str(d, "ContainerIDFile"),
    )


def networking_config_from_docker(d: JSONDict) -> NetworkingConfig:
    endpoints = {}
    for name, raw in _obj(d.get("EndpointsConfig"), "EndpointsConfig").items():
        ep = _obj(raw, f"the endpoint settings of {name}")
        ipam = ep.get("IPAMConfig")
        endpoints[name] = EndpointSettings(
            ipam_config=None
            if ipam is None
            else EndpointIPAMConfig(_str(_obj(ipam, "IPAMConfig"), "IPv4Address")),
            aliases=_strs(ep, "Aliases"),
        )
    return NetworkingConfig(endpoints)


# ------------------------------------------------------------------------------ the text forms of mounts


def parse_bind(spec: str) -> Mount:
    """``HOST-PATH:TARGET[:OPTIONS]`` or ``VOLUME:TARGET[:OPTIONS]``: a ``HostConfig.Binds`` entry, and what
    ``-v`` takes. A source that starts with "/" or "." is a host path (the command line makes a relative one
    absolute first); options are ro/rw, a propagation mode and nocopy."""
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise InvalidArgument(f"invalid volume specification: {spec!r}")
    src, dst = parts[0], parts[1]
    opts = set((parts[2] if len(parts) == 3 else "rw").split(","))
    if opts - _BIND_MODES or not dst.startswith("/") or not src:
        raise InvalidArgument(f"invalid volume specification: {spec!r}")
    read_only = "ro" in opts
    if src.startswith(("/", ".")):
        propagation = [p for p in _PROPAGATIONS if p in opts]
        options = BindOptions(propagation[-1]) if propagation else None
        return Mount("bind", dst, src, read_only, bind_options=options)
    nocopy = VolumeOptions(no_copy=True) if "nocopy" in opts else None
    return Mount("volume", dst, src, read_only, volume_options=nocopy)


def tmpfs_mount(target: str, options: str) -> Mount:
    """A tmpfs at ``target`` with ``HostConfig.Tmpfs``'s option text (``size=64m,mode=1777``), as
    ``--tmpfs TARGET:OPTIONS`` gives it."""
    from core.units import parse_bytes

    size = mode = 0
    flags = options.split(",")
    for opt in filter(None, flags):
        key, _, value = opt.partition("=")
        if key == "size":
            size = parse_bytes(value)
        elif key == "mode":
            try:
                mode = int(value, 8)
            except ValueError:
                raise InvalidArgument(
                    f"invalid --tmpfs option {opt!r}: the mode is an octal number"
                ) from None
        elif key not in _TMPFS_FLAGS:
            raise InvalidArgument(f"invalid --tmpfs option {opt!r}")
    sized = TmpfsOptions(size, mode) if size or mode else None
    return Mount("tmpfs", target, "", "ro" in flags, tmpfs_options=sized)


# ---------------------------------------------------------------------------------- checking JSON values


def _obj(value: Any, what: str) -> JSONDict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {what}: expected a JSON object")
    return value


def _list(d: JSONDict, key: str) -> list[Any]:
    value = d.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidArgument(f"invalid {key}: expected a list")
    return value


def _str(d: JSONDict, key: str) -> str:
    value = d.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgument(f"invalid {key}: expected a string")
    return value


def _strs(d: JSONDict, key: str) -> list[str]:
    value = _list(d, key)
    if not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"invalid {key}: expected a list of strings")
    return list(value)


def _command(d: JSONDict, key: str) -> list[str] | None:
    """``Cmd``/``Entrypoint``: null (the image's), a list, or one string (docker's StrSlice)."""
    if d.get(key) is None:
        return None
    if isinstance(d[key], str):
        return [d[key]]
    return _strs(d, key)


def _str_map(d: JSONDict, key: str) -> dict[str, str]:
    value = _obj(d.get(key), key)
    if not all(isinstance(v, str) for v in value.values()):
        raise InvalidArgument(f"invalid {key}: expected strings as values")
    return dict(value)


def _bool(d: JSONDict, key: str, default: bool = False) -> bool:
    value = d.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidArgument(f"invalid {key}: expected true or false")
    return value


def _opt_int(d: JSONDict, key: str) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"invalid {key}: expected a whole number")
    return value


def _int(d: JSONDict, key: str) -> int:
    value = _opt_int(d, key)
    return 0 if value is None else value


__all__ = [
    "config_from_docker",
    "config_to_docker",
    "create_from_docker",
    "create_query",
    "create_to_docker",
    "health_config_from_docker",
    "health_config_to_docker",
    "host_config_from_docker",
    "host_config_to_docker",
    "inspect_host_config",
    "mount_from_docker",
    "mount_to_docker",
    "networking_config_from_docker",
    "networking_config_to_docker",
    "parse_bind",
    "tmpfs_mount",
    "tmpfs_options_text",
]


# ------------------------------------------------------------------------------------ progress messages


def progress_to_docker(p: PullProgress) -> JSONDict:
    """A pull/push/load report as one of Docker's JSON progress messages (what ``POST /images/create`` and
    ``/images/{name}/push`` stream, and what the docker CLI draws its bars from): a layer's
    ``{"status", "id", "progressDetail": {"current", "total"}}``, or a whole-image ``{"status"}`` line."""
    if not p.layer:
        return {"status": f"{p.status} {p.message}".strip()}
    msg: JSONDict = {"status": p.status, "id": p.layer, "progressDetail": {}}
    if p.total:
        msg["progressDetail"] = {"current": p.current, "total": p.total}
    if p.message:
        msg["progress"] = p.message
    return msg
