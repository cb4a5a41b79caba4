"""Engine dataclasses -> table rows (plain strings): the columns each pane shows. No Textual here.

The texts come from tui.output, which the command line prints with too, so both faces say "Up 3 minutes"
or "Exited (137) 2 seconds ago" for the same container.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.models import RUNNING_STATES, ContainerStats, ContainerSummary, ImageSummary
from tui.output import human_size, ports_text, status_text, time_ago

CONTAINER_COLUMNS = ("NAME", "IMAGE", "STATUS", "CPU %", "MEM", "PORTS", "CREATED", "IP")
# which of them a narrow terminal keeps, most important first: the rest show as the width allows
# (the STATUS cell says the state and the health check: "Up 3 minutes (healthy)")
CONTAINER_PRIORITY = ("NAME", "STATUS", "IMAGE", "PORTS", "CPU %", "MEM", "IP", "CREATED")
IMAGE_COLUMNS = ("REPOSITORY:TAG", "ID", "SIZE", "CREATED", "IN USE")
NETWORK_COLUMNS = ("NAME", "DRIVER", "SUBNET", "CONTAINERS")
VOLUME_COLUMNS = ("NAME", "DRIVER", "SIZE", "USED BY")


@dataclass(frozen=True)
class Row:
    key: str  # stable identity (container id, image id, network or volume name)
    name: str  # what "copy name" copies and confirmations name
    cells: tuple[str, ...]
    style: str = ""  # a status class for colouring: running, paused, exited, dead, created
    health: str = ""  # a container's health check: starting | healthy | unhealthy, "" for none
    # what sorting by each column compares (numbers for CPU and memory, times for CREATED); () sorts by
    # the cells' text
    order: tuple[Any, ...] = ()

    def sort_value(self, column: int) -> Any:
        if column < len(self.order):
            return self.order[column]
        return self.cells[column].lower() if column < len(self.cells) else ""


# a state's rank when sorting by STATUS: running first, then the ones that will be again, then the stopped
STATE_RANK = {"running": 0, "restarting": 1, "paused": 2, "created": 3, "exited": 4, "dead": 5}


def short_image(image: str) -> str:
    """An image named with a registry on this machine or a port (``127.0.0.1:38763/busybox:latest``) loses
    the registry: ``…/busybox:latest`` (the detail panel shows the whole name). Docker Hub's names and
    other registries' (``ghcr.io/org/app``) stay whole, since their host says something."""
    host, sep, rest = image.partition("/")
    if not sep or not rest:
        return image
    bare = host.rsplit(":", 1)[0].strip("[]") if ":" in host else host
    local = bare == "localhost" or bare.replace(".", "").isdigit() or ":" in bare or ":" in host
    return f"…/{rest}" if local else image


def ip_text(c: ContainerSummary) -> str:
    """The container's addresses, one per network it is on ("10.199.0.5"; "10.199.0.5, 10.200.1.3")."""
    return ", ".join(ip for _, ip in sorted(c.ip_addresses.items()) if ip)


def _ip_order(text: str) -> tuple[int, ...]:
    first = text.split(",")[0].strip()
    parts = first.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return tuple(int(p) for p in parts)
    return (1 << 9,) if not first else (1 << 8,)


def container_row(c: ContainerSummary, stats: ContainerStats | None = None) -> Row:
    from tui.output import parse_time

    running = c.status in RUNNING_STATES
    if stats is not None and running:
        cpu = f"{stats.cpu_percent:.1f}"
        mem = human_size(stats.memory_usage)
        cpu_n, mem_n = stats.cpu_percent, float(stats.memory_usage)
    else:
        cpu = mem = "-" if not running else "…"
        cpu_n = mem_n = -1.0
    created = parse_time(c.created)
    ips = ip_text(c)
    cells = (c.name, short_image(c.image), status_text(c), cpu, mem, ports_text(c), time_ago(c.created), ips)
    order = (
        c.name.lower(),
        c.image.lower(),
        (STATE_RANK.get(c.status, 9), c.health != "unhealthy"),
        cpu_n,
        mem_n,
        ports_text(c),
        # newest first is what "CREATED" ascending means in docker ps: the most recent on top
        -created.timestamp() if created else 0.0,
        _ip_order(ips),
    )
    return Row(c.id, c.name, cells, c.status, c.health if c.status == "running" else "", order)


# ------------------------------------------------------------------ compose projects

# docker compose v2's labels: the project, its service, the replica number, where its files were
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_NUMBER = "com.docker.compose.container-number"
COMPOSE_ONEOFF = "com.docker.compose.oneoff"
COMPOSE_WORKING_DIR = "com.docker.compose.project.working_dir"
COMPOSE_CONFIG_FILES = "com.docker.compose.project.config_files"
COMPOSE_ENV_FILES = "com.docker.compose.project.environment_file"
PROJECT_KEY = "project:"  # a project row's key: never a container id (64 hex digits)
# a project row's style (never a container's status: prune and stop look for those)
PROJECT_STYLES = ("project-up", "project-partial", "project-down", "project-unhealthy")


@dataclass(frozen=True)
class Project:
    """The containers of one compose project, as its labels say (``docker compose ls`` groups the same
    way): no compose file is read to show it."""

    name: str
    containers: tuple[ContainerSummary, ...]  # by service, then replica number

    @property
    def key(self) -> str:
        return PROJECT_KEY + self.name

    def label(self, name: str) -> str:
        """A project label (working dir, config files) as the newest container carries it."""
        for c in sorted(self.containers, key=lambda c: c.created, reverse=True):
            if c.labels.get(name):
                return c.labels[name]
        return ""

    @property
    def working_dir(self) -> str:
        return self.label(COMPOSE_WORKING_DIR)

    @property
    def config_files(self) -> list[str]:
        return [f for f in self.label(COMPOSE_CONFIG_FILES).split(",") if f]

    @property
    def env_files(self) -> list[str]:
        return [f for f in self.label(COMPOSE_ENV_FILES).split(",") if f]

    @property
    def services(self) -> list[str]:
        return sorted({service_of(c) for c in self.containers})


def service_of(c: ContainerSummary) -> str:
    return c.labels.get(COMPOSE_SERVICE, "") or c.name


def replica_name(c: ContainerSummary) -> str:
    """What ``docker compose logs`` prefixes a line with: the container's name without its project
    ("web-1"), or the name when it does not start with it (``container_name:``)."""
    project = c.labels.get(COMPOSE_PROJECT, "")
    if project and c.name.startswith(project + "-"):
        return c.name[len(project) + 1 :]
    return c.name


def _number(c: ContainerSummary) -> int:
    try:
        return int(c.labels.get(COMPOSE_NUMBER, "0"))
    except ValueError:
        return 0


def compose_projects(
    containers: Sequence[ContainerSummary],
) -> tuple[list[Project], list[ContainerSummary]]:
    """Split a container list into compose projects (by name) and the containers of no project (in their
    order)."""
    groups: dict[str, list[ContainerSummary]] = {}
    rest = []
    for c in containers:
        project = c.labels.get(COMPOSE_PROJECT, "")
        if project:
            groups.setdefault(project, []).append(c)
        else:
            rest.append(c)
    projects = [
        Project(name, tuple(sorted(members, key=lambda c: (service_of(c), _number(c), c.name))))
        for name, members in sorted(groups.items())
    ]
    return projects, rest


def project_summary(p: Project) -> str:
    """The project's state in a few words: "3/3 running", "2/3 running, 1 unhealthy", "0/2 running"."""
    running = sum(1 for c in p.containers if c.status == "running")
    text = f"{running}/{len(p.containers)} running"
    for word, n in (
        ("paused", sum(1 for c in p.containers if c.status == "paused")),
        ("unhealthy", sum(1 for c in p.containers if c.status == "running" and c.health == "unhealthy")),
        ("starting", sum(1 for c in p.containers if c.status == "running" and c.health == "starting")),
    ):
        if n:
            text += f", {n} {word}"
    return text


def project_style(p: Project) -> str:
    running = sum(1 for c in p.containers if c.status == "running")
    if any(c.status == "running" and c.health == "unhealthy" for c in p.containers):
        return "project-unhealthy"
    if running == len(p.containers):
        return "project-up"
    return "project-partial" if running else "project-down"


def project_row(
    p: Project, stats: Mapping[str, ContainerStats], *, collapsed: bool = False, busy: str = ""
) -> Row:
    """The project's own row above its containers: "▾ shop", its services, its state (or, while an action
    runs on it, the action's latest progress line), the CPU and memory of its containers together."""
    samples = [stats[c.id] for c in p.containers if c.id in stats and c.status in RUNNING_STATES]
    running = any(c.status in RUNNING_STATES for c in p.containers)
    if samples:
        cpu, mem = (
            f"{sum(s.cpu_percent for s in samples):.1f}",
            human_size(sum(s.memory_usage for s in samples)),
        )
    else:
        cpu = mem = "…" if running else "-"
    n = len(p.services)
    from tui.output import parse_time

    oldest = parse_time(min(c.created for c in p.containers))
    ranks = [STATE_RANK.get(c.status, 9) for c in p.containers]
    order = (
        p.name.lower(),
        f"{n:04d}",
        (min(ranks), not any(c.health == "unhealthy" for c in p.containers)),
        sum(s.cpu_percent for s in samples) if samples else -1.0,
        float(sum(s.memory_usage for s in samples)) if samples else -1.0,
        "",
        -oldest.timestamp() if oldest else 0.0,
        (1 << 9,),
    )
    return Row(
        p.key,
        p.name,
        (
            ("▸ " if collapsed else "▾ ") + p.name,
            f"{n} service{'' if n == 1 else 's'}",
            busy or project_summary(p),
            cpu,
            mem,
            "",
            time_ago(min(c.created for c in p.containers)),
            "",
        ),
        project_style(p),
        order=order,
    )


def member_row(c: ContainerSummary, stats: ContainerStats | None, *, last: bool) -> Row:
    """A container of a project, drawn under the project's row by its name in the project ("web-1", as
    ``docker compose logs`` names it): the project's name above it says the rest, in fewer columns."""
    row = container_row(c, stats)
    name = ("└ " if last else "├ ") + replica_name(c)
    return Row(row.key, row.name, (name, *row.cells[1:]), row.style, row.health, row.order)


def image_row(img: ImageSummary) -> list[Row]:
    """One row per tag, like ``docker images``; an untagged image is ``<none>:<none>``."""
    tags = img.repo_tags or ["<none>:<none>"]
    in_use = "-" if img.containers < 0 else (str(img.containers) if img.containers else "")
    out = []
    for tag in tags:
        key = f"{img.id}|{tag}"
        out.append(
            Row(
                key,
                tag if tag != "<none>:<none>" else img.short_id,
                (tag, img.short_id, human_size(img.size), time_ago(img.created), in_use),
                "running" if img.containers > 0 else "",
            )
        )
    return out


def volume_row(vol: Any, users: Mapping[str, Sequence[str]], size: int | None = None) -> Row:
    who = list(users.get(vol.name, []))
    shown = ", ".join(who[:3]) + (f" +{len(who) - 3}" if len(who) > 3 else "")
    return Row(
        vol.name,
        vol.name,
        (vol.name, getattr(vol, "driver", "local"), human_size(size) if size is not None else "", shown),
        "running" if who else "",
    )


def network_row(net: Any) -> Row:
    """A network as the network helper's Engine methods describe it (duck-typed: name, driver, subnet,
    containers); missing fields show empty rather than fail."""
    name = str(getattr(net, "name", ""))
    subnets = getattr(net, "subnets", None)
    subnet = ", ".join(subnets) if subnets else str(getattr(net, "subnet", "") or "")
    members = getattr(net, "containers", [])
    if isinstance(members, int):
        shown, count = str(members) if members else "", members
    else:
        names = [str(m) for m in members or []]
        shown = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
        count = len(names)
    return Row(
        str(getattr(net, "id", "") or name),
        name,
        (name, str(getattr(net, "driver", "") or ""), subnet, shown),
        "running" if count else "",
    )


def image_ref(row_key: str) -> tuple[str, str]:
    """An image row key -> (image id, tag or "")."""
    image_id, _, tag = row_key.partition("|")
    return image_id, "" if tag == "<none>:<none>" else tag


_FILTER_TERM = re.compile(r"^[a-z][a-z-]*=\S*$")


def engine_filters(text: str) -> dict[str, list[str]] | None:
    """The ``/`` filter as docker's ``-f`` filters when every word is ``key=value`` (``status=exited
    label=app=web``): the engine applies them, as ``ps -f`` does; None for plain text (a substring)."""
    words = text.split()
    if not words or not all(_FILTER_TERM.match(w) for w in words):
        return None
    out: dict[str, list[str]] = {}
    for word in words:
        key, _, value = word.partition("=")
        out.setdefault(key, []).append(value)
    return out


def matches(row: Row, needle: str) -> bool:
    """The ``/`` filter: a case-insensitive substring of any cell (or the full key, for ids)."""
    if not needle:
        return True
    n = needle.lower()
    return n in row.key.lower() or n in row.name.lower() or any(n in cell.lower() for cell in row.cells)
