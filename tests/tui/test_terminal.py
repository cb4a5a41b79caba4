"""TerminalView on a real pty: a shell, colours, cursor movement, resize, full-screen programs, focus release.

Each test forks its own child on a pty (``pty.fork``) and reaps it by PID; the widget is hosted in a tiny
App run by Textual's pilot. ``pump`` (the loop behind ``run_suspended``) is tested on two ptys: one plays
the user's real terminal, the other the child's.
"""

from __future__ import annotations

import asyncio
import os
import pty
import shutil
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Input

from tui.widgets.terminal import TerminalView, pump
from tui.widgets.vt import VTScreen, char_style, key_bytes

BUSYBOX = shutil.which("busybox") or ("/bin/busybox" if Path("/bin/busybox").exists() else None)


class Child:
    """A process on a pty; killed and reaped by PID if the test did not end it."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: never return into pytest
            try:
                os.environ.update({"TERM": "xterm-256color", "PS1": "$ ", "ENV": "", **(env or {})})
                os.execvp(argv[0], argv)
            finally:
                os._exit(127)
        self.pid = pid
        self.fd = fd
        self.code: int | None = None

    def wait(self) -> int:
        _, status = os.waitpid(self.pid, 0)
        self.code = os.waitstatus_to_exitcode(status)
        return self.code

    def close(self) -> None:
        if self.code is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                self.wait()
            except (ProcessLookupError, ChildProcessError):
                pass


@pytest.fixture
def children() -> Iterator[list[Child]]:
    made: list[Child] = []
    yield made
    for child in made:
        child.close()


class Host(App[None]):
    def __init__(self, term: TerminalView) -> None:
        super().__init__()
        self.term = term
        self.exits: list[int | None] = []

    def compose(self) -> ComposeResult:
        yield self.term
        yield Input(id="other")

    def on_terminal_view_exited(self, msg: TerminalView.Exited) -> None:
        self.exits.append(msg.code)


def text(term: TerminalView) -> str:
    return "\n".join(line.rstrip() for line in term.display_lines())


async def until(pilot: Pilot[None], cond: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            shown = text(pilot.app.term) if isinstance(pilot.app, Host) else ""
            raise AssertionError(f"timed out waiting for {what or cond}; the screen:\n{shown}")
        await pilot.pause(0.02)


def run(
    children: list[Child],
    argv: list[str],
    body: Callable[[Pilot[None], Host, Child], Awaitable[None]],
    size: tuple[int, int] = (60, 16),
    env: dict[str, str] | None = None,
) -> None:
    child = Child(argv, env)
    children.append(child)
    term = TerminalView(child.fd, wait=child.wait)

    async def main() -> None:
        app = Host(term)
        async with app.run_test(size=size) as pilot:
            term.focus()
            await body(pilot, app, child)

    asyncio.run(main())


async def type_line(pilot: Pilot[None], line: str) -> None:
    from textual.keys import _character_to_key  # "-" → "hyphen_minus", " " → "space", ...

    await pilot.press(*[_character_to_key(c) for c in line], "enter")


# -- the emulator and key encoding ----------------------------------------------------------------------


def test_key_encoding() -> None:
    assert key_bytes("a", "a") == b"a"
    assert key_bytes("ctrl+c", "\x03") == b"\x03"
    assert key_bytes("ctrl+a", None) == b"\x01"
    assert key_bytes("enter", "\r") == b"\r"
    assert key_bytes("backspace", None) == b"\x7f"
    assert key_bytes("up", None) == b"\x1b[A"
    assert key_bytes("up", None, app_cursor=True) == b"\x1bOA"
    assert key_bytes("home", None, app_cursor=True) == b"\x1bOH"
    assert key_bytes("ctrl+right", None) == b"\x1b[1;5C"
    assert key_bytes("shift+up", None) == b"\x1b[1;2A"
    assert key_bytes("f1", None) == b"\x1bOP"
    assert key_bytes("f5", None) == b"\x1b[15~"
    assert key_bytes("shift+f5", None) == b"\x1b[15;2~"
    assert key_bytes("pagedown", None) == b"\x1b[6~"
    assert key_bytes("shift+tab", None) == b"\x1b[Z"
    assert key_bytes("alt+x", None) == b"\x1bx"
    assert key_bytes("escape", "\x1b") == b"\x1b"
    assert key_bytes("é", "é") == "é".encode()


def test_alternate_screen_and_scrollback() -> None:
    import pyte

    scr = VTScreen(20, 4, history=100)
    stream = pyte.ByteStream(scr)
    stream.feed(b"".join(b"line %d\r\n" % i for i in range(10)) + b"$ ")
    assert [("".join(c.data for c in line.values())) for line in scr.history][:2] == ["line 0", "line 1"]
    before = list(scr.display)
    stream.feed(b"\x1b[?1049h\x1b[2J\x1b[Hfull screen app")
    assert scr.alternate and scr.display[0].startswith("full screen app")
    history = len(scr.history)
    stream.feed(b"\r\n" * 10)  # scrolling the alternate screen does not fill the scrollback
    assert len(scr.history) == history
    stream.feed(b"\x1b[?1049l")
    assert not scr.alternate and list(scr.display) == before
    assert (scr.cursor.y, scr.cursor.x) == (3, 2)


def test_colour_mapping() -> None:
    import pyte

    scr = VTScreen(40, 2)
    stream = pyte.ByteStream(scr)
    stream.feed(b"\x1b[31mA\x1b[92mB\x1b[38;5;208mC\x1b[38;2;1;2;3mD\x1b[0;1;4;7mE\x1b[0;44mF")
    row = scr.buffer[0]
    styles = [char_style(row[x]) for x in range(6)]
    assert styles[0].color is not None and styles[0].color.name == "red"
    assert styles[1].color is not None and styles[1].color.name == "bright_green"
    assert styles[2].color is not None and styles[2].color.triplet is not None
    assert styles[2].color.triplet.hex == "#ff8700"
    assert styles[3].color is not None and styles[3].color.triplet is not None
    assert styles[3].color.triplet.hex == "#010203"
    assert styles[4].bold and styles[4].underline and styles[4].reverse
    assert styles[5].bgcolor is not None and styles[5].bgcolor.name == "blue"


# -- the widget on a real pty ---------------------------------------------------------------------------


def test_shell_echo_colours_cursor_and_exit(children: list[Child]) -> None:
    async def body(pilot: Pilot[None], app: Host, child: Child) -> None:
        term = app.term
        await until(pilot, lambda: "$" in text(term), what="the prompt")
        await type_line(pilot, "echo hello")
        await until(pilot, lambda: "\nhello\n" in text(term), what="hello")
        await type_line(pilot, "printf '\\033[31mred\\033[0m plain\\n'")
        await until(pilot, lambda: any(line.startswith("red plain") for line in term.display_lines()))
        y = next(i for i, line in enumerate(term.display_lines()) if line.startswith("red plain"))
        segments = term.render_line(y)._segments
        assert segments[0].text == "red" and segments[0].style is not None
        assert segments[0].style.color is not None and segments[0].style.color.name == "red"
        assert segments[1].text.startswith(" plain") and (
            segments[1].style is None or not segments[1].style.color
        )
        # cursor addressing with tput (terminfo for xterm-256color) and the cursor drawn reversed
        await type_line(pilot, "clear; tput cup 5 10; printf X; tput cup 8 0")
        await until(pilot, lambda: term.display_lines()[5][10:11] == "X", what="X at row 5 col 10")
        assert term.display_lines()[5][:10].strip() == ""
        await until(pilot, lambda: term.vt.cursor.y == 8 and "$" in term.display_lines()[8])
        cursor = term.render_line(8)._segments
        assert any(seg.style is not None and seg.style.reverse for seg in cursor)
        t0 = time.perf_counter()
        for y in range(term.size.height):
            term._lines.clear()
            term.render_line(y)
        print(
            f"\nterminal screenful ({term.size.width}x{term.size.height})"
            f" rendered in {(time.perf_counter() - t0) * 1000:.2f} ms"
        )
        await type_line(pilot, "exit 3")
        await until(pilot, lambda: app.exits == [3], what="Exited(3)")
        assert term.exit_code == 3

    run(children, ["sh"], body)


def test_resize_changes_stty_size(children: list[Child]) -> None:
    async def body(pilot: Pilot[None], app: Host, child: Child) -> None:
        term = app.term
        await until(pilot, lambda: "$" in text(term))
        await type_line(pilot, "stty size")
        await until(pilot, lambda: f"\n{term.size.height} 60\n" in text(term), what="first size")
        await pilot.resize_terminal(50, 20)
        await until(pilot, lambda: term.size.width == 50)
        await type_line(pilot, "clear; stty size")
        await until(pilot, lambda: f"{term.size.height} 50" in term.display_lines()[0], what="new size")
        assert (term.vt.lines, term.vt.columns) == (term.size.height, 50)

    run(children, ["sh"], body, size=(60, 16))


def test_keys_reach_the_child_and_release_gives_focus_back(children: list[Child]) -> None:
    async def body(pilot: Pilot[None], app: Host, child: Child) -> None:
        term = app.term
        await until(pilot, lambda: "$" in text(term))
        # ctrl+c interrupts a running command; tab is not taken by focus navigation
        await type_line(pilot, "sleep 30")
        await pilot.pause(0.2)
        await pilot.press("ctrl+c")
        await until(pilot, lambda: text(term).rstrip().endswith("$"), what="prompt after ctrl+c")
        await pilot.press("tab")
        assert term.has_focus
        # cursor keys: recall the previous command from the shell's history
        await pilot.press("ctrl+u")
        await type_line(pilot, "echo first")
        await until(pilot, lambda: "\nfirst\n" in text(term))
        await pilot.press("up")
        await until(pilot, lambda: text(term).rstrip().endswith("$ echo first"), what="history recall")
        await pilot.press("ctrl+u")
        await pilot.press("ctrl+right_square_bracket")
        await pilot.pause()
        assert not term.has_focus
        assert isinstance(app.focused, Input)
        await pilot.press("z")  # goes to the Input now, not to the shell
        assert app.query_one(Input).value == "z"
        term.focus()
        await type_line(pilot, "exit")
        await until(pilot, lambda: app.exits == [0])

    # bash for readline: its history answers the up arrow (dash has no line editing)
    run(children, ["bash", "--norc", "--noprofile"], body, env={"INPUTRC": "/dev/null"})


@pytest.mark.skipif(BUSYBOX is None, reason="busybox (busybox-static) is not installed")
def test_busybox_vi_full_screen_and_back(children: list[Child], tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("first line\n")

    async def body(pilot: Pilot[None], app: Host, child: Child) -> None:
        term = app.term
        await until(pilot, lambda: "$" in text(term))
        await type_line(pilot, f"cd {tmp_path}; clear; echo before vi")  # a short name: vi's status line fits
        await until(pilot, lambda: text(term).startswith("before vi"))
        shell_screen = text(term)
        await type_line(pilot, f"{BUSYBOX} vi {target.name}")
        await until(pilot, lambda: term.display_lines()[0].startswith("first line"), what="vi")
        await until(pilot, lambda: term.display_lines()[1].startswith("~"), what="vi's tildes")
        assert term.vt.alternate
        await pilot.press("G", "o", *"added by the test", "escape")
        await until(pilot, lambda: term.display_lines()[1].startswith("added by the test"), what="typed text")
        # a lone ESC followed at once by an arrow's ESC [ A is ambiguous to any terminal program: let vi
        # see the ESC on its own first, as a human's typing would
        await until(pilot, lambda: term.display_lines()[-1].startswith("-"), what="vi back in command mode")
        await pilot.press("up", "0", "x")  # the arrow moves up a line; 0 to its start; x deletes the "f"
        await until(pilot, lambda: term.display_lines()[0].startswith("irst line"), what="arrow + x")
        await pilot.press("colon", "w", "q", "enter")
        await until(pilot, lambda: not term.vt.alternate, what="vi left the alternate screen")
        await until(
            pilot, lambda: text(term).startswith(shell_screen.rstrip()[:-1]), what="shell screen restored"
        )
        assert target.read_text() == "irst line\nadded by the test\n"
        await type_line(pilot, "exit")
        await until(pilot, lambda: app.exits == [0])

    run(children, ["sh"], body, size=(60, 16))


@pytest.mark.skipif(shutil.which("top") is None, reason="top (procps) is not installed")
def test_top_renders_and_quits(children: list[Child]) -> None:
    async def body(pilot: Pilot[None], app: Host, child: Child) -> None:
        term = app.term

        # top paints its column header in reverse video; under load a frame may be caught half-drawn, so
        # wait for the whole of it
        def header_in_reverse() -> bool:
            if not text(term).startswith("top - "):
                return False
            lines = [i for i, line in enumerate(term.display_lines()) if "PID" in line]
            return bool(lines) and any(
                seg.style is not None and seg.style.reverse for seg in term.render_line(lines[0])._segments
            )

        await until(pilot, header_in_reverse, timeout=15, what="top's header in reverse video")
        await pilot.press("q")
        await until(pilot, lambda: app.exits == [0], what="top exits")

    run(children, ["top", "-d", "0.5"], body, size=(100, 20), env={"HOME": "/nonexistent"})


def test_flood_of_output_keeps_the_ui_responsive(children: list[Child]) -> None:
    async def body(pilot: Pilot[None], app: Host, child: Child) -> None:
        term = app.term
        await until(pilot, lambda: "$" in text(term))
        t0 = time.perf_counter()
        # written at once (typing it key by key would overlap the output); the end mark is computed, so
        # the echoed command line itself does not match it
        term.write(b"seq 200000; echo $((6*7))END\r")
        gaps = []
        last = time.perf_counter()
        while "\n42END" not in text(term):
            await pilot.pause(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
            assert now - t0 < 60
        print(
            f"\n200,000 lines through the terminal in {time.perf_counter() - t0:.2f} s,"
            f" longest UI stall {max(gaps) * 1000:.0f} ms"
        )
        assert len(term.vt.history) >= 1000
        term.action_scrollback(-1)  # browse the scrollback (the wheel, or the keys its screen binds)
        await pilot.pause()
        assert term._scrollback > 0
        await pilot.press("a")  # any key returns to the live screen
        assert term._scrollback == 0

    run(children, ["sh"], body)


# -- run_suspended's pump -------------------------------------------------------------------------------


def test_pump_copies_both_ways_until_release_or_exit(children: list[Child]) -> None:
    import termios
    import threading

    child = Child(["sh"])
    children.append(child)
    user_master, user_slave = pty.openpty()  # plays the user's real terminal
    outcomes: list[str] = []
    fed: list[bytes] = []

    def pumping() -> None:
        outcomes.append(pump(child.fd, user_slave, user_slave, feed=fed.append))

    def read_until(needle: bytes) -> bytes:
        seen = b""
        deadline = time.monotonic() + 10
        while needle not in seen:
            assert time.monotonic() < deadline, f"no {needle!r} in {seen!r}"
            seen += os.read(user_master, 4096)
        return seen

    def start_pump() -> threading.Thread:
        worker = threading.Thread(target=pumping)
        worker.start()
        # raw mode is set with TCSAFLUSH (typeahead is dropped, as any terminal program does): wait for it
        deadline = time.monotonic() + 10
        while termios.tcgetattr(user_slave)[3] & termios.ICANON:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        return worker

    try:
        worker = start_pump()
        os.write(user_master, b"echo pu''mped\r")
        read_until(b"pumped\r\n")  # typed keys reached the shell, its output reached our terminal
        os.write(user_master, b"\x1d")  # ctrl+]: back to the app
        worker.join(10)
        assert outcomes == ["released"]
        assert b"pumped" in b"".join(fed)  # the widget's emulator saw the output too
        assert termios.tcgetattr(user_slave)[3] & termios.ICANON  # cooked mode restored
        worker = start_pump()
        os.write(user_master, b"exit 5\r")
        worker.join(10)
        assert outcomes == ["released", "exited"]
        assert child.wait() == 5
    finally:
        os.close(user_master)
        os.close(user_slave)


# -- the whole handover, on a real terminal ---------------------------------------------------------------

_HANDOVER_APP = """
import os, pty, sys
from textual.app import App
from tui.widgets.terminal import TerminalView

pid, fd = pty.fork()
if pid == 0:
    os.environ.update(TERM="xterm-256color", PS1="$ ", ENV="")
    os.execvp("sh", ["sh"])

def wait():
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

class Handover(App):
    BINDINGS = [("ctrl+t", "full", "Full terminal")]

    def action_full(self):
        self.query_one(TerminalView).action_fullscreen("sh")

    def compose(self):
        yield TerminalView(fd, wait=wait)

    def on_mount(self):
        self.query_one(TerminalView).focus()

    def on_terminal_view_exited(self, msg):
        self.exit(msg.code)

print("APP-EXIT", Handover().run(), flush=True)
"""


def test_fullscreen_hands_the_real_terminal_to_the_child_and_back(tmp_path: Path) -> None:
    import sys

    pexpect = pytest.importorskip("pexpect")
    script = tmp_path / "handover.py"
    script.write_text(_HANDOVER_APP)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "TERM": "xterm-256color", "TEXTUAL": ""}
    app = pexpect.spawn(
        sys.executable, [str(script)], cwd=str(root), env=env, dimensions=(24, 80), timeout=20
    )
    try:
        app.expect(r"\x1b\[\?1049h")  # Textual took the screen
        time.sleep(1.0)  # let it paint and start reading keys
        app.send("echo before-$((2+2))\r")
        time.sleep(0.5)
        app.send("\x1d")  # ctrl+]: the one escape key; every other key was the shell's
        time.sleep(0.3)
        app.send("\x14")  # ctrl+t (the app's binding, now that it has the keys): hand the terminal over
        app.expect(r"\x1b\[\?1049l")  # Textual gave the screen back to the shell...
        app.expect(r"\x1b\[\?1049h")  # ...which gets an alternate screen of its own, not the user's
        app.expect("full terminal. Ctrl\\+\\] returns to the workbench")  # says how to come back
        app.expect("before-4")  # the shell's screen so far, repainted
        app.send("echo $((6*7))HANDED\r")
        app.expect("42HANDED")  # the shell answered directly on the real terminal
        # a program's own alternate screen stays inside ours: its switch back is kept from the terminal
        app.send("printf '\\033[?1049hINALT\\033[?1049l'; echo OUT$((1+1))\r")
        app.expect("OUT2")
        assert b"\x1b[?1049l" not in app.before
        app.send("\x1d")  # ctrl+]: back to the app
        app.expect(r"\x1b\[0m\x1b\[r.*\x1b\[\?1049l")  # modes reset, then the user's screen again
        app.expect(r"\x1b\[\?1049h")
        time.sleep(0.5)
        app.send("exit 7\r")  # typed into the widget again: it has the keys back
        app.expect("APP-EXIT 7")
        app.expect(pexpect.EOF)
    finally:
        app.close(force=True)


def test_alt_screens_are_kept_from_the_terminal_even_when_a_read_cuts_them() -> None:
    from tui.widgets.terminal import AltScreens

    screens = AltScreens()
    pieces = screens.split(b"vi\x1b[?1049hEDIT\x1b[?10")  # the leave is cut by the read
    assert pieces == [(b"vi\x1b[?1049h", b"vi", False), (b"EDIT", b"EDIT", False)]
    pieces = screens.split(b"49l$ \x1b[31mred")
    assert pieces == [(b"\x1b[?1049l", b"", True), (b"$ \x1b[31mred", b"$ \x1b[31mred", False)]
    assert screens.split(b"\x1b[?47h\x1b[?1047l") == [(b"\x1b[?47h", b"", False), (b"\x1b[?1047l", b"", True)]
    assert screens.split(b"\x1b[?25h\x1b") == [(b"\x1b[?25h", b"\x1b[?25h", False)]  # a lone ESC waits
    assert screens.split(b"[0m") == [(b"\x1b[0m", b"\x1b[0m", False)]


def test_screen_ansi_repaints_the_emulators_screen_with_a_banner() -> None:
    import pyte

    from tui.widgets.terminal import screen_ansi
    from tui.widgets.vt import VTScreen

    vt = VTScreen(20, 4)
    pyte.ByteStream(vt).feed(b"one\r\n\x1b[31mred\x1b[0m two\r\n$ ")
    out = screen_ansi(vt, banner="Ctrl+] returns").decode()
    # cleared, the banner in reverse video on a line of its own, the rows with their colours, the cursor
    # after "$ " one row down for the banner
    assert out == (
        "\x1b[0m\x1b[H\x1b[2J\x1b[7m Ctrl+] returns \x1b[0m\r\n"
        "one\r\n\x1b[31mred\x1b[0m two\r\n$\r\n\x1b[4;3H\x1b[?25h"
    )
