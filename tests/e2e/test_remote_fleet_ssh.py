"""An ssh engine in the Engines pane and the fleet: a docker context ``ssh://dyhost`` to a dockyard host
through a real sshd the test starts on a loopback port (``dockyard system dial-stdio`` there, serving the
API in-process). It is listed as a connected dockyard; when the host goes away (its sshd and every session
of it killed) the fleet shows the lost banner on its rows while the in-process engine's rows stay live, and
once an sshd listens there again the watcher reconnects by itself."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.models import ContainerConfig, ContainerCreate, HostConfig
from tests.e2e.test_remote_ssh import BIN, DOCKYARD, Sshd, start_sshd
from tests.testbed import Testbed
from tests.tui.tuikit import wait_for
from tui.app import DockyardApp
from tui.screens.engines import EnginesScreen
from tui.settings import Settings
from tui.widgets.engines import EnginesPane
from tui.widgets.fleet import FleetPane, fleet_key

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="needs openssh-server"),
]


@pytest.fixture
def sshd(engine_config: Config, tmp_path: Path) -> Iterator[Sshd]:
    path = f"{BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    host_env = (
        f"PATH={path} DOCKYARD_ROOT={engine_config.root} DOCKYARD_RUN={engine_config.run} "
        f"DOCKYARD_CGROUP_PARENT={os.environ.get('DOCKYARD_CGROUP_PARENT', '')}"
    )
    with start_sshd(tmp_path / "ssh", tmp_path / "client-config", host_env) as s:
        yield s


def _descendants(root: int) -> list[int]:
    """Every process below ``root`` (the sshd's sessions and what they run), children first found."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("PPid:"):
                parents[int(entry)] = int(line.split()[1])
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        kids = [p for p, pp in parents.items() if pp == pid]
        out += kids
        todo += kids
    return out


def _kill_host(proc: subprocess.Popen[bytes]) -> None:
    """The host goes away: the sshd, its sessions and what they run, by PID."""
    below = _descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    for pid in below:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def test_an_ssh_engine_in_the_fleet_is_lost_and_reconnects(
    sshd: Sshd, engine_config: Config, testbed: Testbed, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = LocalEngine(engine_config)
    ref = testbed.ref("busybox:latest")
    local.pull(ref)
    req = ContainerCreate(
        config=ContainerConfig(image=ref, cmd=["sleep", "300"], attach_stdout=False),
        host_config=HostConfig(network_mode="none"),
        name="web",
        pull="never",
    )
    web = str(local.create_container(req).id)
    local.start_container(web)
    env = sshd.client_env
    r = subprocess.run(
        [DOCKYARD, "context", "create", "edge", "--docker", "host=ssh://dyhost"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    for key in ("DOCKER_CONFIG", "DOCKYARD_SSH", "PATH"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    restarted: list[subprocess.Popen[bytes]] = []

    async def scenario() -> None:
        app = DockyardApp(local, Settings(stats_interval=0))
        async with app.run_test(size=(140, 30)) as pilot:
            await pilot.press("E")
            screen = app.screen
            assert isinstance(screen, EnginesScreen)
            pane = screen.query_one(EnginesPane)
            await wait_for(pilot, lambda: pane.by_key["edge"].cells[2] == "connected", timeout=30, what="ssh")
            assert (
                pane.by_key["edge"].cells[1] == "ssh://dyhost" and pane.by_key["edge"].cells[3] == "dockyard"
            )
            await pilot.press("F")
            fleet = screen.query_one(FleetPane)
            edge_web, here_web = fleet_key("edge", web), fleet_key("default", web)
            await wait_for(pilot, lambda: {edge_web, here_web} <= set(fleet.shown), what="both rows")

            await asyncio.to_thread(_kill_host, sshd.proc)
            await wait_for(pilot, lambda: fleet.has_class("-lost"), timeout=20, what="the lost banner")
            assert "edge (ssh://dyhost)" in str(fleet.query_one("#fleet-banner").render())
            assert fleet.by_key[edge_web].style == "dead" and fleet.by_key[here_web].style == "running"
            # the in-process engine's rows stay live meanwhile
            await asyncio.to_thread(local.kill_container, web)
            await wait_for(pilot, lambda: fleet.by_key[here_web].style == "exited", what="a live row")

            # an sshd listens there again (same port, keys and config): reconnected by the watcher
            log = open(sshd.dir / "sshd-again.log", "wb")  # noqa: SIM115 (closed with the process)
            restarted.append(
                subprocess.Popen(
                    ["/usr/sbin/sshd", "-D", "-e", "-f", str(sshd.dir / "sshd_config")],
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=True,
                )
            )
            log.close()
            await wait_for(pilot, lambda: not fleet.has_class("-lost"), timeout=40, what="reconnected")
            # its list is read again: the kill shows there too
            await wait_for(pilot, lambda: fleet.by_key[edge_web].style == "exited", what="edge read again")

    try:
        asyncio.run(scenario())
    finally:
        for proc in restarted:
            _kill_host(proc)
