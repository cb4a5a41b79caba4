"""LogView: a viewer for huge, growing container logs (Docker json-file or plain text), after Toolong.

Public API (stable; everything else is private)::

    LogView(path: Path | str | None = None, *, follow: bool = True, json_lines: bool | None = None,
            wrap: bool = False, timestamps: bool = False, name=None, id=None, classes=None)
    .open(path, *, json_lines=None)        show another file (None: detect json-file from the first bytes)
    .search(pattern, *, regex=False, backward=False)   highlight and go to the next match (then n / N)
    .set_filter(pattern | None, *, regex=False)        show only matching lines (a worker, with progress)
    .set_range(tail=None | int, since=None | float)    last N lines / lines of the last `since` seconds
    .save(path) -> None                    write the lines in view (filtered/ranged) as text, in a worker
    .follow / .wrap / .timestamps          reactive booleans (also toggled by keys)
    .visible_text() -> list[str]           the rows on screen, as plain text (what ``y`` copies)
    .focus()                               focuses the scrolling body

Messages: ``LogView.Status`` (posted on every change of what the status line shows; at most ~10/s while
indexing or filtering). Its ``text`` is the one-line summary the widget itself shows at the bottom.

Keys (Binding ids, so an app keymap can rebind them; ``logview.*``):
    /  search (``/re/`` for a regex)  · n / N next / previous match · f filter (``/re/`` regex; empty = off)
    F  follow on/off · t timestamps · w wrap · r cycle range presets (all, tail 100/1000, since 5m/1h/24h)
    ctrl+s save lines in view to a file · v start/stop a line selection (up/down extend it) · y copy the
    selection, or the visible lines, to the clipboard (OSC 52) · escape close prompt / clear selection,
    search, filter.  Scrolling: up/down/k/j, pageup/pagedown/space, home/g, end/G, left/right.
Follow pauses when you scroll up and resumes when you scroll back to the end (or press end/G).

How it stays fast on a 2 GB, 10-million-line file:
- ``tui.widgets.logindex.LineIndex`` (line start offsets in an ``array('Q')``) is built by a worker thread,
  ``tui.widgets.logfollow.LogFollower``, that then keeps polling the file (every 0.25 s: one ``stat`` + one
  ``fstat`` when nothing changed) and indexes only the new tail. Rotation (new inode) or truncation (size
  shrank) re-opens the path.
- Search and filter scan the file in worker threads too (``tui.widgets.logsearch``: ``SearchScan``,
  ``FilterScan``), chunks of raw bytes searched with ``bytes.find`` (only the lines a hit lands in are
  decoded; a long forward search, or a filter's long pass, hands the rest to ripgrep); the widget only
  shows their answers. A search starts at the screen (or the last match), shows the first match it finds
  at once, says how far it is in the status line ("searching 40%") and is
  stopped when a new one replaces it. Searching while following moves to the match and pauses following.
- Off screen (another tab or pane: Textual's Hide), the follower and a filter stop polling the file; on
  Show they catch up at once. On screen, a log that keeps growing is painted at most once a second
  (``REPAINT_EVERY``; a line after a quiet spell at the next poll), without a layout of the screen (only the
  scrollbar and the status line change); the follower's messages stay with the view (no bubbling).
- Only the rows on screen are read (one ``pread`` each, at most ``READ_CAP`` bytes) and decoded, with LRU
  caches for records and rendered strips; a line is cut at ``RENDER_CAP`` characters before rendering.
- While the index is still being built, the end of the file is shown at once from a backward scan of its
  last window of lines; scrolling up extends that window; when the index is complete the view switches
  to it and keeps its place.
"""

from __future__ import annotations

import os
import time
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.containers import Vertical
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from tui.widgets.keyinput import OrderedInput
from tui.widgets.logfollow import REPAINT_EVERY, LogFollower
from tui.widgets.logindex import (
    Cancelled,
    IndexRows,
    LineIndex,
    Matcher,
    Record,
    Rows,
    SpanRows,
    clean,
    looks_like_json_log,
    read_record,
    scan_back,
)
from tui.widgets.logsearch import FilterScan, SearchScan

WINDOW_LINES = 400  # lines of the tail window shown while the index is being built
RANGE_PRESETS: list[tuple[str, int] | None] = [
    None,
    ("tail", 100),
    ("tail", 1000),
    ("since", 300),
    ("since", 3600),
    ("since", 86400),
]


def _range_label(rng: tuple[str, int] | None) -> str:
    if rng is None:
        return "all"
    kind, value = rng
    if kind == "tail":
        return f"tail {value}"
    for unit, secs in (("d", 86400), ("h", 3600), ("m", 60)):
        if value % secs == 0:
            return f"since {value // secs}{unit}"
    return f"since {value}s"


def _parse_term(term: str) -> tuple[str, bool]:
    """``/expr/`` is a regex, anything else plain text."""
    if len(term) >= 2 and term.startswith("/") and term.endswith("/"):
        return term[1:-1], True
    return term, False


# -- messages from the worker threads (private) --------------------------------------------------------------


@dataclass
class _Opened(Message, bubble=False):
    follower: LogFollower  # messages of a follower already replaced are dropped
    index: LineIndex
    fd: int  # a descriptor of the UI's own; the UI closes it
    size: int
    json_lines: bool | None


@dataclass
class _Grew(Message, bubble=False):
    index: LineIndex
    done: bool  # the first full scan has finished


@dataclass
class _Missing(Message, bubble=False):
    follower: LogFollower


@dataclass
class _FilterProgress(Message, bubble=False):
    rows: SpanRows
    pos: int
    end: int


@dataclass
class _SearchProgress(Message, bubble=False):
    scan: SearchScan
    done: int
    total: int


@dataclass
class _SearchDone(Message, bubble=False):
    scan: SearchScan  # the answer of a search already replaced is dropped
    row: int | None
    wrapped: bool


class _FollowRelay:
    """A ``LogView``'s ``FollowListener``: the follower's news, told in its thread, as messages to the UI."""

    def __init__(self, view: LogView) -> None:
        self.view = view

    def opened(
        self, follower: LogFollower, index: LineIndex, fd: int, size: int, json_lines: bool | None
    ) -> None:
        # the UI's own descriptor: the follower closes its own when the file rotates
        self.view.post_message(_Opened(follower, index, os.dup(fd), size, json_lines))

    def grew(self, follower: LogFollower, index: LineIndex, done: bool) -> None:
        self.view.post_message(_Grew(index, done))

    def missing(self, follower: LogFollower) -> None:
        self.view.post_message(_Missing(follower))

    def failed(self, follower: LogFollower, err: OSError) -> None:
        view = self.view
        view.app.call_from_thread(
            view.notify, f"cannot read {follower.path}: {err.strerror}", severity="error"
        )


class LogBody(ScrollView, can_focus=True):
    """The scrolling rows of a ``LogView`` (Line API: renders only what is on screen)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False, id="logview.up"),
        Binding("down,j", "move(1)", "Down", show=False, id="logview.down"),
        Binding("pageup,b", "page(-1)", "Page up", show=False, id="logview.page_up"),
        Binding("pagedown,space", "page(1)", "Page down", show=False, id="logview.page_down"),
        Binding("home,g", "home", "Top", show=False, id="logview.home"),
        Binding("end,G", "end", "End", show=False, id="logview.end"),
        Binding("left", "scroll_left", "Left", show=False, id="logview.left"),
        Binding("right", "scroll_right", "Right", show=False, id="logview.right"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "logview--stderr",
        "logview--time",
        "logview--match",
        "logview--current",
        "logview--selection",
        "logview--dim",
        "logview--empty",
    }

    DEFAULT_CSS = """
    LogBody {
        height: 1fr;
        background: $surface;
        & > .logview--stderr { color: $error; }
        & > .logview--time { color: $text-muted; }
        & > .logview--match { background: $warning 60%; color: $text; }
        & > .logview--current { background: $accent 40%; }
        & > .logview--selection { background: $primary 50%; }
        & > .logview--dim { color: $text-disabled; }
        & > .logview--empty { color: $text-muted; text-style: italic; }
    }
    """

    def __init__(self, view: LogView) -> None:
        super().__init__()
        self.view = view
        self._strips: LRUCache[tuple[object, ...], list[Strip]] = LRUCache(2048)
        self._layout: list[tuple[int, int]] = []  # (row, piece of the row) per screen line
        self._layout_key: tuple[object, ...] | None = None
        self._max_width = 0
        self._pass_style: Style | None = None

    # -- layout ---------------------------------------------------------------------------------------------

    def invalidate(self, strips: bool = False) -> None:
        if strips:
            self._strips.clear()
        self._layout_key = None
        self.refresh()

    def _row_strips(self, row: int, width: int) -> list[Strip]:
        v = self.view
        span = v.rows.span(row)
        flags = (
            span,
            v.wrap and width,
            v.timestamps,
            v._search.pattern if v._search else None,
            row == v._search_row,
            v._in_selection(row),
        )
        cached = self._strips.get(flags)
        if cached is not None:
            return cached
        text = v._row_text(row, span)
        if v._in_selection(row):
            text.stylize(self.get_component_rich_style("logview--selection", partial=True))
        elif row == v._search_row:
            text.stylize(self.get_component_rich_style("logview--current", partial=True))
        console = self.app.console
        if v.wrap:
            strips = [
                Strip(line.render(console), line.cell_len) for line in text.wrap(console, max(1, width))
            ]
            strips = strips or [Strip.blank(0)]
        else:
            strips = [Strip(text.render(console), text.cell_len)]
            self._max_width = max(self._max_width, text.cell_len)
        self._strips[flags] = strips
        return strips

    def _compute_layout(self) -> list[tuple[int, int]]:
        v = self.view
        height = self.scrollable_content_region.height
        width = self.scrollable_content_region.width
        n = len(v.rows)
        top = int(self.scroll_y)
        key = (top, height, width, n, v.wrap, v._version)
        if key == self._layout_key:
            return self._layout
        layout: list[tuple[int, int]] = []
        if not v.wrap:
            layout = [(r, 0) for r in range(top, min(n, top + height))]
        elif n and top >= self.max_scroll_y and v.rows.span(n - 1):
            # at the end: anchor the last row to the bottom so a wrapped last line is always seen whole
            row = n - 1
            while row >= 0 and len(layout) < height:
                pieces = len(self._row_strips(row, width))
                layout[0:0] = [(row, k) for k in range(pieces)]
                row -= 1
            layout = layout[-height:]
        else:
            row = top
            while row < n and len(layout) < height:
                pieces = len(self._row_strips(row, width))
                layout.extend((row, k) for k in range(pieces))
                row += 1
            layout = layout[:height]
        self._layout = layout
        self._layout_key = key
        return layout

    def render_lines(self, crop: Region) -> list[Strip]:
        # the style is the same for every line of one pass (and costly to work out: it walks the ancestors)
        self._pass_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._pass_style = None

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        style = self._pass_style or self.rich_style
        v = self.view
        if not len(v.rows):
            if y == self.scrollable_content_region.height // 2:
                msg = v._empty_message()
                empty = self.get_component_rich_style("logview--empty")
                return Strip([Segment(msg.center(width)[:width], style + empty)], width)
            return Strip.blank(width, style)
        layout = self._compute_layout()
        if y >= len(layout):
            return Strip.blank(width, style)
        row, piece = layout[y]
        strips = self._row_strips(row, width)
        strip = strips[piece] if piece < len(strips) else Strip.blank(width)
        scroll_x = 0 if v.wrap else int(self.scroll_x)
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_style(style)

    def update_size(self) -> None:
        v = self.view
        width = self.scrollable_content_region.width if v.wrap else max(self._max_width, 1)
        size = Size(width, len(v.rows))
        old = self.virtual_size
        if size != old:
            if (
                self.is_mounted
                and size.width == old.width
                and size.height > old.height
                and self.show_vertical_scrollbar
            ):
                # a followed log grew: only the scrollbar's thumb changes. Setting ``virtual_size`` would
                # lay the whole screen out again (the reactive is layout=True), several times a second.
                self.set_reactive(ScrollView.virtual_size, size)
                self._scroll_update(size)
                self.refresh()
            else:
                self.virtual_size = size
        self._layout_key = None

    def visible_rows(self) -> list[int]:
        """Rows with at least one screen line visible, top to bottom."""
        seen: list[int] = []
        if not len(self.view.rows):
            return seen
        for row, _ in self._compute_layout():
            if not seen or seen[-1] != row:
                seen.append(row)
        return seen

    # -- scrolling ------------------------------------------------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._layout_key = None
        v = self.view
        if new_value > old_value and round(new_value) >= self.max_scroll_y:
            if v._paused:  # following again (a followed log's every new line scrolls here: no news then)
                v._paused = False
                v._post_status()
        elif new_value < old_value and round(new_value) < self.max_scroll_y and v.follow and not v._paused:
            v._paused = True
            v._post_status()
        if round(new_value) < self.scrollable_content_region.height:
            v._extend_window_back()

    def action_move(self, delta: int) -> None:
        v = self.view
        if v._cursor is not None:
            v._move_cursor(delta)
            return
        if delta < 0:
            self.scroll_to(y=self.scroll_y + delta, animate=False, immediate=True, force=True)
        else:
            self.scroll_to(y=self.scroll_y + delta, animate=False, immediate=True, force=True)

    def action_page(self, direction: int) -> None:
        v = self.view
        h = max(1, self.scrollable_content_region.height - 1)
        if v._cursor is not None:
            v._move_cursor(direction * h)
            return
        self.scroll_to(y=self.scroll_y + direction * h, animate=False, immediate=True, force=True)

    def action_home(self) -> None:
        self.view._go_home()

    def action_end(self) -> None:
        self.view._go_end()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        v = self.view
        if v.follow and not v._paused:
            v._paused = True
            v._post_status()

    def on_resize(self, event: events.Resize) -> None:
        self._strips.clear()
        self.update_size()
        if self.view._following():
            # asked again when it runs: a search answered meanwhile (the prompt closing resizes the body)
            # has moved to its match and paused following
            self.call_after_refresh(self._end_if_following)

    def _end_if_following(self) -> None:
        if self.view._following():
            self.view._scroll_to_end()


class LogView(Vertical):
    """A huge-log viewer; see the module docstring for the API, keys and messages."""

    @dataclass
    class Status(Message):
        """What the viewer is showing; ``text`` is the summary line."""

        log_view: LogView
        path: Path | None
        lines: int  # rows in view (after filter and range)
        total_lines: int  # lines indexed so far
        size: int  # bytes of the file
        indexed: float  # 0..1, how much of the file the index covers
        following: bool  # follow is on and not paused
        follow: bool
        filter: str | None
        filter_progress: float | None  # 0..1 while the filter worker runs
        search: str | None
        wrap: bool
        timestamps: bool
        range: str
        text: str = ""
        notice: str = field(default="")

        @property
        def control(self) -> LogView:
            return self.log_view

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "prompt('search')", "Search", id="logview.search"),
        Binding("n", "search_next(1)", "Next match", show=False, id="logview.search_next"),
        Binding("N", "search_next(-1)", "Previous match", show=False, id="logview.search_prev"),
        Binding("f", "prompt('filter')", "Filter", id="logview.filter"),
        Binding("F", "toggle_follow", "Follow", id="logview.follow"),
        Binding("t", "toggle_timestamps", "Timestamps", id="logview.timestamps"),
        Binding("w", "toggle_wrap", "Wrap", id="logview.wrap"),
        Binding("r", "cycle_range", "Range", id="logview.range"),
        Binding("ctrl+s", "prompt('save')", "Save", id="logview.save"),
        Binding("v", "select", "Select", show=False, id="logview.select"),
        Binding("y", "copy", "Copy", show=False, id="logview.copy"),
        Binding("escape", "clear", "Clear", show=False, id="logview.clear"),
    ]

    DEFAULT_CSS = """
    LogView {
        height: 1fr;
        & > #logview-prompt { display: none; height: 1; border: none; padding: 0 1; }
        & > #logview-prompt.-shown { display: block; }
        & > #logview-status { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    }
    """

    follow: reactive[bool] = reactive(True, init=False)
    wrap: reactive[bool] = reactive(False, init=False)
    timestamps: reactive[bool] = reactive(False, init=False)

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        follow: bool = True,
        json_lines: bool | None = None,
        wrap: bool = False,
        timestamps: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.set_reactive(LogView.follow, follow)
        self.set_reactive(LogView.wrap, wrap)
        self.set_reactive(LogView.timestamps, timestamps)
        self.path: Path | None = Path(path) if path is not None else None
        self._json_arg = json_lines
        self._json = bool(json_lines)
        self._fd = -1
        self.index = LineIndex()
        self.rows: Rows = IndexRows(self.index)
        self._mode = "index"  # "index" | "window" (tail of a file still being indexed) | "filter"
        self._window: SpanRows | None = None
        self._indexed_done = False
        self._file_size = 0
        self._missing = False
        self._paused = False
        self._version = 0  # bumped whenever rows change under the same scroll position
        self._records: LRUCache[tuple[int, int], Record] = LRUCache(8192)
        self._follower: LogFollower | None = None
        self._follow_relay = _FollowRelay(self)
        # filter
        self._filter: Matcher | None = None
        self._filter_term: str | None = None
        self._filter_rows: SpanRows | None = None
        self._filter_scan: FilterScan | None = None
        self._filter_progress: float | None = None
        # search
        self._search: Matcher | None = None
        self._search_term: str | None = None
        self._search_row: int | None = None
        self._search_scan: SearchScan | None = None
        self._search_progress: float | None = None  # 0..1 while a search runs long enough to say
        # range
        self._range: tuple[str, int] | None = None
        self._range_pending = False
        # selection
        self._cursor: int | None = None
        self._anchor: int | None = None
        self._prompt_kind = ""
        self._last_status = 0.0
        self._status_pending = False
        self._notice = ""
        self._hidden = False  # not on screen: the workers that poll the file are paused
        self._status_text = ""
        self._last_growth = 0.0  # when new lines were last shown
        self._growth_pending = False
        self.body = LogBody(self)

    def compose(self) -> ComposeResult:
        yield self.body
        yield OrderedInput(id="logview-prompt")
        yield Static("", id="logview-status", markup=False)

    def on_mount(self) -> None:
        if self.path is not None:
            self._start()
        self._post_status()

    def on_unmount(self) -> None:
        self._stop_workers()
        self._close_fd()

    # Off screen (another tab, another pane) the follower and a filter stop polling the file; shown again,
    # they catch up at once. Textual sends Hide/Show when the widget leaves or enters the screen's layout.
    def on_hide(self) -> None:
        self._hidden = True
        if self._follower is not None:
            self._follower.pause()
        if self._filter_scan is not None:
            self._filter_scan.pause()

    def on_show(self) -> None:
        self._hidden = False
        if self._follower is not None:
            self._follower.resume()
        if self._filter_scan is not None:
            self._filter_scan.resume()

    def focus(self, scroll_visible: bool = True) -> LogView:
        self.body.focus(scroll_visible)
        return self

    # -- public API -----------------------------------------------------------------------------------------

    def open(self, path: Path | str, *, json_lines: bool | None = None) -> None:
        """Show ``path`` instead of the current file (``json_lines=None``: detect the format)."""
        self.path = Path(path)
        self._json_arg = json_lines
        self._json = bool(json_lines)
        if self.is_mounted:
            self._start()

    def search(self, pattern: str, *, regex: bool = False, backward: bool = False) -> None:
        """Highlight ``pattern`` and move to its next (or previous) match from the current position."""
        if not pattern:
            self._cancel_search()
            self._search = None
            self._search_term = None
            self._search_row = None
            self.body.invalidate()
            self._post_status()
            return
        try:
            self._search = Matcher(pattern, regex=regex, json_lines=self._json)
        except Exception as err:
            self.notify(f"invalid regex: {err}", severity="error")
            return
        self._search_term = f"/{pattern}/" if regex else pattern
        self._search_row = None
        self.body.invalidate()
        self.action_search_next(-1 if backward else 1)

    def set_filter(self, pattern: str | None, *, regex: bool = False) -> None:
        """Show only the lines matching ``pattern`` (None or "" shows every line again)."""
        self._cancel_filter()
        if not pattern:
            self._filter = None
            self._filter_term = None
            self._filter_rows = None
            self._filter_progress = None
            anchor = self._top_offset()
            self._use_index_rows()
            self._restore_anchor(anchor)
            return
        try:
            matcher = Matcher(pattern, regex=regex, json_lines=self._json)
        except Exception as err:
            self.notify(f"invalid regex: {err}", severity="error")
            return
        self._filter = matcher
        self._filter_term = f"/{pattern}/" if regex else pattern
        self._filter_rows = SpanRows()
        self._filter_progress = 0.0
        self._set_rows(self._filter_rows, "filter")
        if self._fd >= 0:
            self._start_filter()
        self._post_status()

    def set_range(self, *, tail: int | None = None, since: float | None = None) -> None:
        """Limit the view to the last ``tail`` lines or to lines newer than ``since`` seconds ago."""
        self._range = ("tail", int(tail)) if tail else ("since", int(since)) if since else None
        self._apply_range()

    def save(self, path: Path | str) -> None:
        """Write the lines in view (after filter and range) to ``path`` as text, in a worker thread."""
        target = Path(path).expanduser()
        if self._fd < 0:
            self.notify("nothing to save yet", severity="warning")
            return
        fd = os.dup(self._fd)
        rows = self.rows
        count = len(rows)
        json_lines = self._json
        stamps = self.timestamps

        def work() -> None:
            try:
                with open(target, "w", encoding="utf-8", errors="replace") as out:
                    for first in range(0, count, 4096):
                        for span in rows.spans(first, min(count, first + 4096)):
                            rec = read_record(
                                fd, span, json_lines=json_lines, cap=span[1] - span[0] + 1, text_cap=None
                            )
                            prefix = f"{rec.time} " if stamps and rec.time else ""
                            out.write(f"{prefix}{rec.text}\n")
                self.app.call_from_thread(self.notify, f"saved {count:,} lines to {target}")
            except OSError as err:
                self.app.call_from_thread(
                    self.notify, f"cannot save to {target}: {err.strerror}", severity="error"
                )
            finally:
                os.close(fd)

        self.run_worker(work, thread=True, group="logview-save", name="logview save")

    def visible_text(self) -> list[str]:
        """The rows on screen as plain text (whole lines, up to the render cap), top to bottom."""
        return [self._row_text(row, self.rows.span(row)).plain for row in self.body.visible_rows()]

    # -- file and workers -----------------------------------------------------------------------------------

    def _stop_workers(self) -> None:
        if self._follower is not None:
            self._follower.stop()
        self._cancel_filter()
        self._cancel_search()

    def _cancel_search(self) -> None:
        if self._search_scan is not None:
            self._search_scan.cancel()
            self._search_scan = None
        self._search_progress = None

    def _cancel_filter(self) -> None:
        if self._filter_scan is not None:
            self._filter_scan.cancel()
            self._filter_scan = None

    def _close_fd(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _start(self) -> None:
        self._stop_workers()
        self._close_fd()
        self._reset_file_state(LineIndex())
        assert self.path is not None
        # this module's LineIndex, so that patching it here (a test holds the index back) reaches the follower
        follower = LogFollower(self.path, self._follow_relay, json_lines=self._json_arg, new_index=LineIndex)
        self._follower = follower
        if self._hidden:
            follower.pause()
        self.run_worker(follower.run, thread=True, group="logview-watch", name="logview")

    def _reset_file_state(self, index: LineIndex) -> None:
        self.index = index
        self._indexed_done = False
        self._window = None
        self._file_size = 0
        self._records.clear()
        self.body._max_width = 0
        self._search_row = None
        self._cursor = self._anchor = None
        if self._filter is not None:
            self._filter_rows = SpanRows()
            self._set_rows(self._filter_rows, "filter")
        else:
            self._set_rows(IndexRows(index, complete_only=self._json), "index")

    def on__opened(self, msg: _Opened) -> None:
        if msg.follower is not self._follower:
            os.close(msg.fd)
            return
        self._close_fd()
        self._fd = msg.fd
        self._missing = False
        rotated = self._file_size > 0 or len(self.index) > 0
        self._reset_file_state(msg.index)
        self._file_size = msg.size
        if msg.json_lines is not None:
            self._learn_format(msg.json_lines)
        if rotated:
            self._notice = "log rotated: showing the new file"
        if self._filter is not None:
            self._restart_filter_matcher()
            self._start_filter()
        elif self.follow and msg.size > 0:
            self._open_window()
        self._post_status(force=True)

    def on__missing(self, msg: _Missing) -> None:
        if msg.follower is self._follower and not self._missing:
            self._missing = True
            self.body.refresh()
            self._post_status(force=True)

    def on__grew(self, msg: _Grew) -> None:
        if msg.index is not self.index:
            return
        if msg.done and self._indexed_done:
            # a followed log's new lines: at most one repaint every REPAINT_EVERY seconds (each one redraws
            # every row on screen); what comes meanwhile is shown by one deferred repaint
            wait = self._last_growth + REPAINT_EVERY - time.monotonic()
            if wait > 0:
                if not self._growth_pending:
                    self._growth_pending = True
                    self.set_timer(wait, self._apply_pending_growth)
                return
        self._apply_growth(msg.done)

    def _apply_pending_growth(self) -> None:
        if self._growth_pending:
            self._growth_pending = False
            self._apply_growth(True)

    def _apply_growth(self, done: bool) -> None:
        self._last_growth = time.monotonic()
        self._growth_pending = False
        old_size = self._file_size
        self._file_size = max(self._file_size, self.index.scanned)
        if self._json_arg is None and self._fd >= 0 and self._file_size:
            self._learn_format(looks_like_json_log(self._fd))
            if isinstance(self.rows, IndexRows):
                self.rows.complete_only = self._json
        if done and not self._indexed_done:
            self._indexed_done = True
            if self._mode == "window":
                anchor = None if self._following() else self._top_offset()
                self._use_index_rows()
                self._restore_anchor(anchor)
            if self._range is not None:
                self._apply_range()
        elif self._mode == "window" and self._window is not None and self._file_size > old_size:
            self._grow_window(old_size)
        self.body.update_size()
        if self._following():
            self._scroll_to_end()
        self.body.refresh()
        self._post_status(force=done)

    def _learn_format(self, json_lines: bool) -> None:
        self._json = self._json_arg = json_lines
        if self._follower is not None:
            # read at the follower's next open: a rotated file keeps the format instead of being detected
            self._follower.json_lines = json_lines

    # -- rows: index, window, filter ------------------------------------------------------------------------

    def _set_rows(self, rows: Rows, mode: str) -> None:
        self.rows = rows
        self._mode = mode
        self._version += 1
        self._search_row = None
        self._cursor = self._anchor = None
        self.body.update_size()
        self.body.invalidate()

    def _use_index_rows(self) -> None:
        first = 0
        if self._range is not None and self._indexed_done:
            first = self._range_first_row()
        self._window = None
        self._set_rows(IndexRows(self.index, first, complete_only=self._json), "index")

    def _open_window(self) -> None:
        """Show the file's last lines at once (the index may take seconds on a huge file)."""
        if self._indexed_done or self._fd < 0 or self._filter is not None:
            return
        want = max(WINDOW_LINES, 3 * self.body.scrollable_content_region.height)
        self._window = SpanRows(self._complete(scan_back(self._fd, self._file_size, want)))
        self._set_rows(self._window, "window")
        self._scroll_to_end()

    def _grow_window(self, old_size: int) -> None:
        window = self._window
        assert window is not None
        if self._file_size - old_size > 8 * 1024 * 1024:
            self._open_window()
            return
        # re-read from the last line's start (it may have been unterminated) to the new end
        last_start = window.span(len(window) - 1)[0] if len(window) else 0
        tail = scan_back(self._fd, self._file_size, 1 << 30, floor=last_start, max_bytes=16 * 1024 * 1024)
        tail = self._complete(tail)
        with window._lock:
            if len(window.flat) >= 2:
                del window.flat[-2:]
            window.flat.extend(tail)
        self._version += 1

    def _complete(self, flat: array) -> array:
        """json-file: drop an unterminated last line (a record still being written)."""
        at_end = len(flat) and flat[-1] == self._file_size
        if self._json and at_end and os.pread(self._fd, 1, self._file_size - 1) != b"\n":
            del flat[-2:]
        return flat

    def _extend_window_back(self) -> None:
        window = self._window
        if self._mode != "window" or window is None or not len(window) or self._fd < 0:
            return
        first = window.start()
        if first == 0:
            return
        more = scan_back(self._fd, first, WINDOW_LINES)  # byte first-1 is the newline ending the line before
        if not len(more):
            return
        window.prepend(more)
        added = len(more) // 2
        self._version += 1
        self.body.update_size()
        self.body.scroll_to(y=self.body.scroll_y + added, animate=False, immediate=True, force=True)

    def _start_filter(self) -> None:
        matcher = self._filter
        out = self._filter_rows
        if matcher is None or out is None or self._fd < 0:
            return
        self._cancel_filter()
        fd = os.dup(self._fd)
        scan = self._filter_scan = FilterScan(
            fd,
            self.index,
            matcher,
            out,
            json_lines=self._json,
            start=self._range_start_offset(),
            report=lambda pos, end: self.post_message(_FilterProgress(out, pos, end)),
        )
        if self._hidden:
            scan.pause()

        def work() -> None:
            try:
                scan.run()
            finally:
                os.close(fd)

        self.run_worker(work, thread=True, group="logview-filter", name="logview filter")

    def _restart_filter_matcher(self) -> None:
        if self._filter is not None:
            self._filter = Matcher(self._filter.pattern, regex=self._filter.regex, json_lines=self._json)

    def on__filter_progress(self, msg: _FilterProgress) -> None:
        if msg.rows is not self._filter_rows:
            return
        total = max(msg.end, self._file_size, 1)
        start = self._range_start_offset()
        self._filter_progress = (
            None
            if msg.pos >= self.index.complete_end and self._indexed_done
            else (msg.pos - start) / max(1, total - start)
        )
        self.body.update_size()
        if self._following():
            self._scroll_to_end()
        self.body.refresh()
        self._post_status()

    # -- range presets --------------------------------------------------------------------------------------

    def _apply_range(self) -> None:
        if self._range is not None and not self._indexed_done:
            self._range_pending = True
            self._post_status(force=True)
            return
        self._range_pending = False
        if self._filter is not None:
            self._filter_rows = SpanRows()
            self._set_rows(self._filter_rows, "filter")
            self._start_filter()
        else:
            self._use_index_rows()
        if self._following() or self._range is not None:
            self._scroll_to_end()
        self._post_status(force=True)

    def _range_first_row(self) -> int:
        rng = self._range
        n = len(self.index)
        if rng is None or n == 0:
            return 0
        kind, value = rng
        if kind == "tail":
            return max(0, n - value)
        if not self._json:
            self.notify("since needs a json-file log (plain lines carry no time)", severity="warning")
            return 0
        cutoff = (datetime.now(UTC) - timedelta(seconds=value)).strftime("%Y-%m-%dT%H:%M:%S")
        lo, hi = 0, n
        while lo < hi:  # first row whose time is >= cutoff (records are in time order)
            mid = (lo + hi) // 2
            rec = read_record(self._fd, self.index.span(mid), json_lines=True, cap=4096)
            if rec.time[:19] < cutoff:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _range_start_offset(self) -> int:
        if self._range is None or not self._indexed_done:
            return 0
        first = self._range_first_row()
        return self.index.span(first)[0] if first < len(self.index) else self.index.scanned

    # -- rendering helpers ----------------------------------------------------------------------------------

    def _record(self, span: tuple[int, int]) -> Record:
        rec = self._records.get(span)
        if rec is None:
            if self._fd < 0:
                return Record("")
            try:
                rec = read_record(self._fd, span, json_lines=self._json)
            except OSError:
                return Record("")
            self._records[span] = rec
        return rec

    def _row_text(self, row: int, span: tuple[int, int]) -> Text:
        body = self.body
        rec = self._record(span)
        text = Text(no_wrap=not self.wrap, end="")
        if self.timestamps and rec.time:
            stamp = f"{rec.time[:10]} {rec.time[11:23]}" if len(rec.time) >= 23 else rec.time
            text.append(stamp + " ", body.get_component_rich_style("logview--time", partial=True))
        offset = len(text)
        line = clean(rec.text)
        content = Text.from_ansi(line, no_wrap=True, end="") if "\x1b" in line else Text(line, end="")
        if rec.stream == "stderr":
            content.stylize_before(body.get_component_rich_style("logview--stderr", partial=True))
        if rec.invalid:
            content.stylize_before(body.get_component_rich_style("logview--dim", partial=True))
        text.append_text(content)
        dim = body.get_component_rich_style("logview--dim", partial=True)
        if rec.partial:
            text.append(" …", dim)
        if rec.truncated:
            text.append(f" … [{rec.truncated:,} more bytes]", dim)
        if self._search is not None:
            match = body.get_component_rich_style("logview--match", partial=True)
            for a, b in self._search.spans(content.plain):
                text.stylize(match, offset + a, offset + b)
        return text

    def _empty_message(self) -> str:
        if self._mode == "filter":
            return "no matching lines yet" if self._filter_progress is not None else "no matching lines"
        if self._range is not None and self._indexed_done and len(self.index):
            return "no lines in this range"
        if self._file_size and not self._indexed_done:
            return "indexing…"
        return "no output yet"

    # -- navigation -----------------------------------------------------------------------------------------

    def _following(self) -> bool:
        return self.follow and not self._paused and self._cursor is None

    def _scroll_to_end(self) -> None:
        self.body.update_size()
        self.body.scroll_to(y=self.body.max_scroll_y, animate=False, immediate=True, force=True)
        self.body.invalidate()

    def _go_end(self) -> None:
        self._paused = False
        if self._mode == "index" and not self._indexed_done and self._range is None:
            self._open_window()
        self._scroll_to_end()
        self._post_status(force=True)

    def _go_home(self) -> None:
        if self.follow:
            self._paused = True
        if self._mode == "window":
            self._use_index_rows()
        self.body.scroll_to(y=0, animate=False, immediate=True, force=True)
        self._post_status(force=True)

    def _top_offset(self) -> int | None:
        rows = self.body.visible_rows()
        return self.rows.span(rows[0])[0] if rows else None

    def _restore_anchor(self, anchor: int | None) -> None:
        if anchor is None or not len(self.rows):
            self._scroll_to_end()
            return
        row = self.rows.row_of(anchor)
        self.body.update_size()
        self.body.scroll_to(y=row, animate=False, immediate=True, force=True)

    def _show_row(self, row: int) -> None:
        body = self.body
        height = body.scrollable_content_region.height
        if row < body.scroll_y or row >= body.scroll_y + height:
            body.scroll_to(y=max(0, row - height // 2), animate=False, immediate=True, force=True)
        if row < body.max_scroll_y and self.follow:
            self._paused = True
        body.invalidate()

    # -- search ---------------------------------------------------------------------------------------------

    def action_search_next(self, direction: int = 1) -> None:
        matcher = self._search
        if matcher is None or self._fd < 0:
            if self._search_term is None:
                self.notify("no search yet: press / to search", severity="warning")
            return
        rows = self.rows
        n = len(rows)
        if not n:
            return
        visible = self.body.visible_rows()
        if self._search_row is not None and self._search_row < n:
            origin = self._search_row
        elif visible:
            origin = visible[0] - 1 if direction > 0 else visible[-1] + 1
        else:
            origin = -1 if direction > 0 else n
        self._cancel_search()  # a superseded search stops within a chunk
        fd = os.dup(self._fd)
        scan = self._search_scan = SearchScan(
            fd,
            rows,
            matcher,
            json_lines=self._json,
            origin=origin,
            direction=direction,
            count=n,
            report=lambda done, total: self.post_message(_SearchProgress(scan, done, total)),
        )

        def work() -> None:
            try:
                result = scan.run()
            except Cancelled:
                return
            finally:
                os.close(fd)
            self.post_message(_SearchDone(scan, result.row, result.wrapped))

        self.run_worker(work, thread=True, group="logview-search", name="logview search")

    def on__search_progress(self, msg: _SearchProgress) -> None:
        if msg.scan is not self._search_scan:
            return
        self._search_progress = msg.done / max(1, msg.total)
        self._post_status()

    def on__search_done(self, msg: _SearchDone) -> None:
        if msg.scan is not self._search_scan:
            return
        self._search_scan = None
        self._search_progress = None
        if msg.row is None:
            self._notice = f"not found: {self._search_term}"
            self.app.bell()
        else:
            self._notice = "search wrapped" if msg.wrapped else ""
            self._search_row = msg.row
            self._show_row(msg.row)
        self._post_status(force=True)

    # -- selection and copy ---------------------------------------------------------------------------------

    def _in_selection(self, row: int) -> bool:
        if self._cursor is None or self._anchor is None:
            return False
        lo, hi = sorted((self._cursor, self._anchor))
        return lo <= row <= hi

    def _move_cursor(self, delta: int) -> None:
        assert self._cursor is not None
        self._cursor = max(0, min(len(self.rows) - 1, self._cursor + delta))
        self._show_row(self._cursor)

    def action_select(self) -> None:
        if self._cursor is not None:
            self._cursor = self._anchor = None
        else:
            visible = self.body.visible_rows()
            if not visible:
                return
            row = self._search_row if self._search_row in visible else visible[-1]
            self._cursor = self._anchor = row
        self.body.invalidate(strips=True)
        self._post_status(force=True)

    def action_copy(self) -> None:
        if self._cursor is not None and self._anchor is not None:
            lo, hi = sorted((self._cursor, self._anchor))
            if hi - lo > 100_000:
                self.notify(
                    "selection too large to copy (over 100,000 lines): save it instead", severity="error"
                )
                return
            lines = [self._row_text(r, self.rows.span(r)).plain for r in range(lo, hi + 1)]
            self._cursor = self._anchor = None
            self.body.invalidate(strips=True)
        else:
            lines = self.visible_text()
        self.app.copy_to_clipboard("\n".join(lines) + ("\n" if lines else ""))
        self.notify(f"copied {len(lines):,} lines")

    # -- toggles --------------------------------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap

    def action_toggle_timestamps(self) -> None:
        self.timestamps = not self.timestamps

    def action_cycle_range(self) -> None:
        presets = [p for p in RANGE_PRESETS if self._json or p is None or p[0] != "since"]
        pos = presets.index(self._range) if self._range in presets else 0
        self._range = presets[(pos + 1) % len(presets)]
        self._apply_range()

    def watch_follow(self, follow: bool) -> None:
        self._paused = False
        if follow:
            self._go_end()
        self._post_status(force=True)

    def watch_wrap(self, wrap: bool) -> None:
        anchor = self._top_offset()
        self.body._strips.clear()
        self.body.update_size()
        if self._following():
            self._scroll_to_end()
        else:
            self._restore_anchor(anchor)
        self.body.invalidate()
        self._post_status(force=True)

    def watch_timestamps(self, timestamps: bool) -> None:
        self.body._max_width = 0
        self.body.invalidate(strips=True)
        self._post_status(force=True)

    # -- prompt ---------------------------------------------------------------------------------------------

    def action_prompt(self, kind: str) -> None:
        prompt = self.query_one("#logview-prompt", OrderedInput)
        self._prompt_kind = kind
        if kind == "search":
            prompt.placeholder = "search (/regex/), enter to find, escape to cancel"
            prompt.value = self._search_term or ""
        elif kind == "filter":
            prompt.placeholder = "filter lines (/regex/), empty shows all lines"
            prompt.value = self._filter_term or ""
        else:
            name = self.path.name if self.path else "log"
            prompt.placeholder = "save lines in view to file"
            prompt.value = str(Path.cwd() / f"{name}.{time.strftime('%Y%m%d-%H%M%S')}.txt")
        prompt.add_class("-shown")
        prompt.leave_to = self.body  # Enter runs it, Escape cancels it: either way, back to the lines
        prompt.focus_now()

    def _hide_prompt(self) -> None:
        prompt = self.query_one("#logview-prompt", Input)
        prompt.remove_class("-shown")
        self._prompt_kind = ""
        self.body.focus()

    @on(Input.Submitted, "#logview-prompt")
    def _prompt_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        kind = self._prompt_kind
        value = event.value
        self._hide_prompt()
        term, regex = _parse_term(value)
        if kind == "search":
            self.search(term, regex=regex)
        elif kind == "filter":
            self.set_filter(term, regex=regex)
        elif kind == "save" and value.strip():
            self.save(value.strip())

    def action_clear(self) -> None:
        if self._prompt_kind:
            self._hide_prompt()
        elif self._cursor is not None:
            self._cursor = self._anchor = None
            self.body.invalidate(strips=True)
        elif self._search is not None:
            self.search("")
        elif self._filter is not None:
            self.set_filter(None)
        self._post_status(force=True)

    # -- status ---------------------------------------------------------------------------------------------

    def _post_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_status < 0.1:
            if not self._status_pending and self.is_mounted:
                # throttled: make sure the last state still gets shown
                self._status_pending = True
                self.set_timer(0.1, lambda: self._post_status(force=True))
            return
        self._status_pending = False
        self._last_status = now
        total = len(self.index)
        size = max(self._file_size, self.index.scanned)
        indexed = 1.0 if self._indexed_done else (self.index.scanned / size if size else 0.0)
        parts = [self.path.name if self.path else "(no file)"]
        if self._missing:
            parts.append("waiting for the file")
        parts.append(f"{total:,} lines" + ("" if self._indexed_done else f" (indexing {indexed:.0%})"))
        if self._range is not None:
            parts.append(_range_label(self._range) + (" (after indexing)" if self._range_pending else ""))
        if self._filter_term is not None:
            prog = "" if self._filter_progress is None else f" {self._filter_progress:.0%}"
            parts.append(f"filter {self._filter_term}: {len(self.rows):,}{prog}")
        if self._search_term is not None:
            prog = "" if self._search_progress is None else f": searching {self._search_progress:.0%}"
            parts.append(f"search {self._search_term}{prog}")
        parts.append("following" if self._following() else ("paused" if self.follow else "follow off"))
        if self.wrap:
            parts.append("wrap")
        if self.timestamps:
            parts.append("timestamps")
        if self._cursor is not None:
            parts.append("selecting (y copies)")
        if self._notice:
            parts.append(self._notice)
        text = " · ".join(parts)
        if self.is_mounted and text != self._status_text:
            # one row of a fixed height: no layout of the screen for a new line count
            self.query_one("#logview-status", Static).update(text, layout=False)
        self._status_text = text
        self.post_message(
            LogView.Status(
                self,
                self.path,
                len(self.rows),
                total,
                size,
                indexed,
                self._following(),
                self.follow,
                self._filter_term,
                self._filter_progress,
                self._search_term,
                self.wrap,
                self.timestamps,
                _range_label(self._range),
                text,
                self._notice,
            )
        )


__all__ = ["LogBody", "LogView"]
