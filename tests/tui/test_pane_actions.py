"""The panes' actions a lazydocker user expects (issue 16): transitional states on a row while an action
runs, statuses that age with the clock, the Networks and Volumes panes doing what the command line does
(create, connect, disconnect, inspect by name, remove menus, prune), failure toasts that say what failed,
``w`` on a published port (an OSC 8 link, copied with OSC 52), custom commands from tui.toml, the saved
theme, and the 16-colour terminal that gets no 24-bit colour.

Pilot tests at 80x24 against the real engine (the ``bench`` fixture: a LocalEngine with busybox) wherever
the engine's behaviour matters (stop/kill timing, networks, volumes); the fake engine only where the
test is about the screen (``w`` on a fixed port). The 16-colour check runs the real ``dockyard`` in a pty
with TERM=screen and no COLORTERM."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import pytest

from core.models import Mount
from tests.tui.fakeengine import FakeEngine
from tests.tui.tuikit import Bench, Notified, wait_for
from tui import settings as settings_mod
from tui.app import DockyardApp
from tui.custom_commands import CustomCommand, container_fields, render
from tui.screens.custom_command import CommandOutputScreen, CommandTerminalScreen
from tui.screens.inspect import DetailScreen
from tui.screens.main import MainScreen
from tui.screens.network_forms import (
    LinksScreen,
    MenuScreen,
    NetworkCreateScreen,
    VolumeCreateScreen,
    network_view,
)
from tui.settings import Settings
from tui.widgets.links import port_urls

SIZE = (80, 24)
# busybox sh as PID 1 ignores SIGTERM unless it traps it; this one takes a second to stop
SLOW_STOP = 'trap "sleep 1; exit 0" TERM; while true; do sleep 0.2; done'


def pane(app: DockyardApp, name: str) -> Any:
    main = next(s for s in app.screen_stack if isinstance(s, MainScreen))
    return main.pane(name)


async def select(pilot: Any, app: DockyardApp, pane_name: str, key: str) -> None:
    await wait_for(pilot, lambda: key in pane(app, pane_name).shown, what=f"{key} in {pane_name}")
    pane(app, pane_name).select_key(key)
    await pilot.pause()


def named(p: Any, name: str) -> Any:
    """The row called ``name`` (a network's row key is its id)."""
    return next((r for r in p.rows if r.name == name), None)


async def select_named(pilot: Any, app: DockyardApp, pane_name: str, name: str) -> None:
    p = pane(app, pane_name)
    await wait_for(pilot, lambda: named(p, name) is not None and named(p, name).key in p.shown, what=name)
    p.select_key(named(p, name).key)
    await pilot.pause()


async def on_screen(pilot: Any, app: DockyardApp, kind: type) -> Any:
    await wait_for(pilot, lambda: isinstance(app.screen, kind), what=kind.__name__)
    return app.screen


async def type_into(pilot: Any, text: str) -> None:
    await pilot.press(*["space" if ch == " " else ch for ch in text])


def frame(app: DockyardApp) -> str:
    """What the app writes to the terminal for its current screen (its compositor's full update, drawn by
    its console as App._display does on a real driver)."""
    update = app.screen._compositor.render_update(full=True)
    return str(update.render_segments(app.console))


# ------------------------------------------------------------------------------ transitional states


def test_stop_restart_kill_show_their_state_at_once_and_the_result_after(bench: Bench) -> None:
    cid = bench.run("slow", "sh", "-c", SLOW_STOP)

    async def scenario() -> None:
        app = DockyardApp(bench.engine, Settings(stats_interval=0))
        async with app.run_test(size=SIZE) as pilot:
            p = pane(app, "containers")
            await select(pilot, app, "containers", cid)
            status = p.COLUMNS.index("STATUS")

            await pilot.press("s")
            await pilot.pause()  # one turn of the loop: no engine answer yet (the stop takes a second)
            assert p.by_key[cid].cells[status] == "Stopping…"
            assert bench.status("slow") == "running"
            await wait_for(pilot, lambda: p.by_key[cid].cells[status].startswith("Exited (0)"), what="exited")
            assert bench.status("slow") == "exited"

            await pilot.press("u")
            await wait_for(pilot, lambda: p.by_key[cid].cells[status].startswith("Up"), what="started")
            await pilot.press("r")
            await pilot.pause()
            assert p.by_key[cid].cells[status] == "Restarting…"
            await wait_for(pilot, lambda: p.by_key[cid].cells[status].startswith("Up"), timeout=20, what="up")

            # a kill is over at once: what matters is that the row said so before the engine answered
            shown: list[str] = []
            update_row = p.update_row
            p.update_row = lambda row: (shown.append(row.cells[status]), update_row(row))
            await pilot.press("K")
            assert shown and shown[0] == "Killing…"
            await wait_for(
                pilot, lambda: p.by_key[cid].cells[status].startswith("Exited (137)"), what="killed"
            )
            assert not p.pending

    asyncio.run(scenario())


def test_up_and_exited_times_age_without_a_new_list_read(bench: Bench) -> None:
    cid = bench.run("fresh")
    done = bench.run("quick", "true")
    bench.engine.wait_container(done)

    async def scenario() -> None:
        app = DockyardApp(bench.engine, Settings(stats_interval=0), follow_events=False)
        async with app.run_test(size=SIZE) as pilot:
            p = pane(app, "containers")
            await wait_for(pilot, lambda: {cid, done} <= set(p.shown), what="both listed")
            # every list's first read in (a late images or volumes read counted as one more)
            await wait_for(
                pilot,
                lambda: {"containers", "images", "networks", "volumes"} <= app.snapshot.loaded,
                what="all lists read",
            )
            status = p.COLUMNS.index("STATUS")
            reads = app.refreshes
            first_up, first_exit = p.by_key[cid].cells[status], p.by_key[done].cells[status]
            assert first_up.startswith("Up") and first_exit.startswith("Exited (0)")
            # "Up Less than a second" / "1 second" moves on within a couple of seconds, with no list read
            await wait_for(
                pilot, lambda: p.by_key[cid].cells[status] != first_up, timeout=4, what="the uptime aged"
            )
            await wait_for(
                pilot, lambda: p.by_key[done].cells[status] != first_exit, timeout=4, what="the exit aged"
            )
            assert re.fullmatch(r"Up \d+ seconds?", p.by_key[cid].cells[status]), p.by_key[cid].cells[status]
            assert re.fullmatch(r"Exited \(0\) \d+ seconds? ago", p.by_key[done].cells[status])
            assert app.refreshes == reads  # the clock moved them, not the engine

    asyncio.run(scenario())


def test_stats_interval_zero_says_off_and_a_stopped_containers_stats_and_top_agree(bench: Bench) -> None:
    cid = bench.run("idle")
    stopped = bench.run("gone", "true")
    bench.engine.wait_container(stopped)

    async def scenario() -> None:
        app = DockyardApp(bench.engine, Settings(stats_interval=0))
        async with app.run_test(size=SIZE) as pilot:
            p = pane(app, "containers")
            await wait_for(pilot, lambda: cid in p.shown, what="listed")
            cpu, mem = p.COLUMNS.index("CPU %"), p.COLUMNS.index("MEM")
            await pilot.pause(0.5)
            assert (p.by_key[cid].cells[cpu], p.by_key[cid].cells[mem]) == ("off", "off")
            assert not app.snapshot.stats  # never sampled, so nothing stale to show
            assert p.by_key[stopped].cells[cpu] == "-"

            await select(pilot, app, "containers", stopped)
            await pilot.press("S")  # stats tab of a stopped container
            detail = await on_screen(pilot, app, DetailScreen)
            label = detail.query_one("#cpu-label")
            await wait_for(pilot, lambda: "is not running" in str(label.render()), what="stats: not running")
            assert "gone is not running (exited)" in str(label.render())
            await pilot.press("3")  # top
            table = detail.query_one("#top-table")
            await wait_for(pilot, lambda: table.row_count == 1, what="top's answer")
            assert table.get_row_at(0)[0] == "gone is not running (exited)"

    asyncio.run(scenario())


# ---------------------------------------------------------------------------------------- networks


def test_network_create_connect_inspect_disconnect_remove_and_prune(bench: Bench) -> None:
    engine = bench.engine
    web = bench.run("web")
    made = ["frontnet", "busynet", "spare"]

    async def scenario() -> None:
        app = Notified(engine, Settings(stats_interval=0))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            p = pane(app, "networks")
            await wait_for(pilot, lambda: p.loaded, what="networks listed")

            # create, from the form: a bad gateway is refused live, the fixed one is created
            await pilot.press("N")
            form = await on_screen(pilot, app, NetworkCreateScreen)
            await type_into(pilot, "frontnet")
            await pilot.press("tab")
            await type_into(pilot, "10.91.7.0/24")
            await pilot.press("tab")
            await type_into(pilot, "10.91.8.1")
            await pilot.pause()
            assert "Gateway: 10.91.8.1 is not in 10.91.7.0/24" in str(form.query_one("#form-error").render())
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen is form  # refused: still open
            form.query_one("#gateway").value = "10.91.7.1"
            await pilot.press("tab")  # gateway -> labels
            await type_into(pilot, "team=web")
            await pilot.press("enter")
            await wait_for(
                pilot, lambda: any(n.name == "frontnet" for n in engine.list_networks()), what="made"
            )
            net = next(n for n in engine.list_networks() if n.name == "frontnet")
            assert (net.subnet, net.gateway, net.labels) == ("10.91.7.0/24", "10.91.7.1", {"team": "web"})

            # connect: pick the container from the menu
            await select_named(pilot, app, "networks", "frontnet")
            await pilot.press("C")
            menu = await on_screen(pilot, app, MenuScreen)
            assert [label.split()[0] for _, label in menu.choices] == ["web"]
            await pilot.press("enter")
            await wait_for(
                pilot,
                lambda: "web" in next(n for n in engine.list_networks() if n.name == "frontnet").containers,
                what="connected",
            )
            await wait_for(pilot, lambda: "web" in named(p, "frontnet").cells[3], what="the row shows it")

            # inspect: its containers by name
            await pilot.press("i")
            detail = await on_screen(pilot, app, DetailScreen)
            await wait_for(pilot, lambda: detail.info is not None, what="inspect")
            assert list(detail.info["Containers"]) == ["web"]
            assert detail.info["Containers"]["web"]["Id"] == web
            await pilot.press("escape")
            await on_screen(pilot, app, MainScreen)

            # remove while a container is on it: refused, and the toast says what failed
            await pilot.press("d")
            menu = await on_screen(pilot, app, MenuScreen)
            assert "used by web" in "\n".join(menu.body)
            await pilot.press("1")
            await wait_for(pilot, lambda: any(m.startswith("Could not remove frontnet: ") for m in app.told))
            assert not any(m.startswith("Removed frontnet") for m in app.told)

            # disconnect it, from the menu of the containers on it
            await pilot.press("D")
            menu = await on_screen(pilot, app, MenuScreen)
            assert menu.choices == [("web", "web")]
            await pilot.press("enter")
            await wait_for(
                pilot,
                lambda: not next(n for n in engine.list_networks() if n.name == "frontnet").containers,
                what="disconnected",
            )
            assert any(m == "Disconnected web from frontnet" for m in app.told)

            # force (disconnect its containers, then remove) on a network in use
            await asyncio.to_thread(engine.create_network, "busynet")
            await asyncio.to_thread(engine.connect_network, "busynet", web)
            await select_named(pilot, app, "networks", "busynet")
            await pilot.press("d")
            await on_screen(pilot, app, MenuScreen)
            await pilot.press("2")
            await wait_for(
                pilot, lambda: all(n.name != "busynet" for n in engine.list_networks()), what="forced"
            )
            await wait_for(pilot, lambda: named(p, "busynet") is None, what="gone from the list")

            # plain remove
            await select_named(pilot, app, "networks", "frontnet")
            await pilot.press("d")
            await on_screen(pilot, app, MenuScreen)
            await pilot.press("1")
            await wait_for(
                pilot, lambda: all(n.name != "frontnet" for n in engine.list_networks()), what="rm"
            )
            assert "Removed frontnet" in app.told

            # prune: the unused user network goes, the predefined ones stay
            await asyncio.to_thread(engine.create_network, "spare")
            await wait_for(pilot, lambda: named(p, "spare") is not None, what="spare listed")
            await pilot.press("X")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen")
            await pilot.press("y")
            await wait_for(
                pilot, lambda: all(n.name != "spare" for n in engine.list_networks()), what="pruned"
            )
            await wait_for(pilot, lambda: any(m.startswith("Pruned 1 network: spare") for m in app.told))

    try:
        asyncio.run(scenario())
    finally:
        for name in made:
            if any(n.name == name for n in engine.list_networks()):
                for c in engine.list_containers(all=True):
                    try:
                        engine.disconnect_network(name, c.id, force=True)
                    except Exception:
                        pass
                engine.remove_network(name)


def test_network_view_keys_containers_by_name() -> None:
    hexid = "a" * 64
    info = {"Name": "n", "Containers": {hexid: {"Name": "web", "IPv4Address": "10.0.0.2/24"}}}
    assert network_view(info)["Containers"] == {"web": {"Id": hexid, "IPv4Address": "10.0.0.2/24"}}
    assert network_view({"Containers": {}}) == {"Containers": {}}


def test_network_force_remove_disconnects_the_members_of_now_not_of_the_last_list(bench: Bench) -> None:
    """The list was read before a container joined (no events followed here): "disconnect its containers,
    then remove" asks the engine who is on it at that moment."""
    engine = bench.engine
    web = bench.run("web")
    engine.create_network("latenet")

    async def scenario() -> None:
        app = Notified(engine, Settings(stats_interval=0), follow_events=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            await select_named(pilot, app, "networks", "latenet")
            await asyncio.to_thread(engine.connect_network, "latenet", web)
            assert not named(pane(app, "networks"), "latenet").cells[3]  # the list does not know it
            await pilot.press("d")
            await on_screen(pilot, app, MenuScreen)
            await pilot.press("2")
            await wait_for(
                pilot, lambda: all(n.name != "latenet" for n in engine.list_networks()), what="forced"
            )
            assert not any(m.startswith("Could not") for m in app.told)

    try:
        asyncio.run(scenario())
    finally:
        if any(n.name == "latenet" for n in engine.list_networks()):
            engine.disconnect_network("latenet", web, force=True)
            engine.remove_network("latenet")


# ----------------------------------------------------------------------------------------- volumes


def test_volume_create_remove_force_and_prune(bench: Bench) -> None:
    engine = bench.engine

    async def scenario() -> None:
        app = Notified(engine, Settings(stats_interval=0))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            p = pane(app, "volumes")
            await wait_for(pilot, lambda: p.loaded, what="volumes listed")

            await pilot.press("N")
            form = await on_screen(pilot, app, VolumeCreateScreen)
            await type_into(pilot, "-bad")
            await pilot.pause()
            assert "Name: '-bad'" in str(form.query_one("#form-error").render())
            form.query_one("#name").value = "keep.me"
            await pilot.press("tab")
            await type_into(pilot, "tier=db")
            await pilot.press("enter")
            await wait_for(
                pilot, lambda: any(v.name == "keep.me" for v in engine.list_volumes()), what="made"
            )
            assert next(v for v in engine.list_volumes() if v.name == "keep.me").labels == {"tier": "db"}
            await wait_for(pilot, lambda: "keep.me" in p.by_key, what="listed")

            # a volume in use: remove is refused and says so; force is refused too while a container
            # (even a stopped one) has it, as docker's
            used = await asyncio.to_thread(
                bench.run, "user", "true", mounts=[Mount(type="volume", source="keep.me", target="/data")]
            )
            await asyncio.to_thread(engine.wait_container, used)
            await wait_for(pilot, lambda: p.by_key["keep.me"].cells[3] == "user", what="used by")
            await select(pilot, app, "volumes", "keep.me")
            await pilot.press("d")
            menu = await on_screen(pilot, app, MenuScreen)
            assert "(used by user)" in "\n".join(menu.body)
            await pilot.press("1")
            await wait_for(pilot, lambda: any(m.startswith("Could not remove keep.me: ") for m in app.told))
            assert any(v.name == "keep.me" for v in engine.list_volumes())

            # the container goes (with rm -v from the containers' menu: a named volume stays), then remove
            await pilot.press("1")
            await select(pilot, app, "containers", used)
            await pilot.press("d")
            menu = await on_screen(pilot, app, MenuScreen)
            assert [v for v, _ in menu.choices] == ["remove", "volumes"]
            await pilot.press("2")
            await wait_for(pilot, lambda: not engine.list_containers(all=True), what="container removed")
            assert any(v.name == "keep.me" for v in engine.list_volumes())  # named: -v keeps it
            await pilot.press("4")
            await wait_for(pilot, lambda: p.by_key["keep.me"].cells[3] == "", what="unused now")
            await select(pilot, app, "volumes", "keep.me")
            await pilot.press("d")
            await on_screen(pilot, app, MenuScreen)
            await pilot.press("2")  # force
            await wait_for(
                pilot, lambda: all(v.name != "keep.me" for v in engine.list_volumes()), what="rm -f"
            )
            assert "Force-removed keep.me" in app.told

            # prune: anonymous only (the named one stays), then every unused one
            await asyncio.to_thread(engine.create_volume, "named")
            anon = (await asyncio.to_thread(engine.create_volume, None)).name
            await wait_for(pilot, lambda: {"named", anon} <= set(p.by_key), what="both listed")
            await pilot.press("X")
            await on_screen(pilot, app, MenuScreen)
            await pilot.press("1")
            await wait_for(
                pilot, lambda: all(v.name != anon for v in engine.list_volumes()), what="anon pruned"
            )
            assert any(v.name == "named" for v in engine.list_volumes())
            await pilot.press("X")
            await on_screen(pilot, app, MenuScreen)
            await pilot.press("2")
            await wait_for(pilot, lambda: not engine.list_volumes(), what="all pruned")
            await wait_for(pilot, lambda: any(m.startswith("Pruned 1 volume") for m in app.told))

    asyncio.run(scenario())


# --------------------------------------------------------------------------------- failure toasts


def test_a_failed_action_says_what_failed(bench: Bench) -> None:
    cid = bench.run("victim")

    async def scenario() -> None:
        app = Notified(bench.engine, Settings(stats_interval=0))
        async with app.run_test(size=SIZE) as pilot:
            await select(pilot, app, "containers", cid)
            # gone behind the app's back (the CLI in another shell): the stop fails
            await asyncio.to_thread(bench.engine.remove_container, cid, force=True)
            await pilot.press("s")
            await wait_for(pilot, lambda: any("victim" in m for m in app.told), what="the toast")
            told = next(m for m in app.told if "victim" in m)
            assert told.startswith("Could not stop victim: "), told
            assert "Stopped" not in told and "\n" not in told

    asyncio.run(scenario())


# ----------------------------------------------------------------------------------- w: open a port


def test_w_shows_the_url_as_an_osc8_link_and_copies_it(tmp_path: Path) -> None:
    engine = FakeEngine(tmp_path)
    c = engine.containers[1]  # the fake engine publishes 0.0.0.0:8001->80/tcp for it
    url = "http://127.0.0.1:8001"

    async def scenario() -> None:
        app = Notified(engine, Settings(stats_interval=0))  # type: ignore[arg-type]
        async with app.run_test(size=SIZE) as pilot:
            written: list[str] = []
            driver = app._driver
            assert driver is not None
            driver.write = written.append  # type: ignore[method-assign]  # what reaches the terminal
            await select(pilot, app, "containers", c.id)
            await pilot.press("w")
            links = await on_screen(pilot, app, LinksScreen)
            assert links.urls == [("8001->80/tcp", url)]
            await pilot.pause(0.1)
            out = frame(app)
            # OSC 8: ESC ] 8 ; params ; URL ST, then (after its SGR) the URL as its text, then ESC ] 8 ; ; ST
            opened = re.search(r"\x1b\]8;[^;\x1b]*;" + re.escape(url) + r"\x1b\\(?:\x1b\[[0-9;]*m)*", out)
            assert opened, out
            assert out[opened.end() :].startswith(url)
            assert "\x1b]8;;\x1b\\" in out[opened.end() :]
            assert app.clipboard == url
            osc52 = [w for w in written if w.startswith("\x1b]52;c;")]  # what the terminal copies
            import base64

            assert osc52 and base64.b64decode(osc52[-1].split(";")[2].rstrip("\a")).decode() == url
            await pilot.press("escape")
            await on_screen(pilot, app, MainScreen)
            # a container that publishes nothing says so
            await select(pilot, app, "containers", engine.containers[0].id)
            await pilot.press("w")
            await wait_for(pilot, lambda: any("publishes no port" in m for m in app.told))

    asyncio.run(scenario())


def test_port_urls() -> None:
    from core.models import PortBinding

    ports = [
        PortBinding(80, "tcp", "0.0.0.0", 8080),
        PortBinding(443, "tcp", "10.1.2.3", 8443),
        PortBinding(53, "udp", "0.0.0.0", 5353),
        PortBinding(81, "tcp", "::", 8081),
        PortBinding(82, "tcp", "", 0),
    ]
    assert port_urls(ports) == [
        ("8080->80/tcp", "http://127.0.0.1:8080"),
        ("8081->81/tcp", "http://127.0.0.1:8081"),
        ("8443->443/tcp", "https://10.1.2.3:8443"),
    ]
    assert port_urls(ports[:1], "engine.example")[0][1] == "http://engine.example:8080"


# -------------------------------------------------------------------------------- custom commands


def test_custom_commands_fill_placeholders_show_output_and_errors(bench: Bench, tmp_path: Path) -> None:
    cid = bench.run("target")
    config = tmp_path / "tui.toml"
    config.write_text(
        """
stats_interval = 0
[[custom_commands.containers]]
name = "who"
command = "echo id={{ .ID }} name={{ .Name }} image={{ .Image }} state={{ .State }}"

[[custom_commands.containers]]
name = "fails"
command = "echo about {{ quote .Name }} >&2; exit 3"

[[custom_commands.containers]]
name = "missing field"
command = "echo {{ .Nope }}"

[[custom_commands.containers]]
name = "in a terminal"
command = "printf 'tty:'; test -t 0 && echo yes; echo {{ .Name }} done"
attach = true

[[custom_commands.volumes]]
name = "vol"
command = "echo volume {{ .Name }}"
""",
        encoding="utf-8",
    )
    settings = settings_mod.load(config)
    assert [c.name for c in settings.custom_commands["containers"]][:2] == ["who", "fails"]

    async def scenario() -> None:
        app = Notified(bench.engine, settings)
        async with app.run_test(size=SIZE) as pilot:
            await select(pilot, app, "containers", cid)
            await pilot.press("c")
            menu = await on_screen(pilot, app, MenuScreen)
            assert [label for _, label in menu.choices] == ["who", "fails", "missing field", "in a terminal"]
            await pilot.press("1")
            out = await on_screen(pilot, app, CommandOutputScreen)
            await wait_for(pilot, lambda: out.exit_code is not None, what="the command's end")
            assert out.output().strip() == f"id={cid} name=target image=busybox state=running"
            assert "exited with code 0" in str(out.query_one("#custom-title").render())
            await pilot.press("escape")
            await on_screen(pilot, app, MainScreen)

            # a failing command: its output (stderr too), its code in the title and a toast
            await pilot.press("c", "2")
            out = await on_screen(pilot, app, CommandOutputScreen)
            await wait_for(pilot, lambda: out.exit_code is not None, what="the command's end")
            assert out.output().strip() == "about target" and out.exit_code == 3
            assert any(m == "Custom command fails on target: exited with code 3" for m in app.told)
            await pilot.press("escape")
            await on_screen(pilot, app, MainScreen)

            # a field the object does not have: Go's template error, nothing run
            await pilot.press("c", "3")
            await wait_for(pilot, lambda: any("missing field: template:" in m for m in app.told))
            assert isinstance(app.screen, MainScreen)

            # attach = true: in the embedded terminal (a tty), which stays when it ends
            await pilot.press("c", "4")
            term = await on_screen(pilot, app, CommandTerminalScreen)
            await wait_for(pilot, lambda: term.exit_code is not None, what="the terminal command's end")
            shown = "\n".join(term.terminal.display_lines()) if term.terminal else ""
            assert "tty:yes" in shown and "target done" in shown
            assert isinstance(app.screen, CommandTerminalScreen)
            await pilot.press("escape")
            await on_screen(pilot, app, MainScreen)

            # images have none configured: the toast says where to add one
            await pilot.press("2", "c")
            await wait_for(pilot, lambda: any("[[custom_commands.images]]" in m for m in app.told))

    asyncio.run(scenario())


def test_custom_command_config_errors_name_the_entry(tmp_path: Path) -> None:
    from core.errors import InvalidArgument

    bad = {
        "custom_commands": {"containers": [{"name": "x", "command": "echo {{ .ID "}]},
    }
    with pytest.raises(InvalidArgument, match=r"custom_commands.containers\[0\] \(x\): template:"):
        settings_mod.parse(bad)
    with pytest.raises(InvalidArgument, match="unknown kind 'pods'"):
        settings_mod.parse({"custom_commands": {"pods": []}})
    with pytest.raises(InvalidArgument, match="unknown key"):
        settings_mod.parse({"custom_commands": {"images": [{"name": "a", "command": "b", "shell": "x"}]}})
    # shell quoting on demand
    from core.models import ContainerSummary

    c = ContainerSummary("f" * 64, "it's", "busybox", "", "", "", "running", None, "", "", [], {"a": "b"})
    line = render(CustomCommand("q", 'echo {{ quote .Name }} {{ index .Labels "a" }}'), container_fields(c))
    assert line == "echo 'it'\"'\"'s' b"


# ---------------------------------------------------------------------------------------- theme


def test_a_chosen_theme_is_saved_and_survives_a_restart(tmp_path: Path) -> None:
    config = tmp_path / "tui.toml"
    config.write_text('# mine\nstats_interval = 0\n\n[keymap]\n"container.stop" = "x"\n', encoding="utf-8")
    engine = FakeEngine(tmp_path)

    async def choose() -> None:
        app = DockyardApp(engine, settings_mod.load(config), settings_file=config)  # type: ignore[arg-type]
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.theme = "nord"  # what the palette's "Change theme" does
            await pilot.pause()

    async def reopen() -> str:
        app = DockyardApp(engine, settings_mod.load(config), settings_file=config)  # type: ignore[arg-type]
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            return app.theme

    asyncio.run(choose())
    text = config.read_text(encoding="utf-8")
    assert text.startswith('theme = "nord"\n# mine\nstats_interval = 0\n')
    assert '"container.stop" = "x"' in text  # the rest kept
    assert asyncio.run(reopen()) == "nord"
    # a second choice replaces the line, not adds one
    settings_mod.save_theme("gruvbox", config)
    assert config.read_text(encoding="utf-8").count("theme =") == 1
    assert settings_mod.load(config).theme == "gruvbox"


def test_an_app_without_a_settings_file_saves_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = DockyardApp(FakeEngine(tmp_path))  # type: ignore[arg-type]
        async with app.run_test(size=SIZE) as pilot:
            app.theme = "nord"
            await pilot.pause()

    asyncio.run(scenario())
    assert not list(tmp_path.rglob("*.toml"))


# ------------------------------------------------------------------------------------- colours


class SixteenColours(DockyardApp):
    CSS_PATH = Notified.CSS_PATH

    def colour_system(self) -> str | None:
        return "standard"


def test_16_colours_use_the_ansi_theme_unless_one_is_chosen(tmp_path: Path) -> None:
    async def theme(settings: Settings) -> str:
        app = SixteenColours(FakeEngine(tmp_path), settings)  # type: ignore[arg-type]
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            return app.theme

    assert asyncio.run(theme(Settings())) == settings_mod.ANSI_THEME
    assert asyncio.run(theme(settings_mod.parse({"theme": "nord"}))) == "nord"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TERM": "screen"}, "standard"),
        ({"TERM": "xterm"}, "standard"),
        ({"TERM": "screen-256color"}, "256"),
        ({"TERM": "screen", "COLORTERM": "truecolor"}, "truecolor"),
        ({"TERM": "xterm-256color", "COLORTERM": "24bit"}, "truecolor"),
    ],
)
def test_the_colour_system_comes_from_term_and_colorterm(
    env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("COLORTERM", "TEXTUAL_COLOR_SYSTEM", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = DockyardApp(FakeEngine(tmp_path))  # type: ignore[arg-type]
    assert app.console.color_system == expected


@pytest.mark.skipif(os.geteuid() != 0, reason="the workbench opens a real engine root")
def test_screen_without_colorterm_gets_no_24_bit_colour(tmp_path: Path) -> None:
    from tests.tui.test_colours import _EXTENDED, _screen_bytes

    out = _screen_bytes("screen", tmp_path / "a")
    assert b"Containers" in out and re.search(rb"\x1b\[[0-9;]*m", out)
    assert not _EXTENDED.findall(out), _EXTENDED.findall(out)[:5]
    # the ANSI theme: the terminal's own default colours (39/49), not RGB rounded to black and grey
    assert re.search(rb"\x1b\[(?:[0-9;]*;)?49(?:;[0-9;]*)?m", out)


# ------------------------------------------------------------------------------------- pull bars


def test_a_cancelled_pulls_bars_say_cancelled(bench: Bench, testbed: Any) -> None:
    from textual.widgets import Input, ProgressBar

    from tests.e2e.faultproxy import FaultProxy
    from tui.screens.pull import LayerRow, PullScreen

    bench.engine.remove_image("busybox")
    bench.engine.remove_image(bench.ref)

    async def scenario(proxy: FaultProxy) -> None:
        app = DockyardApp(bench.engine, Settings(stats_interval=0))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("P")
            screen = await on_screen(pilot, app, PullScreen)
            proxy.throttle = 100_000
            screen.query_one("#ref", Input).value = f"{proxy.addr}/busybox:latest"
            await pilot.press("enter")
            await wait_for(
                pilot,
                lambda: any(p.status == "Downloading" and p.current > 0 for p in screen._latest.values()),
                what="download under way",
            )
            await wait_for(pilot, lambda: list(screen.query(LayerRow)), what="a bar")
            await pilot.press("escape")
            await wait_for(pilot, lambda: not screen.running, what="pull ended")
            await pilot.pause(0.2)
            rows = list(screen.query(LayerRow))
            assert rows
            for row in rows:
                assert str(row.query_one(".layer-status").content) == "Cancelled"
                assert row.has_class("layer-stopped")
                assert row.query_one(ProgressBar).total is not None  # not pulsing as if still at work
            assert bench.engine.list_images() == []

    with FaultProxy(testbed.open_addr) as proxy:
        asyncio.run(scenario(proxy))


# --------------------------------------------------------------- the same through the Engine API


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_network_connect_inspect_disconnect_over_the_engine_api(bench: Bench) -> None:
    """The Networks pane over a RemoteEngine (dockyard's API server in front of the local engine): what
    the pane reads and sends goes through Docker's JSON both ways (inspect's Containers keyed by id)."""
    from core.interface import engine_for
    from tests.e2e.apiserver import running_server

    web = bench.run("web")

    async def scenario(remote: Any) -> None:
        app = Notified(remote, Settings(stats_interval=0))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            p = pane(app, "networks")
            await pilot.press("N")
            await on_screen(pilot, app, NetworkCreateScreen)
            await type_into(pilot, "apinet")
            await pilot.press("enter")
            await select_named(pilot, app, "networks", "apinet")
            await pilot.press("C")
            await on_screen(pilot, app, MenuScreen)
            await pilot.press("enter")
            await wait_for(pilot, lambda: "web" in named(p, "apinet").cells[3], what="connected, as listed")
            await pilot.press("i")
            detail = await on_screen(pilot, app, DetailScreen)
            await wait_for(pilot, lambda: detail.info is not None, what="inspect")
            assert (
                list(detail.info["Containers"]) == ["web"] and detail.info["Containers"]["web"]["Id"] == web
            )
            await pilot.press("escape")
            await on_screen(pilot, app, MainScreen)
            await pilot.press("D")
            await on_screen(pilot, app, MenuScreen)
            await pilot.press("enter")
            await wait_for(pilot, lambda: named(p, "apinet").cells[3] == "", what="disconnected")
            await pilot.press("d")
            await on_screen(pilot, app, MenuScreen)
            await pilot.press("1")
            await wait_for(pilot, lambda: named(p, "apinet") is None, what="removed")
            assert all(n.name != "apinet" for n in bench.engine.list_networks())
            assert not [m for m in app.told if m.startswith("Could not")]

    try:
        with running_server(bench.config) as api:
            asyncio.run(scenario(engine_for(host=api.host)))
    finally:
        if any(n.name == "apinet" for n in bench.engine.list_networks()):
            try:
                bench.engine.disconnect_network("apinet", web, force=True)
            except Exception:
                pass
            bench.engine.remove_network("apinet")
