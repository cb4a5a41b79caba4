"""Refresh screenshots/*.svg: the workbench saves them itself (``App.save_screenshot``) while driven by a
Pilot against a real engine, with busybox from the loopback test bed. Run by ``scripts/screenshots``.

containers.svg   the Containers pane with live CPU/memory, a compose project grouped above the others
project-logs.svg the merged logs of the compose project, one colour a service
health.svg       the detail view's health tab: the check and its last probes
logs-search.svg  the Logs pane following a container, with a search
stats.svg        the detail view's stats tab after a few seconds of samples
pull.svg         a pull in progress, one bar per layer (through a throttled loopback proxy)
shell.svg        a shell in a container, in the embedded terminal (when tui.widgets.terminal exists)
engines.svg      the Engines pane: the in-process engine, dockyard serve, dockerd, an unreachable ssh host
fleet.svg        the fleet view of those engines, one list with an ENGINE column
master-detail-80x24.svg, master-detail-200x50.svg
                 the containers list with the selected container's live logs under it (80x24) or beside
                 it (200x50)

``screenshots.py engines`` makes only the last two.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[2]
SIZE = (100, 30)


async def _until(pilot: Any, cond: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except Exception:
            pass
        await pilot.pause(0.1)
    raise RuntimeError(f"timed out waiting for {cond}")


def _main_pane(app: Any, name: str) -> Any:
    from tui.screens.main import MainScreen

    return next(s for s in app.screen_stack if isinstance(s, MainScreen)).pane(name)


async def _workbench(engine: Any, out: Path, ids: dict[str, str]) -> list[str]:
    from tui.app import DockyardApp
    from tui.screens.inspect import DetailScreen
    from tui.settings import Settings

    saved = []
    app = DockyardApp(engine, Settings(stats_interval=2.0))
    async with app.run_test(size=SIZE) as pilot:
        p = _main_pane(app, "containers")
        await _until(pilot, lambda: set(ids.values()) <= set(p.shown))
        await _until(pilot, lambda: p.by_key[ids["web"]].cells[4] not in ("…", "-"))
        await _until(pilot, lambda: "project:shop" in p.shown)
        await _until(pilot, lambda: "(healthy)" in p.by_key[ids["shop-db-1"]].cells[2])
        p.select_key("project:shop")
        await pilot.pause(6.0)  # uptimes past "less than a second", a few CPU samples
        saved.append(app.save_screenshot("containers.svg", str(out)))

        from tui.screens.project_logs import ProjectLogsScreen

        await pilot.press("l")
        await _until(pilot, lambda: isinstance(app.screen, ProjectLogsScreen))
        await pilot.pause(4.0)
        saved.append(app.save_screenshot("project-logs.svg", str(out)))
        await pilot.press("escape")

        p.select_key(ids["shop-db-1"])
        await pilot.press("i")
        await _until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("7")
        await pilot.pause(3.0)
        saved.append(app.save_screenshot("health.svg", str(out)))
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, DetailScreen))
        p.select_key(ids["web"])

        await pilot.press("l")
        logs = _main_pane(app, "logs")
        await _until(pilot, lambda: any("request" in t for t in logs.viewer().visible_text()))
        await pilot.pause(1.0)
        await pilot.press("slash", *"ERROR", "enter")
        await pilot.pause(1.0)
        saved.append(app.save_screenshot("logs-search.svg", str(out)))

        await pilot.press("1")
        p.select_key(ids["busy"])
        await pilot.pause(0.3)
        await pilot.press("S")
        await _until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.pause(12.0)  # a dozen samples make a sparkline
        saved.append(app.save_screenshot("stats.svg", str(out)))
        await pilot.press("escape")

        try:
            import tui.widgets.terminal  # noqa: F401
        except ImportError:
            print("shell.svg: the embedded terminal is not there yet; skipped", file=sys.stderr)
        else:
            p.select_key(ids["web"])
            await pilot.press("e")
            await pilot.pause(2.0)
            await pilot.press(*"echo hello from the workbench", "enter")
            await pilot.press(*"ls /", "enter")
            await pilot.pause(1.5)
            saved.append(app.save_screenshot("shell.svg", str(out)))
    return saved


async def _master_detail(engine: Any, out: Path, ids: dict[str, str]) -> list[str]:
    """The master-detail layout at the two sizes people use: over SSH (80x24) and a big terminal."""
    return [await _master_detail_at(engine, out, ids, size) for size in ((80, 24), (200, 50))]


async def _master_detail_at(engine: Any, out: Path, ids: dict[str, str], size: tuple[int, int]) -> str:
    from textual.widgets import Log

    from tui.app import DockyardApp
    from tui.settings import Settings

    app = DockyardApp(engine, Settings(stats_interval=2.0))
    async with app.run_test(size=size) as pilot:
        p = _main_pane(app, "containers")
        await _until(pilot, lambda: set(ids.values()) <= set(p.shown))
        await _until(pilot, lambda: p.by_key[ids["web"]].cells[3] not in ("…", "-"))
        p.select_key(ids["web"])
        panel = app.screen.query_one("#detail-panel")
        log = panel.query_one("#panel-log", Log)
        await _until(pilot, lambda: panel.container == ids["web"] and len(log.lines) > 10)
        await pilot.pause(2.0)
        return app.save_screenshot(f"master-detail-{size[0]}x{size[1]}.svg", str(out))


SHOP = """
services:
  db:
    image: busybox
    command:
      - sh
      - -c
      - trap "exit 0" TERM; touch /tmp/ready; while true; do echo "checkpoint complete"; sleep 2; done
    healthcheck:
      test: ["CMD-SHELL", "test -e /tmp/ready && echo accepting connections"]
      interval: 2s
  web:
    image: busybox
    command:
      - sh
      - -c
      - trap "exit 0" TERM; i=0; while true; do i=$$((i+1)); echo "GET /cart/$$i 200"; sleep 0.7; done
    deploy:
      replicas: 2
    depends_on:
      db:
        condition: service_healthy
  worker:
    image: busybox
    command:
      - sh
      - -c
      - trap "exit 0" TERM; while true; do echo "job done in $$((RANDOM % 90 + 10)) ms"; sleep 1.3; done
"""


def _compose_up(engine: Any, workdir: Path) -> dict[str, str]:
    """A compose project ("shop") made as ``dockyard compose up -d`` makes it; its containers' ids by name."""
    from compose import orchestrate
    from compose.loader import LoadOptions, load_project

    workdir.mkdir(parents=True)
    (workdir / "compose.yaml").write_text(SHOP)
    project = load_project(LoadOptions(project_name="shop", project_directory=str(workdir), cwd=str(workdir)))
    return {c.name: c.id for c in orchestrate.up(engine, project, wait=True)}


async def _pull(engine: Any, ref: str, out: Path) -> str:
    from tui.app import DockyardApp
    from tui.screens.pull import PullScreen
    from tui.settings import Settings

    app = DockyardApp(engine, Settings(stats_interval=3600))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("P")
        await _until(pilot, lambda: isinstance(app.screen, PullScreen))
        screen = app.screen
        screen.query_one("#ref").value = ref
        await pilot.press("enter")
        await _until(
            pilot,
            lambda: (
                not screen.running
                or any(0.3 < p.current / max(p.total, 1) < 0.8 for p in screen._latest.values())
            ),
        )
        if not screen.running:
            raise RuntimeError(
                f"the pull ended before its screenshot: {screen.error} {screen._latest} {screen.result}"
            )
        await pilot.pause(0.3)
        path = app.save_screenshot("pull.svg", str(out))
        await pilot.press("escape")
        await _until(pilot, lambda: not screen.running)
    return path


async def _engines(engine: Any, out: Path, expect: int) -> list[str]:
    from tui.app import DockyardApp
    from tui.screens.engines import EnginesScreen
    from tui.settings import Settings
    from tui.widgets.engines import EnginesPane
    from tui.widgets.fleet import FleetPane

    app = DockyardApp(engine, Settings(stats_interval=3600))
    saved = []
    async with app.run_test(size=(132, 24)) as pilot:
        await pilot.press("E")
        await _until(pilot, lambda: isinstance(app.screen, EnginesScreen))
        pane = app.screen.query_one(EnginesPane)
        await _until(
            pilot,
            lambda: len(pane.shown) == 4 and all(pane.by_key[k].cells[2] != "looking…" for k in pane.shown),
        )
        await _until(pilot, lambda: sum(pane.by_key[k].cells[2] == "connected" for k in pane.shown) == 3)
        pane.select_key("dockerd")
        await pilot.pause(1.0)
        saved.append(app.save_screenshot("engines.svg", str(out)))
        await pilot.press("F")
        fleet = app.screen.query_one(FleetPane)
        await _until(pilot, lambda: len(fleet.shown) == expect)
        await pilot.pause(1.0)
        saved.append(app.save_screenshot("fleet.svg", str(out)))
    return saved


def _engine_shots(engine: Any, serve_cfg: Any, ref: str, base: Path, slot: int, out: Path) -> list[str]:
    """The Engines pane and the fleet view over four engines: the in-process one, a ``dockyard serve`` over
    another root, a dockerd (all three started here, on sockets of their own), and an ssh host that does not
    answer; the docker contexts are made by the docker CLI in a config folder of our own."""
    import subprocess

    from core.engine import LocalEngine
    from core.models import ContainerConfig, ContainerCreate
    from tests.e2e.apiserver import DOCKER, ApiServer
    from tests.e2e.dockerdiff import start_dockerd

    other = LocalEngine(serve_cfg)
    other.pull(ref)
    other.tag_image(ref, "busybox")
    for name, cmd in (("api", ["sleep", "3600"]), ("worker", ["sleep", "3600"]), ("backup", ["true"])):
        c = other.create_container(ContainerCreate(ContainerConfig(image="busybox", cmd=cmd), name=name))
        other.start_container(c.id)
    server = ApiServer(serve_cfg)
    server.start()
    dockerd = start_dockerd(base / "dockerd", slot, name="dys", nets=(223, 224))
    config = base / "docker-config"
    config.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = str(config)
    saved_env = {k: os.environ.get(k) for k in ("DOCKER_CONFIG", "DOCKER_HOST", "DOCKER_CONTEXT")}
    try:
        for argv in (
            [
                "context",
                "create",
                "dockyard-serve",
                "--docker",
                f"host={server.host}",
                "--description",
                "staging",
            ],
            [
                "context",
                "create",
                "dockerd",
                "--docker",
                f"host={dockerd.host}",
                "--description",
                "ci runners",
            ],
            [
                "context",
                "create",
                "edge",
                "--docker",
                "host=ssh://deploy@127.0.0.1:1",
                "--description",
                "edge box",
            ],
            ["-H", dockerd.host, "pull", "-q", ref],
            ["-H", dockerd.host, "tag", ref, "busybox"],
            [
                "-H",
                dockerd.host,
                "run",
                "-d",
                "--name",
                "db",
                "--network",
                "none",
                "busybox",
                "sleep",
                "3600",
            ],
            [
                "-H",
                dockerd.host,
                "run",
                "-d",
                "--name",
                "queue",
                "--network",
                "none",
                "busybox",
                "sleep",
                "3600",
            ],
        ):
            subprocess.run([DOCKER, *argv], env=env, check=True, capture_output=True)
        os.environ["DOCKER_CONFIG"] = str(config)
        os.environ.pop("DOCKER_HOST", None)
        os.environ.pop("DOCKER_CONTEXT", None)
        expect = len(engine.list_containers(all=True)) + 3 + 2
        return asyncio.run(_engines(engine, out, expect))
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        subprocess.run([DOCKER, "-H", dockerd.host, "rm", "-f", "db", "queue"], env=env, capture_output=True)
        dockerd.stop()
        server.stop()
        for c in other.list_containers(all=True):
            try:
                other.remove_container(c.id, force=True)
            except Exception:
                pass
        subprocess.run(["rm", "-rf", str(base / "dockerd")], check=False)


def main() -> int:
    only_engines = sys.argv[1:] == ["engines"]
    sys.path.insert(0, str(HERE))
    os.environ.setdefault("DOCKYARD_CGROUP_PARENT", f"dockyard-screenshots-{os.getpid()}")
    from core.config import Config
    from core.engine import LocalEngine
    from core.models import ContainerConfig, ContainerCreate
    from tests.e2e.faultproxy import FaultProxy
    from tests.testbed import ensure_images, start_testbed, unavailable_reason
    from tests.testbed.common import make_scratch_dir, remove_scratch

    reason = unavailable_reason()
    if reason:
        print(f"cannot make screenshots: {reason}", file=sys.stderr)
        return 1
    out = HERE / "screenshots"
    out.mkdir(exist_ok=True)
    from tests import netbed

    bed = start_testbed(ensure_images())
    base = make_scratch_dir("dockyard-shots-")
    net = netbed.reserve()  # a bridge and nft table of our own: the host's dockyard0 stays untouched
    engines = []
    try:
        saved = []
        for name in ("main", "pull"):
            cfg = Config(
                root=base / name / "root", run=base / name / "run", docker_config=base / name / "docker"
            )
            for d in (cfg.root, cfg.run, base / name / "docker"):
                d.mkdir(parents=True)
            net.apply(cfg)
            engines.append(LocalEngine(cfg))
        engine = engines[0]
        ref = bed.ref("busybox:latest")
        engine.pull(ref)
        engine.tag_image(ref, "busybox")
        engine.create_volume("appdata")
        script = (
            "i=0; while true; do i=$((i+1)); "
            'if [ $((i % 7)) -eq 0 ]; then echo "ERROR upstream timeout (request $i)" >&2; '
            'else echo "GET /api/items/$((i % 13)) 200 $((i % 40 + 2))ms (request $i)"; fi; sleep 0.3; done'
        )
        ids = {}
        for name, cmd in (
            ("web", ["sh", "-c", script]),
            (
                "busy",
                [
                    "sh",
                    "-c",
                    "while true; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 1; done",
                ],
            ),
            ("cache", ["sleep", "3600"]),
            ("migrate", ["sh", "-c", "echo migrated; exit 0"]),
        ):
            c = engine.create_container(ContainerCreate(ContainerConfig(image="busybox", cmd=cmd), name=name))
            engine.start_container(c.id)
            ids[name] = c.id
        ids.update(_compose_up(engine, base / "shop"))
        engine.wait_container("migrate")
        if not only_engines:
            saved += asyncio.run(_workbench(engine, out, ids))
            saved += asyncio.run(_master_detail(engine, out, ids))
            with FaultProxy(bed.open_addr) as proxy:
                proxy.throttle = 200_000  # the uncompressed busybox layer (~2 MB) takes ~10 s
                saved.append(asyncio.run(_pull(engines[1], f"{proxy.addr}/busybox:uncompressed", out)))
        serve_cfg = Config(
            root=base / "serve" / "root", run=base / "serve" / "run", docker_config=base / "serve" / "docker"
        )
        for d in (serve_cfg.root, serve_cfg.run, base / "serve" / "docker"):
            d.mkdir(parents=True)
        net.apply(serve_cfg)
        (base / "dockerd").mkdir()
        saved += _engine_shots(engine, serve_cfg, ref, base, net.slot, out)
        for path in saved:
            print(path)
        return 0
    finally:
        for engine in engines:
            try:
                from compose import orchestrate

                orchestrate.down(engine, "shop")
            except Exception:
                pass
            for c in engine.list_containers(all=True):
                try:
                    engine.remove_container(c.id, force=True, volumes=True)
                except Exception:
                    pass
        bed.close()
        netbed.cleanup(net)
        remove_scratch(base)
        try:
            from core.runtime import cgroups

            cgroups.Cgroup.remove_parent(os.environ["DOCKYARD_CGROUP_PARENT"])
        except Exception:
            pass


if __name__ == "__main__":
    sys.exit(main())
