"""The CLI builds only the asked verb's parser (tui.cli._OnlyVerbs): every verb, and every management
group's subcommands, must still parse and print its own help, exactly as with all parsers built."""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from tui.cli import VERBS, build_parser


def _help(argv: list[str], verbs: list[str] | None) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as stop:
        build_parser(verbs).parse_args([*argv, "--help"])
    assert stop.value.code == 0
    return out.getvalue()


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_each_verb_alone_parses_like_the_full_parser(verb: str) -> None:
    alone = _help([verb], [verb])
    assert alone.startswith(f"usage: dockyard {verb}")
    assert alone == _help([verb], None)


@pytest.mark.parametrize(
    "argv",
    [
        ["container", "ls"],
        ["container", "exec"],
        ["image", "pull"],
        ["image", "history"],
        ["system", "df"],
        ["network", "create"],
        ["volume", "prune"],
    ],
)
def test_group_subcommands_parse(argv: list[str]) -> None:
    assert _help(argv, [argv[0]]).startswith(f"usage: dockyard {' '.join(argv)}")


def test_run_flags_parse_into_the_same_namespace_either_way() -> None:
    argv = ["run", "--rm", "-e", "A=1", "-p", "8080:80", "--name", "x", "busybox", "echo", "hi"]
    alone = vars(build_parser(["run"]).parse_args(argv))
    full = vars(build_parser(None).parse_args(argv))
    alone.pop("func"), full.pop("func")
    assert alone == full


def _all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                out += _all_parsers(sub)
    return out


def test_no_parser_expands_prefixes() -> None:
    parsers = _all_parsers(build_parser(None))
    assert len(parsers) > len(VERBS)
    assert [p.prog for p in parsers if p.allow_abbrev] == []


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["run", "--priv", "busybox", "true"], "--priv"),  # was --privileged
        (["run", "--pids", "5", "busybox", "true"], "--pids"),  # was --pids-limit 5
        (["create", "--nam", "x", "busybox"], "--nam"),
        (["ps", "--al"], "--al"),
        (["network", "ls", "--quie"], "--quie"),
        (["volume", "ls", "--form=json"], "--form"),
    ],
)
def test_a_prefix_is_an_unknown_flag_with_exit_125(argv: list[str], flag: str) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as stop:
        build_parser([argv[0]]).parse_args(argv)
    assert stop.value.code == 125
    verb = " ".join(argv[:2]) if argv[0] in ("network", "volume") else argv[0]
    assert err.getvalue() == f"Error: unknown flag: {flag}\nSee 'dockyard {verb} --help'.\n"
