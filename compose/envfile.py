"""``.env`` and ``env_file`` files, parsed as compose-go's ``dotenv`` package does.

``KEY=value`` (or ``KEY: value``), ``export KEY=value``, ``#`` comments (whole lines, and `` #`` after an
unquoted value), single quotes (literal), double quotes (escapes ``\\n``, ``\\t``, ``\\"``..., may span
lines), ``${VAR}`` substitutions in unquoted and double-quoted values (looked up first in the caller's
lookup, then in the variables the file set above), and a bare ``KEY`` line that takes ``KEY`` from the
lookup if it has it. Keys starting with a digit are dropped when reading a file, as compose-go does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from compose.errors import EnvFileError
from compose.interpolate import TemplateError, substitute

Lookup = Callable[[str], "str | None"]

_EXPORT = re.compile(r"^export\s+")
_ESCAPE = re.compile(r"(\\(?:[abcfnrtv$\"\\]|0\d{0,3}))")
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "c": "c", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_SPACE = "\t\v\f\r \x85\xa0"  # spaces but not line breaks (dotenv's isSpace)


def _no_lookup(_: str) -> str | None:
    return None


def _expand_escapes(value: str) -> str:
    def one(m: re.Match[str]) -> str:
        seq = m.group(0)
        if seq == "\\$":
            return "$$"  # a literal $ for the substitution that follows
        if seq.startswith("\\0"):  # \0NNN is Go's \NNN: exactly three octal digits up to \377
            digits = seq[2:]
            if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) < 256:
                return chr(int(digits, 8))
            return "\\" + digits
        ch = seq[1]
        if ch in _SIMPLE_ESCAPES:
            if ch == "c":  # not a Go escape: UnquoteChar fails and the match stays as it was
                return seq
            return _SIMPLE_ESCAPES[ch]
        return ch  # \" \\

    return _ESCAPE.sub(one, value)


class _Parser:
    def __init__(self) -> None:
        self.line = 1

    def parse(self, src: str, out: dict[str, str], lookup: Lookup) -> None:
        cutset = src
        while True:
            cutset = self._statement_start(cutset)
            if cutset == "":
                return
            key, left, inherited = self._key(cutset)
            if " " in key:
                raise EnvFileError(f"line {self.line}: key cannot contain a space")
            if inherited:
                value = lookup(key)
                if value is not None:
                    out[key] = value
                cutset = left
                continue
            value, left = self._value(left, out, lookup)
            out[key] = value
            cutset = left

    def _statement_start(self, src: str) -> str:
        while True:
            pos = -1
            for i, ch in enumerate(src):
                if ch == "\n":
                    self.line += 1
                if not ch.isspace():
                    pos = i
                    break
            if pos == -1:
                return ""
            src = src[pos:]
            if src[0] != "#":
                return src
            nl = src.find("\n")
            if nl == -1:
                return ""
            src = src[nl:]

    def _key(self, src: str) -> tuple[str, str, bool]:
        if _EXPORT.match(src):
            src = src[len("export") :].lstrip(_SPACE)
        key = ""
        offset = 0
        inherited = False
        found = False
        for i, ch in enumerate(src):
            if ch in _SPACE:
                continue
            if ch in "=:\n":
                key = src[:i]
                offset = i + 1
                inherited = ch == "\n"
                found = True
                break
            if ch in "_.-[]" or ch.isalnum():
                continue
            first = src.split("\n", 1)[0]
            raise EnvFileError(f"line {self.line}: unexpected character {ch!r} in variable name {first!r}")
        if not found:  # the last line, a bare key without a newline
            key = src
            offset = len(src)
            inherited = True
        if src == "":
            raise EnvFileError("zero length string")
        if inherited and " " not in key:
            self.line += 1
        key = key.rstrip()
        return key, src[offset:].lstrip(_SPACE), inherited

    def _value(self, src: str, env: dict[str, str], lookup: Lookup) -> tuple[str, str]:
        quote = src[0] if src and src[0] in "'\"" else ""
        if not quote:
            value, _, rest = src.partition("\n")
            self.line += 1
            value = value.split(" #", 1)[0].rstrip()
            return _expand(value, env, lookup), rest
        chars: list[str] = []
        escape = False
        for i in range(1, len(src)):
            ch = src[i]
            if ch == "\n":
                self.line += 1
            if ch != quote:
                if not escape and ch == "\\":
                    escape = True
                    continue
                if escape:
                    escape = False
                    chars.append("\\")
                chars.append(ch)
                continue
            if escape:
                escape = False
                chars.append(ch)
                continue
            value = "".join(chars)
            if quote == '"':
                value = _expand(_expand_escapes(value), env, lookup)
            return value, src[i + 1 :]
        end = src.find("\n")
        raise EnvFileError(
            f"line {self.line}: unterminated quoted value {src[: end if end != -1 else len(src)]}"
        )


def _expand(value: str, env: dict[str, str], lookup: Lookup) -> str:
    def both(name: str) -> str | None:
        found = lookup(name)
        return found if found is not None else env.get(name)

    try:
        return substitute(value, both)
    except TemplateError as err:
        raise EnvFileError(str(err))


def parse_dotenv(
    text: str, lookup: Lookup | None = None, into: dict[str, str] | None = None
) -> dict[str, str]:
    """The variables ``text`` sets, in file order. ``lookup`` resolves bare keys and substitutions first."""
    out: dict[str, str] = {} if into is None else into
    if text.startswith("\ufeff"):
        text = text[1:]
    _Parser().parse(text, out, lookup or _no_lookup)
    return out


def read_env_file(
    path: Path, lookup: Lookup | None = None, into: dict[str, str] | None = None
) -> dict[str, str]:
    """``path`` parsed into ``into`` (a new mapping if None): a substitution looks in ``lookup`` first,
    then in ``into`` (what earlier files and lines set). Errors name the file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise EnvFileError(f"couldn't find env file: {path}")
    except IsADirectoryError:
        raise EnvFileError(f"{path} is a directory")
    except UnicodeDecodeError:
        raise EnvFileError(f"failed to read {path}: invalid UTF-8")
    except OSError as err:
        raise EnvFileError(f"couldn't read env file {path}: {err.strerror}")
    try:
        return parse_dotenv(text, lookup, into)
    except EnvFileError as err:
        raise EnvFileError(f"failed to read {path}: {err}")
