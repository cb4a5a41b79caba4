"""The data side of the log viewer: line offsets, lazy line reads, record decoding, matching. No Textual here.

A log file is never read whole. ``LineIndex`` keeps the byte offset where every line starts in an
``array('Q')`` (8 bytes a line: 80 MB for 10 million lines), filled by ``LineIndex.scan`` from a worker
thread with large ``os.pread`` reads and ``bytes.find`` (memchr speed, ~1 GB/s here). Everything else asks
for a line by its span ``(start, end)``: ``read_span`` reads at most ``READ_CAP`` bytes of it with one
``pread``, and ``decode`` turns those bytes into a ``Record`` (json-file or plain text).

Rows: the viewer shows a sequence of rows, each a span. ``IndexRows`` are the rows of the index (optionally
from a first row on: a tail/since range), ``SpanRows`` an explicit list of spans (a filter's matches, or a
window of the file's last lines found by ``scan_back`` while the index is still being built).

Spans exclude the line's ``\\n``; a ``\\r`` before it is dropped when decoding. A last line without a
trailing newline is a line (it may still grow while a container writes).
"""

from __future__ import annotations

import bisect
import json
import os
import re
import threading
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

READ_CHUNK = 8 * 1024 * 1024  # one pread while indexing/filtering: large enough that syscalls do not matter
READ_CAP = 256 * 1024  # bytes of one line read for display; longer lines are shown truncated
RENDER_CAP = 4000  # characters of one line given to the renderer (a 1 MB line must not freeze the UI)
BACK_BLOCK = 256 * 1024  # backward scan step for the tail window

_CONTROL = {c: 0x2400 + c for c in range(32) if c not in (9, 27)}  # C0 controls → visible control pictures
_CONTROL[127] = 0x2421


class Cancelled(Exception):
    """A scan was asked to stop."""


# -- the index --------------------------------------------------------------------------------------------


class LineIndex:
    """Line start offsets of one file, grown by ``scan`` (one writer thread), read by anyone.

    ``_starts[0] == 0`` and every ``\\n`` at ``p`` adds ``p + 1``. Lines are complete up to the last start;
    the bytes between it and ``scanned`` are an unterminated last line.
    """

    def __init__(self) -> None:
        self._starts = array("Q", [0])
        self._scanned = 0
        self._lock = threading.Lock()

    @property
    def scanned(self) -> int:
        """Bytes of the file covered by the index."""
        return self._scanned

    @property
    def complete_end(self) -> int:
        """Where the last complete line ends (after its newline): the start of an unterminated tail."""
        return self._starts[-1]

    def __len__(self) -> int:
        with self._lock:
            n = len(self._starts)
            return n if self._scanned > self._starts[-1] else n - 1

    def complete_len(self) -> int:
        """Lines that end in a newline (a json-file writer's half-written record is not one yet)."""
        return len(self._starts) - 1

    def span(self, row: int) -> tuple[int, int]:
        with self._lock:
            starts = self._starts
            if row + 1 < len(starts):
                return starts[row], starts[row + 1] - 1
            return starts[row], self._scanned

    def spans(self, first: int, last: int) -> list[tuple[int, int]]:
        """Spans of rows ``first..last-1`` (clipped to the index)."""
        with self._lock:
            starts = self._starts
            n = len(starts)
            out = []
            for row in range(max(0, first), min(last, n)):
                if row + 1 < n:
                    out.append((starts[row], starts[row + 1] - 1))
                elif self._scanned > starts[row]:
                    out.append((starts[row], self._scanned))
            return out

    def row_of(self, offset: int) -> int:
        """The row of the line that contains byte ``offset`` (clamped to the last row)."""
        with self._lock:
            row = bisect.bisect_right(self._starts, offset) - 1
            n = len(self._starts) if self._scanned > self._starts[-1] else len(self._starts) - 1
            return max(0, min(row, n - 1))

    def feed(self, data: bytes | bytearray | memoryview, base: int) -> int:
        """Index ``data``, the file's bytes at ``base`` (== ``scanned``); returns how many lines it ended."""
        if base != self._scanned:
            raise ValueError(f"feed at {base}, index is at {self._scanned}")
        found = array("Q")
        append = found.append
        find = data.find if not isinstance(data, memoryview) else bytes(data).find
        pos = find(b"\n")
        while pos != -1:
            pos += 1
            append(base + pos)
            pos = find(b"\n", pos)
        with self._lock:
            self._starts.extend(found)
            self._scanned = base + len(data)
        return len(found)

    def scan(
        self,
        fd: int,
        upto: int,
        *,
        cancel: threading.Event | None = None,
        progress: Callable[[int], None] | None = None,
        chunk: int = READ_CHUNK,
    ) -> int:
        """Index the file from ``scanned`` up to ``upto`` (or EOF, if sooner). Returns new lines found."""
        total = 0
        pos = self._scanned
        while pos < upto:
            if cancel is not None and cancel.is_set():
                raise Cancelled
            data = os.pread(fd, min(chunk, upto - pos), pos)
            if not data:
                break
            total += self.feed(data, pos)
            pos += len(data)
            if progress is not None:
                progress(pos)
        return total


def scan_back(
    fd: int, end: int, want_lines: int, *, floor: int = 0, max_bytes: int = 8 * 1024 * 1024
) -> array:
    """Spans (flat ``array('Q')``: start, end, start, end, ...) of the last ``want_lines`` lines to ``end``.

    Reads backwards in blocks until enough newlines are seen, ``floor`` is reached or ``max_bytes`` were
    read; the first line returned always starts at a real line start (after a newline, or at ``floor``).
    """
    starts: list[int] = []  # line starts, found back to front
    pos = end
    tail_end = end
    # A trailing newline ends the last line; it does not start an empty one.
    if end > floor and os.pread(fd, 1, end - 1) == b"\n":
        tail_end = end - 1
    pos = tail_end
    read = 0
    while pos > floor and len(starts) < want_lines and read < max_bytes:
        lo = max(floor, pos - BACK_BLOCK)
        block = os.pread(fd, pos - lo, lo)
        read += len(block)
        i = len(block)
        while len(starts) < want_lines:
            i = block.rfind(b"\n", 0, i)
            if i == -1:
                break
            starts.append(lo + i + 1)
        pos = lo
    if len(starts) < want_lines and pos <= floor and (not starts or starts[-1] > floor) and end > floor:
        starts.append(floor)
    starts.reverse()
    out = array("Q")
    for k, s in enumerate(starts):
        e = starts[k + 1] - 1 if k + 1 < len(starts) else tail_end
        if s > tail_end:
            continue
        out.append(s)
        out.append(e)
    return out


# -- rows -------------------------------------------------------------------------------------------------


class Rows(Protocol):
    """What the viewer scrolls over: a sequence of line spans."""

    def __len__(self) -> int: ...

    def span(self, row: int) -> tuple[int, int]: ...

    def spans(self, first: int, last: int) -> list[tuple[int, int]]: ...

    def row_of(self, offset: int) -> int: ...


class IndexRows:
    """The index's rows from ``first`` on (``first`` > 0 for a tail or since range).

    ``complete_only`` leaves out an unterminated last line (json-file: a record being written).
    """

    def __init__(self, index: LineIndex, first: int = 0, *, complete_only: bool = False) -> None:
        self.index = index
        self.first = first
        self.complete_only = complete_only

    def __len__(self) -> int:
        n = self.index.complete_len() if self.complete_only else len(self.index)
        return max(0, n - self.first)

    def span(self, row: int) -> tuple[int, int]:
        return self.index.span(row + self.first)

    def spans(self, first: int, last: int) -> list[tuple[int, int]]:
        return self.index.spans(first + self.first, last + self.first)

    def row_of(self, offset: int) -> int:
        return max(0, self.index.row_of(offset) - self.first)


class SpanRows:
    """An explicit list of spans in file order (a filter's matches, or a window of the file)."""

    def __init__(self, flat: array | None = None) -> None:
        self.flat = flat if flat is not None else array("Q")
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.flat) // 2

    def span(self, row: int) -> tuple[int, int]:
        with self._lock:
            return self.flat[2 * row], self.flat[2 * row + 1]

    def spans(self, first: int, last: int) -> list[tuple[int, int]]:
        with self._lock:
            flat = self.flat
            first = max(0, first)
            last = min(last, len(flat) // 2)
            return [(flat[2 * r], flat[2 * r + 1]) for r in range(first, last)]

    def row_of(self, offset: int) -> int:
        with self._lock:
            lo, hi = 0, len(self.flat) // 2
            while lo < hi:  # last row whose start <= offset
                mid = (lo + hi) // 2
                if self.flat[2 * mid] <= offset:
                    lo = mid + 1
                else:
                    hi = mid
            return max(0, lo - 1)

    def start(self) -> int:
        return self.flat[0] if self.flat else 0

    def append(self, start: int, end: int) -> None:
        with self._lock:
            self.flat.append(start)
            self.flat.append(end)

    def extend(self, flat: array) -> None:
        with self._lock:
            self.flat.extend(flat)

    def pop_last(self) -> None:
        with self._lock:
            del self.flat[-2:]

    def prepend(self, flat: array) -> None:
        with self._lock:
            self.flat[0:0] = flat


# -- reading and decoding ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """One displayable line: its text (capped at ``RENDER_CAP``), stream and time when the file has them."""

    text: str
    stream: str = ""  # "stdout" / "stderr" for json-file records
    time: str = ""  # RFC 3339 as written in the record
    partial: bool = False  # a json-file record that does not end its line (dockerd cut a >16 KiB line)
    truncated: int = 0  # bytes of the line not shown
    invalid: bool = False  # a line of a json-file log that is not a record


def read_span(fd: int, start: int, end: int, cap: int = READ_CAP) -> tuple[bytes, int]:
    """The first ``cap`` bytes of a line and how many bytes were left out."""
    n = end - start
    if n <= 0:
        return b"", 0
    data = os.pread(fd, min(n, cap), start)
    return data, max(0, n - len(data))


def looks_like_json_log(fd: int) -> bool:
    """Docker's json-file format: the first line is a JSON object with a "log" key."""
    head = os.pread(fd, 64, 0).lstrip()
    return head.startswith(b"{") and b'"log"' in head[:16]


_TRAILER = re.compile(rb'"stream"\s*:\s*"(\w*)".*?"time"\s*:\s*"([^"]*)"')
_LOG_KEY = re.compile(rb'"log"\s*:\s*"')


def decode(
    raw: bytes,
    *,
    json_lines: bool,
    truncated: int = 0,
    trailer: bytes = b"",
    text_cap: int | None = RENDER_CAP,
) -> Record:
    """Decode one line; ``raw`` may be a prefix (``truncated`` > 0), ``trailer`` is then the line's end.

    The text is cut at ``text_cap`` characters (None: whole, for saving to a file).
    """
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if not json_lines:
        return _capped(text_cap, raw.decode("utf-8", "replace"), truncated=truncated)
    if not truncated:
        try:
            obj = json.loads(raw)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get("log"), str):
            text = obj["log"]
            partial = not text.endswith("\n")
            if not partial:
                text = text[:-1]
            if text.endswith("\r"):
                text = text[:-1]
            stream = obj.get("stream")
            when = obj.get("time")
            return _capped(
                text_cap,
                text,
                stream=stream if isinstance(stream, str) else "",
                time=when if isinstance(when, str) else "",
                partial=partial,
            )
        return _capped(text_cap, raw.decode("utf-8", "replace"), invalid=True)
    # A record longer than what we read: decode the start of its "log" string, take stream/time from the end.
    key = _LOG_KEY.search(raw)
    if key is None:
        return _capped(text_cap, raw.decode("utf-8", "replace"), truncated=truncated, invalid=True)
    frag = raw[key.end() :]
    text = ""
    for cut in range(0, 8):  # drop a torn escape (\uXX, \) or a torn UTF-8 sequence at the end
        try:
            text = json.loads(b'"' + frag[: len(frag) - cut] + b'"')
            break
        except ValueError:
            continue
    stream = when = ""
    m = _TRAILER.search(trailer)
    if m:
        stream, when = m.group(1).decode("ascii", "replace"), m.group(2).decode("ascii", "replace")
    return _capped(text_cap, text, stream=stream, time=when, truncated=truncated)


def _capped(limit: int | None, text: str, **kw: object) -> Record:
    truncated = int(kw.pop("truncated", 0) or 0)  # type: ignore[call-overload]
    if limit is not None and len(text) > limit:
        truncated += len(text[limit:].encode("utf-8", "replace"))
        text = text[:limit]
    return Record(text=text, truncated=truncated, **kw)  # type: ignore[arg-type]


def clean(text: str) -> str:
    """Make a line safe for one terminal row: tabs expanded, other controls shown as control pictures."""
    if "\t" in text:
        text = text.expandtabs(8)
    return text.translate(_CONTROL)


def read_record(
    fd: int,
    span: tuple[int, int],
    *,
    json_lines: bool,
    cap: int = READ_CAP,
    text_cap: int | None = RENDER_CAP,
) -> Record:
    start, end = span
    raw, left = read_span(fd, start, end, cap)
    trailer = b""
    if left and json_lines:
        trailer = os.pread(fd, min(160, end - start), end - min(160, end - start))
    return decode(raw, json_lines=json_lines, truncated=left, trailer=trailer, text_cap=text_cap)


def _find_newline(fd: int, pos: int, end: int) -> int:
    while pos < end:
        data = os.pread(fd, min(READ_CHUNK, end - pos), pos)
        if not data:
            return -1
        j = data.find(b"\n")
        if j != -1:
            return pos + j
        pos += len(data)
    return -1


# -- matching ---------------------------------------------------------------------------------------------


class Matcher:
    """A search or filter term: plain text (case-insensitive unless it has a capital) or a regex.

    ``prefilter`` is a bytes needle that every matching *raw* line must contain; it lets the filter skip
    whole chunks with ``bytes.find`` instead of decoding each line.
    """

    def __init__(self, pattern: str, *, regex: bool = False, json_lines: bool = False) -> None:
        self.pattern = pattern
        self.regex = regex
        self.ignore_case = pattern == pattern.lower()
        flags = re.IGNORECASE if self.ignore_case else 0
        if regex:
            self._re = re.compile(pattern, flags)  # re.error is the caller's to report
        else:
            self._re = re.compile(re.escape(pattern), flags)
        self.prefilter: bytes | None = None
        if not regex and pattern and pattern.isascii():
            # in a json-file line, characters that JSON escapes are not there as themselves
            safe = not json_lines or (json.dumps(pattern)[1:-1] == pattern and not set(pattern) & set("<>&"))
            if safe:
                self.prefilter = pattern.lower().encode() if self.ignore_case else pattern.encode()
        # A whole chunk of plain text can be ruled out with one search when the pattern cannot depend on
        # where the chunk starts or ends (MULTILINE makes ^ and $ match at every line).
        self.chunk_re: re.Pattern[str] | None = None
        if not json_lines and not re.search(r"\\[AZ]", pattern if regex else ""):
            self.chunk_re = re.compile(self._re.pattern, flags | re.MULTILINE)

    def search(self, text: str) -> bool:
        return self._re.search(text) is not None

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self._re.finditer(text) if m.end() > m.start()]


def filter_lines(
    fd: int,
    start: int,
    end: int,
    matcher: Matcher,
    *,
    json_lines: bool,
    out: SpanRows,
    cancel: threading.Event | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Append the spans of matching lines in ``[start, end)`` to ``out``; returns the offset scanned to.

    Only complete lines are taken (the caller comes back for a partial last line when it has grown).
    """
    pos = start
    prefilter = matcher.prefilter
    search = matcher.search
    while pos < end:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        data = os.pread(fd, min(READ_CHUNK, end - pos), pos)
        if not data:
            break
        last_nl = data.rfind(b"\n")
        if last_nl == -1:
            if pos + len(data) < end:  # a line longer than a chunk: judge its head, skip the rest
                nl = _find_newline(fd, pos + len(data), end)
                if nl == -1:
                    break
                rec = read_record(fd, (pos, nl), json_lines=json_lines)
                if search(rec.text):
                    out.append(pos, nl)
                pos = nl + 1
                continue
            break  # a partial last line: wait for its newline
        body = data[: last_nl + 1]
        found = array("Q")
        if prefilter is not None:
            hay = body.lower() if matcher.ignore_case else body
            i = hay.find(prefilter)
            while i != -1:
                ls = body.rfind(b"\n", 0, i) + 1
                le = body.find(b"\n", i)
                line = body[ls:le]
                text = decode(line, json_lines=json_lines).text
                if search(text):
                    found.append(pos + ls)
                    found.append(pos + le)
                i = hay.find(prefilter, le + 1)
        else:
            if matcher.chunk_re is not None and not matcher.chunk_re.search(body.decode("utf-8", "replace")):
                pass  # nothing in this whole chunk can match
            else:
                i = 0
                find = body.find
                while True:
                    j = find(b"\n", i)
                    if j == -1:
                        break
                    line = body[i:j]
                    if json_lines:
                        text = decode(line, json_lines=True).text
                    else:
                        text = line.decode("utf-8", "replace")
                    if search(text):
                        found.append(pos + i)
                        found.append(pos + j)
                    i = j + 1
        if found:
            out.extend(found)
        pos += last_nl + 1
        if progress is not None:
            progress(pos)
    return pos
