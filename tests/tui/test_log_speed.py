"""Issue 16's speed items, checked for behaviour (the timings are bench/tui.py's): the log search scans raw
bytes and agrees with a line-by-line check, shows its progress, stops when superseded and jumps to the
match while following; a LogView that is not on screen does no work on its file; a filter box typed into
quickly (backspaces included) ends with what was typed."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Input, Static, TabbedContent, TabPane

from tests.tui.fakeengine import FakeEngine
from tui.app import DockyardApp
from tui.screens.main import MainScreen
from tui.settings import Settings
from tui.widgets import logsearch
from tui.widgets.keyinput import TypeaheadToInput
from tui.widgets.listpane import ListPane
from tui.widgets.logfollow import REPAINT_EVERY
from tui.widgets.logindex import IndexRows, LineIndex, Matcher, decode
from tui.widgets.logsearch import SearchScan
from tui.widgets.logview import LogView


def rec(text: str, stream: str = "stdout", when: str = "2026-11-28T04:27:57.123456789Z") -> bytes:
    obj = {"log": text + "\n", "stream": stream, "time": when}
    return (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


async def until(
    pilot: Pilot[Any],
    cond: Callable[[], bool],
    timeout: float = 10.0,
    what: str = "",
    state: Callable[[], object] | None = None,
) -> None:
    """Let the app run until ``cond()``; on a timeout the message has ``state()``, what was there instead."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            found = f"; found {state()}" if state else ""
            raise AssertionError(f"timed out waiting for {what or cond}{found}")
        await pilot.pause(0.02)


def screen(view: LogView) -> list[str]:
    body = view.body
    h = body.scrollable_content_region.height
    return ["".join(seg.text for seg in body.render_line(y)).rstrip() for y in range(h)]


class Host(TypeaheadToInput, App[None]):
    def __init__(self, view: LogView) -> None:
        super().__init__()
        self.view = view
        self.statuses: list[LogView.Status] = []

    def compose(self) -> ComposeResult:
        yield self.view

    def on_log_view_status(self, msg: LogView.Status) -> None:
        self.statuses.append(msg)


def run(view: LogView, body: Callable[[Pilot[None], Host], Awaitable[None]]) -> None:
    async def main() -> None:
        app = Host(view)
        async with app.run_test(size=(80, 12)) as pilot:
            view.focus()
            await body(pilot, app)

    asyncio.run(main())


# -- the byte scan agrees with judging every line ------------------------------------------------------------


def _search_by_lines(
    lines: list[str], json_lines: bool, matcher: Matcher, origin: int, direction: int
) -> int | None:
    n = len(lines)
    order = (
        [*range(origin + 1, n), *range(0, min(n, origin + 1))]
        if direction > 0
        else [*range(max(0, origin) - 1, -1, -1), *range(n - 1, max(0, origin) - 1, -1)]
    )
    for row in order:
        if matcher.search(decode(lines[row].encode(), json_lines=json_lines).text):
            return row
    return None


WORDS = [
    "hay",
    "Needle",
    "needle",
    "NEEDLE",
    "stdout",
    "log",
    "time",
    "2026",
    "x" * 300,
    "naïve",
    "tab\tit",
    'say "hi"',
    "back\\slash",
    '"needle"',
]


@pytest.mark.parametrize("json_lines", [True, False], ids=["json-file", "plain"])
@pytest.mark.parametrize("chunk", [64, 1000, 1 << 20])
@pytest.mark.parametrize("way", ["python", "grep", "grep-pieces", "ripgrep"])
def test_byte_search_agrees_with_a_line_by_line_search(
    tmp_path: Path, json_lines: bool, chunk: int, way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every chunk size, both directions, with and without wrapping; "grep": forward scans past their first
    chunk go to GNU grep (as a long scan does where there is no ripgrep), and its hits are judged the same
    way; "grep-pieces": in pieces of ~100 bytes, two greps at a time (a match near every piece's edge, a
    piece of one long line); "ripgrep": to ripgrep, reading the file from the scan's place on past the
    range's end (the wrapped second range ends before the file does)."""
    if way.startswith("grep"):
        if logsearch._grep() is None:
            pytest.skip("no GNU grep here")
        monkeypatch.setattr(logsearch, "_rg", lambda: None)
    if way == "ripgrep" and logsearch._rg() is None:
        pytest.skip("no ripgrep here")
    if way != "python":
        monkeypatch.setattr(logsearch, "GREP_FROM", 0)
    if way == "grep-pieces":
        monkeypatch.setattr(logsearch, "GREP_PIECE", 100)
    rnd = random.Random(f"{json_lines}{chunk}")
    texts = [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(0, 4))) for _ in range(400)]
    texts[-1] = texts[-1] or "hay"  # a plain file ending "\n" has no empty last row
    streams = ["stdout", "stderr"]
    lines = [rec(t, stream=rnd.choice(streams)).decode().rstrip("\n") if json_lines else t for t in texts]
    # a plain file's last line may have no newline yet (a json-file's unterminated record is not a row)
    data = ("\n".join(lines) + ("\n" if json_lines else "")).encode()
    path = tmp_path / "log"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        index = LineIndex()
        index.scan(fd, len(data))
        rows = IndexRows(index, complete_only=json_lines)
        assert len(rows) == len(lines)
        terms = ["needle", "Needle", "stdout", "log", "time", "2026", "xx", "naïve", "nowhere", "/ne+dle/"]
        for term in terms:
            regex = term.startswith("/")
            matcher = Matcher(term.strip("/"), regex=regex, json_lines=json_lines)
            for _ in range(12):
                origin = rnd.randint(-1, len(lines))
                direction = rnd.choice([1, -1])
                origin = min(origin, len(lines) - 1) if direction > 0 else max(origin, 0)
                want = _search_by_lines(lines, json_lines, matcher, origin, direction)
                got = SearchScan(
                    fd, rows, matcher, json_lines=json_lines, origin=origin, direction=direction, chunk=chunk
                ).run()
                assert got.row == want, (term, origin, direction)
    finally:
        os.close(fd)


@pytest.mark.parametrize("placed", [True, False], ids=["match-just-before-the-end", "no-match"])
def test_ripgreps_wrapped_range_stops_once_it_read_past_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, placed: bool
) -> None:
    """The second (wrapped) range of a forward search ends long before the file does: ripgrep reads on, and
    the scan stops once it has searched past the range's end, having judged what it said before that (a
    match in the range's last line included)."""
    if logsearch._rg() is None:
        pytest.skip("no ripgrep here")
    monkeypatch.setattr(logsearch, "GREP_FROM", 0)
    monkeypatch.setattr(logsearch, "PROGRESS_EVERY", 0.0005)  # look at its offset often
    line = b"hay " * 20 + b"\n"
    origin = 30_000  # ~2.5 MB in; the file goes on for ~128 MB with no match
    path = tmp_path / "log"
    with path.open("wb") as f:
        f.write(line * (origin - 1))
        f.write(b"the needle\n" if placed else line)
        f.write(line * origin)
        block = line * 10_000
        while f.tell() < 128 << 20:
            f.write(block)
    seen: list[bool] = []
    real = logsearch._RgRun.searched_past_end

    def searched_past_end(self: Any) -> bool:
        seen.append(real(self))
        return seen[-1]

    monkeypatch.setattr(logsearch._RgRun, "searched_past_end", searched_past_end)
    fd = os.open(path, os.O_RDONLY)
    try:
        index = LineIndex()
        index.scan(fd, path.stat().st_size)
        rows = IndexRows(index, complete_only=False)
        scan = SearchScan(fd, rows, Matcher("needle"), json_lines=False, origin=origin + 1, direction=1)
        got = scan.run()
        assert (got.row, got.wrapped) == ((origin - 1, True) if placed else (None, False))
        if not placed:
            assert True in seen  # the second range ended by its offset, not by reading the whole file
    finally:
        os.close(fd)


def test_a_json_file_search_does_not_match_keys_stream_or_time(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"".join(rec(f"line {i}") for i in range(1000)) + rec("the stdout of 2026"))
    fd = os.open(path, os.O_RDONLY)
    try:
        index = LineIndex()
        index.scan(fd, path.stat().st_size)
        rows = IndexRows(index, complete_only=True)
        for term in ("stdout", "2026", "log", "stream"):
            m = Matcher(term, json_lines=True)
            got = SearchScan(fd, rows, m, json_lines=True, origin=-1, direction=1).run()
            assert got.row == (1000 if term in ("stdout", "2026") else None), term
    finally:
        os.close(fd)


# -- the widget: progress, superseded, following -------------------------------------------------------------


def test_search_reports_progress_then_shows_the_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.log"
    block = b"".join(rec(f"GET /api/items/{i} 200") for i in range(2000))
    with path.open("wb") as f:
        for _ in range(40):  # ~4 MB
            f.write(block)
        f.write(rec("the Needle at the end"))
    # small chunks and no pause between reports: a search of a few MB reports at every chunk
    monkeypatch.setattr(logsearch, "SEARCH_CHUNK", 64 * 1024)
    monkeypatch.setattr(logsearch, "PROGRESS_EVERY", 0.0)
    view = LogView(path, follow=False)

    async def body(pilot: Pilot[None], app: Host) -> None:
        await until(pilot, lambda: view._indexed_done, what="the index")
        await pilot.press("home")
        app.statuses.clear()
        await pilot.press("slash", *"needle", "enter")
        await until(pilot, lambda: any("the Needle at the end" in x for x in screen(view)), what="match")
        progress = [s.text for s in app.statuses if "searching" in s.text]
        assert progress, [s.text for s in app.statuses]
        assert all("search needle: searching " in t for t in progress)
        assert all(t.split("searching ")[1][0].isdigit() for t in progress)
        await pilot.pause(0.2)
        assert "searching" not in app.statuses[-1].text
        assert view._search_row == len(view.rows) - 1

    run(view, body)


def test_a_new_search_stops_the_one_it_replaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.log"
    path.write_bytes(b"".join(rec(f"line {i}") for i in range(20000)) + rec("second"))
    gate = threading.Event()
    reads: list[SearchScan] = []
    original = SearchScan._read

    def held(self: SearchScan, pos: int, size: int) -> bytes:
        reads.append(self)
        gate.wait(5)  # the first search is held mid-scan until the second has replaced it
        return original(self, pos, size)

    monkeypatch.setattr(SearchScan, "_read", held)
    view = LogView(path, follow=False)

    async def body(pilot: Pilot[None], app: Host) -> None:
        await until(pilot, lambda: view._indexed_done, what="the index")
        view.search("nowhere")
        await until(pilot, lambda: bool(reads), what="the first scan reading")
        first = view._search_scan
        assert first is not None
        view.search("second")
        assert first.cancelled
        gate.set()
        await until(pilot, lambda: any(line == "second" for line in screen(view)), what="the second match")
        await pilot.pause(0.2)
        assert not view._notice.startswith("not found")  # the first search's answer never came

    run(view, body)


def test_search_while_following_jumps_to_the_match_and_stays(tmp_path: Path) -> None:
    path = tmp_path / "grow.log"
    path.write_bytes(b"".join(rec(f"old {i}" if i != 5 else "the early needle") for i in range(300)))
    view = LogView(path, follow=True)
    stop = threading.Event()

    def writer() -> None:
        n = 0
        with path.open("ab", buffering=0) as f:
            while not stop.wait(0.05):
                n += 1
                f.write(rec(f"new {n}"))

    async def body(pilot: Pilot[None], app: Host) -> None:
        await until(pilot, lambda: any(line == "old 299" for line in screen(view)), what="the end")
        t = threading.Thread(target=writer)
        t.start()
        try:
            await until(pilot, lambda: any(x.startswith("new ") for x in screen(view)), what="new lines")
            await pilot.press("slash", *"needle", "enter")
            await until(pilot, lambda: "the early needle" in screen(view), what="the match on screen")
            assert view._search_row == 5
            grown = len(view.index)
            await until(pilot, lambda: len(view.index) > grown + 5, what="more lines")
            await pilot.pause(REPAINT_EVERY + 0.1)  # a deferred repaint of the new lines has come
            assert "the early needle" in screen(view)  # following did not pull the view back to the end
            assert not app.statuses[-1].following and app.statuses[-1].follow
            # n finds the next match, none: it wraps to the same one; End follows again
            await pilot.press("end")
            await until(pilot, lambda: app.statuses[-1].following, what="following again")
            n = len(view.index)
            await until(pilot, lambda: len(view.index) > n + 3, what="more lines")
            await until(pilot, lambda: screen(view)[-1] == f"new {len(view.index) - 300}", what="at the end")
        finally:
            stop.set()
            t.join()

    run(view, body)


# -- a visible LogView following a busy log does little ---------------------------------------------------


class Counting(Host):
    """Counts the LogView's messages that reach the app: its public Status, and its private follower news
    (which must stay with the view: bubbling up eight ancestors, four a second, they cost about half as much
    CPU as the repaints)."""

    def __init__(self, view: LogView) -> None:
        super().__init__(view)
        self.private = 0

    def _on_message(self, message: Any) -> Any:
        if type(message).__module__ == "tui.widgets.logview" and type(message).__name__.startswith("_"):
            self.private += 1
        return super()._on_message(message)


def test_a_followed_busy_log_is_repainted_once_an_interval_with_one_status_each(tmp_path: Path) -> None:
    path = tmp_path / "busy.log"
    path.write_bytes(b"".join(rec(f"old {i}") for i in range(50)))
    view = LogView(path, follow=True)
    repaints: list[float] = []
    apply_growth = view._apply_growth

    def counted(done: bool) -> None:
        repaints.append(time.monotonic())
        apply_growth(done)

    view._apply_growth = counted  # type: ignore[method-assign]
    stop = threading.Event()

    def writer() -> None:  # 20 lines a second, for longer than two repaint intervals
        n = 0
        with path.open("ab", buffering=0) as f:
            while not stop.wait(0.05):
                n += 1
                f.write(rec(f"new {n}"))

    async def main() -> None:
        app = Counting(view)
        async with app.run_test(size=(80, 16)) as pilot:
            await until(pilot, lambda: "old 49" in screen(view) and view._indexed_done, what="the end")
            await pilot.pause(REPAINT_EVERY + 0.1)  # the index's own repaints are over
            repaints.clear()
            statuses = len(app.statuses)
            t = threading.Thread(target=writer)
            t.start()
            try:
                await pilot.pause(2.5 * REPAINT_EVERY)
            finally:
                stop.set()
                t.join()
            await until(pilot, lambda: screen(view)[-1].startswith("new "), what="the new lines shown")
            gaps = [b - a for a, b in itertools.pairwise(repaints)]
            assert 2 <= len(repaints) <= 4, repaints
            assert min(gaps) >= REPAINT_EVERY - 0.05, gaps
            # each repaint says what changed once (scrolling to the new end is no news of its own)
            assert len(app.statuses) - statuses == len(repaints)
            assert app.private == 0

    asyncio.run(main())


# -- a hidden LogView does nothing ---------------------------------------------------------------------------


class Tabs(App[None]):
    def __init__(self, view: LogView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        with TabbedContent(initial="logs"):
            with TabPane("logs", id="logs"):
                yield self.view
            with TabPane("other", id="other"):
                yield Static("another pane")


def test_a_hidden_log_view_stops_reading_and_catches_up_when_shown(tmp_path: Path) -> None:
    path = tmp_path / "grow.log"
    path.write_bytes(b"".join(rec(f"old {i}") for i in range(100)))
    view = LogView(path, follow=True)

    async def main() -> None:
        app = Tabs(view)
        async with app.run_test(size=(80, 16)) as pilot:
            await until(pilot, lambda: "old 99" in screen(view), what="the end")
            view.set_filter("new")
            await until(pilot, lambda: view._filter_scan is not None and view._filter_scan.steps > 0)
            follower, scan = view._follower, view._filter_scan
            assert follower is not None and scan is not None
            app.query_one(TabbedContent).active = "other"
            await until(pilot, lambda: follower.paused and scan.paused, what="paused")
            await pilot.pause(0.3)  # a poll under way finishes
            polls, steps, scanned = follower.polls, scan.steps, view.index.scanned
            with path.open("ab") as f:
                f.write(rec("new while hidden"))
            await pilot.pause(1.0)  # four polls' worth
            assert (follower.polls, scan.steps, view.index.scanned) == (polls, steps, scanned)
            app.query_one(TabbedContent).active = "logs"
            await until(pilot, lambda: "new while hidden" in screen(view), what="caught up when shown")
            assert not follower.paused and not scan.paused
            assert follower.polls > polls

    asyncio.run(main())


def test_the_workbench_logs_pane_pauses_its_follower_on_another_pane(tmp_path: Path) -> None:
    async def main() -> None:
        app = DockyardApp(FakeEngine(tmp_path, containers=3), Settings(stats_interval=0))  # type: ignore[arg-type]
        async with app.run_test(size=(100, 30)) as pilot:
            main = next(s for s in app.screen_stack if isinstance(s, MainScreen))
            await until(pilot, lambda: len(main.pane("containers").shown) == 3, what="the list")
            await pilot.press("l")
            await until(pilot, lambda: isinstance(main.pane("logs").viewer(), LogView), what="the viewer")
            view = main.pane("logs").viewer()
            await until(pilot, lambda: view._indexed_done, what="its log indexed")
            follower = view._follower
            assert follower is not None and not follower.paused
            await pilot.press("1")
            await until(pilot, lambda: follower.paused, what="paused on the Containers pane")
            await pilot.pause(0.3)
            polls = follower.polls
            await pilot.pause(0.8)
            assert follower.polls == polls
            await pilot.press("5")
            await until(pilot, lambda: not follower.paused and follower.polls > polls, what="polling again")

    asyncio.run(main())


# -- typed keys stay in order --------------------------------------------------------------------------------

# "webx<BS>-1<BS><BS>-ap<BS>pp" ends as "web-app"
TYPED = [*"webx", "backspace", *"-1", "backspace", "backspace", *"-ap", "backspace", *"pp"]
WANT = "web-app"


def _key(name: str) -> events.Key:
    return events.Key(name, None if name == "backspace" else name)


async def _the_list(app: DockyardApp, pilot: Pilot[int]) -> tuple[MainScreen, ListPane, Input]:
    """The main screen, its containers pane once it lists all of the fake's containers, and its filter box."""
    main = next(s for s in app.screen_stack if isinstance(s, MainScreen))
    pane = main.pane("containers")
    await until(pilot, lambda: len(pane.shown) == 200, what="the list")
    return main, pane, pane.query_one("#filter", Input)


@pytest.mark.parametrize(
    ("gap", "with_slash"),
    [(1 / 30, False), (0.0, False), (0.0, True)],
    ids=["30-keys-a-second", "all-at-once", "slash-and-keys-in-one-burst"],
)
def test_the_filter_box_keeps_every_key_in_order(tmp_path: Path, gap: float, with_slash: bool) -> None:
    """Keys reach the app as the terminal delivers them (not one pilot key at a time, which waits for the
    app to settle): 5 tries at 30 keys a second and 5 in one burst, with the list re-filtering every key.
    With "/" in the burst too, as a fast typist on a loaded machine delivers it, the letters are queued
    before "/" is handled and must still land in the box it opens (they went to the list, whose "e" opens
    a shell, when the box asked for the focus through the queue)."""

    async def main() -> None:
        app = DockyardApp(FakeEngine(tmp_path, containers=200), Settings(stats_interval=0))  # type: ignore[arg-type]
        async with app.run_test(size=(100, 30)) as pilot:
            main, pane, box = await _the_list(app, pilot)
            for _ in range(5):
                keys = list(map(_key, TYPED))
                if with_slash:
                    keys.insert(0, events.Key("slash", "/"))
                else:
                    await pilot.press("slash")
                    await until(pilot, lambda: box.has_focus, what="the filter box")
                for key in keys:
                    app.post_message(key)
                    if gap:
                        await asyncio.sleep(gap)
                await until(
                    pilot,
                    lambda: pane.filter_text == box.value and len(box.value) >= 5,
                    what="the box and the filter agreeing",
                    state=lambda: (box.value, pane.filter_text, app.focused, app.screen),
                )
                await pilot.pause(0.2)
                assert box.value == WANT and app.screen is main
                assert pane.filter_text == WANT
                await pilot.press("escape")
                await until(pilot, lambda: box.value == "" and not pane.filter_text, what="cleared")

    asyncio.run(main())


@pytest.mark.parametrize("closing", ["enter", "escape"])
def test_keys_typed_right_after_the_filter_box_closes_go_to_the_list(tmp_path: Path, closing: str) -> None:
    """Typed in one burst: "/web", then Enter (keep the filter) or Esc (clear it), then "jj". The "jj" is
    queued for the box before it has handled Enter or Esc, and is still the list's (two rows further down
    than the same burst without it leaves the cursor), not the filter's."""

    async def main() -> None:
        app = DockyardApp(FakeEngine(tmp_path, containers=200), Settings(stats_interval=0))  # type: ignore[arg-type]
        async with app.run_test(size=(100, 30)) as pilot:
            _main, pane, box = await _the_list(app, pilot)
            want = "web" if closing == "enter" else ""

            filters: list[str] = []  # every filter the pane was set to: the burst is done once it saw "web"
            set_filter = pane._set_filter

            def recording(text: str) -> None:
                filters.append(text)
                set_filter(text)

            pane._set_filter = recording  # type: ignore[method-assign]

            def state() -> object:
                return (box.value, pane.filter_text, app.focused, pane.table.cursor_row, filters)

            async def burst(after: list[events.Key], rows: int | None = None) -> int:
                pane.clear_filter()
                await until(pilot, lambda: not pane.filter_text and len(pane.shown) == 200, what="cleared")
                pane.table.move_cursor(row=0)
                await until(pilot, lambda: pane.table.cursor_row == 0 and pane.table.has_focus, what="row 0")
                close = events.Key(closing, "\r" if closing == "enter" else "\x1b")  # new each time: a
                # handled event is marked so (stopped), and a second post of it would reach no handler
                filters.clear()
                for key in [events.Key("slash", "/"), *map(_key, "web"), close, *after]:
                    app.post_message(key)
                await until(
                    pilot,
                    lambda: (
                        "web" in filters
                        and filters[-1] == want
                        and pane.table.has_focus
                        and pane.filter_text == box.value == want
                    ),
                    what="the filter set and the list focused",
                    state=state,
                )
                if rows is not None:
                    await until(pilot, lambda: pane.table.cursor_row == rows, what=f"row {rows}", state=state)
                await pilot.pause(0.2)
                assert (box.value, pane.filter_text) == (want, want)
                return pane.table.cursor_row

            settled = await burst([])
            for _ in range(3):
                assert await burst([_key("j"), _key("j")], rows=settled + 2) == settled + 2

    asyncio.run(main())


@pytest.mark.parametrize(
    ("burst", "then"),
    [(False, None), (True, None), (True, "t")],
    ids=["slash-then-keys", "slash-and-keys-in-one-burst", "and-a-key-for-the-view-after-enter"],
)
def test_the_log_search_prompt_keeps_every_key_in_order(
    tmp_path: Path, burst: bool, then: str | None
) -> None:
    """The letters in one burst, after "/" has opened the prompt or queued right behind it (then they reach
    the app before the prompt is open, and must still land in it). With "t" (timestamps on or off) right
    after the Enter, in the same burst: it was queued for the prompt before the prompt handled the Enter,
    and is still the view's, not the end of the search term."""
    path = tmp_path / "s.log"
    path.write_bytes(b"".join(rec(f"line {i}") for i in range(100)) + rec("web-app here"))
    view = LogView(path, follow=False)

    async def body(pilot: Pilot[None], app: Host) -> None:
        await until(pilot, lambda: view._indexed_done)
        prompt = view.query_one("#logview-prompt", Input)
        for _ in range(3):
            view.body.focus()
            await until(pilot, lambda: view.body.has_focus and view._search_row != 100)
            timestamps = view.timestamps
            keys = [*map(_key, TYPED), events.Key("enter", "\r"), *([_key(then)] if then else [])]
            if burst:
                keys.insert(0, events.Key("slash", "/"))
            else:
                await pilot.press("slash")
                await until(pilot, lambda: prompt.has_focus)
                prompt.value = ""
            for key in keys:
                app.post_message(key)

            await until(
                pilot,
                lambda: view._search_row == 100 and (view.timestamps != timestamps) == bool(then),  # noqa: B023
                what="the match" + (f", and {then!r} done" if then else ""),
                state=lambda: (
                    prompt.value,
                    view._search_term,
                    view._search_row,
                    view.timestamps,
                    app.focused,
                ),
            )
            assert view._search_term == WANT and not prompt.has_focus
            view.search("")

    run(view, body)


def test_a_plain_files_unterminated_last_line_is_searched(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(5000)) + b"the last needle, no newline")
    fd = os.open(path, os.O_RDONLY)
    try:
        index = LineIndex()
        index.scan(fd, path.stat().st_size)
        rows = IndexRows(index)
        m = Matcher("needle")
        for origin, direction, chunk in ((-1, 1, None), (5000, -1, 64), (3, 1, 64)):
            scan = SearchScan(fd, rows, m, json_lines=False, origin=origin, direction=direction, chunk=chunk)
            assert scan.run().row == 5000
    finally:
        os.close(fd)


@pytest.mark.parametrize("tool", ["grep", "rg"])
def test_a_cancelled_grep_scan_ends_its_grep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tool: str
) -> None:
    if tool == "grep":
        if logsearch._grep() is None:
            pytest.skip("no GNU grep here")
        monkeypatch.setattr(logsearch, "_rg", lambda: None)
    elif logsearch._rg() is None:
        pytest.skip("no ripgrep here")
    import subprocess

    monkeypatch.setattr(logsearch, "GREP_FROM", 0)
    path = tmp_path / "log"
    # every record holds "stdout" outside its message: grep prints a hit a line, none of which counts;
    # ripgrep looks inside docker's records only, so these are written with spaces after the colons (not
    # as docker writes them: each line is judged whole)
    if tool == "rg":
        path.write_bytes(
            b"".join(
                (json.dumps({"log": f"line {i}\n", "stream": "stdout"}) + "\n").encode()
                for i in range(100_000)
            )
        )
    else:
        path.write_bytes(b"".join(rec(f"line {i}") for i in range(100_000)))
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def popen(*args: Any, **kw: Any) -> subprocess.Popen[bytes]:
        proc = real_popen(*args, **kw)
        started.append(proc)
        return proc

    monkeypatch.setattr(subprocess, "Popen", popen)
    held = threading.Event()
    release = threading.Event()
    real_first_in = SearchScan._first_in

    def first_in(self: SearchScan, data: bytes, base: int, limit: int) -> int | None:
        if started and not held.is_set():  # the first hit grep reports: hold the scan, grep's pipe fills
            held.set()
            release.wait(10)
        return real_first_in(self, data, base, limit)

    monkeypatch.setattr(SearchScan, "_first_in", first_in)
    fd = os.open(path, os.O_RDONLY)
    try:
        index = LineIndex()
        index.scan(fd, path.stat().st_size)
        rows = IndexRows(index, complete_only=True)
        matcher = Matcher("stdout", json_lines=True)
        scan = SearchScan(fd, rows, matcher, json_lines=True, origin=-1, direction=1)
        scan.chunk = scan.first_chunk = 4096
        outcome: list[object] = []
        t = threading.Thread(target=lambda: outcome.append(_run_or_cancelled(scan)))
        t.start()
        assert held.wait(10), "grep never reported a hit"
        grep = [p for p in started if Path(str(p.args[0])).name == tool][-1]
        time.sleep(0.2)
        assert grep.poll() is None  # still running, blocked on its full pipe
        scan.cancel()
        release.set()
        t.join(10)
        assert outcome == ["cancelled"]
        assert grep.poll() is not None  # ended (by its pid) when the scan stopped
    finally:
        release.set()
        os.close(fd)


def _run_or_cancelled(scan: SearchScan) -> object:
    from tui.widgets.logindex import Cancelled

    try:
        return scan.run()
    except Cancelled:
        return "cancelled"
