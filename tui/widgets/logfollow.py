"""The log viewer's follower: opens a log, indexes it, then keeps up as it grows or rotates. No Textual here.

``LogFollower.run`` is the body of one worker thread. It opens the path (waiting for it to appear), builds a
fresh ``LineIndex`` of the whole file, then polls every ``POLL`` seconds: one ``fstat`` for growth, whose
new tail only is indexed, and one ``stat`` of the path for rotation. When the path names another file
(docker's json-file rotation renames ``<f>`` to ``<f>.1`` and starts a new ``<f>``) or the file shrank
(truncated in place), the old file has already been drained to its end, and the follower starts over on
the path with a new index.

``pause`` stops the polling (the thread sleeps on an event: no ``stat``, no read) until ``resume``, which
polls at once: a viewer that is not on screen costs nothing and catches up when it is shown again.

What it finds goes to a ``FollowListener``, called from the follower's thread: the listener of a widget
hands the news to its UI thread. Every call names the follower, so a listener that has replaced one
follower with another can drop what the old one still says.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from tui.widgets.logindex import Cancelled, LineIndex, looks_like_json_log

POLL = 0.25  # seconds between checks of the file for growth/rotation
PROGRESS_EVERY = 0.1  # seconds between progress reports while a scan runs: a UI repaints at most ~10/s
# seconds: a log that keeps growing is repainted at most this often by what shows it (each repaint redraws
# every row on screen, ~5 ms of Textual's compositor at 80x24); the first line after a quiet spell is shown
# at the next look
REPAINT_EVERY = 1.0


class FollowListener(Protocol):
    """What a ``LogFollower`` reports, from its own thread."""

    def opened(
        self, follower: LogFollower, index: LineIndex, fd: int, size: int, json_lines: bool | None
    ) -> None:
        """The path was (re)opened: ``index`` is empty and will cover this file. ``fd`` is the follower's
        and closed when it lets the file go: ``os.dup`` it to keep reading. ``json_lines`` is the format
        (None: not known yet, the file was empty)."""

    def grew(self, follower: LogFollower, index: LineIndex, done: bool) -> None:
        """``index`` covers more of the file. ``done``: a scan reached the size the file had when it began
        (false for the throttled reports while a long scan runs)."""

    def missing(self, follower: LogFollower) -> None:
        """The path does not exist (yet); said at every try, once a ``poll``."""

    def failed(self, follower: LogFollower, err: OSError) -> None:
        """The path cannot be opened (other than not existing): the follower has stopped."""


class LogFollower:
    """Follows one log path for a listener, from one thread (``run``) until ``stop``.

    ``json_lines`` is read at every (re)open: None means detect it from the file's first bytes, and an
    owner that learns the format later may set it so that a rotated file is not detected again.
    ``new_index`` makes the index of each opened file (a test can hand in one that is slow to build).
    """

    def __init__(
        self,
        path: Path,
        listener: FollowListener,
        *,
        json_lines: bool | None = None,
        new_index: Callable[[], LineIndex] = LineIndex,
        poll: float = POLL,
    ) -> None:
        self.path = path
        self.listener = listener
        self.json_lines = json_lines
        self._new_index = new_index
        self._poll = poll
        self._stop = threading.Event()
        self._awake = threading.Event()  # clear while paused
        self._awake.set()
        self._paused = False
        self.polls = 0  # checks of the file so far (a test sees that a paused follower does none)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return self._paused

    def stop(self) -> None:
        """Ask ``run`` to return (within a ``poll``, or a chunk of a scan). A report already under way may
        still arrive: the listener tells it by the follower it names."""
        self._stop.set()
        self._awake.set()

    def pause(self) -> None:
        """Stop polling the file until ``resume`` (a scan under way finishes first)."""
        self._paused = True
        self._awake.clear()

    def resume(self) -> None:
        """Poll again, at once."""
        self._paused = False
        self._awake.set()

    def _nap(self) -> bool:
        """Wait a ``poll`` (and while paused); False once stopped."""
        if self._stop.wait(self._poll):
            return False
        if not self._awake.is_set():
            self._awake.wait()
        if self._stop.is_set():
            return False
        self.polls += 1
        return True

    def run(self) -> None:
        """Open (waiting for the file to appear), index, then follow growth and rotation until stopped."""
        stop = self._stop
        while not stop.is_set():
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                self.listener.missing(self)
                self._nap()
                continue
            except OSError as err:
                self.listener.failed(self, err)
                return
            try:
                self._follow(fd)
            finally:
                os.close(fd)

    def _follow(self, fd: int) -> None:
        """Index the open file and keep indexing its growth; returns when stopped, rotated or truncated."""
        stop = self._stop
        listener = self.listener
        st = os.fstat(fd)
        index = self._new_index()
        json_lines = self.json_lines
        if json_lines is None and st.st_size:
            json_lines = looks_like_json_log(fd)
        listener.opened(self, index, fd, st.st_size, json_lines)
        last = 0.0

        def progress(pos: int) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last > PROGRESS_EVERY:
                last = now
                listener.grew(self, index, False)

        try:
            index.scan(fd, st.st_size, cancel=stop, progress=progress)
        except Cancelled:
            return
        listener.grew(self, index, True)
        while self._nap():
            size = os.fstat(fd).st_size
            if size > index.scanned:
                last = time.monotonic()  # a few new lines: one report when done, none while scanning
                try:
                    index.scan(fd, size, cancel=stop, progress=progress)
                except Cancelled:
                    return
                listener.grew(self, index, True)
            try:
                now = os.stat(self.path)
            except FileNotFoundError:
                continue  # between the rename and the new file: keep the old one
            if (now.st_ino, now.st_dev) != (st.st_ino, st.st_dev) or size < index.scanned:
                # rotated or truncated: what the old file had is indexed, start over on the path
                return


__all__ = ["POLL", "PROGRESS_EVERY", "REPAINT_EVERY", "FollowListener", "LogFollower"]
