"""``dockyard exec`` (and ``container exec``): run a command in a running container, docker's flags.

The engine starts the process and hands back a duplex stream; :func:`tui.attach.pump` copies our stdin to it
(``-i``) and its output to our stdout/stderr, keeps the window size in step (SIGWINCH), forwards
SIGINT/SIGTERM/SIGHUP/SIGQUIT to the process, honours the detach keys (ctrl-p ctrl-q with ``-it``), and we
exit with the command's exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from tui.cli import CLIError, make_engine


def register(sub: Any) -> None:
    _add_parser(sub)
    group = sub.choices.get("container")
    if group is not None:  # `dockyard container exec`, when the container group is being built
        for action in group._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_parser(action)


def _add_parser(sub: Any) -> None:
    p = sub.add_parser("exec", help="Execute a command in a running container")
    a = p.add_argument
    a("-d", "--detach", action="store_true", help="run the command in the background")
    a("--detach-keys", default=None, help="key sequence to detach (default ctrl-p,ctrl-q)")
    a("-e", "--env", action="append", default=[], help="set an environment variable (K=V or K)")
    a("--env-file", action="append", default=[], help="read environment variables from a file")
    a("-i", "--interactive", action="store_true", help="keep STDIN open")
    a("--privileged", action="store_true", help="give the command every capability")
    a("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    a("-u", "--user", help="user[:group] or uid[:gid]")
    a("-w", "--workdir", help="working directory inside the container")
    a("container", metavar="CONTAINER")
    a("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]")
    p.least_args = 2  # docker's count: CONTAINER and COMMAND
    p.set_defaults(func=cmd_exec)


def cmd_exec(args: argparse.Namespace) -> int:
    from core.models import ExecConfig
    from tui.attach import parse_detach_keys, pump, terminal_size
    from tui.runflags import parse_env_file

    if not args.command:  # docker's words, its usage line and pointer to --help; exit 1
        from tui.parser import requires_message

        prog = "dockyard exec" if args.verb == "exec" else "dockyard container exec"
        sys.stderr.write(
            f"{requires_message(prog, 2, most=None)}\n\n"
            f"Usage:  {prog} [OPTIONS] CONTAINER COMMAND [ARG...]\n\nSee '{prog} --help'.\n"
        )
        return 1
    if args.interactive and args.tty and not args.detach and not os.isatty(0):
        raise CLIError("the input device is not a TTY")
    detach_keys = parse_detach_keys(args.detach_keys)
    env = []
    for path in args.env_file:
        env += parse_env_file(path)
    env += args.env
    engine = make_engine(args)
    config = ExecConfig(
        cmd=list(args.command),
        env=env,
        user=args.user,
        working_dir=args.workdir,
        tty=args.tty,
        attach_stdin=args.interactive,
        detach=args.detach,
        privileged=args.privileged,
        console_size=terminal_size() if args.tty else None,
    )
    from core.errors import CannotInvoke, CommandNotFound, RuntimeFailure

    try:
        stream = engine.exec(args.container, config)
    except (CannotInvoke, CommandNotFound, RuntimeFailure) as err:
        # the process could not be started in the container (not found, not executable, no such user or
        # working directory): docker's exec exits 126 for all of them; a missing or stopped container is 1
        sys.stderr.write(f"Error: {err}\n")
        return 126
    with stream:
        if args.detach:
            return 0
        code = pump(
            stream, stdin=args.interactive, tty_mode=args.tty, detach_keys=detach_keys, forward_signals=True
        )
        return max(code, 0)  # detaching leaves the process running: exit 0, as docker
