"""The docker-style command line: parse, call the Engine, print.

Start-up cost is part of every command, so only the verb being run gets its parser built and its module
imported; Rich is imported by the commands that draw with it, Textual only when the workbench opens.
Errors: ``Error: <message>`` on stderr and docker's exit codes (125 engine, 126 cannot invoke, 127 not found).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from core.interface import Engine, PreparedStart
    from tui.parser import Parser


# verb -> module under tui.commands that registers it. Management groups ("image ls") map to a module too.
VERBS: dict[str, str] = {
    "pull": "images",
    "push": "images",
    "images": "images",
    "rmi": "images",
    "tag": "images",
    "save": "images",
    "load": "images",
    "login": "images",
    "logout": "images",
    "image": "images",
    "run": "containers",
    "create": "containers",
    "start": "containers",
    "stop": "containers",
    "restart": "containers",
    "kill": "containers",
    "rm": "containers",
    "wait": "containers",
    "logs": "containers",
    "rename": "containers",
    "update": "containers",
    "diff": "containers",
    "pause": "containers",
    "unpause": "containers",
    "top": "containers",
    "stats": "containers",
    "attach": "containers",
    "cp": "containers",
    "container": "containers",
    "ps": "containers",
    "inspect": "containers",
    "network": "networks",
    "port": "networks",
    "exec": "exec",
    "volume": "volumes",
    "events": "system",
    "context": "context",
    "info": "system",
    "version": "system",
    "system": "system",
    "build": "build",
    "commit": "build",
    "history": "build",
    "export": "build",
    "import": "build",
    "compose": "compose",  # docker compose v2's verbs (compose/, PyYAML and jsonschema imported only here)
}
# management groups that other modules add subcommands to ("container exec"): imported after the group's own
GROUP_EXTRAS: dict[str, list[str]] = {"container": ["exec", "build"], "image": ["build"]}
# verbs whose module is not there yet are left out of the help
_HELP_ORDER = ["images", "containers", "networks", "volumes", "system"]


class CLIError(Exception):
    """A usage error found after parsing (argparse errors exit 125 through :class:`tui.parser.Parser`)."""


def _add_globals(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", help="engine state directory (default $DOCKYARD_ROOT or /var/lib/dockyard)")
    p.add_argument("--debug", "-D", action="store_true", help="show tracebacks on errors")
    # the engine, chosen as the docker CLI chooses it (core.interface.engine_for); none: the in-process one
    p.add_argument(
        "-H", "--host", dest="engine_host", metavar="HOST", help="engine to connect to (unix://, tcp://)"
    )
    p.add_argument("-c", "--context", dest="engine_context", metavar="NAME", help="docker context to use")
    p.add_argument("--tls", action="store_true", help="use TLS; implied by --tlsverify")
    p.add_argument("--tlsverify", action="store_true", default=None, help="use TLS and verify the remote")
    p.add_argument("--tlscacert", metavar="FILE", help="trust certs signed only by this CA")
    p.add_argument("--tlscert", metavar="FILE", help="path to TLS certificate file")
    p.add_argument("--tlskey", metavar="FILE", help="path to TLS key file")


def build_parser(verbs: Sequence[str] | None = None) -> Parser:
    from tui.parser import Parser

    parser = Parser(
        prog="dockyard",
        description="A container engine and terminal workbench. Run with no arguments to open the workbench.",
    )
    _add_globals(parser)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", parser_class=Parser)
    wanted = list(verbs if verbs is not None else VERBS)
    # every verb's own module first, then the ones that add to management groups (they need the group)
    modules = list(
        dict.fromkeys([VERBS[v] for v in wanted] + [m for v in wanted for m in GROUP_EXTRAS.get(v, [])])
    )
    # A module registers all its verbs; building the ~40 parsers of one takes ~20 ms here (argparse looks up
    # gettext catalogs for each), a fifth of `run`. When one verb was asked for, only its parser is built.
    # A management group ("image ...") copies other verbs' parsers, so it gets the whole module.
    target: Any = sub
    if verbs is not None and not any(v in _GROUP_VERBS for v in verbs):
        target = _OnlyVerbs(sub, set(verbs))
    for mod in modules:
        module = importlib.import_module(f"tui.commands.{mod}")
        module.register(target)
    return parser


_GROUP_VERBS = {"container", "image", "network", "volume", "system"}


class _Skipped:
    """Stands in for a parser that is not being built: takes any call, does nothing."""

    def __getattr__(self, name: str) -> Callable[..., _Skipped]:
        return lambda *args, **kwargs: self


class _OnlyVerbs:
    """A subparsers action that builds only the wanted verbs' parsers."""

    def __init__(self, sub: Any, wanted: set[str]) -> None:
        self._sub = sub
        self._wanted = wanted

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if name in self._wanted or self._wanted.intersection(kwargs.get("aliases", ())):
            return self._sub.add_parser(name, **kwargs)
        return _Skipped()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sub, name)


def make_engine(args: argparse.Namespace) -> Engine:
    from core.interface import engine_for

    return engine_for(
        root=getattr(args, "root", None),
        host=getattr(args, "engine_host", None),
        context=getattr(args, "engine_context", None),
        tls=bool(getattr(args, "tls", False)),
        tlsverify=getattr(args, "tlsverify", None),
        tlscacert=getattr(args, "tlscacert", None),
        tlscert=getattr(args, "tlscert", None),
        tlskey=getattr(args, "tlskey", None),
    )


def _early_shim(argv: list[str], fork: bool) -> PreparedStart | None:
    """``run`` prepares its container's start before anything else (the local engine launches the shim), so
    that the shim's start-up overlaps our own imports and the container's creation. As the ``dockyard``
    command (``fork``), the shim is forked: this process has nothing in it yet but an interpreter the shim
    can use; called from another program, it is spawned. If this process dies or fails before it hands the
    shim a container, the shim sees its control pipe close and exits."""
    if any(a in ("-h", "--help") for a in argv):
        return None
    before = argv[: argv.index("run")]
    from core.interface import prepare_local_start, remote_selected

    if remote_selected(_flag_value(before, "-H", "--host"), _flag_value(before, "-c", "--context")):
        return None  # a remote engine starts its containers itself
    return prepare_local_start(_flag_value(before, "--root"), fork=fork)


# global flags that take a value (in the next argument unless given as --flag=value)
_VALUE_FLAGS = ("--root", "-H", "--host", "-c", "--context", "--tlscacert", "--tlscert", "--tlskey")


def _dial_ahead(argv: list[str], verb: str) -> None:
    """Before the parser and the verb's module are imported (~15 ms), start connecting to an ssh engine
    named by the global flags or the environment: its handshakes take longer than anything else the command
    does, and the docker CLI makes them one after another. As many connections as the verb will use: the
    API's requests, an attach or exec stream, the wait for the exit."""
    before = argv[: argv.index(verb)]
    host = _flag_value(before, "-H", "--host")
    context = _flag_value(before, "-c", "--context")
    rest = argv[argv.index(verb) + 1 :]
    # -d, --detach, or among bundled short flags (-dit); a guess at most costs the command some time
    detached = any(a == "--detach" or (a[:1] == "-" and a[1:].isalpha() and "d" in a) for a in rest)
    connections = 1
    if verb == "run" and not detached:
        connections = 3
    elif verb == "exec" and not detached:
        connections = 2
    from core.interface import dial_ahead

    dial_ahead(host, context, connections)


def _flag_value(argv: list[str], *names: str) -> str | None:
    """A global flag's value as argparse reads it (the last one given): ``-H X``, ``-HX``, ``--host X``,
    ``--host=X``."""
    value = None
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                value = argv[i + 1]
            elif name.startswith("--") and arg.startswith(name + "="):
                value = arg[len(name) + 1 :]
            elif not name.startswith("--") and arg.startswith(name) and len(arg) > len(name):
                value = arg[len(name) :]
    return value


def _find_verb(argv: Sequence[str]) -> str | None:
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in _VALUE_FLAGS:
            skip = True
            continue
        if arg.startswith("-"):
            continue
        return arg
    return None


def _is_serve(args_list: list[str], verb: str | None) -> bool:
    """``dockyard serve`` and its alias ``dockyard system service`` (as podman's)."""
    if verb == "serve":
        return True
    if verb == "system":
        rest = args_list[args_list.index("system") + 1 :]
        return bool(rest) and rest[0] == "service"
    return False


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    _stdio_or_devnull()
    verb = _find_verb(args_list)
    if verb is None and not any(a in ("-h", "--help", "--version") for a in args_list):
        return _open_workbench(args_list)
    if verb == "system" and args_list[args_list.index("system") + 1 :][:1] == ["dial-stdio"]:
        # stdio joined to the engine's API (what an ssh:// client runs here): a face of its own, as serve
        stdio = importlib.import_module("api.stdio")
        from tui.parser import Parser

        parser = Parser(prog="dockyard")
        _add_globals(parser)
        glob, _rest = parser.parse_known_args(args_list[: args_list.index("system")])
        return int(stdio.main(glob.root, glob.engine_host))
    if verb == "workbench":
        return _workbench(args_list)
    if _is_serve(args_list, verb):
        # the API server face: imported only for this verb, never on the start path of the others
        serve = importlib.import_module("api.server")
        return int(serve.main(args_list))
    launcher = _early_shim(args_list, fork=argv is None) if verb == "run" else None
    helping = any(a in ("-h", "--help") for a in args_list)
    if launcher is None and verb in VERBS and verb != "context" and not helping:  # (a launched shim: local)
        _dial_ahead(args_list, verb)
    parser = build_parser([verb] if verb in VERBS else None)
    args = parser.parse_args(args_list)
    args.launcher = launcher
    if args.version:
        from core.interface import client_version

        print(f"dockyard version {client_version()}")
        return 0
    func: Callable[[argparse.Namespace], int | None] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    code = run_command(func, args)
    if argv is None:
        _exit_now(code)
    return code


def _stdio_or_devnull() -> None:
    """Started with fd 0, 1 or 2 closed, Python has None for that stream: use /dev/null instead, so output
    goes nowhere and input is empty, rather than every print raising."""
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode))  # noqa: SIM115


def _exit_now(code: int) -> None:
    """End the ``dockyard`` command without the interpreter's teardown (~10 ms of freeing modules, a tenth
    of a ``run``): the command has returned, so every file it wrote is closed; only stdio may hold
    buffered output."""
    for stream in (sys.stdout, sys.stderr):  # never None: see _stdio_or_devnull
        try:
            stream.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass
    os._exit(code)


def run_command(func: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    from core.errors import BadFlagValue, DockyardError

    try:
        code = func(args)
        return int(code or 0)
    except DockyardError as err:
        if getattr(args, "debug", False):
            raise
        sys.stderr.write(f"Error: {err}\n")
        if isinstance(err, BadFlagValue):
            return 125  # a flag error, whatever the verb (docker's CLI fails before it calls the daemon)
        if getattr(err, "cli_status", 0):  # a status the docker CLI itself sets (64: a template's syntax)
            return int(err.cli_status)  # type: ignore[attr-defined]
        return docker_status(args, err.exit_code)
    except CLIError as err:
        sys.stderr.write(f"Error: {err}\n")
        return docker_status(args, 125)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130
    except BrokenPipeError:
        # `dockyard images | head`: stop quietly, like docker
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as err:
        # the system refused something the engine does (a full disk, a quota, a read-only root): one line
        # that says what and why, as for the engine's own errors, never a traceback
        if getattr(args, "debug", False):
            raise
        from tui.failure import os_error_message

        sys.stderr.write(f"Error: {os_error_message(err, getattr(args, 'verb', None))}\n")
        return docker_status(args, 125)


def docker_status(args: argparse.Namespace, code: int) -> int:
    """The exit status of a failed command, as the docker CLI's: ``run`` (``container run``) ends with 125 for
    an engine error, 126 when its command cannot be invoked, 127 when it is not found; ``exec`` with 126 for a
    command that cannot start (not found included: docker's exec reports 126 for both); every other verb,
    ``create`` and ``start`` included, with 1. Usage errors are the parser's (tui.parser: 125 for a flag, 1
    for a missing argument or an unknown command)."""
    if _is_verb(args, "run"):
        return code
    if _is_verb(args, "exec") and code in (126, 127):
        return 126
    return 1


def _is_verb(args: argparse.Namespace, name: str) -> bool:
    verb = getattr(args, "verb", None)
    return verb == name or (verb == "container" and getattr(args, "container_verb", None) == name)


def _open_workbench(args_list: list[str]) -> int:
    try:
        app_module = importlib.import_module("tui.app")
    except ModuleNotFoundError as err:
        if err.name != "tui.app":
            raise
        sys.stderr.write("The workbench is not built yet; see 'dockyard --help' for the command line.\n")
        return 1
    from tui.parser import Parser

    parser = Parser(prog="dockyard")
    _add_globals(parser)
    args = parser.parse_args(args_list)
    return run_command(lambda a: int(app_module.run(make_engine(a)) or 0), args)


def _workbench(args_list: list[str]) -> int:
    """``dockyard [GLOBALS] workbench [--web [--bind HOST:PORT] ...]``: the workbench as a verb. ``--web``
    serves it to a browser (tui/web.py, which alone imports textual-serve and aiohttp)."""
    from tui.parser import Parser

    parser = Parser(prog="dockyard")
    _add_globals(parser)
    sub = parser.add_subparsers(dest="verb", parser_class=Parser)
    p = sub.add_parser("workbench", help="Open the workbench, or serve it to a browser")
    p.add_argument("--web", action="store_true", help="serve the workbench to a browser (textual-serve)")
    p.add_argument(
        "--bind", metavar="HOST:PORT", help="address to serve on with --web (default 127.0.0.1:8000)"
    )
    p.add_argument("--tlscert", dest="web_tlscert", metavar="FILE", help="serve https: the certificate")
    p.add_argument("--tlskey", dest="web_tlskey", metavar="FILE", help="serve https: its private key")
    p.add_argument(
        "--insecure-bind",
        action="store_true",
        help="allow a non-loopback --bind without TLS (plain http: the token travels in clear text)",
    )
    args = parser.parse_args(args_list)
    if not args.web:
        web_only = {"--bind": args.bind, "--tlscert": args.web_tlscert, "--tlskey": args.web_tlskey}
        given = [flag for flag, value in {**web_only, "--insecure-bind": args.insecure_bind}.items() if value]
        if given:
            sys.stderr.write(f"Error: {given[0]} is a --web option\n")
            return 125
        return _open_workbench(_global_argv(args))
    # the app each browser session runs: this dockyard with the same engine flags (and no verb)
    args.engine_argv = _global_argv(args)
    web = importlib.import_module("tui.web")
    return run_command(web.serve, args)


def _global_argv(args: argparse.Namespace) -> list[str]:
    """The global flags of ``args`` as a command line again: the engine's selection, TLS files, --debug."""
    valued = {"--root": "root", "--host": "engine_host", "--context": "engine_context"}
    valued |= {"--tlscacert": "tlscacert", "--tlscert": "tlscert", "--tlskey": "tlskey"}
    argv: list[str] = []
    for flag, dest in valued.items():
        if getattr(args, dest, None):
            argv += [flag, getattr(args, dest)]
    switches = {"--tls": "tls", "--tlsverify": "tlsverify", "--debug": "debug"}
    return argv + [flag for flag, dest in switches.items() if getattr(args, dest, None)]


if __name__ == "__main__":
    sys.exit(main())
