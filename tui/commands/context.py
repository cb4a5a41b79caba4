"""``dockyard context ls|create|use|inspect|rm|update|show``: the docker CLI's context store, read and
written through :func:`core.interface.docker_contexts`, so contexts made here work in the docker CLI and
the other way round."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from core.errors import DockyardError


def register(sub: Any) -> None:
    grp = sub.add_parser("context", help="Manage contexts")
    csub = grp.add_subparsers(dest="context_verb", metavar="COMMAND", parser_class=type(grp))
    p = csub.add_parser("ls", help="List contexts", aliases=["list"])
    p.add_argument("--format", help="'json' or a template")
    p.add_argument("-q", "--quiet", action="store_true", help="only show context names")
    p.set_defaults(func=cmd_ls)
    for verb, text in (("create", "Create a context"), ("update", "Update a context")):
        p = csub.add_parser(verb, help=text)
        p.add_argument("name", metavar="CONTEXT")
        p.add_argument("--description", help="description of the context")
        p.add_argument("--docker", help="set the docker endpoint (host=,ca=,cert=,key=,skip-tls-verify=)")
        if verb == "create":
            p.add_argument("--from", dest="source", help="create context from a named context")
        p.set_defaults(func=cmd_create if verb == "create" else cmd_update)
    p = csub.add_parser("use", help="Set the current docker context")
    p.add_argument("name", metavar="CONTEXT")
    p.set_defaults(func=cmd_use)
    p = csub.add_parser("show", help="Print the name of the current context")
    p.set_defaults(func=cmd_show)
    p = csub.add_parser("inspect", help="Display detailed information on one or more contexts")
    p.add_argument("names", nargs="*", metavar="CONTEXT")
    p.add_argument("-f", "--format", help="format the output using a template")
    p.set_defaults(func=cmd_inspect)
    p = csub.add_parser("rm", help="Remove one or more contexts", aliases=["remove"])
    p.add_argument("names", nargs="+", metavar="CONTEXT")
    p.add_argument("-f", "--force", action="store_true", help="force the removal of a context in use")
    p.set_defaults(func=cmd_rm)
    grp.set_defaults(func=lambda args: grp.print_help() or 0)


def _store() -> Any:
    from core.interface import docker_contexts

    return docker_contexts()


def _current(args: argparse.Namespace) -> str:
    name: str = _store().current_name(
        getattr(args, "engine_context", None), getattr(args, "engine_host", None)
    )
    return name


def cmd_ls(args: argparse.Namespace) -> int:
    store = _store()
    current = _current(args)
    contexts = store.list_contexts()
    if args.quiet:
        for c in contexts:
            print(c.name)
        return 0
    rows = []
    for c in contexts:
        endpoint = c.host or ("unix:///var/run/docker.sock" if c.name != "default" else "(in-process engine)")
        rows.append(
            {
                "Name": c.name,
                "Current": c.name == current,
                "Description": c.description,
                "DockerEndpoint": endpoint,
                "Error": "",
            }
        )
    if args.format == "json":
        for r in rows:
            print(json.dumps(r, separators=(",", ":")))
        return 0
    if args.format:
        for r in rows:
            print(_render(args.format, r))
        return 0
    names = [r["Name"] + (" *" if r["Current"] else "") for r in rows]
    w_name = max(len("NAME"), *(len(n) for n in names)) + 3
    w_desc = max(len("DESCRIPTION"), *(len(r["Description"]) for r in rows)) + 3
    w_end = max(len("DOCKER ENDPOINT"), *(len(r["DockerEndpoint"]) for r in rows)) + 3
    print(f"{'NAME':<{w_name}}{'DESCRIPTION':<{w_desc}}{'DOCKER ENDPOINT':<{w_end}}ERROR")
    for n, r in zip(names, rows, strict=True):
        print(f"{n:<{w_name}}{r['Description']:<{w_desc}}{r['DockerEndpoint']:<{w_end}}{r['Error']}")
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    _store().create_or_update(
        args.name, description=args.description, docker=args.docker, create=True, source=args.source
    )
    print(args.name)
    sys.stderr.write(f'Successfully created context "{args.name}"\n')
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    _store().create_or_update(args.name, description=args.description, docker=args.docker, create=False)
    print(args.name)
    sys.stderr.write(f'Successfully updated context "{args.name}"\n')
    return 0


def cmd_use(args: argparse.Namespace) -> int:
    _store().use(args.name)
    print(args.name)
    sys.stderr.write(f'Current context is now "{args.name}"\n')
    if os.environ.get("DOCKER_HOST"):
        sys.stderr.write("Warning: DOCKER_HOST environment variable overrides the active context.\n")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    print(_current(args))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    store = _store()
    names = args.names or [_current(args)]
    docs: list[dict[str, Any]] = []
    failed: DockyardError | None = None
    for name in names:
        try:
            docs.append(store.inspect_document(name))
        except DockyardError as err:
            failed = err
    if args.format:
        for d in docs:
            print(_render(args.format, d))
    else:
        print(json.dumps(docs, indent=4) if docs else "[]")
    if failed is not None:
        raise failed
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    store = _store()
    failed: DockyardError | None = None
    for name in args.names:
        try:
            store.remove(name, force=args.force)
            print(name)
        except DockyardError as err:
            failed = err
    if failed is not None:
        raise failed
    return 0


def _render(fmt: str, data: dict[str, Any]) -> str:
    from tui.gotemplate import TemplateError, docker_funcs, parse
    from tui.output import FormatError

    try:
        return parse(fmt, funcs=docker_funcs()).execute(data)
    except TemplateError as err:
        raise FormatError(f"template: {err}") from None
