"""System verbs: events (the engine's append-only event log, followed live), info, version, and the
``system`` group (df, prune, reset, info, events)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from tui.cli import make_engine

TYPE_CHECKING = False
if TYPE_CHECKING:
    from core.models import Event


def register(sub: Any) -> None:
    _events_parser(sub)
    _info_parser(sub)
    p = sub.add_parser("version", help="Show the dockyard version information")
    p.add_argument("-f", "--format", help="'json' or a template")
    p.set_defaults(func=cmd_version)

    grp = sub.add_parser("system", help="Manage dockyard")
    gsub = grp.add_subparsers(dest="system_verb", metavar="COMMAND", parser_class=type(grp))
    p = gsub.add_parser("df", help="Show disk usage")
    p.add_argument("--format", help="'json' or a template")
    p.set_defaults(func=cmd_df)
    p = gsub.add_parser("prune", help="Remove stopped containers, unused networks, dangling images")
    p.add_argument("-a", "--all", action="store_true", help="remove all unused images, not just dangling")
    p.add_argument("--volumes", action="store_true", help="also remove anonymous volumes no container uses")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.add_argument(
        "--filter", action="append", default=[], help="provide filter values (e.g. 'label=<key>=<value>')"
    )
    p.set_defaults(func=cmd_system_prune)
    p = gsub.add_parser("reset", help="Reset dockyard to its initial state (removes everything it holds)")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.set_defaults(func=cmd_system_reset)
    _info_parser(gsub)
    _events_parser(gsub)
    grp.set_defaults(func=lambda a: grp.print_help())


def _info_parser(sub: Any) -> None:
    p = sub.add_parser("info", help="Display system-wide information")
    p.add_argument("-f", "--format", help="'json' or a template")
    p.set_defaults(func=cmd_info)


def _events_parser(sub: Any) -> None:
    p = sub.add_parser("events", help="Get real time events from the engine")
    p.add_argument("--since", help="show events created since a timestamp or relative time (e.g. 10m)")
    p.add_argument("--until", help="stream events until this timestamp or relative time")
    p.add_argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        help="type=, event=, container=, image=, label=, network=, volume=",
    )
    p.add_argument("--format", help="'json' or a template")
    p.set_defaults(func=cmd_events)


def cmd_events(args: argparse.Namespace) -> int:
    from core.errors import InvalidArgument
    from core.interface import parse_since

    now = time.time()
    # like docker: without --since only new events are shown
    since = parse_since(args.since, now) if args.since else now
    until = parse_since(args.until, now) if args.until else None
    filters: dict[str, list[str]] = {}
    for f in args.filter:
        k, sep, v = f.partition("=")
        if not sep:
            raise InvalidArgument(f"invalid filter {f!r}: expected key=value")
        filters.setdefault(k, []).append(v)
    # like docker: with --until (or a --since in the past and --until) it ends; otherwise it follows
    follow = until is None or until > now
    out = sys.stdout
    # the stream ends by itself at --until
    with make_engine(args).events(since=since, until=until, filters=filters, follow=follow) as events:
        _print_events(events, args.format, out)
    return 0


_EVENT_JSON = {"Status": "status", "ID": "id", "From": "from", "Scope": "scope", "Time": "time"}
_EVENT_JSON["TimeNano"] = "timeNano"


def _event_message(ev: Event | None) -> Any:
    """docker's events.Message (Go field names for templates, its JSON names for ``json``)."""
    from tui.gotemplate import GoNil, StrMap, Struct

    actor = Struct(
        {"ID": ev.id if ev else "", "Attributes": StrMap(ev.attributes) if ev else GoNil("map")},
        "events.Actor",
    )
    fields = {
        "Status": ev.action if ev else "",
        "ID": ev.id if ev else "",
        "From": ev.attributes.get("image", "") if ev else "",
        "Type": ev.type if ev else "",
        "Action": ev.action if ev else "",
        "Actor": actor,
        "Scope": "local" if ev else "",
        "Time": int(ev.time) if ev else 0,
        "TimeNano": int(ev.time * 1e9) if ev else 0,
    }
    return Struct(fields, "*events.Message", _EVENT_JSON, frozenset({"Status", "ID", "From"}))


def _print_events(events: Iterable[Event], fmt: str | None, out: Any) -> None:
    from tui.gotemplate import TemplateError, parse
    from tui.output import FormatError

    tmpl = None
    if fmt:  # like docker: checked on an empty message before the stream starts
        try:
            tmpl = parse("{{json .}}" if fmt == "json" else fmt)
            tmpl.execute(_event_message(None))
        except TemplateError as err:
            raise FormatError(f"Error parsing format: {err}", 64) from None
    for ev in events:
        if tmpl is not None:
            try:
                out.write(tmpl.execute(_event_message(ev)) + "\n")
            except TemplateError as err:
                out.write(getattr(err, "partial", "") + "\n")
                raise FormatError(str(err)) from None
        else:
            stamp = datetime.fromtimestamp(ev.time, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
            attrs = ", ".join(f"{k}={v}" for k, v in sorted(ev.attributes.items()))
            out.write(f"{stamp} {ev.type} {ev.action} {ev.id}" + (f" ({attrs})" if attrs else "") + "\n")
        out.flush()


def cmd_info(args: argparse.Namespace) -> int:
    from tui.output import human_size

    info = make_engine(args).info()
    if args.format:
        _print_one(info, args.format, "", "system.dockerInfo")
        return 0
    lines = [
        ("Containers", info["Containers"]),
        (" Running", info["ContainersRunning"]),
        (" Paused", info["ContainersPaused"]),
        (" Stopped", info["ContainersStopped"]),
        ("Images", info["Images"]),
        ("Server Version", info["ServerVersion"]),
        ("Storage Driver", info["Driver"]),
        ("Logging Driver", info["LoggingDriver"]),
        ("Cgroup Driver", info["CgroupDriver"]),
        ("Cgroup Version", info["CgroupVersion"]),
        ("Security Options", ", ".join(info["SecurityOptions"])),
        ("Kernel Version", info["KernelVersion"]),
        ("Operating System", info["OperatingSystem"]),
        ("Architecture", info["Architecture"]),
        ("CPUs", info["NCPU"]),
        ("Total Memory", human_size(info["MemTotal"])),
        ("Name", info["Name"]),
        ("Root Dir", info["DockerRootDir"]),
        ("Run Dir", info["RunDir"]),
        ("Default Bridge", info["DefaultBridge"]),
        ("Insecure Registries", ", ".join(info["InsecureRegistries"]) or "-"),
    ]
    for key, value in lines:
        print(f"{key}: {value}")
    return 0


def _print_one(doc: dict[str, Any], fmt: str, name: str, go_type: str) -> None:
    """``version``/``info --format``: docker's template (named ``name``; "json" is ``{{json .}}``, no
    ``table`` and no ``\\t`` escapes here) over its typed document; a template that does not parse exits
    64, one that fails 1 with Go's message as it is."""
    from tui.gotemplate import Func, TemplateError, docker_funcs, parse
    from tui.output import FormatError, tabwrite, typed_document

    funcs = docker_funcs()
    if name == "version":  # docker's version template has one function of its own
        funcs["getDetailsOrder"] = Func(lambda c: sorted(c.get("Details") or {}), ["any"])
    try:
        tmpl = parse("{{json .}}" if fmt == "json" else fmt, name, funcs)
    except TemplateError as err:
        raise FormatError(f"template parsing error: {err}", 64) from None
    try:
        text = tmpl.execute(typed_document(doc, go_type)) + "\n"
    except TemplateError as err:
        # docker writes as the template runs, and its newline after it, error or not
        sys.stdout.write(getattr(err, "partial", "") + "\n")
        raise FormatError(str(err)) from None
    # docker's version writes through a tabwriter (minimum width 20, padding 1); info does not
    sys.stdout.write(tabwrite(text, minwidth=20, padding=1) if name == "version" else text)


def _version_document(obj: dict[str, Any]) -> dict[str, Any]:
    """docker's versionInfo shape: ``Client`` (this command line) and ``Server`` (the engine)."""
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(obj["Arch"], obj["Arch"])
    client = {
        "Version": obj["Version"],
        "ApiVersion": "",
        "DefaultAPIVersion": "",
        "GitCommit": "",
        "GoVersion": "",
        "Os": obj["Os"],
        "Arch": arch,
        "BuildTime": "",
        "Context": "default",
    }
    details = {"KernelVersion": obj["KernelVersion"], "Os": obj["Os"], "Arch": arch}
    details["Python"] = obj.get("Python", "")  # a remote engine's (dockerd's) has none
    server = {
        "Platform": {"Name": "dockyard"},
        "Components": [{"Name": "Engine", "Version": obj["Version"], "Details": details}],
        "Version": obj["Version"],
        "ApiVersion": obj.get("ApiVersion", ""),  # a remote engine's (a local one has none)
        "MinAPIVersion": obj.get("MinAPIVersion", ""),
        "GitCommit": "",
        "GoVersion": "",
        "Os": obj["Os"],
        "Arch": arch,
        "KernelVersion": obj["KernelVersion"],
        "BuildTime": "",
    }
    return {"Client": client, "Server": server}


def cmd_version(args: argparse.Namespace) -> int:
    obj = make_engine(args).version()
    if args.format:
        _print_one(_version_document(obj), args.format, "version", "system.versionInfo")
    else:
        print("dockyard:")
        for key in ("Version", "Python", "Os", "Arch", "KernelVersion", "Daemon"):
            if key in obj:  # a remote engine's (dockerd's) has no Python nor Daemon
                print(f" {key + ':':15s}{obj[key]}")
    return 0


def cmd_df(args: argparse.Namespace) -> int:
    from tui.contexts import DISK_USAGE_HEADER, DISK_USAGE_TABLE
    from tui.gotemplate import RowContext
    from tui.output import emit, human_size

    types = {
        "Images": "*formatter.diskUsageImagesContext",
        "Containers": "*formatter.diskUsageContainersContext",
        "Local Volumes": "*formatter.diskUsageVolumesContext",
        "Build Cache": "*formatter.diskUsageBuilderContext",
    }
    rows = []
    for r in make_engine(args).disk_usage():
        # docker's diskUsage*Context: strings, units.HumanSize (4 digits), the share a whole percent
        share = f" ({100 * r['Reclaimable'] // r['Size']}%)" if r["Size"] else ""
        fields = {
            "Active": str(r["Active"]),
            "Reclaimable": human_size(r["Reclaimable"], 4) + share,
            "Size": human_size(r["Size"], 4),
            "TotalCount": str(r["TotalCount"]),
            "Type": r["Type"],
        }
        rows.append(RowContext(fields, types.get(r["Type"], "*formatter.diskUsageContext")))
    emit(rows, args.format, [], header=DISK_USAGE_HEADER, default=DISK_USAGE_TABLE)
    return 0


def cmd_system_prune(args: argparse.Namespace) -> int:
    from tui.output import confirm_prune, human_size

    what = [
        "all stopped containers",
        "all networks not used by at least one container",
        "all images without at least one container associated to them" if args.all else "all dangling images",
    ]
    if args.volumes:
        what.insert(2, "all anonymous volumes not used by at least one container")
    from core.errors import InvalidFilter
    from core.interface import parse_filters

    filters = parse_filters(args.filter)
    if args.volumes and "until" in filters:  # docker's CLI refuses it before asking
        raise InvalidFilter('The "until" filter is not supported with "--volumes"')
    if not confirm_prune(", ".join(what), args.force):
        return 0
    report = make_engine(args).prune_system(all=args.all, volumes=args.volumes, filters=filters or None)
    images, freed = report.images, report.reclaimed
    for title, names in (
        ("Deleted Containers:", report.containers),
        ("Deleted Networks:", report.networks),
        ("Deleted Volumes:", report.volumes),
    ):
        if names:
            print(title)
            print("\n".join(names) + "\n")
    if images.untagged or images.deleted:
        print("Deleted Images:")
        print(
            "\n".join([f"untagged: {u}" for u in images.untagged] + [f"deleted: {d}" for d in images.deleted])
        )
        print()
    print(f"Total reclaimed space: {human_size(freed)}")
    return 0


def cmd_system_reset(args: argparse.Namespace) -> int:
    """podman's ``system reset``: without ``-f`` it asks, on any stdin (a pipe too: a reset is not undone,
    so only an explicit "y" goes ahead, and end of input is a no)."""
    engine = make_engine(args)
    if not args.force:
        info = engine.info()
        items = [
            "all containers",
            "all images",
            "all networks",
            "all build cache",
            "all volumes",
            f'the root directory\'s state: "{info["DockerRootDir"]}" (its daemon.json settings stay)',
            f'the run directory: "{info["RunDir"]}"',
            f"the bridges ({info['DefaultBridge']} and each network's), the nftables table and the cgroup "
            "folders of this engine",
        ]
        sys.stdout.write("WARNING! This will remove:\n" + "".join(f"        - {i}\n" for i in items))
        sys.stdout.write("Are you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    engine.reset()
    return 0
