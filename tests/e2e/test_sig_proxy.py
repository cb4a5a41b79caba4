"""docker's ``--sig-proxy``: a signal to a foreground ``run`` / ``start -a`` / ``attach`` goes to the
container, and the CLI exits with the container's exit code;
``--sig-proxy=false`` leaves the container alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))
TRAP = (
    'trap "echo got-term; exit 3" TERM; trap "echo got-int; exit 4" INT; trap "exit 5" USR1; '
    "echo ready; sleep 100 & wait"
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@dataclass
class Env:
    config: Config
    engine: LocalEngine

    def cmd(self, *args: str) -> list[str]:
        return [DOCKYARD, "--root", str(self.config.root), *args]

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKYARD_RUN": str(self.config.run)}

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.cmd(*args), capture_output=True, text=True, timeout=timeout, env=self.env()
        )

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.cmd(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env(),
        )

    def state(self, name: str) -> tuple[str, int]:
        c = self.engine.container(name)
        return c.status, int(c.exit_code or 0)


@pytest.fixture
def env(testbed, engine_config: Config) -> Iterator[Env]:  # type: ignore[no-untyped-def]
    engine = LocalEngine(engine_config)
    engine.pull(testbed.ref("busybox:latest"))
    engine.tag_image(testbed.ref("busybox:latest"), "busybox")
    yield Env(engine_config, engine)


def _wait_ready(proc: subprocess.Popen[str]) -> None:
    """Until the container printed ``ready`` (its traps are set)."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line == "ready\n", (line, proc.stderr.read() if proc.stderr else "")


def _finish(proc: subprocess.Popen[str], timeout: float = 20) -> tuple[int, str]:
    out, _err = proc.communicate(timeout=timeout)
    return proc.returncode, out


@pytest.mark.parametrize(
    ("sig", "code", "said"), [(signal.SIGTERM, 3, "got-term"), (signal.SIGINT, 4, "got-int")]
)
def test_run_forwards_the_signal_and_exits_with_the_containers_code(
    env: Env, sig: int, code: int, said: str
) -> None:
    proc = env.spawn("run", "--name", "fwd", "busybox", "sh", "-c", TRAP)
    try:
        _wait_ready(proc)
        proc.send_signal(sig)
        rc, out = _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == code
    assert said in out
    assert env.state("fwd") == ("exited", code)


def test_run_forwards_other_signals_too(env: Env) -> None:
    proc = env.spawn("run", "--rm", "--name", "usr", "busybox", "sh", "-c", TRAP)
    try:
        _wait_ready(proc)
        proc.send_signal(signal.SIGUSR1)
        rc, _out = _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 5
    assert env.engine.list_containers(all=True) == []  # --rm: gone, as docker's


def test_sig_proxy_false_leaves_the_container_running(env: Env) -> None:
    proc = env.spawn("run", "--sig-proxy=false", "--name", "nofwd", "busybox", "sh", "-c", TRAP)
    try:
        _wait_ready(proc)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (-signal.SIGTERM, 128 + signal.SIGTERM)  # the CLI died of it, as docker's
    time.sleep(0.3)
    assert env.state("nofwd")[0] == "running"
    env.cli("rm", "-f", "nofwd")


def test_start_attach_and_attach_forward_signals(env: Env) -> None:
    assert env.cli("create", "--name", "st", "busybox", "sh", "-c", TRAP).returncode == 0
    proc = env.spawn("start", "-a", "st")
    try:
        _wait_ready(proc)
        proc.send_signal(signal.SIGTERM)
        rc, _out = _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (rc, env.state("st")) == (3, ("exited", 3))

    ticking = 'trap "echo got-int; exit 4" INT; while :; do echo tick; sleep 0.1; done'
    assert env.cli("run", "-d", "--name", "at", "busybox", "sh", "-c", ticking).returncode == 0
    proc = env.spawn("attach", "at")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "tick\n"  # attached
        proc.send_signal(signal.SIGINT)
        rc, out = _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 4
    assert out.endswith("got-int\n")
    assert env.state("at") == ("exited", 4)


def test_bad_sig_proxy_value_is_refused(env: Env) -> None:
    r = env.cli("run", "--sig-proxy=maybe", "busybox", "true")
    assert r.returncode == 125
    assert 'invalid argument "maybe" for "--sig-proxy" flag' in r.stderr
    assert env.engine.list_containers(all=True) == []


def test_run_with_a_terminal_forwards_signals_too(env: Env) -> None:
    """docker's run proxies signals with -t as well (the terminal sends ^C as a byte; kill(1) signals)."""
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(
        DOCKYARD,
        ["--root", str(env.config.root), "run", "-it", "--name", "tty", "busybox", "sh", "-c", TRAP],
        env=env.env(),
        timeout=20,
        dimensions=(24, 80),
        encoding="utf-8",
    )
    try:
        child.expect("ready")
        child.kill(signal.SIGTERM)
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 3
    assert "got-term" in (child.before or "")
    assert env.state("tty") == ("exited", 3)
