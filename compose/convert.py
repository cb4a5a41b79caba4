"""A canonical service (compose/model.py) as the engine's create request (core.models.ContainerCreate),
the way docker compose v2 turns a ServiceConfig into the Engine API's create body (pkg/compose/create.go)."""

from __future__ import annotations

from typing import Any

from compose import labels as L
from compose.model import Project, Service
from core.errors import InvalidArgument
from core.models import (
    BindOptions,
    ContainerConfig,
    ContainerCreate,
    EndpointIPAMConfig,
    EndpointSettings,
    HealthConfig,
    HostConfig,
    HostPortBinding,
    Mount,
    NetworkingConfig,
    RestartPolicy,
    TmpfsOptions,
    Ulimit,
    VolumeOptions,
)


def image_name(project: Project, name: str, service: Service) -> str:
    """The service's image; a service that only builds gets ``<project>-<service>`` (compose v2's default)."""
    image = service.get("image")
    return str(image) if image else f"{project.name}-{name}"


def container_name(project: Project, name: str, service: Service, number: int) -> str:
    """``container_name``, else ``<project>-<service>-<number>``."""
    return str(service.get("container_name") or f"{project.name}-{name}-{number}")


def _seconds(duration: str) -> int:
    from core.interface import parse_duration

    return int(parse_duration(duration) // 1_000_000_000)


def _nanos(duration: Any) -> int:
    from core.interface import parse_duration

    return int(parse_duration(str(duration))) if duration else 0


def health_config(hc: dict[str, Any]) -> HealthConfig:
    if hc.get("disable"):
        return HealthConfig(test=["NONE"])
    return HealthConfig(
        test=list(hc.get("test") or []),
        interval=_nanos(hc.get("interval")),
        timeout=_nanos(hc.get("timeout")),
        start_period=_nanos(hc.get("start_period")),
        start_interval=_nanos(hc.get("start_interval")),
        retries=int(hc.get("retries") or 0),
    )


def restart_policy(text: str) -> RestartPolicy:
    name, _, count = text.partition(":")
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise InvalidArgument(f"invalid restart policy {text!r}")
    try:
        return RestartPolicy(name=name, maximum_retry_count=int(count) if count else 0)
    except ValueError:
        raise InvalidArgument(f"invalid restart policy {text!r}") from None


def sorted_networks(service: Service) -> list[str]:
    """The service's network keys in the order compose joins them: by ``priority`` (highest first), then
    by name."""
    nets = service.get("networks") or {}
    return sorted(nets, key=lambda k: (-int((nets[k] or {}).get("priority") or 0), k))


def network_name(project: Project, key: str) -> str:
    net = project.networks.get(key) or {}
    return str(net.get("name") or f"{project.name}_{key}")


def volume_name(project: Project, key: str) -> str:
    vol = project.volumes.get(key) or {}
    return str(vol.get("name") or f"{project.name}_{key}")


def mounts(project: Project, service: Service) -> list[Mount]:
    out: list[Mount] = []
    for v in service.get("volumes") or []:
        kind = v.get("type", "volume")
        target = str(v["target"])
        ro = bool(v.get("read_only"))
        if kind == "volume":
            source = v.get("source")
            nocopy = bool((v.get("volume") or {}).get("nocopy"))
            out.append(
                Mount(
                    type="volume",
                    target=target,
                    source=volume_name(project, source) if source else "",
                    read_only=ro,
                    volume_options=VolumeOptions(no_copy=True) if nocopy else None,
                )
            )
        elif kind == "bind":
            create = (v.get("bind") or {}).get("create_host_path", True)
            out.append(
                Mount(
                    type="bind",
                    target=target,
                    source=str(v["source"]),
                    read_only=ro,
                    bind_options=BindOptions(create_mountpoint=bool(create)),
                )
            )
        elif kind == "tmpfs":
            t = v.get("tmpfs") or {}
            out.append(
                Mount(
                    type="tmpfs",
                    target=target,
                    read_only=ro,
                    tmpfs_options=TmpfsOptions(
                        size_bytes=int(t.get("size") or 0), mode=int(t.get("mode") or 0)
                    ),
                )
            )
        else:
            raise InvalidArgument(f"service volume type {kind!r} is not supported")
    for item in service.get("tmpfs") or []:
        from core.interface import tmpfs_mount

        target, _, options = str(item).partition(":")
        out.append(tmpfs_mount(target, options))
    return out


def _ports(service: Service) -> tuple[dict[str, list[HostPortBinding]], list[str]]:
    bindings: dict[str, list[HostPortBinding]] = {}
    exposed: list[str] = []
    for p in service.get("ports") or []:
        key = f"{int(p['target'])}/{p.get('protocol') or 'tcp'}"
        bindings.setdefault(key, []).append(
            HostPortBinding(host_ip=str(p.get("host_ip") or ""), host_port=str(p.get("published") or ""))
        )
        if key not in exposed:
            exposed.append(key)
    for e in service.get("expose") or []:
        text = str(e)
        key = text if "/" in text else f"{text}/tcp"
        if key not in exposed:
            exposed.append(key)
    return bindings, exposed


def environment(project: Project, service: Service) -> list[str]:
    """``K=V`` lines; a key without a value takes the project environment's, or is left out (compose)."""
    out = []
    for k, v in (service.get("environment") or {}).items():
        if v is None:
            if k in project.environment:
                out.append(f"{k}={project.environment[k]}")
            continue
        out.append(f"{k}={v}")
    return out


def _network_mode(project: Project, service: Service) -> str:
    mode = str(service["network_mode"])
    if mode.startswith("service:"):
        other = mode.removeprefix("service:")
        svc = project.services.get(other) or {}
        return f"container:{container_name(project, other, svc, 1)}"
    return mode


def container_create(
    project: Project,
    name: str,
    service: Service,
    *,
    number: int,
    config_hash: str,
    image_id: str = "",
    oneoff: bool = False,
    container: str | None = None,
    use_aliases: bool = True,
    version: str = L.COMPOSE_VERSION,
) -> ContainerCreate:
    """The create request of the service's container ``number`` (or a one-off one, named ``container``)."""
    labels = dict(service.get("labels") or {})
    labels.update(
        {
            L.PROJECT: project.name,
            L.SERVICE: name,
            L.ONEOFF: "True" if oneoff else "False",
            L.CONFIG_HASH: config_hash,
            L.WORKING_DIR: str(project.working_dir),
            L.CONFIG_FILES: ",".join(str(f) for f in project.config_files),
            L.DEPENDS_ON: L.depends_on_label(service),
            L.IMAGE: image_id,
            L.VERSION: version,
        }
    )
    if not oneoff:
        labels[L.CONTAINER_NUMBER] = str(number)
    cname = container or container_name(project, name, service, number)
    bindings, exposed = _ports(service)
    hc = service.get("healthcheck")
    config = ContainerConfig(
        image=image_name(project, name, service),
        hostname=str(service.get("hostname") or ""),
        user=str(service.get("user") or ""),
        tty=bool(service.get("tty")),
        open_stdin=bool(service.get("stdin_open")),
        attach_stdin=bool(service.get("stdin_open")),
        env=environment(project, service),
        cmd=list(service["command"]) if service.get("command") is not None else None,
        working_dir=str(service.get("working_dir") or ""),
        entrypoint=list(service["entrypoint"]) if service.get("entrypoint") is not None else None,
        labels=labels,
        stop_signal=str(service.get("stop_signal") or ""),
        stop_timeout=_seconds(service["stop_grace_period"]) if service.get("stop_grace_period") else None,
        exposed_ports=exposed,
        healthcheck=health_config(hc) if hc else None,
    )
    limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    host = HostConfig(
        port_bindings=bindings,
        restart_policy=restart_policy(str(service["restart"])) if service.get("restart") else RestartPolicy(),
        mounts=mounts(project, service),
        readonly_rootfs=bool(service.get("read_only")),
        cap_add=list(service.get("cap_add") or []),
        cap_drop=list(service.get("cap_drop") or []),
        privileged=bool(service.get("privileged")),
        init=bool(service.get("init")),
        extra_hosts=list(service.get("extra_hosts") or []),
        ulimits=[
            Ulimit(name=k, soft=int(v["soft"]), hard=int(v["hard"]))
            for k, v in (service.get("ulimits") or {}).items()
        ],
    )
    if limits.get("cpus"):
        host.nano_cpus = int(float(limits["cpus"]) * 1e9)
    if limits.get("memory"):
        from core.interface import parse_bytes

        host.memory = parse_bytes(str(limits["memory"]))
    if limits.get("pids"):
        host.pids_limit = int(limits["pids"])
    networking = NetworkingConfig()
    if service.get("network_mode"):
        host.network_mode = _network_mode(project, service)
    else:
        keys = sorted_networks(service) or ["default"]
        nets = service.get("networks") or {}
        for key in keys:
            cfg = nets.get(key) or {}
            aliases = [cname]
            if use_aliases:
                aliases += [name, *[a for a in cfg.get("aliases") or [] if a not in (name, cname)]]
            ipv4 = cfg.get("ipv4_address") or ""
            networking.endpoints_config[network_name(project, key)] = EndpointSettings(
                ipam_config=EndpointIPAMConfig(ipv4_address=ipv4) if ipv4 else None, aliases=aliases
            )
        host.network_mode = network_name(project, keys[0])
    return ContainerCreate(config=config, host_config=host, networking_config=networking, name=cname)
