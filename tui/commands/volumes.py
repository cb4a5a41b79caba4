"""Volume verbs: volume create | ls | inspect | rm | prune."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tui.cli import make_engine
from tui.output import confirm_prune, emit, for_each, human_size, print_inspected


def register(sub: Any) -> None:
    grp = sub.add_parser("volume", help="Manage volumes")
    vsub = grp.add_subparsers(dest="volume_verb", metavar="COMMAND", parser_class=type(grp))
    p = vsub.add_parser("create", help="Create a volume")
    p.add_argument("name", nargs="?", metavar="VOLUME")
    p.add_argument("--name", dest="name_opt", help="volume name")
    p.add_argument("-d", "--driver", default="local", help="volume driver (only 'local')")
    p.add_argument("-l", "--label", action="append", default=[], help="set metadata (K=V)")
    p.add_argument("-o", "--opt", action="append", default=[], help="driver options")
    p.set_defaults(func=cmd_create)
    p = vsub.add_parser("ls", help="List volumes", aliases=["list"])
    p.add_argument("-q", "--quiet", action="store_true", help="only display volume names")
    p.add_argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        help="provide filter values (dangling, driver, label, name)",
    )
    p.add_argument("--format", help="'json', 'table' or a template")
    p.set_defaults(func=cmd_ls)
    p = vsub.add_parser("inspect", help="Display detailed information on one or more volumes")
    p.add_argument("names", nargs="+", metavar="VOLUME")
    p.add_argument("-f", "--format", help="format the output using a template")
    p.set_defaults(func=cmd_inspect)
    p = vsub.add_parser("rm", help="Remove one or more volumes", aliases=["remove"])
    p.add_argument("names", nargs="+", metavar="VOLUME")
    p.add_argument("-f", "--force", action="store_true", help="do not fail when a volume does not exist")
    p.set_defaults(func=cmd_rm)
    p = vsub.add_parser("prune", help="Remove unused anonymous volumes (all unused ones with -a)")
    p.add_argument(
        "-a", "--all", action="store_true", help="remove all unused volumes, not just anonymous ones"
    )
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.add_argument(
        "--filter", action="append", default=[], help="provide filter values (e.g. 'label=<label>')"
    )
    p.set_defaults(func=cmd_prune)
    grp.set_defaults(func=lambda a: grp.print_help())


def _kv(items: list[str]) -> dict[str, str]:
    from core.errors import InvalidArgument

    out = {}
    for item in items:
        k, _, v = item.partition("=")
        if not k:
            raise InvalidArgument(f"invalid key=value {item!r}")
        out[k] = v
    return out


def cmd_create(args: argparse.Namespace) -> int:
    from core.errors import InvalidArgument

    if args.driver != "local":
        raise InvalidArgument(f"volume driver {args.driver!r} is not supported: only 'local'")
    if args.name and args.name_opt and args.name != args.name_opt:
        raise InvalidArgument("conflicting options: either specify --name or provide the positional argument")
    vol = make_engine(args).create_volume(
        args.name or args.name_opt, labels=_kv(args.label), options=_kv(args.opt)
    )
    print(vol.name)
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    from core.interface import parse_filters

    filters = parse_filters(args.filter)
    engine = make_engine(args)
    vols = engine.list_volumes(filters=filters or None)
    if args.quiet and args.format in (None, "", "table"):  # like docker: a custom format wins over -q
        sys.stdout.write("".join(f"{v.name}\n" for v in vols))
        return 0
    from tui.contexts import VOLUME_HEADER, VOLUME_TABLE

    rows = [  # docker's volumeContext (its list has no usage data: Links and Size are N/A)
        {
            "Availability": "N/A",
            "Driver": v.driver,
            "Group": "N/A",
            "Labels": ",".join(f"{k}={x}" for k, x in sorted(v.labels.items())),
            "Links": "N/A",
            "Mountpoint": v.mountpoint,
            "Name": v.name,
            "Scope": "local",
            "Size": "N/A",
            "Status": "N/A",
            "labels": v.labels,
        }
        for v in vols
    ]
    emit(
        rows,
        args.format,
        [],
        go_type="*formatter.volumeContext",
        header=VOLUME_HEADER,
        default=VOLUME_TABLE,
        labels="labels",
    )
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from core.errors import NotFound

    engine = make_engine(args)
    found, failed = [], 0
    for name in args.names:
        try:
            found.append(engine.inspect_volume(name))
        except NotFound as err:
            sys.stderr.write(f"Error: {err}\n")
            failed = 1
    # docker's volume inspect runs the template on its typed Volume only (no raw JSON fallback)
    print_inspected(found, args.format, go_type="volume.Volume", raw_fallback=False)
    return failed


def cmd_rm(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    return for_each(args.names, engine.remove_volume, missing_ok=args.force)


def cmd_prune(args: argparse.Namespace) -> int:
    from core.interface import parse_filters

    filters = parse_filters(args.filter)
    if not confirm_prune("anonymous local volumes not used by at least one container", args.force):
        return 0
    removed, freed = make_engine(args).prune_volumes(all=args.all, filters=filters or None)
    if removed:
        print("Deleted Volumes:")
        for name in removed:
            print(name)
        print()
    print(f"Total reclaimed space: {human_size(freed)}")
    return 0
