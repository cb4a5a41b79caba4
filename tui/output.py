"""Printing like docker: aligned tables, human sizes and ages, and ``--format`` (json, table, templates).

The text helpers (sizes, ages, a container's Status and Ports) are shared by both faces: the workbench's
rows (tui.widgets.rows) say "Up 3 minutes" exactly as ``dockyard ps`` does. The command line's start-up
imports this module, so nothing heavy is imported at module level (no Rich, no datetime, no typing)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any

    from core.models import ContainerSummary


_FIELD = re.compile(r"\{\{\s*(json\s+)?\.([A-Za-z_][\w.]*)?\s*\}\}")


def human_size(n: float) -> str:
    """docker's units.HumanSize: decimal units, 3 significant digits ("4.26MB", "121MB", "0B")."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000.0
        i += 1
    text = f"{n:.3g}"
    if "e" in text:
        text = f"{n:.0f}"
    return f"{text}{units[i]}"


def parse_time(value: str) -> datetime | None:
    from datetime import UTC, datetime  # not at import: `run` prints no times (~0.7 ms)

    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    # RFC 3339 with nanoseconds: Python takes at most microseconds
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", text)
    if m:
        frac = (m.group(2) or "")[:7]
        text = m.group(1) + frac + m.group(3)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """docker's units.HumanDuration ("Less than a second", "3 minutes", "2 weeks")."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = round(s / 3600)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 7 * 2:
        return f"{h // 24} days"
    if h < 24 * 30 * 2:
        return f"{h // 24 // 7} weeks"
    if h < 24 * 365 * 2:
        return f"{h // 24 // 30} months"
    return f"{h // 24 // 365} years"


def time_ago(value: str) -> str:
    from datetime import UTC, datetime

    dt = parse_time(value)
    if dt is None:
        return "N/A"
    return human_duration((datetime.now(UTC) - dt).total_seconds()) + " ago"


def status_text(c: ContainerSummary) -> str:
    """docker's Status column: "Up 5 minutes", "Exited (0) 2 minutes ago", "Created", "Up 3 s (Paused)",
    "Up 2 minutes (healthy)"."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    from core.models import RUNNING_STATES

    if c.status in RUNNING_STATES:
        started = parse_time(c.started_at)
        up = human_duration((now - started).total_seconds()) if started else "?"
        if c.status == "restarting":
            return f"Restarting ({c.exit_code or 0}) {up} ago"
        if c.status == "paused":
            return f"Up {up} (Paused)"
        if c.health:  # as docker: "(health: starting)", "(healthy)", "(unhealthy)"
            return f"Up {up} ({'health: starting' if c.health == 'starting' else c.health})"
        return f"Up {up}"
    if c.status == "exited":
        fin = parse_time(c.finished_at)
        ago = human_duration((now - fin).total_seconds()) + " ago" if fin else ""
        return f"Exited ({c.exit_code}) {ago}".rstrip()
    return c.status.capitalize()


def ports_text(c: ContainerSummary) -> str:
    """docker's Ports column: "0.0.0.0:8080->80/tcp" for a published port, "80/tcp" for an exposed one;
    consecutive ports of one kind as a range ("90-92/udp"), as the docker CLI's DisplayablePorts."""
    ports = sorted(
        c.ports,
        key=lambda p: (p.container_port, _shown_ip(p), p.host_port, p.protocol),
    )
    groups: dict[str, list[int]] = {}  # key -> [first, last], in first-seen order
    result: list[str] = []
    mappings: list[str] = []
    for p in ports:
        port = p.container_port
        key = p.protocol
        ip = _shown_ip(p)
        if ip:
            if p.host_port != port:
                host = f"[{ip}]" if ":" in ip else ip
                mappings.append(f"{host}:{p.host_port}->{port}/{p.protocol}")
                continue
            key = f"{ip}/{p.protocol}"
        group = groups.get(key)
        if group is None:
            groups[key] = [port, port]
        elif port == group[1] + 1:
            group[1] = port
        else:
            result.append(_port_group(key, *group))
            groups[key] = [port, port]
    result += [_port_group(key, *g) for key, g in groups.items()]
    return ", ".join([*result, *mappings])


def _shown_ip(p: Any) -> str:
    return (p.host_ip or "0.0.0.0") if p.host_port else ""


def _port_group(key: str, first: int, last: int) -> str:
    ip, _, proto = key.rpartition("/")
    span = str(first) if first == last else f"{first}-{last}"
    if ip:
        span = f"{ip}:{span}->{span}"
    return f"{span}/{proto}"


def print_table(headers: Sequence[str], rows: Iterable[Sequence[str]], out: Any = None) -> None:
    """docker's tabwriter look: columns padded to the widest cell plus three spaces."""
    out = out or sys.stdout
    rows = [list(map(str, r)) for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        for i, cell in enumerate(r):
            widths[i] = max(widths[i], len(cell))
    for r in [list(headers), *rows]:
        line = "   ".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:-1]))
        line = (line + "   " + r[-1]) if len(r) > 1 else r[0]
        out.write(line.rstrip() + "\n")


def render_template(template: str, obj: dict[str, Any]) -> str:
    """A small subset of Go templates, enough for docker's common uses: ``{{.Field}}``, ``{{json .}}``,
    ``{{json .Field}}``, nested ``{{.A.B}}``, and ``\\t``/``\\n`` escapes."""

    def value(path: str | None) -> Any:
        cur: Any = obj
        for part in (path or "").split(".") if path else []:
            cur = cur.get(part) if isinstance(cur, dict) else None
        return cur

    def sub(m: re.Match[str]) -> str:
        v = value(m.group(2))
        if m.group(1):
            return json.dumps(v, separators=(",", ":"))
        if v is None:
            return "<no value>"
        if isinstance(v, (dict, list)):
            return json.dumps(v)
        return str(v)

    return _FIELD.sub(sub, template.replace("\\t", "\t").replace("\\n", "\n"))


def emit(
    rows: list[dict[str, Any]], fmt: str | None, headers: Sequence[tuple[str, str]], out: Any = None
) -> None:
    """Print ``rows`` per ``--format``.

    None or "table": a table of ``headers`` (title, key); "json": one JSON object a line (docker's
    ``--format json``); "table TEMPLATE": a table from a template; anything else: a template per row."""
    out = out or sys.stdout
    if fmt is None or fmt == "table":
        print_table([h for h, _ in headers], ([str(r.get(k, "")) for _, k in headers] for r in rows), out)
        return
    if fmt == "json":
        for r in rows:
            out.write(json.dumps(r, separators=(",", ":")) + "\n")
        return
    if fmt.startswith("table "):
        tmpl = fmt[len("table ") :]
        cols = [c for c in tmpl.replace("\\t", "\t").split("\t")]
        titles = [_title(c) for c in cols]
        print_table(titles, ([render_template(c, r) for c in cols] for r in rows), out)
        return
    for r in rows:
        out.write(render_template(fmt, r) + "\n")


def _title(column_template: str) -> str:
    m = _FIELD.search(column_template)
    if not m or not m.group(2):
        return column_template.upper()
    name = m.group(2).split(".")[-1]
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).upper()


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=4) + "\n")


def print_inspected(found: Sequence[dict[str, Any]], fmt: str | None) -> None:
    """What every ``inspect`` prints: one JSON array, or each object through ``--format`` (json or a
    template)."""
    if fmt:
        for obj in found:
            print(json.dumps(obj) if fmt == "json" else render_template(fmt, obj))
    else:
        print_json(list(found))


def confirm_prune(what: str, force: bool) -> bool:
    """docker's prune question; ``-f`` or a non-terminal stdin skips it."""
    if force or not sys.stdin.isatty():
        return True
    answer = input(f"WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def for_each(names: Iterable[str], action: Any, *, missing_ok: bool = False) -> int:
    """docker's way with several names: act on each, print the name that worked, ``Error: ...`` for one
    that did not, go on; 1 if any failed. ``missing_ok`` (``rm -f``) passes over names that do not exist."""
    from core.errors import DockyardError, NotFound

    failed = 0
    for name in names:
        try:
            action(name)
        except NotFound as err:
            if not missing_ok:
                sys.stderr.write(f"Error: {err}\n")
                failed = 1
            continue
        except DockyardError as err:
            sys.stderr.write(f"Error: {err}\n")
            failed = 1
            continue
        print(name)
    return failed
