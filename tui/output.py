"""Printing like docker: aligned tables, human sizes and ages, and ``--format`` (json, table, Go templates
run by tui.gotemplate over docker's row contexts from tui.contexts).

The text helpers (sizes, ages, a container's Status and Ports) are shared by both faces: the workbench's
rows (tui.widgets.rows) say "Up 3 minutes" exactly as ``dockyard ps`` does. The command line's start-up
imports this module, so nothing heavy is imported at module level (no Rich, no datetime, no typing)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence

from core.errors import DockyardError
from core.interface import container_status_text, human_duration

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any

    from core.models import ContainerSummary


def human_size(n: float, precision: int = 3) -> str:
    """docker's units.HumanSizeWithPrecision: decimal units, 3 significant digits ("4.26MB", "121MB",
    "0B"); units.HumanSize is precision 4 ("1.986MB")."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000.0
        i += 1
    text = f"{n:.{precision}g}"
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


def now() -> float:
    """The wall clock relative times ("Up 3 minutes", "5 minutes ago") count from: one place, so the
    snapshot tests can hold it still (a minute passing mid-test changed "Up 3 minutes" to 4)."""
    import time

    return time.time()


def time_ago(value: str) -> str:
    dt = parse_time(value)
    if dt is None:
        return "N/A"
    return human_duration(now() - dt.timestamp()) + " ago"


def status_text(c: ContainerSummary) -> str:
    """docker's Status column: "Up 5 minutes", "Exited (0) 2 minutes ago", "Created", "Up 3 s (Paused)",
    "Up 2 minutes (healthy)" (the engine's one rule, core.dockerjson, which the Engine API serves too)."""
    return container_status_text(c, now())


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
        span = f"[{ip}]:{span}->{span}" if ":" in ip else f"{ip}:{span}->{span}"
    return f"{span}/{proto}"


def print_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], out: Any = None, minwidth: int = 20
) -> None:
    """A table as ``docker top`` prints it: columns padded to the widest cell plus three spaces, at least
    ``minwidth`` wide (top's tabwriter: 20; the formatters': 10)."""
    out = out or sys.stdout
    lines = ["\t".join(headers)] + ["\t".join(map(str, r)) for r in rows]
    out.write(tabwrite("\n".join(lines) + "\n", minwidth=minwidth))


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Go's text/tabwriter as docker's formatter sets it up (minwidth 10, tabwidth 1, padding 3, spaces):
    tab-terminated cells of consecutive lines form a column as wide as its widest cell plus the padding;
    the last cell of a line is not part of a column."""
    raw_lines = text.split("\n")
    lines = [ln.replace("\v", "\t").split("\t") for ln in raw_lines]
    out: list[str] = []

    def cell_width(c: str) -> int:
        return len(c)

    def write_lines(widths: list[int], line0: int, line1: int) -> None:
        for i in range(line0, line1):
            line = lines[i]
            for j, c in enumerate(line):
                out.append(c)
                if j < len(widths) and j < len(line) - 1:
                    out.append(" " * (widths[j] - cell_width(c)))
            if i + 1 < len(lines):
                out.append("\n")

    def fmt(widths: list[int], line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(widths, line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, cell_width(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(widths, line0, this)
            widths.pop()
            line0 = this
        write_lines(widths, line0, line1)

    fmt([], 0, len(lines))
    return "".join(out)


class FormatError(DockyardError):
    """A ``--format`` template that does not parse or fails on a row: docker's message and exit code (the
    docker CLI's own status, whatever the verb: 64 where docker says a template does not parse)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.cli_status = exit_code


def template_text(fmt: str) -> str:
    """docker's Format.templateString: without the ``table`` word, spaces trimmed, ``\\t``/``\\n`` read."""
    if fmt == "json":
        return "{{json .}}"
    text = fmt[len("table") :] if fmt.startswith("table") else fmt
    return text.strip(" ").replace("\\t", "\t").replace("\\n", "\n")


def format_rows(
    contexts: Sequence[Any],
    fmt: str,
    header: dict[str, str],
    out: Any = None,
    *,
    parse_prefix: str = "template parsing error: ",
    exec_prefix: str = "template parsing error: ",
) -> None:
    """docker's formatter.Context.Write: each row through the template (a row context's methods are its
    fields), and for a ``table`` format a header made by the same template over the column titles, all
    aligned by the tabwriter. Nothing is printed if a row fails (FormatError, exit 1)."""
    from tui.gotemplate import HeaderMap, TemplateError, header_funcs, parse

    out = out or sys.stdout
    try:
        tmpl = parse(template_text(fmt))
    except TemplateError as err:
        raise FormatError(f"{parse_prefix}{err}") from None
    body: list[str] = []
    for ctx in contexts:
        try:
            body.append(tmpl.execute(ctx) + "\n")
        except TemplateError as err:
            raise FormatError(f"{exec_prefix}{err}") from None
    if not fmt.startswith("table"):
        out.write("".join(body))
        return
    head = tmpl.execute_partial(HeaderMap(header), funcs=header_funcs())
    out.write(tabwrite(head + "\n" + "".join(body)))


def check_template(fmt: str, empty: Any, parse_prefix: str, exec_prefix: str, exit_code: int = 1) -> None:
    """Parse ``fmt`` and run it once on an empty row, as ``docker ps`` and ``docker events`` do before
    they ask the engine for anything."""
    from tui.gotemplate import TemplateError, parse

    try:
        tmpl = parse(template_text(fmt))
    except TemplateError as err:
        raise FormatError(f"{parse_prefix}{err}", exit_code) from None
    try:
        tmpl.execute(empty)
    except TemplateError as err:
        raise FormatError(f"{exec_prefix}{err}", exit_code) from None


def emit(
    rows: Sequence[Any],
    fmt: str | None,
    headers: Sequence[tuple[str, str]],
    out: Any = None,
    *,
    go_type: str = "*formatter.Context",
    header: dict[str, str] | None = None,
    default: str | None = None,
    labels: str | None = None,
) -> None:
    """Print ``rows`` per ``--format``, as docker's formatters do.

    ``rows`` are row contexts (tui.gotemplate.GoObject) or dicts of docker's field names (made into a
    context of type ``go_type``; the dict key ``labels`` holds a mapping for ``.Label "key"``).
    None or "table": docker's default table (``default``, or the ``headers`` columns: (title, field));
    "json": ``{{json .}}`` a line; "table TEMPLATE": a table with docker's titles (``header``, field to
    title); anything else: the template once a row."""
    from tui.gotemplate import RowContext

    contexts = []
    for r in rows:
        if isinstance(r, dict):
            fields = {k: v for k, v in r.items() if k != labels}
            lab = r.get(labels) if labels else None
            contexts.append(RowContext(fields, go_type, dict(lab or {}) if labels else None))
        else:
            contexts.append(r)
    if not fmt or fmt == "table":
        fmt = default or "table " + "\t".join("{{." + key + "}}" for _, key in headers)
    titles = dict(header) if header is not None else {key: title for title, key in headers}
    format_rows(contexts, fmt, titles, out)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=4) + "\n")


# docker's inspect documents are Go structs, except these fields, which are maps (name: Go's map kind):
# a missing key of a map prints <no value>; of a struct it is an error
_MAP_FIELDS = {
    "Labels": "str",
    "Options": "str",
    "DriverOpts": "str",
    "Data": "str",
    "Sysctls": "str",
    "StorageOpt": "str",
    "Tmpfs": "str",
    "Annotations": "str",
    "Volumes": "any",
    "ExposedPorts": "any",
    "Ports": "any",
    "Networks": "any",
    "Containers": "any",
    "Status": "any",
    "Aux": "any",
    "Details": "str",
}
# fields that are slices: a null one prints [] (a nil pointer prints <nil>)
_SLICE_FIELDS = {
    "Entrypoint", "Cmd", "Env", "Binds", "Links", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "CapAdd",
    "CapDrop", "GroupAdd", "SecurityOpt", "Devices", "DeviceRequests", "DeviceCgroupRules", "Mounts",
    "Ulimits", "BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps", "OnBuild", "Shell", "Aliases", "DNSNames", "RepoTags", "RepoDigests", "Layers",
    "MaskedPaths", "ReadonlyPaths", "VolumesFrom", "SecondaryIPAddresses", "SecondaryIPv6Addresses", "Test",
    "Args", "ConsoleSize", "Log", "Config",
}  # fmt: skip


# fields docker's Go structs have but their JSON leaves out when empty (omitempty): a template sees their
# zero value. By the key the struct is under ("" for the document itself, by its kind)
_OMITTED: dict[str, dict[str, Any]] = {
    "State": {"Health": "ptr"},
    "Healthcheck": {"Interval": 0, "Timeout": 0, "StartPeriod": 0, "StartInterval": 0, "Retries": 0},
    "Config": {
        "ExposedPorts": "map",
        "Healthcheck": "ptr",
        "ArgsEscaped": False,
        "NetworkDisabled": False,
        "MacAddress": "",
        "StopSignal": "",
        "StopTimeout": "ptr",
        "Shell": "slice",
        "OnBuild": "slice",
        "Entrypoint": "slice",
        "Volumes": "map",
        "Labels": "map",
        "Env": "slice",
        "Cmd": "slice",
    },
    "container": {"Node": "ptr", "SizeRw": "ptr", "SizeRootFs": "ptr"},
    "volume": {"Status": "map", "UsageData": "ptr", "ClusterVolume": "ptr", "CreatedAt": ""},
    "network": {"Peers": "slice", "Services": "map"},
    "image": {"VirtualSize": 0, "Descriptor": "ptr", "Manifests": "slice"},
}


# JSON names whose Go struct field is spelled otherwise: the typed pass knows only the Go name ({{.ID}},
# {{.HostConfig.NanoCPUs}}); the JSON name ({{.Id}}) fails there and works in the raw pass, as in docker
_GO_NAMES = {
    "Id": "ID",
    "NanoCpus": "NanoCPUs",
    "CpuShares": "CPUShares",
    "CpuPeriod": "CPUPeriod",
    "CpuQuota": "CPUQuota",
    "CpuRealtimePeriod": "CPURealtimePeriod",
    "CpuRealtimeRuntime": "CPURealtimeRuntime",
    "CpuCount": "CPUCount",
    "CpuPercent": "CPUPercent",
    "Dns": "DNS",
    "DnsOptions": "DNSOptions",
    "DnsSearch": "DNSSearch",
    "ApiVersion": "APIVersion",
}


_TIME_FIELDS = {"network": ("Created",), "Metadata": ("LastTagTime",)}
# time.Duration fields (nanoseconds in JSON, "30s" when a template prints them)
_DURATION_FIELDS = {"Healthcheck": ("Interval", "Timeout", "StartPeriod", "StartInterval")}


# Go types docker's CLI 28 decodes into that differ from the daemon's (by parent and key): their fields in
# order, with their zero values. An image's Config is the CLI's dockerspec.DockerOCIImageConfig (the OCI
# ImageConfig and docker's extension, every field omitempty), so `{{json .Config}}` leaves out Hostname & co.
_LAYOUTS: dict[tuple[str, str], dict[str, Any]] = {
    ("image", "Config"): {
        "User": "",
        "ExposedPorts": "map",
        "Env": "slice",
        "Entrypoint": "slice",
        "Cmd": "slice",
        "Volumes": "map",
        "WorkingDir": "",
        "Labels": "map",
        "StopSignal": "",
        "ArgsEscaped": False,
        "Healthcheck": "ptr",
        "OnBuild": "slice",
        "Shell": "slice",
    },
}


# fields the CLI's type leaves out when zero although the daemon's document has them
_OMITEMPTY = {"HostConfig": frozenset({"KernelMemory", "KernelMemoryTCP"})}


def _cli_host_config(fields: dict[Any, Any]) -> dict[Any, Any]:
    """A container's HostConfig in the field order of docker's CLI 28 type: ConsoleSize right after
    VolumesFrom (dockerd 20.10 writes it after Runtime)."""
    out: dict[Any, Any] = {}
    for name, value in fields.items():
        if name != "ConsoleSize":
            out[name] = value
        if name == "VolumesFrom":
            out["ConsoleSize"] = fields["ConsoleSize"]
    out.setdefault("ConsoleSize", fields["ConsoleSize"])
    return out


def _zero(zero: Any) -> Any:
    from tui.gotemplate import GoNil

    return GoNil(zero) if zero in ("ptr", "map", "slice") else zero


def _document_kind(doc: dict[str, Any]) -> str:
    if "State" in doc and "HostConfig" in doc:
        return "container"
    if "RepoTags" in doc:
        return "image"
    if "Mountpoint" in doc:
        return "volume"
    if "IPAM" in doc:
        return "network"
    return ""


def typed_document(obj: Any, go_type: str = "struct", key: str = "", parent: str = "") -> Any:
    """An inspect document as the docker CLI's typed structs see it: dicts are structs (tui.gotemplate.Struct)
    except the map fields, nulls are typed nils, and the fields JSON left out are there with zero values."""
    from tui.gotemplate import GoDuration, GoNil, GoTime, StrMap, Struct

    if isinstance(obj, dict):
        kind = _MAP_FIELDS.get(key)
        if key == "Config" and parent == "LogConfig":
            kind = "str"
        if kind == "str":
            return StrMap(obj)
        if kind == "any":
            return {k: typed_document(v, "struct", "", key) for k, v in obj.items()}
        kind = key or _document_kind(obj)
        below = key or ("image" if kind == "image" else "")  # the parent its fields see
        fields = {_GO_NAMES.get(k, k): typed_document(v, "struct", k, below) for k, v in obj.items()}
        if key == "HostConfig" and not parent and "ConsoleSize" in fields:
            fields = _cli_host_config(fields)
        layout = _LAYOUTS.get((parent, key))
        if layout is not None:  # a type of the CLI's own: its fields only, in its order, all omitempty
            fields = {name: fields.get(name, _zero(zero)) for name, zero in layout.items()}
            return Struct(fields, go_type, {}, frozenset(layout))
        for name in _TIME_FIELDS.get(kind, ()):  # time.Time fields (the others are strings in docker's types)
            if isinstance(fields.get(name), str):
                fields[name] = GoTime(fields[name])
        json_names = {_GO_NAMES[k]: k for k in obj if k in _GO_NAMES}
        omitted = _OMITTED.get(key if key else _document_kind(obj), {})
        absent = [name for name in omitted if name not in fields]  # in the struct's field order
        for name in absent:
            zero = omitted[name]
            fields[name] = GoNil(zero) if zero in ("ptr", "map", "slice") else zero
        for name in _DURATION_FIELDS.get(key, ()):
            if isinstance(fields.get(name), int):
                fields[name] = GoDuration(fields[name])
        return Struct(fields, go_type, json_names, frozenset(absent) | _OMITEMPTY.get(key, frozenset()))
    if isinstance(obj, list):
        return [typed_document(v, "struct", "", key) for v in obj]
    if obj is None:
        if key in _MAP_FIELDS:
            return GoNil("map")
        if key in _SLICE_FIELDS and not (key == "Config" and parent != "IPAM"):
            return GoNil("slice")
        return GoNil("ptr")
    return obj


def print_inspected(
    found: Sequence[dict[str, Any]], fmt: str | None, *, go_type: str = "struct", raw_fallback: bool = True
) -> None:
    """What every ``inspect`` prints: one JSON array, ``-f json`` the array on one line, or each object
    through the template. Like docker's TemplateInspector, a template runs on the typed document first and,
    if that fails, on the raw JSON with missing keys as errors ("map has no entry for key"). A template that
    does not parse exits 64 with nothing printed; one that fails exits 1 after the others (an empty line if
    none came out)."""
    from tui.gotemplate import TemplateError, parse

    if not fmt:
        print_json(list(found))
        return
    if fmt == "json":  # Go's json.Marshal of the documents as they came: their key order, <>& escaped
        text = json.dumps(list(found), ensure_ascii=False, separators=(",", ":"))
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        sys.stdout.write(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n")
        return
    try:
        tmpl = parse(fmt)
    except TemplateError as err:
        raise FormatError(f"template parsing error: {err}", 64) from None
    chunks, errors = [], []
    for obj in found:  # docker's CLI goes on past an object whose template fails, and says so at the end
        try:
            chunks.append(tmpl.execute(typed_document(obj, go_type)))
        except TemplateError as err:
            if not raw_fallback:
                errors.append(f"template parsing error: {err}")
                continue
            try:
                chunks.append(tmpl.execute(obj, missingkey="error"))
            except TemplateError as err2:
                errors.append(f"template parsing error: {err2}")
    # its TemplateInspector.Flush: an empty line when nothing came out (nothing found, or all failed)
    sys.stdout.write("".join(c + "\n" for c in chunks) or "\n")
    if errors:
        raise FormatError("\n".join(errors))


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
