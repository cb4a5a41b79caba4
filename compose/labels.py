"""The labels docker compose v2 puts on what it makes (pkg/api/labels.go), and the filters that find a
project's objects by them: other tools (docker compose itself, Portainer, the workbench) group containers,
networks and volumes the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
CONFIG_HASH = "com.docker.compose.config-hash"
CONTAINER_NUMBER = "com.docker.compose.container-number"
VOLUME = "com.docker.compose.volume"
NETWORK = "com.docker.compose.network"
WORKING_DIR = "com.docker.compose.project.working_dir"
CONFIG_FILES = "com.docker.compose.project.config_files"
ENVIRONMENT_FILE = "com.docker.compose.project.environment_file"
ONEOFF = "com.docker.compose.oneoff"
SLUG = "com.docker.compose.slug"
IMAGE = "com.docker.compose.image"
DEPENDS_ON = "com.docker.compose.depends_on"
VERSION = "com.docker.compose.version"
REPLACE = "com.docker.compose.replace"

# the compose version dockyard's labels claim: the v2 release whose behaviour it follows
COMPOSE_VERSION = "2.29.7"


def project_filter(
    project: str, *, oneoff: bool | None = False, services: list[str] | None = None
) -> dict[str, list[str]]:
    """``docker ps`` filters for a project's containers: one service's (only one may be given: a filter's
    values for one key must all hold), service containers (``oneoff`` False), one-offs (True) or both
    (None)."""
    labels = [f"{PROJECT}={project}"]
    if oneoff is not None:
        labels.append(f"{ONEOFF}={'True' if oneoff else 'False'}")
    if services and len(services) == 1:
        labels.append(f"{SERVICE}={services[0]}")
    return {"label": labels}


def depends_on_label(service: Mapping[str, Any]) -> str:
    """compose's ``svc:condition:restart`` entries, comma-joined (Go's %t: true/false)."""
    entries = []
    for dep, cfg in (service.get("depends_on") or {}).items():
        cfg = cfg or {}
        restart = "true" if cfg.get("restart") else "false"
        entries.append(f"{dep}:{cfg.get('condition') or 'service_started'}:{restart}")
    return ",".join(entries)


def parse_depends_on_label(text: str) -> dict[str, tuple[str, bool]]:
    """:func:`depends_on_label` read back: service -> (condition, restart)."""
    out: dict[str, tuple[str, bool]] = {}
    for entry in filter(None, text.split(",")):
        name, _, rest = entry.partition(":")
        condition, _, restart = rest.partition(":")
        out[name] = (condition or "service_started", restart == "true")
    return out


def container_number(labels: Mapping[str, str]) -> int:
    try:
        return int(labels.get(CONTAINER_NUMBER, "0"))
    except ValueError:
        return 0


def is_oneoff(labels: Mapping[str, str]) -> bool:
    return labels.get(ONEOFF) == "True"
