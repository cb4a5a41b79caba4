"""The log viewer's scans for a ``Matcher``: a search's next match, and a filter's matches. No Textual here.

Both run in a worker thread of their own, read through a descriptor the caller lends them (and closes
after), and stop at the next batch or chunk once ``cancel`` is called (``Cancelled`` is raised then).

``SearchScan`` finds the nearest row after (or before) an origin row whose line matches, wrapping around
the rows once. It judges rows ``BATCH`` at a time; the rows of the index lie back to back in the file, so a
batch of them is one ``pread``.

``FilterScan`` appends the spans of every matching line to a ``SpanRows``, from an offset to what the
index covers, then again each time the index grows (the follower grows it, in its own thread). The chunked
work is ``filter_lines``; this class keeps the place between passes and the unterminated last line.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tui.widgets.logfollow import POLL, PROGRESS_EVERY
from tui.widgets.logindex import (
    READ_CAP,
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


class _Cancellable:
    """A scan another thread can stop: it checks ``_cancel`` between batches."""

    _cancel: threading.Event

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()


@dataclass(frozen=True, slots=True)
class SearchResult:
    row: int | None  # the matching row; None: no row matches
    wrapped: bool  # found only after going past the last row (the first, backward) and around


class SearchScan(_Cancellable):
    """One search: the first row after ``origin`` (``direction`` > 0) or the last before it whose line
    matches, else the same past the end and around, up to and including ``origin`` itself.

    Only the first ``count`` rows are searched (default: the rows there are now): a log that grows while
    the search runs does not move its end. ``origin`` may be -1 (forward) or ``count`` (backward) to
    search every row without wrapping.
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
    ) -> None:
        self.fd = fd
        self.rows = rows
        self.matcher = matcher
        self.json_lines = json_lines
        self.origin = origin
        self.direction = direction
        self.count = len(rows) if count is None else count
        self.batch = batch
        self._cancel = threading.Event()

    def matches(self, first: int, last: int) -> list[int]:
        """Rows in ``[first, last)`` whose line matches, in order."""
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
        batch = self.batch
        forward = self.direction > 0
        if forward:
            ranges = [(origin + 1, n), (0, min(n, origin + 1))]
        else:
            ranges = [(0, max(0, origin)), (max(0, origin), n)]
        for k, (lo, hi) in enumerate(ranges):
            if forward:
                for first in range(lo, hi, batch):
                    if self._cancel.is_set():
                        raise Cancelled
                    hits = self.matches(first, min(hi, first + batch))
                    if hits:
                        return SearchResult(hits[0], k == 1)
            else:
                for last in range(hi, lo, -batch):
                    if self._cancel.is_set():
                        raise Cancelled
                    hits = self.matches(max(lo, last - batch), last)
                    if hits:
                        return SearchResult(hits[-1], k == 1)
        return SearchResult(None, False)


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

    def run(self) -> None:
        """Step until cancelled (blocking: the body of a worker thread)."""
        try:
            while not self._cancel.is_set():
                self.step()
                self._cancel.wait(self._poll)
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

    def _progress(self, pos: int) -> None:
        now = time.monotonic()
        if self._report is not None and now - self._last_report > PROGRESS_EVERY:
            self._last_report = now
            self._report(pos, max(self.index.scanned, pos))


__all__ = ["BATCH", "FilterScan", "SearchResult", "SearchScan"]
