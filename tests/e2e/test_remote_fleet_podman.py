"""podman as a peer engine: ``podman system service`` started by the test on a socket, root and run root of
its own (runc, pinned ulimits, the loopback registry marked insecure in a registries.conf of its own, no
network: ``--network none`` containers only) and stopped by its PID. dockyard's command line drives it
through ``-H unix://...`` (pull, images, run -d, ps, logs, rm), and the Engines pane's look at it says it is
podman, with its version and counts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import Config
from core.interface import Engine, engine_for, probe_engine
from tests.testbed import Testbed
from tests.tui.tuikit import wait_for

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(shutil.which("podman") is None, reason="needs podman"),
]

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))


@dataclass
class Podman:
    base: Path
    sock: Path
    proc: subprocess.Popen[bytes]
    argv: list[str]  # podman with this service's root, run root and settings, for checks
    env: dict[str, str]

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"


@pytest.fixture
def podman(testbed: Testbed) -> Iterator[Podman]:
    import resource

    base = Path(tempfile.mkdtemp(prefix="dockyard-podman-"))
    # no CAP_SYS_RESOURCE here: podman's default ulimits must not be above the current hard limits
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = str(min(hard if hard != resource.RLIM_INFINITY else 1048576, 1048576))
    hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    nproc = str(min(hard if hard != resource.RLIM_INFINITY else 32768, 32768))
    (base / "containers.conf").write_text(
        f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        'netns = "none"\n'
        '[engine]\nruntime = "runc"\nevents_logger = "file"\n'
        f'events_logfile_path = "{base}/events.log"\n'
    )
    registry = testbed.ref("busybox:latest").split("/")[0]
    (base / "registries.conf").write_text(
        f'unqualified-search-registries = []\n[[registry]]\nlocation = "{registry}"\ninsecure = true\n'
    )
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["CONTAINERS_CONF"] = str(base / "containers.conf")
    env["CONTAINERS_REGISTRIES_CONF"] = str(base / "registries.conf")
    argv = [
        "podman", "--root", str(base / "root"), "--runroot", str(base / "run"), "--tmpdir", str(base / "tmp"),
        "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
    ]  # fmt: skip
    sock = base / "podman.sock"
    log = open(base / "service.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [*argv, "system", "service", "--time=0", f"unix://{sock}"],
        stdout=log,
        stderr=log,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, (base / "service.log").read_text()
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
                s.connect(str(sock))
                break
            assert time.monotonic() < deadline, "podman system service did not listen"
            time.sleep(0.05)
        yield Podman(base, sock, proc, argv, env)
    finally:
        subprocess.run([*argv, "rm", "-af", "-t", "0"], env=env, capture_output=True, timeout=60)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        subprocess.run([*argv, "system", "reset", "-f"], env=env, capture_output=True, timeout=60)
        subprocess.run(["umount", "-R", str(base / "root")], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_podman_as_a_peer_engine(
    podman: Podman, testbed: Testbed, tmp_path: Path, engine_config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_ROOT"))}
    env["DOCKER_CONFIG"] = str(tmp_path / "client")

    def dy(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(
            [DOCKYARD, "-H", podman.host, *args], capture_output=True, text=True, env=env, timeout=120
        )
        if check:
            assert r.returncode == 0, f"dockyard {' '.join(args)}: rc {r.returncode}\n{r.stderr}"
        return r

    ref = testbed.ref("busybox:latest")
    dy("pull", ref)
    repo = ref.rsplit(":", 1)[0]
    assert repo in dy("images").stdout
    cid = dy(
        "run", "-d", "--name", "pw", "--network", "none", ref, "sh", "-c", "echo hello from podman; sleep 60"
    ).stdout.strip()  # fmt: skip
    assert len(cid) == 64
    ps = dy("ps").stdout
    assert "pw" in ps and cid[:12] in ps
    deadline = time.monotonic() + 10
    while "hello from podman" not in dy("logs", "pw").stdout:
        assert time.monotonic() < deadline, dy("logs", "pw")
        time.sleep(0.2)
    # podman's own CLI sees the same container
    r = subprocess.run(
        [*podman.argv, "ps", "--format", "{{.Names}}"], capture_output=True, text=True, env=podman.env
    )
    assert r.stdout.split() == ["pw"], r.stderr

    # what the Engines pane shows of it
    engine = engine_for(host=podman.host)
    found = probe_engine(engine)
    assert found.reachable and found.kind == "podman", found
    assert (
        found.version.startswith("4.") and found.containers == 1 and found.running == 1 and found.images >= 1
    )

    # the workbench started with -H on podman: the Engines pane lists it beside the in-process engine, and
    # a kill in the fleet view goes to podman
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "client"))
    monkeypatch.setenv("DOCKYARD_ROOT", str(engine_config.root))
    monkeypatch.setenv("DOCKYARD_RUN", str(engine_config.run))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    asyncio.run(_workbench(engine, cid))
    r = subprocess.run(
        [*podman.argv, "inspect", "-f", "{{.State.Status}}", "pw"],
        capture_output=True,
        text=True,
        env=podman.env,
    )
    assert r.stdout.split() == ["exited"], r.stdout

    dy("rm", "-f", "pw")
    assert "pw" not in dy("ps", "-a").stdout
    r = dy("logs", "pw", check=False)
    assert r.returncode == 1 and r.stderr.startswith("Error: "), r.stderr


async def _workbench(engine: Engine, cid: str) -> None:
    from tui.app import DockyardApp
    from tui.screens.engines import EnginesScreen
    from tui.settings import Settings
    from tui.widgets.engines import EnginesPane
    from tui.widgets.fleet import FleetPane, fleet_key

    app = DockyardApp(engine, Settings(stats_interval=0))
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.press("E")
        assert isinstance(app.screen, EnginesScreen)
        pane = app.screen.query_one(EnginesPane)
        await wait_for(pilot, lambda: pane.by_key["-H"].cells[2] == "connected", what="podman connected")
        assert pane.by_key["-H"].cells[3] == "podman" and pane.by_key["-H"].cells[0] == "-H  *"
        assert set(pane.shown) == {"-H", "default"}
        pane.select_key("-H")
        await pilot.press("space", "F")
        fleet = app.screen.query_one(FleetPane)
        key = fleet_key("-H", cid)
        await wait_for(pilot, lambda: fleet.shown == [key], what="podman's container in the fleet")
        fleet.select_key(key)
        await pilot.press("s")
        await wait_for(
            pilot, lambda: fleet.by_key[key].style == "exited", timeout=30, what="stopped on podman"
        )
