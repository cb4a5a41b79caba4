"""``dockyard compose``'s output formats, without an engine: the log prefix (compose's padding and colours),
the progress lines (plain, and with ticks on a terminal), ``--scale`` parsing, and the verbs' flags."""

from __future__ import annotations

import argparse

import pytest

from core.models import LogLine
from tui.cli import CLIError, build_parser
from tui.commands import compose as cmd


def _line(text: str, stream: str = "stdout") -> LogLine:
    return LogLine(stream=stream, time="2026-12-03T10:00:00.123456789Z", text=text)


def test_log_prefix_is_padded_to_the_longest_name_plus_one(capsys: pytest.CaptureFixture[str]) -> None:
    printer = cmd._Printer(["web-1", "migrate-1"], colour=False, prefix=True, timestamps=False)
    printer.line("web-1", _line("hello\n"))
    printer.line("migrate-1", _line("oops\n", "stderr"))
    printer.status("web-1", "exited with code 0")
    out, err = capsys.readouterr()
    assert out == "web-1      | hello\nweb-1 exited with code 0\n"
    assert err == "migrate-1  | oops\n"


def test_log_lines_with_timestamps_colours_and_no_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    printer = cmd._Printer(["web-1"], colour=False, prefix=True, timestamps=True)
    printer.line("web-1", _line("hi\n"))
    assert capsys.readouterr().out == "web-1  | 2026-12-03T10:00:00.123456789Z hi\n"
    printer = cmd._Printer(["db-1", "web-1"], colour=True, prefix=True, timestamps=False)
    printer.line("db-1", _line("a\n"))
    printer.line("web-1", _line("b\n"))
    # compose's colours in its order, one per container, only around the prefix
    assert capsys.readouterr().out == "\033[36mdb-1   | \033[0ma\n\033[33mweb-1  | \033[0mb\n"
    printer = cmd._Printer(["web-1"], colour=False, prefix=False, timestamps=False)
    printer.line("web-1", _line("plain\n"))
    assert capsys.readouterr().out == "plain\n"


def test_progress_plain_and_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    plain = cmd._reporter(argparse.Namespace(progress="plain"))
    assert plain is not None
    plain(" Container app-web-1  Starting")
    plain(" Container app-web-1  Started")
    assert capsys.readouterr().err == " Container app-web-1  Starting\n Container app-web-1  Started\n"
    tty = cmd._reporter(argparse.Namespace(progress="tty"))
    assert tty is not None
    tty(" Container app-web-1  Starting")  # work in progress: a terminal shows only where it ended
    tty(" Container app-web-1  Started")
    tty(" Network app_default  Created")
    tty(" web Pulling ")
    tty(" web Pulled ")
    tty(" Container app-db-1  Error")
    tty(' Container app-job-1  service "job" didn\'t complete successfully: exit 3')
    assert capsys.readouterr().err == (
        " ✔ Container app-web-1  Started\n"
        " ✔ Network app_default  Created\n"
        " ✔ web  Pulled\n"
        " ✘ Container app-db-1  Error\n"
        ' ✘ Container app-job-1  service "job" didn\'t complete successfully: exit 3\n'
    )
    assert cmd._reporter(argparse.Namespace(progress="quiet")) is None


def test_scale_flags() -> None:
    assert cmd._scale(["web=3", "db=0"]) == {"web": 3, "db": 0}
    for bad in ("web", "web=x", "web=-1"):
        with pytest.raises(CLIError, match="SERVICE=NUM"):
            cmd._scale([bad])


def test_the_verbs_and_their_flags_parse_as_compose_s() -> None:
    p = build_parser(["compose"])
    a = p.parse_args(["compose", "-f", "a.yaml", "-f", "b.yaml", "-p", "x", "--profile", "dev", "up", "-d",
                      "--scale", "web=2", "--wait", "web"])  # fmt: skip
    assert (a.file, a.project_name, a.profile, a.detach, a.scale, a.wait, a.services) == (
        ["a.yaml", "b.yaml"], "x", ["dev"], True, ["web=2"], True, ["web"],
    )  # fmt: skip
    a = p.parse_args(["compose", "down", "-v", "--rmi", "local", "--remove-orphans", "-t", "3"])
    assert (a.volumes, a.rmi, a.remove_orphans, a.timeout) == (True, "local", True, 3.0)
    a = p.parse_args(["compose", "exec", "-T", "-e", "A=1", "-u", "1000", "-w", "/tmp", "--index", "2", "web",
                      "sh", "-c", "echo hi"])  # fmt: skip
    assert (a.no_tty, a.env, a.user, a.workdir, a.index, a.service, a.command) == (
        True, ["A=1"], "1000", "/tmp", 2, "web", ["sh", "-c", "echo hi"],
    )  # fmt: skip
    a = p.parse_args(["compose", "run", "--rm", "--entrypoint", "sh", "--no-deps", "web", "-c", "ls"])
    assert (a.rm, a.entrypoint, a.no_deps, a.service, a.command) == (True, "sh", True, "web", ["-c", "ls"])
    a = p.parse_args(["compose", "logs", "-f", "--tail", "5", "-t", "--no-color", "web", "db"])
    assert (a.follow, a.tail, a.timestamps, a.no_color, a.services) == (True, "5", True, True, ["web", "db"])
    a = p.parse_args(["compose", "ps", "-a", "--format", "json", "-q", "--services", "web"])
    assert (a.all, a.format, a.quiet, a.services, a.services_) == (True, "json", True, True, ["web"])
    a = p.parse_args(["compose", "kill", "-s", "SIGTERM"])
    assert a.signal == "SIGTERM"
    a = p.parse_args(["compose", "rm", "-f", "-s", "-v"])
    assert (a.force, a.stop, a.volumes) == (True, True, True)
    a = p.parse_args(["compose", "config", "--services"])
    assert a.services
    a = p.parse_args(["compose", "ls", "-a", "--format", "json"])
    assert (a.all, a.format) == (True, "json")
