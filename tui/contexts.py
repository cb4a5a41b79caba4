"""docker's formatter contexts for ``--format``: per command, the fields a row exposes, the table titles
(docker's SubHeaderContext) and the default table format — taken from the docker CLI (v28,
cli/command/formatter and the per-command formatter.go files).

A row is a tui.gotemplate.GoObject: a template calls its methods (``.ID``, ``.Label "k"``), and
``{{json .}}`` marshals every method without arguments, as docker's MarshalJSON does."""

from __future__ import annotations

from tui.gotemplate import GoNil, GoObject, go_quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from core.models import ContainerSummary

CONTAINER_HEADER = {
    "ID": "CONTAINER ID",
    "Names": "NAMES",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "LocalVolumes": "LOCAL VOLUMES",
    "Networks": "NETWORKS",
    "Platform": "PLATFORM",
}
CONTAINER_TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)

CONTAINER_RAW = """container_id: {{.ID}}
image: {{.Image}}
command: {{.Command}}
created_at: {{.CreatedAt}}
state: {{- pad .State 1 0}}
status: {{- pad .Status 1 0}}
names: {{.Names}}
labels: {{- pad .Labels 1 0}}
ports: {{- pad .Ports 1 0}}
"""

IMAGE_HEADER = {
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Containers": "CONTAINERS",
    "VirtualSize": "SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
}
IMAGE_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t" + (
    "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)
IMAGE_TABLE_DIGEST = (
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t"
    "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)

IMAGE_RAW = """repository: {{ .Repository }}
tag: {{.Tag}}
image_id: {{.ID}}
created_at: {{.CreatedAt}}
virtual_size: {{.Size}}
"""
IMAGE_RAW_DIGEST = """repository: {{ .Repository }}
tag: {{.Tag}}
digest: {{.Digest}}
image_id: {{.ID}}
created_at: {{.CreatedAt}}
virtual_size: {{.Size}}
"""

NETWORK_HEADER = {
    "ID": "NETWORK ID",
    "Name": "NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "IPv4": "IPV4",
    "IPv6": "IPV6",
    "Internal": "INTERNAL",
    "Labels": "LABELS",
    "CreatedAt": "CREATED AT",
}
NETWORK_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

VOLUME_HEADER = {
    "ID": "ID",
    "Name": "VOLUME NAME",
    "Group": "GROUP",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "Availability": "AVAILABILITY",
    "Mountpoint": "MOUNTPOINT",
    "Labels": "LABELS",
    "Links": "LINKS",
    "Size": "SIZE",
    "Status": "STATUS",
}
VOLUME_TABLE = "table {{.Driver}}\t{{.Name}}"

STATS_HEADER = {
    "Container": "CONTAINER",
    "Name": "NAME",
    "ID": "CONTAINER ID",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}
STATS_TABLE = (
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
)

HISTORY_HEADER = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}
HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

DISK_USAGE_HEADER = {
    "Type": "TYPE",
    "TotalCount": "TOTAL",
    "Active": "ACTIVE",
    "Size": "SIZE",
    "Reclaimable": "RECLAIMABLE",
}
DISK_USAGE_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"


def go_time(value: str, fraction: bool = False) -> str:
    """Go's time.Time.String() in the local zone: ``2026-12-03 13:37:06 +0000 UTC`` for a time in seconds
    (docker's lists), with ``fraction`` the RFC 3339 value's fraction of a second too (trailing zeros
    dropped: ``13:31:36.350591111``)."""
    import re
    from datetime import datetime

    from tui.output import parse_time

    dt = parse_time(value)
    if dt is None:
        return "0001-01-01 00:00:00 +0000 UTC"
    local = datetime.fromtimestamp(int(dt.timestamp())).astimezone()
    frac = ""
    if fraction:
        m = re.search(r"T\d\d:\d\d:\d\d\.(\d+)", value)
        if m and m.group(1).rstrip("0"):
            frac = "." + m.group(1).rstrip("0")
    return local.strftime("%Y-%m-%d %H:%M:%S") + frac + local.strftime(" %z ") + (local.tzname() or "")


def ellipsis(s: str, width: int) -> str:
    """docker's formatter.Ellipsis for text of one-column characters."""
    if len(s) <= width:
        return s
    return s[: width - 1] + "…"


class ContainerContext(GoObject):
    """docker's formatter.ContainerContext over a container summary. Mounts, Networks and LocalVolumes read
    the container's inspect document (``inspect``) the first time a template asks; Size the document with
    its sizes (``inspect(id, size=True)``: it walks the container's files, so only when asked)."""

    go_type = "*formatter.ContainerContext"

    def __init__(
        self,
        c: ContainerSummary | None,
        trunc: bool = True,
        inspect: Callable[..., dict[str, Any]] | None = None,
        sizes: bool = True,
    ) -> None:
        self.c = c
        self.trunc = trunc
        self._inspect = inspect
        self._doc: dict[str, Any] | None = None
        # sizes=False: the listing asked for none (docker's `--format json` without -s: "0B")
        self._sized: dict[str, Any] | None = None if sizes else {}
        self.fields_used: set[str] = set()

    def _document(self) -> dict[str, Any]:
        if self._doc is None:
            self._doc = {}
            if self.c is not None and self._inspect is not None:
                try:
                    self._doc = self._inspect(self.c.id)
                except Exception:  # gone meanwhile: docker's list had no data either
                    self._doc = {}
        return self._doc

    def ID(self) -> str:
        if self.c is None:
            return ""
        return self.c.id[:12] if self.trunc else self.c.id

    def Names(self) -> str:
        return self.c.name if self.c else ""

    def Image(self) -> str:
        if self.c is None or not self.c.image:
            return "<no image>"
        image = self.c.image
        if self.trunc and self.c.image_id.removeprefix("sha256:")[:12] == image.removeprefix("sha256:")[:12]:
            return image.removeprefix("sha256:")[:12]  # named by its id: the short id, as docker's
        for prefix in ("docker.io/library/", "docker.io/"):
            if image.startswith(prefix):
                return image[len(prefix) :]
        return image

    def Command(self) -> str:
        command = self.c.command if self.c else ""
        if self.trunc:
            command = ellipsis(command, 20)
        return go_quote(command)

    def CreatedAt(self) -> str:
        return go_time(self.c.created) if self.c else go_time("1970-01-01T00:00:00Z")

    def RunningFor(self) -> str:
        from tui.output import time_ago

        return time_ago(self.c.created) if self.c else ""

    def Platform(self) -> Any:
        return GoNil("ptr")

    def Ports(self) -> str:
        from tui.output import ports_text

        return ports_text(self.c) if self.c else ""

    def State(self) -> str:
        return self.c.status if self.c else ""

    def Status(self) -> str:
        from tui.output import status_text

        return status_text(self.c) if self.c else ""

    def Size(self) -> str:
        from tui.output import human_size

        self.fields_used.add("Size")
        if self._sized is None:  # docker lists sizes only when asked (-s or a template with .Size)
            self._sized = {}
            if self.c is not None and self._inspect is not None:
                try:
                    self._sized = self._inspect(self.c.id, size=True)
                except Exception:  # gone meanwhile
                    self._sized = {}
        doc = self._sized
        rw = int(doc.get("SizeRw") or 0)
        root = int(doc.get("SizeRootFs") or 0)
        text = human_size(rw)
        if root > 0:
            text += f" (virtual {human_size(root)})"
        return text

    def Labels(self) -> str:
        if self.c is None:
            return ""
        return ",".join(sorted(f"{k}={v}" for k, v in self.c.labels.items()))

    def Label(self, name: str) -> str:
        if self.c is None:
            return ""
        return self.c.labels.get(name, "")

    def Mounts(self) -> str:
        names = []
        for m in self._document().get("Mounts") or []:
            name = m.get("Name") or m.get("Source", "")
            names.append(ellipsis(name, 15) if self.trunc else name)
        return ",".join(names)

    def LocalVolumes(self) -> str:
        return str(sum(1 for m in self._document().get("Mounts") or [] if m.get("Driver") == "local"))

    def Networks(self) -> str:
        nets = (self._document().get("NetworkSettings") or {}).get("Networks") or {}
        return ",".join(sorted(nets))
