"""LogView and its index: correctness on edge-case files, and the widget driven by Textual's pilot.

The widget tests host a ``LogView`` in a tiny App and read the screen through ``LogBody.render_line`` (the
same strips Textual paints). The 2 GB test writes a sparse-free file to /dev/shm with large writes of a
repeated block, prints how long the end took to show, and deletes the file.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from tui.widgets.logindex import (
    READ_CAP,
    RENDER_CAP,
    LineIndex,
    Matcher,
    SpanRows,
    decode,
    filter_lines,
    read_record,
    scan_back,
)
from tui.widgets.logview import LogView

# -- helpers ------------------------------------------------------------------------------------------------


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


def rec(text: str, stream: str = "stdout", when: str = "2026-11-28T04:27:57.123456789Z") -> bytes:
    # byte for byte what dockerd writes: compact, non-ASCII as UTF-8
    obj = {"log": text + "\n", "stream": stream, "time": when}
    return (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def expected_lines(data: bytes) -> list[bytes]:
    if not data:
        return []
    parts = data.split(b"\n")
    return parts[:-1] if data.endswith(b"\n") else parts


def index_of(data: bytes, path: Path, chunk: int) -> tuple[LineIndex, int]:
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    idx = LineIndex()
    idx.scan(fd, len(data), chunk=chunk)
    return idx, fd


class Host(App[None]):
    def __init__(self, view: LogView) -> None:
        super().__init__()
        self.view = view
        self.statuses: list[LogView.Status] = []

    def compose(self) -> ComposeResult:
        yield self.view

    def on_log_view_status(self, msg: LogView.Status) -> None:
        self.statuses.append(msg)


def screen(view: LogView) -> list[str]:
    body = view.body
    h = body.scrollable_content_region.height
    return ["".join(seg.text for seg in body.render_line(y)).rstrip() for y in range(h)]


async def until(pilot: Pilot[None], cond: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await pilot.pause(0.02)


def run(
    view: LogView, body: Callable[[Pilot[None], Host], Awaitable[None]], size: tuple[int, int] = (80, 12)
) -> None:
    async def main() -> None:
        app = Host(view)
        async with app.run_test(size=size) as pilot:
            view.focus()
            await body(pilot, app)

    asyncio.run(main())


def last_line(view: LogView) -> str:
    lines = [line for line in screen(view) if line]
    return lines[-1] if lines else ""


def on_screen(view: LogView, text: str) -> Callable[[], bool]:
    return lambda: any(text in line for line in screen(view))


# -- the index ----------------------------------------------------------------------------------------------

EDGE_CASES = [
    b"",
    b"a",
    b"a\n",
    b"\n",
    b"\n\n\n",
    b"a\nb",
    b"a\r\nb\r\n",
    b"one\n\n\nfour\n",
    b"bad \xff\xfe utf8\nok\n",
    b"x" * (1024 * 1024) + b"\nafter the long line\n",
    b"no newline at the end " * 100,
]


@pytest.mark.parametrize("data", EDGE_CASES, ids=lambda d: repr(d[:20]) + f"+{len(d)}")
@pytest.mark.parametrize("chunk", [1, 3, 4096, 8 * 1024 * 1024])
def test_index_matches_split(tmp: Path, data: bytes, chunk: int) -> None:
    if chunk == 1 and len(data) > 10_000:
        chunk = 7  # one syscall a byte over a megabyte is just slow, not a better test
    idx, fd = index_of(data, tmp / "f.log", chunk)
    try:
        got = [data[s:e] for s, e in idx.spans(0, len(idx))]
        assert got == expected_lines(data)
        assert len(idx) == len(expected_lines(data))
        assert idx.scanned == len(data)
        for row in range(len(idx)):
            s, _ = idx.span(row)
            assert idx.row_of(s) == row
        # the backward scan of the tail window sees the same last lines
        for want in (1, 2, 1000):
            flat = scan_back(fd, len(data), want)
            back = [data[flat[i] : flat[i + 1]] for i in range(0, len(flat), 2)]
            assert back == expected_lines(data)[-want:]
    finally:
        os.close(fd)


def test_index_random_files_and_appends(tmp: Path) -> None:
    rnd = random.Random(7)
    path = tmp / "r.log"
    for _ in range(50):
        pieces = [
            rnd.choice([b"", b"x", b"\n", b"\r\n", b"abc", b"\xff", b"y" * rnd.randint(0, 3000)])
            for _ in range(40)
        ]
        data = b"".join(pieces)
        path.write_bytes(b"")
        fd = os.open(path, os.O_RDWR)
        try:
            idx = LineIndex()
            written = 0
            while written < len(data):  # the file grows in random steps, as a log does
                step = rnd.randint(1, 500)
                os.write(fd, data[written : written + step])
                written = min(len(data), written + step)
                idx.scan(fd, written, chunk=rnd.randint(1, 64))
            assert [data[s:e] for s, e in idx.spans(0, len(idx))] == expected_lines(data)
        finally:
            os.close(fd)


def test_decode_json_plain_crlf_invalid_and_huge() -> None:
    r = decode(rec("hello", "stderr")[:-1], json_lines=True)
    assert (r.text, r.stream, r.time, r.partial) == (
        "hello",
        "stderr",
        "2026-11-28T04:27:57.123456789Z",
        False,
    )
    assert decode(b'{"log":"piece","stream":"stdout","time":"t"}', json_lines=True).partial
    assert decode(b"plain\r", json_lines=False).text == "plain"
    assert decode(b'{"log":"crlf\\r\\n","stream":"stdout","time":"t"}', json_lines=True).text == "crlf"
    bad = decode(b"not json at all", json_lines=True)
    assert bad.invalid and bad.text == "not json at all"
    assert decode(b"\xff\xfeok", json_lines=False).text == "\ufffd\ufffdok"
    long = decode(b"y" * 10_000, json_lines=False)
    assert len(long.text) == RENDER_CAP and long.truncated == 10_000 - RENDER_CAP


def test_read_record_of_a_1mb_json_record(tmp: Path) -> None:
    big = "é" * 600_000  # 1.2 MB of UTF-8 in one record: read capped, decoded from its prefix
    data = rec("first") + rec(big, "stderr") + rec("last")
    idx, fd = index_of(data, tmp / "big.log", 1 << 20)
    try:
        t0 = time.perf_counter()
        r = read_record(fd, idx.span(1), json_lines=True)
        took = time.perf_counter() - t0
        assert r.text == "é" * RENDER_CAP
        assert r.stream == "stderr" and r.time.startswith("2026-11-28")
        assert r.truncated > len(big) - READ_CAP
        print(f"\n1.2 MB record read+decoded (capped) in {took * 1000:.1f} ms")
        assert read_record(fd, idx.span(2), json_lines=True).text == "last"
    finally:
        os.close(fd)


@pytest.mark.parametrize("json_lines", [True, False])
@pytest.mark.parametrize(
    ("pattern", "regex"), [("ERR", False), ("err", False), (r"^w\w+ \d+7$", True), ("<&>", False)]
)
def test_filter_lines_agrees_with_a_line_by_line_check(
    tmp: Path, json_lines: bool, pattern: str, regex: bool
) -> None:
    rnd = random.Random(3)
    words = ["warn", "ERROR", "error", "info", "<&>", "Err", "ok"]
    texts = [f"{rnd.choice(words)} {i}" for i in range(5000)]
    data = b"".join(rec(t) if json_lines else t.encode() + b"\n" for t in texts) + (
        rec("ERR <&> no newline")[:-1] if json_lines else b"ERR <&> tail"
    )
    path = tmp / "f.log"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        m = Matcher(pattern, regex=regex, json_lines=json_lines)
        out = SpanRows()
        pos = filter_lines(fd, 0, len(data), m, json_lines=json_lines, out=out)
        got = [decode(data[s:e], json_lines=json_lines).text for s, e in out.spans(0, len(out))]
        want = [t for t in texts if m.search(t)]
        assert got == want
        assert pos == data.rfind(b"\n") + 1  # the unterminated last line waits for its newline
    finally:
        os.close(fd)


# -- the widget ---------------------------------------------------------------------------------------------


def test_json_log_opens_at_the_end_following(tmp: Path) -> None:
    path = tmp / "c-json.log"
    path.write_bytes(b"".join(rec(f"line {i}", "stderr" if i % 2 else "stdout") for i in range(500)))
    view = LogView(path, json_lines=True)

    async def body(pilot: Pilot[None], app: Host) -> None:
        await until(pilot, on_screen(view, "line 499"), what="the last line")
        await until(pilot, lambda: view._indexed_done)
        assert screen(view)[-1] == "line 499"
        await until(pilot, lambda: bool(app.statuses) and app.statuses[-1].total_lines == 500, what="status")
        assert app.statuses[-1].following and app.statuses[-1].indexed == 1.0
        # stderr lines carry the stderr style, stdout lines do not
        strips = {y: view.body.render_line(y) for y in range(view.body.scrollable_content_region.height)}
        styles = {"".join(s.text for s in st).rstrip(): st for st in strips.values()}
        err_color = styles["line 499"]._segments[0].style.color  # 499 is odd: stderr
        out_color = styles["line 498"]._segments[0].style.color
        assert err_color != out_color

    run(view, body)


def test_plain_file_edge_cases_on_screen(tmp: Path) -> None:
    path = tmp / "plain.txt"
    path.write_bytes(b"first\r\n\n\ttabbed\nbad \xff bytes\n" + b"L" * (1024 * 1024) + b"\nno newline at end")
    view = LogView(path, follow=False)

    async def body(pilot: Pilot[None], app: Host) -> None:
        await until(pilot, lambda: view._indexed_done)
        await until(pilot, on_screen(view, "first"))
        lines = screen(view)
        assert lines[0] == "first" and lines[1] == "" and lines[2] == "        tabbed"
        assert lines[3] == "bad \ufffd bytes"
        assert lines[4].startswith("LLLL") and len(lines[4]) == 80  # cut to the screen, not wrapped
        assert lines[5] == "no newline at end"
        # the 1 MB line is truncated for rendering: the shown text ends with the byte count left out
        full = view.visible_text()[4]
        assert full.startswith("L" * RENDER_CAP) and full.endswith(
            f"[{1024 * 1024 - RENDER_CAP:,} more bytes]"
        )
        t0 = time.perf_counter()
        await pilot.press("w")  # wrap the megabyte line: ~50 screen lines, no freeze
        await pilot.pause()
        print(f"\nwrap of a 1 MB line: {(time.perf_counter() - t0) * 1000:.0f} ms")
        assert view.wrap
        assert all(len(line) <= 80 for line in screen(view))

    run(view, body)


def test_no_output_yet_then_the_file_appears(tmp: Path) -> None:
    path = tmp / "later.log"
    view = LogView(path, json_lines=True)

    async def body(pilot: Pilot[None], app: Host) -> None:
        await pilot.pause(0.3)
        assert any("no output yet" in line for line in screen(view))
        path.write_bytes(b"")
        await pilot.pause(0.4)
        assert any("no output yet" in line for line in screen(view))
        with path.open("ab") as f:
            f.write(rec("finally"))
        await until(pilot, on_screen(view, "finally"), what="the first line")

    run(view, body)


def test_follow_picks_up_appended_lines_and_pauses_on_scroll_up(tmp: Path) -> None:
    path = tmp / "grow.log"
    path.write_bytes(b"".join(rec(f"old {i}") for i in range(100)))
    view = LogView(path)

    async def body(pilot: Pilot[None], app: Host) -> None:
        await until(pilot, on_screen(view, "old 99"))
        with path.open("ab") as f:
            f.write(rec("new 1") + rec("new 2") + b'{"log":"half a rec')
        await until(pilot, lambda: screen(view)[-1] == "new 2", what="appended lines")
        with path.open("ab") as f:
            f.write(b'ord\\n","stream":"stdout","time":"t"}\n')
        await until(pilot, lambda: screen(view)[-1] == "half a record", what="the completed line")
        # scrolling up pauses following: new lines do not move the view
        await pilot.press("up", "up")
        top = screen(view)[0]
        with path.open("ab") as f:
            f.write(rec("while paused"))
        await until(pilot, lambda: len(view.index) == 104)
        await pilot.pause(0.1)
        assert screen(view)[0] == top
        assert not app.statuses[-1].following
        # back at the end it follows again
        await pilot.press("end")
        await until(pilot, lambda: screen(view)[-1] == "while paused")
        with path.open("ab") as f:
            f.write(rec("resumed"))
        await until(pilot, lambda: screen(view)[-1] == "resumed", what="following after end")
        assert app.statuses[-1].following

    run(view, body)


def test_search_next_and_previous(tmp: Path) -> None:
    path = tmp / "s.log"
    path.write_bytes(b"".join(rec(f"{'needle' if i % 100 == 42 else 'hay'} {i}") for i in range(1000)))
    view = LogView(path, follow=False)

    async def body(pilot: Pilot[None], app: Host) -> None:
        await until(pilot, lambda: view._indexed_done)
        await pilot.press("slash", *"needle", "enter")
        await until(pilot, lambda: view._search_row == 42, what="first match")
        assert any(line == "needle 42" for line in screen(view))
        await pilot.press("n")
        await until(pilot, lambda: view._search_row == 142)
        assert any(line == "needle 142" for line in screen(view))
        await pilot.press("n", "n")
        await until(pilot, lambda: view._search_row == 342)
        await pilot.press("N")
        await until(pilot, lambda: view._search_row == 242)
        # the match is highlighted: its cells carry the match style, the rest of the line does not
        y = screen(view).index("needle 242")
        segs = view.body.render_line(y)._segments
        assert segs[0].text == "needle" and segs[0].style.bgcolor is not None
        # wraps around at the end
        view._search_row = 942
        await pilot.press("n")
        await until(pilot, lambda: view._search_row == 42)
        assert "wrapped" in app.statuses[-1].text

    run(view, body)


def test_regex_filter_and_clear(tmp: Path) -> None:
    path = tmp / "f.log"
    path.write_bytes(b"".join(rec(f"req {i} status={500 if i % 7 == 0 else 200}") for i in range(700)))
    view = LogView(path, follow=False)

    async def body(pilot: Pilot[None], app: Host) -> None:
        await until(pilot, lambda: view._indexed_done)
        await pilot.press("f", *"/status=5\\d\\d$/", "enter")
        await until(
            pilot, lambda: len(view.rows) == 100 and view._filter_progress is None, what="filter done"
        )
        assert screen(view)[0] == "req 0 status=500" and screen(view)[1] == "req 7 status=500"
        assert app.statuses[-1].filter == "/status=5\\d\\d$/"
        # new matching lines are filtered as they arrive
        with path.open("ab") as f:
            f.write(rec("req 9999 status=503") + rec("req 10000 status=200"))
        await until(pilot, lambda: len(view.rows) == 101, what="incremental filter")
        await pilot.press("escape")  # clears the filter
        await until(pilot, lambda: len(view.rows) == 702)

    run(view, body)


def test_wrap_and_timestamps_toggle(tmp: Path) -> None:
    path = tmp / "w.log"
    long = "word " * 40  # 200 characters
    path.write_bytes(rec("short", when="2026-11-28T04:27:57.123456789Z") + rec(long.strip()))
    view = LogView(path, follow=False)

    async def body(pilot: Pilot[None], app: Host) -> None:
        await until(pilot, on_screen(view, "short"))
        assert screen(view)[0] == "short"
        assert screen(view)[1].startswith("word word") and len(screen(view)[1]) >= 79  # cut, not wrapped
        assert screen(view)[2] == ""
        await pilot.press("w")
        await pilot.pause()
        lines = screen(view)
        assert lines[1].startswith("word") and lines[2].startswith("word") and lines[3].startswith("word")
        assert " ".join(" ".join(lines[1:4]).split()) == long.strip()
        await pilot.press("w", "t")
        await pilot.pause()
        assert screen(view)[0] == "2026-11-28 04:27:57.123 short"
        assert app.statuses[-1].timestamps and not app.statuses[-1].wrap
        await pilot.press("t")
        await pilot.pause()
        assert screen(view)[0] == "short"

    run(view, body)


def test_rotation_reopens_the_new_file(tmp: Path) -> None:
    path = tmp / "c-json.log"
    path.write_bytes(b"".join(rec(f"before {i}") for i in range(50)))
    view = LogView(path)

    async def body(pilot: Pilot[None], app: Host) -> None:
        await until(pilot, on_screen(view, "before 49"))
        with path.open("ab") as f:
            f.write(rec("last words of the old file"))
        os.rename(path, tmp / "c-json.log.1")  # what docker's json-file rotation does
        path.write_bytes(rec("first of the new file"))
        await until(pilot, lambda: last_line(view) == "first of the new file", what="the rotated file")
        assert len(view.index) == 1
        # the status message is posted after the new file's first repaint: wait for it rather than race it
        await until(pilot, lambda: bool(app.statuses) and "rotated" in app.statuses[-1].text, what="status")
        with path.open("ab") as f:
            f.write(rec("second of the new file"))
        await until(pilot, lambda: last_line(view) == "second of the new file")
        # truncation in place (size shrank) also re-opens
        path.write_bytes(rec("after truncate"))
        await until(pilot, lambda: last_line(view) == "after truncate", what="truncated file")

    run(view, body)


def test_tail_range_save_and_copy(tmp: Path) -> None:
    path = tmp / "r.log"
    path.write_bytes(b"".join(rec(f"n{i}") for i in range(2000)))
    view = LogView(path, follow=False)
    out = tmp / "saved.txt"

    async def body(pilot: Pilot[None], app: Host) -> None:
        await until(pilot, lambda: view._indexed_done)
        await pilot.press("r")  # tail 100
        await until(pilot, lambda: len(view.rows) == 100)
        assert screen(view)[-1] == "n1999"
        await pilot.press("home")
        assert screen(view)[0] == "n1900"
        view.save(out)
        await until(pilot, lambda: out.exists() and out.read_text().count("\n") == 100, what="saved file")
        assert out.read_text().splitlines()[0] == "n1900"
        # copy: the visible lines, or a keyboard selection
        await pilot.press("y")
        assert app.clipboard.splitlines() == [f"n{i}" for i in range(1900, 1911)]
        await pilot.press("v")  # selection starts at the last visible line
        await pilot.press("up", "up")
        await pilot.press("y")
        assert app.clipboard.splitlines() == ["n1908", "n1909", "n1910"]
        await pilot.press("r", "r")  # since 5m: all these records are from 2026-11-28
        await pilot.pause(0.2)
        await pilot.press("r", "r", "r")  # back to all
        await until(pilot, lambda: len(view.rows) == 2000)

    run(view, body)


def test_keyboard_prompts_do_not_trigger_bindings(tmp: Path) -> None:
    path = tmp / "k.log"
    path.write_bytes(rec("nothing to see") + rec("wrap this"))
    view = LogView(path, follow=False)

    async def body(pilot: Pilot[None], app: Host) -> None:
        await until(pilot, on_screen(view, "wrap this"))
        await pilot.press("slash", *"wrap", "escape")  # 'w' typed in the prompt must not toggle wrap
        assert not view.wrap
        assert view.body.has_focus
        await pilot.press("slash", *"nothing", "enter")
        await until(pilot, lambda: view._search_row == 0)

    run(view, body)


# -- a huge file --------------------------------------------------------------------------------------------


@pytest.fixture
def big_log() -> Iterator[tuple[Path, int]]:
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path("/tmp")
    path = base / f"dockyard-logview-{os.getpid()}.log"
    target = 2 * 1024**3
    if shutil.disk_usage(base).free < target + 512 * 1024**2:
        pytest.skip(f"needs 2.5 GB free in {base}")
    line = rec("2026-11-28 04:27:57 INFO worker-3 processed request id=12345 path=/api/v1/things in 12ms")
    block = line * (4 * 1024 * 1024 // len(line))
    try:
        t0 = time.perf_counter()
        with path.open("wb") as f:
            written = 0
            while written < target:
                f.write(block)
                written += len(block)
            f.write(rec("THE LAST LINE", "stderr"))
        print(f"\ngenerated {path.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - t0:.1f} s")
        yield path, written // len(line) + 1
    finally:
        path.unlink(missing_ok=True)


def test_2gb_log_shows_its_end_at_once(big_log: tuple[Path, int]) -> None:
    path, lines = big_log
    size = path.stat().st_size
    view = LogView(path, json_lines=True)

    async def main() -> None:
        app = Host(view)
        t0 = time.perf_counter()
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, on_screen(view, "THE LAST LINE"), timeout=60, what="the last line")
            shown = time.perf_counter() - t0
            indexed_then = view.index.scanned / size
            await until(pilot, lambda: view._indexed_done, timeout=120, what="the index")
            built = time.perf_counter() - t0
            assert len(view.index) == lines
            assert screen(view)[-1] == "THE LAST LINE"  # still at the end after switching to the index
            view.focus()
            t1 = time.perf_counter()
            await pilot.press("home")
            await pilot.pause()
            home = time.perf_counter() - t1
            assert screen(view)[0].startswith("2026-11-28 04:27:57 INFO")
            t1 = time.perf_counter()
            await pilot.press("end")
            await pilot.pause()
            end = time.perf_counter() - t1
            assert screen(view)[-1] == "THE LAST LINE"
            # render time of a screenful of fresh rows (caches cleared)
            view.body._strips.clear()
            view._records.clear()
            view.body.invalidate()
            t1 = time.perf_counter()
            screen(view)
            render = time.perf_counter() - t1
            t1 = time.perf_counter()
            view.set_filter("LAST LINE")
            await until(pilot, lambda: view._filter_progress is None and len(view.rows) == 1, timeout=120)
            filt = time.perf_counter() - t1
            print(
                f"\n2 GB / {lines:,} lines: end on screen after {shown:.3f} s (index at {indexed_then:.0%}),"
                f" index built in {built:.2f} s ({size / 1e6 / built:.0f} MB/s incl. app start),"
                f" home {home * 1000:.0f} ms, end {end * 1000:.0f} ms,"
                f" screenful ({view.body.size.height} rows) rendered in {render * 1000:.1f} ms,"
                f" plain filter over 2 GB {filt:.2f} s"
            )

    asyncio.run(main())


def test_index_build_speed(tmp: Path) -> None:
    """Index speed without the UI (the number reported)."""
    path = Path("/dev/shm" if Path("/dev/shm").is_dir() else tmp) / f"dockyard-idx-{os.getpid()}.log"
    line = rec("GET /api/v1/things 200 12ms")
    try:
        path.write_bytes(line * (256 * 1024 * 1024 // len(line)))
        fd = os.open(path, os.O_RDONLY)
        try:
            idx = LineIndex()
            t0 = time.perf_counter()
            idx.scan(fd, path.stat().st_size)
            took = time.perf_counter() - t0
        finally:
            os.close(fd)
        assert len(idx) == 256 * 1024 * 1024 // len(line)
        print(
            f"\nindex: {path.stat().st_size / 1e6 / took:.0f} MB/s,"
            f" {len(idx) / took / 1e6:.1f} M lines/s ({len(line)} B lines)"
        )
    finally:
        path.unlink(missing_ok=True)


def test_tail_window_while_the_index_is_still_building(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index is held back: the end shows from the backward scan, scrolling up extends that window,
    and the view keeps its place when the index arrives."""
    import tui.widgets.logview as lv

    gate = threading.Event()

    class SlowIndex(LineIndex):
        def scan(self, fd: int, upto: int, **kw: Any) -> int:
            gate.wait(30)
            return super().scan(fd, upto, **kw)

    monkeypatch.setattr(lv, "LineIndex", SlowIndex)
    path = tmp / "w.log"
    lines = [f"w{i}" if i % 5 else "" for i in range(5000)]  # empty lines too
    path.write_bytes(b"".join(rec(line) for line in lines))
    view = LogView(path)

    async def body(pilot: Pilot[None], app: Host) -> None:
        try:
            await until(pilot, lambda: last_line(view) == "w4999", what="the end from the tail window")
            assert view._mode == "window" and len(view.index) == 0
            for _ in range(60):  # page up past the first window: it grows backwards
                await pilot.press("pageup")
            await pilot.pause()
            assert len(view.rows) > lv.WINDOW_LINES
            assert not app.statuses[-1].following
            shown = view.visible_text()
            n = len(shown)
            # what is on screen is a contiguous run of the file's lines (empty ones included)
            assert any(lines[k : k + n] == shown for k in range(len(lines) - n)), shown
            assert shown != lines[-n:]
        finally:
            gate.set()
        await until(pilot, lambda: view._mode == "index", what="the index")
        await pilot.pause()
        assert view.visible_text() == shown  # the same place, now on the index's rows
        assert len(view.rows) == 5000

    run(view, body)


def test_since_range_uses_record_times(tmp: Path) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)

    def stamp(ago: timedelta) -> str:
        return (now - ago).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")

    path = tmp / "t.log"
    path.write_bytes(
        rec("two days ago", when=stamp(timedelta(days=2)))
        + rec("two hours ago", when=stamp(timedelta(hours=2)))
        + rec("half an hour ago", when=stamp(timedelta(minutes=30)))
        + rec("a minute ago", when=stamp(timedelta(minutes=1)))
    )
    view = LogView(path, follow=False)

    async def body(pilot: Pilot[None], app: Host) -> None:
        await until(pilot, lambda: view._indexed_done)
        view.set_range(since=300)
        await pilot.pause()
        assert view.visible_text() == ["a minute ago"]
        view.set_range(since=3600)
        await pilot.pause()
        assert view.visible_text() == ["half an hour ago", "a minute ago"]
        view.set_range(since=86400)
        await pilot.pause()
        assert len(view.rows) == 3 and "since 1d" in app.statuses[-1].text
        view.set_range()
        await pilot.pause()
        assert len(view.rows) == 4

    run(view, body)


def test_save_writes_whole_lines_and_filter_sees_an_unterminated_last_line(tmp: Path) -> None:
    path = tmp / "p.txt"
    long = "z" * (RENDER_CAP * 3)
    path.write_bytes(f"match {long}\nother\nmatch at the end without newline".encode())
    view = LogView(path, follow=False)
    out = tmp / "out.txt"

    async def body(pilot: Pilot[None], app: Host) -> None:
        await until(pilot, lambda: view._indexed_done)
        view.set_filter("match")
        await until(pilot, lambda: len(view.rows) == 2 and view._filter_progress is None, what="filter")
        assert view.visible_text()[1] == "match at the end without newline"
        view.save(out)
        await until(pilot, lambda: out.exists() and out.read_text().count("\n") == 2, what="saved")
        assert (
            out.read_text() == f"match {long}\nmatch at the end without newline\n"
        )  # not cut at the render cap
        with path.open("ab") as f:
            f.write(b"!\nmatch again\n")
        await until(pilot, lambda: len(view.rows) == 3, what="the grown line and a new one")
        assert view.visible_text()[1:] == ["match at the end without newline!", "match again"]

    run(view, body)
