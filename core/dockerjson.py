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
    ContainerStats,
    ContainerSummary,
    ContainerUpdate,
    DeviceMapping,
    EndpointIPAMConfig,
    EndpointSettings,
    Event,
    ExecConfig,
    HealthConfig,
    HistoryEntry,
    HostConfig,
    HostPortBinding,
    ImageSummary,
    LogConfig,
    Mount,
    NetworkingConfig,
    NetworkSummary,
    PortBinding,
    PullProgress,
    RestartPolicy,
    TmpfsOptions,
    Ulimit,
    Volume,
    VolumeOptions,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: ``run`` imports this for -v/--tmpfs
if TYPE_CHECKING:
    from typing import Any

    from core.config import Paths

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


_HEALTH_KEYS = ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries")


def _health_in_order(hc: Any) -> Any:
    """A stored Healthcheck document (its keys sorted on disk) in docker's HealthConfig field order."""
    if not isinstance(hc, dict):
        return hc
    return {**{k: hc[k] for k in _HEALTH_KEYS if k in hc}, **hc}


def mount_to_docker(m: Mount) -> JSONDict:
    out: JSONDict = {"Type": m.type, "Source": m.source, "Target": m.target, "ReadOnly": m.read_only}
    if m.bind_options is not None:
        out["BindOptions"] = {"Propagation": m.bind_options.propagation}
        if m.bind_options.create_mountpoint:
            out["BindOptions"]["CreateMountpoint"] = True
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
        bind = _obj(d["BindOptions"], "BindOptions")
        m.bind_options = BindOptions(_str(bind, "Propagation"), _bool(bind, "CreateMountpoint"))
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
    if "" in parts:  # docker's words
        raise InvalidArgument(f"invalid spec: {spec}: empty section between colons")
    if len(parts) not in (2, 3):
        raise InvalidArgument(f"invalid volume specification: {spec!r}")
    src, dst = parts[0], parts[1]
    opts = set((parts[2] if len(parts) == 3 else "rw").split(","))
    if opts - _BIND_MODES or not dst.startswith("/") or not src:
        raise InvalidArgument(f"invalid volume specification: {spec!r}")
    read_only = "ro" in opts
    if src.startswith(("/", ".")):
        propagation = [p for p in _PROPAGATIONS if p in opts]
        # a Binds entry's missing source directory is made at start, as docker makes it
        options = BindOptions(propagation[-1] if propagation else "", create_mountpoint=True)
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


_BAR_STATUSES = ("Downloading", "Extracting", "Pushing", "Loading layer", "Uploading")


def progress_to_docker(p: PullProgress) -> JSONDict:
    """A pull/push/load report as one of Docker's JSON progress messages (what ``POST /images/create`` and
    ``/images/{name}/push`` stream, and what the docker CLI draws its bars from): a layer's
    ``{"status", "id", "progressDetail": {"current", "total"}}``, or a whole-image ``{"status"}`` line."""
    if not p.layer:
        return {"status": f"{p.status} {p.message}".strip()}
    msg: JSONDict = {"status": p.status, "id": p.layer, "progressDetail": {}}
    # only a running bar has numbers: docker's CLI leaves out, when not on a terminal, every message that
    # has them (so "Pull complete" with numbers would never be printed)
    if p.total and p.status in _BAR_STATUSES:
        msg["progressDetail"] = {"current": p.current, "total": p.total}
    if p.message:
        msg["progress"] = p.message
    return msg


# ------------------------------------------------------------------ list summaries and stream messages
# What the Engine API answers for lists and streams (``GET /containers/json``, ``/images/json``, ``/events``,
# ``/containers/{id}/stats``, ``/images/{name}/history``), from the records the interface returns.

_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le"}


def go_arch(machine: str) -> str:
    """``uname -m`` as Go (and so docker) names the architecture."""
    return _GO_ARCH.get(machine, machine)


_EPOCHS: dict[str, float] = {}  # stamps seen (a container's are read by every `ps`), up to a few thousand


def epoch_seconds(stamp: str) -> float:
    """An RFC 3339 stamp (``2026-11-28T04:27:57.123456789Z``) as seconds since the epoch; 0 for none."""
    known = _EPOCHS.get(stamp)
    if known is None:
        known = _epoch_seconds(stamp)
        if len(_EPOCHS) >= 4096:
            _EPOCHS.clear()
        _EPOCHS[stamp] = known
    return known


def _epoch_seconds(stamp: str) -> float:
    import calendar

    if not stamp or stamp.startswith("0001-"):
        return 0.0
    try:
        # sliced rather than strptime'd (~20 times faster: `ps` of 100 containers reads 300 stamps)
        whole = calendar.timegm(
            (int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10]), int(stamp[11:13]), int(stamp[14:16]),
             int(stamp[17:19]), 0, 0, 0)
        )  # fmt: skip
    except ValueError:
        return 0.0
    rest = stamp[19:]
    frac = 0.0
    if rest[:1] == ".":
        end = 1
        while end < len(rest) and rest[end].isdigit():
            end += 1
        frac = float("0" + rest[:end]) if end > 1 else 0.0
        rest = rest[end:]
    offset = 0
    if rest[:1] in ("+", "-") and len(rest) >= 6:
        offset = (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60) * (1 if rest[0] == "+" else -1)
    return whole + frac - offset


def human_duration(seconds: float) -> str:
    """Docker's ``units.HumanDuration`` ("Up 3 minutes", "Exited (0) 2 hours ago")."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def container_status_text(c: ContainerSummary, now: float) -> str:
    """The summary's ``Status`` as docker's State.String(): "Up 5 seconds", "Up 2 minutes (Paused)",
    "Up 1 second (healthy)", "Exited (0) 3 hours ago" (``ps``, the Engine API's list, the workbench)."""
    if c.status in ("running", "paused"):
        text = f"Up {human_duration(now - epoch_seconds(c.started_at))}"
        if c.status == "paused":
            return text + " (Paused)"
        if c.health:  # docker's Health.String(): "(health: starting)", "(healthy)", "(unhealthy)"
            return f"{text} ({'health: starting' if c.health == 'starting' else c.health})"
        return text
    if c.status == "restarting":
        return f"Restarting ({c.exit_code or 0}) {human_duration(now - epoch_seconds(c.finished_at))} ago"
    if c.status == "exited":
        finished = epoch_seconds(c.finished_at)
        if not finished:
            return f"Exited ({c.exit_code or 0})"
        return f"Exited ({c.exit_code or 0}) {human_duration(now - finished)} ago"
    if c.status == "dead":
        return "Dead"
    return "Created"


def port_to_docker(p: PortBinding) -> JSONDict:
    out: JSONDict = {"PrivatePort": p.container_port, "Type": p.protocol}
    if p.host_port:
        out["IP"] = p.host_ip or "0.0.0.0"
        out["PublicPort"] = p.host_port
    return out


def container_summary_to_docker(c: ContainerSummary, now: float) -> JSONDict:
    """One entry of ``GET /containers/json``."""
    return {
        "Id": c.id,
        "Names": [f"/{c.name}"],
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": c.command,
        "Created": int(epoch_seconds(c.created)),
        "Ports": [port_to_docker(p) for p in c.ports],
        "Labels": dict(c.labels),
        "State": c.status,
        "Status": container_status_text(c, now),
    }


def image_summary_to_docker(i: ImageSummary, labels: dict[str, str] | None = None) -> JSONDict:
    """One entry of ``GET /images/json``."""
    return {
        "Id": i.id,
        "ParentId": "",
        "RepoTags": list(i.repo_tags),
        "RepoDigests": list(i.repo_digests),
        "Created": int(epoch_seconds(i.created)),
        "Size": i.size,
        "VirtualSize": i.size,
        "SharedSize": -1,
        "Labels": dict(labels) if labels else None,
        "Containers": i.containers,
    }


def history_to_docker(h: HistoryEntry) -> JSONDict:
    """One entry of ``GET /images/{name}/history``."""
    return {
        "Id": h.id,
        "Created": int(epoch_seconds(h.created)),
        "CreatedBy": h.created_by,
        "Tags": list(h.tags) or None,
        "Size": h.size,
        "Comment": h.comment,
    }


def event_to_docker(ev: Event) -> JSONDict:
    """One message of ``GET /events``: the current keys and the older ``status``/``id``/``from``."""
    ns = int(ev.time * 1_000_000_000)
    out: JSONDict = {
        "Type": ev.type,
        "Action": ev.action,
        "Actor": {"ID": ev.id, "Attributes": dict(ev.attributes)},
        "scope": "local",
        "time": ns // 1_000_000_000,
        "timeNano": ns,
    }
    if ev.type == "container":
        out.update(
            status=ev.action,
            id=ev.id,
            **({"from": ev.attributes["image"]} if "image" in ev.attributes else {}),
        )
    return out


def network_summary_to_docker(n: NetworkSummary) -> JSONDict:
    """``GET /networks`` for a network whose inspect document is not at hand."""
    config = [{"Subnet": n.subnet, "Gateway": n.gateway}] if n.subnet else []
    return {
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": n.scope,
        "Driver": n.driver,
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None, "Config": config},
        "Internal": n.internal,
        "Attachable": False,
        "Ingress": False,
        "Containers": {},
        "Options": {},
        "Labels": dict(n.labels),
    }


def exec_config_from_docker(body: JSONDict) -> ExecConfig:
    """``POST /containers/{id}/exec``'s body (Docker's ExecConfig)."""
    body = _obj(body, "the exec request")
    size = body.get("ConsoleSize")
    console: tuple[int, int] | None = None
    if size is not None:
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)):
            raise InvalidArgument("invalid ConsoleSize: expected [height, width]")
        console = (size[0], size[1]) if size[0] > 0 and size[1] > 0 else None
    return ExecConfig(
        cmd=_command(body, "Cmd") or [],
        env=_strs(body, "Env"),
        user=_str(body, "User") or None,
        working_dir=_str(body, "WorkingDir") or None,
        tty=_bool(body, "Tty"),
        attach_stdin=_bool(body, "AttachStdin"),
        detach=_bool(body, "Detach"),
        privileged=_bool(body, "Privileged"),
        console_size=console,
    )


def update_from_docker(body: JSONDict) -> ContainerUpdate:
    """``POST /containers/{id}/update``'s body; a setting dockyard cannot change is refused by name."""
    body = _obj(body, "the update request")
    known = {"Memory", "MemorySwap", "NanoCpus", "PidsLimit", "RestartPolicy"}
    for key, value in body.items():
        if key not in known and value not in (None, 0, "", [], {}, False):
            raise InvalidArgument(f"update of {key} is not supported")
    policy = None
    if body.get("RestartPolicy") is not None:
        rp = _obj(body["RestartPolicy"], "RestartPolicy")
        if _str(rp, "Name"):
            policy = RestartPolicy(_str(rp, "Name"), _int(rp, "MaximumRetryCount"))
    return ContainerUpdate(
        memory=_opt_int(body, "Memory") or None,
        memory_swap=_opt_int(body, "MemorySwap") or None,
        nano_cpus=_opt_int(body, "NanoCpus") or None,
        pids_limit=_opt_int(body, "PidsLimit") or None,
        restart_policy=policy,
    )


# ------------------------------------------------------------------------------------ inspect documents
# ``GET /containers/{id}/json``, ``/images/{name}/json``, ``/networks/{id}``, ``/volumes/{name}``: the
# documents ``docker inspect`` prints, with every key dockerd 20.10/24 writes (Engine API 1.41-1.43), in its
# order, with its zero values (null where Go has a nil slice, map or pointer; keys Go marks omitempty only
# when set). Maps are written with sorted keys, as Go's encoder writes them. The callers gather the facts
# (records, the image's config, the network's endpoints); nothing here touches the disk.

ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, as docker prints a time that never happened
_OMIT = object()  # a Config key Go writes only when it is set (omitempty)

# (key, zero) of Docker's container.Config, in its order; _OMIT: left out unless set
_CONFIG_KEYS: tuple[tuple[str, Any], ...] = (
    ("Hostname", ""),
    ("Domainname", ""),
    ("User", ""),
    ("AttachStdin", False),
    ("AttachStdout", False),
    ("AttachStderr", False),
    ("ExposedPorts", _OMIT),
    ("Tty", False),
    ("OpenStdin", False),
    ("StdinOnce", False),
    ("Env", None),
    ("Cmd", None),
    ("Healthcheck", _OMIT),
    ("ArgsEscaped", _OMIT),
    ("Image", ""),
    ("Volumes", None),
    ("WorkingDir", ""),
    ("Entrypoint", None),
    ("NetworkDisabled", _OMIT),
    ("MacAddress", _OMIT),
    ("OnBuild", None),
    ("Labels", None),
    ("StopSignal", _OMIT),
    ("StopTimeout", _OMIT),
    ("Shell", _OMIT),
)
_MAP_KEYS = ("ExposedPorts", "Volumes", "Labels")


def sorted_map(d: Any) -> Any:
    """A JSON object with its keys in Go's order (sorted); anything else as it is."""
    return {k: d[k] for k in sorted(d)} if isinstance(d, dict) else d


def docker_config(values: JSONDict) -> JSONDict:
    """A complete ``Config`` (container.Config) from the keys ``values`` has: the image config's ``config``
    section, or a container's merged configuration. Unknown keys are dropped."""
    out: JSONDict = {}
    for key, zero in _CONFIG_KEYS:
        value = values.get(key)
        if zero is _OMIT:
            # Go's omitempty: a nil pointer (StopTimeout, Healthcheck) or an empty value is left out
            if value is None or (key != "StopTimeout" and not value):
                continue
        elif value is None:
            value = zero
        out[key] = sorted_map(value) if key in _MAP_KEYS else value
    return out


def _env_merge(image_env: list[str], run_env: list[str]) -> list[str]:
    """docker's Config.Env: the request's variables first, then the image's it does not set."""
    if not run_env:
        return list(image_env)
    keys = {e.partition("=")[0] for e in run_env}
    return [*run_env, *(e for e in image_env if e.partition("=")[0] not in keys)]


def _resolved_env(asked: list[str], process_env: list[str]) -> list[str]:
    """The request's variables with a bare ``K`` (copied from the caller's environment) as it was resolved
    for the process, and left out when it was not set there, as docker's CLI does."""
    values = {e.partition("=")[0]: e for e in process_env}
    return [e if "=" in e else values[e] for e in asked if "=" in e or e in values]


def _cap_name(name: str) -> str:
    up = name.upper()
    return up if up == "ALL" or up.startswith("CAP_") else f"CAP_{up}"


def _bind_text(m: Mount) -> str:
    """A bind or named volume as a ``HostConfig.Binds`` entry (``-v``'s form)."""
    opts = []
    if m.read_only:
        opts.append("ro")
    if m.bind_options is not None and m.bind_options.propagation:
        opts.append(m.bind_options.propagation)
    if m.volume_options is not None and m.volume_options.no_copy:
        opts.append("nocopy")
    return f"{m.source}:{m.target}" + (f":{','.join(opts)}" if opts else "")


def inspect_host_config(
    h: HostConfig,
    *,
    anonymous: frozenset[str] | set[str] = frozenset(),
    masked_paths: list[str] | None = None,
    readonly_paths: list[str] | None = None,
) -> JSONDict:
    """``HostConfig`` as ``docker inspect`` shows it: every key docker's has, in its order, filled from the
    record where dockyard has the field and docker's zero value where not. Binds and named volumes are in
    ``Binds`` and tmpfs mounts in ``Tmpfs`` (the forms ``-v`` and ``--tmpfs`` give); anonymous volumes (names
    in ``anonymous``) are the container ``Config``'s ``Volumes``. Each mount is in one place only, so the
    section can be posted back as a request."""

    def get(name: str, zero: Any) -> Any:
        # a field the record may not have yet (new run flags): docker's zero value until it does
        value = getattr(h, name, zero)
        return zero if value is None and zero is not None else value

    binds = [
        _bind_text(m)
        for m in h.mounts
        if m.type == "bind" or (m.type == "volume" and m.source and m.source not in anonymous)
    ]
    tmpfs = {m.target: tmpfs_options_text(m) for m in h.mounts if m.type == "tmpfs"}
    sysctls = dict(get("sysctls", {}) or {})
    pids = h.pids_limit if h.pids_limit is not None and h.pids_limit > 0 else None
    out: JSONDict = {
        "Binds": binds or None,
        "ContainerIDFile": get("container_id_file", ""),
        "LogConfig": {"Type": h.log_config.type, "Config": sorted_map(dict(h.log_config.config))},
        "NetworkMode": h.network_mode,
        "PortBindings": {
            port: [{"HostIp": b.host_ip, "HostPort": b.host_port} for b in h.port_bindings[port]]
            for port in sorted(h.port_bindings)
        },
        "RestartPolicy": {
            "Name": h.restart_policy.name,
            "MaximumRetryCount": h.restart_policy.maximum_retry_count,
        },
        "AutoRemove": h.auto_remove,
        "VolumeDriver": "",
        "VolumesFrom": list(get("volumes_from", [])) or None,
        "CapAdd": [_cap_name(c) for c in h.cap_add] or None,
        "CapDrop": [_cap_name(c) for c in h.cap_drop] or None,
        "CgroupnsMode": "private",  # every container gets its own cgroup namespace
        "Dns": list(h.dns),
        "DnsOptions": list(get("dns_options", [])),
        "DnsSearch": list(get("dns_search", [])),
        "ExtraHosts": list(h.extra_hosts) or None,
        "GroupAdd": list(get("group_add", [])) or None,
        "IpcMode": get("ipc_mode", "") or "private",
        "Cgroup": "",
        "Links": list(get("links", [])) or None,
        "OomScoreAdj": get("oom_score_adj", 0),
        "PidMode": get("pid_mode", ""),
        "Privileged": h.privileged,
        "PublishAllPorts": h.publish_all_ports,
        "ReadonlyRootfs": h.readonly_rootfs,
        "SecurityOpt": list(h.security_opt) or None,
    }
    if tmpfs:
        out["Tmpfs"] = sorted_map(tmpfs)
    out.update(
        {
            "UTSMode": get("uts_mode", ""),
            "UsernsMode": get("userns_mode", ""),
            "ShmSize": h.shm_size or DEFAULT_SHM_SIZE,
        }
    )
    if sysctls:
        out["Sysctls"] = sorted_map(sysctls)
    out.update(
        {
            "Runtime": get("runtime", "") or "runc",
            "ConsoleSize": [0, 0],
            "Isolation": "",
            "CpuShares": get("cpu_shares", 0),
            "Memory": h.memory,
            "NanoCpus": h.nano_cpus,
            "CgroupParent": get("cgroup_parent", ""),
            "BlkioWeight": 0,
            "BlkioWeightDevice": [],
            "BlkioDeviceReadBps": [],
            "BlkioDeviceWriteBps": [],
            "BlkioDeviceReadIOps": [],
            "BlkioDeviceWriteIOps": [],
            "CpuPeriod": 0,
            "CpuQuota": 0,
            "CpuRealtimePeriod": 0,
            "CpuRealtimeRuntime": 0,
            "CpusetCpus": get("cpuset_cpus", ""),
            "CpusetMems": get("cpuset_mems", ""),
            "Devices": [
                {
                    "PathOnHost": d.path_on_host,
                    "PathInContainer": d.path_in_container,
                    "CgroupPermissions": "rwm",
                }
                for d in h.devices
            ],
            "DeviceCgroupRules": None,
            "DeviceRequests": None,
            "KernelMemory": 0,
            "KernelMemoryTCP": 0,
            "MemoryReservation": get("memory_reservation", 0),
            "MemorySwap": h.memory_swap,
            "MemorySwappiness": None,
            "OomKillDisable": bool(get("oom_kill_disable", False)),
            "PidsLimit": pids,
            "Ulimits": [{"Name": u.name, "Hard": u.hard, "Soft": u.soft} for u in h.ulimits],
            "CpuCount": 0,
            "CpuPercent": 0,
            "IOMaximumIOps": 0,
            "IOMaximumBandwidth": 0,
            "MaskedPaths": None if h.privileged else masked_paths,
            "ReadonlyPaths": None if h.privileged else readonly_paths,
        }
    )
    if h.init:
        out["Init"] = True
    return out


def _mount_point(m: Mount, volume_source: str) -> JSONDict:
    """One entry of a container's ``Mounts`` (docker's MountPoint)."""
    if m.type == "volume":
        mode = "ro" if m.read_only else "z"
        return {
            "Type": "volume",
            "Name": m.source,
            "Source": volume_source,
            "Destination": m.target,
            "Driver": "local",
            "Mode": mode,
            "RW": not m.read_only,
            "Propagation": "",
        }
    propagation = (m.bind_options.propagation if m.bind_options else "") or "rprivate"
    mode = ",".join(
        ["ro"] * m.read_only
        + ([m.bind_options.propagation] if m.bind_options and m.bind_options.propagation else [])
    )
    return {
        "Type": "bind",
        "Source": m.source,
        "Destination": m.target,
        "Mode": mode,
        "RW": not m.read_only,
        "Propagation": propagation,
    }


def _endpoint_doc(
    ep: JSONDict | None, *, aliases: list[str] | None = None, ipv4: str = "", network_id: str = ""
) -> JSONDict:
    """An entry of ``NetworkSettings.Networks`` (EndpointSettings): the live endpoint's values while the
    container runs, else what its request asked for."""
    ep = ep or {}
    ipam = ep.get("IPAMConfig")
    if ipam is None and ipv4:
        ipam = {"IPv4Address": ipv4}
    live_aliases = ep.get("Aliases") if ep else (list(aliases or []) or None)
    return {
        "IPAMConfig": ipam,
        "Links": ep.get("Links"),
        "Aliases": live_aliases,
        "NetworkID": ep.get("NetworkID", network_id),
        "EndpointID": ep.get("EndpointID", ""),
        "Gateway": ep.get("Gateway", ""),
        "IPAddress": ep.get("IPAddress", ""),
        "IPPrefixLen": ep.get("IPPrefixLen", 0),
        "IPv6Gateway": ep.get("IPv6Gateway", ""),
        "GlobalIPv6Address": ep.get("GlobalIPv6Address", ""),
        "GlobalIPv6PrefixLen": ep.get("GlobalIPv6PrefixLen", 0),
        "MacAddress": ep.get("MacAddress", ""),
        "DriverOpts": ep.get("DriverOpts"),
    }


def network_settings(
    req: ContainerCreate,
    *,
    running: bool,
    state_network: JSONDict,
    state_ports: list[JSONDict],
    exposed: list[str],
) -> JSONDict:
    """``NetworkSettings``: the sandbox, published ports and each network's endpoint. The top-level address
    keys are the default network's endpoint only ("" on other networks), as docker's."""
    mode = req.host_config.network_mode or "default"
    live: JSONDict = dict(state_network.get("networks") or {}) if running else {}
    wanted = [(("bridge" if n == "default" else n), ep) for n, ep in req.joined()]
    networks: JSONDict = {}
    if running and live:
        for name, ep in live.items():
            networks[name] = _endpoint_doc(ep)
    else:
        for name, ep_req in wanted:
            networks[name] = _endpoint_doc(
                None,
                aliases=list(ep_req.aliases),
                ipv4=ep_req.ipam_config.ipv4_address if ep_req.ipam_config else "",
            )
    ports: JSONDict = {}
    if running and mode not in ("host", "none"):
        for p in state_ports:
            key = f"{p.get('container_port')}/{p.get('protocol', 'tcp')}"
            ports.setdefault(key, []).append(
                {"HostIp": p.get("host_ip") or "0.0.0.0", "HostPort": str(p.get("host_port"))}
            )
        for port in exposed:
            ports.setdefault(port, None)
    default = networks.get("bridge")  # the default network's endpoint, however it was joined
    sandbox = str(state_network.get("netns", "")) if running else ""
    return {
        "Bridge": "",
        "SandboxID": hashlib_hex(sandbox) if sandbox else "",
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": sorted_map(ports),
        "SandboxKey": sandbox,
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": default["EndpointID"] if default else "",
        "Gateway": default["Gateway"] if default else "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": default["IPAddress"] if default else "",
        "IPPrefixLen": default["IPPrefixLen"] if default else 0,
        "IPv6Gateway": "",
        "MacAddress": default["MacAddress"] if default else "",
        "Networks": sorted_map(networks),
    }


def hashlib_hex(text: str) -> str:
    """A stable 64-hex id for something dockyard names by a path (a sandbox is its netns file)."""
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def container_to_docker(
    rec: Any,
    *,
    paths: Paths,
    image_config: JSONDict,
    state_health: JSONDict | None = None,
    exec_ids: list[str] | None = None,
    size: tuple[int, int] | None = None,
    masked_paths: list[str] | None = None,
    readonly_paths: list[str] | None = None,
) -> JSONDict:
    """``GET /containers/{id}/json``: a container's inspect document from its record (a
    core.containers.store.ContainerRecord: not imported, the store imports this module) and its image's
    config (``image_config``: the image config blob; {} when the image is gone). ``size`` (SizeRw,
    SizeRootFs) only when asked for (``inspect -s``): it walks the container's files."""
    from core.models import RUNNING_STATES

    st = rec.state
    run = rec.run
    proc = rec.process
    cdir = paths.container(rec.id)
    args = list(proc.get("args", []))
    running = st.status in RUNNING_STATES
    anonymous = set(rec.anonymous_volumes)
    icfg = image_config.get("config") or {}

    # Config: the request merged with its image, as docker stores it at create
    entrypoint: list[str] | None
    if run.config.entrypoint is not None:
        entrypoint = list(run.config.entrypoint)
        cmd: list[str] | None = list(run.config.cmd) if run.config.cmd is not None else None
    else:
        entrypoint = list(icfg.get("Entrypoint") or []) or None
        cmd = list(run.config.cmd) if run.config.cmd is not None else (list(icfg.get("Cmd") or []) or None)
    volumes: JSONDict = {path: {} for path in (icfg.get("Volumes") or {})}
    for m in run.host_config.mounts:
        if m.type == "volume" and m.source in anonymous:
            volumes[m.target] = {}
    labels = {**(icfg.get("Labels") or {}), **run.config.labels}
    # docker's CLI exposes what -p publishes
    exposed = sorted(
        {*(icfg.get("ExposedPorts") or {}), *run.config.exposed_ports, *run.host_config.port_bindings}
    )
    config = docker_config(
        {
            "Hostname": proc.get("hostname", "") or rec.id[:12],
            "Domainname": "",
            "User": run.config.user or icfg.get("User") or "",
            "AttachStdin": run.config.attach_stdin,
            "AttachStdout": run.config.attach_stdout,
            "AttachStderr": run.config.attach_stderr,
            "ExposedPorts": {p: {} for p in exposed},
            "Tty": run.config.tty,
            "OpenStdin": run.config.open_stdin,
            "StdinOnce": run.config.open_stdin and run.config.attach_stdin,
            "Env": _env_merge(
                list(icfg.get("Env") or []), _resolved_env(run.config.env, proc.get("env") or [])
            ),
            "Cmd": cmd,
            # resolved at create (the request's --health-* over the image's HEALTHCHECK)
            "Healthcheck": _health_in_order(
                proc.get("healthcheck")
                or (health_config_to_docker(run.config.healthcheck) if run.config.healthcheck else None)
                or icfg.get("Healthcheck")
            ),
            "ArgsEscaped": icfg.get("ArgsEscaped"),
            "Image": rec.image,
            "Volumes": volumes or None,
            "WorkingDir": run.config.working_dir or icfg.get("WorkingDir") or "",
            "Entrypoint": entrypoint,
            "OnBuild": icfg.get("OnBuild") or None,
            "Labels": labels,
            "StopSignal": run.config.stop_signal or icfg.get("StopSignal") or None,
            "StopTimeout": run.config.stop_timeout,
            "Shell": icfg.get("Shell"),
        }
    )
    state: JSONDict = {
        "Status": st.status,
        "Running": st.status in RUNNING_STATES,
        "Paused": st.status == "paused",
        "Restarting": st.status == "restarting",
        "OOMKilled": st.oom_killed,
        "Dead": st.status == "dead",
        "Pid": st.pid,
        "ExitCode": st.exit_code,
        "Error": st.error,
        "StartedAt": st.started_at or ZERO_TIME,
        "FinishedAt": st.finished_at or ZERO_TIME,
    }
    if state_health:
        state["Health"] = state_health
    lowers = ":".join(str(paths.layers / c.removeprefix("sha256:") / "diff") for c in reversed(rec.layers))
    graph_data = {
        "LowerDir": lowers,
        "MergedDir": str(cdir / "rootfs"),
        "UpperDir": str(cdir / "upper"),
        "WorkDir": str(cdir / "work"),
    }
    doc: JSONDict = {
        "Id": rec.id,
        "Created": rec.created,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": state,
        "Image": rec.image_id,
        "ResolvConfPath": str(cdir / "resolv.conf"),
        "HostnamePath": str(cdir / "hostname"),
        "HostsPath": str(cdir / "hosts"),
        "LogPath": str(cdir / f"{rec.id}-json.log"),
        "Name": "/" + rec.name,
        "RestartCount": st.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": list(exec_ids) if exec_ids else None,  # the execs running in it
        "HostConfig": inspect_host_config(
            run.host_config, anonymous=anonymous, masked_paths=masked_paths, readonly_paths=readonly_paths
        ),
        "GraphDriver": {"Data": sorted_map({k: v for k, v in graph_data.items() if v}), "Name": "overlay"},
    }
    if size is not None:
        doc["SizeRw"], doc["SizeRootFs"] = size
    doc["Mounts"] = [
        _mount_point(m, str(paths.volumes / m.source / "_data"))
        for m in run.host_config.mounts
        if m.type != "tmpfs"
    ]
    doc["Config"] = config
    doc["NetworkSettings"] = network_settings(
        run,
        running=running,
        state_network=st.network or {},
        state_ports=list(st.ports),
        exposed=exposed,
    )
    return doc


def image_to_docker(
    *,
    image_id: str,
    repo_tags: list[str],
    repo_digests: list[str],
    parent: str,
    image_config: JSONDict,
    size: int,
    graph_data: JSONDict,
    last_tag_time: str = "",
) -> JSONDict:
    """``GET /images/{name}/json`` from the image's config blob (``image_config``) and what the store knows:
    its names, its local parent (a built image's), its unpacked size and its layer directories."""
    cfg = image_config
    history = cfg.get("history") or []
    comment = cfg.get("comment")
    if comment is None:  # dockyard's import and commit write it in the last history entry
        comment = (history[-1] or {}).get("comment", "") if history else ""
    doc: JSONDict = {
        "Id": image_id,
        "RepoTags": list(repo_tags),
        "RepoDigests": list(repo_digests),
        "Parent": parent,
        "Comment": comment,
        "Created": cfg.get("created", ""),
        "Container": cfg.get("container", ""),
        "ContainerConfig": docker_config(cfg.get("container_config") or {}),
        "DockerVersion": cfg.get("docker_version", ""),
        "Author": cfg.get("author", ""),
        "Config": docker_config(cfg.get("config") or {}),
        "Architecture": cfg.get("architecture", ""),
    }
    if cfg.get("variant"):
        doc["Variant"] = cfg["variant"]
    doc["Os"] = cfg.get("os", "")
    if cfg.get("os.version"):
        doc["OsVersion"] = cfg["os.version"]
    doc.update(
        {
            "Size": size,
            "VirtualSize": size,
            "GraphDriver": {"Data": sorted_map(graph_data), "Name": "overlay"},
            "RootFS": {"Type": "layers", "Layers": list((cfg.get("rootfs") or {}).get("diff_ids") or [])},
            "Metadata": {"LastTagTime": last_tag_time or ZERO_TIME},
        }
    )
    return doc


def network_to_docker(
    *,
    name: str,
    network_id: str,
    created: str,
    driver: str,
    subnet: str = "",
    gateway: str = "",
    internal: bool = False,
    containers: JSONDict | None = None,
    options: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> JSONDict:
    """``GET /networks/{id}``: ``Containers`` keyed by container id (the running ones' endpoints). The
    pseudo networks (host, null) have no IPAM configuration."""
    ipam: JSONDict = {
        "Driver": "default",
        "Options": None if driver in ("host", "null") else {},
        "Config": [{"Subnet": subnet, "Gateway": gateway}] if subnet else [],
    }
    return {
        "Name": name,
        "Id": network_id,
        "Created": created or ZERO_TIME,
        "Scope": "local",
        "Driver": driver,
        "EnableIPv6": False,
        "IPAM": ipam,
        "Internal": internal,
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": sorted_map(dict(containers or {})),
        "Options": sorted_map(dict(options or {})),
        "Labels": sorted_map(dict(labels or {})),
    }


def network_endpoint_to_docker(name: str, endpoint_id: str, mac: str, ipv4_cidr: str) -> JSONDict:
    """One entry of a network's ``Containers``."""
    return {
        "Name": name,
        "EndpointID": endpoint_id,
        "MacAddress": mac,
        "IPv4Address": ipv4_cidr,
        "IPv6Address": "",
    }


def volume_to_docker(vol: Volume) -> JSONDict:
    """``GET /volumes/{name}``: labels and options null when there are none, as docker's."""
    created, dot, rest = vol.created.partition(".")  # docker's is to the second (RFC 3339)
    if dot:
        created += rest.lstrip("0123456789")
    return {
        "CreatedAt": created,
        "Driver": vol.driver,
        "Labels": sorted_map(dict(vol.labels)) or None,
        "Mountpoint": vol.mountpoint,
        "Name": vol.name,
        "Options": sorted_map(dict(vol.options)) or None,
        "Scope": "local",
    }


# ------------------------------------------------------------------------------------ reading answers
# The other direction, for the remote engine (core.remote): the Engine API's list entries, events and stats
# as the records the interface returns, so that the faces print them as they print the local engine's.

_HUMAN_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400, "month": 30 * 86400}


def human_duration_seconds(text: str) -> float:
    """The inverse of :func:`human_duration`: seconds that print back as ``text`` ("3 minutes" -> 180)."""
    text = text.strip()
    if text.startswith("Less than"):
        return 0.0
    if text.startswith("About a"):
        return 60.0 if "minute" in text else 3600.0
    count, _, unit = text.partition(" ")
    unit = unit.rstrip("s")
    if unit == "year":
        return int(count) * 365 * 86400 + 86400 * 7
    try:
        return float(int(count) * _HUMAN_UNITS.get(unit, 1))
    except ValueError:
        return 0.0


def _rfc3339_from_epoch(seconds: float) -> str:
    import time

    if seconds <= 0:
        return ZERO_TIME
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(seconds))) + f".{int(seconds % 1 * 1e9):09d}Z"


def container_summary_from_docker(d: JSONDict, now: float) -> ContainerSummary:
    """One entry of ``GET /containers/json`` (read at ``now``) as a summary. The list has no start or exit
    times, only ``Status`` ("Up 5 minutes (healthy)", "Exited (1) 2 hours ago"): they are set so that
    :func:`container_status_text` at ``now`` prints that same text."""
    import re

    status_text = str(d.get("Status") or "")
    state = str(d.get("State") or "created").lower()
    started = finished = ZERO_TIME
    exit_code: int | None = None
    health = ""
    m = re.match(r"Up (.+?)(?: \((Paused|healthy|unhealthy|health: starting)\))?$", status_text)
    if m:
        started = _rfc3339_from_epoch(now - human_duration_seconds(m.group(1)))
        h = m.group(2) or ""
        health = "starting" if h == "health: starting" else h if h in ("healthy", "unhealthy") else ""
    m = re.match(r"(?:Exited|Restarting) \((-?\d+)\)(?: (.+) ago)?$", status_text)
    if m:
        exit_code = int(m.group(1))
        if m.group(2):
            finished = _rfc3339_from_epoch(now - human_duration_seconds(m.group(2)))
    names = d.get("Names") or []
    ports = [
        PortBinding(
            container_port=int(p.get("PrivatePort") or 0),
            protocol=str(p.get("Type") or "tcp"),
            host_ip=str(p.get("IP") or ""),
            host_port=int(p.get("PublicPort") or 0),
        )
        for p in d.get("Ports") or []
    ]
    return ContainerSummary(
        id=str(d.get("Id") or ""),
        name=str(names[0]).lstrip("/") if names else "",
        image=str(d.get("Image") or ""),
        image_id=str(d.get("ImageID") or ""),
        command=str(d.get("Command") or ""),
        created=_rfc3339_from_epoch(float(d.get("Created") or 0)),
        status=state,
        exit_code=exit_code,
        started_at=started,
        finished_at=finished,
        ports=ports,
        labels=dict(d.get("Labels") or {}),
        health=health,
        ip_addresses={
            str(name): str(ep.get("IPAddress"))
            for name, ep in (((d.get("NetworkSettings") or {}).get("Networks")) or {}).items()
            if isinstance(ep, dict) and ep.get("IPAddress")
        },
    )


def container_summary_from_inspect(d: JSONDict) -> ContainerSummary:
    """``GET /containers/{id}/json`` as a summary (the exact times, unlike the list's)."""
    state = d.get("State") or {}
    config = d.get("Config") or {}
    path = str(d.get("Path") or "")
    args = [str(a) for a in d.get("Args") or []]
    command = " ".join([path, *args]) if path else ""
    ports: list[PortBinding] = []
    for key, bindings in ((d.get("NetworkSettings") or {}).get("Ports") or {}).items():
        port, _, proto = str(key).partition("/")
        for b in bindings or [{}]:
            ports.append(
                PortBinding(
                    int(port), proto or "tcp", str(b.get("HostIp") or ""), int(b.get("HostPort") or 0)
                )
            )
    status = str(state.get("Status") or "created")
    return ContainerSummary(
        id=str(d.get("Id") or ""),
        name=str(d.get("Name") or "").lstrip("/"),
        image=str(config.get("Image") or ""),
        image_id=str(d.get("Image") or ""),
        command=command,
        created=str(d.get("Created") or ""),
        status=status,
        exit_code=int(state.get("ExitCode") or 0) if status in ("exited", "dead", "restarting") else None,
        started_at=str(state.get("StartedAt") or ZERO_TIME),
        finished_at=str(state.get("FinishedAt") or ZERO_TIME),
        ports=ports,
        labels=dict(config.get("Labels") or {}),
        pid=int(state.get("Pid") or 0),
        health=str((state.get("Health") or {}).get("Status") or ""),
    )


def image_summary_from_docker(d: JSONDict) -> ImageSummary:
    """One entry of ``GET /images/json`` (or an image's inspect document) as a summary."""
    created = d.get("Created")
    return ImageSummary(
        id=str(d.get("Id") or ""),
        repo_tags=[t for t in d.get("RepoTags") or [] if t != "<none>:<none>"],
        repo_digests=[t for t in d.get("RepoDigests") or [] if t != "<none>@<none>"],
        created=_rfc3339_from_epoch(float(created))
        if isinstance(created, (int, float))
        else str(created or ""),
        size=int(d.get("Size") or 0),
        containers=int(d.get("Containers", -1) if d.get("Containers") is not None else -1),
    )


def history_from_docker(d: JSONDict) -> HistoryEntry:
    """One entry of ``GET /images/{name}/history``."""
    size = int(d.get("Size") or 0)
    return HistoryEntry(
        id=str(d.get("Id") or "<missing>"),
        created=_rfc3339_from_epoch(float(d.get("Created") or 0)),
        created_by=str(d.get("CreatedBy") or ""),
        size=size,
        comment=str(d.get("Comment") or ""),
        empty_layer=size == 0,
        tags=[str(t) for t in d.get("Tags") or []],
    )


def event_from_docker(d: JSONDict) -> Event:
    """One message of ``GET /events``."""
    actor = d.get("Actor") or {}
    ns = d.get("timeNano")
    return Event(
        time=int(ns) / 1e9 if ns else float(d.get("time") or 0),
        type=str(d.get("Type") or "container"),
        action=str(d.get("Action") or d.get("status") or ""),
        id=str(actor.get("ID") or d.get("id") or ""),
        attributes={str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()},
    )


def network_summary_from_docker(d: JSONDict) -> NetworkSummary:
    """One entry of ``GET /networks`` (or a network's inspect document)."""
    config = ((d.get("IPAM") or {}).get("Config") or [{}]) or [{}]
    first = config[0] if config else {}
    return NetworkSummary(
        id=str(d.get("Id") or ""),
        name=str(d.get("Name") or ""),
        driver=str(d.get("Driver") or ""),
        scope=str(d.get("Scope") or "local"),
        subnet=str(first.get("Subnet") or ""),
        gateway=str(first.get("Gateway") or ""),
        internal=bool(d.get("Internal")),
        created="" if str(d.get("Created") or "").startswith("0001-") else str(d.get("Created") or ""),
        labels=dict(d.get("Labels") or {}),
        containers=[str(c.get("Name") or k) for k, c in (d.get("Containers") or {}).items()],
    )


def volume_from_docker(d: JSONDict) -> Volume:
    """``GET /volumes/{name}`` (or an entry of ``GET /volumes``)."""
    labels = dict(d.get("Labels") or {})
    return Volume(
        name=str(d.get("Name") or ""),
        created=str(d.get("CreatedAt") or ""),
        labels=labels,
        options=dict(d.get("Options") or {}),
        anonymous="com.docker.volume.anonymous" in labels,
        driver=str(d.get("Driver") or "local"),
        mountpoint=str(d.get("Mountpoint") or ""),
    )


def stats_from_docker(d: JSONDict, name: str = "") -> ContainerStats:
    """One document of ``GET /containers/{id}/stats``, with CPU % the way the docker CLI computes it (the
    container's share of the host's CPU time between ``precpu_stats`` and ``cpu_stats``, times the CPUs)."""
    cpu = d.get("cpu_stats") or {}
    pre = d.get("precpu_stats") or {}
    usage = int((cpu.get("cpu_usage") or {}).get("total_usage") or 0)
    pre_usage = int((pre.get("cpu_usage") or {}).get("total_usage") or 0)
    system = int(cpu.get("system_cpu_usage") or 0)
    pre_system = int(pre.get("system_cpu_usage") or 0)
    cpus = int(cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1)
    percent = 0.0
    if usage > pre_usage and system > pre_system:
        percent = (usage - pre_usage) / (system - pre_system) * cpus * 100.0
    mem = d.get("memory_stats") or {}
    mem_stats = mem.get("stats") or {}
    used = int(mem.get("usage") or 0)
    # the docker CLI leaves out the page cache: cgroup v2's inactive_file, v1's total_inactive_file
    for key in ("inactive_file", "total_inactive_file"):
        if key in mem_stats and int(mem_stats[key]) < used:
            used -= int(mem_stats[key])
            break
    rx = tx = 0
    for net in (d.get("networks") or {}).values():
        rx += int(net.get("rx_bytes") or 0)
        tx += int(net.get("tx_bytes") or 0)
    read = write = 0
    for entry in (d.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(entry.get("op") or "").lower()
        if op == "read":
            read += int(entry.get("value") or 0)
        elif op == "write":
            write += int(entry.get("value") or 0)
    return ContainerStats(
        id=str(d.get("id") or ""),
        name=str(d.get("name") or name).lstrip("/"),
        cpu_percent=percent,
        memory_usage=used,
        memory_limit=int(mem.get("limit") or 0),
        pids=int((d.get("pids_stats") or {}).get("current") or 0),
        cpu_usage_ns=usage,
        net_rx=rx,
        net_tx=tx,
        block_read=read,
        block_write=write,
    )
