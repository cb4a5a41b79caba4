"""The checks a create request passes before any container exists, made here once for every face: the
command line and the run form parse text into a :class:`~core.models.ContainerCreate`, a Docker API body is
read into one (core.dockerjson), and :func:`check_create` (called by ``Engine.create_container``) says what
is wrong with it, in one wording."""

from __future__ import annotations

import os

from core.errors import InvalidArgument
from core.models import ContainerCreate, HostConfig, Mount, RestartPolicy, Ulimit

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
    security_opts(h.security_opt)
    rlimits(h.ulimits)
    resolve_capabilities(h.cap_add, h.cap_drop, h.privileged)
    for m in h.mounts:
        made_at_start = m.bind_options is not None and m.bind_options.create_mountpoint  # -v makes it
        if m.type == "bind" and not made_at_start and not os.path.exists(m.source):
            raise InvalidArgument(bind_source_missing(m.source))
    for d in h.devices:
        host = d.path_on_host
        if not host.startswith("/") or not os.path.exists(host):
            raise InvalidArgument(
                f"error gathering device information while adding device {host!r}: no such file or directory"
            )


def check_request(req: ContainerCreate) -> None:
    """What is wrong with the request itself, whatever the host (the run form checks as the user types)."""
    h = req.host_config
    check_mounts(h.mounts)
    _check_ports(req)
    _check_resources(h)
    for u in h.ulimits:
        _check_ulimit(u)
    if h.log_config.type != "json-file":
        raise InvalidArgument(
            f"logging driver {h.log_config.type!r} is not supported: dockyard has json-file"
        )
    from core.logopts import parse_log_opts

    parse_log_opts(h.log_config.config)
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


def check_restart(policy: RestartPolicy) -> None:
    name, count = policy.name, policy.maximum_retry_count
    text = f"{name}:{count}" if count else name  # as --restart spells it
    if name not in RESTART_POLICIES:
        raise InvalidArgument(
            f"invalid restart policy {text!r}: use no, always, unless-stopped or on-failure[:N]"
        )
    if count < 0:
        raise InvalidArgument(f"invalid restart policy {text!r}: the retry count cannot be negative")
    if count and name != "on-failure":
        raise InvalidArgument(f"invalid restart policy {text!r}: only on-failure takes a maximum retry count")


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
    if h.nano_cpus:
        ncpu = len(os.sched_getaffinity(0))  # what Go's runtime.NumCPU (docker's sysinfo.NumCPU) counts
        if h.nano_cpus > ncpu * 1_000_000_000:
            raise InvalidArgument(
                f"range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
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
    "MIN_MEMORY",
    "RESTART_POLICIES",
    "check_create",
    "check_host_resources",
    "check_mounts",
    "check_request",
    "check_restart",
]
