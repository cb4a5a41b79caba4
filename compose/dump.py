"""``docker compose config``: the canonical model as YAML, in the order and shape compose v2 prints it.

compose-go marshals its Go structs with go-yaml (indent 2, sequences indented under their key, strings that
would read as another type in double quotes, no line wrapping): a service's keys come in the struct's field
order (``profiles`` first, then alphabetical but for ``hostname`` before ``healthcheck``), maps (services,
environment, labels, networks, volumes) sorted by key. docker compose then doubles every ``$`` so the output
can be read back as a compose file.
"""

from __future__ import annotations

import re
from typing import Any

from compose.model import Project

# compose-go's types.ServiceConfig field order, for the keys the model holds
SERVICE_ORDER = [
    "profiles", "build", "cap_add", "cap_drop", "command", "container_name", "depends_on", "deploy",
    "entrypoint", "environment", "expose", "extra_hosts", "hostname", "healthcheck", "image", "init",
    "labels", "network_mode", "networks", "ports", "privileged", "read_only", "restart", "scale",
    "stdin_open", "stop_grace_period", "stop_signal", "tmpfs", "tty", "ulimits", "user", "volumes",
    "working_dir",
]  # fmt: skip
BUILD_ORDER = ["context", "dockerfile", "args", "labels", "target"]
PORT_ORDER = ["mode", "host_ip", "target", "published", "protocol"]
VOLUME_ORDER = ["type", "source", "target", "read_only", "bind", "volume", "tmpfs"]
HEALTHCHECK_ORDER = ["test", "timeout", "interval", "retries", "start_period", "start_interval", "disable"]
DEPENDS_ORDER = ["condition", "restart", "required"]
SERVICE_NETWORK_ORDER = ["aliases", "ipv4_address"]
NETWORK_ORDER = ["name", "driver", "driver_opts", "ipam", "external", "internal", "labels"]
IPAM_POOL_ORDER = ["subnet", "gateway", "ip_range"]
VOLUME_TOP_ORDER = ["name", "driver", "driver_opts", "external", "labels"]
LIMITS_ORDER = ["cpus", "memory", "pids"]


def _ordered(mapping: dict[str, Any], order: list[str]) -> dict[str, Any]:
    rank = {k: i for i, k in enumerate(order)}
    return {k: mapping[k] for k in sorted(mapping, key=lambda k: (rank.get(k, len(order)), k))}


def _sorted(mapping: dict[str, Any] | None) -> dict[str, Any]:
    return {k: (mapping or {})[k] for k in sorted(mapping or {})}


def _service(svc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in svc.items():
        if key in ("environment", "labels"):
            value = _sorted(value)
        elif key == "build":
            value = _ordered(
                {k: _sorted(v) if k in ("args", "labels") else v for k, v in value.items()}, BUILD_ORDER
            )
        elif key == "ports":  # go-yaml's omitempty: no empty published / host_ip
            value = [_ordered({k: v for k, v in p.items() if v != ""}, PORT_ORDER) for p in value]
        elif key == "volumes":
            value = [_volume(v) for v in value]
        elif key == "healthcheck":
            value = _ordered(
                {k: v for k, v in value.items() if not (k == "disable" and v is False)}, HEALTHCHECK_ORDER
            )
        elif key == "depends_on":
            value = {
                d: _ordered(
                    {k: v for k, v in c.items() if not (k == "restart" and v is False)}, DEPENDS_ORDER
                )
                for d, c in sorted(value.items())
            }
        elif key == "networks":
            value = {n: (_ordered(c, SERVICE_NETWORK_ORDER) if c else None) for n, c in sorted(value.items())}
        elif key == "ulimits":
            value = {n: _ordered(c, ["soft", "hard"]) for n, c in sorted(value.items())}
        elif key == "deploy":
            limits = dict(((value.get("resources") or {}).get("limits")) or {})
            if "cpus" in limits:  # NanoCPUs: a number
                cpus = float(limits["cpus"])
                limits["cpus"] = int(cpus) if cpus.is_integer() else cpus
            value = {"resources": {"limits": _ordered(limits, LIMITS_ORDER)}} if limits else {}
            if not value:
                continue
        elif value is False and key in ("read_only", "privileged", "tty", "stdin_open"):
            continue  # omitempty (init is a *bool: false is printed)
        out[key] = value
    return _ordered(out, SERVICE_ORDER)


def _volume(vol: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in vol.items():
        if key == "read_only" and value is False:
            continue
        if key == "volume" and value == {"nocopy": False}:
            value = {}
        if key == "bind" and value == {"create_host_path": False}:
            continue
        if key == "tmpfs" and "size" in value:  # UnitBytes: printed as a string
            value = {**value, "size": str(value["size"])}
        out[key] = value
    return _ordered(out, VOLUME_ORDER)


def _network(net: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in net.items() if not (k in ("external", "internal") and v is False)}
    if "ipam" in out:
        ipam = dict(out["ipam"])
        if "config" in ipam:
            ipam["config"] = [_ordered(c, IPAM_POOL_ORDER) for c in ipam["config"]]
        out["ipam"] = ipam
    for key in ("labels", "driver_opts"):
        if key in out:
            out[key] = _sorted(out[key])
    return _ordered(out, NETWORK_ORDER)


def _volume_top(vol: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in vol.items() if not (k == "external" and v is False)}
    for key in ("labels", "driver_opts"):
        if key in out:
            out[key] = _sorted(out[key])
    return _ordered(out, VOLUME_TOP_ORDER)


def config_document(project: Project) -> dict[str, Any]:
    """The document ``docker compose config`` prints, as ordered plain data."""
    doc: dict[str, Any] = {
        "name": project.name,
        "services": {n: _service(s) for n, s in sorted(project.services.items())},
    }
    if project.networks:
        doc["networks"] = {k: _network(v) for k, v in sorted(project.networks.items())}
    if project.volumes:
        doc["volumes"] = {k: _volume_top(v) for k, v in sorted(project.volumes.items())}
    return doc


def _dumper() -> type:
    import yaml

    class Dumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)  # sequences indented under their key, as go-yaml does

        def choose_scalar_style(self) -> Any:
            style = super().choose_scalar_style()
            return '"' if style == "'" else style  # go-yaml quotes with double quotes

    def represent_str(dumper: Any, data: str) -> Any:
        if "\n" in data:
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", data)

    def represent_none(dumper: Any, _: None) -> Any:
        return dumper.represent_scalar("tag:yaml.org,2002:null", "null")

    # quote what the loader would read as a number (go-yaml reads 0o17 and 1e3 as numbers too)
    Dumper.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^0o[0-7]+$"), ["0"])
    Dumper.add_implicit_resolver(
        "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$"), list("-+0123456789")
    )
    Dumper.add_representer(str, represent_str)
    Dumper.add_representer(type(None), represent_none)
    return Dumper


def dump_yaml(project: Project) -> str:
    """``docker compose config``'s output for ``project`` (``$`` doubled, as compose prints it)."""
    import yaml

    text = yaml.dump(
        config_document(project),
        Dumper=_dumper(),
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=2**31 - 1,
        indent=2,
    )
    return text.replace("$", "$$")


def config_services(project: Project) -> list[str]:
    """``docker compose config --services``: each enabled service once, its dependencies before it."""
    out: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in project.services:
            return
        seen.add(name)
        for dep in sorted(project.services[name].get("depends_on") or {}):
            visit(dep)
        out.append(name)

    for name in sorted(project.services):
        visit(name)
    return out


def config_volumes(project: Project) -> list[str]:
    """``docker compose config --volumes``: the top-level volume keys."""
    return sorted(project.volumes)
