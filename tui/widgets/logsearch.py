"""The log viewer's scans for a ``Matcher``: a search's next match, and a filter's matches. No Textual here.

Both run in a worker thread of their own, read through a descriptor the caller lends them (and closes
after), and stop at the next batch or chunk once ``cancel`` is called (``Cancelled`` is raised then).

``SearchScan`` finds the nearest row after (or before) an origin row whose line matches, wrapping around
the rows once. The rows of the index lie back to back in the file, so it scans their raw bytes, a
``SEARCH_CHUNK`` at a time, with ``bytes.find`` of the matcher's ``prefilter`` (on the lowered chunk when
the search ignores case); only the lines a hit lands in are decoded and judged (a json-file line's hit
must be in its ``log`` message, not in the keys, stream or time). A regex with nothing to prefilter on is
judged chunk by chunk too (plain text) or line by line (json-file). A forward scan with more than
``GREP_FROM`` bytes still to read after its first chunk hands them to a child process, which leaves the
GIL to the UI: ripgrep (``rg -F -b -o``, ``-i`` when ignoring case) reading the file itself from the
scan's place, 2 GB in ~0.4 s; where there is no ripgrep, GNU grep (``LC_ALL=C``, as ``bytes.lower`` folds
only ASCII), 2-3 times as fast as CPython's ``bytes.lower`` + ``find``, fed pieces cut at line ends, two
greps at a time on the next two pieces (both cores read: 2 GB in ~0.7 s where one grep took 1.4 s). Each
hit is judged here as above, in file order. With neither, the scan stays in Python. Other rows (a filter's
matches, the tail window) are judged
``BATCH`` rows at a time. It reports ``(bytes scanned, bytes to scan)`` every
``PROGRESS_EVERY`` seconds and stops within a chunk once cancelled.

``FilterScan`` appends the spans of every matching line to a ``SpanRows``, from an offset to what the
index covers, then again each time the index grows (the follower grows it, in its own thread). The chunked
work is ``filter_lines``; a pass with more than ``GREP_FROM`` bytes to go hands its complete lines to
ripgrep first, as a search does (2 GB in ~0.5 s, where ``filter_lines`` takes ~3 s). This class keeps the
place between passes and the unterminated last line.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tui.widgets.logfollow import POLL, PROGRESS_EVERY
from tui.widgets.logindex import (
    READ_CAP,
    READ_CHUNK,
    Cancelled,
    IndexRows,
    LineIndex,
    Matcher,
    Rows,
    SpanRows,
    decode,
    filter_lines,
    read_record,
)

BATCH = 2048  # rows judged between two looks at cancel
SEARCH_CHUNK = 4 * 1024 * 1024  # bytes read and searched at once (the first chunk of a search is smaller)
FIRST_CHUNK = 256 * 1024  # a match near the cursor is shown without reading megabytes first
GREP_FROM = 32 * 1024 * 1024  # a forward scan with more than this left goes to GNU grep (when there is one)
GREP_PIECE = 64 * 1024 * 1024  # grep's work is cut in pieces of this (at line ends), judged in order
GREP_AT_ONCE = 2  # greps running at once, on the next pieces: one per core here
_JSON_HEAD = b'{"log":"'  # how docker's json-file records begin; the message ends at the last '","stream"'
_JSON_TAIL = b'","stream"'


class _Cancellable:
    """A scan another thread can stop: it checks ``_cancel`` between batches."""

    _cancel: threading.Event

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()
        awake = getattr(self, "_awake", None)
        if awake is not None:
            awake.set()


@dataclass(frozen=True, slots=True)
class SearchResult:
    row: int | None  # the matching row; None: no row matches
    wrapped: bool  # found only after going past the last row (the first, backward) and around


class SearchScan(_Cancellable):
    """One search: the first row after ``origin`` (``direction`` > 0) or the last before it whose line
    matches, else the same past the end and around, up to and including ``origin`` itself.

    Only the first ``count`` rows are searched (default: the rows there are now): a log that grows while
    the search runs does not move its end. ``origin`` may be -1 (forward) or ``count`` (backward) to
    search every row without wrapping. ``report(done, total)`` hears the progress in bytes (index rows) or
    rows (other rows), from the scan's thread.
    """

    def __init__(
        self,
        fd: int,
        rows: Rows,
        matcher: Matcher,
        *,
        json_lines: bool,
        origin: int,
        direction: int,
        count: int | None = None,
        batch: int = BATCH,
        chunk: int | None = None,  # default: SEARCH_CHUNK
        report: Callable[[int, int], object] | None = None,
    ) -> None:
        self.fd = fd
        self.rows = rows
        self.matcher = matcher
        self.json_lines = json_lines
        self.origin = origin
        self.direction = direction
        self.count = len(rows) if count is None else count
        self.batch = batch
        self.chunk = chunk or SEARCH_CHUNK
        self.first_chunk = min(FIRST_CHUNK, self.chunk)
        self._report = report
        self._last_report = time.monotonic()  # the first report comes after PROGRESS_EVERY: a quick
        self._done = 0  # search says nothing
        self._total = 0
        self._cancel = threading.Event()

    def _progress(self, advanced: int) -> None:
        self._done += advanced
        now = time.monotonic()
        if self._report is not None and now - self._last_report > PROGRESS_EVERY:
            self._last_report = now
            self._report(min(self._done, self._total), self._total)

    def matches(self, first: int, last: int) -> list[int]:
        """Rows in ``[first, last)`` whose line matches, in order (judged line by line)."""
        fd = self.fd
        json_lines = self.json_lines
        search = self.matcher.search
        spans = self.rows.spans(first, last)
        hits = []
        if isinstance(self.rows, IndexRows) and spans:
            # contiguous rows: one read for the whole batch
            base = spans[0][0]
            blob = os.pread(fd, spans[-1][1] - base, base)
            for k, (s, e) in enumerate(spans):
                raw = blob[s - base : e - base]
                if len(raw) > READ_CAP:  # judged on the capped prefix, as it is shown
                    rec = read_record(fd, (s, e), json_lines=json_lines)
                else:
                    rec = decode(raw, json_lines=json_lines)
                if search(rec.text):
                    hits.append(first + k)
        else:
            for k, span in enumerate(spans):
                if search(read_record(fd, span, json_lines=json_lines).text):
                    hits.append(first + k)
        return hits

    def run(self) -> SearchResult:
        """Search (blocking); raises ``Cancelled`` when cancelled first."""
        n = self.count
        origin = self.origin
        forward = self.direction > 0
        if forward:
            ranges = [(origin + 1, n), (0, min(n, origin + 1))]
        else:
            ranges = [(0, max(0, origin)), (max(0, origin), n)]
        if n and isinstance(self.rows, IndexRows):
            return self._run_bytes(ranges, forward)
        self._total = n
        batch = self.batch
        for k, (lo, hi) in enumerate(ranges):
            if forward:
                for first in range(lo, hi, batch):
                    if self._cancel.is_set():
                        raise Cancelled
                    hits = self.matches(first, min(hi, first + batch))
                    if hits:
                        return SearchResult(hits[0], k == 1)
                    self._progress(min(hi, first + batch) - first)
            else:
                for last in range(hi, lo, -batch):
                    if self._cancel.is_set():
                        raise Cancelled
                    hits = self.matches(max(lo, last - batch), last)
                    if hits:
                        return SearchResult(hits[-1], k == 1)
                    self._progress(last - max(lo, last - batch))
        return SearchResult(None, False)

    # -- the index's rows: their bytes, a chunk at a time -------------------------------------------------

    def _run_bytes(self, ranges: list[tuple[int, int]], forward: bool) -> SearchResult:
        rows = self.rows
        spans = []  # (start, end) in bytes of each row range; end includes the last row's newline
        for lo, hi in ranges:
            if lo >= hi:
                spans.append((0, 0))
            else:
                spans.append((rows.span(lo)[0], rows.span(hi - 1)[1] + 1))
        self._total = sum(e - s for s, e in spans)
        for k, (start, end) in enumerate(spans):
            if start >= end:
                continue
            hit = self._scan_forward(start, end) if forward else self._scan_backward(start, end)
            if hit is not None:
                return SearchResult(rows.row_of(hit), k == 1)
        return SearchResult(None, False)

    def _read(self, pos: int, size: int) -> bytes:
        return os.pread(self.fd, size, pos)

    def _scan_forward(self, start: int, end: int) -> int | None:
        """The start offset of the first matching line in ``[start, end)`` (line starts at both ends)."""
        pos = start
        size = self.first_chunk
        while pos < end:
            if self._cancel.is_set():
                raise Cancelled
            if pos > start and end - pos >= GREP_FROM and self._grep_ok():
                # past the first chunk, a long way to go: GNU grep reads it 2-3 times as fast as
                # bytes.lower + bytes.find, on the other core, leaving the GIL to the UI
                return self._grep_forward(pos, end)
            want = min(size, end - pos)
            data = self._read(pos, want)
            if not data:
                return None
            # up to the chunk's last newline; the range's end (or the file's) is a line's end, newline or not
            at_end = pos + len(data) >= end or len(data) < want
            cut = len(data) if at_end else data.rfind(b"\n") + 1
            if cut == 0:  # one line longer than the chunk: judge it whole (as it is shown, capped)
                cut = self._line_end(pos + len(data), end) - pos
                data = self._read(pos, min(cut, READ_CAP))
                if self._judge(data, pos, pos + cut):
                    return pos
            else:
                hit = self._first_in(data, pos, cut)  # no copy of the chunk up to its cut
                if hit is not None:
                    return hit
            pos += cut
            self._progress(cut)
            size = self.chunk
        return None

    def _scan_backward(self, start: int, end: int) -> int | None:
        """The start offset of the last matching line in ``[start, end)``."""
        stop = end
        size = self.first_chunk
        while stop > start:
            if self._cancel.is_set():
                raise Cancelled
            lo = max(start, stop - size)
            data = self._read(lo, stop - lo)
            if lo > start:
                # begin at a line start: after the first newline of the chunk
                first_nl = data.find(b"\n")
                if first_nl == -1 or first_nl == len(data) - 1:
                    size *= 2  # a line longer than the chunk: read more of it
                    continue
                data = data[first_nl + 1 :]
                lo += first_nl + 1
            hit = self._last_in(data, lo)
            if hit is not None:
                return hit
            self._progress(stop - lo)
            stop = lo
            size = self.chunk
        return None

    def _grep_ok(self) -> bool:
        return _grep_needle(self.matcher) and (_rg() is not None or _grep() is not None)

    def _grep_forward(self, start: int, end: int) -> int | None:
        """``_scan_forward`` by ripgrep, or else GNU grep, over ``[start, end)``. ripgrep reads the file
        itself from ``start`` (~3.5 GB/s here, where GNU grep ignoring case reads ~1.5 GB/s), one process in
        file order. GNU grep is fed pieces of about ``GREP_PIECE`` bytes cut at line ends (a match never
        straddles two: the needle has no newline), two greps at once on the next two pieces so both cores
        read, judged in order. Either way each hit's line is judged as ``_scan_forward`` judges it, and the
        first matching line is the answer."""
        if _rg() is not None:
            run = _RgRun(self.fd, start, end, self.matcher, json_lines=self.json_lines)
            try:
                return self._judge_piece(run)
            finally:
                run.close()
        from collections import deque

        pieces = self._pieces(start, end)
        running: deque[_GrepPiece] = deque()
        following = 0  # the next piece to start
        try:
            while running or following < len(pieces):
                while len(running) < GREP_AT_ONCE and following < len(pieces):
                    running.append(_GrepPiece(self.fd, *pieces[following], self.matcher))
                    following += 1
                piece = running.popleft()
                try:
                    hit = self._judge_piece(piece)
                finally:
                    piece.close()
                if hit is not None:
                    return hit
        finally:
            for piece in running:
                piece.close()
        return None

    def _pieces(self, start: int, end: int) -> list[tuple[int, int]]:
        """``[start, end)`` cut into runs of about ``GREP_PIECE`` bytes, each ending at a line's end."""
        out = []
        pos = start
        while pos < end:
            # just after the next newline, found in small reads (a line is rarely long)
            cut = self._line_end(pos + GREP_PIECE, end, step=64 * 1024)  # end, past the range's end
            out.append((pos, cut))
            pos = cut
        return out

    def _judge_piece(self, piece: _GrepPiece | _RgRun) -> int | None:
        """The first matching line among the hits a grep reports in ``piece`` (None: none), with progress."""
        rows = self.rows
        told = piece.start  # progress reported up to here

        def progress(pos: int) -> None:
            nonlocal told
            self._progress(pos - told)
            told = pos

        for ls, le in _hit_lines(piece, rows.row_of, rows.span, self._cancel, progress):
            if le - ls > READ_CAP:  # judged on its capped prefix, as it is shown
                if self._judge(self._read(ls, READ_CAP), ls, le + 1):
                    return ls
                continue
            raw = self._read(ls, le - ls) + b"\n"
            if self._first_in(raw, ls, len(raw)) is not None:  # a json-file hit outside the message
                return ls  # is ruled out without decoding
        return None

    def _line_end(self, pos: int, end: int, step: int | None = None) -> int:
        """The offset just after the newline that ends the line running at ``pos`` (or ``end``), read
        ``step`` bytes at a time (default: the scan's chunk)."""
        while pos < end:
            data = self._read(pos, min(step or self.chunk, end - pos))
            if not data:
                return end
            nl = data.find(b"\n")
            if nl != -1:
                return pos + nl + 1
            pos += len(data)
        return end

    def _judge(self, line: bytes, start: int, end: int) -> bool:
        """Does the line (its first bytes ``line``; it spans ``[start, end)``, newline included) match?"""
        if line.endswith(b"\n"):
            line = line[:-1]
        if end - start - 1 > READ_CAP or len(line) > READ_CAP:
            text = read_record(self.fd, (start, end - 1), json_lines=self.json_lines).text
        else:
            text = decode(line, json_lines=self.json_lines).text
        return self.matcher.search(text)

    def _candidates(self, data: bytes, limit: int) -> list[tuple[int, int]] | None:
        """Spans (start, end without newline) of the lines of ``data[:limit]`` that may match, in order;
        None: every line may (nothing to prefilter on)."""
        matcher = self.matcher
        needle = matcher.prefilter
        if needle is None:
            # plain text: one search rules out the whole chunk
            text = data[:limit].decode("utf-8", "replace")
            if matcher.chunk_re is not None and not matcher.chunk_re.search(text):
                return []
            return None
        hay = data.lower() if matcher.ignore_case else data
        find = hay.find
        rfind = hay.rfind
        json_lines = self.json_lines
        out = []
        i = find(needle, 0, limit)
        while i != -1:
            ls = rfind(b"\n", 0, i) + 1
            le = find(b"\n", i)
            if le == -1:
                le = len(hay)
            if json_lines and hay.startswith(_JSON_HEAD, ls):
                # the message is between the head and the last '","stream"': a hit outside it (a key, the
                # stream, the time) does not count, but one may follow inside
                tail = rfind(_JSON_TAIL, ls, le)
                body_end = tail if tail != -1 else le
                if i < ls + len(_JSON_HEAD):
                    i = find(needle, ls + len(_JSON_HEAD), body_end)
                elif i + len(needle) > body_end:
                    i = -1
                if i == -1:
                    i = find(needle, le + 1, limit)
                    continue
            out.append((ls, le))
            i = find(needle, le + 1, limit)
        return out

    def _first_in(self, data: bytes, base: int, limit: int) -> int | None:
        cands = self._candidates(data, limit)
        if cands is None:
            cands = _line_spans(data[:limit])
        for ls, le in cands:
            if self._judge(data[ls:le], base + ls, base + le + 1):
                return base + ls
        return None

    def _last_in(self, data: bytes, base: int) -> int | None:
        cands = self._candidates(data, len(data))
        if cands is None:
            cands = _line_spans(data)
        for ls, le in reversed(cands):
            if self._judge(data[ls:le], base + ls, base + le + 1):
                return base + ls
        return None


class _GrepPiece:
    """GNU grep (``grep -F -b -o``, ``-i`` when the matcher ignores case, ``LC_ALL=C`` as ``bytes.lower``
    folds only ASCII) over the bytes ``[start, end)`` of a file: a thread splices them from the page cache
    into grep's stdin, a pipe (no copy through Python), and closes it at ``end``, so grep's end of output
    says the piece is done. ``fed`` is how far the feeding got (progress)."""

    def __init__(self, fd: int, start: int, end: int, matcher: Matcher) -> None:
        import fcntl
        import subprocess

        grep = _grep()
        needle = matcher.prefilter
        assert grep is not None and needle is not None
        self.start, self.end, self.fed = start, end, start
        fold = ["-i"] if matcher.ignore_case else []
        argv = [grep, "--line-buffered", "-a", "-b", "-o", "-F", *fold, "-e", needle.decode("ascii")]
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            with contextlib.suppress(OSError):  # fewer, larger reads for grep (up to the system's limit)
                fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 20)
            self.proc = subprocess.Popen(
                argv,
                stdin=r,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={"LC_ALL": "C", "PATH": os.environ.get("PATH", "/usr/bin:/bin")},  # bytes, ASCII case
            )
        except BaseException:
            os.close(w)
            raise
        finally:
            os.close(r)
        assert self.proc.stdout is not None
        self.stdout = self.proc.stdout.fileno()
        self._feeder = threading.Thread(target=self._feed, args=(fd, w), name="grep-feed", daemon=True)
        self._feeder.start()

    def _feed(self, fd: int, w: int) -> None:
        try:
            while self.fed < self.end:
                n = os.splice(fd, w, min(self.end - self.fed, 1 << 20), offset_src=self.fed)
                if n == 0:  # the file is shorter than the index says (truncated): grep gets what there is
                    break
                self.fed += n
        except OSError:
            pass  # grep went away (closed, cancelled): nothing left to feed
        finally:
            os.close(w)

    def searched_past_end(self) -> bool:
        return False  # grep's input ends at the piece's end: the end of its output says it is done

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()  # the feeder's splice fails with EPIPE now, if it still runs
        self._feeder.join()


class _RgRun:
    """ripgrep (``rg -b -o``, ``-i`` when the matcher ignores case) reading the file itself from ``start``:
    its stdin is a descriptor of its own (``/proc/self/fd``, so no other reader's offset moves) set at
    ``start``. It reads on to the end of the file, its hits in file order: the first one at or past
    ``end`` ends the range. ``fed`` is how far it read (its stdin's offset, from ``/proc``).

    It looks for the needle (``-F``), except in a json-file for a needle that every record's frame may
    hold (``_in_every_record``: "time", "stdout", "log", "2026"...), which would be a hit a line, each
    judged here (minutes for 2 GB): then it looks for the lines whose message holds it
    (``_json_patterns``), each reported once, at its start (a regex: ~0.5 GB/s here, ``-F`` ~3.5).
    Its ``-i`` folds case as Unicode does, a superset of ``bytes.lower``'s ASCII folding for an ASCII
    needle: every hit is judged anyway."""

    def __init__(self, fd: int, start: int, end: int, matcher: Matcher, *, json_lines: bool) -> None:
        import subprocess

        rg = _rg()
        needle = matcher.prefilter
        assert rg is not None and needle is not None
        self.start, self.end = start, end
        fold = ["-i"] if matcher.ignore_case else []
        if json_lines and _in_every_record(needle):
            # an empty replacement: "OFFSET:" a line, not the line's head up to the needle
            patterns = [a for p in _json_patterns(needle.decode("ascii")) for a in ("-e", p)] + ["-r", ""]
        else:
            patterns = ["-F", "-e", needle.decode("ascii")]
        argv = [rg, "--no-config", "--line-buffered", "-a", "-N", "-b", "-o", *fold, *patterns, "-"]
        own = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.lseek(own, start, os.SEEK_SET)
            self.proc = subprocess.Popen(
                argv,
                stdin=own,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
        finally:
            os.close(own)
        assert self.proc.stdout is not None
        self.stdout = self.proc.stdout.fileno()
        self._past: int | None = None  # an offset at or past the end that it had read up to, once seen

    def _offset(self) -> int | None:
        try:
            with open(f"/proc/{self.proc.pid}/fdinfo/0", "rb") as f:
                return int(f.readline().split()[1])  # "pos:\t<offset>"
        except (OSError, ValueError, IndexError):
            return None  # it has ended (its output's end says the rest)

    @property
    def fed(self) -> int:
        pos = self._offset()
        return self.end if pos is None else min(pos, self.end)

    def searched_past_end(self) -> bool:
        """Has it searched every line before ``end`` (and said what it found there)? It reads, searches
        what it read, prints (line-buffered) and only then reads again: once its offset has moved on from
        one seen at or past ``end``, the line ending at ``end`` was in a buffer it has finished with."""
        pos = self._offset()
        if pos is None or pos < self.end:
            return False
        if self._past is None:
            self._past = pos
            return False
        return pos > self._past

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def _grep_needle(matcher: Matcher) -> bool:
    """Can a grep look for the matcher's lines (a needle every matching raw line holds, on one line)?"""
    needle = matcher.prefilter
    return needle is not None and b"\n" not in needle


def _hit_lines(
    piece: _GrepPiece | _RgRun,
    row_of: Callable[[int], int],
    span: Callable[[int], tuple[int, int]],
    cancel: threading.Event,
    progress: Callable[[int], None],
) -> Iterator[tuple[int, int]]:
    """The spans (start, newline) of the lines of ``[piece.start, piece.end)`` a grep reports a hit in, each
    once, in file order (``row_of`` and ``span`` are the index's). ``progress(offset)`` hears how far it
    read, every ``PROGRESS_EVERY`` and at the end; raises ``Cancelled`` once ``cancel`` is set."""
    import select

    judged = piece.start  # lines before this offset are told
    rest = b""
    out = piece.stdout
    wait: float | None = PROGRESS_EVERY
    while True:
        if cancel.is_set():
            raise Cancelled
        ready, _, _ = select.select([out], [], [], wait)
        if not ready:
            if wait == 0:  # what it said of the lines before the end is all read
                break
            progress(piece.fed)
            if piece.searched_past_end():
                wait = 0  # read what it may have said since, then stop
            continue
        chunk = os.read(out, 1 << 16)
        if not chunk:
            break  # it read to its end
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            off = piece.start + int(line.split(b":", 1)[0])
            if off >= piece.end:  # a run that reads on past the range (ripgrep): the range is done
                progress(piece.end)
                return
            if off < judged:
                continue  # another hit in a line already told
            ls, le = span(row_of(off))
            judged = le + 1
            yield ls, le
    progress(piece.end)


_RECORD_WORDS = ("{", "log", ":", ",", "stream", "stdout", "stderr", "time", "}")  # between its quotes
_TIME_CHARS = frozenset("0123456789-:.tz")  # RFC 3339 (folded): "2026-01-02T03:04:05.123456789Z"


def _in_every_record(needle: bytes) -> bool:
    """May a docker json-file record's frame (its keys, stream and time, outside the message) hold
    ``needle``? It has no quote (a needle with one has no prefilter), so it would lie between two."""
    text = needle.decode("ascii").lower()
    return any(text in word for word in _RECORD_WORDS) or set(text) <= _TIME_CHARS


def _json_patterns(needle: str) -> list[str]:
    """ripgrep patterns (any one matches) for the json-file lines whose message may hold ``needle`` (ASCII,
    as JSON writes it), each match from the line's start: a record (``{"log":"``, then the message's
    characters, escapes whole, up to the needle), and any line that does not begin as a record does
    (judged whole, as the line-by-line search judges it)."""

    def esc(text: str) -> str:  # what regex::escape escapes (older ripgreps refuse other escapes)
        return "".join("\\" + c if c in "\\.+*?()|[]{}^$#&-~" else c for c in text)

    head = _JSON_HEAD.decode()
    # (?-u): bytes, not UTF-8 (a message's invalid bytes are characters too; -i folds ASCII, as Python does)
    out = ['(?-u)^\\{"log":"(?:[^"\\\\]|\\\\.)*?' + esc(needle)]
    for k in range(len(head)):  # not a record: the line parts from the head at its k-th character
        out.append("(?-u)^" + esc(head[:k]) + "[^" + esc(head[k]) + "].*" + esc(needle))
    return out


_TOOLS: dict[str, str | None] = {}


def _tool(name: str, banner: bytes) -> str | None:
    """The path of ``name`` if its ``--version`` says ``banner`` (None: not here, or another program of that
    name); looked up once."""
    if name not in _TOOLS:
        import shutil
        import subprocess

        path = shutil.which(name)
        try:
            ok = (
                path is not None
                and banner in subprocess.run([path, "--version"], capture_output=True, timeout=5).stdout
            )
        except (OSError, subprocess.SubprocessError):
            ok = False
        _TOOLS[name] = path if ok else None
    return _TOOLS[name]


def _grep() -> str | None:
    """GNU grep's path (None: none here, or another grep)."""
    return _tool("grep", b"GNU grep")


def _rg() -> str | None:
    """ripgrep's path (None: not installed)."""
    return _tool("rg", b"ripgrep")


def _line_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every line in ``data`` (a last line without its newline included)."""
    out = []
    i = 0
    find = data.find
    n = len(data)
    while i < n:
        j = find(b"\n", i)
        if j == -1:
            j = n
        out.append((i, j))
        i = j + 1
    return out


class FilterScan(_Cancellable):
    """A filter: the spans of the lines that match, appended to ``out`` in file order from ``start`` on.

    Each ``step`` judges what ``index`` covers beyond the last step; ``run`` steps every ``poll`` until
    cancelled. ``report(pos, end)`` hears how far the scan is (``pos``) of what the index covered
    (``end``): after every step, and at most every ``PROGRESS_EVERY`` seconds while one runs.

    Only complete lines are judged for good. A plain file's unterminated last line is judged as it is,
    its row provisional: taken back and judged again once the line has grown. A json-file's is left until
    its newline comes (a record being written is not JSON yet).
    """

    def __init__(
        self,
        fd: int,
        index: LineIndex,
        matcher: Matcher,
        out: SpanRows,
        *,
        json_lines: bool,
        start: int = 0,
        report: Callable[[int, int], object] | None = None,  # what it returns is ignored
        poll: float = POLL,
    ) -> None:
        self.fd = fd
        self.index = index
        self.matcher = matcher
        self.out = out
        self.json_lines = json_lines
        self.pos = start  # lines before this offset are judged for good
        self._report = report
        self._poll = poll
        self._provisional = False  # out's last row is the unterminated last line
        self._last_report = 0.0
        self._cancel = threading.Event()
        self._awake = threading.Event()  # clear while paused
        self._awake.set()
        self.steps = 0

    @property
    def paused(self) -> bool:
        return not self._awake.is_set()

    def pause(self) -> None:
        """Stop looking for growth until ``resume`` (a step under way finishes first)."""
        self._awake.clear()

    def resume(self) -> None:
        self._awake.set()

    def run(self) -> None:
        """Step until cancelled (blocking: the body of a worker thread)."""
        try:
            while not self._cancel.is_set():
                self.step()
                self.steps += 1
                self._cancel.wait(self._poll)
                if not self._awake.is_set():
                    self._awake.wait()
        except Cancelled:
            pass

    def step(self) -> None:
        """Judge the lines the index covers beyond ``pos``; raises ``Cancelled`` when cancelled midway."""
        end = self.index.scanned
        if end <= self.pos:
            return
        out = self.out
        if self._provisional:
            out.pop_last()
            self._provisional = False
        if end - self.pos >= GREP_FROM and _rg() is not None and _grep_needle(self.matcher):
            self.pos = self._rg_lines(self.pos, end)
        self.pos = filter_lines(
            self.fd,
            self.pos,
            end,
            self.matcher,
            json_lines=self.json_lines,
            out=out,
            cancel=self._cancel,
            progress=self._progress,
        )
        if not self.json_lines and self.pos < end:
            rec = read_record(self.fd, (self.pos, end), json_lines=False)
            if self.matcher.search(rec.text):
                out.append(self.pos, end)
                self._provisional = True
        if self._report is not None:
            self._report(self.pos, end)

    def _rg_lines(self, start: int, end: int) -> int:
        """Append the matching lines of ``[start, end)`` that end in a newline, found by ripgrep (as the
        search's long scans are: ~0.4 s for 2 GB where ``filter_lines`` takes ~3 s); returns where they
        end (the rest is ``filter_lines``'s: a partial last line, or a line longer than the last read)."""
        tail = min(end - start, 64 * 1024)
        last = os.pread(self.fd, tail, end - tail)
        nl = last.rfind(b"\n")
        if nl == -1 or len(last) < tail:  # a long last line, or the file shrank: all filter_lines's
            return start
        stop = end - tail + nl + 1
        index, fd, json_lines, search = self.index, self.fd, self.json_lines, self.matcher.search
        out = self.out
        run = _RgRun(fd, start, stop, self.matcher, json_lines=json_lines)
        try:
            for ls, le in _hit_lines(run, index.row_of, index.span, self._cancel, self._progress):
                # judged as filter_lines judges a line: whole up to its read, else as it is shown
                if le - ls <= READ_CHUNK:
                    rec = decode(os.pread(fd, le - ls, ls), json_lines=json_lines)
                else:
                    rec = read_record(fd, (ls, le), json_lines=json_lines)
                if search(rec.text):
                    out.append(ls, le)
        finally:
            run.close()
        return stop

    def _progress(self, pos: int) -> None:
        now = time.monotonic()
        if self._report is not None and now - self._last_report > PROGRESS_EVERY:
            self._last_report = now
            self._report(pos, max(self.index.scanned, pos))


__all__ = ["BATCH", "SEARCH_CHUNK", "FilterScan", "SearchResult", "SearchScan"]
