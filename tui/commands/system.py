"""System verbs: events (the engine's append-only event log, followed live)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from tui.cli import make_engine


def register(sub: Any) -> None:
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
    from core.logs import parse_since
    from tui.output import render_template

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
    stop = (lambda: time.time() >= until) if until is not None else None
    out = sys.stdout
    for ev in make_engine(args).events(since=since, until=until, filters=filters, follow=follow, stop=stop):
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
        if args.format == "json":
            out.write(json.dumps(obj) + "\n")
        elif args.format:
            out.write(render_template(args.format, obj) + "\n")
        else:
            stamp = datetime.fromtimestamp(ev.time, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
            attrs = ", ".join(f"{k}={v}" for k, v in sorted(ev.attributes.items()))
            out.write(f"{stamp} {ev.type} {ev.action} {ev.id}" + (f" ({attrs})" if attrs else "") + "\n")
        out.flush()
    return 0
