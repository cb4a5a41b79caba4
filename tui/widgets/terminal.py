"""TerminalView: an embedded terminal on an already-open pty master (a shell in a container, ``top``, ``vi``).

Public API (stable)::

    TerminalView(master_fd: int, *, wait: Callable[[], int | None] | None = None,
                 on_exit: Callable[[int | None], None] | None = None, close_fd: bool = True,
                 history: int = 2000, name=None, id=None, classes=None)
    .write(data: bytes)        send bytes to the child (as if typed)
    .vt                        the ``tui.widgets.vt.VTScreen`` (pyte) being shown
    .display_lines() -> list[str]   the screen as text (tests, copy)
    .exit_code                 None until the child has exited
    TerminalView.Exited(terminal, code)   posted once the child has gone (code from ``wait``; None without it)
    run_suspended(app, master_fd, *, release=b"\\x1d", feed=None) -> str
                               hand the real terminal to the child (``App.suspend``) until it exits
                               ("exited") or the user presses the release byte ("released")

The caller owns the process: pass a ``wait`` that blocks until the child ends and returns its exit code
(it runs in a worker thread, never on the event loop). With ``pty.fork()``/``subprocess`` + ``os.openpty()``,
close the slave in the parent, or the master never sees the end of the child.

Keys. Every key goes to the child (xterm encoding, application cursor mode honoured, bracketed paste),
except the one escape key, a priority binding (id for an app keymap):
    ctrl+]      ``terminal.release``     give focus back to the app (focus moves to the next widget)
Keys that the app binds with ``priority=True`` (Textual's ctrl+q and ctrl+p) are taken by the app before
any widget: an app that embeds this widget gives them up while ``takes_every_key`` is true (its
``check_action`` says no), as the workbench does. What the terminal does besides typing
(``action_fullscreen``, ``action_scrollback``) its screen binds, for when the keys are the app's again.

Full terminal (``action_fullscreen``): the app is suspended and the real terminal is the child's, in an
alternate screen of its own that starts with a line saying how to come back (ctrl+]); the child's own
switches to and from the alternate screen are kept inside it (the widget's emulator repaints what the child
went back to), and when it ends the modes a program may have left on are reset and the alternate screen is
left, so the user's own screen is exactly as it was.

Not done: mouse reporting to the child (the wheel browses the scrollback instead), selection/copy of
the screen with the mouse, OSC titles. A lone ESC followed at once by another key is as ambiguous to the
child as on any terminal.

Output is read by ``loop.add_reader`` on the non-blocking master (at most 64 KiB a callback, so a flood
of output cannot starve the UI); the screen is repainted at most ~60 times a second. Resizing the widget
resizes the pty (TIOCSWINSZ, so the child gets SIGWINCH) and the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import re
import select
import selectors
import signal
import struct
import sys
import termios
import threading
import tty
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import pyte
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from tui.widgets.vt import VTScreen, char_style, key_bytes

if TYPE_CHECKING:
    from textual.app import App

READ_MAX = 64 * 1024  # bytes read from the pty per event-loop callback
FRAME = 1 / 60  # at most one repaint per frame


def set_winsize(fd: int, lines: int, columns: int) -> None:
    """Tell the pty its size (the kernel sends SIGWINCH to the child's foreground process group)."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))


class TerminalView(Widget, can_focus=True):
    """A terminal emulator widget over a pty master; see the module docstring."""

    @dataclass
    class Exited(Message):
        """The child has gone; ``code`` is what ``wait`` returned (None without a ``wait``)."""

        terminal: TerminalView
        code: int | None

        @property
        def control(self) -> TerminalView:
            return self.terminal

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+right_square_bracket",
            "release",
            "Keys to the workbench",
            priority=True,
            id="terminal.release",
        ),
    ]

    DEFAULT_CSS = """
    TerminalView {
        height: 1fr;
        min-height: 3;
        background: $background;
    }
    """

    def __init__(
        self,
        master_fd: int,
        *,
        wait: Callable[[], int | None] | None = None,
        on_exit: Callable[[int | None], None] | None = None,
        close_fd: bool = True,
        history: int = 2000,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.master_fd = master_fd
        self._wait = wait
        self._on_exit = on_exit
        self._close_fd = close_fd
        self.vt = VTScreen(80, 24, history=history, reply=self._reply)
        self._stream = pyte.ByteStream(self.vt)
        self._out = bytearray()  # keys not yet written (the child is not reading)
        self._reading = False
        self._writing = False
        self._frame_pending = False
        self._lines: dict[
            int, Strip
        ] = {}  # rendered lines of the live screen, cleared when pyte marks them dirty
        self._scrollback = 0  # lines scrolled back into the history (0: the live screen)
        self._eof = False
        self.exit_code: int | None = None
        self._exited = threading.Event()

    # -- public ---------------------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send ``data`` to the child, as if typed."""
        if self._eof or not data:
            return
        self._out += data
        self._flush()

    def display_lines(self) -> list[str]:
        """The visible screen as text, one string per line (trailing blanks kept)."""
        return [line.rstrip("\0") for line in self.vt.display]

    @property
    def takes_every_key(self) -> bool:
        """Whether keys typed now are the child's (it is still there), so the app must not take any but
        the escape key, not even its priority bindings."""
        return not self._eof and self.master_fd >= 0

    # -- lifecycle ------------------------------------------------------------------------------------------

    def on_mount(self) -> None:
        os.set_blocking(self.master_fd, False)
        loop = asyncio.get_running_loop()
        loop.add_reader(self.master_fd, self._on_readable)
        self._reading = True
        self._start_reaper()
        if self.size.height and self.size.width:  # else the first Resize event sizes the pty
            self._resize_to(self.size.height, self.size.width)

    def on_unmount(self) -> None:
        self._stop_io()
        if self._close_fd and self.master_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.master_fd)
            self.master_fd = -1

    def _stop_io(self) -> None:
        loop = asyncio.get_running_loop()
        if self._reading:
            loop.remove_reader(self.master_fd)
            self._reading = False
        if self._writing:
            loop.remove_writer(self.master_fd)
            self._writing = False

    # -- pty I/O --------------------------------------------------------------------------------------------

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master_fd, READ_MAX)
        except BlockingIOError:
            return
        except OSError as err:
            if err.errno != errno.EIO:  # EIO: every slave descriptor is closed, the child is gone
                self.log.error(f"terminal read: {err}")
            data = b""
        if not data:
            self._child_gone()
            return
        self._stream.feed(data)  # a user browsing the scrollback keeps their place
        self._schedule_frame()

    def _schedule_frame(self) -> None:
        if not self._frame_pending:
            self._frame_pending = True
            self.set_timer(FRAME, self._frame)

    def _frame(self) -> None:
        self._frame_pending = False
        dirty = self.vt.dirty
        if dirty:
            for y in dirty:
                self._lines.pop(y, None)
            dirty.clear()
        self.refresh()

    def _flush(self) -> None:
        if self.master_fd < 0:
            return
        while self._out:
            try:
                n = os.write(self.master_fd, self._out)
            except BlockingIOError:
                break
            except OSError:
                self._out.clear()
                return
            del self._out[:n]
        loop = asyncio.get_running_loop()
        if self._out and not self._writing:
            loop.add_writer(self.master_fd, self._flush)
            self._writing = True
        elif not self._out and self._writing:
            loop.remove_writer(self.master_fd)
            self._writing = False

    def _reply(self, data: str) -> None:
        self.write(data.encode())

    def _child_gone(self) -> None:
        """The pty reached its end (every slave descriptor closed)."""
        if self._eof:
            return
        self._eof = True
        self._stop_io()
        self._schedule_frame()
        if self._wait is None:
            self._finish(None)
        # else the wait thread reports the exit code

    def _start_reaper(self) -> None:
        """Wait for the child in a thread from the start: the slave may stay open elsewhere (a container's
        shim), so the end of the pty alone does not say the process has gone."""
        wait = self._wait
        if wait is None:
            return

        def reap() -> None:
            code = None
            try:
                code = wait()
            except Exception:  # the caller's wait failed: report the exit without a code
                code = None
            with contextlib.suppress(Exception):  # the app may be gone already
                self.app.call_from_thread(self._waited, code)

        threading.Thread(target=reap, name="terminal-wait", daemon=True).start()

    def _waited(self, code: int | None) -> None:
        # show what the child wrote last before saying it has gone
        if not self._eof and self.master_fd >= 0:
            for _ in range(64):
                try:
                    data = os.read(self.master_fd, READ_MAX)
                except OSError:
                    data = b""
                if not data:
                    break
                self._stream.feed(data)
            self._eof = True
            self._stop_io()
            self._schedule_frame()
        self._finish(code)

    def _finish(self, code: int | None) -> None:
        if self._exited.is_set():
            return
        self.exit_code = code
        self._exited.set()
        if self._on_exit is not None:
            self._on_exit(code)
        self.post_message(TerminalView.Exited(self, code))

    # -- size -----------------------------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self._resize_to(event.size.height, event.size.width)

    def _resize_to(self, lines: int, columns: int) -> None:
        if lines < 1 or columns < 1:
            return  # hidden or not laid out yet: keep the last size
        if (lines, columns) != (self.vt.lines, self.vt.columns):
            self.vt.resize(lines, columns)
            self._lines.clear()
        if self.master_fd >= 0 and not self._eof:
            with contextlib.suppress(OSError):
                set_winsize(self.master_fd, lines, columns)
        self.refresh()

    # -- rendering ------------------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scr = self.vt
        width = self.size.width
        hist = scr.history
        back = min(self._scrollback, len(hist))
        if back and y < back:
            return self._render_row(hist[len(hist) - back + y], None, width)
        row = y - back
        if row >= scr.lines:
            return Strip.blank(width)
        show_cursor = (
            row == scr.cursor.y and not scr.cursor.hidden and self.has_focus and not self._eof and not back
        )
        if not show_cursor:
            strip = self._lines.get(row)
            if strip is None:
                strip = self._lines[row] = self._render_row(scr.buffer[row], None, width)
            return strip
        return self._render_row(scr.buffer[row], scr.cursor.x, width)

    def _render_row(self, line: dict[int, pyte.screens.Char], cursor_x: int | None, width: int) -> Strip:
        default = self.vt.default_char
        columns = self.vt.columns
        segments: list[Segment] = []
        run: list[str] = []
        run_style: Style | None = None
        for x in range(min(columns, width)):
            ch = line.get(x, default) if isinstance(line, dict) else default
            if not ch.data:  # the right half of a wide character
                continue
            style = char_style(ch, cursor=x == cursor_x)
            if style is not run_style and run:
                segments.append(Segment("".join(run), run_style))
                run = []
            run_style = style
            run.append(ch.data)
        if run:
            segments.append(Segment("".join(run), run_style))
        if cursor_x is not None and cursor_x >= columns:
            segments.append(Segment(" ", Style(reverse=True)))
        return Strip(segments).adjust_cell_length(width)

    # -- keys -----------------------------------------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        if self._eof:
            return  # the child has gone: let the app have its keys
        event.stop()
        event.prevent_default()
        data = key_bytes(event.key, event.character, app_cursor=self.vt.app_cursor_keys)
        if data:
            if self._scrollback:
                self._scrollback = 0
                self.refresh()
            self.write(data)

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        text = event.text.replace("\r\n", "\r").replace("\n", "\r").encode("utf-8", "surrogateescape")
        if self.vt.bracketed_paste:
            text = b"\x1b[200~" + text + b"\x1b[201~"
        self.write(text)

    def on_focus(self) -> None:
        self._lines.pop(self.vt.cursor.y, None)
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.action_scrollback(-1, lines=3)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self.action_scrollback(1, lines=3)

    def action_scrollback(self, direction: int, lines: int | None = None) -> None:
        if self.vt.alternate:
            return
        step = lines or max(1, self.size.height - 1)
        self._scrollback = max(0, min(len(self.vt.history), self._scrollback - direction * step))
        self.refresh()

    def action_release(self) -> None:
        """Give focus back to the app: the next focusable widget, or none."""
        self.vt.dirty.add(self.vt.cursor.y)
        self.app.action_focus_next()
        if self.app.focused is self:
            self.app.set_focus(None)

    def action_fullscreen(self, title: str = "") -> None:
        """Hand the real terminal to the child until it exits or ctrl+] is pressed."""
        if self._eof or self.master_fd < 0:
            return
        self._stop_io()
        banner = f"{title + ': ' if title else ''}full terminal. Ctrl+] returns to the workbench."
        try:
            outcome = run_suspended(
                self.app,
                self.master_fd,
                feed=self._stream.feed,
                first=lambda: screen_ansi(self.vt, banner=banner),
                repaint=lambda: screen_ansi(self.vt),
            )
        except Exception as err:  # e.g. SuspendNotSupported (Textual web, headless)
            self.notify(f"cannot hand over the terminal: {err}", severity="error")
            outcome = "released"
        finally:
            if not self._eof and self.master_fd >= 0:
                asyncio.get_running_loop().add_reader(self.master_fd, self._on_readable)
                self._reading = True
        # back at the widget's size: the child gets SIGWINCH and full-screen programs redraw
        self._lines.clear()
        self._resize_to(self.size.height, self.size.width)
        if outcome == "exited" and not self._eof:
            self._child_gone()
        elif not self._eof:
            self.focus()  # the keys are the child's again, as they were in the full terminal


# the full terminal's own screen: entered after the app has left its own, left before the app comes back
ENTER_SCREEN = b"\x1b[?1049h\x1b[H\x1b[2J"
# what a program in the full terminal may have left on, put back to a terminal's defaults (attributes,
# scroll region, cursor keys, keypad, visible cursor, bracketed paste, mouse reports, character set), then
# the user's own screen again
LEAVE_SCREEN = (
    b"\x1b[0m\x1b[r\x1b[?1l\x1b>\x1b[?25h\x1b[?2004l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b(B"
    b"\x1b[?1049l"
)


def run_suspended(
    app: App[object],
    master_fd: int,
    *,
    release: bytes = b"\x1d",
    feed: Callable[[bytes], None] | None = None,
    first: Callable[[], bytes] | None = None,
    repaint: Callable[[], bytes] | None = None,
) -> str:
    """Suspend the Textual app and connect the real terminal to the pty until the child exits or ``release``.

    On a real terminal the child gets an alternate screen of its own (see the module docstring): ``first``
    is painted on it at the start (a banner and the child's screen so far), ``repaint`` whenever the child
    leaves an alternate screen of its own. Returns "exited" (the pty closed) or "released" (the user
    pressed the release byte, ctrl+] by default).
    """
    with app.suspend():
        in_fd = sys.__stdin__.fileno() if sys.__stdin__ else 0
        out_fd = sys.__stdout__.fileno() if sys.__stdout__ else 1
        if not os.isatty(out_fd):
            return pump(master_fd, in_fd, out_fd, release=release, feed=feed)
        _write_all(out_fd, ENTER_SCREEN + (first() if first is not None else b""))
        try:
            return pump(
                master_fd, in_fd, out_fd, release=release, feed=feed, screens=AltScreens(), repaint=repaint
            )
        finally:
            _write_all(out_fd, LEAVE_SCREEN)


class AltScreens:
    """Takes the child's switches to and from the alternate screen (private modes 47, 1047, 1049) out of its
    output, so that they cannot reach the user's screen; says where the child left one, for a repaint. A
    switch cut in two by a read is held back until the rest arrives."""

    SWITCH = re.compile(rb"\x1b\[\?(?:1049|1047|47)([hl])")
    _WHOLE = tuple(b"\x1b[?" + m + e for m in (b"1049", b"1047", b"47") for e in (b"h", b"l"))

    def __init__(self) -> None:
        self._held = b""

    def split(self, data: bytes) -> list[tuple[bytes, bytes, bool]]:
        """``data`` as (what the emulator is fed, what the terminal is sent, whether the child left an
        alternate screen at its end) pieces."""
        data, self._held = self._held + data, b""
        cut = data.rfind(b"\x1b")
        if cut != -1 and any(w.startswith(data[cut:]) and w != data[cut:] for w in self._WHOLE):
            data, self._held = data[:cut], data[cut:]
        out: list[tuple[bytes, bytes, bool]] = []
        pos = 0
        for m in self.SWITCH.finditer(data):
            out.append((data[pos : m.end()], data[pos : m.start()], m.group(1) == b"l"))
            pos = m.end()
        if pos < len(data):
            out.append((data[pos:], data[pos:], False))
        return out


def screen_ansi(vt: VTScreen, *, banner: str = "") -> bytes:
    """The emulator's screen as bytes a terminal draws it from (colours to 256 at most), cursor included;
    with ``banner``, in reverse video on a first line of its own above it."""
    from rich.color import ColorSystem

    out = ["\x1b[0m\x1b[H\x1b[2J"]
    top = 0
    if banner:
        out.append(f"\x1b[7m {banner} \x1b[0m\r\n")
        top = 1
    default = vt.default_char
    for y in range(vt.lines):
        line = vt.buffer[y]
        end = vt.columns
        while end and line[end - 1] == default:
            end -= 1
        run: list[str] = []
        run_style: Style | None = None
        for x in range(end):
            ch = line[x]
            if not ch.data:
                continue
            style = char_style(ch)
            if style != run_style and run:
                out.append(
                    run_style.render("".join(run), color_system=ColorSystem.EIGHT_BIT)
                    if run_style
                    else "".join(run)
                )
                run = []
            run_style = style
            run.append(ch.data)
        if run:
            out.append(
                run_style.render("".join(run), color_system=ColorSystem.EIGHT_BIT)
                if run_style
                else "".join(run)
            )
        if y < vt.lines - 1:
            out.append("\r\n")
    out.append(f"\x1b[{top + vt.cursor.y + 1};{vt.cursor.x + 1}H")
    out.append("\x1b[?25l" if vt.cursor.hidden else "\x1b[?25h")
    return "".join(out).encode("utf-8", "replace")


def pump(
    master_fd: int,
    in_fd: int,
    out_fd: int,
    *,
    release: bytes = b"\x1d",
    feed: Callable[[bytes], None] | None = None,
    screens: AltScreens | None = None,
    repaint: Callable[[], bytes] | None = None,
) -> str:
    """Copy ``in_fd`` → pty and pty → ``out_fd`` (``in_fd`` in raw mode if a tty) until exit or ``release``.

    The window size of ``out_fd`` (if a tty) is given to the pty at the start and on every SIGWINCH. With
    ``screens``, the child's alternate-screen switches are kept from ``out_fd`` and ``repaint()`` is sent
    where it leaves one.
    """
    saved = None
    if os.isatty(in_fd):
        saved = termios.tcgetattr(in_fd)
        tty.setraw(in_fd)
    master_blocking = os.get_blocking(master_fd)
    os.set_blocking(master_fd, False)
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def sync_size(*_: object) -> None:
        with contextlib.suppress(OSError):
            size = os.get_terminal_size(out_fd)
            set_winsize(master_fd, size.lines, size.columns)
        with contextlib.suppress(OSError):
            os.write(wake_w, b"w")

    old_winch = None
    if os.isatty(out_fd):
        sync_size()
        if threading.current_thread() is threading.main_thread():
            old_winch = signal.signal(signal.SIGWINCH, sync_size)
    sel = selectors.DefaultSelector()
    sel.register(in_fd, selectors.EVENT_READ, "in")
    sel.register(master_fd, selectors.EVENT_READ, "pty")
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    outcome = "exited"
    try:
        while True:
            for key, _ in sel.select():
                if key.data == "wake":
                    with contextlib.suppress(OSError):
                        os.read(wake_r, 64)
                elif key.data == "pty":
                    try:
                        data = os.read(master_fd, READ_MAX)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        return outcome
                    if screens is None:
                        _write_all(out_fd, data)
                        if feed is not None:
                            feed(data)
                        continue
                    for fed, sent, left in screens.split(data):
                        if feed is not None:
                            feed(fed)
                        _write_all(out_fd, sent)
                        if left and repaint is not None:
                            _write_all(out_fd, repaint())
                else:
                    data = os.read(in_fd, 4096)
                    if not data:
                        outcome = "released"  # our stdin closed: nothing more can be typed
                        return outcome
                    cut = data.find(release) if release else -1
                    if cut != -1:
                        _write_all(master_fd, data[:cut])
                        outcome = "released"
                        return outcome
                    _write_all(master_fd, data)
    finally:
        sel.close()
        os.close(wake_r)
        os.close(wake_w)
        if old_winch is not None:
            signal.signal(signal.SIGWINCH, old_winch)
        if saved is not None:
            termios.tcsetattr(in_fd, termios.TCSADRAIN, saved)
        os.set_blocking(master_fd, master_blocking)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [], 0.1)
            continue
        view = view[n:]


__all__ = ["AltScreens", "TerminalView", "pump", "run_suspended", "screen_ansi", "set_winsize"]
