"""tui.cli.run_command: an OSError from the engine (a full disk, a quota) is one ``Error:`` line and docker's
exit status for an engine error (125 for ``run``, 1 for any other verb), never a traceback; ``--debug``
still shows the traceback."""

from __future__ import annotations

import argparse
import errno
import os

import pytest

from tui.cli import run_command


def _raises(err: OSError):  # type: ignore[no-untyped-def]
    def func(args: argparse.Namespace) -> int:
        raise err

    return func


def test_a_full_disk_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    err = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/var/lib/dockyard/containers/abc/state.json")
    code = run_command(_raises(err), argparse.Namespace(verb="ps", debug=False))
    assert code == 1
    assert capsys.readouterr().err == (
        "Error: ps: /var/lib/dockyard/containers/abc/state.json: no space left on device\n"
    )


def test_an_error_without_a_file_and_one_with_two(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(_raises(OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))), argparse.Namespace()) == 1
    assert capsys.readouterr().err == "Error: disk quota exceeded\n"
    err = OSError(errno.EXDEV, os.strerror(errno.EXDEV), "/a", None, "/b")
    assert run_command(_raises(err), argparse.Namespace(verb="cp")) == 1
    assert capsys.readouterr().err == "Error: cp: /a -> /b: invalid cross-device link\n"
    assert run_command(_raises(err), argparse.Namespace(verb="run")) == 125
    assert run_command(_raises(err), argparse.Namespace(verb="container", container_verb="run")) == 125


def test_debug_shows_the_traceback() -> None:
    with pytest.raises(OSError):
        run_command(_raises(OSError(errno.ENOSPC, "No space left on device")), argparse.Namespace(debug=True))
