"""core.logs.LogWriter when the disk fills up: whole records only, and (the shim's mode) output dropped,
counted and announced by a marker record once writing works again."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import logs
from core.logs import LogWriter, read_logs


class Disk:
    """Stands in for ``os.write`` in core.logs: ``free`` bytes of room (None: unlimited). A write larger
    than the room is short, the next one fails with ENOSPC, as on a real filesystem."""

    def __init__(self) -> None:
        self.free: int | None = None
        self.failures = 0

    def write(self, fd: int, data: bytes | memoryview) -> int:
        if self.free is None:
            return os.write(fd, data)
        if self.free <= 0:
            self.failures += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = os.write(fd, bytes(data[: self.free]))
        self.free -= n
        return n


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Iterator[Disk]:
    d = Disk()
    monkeypatch.setattr(logs, "_os_write", d.write)
    yield d


def _lines(start: int, stop: int) -> bytes:
    return b"".join(b"line %05d\n" % i for i in range(start, stop))


def _texts(path: Path) -> list[tuple[str, str]]:
    return [(r.stream, r.text) for r in read_logs(path)]


def _whole_records(path: Path) -> None:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n")
    for rec in data.splitlines():
        assert rec.startswith(b'{"log":"') and rec.endswith(b'"}'), rec


def test_without_on_drop_a_full_disk_raises_and_leaves_no_torn_record(tmp_path: Path, disk: Disk) -> None:
    path = tmp_path / "c-json.log"
    with LogWriter(path) as w:
        w.write("stdout", _lines(0, 3))
        disk.free = 150  # room for one record and a half
        with pytest.raises(OSError) as info:
            w.write("stdout", _lines(3, 20))
        assert info.value.errno == errno.ENOSPC
    _whole_records(path)
    assert [t for _, t in _texts(path)] == [f"line {i:05d}\n" for i in range(3)]


def test_output_is_dropped_counted_and_announced_when_space_returns(tmp_path: Path, disk: Disk) -> None:
    path = tmp_path / "c-json.log"
    calls: list[tuple[int, int | None]] = []
    w = LogWriter(path, on_drop=lambda n, err: calls.append((n, err.errno if err else None)))
    w.write("stdout", _lines(0, 3))
    before = path.read_bytes()
    disk.free = 150
    lost = _lines(3, 20)
    w.write("stdout", lost)  # no exception: the container's supervisor carries on
    assert calls == [(len(lost), errno.ENOSPC)]
    assert path.read_bytes() == before  # the half-written record was taken back
    more = _lines(20, 40) + b"unfinished"
    w.write("stdout", more)
    w.write("stderr", b"err\n")
    assert calls == [(len(lost), errno.ENOSPC)]  # one report per outage
    assert w.dropped == len(lost) + len(more) - len(b"unfinished") + len(b"err\n")

    disk.free = None
    w.write("stdout", b" done\n")
    w.close()
    n = len(lost) + len(more) - len(b"unfinished") + len(b"err\n")
    assert calls[1:] == [(n, None)]
    assert w.dropped == 0
    _whole_records(path)
    got = _texts(path)
    assert got == [("stdout", f"line {i:05d}\n") for i in range(3)] + [
        ("stderr", f"dockyard: {n} bytes of output were not logged: no space left on device\n"),
        ("stdout", "unfinished done\n"),
    ]
    stamps = [r.time for r in read_logs(path)]
    assert stamps == sorted(stamps)


def test_no_recovery_is_announced_while_only_the_marker_would_fit(tmp_path: Path, disk: Disk) -> None:
    path = tmp_path / "c-json.log"
    calls: list[int] = []
    w = LogWriter(path, on_drop=lambda n, err: calls.append(n))
    disk.free = 0
    w.write("stdout", _lines(0, 5))
    disk.free = 200  # the marker alone (about 150 bytes) fits, marker and records do not
    w.write("stdout", _lines(5, 10))
    assert calls == [len(_lines(0, 5))]
    assert path.read_bytes() == b""
    assert w.dropped == len(_lines(0, 10))
    disk.free = None
    w.write("stdout", b"x\n")
    assert calls == [len(_lines(0, 5)), len(_lines(0, 10))]
    w.close()


def test_a_failure_after_a_rotation_counts_what_did_not_go_out(tmp_path: Path, disk: Disk) -> None:
    path = tmp_path / "c-json.log"
    calls: list[int] = []
    w = LogWriter(path, max_size=1000, max_file=3, on_drop=lambda n, err: calls.append(n))
    sent = _lines(0, 12)  # about 1000 bytes of records: the next chunk rotates part way
    w.write("stdout", sent)
    disk.free = 700
    chunk = _lines(12, 40)
    w.write("stdout", chunk)
    disk.free = None
    w.write("stdout", b"after\n")
    w.close()
    got = [t for _, t in _texts(path)]
    marker = [t for t in got if t.startswith("dockyard: ")]
    assert len(marker) == 1
    written = sum(len(t) for t in got if t.startswith("line "))
    assert len(sent) < written < len(sent) + len(chunk)  # the failure came part way through the chunk
    # what reached the files plus what the marker counts is all that was sent
    assert written + int(marker[0].split()[1]) == len(sent) + len(chunk)
    assert calls[0] == int(marker[0].split()[1]) == calls[1]
    for p in logs.rotated_paths(path):
        _whole_records(p)


def test_flush_while_full_counts_the_unfinished_lines(tmp_path: Path, disk: Disk) -> None:
    path = tmp_path / "c-json.log"
    w = LogWriter(path, on_drop=lambda n, err: None)
    w.write("stdout", b"partial")
    w.write("stderr", b"also")
    disk.free = 0
    w.flush()
    assert w.dropped == len(b"partialalso")
    w.close()


def test_a_log_that_cannot_be_opened_yet_is_opened_by_a_later_write(tmp_path: Path) -> None:
    path = tmp_path / "gone" / "c-json.log"
    calls: list[tuple[int, bool]] = []
    w = LogWriter(path, on_drop=lambda n, err: calls.append((n, err is None)))
    w.write("stdout", b"lost\n")
    assert calls == [(5, False)]
    path.parent.mkdir()
    w.write("stdout", b"kept\n")
    w.close()
    assert calls == [(5, False), (5, True)]
    assert [t for _, t in _texts(path)][1] == "kept\n"
    with pytest.raises(FileNotFoundError):
        LogWriter(tmp_path / "nowhere" / "x-json.log")  # without on_drop the caller hears of it at once
