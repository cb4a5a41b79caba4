"""The workbench driven by Textual's Pilot against a real engine: every screen and every key of the issue.

Each test opens the app at 80x24 (the size people get over SSH), presses keys as a person would and
checks the engine's state afterwards, not just the screen."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from textual.widgets import DataTable, Input, Static, Tree

from core.models import Mount
from tests.tui.tuikit import Bench, wait_for
from tui.app import DockyardApp
from tui.screens.help import HelpScreen
from tui.screens.inspect import DetailScreen
from tui.screens.main import MainScreen
from tui.screens.pull import LayerRow, PullScreen
from tui.screens.run_form import RunFormScreen, parse_run_argv
from tui.settings import Settings
from tui.widgets.panes import ContainersPane

SIZE = (80, 24)


def main_screen(app: DockyardApp) -> MainScreen:
    for s in app.screen_stack:
        if isinstance(s, MainScreen):
            return s
    raise AssertionError("no main screen")


def pane(app: DockyardApp, name: str) -> Any:
    return main_screen(app).pane(name)


def cell(app: DockyardApp, pane_name: str, key: str, column: int) -> str:
    return pane(app, pane_name).by_key[key].cells[column]


async def select(pilot: Any, app: DockyardApp, pane_name: str, key: str) -> None:
    await wait_for(pilot, lambda: key in pane(app, pane_name).shown, what=f"{key} in {pane_name}")
    pane(app, pane_name).select_key(key)
    await pilot.pause()


def test_containers_pane_shows_status_ports_and_updates_from_events(bench: Bench) -> None:
    web = bench.run("web")
    done = bench.run("done", "sh", "-c", "exit 3")
    bench.engine.wait_container(done)

    async def scenario() -> None:
        app = DockyardApp(bench.engine)
        async with app.run_test(size=SIZE) as pilot:
            p = pane(app, "containers")
            await wait_for(pilot, lambda: {web, done} <= set(p.shown), what="both containers listed")
            assert p.by_key[web].cells[0] == "web"
            assert p.by_key[web].cells[1] == "busybox"
            assert p.by_key[web].cells[2].startswith("Up")
            assert p.by_key[done].cells[2].startswith("Exited (3)")
            # CPU/MEM come from stats sampling of running containers
            await wait_for(pilot, lambda: p.by_key[web].cells[4] not in ("…", "-"), what="memory sampled")
            assert p.by_key[done].cells[3] == "-"
            # a container started elsewhere (the CLI in another shell) appears through the event log
            seen = app.events_seen
            other = await asyncio.to_thread(bench.run, "other")
            await wait_for(pilot, lambda: other in p.shown, what="event-driven refresh")
            assert app.events_seen > seen

    asyncio.run(scenario())


def test_container_keys_stop_start_restart_pause_kill_remove(bench: Bench) -> None:
    a = bench.run("one")
    b = bench.run("two")

    async def scenario() -> None:
        app = DockyardApp(bench.engine)
        async with app.run_test(size=SIZE) as pilot:
            p = pane(app, "containers")
            await select(pilot, app, "containers", a)
            await pilot.press("s")
            await wait_for(pilot, lambda: bench.status("one") == "exited", what="stopped")
            await wait_for(pilot, lambda: p.by_key[a].style == "exited", what="list shows exited")
            await pilot.press("u")
            await wait_for(pilot, lambda: bench.status("one") == "running", what="started")
            started = bench.engine.container("one").started_at
            await pilot.press("r")
            await wait_for(
                pilot,
                lambda: (
                    bench.status("one") == "running" and bench.engine.container("one").started_at != started
                ),
                what="restarted",
            )
            await wait_for(pilot, lambda: p.by_key[a].style == "running")
            await pilot.press("p")
            await wait_for(pilot, lambda: bench.status("one") == "paused", what="paused")
            await wait_for(pilot, lambda: p.by_key[a].style == "paused")
            await pilot.press("p")
            await wait_for(pilot, lambda: bench.status("one") == "running", what="unpaused")
            await wait_for(pilot, lambda: p.by_key[a].style == "running")
            await pilot.press("K")
            await wait_for(pilot, lambda: bench.status("one") == "exited", what="killed")
            assert bench.engine.container("one").exit_code == 137
            # bulk: mark both rows, remove with confirmation
            await wait_for(pilot, lambda: p.by_key[a].style == "exited")
            p.select_key(p.shown[0])
            await pilot.press("A")
            assert p.marked == {a, b}
            await pilot.press("d")  # a menu: remove, or remove with its anonymous volumes (rm -v)
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "MenuScreen")
            await pilot.press("n")  # no: nothing happens
            await pilot.pause(0.3)
            assert {c.name for c in bench.engine.list_containers(all=True)} == {"one", "two"}
            await pilot.press("d")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "MenuScreen")
            await pilot.press("1")
            await wait_for(pilot, lambda: not bench.engine.list_containers(all=True), what="both removed")
            await wait_for(pilot, lambda: not p.shown, what="list empty")

    asyncio.run(scenario())


def test_filter_copy_and_prune(bench: Bench) -> None:
    alpha = bench.run("alpha")
    beta = bench.run("beta", "true")
    bench.engine.wait_container(beta)

    async def scenario() -> None:
        app = DockyardApp(bench.engine)
        async with app.run_test(size=SIZE) as pilot:
            p = pane(app, "containers")
            await wait_for(pilot, lambda: {alpha, beta} <= set(p.shown))
            await pilot.press("slash")
            assert isinstance(app.focused, Input)
            await pilot.press(*"alp")
            assert p.shown == [alpha]
            await pilot.press("enter")  # keep the filter, back to the list
            assert isinstance(app.focused, DataTable)
            await pilot.press("y")
            assert app.clipboard == alpha
            await pilot.press("Y")
            assert app.clipboard == "alpha"
            await pilot.press("escape")  # clears the filter
            assert set(p.shown) == {alpha, beta}
            await pilot.press("X")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen")
            await pilot.press("y")
            await wait_for(pilot, lambda: beta not in p.shown, what="pruned")
            assert [c.name for c in bench.engine.list_containers(all=True)] == ["alpha"]

    asyncio.run(scenario())


def test_the_filter_takes_dockers_filters(bench: Bench) -> None:
    """``key=value`` words in the ``/`` filter are ``ps -f`` filters, applied by the engine."""
    alpha = bench.run("alpha")
    beta = bench.run("beta", "true")
    bench.engine.wait_container(beta)

    async def scenario() -> None:
        app = DockyardApp(bench.engine)
        async with app.run_test(size=SIZE) as pilot:
            p = pane(app, "containers")
            await wait_for(pilot, lambda: {alpha, beta} <= set(p.shown))
            await pilot.press("slash", *"status=exited")
            await wait_for(pilot, lambda: p.shown == [beta], what="only the exited one")
            await pilot.press(*" name=^al")  # and: nothing is both
            await wait_for(pilot, lambda: p.shown == [], what="no row")
            p.query_one("#filter", Input).value = "name=^/al"
            await wait_for(pilot, lambda: p.shown == [alpha], what="the name regex")
            p.query_one("#filter", Input).value = "bogus=1"
            await wait_for(pilot, lambda: p.filter_error == "Invalid filter 'bogus'", what="docker's refusal")
            assert p.shown == []
            assert "Invalid filter 'bogus'" in str(p.query_one(".empty", Static).content)
            p.query_one("#filter", Input).value = "alp"  # plain text is a substring, as before
            await wait_for(pilot, lambda: p.shown == [alpha], what="substring")
            bench.run("gamma")  # a new container is filtered as it arrives
            p.query_one("#filter", Input).value = "status=running"
            await wait_for(pilot, lambda: len(p.shown) == 2 and alpha in p.shown, what="both running")

    asyncio.run(scenario())


def test_detail_view_inspect_stats_top_ports_env_mounts(bench: Bench) -> None:
    vol = bench.engine.create_volume("appdata")
    cid = bench.run("detail", env=["GREETING=hello world"], mounts=[Mount("volume", "/data", vol.name)])
    (bench.engine.volume_store.data_dir(vol.name) / "blob").write_bytes(os.urandom(200_000))

    async def scenario() -> None:
        app = DockyardApp(bench.engine)
        async with app.run_test(size=SIZE) as pilot:
            await select(pilot, app, "containers", cid)
            await pilot.press("i")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
            screen = app.screen
            assert isinstance(screen, DetailScreen)
            await wait_for(pilot, lambda: screen.info is not None, what="inspect loaded")
            tree = screen.query_one(Tree)
            labels = [str(n.label) for n in tree.root.children]
            assert any(label.startswith("Id") for label in labels)
            assert any(label.startswith("State") for label in labels)
            await pilot.press("e")  # expand everything, then fold
            await pilot.press("c")
            await pilot.press("2")  # stats
            await wait_for(pilot, lambda: screen.query_one("#stats-view").last is not None, what="stats")
            assert screen.query_one("#stats-view").last.pids >= 1
            await pilot.press("3")  # top
            top = screen.query_one("#top-table", DataTable)
            await wait_for(pilot, lambda: top.row_count >= 1, what="top rows")
            assert any("sleep" in str(top.get_row_at(i)[-1]) for i in range(top.row_count))
            await pilot.press("5")  # env
            env = screen.query_one("#env-table", DataTable)
            rows = [tuple(env.get_row_at(i)) for i in range(env.row_count)]
            assert ("GREETING", "hello world") in rows
            await pilot.press("6")  # mounts
            mounts = screen.query_one("#mounts-table", DataTable)
            rows = [tuple(mounts.get_row_at(i)) for i in range(mounts.row_count)]
            assert ("volume", "appdata", "/data", "rw") in rows
            await pilot.press("4")  # ports (none published: an empty table, no error)
            assert screen.query_one(TabbedContentType).active == "ports"
            await pilot.press("right_square_bracket")
            assert screen.query_one(TabbedContentType).active == "env"
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            # stats / top keys open the same view on their tab
            await pilot.press("S")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
            assert app.screen.query_one(TabbedContentType).active == "stats"
            await pilot.press("escape")
            await pilot.press("T")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
            assert app.screen.query_one(TabbedContentType).active == "top"
            await pilot.press("escape")
            # the Volumes pane knows who uses the volume
            await pilot.press("4")
            v = pane(app, "volumes")
            await wait_for(pilot, lambda: "appdata" in v.shown)
            assert v.by_key["appdata"].cells[3] == "detail"
            # and its size, from the files in it (200,000 bytes take 49 pages here)
            await wait_for(pilot, lambda: v.by_key["appdata"].cells[2].endswith("kB"))
            assert 200 <= float(v.by_key["appdata"].cells[2].removesuffix("kB")) <= 210

    from textual.widgets import TabbedContent as TabbedContentType

    asyncio.run(scenario())


def test_images_pane_inspect_run_and_remove(bench: Bench) -> None:
    async def scenario() -> None:
        app = DockyardApp(bench.engine)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            p = pane(app, "images")
            await wait_for(pilot, lambda: any(r.name == "busybox:latest" for r in p.rows))
            key = next(r.key for r in p.rows if r.name == "busybox:latest")
            p.select_key(key)
            await pilot.press("i")
            await wait_for(
                pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen.info is not None
            )
            assert app.screen.info["RepoTags"]
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            await pilot.press("R")  # run this image: the form comes prefilled
            await wait_for(pilot, lambda: isinstance(app.screen, RunFormScreen))
            assert app.screen.query_one("#image", Input).value == "busybox:latest"
            await pilot.press("escape")
            # remove the busybox:latest tag (the image stays under its registry name)
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            p.select_key(key)
            await pilot.press("d")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen")
            await pilot.press("y")
            await wait_for(
                pilot,
                lambda: all("busybox:latest" not in i.repo_tags for i in bench.engine.list_images()),
                what="tag removed",
            )
            await wait_for(pilot, lambda: key not in p.shown)

    asyncio.run(scenario())


def test_pull_screen_progress_and_cancel(bench: Bench, testbed: Any) -> None:
    from tests.e2e.faultproxy import FaultProxy

    bench.engine.remove_image("busybox")
    bench.engine.remove_image(bench.ref)
    assert bench.engine.list_images() == []

    async def scenario(proxy: FaultProxy) -> None:
        slow_ref = f"{proxy.addr}/busybox:latest"
        app = DockyardApp(bench.engine)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("P")
            await wait_for(pilot, lambda: isinstance(app.screen, PullScreen))
            screen = app.screen
            assert isinstance(screen, PullScreen)
            # a slow registry: cancel while the layer downloads; the engine keeps nothing
            proxy.throttle = 100_000
            screen.query_one("#ref", Input).value = slow_ref
            await pilot.press("enter")
            await wait_for(
                pilot,
                lambda: any(p.status == "Downloading" and p.current > 0 for p in screen._latest.values()),
                what="download under way",
            )
            await pilot.press("escape")
            await wait_for(pilot, lambda: not screen.running, what="pull ended")
            assert screen.result is None and "Cancelled" in (screen.error or "")
            assert isinstance(app.screen, PullScreen)  # Esc cancelled, it did not leave
            assert bench.engine.list_images() == []
            # and now for real: one bar per layer, complete
            proxy.throttle = None
            screen.query_one("#ref", Input).value = bench.ref
            await pilot.press("enter")
            await wait_for(pilot, lambda: not screen.running and screen.result is not None, what="pulled")
            await pilot.pause(0.2)
            rows = list(screen.query(LayerRow))
            assert rows and all(str(r.query_one(".layer-status").content) == "Pull complete" for r in rows)
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            await pilot.press("2")
            await wait_for(pilot, lambda: any(r.name == bench.ref for r in pane(app, "images").rows))

    with FaultProxy(testbed.open_addr) as proxy:
        asyncio.run(scenario(proxy))


def test_run_form_builds_what_the_cli_would_and_runs_it(bench: Bench) -> None:
    async def scenario() -> None:
        app = DockyardApp(bench.engine)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, RunFormScreen))
            form = app.screen
            assert isinstance(form, RunFormScreen)
            for wid, text in (
                ("image", "busybox"),
                ("name", "formed"),
                ("command", "sh -c 'echo started; sleep 300'"),
                ("env", "A=1 'B=two words'"),
                ("volumes", "formvol:/data"),
            ):
                form.query_one(f"#{wid}", Input).value = text
            await pilot.pause()
            line = str(form.query_one("#run-cmdline", Static).content)
            assert line == (
                "dockyard run -d --name formed -e A=1 -e 'B=two words' -v formvol:/data busybox "
                "sh -c 'echo started; sleep 300'"
            )
            # what the form will run is what the CLI parses out of that line
            import shlex

            assert form.last_config == parse_run_argv(shlex.split(line)[1:])
            assert form.last_config.config.env == ["A=1", "B=two words"]
            # a bad field is reported before anything runs
            form.query_one("#volumes", Input).value = "relative-dest"
            await pilot.pause()
            assert "volume" in str(form.query_one("#run-error", Static).content)
            form.query_one("#volumes", Input).value = "formvol:/data"
            form.query_one("#name", Input).focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="form closed")
            await wait_for(pilot, lambda: bench.status("formed") == "running")
            info = bench.engine.inspect_container("formed")
            assert "B=two words" in info["Config"]["Env"]
            assert any(m.get("Name") == "formvol" for m in info["Mounts"])
            p = pane(app, "containers")
            await wait_for(pilot, lambda: any(r.name == "formed" for r in p.rows))

    asyncio.run(scenario())


def test_logs_pane_follows_the_selected_container(bench: Bench) -> None:
    talker = bench.run("talker", "sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done")
    quiet = bench.run("quiet", "sh", "-c", "echo only-line; sleep 300")

    def log_text(app: DockyardApp) -> str:
        view = pane(app, "logs").viewer()
        return "\n".join(view.visible_text()) if view is not None else ""

    def last_number(app: DockyardApp) -> int:
        import re

        found = re.findall(r"line (\d+)", log_text(app))
        return max(map(int, found)) if found else -1

    async def scenario() -> None:
        app = DockyardApp(bench.engine)
        async with app.run_test(size=SIZE) as pilot:
            await select(pilot, app, "containers", talker)
            await pilot.press("l")
            await wait_for(pilot, lambda: main_screen(app).current == "logs")
            await wait_for(pilot, lambda: "line 3" in log_text(app), what="followed lines")
            before = last_number(app)
            await wait_for(pilot, lambda: last_number(app) > before + 2, what="new lines followed")
            # select another container in the list: the Logs pane switches to it
            await pilot.press("1")
            await select(pilot, app, "containers", quiet)
            await pilot.press("5")
            await wait_for(pilot, lambda: "only-line" in log_text(app), what="quiet's log")
            assert "line 1" not in log_text(app)
            # the viewer's own keys work inside the pane: search, then follow off and on
            await pilot.press("slash", *"only", "enter")
            await pilot.press("F")
            assert pane(app, "logs").viewer().follow is False
            await pilot.press("F")
            assert pane(app, "logs").viewer().follow is True

    asyncio.run(scenario())


def test_help_palette_and_configured_keymap(bench: Bench) -> None:
    cid = bench.run("keyed")

    async def scenario() -> None:
        settings = Settings(keymap={"container.stop": "x"}, theme="textual-light")
        app = DockyardApp(bench.engine, settings)
        async with app.run_test(size=SIZE) as pilot:
            assert app.theme == "textual-light"
            await select(pilot, app, "containers", cid)
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            assert ("x", "Stop", "container.stop") in app.screen.entries("containers")
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            await pilot.press("s")  # rebound away: nothing happens
            await pilot.pause(0.5)
            assert bench.status("keyed") == "running"
            await pilot.press("x")
            await wait_for(pilot, lambda: bench.status("keyed") == "exited", what="stopped by rebound key")
            # the command palette reaches container actions
            await wait_for(pilot, lambda: pane(app, "containers").by_key[cid].style == "exited")
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            await pilot.press(*"Containers: Start")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await wait_for(pilot, lambda: bench.status("keyed") == "running", what="started from the palette")

    asyncio.run(scenario())


def test_networks_pane_shows_the_engines_networks(bench: Bench) -> None:
    async def scenario() -> None:
        app = DockyardApp(bench.engine)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            p = pane(app, "networks")
            await wait_for(pilot, lambda: p.loaded)
            assert {r.name for r in p.rows} == {n.name for n in bench.engine.list_networks()}

    asyncio.run(scenario())


def test_containers_pane_is_a_container_pane() -> None:
    # the footer shows container keys on the Containers pane (a quick check without an engine)
    keys = {b.id for b in ContainersPane.BINDINGS if getattr(b, "id", None)}  # type: ignore[attr-defined]
    assert {"container.stop", "container.start", "container.shell", "container.logs"} <= keys


def test_exec_shell_and_attach_in_the_embedded_terminal(bench: Bench) -> None:
    from tui.screens.terminal_screen import AttachScreen, ExecScreen
    from tui.widgets.terminal import TerminalView

    cid = bench.run("shelly", "sh", interactive=True, tty=True)

    def screen_text(app: DockyardApp) -> str:
        term = app.screen.query(TerminalView)
        return "\n".join(term.first().display_lines()) if term else ""

    async def scenario() -> None:
        app = DockyardApp(bench.engine)
        async with app.run_test(size=SIZE) as pilot:
            await select(pilot, app, "containers", cid)
            # exec a shell, run a command in it, leave with `exit`
            await pilot.press("e")
            await wait_for(
                pilot, lambda: isinstance(app.screen, ExecScreen) and app.screen.terminal is not None
            )
            await pilot.pause(0.5)
            await pilot.press(*"echo exec-$((2+3))", "enter")
            await wait_for(pilot, lambda: "exec-5" in screen_text(app), what="exec output")
            await pilot.press(*"exit", "enter")
            await wait_for(
                pilot, lambda: isinstance(app.screen, MainScreen), what="shell exit closes the screen"
            )
            # attach to the container's own shell, type into it, detach (it keeps running)
            await pilot.press("a")
            await wait_for(
                pilot, lambda: isinstance(app.screen, AttachScreen) and app.screen.terminal is not None
            )
            await pilot.pause(0.3)
            await pilot.press(*"echo attached-$((1+2))", "enter")
            await wait_for(pilot, lambda: "attached-3" in screen_text(app), what="attach output")
            await pilot.press("ctrl+right_square_bracket")
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="detached")
            assert bench.status("shelly") == "running"

    asyncio.run(scenario())


def test_run_form_interactive_tty_opens_the_container_terminal(bench: Bench) -> None:
    from textual.widgets import Checkbox

    from tui.screens.terminal_screen import AttachScreen
    from tui.widgets.terminal import TerminalView

    async def scenario() -> None:
        app = DockyardApp(bench.engine)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, RunFormScreen))
            form = app.screen
            form.query_one("#image", Input).value = "busybox"
            form.query_one("#name", Input).value = "inter"
            form.query_one("#command", Input).value = "sh"
            form.query_one("#detach", Checkbox).value = False
            form.query_one("#interactive", Checkbox).value = True
            await pilot.pause()
            assert (
                str(form.query_one("#run-cmdline", Static).content)
                == "dockyard run -it --name inter busybox sh"
            )
            form.query_one("#command", Input).focus()
            await pilot.press("enter")
            await wait_for(
                pilot, lambda: isinstance(app.screen, AttachScreen) and app.screen.terminal is not None
            )
            term = app.screen.query_one(TerminalView)
            await pilot.pause(0.3)
            await pilot.press(*"echo inside-$((4*4))", "enter")
            await wait_for(
                pilot, lambda: "inside-16" in "\n".join(term.display_lines()), what="the shell answered"
            )
            await pilot.press(*"exit 7", "enter")
            await wait_for(
                pilot, lambda: isinstance(app.screen, MainScreen), what="closed when the container exited"
            )
            await wait_for(pilot, lambda: bench.status("inter") == "exited")
            assert bench.engine.container("inter").exit_code == 7

    asyncio.run(scenario())
