"""Network verbs: network create | ls | inspect | rm | prune | connect | disconnect, and ``port``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tui.cli import CLIError, make_engine
from tui.output import confirm_prune, emit, for_each, print_inspected


def register(sub: Any) -> None:
    grp = sub.add_parser("network", help="Manage networks")
    nsub = grp.add_subparsers(dest="network_verb", metavar="COMMAND", parser_class=type(grp))

    p = nsub.add_parser("create", help="Create a network")
    p.add_argument("name", metavar="NETWORK")
    p.add_argument("-d", "--driver", default="bridge", help="driver to manage the network (only bridge)")
    p.add_argument("--subnet", help="subnet in CIDR form, e.g. 10.20.0.0/24 (default: from the pools)")
    p.add_argument("--gateway", help="IPv4 gateway of the subnet (default: its first address)")
    p.add_argument("--internal", action="store_true", help="no access to or from outside the network")
    p.add_argument("-l", "--label", action="append", default=[], help="set metadata (K=V)")
    p.add_argument("-o", "--opt", action="append", default=[], help="driver options (mtu=N)")
    p.set_defaults(func=cmd_create)

    p = nsub.add_parser("ls", help="List networks", aliases=["list"])
    p.add_argument("-q", "--quiet", action="store_true", help="only display network ids")
    p.add_argument("--no-trunc", action="store_true", help="do not truncate the output")
    p.add_argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        help="provide filter values (dangling, driver, id, label, name, scope, type)",
    )
    p.add_argument("--format", help="'json', 'table' or a template")
    p.set_defaults(func=cmd_ls)

    p = nsub.add_parser("inspect", help="Display detailed information on one or more networks")
    p.add_argument("names", nargs="+", metavar="NETWORK")
    p.add_argument("-f", "--format", help="format the output using a template")
    p.set_defaults(func=cmd_inspect)

    p = nsub.add_parser("rm", help="Remove one or more networks", aliases=["remove"])
    p.add_argument("names", nargs="+", metavar="NETWORK")
    p.add_argument("-f", "--force", action="store_true", help="do not fail when a network does not exist")
    p.set_defaults(func=cmd_rm)

    p = nsub.add_parser("prune", help="Remove all unused networks")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.add_argument(
        "--filter", action="append", default=[], help="provide filter values (e.g. 'until=<timestamp>')"
    )
    p.set_defaults(func=cmd_prune)

    p = nsub.add_parser("connect", help="Connect a container to a network")
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("--alias", action="append", default=[], help="network-scoped alias for the container")
    p.add_argument("--ip", help="IPv4 address")
    p.set_defaults(func=cmd_connect)

    p = nsub.add_parser("disconnect", help="Disconnect a container from a network")
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("-f", "--force", action="store_true", help="do not fail if it is not connected")
    p.set_defaults(func=cmd_disconnect)
    grp.set_defaults(func=lambda a: grp.print_help())

    p = sub.add_parser("port", help="List port mappings or a specific mapping for the container")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("private", nargs="?", metavar="PRIVATE_PORT[/PROTO]")
    p.set_defaults(func=cmd_port)


def _kv(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        if not k:
            raise CLIError(f"invalid key=value {item!r}")
        out[k] = v
    return out


def cmd_create(args: argparse.Namespace) -> int:
    net = make_engine(args).create_network(
        args.name,
        driver=args.driver,
        subnet=args.subnet,
        gateway=args.gateway,
        internal=args.internal,
        labels=_kv(args.label),
        options=_kv(args.opt),
    )
    print(net.id)
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    from core.interface import parse_filters

    filters = parse_filters(args.filter)
    nets = make_engine(args).list_networks(filters=filters or None)
    nets.sort(key=lambda n: n.name)
    if args.quiet and args.format in (None, "", "table"):  # like docker: a custom format wins over -q
        sys.stdout.write("".join(f"{n.id if args.no_trunc else n.short_id}\n" for n in nets))
        return 0
    from tui.contexts import NETWORK_HEADER, NETWORK_TABLE, go_time

    rows = [  # docker's networkContext
        {
            "CreatedAt": go_time(n.created, fraction=True),
            "Driver": n.driver,
            "ID": n.id if args.no_trunc else n.short_id,
            "IPv4": "true",
            "IPv6": "false",
            "Internal": str(n.internal).lower(),
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(n.labels.items())),
            "Name": n.name,
            "Scope": n.scope,
            "labels": n.labels,
        }
        for n in nets
    ]
    emit(
        rows,
        args.format,
        [],
        go_type="*network.networkContext",
        header=NETWORK_HEADER,
        default=NETWORK_TABLE,
        labels="labels",
    )
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from core.errors import NotFound

    engine = make_engine(args)
    found, failed = [], 0
    for name in args.names:
        try:
            found.append(engine.inspect_network(name))
        except NotFound as err:
            sys.stderr.write(f"Error: {err}\n")
            failed = 1
    print_inspected(found, args.format)
    return failed


def cmd_rm(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    return for_each(args.names, engine.remove_network, missing_ok=args.force)


def cmd_prune(args: argparse.Namespace) -> int:
    from core.interface import parse_filters

    filters = parse_filters(args.filter)
    if not confirm_prune("all custom networks not used by at least one container", args.force):
        return 0
    removed = make_engine(args).prune_networks(filters=filters or None)
    if removed:
        print("Deleted Networks:")
        for name in removed:
            print(name)
        print()  # docker's CLI ends the list with an empty line
    return 0


def cmd_connect(args: argparse.Namespace) -> int:
    make_engine(args).connect_network(args.network, args.container, aliases=args.alias, ip=args.ip)
    return 0


def cmd_disconnect(args: argparse.Namespace) -> int:
    make_engine(args).disconnect_network(args.network, args.container, force=args.force)
    return 0


def cmd_port(args: argparse.Namespace) -> int:
    ports = make_engine(args).container_ports(args.container)
    want_port, want_proto = None, None
    if args.private:
        text, _, proto = args.private.partition("/")
        try:
            want_port = int(text)
        except ValueError:
            raise CLIError(f"invalid port {args.private!r}") from None
        want_proto = proto or "tcp"
    shown = 0
    for p in sorted(ports, key=lambda p: (p.container_port, p.protocol, p.host_ip, p.host_port)):
        if want_port is not None and (p.container_port != want_port or p.protocol != want_proto):
            continue
        ip = p.host_ip or "0.0.0.0"
        host = f"[{ip}]:{p.host_port}" if ":" in ip else f"{ip}:{p.host_port}"  # docker's JoinHostPort
        print(host if want_port is not None else f"{p.container_port}/{p.protocol} -> {host}")
        shown += 1
    if want_port is not None and not shown:
        # docker names the port as it was asked for ('80', or '80/tcp')
        sys.stderr.write(f"Error: No public port '{args.private}' published for {args.container}\n")
        return 1
    return 0
