"""Compose projects in the workbench: the Containers pane groups a project's containers under a row with the
project's state, folds it, and acts on the whole project on keys (up, down with a confirmation, stop,
restart, merged logs); health shows in the list and in the detail view's Health tab.

Snapshots and the quick checks run on the fixed fake engine (tests/tui/fakeengine.py, ``compose=True``);
the project actions run on a real engine with containers made with compose's labels through the engine
interface, and ``up`` on a project the compose package made from a compose file the test writes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.models import (
    ContainerConfig,
    ContainerCreate,
    ContainerSummary,
    HealthConfig,
    HostConfig,
)
from tests.tui.fakeengine import LOG_LINES, FakeEngine
from tests.tui.tuikit import Bench, Notified, detail_panel_settled, wait_for
from tui.app import DockyardApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.inspect import DetailScreen, health_text
from tui.screens.main import MainScreen
from tui.screens.project_logs import ProjectLogsScreen
from tui.settings import Settings
from tui.widgets.panes import ContainersPane
from tui.widgets.project_logs import ProjectLogView, time_order
from tui.widgets.rows import (
    Project,
    compose_projects,
    project_row,
    project_summary,
    replica_name,
)

SIZE = (80, 24)


def _c(
    name: str, status: str = "running", health: str = "", project: str = "", service: str = ""
) -> ContainerSummary:
    labels = {}
    if project:
        number = name.rsplit("-", 1)[-1]
        labels = {
            "com.docker.compose.project": project,
            "com.docker.compose.service": service,
            "com.docker.compose.container-number": number,
        }
    return ContainerSummary(
        id=name.replace("-", "") * 8,
        name=name,
        image="busybox",
        image_id="",
        command="",
        created="2026-01-01T00:00:00Z",
        status=status,
        exit_code=0 if status == "exited" else None,
        started_at="2026-01-01T00:00:00Z",
        finished_at="",
        ports=[],
        labels=labels,
        health=health,
    )


# ---------------------------------------------------------------------------------------- the rows ----


def test_projects_are_grouped_by_label_and_summarised() -> None:
    cs = [
        _c("solo"),
        _c("shop-web-2", project="shop", service="web"),
        _c("shop-db-1", health="unhealthy", project="shop", service="db"),
        _c("shop-web-1", health="healthy", project="shop", service="web"),
        _c("blog-app-1", "exited", project="blog", service="app"),
        _c("other"),
    ]
    projects, rest = compose_projects(cs)
    assert [p.name for p in projects] == ["blog", "shop"]
    assert [c.name for c in rest] == ["solo", "other"]  # the engine's order, as docker ps
    shop = projects[1]
    assert [c.name for c in shop.containers] == ["shop-db-1", "shop-web-1", "shop-web-2"]
    assert shop.services == ["db", "web"]
    assert project_summary(shop) == "3/3 running, 1 unhealthy"
    assert project_summary(projects[0]) == "0/1 running"
    paused = Project(
        "x", (_c("x-a-1", "paused", project="x", service="a"), _c("x-b-1", project="x", service="b"))
    )
    assert project_summary(paused) == "1/2 running, 1 paused"
    row = project_row(shop, {}, collapsed=True)
    assert row.cells[0] == "▸ shop" and row.cells[1] == "2 services" and row.style == "project-unhealthy"
    assert replica_name(shop.containers[0]) == "db-1"
    assert replica_name(_c("custom", project="shop", service="web")) == "custom"  # container_name:


def test_log_times_sort_as_times_even_with_trimmed_fractions() -> None:
    # docker's json-file trims the fraction's trailing zeros: ".12Z" is later than ".1Z", earlier than ".2Z"
    stamps = [
        "2026-01-01T00:00:05.2Z",
        "2026-01-01T00:00:05.12Z",
        "2026-01-01T00:00:05Z",
        "2026-01-01T00:00:05.1Z",
    ]
    assert sorted(stamps, key=time_order) == [
        "2026-01-01T00:00:05Z",
        "2026-01-01T00:00:05.1Z",
        "2026-01-01T00:00:05.12Z",
        "2026-01-01T00:00:05.2Z",
    ]


def test_health_text_shows_the_check_and_each_probe_output() -> None:
    info = {
        "Config": {
            "Healthcheck": {"Test": ["CMD-SHELL", "pg_isready"], "Interval": 5_000_000_000, "Retries": 2}
        },
        "State": {
            "Status": "running",
            "Health": {
                "Status": "unhealthy",
                "FailingStreak": 2,
                "Log": [
                    {
                        "Start": "2026-01-01T00:00:00Z",
                        "End": "2026-01-01T00:00:00.5Z",
                        "ExitCode": 0,
                        "Output": "ok\n",
                    },
                    {
                        "Start": "2026-01-01T00:00:05Z",
                        "End": "2026-01-01T00:00:05.25Z",
                        "ExitCode": 1,
                        "Output": "no response\nsecond line\n",
                    },
                ],
            },
        },
    }
    text = health_text(info).plain
    assert "Status: unhealthy   failing streak 2" in text
    assert "Test: CMD-SHELL pg_isready" in text
    assert "Every 5s, timeout 30s, start period 0s, 2 retries" in text
    assert "Last 2 probes" in text
    assert "exit 0  0.500 s\n    ok\n" in text
    assert "exit 1  0.250 s\n    no response\n    second line\n" in text
    assert health_text({"Config": {}, "State": {"Status": "running"}}).plain == "No health check."
    assert (
        health_text({"Config": {"Healthcheck": {"Test": ["NONE"]}}, "State": {}}).plain == "No health check."
    )


# ------------------------------------------------------------------------- the pane, on the fake ----


@pytest.fixture
def fake_app(tmp_path: Path) -> Iterator[DockyardApp]:
    yield DockyardApp(FakeEngine(tmp_path, compose=True), Settings(stats_interval=3600))  # type: ignore[arg-type]


def _pane(app: DockyardApp) -> ContainersPane:
    screen = next(s for s in app.screen_stack if isinstance(s, MainScreen))
    pane = screen.pane("containers")
    assert isinstance(pane, ContainersPane)
    return pane


def _footer_actions(app: DockyardApp) -> dict[str, str]:
    return {key: b.binding.action for key, b in app.screen.active_bindings.items() if b.binding.show}


async def _settle(pilot: Any) -> None:
    await wait_for(pilot, lambda: pilot.app.snapshot.stats and "project:shop" in _pane(pilot.app).shown)
    await pilot.pause(0.2)


def test_fold_filter_mark_and_the_footer_on_a_project_row(fake_app: DockyardApp) -> None:
    async def scenario() -> None:
        async with fake_app.run_test(size=SIZE) as pilot:
            await _settle(pilot)
            p = _pane(fake_app)
            shop = next(k for k in p.shown if k == "project:shop")
            members = [c.id for c in p.projects[shop].containers]
            assert p.shown.index(shop) < p.shown.index(members[0])
            assert p.by_key[shop].cells[2] == "3/4 running, 1 unhealthy"
            assert "(unhealthy)" in p.by_key[members[0]].cells[2]  # db-1: the container's own health
            # on a project's row the footer offers the project's actions, not a container's
            p.select_key(shop)
            await pilot.pause()
            keys = _footer_actions(fake_app)
            assert {keys[k] for k in "udsrlz"} == {
                "project_up",
                "project_down",
                "project_stop",
                "project_restart",
                "project_logs",
                "fold",
            }
            assert "e" not in keys and "i" not in keys
            # on a container's row, a container's (d removes it: the project's d does not hide it)
            p.select_key(members[0])
            await pilot.pause()
            keys = _footer_actions(fake_app)
            assert (
                keys["d"] == "remove" and keys["s"] == "stop" and keys["e"] == "shell" and keys["z"] == "fold"
            )

            # z on a container folds its project, Enter on the project's row unfolds it
            await pilot.press("z")
            await pilot.pause()
            assert shop in p.collapsed and not set(members) & set(p.shown)
            assert p.cursor_key() == shop and p.by_key[shop].cells[0] == "▸ shop"
            await pilot.press("enter")
            await pilot.pause()
            assert set(members) <= set(p.shown) and p.by_key[shop].cells[0] == "▾ shop"

            # the filter keeps a project's row above the containers it keeps; the project's name keeps all
            await pilot.press("slash", *"web-2", "enter")
            await pilot.pause()
            assert [p.by_key[k].name for k in p.shown] == ["shop", "shop-web-2"]
            await pilot.press("escape")
            await pilot.press("slash", *"blog", "enter")
            await pilot.pause()
            assert [p.by_key[k].name for k in p.shown] == ["blog", "blog-app-1", "blog-db-1"]
            await pilot.press("escape")
            await pilot.pause()

            # Space on a project's row marks its containers (a project is never a target itself)
            p.select_key(shop)
            await pilot.press("space")
            assert p.marked == set(members)
            assert [r.name for r in p.targets()] == [
                "shop-db-1",
                "shop-migrate-1",
                "shop-web-1",
                "shop-web-2",
            ]
            await pilot.press("A")
            assert not any(k.startswith("project:") for k in p.marked)

    asyncio.run(scenario())


def test_down_asks_what_will_go(fake_app: DockyardApp) -> None:
    async def scenario() -> None:
        async with fake_app.run_test(size=SIZE) as pilot:
            await _settle(pilot)
            await wait_for(pilot, lambda: "networks" in fake_app.snapshot.loaded)
            p = _pane(fake_app)
            p.select_key("project:shop")
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(fake_app.screen, ConfirmScreen))
            screen = fake_app.screen
            assert isinstance(screen, ConfirmScreen)
            assert screen.title_text == "Down shop? Stop and remove:"
            body = "\n".join(screen.body)
            for name in ("shop-db-1", "shop-migrate-1", "shop-web-1", "shop-web-2", "network shop_default"):
                assert name in body
            assert "volumes are kept" in body
            await pilot.press("n")
            await pilot.pause()
            assert isinstance(fake_app.screen, MainScreen) and "project:shop" in p.shown

    asyncio.run(scenario())


def test_project_logs_are_merged_and_filtered_by_service(fake_app: DockyardApp) -> None:
    async def scenario() -> None:
        async with fake_app.run_test(size=SIZE) as pilot:
            await _settle(pilot)
            _pane(fake_app).select_key("project:shop")
            await pilot.press("l")
            await wait_for(pilot, lambda: isinstance(fake_app.screen, ProjectLogsScreen))
            view = fake_app.screen.query_one(ProjectLogView)
            await wait_for(pilot, lambda: len(view.shown_text()) == 4 * 200, what="every container's tail")
            lines = view.shown_text()
            # in time order; lines of one time by container (db-1, migrate-1, web-1, web-2)
            assert [ln.split(" ", 1)[0] for ln in lines[:4]] == ["db-1", "migrate-1", "web-1", "web-2"]
            assert lines[0] == "db-1       | shop-db-1: request 0 GET /api/items/0 200 3ms"
            assert view.services == ["db", "migrate", "web"]
            await pilot.press("3")  # hide web
            assert {ln.split(" ", 1)[0] for ln in view.shown_text()} == {"db-1", "migrate-1"}
            await pilot.press("1")  # and db
            assert {ln.split(" ", 1)[0] for ln in view.shown_text()} == {"migrate-1"}
            await pilot.press("2")  # the last one shown stays
            assert {ln.split(" ", 1)[0] for ln in view.shown_text()} == {"migrate-1"}
            await pilot.press("0")
            assert len(view.shown_text()) == 800
            await pilot.press("t")
            assert view.shown_text()[0].startswith("db-1       | 20")
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(fake_app.screen, MainScreen)

    asyncio.run(scenario())


def test_health_tab_shows_the_last_probes(fake_app: DockyardApp) -> None:
    async def scenario() -> None:
        async with fake_app.run_test(size=SIZE) as pilot:
            await _settle(pilot)
            p = _pane(fake_app)
            db = next(c.id for c in p.projects["project:shop"].containers if c.name == "shop-db-1")
            p.select_key(db)
            await pilot.press("i")
            await wait_for(pilot, lambda: getattr(fake_app.screen, "info", None) is not None)
            await pilot.press("7")
            await pilot.pause(0.2)
            screen = fake_app.screen
            assert isinstance(screen, DetailScreen) and screen._active() == "health"
            shown = str(screen.query_one("#health-view").render())
            assert "Status: unhealthy" in shown and shown.count("pg_isready: no response") == 5

    asyncio.run(scenario())


# ---------------------------------------------------------------------------------- snapshots ----


async def _shot_settle(pilot: Any) -> None:
    await _settle(pilot)
    # the detail panel follows the cursor after a debounce: a loaded machine once shot it still on the
    # project the cursor had left
    await pilot.pause()
    await wait_for(pilot, lambda: detail_panel_settled(pilot.app, LOG_LINES), what="the panel on the cursor")
    await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.1)


def test_snapshot_grouped_containers(snap_compare: Any, fake_app: DockyardApp) -> None:
    async def before(pilot: Any) -> None:
        await _shot_settle(pilot)
        _pane(pilot.app).select_key("project:shop")
        await _shot_settle(pilot)

    assert snap_compare(fake_app, terminal_size=SIZE, run_before=before)


def test_snapshot_folded_project_and_down_confirmation(snap_compare: Any, fake_app: DockyardApp) -> None:
    async def before(pilot: Any) -> None:
        await _shot_settle(pilot)
        await wait_for(pilot, lambda: "networks" in pilot.app.snapshot.loaded)
        _pane(pilot.app).select_key("project:blog")
        await pilot.press("z")
        _pane(pilot.app).select_key("project:shop")
        await pilot.press("d")
        await _shot_settle(pilot)

    assert snap_compare(fake_app, terminal_size=SIZE, run_before=before)


def test_snapshot_project_logs(snap_compare: Any, fake_app: DockyardApp) -> None:
    async def before(pilot: Any) -> None:
        await _shot_settle(pilot)
        _pane(pilot.app).select_key("project:shop")
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ProjectLogsScreen))
        view = pilot.app.screen.query_one(ProjectLogView)
        await wait_for(pilot, lambda: len(view.shown_text()) == 800)
        await pilot.press("2")  # migrate hidden
        await pilot.pause(0.3)

    assert snap_compare(fake_app, terminal_size=SIZE, run_before=before)


def test_snapshot_health_tab(snap_compare: Any, fake_app: DockyardApp) -> None:
    async def before(pilot: Any) -> None:
        await _shot_settle(pilot)
        p = _pane(pilot.app)
        p.select_key(next(c.id for c in p.projects["project:shop"].containers if c.name == "shop-db-1"))
        await pilot.press("i")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "info", None) is not None)
        await pilot.press("7")
        await pilot.pause(0.3)

    assert snap_compare(fake_app, terminal_size=SIZE, run_before=before)


# ------------------------------------------------------------------------------ a real engine ----


def compose_labels(project: str, service: str, number: int, workdir: Path) -> dict[str, str]:
    return {
        "com.docker.compose.project": project,
        "com.docker.compose.service": service,
        "com.docker.compose.container-number": str(number),
        "com.docker.compose.oneoff": "False",
        "com.docker.compose.project.working_dir": str(workdir),
        "com.docker.compose.project.config_files": str(workdir / "compose.yaml"),
    }


# busybox sh as PID 1 ignores SIGTERM unless it traps it: without the trap every stop waits its 10 s
LOOP = 'trap "exit 0" TERM; echo "{name} up"; while true; do echo "{name} tick $$(date +%s)"; sleep 1; done'


def make_project(bench: Bench, project: str, workdir: Path) -> dict[str, str]:
    """What ``compose up`` leaves: a network and containers with compose's labels (db with a health check
    that passes after a second), made through the engine interface."""
    engine = bench.engine
    net = f"{project}_default"
    engine.create_network(
        net, labels={"com.docker.compose.project": project, "com.docker.compose.network": "default"}
    )
    ids = {}
    for service, number in (("db", 1), ("web", 1), ("web", 2)):
        name = f"{project}-{service}-{number}"
        script = LOOP.replace("$$", "$").format(name=name)
        if service == "db":
            # trapped before the sleep too: a stop within its first second must not wait 10 s
            script = f'trap "exit 0" TERM; sleep 1; touch /tmp/ready; {script}'
        config = ContainerConfig(
            image="busybox",
            cmd=["sh", "-c", script],
            labels=compose_labels(project, service, number, workdir),
            healthcheck=HealthConfig(
                test=["CMD-SHELL", "test -e /tmp/ready && echo ready"], interval=300_000_000, retries=1
            )
            if service == "db"
            else None,
        )
        c = engine.create_container(ContainerCreate(config, HostConfig(network_mode=net), name=name))
        engine.start_container(c.id)
        ids[name] = c.id
    return ids


def test_project_actions_on_a_real_engine(bench: Bench, tmp_path: Path) -> None:
    engine = bench.engine
    ids = make_project(bench, "shop", tmp_path)
    solo = bench.run("solo", "sh", "-c", 'trap "exit 0" TERM; while true; do sleep 1; done')

    def shop() -> list[ContainerSummary]:
        return [c for c in engine.list_containers(all=True) if c.labels.get("com.docker.compose.project")]

    async def scenario() -> None:
        app = Notified(engine, Settings(stats_interval=0))
        async with app.run_test(size=SIZE) as pilot:
            p = _pane(app)
            await wait_for(
                pilot, lambda: {"project:shop", solo, *ids.values()} <= set(p.shown), what="listed"
            )
            assert p.shown.index("project:shop") == 0 and p.shown.index(solo) == 4
            # db's health check passes after a second: the list says so, and the project's state
            await wait_for(
                pilot, lambda: "(healthy)" in p.by_key[ids["shop-db-1"]].cells[2], timeout=20, what="healthy"
            )
            assert p.by_key["project:shop"].cells[2] == "3/3 running"
            assert p.by_key[ids["shop-db-1"]].cells[0] == "├ db-1"

            # the Health tab: the probes and what they printed
            p.select_key(ids["shop-db-1"])
            await pilot.press("i")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
            await pilot.press("7")
            screen = app.screen
            await wait_for(
                pilot,
                lambda: "exit 0" in str(screen.query_one("#health-view").render()),
                what="a passing probe",
            )
            shown = str(screen.query_one("#health-view").render())
            assert "Status: healthy" in shown and "    ready" in shown
            await pilot.press("escape")

            # merged logs of the project, one service hidden
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            p.select_key("project:shop")
            await pilot.press("l")
            await wait_for(pilot, lambda: isinstance(app.screen, ProjectLogsScreen))
            view = app.screen.query_one(ProjectLogView)
            await wait_for(
                pilot,
                lambda: {ln.split(" ", 1)[0] for ln in view.shown_text()} >= {"db-1", "web-1", "web-2"},
                what="lines of every container",
            )
            await wait_for(
                pilot, lambda: any("shop-web-2 tick" in ln for ln in view.shown_text()), what="live"
            )
            assert all(ln.startswith(("db-1   | ", "web-1  | ", "web-2  | ")) for ln in view.shown_text())
            await pilot.press("2")  # web hidden
            assert {ln.split(" ", 1)[0] for ln in view.shown_text()} == {"db-1"}
            before = len(view.shown_text())
            await wait_for(pilot, lambda: len(view.shown_text()) > before, what="db's lines keep coming")
            # a container that stops and starts again goes on in the same view
            await asyncio.to_thread(engine.stop_container, ids["shop-web-1"])
            await asyncio.to_thread(engine.start_container, ids["shop-web-1"])
            await wait_for(
                pilot,
                lambda: sum(ln.text == "shop-web-1 up" for ln in view.lines) == 2,
                timeout=20,
                what="web-1's lines after its restart",
            )
            await pilot.press("0")
            assert sum(ln.startswith("web-1  | shop-web-1 up") for ln in view.shown_text()) == 2
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))

            # stop the project: every one of its containers, not the others
            p.select_key("project:shop")
            await pilot.press("s")
            await wait_for(
                pilot, lambda: all(c.status == "exited" for c in shop()), timeout=30, what="stopped"
            )
            assert engine.container(solo).status == "running"
            await wait_for(pilot, lambda: p.by_key["project:shop"].cells[2] == "0/3 running", what="the row")

            # restart it
            await pilot.press("r")
            await wait_for(
                pilot, lambda: all(c.status == "running" for c in shop()), timeout=30, what="running"
            )
            await wait_for(pilot, lambda: p.by_key["project:shop"].cells[2].startswith("3/3 running"))

            # down asks, naming what goes; yes takes the containers and the network away
            p.select_key("project:shop")
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert "  network shop_default" in app.screen.body  # type: ignore[attr-defined]
            await pilot.press("y")
            await wait_for(pilot, lambda: not shop(), timeout=30, what="the project's containers gone")
            await wait_for(
                pilot,
                lambda: all(n.name != "shop_default" for n in engine.list_networks()),
                what="its network gone",
            )
            assert engine.container(solo).status == "running"
            await wait_for(pilot, lambda: "project:shop" not in p.shown and solo in p.shown, what="the list")

    try:
        asyncio.run(scenario())
    finally:
        for n in engine.list_networks():
            if n.name == "shop_default":
                for c in shop():
                    engine.remove_container(c.id, force=True)
                engine.remove_network(n.name)


COMPOSE_FILE = """
services:
  db:
    image: busybox
    command: ["sh", "-c", {db}]
    healthcheck:
      test: ["CMD-SHELL", "test -e /tmp/ready"]
      interval: 300ms
      retries: 1
  web:
    image: busybox
    command: ["sh", "-c", {web}]
    depends_on:
      db:
        condition: service_healthy
"""

CACHE_SERVICE = """
  cache:
    image: busybox
    command: ["sh", "-c", {cache}]
"""


def test_up_reloads_the_projects_files(bench: Bench, tmp_path: Path) -> None:
    """``u`` on a project is ``compose up -d`` of the files its labels name: it starts what was stopped and
    creates what the file has gained since."""
    import json

    from compose import orchestrate
    from compose.loader import LoadOptions, load_project

    engine = bench.engine
    script = {name: json.dumps(LOOP.replace("$$", "$").format(name=name)) for name in ("db", "web", "cache")}
    script["db"] = json.dumps("touch /tmp/ready; " + LOOP.replace("$$", "$").format(name="db"))
    (tmp_path / "compose.yaml").write_text(COMPOSE_FILE.format(**script))
    options = LoadOptions(project_name="cafe", project_directory=str(tmp_path), cwd=str(tmp_path))
    orchestrate.up(engine, load_project(options))

    def cafe() -> dict[str, str]:
        return {
            c.name: c.status
            for c in engine.list_containers(all=True)
            if c.labels.get("com.docker.compose.project") == "cafe"
        }

    assert cafe() == {"cafe-db-1": "running", "cafe-web-1": "running"}

    async def scenario() -> None:
        app = Notified(engine, Settings(stats_interval=0))
        async with app.run_test(size=SIZE) as pilot:
            p = _pane(app)
            await wait_for(pilot, lambda: "project:cafe" in p.shown, what="the project")
            p.select_key("project:cafe")
            await pilot.press("s")
            await wait_for(pilot, lambda: set(cafe().values()) == {"exited"}, timeout=30, what="stopped")
            await wait_for(pilot, lambda: p.by_key["project:cafe"].cells[2] == "0/2 running")

            # while up runs, the project's row shows its progress lines
            shown: list[str] = []
            progress = p._progress

            def seen(project: str, line: str | None) -> None:
                progress(project, line)
                shown.append(p.by_key["project:cafe"].cells[2])

            p._progress = seen  # type: ignore[method-assign]
            await pilot.press("u")
            await wait_for(pilot, lambda: set(cafe().values()) == {"running"}, timeout=30, what="up again")
            await wait_for(pilot, lambda: p.by_key["project:cafe"].cells[2].startswith("2/2 running"))
            assert "Container cafe-db-1 Started" in shown and "Container cafe-web-1 Started" in shown
            assert shown[-1].startswith(("0/2 running", "1/2 running", "2/2 running"))  # then its state again
            # (unhooked: a hook that raised once the project's row is gone, as down makes it go, was a
            # failure of the action it reported on)
            p._progress = progress  # type: ignore[method-assign]

            # the file gains a service: up creates it (and keeps the others: their config did not change)
            before = {c.name: c.id for c in engine.list_containers(all=True)}
            with (tmp_path / "compose.yaml").open("a") as f:
                f.write(CACHE_SERVICE.format(**script))
            p.select_key("project:cafe")
            await pilot.press("u")
            await wait_for(pilot, lambda: cafe().get("cafe-cache-1") == "running", timeout=30, what="cache")
            after = {c.name: c.id for c in engine.list_containers(all=True)}
            assert after["cafe-web-1"] == before["cafe-web-1"] and after["cafe-db-1"] == before["cafe-db-1"]
            await wait_for(pilot, lambda: p.by_key["project:cafe"].cells[1] == "3 services", what="the row")

            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await wait_for(pilot, lambda: not cafe(), timeout=30, what="down")
            await wait_for(pilot, lambda: all(n.name != "cafe_default" for n in engine.list_networks()))

    try:
        asyncio.run(scenario())
    finally:
        if cafe() or any(n.name == "cafe_default" for n in engine.list_networks()):
            orchestrate.down(engine, "cafe")
