"""``.dockerignore`` with docker's rules (moby/patternmatcher and its ``ignorefile`` reader), and Go's path
pattern helpers that COPY wildcards use too.

Reading (``ignorefile.ReadAll``): a UTF-8 BOM on the first line is dropped; lines starting with ``#`` are
comments; each line is trimmed; ``!`` marks an exception (re-include); a pattern is cleaned like Go's
``filepath.Clean`` and a leading ``/`` dropped (patterns are relative to the context root).

Matching (``MatchesOrParentMatches``): patterns are checked in order and the last one that matches decides; a
pattern matches a path if it matches the path itself or any of its parent directories. ``*`` matches any run
of characters except ``/``, ``?`` one character except ``/``, ``**`` any number of directories (zero
included), ``[...]`` a class, ``\\`` escapes the next character. Unlike ``.gitignore``, ``foo`` matches only
``./foo`` (not ``a/foo``), and an exception can re-include a file inside an excluded directory.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable

from core.errors import InvalidArgument
from core.record import record

_ESCAPE = set(".+()|{}$")


def go_clean(path: str) -> str:
    """Go's ``filepath.Clean`` on Linux (unlike ``posixpath.normpath``, ``//a`` becomes ``/a``)."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(comp)
    out = "/".join(parts)
    if rooted:
        return "/" + out
    return out or "."


def check_glob(pattern: str) -> None:
    """Raise if Go's ``filepath.Match`` would call ``pattern`` malformed (ErrBadPattern)."""
    i, n = 0, len(pattern)

    def esc(j: int) -> int:
        if j >= n or pattern[j] in "-]":
            raise InvalidArgument(f"syntax error in pattern {pattern!r}")
        if pattern[j] == "\\":
            j += 1
            if j >= n:
                raise InvalidArgument(f"syntax error in pattern {pattern!r}")
        j += 1
        if j >= n:
            raise InvalidArgument(f"syntax error in pattern {pattern!r}: unclosed [")
        return j

    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                raise InvalidArgument(f"syntax error in pattern {pattern!r}: trailing backslash")
            i += 2
            continue
        if ch == "[":
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            ranges = 0
            while True:
                if i < n and pattern[i] == "]" and ranges > 0:
                    i += 1
                    break
                i = esc(i)
                if pattern[i] == "-":
                    i = esc(i + 1)
                ranges += 1
            continue
        i += 1


def _compile(regex: str) -> re.Pattern[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "possible nested set" for patterns like [[]
        return re.compile(regex)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Go's ``filepath.Match`` for one path (``*`` and ``?`` never cross ``/``) as a compiled regex."""
    check_glob(pattern)
    out = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = i + 1
            if end < len(pattern) and pattern[end] == "^":
                end += 1
            end += 1  # a ] right after [ or [^ is part of the class
            while end < len(pattern) and pattern[end] != "]":
                end += 2 if pattern[end] == "\\" else 1
            body = pattern[i + 1 : end]
            out.append("[" + body.replace("[", "\\[") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    out.append(r"\Z")
    try:
        return _compile("".join(out))
    except re.error as err:
        raise InvalidArgument(f"syntax error in pattern {pattern!r}: {err}") from None


def has_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[\\")


@record
class _Pattern:
    text: str  # cleaned
    exclusion: bool
    kind: str  # exact | prefix | suffix | regexp
    regex: re.Pattern[str] | None

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        assert self.regex is not None
        return self.regex.match(path) is not None


def _compile_pattern(text: str, exclusion: bool) -> _Pattern:
    """patternmatcher's ``Pattern.compile``: a regexp, or a cheaper exact/prefix/suffix test."""
    reg = ["^"]
    kind = "exact"
    i, n = 0, len(text)
    first = True
    while i < n:
        ch = text[i]
        i += 1
        if ch == "*":
            if i < n and text[i] == "*":
                i += 1
                if i < n and text[i] == "/":
                    i += 1
                if i >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        reg.append(".*")
                        kind = "regexp"
                else:
                    reg.append("(.*/)?")
                    kind = "regexp"
                if first:
                    kind = "suffix"
            else:
                reg.append("[^/]*")
                kind = "regexp"
        elif ch == "?":
            reg.append("[^/]")
            kind = "regexp"
        elif ch in _ESCAPE:
            reg.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                reg.append("\\" + text[i])
                i += 1
                kind = "regexp"
            else:
                reg.append("\\\\")
        elif ch in "[]":
            reg.append(ch)
            kind = "regexp"
        else:
            reg.append(ch)
        first = False
    regex = None
    if kind == "regexp":
        try:
            regex = _compile("".join(reg) + r"\Z")
        except re.error as err:
            raise InvalidArgument(f"syntax error in .dockerignore pattern {text!r}: {err}") from None
    return _Pattern(text, exclusion, kind, regex)


def read_patterns(text: str) -> list[str]:
    """``ignorefile.ReadAll``: the patterns of a .dockerignore file, normalised."""
    out: list[str] = []
    for number, line in enumerate(text.splitlines()):
        if number == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


class IgnoreMatcher:
    """Which context paths a .dockerignore leaves out of the build."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in patterns:
            p = raw.strip()
            if not p:
                continue
            p = go_clean(p)
            exclusion = p.startswith("!")
            if exclusion:
                if len(p) == 1:
                    raise InvalidArgument('illegal exclusion pattern: "!" in .dockerignore')
                p = p[1:]
            check_glob(p)
            self.patterns.append(_compile_pattern(p, exclusion))
        self.exclusions = any(p.exclusion for p in self.patterns)

    @classmethod
    def from_text(cls, text: str) -> IgnoreMatcher:
        return cls(read_patterns(text))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, path: str) -> bool:
        """True if ``path`` (relative to the context, ``/``-separated) is excluded."""
        path = go_clean(path)
        if path == ".":
            return False
        parent = path.rsplit("/", 1)[0] if "/" in path else "."
        parent_dirs = parent.split("/")
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit and parent != ".":
                for i in range(len(parent_dirs)):
                    if pattern.match("/".join(parent_dirs[: i + 1])):
                        hit = True
                        break
            if hit:
                matched = not pattern.exclusion
        return matched

    def may_reinclude_under(self, directory: str) -> bool:
        """Could an exception pattern re-include something inside the excluded ``directory``? (If not, a walk
        skips the whole directory, as BuildKit's does.)"""
        if not self.exclusions:
            return False
        prefix = go_clean(directory) + "/"
        for p in self.patterns:
            if not p.exclusion:
                continue
            if p.kind != "exact" or p.text.startswith(prefix) or "/" not in p.text:
                return True
        return False


__all__ = ["IgnoreMatcher", "check_glob", "glob_regex", "go_clean", "has_glob", "read_patterns"]
