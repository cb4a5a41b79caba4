"""The CLI builds only the asked verb's parser (tui.cli._OnlyVerbs): every verb, and every management
group's subcommands, must still parse and print its own help, exactly as with all parsers built."""

from __future__ import annotations

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
