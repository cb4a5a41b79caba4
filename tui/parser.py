"""The argparse parser every verb's flags are declared on: docker's exit code (125) and one-line error
for usage errors, help sized to the terminal.

Apart from ``tui.cli`` so that ``dockyard run`` imports argparse only after it has forked its shim (the
shim has no use for it).
"""

from __future__ import annotations

import argparse
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from typing import Any


class _Formatter(argparse.HelpFormatter):
    """argparse's help layout at the terminal's width, found without importing shutil: argparse makes a
    formatter for every flag it adds, and its own sizes itself with shutil (~1 ms of a ``run``)."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        super().__init__(
            prog, indent_increment, max_help_position, _columns() - 2 if width is None else width
        )


def _columns() -> int:
    """What ``shutil.get_terminal_size().columns`` says: $COLUMNS, else the width of the terminal on stdout,
    else 80."""
    try:
        if (columns := int(os.environ.get("COLUMNS", "0"))) > 0:
            return columns
    except ValueError:
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


class Parser(argparse.ArgumentParser):
    """argparse with docker's exit code for usage errors (125) and its one-line error style.

    No prefix matching (docker has none): ``--priv`` is an unknown flag, not ``--privileged``, and
    ``--pid host`` is not ``--pids-limit host``. Subparsers are made with this class, so every verb's parser
    gets it too."""

    least_args: int | None = None  # the fewest arguments, when argparse cannot tell from the positionals

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        ns, rest = super().parse_known_args(args, namespace)
        if not hasattr(ns, _PROG):  # the innermost parser (a verb's) finishes first
            setattr(ns, _PROG, self.prog)
        return ns, rest

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        ns, rest = self.parse_known_args(args, namespace)
        prog = getattr(ns, _PROG, self.prog)
        delattr(ns, _PROG)
        if rest:
            flags = [a for a in rest if a.startswith("-") and a != "-"]
            if flags:  # docker's words and no usage block, with the verb's help: `unknown flag: --priv`
                sys.stderr.write(f"Error: unknown flag: {flags[0].split('=', 1)[0]}\nSee '{prog} --help'.\n")
                sys.exit(125)
            self.error(f"unrecognized arguments: {' '.join(rest)}")
        return ns

    def error(self, message: str) -> None:  # type: ignore[override]
        """docker's CLI: a bad flag or flag value exits 125; a missing argument or an unknown command, 1."""
        if message.startswith("argument COMMAND: invalid choice: "):
            word = message.removeprefix("argument COMMAND: invalid choice: ").split(" ", 1)[0].strip("'")
            sys.stderr.write(f"Error: unknown command: {self.prog} {word}\nSee '{self.prog} --help'.\n")
            sys.exit(1)
        message = _docker_flag_message(message)
        self.print_usage(sys.stderr)
        if message.startswith("the following arguments are required"):
            least, most = self._positional_count()
            text = requires_message(self.prog, least, most=most)
            sys.stderr.write(f"{text}\nSee '{self.prog} --help'.\n")
            sys.exit(1)
        sys.stderr.write(f"Error: {message}\nSee '{self.prog} --help'.\n")
        sys.exit(125)

    def _positional_count(self) -> tuple[int, int | None]:
        """How many arguments the verb takes: the least and the most (None: no limit)."""
        least, most = 0, 0
        unbounded = False
        if self.least_args is not None:  # the verb checks its arguments itself (exec: CONTAINER COMMAND)
            return self.least_args, None
        for action in self._actions:
            if action.option_strings or isinstance(action, argparse._SubParsersAction):
                continue
            if action.nargs is None:
                least, most = least + 1, most + 1
            elif isinstance(action.nargs, int):
                least, most = least + action.nargs, most + action.nargs
            elif action.nargs == argparse.OPTIONAL:
                most += 1
            else:
                least += 1 if action.nargs == argparse.ONE_OR_MORE else 0
                unbounded = True
        return least, None if unbounded else most


def _docker_flag_message(message: str) -> str:
    """argparse's words for a flag value its type refused (``argument -n/--last: invalid int value: 'x'``)
    in the docker CLI's (pflag's): ``invalid argument "x" for "-n, --last" flag: strconv.ParseInt: ...``."""
    import re

    m = re.fullmatch(r"argument (\S+): invalid (int|float) value: '(.*)'", message, re.DOTALL)
    if m is None:
        return message
    flags = ", ".join(sorted(m.group(1).split("/"), key=lambda f: f.startswith("--")))
    value = m.group(3)
    func = "ParseInt" if m.group(2) == "int" else "ParseFloat"
    return f'invalid argument "{value}" for "{flags}" flag: strconv.{func}: parsing "{value}": invalid syntax'


def requires_message(prog: str, least: int, *, most: int | None) -> str:
    """The docker CLI's words for a verb given too few arguments, after the program's name:
    ``docker: 'docker logs' requires 1 argument``, ``... requires at least 2 arguments``,
    ``... requires at least 1 and at most 2 arguments``."""
    if most == least:
        count = f"{least} argument{'s' if least != 1 else ''}"
    elif most is None:
        count = f"at least {least} argument{'s' if least != 1 else ''}"
    else:
        count = f"at least {least} and at most {most} arguments"
    return f"{prog.split()[0]}: '{prog}' requires {count}"


_PROG = "_dockyard_parser_prog"  # where the innermost parser leaves its prog on the namespace
