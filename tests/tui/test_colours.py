"""The workbench on a 16-colour and on a 256-colour terminal: the real ``dockyard`` command in a pty with
only TERM to go on. Rich turns the theme's colours into what the terminal has; this checks that nothing
asks a 16-colour terminal for 256 or true colours (which such terminals show as garbage or not at all), and
that the app paints and quits there."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKYARD = str(Path(sys.executable).with_name("dockyard"))
# SGR parameters that need more than 16 colours: 38;5;N / 48;5;N (256) and 38;2;R;G;B / 48;2;... (true)
_EXTENDED = re.compile(rb"\x1b\[[0-9;]*(?:[34]8;[25];)")
_TRUE = re.compile(rb"\x1b\[[0-9;]*(?:[34]8;2;)")


def _screen_bytes(term: str, tmp_path: Path) -> bytes:
    pexpect = pytest.importorskip("pexpect")
    env = {k: v for k, v in os.environ.items() if k not in ("COLORTERM", "TEXTUAL_COLOR_SYSTEM", "NO_COLOR")}
    env.update(
        TERM=term,
        DOCKYARD_ROOT=str(tmp_path / "root"),
        DOCKYARD_RUN=str(tmp_path / "run"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )
    app = pexpect.spawn(DOCKYARD, [], cwd=str(ROOT), env=env, dimensions=(24, 80), timeout=30)
    out = b""
    try:
        app.expect("Containers")
        deadline = time.monotonic() + 1.5  # the first frames: list, footer, tabs
        while time.monotonic() < deadline:
            try:
                out += app.read_nonblocking(65536, timeout=0.2)
            except pexpect.TIMEOUT:
                pass
        out = app.before + app.after + out
        app.send("q")
        app.expect(pexpect.EOF)
    finally:
        app.close(force=True)
    assert app.exitstatus == 0, out[-500:]
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="the workbench opens a real engine root")
def test_a_16_colour_terminal_gets_only_16_colours(tmp_path: Path) -> None:
    out = _screen_bytes("xterm", tmp_path)
    assert b"Containers" in out
    assert re.search(rb"\x1b\[[0-9;]*m", out), "no colours at all"
    found = _EXTENDED.findall(out)
    assert not found, f"256/true colour sequences on a 16-colour terminal: {found[:5]}"


@pytest.mark.skipif(os.geteuid() != 0, reason="the workbench opens a real engine root")
def test_a_256_colour_terminal_gets_no_true_colour(tmp_path: Path) -> None:
    out = _screen_bytes("xterm-256color", tmp_path)
    assert b"Containers" in out
    found = _TRUE.findall(out)
    assert not found, f"true colour sequences on a 256-colour terminal: {found[:5]}"
