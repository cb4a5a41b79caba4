"""From a validated compose document to the canonical form of compose/model.py.

Three steps, in the order the loader runs them:

- ``check_supported``: every key the spec allows but dockyard does not implement is refused by name, with the
  file and the path (``x-*`` extension keys are dropped first: allowed anywhere, never in the model);
- ``canonical``: each file's short syntaxes become the long ones (ports, volumes, depends_on, env_file,
  environment, labels, networks, build, extends...), so files merge key by key as compose-go merges them;
- ``finalize_service``: after merging, values take their canonical types (durations as Go prints them, byte
  sizes, ulimits, ``deploy.replicas`` into ``scale``).
"""

from __future__ import annotations

import ipaddress
import math
import posixpath
import re
import shlex
from typing import Any

from compose.errors import InvalidComposeFile, InvalidProject, UnsupportedKey

NOT_SUPPORTED = "not supported by dockyard compose"

SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose", "volumes",
    "networks", "network_mode", "depends_on", "healthcheck", "restart", "user", "working_dir", "hostname",
    "container_name", "stop_signal", "stop_grace_period", "init", "read_only", "privileged", "tty",
    "stdin_open", "labels", "tmpfs", "cap_add", "cap_drop", "extra_hosts", "ulimits", "scale", "deploy",
    "profiles", "extends",
}  # fmt: skip
BUILD_KEYS = {"context", "dockerfile", "args", "target", "labels"}
DEPLOY_KEYS = {"replicas", "resources"}
RESOURCES_KEYS = {"limits"}
LIMITS_KEYS = {"cpus", "memory", "pids"}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "start_period", "start_interval", "retries", "disable"}
DEPENDS_KEYS = {"condition", "required", "restart"}
SERVICE_NETWORK_KEYS = {"aliases", "ipv4_address"}
PORT_KEYS = {"target", "published", "protocol", "host_ip", "mode"}
VOLUME_KEYS = {"type", "source", "target", "read_only", "bind", "volume", "tmpfs"}
VOLUME_TYPES = {"volume", "bind", "tmpfs"}
BIND_KEYS = {"create_host_path"}
VOLUME_VOLUME_KEYS = {"nocopy"}
TMPFS_KEYS = {"size", "mode"}
ENV_FILE_KEYS = {"path", "required"}
EXTENDS_KEYS = {"service", "file"}
TOP_KEYS = {"name", "services", "networks", "volumes", "version"}
NETWORK_KEYS = {"name", "external", "internal", "driver", "driver_opts", "labels", "ipam"}
IPAM_KEYS = {"config"}
IPAM_CONFIG_KEYS = {"subnet", "gateway", "ip_range"}
TOP_VOLUME_KEYS = {"name", "external", "driver", "driver_opts", "labels"}

# maps whose keys are the user's (names, variables, labels): an `x-` key there is data, not an extension
_USER_MAPS = {
    ("services",), ("networks",), ("volumes",),
    ("services", "*", "environment"), ("services", "*", "labels"), ("services", "*", "depends_on"),
    ("services", "*", "networks"), ("services", "*", "ulimits"), ("services", "*", "extra_hosts"),
    ("services", "*", "sysctls"), ("services", "*", "build", "args"), ("services", "*", "build", "labels"),
    ("networks", "*", "labels"), ("networks", "*", "driver_opts"), ("networks", "*", "ipam", "options"),
    ("volumes", "*", "labels"), ("volumes", "*", "driver_opts"),
}  # fmt: skip


def _matches(shape: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    return len(shape) == len(pattern) and all(p in ("*", s) for p, s in zip(pattern, shape, strict=True))


def strip_extensions(value: Any, shape: tuple[str, ...] = ()) -> Any:
    """``value`` without its ``x-*`` keys (extensions are allowed anywhere and dropped from the model)."""
    if isinstance(value, dict):
        user = any(_matches(shape, p) for p in _USER_MAPS)
        return {
            k: strip_extensions(v, (*shape, str(k)))
            for k, v in value.items()
            if user or not (isinstance(k, str) and k.startswith("x-"))
        }
    if isinstance(value, list):
        return [strip_extensions(v, (*shape, "[]")) for v in value]
    return value


# --- refusing what dockyard does not implement ---


def _refuse(filename: str, path: str, what: str = NOT_SUPPORTED) -> UnsupportedKey:
    return UnsupportedKey(f"{filename}: {path}: {what}")


def _only(filename: str, mapping: Any, allowed: set[str], path: str) -> None:
    if not isinstance(mapping, dict):
        return
    for key in mapping:
        if key not in allowed:
            raise _refuse(filename, f"{path}.{key}")


def check_supported(doc: dict[str, Any], filename: str) -> None:
    """Raise UnsupportedKey for the first key dockyard compose would not honour (``doc`` has no ``x-*``)."""
    for key in doc:
        if key not in TOP_KEYS:
            raise _refuse(filename, key)
    for name, net in (doc.get("networks") or {}).items():
        path = f"networks.{name}"
        _only(filename, net, NETWORK_KEYS, path)
        ipam = (net or {}).get("ipam")
        _only(filename, ipam, IPAM_KEYS, f"{path}.ipam")
        for i, cfg in enumerate((ipam or {}).get("config") or []):
            _only(filename, cfg, IPAM_CONFIG_KEYS, f"{path}.ipam.config.{i}")
    for name, vol in (doc.get("volumes") or {}).items():
        _only(filename, vol, TOP_VOLUME_KEYS, f"volumes.{name}")
    for name, svc in (doc.get("services") or {}).items():
        _check_service(filename, name, svc or {})


def _check_service(filename: str, name: str, svc: dict[str, Any]) -> None:
    p = f"services.{name}"
    _only(filename, svc, SERVICE_KEYS, p)
    if isinstance(svc.get("build"), dict):
        _only(filename, svc["build"], BUILD_KEYS, f"{p}.build")
    deploy = svc.get("deploy")
    if isinstance(deploy, dict):
        _only(filename, deploy, DEPLOY_KEYS, f"{p}.deploy")
        resources = deploy.get("resources")
        _only(filename, resources, RESOURCES_KEYS, f"{p}.deploy.resources")
        if isinstance(resources, dict):
            _only(filename, resources.get("limits"), LIMITS_KEYS, f"{p}.deploy.resources.limits")
    _only(filename, svc.get("healthcheck"), HEALTHCHECK_KEYS, f"{p}.healthcheck")
    if isinstance(svc.get("depends_on"), dict):
        for dep, cfg in svc["depends_on"].items():
            _only(filename, cfg, DEPENDS_KEYS, f"{p}.depends_on.{dep}")
    if isinstance(svc.get("networks"), dict):
        for net, cfg in svc["networks"].items():
            _only(filename, cfg, SERVICE_NETWORK_KEYS, f"{p}.networks.{net}")
    for i, port in enumerate(svc.get("ports") or []):
        _only(filename, port, PORT_KEYS, f"{p}.ports.{i}")
    for i, env_file in enumerate(svc.get("env_file") or [] if isinstance(svc.get("env_file"), list) else []):
        _only(filename, env_file, ENV_FILE_KEYS, f"{p}.env_file.{i}")
    _only(filename, svc.get("extends"), EXTENDS_KEYS, f"{p}.extends")
    for i, vol in enumerate(svc.get("volumes") or []):
        vp = f"{p}.volumes.{i}"
        if isinstance(vol, dict):
            _only(filename, vol, VOLUME_KEYS, vp)
            if vol.get("type") not in VOLUME_TYPES:
                raise _refuse(filename, f"{vp}.type", f"type {vol.get('type')!r} {NOT_SUPPORTED}")
            _only(filename, vol.get("bind"), BIND_KEYS, f"{vp}.bind")
            _only(filename, vol.get("volume"), VOLUME_VOLUME_KEYS, f"{vp}.volume")
            _only(filename, vol.get("tmpfs"), TMPFS_KEYS, f"{vp}.tmpfs")
        elif isinstance(vol, str):
            parsed = parse_volume(vol, f"{filename}: {vp}")
            for option in ("propagation", "selinux"):
                if option in parsed.get("bind", {}):
                    raise _refuse(filename, vp, f"bind option {parsed['bind'][option]!r} {NOT_SUPPORTED}")


# --- short syntaxes ---

_PORT_PROTOCOLS = {"tcp", "udp", "sctp"}


def _port_range(value: str, what: str, spec: str) -> tuple[int, int]:
    start, sep, end = value.partition("-")
    try:
        lo = int(start, 10)
        hi = int(end, 10) if sep else lo
    except ValueError:
        raise InvalidComposeFile(
            f"invalid {what}: {value}" if what != "containerPort" else f"invalid containerPort: {spec}"
        )
    if not (0 <= lo <= 65535 and 0 <= hi <= 65535) or hi < lo:
        raise InvalidComposeFile(f"invalid {what}: {value}")
    return lo, hi


def parse_port(spec: str) -> list[dict[str, Any]]:
    """A short port spec (``[ip:][host[-range]:]container[-range][/proto]``) as long entries, like
    compose-go's ParsePortConfig over moby's nat.ParsePortSpec."""
    raw, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in _PORT_PROTOCOLS:
        raise InvalidComposeFile(f"invalid proto: {proto}")
    # nat.splitParts: the last part is the container port, the one before the host port, the rest the ip
    parts = raw.split(":")
    container = parts[-1]
    host_port = parts[-2] if len(parts) >= 2 else ""
    host_ip = ":".join(parts[:-2])
    if host_ip.startswith("["):
        host_ip = host_ip[1:].split("]", 1)[0]
    if host_ip:
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise InvalidComposeFile(f"invalid IP address: {host_ip}")
    if not container:
        raise InvalidComposeFile(f"no port specified: {spec}<empty>")
    lo, hi = _port_range(container, "containerPort", spec)
    hlo = hhi = 0
    if host_port:
        hlo, hhi = _port_range(host_port, "hostPort", spec)
        if (hi - lo) != (hhi - hlo) and hi != lo:
            raise InvalidComposeFile(
                f"invalid ranges specified for container and host Ports: {container} and {host_port}"
            )
    count = hi - lo + 1
    out = []
    for i in range(count):
        published = ""
        if host_port:
            published = str(hlo + i)
            if count == 1 and hhi != hlo:
                published = host_port
        out.append(
            {
                "target": lo + i,
                "published": published,
                "protocol": proto,
                "host_ip": host_ip,
                "mode": "ingress",
            }
        )
    out.sort(key=lambda p: f"{p['target']}/{p['protocol']}")
    return out


_BIND_PROPAGATION = {"rprivate", "private", "rshared", "shared", "rslave", "slave"}
_SELINUX = {"z", "Z"}


def _is_file_path(source: str) -> bool:
    return bool(source) and source[0] in "./~"


def parse_volume(spec: str, where: str = "") -> dict[str, Any]:
    """A short volume spec (``[source:]target[:options]``) as a long entry, like compose-go's ParseVolume."""
    vol: dict[str, Any] = {}
    if len(spec) == 0:
        raise InvalidComposeFile(
            f"{where}: invalid empty volume spec" if where else "invalid empty volume spec"
        )
    if len(spec) <= 2:
        return {"type": "volume", "target": spec, "volume": {}}
    parts = spec.split(":")
    if any(p == "" for p in parts):
        raise InvalidComposeFile(f"{where}: invalid spec: {spec}: empty section between colons")
    if len(parts) > 3:
        raise InvalidComposeFile(f"{where}: invalid spec: {spec}: too many colons")
    if len(parts) == 1:
        vol["target"] = parts[0]
    else:
        vol["source"], vol["target"] = parts[0], parts[1]
    if len(parts) == 3:
        for option in parts[2].split(","):
            if option == "ro":
                vol["read_only"] = True
            elif option == "rw":
                vol["read_only"] = False
            elif option == "nocopy":
                vol["volume"] = {"nocopy": True}
            elif option in _BIND_PROPAGATION:
                vol.setdefault("bind", {})["propagation"] = option
            elif option in _SELINUX:
                vol.setdefault("bind", {})["selinux"] = option
    if _is_file_path(vol.get("source", "")):
        vol["type"] = "bind"
        vol.setdefault("bind", {})["create_host_path"] = True
    else:
        vol["type"] = "volume"
        vol.setdefault("volume", {})
    return vol


def _scalar_str(value: Any) -> str:
    """A YAML scalar as compose-go's fmt.Sprint prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)


def mapping_or_list(value: Any, none_value: str | None = None) -> dict[str, str | None]:
    """``environment``/``labels``/``args``: a list of ``K=V`` (or bare ``K``) or a mapping, as a mapping."""
    out: dict[str, str | None] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out[str(k)] = none_value if v is None else _scalar_str(v)
    elif isinstance(value, list):
        for item in value:
            key, sep, val = str(item).partition("=")
            out[key] = val if sep else none_value
    return out


def _extra_hosts(value: Any) -> list[str]:
    out: list[str] = []
    if isinstance(value, dict):
        for host, ip in value.items():
            for one in ip if isinstance(ip, list) else [ip]:
                out.append(f"{host}:{one}")
    else:
        for item in value or []:
            host, sep, ip = str(item).partition("=")
            out.append(f"{host}:{ip}" if sep else str(item))
    return out


def canonical_service(svc: dict[str, Any], where: str) -> dict[str, Any]:
    """One file's service with every short syntax in its long form (types are finished later)."""
    out = dict(svc)
    if isinstance(out.get("build"), str):
        out["build"] = {"context": out["build"]}
    if isinstance(out.get("build"), dict):
        build = dict(out["build"])
        if "args" in build:
            build["args"] = mapping_or_list(build["args"])
        if "labels" in build:
            build["labels"] = mapping_or_list(build["labels"], "")
        out["build"] = build
    if isinstance(out.get("extends"), str):
        out["extends"] = {"service": out["extends"]}
    if "depends_on" in out:
        deps = out["depends_on"]
        if isinstance(deps, list):
            out["depends_on"] = {d: {"condition": "service_started", "required": True} for d in deps}
        else:
            out["depends_on"] = {
                d: {"condition": "service_started", "required": True, **(cfg or {})}
                for d, cfg in deps.items()
            }
    if "env_file" in out:
        files = out["env_file"]
        files = [files] if isinstance(files, str) else files
        out["env_file"] = [
            {"path": f, "required": True} if isinstance(f, str) else {"required": True, **f} for f in files
        ]
    if "environment" in out:
        out["environment"] = mapping_or_list(out["environment"])
    if "labels" in out:
        out["labels"] = mapping_or_list(out["labels"], "")
    if "networks" in out:
        nets = out["networks"]
        if isinstance(nets, list):
            out["networks"] = {n: None for n in nets}
        else:
            out["networks"] = {k: (dict(v) if v else None) for k, v in (nets or {}).items()}
    if "ports" in out:
        ports: list[dict[str, Any]] = []
        for i, port in enumerate(out["ports"]):
            if isinstance(port, dict):
                entry = dict(port)
                if "target" not in entry:
                    raise InvalidComposeFile(f"{where}.ports.{i} is missing a target port")
                if "published" in entry:
                    entry["published"] = _scalar_str(entry["published"])
                ports.append(entry)
            else:
                try:
                    ports.extend(parse_port(_scalar_str(port)))
                except InvalidComposeFile as err:
                    raise InvalidComposeFile(f"{where}.ports.{i}: {err}")
        out["ports"] = ports
    if "expose" in out:
        out["expose"] = [_scalar_str(e) for e in out["expose"]]
    if "volumes" in out:
        vols = []
        for i, vol in enumerate(out["volumes"]):
            entry = parse_volume(vol, f"{where}.volumes.{i}") if isinstance(vol, str) else dict(vol)
            if not entry.get("target"):
                raise InvalidComposeFile(f"{where}.volumes.{i} is missing a mount target")
            entry["target"] = (
                posixpath.normpath(entry["target"]) if entry.get("target") else entry.get("target")
            )
            vols.append(entry)
        out["volumes"] = vols
    for key in ("command", "entrypoint"):
        if isinstance(out.get(key), str):
            try:
                out[key] = shlex.split(out[key])
            except ValueError as err:
                raise InvalidComposeFile(f"{where}.{key}: {err}")
        elif isinstance(out.get(key), list):
            out[key] = [_scalar_str(a) for a in out[key]]
    if isinstance(out.get("healthcheck"), dict):
        hc = dict(out["healthcheck"])
        if isinstance(hc.get("test"), str):
            hc["test"] = ["CMD-SHELL", hc["test"]]
        for key in ("interval", "timeout", "start_period", "start_interval"):
            if key in hc:
                _duration(hc[key], f"{where}.healthcheck.{key}")
        out["healthcheck"] = hc
    if "stop_grace_period" in out:
        _duration(out["stop_grace_period"], f"{where}.stop_grace_period")
    if isinstance(out.get("tmpfs"), str):
        out["tmpfs"] = [out["tmpfs"]]
    if "extra_hosts" in out:
        out["extra_hosts"] = _extra_hosts(out["extra_hosts"])
    if isinstance(out.get("ulimits"), dict):
        out["ulimits"] = {
            k: ({"soft": v, "hard": v} if isinstance(v, int) else dict(v)) for k, v in out["ulimits"].items()
        }
    return out


def canonical_top(resources: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Top-level ``networks``/``volumes``: an empty entry becomes {}, ``labels`` a mapping."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in (resources or {}).items():
        entry = dict(value or {})
        if "labels" in entry:
            entry["labels"] = mapping_or_list(entry["labels"], "")
        if isinstance(entry.get("external"), dict):  # the deprecated external.name
            ext = entry["external"]
            entry["external"] = True
            if "name" in ext:
                if "name" in entry and entry["name"] != ext["name"]:
                    raise InvalidComposeFile(f"{key}: name and external.name conflict; only use name")
                entry["name"] = ext["name"]
        if "driver_opts" in entry:
            entry["driver_opts"] = {str(k): _scalar_str(v) for k, v in entry["driver_opts"].items()}
        out[key] = entry
    return out


# --- values in their canonical types ---

_DURATION_UNITS = {
    "ns": 1,
    "us": 1000,
    "µs": 1000,
    "μs": 1000,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 24 * 3600 * 10**9,
    "w": 7 * 24 * 3600 * 10**9,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d|w)")


def parse_duration(value: Any) -> int:
    """A duration as compose reads it (str2duration: Go's units plus ``d`` and ``w``) in nanoseconds."""
    text = str(value).strip()
    if re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)", text) and float(text) != 0:
        raise ValueError(f'time: missing unit in duration "{text}"')
    sign = 1
    if text and text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if re.fullmatch(r"0+(\.0*)?", text):
        return 0
    pos = 0
    total = 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f'time: invalid duration "{value}"')
    return sign * round(total)


def format_duration(ns: int) -> str:
    """Go's time.Duration.String(): ``1m30s``, ``1.5s``, ``500ms``, ``0s``."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = abs(ns)
    if u < 10**9:
        for unit, size in (("ms", 10**6), ("µs", 10**3), ("ns", 1)):
            if u >= size or unit == "ns":
                whole, frac = divmod(u, size)
                text = str(whole) + _frac(frac, size) + unit
                break
    else:
        hours, rem = divmod(u, 3600 * 10**9)
        minutes, rem = divmod(rem, 60 * 10**9)
        secs, frac = divmod(rem, 10**9)
        text = f"{secs}{_frac(frac, 10**9)}s"
        if hours or minutes:
            text = f"{minutes}m{text}"
        if hours:
            text = f"{hours}h{text}"
    return ("-" if neg else "") + text


def _frac(frac: int, size: int) -> str:
    if not frac:
        return ""
    digits = len(str(size)) - 1
    return "." + str(frac).rjust(digits, "0").rstrip("0")


_BYTE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
}


def parse_bytes(value: Any) -> int:
    """A byte size (``512m``, ``1g``, ``1024``, ``1.5GB``) as docker's units.RAMInBytes reads it."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not m or m.group(2).lower() not in _BYTE_UNITS:
        raise ValueError(f"invalid size: {value!r}")
    return int(float(m.group(1)) * _BYTE_UNITS[m.group(2).lower()])


def finalize_service(name: str, svc: dict[str, Any], where: str) -> dict[str, Any]:
    """The merged service with every value in its canonical type (see compose/model.py)."""
    out = {k: v for k, v in svc.items() if v is not None}  # `command: null` and the like: not set
    out.pop("extends", None)
    hc = out.get("healthcheck")
    if isinstance(hc, dict):
        for key in ("interval", "timeout", "start_period", "start_interval"):
            if key in hc:
                hc[key] = _duration(hc[key], f"{where}.healthcheck.{key}")
        if hc.get("test") is not None:
            test = [_scalar_str(t) for t in hc["test"]]
            if test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
                raise InvalidProject(
                    f'{where}.healthcheck.test must start either by "CMD", "CMD-SHELL" or "NONE"'
                )
            hc["test"] = test
    if "stop_grace_period" in out:
        out["stop_grace_period"] = _duration(out["stop_grace_period"], f"{where}.stop_grace_period")
    for key in ("user", "working_dir", "hostname", "container_name", "stop_signal", "restart", "image"):
        if key in out and out[key] is not None:
            out[key] = _scalar_str(out[key])
    for i, vol in enumerate(out.get("volumes") or []):
        vol.setdefault("read_only", False)
        if vol["type"] == "bind":
            vol["bind"] = {"create_host_path": bool((vol.get("bind") or {}).get("create_host_path", False))}
        elif vol["type"] == "volume":
            vol["volume"] = {"nocopy": bool((vol.get("volume") or {}).get("nocopy", False))}
        elif vol["type"] == "tmpfs" and vol.get("tmpfs"):
            tmpfs = dict(vol["tmpfs"])
            if "size" in tmpfs:
                try:
                    tmpfs["size"] = parse_bytes(tmpfs["size"])
                except ValueError as err:
                    raise InvalidComposeFile(f"{where}.volumes.{i}.tmpfs.size: {err}")
            if "mode" in tmpfs:
                try:
                    tmpfs["mode"] = _go_uint(tmpfs["mode"])
                except ValueError as err:
                    raise InvalidComposeFile(f"{where}.volumes.{i}.tmpfs.mode: {err}")
            vol["tmpfs"] = tmpfs
    for port in out.get("ports") or []:
        port["target"] = int(port["target"])
        port["published"] = _scalar_str(port.get("published", ""))
        port.setdefault("protocol", "tcp")
        port.setdefault("host_ip", "")
        port.setdefault("mode", "ingress")
    for dep in (out.get("depends_on") or {}).values():
        dep.setdefault("restart", False)
    # deploy.replicas and scale: one key, as compose-go's checkConsistency reconciles them
    deploy = out.get("deploy")
    if isinstance(deploy, dict):
        deploy = dict(deploy)
        replicas = deploy.pop("replicas", None)
        if replicas is not None:
            if "scale" in out and out["scale"] != replicas:
                raise InvalidProject(
                    f"services.{name}: can't set distinct values on 'scale' and 'deploy.replicas'"
                )
            out["scale"] = replicas
        limits = (deploy.get("resources") or {}).get("limits")
        if isinstance(limits, dict):
            limits = dict(limits)
            if "cpus" in limits:
                limits["cpus"] = _scalar_str(limits["cpus"])
                try:
                    float(limits["cpus"])
                except ValueError:
                    raise InvalidComposeFile(
                        f'{where}.deploy.resources.limits.cpus: invalid value "{limits["cpus"]}"'
                    )
            if "memory" in limits:
                try:
                    limits["memory"] = str(parse_bytes(limits["memory"]))
                except ValueError as err:
                    raise InvalidComposeFile(f"{where}.deploy.resources.limits.memory: {err}")
            deploy["resources"] = {"limits": limits}
        elif "resources" in deploy:
            deploy.pop("resources")
        if deploy:
            out["deploy"] = deploy
        else:
            out.pop("deploy")
    if "scale" in out and out["scale"] < 0:
        raise InvalidProject(f"services.{name}.scale: must be greater than or equal to 0")
    if "expose" in out:
        out["expose"] = [_scalar_str(e) for e in out["expose"]]
    return out


def _go_uint(value: Any) -> int:
    """An integer as compose-go decodes a uint32 (strconv.ParseUint with base 0: ``0o``/``0x``/leading 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"invalid value {value!r}")
    if isinstance(value, int | float):
        return int(value)
    text = value.strip().replace("_", "")
    if text[:2].lower() in ("0o", "0x", "0b"):
        return int(text, 0)
    if len(text) > 1 and text.startswith("0"):
        return int(text, 8)
    return int(text, 10)


def _duration(value: Any, where: str) -> str:
    try:
        return format_duration(parse_duration(value))
    except ValueError as err:
        raise InvalidComposeFile(f"{where}: {err}")
