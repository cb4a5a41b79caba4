"""The Engines pane and the fleet view, driven by Pilot over three fake engines (tests/tui/fakeengine.py):
what each lists, the switch of the whole workbench to one engine, the fleet's actions going to the row's
engine, a filter across engines, a lost engine's banner and its reconnection (the fake goes down and comes
back; its event streams end as a lost connection's do), and the engine bar of the main screen."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.models import EngineTarget
from tests.tui.fakeengine import FakeEngine
from tests.tui.tuikit import wait_for
from tui.app import DockyardApp
from tui.screens.engines import EnginesScreen
from tui.screens.main import MainScreen
from tui.settings import Settings
from tui.widgets.engines import EngineBar, EnginesPane, Fleet, short_endpoint
from tui.widgets.fleet import FleetPane, fleet_key

SIZE = (120, 30)


def _fakes(tmp_path: Path) -> dict[str, FakeEngine]:
    out = {}
    for name, n in (("alpha", 3), ("beta", 5), ("gamma", 2)):
        (tmp_path / name).mkdir()
        out[name] = FakeEngine(tmp_path / name, containers=n)
        out[name].name = name
    return out


def _app(fakes: dict[str, FakeEngine]) -> DockyardApp:
    app = DockyardApp(fakes["alpha"], Settings(stats_interval=0))
    targets = [
        EngineTarget("alpha", "in-process", "this machine", current=True),
        EngineTarget("beta", "unix:///run/beta.sock", "a dockyard serve"),
        EngineTarget("gamma", "ssh://root@gamma", "over ssh"),
    ]
    app.fleet = Fleet(app, find=lambda current: targets, opener=lambda t: fakes[t.name])
    return app


def _screen(app: DockyardApp) -> EnginesScreen:
    assert isinstance(app.screen, EnginesScreen), app.screen
    return app.screen


def _engines(app: DockyardApp) -> EnginesPane:
    return _screen(app).query_one(EnginesPane)


def _fleet(app: DockyardApp) -> FleetPane:
    return _screen(app).query_one(FleetPane)


def _main(app: DockyardApp) -> MainScreen:
    return next(s for s in app.screen_stack if isinstance(s, MainScreen))


def test_engines_pane_lists_every_engine_and_switches_the_workbench(tmp_path: Path) -> None:
    fakes = _fakes(tmp_path)
    fakes["gamma"].go_down()

    async def scenario() -> None:
        app = _app(fakes)
        async with app.run_test(size=SIZE) as pilot:
            main = _main(app)
            await wait_for(pilot, lambda: len(main.pane("containers").shown) == 3, what="alpha's containers")
            assert not main.query_one(EngineBar).has_class("-shown")  # the in-process engine: no bar
            await pilot.press("E")
            pane = _engines(app)
            await wait_for(pilot, lambda: set(pane.shown) == {"alpha", "beta", "gamma"}, what="three engines")
            await wait_for(
                pilot,
                lambda: (
                    pane.by_key["beta"].cells[2] == "connected"
                    and "unreachable" in pane.by_key["gamma"].cells[2]
                ),
                what="each engine looked at",
            )
            beta = pane.by_key["beta"].cells
            assert beta[1] == "unix:///run/beta.sock"
            assert beta[3] == "dockyard"
            assert (beta[4], beta[5]) == ("0.0-beta", "1.43")
            assert beta[6].startswith("5 (")
            assert pane.by_key["alpha"].cells[0] == "alpha  *"  # the one in use
            gamma = pane.by_key["gamma"]
            assert gamma.style == "exited" and gamma.cells[3] == "" and gamma.cells[6] == ""
            # switching to a lost engine says why, and stays
            pane.select_key("gamma")
            await pilot.press("enter")
            await pilot.pause(0.1)
            assert app.engine is fakes["alpha"]
            # Enter on beta: every pane now talks to beta
            pane.select_key("beta")
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="back on the panes")
            assert app.engine is fakes["beta"] and app.engine_name == "beta"
            containers = main.pane("containers")
            await wait_for(pilot, lambda: len(containers.shown) == 5, what="beta's containers in the pane")
            bar = main.query_one(EngineBar)
            assert bar.has_class("-shown") and "engine beta" in str(bar.render())
            # an event of beta's refreshes the pane (the app now follows beta's events)
            seen = app.events_seen
            await asyncio.to_thread(fakes["beta"].stop_container, "web")
            await wait_for(pilot, lambda: app.events_seen > seen, what="beta's event followed")
            await wait_for(
                pilot,
                lambda: (
                    containers.by_key[containers.shown[0]].style == "exited"
                    or any(
                        containers.by_key[k].cells[0] == "web" and containers.by_key[k].style == "exited"
                        for k in containers.shown
                    )
                ),
                what="web shown stopped",
            )

    asyncio.run(scenario())


def test_fleet_lists_all_engines_and_acts_on_the_rows_engine(tmp_path: Path) -> None:
    fakes = _fakes(tmp_path)

    async def scenario() -> None:
        app = _app(fakes)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("F")
            fleet = _fleet(app)
            await wait_for(pilot, lambda: len(fleet.shown) == 3 + 5 + 2, what="ten rows from three engines")
            assert fleet.COLUMNS[0] == "ENGINE"
            engines = {fleet.by_key[k].cells[0] for k in fleet.shown}
            assert engines == {"alpha", "beta", "gamma"}
            # the same container name on two engines is two rows, one per engine
            web_rows = [k for k in fleet.shown if fleet.by_key[k].name == "web"]
            assert len(web_rows) == 3
            # the filter works across engines: "api" is on all three; an engine's name picks its rows
            await pilot.press("slash", *"api", "enter")
            await wait_for(pilot, lambda: len(fleet.shown) == 3, what="api on three engines")
            assert {fleet.by_key[k].name for k in fleet.shown} == {"api"}
            await pilot.press("escape")
            await wait_for(pilot, lambda: len(fleet.shown) == 10, what="filter cleared")
            await pilot.press("slash", *"beta", "enter")
            await wait_for(pilot, lambda: len(fleet.shown) == 5, what="beta's rows")
            await pilot.press("escape")
            await wait_for(pilot, lambda: len(fleet.shown) == 10, what="filter cleared")
            # an engine's own filter (key=value) is asked of each engine
            await pilot.press("slash", *"status=exited", "enter")
            await wait_for(
                pilot, lambda: fleet.engine_keys is not None and len(fleet.shown) == 1, what="exited ones"
            )
            assert fleet.by_key[fleet.shown[0]].cells[0] == "beta"  # container 3 of beta is the exited one
            await pilot.press("escape")
            await wait_for(pilot, lambda: len(fleet.shown) == 10, what="filter cleared")
            # stop on gamma's "api" row goes to gamma, and gamma's event refreshes its row
            key = fleet_key("gamma", fakes["gamma"].container("api").id)
            fleet.select_key(key)
            await pilot.press("s")
            await wait_for(
                pilot, lambda: fakes["gamma"].calls == [("stop", key.split("/")[1])], what="stop on gamma"
            )
            assert fakes["alpha"].calls == [] and fakes["beta"].calls == []
            await wait_for(pilot, lambda: fleet.by_key[key].style == "exited", what="gamma's row stopped")
            # remove asks first, then removes on beta only
            key = fleet_key("beta", fakes["beta"].container("db").id)
            fleet.select_key(key)
            await pilot.press("d")
            await pilot.pause(0.2)
            await pilot.press("y")
            await wait_for(pilot, lambda: key not in fleet.shown, what="beta's db removed")
            assert [m for m, _ in fakes["beta"].calls] == ["remove"]
            assert [m for m, _ in fakes["alpha"].calls] == []
            # marked engines: only they are in the fleet
            await pilot.press("1")
            pane = _engines(app)
            pane.select_key("gamma")
            await pilot.press("space")
            await pilot.press("F")
            await wait_for(pilot, lambda: len(fleet.shown) == 2, what="gamma only")
            assert {fleet.by_key[k].cells[0] for k in fleet.shown} == {"gamma"}

    asyncio.run(scenario())


def test_a_lost_engine_shows_a_banner_and_reconnects_while_the_others_stay_live(tmp_path: Path) -> None:
    fakes = _fakes(tmp_path)

    async def scenario() -> None:
        app = _app(fakes)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("F")
            fleet = _fleet(app)
            await wait_for(pilot, lambda: len(fleet.shown) == 10, what="ten rows")
            beta = app.fleet.entries["beta"] if app.fleet else None
            assert beta is not None
            fakes["beta"].go_down()
            await wait_for(pilot, lambda: fleet.has_class("-lost"), what="the banner")
            banner = str(fleet.query_one("#fleet-banner").render())
            assert "beta" in banner and "unix:///run/beta.sock" in banner and "connection refused" in banner
            beta_rows = [k for k in fleet.shown if k.startswith("beta/")]
            assert len(beta_rows) == 5  # its last rows stay, marked
            assert all(
                fleet.by_key[k].style == "dead" and "(engine lost)" in fleet.by_key[k].cells[3]
                for k in beta_rows
            )
            # the others stay live: an event of alpha's still refreshes alpha's rows
            await asyncio.to_thread(fakes["alpha"].stop_container, "web")
            key = fleet_key("alpha", fakes["alpha"].container("web").id)
            await wait_for(pilot, lambda: fleet.by_key[key].style == "exited", what="alpha refreshed")
            # and the Engines pane says when beta is tried again
            await pilot.press("1")
            pane = _engines(app)
            await wait_for(pilot, lambda: pane.by_key["beta"].cells[2].startswith("lost"), what="lost state")
            assert beta.watch.attempts >= 1
            fakes["beta"].come_back()
            await wait_for(
                pilot, lambda: pane.by_key["beta"].cells[2] == "connected", timeout=10, what="back"
            )
            await pilot.press("2")
            await wait_for(pilot, lambda: not fleet.has_class("-lost"), what="banner gone")
            assert all(fleet.by_key[k].style != "dead" for k in fleet.shown)

    asyncio.run(scenario())


def test_the_workbenchs_own_engine_lost_shows_on_the_engine_bar(tmp_path: Path) -> None:
    fakes = _fakes(tmp_path)

    async def scenario() -> None:
        app = _app(fakes)
        async with app.run_test(size=SIZE) as pilot:
            main = _main(app)
            containers = main.pane("containers")
            await wait_for(pilot, lambda: len(containers.shown) == 3, what="alpha's containers")
            fakes["alpha"].go_down()
            bar = main.query_one(EngineBar)
            await wait_for(pilot, lambda: bar.has_class("-lost"), what="the banner")
            assert "connection lost" in str(bar.render()) and "retrying in" in str(bar.render())
            loads = app.refreshes
            fakes["alpha"].come_back()
            await wait_for(pilot, lambda: not bar.has_class("-lost"), timeout=10, what="reconnected")
            await wait_for(pilot, lambda: app.refreshes >= loads + 4, what="every list read again")

    asyncio.run(scenario())


def test_long_endpoints_are_shortened_in_the_middle() -> None:
    assert short_endpoint("unix:///run/beta.sock") == "unix:///run/beta.sock"
    long = "unix:///dev/shm/dockyard-shots-13857-hwchgst2/dockerd/docker.sock"
    short = short_endpoint(long)
    assert len(short) == 32 and short.startswith("unix://…") and long.endswith(short.removeprefix("unix://…"))
    assert short_endpoint("ssh://deploy@" + "h" * 60).startswith("ssh://…")


def test_fleet_logs_open_the_rows_engines_log(tmp_path: Path) -> None:
    from tui.screens.engines import FleetLogsScreen

    fakes = _fakes(tmp_path)

    async def scenario() -> None:
        app = _app(fakes)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("F")
            fleet = _fleet(app)
            await wait_for(pilot, lambda: len(fleet.shown) == 10, what="ten rows")
            key = fleet_key("beta", fakes["beta"].container("cache").id)
            fleet.select_key(key)
            await pilot.press("l")
            await wait_for(pilot, lambda: isinstance(app.screen, FleetLogsScreen), what="the logs screen")
            logs = app.screen
            assert isinstance(logs, FleetLogsScreen) and logs.engine is fakes["beta"]
            # the fake's log file is on this machine: the huge-log viewer shows it
            await wait_for(
                pilot, lambda: any("cache: request" in t for t in logs.visible_text()), what="lines"
            )
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, EnginesScreen), what="back to the fleet")

    asyncio.run(scenario())


def test_fleet_w_and_c_act_on_the_rows_container_on_its_engines_host(tmp_path: Path) -> None:
    """``w`` opens the row's published port on its own engine's host; ``c`` runs tui.toml's container
    commands with the row's container's fields."""
    from tui.custom_commands import CustomCommand
    from tui.screens.custom_command import CommandOutputScreen
    from tui.screens.network_forms import LinksScreen

    fakes = _fakes(tmp_path)
    fakes["beta"].host_address = "10.1.2.3"  # type: ignore[attr-defined]  # a remote engine's host
    published = fakes["beta"].containers[1]  # the fake publishes 0.0.0.0:8001->80/tcp for it
    quiet = fakes["gamma"].containers[0]  # and nothing for this one

    async def scenario() -> None:
        app = _app(fakes)
        app.settings.custom_commands["containers"] = [CustomCommand("who", "echo {{.ID}} {{.Name}}")]
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("F")
            fleet = _fleet(app)
            await wait_for(pilot, lambda: len(fleet.shown) == 10, what="ten rows")
            fleet.select_key(fleet_key("beta", published.id))
            await pilot.press("w")
            await wait_for(pilot, lambda: isinstance(app.screen, LinksScreen), what="the links")
            links = app.screen
            assert isinstance(links, LinksScreen)
            assert links.urls == [("8001->80/tcp", "http://10.1.2.3:8001")]
            assert app.clipboard == "http://10.1.2.3:8001"
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, EnginesScreen), what="back to the fleet")
            fleet.select_key(fleet_key("gamma", quiet.id))
            await pilot.press("w")
            await pilot.pause(0.2)
            assert isinstance(app.screen, EnginesScreen)  # no port: a toast, no dialog
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, CommandOutputScreen), what="the command")
            out = app.screen
            assert isinstance(out, CommandOutputScreen)
            await wait_for(pilot, lambda: out.output().strip() != "", what="its output")
            assert out.output().strip() == f"{quiet.id} {quiet.name}"

    asyncio.run(scenario())


def test_an_engine_that_never_answers_does_not_hold_the_screen_up(tmp_path: Path) -> None:
    import time

    fakes = _fakes(tmp_path)
    fakes["gamma"].hung.set()  # like an ssh host that accepts and then says nothing

    async def scenario() -> None:
        app = _app(fakes)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("E")
            pane = _engines(app)
            await wait_for(
                pilot,
                lambda: (
                    pane.by_key["alpha"].cells[2] == "connected"
                    and pane.by_key["beta"].cells[2] == "connected"
                ),
                what="the answering engines",
            )
            assert pane.by_key["gamma"].cells[2] == "looking…"
            t0 = time.monotonic()
            await pilot.press("2")
            fleet = _fleet(app)
            await wait_for(
                pilot, lambda: len(fleet.shown) == 3 + 5, what="the fleet of the answering engines"
            )
            assert time.monotonic() - t0 < 5.0  # gamma's look hangs until released: not waited for
            fakes["gamma"].released.set()
            fakes["gamma"].hung.clear()
            await wait_for(pilot, lambda: len(fleet.shown) == 10, what="gamma's rows once it answers")
            fakes["gamma"].hung.set()
            fakes["gamma"].released.clear()
            fakes["gamma"].go_down()  # its stream ends; the next look hangs
            await pilot.pause(0.3)
        # quitting does not wait for the look in progress
        fakes["gamma"].released.set()

    t0 = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - t0 < 15


def test_engine_kind_comes_from_the_version_document() -> None:
    from core.remote.fleet import kind_of

    # the shapes of /version as dockerd 20.10, podman 4.3's compat API and dockyard serve answer it
    docker = {"Platform": {"Name": ""}, "Components": [{"Name": "Engine", "Version": "20.10.24+dfsg1"}]}
    podman = {
        "Platform": {"Name": "linux/amd64/debian-12"},
        "Components": [{"Name": "Podman Engine", "Version": "4.3.1"}, {"Name": "Conmon"}],
    }
    dockyard = {"Platform": {"Name": "Dockyard"}, "Components": [{"Name": "Engine", "Version": "0.1.0"}]}
    in_process = {"Version": "0.1.0", "Daemon": "none (in-process engine, one shim per running container)"}
    assert [kind_of(d) for d in (docker, podman, dockyard, in_process, {})] == [
        "docker",
        "podman",
        "dockyard",
        "dockyard",
        "",
    ]


def test_reconnects_back_off_from_one_second_to_thirty(tmp_path: Path) -> None:
    from core.remote.fleet import EngineWatch

    watch = EngineWatch(FakeEngine(tmp_path), lambda p, w: None, lambda e: None)
    delays = []
    for attempts in range(1, 9):
        watch.attempts = attempts
        delays.append(watch.delay())
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]
