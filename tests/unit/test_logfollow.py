"""tui.widgets.logfollow: the log viewer's follower, run in a thread of its own, no App.

A recording listener keeps what the follower says; the tests write, append, rename and truncate the file
and wait (with a deadline) until the follower has caught up. The poll is 10 ms so that this takes little.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.widgets.logfollow import LogFollower
from tui.widgets.logindex import LineIndex

POLL = 0.01


def rec(text: str) -> bytes:
    obj = {"log": text + "\n", "stream": "stdout", "time": "2026-11-28T04:27:57.123456789Z"}
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def lines_of(data: bytes) -> list[bytes]:
    """The lines a complete index of ``data`` has: an unterminated last line is one, a final newline ends
    the last line without starting another."""
    if not data:
        return []
    parts = data.split(b"\n")
    return parts[:-1] if data.endswith(b"\n") else parts


def indexed(index: LineIndex, data: bytes) -> list[bytes]:
    return [data[s:e] for s, e in index.spans(0, len(index))]


@dataclass
class Opened:
    index: LineIndex
    ino: int  # of the file the follower opened, read through its descriptor during the call
    size: int
    json_lines: bool | None
    head: bytes  # the first bytes, read through the descriptor during the call


@dataclass
class Recorder:
    """A FollowListener that keeps everything it is told, for the test thread to wait on."""

    opened_: list[Opened] = field(default_factory=list)
    grew_: list[tuple[LineIndex, bool]] = field(default_factory=list)
    grew_at: list[tuple[float, LineIndex, bool]] = field(default_factory=list)
    missing_: int = 0
    failed_: list[OSError] = field(default_factory=list)
    followers: set[int] = field(default_factory=set)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def opened(
        self, follower: LogFollower, index: LineIndex, fd: int, size: int, json_lines: bool | None
    ) -> None:
        with self.cond:
            self.followers.add(id(follower))
            self.opened_.append(Opened(index, os.fstat(fd).st_ino, size, json_lines, os.pread(fd, 16, 0)))
            self.cond.notify_all()

    def grew(self, follower: LogFollower, index: LineIndex, done: bool) -> None:
        with self.cond:
            self.followers.add(id(follower))
            self.grew_.append((index, done))
            self.grew_at.append((time.monotonic(), index, done))
            self.cond.notify_all()

    def missing(self, follower: LogFollower) -> None:
        with self.cond:
            self.followers.add(id(follower))
            self.missing_ += 1
            self.cond.notify_all()

    def failed(self, follower: LogFollower, err: OSError) -> None:
        with self.cond:
            self.followers.add(id(follower))
            self.failed_.append(err)
            self.cond.notify_all()

    def wait(self, cond: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
        with self.cond:
            if not self.cond.wait_for(cond, timeout):
                raise AssertionError(f"timed out waiting for {what}")

    @property
    def index(self) -> LineIndex:
        return self.opened_[-1].index


@dataclass
class Running:
    follower: LogFollower
    rec: Recorder
    thread: threading.Thread

    def caught_up(self, data: bytes, opens: int = 1) -> None:
        """Wait until the follower's latest index covers ``data`` (which the file holds) and says so."""
        self.rec.wait(
            lambda: (
                len(self.rec.opened_) == opens
                and self.rec.index.scanned == len(data)
                and (self.rec.index, True) in self.rec.grew_
            ),
            f"the index of open {opens} at {len(data)} bytes",
        )


@pytest.fixture
def follow(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(path: Path, **kw: Any) -> Running:
        rec_ = Recorder()
        follower = LogFollower(path, rec_, poll=POLL, **kw)
        thread = threading.Thread(target=follower.run, daemon=True)
        thread.start()
        run = Running(follower, rec_, thread)
        started.append(run)
        return run

    yield start
    for run in started:
        run.follower.stop()
        run.thread.join(5)
        assert not run.thread.is_alive(), "the follower did not stop"


# -- opening and the first index ----------------------------------------------------------------------------


def test_opens_indexes_and_says_done(tmp_path: Path, follow: Callable[..., Running]) -> None:
    path = tmp_path / "a.log"
    data = b"one\ntwo\r\n\nfour without newline"
    path.write_bytes(data)
    run = follow(path)
    run.caught_up(data)
    (opened,) = run.rec.opened_
    assert opened.size == len(data) and opened.ino == path.stat().st_ino and opened.head == data[:16]
    assert opened.json_lines is False  # detected: plain text
    assert indexed(opened.index, data) == [b"one", b"two\r", b"", b"four without newline"]
    assert run.rec.missing_ == 0 and run.rec.failed_ == []
    assert run.rec.followers == {id(run.follower)}


@pytest.mark.parametrize(
    ("content", "given_format", "reported"),
    [
        (rec("hello"), None, True),  # docker's json-file: detected
        (b"plain text\n", None, False),
        (b"", None, None),  # nothing to detect from yet
        (rec("hello"), False, False),  # a format given is not second-guessed
        (b"plain text\n", True, True),
    ],
)
def test_format_detection(
    tmp_path: Path,
    follow: Callable[..., Running],
    content: bytes,
    given_format: bool | None,
    reported: bool | None,
) -> None:
    path = tmp_path / "f.log"
    path.write_bytes(content)
    run = follow(path, json_lines=given_format)
    run.caught_up(content)
    assert run.rec.opened_[0].json_lines is reported


def test_the_index_comes_from_new_index(tmp_path: Path, follow: Callable[..., Running]) -> None:
    made: list[LineIndex] = []

    def new_index() -> LineIndex:
        made.append(LineIndex())
        return made[-1]

    path = tmp_path / "n.log"
    path.write_bytes(b"x\n")
    run = follow(path, new_index=new_index)
    run.caught_up(b"x\n")
    assert made == [run.rec.index]


def test_waits_for_the_file_to_appear(tmp_path: Path, follow: Callable[..., Running]) -> None:
    path = tmp_path / "later.log"
    run = follow(path)
    run.rec.wait(lambda: run.rec.missing_ >= 3, "missing, said at every poll")
    assert run.rec.opened_ == []
    path.write_bytes(b"here now\n")
    run.caught_up(b"here now\n")
    assert indexed(run.rec.index, b"here now\n") == [b"here now"]


def test_a_path_that_cannot_be_opened_fails_and_ends_run(
    tmp_path: Path, follow: Callable[..., Running]
) -> None:
    (tmp_path / "file").write_bytes(b"")
    run = follow(tmp_path / "file" / "x.log")  # a regular file as a directory: ENOTDIR, not ENOENT
    run.thread.join(5)
    assert not run.thread.is_alive()
    (err,) = run.rec.failed_
    assert isinstance(err, NotADirectoryError)
    assert run.rec.opened_ == [] and run.rec.missing_ == 0


# -- growth -------------------------------------------------------------------------------------------------


def test_appends_are_indexed_and_a_partial_line_grows(tmp_path: Path, follow: Callable[..., Running]) -> None:
    path = tmp_path / "g.log"
    data = b"first\n"
    path.write_bytes(data)
    run = follow(path)
    run.caught_up(data)
    index = run.rec.index
    steps = [b"second\nhalf a li", b"ne\n", b"\n", b"x"]
    for step in steps:
        with path.open("ab") as f:
            f.write(step)
        data += step
        run.caught_up(data)
        assert indexed(index, data) == lines_of(data)
    # the unterminated last line is a line, but not a complete one
    assert indexed(index, data)[-2:] == [b"", b"x"]
    assert index.complete_len() == len(lines_of(data)) - 1
    assert len(run.rec.opened_) == 1  # growth is not a reopen


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.binary(max_size=200),
    appends=st.lists(
        st.lists(st.sampled_from([b"a", b"bc", b"\n", b"\r\n", b"\xff", b"word " * 30]), max_size=8).map(
            b"".join
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_any_appends_index_as_a_split_would(start: bytes, appends: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "h.log"
        path.write_bytes(start)
        rec_ = Recorder()
        follower = LogFollower(path, rec_, poll=0.002, json_lines=False)
        thread = threading.Thread(target=follower.run, daemon=True)
        thread.start()
        try:
            run = Running(follower, rec_, thread)
            data = start
            run.caught_up(data)
            for piece in appends:
                with path.open("ab") as f:
                    f.write(piece)
                data += piece
                run.caught_up(data)
                assert indexed(rec_.index, data) == lines_of(data)
            assert len(rec_.opened_) == 1
        finally:
            follower.stop()
            thread.join(5)


def test_progress_is_said_at_most_every_tenth_of_a_second(
    tmp_path: Path, follow: Callable[..., Running]
) -> None:
    class SlowIndex(LineIndex):
        def scan(self, fd: int, upto: int, **kw: Any) -> int:
            return super().scan(fd, upto, chunk=4096, **kw)

        def feed(self, data: bytes | bytearray | memoryview, base: int) -> int:
            time.sleep(0.03)
            return super().feed(data, base)

    path = tmp_path / "s.log"
    data = b"line\n" * (8 * 4096 // 5)
    path.write_bytes(data)
    run = follow(path, new_index=SlowIndex)
    run.caught_up(data)  # 8 chunks at 30 ms or more each
    index = run.rec.index
    said = [(t, done) for t, idx, done in run.rec.grew_at if idx is index]
    assert [done for _, done in said][-1] is True
    progress = [t for t, done in said if not done]
    assert len(progress) >= 2
    # the follower's clock is read a moment before this listener's: a little slack
    assert all(b - a > 0.09 for a, b in itertools.pairwise(progress))


# -- rotation, truncation, stop -----------------------------------------------------------------------------


def test_rotation_drains_the_old_file_then_opens_the_new(
    tmp_path: Path, follow: Callable[..., Running]
) -> None:
    path = tmp_path / "c-json.log"
    old = rec("before")
    path.write_bytes(old)
    run = follow(path)
    run.caught_up(old)
    first = run.rec.index
    with path.open("ab") as f:
        f.write(rec("last words"))
    os.rename(path, tmp_path / "c-json.log.1")  # what docker's json-file rotation does
    new = rec("first of the new file")
    path.write_bytes(new)
    run.caught_up(new, opens=2)
    second = run.rec.index
    assert second is not first
    assert indexed(first, old + rec("last words")) == lines_of(old + rec("last words"))  # drained
    assert indexed(second, new) == lines_of(new)
    assert run.rec.opened_[1].ino == path.stat().st_ino != run.rec.opened_[0].ino
    assert run.rec.opened_[1].head == new[:16]


def test_truncation_in_place_reopens(tmp_path: Path, follow: Callable[..., Running]) -> None:
    path = tmp_path / "t.log"
    data = b"a long first life of the file\n" * 10
    path.write_bytes(data)
    run = follow(path)
    run.caught_up(data)
    ino = path.stat().st_ino
    with path.open("r+b") as f:  # same inode, shorter
        f.truncate(0)
        f.write(b"after\n")
    run.caught_up(b"after\n", opens=2)
    assert run.rec.opened_[1].ino == ino
    assert indexed(run.rec.index, b"after\n") == [b"after"]


def test_json_lines_set_by_the_owner_is_used_at_the_next_open(
    tmp_path: Path, follow: Callable[..., Running]
) -> None:
    path = tmp_path / "o.log"
    path.write_bytes(b"")
    run = follow(path)
    run.caught_up(b"")
    assert run.rec.opened_[0].json_lines is None
    run.follower.json_lines = True  # the owner learned it from what the file grew to
    os.rename(path, tmp_path / "o.log.1")
    path.write_bytes(b"plain after all\n")
    run.caught_up(b"plain after all\n", opens=2)
    assert run.rec.opened_[1].json_lines is True  # not detected again


def test_stop_during_the_first_scan_says_nothing_more(tmp_path: Path, follow: Callable[..., Running]) -> None:
    gate = threading.Event()
    entered = threading.Event()

    class HeldIndex(LineIndex):
        def scan(self, fd: int, upto: int, **kw: Any) -> int:
            entered.set()
            gate.wait(5)
            return super().scan(fd, upto, **kw)

    path = tmp_path / "h.log"
    path.write_bytes(b"x\n" * 100)
    run = follow(path, new_index=HeldIndex)
    assert entered.wait(5)
    run.follower.stop()
    assert run.follower.stopped
    gate.set()
    run.thread.join(5)
    assert not run.thread.is_alive()
    assert len(run.rec.opened_) == 1 and run.rec.grew_ == []
    assert run.rec.index.scanned == 0


def test_stop_while_following_and_while_waiting(tmp_path: Path, follow: Callable[..., Running]) -> None:
    path = tmp_path / "w.log"
    path.write_bytes(b"x\n")
    following = follow(path)
    following.caught_up(b"x\n")
    waiting = follow(tmp_path / "never.log")
    waiting.rec.wait(lambda: waiting.rec.missing_ >= 1, "missing")
    t0 = time.monotonic()
    for run in (following, waiting):
        run.follower.stop()
        run.thread.join(5)
        assert not run.thread.is_alive()
    assert time.monotonic() - t0 < 1.0  # within a poll or so, not a timeout
