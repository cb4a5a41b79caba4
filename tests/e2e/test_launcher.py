"""The shim launcher: ``run`` starts a shim before its container exists (forked from the ``dockyard``
command, spawned from anything else). A cancelled one goes away, the shim keeps none of its starter's fds (a
caller's pipe would stay open as long as the container runs), a process with threads never forks one, and
``run`` works with its stdin closed (the launcher's pipes may then take fd 0)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.config import Config
from core.supervisor.launcher import ShimLauncher
from core.supervisor.shimstart import SHIM_NAME
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


# as `dockyard run` does it: a single-threaded process forks its shim
_FORKING_STARTER = """
import os, sys
from core.supervisor.launcher import ShimLauncher
r, w = os.pipe()
os.set_inheritable(w, True)
launcher = ShimLauncher(sys.argv[1], sys.argv[2], fork=True)
os.close(w)
print(os.read(r, 1) == b"", flush=True)  # EOF: the shim closed its copy of the write end
sys.stdin.readline()
launcher.cancel()
print(launcher.pid, flush=True)
"""


def test_a_forked_shim_is_named_keeps_no_fd_and_goes_away_when_cancelled(engine_config: Config) -> None:
    root, run = str(engine_config.root), str(engine_config.run)
    starter = subprocess.Popen(
        [sys.executable, "-c", _FORKING_STARTER, root, run],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert starter.stdin and starter.stdout
    try:
        assert starter.stdout.readline() == "True\n"
        assert _wait(lambda: len(shims_under(engine_config.root)) == 1), "no shim"
        (pid,) = shims_under(engine_config.root)
        assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2] == [
            SHIM_NAME.encode(),
            root.encode(),
        ]
        assert Path(f"/proc/{pid}/comm").read_text().strip() == SHIM_NAME
        assert os.getsid(pid) != os.getsid(starter.pid)  # a session of its own, no terminal
        # forked, not spawned: a spawned shim's environment names our sources in PYTHONPATH
        assert b"PYTHONPATH=" not in Path(f"/proc/{pid}/environ").read_bytes()
        starter.stdin.write("\n")
        starter.stdin.flush()
        assert starter.stdout.readline() == "0\n"  # the middle process was reaped
        assert _wait(lambda: not shims_under(engine_config.root)), "the shim outlived its cancelled order"
    finally:
        starter.kill()
        starter.wait()


def test_a_process_with_threads_spawns_its_shim_rather_than_fork(engine_config: Config) -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        launcher = ShimLauncher(engine_config.root, engine_config.run, fork=True)
        try:
            assert _wait(lambda: bool(shims_under(engine_config.root))), "no shim started"
            (pid,) = shims_under(engine_config.root)
            assert b"PYTHONPATH=" in Path(f"/proc/{pid}/environ").read_bytes()
        finally:
            launcher.cancel()
        assert _wait(lambda: not shims_under(engine_config.root))
    finally:
        stop.set()
        other.join()


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
