"""``dockyard compose``: docker compose v2's verbs over the engine interface (the work is in the compose
package: compose.loader reads the files, compose.orchestrate drives the engine).

Output as compose v2's: progress lines on stderr (`` Container app-web-1  Started``; on a terminal
`` ✔ Container app-web-1  Started``), ``ps``/``ls``/``images`` tables, logs prefixed ``web-1  | ``
(coloured per service on a terminal), errors as compose's bare message with exit 1, and ``run``/``exec``
ending with the command's own exit code. PyYAML, jsonschema and the compose package are imported by these
commands only.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tui.cli import CLIError, make_engine

if TYPE_CHECKING:
    from compose.model import Project
    from core.interface import Engine
    from core.models import ContainerSummary

# compose's log colours, in its order (cmd/formatter/colors.go: the rainbow, then its bright half)
_COLOURS = ["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"]
# compose's progress statuses of work under way: a terminal shows only the steps' ends, with a tick
_WORKING = {
    "Creating", "Starting", "Stopping", "Removing", "Waiting", "Pulling", "Building", "Recreate",
    "Restarting", "Killing", "Pushing",
}  # fmt: skip


def register(sub: Any) -> None:
    grp = sub.add_parser("compose", help="Define and run multi-container applications")
    g = grp.add_argument
    g("-f", "--file", action="append", default=[], metavar="FILE", help="compose configuration files")
    g("-p", "--project-name", metavar="NAME", help="project name")
    g("--profile", action="append", default=[], help="specify a profile to enable")
    g("--env-file", action="append", default=[], metavar="FILE", help="specify an alternate environment file")
    g("--project-directory", metavar="DIR", help="specify an alternate working directory")
    g(
        "--ansi",
        choices=["never", "always", "auto"],
        default="auto",
        help="control when to print ANSI control characters",
    )
    g(
        "--progress",
        choices=["auto", "tty", "plain", "quiet"],
        default="auto",
        help="set type of progress output",
    )
    csub = grp.add_subparsers(dest="compose_verb", metavar="COMMAND", parser_class=type(grp))

    def verb(name: str, help: str, func: Callable[[argparse.Namespace], int | None]) -> Any:
        p = csub.add_parser(name, help=help)
        p.set_defaults(func=_bare_errors(func))
        return p

    p = verb("up", "Create and start containers", cmd_up)
    p.add_argument(
        "-d", "--detach", action="store_true", help="detached mode: run containers in the background"
    )
    p.add_argument("--build", action="store_true", help="build images before starting containers")
    p.add_argument("--no-build", action="store_true", help="don't build an image, even if it's policy")
    p.add_argument("--force-recreate", action="store_true", help="recreate containers even if unchanged")
    p.add_argument(
        "--no-recreate", action="store_true", help="if containers already exist, don't recreate them"
    )
    p.add_argument("--no-deps", action="store_true", help="don't start linked services")
    p.add_argument("--no-start", action="store_true", help="don't start the services after creating them")
    p.add_argument("--remove-orphans", action="store_true", help="remove containers for services not defined")
    p.add_argument("--wait", action="store_true", help="wait for services to be running|healthy (implies -d)")
    p.add_argument("--wait-timeout", type=float, default=None, help="maximum duration in seconds to wait")
    p.add_argument("--scale", action="append", default=[], metavar="SERVICE=NUM", help="scale SERVICE to NUM")
    p.add_argument(
        "--pull", choices=["always", "missing", "never"], default="missing", help="pull image before running"
    )
    p.add_argument("-t", "--timeout", type=float, default=None, help="shutdown timeout in seconds")
    p.add_argument("--no-color", action="store_true", help="produce monochrome output")
    p.add_argument("--no-log-prefix", action="store_true", help="don't print prefix in logs")
    p.add_argument("--timestamps", action="store_true", help="show timestamps")
    p.add_argument("services", nargs="*", metavar="SERVICE")

    p = verb("down", "Stop and remove containers, networks", cmd_down)
    p.add_argument("-v", "--volumes", action="store_true", help="remove named volumes and anonymous volumes")
    p.add_argument("--rmi", choices=["local", "all"], help='remove images used by services: "local" or "all"')
    p.add_argument("--remove-orphans", action="store_true", help="remove containers for services not defined")
    p.add_argument("-t", "--timeout", type=float, default=None, help="shutdown timeout in seconds")

    p = verb("ps", "List containers", cmd_ps)
    p.add_argument("-a", "--all", action="store_true", help="show all stopped containers")
    p.add_argument("--format", default="table", help="'table', 'json' or a Go template")
    p.add_argument("-q", "--quiet", action="store_true", help="only display IDs")
    p.add_argument("--services", action="store_true", help="display services")
    p.add_argument("--status", action="append", default=[], help="filter services by status")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument("services_", nargs="*", metavar="SERVICE")

    p = verb("logs", "View output from containers", cmd_logs)
    p.add_argument("-f", "--follow", action="store_true", help="follow log output")
    p.add_argument("-n", "--tail", default="all", help="number of lines to show from the end of the logs")
    p.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    p.add_argument("--no-color", action="store_true", help="produce monochrome output")
    p.add_argument("--no-log-prefix", action="store_true", help="don't print prefix in logs")
    p.add_argument("--since", help="show logs since timestamp or relative (42m)")
    p.add_argument("--until", help="show logs before a timestamp or relative (42m)")
    p.add_argument("services", nargs="*", metavar="SERVICE")

    p = verb("build", "Build or rebuild services", cmd_build)
    p.add_argument("--no-cache", action="store_true", help="do not use cache when building the image")
    p.add_argument("--pull", action="store_true", help="always attempt to pull a newer version of the image")
    p.add_argument("-q", "--quiet", action="store_true", help="don't print anything to STDOUT")
    p.add_argument("services", nargs="*", metavar="SERVICE")

    p = verb("pull", "Pull service images", cmd_pull)
    p.add_argument("-q", "--quiet", action="store_true", help="pull without printing progress information")
    p.add_argument("--ignore-pull-failures", action="store_true", help="pull what it can and ignore failures")
    p.add_argument("services", nargs="*", metavar="SERVICE")

    p = verb("push", "Push service images", cmd_push)
    p.add_argument("-q", "--quiet", action="store_true", help="push without printing progress information")
    p.add_argument("services", nargs="*", metavar="SERVICE")

    for name, help, func in (
        ("start", "Start services", cmd_start),
        ("pause", "Pause services", cmd_pause),
        ("unpause", "Unpause services", cmd_unpause),
        ("top", "Display the running processes", cmd_top),
        ("images", "List images used by the created containers", cmd_images),
    ):
        p = verb(name, help, func)
        if name == "images":
            p.add_argument("-q", "--quiet", action="store_true", help="only display IDs")
            p.add_argument("--format", default="table", help="'table' or 'json'")
        p.add_argument("services", nargs="*", metavar="SERVICE")
    for name, help, func in (
        ("stop", "Stop services", cmd_stop),
        ("restart", "Restart service containers", cmd_restart),
    ):
        p = verb(name, help, func)
        p.add_argument(
            "-t", "--timeout", type=float, default=None, help="specify a shutdown timeout in seconds"
        )
        p.add_argument("services", nargs="*", metavar="SERVICE")

    p = verb("kill", "Force stop service containers", cmd_kill)
    p.add_argument("-s", "--signal", default="SIGKILL", help="SIGNAL to send to the container")
    p.add_argument("--remove-orphans", action="store_true", help="remove containers for services not defined")
    p.add_argument("services", nargs="*", metavar="SERVICE")

    p = verb("rm", "Removes stopped service containers", cmd_rm)
    p.add_argument("-f", "--force", action="store_true", help="don't ask to confirm removal")
    p.add_argument(
        "-s", "--stop", action="store_true", help="stop the containers, if required, before removing"
    )
    p.add_argument("-v", "--volumes", action="store_true", help="remove any anonymous volumes attached")
    p.add_argument("services", nargs="*", metavar="SERVICE")

    p = verb("exec", "Execute a command in a running container", cmd_exec)
    p.add_argument("-d", "--detach", action="store_true", help="detached mode: run command in the background")
    p.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true", help="disable pseudo-TTY allocation")
    p.add_argument("-e", "--env", action="append", default=[], help="set environment variables")
    p.add_argument("-u", "--user", help="run the command as this user")
    p.add_argument("-w", "--workdir", help="path to workdir directory for this command")
    p.add_argument(
        "--index", type=int, default=0, help="index of the container if service has multiple replicas"
    )
    p.add_argument("--privileged", action="store_true", help="give extended privileges to the process")
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")

    p = verb("run", "Run a one-off command on a service", cmd_run)
    p.add_argument("--rm", action="store_true", help="automatically remove the container when it exits")
    p.add_argument(
        "-d", "--detach", action="store_true", help="run container in background and print container ID"
    )
    p.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true", help="disable pseudo-TTY allocation")
    p.add_argument("-e", "--env", action="append", default=[], help="set environment variables")
    p.add_argument("-u", "--user", help="run as specified username or uid")
    p.add_argument("-w", "--workdir", help="working directory inside the container")
    p.add_argument("--entrypoint", help="override the entrypoint of the image")
    p.add_argument("--name", help="assign a name to the container")
    p.add_argument("--no-deps", action="store_true", help="don't start linked services")
    p.add_argument("--build", action="store_true", help="build image before starting container")
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")

    p = verb("config", "Parse, resolve and render compose file in canonical format", cmd_config)
    p.add_argument("--services", action="store_true", help="print the service names, one per line")
    p.add_argument("--volumes", action="store_true", help="print the volume names, one per line")
    p.add_argument("--networks", action="store_true", help="print the network names, one per line")
    p.add_argument("--profiles", action="store_true", help="print the profile names, one per line")
    p.add_argument("--images", action="store_true", help="print the image names, one per line")
    p.add_argument("-q", "--quiet", action="store_true", help="only validate the configuration")
    p.add_argument("-o", "--output", help="save to file (default to stdout)")

    p = verb("port", "Print the public port for a port binding", cmd_port)
    p.add_argument("--protocol", default="tcp", help="tcp or udp")
    p.add_argument(
        "--index", type=int, default=0, help="index of the container if service has multiple replicas"
    )
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("private_port", metavar="PRIVATE_PORT")

    p = verb("ls", "List running compose projects", cmd_ls)
    p.add_argument("-a", "--all", action="store_true", help="show all stopped Compose projects")
    p.add_argument("--format", default="table", help="'table' or 'json'")
    p.add_argument("-q", "--quiet", action="store_true", help="only display project names")

    p = verb("version", "Show the Docker Compose version information", cmd_version)
    p.add_argument("--short", action="store_true", help="shows only Compose's version number")
    p.add_argument("-f", "--format", help="'pretty' or 'json'")

    grp.set_defaults(func=lambda a: grp.print_help())


# ============================================================================================ helpers ====


def _bare_errors(func: Callable[[argparse.Namespace], int | None]) -> Callable[[argparse.Namespace], int]:
    """compose prints its errors as the bare message (``dependency failed to start: ...``), not docker's
    ``Error: ...``, and exits with 1 (the engine's own codes for ``run``/``exec`` come from the command)."""

    def run(args: argparse.Namespace) -> int:
        from core.errors import DockyardError

        try:
            return int(func(args) or 0)
        except DockyardError as err:
            if getattr(args, "debug", False):
                raise
            sys.stderr.write(f"{err}\n")
            return 1
        except CLIError as err:
            sys.stderr.write(f"{err}\n")
            return 1

    return run


def _services_arg(args: argparse.Namespace) -> list[str]:
    return list(getattr(args, "services", None) or [])


def load(args: argparse.Namespace, services: list[str] | None = None) -> Project:
    """The project the files (``-f``, ``COMPOSE_FILE``, else compose.yaml found from here up) describe."""
    from compose.loader import LoadOptions, load_project

    project = load_project(
        LoadOptions(
            files=list(args.file),
            project_name=args.project_name,
            project_directory=args.project_directory,
            profiles=list(args.profile),
            env_files=list(args.env_file),
            environ=dict(os.environ),
            enable_services=list(services or []),
        )
    )
    for warning in project.warnings:
        _warn(warning)
    return project


def _maybe_load(args: argparse.Namespace) -> tuple[str, Project | None]:
    """The project's name and, when there are files to read, the project: with ``-p`` and no ``-f``, a verb
    that works from labels alone goes on without files (``docker compose -p NAME down``)."""
    from compose.errors import ComposeFileNotFound

    name = args.project_name or os.environ.get("COMPOSE_PROJECT_NAME")
    if name and not args.file and not os.environ.get("COMPOSE_FILE"):
        try:
            project = load(args)
        except ComposeFileNotFound:
            return name.lower(), None
        return project.name, project
    project = load(args)
    return project.name, project


def _project_name(args: argparse.Namespace) -> str:
    return _maybe_load(args)[0]


def _reporter(args: argparse.Namespace) -> Callable[[str], None] | None:
    """Progress on stderr, as compose's: plain lines, or on a terminal the finished steps with a tick."""
    mode = getattr(args, "progress", "auto")
    if mode == "quiet":
        return None
    tty = mode == "tty" or (mode == "auto" and sys.stderr.isatty())

    def report(line: str) -> None:
        if tty and line.startswith(" "):
            body = line[1:].rstrip()
            # `` Container x  Started`` (a status), or `` web Pulled `` (a text)
            rid, _, status = body.partition("  ") if "  " in body else body.partition(" ")
            if status.split(" ")[0] in _WORKING:
                return  # a terminal shows where each step ended, not every step on its way
            failed = status.startswith("Error") or "didn't complete successfully" in status
            mark = "✘" if failed else "✔"
            line = f" {mark} {rid}  {status}"
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    return report


def _warn(text: str) -> None:
    sys.stderr.write(f"WARN[0000] {text}\n")
    sys.stderr.flush()


def _short(c: ContainerSummary, project: str) -> str:
    """A container as compose's logs name it: without the project prefix (``web-1``)."""
    return c.name.removeprefix(f"{project}-")


def _use_colour(args: argparse.Namespace) -> bool:
    if getattr(args, "no_color", False) or args.ansi == "never":
        return False
    return args.ansi == "always" or sys.stdout.isatty()


# ================================================================================================= up ====


def _scale(items: list[str]) -> dict[str, int]:
    out = {}
    for item in items:
        name, sep, n = item.partition("=")
        if not sep or not n.isdigit():
            raise CLIError(f"invalid --scale {item!r}: SERVICE=NUM")
        out[name] = int(n)
    return out


def cmd_up(args: argparse.Namespace) -> int:
    from compose import orchestrate

    services = _services_arg(args)
    project = load(args, services)
    engine = make_engine(args)
    report = _reporter(args)
    detach = args.detach or args.wait
    import time

    since = time.time()  # attached: the output from here on (a one-shot may be done before we follow it)
    orchestrate.up(
        engine,
        project,
        services=services or None,
        build=args.build and not args.no_build,
        force_recreate=args.force_recreate,
        no_recreate=args.no_recreate,
        no_deps=args.no_deps,
        remove_orphans=args.remove_orphans,
        wait=args.wait,
        scale=_scale(args.scale),
        pull=args.pull,
        report=report,
        warn=_warn,
        timeout=args.timeout,
        wait_timeout=args.wait_timeout,
        start=not args.no_start,
    )
    if detach or args.no_start:
        return 0
    names = services or list(project.services)
    return _attached(engine, project.name, names, args, report, since)


def _attached(
    engine: Engine,
    project: str,
    services: list[str],
    args: argparse.Namespace,
    report: Callable[[str], None] | None,
    since: float,
) -> int:
    """``up`` without -d: every container's output, prefixed, until they have all exited; ctrl-c stops
    the project (a second one kills it), as compose does."""
    import queue
    import threading

    from compose import orchestrate

    containers = orchestrate.project_containers(engine, project, all=True, services=services)
    names = [_short(c, project) for c in containers]
    print(f"Attaching to {', '.join(names)}", flush=True)
    printer = _Printer(names, _use_colour(args), not args.no_log_prefix, args.timestamps)
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    streams: list[Any] = []

    def follow(c: ContainerSummary) -> None:
        name = _short(c, project)
        try:
            with engine.container_logs(c.id, follow=True, since=since) as logs:
                streams.append(logs)
                for line in logs:
                    events.put(("line", (name, line)))
        except Exception:
            pass
        events.put(("end", c))

    for c in containers:
        threading.Thread(target=follow, args=(c,), daemon=True).start()
    left = len(containers)
    stopping = False
    try:
        while left:
            try:
                kind, item = events.get(timeout=0.5)
            except queue.Empty:
                continue
            if kind == "line":
                printer.line(*item)
            else:
                left -= 1
                try:
                    code = engine.container(item.id).exit_code or 0
                except Exception:
                    code = 0
                printer.status(_short(item, project), f"exited with code {code}")
    except KeyboardInterrupt:
        stopping = True
    if stopping:
        sys.stderr.write("Gracefully stopping... (press Ctrl+C again to force)\n")
        sys.stderr.flush()
        try:
            orchestrate.stop(engine, project, services, timeout=args.timeout, report=report)
        except KeyboardInterrupt:
            orchestrate.kill(engine, project, services, report=report)
        for s in streams:
            s.close()
        return 130
    return 0


class _Printer:
    """compose's log consumer: ``name  | line``, the names padded to the widest plus one, each in its
    colour on a terminal."""

    def __init__(self, names: list[str], colour: bool, prefix: bool, timestamps: bool) -> None:
        self.width = max((len(n) for n in names), default=0) + 1
        self.colour = colour
        self.prefix = prefix
        self.timestamps = timestamps
        self.colours: dict[str, str] = {}
        for n in names:
            self._code(n)

    def _code(self, name: str) -> str:
        if name not in self.colours:
            self.colours[name] = _COLOURS[len(self.colours) % len(_COLOURS)]
        return self.colours[name]

    def _paint(self, name: str, text: str) -> str:
        return f"\033[{self._code(name)}m{text}\033[0m" if self.colour else text

    def line(self, name: str, line: Any) -> None:
        head = self._paint(name, f"{name:<{self.width}} | ") if self.prefix else ""
        text = line.text.rstrip("\n")
        if self.timestamps:
            text = f"{line.time} {text}"
        out = sys.stderr if line.stream == "stderr" else sys.stdout
        out.write(f"{head}{text}\n")
        out.flush()

    def status(self, name: str, msg: str) -> None:
        sys.stdout.write(self._paint(name, f"{name} {msg}") + "\n")
        sys.stdout.flush()


# =========================================================================================== the rest ====


def cmd_down(args: argparse.Namespace) -> int:
    from compose import orchestrate

    name, project = _maybe_load(args)
    orchestrate.down(
        make_engine(args),
        name,
        volumes=args.volumes,
        rmi=args.rmi,
        remove_orphans=args.remove_orphans,
        project=project,
        report=_reporter(args),
        warn=_warn,
        timeout=args.timeout,
    )
    return 0


def cmd_ps(args: argparse.Namespace) -> int:
    from compose import labels as L
    from compose import orchestrate
    from compose.errors import ComposeError

    name, project = _maybe_load(args)
    services = list(args.services_)
    if project is not None:
        for s in services:
            if s not in project.services:
                raise ComposeError(f"no such service: {s}")
        services = services or list(project.services)  # orphans are not listed
    engine = make_engine(args)
    containers = orchestrate.project_containers(
        engine,
        name,
        all=args.all or bool(args.status),
        services=services or None,
        oneoff=None if args.all else False,
    )
    if args.status:
        containers = [c for c in containers if c.status in args.status]
    containers.sort(key=lambda c: c.name)
    if args.quiet:
        sys.stdout.write("".join(f"{c.id}\n" for c in containers))
        return 0
    if args.services:
        for s in dict.fromkeys(c.labels.get(L.SERVICE, "") for c in containers):
            print(s)
        return 0
    rows = [_ps_row(c, not args.no_trunc) for c in containers]
    if args.format != "table":  # what the table does not show needs each container's inspect document
        for row, c in zip(rows, containers, strict=True):
            row.update(_ps_details(engine, c.id))
    if args.format == "json":
        import json

        for r in rows:
            print(json.dumps({k: v for k, v in r.items() if k != "labels"}, separators=(",", ":")))
        return 0
    from tui.output import emit

    fmt = args.format
    if fmt == "table":
        fmt = _PS_TABLE
    emit(
        rows,
        fmt,
        [],
        go_type="*formatter.ContainerContext",
        header={
            "ID": "CONTAINER ID",
            "Name": "NAME",
            "Names": "NAMES",
            "Project": "PROJECT",
            "Service": "SERVICE",
            "Image": "IMAGE",
            "Command": "COMMAND",
            "CreatedAt": "CREATED AT",
            "RunningFor": "CREATED",
            "Ports": "PORTS",
            "State": "STATE",
            "Status": "STATUS",
            "Health": "HEALTH",
            "ExitCode": "EXIT CODE",
            "Labels": "LABELS",
        },
        labels="labels",
    )
    return 0


_PS_TABLE = (
    "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}"
)


def _ps_row(c: ContainerSummary, trunc: bool) -> dict[str, Any]:
    import json

    from compose import labels as L
    from tui.contexts import ellipsis
    from tui.output import ports_text, status_text, time_ago

    command = ellipsis(c.command, 20) if trunc else c.command
    return {
        "ID": c.id[:12] if trunc else c.id,
        "Name": c.name,
        "Names": c.name,
        "Image": c.image,
        "Command": json.dumps(command, ensure_ascii=False),
        "Project": c.labels.get(L.PROJECT, ""),
        "Service": c.labels.get(L.SERVICE, ""),
        "CreatedAt": c.created,
        "RunningFor": time_ago(c.created),
        "State": c.status,
        "Status": status_text(c),
        "Health": c.health,
        "ExitCode": c.exit_code or 0,
        "Ports": ports_text(c),
        "Publishers": [
            {
                "URL": p.host_ip or ("0.0.0.0" if p.host_port else ""),
                "TargetPort": p.container_port,
                "PublishedPort": p.host_port,
                "Protocol": p.protocol,
            }
            for p in c.ports
        ],
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(c.labels.items())),
        "labels": c.labels,
    }


def _ps_details(engine: Engine, cid: str) -> dict[str, Any]:
    """compose's Mounts, LocalVolumes, Networks and Size of a container (from its inspect document)."""
    from core.errors import NotFound

    try:
        doc = engine.inspect_container(cid)
    except NotFound:
        return {"Mounts": "", "LocalVolumes": "0", "Networks": "", "Size": "0B"}
    mounts = doc.get("Mounts") or []
    names = [str(m.get("Name") or m.get("Source") or "") for m in mounts]
    local = sum(1 for m in mounts if m.get("Type") == "volume" and m.get("Driver", "local") == "local")
    networks = sorted(((doc.get("NetworkSettings") or {}).get("Networks") or {}).keys())
    return {
        "Mounts": ",".join(names),
        "LocalVolumes": str(local),
        "Networks": ",".join(networks),
        "Size": "0B",
    }


def cmd_logs(args: argparse.Namespace) -> int:
    import queue
    import threading
    import time

    from compose import orchestrate
    from core.interface import parse_since

    name = _project_name(args)
    engine = make_engine(args)
    services = _services_arg(args)
    containers = orchestrate.project_containers(engine, name, all=True, services=services or None)
    if args.tail in ("all", "-1"):
        tail = None
    elif args.tail.isdigit():
        tail = int(args.tail)
    else:
        raise CLIError(f"invalid --tail {args.tail!r}: a number or 'all'")
    now = time.time()
    since = parse_since(args.since, now) if args.since else None
    until = parse_since(args.until, now) if args.until else None
    names = [_short(c, name) for c in containers]
    printer = _Printer(names, _use_colour(args), not args.no_log_prefix, args.timestamps)
    if not args.follow:
        for c in containers:
            with engine.container_logs(c.id, since=since, until=until, tail=tail) as logs:
                for line in logs:
                    printer.line(_short(c, name), line)
        return 0
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def follow(c: ContainerSummary) -> None:
        try:
            with engine.container_logs(c.id, follow=True, since=since, until=until, tail=tail) as logs:
                for line in logs:
                    events.put((_short(c, name), line))
        finally:
            events.put(("", None))

    for c in containers:
        threading.Thread(target=follow, args=(c,), daemon=True).start()
    left = len(containers)
    while left:
        who, line = events.get()
        if line is None:
            left -= 1
        else:
            printer.line(who, line)
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from compose import orchestrate

    services = _services_arg(args)
    project = load(args, services)
    engine = make_engine(args)
    out = orchestrate._Out(None if args.quiet else _reporter(args))
    for name in services or sorted(project.services):
        svc = project.services.get(name) or project.disabled.get(name)
        if svc is None:
            raise CLIError(f"no such service: {name}")
        if svc.get("build"):
            orchestrate.build_service(engine, project, name, svc, out, no_cache=args.no_cache, pull=args.pull)
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from compose import orchestrate
    from core.errors import DockyardError

    services = _services_arg(args)
    project = load(args, services)
    engine = make_engine(args)
    out = orchestrate._Out(None if args.quiet else _reporter(args))
    failed = 0
    for name in services or sorted(project.services):
        svc = project.services.get(name) or project.disabled[name]
        if not svc.get("image"):
            out.text_event(name, "Skipped - No image to be pulled")
            continue
        try:
            orchestrate.pull_service(engine, name, str(svc["image"]), out)
        except DockyardError as err:
            if svc.get("build"):
                out.warn(f"{name}: {err}")
                continue
            if not args.ignore_pull_failures:
                raise
            out.text_event(name, "Error")
            out.warn(str(err))
            failed += 1
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from compose import orchestrate

    services = _services_arg(args)
    project = load(args, services)
    engine = make_engine(args)
    out = orchestrate._Out(None if args.quiet else _reporter(args))
    for name in services or sorted(project.services):
        svc = project.services[name]
        if not svc.get("image"):
            continue
        out.text_event(name, "Pushing")
        engine.push(str(svc["image"]))
        out.text_event(name, "Pushed")
    return 0


def _simple(action: str) -> Callable[[argparse.Namespace], int]:
    def cmd(args: argparse.Namespace) -> int:
        from compose import orchestrate

        name = _project_name(args)
        engine = make_engine(args)
        services = _services_arg(args) or None
        report = _reporter(args)
        if action == "start":
            orchestrate.start(engine, name, services, report=report)
        elif action == "stop":
            orchestrate.stop(engine, name, services, timeout=args.timeout, report=report)
        elif action == "restart":
            orchestrate.restart(engine, name, services, timeout=args.timeout, report=report)
        elif action == "kill":
            if not orchestrate.kill(engine, name, services, signal=args.signal, report=report):
                sys.stderr.write("no container to kill")  # compose's words, without a newline
        elif action == "pause":
            orchestrate.pause(engine, name, services, report=report)
        elif action == "unpause":
            orchestrate.unpause(engine, name, services, report=report)
        return 0

    return cmd


cmd_start = _simple("start")
cmd_stop = _simple("stop")
cmd_restart = _simple("restart")
cmd_kill = _simple("kill")
cmd_pause = _simple("pause")
cmd_unpause = _simple("unpause")


def cmd_rm(args: argparse.Namespace) -> int:
    from compose import orchestrate

    name = _project_name(args)
    engine = make_engine(args)
    services = _services_arg(args) or None
    containers = [
        c for c in orchestrate.project_containers(engine, name, all=True, services=services)
        if args.stop or c.status not in ("running", "paused", "restarting")
    ]  # fmt: skip
    if not containers:
        print("No stopped containers")
        return 0
    if not args.force:
        sys.stdout.write(f"Going to remove {', '.join(c.name for c in containers)}\n")
        sys.stdout.write("? Are you sure you want to remove these containers? (y/N) ")
        sys.stdout.flush()
        if not sys.stdin.isatty() or sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    orchestrate.remove(
        engine, name, services, stop_first=args.stop, volumes=args.volumes, report=_reporter(args)
    )
    return 0


def _container_of(engine: Engine, project: str, service: str, index: int) -> ContainerSummary:
    from compose import labels as L
    from compose import orchestrate
    from compose.orchestrate import ComposeError

    running = orchestrate.project_containers(engine, project, all=False, services=[service])
    if not running:
        raise ComposeError(f'service "{service}" is not running')
    if index:
        for c in running:
            if L.container_number(c.labels) == index:
                return c
        raise ComposeError(f'service "{service}" is not running container #{index}')
    return running[0]


def cmd_exec(args: argparse.Namespace) -> int:
    from core.errors import CannotInvoke, CommandNotFound, RuntimeFailure
    from core.models import ExecConfig
    from tui.attach import pump, terminal_size

    if not args.command:
        raise CLIError('"exec" requires at least 2 arguments')
    name = _project_name(args)
    engine = make_engine(args)
    c = _container_of(engine, name, args.service, args.index)
    tty = not args.no_tty and sys.stdin.isatty() and not args.detach
    config = ExecConfig(
        cmd=list(args.command),
        env=list(args.env),
        user=args.user,
        working_dir=args.workdir,
        tty=tty,
        attach_stdin=not args.detach,
        detach=args.detach,
        privileged=args.privileged,
        console_size=terminal_size() if tty else None,
    )
    try:
        stream = engine.exec(c.id, config)
    except (CannotInvoke, CommandNotFound, RuntimeFailure) as err:
        sys.stderr.write(f"Error: {err}\n")
        return 126
    with stream:
        if args.detach:
            return 0
        return max(pump(stream, stdin=True, tty_mode=tty, forward_signals=True), 0)


def cmd_run(args: argparse.Namespace) -> int:
    import contextlib
    import shlex

    from compose import orchestrate
    from compose.confighash import service_hash
    from compose.convert import container_create
    from tui.attach import DETACHED, pump, terminal_size

    project = load(args, [args.service])
    svc = project.services.get(args.service) or project.disabled.get(args.service)
    if svc is None:
        raise CLIError(f"no such service: {args.service}")
    engine = make_engine(args)
    report = _reporter(args)
    deps = list(svc.get("depends_on") or {})
    if deps and not args.no_deps:
        orchestrate.up(engine, project, services=deps, report=report, warn=_warn)
    else:
        from compose.orchestrate import _Out, _used_networks, _used_volumes, ensure_networks, ensure_volumes

        out = _Out(report, _warn)
        ensure_networks(engine, project, _used_networks(project, {args.service: svc}), out)
        ensure_volumes(engine, project, _used_volumes({args.service: svc}), out)
    image_ids = orchestrate.ensure_images(
        engine, project, {args.service: svc}, orchestrate._Out(report), build=args.build, pull="missing"
    )
    svc = dict(svc)
    svc.pop("ports", None)  # compose run publishes no ports unless --service-ports
    if args.command:
        svc["command"] = list(args.command)
    if args.entrypoint is not None:
        svc["entrypoint"] = shlex.split(args.entrypoint)
    env = dict(svc.get("environment") or {})
    for item in args.env:
        k, sep, v = item.partition("=")
        env[k] = v if sep else os.environ.get(k)
    svc["environment"] = env
    if args.user:
        svc["user"] = args.user
    if args.workdir:
        svc["working_dir"] = args.workdir
    tty = not args.no_tty and sys.stdin.isatty() and not args.detach
    svc["tty"] = tty
    svc["stdin_open"] = not args.detach
    cname = args.name or orchestrate.run_container_name(project, args.service)
    request = container_create(
        project, args.service, svc, number=0, config_hash=service_hash(svc), image_id=image_ids[args.service],
        oneoff=True, container=cname, use_aliases=False,
    )  # fmt: skip
    from compose import labels as L

    request.config.labels[L.SLUG] = cname.rsplit("-", 1)[-1]
    request.host_config.auto_remove = args.rm
    summary = engine.create_container(request)
    if args.detach:
        engine.start_container(summary.id)
        print(summary.name)
        return 0
    try:
        stream = engine.start_attached(summary.id, stdin=True, tty_size=terminal_size() if tty else None)
    except BaseException:
        if args.rm:
            with contextlib.suppress(Exception):
                engine.remove_container(summary.id, force=True)
        raise
    with stream:
        code = pump(stream, stdin=True, tty_mode=tty, forward_signals=True)
    return 0 if code == DETACHED else code


def cmd_config(args: argparse.Namespace) -> int:
    project = load(args)
    lines: list[str] | None = None
    from compose.dump import config_services, config_volumes

    if args.services:
        lines = config_services(project)
    elif args.volumes:
        lines = config_volumes(project)
    elif args.networks:
        lines = list(project.networks)
    elif args.profiles:
        seen: dict[str, None] = {}
        for s in [*project.services.values(), *project.disabled.values()]:
            for p in s.get("profiles") or []:
                seen[p] = None
        lines = sorted(seen)
    elif args.images:
        from compose.convert import image_name

        lines = [image_name(project, n, s) for n, s in project.services.items()]
    if args.quiet:
        return 0
    if lines is not None:
        text = "".join(f"{x}\n" for x in lines)
    else:
        from compose.dump import dump_yaml

        text = dump_yaml(project)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_top(args: argparse.Namespace) -> int:
    from compose import orchestrate
    from tui.output import print_table

    name = _project_name(args)
    engine = make_engine(args)
    containers = orchestrate.project_containers(engine, name, all=False, services=_services_arg(args) or None)
    for i, c in enumerate(containers):
        titles, procs = engine.container_top(c.id)
        if i:
            print()
        print(c.name)
        print_table(titles, procs, minwidth=0)
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    import json

    from compose import orchestrate
    from tui.output import human_size

    name = _project_name(args)
    engine = make_engine(args)
    containers = orchestrate.project_containers(engine, name, all=True, services=_services_arg(args) or None)
    rows = []
    for c in containers:
        try:
            img = engine.image(c.image_id or c.image)
        except Exception:
            continue
        repo, tag = c.image, "latest"
        if img.repo_tags:
            repo, _, tag = img.repo_tags[0].rpartition(":")
        rows.append((c.name, repo, tag, img.id, img.short_id, img.size, img.created))
    if args.quiet:
        for r in dict.fromkeys(r[3] for r in rows):
            print(r.removeprefix("sha256:"))
        return 0
    if args.format == "json":
        print(
            json.dumps(
                [
                    {"ID": r[3], "ContainerName": r[0], "Repository": r[1], "Tag": r[2], "Size": r[5]}
                    for r in rows
                ]
            )
        )
        return 0
    from tui.output import print_table

    print_table(
        ["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"],
        [(r[0], r[1], r[2], r[4], human_size(r[5])) for r in rows],
        minwidth=10,
    )
    return 0


def cmd_port(args: argparse.Namespace) -> int:
    port = args.private_port
    if not port.isdigit():
        raise CLIError(f"invalid port {port!r}")
    name = _project_name(args)
    engine = make_engine(args)
    c = _container_of(engine, name, args.service, args.index)
    for p in engine.container_ports(c.id):
        if p.container_port == int(port) and p.protocol == args.protocol and p.host_port:
            print(f"{p.host_ip or '0.0.0.0'}:{p.host_port}")
            return 0
    from compose.orchestrate import ComposeError

    raise ComposeError(f"no port {port}/{args.protocol} for container {c.name}: N/A")


def cmd_ls(args: argparse.Namespace) -> int:
    import json

    from compose import orchestrate

    projects = orchestrate.list_projects(make_engine(args), all=args.all)
    if args.quiet:
        for p in projects:
            print(p.name)
        return 0
    if args.format == "json":
        print(
            json.dumps(
                [{"Name": p.name, "Status": p.status, "ConfigFiles": p.config_files} for p in projects]
            )
        )
        return 0
    from tui.output import print_table

    print_table(
        ["NAME", "STATUS", "CONFIG FILES"],
        [(p.name, p.status, p.config_files) for p in projects],
        minwidth=10,
    )
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    import json

    from compose.labels import COMPOSE_VERSION
    from core.interface import client_version

    if args.short:
        print(COMPOSE_VERSION)
    elif args.format == "json":
        print(json.dumps({"version": f"v{COMPOSE_VERSION}"}))
    else:
        print(f"Docker Compose version v{COMPOSE_VERSION} (dockyard {client_version()})")
    return 0
