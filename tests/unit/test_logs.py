"""core.logs: dockerd-compatible json-file records, rotation, tail, since/until and follow."""

from __future__ import annotations

import calendar
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import logs
from core.errors import InvalidArgument
from core.logopts import parse_log_opts
from core.logs import (
    PARTIAL_MAX,
    LogWriter,
    format_timestamp,
    normalise_timestamp,
    parse_since,
    read_logs,
    rotated_paths,
)
from core.models import LogLine

FIXED = "2026-01-02T03:04:05.000000000Z"

# -- a straight port of dockerd's encoder (jsonlogbytes.go + Go's utf8.DecodeRune), to compare against ----


def _go_decode_rune(b: bytes, i: int) -> tuple[str | None, int]:
    for n in (2, 3, 4):
        try:
            ch = b[i : i + n].decode("utf-8")  # strict: rejects overlong forms and surrogates, as Go does
        except UnicodeDecodeError:
            continue
        if len(ch) == 1:
            return ch, n
    return None, 1


def _go_json_string(b: bytes) -> str:
    out = ['"']
    i = 0
    while i < len(b):
        c = b[i]
        if c < 0x80:
            if c >= 0x20 and c not in b'\\"<>&':
                out.append(chr(c))
            elif c in b'\\"':
                out.append("\\" + chr(c))
            elif c == 0x0A:
                out.append("\\n")
            elif c == 0x0D:
                out.append("\\r")
            else:
                out.append(f"\\u00{c:02x}")
            i += 1
            continue
        ch, n = _go_decode_rune(b, i)
        if ch is None:
            out.append("\\ufffd")
        elif ch in "\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
        i += n
    out.append('"')
    return "".join(out)


def _docker_record(line: bytes, stream: str = "stdout", stamp: str = FIXED) -> bytes:
    return f'{{"log":{_go_json_string(line)},"stream":"{stream}","time":"{stamp}"}}\n'.encode()


def _fixed_writer(path: Path, **kw: int | None) -> LogWriter:
    w = LogWriter(path, **kw)  # type: ignore[arg-type]
    w._stamp = lambda: FIXED  # type: ignore[method-assign]
    return w


def _split(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    prev = 0
    for c in sorted({min(c, len(data)) for c in cuts}):
        yield data[prev:c]
        prev = c
    yield data[prev:]


_line = st.one_of(
    st.binary(max_size=120),
    st.text(max_size=60).map(str.encode),  # valid UTF-8 with every kind of character
    st.sampled_from([b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"a\x00\x1b[1m<&>\r"]),
).map(lambda b: b.replace(b"\n", b""))


# -- writer ---------------------------------------------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_line, max_size=30), cuts=st.lists(st.integers(0, 4000), max_size=12))
def test_records_are_byte_for_byte_what_dockerd_writes(tmp_path: Path, lines: list[bytes], cuts: list[int]):
    path = tmp_path / "c-json.log"
    path.unlink(missing_ok=True)
    data = b"".join(line + b"\n" for line in lines)
    with _fixed_writer(path) as w:
        for chunk in _split(data, cuts):  # chunks cut anywhere, even inside a UTF-8 character
            w.write("stdout", chunk)
        w.flush()
    assert path.read_bytes() == b"".join(_docker_record(line + b"\n") for line in lines)
    for line, rec in zip(lines, path.read_bytes().splitlines(), strict=True):
        obj = json.loads(rec)
        # each invalid byte is one U+FFFD, as Go decodes
        expected = "".join(ch or "\ufffd" for ch in _go_chars(line)) + "\n"
        assert obj["log"] == expected
    # the reader's shortcut for records that need no unescaping agrees with a JSON parser
    assert [(r.stream, r.text) for r in read_logs(path)] == [
        (o["stream"], o["log"]) for o in map(json.loads, path.read_bytes().splitlines())
    ]


def _go_chars(b: bytes) -> Iterator[str | None]:
    i = 0
    while i < len(b):
        if b[i] < 0x80:
            yield chr(b[i])
            i += 1
        else:
            ch, n = _go_decode_rune(b, i)
            yield ch
            i += n


@given(st.text())
def test_escape_json_is_valid_json(text: str):
    text = text.replace("\n", "")
    assert json.loads('"' + logs.escape_json(text) + '"') == text.replace("\udcff", "\ufffd")


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    writes=st.lists(
        st.tuples(st.sampled_from(["stdout", "stderr"]), st.text(max_size=80).map(str.encode)), max_size=40
    )
)
def test_round_trip_keeps_streams_and_order(tmp_path: Path, writes: list[tuple[str, bytes]]):
    path = tmp_path / "rt-json.log"
    path.unlink(missing_ok=True)
    with LogWriter(path) as w:
        for stream, chunk in writes:
            w.write(stream, chunk)
        w.flush()
    got = list(read_logs(path))
    for stream in ("stdout", "stderr"):
        sent = b"".join(c for s, c in writes if s == stream).decode()
        assert "".join(line.text for line in got if line.stream == stream) == sent
        # every complete line is one record (nothing here is 16 KiB long)
        complete = [t + "\n" for t in sent.split("\n")[:-1]]
        assert [x.text for x in got if x.stream == stream and x.text.endswith("\n")] == complete
    assert all(len(x.time) == 30 for x in got)


def test_stamps_are_fixed_width_and_increase(tmp_path: Path):
    path = tmp_path / "t-json.log"
    with LogWriter(path) as w:
        for i in range(50):
            w.write("stdout", b"%d\n" % i)
    stamps = [x.time for x in read_logs(path)]
    assert stamps == sorted(stamps)
    for s in stamps:
        assert len(s) == 30 and s.endswith("Z") and s[19] == "."
        assert abs(calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) - time.time()) < 60


def test_long_line_is_cut_in_16k_pieces_sharing_one_stamp(tmp_path: Path):
    path = tmp_path / "p-json.log"
    euro = "€".encode()  # 3 bytes
    line = b"a" * (PARTIAL_MAX - 1) + euro + b"b" * (PARTIAL_MAX + 100)
    with LogWriter(path) as w:
        for i in range(0, len(line), 1000):
            w.write("stderr", line[i : i + 1000])
        w.write("stderr", b"\nnext\n")
    recs = list(read_logs(path))
    # the euro sign would straddle the 16 KiB mark: the cut moves back before it
    assert [len(r.text.encode()) for r in recs[:-1]] == [PARTIAL_MAX - 1, PARTIAL_MAX, 104]
    assert "".join(r.text for r in recs[:3]) == line.decode() + "\n"
    assert not recs[0].text.endswith("\n") and not recs[1].text.endswith("\n")
    assert len({r.time for r in recs[:3]}) == 1  # dockerd stamps every piece with the first one's time
    assert recs[3] == LogLine("stderr", recs[3].time, "next\n")


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lead=st.integers(PARTIAL_MAX - 5, PARTIAL_MAX),
    # U+FFFD itself excluded: its appearance in the output is what a split character would leave
    middle=st.text(
        st.characters(min_codepoint=0x80, exclude_categories=["Cs"], exclude_characters="\ufffd"),
        min_size=1,
        max_size=8,
    ),
    pieces=st.integers(1, 5),
)
def test_pieces_of_long_lines_never_split_a_character(tmp_path: Path, lead: int, middle: str, pieces: int):
    path = tmp_path / "cut-json.log"
    path.unlink(missing_ok=True)
    line = ("a" * lead + middle) * pieces + "\n"
    with LogWriter(path) as w:
        w.write("stdout", line.encode())
    recs = [r.text for r in read_logs(path)]
    assert "".join(recs) == line and "\ufffd" not in "".join(recs)
    assert all(len(r.encode()) <= PARTIAL_MAX for r in recs)
    assert len(recs) >= len(line.encode()) // PARTIAL_MAX


def test_partial_line_waits_for_its_newline_and_flush_writes_it(tmp_path: Path):
    path = tmp_path / "f-json.log"
    w = LogWriter(path)
    w.write("stdout", b"no newline yet")
    w.write("stderr", b"err\npart")
    assert [r.text for r in read_logs(path)] == ["err\n"]
    w.write("stdout", b" - now\n")
    assert [r.text for r in read_logs(path)] == ["err\n", "no newline yet - now\n"]
    w.write("stdout", b"tail")
    w.flush()
    w.close()
    got = [(r.stream, r.text) for r in read_logs(path)]
    assert got == [
        ("stderr", "err\n"),
        ("stdout", "no newline yet - now\n"),
        ("stdout", "tail"),
        ("stderr", "part"),
    ]
    assert path.read_bytes().endswith(b'"}\n')


def test_invalid_utf8_and_escapes_as_dockerd(tmp_path: Path):
    path = tmp_path / "u-json.log"
    with _fixed_writer(path) as w:
        w.write("stdout", b"\xe2\x82A\xff\ttab <b> & \xe2\x80\xa8 \x1b[0m\r\n")
    raw = path.read_bytes()
    assert raw == (
        b'{"log":"\\ufffd\\ufffdA\\ufffd\\u0009tab \\u003cb\\u003e \\u0026 \\u2028 \\u001b[0m\\r\\n",'
        b'"stream":"stdout","time":"' + FIXED.encode() + b'"}\n'
    )
    assert next(read_logs(path)).text == "\ufffd\ufffdA\ufffd\ttab <b> & \u2028 \x1b[0m\r\n"


def test_writer_appends_to_an_existing_log(tmp_path: Path):
    path = tmp_path / "a-json.log"
    with LogWriter(path) as w:
        w.write("stdout", b"one\n")
    with LogWriter(path) as w:  # a restarted container keeps its log
        w.write("stdout", b"two\n")
    assert [r.text for r in read_logs(path)] == ["one\n", "two\n"]


def test_writer_rejects_bad_options(tmp_path: Path):
    with pytest.raises(InvalidArgument):
        LogWriter(tmp_path / "x", max_size=0)
    with pytest.raises(InvalidArgument):
        LogWriter(tmp_path / "x", max_size=10, max_file=0)
    with LogWriter(tmp_path / "x") as w, pytest.raises(ValueError):
        w.write("stdin", b"x\n")


# -- rotation -------------------------------------------------------------------------------------------


def _numbered(w: LogWriter, start: int, stop: int, per_write: int = 7) -> None:
    for i in range(start, stop, per_write):
        w.write("stdout", b"".join(b"line %06d\n" % j for j in range(i, min(i + per_write, stop))))


def test_rotation_keeps_max_file_files_of_about_max_size(tmp_path: Path):
    path = tmp_path / "r-json.log"
    with LogWriter(path, max_size=1000, max_file=3) as w:
        _numbered(w, 0, 500)
        rec_len = len(path.read_bytes().splitlines()[0]) + 1
    assert [p.name for p in rotated_paths(path)] == ["r-json.log.2", "r-json.log.1", "r-json.log"]
    for p in rotated_paths(path)[:-1]:
        # rotated only once full, and never more than one record over
        assert 1000 <= p.stat().st_size < 1000 + rec_len
    assert path.stat().st_size < 1000 + rec_len
    texts = [r.text for r in read_logs(path)]
    nums = [int(t.split()[1]) for t in texts]
    assert nums == list(range(500 - len(nums), 500))  # the newest lines, in order, nothing missing
    assert len(nums) > 2 * (1000 // rec_len)


def test_rotation_with_max_file_1_keeps_one_file(tmp_path: Path):
    path = tmp_path / "one-json.log"
    with LogWriter(path, max_size=500, max_file=1) as w:
        _numbered(w, 0, 300)
    assert rotated_paths(path) == [path]
    nums = [int(r.text.split()[1]) for r in read_logs(path)]
    assert nums and nums == list(range(300 - len(nums), 300))


def test_parse_log_opts_as_docker():
    assert parse_log_opts({}) == (None, 1)
    assert parse_log_opts({"max-size": "10m", "max-file": "3"}) == (10_000_000, 3)
    assert parse_log_opts({"max-size": "1.5k"}) == (1500, 1)
    assert parse_log_opts({"max-size": "2MB"}) == (2_000_000, 1)
    assert parse_log_opts({"max-size": "512"}) == (512, 1)
    for bad in ({"max-size": "ten"}, {"max-size": "0"}, {"max-file": "0"}, {"max-file": "x"}, {"foo": "1"}):
        with pytest.raises(InvalidArgument):
            parse_log_opts(bad)


# -- tail -----------------------------------------------------------------------------------------------


@pytest.fixture
def rotated_log(tmp_path: Path) -> Path:
    path = tmp_path / "tail-json.log"
    with LogWriter(path, max_size=2000, max_file=4) as w:
        _numbered(w, 0, 400, per_write=3)
        w.write("stdout", b"unfinished")  # not flushed: not a record yet
    return path


@pytest.mark.parametrize("n", [0, 1, 2, 5, 40, 80, 10_000])
def test_tail_across_rotated_files(rotated_log: Path, n: int):
    everything = list(read_logs(rotated_log))
    assert len(everything) > 50 and len(rotated_paths(rotated_log)) == 4
    got = list(read_logs(rotated_log, tail=n))
    assert got == everything[len(everything) - min(n, len(everything)) :]
    assert list(read_logs(rotated_log, tail=-1)) == everything


def test_tail_reads_only_the_end_of_a_huge_sparse_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "huge-json.log"
    with open(path, "wb") as f:
        f.truncate(4 << 30)  # 4 GiB of hole: reading it would take seconds and pass no test below
    with LogWriter(path) as w:
        _numbered(w, 0, 1000)
    asked = 0
    real_pread = os.pread

    def counting_pread(fd: int, n: int, off: int) -> bytes:
        nonlocal asked
        asked += n
        return real_pread(fd, n, off)

    monkeypatch.setattr(logs, "_pread", counting_pread)
    got = [r.text for r in read_logs(path, tail=10)]
    assert got == [f"line {i:06d}\n" for i in range(990, 1000)]
    assert asked < 1 << 20


# -- since / until --------------------------------------------------------------------------------------


def _stamped_log(path: Path, base: int, count: int, pad: int = 0) -> None:
    """One line a second from ``base``, stamps under our control."""
    stamps = iter([format_timestamp(base + i + 0.25) for i in range(count)])
    with LogWriter(path, max_size=600 + 50 * pad, max_file=20) as w:
        w._stamp = lambda: next(stamps)  # type: ignore[method-assign]
        for i in range(count):
            w.write("stdout", b"s%d%s\n" % (i, b" " * pad))


def test_since_until_filter_inclusively(tmp_path: Path):
    path = tmp_path / "s-json.log"
    base = 1_800_000_000
    _stamped_log(path, base, 60)
    assert len(rotated_paths(path)) > 5

    def texts(**kw: float) -> list[str]:
        return [r.text.strip() for r in read_logs(path, **kw)]  # type: ignore[arg-type]

    assert texts(since=base + 10.25) == [f"s{i}" for i in range(10, 60)]
    assert texts(since=base + 10.26) == [f"s{i}" for i in range(11, 60)]
    assert texts(until=base + 5.25) == [f"s{i}" for i in range(6)]
    assert texts(since=base + 20, until=base + 22.5) == ["s20", "s21", "s22"]
    assert texts(tail=5, since=base + 57) == ["s57", "s58", "s59"]  # tail first, then since: as dockerd


def test_since_skips_older_files_by_their_last_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "skip-json.log"
    base = 1_800_000_000
    _stamped_log(path, base, 600, pad=1000)
    files = rotated_paths(path)
    assert len(files) > 10
    asked = 0
    real_pread = os.pread

    def counting_pread(fd: int, n: int, off: int) -> bytes:
        nonlocal asked
        data = real_pread(fd, n, off)
        asked += len(data)
        return data

    monkeypatch.setattr(logs, "_pread", counting_pread)
    assert [r.text.strip() for r in read_logs(path, since=base + 597.5)] == ["s598", "s599"]
    assert asked < sum(p.stat().st_size for p in files) / 3
    asked = 0
    assert len(list(read_logs(path, since=base + 1))) == 599  # nothing skipped that was wanted
    assert asked > sum(p.stat().st_size for p in files) * 0.9


def test_dockerd_written_stamps_are_normalised(tmp_path: Path):
    path = tmp_path / "d-json.log"
    path.write_text(
        '{"log":"a\\n","stream":"stdout","time":"2024-01-02T03:04:05.1Z"}\n'
        '{"log":"b\\n","stream":"stderr","time":"2024-01-02T03:04:06Z"}\n'
        '{"log":"c\\n","stream":"stdout","attrs":{"tag":"x"},"time":"2024-01-02T05:04:07.000000001+02:00"}\n'
        "not json at all\n"
        '{"log":"d\\n","stream":"stdout","time":"2024-01-02T03:04:08.5Z"}\n'
    )
    got = list(read_logs(path))
    assert [(r.text, r.time) for r in got] == [
        ("a\n", "2024-01-02T03:04:05.100000000Z"),
        ("b\n", "2024-01-02T03:04:06.000000000Z"),
        ("c\n", "2024-01-02T03:04:07.000000001Z"),
        ("d\n", "2024-01-02T03:04:08.500000000Z"),
    ]
    since = calendar.timegm((2024, 1, 2, 3, 4, 6, 0, 0, 0))
    assert [r.text for r in read_logs(path, since=since, until=since + 1.5)] == ["b\n", "c\n"]


@given(st.integers(0, 253402300799 * 10**9))
def test_stamp_strings_sort_as_times(ns: int):
    a, b = logs.format_timestamp_ns(ns), logs.format_timestamp_ns(ns + 1)
    assert len(a) == len(b) == 30 and a < b
    assert normalise_timestamp(a) == a


# -- follow ---------------------------------------------------------------------------------------------


class _Follower(threading.Thread):
    def __init__(self, path: Path, stop: threading.Event, **kw: object) -> None:
        super().__init__(daemon=True)
        self.path, self.stop, self.kw = path, stop, kw
        self.got: list[LogLine] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for rec in read_logs(self.path, follow=True, stop=self.stop, poll=0.005, **self.kw):  # type: ignore[arg-type]
                self.got.append(rec)
        except BaseException as err:
            self.error = err

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.002)
        assert len(self.got) >= count, f"follower saw {len(self.got)} of {count} records"


@pytest.mark.parametrize("max_file", [1, 3])
def test_follow_across_rotations_while_writing(tmp_path: Path, max_file: int):
    path = tmp_path / "fo-json.log"
    stop = threading.Event()
    follower = _Follower(path, stop)
    follower.start()  # before the file exists: it waits for it
    time.sleep(0.02)
    written = 0
    with LogWriter(path, max_size=1500, max_file=max_file) as w:
        for batch in range(80):
            # one write of 12 records (~1 kB) often crosses max-size: some records land in the old file,
            # the rest in a new one, while the follower sleeps at the old file's end
            _numbered(w, written, written + 12, per_write=12)
            written += 12
            if max_file == 1 or batch % 2 == 0:
                # with max-file=1 the old file is deleted at rotation: a follower can only finish it if it
                # had it open, so let it catch up before the next rotation; with 3 files, every other batch
                follower.wait_for(written)
        w.write("stdout", b"last words")
        w.flush()
    stop.set()  # the container is gone: the follower reads what is left and ends
    follower.join(10)
    assert not follower.is_alive() and follower.error is None
    texts = [r.text for r in follower.got]
    assert texts == [f"line {i:06d}\n" for i in range(written)] + ["last words"]


def test_follow_a_writer_process_rotating_freely(tmp_path: Path):
    """A writer in another process, not waiting for anybody; 10 files of 50 kB give the follower slack."""
    path = tmp_path / "proc-json.log"
    root = str(Path(logs.__file__).parent.parent)
    code = (
        f"import sys, time; sys.path.insert(0, {root!r})\n"
        "from core.logs import LogWriter\n"
        f"w = LogWriter(__import__('pathlib').Path({str(path)!r}), max_size=50_000, max_file=10)\n"
        "for i in range(0, 20000, 20):\n"
        "    w.write('stdout', b''.join(b'line %06d\\n' % j for j in range(i, i + 20)))\n"
        "    time.sleep(0.001)\n"
        "w.close()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        got = [r.text for r in read_logs(path, follow=True, stop=lambda: proc.poll() is not None, poll=0.01)]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == 0
    assert got == [f"line {i:06d}\n" for i in range(20000)]


def test_follow_from_tail_and_truncation(tmp_path: Path):
    path = tmp_path / "tr-json.log"
    w = LogWriter(path)
    _numbered(w, 0, 10)
    stop = threading.Event()
    follower = _Follower(path, stop, tail=2)
    follower.start()
    follower.wait_for(2)
    os.truncate(path, 0)  # someone truncates the log in place (docker's max-file=1 does)
    w._size = 0
    time.sleep(0.05)
    _numbered(w, 100, 103)
    follower.wait_for(5)
    stop.set()
    follower.join(10)
    w.close()
    assert [r.text for r in follower.got] == [f"line {i:06d}\n" for i in (8, 9, 100, 101, 102)]


def test_follow_until_in_the_past_ends_at_once(tmp_path: Path):
    path = tmp_path / "until-json.log"
    with LogWriter(path) as w:
        w.write("stdout", b"x\n")
    got = list(read_logs(path, follow=True, until=time.time() - 100, poll=0.01))
    assert got == []
    assert list(read_logs(tmp_path / "missing-json.log")) == []


# -- --since values -------------------------------------------------------------------------------------


def test_parse_since_durations_timestamps_and_dates():
    now = 1_700_000_000.0
    assert parse_since("10m", now) == now - 600
    assert parse_since("1h30m", now) == now - 5400
    assert parse_since("2s", now) == now - 2
    assert parse_since("1.5h", now) == now - 5400
    assert parse_since("300ms", now) == pytest.approx(now - 0.3)
    assert parse_since("-1h", now) == now + 3600
    assert parse_since("1600000000", now) == 1_600_000_000
    assert parse_since("1600000000.25", now) == 1_600_000_000.25
    assert parse_since("0", now) == 0
    assert parse_since("2013-01-02T13:23:37Z", now) == calendar.timegm((2013, 1, 2, 13, 23, 37, 0, 0, 0))
    assert parse_since("2013-01-02T13:23:37.5Z", now) == calendar.timegm((2013, 1, 2, 13, 23, 37)) + 0.5
    assert parse_since("2013-01-02T13:23:37+02:00", now) == calendar.timegm((2013, 1, 2, 11, 23, 37))
    assert parse_since("2013-01-02T13:23Z", now) == calendar.timegm((2013, 1, 2, 13, 23, 0))
    # no zone: local time, as docker
    assert parse_since("2013-01-02", now) == dt.datetime(2013, 1, 2).timestamp()
    assert parse_since("2013-01-02T13", now) == dt.datetime(2013, 1, 2, 13).timestamp()
    for bad in ("abc", "10x", "2013-13-01", "1e5", "", "1h-5m"):
        with pytest.raises(InvalidArgument):
            parse_since(bad, now)


# -- throughput (measured and printed, not asserted) ----------------------------------------------------


def test_throughput_of_200000_lines_from_a_pipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "speed-json.log"
    n = 200_000
    t0 = time.perf_counter()
    proc = subprocess.Popen(["seq", "1", str(n)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    with LogWriter(path, max_size=10_000_000, max_file=3) as w:
        while chunk := os.read(fd, 65536):
            w.write("stdout", chunk)
        w.flush()
    proc.wait()
    pipe_s = time.perf_counter() - t0
    # the writer alone, fed one line per write: the worst case of a program that flushes every line
    t0 = time.perf_counter()
    with LogWriter(tmp_path / "one-json.log") as w:
        for i in range(n):
            w.write("stdout", b"%d\n" % i)
    single_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    got = [r.text for r in read_logs(path)]
    read_s = time.perf_counter() - t0
    assert got == [f"{i}\n" for i in range(1, n + 1)]
    t0 = time.perf_counter()
    last = list(read_logs(path, tail=10))
    tail_s = time.perf_counter() - t0
    assert [r.text for r in last] == [f"{i}\n" for i in range(n - 9, n + 1)]
    with capsys.disabled():
        print(
            f"\n[logs] {n} lines: seq|pipe|writer {n / pipe_s:,.0f} lines/s; writer one line a write "
            f"{n / single_s:,.0f} lines/s; read_logs {n / read_s:,.0f} lines/s; "
            f"tail 10 {tail_s * 1000:.1f} ms"
        )


# -- a follower slower than the writer -------------------------------------------------------------------

_RECORD_LEN = len(b'{"log":"line 000000\\n","stream":"stdout","time":"2026-12-03T12:00:00.000000000Z"}\n')


def test_a_slow_follower_holds_every_file_it_opened_across_rotations(tmp_path: Path):
    """The follower reads one record while the writer fills a whole file; after 8 rotations with max-file=3
    the first files it has not read yet are gone by name: only the fds it took while they had one keep
    their lines. Sleeping between reads (the slow consumer) lets it look for new files at each read."""
    path = tmp_path / "slow-json.log"
    per_file = 2000 // _RECORD_LEN
    stop = threading.Event()
    with LogWriter(path, max_size=2000, max_file=3) as w:
        _numbered(w, 0, 5)
        records = read_logs(path, follow=True, stop=stop, poll=0.001)
        got = [next(records).text]
        written = 5
        for _ in range(8):
            _numbered(w, written, written + per_file, per_write=per_file)  # about one rotation per round
            written += per_file
            time.sleep(0.02)  # a slow consumer: longer than logs._LOOK_EVERY
            got.append(next(records).text)
        assert len(rotated_paths(path)) == 3  # files have fallen off since the follower started
    stop.set()
    got += [r.text for r in records]
    assert got == [f"line {i:06d}\n" for i in range(written)]


def test_a_follower_far_behind_holds_at_most_max_held_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Past ``_MAX_HELD`` files behind it stops opening more (each pins disk space): it loses lines then,
    but reads on in order and its fds stay bounded."""
    monkeypatch.setattr(logs, "_MAX_HELD", 2)
    monkeypatch.setattr(logs, "_LOOK_EVERY", 0.0)  # look at every read
    path = tmp_path / "far-json.log"
    per_file = 2000 // _RECORD_LEN
    stop = threading.Event()
    fds_before = len(os.listdir("/proc/self/fd"))
    with LogWriter(path, max_size=2000, max_file=3) as w:
        _numbered(w, 0, 5)
        records = read_logs(path, follow=True, stop=stop, poll=0.001)
        got = [int(next(records).text[5:11])]
        written = 5
        most = 0
        for _ in range(8):
            _numbered(w, written, written + per_file, per_write=per_file)
            written += per_file
            got.append(int(next(records).text[5:11]))
            most = max(most, len(os.listdir("/proc/self/fd")) - fds_before)
    stop.set()
    got += [int(r.text[5:11]) for r in records]
    assert most <= 1 + 1 + 2  # the writer's fd, the file being read and two held
    assert got == sorted(got) and got[-1] == written - 1
    assert len(got) < written  # it did fall behind by more than it may hold


def test_a_listing_taken_mid_rotation_misses_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The follower lists the files while the writer is between two renames of a rotation (``.1`` already
    moved to ``.2``, ``<f>`` not yet moved to ``.1``), and the rotation ends before it opens them: the file
    that was ``<f>`` is in no listing it took, only in the one it must take again."""
    path = tmp_path / "mid-json.log"
    one, two = tmp_path / "mid-json.log.1", tmp_path / "mid-json.log.2"
    with LogWriter(path) as w:
        _numbered(w, 0, 5)  # file A
    stop = threading.Event()
    records = read_logs(path, follow=True, stop=stop, poll=0.001)
    got = [next(records).text for _ in range(5)]
    os.rename(path, one)  # rotation 1: A -> .1, then B
    with LogWriter(path) as w:
        _numbered(w, 5, 10)
    os.rename(one, two)  # rotation 2 begins: A -> .2; B is still <f>
    real = logs.rotated_paths
    calls = []

    def listing_then_rotation_ends(p: Path) -> list[Path]:
        names = real(p)
        calls.append(names)
        if len(calls) == 1:
            os.rename(path, one)  # B -> .1, then C: after the follower listed, before it opens
            with LogWriter(path) as w:
                _numbered(w, 10, 15)
        return names

    monkeypatch.setattr(logs, "rotated_paths", listing_then_rotation_ends)
    stop.set()  # the follower still looks for newer files once, then reads what it found to the end
    got += [r.text for r in records]
    assert calls[0] == [two, path]
    assert got == [f"line {i:06d}\n" for i in range(15)]


class _WriterClock(threading.Event):
    """A stop Event whose every wait is time passing for a writer at ``rate`` records a second: it writes
    what it would in that time, and is set once it has written ``total``. No wall clock involved."""

    def __init__(self, w: LogWriter, rate: int, total: int) -> None:
        super().__init__()
        self.w, self.rate, self.total, self.written = w, rate, total, 5
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        n = min(self.total, self.written + max(1, int((timeout or 0.0) * self.rate)))
        _numbered(self.w, self.written, n, per_write=5)
        self.written = n
        if n == self.total:
            self.set()
        return self.is_set()


def test_a_follower_at_the_end_waits_briefly_while_the_writer_is_busy(tmp_path: Path):
    """5000 records a second into files of 25 records, 3 kept: a follower that sleeps ``poll`` (0.1 s)
    at the end of the data, as an idle one may, wakes to find 20 files written and most of them gone.
    Right after data came it waits only ``_LOOK_EVERY``, so it opens each file before it falls off."""
    path = tmp_path / "busy-json.log"
    with LogWriter(path, max_size=25 * _RECORD_LEN, max_file=3) as w:
        _numbered(w, 0, 5)
        clock = _WriterClock(w, rate=5000, total=2000)
        got = [r.text for r in read_logs(path, follow=True, stop=clock, poll=0.1)]
    assert got == [f"line {i:06d}\n" for i in range(2000)]
    assert len(rotated_paths(path)) == 3 and len(clock.waits) > 50  # it did rotate, many times


def test_an_idle_follower_backs_off_to_poll(tmp_path: Path):
    path = tmp_path / "idle-json.log"
    with LogWriter(path) as w:
        _numbered(w, 0, 5)
    waits: list[float] = []

    class Quiet(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(timeout or 0.0)
            if len(waits) == 12:
                self.set()
            return self.is_set()

    assert len(list(read_logs(path, follow=True, stop=Quiet(), poll=0.1))) == 5
    assert waits[0] == logs._LOOK_EVERY and waits[1] == 2 * logs._LOOK_EVERY
    assert waits[-1] == 0.1 and sorted(waits) == waits  # never more than poll, never shorter again
