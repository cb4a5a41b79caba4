"""The Engines pane and the fleet view as a person uses them: the real ``dockyard`` in a tmux pane, with two
``dockyard serve`` (on sockets of their own, over the test root) named by docker contexts beside the
in-process engine. E lists the three, connected; F shows the fleet of the three with an ENGINE column; one
server killed puts its banner on the fleet, started again it is gone; Enter on an engine switches every
pane to it (the engine bar says which)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Config
from core.engine import LocalEngine
from core.models import ContainerConfig, ContainerCreate, HostConfig
from tests.e2e.apiserver import ApiServer
from tests.testbed import Testbed
from tests.tui.test_tmux import Tmux

DOCKYARD = str(Path(sys.executable).with_name("dockyard"))

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def servers(engine_config: Config) -> Iterator[list[ApiServer]]:
    out = []
    try:
        for name in ("yard", "yard2"):
            s = ApiServer(engine_config)
            s.sock = engine_config.root.parent / f"{name}.sock"
            s.log = engine_config.root.parent / f"{name}.log"
            s.start()
            out.append(s)
        yield out
    finally:
        for s in out:
            s.stop()


def test_engines_pane_and_fleet_in_a_terminal(
    servers: list[ApiServer], engine_config: Config, testbed: Testbed, tmp_path: Path
) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (scripts/test installs it)")
    local = LocalEngine(engine_config)
    ref = testbed.ref("busybox:latest")
    local.pull(ref)
    req = ContainerCreate(
        config=ContainerConfig(image=ref, cmd=["sleep", "300"], attach_stdout=False),
        host_config=HostConfig(network_mode="none"),
        name="web",
        pull="never",
    )
    local.start_container(local.create_container(req).id)
    env = {
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
        "DOCKYARD_RUN": str(engine_config.run),
        "DOCKYARD_TUI_CONFIG": str(tmp_path / "no-tui.toml"),
        "DOCKYARD_CGROUP_PARENT": os.environ.get("DOCKYARD_CGROUP_PARENT", ""),
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    (tmp_path / "docker-config").mkdir()
    for name, s in zip(("yard", "yard2"), servers, strict=True):
        subprocess.run(
            [DOCKYARD, "context", "create", name, "--docker", f"host={s.host}"],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
    t = Tmux(f"{DOCKYARD} --root {engine_config.root}", env)
    try:
        t.wait("Containers", what="the panes")
        t.wait("web", what="the local container")
        t.keys("E")
        screen = t.wait(lambda s: s.count(" connected ") == 3, what="three engines connected")
        assert "default  *" in screen and "yard " in screen and "yard2" in screen
        assert "dockyard" in screen  # the kind

        t.keys("F")
        screen = t.wait(lambda s: "ENGINE" in s and s.count(" web ") == 3, what="the fleet of three")

        yard = servers[0]
        yard.kill9()
        # the whole picture, not its first glimpse: tmux once showed a frame half drawn (banner, no rows)
        t.wait(
            lambda s: "⚠ yard (" in s and "(engine lost)" in s and s.count(" web ") == 3,
            what="the lost banner, and yard's row kept and marked",
        )
        yard.start()
        t.wait(lambda s: "⚠" not in s and "(engine lost)" not in s, timeout=30, what="reconnected")

        t.keys("1")
        t.keys("j", "j")  # default, yard, yard2: the third
        t.keys("Enter")
        screen = t.wait(f"engine yard2: {servers[1].host}"[:90], what="the engine bar")
        t.wait(" web ", what="yard2's container in the Containers pane")
    finally:
        t.close()
        for c in local.list_containers(all=True):
            try:
                local.remove_container(c.id, force=True)
            except Exception:
                pass
