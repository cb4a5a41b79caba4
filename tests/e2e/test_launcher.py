"""The shim launcher: ``run`` spawns a shim before its container exists. A cancelled one goes away, the
shim keeps none of its starter's fds (a caller's pipe would stay open as long as the container runs), and
``run`` works with its stdin closed (the launcher's pipes may then take fd 0)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.config import Config
from core.containers.launcher import ShimLauncher
from tests.testbed.common import shims_under

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))


def _wait(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_a_cancelled_shim_goes_away_and_keeps_no_fd_of_its_starter(engine_config: Config) -> None:
    r, w = os.pipe()
    os.set_inheritable(w, True)  # as a caller's pipe would be
    try:
        launcher = ShimLauncher(engine_config.root, engine_config.run)
        os.close(w)
        w = -1
        assert _wait(lambda: bool(shims_under(engine_config.root))), "no shim started"
        # the pipe reads EOF once nobody but us held its write end: the shim closed its inherited copy
        ready, _, _ = select.select([r], [], [], 10)
        assert ready and os.read(r, 1) == b""
        launcher.cancel()
        assert launcher.pid == 0  # the middle process was reaped
        assert _wait(lambda: not shims_under(engine_config.root)), "the shim outlived its cancelled order"
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


@pytest.mark.parametrize(
    ("redirect", "args", "want"),
    [
        ("0<&-", ["echo", "stdin-closed"], "stdin-closed\n"),
        ("0<&-", ["-i", "cat"], ""),  # -i on a closed stdin: cat reads EOF at once
        ("1>&-", ["echo", "nowhere"], None),  # nothing to print to, and no traceback
        ("0</etc/hostname", ["-i", "cat"], Path("/etc/hostname").read_text()),  # a file: epoll refuses it
    ],
)
def test_run_with_a_stdio_stream_closed(  # type: ignore[no-untyped-def]
    testbed, engine_config: Config, redirect: str, args: list[str], want: str | None
) -> None:
    ref = testbed.ref("busybox:latest")
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKYARD_ROOT", "DOCKYARD_RUN")}
    env["DOCKYARD_RUN"] = str(engine_config.run)
    flags = [a for a in args if a.startswith("-")]
    cmd = [a for a in args if not a.startswith("-")]
    argv = [
        DOCKYARD,
        "--root",
        str(engine_config.root),
        "run",
        "--rm",
        "--network",
        "none",
        *flags,
        ref,
        *cmd,
    ]
    out = subprocess.run(
        ["sh", "-c", f'exec "$@" {redirect}', "sh", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    if want is not None:
        assert out.stdout == want
