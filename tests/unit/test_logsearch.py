"""tui.widgets.logsearch: a search's next match (``SearchScan``), a filter's matches (``FilterScan``); no App.

Each is checked against the obvious line-by-line answer over the same lines: hypothesis draws the lines,
the term, where the search starts and how the file grows.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.widgets import logsearch
from tui.widgets.logindex import (
    READ_CAP,
    RENDER_CAP,
    Cancelled,
    IndexRows,
    LineIndex,
    Matcher,
    Rows,
    SpanRows,
    decode,
)
from tui.widgets.logsearch import FilterScan, SearchResult, SearchScan

WORDS = ["warn", "ERROR", "error", "Err", "info", "ok", "<&>", "é", ""]
TERMS = [("err", False), ("ERR", False), ("Err", False), ("<&>", False), ("é", False), (r"^\w+ \d*7$", True)]


def rec(text: str) -> bytes:
    obj = {"log": text + "\n", "stream": "stdout", "time": "2026-11-28T04:27:57.123456789Z"}
    return (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def encode(texts: list[str], json_lines: bool) -> bytes:
    return b"".join(rec(t) if json_lines else t.encode() + b"\n" for t in texts)


@contextmanager
def opened(data: bytes) -> Iterator[tuple[int, LineIndex]]:
    """A file holding ``data``, open, with its complete index."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.log"
        path.write_bytes(data)
        fd = os.open(path, os.O_RDWR)
        try:
            index = LineIndex()
            index.scan(fd, len(data))
            yield fd, index
        finally:
            os.close(fd)


def rows_of(index: LineIndex, kind: str, keep: list[int]) -> Rows:
    """The rows a search runs over: the index's, or a filter's (some of its lines, as SpanRows)."""
    if kind == "index":
        return IndexRows(index)
    out = SpanRows()
    for row in keep:
        out.append(*index.span(row))
    return out


def expected(texts: list[str], matcher: Matcher, origin: int, direction: int) -> SearchResult:
    """Row by row: after the origin to the end, then from the start up to the origin itself (mirrored
    backward)."""
    n = len(texts)
    if direction > 0:
        first, second = list(range(origin + 1, n)), list(range(0, min(n, origin + 1)))
    else:
        first = list(range(max(0, origin) - 1, -1, -1))
        second = list(range(n - 1, max(0, origin) - 1, -1))
    for k, order in enumerate((first, second)):
        for row in order:
            if matcher.search(texts[row]):
                return SearchResult(row, k == 1)
    return SearchResult(None, False)


# -- SearchScan ---------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)
        | st.integers(0, 99).map(lambda i: f"warn {i}"),
        max_size=40,
    ),
    term=st.sampled_from(TERMS),
    json_lines=st.booleans(),
    kind=st.sampled_from(["index", "filtered"]),
    keep_every=st.integers(1, 3),
    data=st.data(),
    batch=st.integers(1, 7),
)
def test_search_agrees_with_a_row_by_row_search(
    texts: list[str],
    term: tuple[str, bool],
    json_lines: bool,
    kind: str,
    keep_every: int,
    data: st.DataObject,
    batch: int,
) -> None:
    matcher = Matcher(term[0], regex=term[1], json_lines=json_lines)
    with opened(encode(texts, json_lines)) as (fd, index):
        keep = list(range(len(texts))) if kind == "index" else list(range(0, len(texts), keep_every))
        rows = rows_of(index, kind, keep)
        shown = [texts[r] for r in keep]
        direction = data.draw(st.sampled_from([1, -1]), "direction")
        lo, hi = (-1, len(shown) - 1) if direction > 0 else (0, len(shown))
        origin = data.draw(st.integers(lo, max(lo, hi)), "origin")
        scan = SearchScan(
            fd, rows, matcher, json_lines=json_lines, origin=origin, direction=direction, batch=batch
        )
        assert scan.run() == expected(shown, matcher, origin, direction)
        assert scan.matches(0, len(shown)) == [r for r, t in enumerate(shown) if matcher.search(t)]


def search(
    texts: list[str], pattern: str, origin: int, direction: int, *, regex: bool = False
) -> SearchResult:
    with opened(encode(texts, True)) as (fd, index):
        matcher = Matcher(pattern, regex=regex, json_lines=True)
        scan = SearchScan(fd, IndexRows(index), matcher, json_lines=True, origin=origin, direction=direction)
        return scan.run()


def test_found_not_found_and_wrapped() -> None:
    texts = ["hay 0", "needle 1", "hay 2", "needle 3", "hay 4"]
    assert search(texts, "needle", -1, 1) == SearchResult(1, False)
    assert search(texts, "needle", 1, 1) == SearchResult(3, False)
    assert search(texts, "needle", 3, 1) == SearchResult(1, True)  # past the end, around
    assert search(texts, "needle", 3, -1) == SearchResult(1, False)
    assert search(texts, "needle", 1, -1) == SearchResult(3, True)  # past the start, around
    assert search(texts, "needle", 5, -1) == SearchResult(3, False)  # from below the last row
    assert search(texts, "straw", 2, 1) == SearchResult(None, False)
    assert search(texts, "straw", 2, -1) == SearchResult(None, False)
    # a single match is found from itself only by going all the way around
    assert search(texts, "needle 3", 3, 1) == SearchResult(3, True)
    assert search(texts, "needle 3", 3, -1) == SearchResult(3, True)
    assert search([], "needle", -1, 1) == SearchResult(None, False)


def test_case_follows_the_term_and_regexes_work() -> None:
    texts = ["an Error here", "an ERROR there", "no problem"]
    assert search(texts, "error", -1, 1) == SearchResult(0, False)  # lower case: any case
    assert search(texts, "ERROR", -1, 1) == SearchResult(1, False)  # a capital: exactly
    assert search(texts, "Error", 0, 1) == SearchResult(0, True)
    assert search(texts, r"^no \w+$", -1, 1, regex=True) == SearchResult(2, False)
    assert search(texts, r"^an", 1, -1, regex=True) == SearchResult(0, False)


def test_a_line_is_judged_as_it_is_shown() -> None:
    # the text searched is what the viewer shows: decoded, and cut at RENDER_CAP characters
    near = "x" * 100 + " needle"
    far = "x" * (RENDER_CAP + 10) + " needle"
    assert search([far, near], "needle", -1, 1) == SearchResult(1, False)
    # a record over READ_CAP bytes is read like the viewer reads it: its head decoded from the JSON
    huge = "needle " + "é" * READ_CAP
    assert search(["hay", huge, "hay"], "needle", -1, 1) == SearchResult(1, False)
    assert search(["hay", huge, "hay"], "é", 1, 1) == SearchResult(1, True)


def test_rows_added_after_the_scan_was_made_are_not_searched() -> None:
    texts = ["hay"] * 5
    with opened(encode(texts, False)) as (fd, index):
        rows = SpanRows()
        for row in range(len(texts)):
            rows.append(*index.span(row))
        scan = SearchScan(fd, rows, Matcher("hay"), json_lines=False, origin=4, direction=1, count=3)
        assert scan.count == 3
        assert scan.run() == SearchResult(0, True)
        assert SearchScan(fd, rows, Matcher("hay"), json_lines=False, origin=-1, direction=-1).count == 5


def test_cancel_stops_between_batches() -> None:
    """Row by row (a filter's rows, SpanRows): the batch it was in is finished, the next is not started.
    (The index's rows are searched as bytes, a chunk at a time: a line without the term is never judged.)"""
    texts = [f"hay {i}" for i in range(100)]
    with opened(encode(texts, False)) as (fd, index):
        scan = SearchScan(
            fd,
            rows_of(index, "filter", list(range(len(texts)))),
            Matcher("needle"),
            json_lines=False,
            origin=-1,
            direction=1,
            batch=10,
        )
        judged: list[str] = []

        class Spy(Matcher):
            def search(self, text: str) -> bool:
                judged.append(text)
                if len(judged) == 15:
                    scan.cancel()
                return super().search(text)

        scan.matcher = Spy("needle")
        with pytest.raises(Cancelled):
            scan.run()
        assert scan.cancelled
        assert judged == texts[:20]  # the batch it was in is finished, the next one not started
        again = SearchScan(fd, IndexRows(index), Matcher("hay"), json_lines=False, origin=-1, direction=1)
        again.cancel()
        with pytest.raises(Cancelled):
            again.run()


# -- FilterScan ---------------------------------------------------------------------------------------------


def filtered(data: bytes, out: SpanRows, json_lines: bool) -> list[str]:
    return [decode(data[s:e], json_lines=json_lines).text for s, e in out.spans(0, len(out))]


def want(data: bytes, matcher: Matcher, json_lines: bool, start: int = 0) -> list[str]:
    """Line by line: the complete lines from ``start``, and a plain file's unterminated last line."""
    body = data[start:]
    lines = body.split(b"\n")
    tail = lines.pop()
    texts = [decode(line, json_lines=json_lines).text for line in lines]
    if tail and not json_lines:
        texts.append(decode(tail, json_lines=False).text)
    return [t for t in texts if matcher.search(t)]


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join), max_size=30),
    cuts=st.lists(st.integers(0, 2000), max_size=6),
    term=st.sampled_from(TERMS),
    json_lines=st.booleans(),
    rg=st.booleans(),
)
def test_filter_keeps_up_with_any_growth(
    texts: list[str], cuts: list[int], term: tuple[str, bool], json_lines: bool, rg: bool
) -> None:
    """``rg``: every step's complete lines go to ripgrep (where it is installed), however few; else they go
    to ripgrep only past ``GREP_FROM`` (32 MB: never here)."""
    matcher = Matcher(term[0], regex=term[1], json_lines=json_lines)
    grep_from = logsearch.GREP_FROM
    logsearch.GREP_FROM = 0 if rg else grep_from
    try:
        _filter_grows(texts, cuts, matcher, json_lines)
    finally:
        logsearch.GREP_FROM = grep_from


def _filter_grows(texts: list[str], cuts: list[int], matcher: Matcher, json_lines: bool) -> None:
    data = encode(texts, json_lines)
    if not json_lines and data:
        data = data[:-1]  # a plain file may end without a newline
    points = sorted({min(c, len(data)) for c in cuts} | {len(data)})
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "g.log"
        path.write_bytes(b"")
        fd = os.open(path, os.O_RDWR)
        try:
            index = LineIndex()
            out = SpanRows()
            reports: list[tuple[int, int]] = []
            scan = FilterScan(
                fd, index, matcher, out, json_lines=json_lines, report=lambda p, e: reports.append((p, e))
            )
            written = 0
            for point in points:  # the file grows in steps; the follower indexes each; the filter steps
                os.pwrite(fd, data[written:point], written)
                written = point
                index.scan(fd, written)
                scan.step()
                assert filtered(data, out, json_lines) == want(data[:written], matcher, json_lines)
                assert scan.pos == data.rfind(b"\n", 0, written) + 1
                if written:
                    assert reports[-1] == (scan.pos, written)
        finally:
            os.close(fd)


def test_a_plain_files_last_line_is_provisional() -> None:
    matcher = Matcher("match$", regex=True)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.log"
        fd = os.open(path, os.O_RDWR | os.O_CREAT)
        try:
            index = LineIndex()
            out = SpanRows()
            scan = FilterScan(fd, index, matcher, out, json_lines=False)
            data = b""

            def grow(more: bytes) -> list[str]:
                nonlocal data
                os.pwrite(fd, more, len(data))
                data += more
                index.scan(fd, len(data))
                scan.step()
                return filtered(data, out, False)

            assert grow(b"a match\nno\nthe last match") == ["a match", "the last match"]
            assert grow(b"es nothing") == ["a match"]  # it grew out of matching: taken back
            assert grow(b" to match") == ["a match", "the last matches nothing to match"]
            assert grow(b"\n") == ["a match", "the last matches nothing to match"]  # now for good
            assert len(out) == 2
        finally:
            os.close(fd)


def test_a_json_files_unterminated_record_waits_for_its_newline() -> None:
    matcher = Matcher("match", json_lines=True)
    whole = rec("first match") + rec("second match")
    cut = len(rec("first match")) + 10
    with opened(whole[:cut]) as (fd, index):
        out = SpanRows()
        scan = FilterScan(fd, index, matcher, out, json_lines=True)
        scan.step()
        assert filtered(whole, out, True) == ["first match"]
        assert scan.pos == len(rec("first match"))
        os.pwrite(fd, whole[cut:], cut)
        index.scan(fd, len(whole))
        scan.step()
        assert filtered(whole, out, True) == ["first match", "second match"]


def test_filter_from_a_start_offset() -> None:
    texts = [f"line {i}" for i in range(10)]
    data = encode(texts, False)
    start = data.index(b"line 6")
    with opened(data) as (fd, index):
        out = SpanRows()
        FilterScan(fd, index, Matcher("line"), out, json_lines=False, start=start).step()
        assert filtered(data, out, False) == texts[6:]
        assert want(data, Matcher("line"), False, start) == texts[6:]


def test_run_follows_the_index_until_cancelled() -> None:
    data = b"".join(f"{'ERROR' if i % 3 == 0 else 'ok'} {i}\n".encode() for i in range(30))
    with opened(b"") as (fd, index):
        out = SpanRows()
        scan = FilterScan(fd, index, Matcher("ERROR"), out, json_lines=False, poll=0.005)
        thread = threading.Thread(target=scan.run, daemon=True)
        thread.start()
        try:
            for part in range(3):  # a follower indexing what the log grows by
                lo, hi = part * len(data) // 3, (part + 1) * len(data) // 3
                os.pwrite(fd, data[lo:hi], lo)
                index.scan(fd, hi)
            deadline = time.monotonic() + 5
            while len(out) < 10 and time.monotonic() < deadline:
                time.sleep(0.005)
            assert filtered(data, out, False) == [f"ERROR {i}" for i in range(0, 30, 3)]
        finally:
            scan.cancel()
            thread.join(5)
        assert not thread.is_alive() and scan.cancelled


def test_a_cancelled_step_raises_and_run_returns() -> None:
    with opened(b"ERROR\n" * 10) as (fd, index):
        scan = FilterScan(fd, index, Matcher("ERROR"), SpanRows(), json_lines=False)
        scan.cancel()
        with pytest.raises(Cancelled):
            scan.step()
        scan.run()  # returns at once, nothing raised
        assert len(scan.out) == 0


@pytest.mark.parametrize("last", ["none", "long-partial", "long-complete"])
def test_filter_by_ripgrep_leaves_a_long_last_line_to_filter_lines(
    last: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass given to ripgrep ends at its last newline; one more than 64 KiB back (a long last line, with
    or without its newline yet) leaves the whole pass to filter_lines, which judges such a line."""
    if logsearch._rg() is None:
        pytest.skip("no ripgrep here")
    monkeypatch.setattr(logsearch, "GREP_FROM", 0)
    data = encode([f"error {i}" if i % 7 == 0 else f"ok {i}" for i in range(20_000)], False)
    if last != "none":
        data += (
            b"error at the start of a long line "
            + b"x" * 200_000
            + (b"\n" if last == "long-complete" else b"")
        )
    matcher = Matcher("error")
    with opened(data) as (fd, index):
        out = SpanRows()
        scan = FilterScan(fd, index, matcher, out, json_lines=False)
        scan.step()
        assert filtered(data, out, False) == want(data, matcher, False)
        assert scan.pos == data.rfind(b"\n") + 1  # complete lines are judged for good, no further
