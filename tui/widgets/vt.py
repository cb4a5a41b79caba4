"""The terminal emulator behind ``TerminalView``: pyte plus what pyte 0.8 lacks, and xterm's key encoding.

- ``VTScreen`` is a ``pyte.Screen`` that also does the alternate screen (private modes 47, 1047, 1049 —
  what ``vi``, ``less`` and ``top`` switch to and back from; pyte ignores them) and keeps a scrollback of
  lines that scroll off the top of the main screen.
- ``key_bytes`` turns a Textual key (``event.key`` / ``event.character``) into the bytes xterm sends,
  honouring application cursor mode (DECCKM).
- ``char_style`` maps a pyte ``Char`` to a Rich ``Style`` (16 named, 256 and truecolor, bold, italic,
  underline, strike, reverse).

No Textual imports here: the widget module does the UI.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import pyte
from pyte.screens import Char, Margins, StaticDefaultDict
from rich.color import Color
from rich.style import Style

ALT_MODES = (47, 1047, 1049)
# pyte stores private modes shifted by 5 (and has no name for these two)
DECCKM = 1 << 5  # application cursor keys
BRACKETED_PASTE = 2004 << 5


class VTScreen(pyte.Screen):
    """A pyte screen with an alternate buffer, a scrollback and a sink for the terminal's replies."""

    def __init__(
        self, columns: int, lines: int, *, history: int = 2000, reply: Callable[[str], None] | None = None
    ) -> None:
        self.history: deque[StaticDefaultDict] = deque(maxlen=history)
        self._main_buffer: Any = None  # the main screen's lines while the alternate screen is up
        self._reply = reply
        super().__init__(columns, lines)

    @property
    def alternate(self) -> bool:
        return self._main_buffer is not None

    @property
    def app_cursor_keys(self) -> bool:
        return DECCKM in self.mode

    @property
    def bracketed_paste(self) -> bool:
        return BRACKETED_PASTE in self.mode

    def reset(self) -> None:
        self._main_buffer = None
        super().reset()

    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private"):
            alt = [m for m in modes if m in ALT_MODES]
            if alt and self._main_buffer is None:
                if 1049 in alt:
                    self.save_cursor()
                self._main_buffer = self.buffer
                self.buffer = defaultdict(lambda: StaticDefaultDict(self.default_char))
                self.dirty.update(range(self.lines))
            modes = tuple(m for m in modes if m not in ALT_MODES)
            if not modes:
                return
        super().set_mode(*modes, **kwargs)

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        if kwargs.get("private"):
            alt = [m for m in modes if m in ALT_MODES]
            if alt and self._main_buffer is not None:
                self.buffer = self._main_buffer
                self._main_buffer = None
                if 1049 in alt:
                    self.restore_cursor()
                self.dirty.update(range(self.lines))
            modes = tuple(m for m in modes if m not in ALT_MODES)
            if not modes:
                return
        super().reset_mode(*modes, **kwargs)

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """Shrink like xterm: drop lines from the top only as far as needed to keep the cursor on screen.

        (pyte drops ``old - new`` lines from the top whatever the cursor's row, which erases a shell
        prompt sitting at the top of a fresh screen.)
        """
        lines = lines or self.lines
        if lines < self.lines:
            drop = max(0, self.cursor.y - (lines - 1))
            buf = self.buffer
            if drop and self._main_buffer is None:
                self.history.extend(buf[y] for y in range(drop))
            for y in range(self.lines):
                if y + drop < self.lines and y < lines and (y + drop) in buf:
                    buf[y] = buf[y + drop]
                else:
                    buf.pop(y, None)
            self.cursor.y -= drop
            self.dirty.update(range(lines))
            self.lines = lines
        super().resize(lines, columns)

    def index(self) -> None:
        top, bottom = self.margins or Margins(0, self.lines - 1)
        if self.cursor.y == bottom and top == 0 and self._main_buffer is None:
            # the top line scrolls off the main screen: keep it (pyte drops the dict; we keep the object)
            self.history.append(self.buffer[0])
        super().index()

    def write_process_input(self, data: str) -> None:
        # replies to DA / DSR queries (e.g. a program asking where the cursor is) go back to the child
        if self._reply is not None:
            self._reply(data)


# -- keys -----------------------------------------------------------------------------------------------

_SIMPLE: dict[str, bytes] = {
    "enter": b"\r",
    "tab": b"\t",
    "shift+tab": b"\x1b[Z",
    "backspace": b"\x7f",
    "ctrl+h": b"\x08",
    "escape": b"\x1b",
    "insert": b"\x1b[2~",
    "delete": b"\x1b[3~",
    "pageup": b"\x1b[5~",
    "pagedown": b"\x1b[6~",
    "f1": b"\x1bOP",
    "f2": b"\x1bOQ",
    "f3": b"\x1bOR",
    "f4": b"\x1bOS",
    "f5": b"\x1b[15~",
    "f6": b"\x1b[17~",
    "f7": b"\x1b[18~",
    "f8": b"\x1b[19~",
    "f9": b"\x1b[20~",
    "f10": b"\x1b[21~",
    "f11": b"\x1b[23~",
    "f12": b"\x1b[24~",
    "ctrl+at": b"\x00",
    "ctrl+space": b"\x00",
    "ctrl+left_square_bracket": b"\x1b",
    "ctrl+backslash": b"\x1c",
    "ctrl+right_square_bracket": b"\x1d",
    "ctrl+circumflex_accent": b"\x1e",
    "ctrl+underscore": b"\x1f",
}
_CURSOR = {"up": "A", "down": "B", "right": "C", "left": "D", "home": "H", "end": "F"}
_TILDE = {"insert": 2, "delete": 3, "pageup": 5, "pagedown": 6, "f5": 15, "f6": 17, "f7": 18, "f8": 19}
_TILDE |= {"f9": 20, "f10": 21, "f11": 23, "f12": 24}
_SS3_F = {"f1": "P", "f2": "Q", "f3": "R", "f4": "S"}
_MODS = {"shift": 1, "alt": 2, "ctrl": 4}


def key_bytes(key: str, character: str | None, *, app_cursor: bool = False) -> bytes | None:
    """The bytes xterm sends for a Textual key, or None when there is nothing to send."""
    if key in _CURSOR:
        final = _CURSOR[key]
        return (b"\x1bO" if app_cursor else b"\x1b[") + final.encode()
    simple = _SIMPLE.get(key)
    if simple is not None:
        return simple
    parts = key.split("+")
    base = parts[-1]
    mods = parts[:-1]
    if mods and all(m in _MODS for m in mods):
        code = 1 + sum(_MODS[m] for m in set(mods))
        # modified cursor / function keys: CSI 1;<mod> <final>  or  CSI <n>;<mod> ~
        if base in _CURSOR:
            return f"\x1b[1;{code}{_CURSOR[base]}".encode()
        if base in _TILDE:
            return f"\x1b[{_TILDE[base]};{code}~".encode()
        if base in _SS3_F:
            return f"\x1b[1;{code}{_SS3_F[base]}".encode()
        if mods == ["ctrl"] and len(base) == 1 and base.isalpha():
            return bytes([ord(base.lower()) & 0x1F])
        if "alt" in mods:
            rest = "+".join(m for m in mods if m != "alt")
            inner = key_bytes(f"{rest}+{base}" if rest else base, character if not rest else None)
            if inner is None and len(base) == 1:
                inner = (base.upper() if "shift" in mods else base).encode()
            return b"\x1b" + inner if inner else None
    if character:
        return character.encode("utf-8", "surrogateescape")
    return None


# -- colours --------------------------------------------------------------------------------------------

_NAMES = {
    "black": "black",
    "red": "red",
    "green": "green",
    "brown": "yellow",
    "yellow": "yellow",
    "blue": "blue",
    "magenta": "magenta",
    "cyan": "cyan",
    "white": "white",
}
_color_cache: dict[str, Color | None] = {}


def pyte_color(name: str) -> Color | None:
    """pyte's colour names (``red``, ``brightred``, ``ff8700``) as Rich colours; ``default`` is None."""
    cached = _color_cache.get(name, False)
    if cached is not False:
        return cached  # type: ignore[return-value]
    color: Color | None = None
    if name != "default":
        base = name.replace("bfight", "bright")  # pyte 0.8.2 spells one of them "bfightmagenta"
        bright = base.startswith("bright")
        base = base[6:] if bright else base
        if base in _NAMES:
            color = Color.parse(("bright_" if bright else "") + _NAMES[base])
        elif len(name) == 6:
            try:
                color = Color.parse("#" + name)
            except Exception:
                color = None
    _color_cache[name] = color
    return color


_style_cache: dict[tuple[Any, ...], Style] = {}


def char_style(ch: Char, cursor: bool = False) -> Style:
    key = (ch.fg, ch.bg, ch.bold, ch.italics, ch.underscore, ch.strikethrough, ch.reverse != cursor, ch.blink)
    style = _style_cache.get(key)
    if style is None:
        style = Style(
            color=pyte_color(ch.fg),
            bgcolor=pyte_color(ch.bg),
            bold=ch.bold or None,
            italic=ch.italics or None,
            underline=ch.underscore or None,
            strike=ch.strikethrough or None,
            reverse=(ch.reverse != cursor) or None,
            blink=ch.blink or None,
        )
        if len(_style_cache) < 4096:
            _style_cache[key] = style
    return style
