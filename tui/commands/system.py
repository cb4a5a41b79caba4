"""System verbs: events (the engine's append-only event log, followed live), info, version, and the
``system`` group (df, prune, reset, info, events)."""

from __future__ import annotations

import argparse
import json
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


def _print_events(events: Iterable[Event], fmt: str | None, out: Any) -> None:
    from tui.output import render_template

    for ev in events:
        obj = {
            "status": ev.action,
            "id": ev.id,
            "from": ev.attributes.get("image", ""),
            "Type": ev.type,
            "Action": ev.action,
            "Actor": {"ID": ev.id, "Attributes": ev.attributes},
            "scope": "local",
            "time": int(ev.time),
            "timeNano": int(ev.time * 1e9),
        }
        if fmt == "json":
            out.write(json.dumps(obj) + "\n")
        elif fmt:
            out.write(render_template(fmt, obj) + "\n")
        else:
            stamp = datetime.fromtimestamp(ev.time, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
            attrs = ", ".join(f"{k}={v}" for k, v in sorted(ev.attributes.items()))
            out.write(f"{stamp} {ev.type} {ev.action} {ev.id}" + (f" ({attrs})" if attrs else "") + "\n")
        out.flush()


def cmd_info(args: argparse.Namespace) -> int:
    from tui.output import human_size, print_inspected

    info = make_engine(args).info()
    if args.format:
        print_inspected([info], args.format)
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


def cmd_version(args: argparse.Namespace) -> int:
    from tui.output import print_inspected

    obj = make_engine(args).version()
    if args.format:
        print_inspected([obj], args.format)
    else:
        print("dockyard:")
        for key in ("Version", "Python", "Os", "Arch", "KernelVersion", "Daemon"):
            print(f" {key + ':':15s}{obj[key]}")
    return 0


def cmd_df(args: argparse.Namespace) -> int:
    from tui.output import emit, human_size

    rows = []
    for r in make_engine(args).disk_usage():
        share = f" ({100 * r['Reclaimable'] // r['Size']}%)" if r["Size"] else ""
        rows.append(
            {
                "Type": r["Type"],
                "TotalCount": r["TotalCount"],
                "Active": r["Active"],
                "Size": human_size(r["Size"]),
                "Reclaimable": human_size(r["Reclaimable"]) + share,
            }
        )
    headers = [
        ("TYPE", "Type"),
        ("TOTAL", "TotalCount"),
        ("ACTIVE", "Active"),
        ("SIZE", "Size"),
        ("RECLAIMABLE", "Reclaimable"),
    ]
    emit(rows, args.format, headers)
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
