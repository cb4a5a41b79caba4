"""The master-detail containers list (issue 16, "Layout and flow"): the detail panel beside or under the list
follows the cursor (debounced, one read per rest), its tabs work only while seen, the columns fit the width
by priority, sort by key and by a click on a header, hide-stopped, g/G/Home/End, addresses and mouse.

Most tests run on the fixed fake engine (tests/tui/fakeengine.py: the same rows, widths and pictures every
run); one follows real containers' logs through a real engine."""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.events import MouseScrollUp
from textual.widgets import DataTable, Log

from core.interface import LogStream
from core.models import RUNNING_STATES, ContainerConfig, ContainerCreate, HostConfig, LogLine
from tests.tui.fakeengine import LOG_LINES as FAKE_LOG_LINES
from tests.tui.fakeengine import FakeEngine
from tests.tui.tuikit import Bench, detail_panel_settled, wait_for
from tui import settings as settings_mod
from tui.app import DockyardApp
from tui.screens.inspect import DetailScreen
from tui.screens.main import MainScreen
from tui.settings import Settings
from tui.widgets import detail_panel
from tui.widgets.detail_panel import DetailPanel
from tui.widgets.logfollow import REPAINT_EVERY
from tui.widgets.panes import ContainersPane
from tui.widgets.rows import PROJECT_KEY, short_image

NARROW = (80, 24)
WIDE = (200, 50)


def fake_app(tmp_path: Path, *, compose: bool = False, settings: Settings | None = None) -> DockyardApp:
    engine = FakeEngine(tmp_path, compose=compose)
    return DockyardApp(engine, settings or Settings(stats_interval=3600))  # type: ignore[arg-type]


def main(app: DockyardApp) -> MainScreen:
    for s in app.screen_stack:
        if isinstance(s, MainScreen):
            return s
    raise AssertionError("no main screen")


def pane(app: DockyardApp) -> ContainersPane:
    return main(app).pane("containers")  # type: ignore[no-any-return]


def panel(app: DockyardApp) -> DetailPanel:
    return main(app).panel


async def loaded(pilot: Any) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: pane(app).shown, what="the containers listed")
    await wait_for(pilot, lambda: pane(app).cursor_key() is not None, what="a cursor row")

    def settled() -> bool:
        d = panel(app)
        if not d.display:
            return True
        if pane(app).cursor_key() in pane(app).projects:
            return d._debounce is None and d.container is None
        return d.info is not None

    await wait_for(pilot, settled, what="the panel read")


def log_text(app: DockyardApp) -> str:
    return "\n".join(panel(app).query_one("#panel-log", Log).lines)


def run(coro: Any) -> None:
    asyncio.run(coro)


# ----------------------------------------------------------------- following the cursor


def test_panel_follows_the_cursor_once_it_rests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # three keys in a row come well within the rest the panel waits for, even on a loaded machine (with
    # 0.25 s, a test worker beside two others once saw the highlight of a row passed over settle)
    monkeypatch.setattr(detail_panel, "DEBOUNCE", 1.0)

    async def scenario() -> None:
        app = fake_app(tmp_path)
        async with app.run_test(size=NARROW) as pilot:
            await loaded(pilot)
            p, d = pane(app), panel(app)
            first = p.shown[0]
            assert d.container == first
            assert d.live and d.active_tab == "logs"
            await wait_for(pilot, lambda: "web: request" in log_text(app), what="web's log in the panel")
            assert len(d.query_one("#panel-log", Log).lines) <= 500  # bounded: the last lines only
            reads, streams = d.reads, d.streams_opened
            # quickly over three rows: no read, no stream per row passed
            await pilot.press("j", "j", "j")
            assert d.reads == reads and d.streams_opened == streams
            target = p.cursor_key()
            await wait_for(pilot, lambda: d.container == target, what="the panel on the row it rests on")
            await pilot.pause(0.3)
            assert d.reads == reads + 1 and d.streams_opened == streams + 1
            name = p.by_key[target].name
            await wait_for(pilot, lambda: f"{name}: " in log_text(app), what=f"{name}'s log")
            assert "web: request" not in log_text(app)
            await wait_for(pilot, lambda: name in str(d.query_one("#panel-title").render()), what="title")

    run(scenario())


class _Chatty(LogStream):
    """A container that writes a line every 20 ms while followed, until closed."""

    def __init__(self, follow: bool) -> None:
        self._follow = follow
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[LogLine]:
        n = 0
        yield LogLine("stdout", "2026-12-04T00:00:00.000000000Z", "chatty: first\n")
        while self._follow and not self._closed.wait(0.02):
            n += 1
            yield LogLine("stdout", "2026-12-04T00:00:00.000000000Z", f"chatty: line {n}\n")

    def close(self) -> None:
        self._closed.set()


class ChattyEngine(FakeEngine):
    def container_logs(self, name: str, *, follow: bool = False, **kw: Any) -> LogStream:
        return _Chatty(follow)


def test_panel_draws_a_chatty_containers_lines_once_a_repaint_interval(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = DockyardApp(ChattyEngine(tmp_path), Settings(stats_interval=3600))  # type: ignore[arg-type]
        async with app.run_test(size=NARROW) as pilot:
            await loaded(pilot)
            log = panel(app).query_one("#panel-log", Log)
            await wait_for(pilot, lambda: "chatty: line" in log_text(app), what="the chatty log")
            draws: list[float] = []
            write_lines = log.write_lines

            def counted(lines: Any, *args: Any, **kw: Any) -> Log:
                draws.append(time.monotonic())
                return write_lines(lines, *args, **kw)

            log.write_lines = counted  # type: ignore[method-assign]
            await pilot.pause(2.5 * REPAINT_EVERY)
            gaps = [b - a for a, b in itertools.pairwise(draws)]
            assert 2 <= len(draws) <= 4, draws  # 125 lines came: drawn a second's worth at a time
            assert min(gaps) >= REPAINT_EVERY - 0.05, gaps
            assert time.monotonic() - draws[-1] < REPAINT_EVERY + 0.3

    run(scenario())


class _Fed(LogStream):
    """A container that writes what the test puts in ``lines``, while followed, until closed."""

    def __init__(self, lines: queue.Queue[str | None]) -> None:
        self.lines = lines

    def __iter__(self) -> Iterator[LogLine]:
        while (text := self.lines.get()) is not None:
            yield LogLine("stdout", "2026-12-04T00:00:00.000000000Z", text + "\n")

    def close(self) -> None:
        self.lines.put(None)


class FedEngine(FakeEngine):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.lines: queue.Queue[str | None] = queue.Queue()

    def container_logs(self, name: str, *, follow: bool = False, **kw: Any) -> LogStream:
        return _Fed(self.lines)


def test_panel_idles_while_a_log_is_quiet_and_draws_a_line_after_a_quiet_spell_at_once(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        engine = FedEngine(tmp_path)
        app = DockyardApp(engine, Settings(stats_interval=3600))  # type: ignore[arg-type]
        async with app.run_test(size=NARROW) as pilot:
            await loaded(pilot)
            d = panel(app)
            await wait_for(pilot, lambda: d._stream is not None, what="the log followed")
            flushes = 0
            flush = d._flush

            def counted() -> None:
                nonlocal flushes
                flushes += 1
                flush()

            d._flush = counted  # type: ignore[method-assign]
            await pilot.pause(REPAINT_EVERY + 0.2)
            assert flushes == 0 and d._flush_timer is None  # quiet: nothing ticks
            for n in range(2):  # a line after a quiet spell is drawn at once, each time
                line = f"after quiet {n}"
                engine.lines.put(line)
                t = time.monotonic()
                await wait_for(pilot, lambda line=line: line in log_text(app), what="the line")  # type: ignore[misc]
                assert time.monotonic() - t < REPAINT_EVERY - 0.2  # at once, not a repaint interval later
                await pilot.pause(REPAINT_EVERY + 0.1)
            assert flushes == 2

    run(scenario())


def test_panel_tabs_env_ports_inspect_stats(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = fake_app(tmp_path)
        async with app.run_test(size=WIDE) as pilot:
            await loaded(pilot)
            d = panel(app)
            assert d._log_live  # the logs tab follows
            await pilot.press("right_square_bracket")
            assert d.active_tab == "stats"
            # the hidden logs tab costs nothing
            assert not d._log_live and d._stream is None and d._flush_timer is None
            stats = d.query_one("#panel-stats")
            await wait_for(pilot, lambda: stats.last is not None, what="a stats sample")  # type: ignore[attr-defined]
            await pilot.press("right_square_bracket")
            assert d.active_tab == "env" and d._stats_timer is None
            env = d.query_one("#panel-env-table", DataTable)
            assert ("MODE", "production") in [tuple(env.get_row_at(i)) for i in range(env.row_count)]
            await pilot.press("right_square_bracket")
            assert d.active_tab == "ports"
            nets = d.query_one("#panel-networks-table", DataTable)
            assert tuple(nets.get_row_at(0))[:2] == ("bridge", "10.199.0.2/24")
            await pilot.press("right_square_bracket")
            assert d.active_tab == "inspect"
            assert d.query_one("#panel-json").root.children  # type: ignore[attr-defined]
            await pilot.press("left_square_bracket", "left_square_bracket")
            assert d.active_tab == "env"
            # the main screen's own tabs did not hear the panel's: still on Containers
            assert main(app).current == "containers"

    run(scenario())


def test_hidden_panel_costs_nothing_and_the_toggle_is_remembered(tmp_path: Path) -> None:
    config = tmp_path / "tui.toml"
    config.write_text('theme = "textual-dark"\n\n[keymap]\n"container.stop" = "x"\n')
    s = settings_mod.load(config)

    async def scenario() -> None:
        app = fake_app(tmp_path, settings=Settings(stats_interval=3600, save_to=s.save_to))
        async with app.run_test(size=NARROW) as pilot:
            await loaded(pilot)
            d = panel(app)
            await wait_for(pilot, lambda: d.working, what="the logs tab following")
            await pilot.press("2")  # another pane
            assert not d.live and not d.working
            await pilot.press("1")
            await wait_for(pilot, lambda: d.working, what="following again")
            await pilot.press("i")  # the detail screen on top
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
            assert not d.working
            await pilot.press("escape")
            await wait_for(pilot, lambda: d.working, what="following again after the detail screen")
            await pilot.press("v")
            assert not d.display and not d.working
            assert app.settings.detail_panel is False
            await pilot.press("v")
            assert d.display
            await wait_for(pilot, lambda: d.working, what="following once shown again")
            await pilot.press("v")

    run(scenario())
    # written into the user's file, the rest of it kept; read back as the next start will
    text = config.read_text()
    assert "detail_panel = false" in text and '"container.stop" = "x"' in text
    assert text.count("detail_panel") == 1  # toggled three times: one line, replaced
    assert text.index("detail_panel") < text.index("[keymap]")  # a top-level key, not in the table
    again = settings_mod.load(config)
    assert again.detail_panel is False and again.keymap == {"container.stop": "x"}

    async def hidden_at_start() -> None:
        app = fake_app(tmp_path, settings=again)
        async with app.run_test(size=NARROW) as pilot:
            await wait_for(pilot, lambda: pane(app).shown)
            await pilot.pause(0.5)
            assert not panel(app).display and not panel(app).working and panel(app).reads == 0

    run(hidden_at_start())


# ------------------------------------------------------------------------- layout


def test_narrow_puts_the_panel_under_wide_beside(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = fake_app(tmp_path)
        async with app.run_test(size=NARROW) as pilot:
            await loaded(pilot)
            lst, d = pane(app).region, panel(app).region
            assert d.y >= lst.bottom and d.x == lst.x  # under
            assert not main(app).query_one("#containers-split").has_class("-wide")
            await pilot.resize_terminal(*WIDE)
            await pilot.pause(0.3)
            lst, d = pane(app).region, panel(app).region
            assert d.x >= lst.right and d.y == lst.y  # beside
            assert main(app).query_one("#containers-split").has_class("-wide")

    run(scenario())


def test_columns_by_priority_at_80_and_200(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = fake_app(tmp_path)
        async with app.run_test(size=NARROW) as pilot:
            await loaded(pilot)
            p = pane(app)
            await wait_for(pilot, lambda: app.snapshot.stats, what="a stats sample")
            await pilot.pause(0.2)
            # 80 columns: what matters, no sideways scrolling
            assert p.visible_columns() == ["NAME", "IMAGE", "STATUS", "PORTS"]
            assert p.table.virtual_size.width <= p.table.size.width
            await pilot.resize_terminal(*WIDE)
            await pilot.pause(0.3)
            # 200 columns with the panel beside: the rest as the width allows, CREATED last
            assert p.visible_columns() == ["NAME", "IMAGE", "STATUS", "CPU %", "MEM", "PORTS", "IP"]
            await pilot.press("v")  # the whole width: every column
            await pilot.pause(0.3)
            assert p.visible_columns() == list(p.COLUMNS)

    run(scenario())


def test_an_empty_column_gives_way(tmp_path: Path) -> None:
    """No container publishes a port: PORTS (empty) yields its room to what has something to say."""

    async def scenario() -> None:
        app = DockyardApp(FakeEngine(tmp_path, containers=1), Settings(stats_interval=3600))  # type: ignore[arg-type]
        async with app.run_test(size=(60, 24)) as pilot:
            await loaded(pilot)
            await wait_for(pilot, lambda: app.snapshot.stats)
            await pilot.pause(0.3)
            # PORTS comes before CPU % by priority, but has nothing in it
            assert pane(app).visible_columns() == ["NAME", "IMAGE", "STATUS", "CPU %", "MEM"]

    run(scenario())


def test_remote_engines_list_addresses() -> None:
    """A remote engine's list (``GET /containers/json``, as dockerd answers it) carries the addresses too."""
    from core.dockerjson import container_summary_from_docker

    doc = {
        "Id": "a" * 64,
        "Names": ["/web"],
        "State": "running",
        "Status": "Up 2 minutes",
        "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}, "none": {"IPAddress": ""}}},
    }
    assert container_summary_from_docker(doc, 0.0).ip_addresses == {"bridge": "172.17.0.2"}


def test_local_registry_prefix_shortened_and_whole_in_the_detail(tmp_path: Path) -> None:
    assert short_image("127.0.0.1:38763/busybox:latest") == "…/busybox:latest"
    assert short_image("localhost:5000/team/app:1") == "…/team/app:1"
    assert short_image("ghcr.io/org/app:1") == "ghcr.io/org/app:1"
    assert short_image("library/busybox") == "library/busybox"
    assert short_image("busybox:latest") == "busybox:latest"

    async def scenario() -> None:
        app = fake_app(tmp_path)
        async with app.run_test(size=NARROW) as pilot:
            await loaded(pilot)
            p = pane(app)
            proxy = next(k for k in p.shown if p.by_key[k].name == "proxy")
            assert p.by_key[proxy].cells[1] == "…/busybox:latest"
            p.select_key(proxy)
            await wait_for(pilot, lambda: panel(app).container == proxy and panel(app).info is not None)
            title = str(panel(app).query_one("#panel-title").render())
            assert "127.0.0.1:38763/busybox:latest" in title and "IP 10.199.0.8" in title

    run(scenario())


# ------------------------------------------------------------------- sort, hide, jump


def test_sort_by_key_and_by_header_click(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = fake_app(tmp_path)
        async with app.run_test(size=WIDE) as pilot:
            await loaded(pilot)
            p = pane(app)
            engine_order = list(p.shown)
            names = lambda: [p.by_key[k].name for k in p.shown]  # noqa: E731
            await pilot.press("o")  # the first column, ascending
            assert p.sort_column == 0 and names() == sorted(names())
            assert str(p.table.columns[p.table.ordered_columns[1].key].label).startswith("NAME ▲")
            await pilot.press("O")  # reversed
            assert names() == sorted(names(), reverse=True)
            # a click on the STATUS header: running first, the exited last
            table = p.table
            x = sum(c.get_render_width(table) for c in table.ordered_columns[:3]) + 1
            await pilot.click(p.table, offset=(x, 0))
            await pilot.pause()
            assert p.COLUMNS[p.sort_column or 0] == "STATUS" and not p.sort_reverse
            states = [p.by_key[k].style for k in p.shown]
            assert states[0] == "running" and states[-1] == "exited"
            await pilot.click(p.table, offset=(x, 0))  # again: reversed
            await pilot.pause()
            assert p.sort_reverse and p.by_key[p.shown[0]].style == "exited"
            # o past the last column shown: the engine's order again
            for _ in range(len(p.COLUMNS) + 1):
                await pilot.press("o")
                if p.sort_column is None:
                    break
            assert p.sort_column is None and p.shown == engine_order

    run(scenario())


def test_hide_stopped_and_jumps(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = fake_app(tmp_path)
        async with app.run_test(size=NARROW) as pilot:
            await loaded(pilot)
            p = pane(app)
            every = list(p.shown)
            assert any(p.by_key[k].style == "exited" for k in every)
            await pilot.press("H")
            assert p.shown and all(p.by_key[k].style in RUNNING_STATES for k in p.shown)
            assert len(p.shown) < len(every)
            await pilot.press("H")
            assert p.shown == every
            table = p.table
            await pilot.press("G")
            assert table.cursor_row == len(every) - 1
            await pilot.press("g")
            assert table.cursor_row == 0
            await pilot.press("end")
            assert table.cursor_row == len(every) - 1
            await pilot.press("home")
            assert table.cursor_row == 0
            # the stats key moved from g to S
            await pilot.press("S")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
            await pilot.press("escape")

    run(scenario())


def test_compose_groups_keep_working_with_sort_and_hide_stopped(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = fake_app(tmp_path, compose=True)
        async with app.run_test(size=WIDE) as pilot:
            await loaded(pilot)
            p = pane(app)
            shop, blog = PROJECT_KEY + "shop", PROJECT_KEY + "blog"
            assert shop in p.shown and blog in p.shown
            await pilot.press("H")  # blog has nothing running: gone; shop's exited migrate too
            assert blog not in p.shown and shop in p.shown
            members = [k for k in p.shown if p.group_of.get(k) == shop]
            assert [p.by_key[k].name for k in members] == ["shop-db-1", "shop-web-1", "shop-web-2"]
            await pilot.press("o", "O")  # by name, descending: within the group
            i = p.shown.index(shop)
            under = p.shown[i + 1 : i + 4]
            assert [p.by_key[k].name for k in under] == ["shop-web-2", "shop-web-1", "shop-db-1"]
            assert p.by_key[under[-1]].cells[0].startswith("└ ")  # the tree's last branch moved with it
            # the rest (no project) after the groups, sorted too
            rest = [p.by_key[k].name for k in p.shown if k not in p.group_of and k not in p.projects]
            assert rest == sorted(rest, reverse=True)
            p.select_key(shop)
            await pilot.press("z")  # folding still works
            assert not any(p.group_of.get(k) == shop for k in p.shown)
            await wait_for(
                pilot,
                lambda: "project shop" in str(panel(app).query_one("#panel-title").render()),
                what="the project named in the panel",
            )
            assert panel(app).container is None and not panel(app).working

    run(scenario())


# ------------------------------------------------------------------------- mouse


def test_mouse_click_selects_and_focuses_wheel_scrolls(tmp_path: Path) -> None:
    async def scenario() -> None:
        app = fake_app(tmp_path)
        async with app.run_test(size=NARROW) as pilot:
            await loaded(pilot)
            p = pane(app)
            await pilot.click("#panel-log")
            assert app.focused is panel(app).query_one("#panel-log")
            await pilot.click(p.table, offset=(5, 4))  # the header, then the fourth row
            assert app.focused is p.table and p.table.cursor_row == 3
            target = p.shown[3]
            await wait_for(pilot, lambda: panel(app).container == target, what="the panel on the clicked row")
            log = panel(app).query_one("#panel-log", Log)
            await wait_for(pilot, lambda: log.max_scroll_y > 0, what="a log taller than the tab")
            at = log.scroll_y
            # the wheel, as the terminal reports it (Pilot has no wheel helper: its own event poster)
            await pilot._post_mouse_events([MouseScrollUp], "#panel-log", offset=(2, 1))
            await pilot.pause(0.2)
            assert log.scroll_y < at
            # the panel's keys with the focus in it: ] the next tab, v hides it (the list gets the focus)
            await pilot.click("#panel-log")
            assert app.focused is log
            await pilot.press("right_square_bracket")
            assert panel(app).active_tab == "stats"
            await pilot.press("left_square_bracket")
            assert panel(app).active_tab == "logs"
            await pilot.click("#panel-log")
            assert app.focused is log
            await pilot.press("v")
            assert not panel(app).display and app.focused is p.table

    run(scenario())


# ---------------------------------------------------------------- a real engine


def test_panel_follows_real_containers(bench: Bench) -> None:
    alpha = bench.run("alpha", "sh", "-c", "echo alpha-says-hi; sleep 300")
    beta = bench.run("beta", "sh", "-c", "echo beta-says-hi; sleep 300", env=["COLOUR=blue"])
    local = bench.engine.create_container(
        ContainerCreate(ContainerConfig(image=bench.ref, cmd=["sleep", "300"]), HostConfig(), name="local")
    ).id

    async def scenario() -> None:
        app = DockyardApp(bench.engine, Settings(stats_interval=0))
        async with app.run_test(size=NARROW) as pilot:
            p = pane(app)
            await wait_for(pilot, lambda: {alpha, beta, local} <= set(p.shown), what="listed")
            # the test bed's registry is on 127.0.0.1:PORT: the list shows the image without it
            assert p.by_key[local].cells[1] == "…/busybox:latest"
            p.select_key(alpha)
            await wait_for(pilot, lambda: "alpha-says-hi" in log_text(app), what="alpha's log")
            summary = bench.engine.container(alpha)
            ips = next(c for c in bench.engine.list_containers(all=True) if c.id == alpha).ip_addresses
            if ips:  # on a network with an address: in the list's IP cell and the panel's title
                assert p.by_key[alpha].cells[p.COLUMNS.index("IP")] == ", ".join(sorted(ips.values()))
                await wait_for(pilot, lambda: panel(app).info is not None)
                assert next(iter(ips.values())) in str(panel(app).query_one("#panel-title").render())
            assert summary.status == "running"
            p.select_key(beta)
            await wait_for(pilot, lambda: "beta-says-hi" in log_text(app), what="beta's log")
            assert "alpha-says-hi" not in log_text(app)
            await pilot.press("right_square_bracket", "right_square_bracket")  # env
            env = panel(app).query_one("#panel-env-table", DataTable)
            await wait_for(
                pilot,
                lambda: ("COLOUR", "blue") in [tuple(env.get_row_at(i)) for i in range(env.row_count)],
                what="beta's env",
            )
            # beta stops: the panel reads it again (its title says so) and follows its log anew
            bench.engine.kill_container(beta)
            await wait_for(
                pilot,
                lambda: "exited" in str(panel(app).query_one("#panel-title").render()),
                what="the panel told of beta's exit",
            )
            await pilot.press("v")  # hidden: the stream of beta's log is closed
            assert not panel(app).working

    run(scenario())


# ---------------------------------------------------------------------- snapshots


def _snapshot_app(tmp_path: Path) -> DockyardApp:
    return fake_app(tmp_path)


async def _settled_panel(pilot: Any) -> None:
    from tests.tui.test_snapshots import settle

    await settle(pilot)
    app = pilot.app
    await loaded(pilot)
    await wait_for(pilot, lambda: detail_panel_settled(app, FAKE_LOG_LINES), what="the panel's log drawn")
    await pilot.pause(0.2)
    await pilot.wait_for_scheduled_animations()


def test_snapshot_master_detail_80x24(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(_snapshot_app(tmp_path), terminal_size=NARROW, run_before=_settled_panel)


def test_snapshot_master_detail_200x50(snap_compare: Any, tmp_path: Path) -> None:
    async def before(pilot: Any) -> None:
        await _settled_panel(pilot)
        await pilot.press("j", "j", "j", "j", "j", "j")  # proxy: the local registry's image, in full above
        await wait_for(pilot, lambda: panel(pilot.app).info is not None and panel(pilot.app).reads >= 2)
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")  # ports
        await pilot.pause(0.5)

    assert snap_compare(_snapshot_app(tmp_path), terminal_size=WIDE, run_before=before)
