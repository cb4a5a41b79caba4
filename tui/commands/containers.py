"""Container verbs: create, start, run, ps, stop, kill, restart, rm, wait, logs, inspect, rename, pause,
unpause, top, stats, attach, container prune (and the ``container`` management group)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from tui.cli import CLIError, make_engine
from tui.output import (
    check_template,
    confirm_prune,
    emit,
    for_each,
    format_rows,
    human_size,
    print_inspected,
    print_table,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from core.interface import Engine, LogStream
    from core.models import ContainerCreate, ContainerSummary


def _add_run_flags(p: Any, *, run: bool) -> None:
    """run's ~100 flags, on a parser being built (tui.runflags imported only then: `ps` does not pay)."""
    if isinstance(p, argparse.ArgumentParser):
        from tui.runflags import add_run_flags

        add_run_flags(p, run=run)


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="Create and run a new container from an image", add_help=False)
    p.add_argument("--help", action="help", help="show this help message and exit")
    _add_run_flags(p, run=True)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("create", help="Create a new container", add_help=False)
    p.add_argument("--help", action="help", help="show this help message and exit")
    _add_run_flags(p, run=False)
    p.set_defaults(func=cmd_create)

    _simple_verbs(sub)

    grp = sub.add_parser("container", help="Manage containers")
    gsub = grp.add_subparsers(dest="container_verb", metavar="COMMAND", parser_class=type(grp))
    _ps_parser(gsub, "ls", aliases=["list", "ps"])
    p = gsub.add_parser("prune", help="Remove all stopped containers")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.add_argument(
        "--filter", action="append", default=[], help="provide filter values (e.g. 'until=<timestamp>')"
    )
    p.set_defaults(func=cmd_prune)
    _simple_verbs(gsub, group=True)
    p = gsub.add_parser("inspect", help="Display detailed information on one or more containers")
    _inspect_args(p, "CONTAINER")
    p.set_defaults(func=cmd_inspect, type="container")
    p = gsub.add_parser("run", help="Create and run a new container", add_help=False)
    p.add_argument("--help", action="help")
    _add_run_flags(p, run=True)
    p.set_defaults(func=cmd_run)
    p = gsub.add_parser("create", help="Create a new container", add_help=False)
    p.add_argument("--help", action="help")
    _add_run_flags(p, run=False)
    p.set_defaults(func=cmd_create)
    grp.set_defaults(func=lambda a: grp.print_help())

    _ps_parser(sub, "ps")

    p = sub.add_parser("inspect", help="Return low-level information on Docker objects")
    _inspect_args(p, "NAME|ID")
    p.add_argument("--type", help="only look for this kind: container, image, network or volume")
    p.set_defaults(func=cmd_inspect)


def _inspect_args(p: argparse.ArgumentParser, metavar: str) -> None:
    p.add_argument("names", nargs="+", metavar=metavar)
    p.add_argument("-f", "--format", help="format the output using a template (or 'json')")
    p.add_argument(
        "-s", "--size", action="store_true", help="display total file sizes if the type is container"
    )


def _simple_verbs(sub: Any, group: bool = False) -> None:
    p = sub.add_parser("start", help="Start one or more stopped containers")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.add_argument("-a", "--attach", action="store_true", help="attach stdout/stderr and forward signals")
    p.add_argument("-i", "--interactive", action="store_true", help="attach the container's stdin")
    p.add_argument("--detach-keys", default=None)
    p.set_defaults(func=cmd_start)

    for verb, help_text in (
        ("stop", "Stop one or more running containers"),
        ("restart", "Restart one or more containers"),
    ):
        p = sub.add_parser(verb, help=help_text)
        p.add_argument("containers", nargs="+", metavar="CONTAINER")
        p.add_argument(
            "-t",
            "--time",
            "--timeout",
            type=int,
            dest="time",
            default=None,
            help="seconds to wait before killing the container",
        )
        p.add_argument("-s", "--signal", help=argparse.SUPPRESS)
        p.set_defaults(func=cmd_stop if verb == "stop" else cmd_restart)

    p = sub.add_parser("kill", help="Kill one or more running containers")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.add_argument("-s", "--signal", default="KILL", help="signal to send (default KILL)")
    p.set_defaults(func=cmd_kill)

    p = sub.add_parser(
        "rm",
        help="Remove one or more containers",
        aliases=["remove"] if group else [],
    )
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.add_argument("-f", "--force", action="store_true", help="force the removal of a running container")
    p.add_argument("-v", "--volumes", action="store_true", help="remove anonymous volumes too")
    p.set_defaults(func=cmd_rm)

    p = sub.add_parser("update", help="Update configuration of one or more containers")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.add_argument("-m", "--memory", help="memory limit (e.g. 64m)")
    p.add_argument("--memory-swap", help="memory + swap limit; -1 for unlimited swap")
    p.add_argument("--cpus", type=float, help="number of CPUs")
    p.add_argument("--pids-limit", type=int, help="maximum number of processes (-1 for unlimited)")
    p.add_argument("--restart", help="restart policy: no | on-failure[:N] | always | unless-stopped")
    p.set_defaults(func=cmd_update)

    p = sub.add_parser("diff", help="Inspect changes to files or directories on a container's filesystem")
    p.add_argument("container", metavar="CONTAINER")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("wait", help="Block until containers stop, then print their exit codes")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.set_defaults(func=cmd_wait)

    p = sub.add_parser("logs", help="Fetch the logs of a container")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("-f", "--follow", action="store_true", help="follow log output")
    p.add_argument("--tail", "-n", default="all", help="number of lines to show from the end (default all)")
    p.add_argument(
        "--since", help="show logs since a timestamp (e.g. 2026-01-02T13:23:37Z) or relative (e.g. 42m)"
    )
    p.add_argument("--until", help="show logs before a timestamp or relative time")
    p.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    p.add_argument("--details", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_logs)

    p = sub.add_parser("rename", help="Rename a container")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("new_name", metavar="NEW_NAME")
    p.set_defaults(func=cmd_rename)

    for verb in ("pause", "unpause"):
        p = sub.add_parser(verb, help=f"{verb.capitalize()} all processes within one or more containers")
        p.add_argument("containers", nargs="+", metavar="CONTAINER")
        p.set_defaults(func=cmd_pause if verb == "pause" else cmd_unpause)

    p = sub.add_parser("top", help="Display the running processes of a container")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("ps_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_top)

    p = sub.add_parser("stats", help="Display a live stream of container resource usage statistics")
    p.add_argument("containers", nargs="*", metavar="CONTAINER")
    p.add_argument(
        "-a", "--all", action="store_true", help="show all containers (default shows just running)"
    )
    p.add_argument("--no-stream", action="store_true", help="print one result and exit")
    p.add_argument("--format", help="'json' or a template")
    p.add_argument("--no-trunc", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("cp", help="Copy files/folders between a container and the local filesystem")
    p.add_argument("src", metavar="SRC", help="CONTAINER:SRC_PATH, a local path, or - for a tar on stdin")
    p.add_argument("dest", metavar="DEST", help="CONTAINER:DEST_PATH, a local path, or - for a tar on stdout")
    p.add_argument("-a", "--archive", action="store_true", help="archive mode (copy all uid/gid information)")
    p.add_argument("-L", "--follow-link", action="store_true", help="always follow a symlink in SRC_PATH")
    p.add_argument("-q", "--quiet", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_cp)

    p = sub.add_parser("attach", help="Attach local standard input, output, and error to a running container")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("--detach-keys", default=None)
    p.add_argument("--no-stdin", action="store_true", help="do not attach stdin")
    p.add_argument("--sig-proxy", default="true", help="proxy all received signals to the process")
    p.set_defaults(func=cmd_attach)


def _ps_parser(sub: Any, name: str, aliases: list[str] | None = None) -> None:
    p = sub.add_parser(name, help="List containers", aliases=aliases or [])
    p.add_argument(
        "-a", "--all", action="store_true", help="show all containers (default shows just running)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="only display container IDs")
    p.add_argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        help="filter output based on conditions provided (ancestor, before, exited, expose, health, id, "
        "is-task, label, name, network, publish, since, status, volume)",
    )
    p.add_argument("--format", help="'json', 'table', 'table TEMPLATE' or a template")
    p.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    p.add_argument("-n", "--last", type=int, default=-1, help="show n last created containers")
    p.add_argument("-l", "--latest", action="store_true", help="show the latest created container")
    p.add_argument("-s", "--size", action="store_true", help="display total file sizes")
    p.set_defaults(func=cmd_ps)


# --------------------------------------------------------------------- helpers


# -------------------------------------------------------------------- commands


def cmd_create(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    summary = _create_with_pull(engine, args)
    print(summary.id)
    return 0


def _create_with_pull(engine: Engine, args: argparse.Namespace) -> ContainerSummary:
    from tui.runflags import run_config

    run = run_config(args)
    cidfile = run.host_config.container_id_file
    if not cidfile:
        summary = _create_pulling(engine, run, args)
    else:
        from tui.runflags import cidfile_open

        with cidfile_open(cidfile) as write_id:
            summary = _create_pulling(engine, run, args)
            write_id(summary.id)
    if run.host_config.oom_kill_disable:  # the only setting with a warning (spares the import)
        from core.interface import create_warnings

        for warning in create_warnings(run):
            sys.stderr.write(f"WARNING: {warning}\n")
    return summary


def _create_pulling(engine: Engine, run: ContainerCreate, args: argparse.Namespace) -> ContainerSummary:
    quiet = getattr(args, "quiet", False)
    if run.pull != "always":
        from core.errors import ImageNotFound
        from core.models import replace

        # as the docker CLI: a create that finds no image (or not the platform asked for) is the cue to say
        # so and pull; no separate look-up first (a request more to a remote engine)
        try:
            return engine.create_container(replace(run, pull="never"))
        except ImageNotFound:
            if run.pull == "never":
                raise
    if not quiet:
        sys.stderr.write(f"Unable to find image '{run.image}' locally\n" if run.pull != "always" else "")
    from tui.progress import progress_for  # only when there is something to pull

    with progress_for(quiet or not sys.stderr.isatty()) as bars:
        return engine.create_container(run, progress=bars)


def cmd_run(args: argparse.Namespace) -> int:
    from tui.attach import DETACHED, parse_bool_flag, parse_detach_keys, pump, terminal_size

    if args.interactive and args.tty and not args.detach and not sys.stdin.isatty():
        # docker's CLI refuses before it creates anything, and exits 1
        if getattr(args, "launcher", None) is not None:
            args.launcher.cancel()
        sys.stderr.write("Error: the input device is not a TTY\n")
        return 1
    engine = make_engine(args)
    detach_keys = parse_detach_keys(args.detach_keys)
    sig_proxy = parse_bool_flag(args.sig_proxy, "--sig-proxy")
    # the engine's start-up work (the local one: the shim) overlaps the container's creation
    prepared = getattr(args, "launcher", None) or engine.prepare_start()
    try:
        summary = _create_with_pull(engine, args)
    except BaseException:
        if prepared is not None:
            prepared.cancel()
        raise
    if args.detach:
        engine.start_container(summary.id, prepared=prepared)
        print(summary.id)
        return 0
    try:
        stream = engine.start_attached(
            summary.id,
            stdin=bool(args.interactive),
            tty_size=terminal_size() if args.tty else None,
            prepared=prepared,
        )
    except BaseException:
        if args.rm:
            with contextlib.suppress(Exception):
                engine.remove_container(summary.id, force=True)
        raise
    if args.attach:  # -a: only the streams named
        from tui.runflags import AttachedStreams

        stream = AttachedStreams(stream, {a.lower() for a in args.attach})
    with stream:
        # with --rm the shim removes the container before it reports the exit
        code = pump(
            stream,
            stdin=bool(args.interactive),
            tty_mode=bool(args.tty),
            detach_keys=detach_keys,
            forward_signals=sig_proxy,  # docker's run proxies them with a terminal too
        )
    if args.rm and code != DETACHED and stream.exit_code is None:
        # the stream ended with no exit reported: the shim died, and nobody else will remove the container
        # (or stop what is left of it) before we return
        with contextlib.suppress(Exception):
            engine.remove_container(summary.id, force=True, volumes=True)
    return 0 if code == DETACHED else code


def cmd_start(args: argparse.Namespace) -> int:
    from tui.attach import DETACHED, parse_detach_keys, pump

    engine = make_engine(args)
    if args.attach or args.interactive:
        if len(args.containers) > 1:
            raise CLIError("you cannot start and attach multiple containers at once")
        c = engine.container(args.containers[0])
        stream = engine.start_attached(c.id, stdin=args.interactive)
        with stream:
            code = pump(
                stream,
                stdin=args.interactive,
                tty_mode=stream.tty,
                detach_keys=parse_detach_keys(args.detach_keys),
                forward_signals=not stream.tty,  # docker's start -a proxies signals without a terminal
            )
        return 0 if code == DETACHED else code
    from core.errors import DockyardError

    failed: list[str] = []

    def start(name: str) -> None:
        try:
            engine.start_container(name)
        except DockyardError:
            failed.append(name)
            raise

    code = for_each(args.containers, start)
    if failed:  # docker's CLI ends with the list of what did not start
        raise CLIError(f"failed to start containers: {', '.join(failed)}")
    return code


def cmd_stop(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    return for_each(args.containers, lambda n: engine.stop_container(n, args.time))


def cmd_restart(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    return for_each(args.containers, lambda n: engine.restart_container(n, args.time))


def cmd_kill(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    return for_each(args.containers, lambda n: engine.kill_container(n, args.signal))


def cmd_rm(args: argparse.Namespace) -> int:
    """docker's ``rm``: each name in turn, printed once removed; one that is not there is an error, except
    with ``-f``: said on stderr all the same, but not a failure (docker exits 0)."""
    from core.errors import DockyardError, NotFound

    engine = make_engine(args)
    failed = 0
    for name in args.containers:
        try:
            engine.remove_container(name, force=args.force, volumes=args.volumes)
        except DockyardError as err:
            sys.stderr.write(f"Error: {err}\n")
            if not (args.force and isinstance(err, NotFound)):
                failed = 1
            continue
        print(name)
    return failed


def cmd_pause(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    return for_each(args.containers, engine.pause_container)


def cmd_unpause(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    return for_each(args.containers, engine.unpause_container)


def cmd_wait(args: argparse.Namespace) -> int:
    from core.errors import DockyardError

    engine = make_engine(args)
    failed = 0
    for name in args.containers:
        try:
            print(engine.wait_container(name))
        except DockyardError as err:
            sys.stderr.write(f"Error: {err}\n")
            failed = 1
    return failed


def cmd_update(args: argparse.Namespace) -> int:
    from core.interface import parse_bytes
    from core.models import ContainerUpdate
    from tui.runflags import parse_restart

    swap = None
    if args.memory_swap:
        swap = -1 if args.memory_swap == "-1" else parse_bytes(args.memory_swap)
    update = ContainerUpdate(
        memory=parse_bytes(args.memory) if args.memory else None,
        memory_swap=swap,
        nano_cpus=round(args.cpus * 1e9) if args.cpus is not None else None,
        pids_limit=args.pids_limit,
        restart_policy=parse_restart(args.restart) if args.restart else None,
    )
    if update == ContainerUpdate():
        raise CLIError("you must provide one or more flags when using this command")
    engine = make_engine(args)
    return for_each(args.containers, lambda n: engine.update_container(n, update))


_CHANGE_LETTERS = {0: "C", 1: "A", 2: "D"}


def cmd_diff(args: argparse.Namespace) -> int:
    for change in make_engine(args).container_changes(args.container):
        print(f"{_CHANGE_LETTERS[change['Kind']]} {change['Path']}")
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    from core.errors import DockyardError

    try:
        make_engine(args).rename_container(args.container, args.new_name)
    except DockyardError as err:  # docker's CLI: the daemon's error, then its own
        if getattr(args, "debug", False):
            raise
        sys.stderr.write(f"Error: {err}\n")
        raise CLIError(f"failed to rename container named {args.container}") from err
    return 0


def cmd_ps(args: argparse.Namespace) -> int:
    from core.interface import parse_filters

    filters = parse_filters(args.filter)
    if args.format:  # like docker: the template is checked on an empty row before anything is listed
        from tui.contexts import ContainerContext

        parse_err, exec_err = "failed to parse template: ", "failed to execute template: "
        check_template(args.format, ContainerContext(None), parse_err, exec_err)
    engine = make_engine(args)
    show_all = args.all or args.last > 0 or args.latest
    containers = engine.list_containers(all=show_all, filters=filters or None)
    if args.latest:
        containers = containers[:1]
    elif args.last > 0:
        containers = containers[: args.last]
    if args.quiet and args.format:
        sys.stderr.write("WARNING: Ignoring custom format, because both --format and --quiet are set.\n")
    if args.quiet and args.format != "raw":
        sys.stdout.write("".join(f"{c.id if args.no_trunc else c.id[:12]}\n" for c in containers))
        return 0
    from tui.contexts import CONTAINER_HEADER, CONTAINER_RAW, CONTAINER_TABLE, ContainerContext

    fmt = args.format or "table"
    if fmt == "table":
        fmt = CONTAINER_TABLE + ("\t{{.Size}}" if args.size else "")
    elif fmt == "raw":
        fmt = (
            "container_id: {{.ID}}"
            if args.quiet
            else CONTAINER_RAW + ("size: {{.Size}}\\n" if args.size else "")
        )
    # docker's CLI looks for .Size in the format as given: the word "json" has none, so no sizes then
    sizes = args.size or fmt != "json"
    contexts = [ContainerContext(c, not args.no_trunc, engine.inspect_container, sizes) for c in containers]
    format_rows(contexts, fmt, CONTAINER_HEADER)
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from core.interface import parse_since

    engine = make_engine(args)
    now = time.time()
    since = parse_since(args.since, now) if args.since else None
    until = parse_since(args.until, now) if args.until else None
    if args.tail in ("all", "-1"):
        tail = None
    elif args.tail.isdigit():
        tail = int(args.tail)
    else:
        raise CLIError(f"invalid --tail {args.tail!r}: a number or 'all'")
    out, err = sys.stdout.buffer, sys.stderr.buffer
    with engine.container_logs(
        args.container, follow=args.follow, since=since, until=until, tail=tail, timestamps=args.timestamps
    ) as lines:
        # the text as it is comes in pieces as the engine has them; with its time or details, line by line
        pieces = lines.output() if not (args.details or args.timestamps) else _decorated(lines, args)
        for stream, data in pieces:
            target = err if stream == "stderr" else out
            target.write(data)
            if args.follow:
                target.flush()
    out.flush()
    return 0


def _decorated(lines: LogStream, args: argparse.Namespace) -> Iterator[tuple[str, bytes]]:
    """Each line led by docker's ``--details`` (the attrs, sorted and query-escaped, then a space, even with
    none) and ``--timestamps`` (its time)."""
    from urllib.parse import quote_plus

    for line in lines:
        text = line.text
        if args.details:
            attrs = ",".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in sorted(line.attrs.items()))
            text = f"{attrs} {text}"
        if args.timestamps:
            text = f"{line.time} {text}"
        yield line.stream, text.encode("utf-8", "surrogateescape")


_INSPECT_KINDS = ("container", "image", "network", "volume")
_DOCKER_KINDS = (
    "config",
    "container",
    "image",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "task",
    "volume",
)


def cmd_inspect(args: argparse.Namespace) -> int:
    """``inspect`` (every kind in docker's order, or ``--type``), and ``container inspect``."""
    from core.errors import InvalidArgument, NotFound

    kind = args.type
    if kind and kind not in _INSPECT_KINDS:
        if kind in _DOCKER_KINDS:
            raise CLIError(f"{kind} objects are swarm or plugin objects, which dockyard does not have")
        sys.stderr.write(
            f'unknown type: "{kind}": must be one of ' + ", ".join(f'"{k}"' for k in _DOCKER_KINDS) + "\n"
        )
        return 1
    engine = make_engine(args)

    def look(kind: str, name: str) -> dict[str, Any]:
        if kind == "container":
            return engine.inspect_container(name, size=args.size)
        if kind == "image":
            return engine.inspect_image(name)
        if kind == "network":
            return engine.inspect_network(name)
        return engine.inspect_volume(name)

    found, failed = [], False
    for name in args.names:
        if kind:  # one kind: its own "not found" message, as docker's
            try:
                found.append(look(kind, name))
            except NotFound as err:
                sys.stderr.write(f"Error: {err}\n")
                failed = True
            continue
        for each in _INSPECT_KINDS:
            try:
                found.append(look(each, name))
                break
            except (NotFound, InvalidArgument):  # a name that cannot be this kind's is not one of them
                continue
        else:
            sys.stderr.write(f"Error: No such object: {name}\n")
            failed = True
    print_inspected(found, args.format)
    return 1 if failed else 0


def cmd_top(args: argparse.Namespace) -> int:
    titles, rows = make_engine(args).container_top(args.container, " ".join(args.ps_args))
    print_table(titles, rows)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    engine = make_engine(args)
    names = args.containers or [c.id for c in engine.list_containers(all=args.all)]

    def rows() -> list[dict[str, Any]]:
        out = []
        for n in names:
            s = engine.container_stats(n)
            pct = (100.0 * s.memory_usage / s.memory_limit) if s.memory_limit else 0.0
            out.append(
                {
                    "Container": n if args.containers else s.id[:12],  # docker: as the user named it
                    "ID": s.id if args.no_trunc else s.id[:12],
                    "Name": s.name,
                    "CPUPerc": f"{s.cpu_percent:.2f}%",
                    "MemUsage": f"{_bin_size(s.memory_usage)} / {_bin_size(s.memory_limit)}",
                    "MemPerc": f"{pct:.2f}%",
                    "PIDs": str(s.pids),
                    "NetIO": f"{_dec_size(s.net_rx)} / {_dec_size(s.net_tx)}",
                    "BlockIO": f"{_dec_size(s.block_read)} / {_dec_size(s.block_write)}",
                }
            )
        return out

    from tui.contexts import STATS_HEADER, STATS_TABLE

    def show(data: list[dict[str, Any]]) -> None:
        emit(
            data, args.format, [], go_type="*container.statsContext", header=STATS_HEADER, default=STATS_TABLE
        )

    if args.no_stream:
        show(rows())
        return 0
    try:
        while True:
            data = rows()
            sys.stdout.write("\x1b[2J\x1b[H")
            show(data)
            sys.stdout.flush()
            time.sleep(0.8)
    except KeyboardInterrupt:
        return 0


def _dec_size(n: int) -> str:
    """docker's units.HumanSizeWithPrecision(n, 3): decimal units, three significant digits (stats I/O)."""
    size, unit = float(n), 0
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
    while size >= 1000 and unit < len(units) - 1:
        size /= 1000
        unit += 1
    return f"{size:.3g}{units[unit]}"


def _bin_size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.4g}{unit}" if unit != "B" else f"{n}B"
        n /= 1024  # type: ignore[assignment]
    return f"{n}B"


def cmd_attach(args: argparse.Namespace) -> int:
    from tui.attach import DETACHED, parse_bool_flag, parse_detach_keys, pump

    engine = make_engine(args)
    sig_proxy = parse_bool_flag(args.sig_proxy, "--sig-proxy")
    info = engine.inspect_container(args.container)
    stdin = not args.no_stdin and bool(info["Config"]["OpenStdin"])
    tty_mode = bool(info["Config"]["Tty"])
    with engine.attach_container(args.container, stdin=stdin) as stream:
        code = pump(
            stream,
            stdin=stdin,
            tty_mode=tty_mode,
            detach_keys=parse_detach_keys(args.detach_keys),
            forward_signals=sig_proxy and not tty_mode,  # as docker's attach
        )
    return 0 if code == DETACHED else code


def cmd_prune(args: argparse.Namespace) -> int:
    from core.interface import parse_filters

    filters = parse_filters(args.filter)
    if not confirm_prune("all stopped containers", args.force):
        return 0
    removed, freed = make_engine(args).prune_containers(filters=filters or None)
    if removed:
        print("Deleted Containers:")
        for cid in removed:
            print(cid)
        print()
    print(f"Total reclaimed space: {human_size(freed)}")
    return 0


def _split_container_path(arg: str) -> tuple[str | None, str]:
    """docker's rule: "NAME:PATH" names a container path unless the part before ':' contains '/' or the
    argument starts with '.' or '/'."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None, arg
    name, _, path = arg.partition(":")
    if "/" in name:
        return None, arg
    return name, path or "/"


def cmd_cp(args: argparse.Namespace) -> int:
    src_ctr, src = _split_container_path(args.src)
    dst_ctr, dst = _split_container_path(args.dest)
    if src_ctr is None and dst_ctr is None:  # docker's words
        raise CLIError("must specify at least one container source")
    if src_ctr is not None and dst_ctr is not None:
        raise CLIError("copying between containers is not supported")
    engine = make_engine(args)
    if src_ctr is not None:
        if dst == "-":
            if sys.stdout.isatty():
                raise CLIError("cowardly refusing to write a tar to a terminal: redirect stdout")
            engine.archive_from_container(src_ctr, src, sys.stdout.buffer)
            sys.stdout.flush()
        else:
            engine.copy_from_container(src_ctr, src, dst, archive=args.archive)
        return 0
    assert dst_ctr is not None
    if src == "-":
        engine.extract_to_container(dst_ctr, dst, sys.stdin.buffer, archive=args.archive)
    else:
        engine.copy_to_container(dst_ctr, src, dst, archive=args.archive)
    return 0
