"""Variable substitution and quote removal in Dockerfile words, with BuildKit's rules
(frontend/dockerfile/shell).

``$NAME``, ``${NAME}``, ``${NAME:-word}`` / ``${NAME-word}`` (default), ``${NAME:+word}`` / ``${NAME+word}``
(alternative), ``${NAME:?msg}`` / ``${NAME?msg}`` (required), ``${NAME#pat}``, ``${NAME##pat}``,
``${NAME%pat}``, ``${NAME%%pat}`` (prefix/suffix removal) and ``${NAME/pat/repl}``, ``${NAME//pat/repl}``.
Single quotes are literal; inside double quotes the escape character escapes only ``"``, ``$`` and itself;
outside quotes it escapes any character. An unset variable expands to nothing.

:meth:`ShellLexer.process_word` gives one string (ENV values, WORKDIR, COPY paths);
:meth:`ShellLexer.process_words` splits on unquoted whitespace, including whitespace that came out of an
unquoted expansion (EXPOSE, VOLUME, FROM).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from core.errors import InvalidArgument

_SPECIAL_PARAMS = set("@*#?-$!0")


class ShellError(InvalidArgument):
    """A word that cannot be expanded (unbalanced quotes, bad substitution)."""


class _Words:
    """Collects words: plain characters split on whitespace, raw ones (quoted, escaped) never do."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.word = ""
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace() and self.in_word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        elif not ch.isspace():
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.word += ch
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def result(self) -> list[str]:
        if self.in_word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch


class ShellLexer:
    def __init__(self, escape: str = "\\") -> None:
        self.escape = escape

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        return _Run(self.escape, env, word).process(stop="")[0]

    def process_words(self, text: str, env: Mapping[str, str]) -> list[str]:
        return _Run(self.escape, env, text).process(stop="")[1]


class _Run:
    def __init__(self, escape: str, env: Mapping[str, str], text: str) -> None:
        self.escape = escape
        self.env = env
        self.s = _Scanner(text)

    def process(self, stop: str, raw_escapes: bool = False) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        while self.s.peek():
            ch = self.s.peek()
            if stop and ch == stop:
                self.s.next()
                return "".join(result), words.result()
            if ch in ("'", '"', "$"):
                tmp = {"'": self._single, '"': self._double, "$": self._dollar}[ch]()
                result.append(tmp)
                if ch == "$":
                    words.add_string(tmp)
                else:
                    words.add_raw_string(tmp)
                continue
            ch = self.s.next()
            if ch == self.escape:
                if raw_escapes:
                    words.add_raw_char(ch)
                    result.append(ch)
                ch = self.s.next()
                if not ch:
                    break
                words.add_raw_char(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop:
            raise ShellError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.result()

    def _single(self) -> str:
        self.s.next()
        out: list[str] = []
        while True:
            ch = self.s.next()
            if not ch:
                raise ShellError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def _double(self) -> str:
        self.s.next()
        out: list[str] = []
        while True:
            ch = self.s.peek()
            if not ch:
                raise ShellError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.s.next()
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
                continue
            ch = self.s.next()
            if ch == self.escape:
                nxt = self.s.peek()
                if not nxt:
                    continue
                if nxt in ('"', "$", self.escape):
                    ch = self.s.next()
            out.append(ch)

    def _name(self) -> str:
        name = ""
        while self.s.peek():
            ch = self.s.peek()
            if not name and ch.isdigit():
                while self.s.peek().isdigit():
                    name += self.s.next()
                return name
            if not name and ch in _SPECIAL_PARAMS:
                return self.s.next()
            if not (ch.isalnum() or ch == "_"):
                break
            name += self.s.next()
        return name

    def _get(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            return self.env[name], True
        return "", False

    def _dollar(self) -> str:
        self.s.next()  # $
        if self.s.peek() != "{":
            name = self._name()
            if not name:
                return "$"
            return self._get(name)[0]
        self.s.next()  # {
        first = self.s.peek()
        if not first:
            raise ShellError("syntax error: missing '}'")
        if first in "{}:":
            raise ShellError("syntax error: bad substitution")
        name = self._name()
        ch = self.s.next()
        value, is_set = self._get(name)
        if ch == "}":
            return value
        if ch in ("-", "+", "?"):
            word, _ = self.process(stop="}")
            return self._modifier(name, ch, word, value, is_set)
        if ch == ":":
            modifier = self.s.next()
            word, _ = self.process(stop="}")
            if modifier not in ("-", "+", "?"):
                raise ShellError(f"unsupported modifier ({modifier}) in substitution")
            return self._modifier(name, modifier, word, value, bool(value))
        if ch in ("#", "%"):
            longest = self.s.peek() == ch
            if longest:
                self.s.next()
            pattern, _ = self.process(stop="}", raw_escapes=True)
            return _trim(value, pattern, prefix=ch == "#", longest=longest, escape=self.escape)
        if ch == "/":
            replace_all = self.s.peek() == "/"
            if replace_all:
                self.s.next()
            pattern, _ = self.process(stop="/", raw_escapes=True)
            repl, _ = self.process(stop="}")
            return _substitute(value, pattern, repl, replace_all, self.escape)
        if not ch:
            raise ShellError("syntax error: missing '}'")
        raise ShellError(f"unsupported modifier ({ch}) in substitution")

    @staticmethod
    def _modifier(name: str, modifier: str, word: str, value: str, present: bool) -> str:
        if modifier == "-":
            return value if present else word
        if modifier == "+":
            return word if present else ""
        if not present:
            raise ShellError(f"{name}: {word or 'is not allowed to be unset'}")
        return value


def _glob_regex(pattern: str, escape: str, longest: bool) -> str:
    """A shell pattern (``*``, ``?``, ``[...]``, escapes) as a regular expression."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "*":
            out.append(".*" if longest else ".*?")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def _trim(value: str, pattern: str, *, prefix: bool, longest: bool, escape: str) -> str:
    rx = re.compile("(?s)" + _glob_regex(pattern, escape, longest))
    if prefix:
        for n in range(len(value), -1, -1) if longest else range(len(value) + 1):
            if rx.fullmatch(value[:n]):
                return value[n:]
        return value
    for n in range(len(value) + 1) if longest else range(len(value), -1, -1):
        if rx.fullmatch(value[n:]):
            return value[:n]
    return value


def _substitute(value: str, pattern: str, repl: str, replace_all: bool, escape: str) -> str:
    if not pattern:
        return value
    rx = re.compile("(?s)" + _glob_regex(pattern, escape, longest=True))
    return rx.sub(lambda _m: repl, value, count=0 if replace_all else 1)


__all__ = ["ShellError", "ShellLexer"]
