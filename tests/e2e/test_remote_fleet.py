"""The workbench over real engines at once (a pilot test): a ``dockyard serve`` over the test root and a
Debian dockerd, both started by the test on sockets of their own and named by docker contexts the real
docker CLI creates, beside the in-process engine the workbench starts on. The Engines pane lists the three
with their kind, version and counts; the fleet view of the two remote ones shows both engines' containers
and a stop on a row goes to that row's engine (checked with the docker CLI); switching makes every pane
talk to dockerd; the dockyard server killed mid-session puts a banner on its rows, and once it is started
again the fleet reconnects by itself (backoff 1, 2, 4 s) while dockerd's rows stay live."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.models import ContainerConfig, ContainerCreate, HostConfig
from tests.e2e.apiserver import DOCKER, ApiServer, running_server
from tests.e2e.dockerdiff import Dockerd, start_dockerd
from tests.testbed import Testbed
from tests.tui.tuikit import wait_for
from tui.app import DockyardApp
from tui.screens.engines import EnginesScreen, FleetLogsScreen
from tui.screens.inspect import DetailScreen
from tui.screens.main import MainScreen
from tui.screens.terminal_screen import ExecScreen
from tui.settings import Settings
from tui.widgets.engines import EnginesPane, short_endpoint
from tui.widgets.fleet import FleetPane, fleet_key
from tui.widgets.terminal import TerminalView

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def api(engine_config: Config) -> Iterator[ApiServer]:
    with running_server(engine_config) as server:
        yield server


@pytest.fixture
def dockerd(_private_networks: Any) -> Iterator[Dockerd]:
    """Debian's dockerd on a socket, bridge (dyf<k>, 10.221.k.1/24), pool (10.222.k.0/24) and data root of
    its own (not the other remote tests' ones, so they can share a session)."""
    import tempfile

    from tests.testbed.common import detach_mounts_under

    base = Path(tempfile.mkdtemp(prefix="dockyard-fleet-dockerd-"))
    d = start_dockerd(base, _private_networks.slot, name="dyf", nets=(221, 222))
    try:
        yield d
    finally:
        d.stop()
        detach_mounts_under(base)
        subprocess.run(["rm", "-rf", str(base)], check=False)


def _docker(env: dict[str, str], *args: str) -> str:
    r = subprocess.run([DOCKER, *args], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, f"docker {' '.join(args)}: {r.stderr}"
    return r.stdout.strip()


def test_engines_pane_fleet_and_reconnect_over_real_engines(
    api: ApiServer,
    dockerd: Dockerd,
    engine_config: Config,
    testbed: Testbed,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ref = testbed.ref("busybox:latest")
    local = LocalEngine(engine_config)
    local.pull(ref)
    req = ContainerCreate(
        config=ContainerConfig(
            image=ref, cmd=["sh", "-c", "echo hello-from-yard; sleep 300"], attach_stdout=False
        ),
        host_config=HostConfig(network_mode="none"),
        name="web",
        pull="never",
    )
    web = str(local.create_container(req).id)
    local.start_container(web)

    # the contexts, made by the real docker CLI in a config folder of the test's own
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = str(docker_config)
    _docker(env, "context", "create", "yard", "--docker", f"host={api.host}")
    _docker(env, "context", "create", "dock", "--docker", f"host={dockerd.host}")
    denv = {**env, "DOCKER_HOST": dockerd.host}
    _docker(denv, "pull", "-q", ref)
    db = _docker(denv, "run", "-d", "--name", "db", "--network", "none", ref, "sleep", "300")
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)

    async def scenario() -> None:
        app = DockyardApp(local, Settings(stats_interval=0))
        async with app.run_test(size=(140, 30)) as pilot:
            await pilot.press("E")
            screen = app.screen
            assert isinstance(screen, EnginesScreen)
            pane = screen.query_one(EnginesPane)
            await wait_for(
                pilot, lambda: set(pane.shown) == {"default", "dock", "yard"}, what="three engines"
            )
            await wait_for(
                pilot,
                lambda: all(pane.by_key[k].cells[2] == "connected" for k in pane.shown),
                what="all three connected",
            )
            rows = {k: pane.by_key[k].cells for k in pane.shown}
            assert rows["dock"][1] == short_endpoint(dockerd.host) and rows["yard"][1] == short_endpoint(
                api.host
            )
            assert app.fleet is not None and app.fleet.entries["dock"].target.endpoint == dockerd.host
            assert (rows["dock"][3], rows["yard"][3], rows["default"][3]) == (
                "docker",
                "dockyard",
                "dockyard",
            )
            assert rows["dock"][4].startswith("20.10") and rows["dock"][5] == "1.41"
            assert rows["dock"][6] == "1 (1 up)" and rows["yard"][6] == "1 (1 up)"
            assert rows["default"][0] == "default  *"

            # the fleet of the two remote engines: space marks them
            for name in ("dock", "yard"):
                pane.select_key(name)
                await pilot.press("space")
            await pilot.press("F")
            fleet = screen.query_one(FleetPane)
            yard_web, dock_db = fleet_key("yard", web), fleet_key("dock", db)
            await wait_for(pilot, lambda: set(fleet.shown) == {yard_web, dock_db}, what="both engines' rows")
            assert fleet.by_key[dock_db].cells[:2] == ("dock", "db")
            # stop on dockerd's row goes to dockerd (the docker CLI sees it), not to dockyard
            fleet.select_key(dock_db)
            await pilot.press("s")
            await wait_for(
                pilot, lambda: fleet.by_key[dock_db].style == "exited", timeout=30, what="db stopped"
            )
            assert _docker(denv, "inspect", "-f", "{{.State.Status}}", "db") == "exited"
            assert local.container(web).status == "running"

            # logs, inspect and a shell, each on the row's engine
            fleet.select_key(yard_web)
            await pilot.press("l")
            await wait_for(pilot, lambda: isinstance(app.screen, FleetLogsScreen), what="the logs screen")
            logs = app.screen
            assert isinstance(logs, FleetLogsScreen) and logs.engine_name == "yard"
            await wait_for(pilot, lambda: "hello-from-yard" in logs.visible_text(), what="yard's log")
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is screen, what="back from the logs")
            fleet.select_key(dock_db)
            await pilot.press("i")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail view")
            detail = app.screen
            assert isinstance(detail, DetailScreen)
            await wait_for(pilot, lambda: detail.info is not None, what="dockerd's inspect")
            assert detail.info is not None and detail.info["Id"] == db and detail.info["Name"] == "/db"
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is screen, what="back from the detail view")
            fleet.select_key(yard_web)
            await pilot.press("e")
            await wait_for(
                pilot,
                lambda: isinstance(app.screen, ExecScreen) and app.screen.terminal is not None,
                what="a shell on yard",
            )
            await pilot.pause(0.5)
            await pilot.press(*"echo fleet-$((2+3))", "enter")
            term = app.screen.query_one(TerminalView)
            await wait_for(
                pilot, lambda: "fleet-5" in "\n".join(term.display_lines()), what="the shell's answer"
            )
            await pilot.press(*"exit", "enter")
            await wait_for(pilot, lambda: app.screen is screen, what="the shell closed")

            # the dockyard server dies: a banner on its rows; dockerd's stay live
            await asyncio.to_thread(api.kill9)
            await wait_for(pilot, lambda: fleet.has_class("-lost"), what="the lost banner")
            banner = str(fleet.query_one("#fleet-banner").render())
            assert "yard" in banner and api.host in banner
            assert fleet.by_key[yard_web].style == "dead"
            await asyncio.to_thread(_docker, denv, "start", "db")
            await wait_for(pilot, lambda: fleet.by_key[dock_db].style == "running", what="dockerd's row live")
            # started again: the fleet reconnects by itself
            await asyncio.to_thread(api.start)
            await wait_for(pilot, lambda: not fleet.has_class("-lost"), timeout=20, what="reconnected")
            assert fleet.by_key[yard_web].style == "running"

            # switch every pane to dockerd
            await pilot.press("1")
            pane.select_key("dock")
            await pilot.press("u")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="back on the panes")
            assert app.engine_name == "dock"
            containers = app.screen.pane("containers")  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: containers.shown == [db], what="dockerd's containers in the pane")

    asyncio.run(scenario())
    _docker(denv, "rm", "-f", "db")
