"""Container logs in Docker's json-file format: the shim's writer, rotation, and the reader behind ``logs``.

One record a line, byte for byte what dockerd writes::

    {"log":"hello\\n","stream":"stdout","time":"2026-11-28T04:27:57.123456789Z"}

The writer runs inside the shim, a small process that lives as long as the container: it imports only the
standard library, keeps at most 16 KiB of unfinished line per stream in memory and hands every chunk it
reads to the kernel with one ``write`` on an ``O_APPEND`` descriptor, so nothing sits in a Python buffer
when the shim is killed. Rotation follows ``--log-opt max-size``/``max-file``: ``<f>`` becomes ``<f>.1``,
``<f>.1`` becomes ``<f>.2``, ... and the oldest falls off.

Choices that differ from dockerd, on purpose:

- Stamps always carry nine fraction digits (dockerd trims trailing zeros). Both are valid RFC 3339; fixed
  width makes a plain string comparison a time comparison, which the reader's ``since``/``until`` use.
  Stamps from dockerd-written files are normalised when read.
- A line longer than 16 KiB is cut into 16 KiB records as dockerd does (a record whose ``log`` does not end
  in a newline is a piece of a longer line), but the cut is moved back to a UTF-8 character boundary so no
  character is torn into two replacement characters.
- With ``max-file=1`` dockerd truncates the file in place; we unlink and recreate it, so a follower that
  holds the old file open still reads its last lines before switching.
- On a full disk dockerd drops what it cannot write and says so only in its own log. The shim's writer
  drops and counts too, takes back the torn end of a record, and once a write fits again it first writes a
  stderr record ``dockyard: N bytes of output were not logged: <why>``, so ``logs`` shows the gap.

Invalid UTF-8 is escaped as dockerd escapes it: each byte that does not start a valid sequence becomes one
``\\ufffd``; ``<``, ``>``, ``&``, U+2028, U+2029 and control characters become ``\\uXXXX`` escapes.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

from core.errors import InvalidArgument
from core.record import record
from core.timestamps import format_timestamp_ns

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms of a start)
if TYPE_CHECKING:
    from core.config import Paths
    from core.models import LogLine


STREAMS = ("stdout", "stderr")
PARTIAL_MAX = 16 * 1024  # dockerd's copier buffer: a line that fills it without a newline is cut here
_READ_CHUNK = 256 * 1024
_TAIL_BLOCK = 8 * 1024
_MAX_RECORD = 4 * 1024 * 1024  # a "line" longer than this in a log file is damage, not a record
# A follower looks this often (seconds) for files that replaced the newest one it holds; a file keeps a name
# for max-file rotations, so looking at least that often holds every file written while it follows.
_LOOK_EVERY = 0.005
# A follower this many files behind stops opening more until it catches up: each held file pins its disk
# space (and an fd) even after the writer deleted it.
_MAX_HELD = 64

StopArg = Callable[[], bool] | threading.Event | None

# -- encoding -------------------------------------------------------------------------------------------

# Python's "replace" turns a truncated multi-byte sequence into one U+FFFD; Go (and so dockerd) emits one
# per byte. Resuming the decoder one byte after the error start gives Go's answer. The replacement is a
# lone surrogate (never produced by a valid decode) that the escaper turns into the six characters
# ``\ufffd``, which is what dockerd writes.
_BAD_BYTE = "\udcff"
_ERRORS = "dockyard-go-utf8"


def _go_replace(err: UnicodeError) -> tuple[str, int]:
    if isinstance(err, UnicodeDecodeError):
        return _BAD_BYTE, err.start + 1
    raise err


codecs.register_error(_ERRORS, _go_replace)

# everything dockerd escapes, except the newline (the record separator, handled by the caller)
_NEEDS_ESCAPE = re.compile('[\x00-\x09\x0b-\x1f"\\\\<>&\u2028\u2029\udcff]')
# what is left after the common cases below have been replaced with str.replace (C speed, no callback)
_RARE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\u2028\u2029]")
_COMMON = (
    ("\\", "\\\\"),  # first: the others add backslashes
    ('"', '\\"'),
    ("\t", "\\u0009"),
    ("\r", "\\r"),
    ("\x1b", "\\u001b"),
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    (_BAD_BYTE, "\\ufffd"),
)


def _rare_escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def escape_json(text: str) -> str:
    """``text`` as the inside of a JSON string, as dockerd writes it; a newline is left as it is."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    for char, escaped in _COMMON:
        if char in text:
            text = text.replace(char, escaped)
    return _RARE.sub(_rare_escape, text)


def format_timestamp(seconds: float) -> str:
    sec = math.floor(seconds)
    frac = min(round((seconds - sec) * 1e9), 999_999_999)
    return format_timestamp_ns(sec * 1_000_000_000 + frac)


_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})")


def normalise_timestamp(stamp: str) -> str:
    """Any RFC 3339 stamp dockerd may have written, in our fixed-width UTC form (unknown text unchanged)."""
    if len(stamp) == 30 and stamp[19] == "." and stamp[29] == "Z":
        return stamp
    m = _STAMP.fullmatch(stamp)
    if m is None:
        return stamp
    base, frac, zone = m.group(1), (m.group(2) or "").ljust(9, "0"), m.group(3)
    if zone in ("Z", "z"):
        return f"{base}.{frac}Z"
    import calendar

    offset = (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60) * (1 if zone[0] == "+" else -1)
    utc = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) - offset
    return format_timestamp_ns(utc * 1_000_000_000 + int(frac))


# -- writer ---------------------------------------------------------------------------------------------


def _utf8_cut(data: bytes, limit: int) -> int:
    """Where to cut ``data`` at or before ``limit`` without splitting a UTF-8 character."""
    start = limit - 1
    while start > limit - 4 and start > 0 and 0x80 <= data[start] < 0xC0:
        start -= 1
    lead = data[start]
    size = 2 if 0xC0 <= lead < 0xE0 else 3 if 0xE0 <= lead < 0xF0 else 4 if 0xF0 <= lead < 0xF8 else 1
    return start if start > 0 and start + size > limit else limit


def _may_hold_long_line(buf: bytes, end: int) -> bool:
    """Whether ``buf[:end]`` may hold a line of PARTIAL_MAX bytes or more, in a few ``find`` calls:
    such a line covers a whole aligned window of half that size, which then holds no newline."""
    half = PARTIAL_MAX // 2
    return any(buf.find(b"\n", i, i + half) < 0 for i in range(0, end - half + 1, half))


_os_write = os.write  # module attribute so a test can make the disk fill up


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = _os_write(fd, view)
        view = view[written:]


class _Unwritten(Exception):
    """A write failed: ``written`` bytes of the data (whole records) are in the file, the rest is not."""

    def __init__(self, err: OSError, written: int) -> None:
        super().__init__(str(err))
        self.err = err
        self.written = written


def _output_size(records: bytes) -> int:
    """About how many bytes of container output ``records`` hold (exact for valid UTF-8 output)."""
    total = 0
    for rec in records.split(b"\n"):
        if rec:
            with contextlib.suppress(ValueError, AttributeError):
                total += len(str(json.loads(rec).get("log", "")).encode("utf-8", "surrogatepass"))
    return total


def _reason(err: OSError) -> str:
    """``No space left on device`` as it reads inside a sentence."""
    text = err.strerror or str(err)
    return text[:1].lower() + text[1:]


DropCallback = Callable[[int, "OSError | None"], None]


class LogWriter:
    """Appends a container's output to ``path`` in json-file format, rotating like dockerd.

    ``write`` takes raw chunks as they come from a pipe or pty. Complete lines are written at once (one
    ``os.write`` per chunk); the unfinished last line of each stream waits for its newline, or is written
    as a partial record when it reaches 16 KiB or when :meth:`flush` is called. Safe to call from one
    thread per stream.

    A write that fails (disk full, quota, directory removed) takes back the torn end of the record it was
    writing, so the file holds whole records only. Then, without ``on_drop``, it raises ``OSError``. With
    ``on_drop`` (the shim: a full disk must not take a running container's supervisor down) the output that
    could not be written is dropped and counted, as dockerd's json-file logger drops it; every later write
    tries again, and the first one that fits is preceded by a stderr record saying how many bytes were
    lost. ``on_drop(n, err)`` is called when dropping starts (``n`` bytes lost so far, ``err`` why) and
    ``on_drop(n, None)`` when that marker record has been written (``n`` bytes lost in all). If reopening
    the file after a rotation failed, the next write tries again.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_size: int | None = None,
        max_file: int = 1,
        on_drop: DropCallback | None = None,
        attrs: dict[str, str] | None = None,
    ) -> None:
        if max_size is not None and max_size <= 0:
            raise InvalidArgument("max-size must be a positive number")
        if max_file < 1:
            raise InvalidArgument("max-file cannot be less than 1")
        self.path = Path(path)
        self.max_size = max_size
        self.max_file = max_file
        self._fd: int | None = None
        self._closed = False
        self._size = 0
        self._lock = threading.Lock()
        self.on_drop = on_drop
        self.dropped = 0  # bytes of output lost since the last marker record
        self._failing: OSError | None = None  # why writes fail, while they do
        try:
            self._open()
        except OSError:
            if on_drop is None:
                raise
            # the first write tries again (and reports the failure if it persists)
        self._pending: dict[str, bytes] = dict.fromkeys(STREAMS, b"")
        # dockerd stamps every piece of a long line with the time of its first piece
        self._partial_stamp: dict[str, str | None] = dict.fromkeys(STREAMS, None)
        # --log-opt labels=/env=: docker's "attrs", between the stream and the time (Go's encoding: sorted
        # keys, <>& escaped)
        self._attrs = ""
        if attrs:
            enc = json.dumps(attrs, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            enc = enc.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            self._attrs = f',"attrs":{enc}'
        self._tails = {s: f'\\n","stream":"{s}"{self._attrs},"time":"' for s in STREAMS}
        self._sec = -1
        self._sec_text = ""
        self._last_stamp = ""

    def _open(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._fd = fd
        self._size = os.fstat(fd).st_size

    def _stamp(self) -> str:
        ns = time.time_ns()
        sec, frac = divmod(ns, 1_000_000_000)
        if sec != self._sec:
            self._sec = sec
            self._sec_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        self._last_stamp = f"{self._sec_text}.{frac:09d}Z"
        return self._last_stamp

    def write(self, stream: str, data: bytes) -> None:
        if stream not in self._pending:
            raise ValueError(f"unknown stream {stream!r}")
        if not data:
            return
        with self._lock:
            self._write(stream, data)

    def _write(self, stream: str, data: bytes) -> None:
        pending = self._pending[stream]
        buf = pending + data if pending else bytes(data)
        cut = buf.rfind(b"\n") + 1
        stamp = self._stamp()
        parts: list[str] = []
        if cut:
            if self._partial_stamp[stream] is None and not _may_hold_long_line(buf, cut):
                parts.append(self._lines(stream, buf[:cut], stamp))  # the usual case: one string op
            else:
                self._long_lines(stream, buf, cut, stamp, parts)
            rest = buf[cut:]
        else:
            rest = buf
        self._pending[stream] = self._pieces(stream, rest, stamp, parts)
        if parts:
            self._append("".join(parts).encode(), len(buf) - len(self._pending[stream]))

    def _pieces(self, stream: str, rest: bytes, stamp: str, parts: list[str]) -> bytes:
        """Cut 16 KiB pieces off the front of a line with no newline yet; returns what is left."""
        while len(rest) >= PARTIAL_MAX:
            n = _utf8_cut(rest, PARTIAL_MAX)
            parts.append(self._partial(stream, rest[:n], stamp))
            rest = rest[n:]
        return rest

    def _long_lines(self, stream: str, buf: bytes, cut: int, stamp: str, parts: list[str]) -> None:
        """Records for ``buf[:cut]`` when a line in it is 16 KiB or longer, or ends a line already cut."""
        run = pos = 0  # lines from ``run`` to ``pos`` are short: written together
        while pos < cut:
            nl = buf.index(b"\n", pos)
            first = self._partial_stamp[stream]
            if nl - pos >= PARTIAL_MAX or first is not None:
                if run < pos:
                    parts.append(self._lines(stream, buf[run:pos], stamp))
                end = self._pieces(stream, buf[pos:nl], stamp, parts) + b"\n"
                # a line cut in pieces: its end keeps the first piece's stamp, as dockerd does
                parts.append(self._lines(stream, end, self._partial_stamp[stream] or stamp))
                self._partial_stamp[stream] = None
                run = nl + 1
            pos = nl + 1
        if run < cut:
            parts.append(self._lines(stream, buf[run:cut], stamp))

    def _lines(self, stream: str, chunk: bytes, stamp: str) -> str:
        """Records for ``chunk``, complete lines ending in a newline, all with one stamp."""
        text = escape_json(chunk[:-1].decode("utf-8", _ERRORS))
        tail = self._tails[stream] + stamp + '"}\n'
        return '{"log":"' + text.replace("\n", tail + '{"log":"') + tail

    def _partial(self, stream: str, piece: bytes, stamp: str) -> str:
        if self._partial_stamp[stream] is None:
            self._partial_stamp[stream] = stamp
        first = self._partial_stamp[stream]
        text = escape_json(piece.decode("utf-8", _ERRORS))
        return f'{{"log":"{text}","stream":"{stream}"{self._attrs},"time":"{first}"}}\n'

    def flush(self) -> None:
        """Write unfinished lines as they are (no newline added, as dockerd does at end of stream)."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        parts = []
        raw = 0
        stamp = self._stamp()
        for stream in STREAMS:
            if self._pending[stream]:
                parts.append(self._partial(stream, self._pending[stream], stamp))
                raw += len(self._pending[stream])
                self._pending[stream] = b""
            self._partial_stamp[stream] = None
        if parts:
            self._append("".join(parts).encode(), raw)

    def _append(self, data: bytes, raw: int) -> None:
        """Write the records ``data``, which hold ``raw`` bytes of the container's output."""
        if self._closed:
            raise ValueError("log writer is closed")
        if self.on_drop is None:
            try:
                self._append_records(data)
            except _Unwritten as failure:
                raise failure.err from None
            return
        failing = self._failing
        marker = b""
        if failing is not None:
            # one write for the marker and the new records: a few bytes of room at the end of the last
            # block must not make us announce a recovery that the next write takes back
            text = f"dockyard: {self.dropped} bytes of output were not logged: {_reason(failing)}\n"
            # stamped as the records it goes out with, so the stamps in the file still never go back
            marker = self._lines("stderr", text.encode(), self._last_stamp or self._stamp()).encode()
        try:
            self._append_records(marker + data if marker else data)
        except _Unwritten as failure:
            if marker and failure.written >= len(marker):
                self._resumed()  # the marker and some records went out (a rotation split them)
            done = max(0, failure.written - len(marker))
            self._drop(raw if done == 0 else _output_size(data[done:]), failure.err)
            return
        if marker:
            self._resumed()

    def _drop(self, lost: int, err: OSError) -> None:
        self.dropped += lost
        if self._failing is None:
            self._failing = err
            assert self.on_drop is not None
            self.on_drop(self.dropped, err)

    def _resumed(self) -> None:
        lost, self.dropped, self._failing = self.dropped, 0, None
        assert self.on_drop is not None
        self.on_drop(lost, None)

    def _append_records(self, data: bytes) -> None:
        """Append whole records, rotating by max-size; a failure raises :class:`_Unwritten`."""
        if self.max_size is None and self._fd is not None:
            try:  # the usual case, one write: no slicing into files
                _write_all(self._fd, data)
            except OSError as err:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._size)  # see below
                raise _Unwritten(err, 0) from err
            self._size += len(data)
            return
        view = memoryview(data)
        pos = 0
        while pos < len(data):
            try:
                if self._fd is None:
                    self._open()  # a rotation (or the first open) could not open the file last time
                if self.max_size is not None and self._size >= self.max_size:
                    self._rotate()
            except OSError as err:
                raise _Unwritten(err, pos) from err
            assert self._fd is not None
            end = len(data)
            if self.max_size is not None and len(data) - pos > self.max_size - self._size:
                # fill the file up to the record that crosses max-size; the next record starts a new file
                end = data.find(b"\n", pos + self.max_size - self._size - 1) + 1 or len(data)
            try:
                _write_all(self._fd, view[pos:end])
            except OSError as err:
                # a torn record would be read as damage: give its bytes back (shrinking needs no space)
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._size)
                raise _Unwritten(err, pos) from err
            self._size += end - pos
            pos = end

    def _rotate(self) -> None:
        assert self._fd is not None
        os.close(self._fd)
        self._fd = None
        name = self.path.name
        if self.max_file > 1:
            for i in range(self.max_file - 1, 0, -1):
                src = self.path if i == 1 else self.path.with_name(f"{name}.{i - 1}")
                try:
                    os.rename(src, self.path.with_name(f"{name}.{i}"))
                except FileNotFoundError:
                    pass
        else:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        self._open()

    def close(self) -> None:
        """Close the file; unfinished lines are dropped unless :meth:`flush` was called first."""
        with self._lock:
            self._closed = True
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def container_log_path(paths: Paths, container_id: str) -> Path:
    return paths.container(container_id) / f"{container_id}-json.log"


# -- reading a rotated set of files ---------------------------------------------------------------------

_pread = os.pread  # module attribute so a test can count the bytes the reader asks for


@record(eq=False)
class _Cursor:
    fd: int
    key: tuple[int, int]  # (st_dev, st_ino): who this file is, whatever its name is now
    off: int = 0
    rest: bytes = b""  # an unfinished record at the end of what was read
    closed: bool = False

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
            self.closed = True


def rotated_paths(path: Path) -> list[Path]:
    """``path`` and its rotated files, oldest first: ``<f>.3``, ``<f>.2``, ``<f>.1``, ``<f>``."""
    prefix = path.name + "."
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    nums = sorted(
        (int(n[len(prefix) :]) for n in names if n.startswith(prefix) and n[len(prefix) :].isdigit()),
        reverse=True,
    )
    out = [path.with_name(f"{prefix}{i}") for i in nums]
    if path.name in names:
        out.append(path)
    return out


def _key(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


def _open_set(path: Path) -> list[_Cursor]:
    """Open ``path`` and its rotated files, oldest first, as one consistent set.

    A rotation renames the files one by one (``.1`` to ``.2``, then ``<f>`` to ``.1``, then makes a new
    ``<f>``), so a listing taken meanwhile can miss a file: a set counts only if, after every file was
    opened, the listing is the same and each name still is the file opened through it. Once open, renames
    cannot hurt us.
    """
    cursors: list[_Cursor] = []
    for attempt in range(20):
        cursors = []
        seen: set[tuple[int, int]] = set()
        names = rotated_paths(path)
        opened: dict[Path, tuple[int, int]] = {}
        stable = True
        for p in reversed(names):
            try:
                fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                stable = False  # renamed since the listing: mid-rotation
                continue
            st = os.fstat(fd)
            key = (st.st_dev, st.st_ino)
            opened[p] = key
            if key in seen:
                os.close(fd)
                continue
            seen.add(key)
            cursors.append(_Cursor(fd, key))
        # no head but older files: the writer is between renaming it and making the new one
        stable = stable and (path in opened or not names)
        if stable and rotated_paths(path) == names and all(_key(p) == k for p, k in opened.items()):
            break
        if attempt < 19:  # mid-rotation: look again in a moment
            for c in cursors:
                c.close()
            time.sleep(0.001 * (attempt + 1))
    cursors.reverse()
    return cursors


def _record_ends(cur: _Cursor, end: int, need: int) -> tuple[int, int]:
    """Scan backwards from ``end`` for the start of the ``need``-th last record.

    Returns ``(offset, found)``: the offset where those records start and how many were found (fewer
    than ``need`` when the file holds fewer; the offset is then 0). Reads only blocks at the end, small
    ones first (a handful of records fits in a few KiB), doubling up to 256 KiB.
    """
    count = 0
    pos = end
    block_size = _TAIL_BLOCK
    while pos > 0:
        start = max(0, pos - block_size)
        block = _pread(cur.fd, pos - start, start)
        j = len(block)
        while True:
            j = block.rfind(b"\n", 0, j)
            if j < 0:
                break
            count += 1
            # the first newline from the end closes the last record; need+1 newlines bound `need` records
            if count == need + 1:
                return start + j + 1, need
        pos = start
        block_size = min(block_size * 2, _READ_CHUNK)
    return 0, count


def _tail_start(files: list[_Cursor], tail: int) -> int:
    """Set the cursors so reading yields the last ``tail`` records; returns the index of the first file.

    ``tail=0`` starts after the last complete record (an unfinished one is read when it is finished).
    """
    need = tail
    for i in range(len(files) - 1, -1, -1):
        cur = files[i]
        cur.off, found = _record_ends(cur, os.fstat(cur.fd).st_size, need)
        need -= found
        if need == 0:
            return i
    return 0


def _last_record(cur: _Cursor) -> bytes | None:
    size = os.fstat(cur.fd).st_size
    off, found = _record_ends(cur, size, 1)
    if not found:
        return None
    data = _pread(cur.fd, size - off, off)
    return data[: data.rfind(b"\n")]


def _read_records(cur: _Cursor) -> Iterator[bytes]:
    """Complete records from the cursor's offset to the end of the file; an unfinished one is kept."""
    while True:
        data = _pread(cur.fd, _READ_CHUNK, cur.off)
        if not data:
            return
        cur.off += len(data)
        if cur.rest:
            data = cur.rest + data
        end = data.rfind(b"\n")
        if end < 0:
            cur.rest = data if len(data) <= _MAX_RECORD else b""
            continue
        cur.rest = data[end + 1 :]
        yield from data[:end].split(b"\n")


def _stopper(stop: StopArg) -> tuple[Callable[[], bool], Callable[[float], None]]:
    """``(should_stop, wait(seconds))``; an Event's wait ends as soon as it is set."""
    if stop is None:
        return (lambda: False), time.sleep
    if isinstance(stop, threading.Event):
        event = stop

        def wait(seconds: float) -> None:
            event.wait(seconds)

        return event.is_set, wait
    return stop, time.sleep


def _newer_files(path: Path, newest: _Cursor) -> list[_Cursor] | None:
    """Files that have replaced ``newest`` as ``path`` (oldest first), or None if it is still current."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None  # mid-rotation, or not created yet: look again later
    if (st.st_dev, st.st_ino) == newest.key:
        return None
    files = _open_set(path)
    keys = [f.key for f in files]
    if newest.key in keys:
        i = keys.index(newest.key)
        for f in files[: i + 1]:
            f.close()
        files = files[i + 1 :]
    # not found: ``newest`` has been rotated out (or unlinked, max-file=1), so every file is newer
    if not files:
        return None
    return files


def iter_records(
    path: Path,
    *,
    tail: int | None = None,
    skip_file: Callable[[bytes], bool] | None = None,
    follow: bool = False,
    stop: StopArg = None,
    deadline: float | None = None,
    poll: float = 0.1,
) -> Generator[bytes, None, None]:
    """Raw records (lines without their newline) of ``path`` and its rotated files, oldest first.

    ``tail``: only the last N records (0: none, start at the end). ``skip_file(last_record)``: asked
    about each rotated file before it is read, with its last record; True skips the whole file.
    ``follow``: at the end, wait for more (polling every ``_LOOK_EVERY`` after data came, backing off to
    every ``poll`` seconds while none comes; no wait while data is there),
    across rotations, until ``stop`` says so or the wall clock passes ``deadline``; then one last pass
    reads whatever was written before the stop, so the last lines are never lost. A follower slower than
    the writer opens each new file within ``_LOOK_EVERY`` of resuming and holds it by its fd until it has
    read it to the end, so rotations (which rename and finally delete files) skip none of its lines as long
    as it is resumed at least once in max-file rotations and is fewer than ``_MAX_HELD`` files behind.
    """
    should_stop, wait = _stopper(stop)
    opened: list[_Cursor] = []
    try:
        files = _open_set(path)
        opened += files
        while not files:
            if not follow:
                return
            if should_stop() or (deadline is not None and time.time() > deadline):
                files = _open_set(path)
                opened += files
                if not files:
                    return
                break
            wait(poll)
            files = _open_set(path)
            opened += files
        first = _tail_start(files, tail) if tail is not None else 0
        for f in files[:first]:
            f.close()
        queue = files[first:]
        if skip_file is not None:
            while len(queue) > 1:
                last = _last_record(queue[0])
                if last is None or not skip_file(last):
                    break
                queue.pop(0).close()
        cur = queue.pop(0)
        finishing = False
        monotonic = time.monotonic
        next_look = monotonic() + _LOOK_EVERY
        # At the end of the data, wait _LOOK_EVERY while the writer is busy, doubling up to ``poll`` as it
        # stays quiet: a follower asleep for ``poll`` while a fast writer rotates max-file times would find
        # files gone that it never had open.
        idle_wait = _LOOK_EVERY

        def look() -> bool:
            """Open the files that replaced the newest one held; True if there were any."""
            nonlocal opened, queue
            if len(queue) >= _MAX_HELD:
                return False  # so far behind that holding more would only pin more disk: read on first
            newer = _newer_files(path, queue[-1] if queue else cur)
            if newer is None:
                return False
            opened = [c for c in opened if not c.closed] + newer
            queue += newer
            return True

        while True:
            if follow and not queue and os.fstat(cur.fd).st_size < cur.off:
                cur.off, cur.rest = 0, b""  # truncated in place (by someone else): start over
            if not follow:
                yield from _read_records(cur)
            else:
                for rec in _read_records(cur):
                    idle_wait = _LOOK_EVERY
                    yield rec
                    # The consumer may be slower than the writer. Each file that replaced the one being read
                    # is opened while it still has a name (the writer keeps max-file of them), and held by
                    # its fd until read to the end, so rotations while we read cannot take lines away.
                    if monotonic() >= next_look:
                        look()
                        next_look = monotonic() + _LOOK_EVERY
            if queue:
                cur.close()
                cur = queue.pop(0)
                continue
            if not follow:
                return
            if look():
                continue  # read what was appended to the old file before the rename, then move on
            if finishing:
                return
            if should_stop() or (deadline is not None and time.time() > deadline):
                finishing = True
                continue
            wait(idle_wait)
            idle_wait = min(idle_wait * 2, max(poll, _LOOK_EVERY))
    finally:
        for f in opened:
            f.close()


# -- the log reader -------------------------------------------------------------------------------------


def _fast_stamp(rec: bytes) -> bytes | None:
    """The stamp of a record in our own layout (``..."time":"<30 chars>"}``) without parsing JSON."""
    if rec.endswith(b'Z"}') and rec[-40:-32] == b'"time":"' and rec[-13:-12] == b".":
        return rec[-32:-2]
    return None


_OUT_MIDDLE = b'","stream":"stdout","time":"'
_ERR_MIDDLE = b'","stream":"stderr","time":"'


def _quick_record(rec: bytes) -> tuple[str, str] | None:
    """``(stream, text)`` of a record in our own layout whose text needs no unescaping but its final
    newline: most lines. Skips ``json.loads``, which costs more than everything else put together."""
    if not rec.startswith(b'{"log":"'):
        return None
    end = len(rec) - 32
    if rec.endswith(_OUT_MIDDLE, 0, end):
        stream = "stdout"
    elif rec.endswith(_ERR_MIDDLE, 0, end):
        stream = "stderr"
    else:
        return None
    body = rec[8 : end - len(_OUT_MIDDLE)]
    try:
        if body.endswith(b"\\n"):
            if b"\\" not in body[:-2]:
                return stream, body[:-2].decode() + "\n"
        elif b"\\" not in body:
            return stream, body.decode()
    except UnicodeDecodeError:
        pass
    return None


def read_logs(
    path: Path,
    *,
    since: float | None = None,
    until: float | None = None,
    tail: int | None = None,
    follow: bool = False,
    stop: StopArg = None,
    poll: float = 0.1,
) -> Iterator[LogLine]:
    """The records of a json-file log, oldest first, as :class:`LogLine` s.

    ``tail`` picks the last N records first, then ``since``/``until`` (seconds since the epoch, both
    inclusive) filter them, as dockerd does. A record after ``until`` ends the stream. ``follow`` keeps
    reading as the shim appends (see :func:`iter_records`); ``stop`` is a function or an Event saying
    the container is no longer running. A record whose ``log`` lacks the final newline is a piece of a
    longer line (or the unfinished last line at exit): printing ``text`` as it is rebuilds the output.
    """
    from core.models import LogLine  # not at the top: the shim writes logs and never reads them

    if tail is not None and tail < 0:
        tail = None  # docker's -1: everything
    since_b = format_timestamp(since).encode() if since is not None else None
    until_b = format_timestamp(until).encode() if until is not None else None

    def skip_file(last: bytes) -> bool:
        stamp = _fast_stamp(last)
        if stamp is None:
            try:
                stamp = normalise_timestamp(json.loads(last).get("time", "")).encode()
            except (ValueError, AttributeError):
                return False
        return since_b is not None and stamp < since_b

    records = iter_records(
        path,
        tail=tail,
        skip_file=skip_file if since_b is not None else None,
        follow=follow,
        stop=stop,
        deadline=until,
        poll=poll,
    )
    loads = json.loads
    try:
        for rec in records:
            if not rec:
                continue
            fast = _fast_stamp(rec)
            if fast is not None:
                if since_b is not None and fast < since_b:
                    continue
                if until_b is not None and fast > until_b:
                    return
                quick = _quick_record(rec)
                if quick is not None:
                    yield LogLine(stream=quick[0], time=fast.decode(), text=quick[1])
                    continue
            try:
                obj = loads(rec)
                text = obj.get("log", "")
                stream = obj.get("stream", "stdout")
                attrs = obj.get("attrs") or {}
                stamp = fast.decode() if fast is not None else normalise_timestamp(obj.get("time", ""))
            except (ValueError, TypeError, AttributeError):
                continue  # a damaged record (torn by a crash) is not worth stopping for
            if fast is None:
                if since_b is not None and stamp.encode() < since_b:
                    continue
                if until_b is not None and stamp.encode() > until_b:
                    return
            yield (
                LogLine(stream=stream, time=stamp, text=text, attrs=attrs)
                if attrs
                else LogLine(stream=stream, time=stamp, text=text)
            )
    finally:
        records.close()


# -- --since / --until -----------------------------------------------------------------------------------

_DURATION_PART = r"(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h)"
_DURATION = re.compile(rf"([+-]?)((?:{_DURATION_PART})+)")
_DURATION_ITEM = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_UNIT = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?)?(Z|z|[+-]\d{2}:\d{2})?"
)
_UNIX = re.compile(r"(\d+)(?:\.(\d{1,9}))?")


def parse_since(text: str, now: float) -> float:
    """Seconds since the epoch for docker's ``--since``/``--until`` values.

    A Go duration (``10m``, ``1h30m``, ``2.5s``) counts back from ``now``; an RFC 3339 date or time
    (``2013-01-02``, ``2013-01-02T13:23``, ``2013-01-02T13:23:37.5Z``, ``...+02:00``; no zone: local
    time, as docker); or a Unix timestamp with an optional fraction (``1700000000.123``).
    """
    value = text.strip()
    m = _DURATION.fullmatch(value)
    if m and value != "0":
        seconds = sum(float(n) * _UNIT[u] for n, u in _DURATION_ITEM.findall(m.group(2)))
        return now + seconds if m.group(1) == "-" else now - seconds
    m = _DATE_TIME.fullmatch(value)
    if m:
        import datetime as dt

        year, month, day, hour, minute, sec = (int(g) if g else 0 for g in m.groups()[:6])
        frac = float(m.group(7)) if m.group(7) else 0.0
        zone = m.group(8)
        tz: dt.tzinfo | None = None
        if zone in ("Z", "z"):
            tz = dt.UTC
        elif zone:
            sign = 1 if zone[0] == "+" else -1
            tz = dt.timezone(sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        try:
            moment = dt.datetime(year, month, day, hour, minute, sec, tzinfo=tz)
        except ValueError as err:
            raise InvalidArgument(f"invalid time {text!r}: {err}")
        return moment.timestamp() + frac  # a naive datetime is local time, as docker reads it
    m = _UNIX.fullmatch(value)
    if m:
        return int(m.group(1)) + (int(m.group(2).ljust(9, "0")) / 1e9 if m.group(2) else 0.0)
    raise InvalidArgument(
        f"invalid time {text!r}: use a duration (10m, 1h30m), an RFC 3339 time (2013-01-02T13:23:37Z) "
        "or a Unix timestamp"
    )
