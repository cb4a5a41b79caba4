"""The checks a create request passes before any container exists, made here once for every face: the
command line and the run form parse text into a :class:`~core.models.ContainerCreate`, a Docker API body is
read into one (core.dockerjson), and :func:`check_create` (called by ``Engine.create_container``) says what
is wrong with it, in one wording."""

from __future__ import annotations

import os

from core.errors import InvalidArgument
from core.models import ContainerCreate, HostConfig, LogConfig, Mount, RestartPolicy, Ulimit

RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")
MIN_MEMORY = 6 * 1024 * 1024  # docker's minimum --memory
_PROTOCOLS = ("tcp", "udp", "sctp")
_PROPAGATIONS = ("rprivate", "private", "rslave", "slave", "rshared", "shared")


def check_create(req: ContainerCreate) -> None:
    """Everything :func:`check_request` checks, then what depends on this host: security options,
    capabilities, ulimits above the host's hard limits, devices that do not exist."""
    check_request(req)
    from core.containers.runtime_spec import bind_source_missing, rlimits, security_opts
    from core.runtime.capabilities import resolve_capabilities

    h = req.host_config
    check_host_resources(h)
    if req.platform:
        check_platform(req.platform)
    security_opts(h.security_opt)
    rlimits(h.ulimits)
    resolve_capabilities(h.cap_add, h.cap_drop, h.privileged)
    for m in h.mounts:
        made_at_start = m.bind_options is not None and m.bind_options.create_mountpoint  # -v makes it
        if m.type == "bind" and not made_at_start and not os.path.exists(m.source):
            raise InvalidArgument(bind_source_missing(m.source))
    for d in h.devices:
        host = d.path_on_host
        if not host.startswith("/"):
            raise InvalidArgument(
                f"error gathering device information while adding device {host!r}: no such file or directory"
            )
    # a device that does not exist fails the start, as docker's (core.containers.runtime_spec)


def create_warnings(req: ContainerCreate) -> list[str]:
    """The warnings docker's daemon gives with a create it accepts (``Warnings``; its CLI prints each after
    ``WARNING: ``)."""
    h = req.host_config
    out = []
    if h.oom_kill_disable and h.memory == 0:  # daemon_unix.go verifyPlatformContainerResources
        out.append(
            "OOM killer is disabled for the container, but no memory limit is set, "
            "this can result in the system running out of resources."
        )
    return out


def check_request(req: ContainerCreate) -> None:
    """What is wrong with the request itself, whatever the host (the run form checks as the user types)."""
    h = req.host_config
    _check_text_fields(req)
    check_mounts(h.mounts)
    _check_ports(req)
    _check_resources(h)
    for u in h.ulimits:
        _check_ulimit(u)
    check_log_config(h.log_config)
    check_restart(h.restart_policy)
    if req.config.stop_signal:
        from core.runtime.signals import parse_signal

        # at create, as docker does: found only at stop time, a bad name would leave a container that
        # ignores `stop` until its timeout kills it
        parse_signal(req.config.stop_signal)
    if req.config.healthcheck is not None:
        from core.containers.health import check_healthcheck
        from core.dockerjson import health_config_to_docker

        check_healthcheck(health_config_to_docker(req.config.healthcheck))
    if h.auto_remove and h.restart_policy.name != "no":
        raise InvalidArgument("conflicting options: cannot specify both --restart and --rm")
    if h.network_mode == "host" and req.config.hostname:
        raise InvalidArgument("conflicting options: hostname and the network mode host")
    check_namespaces(req)
    check_sysctls(h)
    _check_more_resources(h)
    for item in h.volumes_from:
        volumes_from_spec(item)
    for group in h.group_add:
        if not group or ":" in group or "\n" in group:
            raise InvalidArgument(f"invalid --group-add {group!r}: expected a group name or id")
    for domain in h.dns_search:
        check_dns_search(domain)
    for option in h.dns_options:
        if not option or any(c.isspace() for c in option):
            raise InvalidArgument(f"invalid --dns-option {option!r}")
    for link in h.links:
        name, _, alias = link.partition(":")
        if not name.strip("/") or not alias.strip("/"):
            raise InvalidArgument(f"invalid link {link!r}: expected NAME:ALIAS")
    if h.links and h.network_mode == "host":
        raise InvalidArgument(
            "conflicting options: host type networking can't be used with links. "
            "This would result in undefined behavior"
        )
    if h.runtime not in ("", *RUNTIMES):
        raise InvalidArgument(f"Unknown runtime specified {h.runtime}")


def _check_text_fields(req: ContainerCreate) -> None:
    """The name, the environment and the volume names, in the words the create would use when it reached
    them (the run form shows these while they are typed; a bad one costs no pull)."""
    if req.name:
        from core.state.ids import check_name

        check_name(req.name.removeprefix("/"))
    for item in req.config.env:
        if not item.partition("=")[0]:
            raise InvalidArgument(f"invalid environment variable: {item!r}")
    for m in req.host_config.mounts:
        if m.type == "volume" and m.source:
            from core.volumes import check_volume_name

            try:
                check_volume_name(m.source)
            except InvalidArgument as err:
                raise InvalidArgument(f"create {m.source}: {err}") from None


# the namespace modes docker takes (container:NAME for pid and ipc)
IPC_MODES = ("", "private", "shareable", "host", "none")
RUNTIMES = ("runc",)  # the built-in runtime answers to docker's name for its default
LOG_DRIVERS = ("json-file", "local", "none")
# docker's namespaced sysctls (opts.ValidateSysctl): these names, and every name under these prefixes
SYSCTLS = (
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
)
SYSCTL_PREFIXES = ("fs.mqueue.", "net.")
_IPC_SYSCTLS = (*SYSCTLS, "fs.mqueue.")


def container_ref(mode: str) -> str:
    """The container a ``container:NAME`` mode names ("" for any other mode)."""
    return mode.partition(":")[2] if mode.startswith("container:") else ""


def check_namespaces(req: ContainerCreate) -> None:
    """``--pid``, ``--ipc``, ``--uts``, ``--userns`` in docker's words."""
    h = req.host_config
    if h.pid_mode not in ("", "host") and not container_ref(h.pid_mode):
        raise InvalidArgument("--pid: invalid PID mode")
    if h.ipc_mode not in IPC_MODES and not container_ref(h.ipc_mode):
        raise InvalidArgument(f"Invalid IPC mode: {h.ipc_mode}")
    if h.uts_mode not in ("", "host"):
        raise InvalidArgument("--uts: invalid UTS mode")
    if h.userns_mode not in ("", "host"):
        raise InvalidArgument("--userns: invalid USER mode")
    if h.uts_mode == "host" and req.config.hostname:
        raise InvalidArgument("conflicting options: hostname and the UTS mode")


def check_sysctls(h: HostConfig) -> None:
    """Only namespaced sysctls (docker's list), and none of a namespace shared with the host."""
    for key, value in h.sysctls.items():
        if key not in SYSCTLS and not key.startswith(SYSCTL_PREFIXES):
            raise InvalidArgument(f"sysctl '{key}={value}' is not allowed")
        if key.startswith("net.") and h.network_mode == "host":
            raise InvalidArgument(f'sysctl "{key}" not allowed in host network namespace')
        if key.startswith(_IPC_SYSCTLS) and h.ipc_mode == "host":
            raise InvalidArgument(f'sysctl "{key}" is not allowed in the hosts ipc namespace')
        if "\n" in value or "\0" in value:
            raise InvalidArgument(f"sysctl '{key}': the value cannot hold a newline")


def check_log_config(log: LogConfig) -> None:
    """``--log-driver`` json-file, local (dockyard keeps its log in the json-file format) or none."""
    if log.type not in LOG_DRIVERS:
        raise InvalidArgument(f'error looking up logging plugin {log.type}: plugin "{log.type}" not found')
    if log.type == "none":
        if log.config:
            raise InvalidArgument("invalid logging opts for driver none")
        return
    from core.logopts import parse_log_opts

    parse_log_opts(log.config)


def check_platform(platform: str) -> None:
    """``--platform``: parsed as docker parses it; a platform this host cannot run is refused."""
    from core.config import host_platform
    from core.images.reference import parse_platform

    try:
        wanted = parse_platform(platform)
    except InvalidArgument:
        raise InvalidArgument(
            f'error parsing specified platform: "{platform}": unknown operating system or architecture: '
            "invalid argument"
        ) from None
    host = parse_platform(host_platform())
    if wanted[:2] != host[:2]:
        raise InvalidArgument(
            f"platform {'/'.join(p for p in wanted if p)} cannot run on this host "
            f"({'/'.join(p for p in host if p)}): dockyard runs no emulation"
        )


def volumes_from_spec(item: str) -> tuple[str, str]:
    """``--volumes-from CONTAINER[:ro|rw]``: (container, mode)."""
    name, _, mode = item.partition(":")
    if not name:
        raise InvalidArgument(f"invalid --volumes-from {item!r}: expected CONTAINER[:ro|rw]")
    if mode not in ("", "ro", "rw"):
        raise InvalidArgument(f"invalid mode: {mode}")
    return name, mode


def check_dns_search(domain: str) -> None:
    """docker's ValidateDNSSearch: "." (no search at all), or a domain name."""
    import re

    if domain == ".":
        return
    name = domain.removesuffix(".")
    if (
        not name
        or len(name) > 255
        or not re.fullmatch(
            r"(([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])",
            name,
        )
    ):
        raise InvalidArgument(f"{domain} is not a valid domain")


def _check_more_resources(h: HostConfig) -> None:
    if h.cpu_shares < 0:
        raise InvalidArgument(f"invalid CPU shares {h.cpu_shares}: must be positive")
    if h.memory_reservation:
        if h.memory_reservation < MIN_MEMORY:
            raise InvalidArgument("minimum memory reservation allowed is 6MB")
        if h.memory and h.memory < h.memory_reservation:
            raise InvalidArgument(
                "minimum memory limit can not be less than memory reservation limit, see usage"
            )
    if h.cpuset_cpus:
        _cpu_list(h.cpuset_cpus)
    if h.cgroup_parent:
        from core.runtime.cgroups import check_name

        for part in h.cgroup_parent.strip("/").split("/"):
            check_name(part, "cgroup parent")


def _cpu_list(text: str) -> set[int]:
    cpus: set[int] = set()
    for part in text.split(","):
        lo_s, sep, hi_s = part.partition("-")
        if not lo_s.isdigit() or (sep and not hi_s.isdigit()):
            raise InvalidArgument(f"invalid value {text} for cpuset cpus")
        lo, hi = int(lo_s), int(hi_s) if sep else int(lo_s)
        if hi < lo:
            raise InvalidArgument(f"invalid value {text} for cpuset cpus")
        cpus.update(range(lo, hi + 1))
    return cpus


def check_restart(policy: RestartPolicy) -> None:
    name, count = policy.name, policy.maximum_retry_count
    # docker's words (the daemon's ValidateRestartPolicy)
    if name not in RESTART_POLICIES:
        raise InvalidArgument(f"invalid restart policy '{name}'")
    if count < 0:
        raise InvalidArgument("maximum retry count cannot be negative")
    if count and name != "on-failure":
        raise InvalidArgument(f"maximum retry count cannot be used with restart policy '{name}'")


def check_mounts(mounts: list[Mount]) -> None:
    seen: set[str] = set()
    for m in mounts:
        if m.type not in ("bind", "volume", "tmpfs"):
            raise InvalidArgument(f"invalid mount type {m.type!r}: use bind, volume or tmpfs")
        if not m.target.startswith("/"):
            raise InvalidArgument(f"invalid mount target {m.target!r}: it must be an absolute path")
        key = m.target.rstrip("/")
        if key in seen:
            raise InvalidArgument(f"duplicate mount point: {m.target}")
        seen.add(key)
        if m.type == "bind" and not m.source.startswith("/"):
            raise InvalidArgument(f"invalid bind mount source {m.source!r}: it must be an absolute path")
        if m.type == "tmpfs" and m.source:
            raise InvalidArgument(f"invalid tmpfs mount at {m.target}: a tmpfs has no source")
        for kind, options in (
            ("bind", m.bind_options),
            ("volume", m.volume_options),
            ("tmpfs", m.tmpfs_options),
        ):
            if options is not None and m.type != kind:
                raise InvalidArgument(f"invalid mount at {m.target}: {kind} options on a {m.type} mount")
        if m.bind_options is not None and m.bind_options.propagation not in ("", *_PROPAGATIONS):
            raise InvalidArgument(f"invalid bind propagation {m.bind_options.propagation!r} at {m.target}")
        if m.tmpfs_options is not None and (m.tmpfs_options.size_bytes < 0 or m.tmpfs_options.mode < 0):
            raise InvalidArgument(f"invalid tmpfs options at {m.target}: size and mode cannot be negative")


def _port_number(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def _check_ports(req: ContainerCreate) -> None:
    """Port keys are ``PORT/PROTOCOL`` and host ports numbers (core.network checks the rest at create)."""
    keys = [*req.host_config.port_bindings, *req.config.exposed_ports]
    for key in keys:
        port, _, proto = key.partition("/")
        if _port_number(port) is None or proto not in _PROTOCOLS:
            raise InvalidArgument(f"invalid port {key!r}: expected PORT/PROTOCOL, e.g. 80/tcp")
    for key, bindings in req.host_config.port_bindings.items():
        for b in bindings:
            if b.host_port and _port_number(b.host_port) is None:
                raise InvalidArgument(f"invalid host port {b.host_port!r} for {key}")


def _check_resources(h: HostConfig) -> None:
    if h.memory and h.memory < MIN_MEMORY:
        raise InvalidArgument("minimum memory limit allowed is 6MB")
    if h.memory_swap:
        if not h.memory:
            raise InvalidArgument("you should always set the memory limit when using the memory swap limit")
        if h.memory_swap != -1 and h.memory_swap < h.memory:
            raise InvalidArgument("minimum memoryswap limit should be larger than memory limit")
    if h.nano_cpus < 0:
        raise InvalidArgument(f"invalid value {h.nano_cpus / 1e9} for --cpus: must be positive")


def check_host_resources(h: HostConfig) -> None:
    """Limits this host cannot give, in docker's words: more CPUs than it has."""
    if h.cpuset_cpus:
        available = os.sched_getaffinity(0)
        if not _cpu_list(h.cpuset_cpus) <= available:
            have = ",".join(str(c) for c in sorted(available))
            raise InvalidArgument(
                f"Requested CPUs are not available - requested {h.cpuset_cpus}, available: {have}"
            )
    if h.nano_cpus:
        ncpu = len(os.sched_getaffinity(0))  # what Go's runtime.NumCPU (docker's sysinfo.NumCPU) counts
        if h.nano_cpus > ncpu * 1_000_000_000:
            raise InvalidArgument(
                f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
            )


def _check_ulimit(u: Ulimit) -> None:
    from core.runtime.spec import RLIMIT_NAMES

    spec = (
        f"{u.name}={u.soft}" if u.soft == u.hard else f"{u.name}={u.soft}:{u.hard}"
    )  # as --ulimit spells it
    if u.name not in RLIMIT_NAMES:
        raise InvalidArgument(f"invalid ulimit {spec!r}: expected NAME=SOFT[:HARD] with a known NAME")
    if u.soft != -1 and u.hard != -1 and u.soft > u.hard:
        raise InvalidArgument(f"invalid ulimit {spec!r}: soft limit {u.soft} is above hard limit {u.hard}")


__all__ = [
    "IPC_MODES",
    "LOG_DRIVERS",
    "MIN_MEMORY",
    "RESTART_POLICIES",
    "RUNTIMES",
    "SYSCTLS",
    "check_create",
    "check_dns_search",
    "check_host_resources",
    "check_log_config",
    "check_mounts",
    "check_namespaces",
    "check_platform",
    "check_request",
    "check_restart",
    "check_sysctls",
    "container_ref",
    "volumes_from_spec",
]
