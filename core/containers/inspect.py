"""``docker inspect`` for a container: the same keys docker prints, from our records."""

from __future__ import annotations

from typing import Any

from core.config import Paths
from core.containers.health import document as health_document
from core.containers.store import ContainerRecord
from core.dockerjson import config_to_docker, health_config_from_docker, inspect_host_config
from core.models import RUNNING_STATES, ContainerConfig, HealthConfig

_ZERO_TIME = "0001-01-01T00:00:00Z"


def health_config(hc: dict[str, Any] | None) -> HealthConfig | None:
    return health_config_from_docker(hc) if hc is not None else None


def inspect_container(paths: Paths, rec: ContainerRecord) -> dict[str, Any]:
    st = rec.state
    run = rec.run
    proc = rec.process
    cdir = paths.container(rec.id)
    args = list(proc.get("args", []))
    ports: dict[str, Any] = {}
    running = st.status in RUNNING_STATES
    for p in st.ports if running else []:  # networks: ports and addresses exist while it runs
        key = f"{p.get('container_port')}/{p.get('protocol', 'tcp')}"
        ports.setdefault(key, []).append(
            {"HostIp": p.get("host_ip", "0.0.0.0"), "HostPort": str(p.get("host_port"))}
        )
    mounts = []
    for m in run.host_config.mounts:
        entry: dict[str, Any] = {
            "Type": m.type,
            "Destination": m.target,
            "Mode": "",
            "RW": not m.read_only,
            "Propagation": ((m.bind_options.propagation if m.bind_options else "") or "rprivate")
            if m.type == "bind"
            else "",
        }
        if m.type == "volume":
            entry.update(
                {"Name": m.source, "Source": str(paths.volumes / m.source / "_data"), "Driver": "local"}
            )
        elif m.type == "bind":
            entry["Source"] = m.source
        mounts.append(entry)
    # the Config section is the container's: the request merged with its image (as resolved at create)
    config = ContainerConfig(
        image=rec.image,
        hostname=proc.get("hostname", ""),
        user=proc.get("user", ""),
        tty=bool(proc.get("tty")),
        open_stdin=bool(proc.get("stdin")),
        attach_stdin=run.config.attach_stdin,
        attach_stdout=run.config.attach_stdout,
        attach_stderr=run.config.attach_stderr,
        env=proc.get("env", []),
        cmd=run.config.cmd,
        working_dir=proc.get("cwd", ""),
        entrypoint=run.config.entrypoint,
        labels=proc.get("labels", {}),
        stop_signal=proc.get("stop_signal", "SIGTERM"),
        stop_timeout=proc.get("stop_timeout", 10),
        exposed_ports=proc.get("exposed_ports", []),
        healthcheck=health_config(proc.get("healthcheck")),
    )
    net = (st.network or {}) if running else {}
    return {
        "Id": rec.id,
        "Created": rec.created,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": {
            "Status": st.status,
            "Running": st.status in RUNNING_STATES,
            "Paused": st.status == "paused",
            "Restarting": st.status == "restarting",
            "OOMKilled": st.oom_killed,
            "Dead": st.status == "dead",
            "Pid": st.pid,
            "ExitCode": st.exit_code,
            "Error": st.error,
            "StartedAt": st.started_at or _ZERO_TIME,
            "FinishedAt": st.finished_at or _ZERO_TIME,
            **({"Health": health_document(st.health)} if st.health is not None else {}),
        },
        "Image": rec.image_id,
        "ResolvConfPath": str(cdir / "resolv.conf"),
        "HostnamePath": str(cdir / "hostname"),
        "HostsPath": str(cdir / "hosts"),
        "LogPath": str(cdir / f"{rec.id}-json.log"),
        "Name": "/" + rec.name,
        "RestartCount": st.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "HostConfig": inspect_host_config(run.host_config),
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "UpperDir": str(cdir / "upper"),
                "WorkDir": str(cdir / "work"),
                "MergedDir": str(cdir / "rootfs"),
            },
        },
        "Mounts": mounts,
        "Config": config_to_docker(config),
        "NetworkSettings": {
            "Ports": ports,
            "SandboxKey": net.get("netns", ""),
            "IPAddress": net.get("ip", ""),
            "Gateway": net.get("gateway", ""),
            "MacAddress": net.get("mac", ""),
            "Networks": net.get("networks", {}),
        },
    }
