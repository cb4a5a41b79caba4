"""The workbench over a remote engine (a pilot test): DockyardApp given the engine ``-H unix://`` chooses
(a ``dockyard serve`` over the test root) lists that engine's containers with their status, samples their
stats through the API, and picks up a container started elsewhere from the engine's ``/events`` stream.
(The Engines pane and the fleet view of several engines are not built yet.)"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.interface import engine_for
from core.models import ContainerConfig, ContainerCreate, HostConfig
from tests.e2e.apiserver import ApiServer, running_server
from tests.testbed import Testbed
from tests.tui.tuikit import wait_for
from tui.app import DockyardApp

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def api(engine_config: Config) -> Iterator[ApiServer]:
    with running_server(engine_config) as server:
        yield server


def _run(engine: Any, ref: str, name: str, *cmd: str) -> str:
    req = ContainerCreate(
        config=ContainerConfig(image=ref, cmd=list(cmd) or ["sleep", "300"], attach_stdout=False),
        host_config=HostConfig(network_mode="none"),
        name=name,
        pull="never",
    )
    cid = str(engine.create_container(req).id)
    engine.start_container(cid)
    return cid


def test_workbench_lists_a_remote_engines_containers(
    api: ApiServer, engine_config: Config, testbed: Testbed
) -> None:
    local = LocalEngine(engine_config)
    ref = testbed.ref("busybox:latest")
    local.pull(ref)
    web = _run(local, ref, "web")
    done = _run(local, ref, "done", "sh", "-c", "exit 3")
    local.wait_container(done)
    remote = engine_for(host=api.host)
    assert type(remote).__name__ == "RemoteEngine"

    async def scenario() -> None:
        app = DockyardApp(remote)
        async with app.run_test(size=(100, 24)) as pilot:
            pane = _pane(app)
            await wait_for(pilot, lambda: {web, done} <= set(pane.shown), what="both containers listed")
            assert pane.by_key[web].cells[0] == "web"
            assert pane.by_key[web].cells[2].startswith("Up")
            assert pane.by_key[done].cells[2].startswith("Exited (3)")
            await wait_for(pilot, lambda: pane.by_key[web].cells[4] not in ("…", "-"), what="memory sampled")
            # started by another client: it comes in through the remote engine's event stream
            seen = app.events_seen
            other = await asyncio.to_thread(_run, remote, ref, "other")
            await wait_for(pilot, lambda: other in pane.shown, what="event-driven refresh")
            assert app.events_seen > seen

    asyncio.run(scenario())


def _pane(app: DockyardApp) -> Any:
    from tui.screens.main import MainScreen

    for s in app.screen_stack:
        if isinstance(s, MainScreen):
            return s.pane("containers")
    raise AssertionError("no main screen")
