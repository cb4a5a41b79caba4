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

CONTAINER_COLUMNS = ("NAME", "IMAGE", "STATUS", "CPU %", "MEM", "PORTS", "CREATED")
IMAGE_COLUMNS = ("REPOSITORY:TAG", "ID", "SIZE", "CREATED", "IN USE")
NETWORK_COLUMNS = ("NAME", "DRIVER", "SUBNET", "CONTAINERS")
VOLUME_COLUMNS = ("NAME", "DRIVER", "SIZE", "USED BY")


@dataclass(frozen=True)
class Row:
    key: str  # stable identity (container id, image id, network or volume name)
    name: str  # what "copy name" copies and confirmations name
    cells: tuple[str, ...]
    style: str = ""  # a status class for colouring: running, paused, exited, dead, created


def container_row(c: ContainerSummary, stats: ContainerStats | None = None) -> Row:
    running = c.status in RUNNING_STATES
    if stats is not None and running:
        cpu = f"{stats.cpu_percent:.1f}"
        mem = human_size(stats.memory_usage)
    else:
        cpu = mem = "-" if not running else "…"
    return Row(
        c.id,
        c.name,
        (c.name, c.image, status_text(c), cpu, mem, ports_text(c), time_ago(c.created)),
        c.status,
    )


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
    return n in row.key.lower() or any(n in cell.lower() for cell in row.cells)
