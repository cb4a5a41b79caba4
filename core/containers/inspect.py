"""``docker inspect`` for a container: the same keys docker prints, from our records."""

from __future__ import annotations

from typing import Any

from core.config import Paths
from core.containers.store import ContainerRecord
from core.models import RUNNING_STATES

_ZERO_TIME = "0001-01-01T00:00:00Z"


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
    for m in run.get("mounts", []):
        entry = {
            "Type": m["type"],
            "Destination": m["target"],
            "Mode": "",
            "RW": not m.get("read_only"),
            "Propagation": (m.get("options") or {}).get("propagation", "rprivate")
            if m["type"] == "bind"
            else "",
        }
        if m["type"] == "volume":
            entry.update(
                {"Name": m["source"], "Source": str(paths.volumes / m["source"] / "_data"), "Driver": "local"}
            )
        elif m["type"] == "bind":
            entry["Source"] = m["source"]
        mounts.append(entry)
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
        "HostConfig": {
            "Binds": [
                f"{m['source']}:{m['target']}{':ro' if m.get('read_only') else ''}"
                for m in run.get("mounts", [])
                if m["type"] == "bind"
            ],
            "NetworkMode": run.get("network", "default"),
            "PortBindings": {
                f"{p['container_port']}/{p['protocol']}": [
                    {"HostIp": p["host_ip"], "HostPort": str(p["host_port"] or "")}
                ]
                for p in run.get("ports", [])
            },
            "RestartPolicy": {
                "Name": (run.get("restart") or "no").split(":")[0],
                "MaximumRetryCount": int((run.get("restart") or "no:0").partition(":")[2] or 0),
            },
            "AutoRemove": bool(run.get("auto_remove")),
            "CapAdd": run.get("cap_add") or None,
            "CapDrop": run.get("cap_drop") or None,
            "Privileged": bool(run.get("privileged")),
            "ReadonlyRootfs": bool(run.get("read_only")),
            "SecurityOpt": run.get("security_opt") or None,
            "Memory": run.get("memory") or 0,
            "MemorySwap": run.get("memory_swap") or 0,
            "NanoCpus": int((run.get("cpus") or 0) * 1e9),
            "PidsLimit": run.get("pids_limit"),
            "ShmSize": run.get("shm_size") or 64 * 1024 * 1024,
            "Init": bool(run.get("init")),
            "Ulimits": [
                {"Name": k, "Soft": v[0], "Hard": v[1]} for k, v in (run.get("ulimits") or {}).items()
            ],
            "Tmpfs": {
                m["target"]: ",".join(f"{k}={v}" for k, v in (m.get("options") or {}).items())
                for m in run.get("mounts", [])
                if m["type"] == "tmpfs"
            },
            "LogConfig": {"Type": "json-file", "Config": run.get("log_opts") or {}},
        },
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "UpperDir": str(cdir / "upper"),
                "WorkDir": str(cdir / "work"),
                "MergedDir": str(cdir / "rootfs"),
            },
        },
        "Mounts": mounts,
        "Config": {
            "Hostname": proc.get("hostname", ""),
            "User": proc.get("user", ""),
            "Tty": bool(proc.get("tty")),
            "OpenStdin": bool(proc.get("stdin")),
            "AttachStdin": bool(proc.get("stdin")),
            "AttachStdout": not run.get("detach"),
            "AttachStderr": not run.get("detach"),
            "Env": proc.get("env", []),
            "Cmd": run.get("command"),
            "Image": rec.image,
            "WorkingDir": proc.get("cwd", ""),
            "Entrypoint": run.get("entrypoint"),
            "Labels": proc.get("labels", {}),
            "StopSignal": proc.get("stop_signal", "SIGTERM"),
            "StopTimeout": proc.get("stop_timeout", 10),
            "ExposedPorts": {p: {} for p in proc.get("exposed_ports", [])},
        },
        "NetworkSettings": {
            "Ports": ports,
            "SandboxKey": net.get("netns", ""),
            "IPAddress": net.get("ip", ""),
            "Gateway": net.get("gateway", ""),
            "MacAddress": net.get("mac", ""),
            "Networks": net.get("networks", {}),
        },
    }
